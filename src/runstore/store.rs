//! The emulator's data: projects loaded from JSONL run files, indexed for paging and filters,
//! with each run's feedback entries ([`super::feedback`]). A [`SharedStore`] is the same data
//! behind a lock, changed while serving: runs upserted (a pending run completes, new traces
//! arrive), feedback added and edited. Changes keep every project in keyset order
//! `(start_us, id)`, so cursors issued before a change stay valid (they name a key, not an
//! offset) and see the runs inserted after their position.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use anyhow::{Context, bail};
use serde_json::value::RawValue;

use super::feedback::{self, FeedbackEntry, FeedbackFilter, FeedbackInput, FeedbackPatch, RunRef};
use crate::filter::RunFacts;
use crate::model::{Maybe, Run};

/// One run as served: its raw JSON fields (output is copied from these, never re-encoded)
/// plus what queries need, precomputed.
pub struct StoredRun {
    pub id: String,
    pub start_us: i64,
    pub trace_id: String,
    pub parent_run_id: Option<String>,
    pub is_root: bool,
    pub run_type: Option<String>,
    pub has_error: bool,
    pub facts: RunFacts,
    pub fields: BTreeMap<String, Box<RawValue>>,
    /// The run's feedback entries, in creation order; `facts.feedback` and the
    /// `feedback_stats` field agree with them.
    pub feedback: Vec<FeedbackEntry>,
    /// Payloads offloaded to object storage, by key (the emulator's `blobs` extension key of
    /// a line): what `/_blobs/<key>` serves, the pre-signed URLs of `inputs_s3_urls` /
    /// `outputs_s3_urls` pointing there.
    pub blobs: BTreeMap<String, Box<RawValue>>,
}

impl StoredRun {
    pub fn field(&self, name: &str) -> Option<&RawValue> {
        self.fields.get(name).map(|v| &**v)
    }

    /// The payload of `field` (`inputs` or `outputs`) that `<field>_s3_urls` points at
    /// (its `ROOT` entry's pre-signed `/_blobs/<key>` URL), when the line carried it.
    pub fn offloaded(&self, field: &str) -> Option<&RawValue> {
        #[derive(serde::Deserialize)]
        struct Urls {
            #[serde(rename = "ROOT")]
            root: Root,
        }
        #[derive(serde::Deserialize)]
        struct Root {
            presigned_url: String,
        }
        let urls = self.field(&format!("{field}_s3_urls"))?;
        let url = serde_json::from_str::<Urls>(urls.get())
            .ok()?
            .root
            .presigned_url;
        let path = url.split_once('?').map_or(url.as_str(), |(p, _)| p);
        let key = &path[path.find(BLOBS_ROUTE)? + BLOBS_ROUTE.len()..];
        self.blobs.get(key).map(|b| &**b)
    }

    fn run_ref(&self) -> RunRef<'_> {
        RunRef {
            id: &self.id,
            trace_id: &self.trace_id,
            session_id: self.facts.session_id.as_deref().unwrap_or_default(),
            start_us: self.start_us,
            done_us: self.facts.end_us.unwrap_or(self.start_us),
        }
    }

    /// After its entries changed: `feedback_stats` and the filter facts from the entries.
    fn refresh_feedback(&mut self) {
        let stats = feedback::stats_of(&self.feedback).to_string();
        self.fields.insert(
            "feedback_stats".into(),
            RawValue::from_string(stats).expect("JSON"),
        );
        self.facts.feedback = self.feedback.iter().map(FeedbackEntry::fact).collect();
    }
}

pub struct Project {
    pub id: String,
    pub name: String,
    /// Earliest run start, served as the project's `start_time`.
    pub start_us: i64,
    /// Sorted by `(start_us, id)` ascending: the keyset every cursor points into.
    pub runs: Vec<StoredRun>,
    pub by_id: HashMap<String, usize>,
    pub traces: HashMap<String, Vec<usize>>,
}

