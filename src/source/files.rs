//! Captured runs replayed offline: JSONL files of v1 runs (plain, `.gz` or `.zst`) or the
//! Parquet files of LangSmith's bulk export (module `bulk_export`), one file or a directory
//! of them, on disk or under an object-storage prefix. Queries run through the emulator's
//! engine and its v1 rendering, so a pipeline over the files gives exactly the rows it gives
//! against `runlake emulate` serving them: same windows, ids, filters, trace and tree
//! filters, `select`. No request to LangSmith. v2's trace and thread queries are answered
//! offline too (module `summaries`).

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{RunSource, summaries};
use crate::filter::Expr;
use crate::langsmith::StatsSnapshot;
use crate::langsmith::fields::{V1_DEFAULT, V1_SELECTABLE};
use crate::langsmith::{
    ClientError, ClientStats, Feedback, FeedbackPageStream, FeedbackQuery, ItemStream, Lane, Order,
    PageStream, RunsQuery, Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery, Trace,
    TracesQuery,
};
use crate::model::{Page, Rejected, Run};
use crate::runstore::{self, Cursor, FeedbackFilter, RunQuery, Store, StoredRun};

/// Runs per page handed to the stages (an in-memory page, not a request).
const PAGE: usize = 1000;

/// Run files held in memory, one project per `session_id`.
#[derive(Clone)]
pub struct FileSource {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    origin: String,
    stats: ClientStats,
    /// Lines that are not runs, handed to the first query (once, not once per query).
    unclaimed: Mutex<Vec<Rejected>>,
}

impl FileSource {
    /// Reads every run file at `path`: the file itself, or every `*.jsonl`, `*.jsonl.gz`,
    /// `*.jsonl.zst`, `*.parquet` under the directory. One `session_id` per project; a line
    /// (or row) that is not a run names its file and line (or row).
    pub fn open(path: &Path) -> anyhow::Result<FileSource> {
        let files = run_files(path)?;
        if files.is_empty() {
            bail!(
                "{}: no run files (*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet)",
                path.display()
            );
        }
        let mut runs = Collected::default();
        for file in &files {
            if super::bulk_export::is_parquet(file) {
                super::bulk_export::read_runs(file, &mut runs)?;
                continue;
            }
            read_runs(file, runstore::open_maybe_compressed(file)?, &mut runs)?;
        }
        Self::from_projects(path, runs)
    }

    /// Reads every run file under an object-storage prefix (`s3://bucket/prefix`,
    /// `gs://…`, `az://…`; credentials and endpoints from the `AWS_*`, `GOOGLE_*`, `AZURE_*`
    /// variables, as for outputs) or a `file://` URL, like [`FileSource::open`].
    pub async fn open_uri(uri: &str) -> anyhow::Result<FileSource> {
        let lake = crate::sink::lake::Lake::open(uri)?;
        if let Some(root) = lake.local_path("") {
            return FileSource::open(&root);
        }
        let mut runs = Collected::default();
        let mut read = 0;
        for rel in lake.list("").await? {
            let path = Path::new(&rel);
            let hidden = rel
                .split('/')
                .any(|part| part.starts_with('.') || part.starts_with('_'));
            if hidden || !is_run_file(path) {
                continue;
            }
            let Some(bytes) = lake.get(&rel).await? else {
                continue; // deleted meanwhile
            };
            let named = Path::new(uri).join(&rel);
            if super::bulk_export::is_parquet(path) {
                super::bulk_export::read_runs_from(&named, bytes::Bytes::from(bytes), &mut runs)?;
            } else {
                let reader = runstore::decompress(&rel, std::io::Cursor::new(bytes))?;
                read_runs(&named, reader, &mut runs)?;
            }
            read += 1;
        }
        if read == 0 {
            bail!("{uri}: no run files (*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet)");
        }
        Self::from_projects(Path::new(uri), runs)
    }

    /// Like [`FileSource::open`], from decompressed JSONL; `origin` names it in errors.
    pub fn from_reader(origin: &Path, reader: impl BufRead) -> anyhow::Result<FileSource> {
        let mut runs = Collected::default();
        read_runs(origin, reader, &mut runs)?;
        Self::from_projects(origin, runs)
    }

