//! The emulator's data: projects loaded from JSONL run files, indexed for paging and filters.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::value::RawValue;

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
}

impl StoredRun {
    pub fn field(&self, name: &str) -> Option<&RawValue> {
        self.fields.get(name).map(|v| &**v)
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
}

#[derive(Default)]
pub struct Store {
    pub projects: Vec<Project>,
}

impl Store {
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
    pub fn load_project(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        self.load_project_from(name, open_maybe_compressed(path)?, path)
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

    /// Indexes one project's runs; `origin` names where they came from in errors.
    pub fn add_project(
        &mut self,
        id: String,
        name: &str,
        mut runs: Vec<StoredRun>,
        origin: &Path,
    ) -> anyhow::Result<()> {
        let path = origin;
        runs.sort_by(|a, b| (a.start_us, &a.id).cmp(&(b.start_us, &b.id)));
        let mut by_id = HashMap::with_capacity(runs.len());
        let mut traces: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, run) in runs.iter().enumerate() {
            if by_id.insert(run.id.clone(), i).is_some() {
                bail!("{}: run id {} appears twice", path.display(), run.id);
            }
            traces.entry(run.trace_id.clone()).or_default().push(i);
        }
        let start_us = runs.first().map_or(0, |r| r.start_us);
        self.projects.push(Project {
            id,
            name: name.to_string(),
            start_us,
            runs,
            by_id,
            traces,
        });
        Ok(())
    }
}

/// The `session_id` (project id) of a stored run.
pub fn run_session(fields: &BTreeMap<String, Box<RawValue>>) -> anyhow::Result<String> {
    let raw = fields.get("session_id").context("run has no session_id")?;
    serde_json::from_str::<String>(raw.get()).context("session_id is not a string")
}

/// One run from a line of JSON, indexed for queries.
pub fn stored_run(line: &str) -> anyhow::Result<StoredRun> {
    let run = Run::from_json(line)?;
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(line)?;
    indexed(run, fields)
}

/// Like [`stored_run`], for serving: LangSmith keeps runs whose fields runlake cannot read
/// (tokens as words, an end time in no known format), and the emulator serves them as they
/// are, so a client's handling of such runs can be tested. Only what indexing needs (id,
/// start time, trace and parent ids) must be readable.
pub fn served_run(line: &str) -> anyhow::Result<StoredRun> {
    let unreadable = match stored_run(line) {
        Ok(run) => return Ok(run),
        Err(e) => e,
    };
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
    let Ok(i) = serde_json::from_str::<Indexed>(line) else {
        return Err(unreadable);
    };
    let run = Run {
        id: i.id,
        start_time: Maybe::Value(i.start_time),
        trace_id: i.trace_id.into(),
        parent_run_id: i.parent_run_id.into(),
        session_id: i.session_id.into(),
        ..Run::default()
    };
    indexed(run, serde_json::from_str(line)?)
}

fn indexed(run: Run, mut fields: BTreeMap<String, Box<RawValue>>) -> anyhow::Result<StoredRun> {
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
    Ok(StoredRun {
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
    })
}

/// Opens a file, decompressing `.gz` and `.zst` by extension.
pub fn open_maybe_compressed(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    decompress(&path.to_string_lossy(), file)
}

/// `reader`'s lines, decompressed by the extension of `name` (`.gz`, `.zst`).
pub fn decompress(
    name: &str,
    reader: impl Read + Send + 'static,
) -> anyhow::Result<Box<dyn BufRead>> {
    let reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Box::new(zstd::Decoder::new(reader)?)
    } else {
        Box::new(reader)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}