impl Project {
    pub fn root_of(&self, trace_id: &str) -> Option<&StoredRun> {
        self.by_id
            .get(trace_id)
            .map(|&i| &self.runs[i])
            .filter(|r| r.is_root)
    }

    pub fn trace_runs<'a>(&'a self, trace_id: &str) -> impl Iterator<Item = &'a StoredRun> + 'a {
        self.traces
            .get(trace_id)
            .into_iter()
            .flatten()
            .map(|&i| &self.runs[i])
    }

    /// Index of the first run at or after `(start_us, id)` in keyset order.
    pub fn position(&self, start_us: i64, id: &str) -> usize {
        self.runs
            .partition_point(|r| (r.start_us, r.id.as_str()) < (start_us, id))
    }

    /// Sorts the runs into keyset order and rebuilds the indexes over them.
    fn reindex(&mut self, origin: &Path) -> anyhow::Result<()> {
        let runs = &mut self.runs;
        runs.sort_by(|a, b| (a.start_us, &a.id).cmp(&(b.start_us, &b.id)));
        self.by_id = HashMap::with_capacity(runs.len());
        self.traces = HashMap::new();
        for (i, run) in runs.iter().enumerate() {
            if self.by_id.insert(run.id.clone(), i).is_some() {
                bail!("{}: run id {} appears twice", origin.display(), run.id);
            }
            self.traces.entry(run.trace_id.clone()).or_default().push(i);
        }
        self.start_us = runs.first().map_or(0, |r| r.start_us);
        Ok(())
    }
}

#[derive(Default)]
pub struct Store {
    pub projects: Vec<Project>,
    /// Offloaded payloads by key ([`StoredRun::blobs`] of every run).
    blobs: HashMap<String, Box<RawValue>>,
    /// Feedback entry id → its run's id.
    feedback_runs: HashMap<String, String>,
    /// Every entry as `(created_us, id)`: listing walks it newest first.
    feedback_order: BTreeSet<(i64, String)>,
}

/// Why a change to a [`SharedStore`] was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Upserted {
    pub inserted: usize,
    pub updated: usize,
}

/// A [`Store`] shared by the emulator's handlers and changed while it serves. Readers hold
/// the read lock for one page; a change waits for them and is seen by the next request.
pub struct SharedStore(RwLock<Store>);

impl SharedStore {
    pub fn new(store: Store) -> SharedStore {
        SharedStore(RwLock::new(store))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Inserts or replaces runs given as v1 run JSON (the JSONL line format), all or none.
    /// A replaced run keeps its feedback (and `feedback_stats`) unless the new JSON carries
    /// a `feedback` list; a new run's entries come from its line as at load. A run of an
    /// unknown `session_id` starts a project named by that id.
    pub fn upsert_runs<'a>(
        &self,
        runs: impl IntoIterator<Item = &'a str>,
    ) -> Result<Upserted, ChangeError> {
        self.write().upsert_runs(runs)
    }

    /// Adds entries (each naming its `run_id`); those without `created_at` are created now.
    /// Each run's `feedback_stats` is recomputed. All or none.
    pub fn add_feedback(
        &self,
        inputs: Vec<FeedbackInput>,
    ) -> Result<Vec<FeedbackEntry>, ChangeError> {
        self.write().add_feedback(inputs, now_us())
    }

    /// Edits one entry: `modified_at` moves (to the patch's, else now), the run's
    /// `feedback_stats` is recomputed.
    pub fn edit_feedback(
        &self,
        id: &str,
        patch: FeedbackPatch,
    ) -> Result<FeedbackEntry, ChangeError> {
        self.write().edit_feedback(id, patch, now_us())
    }
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Where the emulator serves offloaded payloads: `/_blobs/<key>`.
pub const BLOBS_ROUTE: &str = "/_blobs/";

impl Store {
    /// An offloaded payload by key.
    pub fn blob(&self, key: &str) -> Option<&RawValue> {
        self.blobs.get(key).map(|b| &**b)
    }