    fn from_projects(origin: &Path, runs: Collected) -> anyhow::Result<FileSource> {
        if runs.by_project.is_empty() {
            match runs.rejected.first() {
                Some(first) => bail!(
                    "{}: no run could be read ({} set aside); first: {}",
                    origin.display(),
                    runs.rejected.len(),
                    first.describe()
                ),
                None => bail!("{}: no runs", origin.display()),
            }
        }
        let mut store = Store::default();
        for (id, runs) in runs.by_project {
            // Files carry project ids, not names: a project is named by its id.
            store.add_project(id.clone(), &id, runs, origin)?;
        }
        Ok(FileSource {
            inner: Arc::new(Inner {
                store,
                origin: origin.display().to_string(),
                stats: ClientStats::default(),
                unclaimed: Mutex::new(runs.rejected),
            }),
        })
    }

    /// The latest run start in the files.
    pub fn latest_start(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.inner
            .store
            .projects
            .iter()
            .filter_map(|p| p.runs.last())
            .map(|r| r.start_us)
            .max()
            .and_then(chrono::DateTime::from_timestamp_micros)
    }

    /// The project ids the files hold.
    pub fn projects(&self) -> Vec<String> {
        self.inner
            .store
            .projects
            .iter()
            .map(|p| p.id.clone())
            .collect()
    }

    fn pages(&self, query: RunsQuery) -> PageStream {
        let source = self.clone();
        let compiled = Compiled::new(&query);
        let state = (source, query, compiled, None::<Cursor>, false);
        Box::pin(futures::stream::try_unfold(
            state,
            |(source, query, compiled, after, done)| async move {
                if done {
                    return Ok(None);
                }
                let compiled = compiled?;
                let (runs, next) = source.page(&query, &compiled, after.as_ref())?;
                let rejected = std::mem::take(&mut *source.inner.unclaimed.lock().unwrap());
                if runs.is_empty() && rejected.is_empty() {
                    return Ok(None);
                }
                let done = next.is_none();
                let page = Page { runs, rejected };
                Ok(Some((page, (source, query, Ok(compiled), next, done))))
            },
        ))
    }

    /// One page: the engine's matches after `after`, rendered as v1 sends them and read
    /// back as runs (the API's own path, so the rows are the API's).
    fn page(
        &self,
        query: &RunsQuery,
        compiled: &Compiled,
        after: Option<&Cursor>,
    ) -> Result<(Vec<Run>, Option<Cursor>), ClientError> {
        let store = &self.inner.store;
        let projects = if query.projects.is_empty() || query.ids.is_some() {
            store.projects.iter().collect()
        } else {
            query
                .projects
                .iter()
                .map(|id| store.project_by_id(id).ok_or_else(|| self.not_found(id)))
                .collect::<Result<Vec<_>, _>>()?
        };
        let engine = RunQuery {
            projects,
            ids: query.ids.as_ref().map(|ids| ids.iter().cloned().collect()),
            ids_ignore_filters: true,
            trace: query.trace.clone(),
            parent_run: query.parent_run.clone(),
            run_type: query.run_type.clone(),
            is_root: query.is_root,
            error: query.error,
            min_start_us: query.start_time.map(|t| t.timestamp_micros()),
            max_start_us: query.end_time.map(|t| t.timestamp_micros()),
            filter: compiled.filter.clone(),
            trace_filter: compiled.trace_filter.clone(),
            tree_filter: compiled.tree_filter.clone(),
            order: match query.order {
                Some(Order::Asc) => runstore::Order::Asc,
                Some(Order::Desc) | None => runstore::Order::Desc,
            },
            feedback_modified: None,
        };
        let page = engine.page(after, PAGE);
        let select: Vec<&str> = compiled.select.iter().map(String::as_str).collect();
        let mut runs = Vec::with_capacity(page.runs.len());
        let mut text = String::new();
        for (project, run) in &page.runs {
            text.clear();
            runstore::write_v1_run(&mut text, project, run, &select);
            runs.push(Run::from_json(&text).map_err(|e| ClientError::Malformed {
                detail: format!("run {} in {}: {e}", run.id, self.inner.origin),
            })?);
        }
        self.inner.stats.runs(runs.len());
        Ok((runs, page.next))
    }