    pub fn project_by_id(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub fn project_by_name(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    pub fn total_runs(&self) -> usize {
        self.projects.iter().map(|p| p.runs.len()).sum()
    }

    /// Loads one project from a JSONL file of v1 runs (plain, `.gz` or `.zst`). The project's
    /// id is its runs' `session_id`, which must be the same on every line.
    /// A feedback sidecar beside the file, `<base>.feedback.jsonl` (or `.gz`, `.zst`) for
    /// `<base>.jsonl[.gz|.zst]`, is read too ([`Store::load_feedback`]).
    pub fn load_project(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        self.load_project_from(name, open_maybe_compressed(path)?, path)?;
        if let Some(sidecar) = feedback_sidecar(path) {
            self.load_feedback(&sidecar)?;
        }
        Ok(())
    }

    /// Like [`Store::load_project`], from decompressed JSONL; `path` names it in errors.
    pub fn load_project_from(
        &mut self,
        name: &str,
        reader: impl BufRead,
        path: &Path,
    ) -> anyhow::Result<()> {
        if self.project_by_name(name).is_some() {
            bail!("project {name:?} is given twice");
        }
        let mut runs = Vec::new();
        let mut project_id: Option<String> = None;
        for (index, line) in reader.lines().enumerate() {
            let at = || format!("{}:{}", path.display(), index + 1);
            let line = line.with_context(at)?;
            if line.trim().is_empty() {
                continue;
            }
            let run = served_run(&line).with_context(|| format!("{}: not a valid run", at()))?;
            let session = run_session(&run.fields).with_context(at)?;
            match &project_id {
                None => project_id = Some(session),
                Some(id) if *id != session => bail!(
                    "{}: session_id {session} differs from the file's first run ({id}); \
                     one file holds one project",
                    at()
                ),
                Some(_) => {}
            }
            runs.push(run);
        }
        let Some(id) = project_id else {
            bail!("{}: no runs in file", path.display());
        };
        if self.project_by_id(&id).is_some() {
            bail!(
                "{}: project id {id} is already loaded from another file",
                path.display()
            );
        }
        self.add_project(id, name, runs, path)
    }

    /// Indexes one project's runs and their feedback; `origin` names where they came from in
    /// errors.
    pub fn add_project(
        &mut self,
        id: String,
        name: &str,
        runs: Vec<StoredRun>,
        origin: &Path,
    ) -> anyhow::Result<()> {
        let mut project = Project {
            id,
            name: name.to_string(),
            start_us: 0,
            runs,
            by_id: HashMap::new(),
            traces: HashMap::new(),
        };
        project.reindex(origin)?;
        for run in &project.runs {
            for (key, blob) in &run.blobs {
                self.blobs.insert(key.clone(), blob.clone());
            }
            for e in &run.feedback {
                self.index_feedback(e)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", origin.display()))?;
            }
        }
        self.projects.push(project);
        Ok(())
    }

    /// Where a run is: (project index, run index).
    fn locate(&self, run_id: &str) -> Option<(usize, usize)> {
        self.projects
            .iter()
            .enumerate()
            .find_map(|(p, project)| project.by_id.get(run_id).map(|&i| (p, i)))
    }

    pub fn run_by_id(&self, run_id: &str) -> Option<(&Project, &StoredRun)> {
        self.locate(run_id)
            .map(|(p, i)| (&self.projects[p], &self.projects[p].runs[i]))
    }

    fn index_feedback(&mut self, e: &FeedbackEntry) -> Result<(), ChangeError> {
        if self.feedback_runs.contains_key(&e.id) {
            return Err(ChangeError::Conflict(format!(
                "feedback id {} appears twice",
                e.id
            )));
        }
        self.feedback_runs.insert(e.id.clone(), e.run_id.clone());
        self.feedback_order.insert((e.created_us, e.id.clone()));
        Ok(())
    }

    fn unindex_feedback(&mut self, e: &FeedbackEntry) {
        self.feedback_runs.remove(&e.id);
        self.feedback_order.remove(&(e.created_us, e.id.clone()));
    }

    pub fn feedback_by_id(&self, id: &str) -> Option<&FeedbackEntry> {
        let run_id = self.feedback_runs.get(id)?;
        let (_, run) = self.run_by_id(run_id)?;
        run.feedback.iter().find(|e| e.id == id)
    }

    pub fn feedback_count(&self) -> usize {
        self.feedback_runs.len()
    }

    /// Entries matching `filter`, newest first (`created_at`, then id, descending), from
    /// `offset`, at most `limit`.
    pub fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        offset: usize,
        limit: usize,
    ) -> Vec<&FeedbackEntry> {
        let newest_first = |a: &&FeedbackEntry, b: &&FeedbackEntry| {
            (b.created_us, &b.id).cmp(&(a.created_us, &a.id))
        };
        if let Some(runs) = &filter.runs {
            let mut found: Vec<&FeedbackEntry> = runs
                .iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .filter_map(|id| self.run_by_id(id))
                .flat_map(|(_, run)| run.feedback.iter())
                .filter(|e| filter.matches(e))
                .collect();
            found.sort_by(newest_first);
            return found.into_iter().skip(offset).take(limit).collect();
        }
        self.feedback_order
            .iter()
            .rev()
            .filter_map(|(_, id)| self.feedback_by_id(id))
            .filter(|e| filter.matches(e))
            .skip(offset)
            .take(limit)
            .collect()
    }

    /// Reads a sidecar of feedback entries (JSONL, one entry a line, each naming its
    /// `run_id`; plain, `.gz` or `.zst`): they replace the entries of the runs they name,
    /// whose `feedback_stats` is recomputed.
    pub fn load_feedback(&mut self, path: &Path) -> anyhow::Result<usize> {
        self.load_feedback_from(open_maybe_compressed(path)?, path)
    }

    /// Like [`Store::load_feedback`], from decompressed JSONL; `path` names it in errors.
    pub fn load_feedback_from(
        &mut self,
        reader: impl BufRead,
        path: &Path,
    ) -> anyhow::Result<usize> {
        let mut by_run: BTreeMap<String, Vec<FeedbackInput>> = BTreeMap::new();
        for (index, line) in reader.lines().enumerate() {
            let at = || format!("{}:{}", path.display(), index + 1);
            let line = line.with_context(at)?;
            if line.trim().is_empty() {
                continue;
            }
            let input: FeedbackInput = serde_json::from_str(&line)
                .with_context(|| format!("{}: not a feedback entry", at()))?;
            let Some(run_id) = input.run_id.clone() else {
                bail!("{}: feedback entry without run_id", at());
            };
            if self.locate(&run_id).is_none() {
                bail!("{}: run {run_id} is in no loaded project", at());
            }
            by_run.entry(run_id).or_default().push(input);
        }
        let mut count = 0;
        for (run_id, inputs) in by_run {
            let (p, i) = self.locate(&run_id).expect("checked");
            let old = std::mem::take(&mut self.projects[p].runs[i].feedback);
            old.iter().for_each(|e| self.unindex_feedback(e));
            let run = &self.projects[p].runs[i];
            let entries = inputs
                .into_iter()
                .enumerate()
                .map(|(n, input)| input.into_entry(run.run_ref(), n, None))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("{}: feedback of run {run_id}", path.display()))?;
            for e in &entries {
                self.index_feedback(e)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            }
            count += entries.len();
            let run = &mut self.projects[p].runs[i];
            run.feedback = entries;
            run.refresh_feedback();
        }
        Ok(count)
    }

    fn upsert_runs<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Result<Upserted, ChangeError> {
        let invalid = |e: anyhow::Error| ChangeError::Invalid(format!("{e:#}"));
        // Everything is checked before anything changes.
        let mut parsed = vec![];
        let mut seen = HashSet::new();
        let mut new_ids = HashSet::new();
        for (n, line) in lines.into_iter().enumerate() {
            let (run, listed) = parse_run(line, true)
                .with_context(|| format!("run {}: not a valid run", n + 1))
                .map_err(invalid)?;
            let session = run_session(&run.fields)
                .with_context(|| format!("run {}", run.id))
                .map_err(invalid)?;
            if !seen.insert(run.id.clone()) {
                return Err(ChangeError::Invalid(format!(
                    "run {} is given twice",
                    run.id
                )));
            }
            let at = self.locate(&run.id);
            if let Some((p, _)) = at
                && self.projects[p].id != session
            {
                return Err(ChangeError::Invalid(format!(
                    "run {} belongs to project {}, not {session}",
                    run.id, self.projects[p].id
                )));
            }
            if at.is_none() || listed {
                for e in &run.feedback {
                    let taken_elsewhere = self
                        .feedback_runs
                        .get(&e.id)
                        .is_some_and(|owner| *owner != run.id);
                    if taken_elsewhere || !new_ids.insert(e.id.clone()) {
                        return Err(ChangeError::Conflict(format!(
                            "feedback id {} is already used",
                            e.id
                        )));
                    }
                }
            }
            parsed.push((run, listed, session, at));
        }
        let mut done = Upserted::default();
        let mut touched = HashSet::new();
        for (mut run, listed, session, at) in parsed {
            let p = match at {
                Some((p, i)) => {
                    let old = &mut self.projects[p].runs[i];
                    if !listed {
                        // Feedback is not part of a run: the old entries stay.
                        run.feedback = std::mem::take(&mut old.feedback);
                        for e in &mut run.feedback {
                            e.trace_id.clone_from(&run.trace_id);
                            e.run_start_us = run.start_us;
                        }
                        match old.fields.remove("feedback_stats") {
                            Some(stats) => run.fields.insert("feedback_stats".into(), stats),
                            None => run.fields.remove("feedback_stats"),
                        };
                        run.facts.feedback = run.feedback.iter().map(FeedbackEntry::fact).collect();
                    }
                    let same_place = old.start_us == run.start_us && old.trace_id == run.trace_id;
                    let old = std::mem::replace(&mut self.projects[p].runs[i], run);
                    if listed {
                        old.feedback.iter().for_each(|e| self.unindex_feedback(e));
                    }
                    if !same_place {
                        touched.insert(p);
                    }
                    done.updated += 1;
                    p
                }
                None => {
                    let p = match self.projects.iter().position(|pr| pr.id == session) {
                        Some(p) => p,
                        None => {
                            self.projects.push(Project {
                                id: session.clone(),
                                name: session.clone(),
                                start_us: 0,
                                runs: vec![],
                                by_id: HashMap::new(),
                                traces: HashMap::new(),
                            });
                            self.projects.len() - 1
                        }
                    };
                    self.projects[p].runs.push(run);
                    touched.insert(p);
                    done.inserted += 1;
                    p
                }
            };
            let project = &self.projects[p];
            let i = match at {
                Some((_, i)) => i,
                None => project.runs.len() - 1,
            };
            if at.is_none() || listed {
                let entries = project.runs[i].feedback.clone();
                for e in &entries {
                    self.index_feedback(e)?;
                }
            }
        }
        for p in touched {
            self.projects[p]
                .reindex(Path::new("upsert"))
                .map_err(invalid)?;
        }
        Ok(done)
    }