    /// One page: what `answer` computes over the project `id`, offline.
    fn answer<T: Send + 'static>(
        &self,
        id: &str,
        answer: impl FnOnce(&runstore::Project) -> Result<Vec<T>, ClientError>,
    ) -> ItemStream<T> {
        let items = self
            .inner
            .store
            .project_by_id(id)
            .ok_or_else(|| self.not_found(id))
            .and_then(answer);
        if let Ok(items) = &items {
            self.inner.stats.runs(items.len());
        }
        Box::pin(futures::stream::once(futures::future::ready(items)))
    }

    fn not_found(&self, name: &str) -> ClientError {
        ClientError::ProjectNotInFiles {
            name: name.to_string(),
            origin: self.inner.origin.clone(),
            ids: self.projects().join(", "),
        }
    }
}

/// A query's filters parsed and `select` checked once, for all its pages.
#[derive(Clone)]
struct Compiled {
    filter: Option<Expr>,
    trace_filter: Option<Expr>,
    tree_filter: Option<Expr>,
    select: Vec<String>,
}

/// A query's filter, parsed (none when empty), or the API's 400.
pub(super) fn parse(name: &str, text: &Option<String>) -> Result<Option<Expr>, ClientError> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            crate::filter::parse(t).map_err(|e| ClientError::BadRequest {
                status: 400,
                detail: format!("invalid {name} {t:?}: {e}"),
            })
        })
        .transpose()
}

impl Compiled {
    fn new(q: &RunsQuery) -> Result<Compiled, ClientError> {
        let select = if q.select.is_empty() {
            V1_DEFAULT.iter().map(|s| s.to_string()).collect()
        } else {
            if let Some(bad) = q
                .select
                .iter()
                .find(|s| !V1_SELECTABLE.contains(&s.as_str()))
            {
                return Err(ClientError::BadRequest {
                    status: 422,
                    detail: format!("{bad:?} is not a run field that can be selected"),
                });
            }
            q.select.clone()
        };
        Ok(Compiled {
            filter: parse("filter", &q.filter)?,
            trace_filter: parse("trace_filter", &q.trace_filter)?,
            tree_filter: parse("tree_filter", &q.tree_filter)?,
            select,
        })
    }
}

impl RunSource for FileSource {
    fn origin(&self) -> String {
        self.inner.origin.clone()
    }

    /// Files carry project ids only: a name resolves to the one project they hold, or to the
    /// project whose id it is.
    fn resolve_project<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, ClientError>> {
        let projects = &self.inner.store.projects;
        let found = match projects.as_slice() {
            [only] => Some(only.id.clone()),
            _ => projects.iter().find(|p| p.id == name).map(|p| p.id.clone()),
        };
        futures::future::ready(found.ok_or_else(|| self.not_found(name))).boxed()
    }

    fn query(&self, query: RunsQuery, _split: bool) -> PageStream {
        self.pages(query)
    }

    fn fetch_by_ids(&self, base: &RunsQuery, ids: Vec<String>) -> PageStream {
        self.pages(RunsQuery {
            ids: Some(ids),
            ..base.clone()
        })
    }

    /// The entries the files' runs carry (derived from `feedback_stats`, or listed on the
    /// line), as the emulator serves them: one page.
    fn feedback(&self, query: FeedbackQuery) -> FeedbackPageStream {
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_micros());
        let list = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        let filter = FeedbackFilter {
            runs: list(&query.run_ids),
            keys: list(&query.keys),
            sessions: list(&query.sessions),
            sources: list(
                &query
                    .source_types
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect::<Vec<_>>(),
            ),
            has_comment: query.has_comment,
            has_score: query.has_score,
            min_created_us: time(query.min_created_at),
            max_created_us: time(query.max_created_at),
            ..FeedbackFilter::default()
        };
        let min_modified = time(query.min_modified_at);
        let entries: Result<Vec<Feedback>, ClientError> = self
            .inner
            .store
            .list_feedback(&filter, 0, usize::MAX)
            .into_iter()
            .filter(|e| min_modified.is_none_or(|t| e.modified_us >= t))
            .map(|e| {
                serde_json::from_value(e.to_json()).map_err(|e| ClientError::Malformed {
                    detail: format!("feedback in {}: {e}", self.inner.origin),
                })
            })
            .collect();
        Box::pin(futures::stream::once(futures::future::ready(entries)))
    }

    fn batch_size<'a>(&'a self, _base: &'a RunsQuery) -> BoxFuture<'a, Result<usize, ClientError>> {
        futures::future::ready(Ok(PAGE)).boxed()
    }

    fn traces(&self, query: TracesQuery) -> ItemStream<Trace> {
        self.answer(&query.project_id, |p| summaries::traces(p, &query))
    }

    fn threads(&self, query: ThreadsQuery) -> ItemStream<Thread> {
        self.answer(&query.project_id, |p| summaries::threads(p, &query))
    }

    fn thread_traces(&self, query: ThreadTracesQuery) -> ItemStream<ThreadTrace> {
        self.answer(&query.project_id, |p| summaries::thread_traces(p, &query))
    }

    fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    fn lane_limits(&self) -> (Vec<(Lane, Option<u32>)>, Duration) {
        (vec![], Duration::ZERO)
    }
}

/// Whether a file's name says it holds runs: JSONL (plain, .gz, .zst) or Parquet.
fn is_run_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `*.feedback.jsonl` beside a run file holds its feedback entries (runstore), no runs.
    !name.contains(".feedback.jsonl")
        && ([".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson"]
            .iter()
            .any(|ext| name.ends_with(ext))
            || super::bulk_export::is_parquet(path))
}

/// The run files at `path`, in name order.
fn run_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = vec![];
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let entry = entry?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue; // bookkeeping, as in an output tree
            }
            if entry.file_type()?.is_dir() {
                stack.push(p);
            } else if is_run_file(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs read from files, by project id, and the records that are not runs.
#[derive(Default)]
pub(super) struct Collected {
    pub(super) by_project: BTreeMap<String, Vec<StoredRun>>,
    pub(super) rejected: Vec<Rejected>,
    seen: HashSet<String>,
}

impl Collected {
    /// One record (a line, or a Parquet row as JSON) found `at`; one that is not a run is
    /// set aside. The same run twice means the same file was given twice: an error.
    pub(super) fn add(&mut self, at: impl Fn() -> String, text: &str) -> anyhow::Result<()> {
        let read = runstore::stored_run(text)
            .and_then(|run| Ok((runstore::run_session(&run.fields)?, run)));
        let (project, run) = match read {
            Ok(read) => read,
            Err(e) => {
                self.rejected
                    .push(Rejected::new(at(), text, format!("{e:#}")));
                return Ok(());
            }
        };
        if !self.seen.insert(run.id.clone()) {
            bail!("{}: run id {} appears twice", at(), run.id);
        }
        self.by_project.entry(project).or_default().push(run);
        Ok(())
    }
}

/// Every run of one file.
fn read_runs(file: &Path, reader: impl BufRead, into: &mut Collected) -> anyhow::Result<()> {
    for (index, line) in reader.lines().enumerate() {
        let at = || format!("{}:{}", file.display(), index + 1);
        let line = line.with_context(at)?;
        if line.trim().is_empty() {
            continue;
        }
        into.add(at, &line)?;
    }
    Ok(())
}

/// The file source's streaming mode, for whole-file reads at any size (`runlake convert`):
/// every run of JSONL files (plain, `.gz`, `.zst`), parsed once as it is read and handed on,
/// with no index and nothing held beyond the pages in flight. It answers whole-file queries
/// only — every run of the files, whatever its project (so any project name resolves), pages
/// in file order per block, blocks parsed in parallel — and refuses any condition (a window,
/// filters, ids, a trace, a run type, an order) the indexed [`FileSource`] would evaluate.
/// A line that is not a run is set aside with its file and line.
#[derive(Clone)]
pub struct StreamedFiles {
    inner: Arc<StreamedInner>,
}

struct StreamedInner {
    files: Vec<PathBuf>,
    origin: String,
    stats: ClientStats,
}

/// About this many bytes of whole lines are parsed as one page.
const BLOCK_BYTES: usize = 1 << 20;
/// Threads parsing blocks.
const PARSERS: usize = 2;

/// Whole lines of one file, starting at line `first_line` (1-based).
struct Block {
    file: Arc<str>,
    first_line: usize,
    /// Lines in `text`, to size the page's runs up front.
    lines: usize,
    text: Vec<u8>,
}

impl StreamedFiles {
    /// The JSONL run files at `path` (a file, or a directory searched outside `_`/`.` paths).
    pub fn open(path: &Path) -> anyhow::Result<StreamedFiles> {
        let files = run_files(path)?;
        if files.is_empty() {
            bail!(
                "{}: no run files (*.jsonl, *.jsonl.gz, *.jsonl.zst)",
                path.display()
            );
        }
        if let Some(parquet) = files.iter().find(|f| super::bulk_export::is_parquet(f)) {
            bail!(
                "{}: a streamed read takes JSONL run files only (plain, .gz, .zst); read bulk-export Parquet with `runlake run --from`",
                parquet.display()
            );
        }
        Ok(StreamedFiles {
            inner: Arc::new(StreamedInner {
                files,
                origin: path.display().to_string(),
                stats: ClientStats::default(),
            }),
        })
    }

    /// What a streamed read cannot answer in `q`, if anything.
    fn unanswerable(q: &RunsQuery) -> Option<&'static str> {
        // Spelled out field by field: a new query argument must say whether a whole-file
        // read can answer it.
        let RunsQuery {
            projects: _,
            select: _,
            run_type,
            is_root,
            error,
            start_time,
            end_time,
            ids,
            trace,
            parent_run,
            filter,
            trace_filter,
            tree_filter,
            order,
        } = q;
        [
            (run_type.is_some(), "run_type"),
            (is_root.is_some(), "is_root"),
            (error.is_some(), "error"),
            (start_time.is_some() || end_time.is_some(), "a time window"),
            (ids.is_some(), "ids"),
            (trace.is_some(), "trace"),
            (parent_run.is_some(), "parent_run"),
            (filter.is_some(), "filter"),
            (trace_filter.is_some(), "trace_filter"),
            (tree_filter.is_some(), "tree_filter"),
            (order.is_some(), "order"),
        ]
        .into_iter()
        .find_map(|(set, what)| set.then_some(what))
    }

    fn refuse(&self, what: &str) -> PageStream {
        self.refused_items(what)
    }

    /// A stream that fails at once, saying what a streamed read cannot answer.
    fn refused_items<T: Send + 'static>(
        &self,
        what: &str,
    ) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, ClientError>> + Send>> {
        let refused = self.refused(what);
        Box::pin(futures::stream::once(async move { Err(refused) }))
    }

    fn refused(&self, what: &str) -> ClientError {
        ClientError::BadRequest {
            status: 400,
            detail: format!(
                "{}: a streamed read of run files returns every run; it cannot answer {what} (the indexed file source, `runlake run --from`, can)",
                self.inner.origin
            ),
        }
    }

    /// Every run of the files: one thread reads blocks of whole lines, [`PARSERS`] threads
    /// parse them into pages, the stream hands the pages on as they are ready.
    fn pages(&self) -> PageStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Page, ClientError>>(PARSERS * 2);
        let inner = self.inner.clone();
        std::thread::spawn(move || {
            // The parsers it starts inherit the lowered priority.
            super::priority::lower_to_producer();
            let (block_tx, block_rx) = std::sync::mpsc::sync_channel::<Block>(PARSERS * 2);
            let block_rx = Arc::new(Mutex::new(block_rx));
            std::thread::scope(|scope| {
                for _ in 0..PARSERS {
                    let (block_rx, tx, stats) = (block_rx.clone(), tx.clone(), &inner.stats);
                    scope.spawn(move || {
                        loop {
                            let next = block_rx.lock().expect("block queue").recv();
                            let Ok(block) = next else { break };
                            let page = parse_block(&block);
                            stats.runs(page.runs.len());
                            if tx.blocking_send(Ok(page)).is_err() {
                                break; // nobody reads on
                            }
                        }
                    });
                }
                if let Err(e) = read_blocks(&inner.files, &block_tx, &inner.stats) {
                    let _ = tx.blocking_send(Err(ClientError::FileRead {
                        detail: format!("{e:#}"),
                    }));
                }
                drop(block_tx);
            });
        });
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|page| (page, rx))
        }))
    }
}