    fn add_feedback(
        &mut self,
        inputs: Vec<FeedbackInput>,
        now_us: i64,
    ) -> Result<Vec<FeedbackEntry>, ChangeError> {
        let mut planned: Vec<((usize, usize), FeedbackEntry)> = vec![];
        let mut ids = HashSet::new();
        for input in inputs {
            let Some(run_id) = input.run_id.clone() else {
                return Err(ChangeError::Invalid("feedback needs a run_id".into()));
            };
            let at = self
                .locate(&run_id)
                .ok_or_else(|| ChangeError::NotFound(format!("Run not found: {run_id}")))?;
            let run = &self.projects[at.0].runs[at.1];
            let ordinal = run.feedback.len() + planned.iter().filter(|(a, _)| *a == at).count();
            let entry = input
                .into_entry(run.run_ref(), ordinal, Some(now_us))
                .map_err(|e| ChangeError::Invalid(format!("{e:#}")))?;
            if self.feedback_runs.contains_key(&entry.id) || !ids.insert(entry.id.clone()) {
                return Err(ChangeError::Conflict(format!(
                    "feedback id {} is already used",
                    entry.id
                )));
            }
            planned.push((at, entry));
        }
        let mut out = Vec::with_capacity(planned.len());
        for ((p, i), entry) in planned {
            self.index_feedback(&entry)?;
            let run = &mut self.projects[p].runs[i];
            run.feedback.push(entry.clone());
            run.refresh_feedback();
            out.push(entry);
        }
        Ok(out)
    }