/// Sends each file's lines in blocks of about [`BLOCK_BYTES`] (a longer line makes a longer
/// block); stops early when the parsers are gone. Reads go straight into the block (no line
/// by line copy through a reader's buffer); the partial line a read ends in starts the next.
fn read_blocks(
    files: &[PathBuf],
    blocks: &std::sync::mpsc::SyncSender<Block>,
    stats: &ClientStats,
) -> anyhow::Result<()> {
    for path in files {
        let file: Arc<str> = path.display().to_string().into();
        let mut reader = runstore::open_decompressed(path)?;
        let mut line = 1;
        let mut carry: Vec<u8> = Vec::new();
        let mut at_end = false;
        while !at_end {
            // At least 64 KiB more than the carried partial line, so it is read in few calls.
            let mut want = BLOCK_BYTES.max(carry.len() + (64 << 10));
            let mut text = Vec::with_capacity(want);
            text.append(&mut carry);
            let complete = loop {
                let missing = want.saturating_sub(text.len()).max(1);
                let n = (&mut reader)
                    .take(missing as u64)
                    .read_to_end(&mut text)
                    .with_context(|| format!("{file}: reading after line {line}"))?;
                if n < missing {
                    at_end = true;
                    break text.len();
                }
                if let Some(last) = memchr::memrchr(b'\n', &text) {
                    break last + 1;
                }
                want += BLOCK_BYTES; // one line longer than a block
            };
            carry.extend_from_slice(&text[complete..]);
            text.truncate(complete);
            if text.is_empty() {
                break;
            }
            stats.bytes(text.len());
            let lines = memchr::memchr_iter(b'\n', &text).count();
            let block = Block {
                file: file.clone(),
                first_line: line,
                lines,
                text,
            };
            line += lines;
            if blocks.send(block).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The runs of one block, and its lines that are not runs (not UTF-8, not JSON, not a run).
fn parse_block(block: &Block) -> Page {
    let mut page = Page::default();
    page.runs.reserve_exact(block.lines);
    let at = |index: usize| format!("{}:{}", block.file, block.first_line + index);
    // A block is checked as UTF-8 once; line by line only when that fails.
    match crate::utf8(&block.text) {
        Ok(text) => {
            for (index, line) in text.split_inclusive('\n').enumerate() {
                parse_line(&mut page, line, || at(index));
            }
        }
        Err(_) => {
            for (index, bytes) in block.text.split_inclusive(|&b| b == b'\n').enumerate() {
                match std::str::from_utf8(bytes) {
                    Ok(line) => parse_line(&mut page, line, || at(index)),
                    Err(_) => {
                        let lossy = String::from_utf8_lossy(bytes);
                        page.rejected.push(Rejected::new(
                            at(index),
                            lossy.trim_end(),
                            "not UTF-8".into(),
                        ));
                    }
                }
            }
        }
    }
    page
}

/// One line's run into `page`, or the line set aside, named by `at`; blank lines are skipped.
fn parse_line(page: &mut Page, line: &str, at: impl FnOnce() -> String) {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() {
        return;
    }
    match Run::from_json(line) {
        Ok(run) => page.runs.push(run),
        Err(e) => page
            .rejected
            .push(Rejected::new(at(), line, format!("not a run: {e}"))),
    }
}

impl RunSource for StreamedFiles {
    fn origin(&self) -> String {
        self.inner.origin.clone()
    }

    /// A whole-file read holds every project: any name resolves (to itself).
    fn resolve_project<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, ClientError>> {
        futures::future::ready(Ok(name.to_string())).boxed()
    }

    fn query(&self, query: RunsQuery, _split: bool) -> PageStream {
        match Self::unanswerable(&query) {
            Some(what) => self.refuse(what),
            None => self.pages(),
        }
    }

    fn fetch_by_ids(&self, _base: &RunsQuery, _ids: Vec<String>) -> PageStream {
        self.refuse("runs by id")
    }

    fn feedback(&self, _query: FeedbackQuery) -> FeedbackPageStream {
        self.refused_items("feedback entries")
    }

    fn traces(&self, _query: TracesQuery) -> ItemStream<Trace> {
        self.refused_items("trace summaries")
    }

    fn threads(&self, _query: ThreadsQuery) -> ItemStream<Thread> {
        self.refused_items("thread summaries")
    }

    fn thread_traces(&self, _query: ThreadTracesQuery) -> ItemStream<ThreadTrace> {
        self.refused_items("a thread's traces")
    }

    fn batch_size<'a>(&'a self, _base: &'a RunsQuery) -> BoxFuture<'a, Result<usize, ClientError>> {
        futures::future::ready(Ok(PAGE)).boxed()
    }

    fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    fn lane_limits(&self) -> (Vec<(Lane, Option<u32>)>, Duration) {
        (vec![], Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines cut across reads, a line longer than a block, and bad lines keep their line
    /// numbers; the last line needs no newline.
    #[test]
    fn blocks_hold_whole_lines_and_name_each_bad_line() {
        let dir = std::env::temp_dir().join(format!("runlake-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.jsonl");
        let long = format!(
            r#"{{"id":"long","inputs":{{"text":"{}"}}}}"#,
            "x".repeat(BLOCK_BYTES * 5 / 2)
        );
        let mut text = Vec::new();
        for i in 0..40_000 {
            text.extend_from_slice(format!("{{\"id\":\"r{i}\",\"name\":\"n\"}}\n").as_bytes());
        }
        text.extend_from_slice(b"\xff\xfe\n"); // line 40001
        text.extend_from_slice(long.as_bytes()); // line 40002
        text.extend_from_slice(b"\n\nnot json\r\n{\"id\":\"last\"}"); // lines 40003-40005
        std::fs::write(&path, &text).unwrap();

        let (tx, rx) = std::sync::mpsc::sync_channel(1000);
        read_blocks(std::slice::from_ref(&path), &tx, &ClientStats::default()).unwrap();
        drop(tx);
        let blocks: Vec<Block> = rx.iter().collect();
        assert!(blocks.len() > 1);
        let (mut ids, mut rejected) = (vec![], vec![]);
        for (i, block) in blocks.iter().enumerate() {
            if i + 1 < blocks.len() {
                assert_eq!(block.text.last(), Some(&b'\n'), "block {i} ends a line");
            }
            let page = parse_block(block);
            ids.extend(page.runs.into_iter().map(|r| r.id));
            rejected.extend(page.rejected.into_iter().map(|r| (r.origin, r.reason)));
        }
        assert_eq!(
            blocks.iter().map(|b| b.text.len()).sum::<usize>(),
            text.len()
        );
        assert!(blocks.iter().any(|b| b.text.len() > BLOCK_BYTES * 2));
        assert_eq!(ids.len(), 40_002);
        assert_eq!(ids[..2], ["r0", "r1"]);
        assert_eq!(ids[39_999..], ["r39999", "long", "last"]);
        let file = path.display().to_string();
        assert_eq!(rejected.len(), 2, "{rejected:?}");
        assert_eq!(
            rejected[0],
            (format!("{file}:40001"), "not UTF-8".to_string())
        );
        assert_eq!(rejected[1].0, format!("{file}:40004"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The reader and parser threads run at the producer priority; the thread that reads the
    /// pages (the pipeline's) keeps its own.
    #[cfg(target_os = "linux")]
    #[test]
    fn reader_and_parsers_run_at_producer_priority() {
        use futures::StreamExt;
        fn nice_values() -> Vec<(String, i32)> {
            let tasks = std::fs::read_dir("/proc/self/task").unwrap();
            tasks
                .map(|t| {
                    let t = t.unwrap().path();
                    let stat = std::fs::read_to_string(t.join("stat")).unwrap();
                    // Fields after the command name: state is field 3, nice field 19.
                    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
                    let nice = after_name.split(' ').nth(16).unwrap().parse().unwrap();
                    (t.file_name().unwrap().to_string_lossy().into_owned(), nice)
                })
                .collect()
        }
        let dir = std::env::temp_dir().join(format!("runlake-nice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runs.jsonl");
        // Many more blocks than the queues hold, so every producer is alive after one page.
        let line = format!("{{\"id\":\"r\",\"name\":\"{}\"}}\n", "n".repeat(200));
        std::fs::write(&path, line.repeat(BLOCK_BYTES * 16 / line.len())).unwrap();
        let before = nice_values();
        let files = StreamedFiles::open(&path).unwrap();
        let mut pages = files.pages();
        let first = futures::executor::block_on(pages.next()).unwrap().unwrap();
        assert!(!first.runs.is_empty());
        let after = nice_values();
        let lowered: Vec<_> = after
            .iter()
            .filter(|(tid, _)| !before.iter().any(|(t, _)| t == tid))
            .filter(|(_, nice)| *nice == super::super::priority::PRODUCER_NICE)
            .collect();
        assert_eq!(lowered.len(), 1 + PARSERS, "{before:?} -> {after:?}");
        let me = format!("{}", unsafe { libc::syscall(libc::SYS_gettid) });
        assert!(after.iter().any(|(tid, nice)| *tid == me && *nice == 0));
        drop(pages);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