    fn edit_feedback(
        &mut self,
        id: &str,
        patch: FeedbackPatch,
        now_us: i64,
    ) -> Result<FeedbackEntry, ChangeError> {
        let not_found = || ChangeError::NotFound(format!("Feedback not found: {id}"));
        let run_id = self.feedback_runs.get(id).ok_or_else(not_found)?;
        let (p, i) = self.locate(run_id).ok_or_else(not_found)?;
        let run = &mut self.projects[p].runs[i];
        let entry = run
            .feedback
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(not_found)?;
        let mut edited = entry.clone();
        patch
            .apply(&mut edited, now_us)
            .map_err(|e| ChangeError::Invalid(format!("{e:#}")))?;
        *entry = edited.clone();
        run.refresh_feedback();
        Ok(edited)
    }
}

/// The feedback sidecar of a run file, if there is one.
fn feedback_sidecar(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?.to_string_lossy();
    let base = [".gz", ".zst", ".zstd"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    let base = base.strip_suffix(".jsonl").unwrap_or(base);
    ["", ".gz", ".zst"]
        .iter()
        .map(|ext| path.with_file_name(format!("{base}.feedback.jsonl{ext}")))
        .find(|p| p.is_file())
}

/// The `session_id` (project id) of a stored run.
pub fn run_session(fields: &BTreeMap<String, Box<RawValue>>) -> anyhow::Result<String> {
    let raw = fields.get("session_id").context("run has no session_id")?;
    serde_json::from_str::<String>(raw.get()).context("session_id is not a string")
}

/// One run from a line of JSON, indexed for queries, with its feedback entries.
pub fn stored_run(line: &str) -> anyhow::Result<StoredRun> {
    parse_run(line, false).map(|(run, _)| run)
}

/// Like [`stored_run`], for serving: LangSmith keeps runs whose fields runlake cannot read
/// (tokens as words, an end time in no known format), and the emulator serves them as they
/// are, so a client's handling of such runs can be tested. Only what indexing needs (id,
/// start time, trace and parent ids) must be readable.
pub fn served_run(line: &str) -> anyhow::Result<StoredRun> {
    parse_run(line, true).map(|(run, _)| run)
}

/// What indexing needs of a run whose other fields cannot be read.
fn indexing_fields(line: &str) -> Option<Run> {
    #[derive(serde::Deserialize)]
    struct Indexed {
        id: String,
        start_time: crate::model::Timestamp,
        #[serde(default)]
        trace_id: Option<String>,
        #[serde(default)]
        parent_run_id: Option<String>,
        #[serde(default)]
        session_id: Option<String>,
    }
    let i = serde_json::from_str::<Indexed>(line).ok()?;
    Some(Run {
        id: i.id,
        start_time: Maybe::Value(i.start_time),
        trace_id: i.trace_id.into(),
        parent_run_id: i.parent_run_id.into(),
        session_id: i.session_id.into(),
        ..Run::default()
    })
}

/// A run, and whether its line carried a `feedback` list (the emulator's extension key,
/// taken out of the fields into the entries). `served`: see [`served_run`].
fn parse_run(line: &str, served: bool) -> anyhow::Result<(StoredRun, bool)> {
    let run = match Run::from_json(line) {
        Ok(run) => run,
        Err(e) => match served.then(|| indexing_fields(line)).flatten() {
            Some(run) => run,
            None => return Err(e.into()),
        },
    };
    let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(line)?;
    let start = run.start_time.value().context("run has no start_time")?;
    // LangSmith stores times sent as epoch numbers (the JS SDK's shape) as times, and serves
    // them as its usual strings.
    for (name, time) in [
        ("start_time", &run.start_time),
        ("end_time", &run.end_time),
        ("first_token_time", &run.first_token_time),
    ] {
        if let (Some(raw), Some(t)) = (fields.get_mut(name), time.value())
            && raw
                .get()
                .starts_with(|c: char| c.is_ascii_digit() || c == '-')
        {
            let text = format!("\"{}\"", crate::model::format_naive_micros(&t.0));
            *raw = RawValue::from_string(text)?;
        }
    }
    let trace_id = run
        .trace_id
        .value()
        .cloned()
        .unwrap_or_else(|| run.id.clone());
    let parent_run_id = run.parent_run_id.value().cloned();
    let listed = fields.remove("feedback");
    let blobs = match fields.remove("blobs") {
        Some(raw) => serde_json::from_str(raw.get())
            .context("`blobs` (offloaded payloads by key) is not an object")?,
        None => BTreeMap::new(),
    };
    let mut stored = StoredRun {
        start_us: start.micros(),
        is_root: run.is_root().unwrap_or(parent_run_id.is_none()),
        run_type: run.run_type.value().cloned(),
        has_error: matches!(&run.error, Maybe::Value(e) if !e.is_empty())
            || run.status.value().is_some_and(|s| s == "error"),
        facts: RunFacts::from_run(&run),
        id: run.id,
        trace_id,
        parent_run_id,
        fields,
        feedback: vec![],
        blobs,
    };
    stored.feedback = feedback::entries_for_run(
        stored.run_ref(),
        listed.as_deref().map(RawValue::get),
        stored.field("feedback_stats").map(RawValue::get),
    )?;
    if !stored.feedback.is_empty() {
        stored.facts.feedback = stored.feedback.iter().map(FeedbackEntry::fact).collect();
    }
    Ok((stored, listed.is_some()))
}

/// Opens a file, decompressing `.gz` and `.zst` by extension.
pub fn open_maybe_compressed(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    Ok(buffered(open_decompressed(path)?))
}

/// The file at `path`, decompressed by its extension, without a buffer of its own: for
/// readers that read large blocks themselves (a buffer would copy every byte once more).
pub fn open_decompressed(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    decompressor(&path.to_string_lossy(), file)
}

/// `reader`'s lines, decompressed by the extension of `name` (`.gz`, `.zst`).
pub fn decompress(
    name: &str,
    reader: impl Read + Send + 'static,
) -> anyhow::Result<Box<dyn BufRead>> {
    Ok(buffered(decompressor(name, reader)?))
}

/// Read line by line through a 1 MiB buffer.
fn buffered(reader: Box<dyn Read + Send>) -> Box<dyn BufRead> {
    Box::new(BufReader::with_capacity(1 << 20, reader))
}

fn decompressor(
    name: &str,
    reader: impl Read + Send + 'static,
) -> anyhow::Result<Box<dyn Read + Send>> {
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Box::new(zstd::Decoder::new(reader)?)
    } else {
        Box::new(reader)
    })
}
