//! Loads: a pipeline run over one or more windows, each committed into the sinks' lakes.
//!
//! Which windows: `--window` loads exactly one; `--since/--until` backfill a range; with
//! neither, an incremental run continues from the end of the last committed window (or the
//! query stages' `since` the first time) up to now minus `[load] lag`. Ranges are cut into
//! `[load] window`-sized windows on a UTC grid, each committed on its own, so a crash loses
//! at most the window in progress. State is the set of window manifests in the lake itself,
//! so any machine that can read the lake can continue a load.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use indexmap::IndexMap;
use serde::Serialize;

use crate::config::{Pipeline, Stage};
use crate::langsmith::StatsSnapshot;
use crate::langsmith::{FeedbackQuery, RunsQuery};
use crate::model::Flow;
pub use crate::model::Window;
use crate::model::durations::TimeSpec;
use crate::model::{Disposition, RejectedRuns, TooManyRejected, cut_windows};
use crate::sink::commit::{CommitInfo, Manifest, committed_columns};
use crate::sink::partition::escape_value;
use crate::sink::table::{ManifestTable, TableCommit};
use crate::sink::{Format, PartitionKey};
use crate::source::Source;
use crate::stages::SourceContext;
use crate::stages::{StageReport, TraceScope};
use crate::topology::{RunOptions, SinkTarget, plan_queries, run_pipeline, source_context};
use futures::StreamExt;

/// Command-line choices for a load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// "Now", for relative times and the incremental end; the wall clock unless pinned.
    pub now: Option<DateTime<Utc>>,
    pub project: Option<String>,
    pub since: Option<TimeSpec>,
    pub until: Option<TimeSpec>,
    /// Load exactly this window (for schedulers that shard by window).
    pub window: Option<Window>,
    /// Output root for every sink (`-`: Arrow IPC stream on stdout).
    pub output: Option<String>,
    /// Reload windows of a backfill that are already committed.
    pub refresh: bool,
    /// Live counters for a progress display.
    pub progress: crate::stages::Progress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Incremental,
    Backfill,
    Window,
    Stdout,
}

#[derive(Debug, Clone, Serialize)]
pub struct SinkWindowReport {
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
    /// Files removed because this window replaced them.
    pub removed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    pub window: Window,
    /// `loaded`, or `skipped` (already committed).
    pub status: &'static str,
    /// Runs that could not be read, set aside (see `rejected_files`).
    pub rejected: usize,
    /// Where each sink keeps them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_files: Vec<String>,
    pub stages: Vec<StageReport>,
    pub sinks: IndexMap<String, SinkWindowReport>,
    pub wall_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub pipeline: String,
    pub mode: Mode,
    /// Where each sink's output went.
    pub outputs: IndexMap<String, String>,
    pub windows: Vec<WindowReport>,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// Runs that could not be read, set aside, over all windows.
    pub rejected: usize,
    /// Interrupted publishes found and rolled back before this load.
    pub rolled_back: usize,
    /// Every stage's items in and out, summed over the windows.
    pub stages: Vec<StageReport>,
    pub requests: StatsSnapshot,
    /// Requests per second over the whole load.
    pub request_rate: f64,
    /// The client's request limits per second, by lane, to compare with `request_rate`
    /// (`null`: not paced, as on endpoints without published limits until they answer 429).
    pub rate_limits: IndexMap<String, Option<f64>>,
    pub wall_seconds: f64,
}

impl LoadSummary {
    fn new(
        p: &Pipeline,
        mode: Mode,
        source: &Source,
        opts: &LoadOptions,
        started: Instant,
    ) -> Self {
        let requests = source.stats();
        let wall_seconds = started.elapsed().as_secs_f64();
        let (lanes, window) = source.lane_limits();
        LoadSummary {
            pipeline: p.name.clone(),
            mode,
            outputs: IndexMap::new(),
            windows: vec![],
            rows: 0,
            files: 0,
            bytes: 0,
            rejected: 0,
            rolled_back: 0,
            stages: opts
                .progress
                .stages()
                .into_iter()
                .map(|s| StageReport {
                    id: s.id,
                    kind: s.kind.to_string(),
                    items_in: s.items_in,
                    items_out: s.items_out,
                })
                .collect(),
            request_rate: requests.requests as f64 / wall_seconds.max(1e-6),
            requests,
            rate_limits: lanes
                .into_iter()
                .map(|(lane, limit)| {
                    let per_s = limit.map(|n| f64::from(n) / window.as_secs_f64());
                    (lane.name().to_string(), per_s)
                })
                .collect(),
            wall_seconds,
        }
    }
}

/// `[load] resync` unless set: a day re-read on every incremental run catches runs that were
/// still pending (traces mostly finish within minutes, long agents within hours) and the
/// feedback users give the same day, for one extra query window per run; feedback edited
/// later is found through the feedback list instead.
const DEFAULT_RESYNC: TimeDelta = TimeDelta::days(1);

/// One sink's output.
struct Target {
    id: String,
    table: Box<dyn TableCommit>,
    /// Base name of its files.
    file_name: String,
    partition_by: Vec<PartitionKey>,
    disposition: Disposition,
    manifests: Vec<Manifest>,
}

/// The output root of each sink: `--output` (a sub-directory per sink when there are
/// several), else the sink's `path`.
fn roots(p: &Pipeline, output: Option<&str>) -> anyhow::Result<IndexMap<String, String>> {
    p.sinks
        .iter()
        .map(|(id, sink)| {
            let root = match (output, &sink.path) {
                (Some(o), _) if p.sinks.len() == 1 => o.to_string(),
                (Some(o), _) => format!("{}/{id}", o.trim_end_matches('/')),
                (None, Some(path)) => path.clone(),
                (None, None) => {
                    crate::usage_bail!(
                        "sink {id:?} has no path: set path in [sinks.{id}] or pass --output"
                    )
                }
            };
            Ok((id.clone(), root))
        })
        .collect()
}

/// An optional start and end.
type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The query stages' own bounds: the earliest `since` and the latest `until`.
fn configured_range(p: &Pipeline, now: DateTime<Utc>) -> anyhow::Result<Range> {
    let (mut since, mut until): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut open_start = false;
    for stage in p.stages.values() {
        let Some((start, end)) = stage.bounds(now) else {
            continue;
        };
        match start {
            Some(t) => since = Some(since.map_or(t, |x| x.min(t))),
            None => open_start = true,
        }
        if let Some(t) = end {
            until = Some(until.map_or(t, |x| x.max(t)));
        }
    }
    Ok((if open_start { None } else { since }, until))
}

/// `--since`/`--until`, else the query stages' own bounds, else from the beginning to
/// `default_end`.
fn requested_window(
    p: &Pipeline,
    opts: &LoadOptions,
    now: DateTime<Utc>,
    default_end: DateTime<Utc>,
) -> anyhow::Result<Window> {
    let (config_since, config_until) = configured_range(p, now)?;
    Ok(Window {
        start: match opts.since {
            Some(s) => Some(s.at(now)),
            None => config_since,
        },
        end: match opts.until {
            Some(u) => u.at(now),
            None => config_until.unwrap_or(default_end),
        },
    })
}

/// Runs a load to completion: opens every sink's table, decides the windows, then loads and
/// commits them one by one.
pub async fn run(p: &Pipeline, source: Source, opts: &LoadOptions) -> anyhow::Result<LoadSummary> {
    let started = Instant::now();
    let started_at = Utc::now();
    let now = opts.now.unwrap_or(started_at);
    if opts.output.as_deref() == Some("-") {
        return run_to_stdout(p, source, opts, now, started).await;
    }
    let mode = match (&opts.window, &opts.since, &opts.until) {
        (Some(_), _, _) => Mode::Window,
        (None, None, None) => Mode::Incremental,
        _ => Mode::Backfill,
    };
    let mut targets = open_targets(p, opts.output.as_deref())?;
    let mut rolled_back = 0;
    for t in &mut targets {
        // Fail before any request when the output cannot be written at all.
        t.table.prepare().await?;
        if mode != Mode::Window {
            // One incremental or backfill runner per pipeline and output: whatever a killed
            // run left is stale. (Parallel shards use --window and recover only their own.)
            rolled_back += t.table.recover(None).await?;
        }
        t.manifests = t.table.committed().await?;
    }
    let (mut windows, last_committed) = plan_windows(p, opts, mode, &targets, now)?;
    if mode == Mode::Incremental && last_committed.is_some() {
        // Feedback edited since the last load, on runs older than the resync range: their
        // committed windows are loaded again first.
        let resync_from = windows.first().and_then(|w| w.start).unwrap_or(now);
        let changed =
            feedback_changed_windows(p, &source, opts, now, &targets, resync_from).await?;
        if !changed.is_empty() {
            tracing::info!(
                windows = changed.len(),
                "feedback changed in earlier windows"
            );
        }
        windows.splice(0..0, changed);
    }
    // A backfill fills gaps: it loads what no committed window covers and leaves the rest
    // (`--refresh` reloads all of it).
    let windows: Vec<(Window, bool)> = if mode == Mode::Backfill && !opts.refresh {
        let covered = covered_by_every_sink(&targets);
        windows
            .into_iter()
            .flat_map(|w| match w.minus(&covered) {
                gaps if gaps.is_empty() => vec![(w, false)],
                gaps => gaps.into_iter().map(|g| (g, true)).collect(),
            })
            .collect()
    } else {
        windows.into_iter().map(|w| (w, true)).collect()
    };
    let margin = p.load.trace_margin.map_or(TimeDelta::hours(1), |s| s.0);
    let mut reports = vec![];
    opts.progress.set_windows(windows.len());
    for (index, (w, load)) in windows.into_iter().enumerate() {
        // The first window of a first incremental load has no earlier window to share
        // traces with: it keeps every trace of its child runs, as a one-off export would.
        let first_ever = mode == Mode::Incremental && index == 0 && last_committed.is_none();
        let scope = TraceScope {
            start: if first_ever { None } else { w.start },
            end: w.end,
            query_until: (w.end + margin).min(now),
        };
        if !load {
            tracing::info!(window = %w, "already loaded; skipped (pass --refresh to reload)");
            opts.progress.window_done();
            reports.push(WindowReport {
                window: w,
                status: "skipped",
                rejected: 0,
                rejected_files: vec![],
                stages: vec![],
                sinks: IndexMap::new(),
                wall_seconds: 0.0,
            });
            continue;
        }
        let superseded = supersedes(&targets, &w)?;
        if mode == Mode::Window {
            for t in &targets {
                rolled_back += t.table.recover(Some(&w)).await?;
            }
        }
        let window = Loading {
            started_at,
            p,
            source: &source,
            opts,
            now,
            window: w,
            scope,
        };
        reports.push(window.load(&mut targets, superseded).await?);
    }
    let loaded = reports.iter().flat_map(|r| r.sinks.values());
    let (rows, files, bytes) = loaded.fold((0, 0, 0), |(r, f, b), s| {
        (r + s.rows, f + s.files, b + s.bytes)
    });
    Ok(LoadSummary {
        outputs: targets
            .iter()
            .map(|t| (t.id.clone(), t.table.describe()))
            .collect(),
        rejected: reports.iter().map(|r| r.rejected).sum(),
        windows: reports,
        rows,
        files,
        bytes,
        rolled_back,
        ..LoadSummary::new(p, mode, &source, opts, started)
    })
}

/// Every sink's table, opened at its output root.
fn open_targets(p: &Pipeline, output: Option<&str>) -> anyhow::Result<Vec<Target>> {
    let mut targets = vec![];
    for (id, root) in roots(p, output)? {
        let sink = &p.sinks[&id];
        targets.push(Target {
            table: Box::new(ManifestTable::open(&root, &p.name, &id)?),
            file_name: escape_value(Some(&id)),
            partition_by: sink
                .partition_by
                .clone()
                .unwrap_or_else(|| vec!["date".into()])
                .iter()
                .map(|k| PartitionKey::parse(k))
                .collect(),
            disposition: sink.disposition.unwrap_or_default(),
            manifests: vec![],
            id,
        });
    }
    Ok(targets)
}

/// The windows this run loads, and (incremental) the end of what every sink has committed.
fn plan_windows(
    p: &Pipeline,
    opts: &LoadOptions,
    mode: Mode,
    targets: &[Target],
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<Window>, Option<DateTime<Utc>>)> {
    let size = p.load.window.map(|s| s.0);
    let lag = p.load.lag.map_or(TimeDelta::zero(), |s| s.0);
    if let Some(w) = opts.window {
        return Ok((vec![w], None));
    }
    if mode == Mode::Backfill {
        let mut w = requested_window(p, opts, now, now - lag)?;
        if opts.refresh {
            // Reloading a range reloads the committed windows it touches whole, so the new
            // windows replace them instead of half-overlapping them.
            for m in targets.iter().flat_map(|t| &t.manifests) {
                if m.window.overlaps(&w) {
                    w.start = match (w.start, m.window.start) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        _ => None,
                    };
                    w.end = w.end.max(m.window.end);
                }
            }
        }
        return Ok((cut_windows(w.start, w.end, size), None));
    }
    // Continue after the last committed window every sink has.
    let (config_since, config_until) = configured_range(p, now)?;
    let last_committed = targets
        .iter()
        .map(|t| t.manifests.iter().map(|m| m.window.end).max())
        .collect::<Option<Vec<_>>>()
        .and_then(|ends| ends.into_iter().min());
    let resync = p.load.resync.map_or(DEFAULT_RESYNC, |s| s.0);
    let start = match last_committed {
        Some(end) => Some(resync_start(targets, end, resync)),
        None => config_since,
    };
    let end = config_until.unwrap_or(now).min(now - lag);
    Ok((
        incremental_windows(start, end, size, resync),
        last_committed,
    ))
}

/// An incremental run's windows. With a `[load] window` size, that grid. Without one, the
/// range is one window, except that its last `resync` is cut on a `resync`-sized grid: the
/// next run re-reads those small windows, never a month-long first load again.
fn incremental_windows(
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    size: Option<TimeDelta>,
    resync: TimeDelta,
) -> Vec<Window> {
    if size.is_some() || resync <= TimeDelta::zero() {
        return cut_windows(start, end, size);
    }
    let step = resync.num_microseconds().unwrap_or(i64::MAX);
    let trailing = (end - resync).timestamp_micros().div_euclid(step) * step;
    let trailing = DateTime::from_timestamp_micros(trailing).unwrap_or(end);
    match start {
        Some(s) if s >= trailing => cut_windows(start, end, Some(resync)),
        _ => {
            let mut windows = cut_windows(start, trailing, None);
            windows.extend(cut_windows(Some(trailing), end, Some(resync)));
            windows
        }
    }
}

/// Where an incremental run starts re-reading: `resync` before the committed `end`,
/// widened to the start of the committed window it falls in, so that window is replaced
/// whole. A window open at its start (everything before a time) is not re-read: it could be
/// any size.
fn resync_start(targets: &[Target], end: DateTime<Utc>, resync: TimeDelta) -> DateTime<Utc> {
    let from = end - resync;
    let touched = || {
        targets
            .iter()
            .flat_map(|t| &t.manifests)
            .filter(move |m| m.window.end > from && m.window.end <= end)
    };
    let widened = touched()
        .filter_map(|m| m.window.start)
        .fold(from, DateTime::min);
    let open_until = touched()
        .filter(|m| m.window.start.is_none())
        .map(|m| m.window.end)
        .max();
    widened.max(open_until.unwrap_or(widened)).min(end)
}

/// What decides which window a feedback entry's change belongs in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FeedbackTime {
    /// The entry's own `created_at` (a table of feedback entries).
    Created,
    /// The start of the trace of the run it is on (tables of runs that carry feedback).
    TraceStart,
}

/// Whether (and how) the pipeline's rows depend on feedback: a stage lists feedback entries,
/// or a query's filters, its select, a stage's reads or a sink's standard run columns
/// (`feedback_stats`) take it in.
fn feedback_time(p: &Pipeline, cx: &SourceContext) -> anyhow::Result<Option<FeedbackTime>> {
    const STATS: &str = "feedback_stats";
    if p.stages
        .values()
        .any(|s| matches!(s, Stage::QueryFeedback(_)))
    {
        return Ok(Some(FeedbackTime::Created));
    }
    let filtered = p
        .stages
        .values()
        .any(|s| matches!(s, Stage::QueryRuns(q) if q.filters_on_feedback));
    let selected = plan_queries(p, cx)?
        .values()
        .any(|q| q.query.select.iter().any(|f| f == STATS));
    let read = p.stages.values().any(|s| s.reads().contains(&STATS));
    let standard_columns = p.sinks.values().any(|k| {
        k.inputs
            .iter()
            .any(|i| p.stages.get(i).is_some_and(|s| s.produces() == Flow::Runs))
    });
    Ok((filtered || selected || read || standard_columns).then_some(FeedbackTime::TraceStart))
}

/// The committed windows before `before` that hold runs (or feedback entries) whose feedback
/// changed since the last load started: the feedback list, filtered on `modified_at`.
async fn feedback_changed_windows(
    p: &Pipeline,
    source: &Source,
    opts: &LoadOptions,
    now: DateTime<Utc>,
    targets: &[Target],
    before: DateTime<Utc>,
) -> anyhow::Result<Vec<Window>> {
    let run = RunOptions {
        now: Some(now),
        project: opts.project.clone(),
        ..RunOptions::default()
    };
    let cx = source_context(p, &run);
    let Some(time) = feedback_time(p, &cx)? else {
        return Ok(vec![]);
    };
    // Entries modified while the last load ran may have missed it: from its start.
    let Some(since) = targets
        .iter()
        .flat_map(|t| &t.manifests)
        .filter_map(|m| m.run_started_at)
        .max()
    else {
        return Ok(vec![]);
    };
    let earlier: Vec<Window> = targets
        .iter()
        .flat_map(|t| &t.manifests)
        .map(|m| m.window)
        .filter(|w| w.end <= before)
        .collect();
    if earlier.is_empty() {
        return Ok(vec![]);
    }
    let mut projects = vec![];
    for (id, stage) in &p.stages {
        for name in stage.projects(id, &cx)? {
            let project = source.resolve_project(&name).await?;
            if !projects.contains(&project) {
                projects.push(project);
            }
        }
    }
    // Feedback is given after its run starts, so none created before the table's earliest
    // window can be on its runs (or in its windows): the list stops there.
    let earliest = earlier.iter().map(|w| w.start).min().flatten();
    let mut pages = source.feedback(FeedbackQuery {
        sessions: projects.clone(),
        min_created_at: earliest,
        min_modified_at: Some(since),
        ..FeedbackQuery::default()
    });
    let mut changed = vec![];
    while let Some(page) = pages.next().await {
        changed.extend(page.context("cannot list the feedback changed since the last load")?);
    }
    let times: Vec<i64> = match time {
        FeedbackTime::Created => changed.iter().map(|f| f.created_at.micros()).collect(),
        FeedbackTime::TraceStart => {
            let mut ids: Vec<String> = changed.into_iter().filter_map(|f| f.run_id).collect();
            ids.sort();
            ids.dedup();
            let base = RunsQuery {
                projects,
                select: ["start_time", "trace_id", "dotted_order", "parent_run_id"]
                    .map(String::from)
                    .to_vec(),
                ..RunsQuery::default()
            };
            let mut times = vec![];
            let mut pages = source.fetch_by_ids(&base, ids);
            while let Some(page) = pages.next().await {
                let page = page.context("cannot read the runs whose feedback changed")?;
                times.extend(page.runs.iter().filter_map(|r| {
                    r.trace_start_micros()
                        .or_else(|| r.start_time.value().map(|t| t.micros()))
                }));
            }
            times
        }
    };
    let mut windows: Vec<Window> = earlier
        .into_iter()
        .filter(|w| {
            times.iter().any(|&t| {
                w.start.is_none_or(|s| t >= s.timestamp_micros()) && t < w.end.timestamp_micros()
            })
        })
        .collect();
    windows.sort_by_key(|w| (w.start, w.end));
    windows.dedup();
    Ok(windows)
}

/// The windows every sink has committed (a range counts as loaded only when all have it).
fn covered_by_every_sink(targets: &[Target]) -> Vec<Window> {
    let Some((first, rest)) = targets.split_first() else {
        return vec![];
    };
    first
        .manifests
        .iter()
        .map(|m| m.window)
        .filter(|w| {
            rest.iter()
                .all(|t| t.manifests.iter().any(|m| m.window == *w))
        })
        .collect()
}

/// Per sink, the committed windows window `w` replaces: those inside it (the same window
/// is replaced by its own commit). A window overlapping a committed one partly is refused.
fn supersedes(targets: &[Target], w: &Window) -> anyhow::Result<HashMap<String, Vec<Manifest>>> {
    let mut out: HashMap<String, Vec<Manifest>> = HashMap::new();
    for t in targets {
        let contained = out.entry(t.id.clone()).or_default();
        for m in &t.manifests {
            if m.window == *w {
                continue;
            } else if w.contains(&m.window) {
                contained.push(m.clone());
            } else if m.window.overlaps(w) {
                crate::usage_bail!(
                    "window {w} overlaps the window {} already loaded into {} (sink {:?}); \
                     load exactly that window again (--window {}) or a range that contains it",
                    m.window,
                    t.table.describe(),
                    t.id,
                    window_arg(&m.window),
                );
            }
        }
    }
    Ok(out)
}

/// One window being loaded: staged per sink, run through the pipeline, then committed.
struct Loading<'a> {
    /// The wall-clock start of this load (not the pinned "now").
    started_at: DateTime<Utc>,
    p: &'a Pipeline,
    source: &'a Source,
    opts: &'a LoadOptions,
    now: DateTime<Utc>,
    window: Window,
    scope: TraceScope,
}

impl Loading<'_> {
    async fn load(
        &self,
        targets: &mut [Target],
        mut superseded: HashMap<String, Vec<Manifest>>,
    ) -> anyhow::Result<WindowReport> {
        let (p, w) = (self.p, self.window);
        let key = w.key();
        let started = Instant::now();
        let mut sinks = HashMap::new();
        let mut staged = HashMap::new();
        for t in targets.iter() {
            let stage = t.table.stage(&w).await?;
            sinks.insert(
                t.id.clone(),
                SinkTarget {
                    dir: stage.dir.clone(),
                    name: format!("{}-{key}", t.file_name),
                    partition_by: t.partition_by.clone(),
                    format: None,
                    // Windows this one replaces do not pin the columns it writes.
                    committed: committed_columns(
                        &t.manifests
                            .iter()
                            .filter(|m| {
                                m.window != w
                                    && !superseded
                                        .get(&t.id)
                                        .is_some_and(|old| old.iter().any(|o| o.window == m.window))
                            })
                            .cloned()
                            .collect::<Vec<_>>(),
                    ),
                },
            );
            staged.insert(t.id.clone(), stage);
        }
        tracing::info!(window = %w, "loading");
        let run = RunOptions {
            now: Some(self.now),
            project: self.opts.project.clone(),
            since: w.start.map(TimeSpec::At),
            // Windows are half-open; LangSmith's end bound is inclusive (to the µs).
            until: Some(TimeSpec::At(w.end - TimeDelta::microseconds(1))),
            sinks,
            window: Some(w),
            progress: self.opts.progress.clone(),
            trace_scope: Some(self.scope),
            rejected: rejected_runs(p),
        };
        let ran = run_pipeline(p, self.source.clone(), &run).await;
        // What could not be read is kept whether or not the window goes on to publish.
        let rejected = run.rejected.take();
        let mut rejected_files = vec![];
        for t in targets.iter() {
            let at = t.table.set_aside(&w, &rejected).await?;
            if !rejected.is_empty() {
                rejected_files.push(at);
            }
        }
        let summary = ran.map_err(|e| match rejected_files.first() {
            Some(at) if e.chain().any(|c| c.is::<TooManyRejected>()) => e.context(format!(
                "window {w} not published; the runs that could not be read are in {at}"
            )),
            _ => e,
        })?;
        let mut sink_reports = IndexMap::new();
        for t in targets.iter_mut() {
            let (Some(report), Some(stage)) = (summary.sinks.get(&t.id), staged.get(&t.id)) else {
                anyhow::bail!("sink {:?} reported nothing for window {w}", t.id);
            };
            let info = CommitInfo {
                run_started_at: self.started_at,
                window: w,
                disposition: t.disposition,
                pipeline_name: &p.name,
                pipeline_hash: &p.hash,
                sink_id: &t.id,
            };
            let old = superseded.remove(&t.id).unwrap_or_default();
            let manifest = t
                .table
                .commit(&info, report, stage, &old)
                .await
                .with_context(|| {
                    format!("cannot publish window {w} into {}", t.table.describe())
                })?;
            t.manifests
                .retain(|m| m.window != w && !old.iter().any(|o| o.window == m.window));
            sink_reports.insert(
                t.id.clone(),
                SinkWindowReport {
                    files: manifest.files.len(),
                    rows: manifest.rows,
                    bytes: manifest.bytes,
                    removed: manifest.removed.len(),
                },
            );
            t.manifests.push(manifest);
        }
        self.opts.progress.window_done();
        Ok(WindowReport {
            window: w,
            status: "loaded",
            rejected: rejected.len(),
            rejected_files,
            stages: summary.stages,
            sinks: sink_reports,
            wall_seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Where one pipeline run sets aside the runs it cannot read, failing past
/// `[load] max_rejected` (default 0).
fn rejected_runs(p: &Pipeline) -> Arc<RejectedRuns> {
    Arc::new(RejectedRuns::with_limit(Some(
        p.load.max_rejected.unwrap_or(0),
    )))
}

/// How to name a window on the command line.
fn window_arg(w: &Window) -> String {
    match w.start {
        Some(s) => format!("{}/{}", s.to_rfc3339(), w.end.to_rfc3339()),
        None => format!("(beginning)/{}", w.end.to_rfc3339()),
    }
}

/// `--output -`: one window, no partitions, no state; the rows as one Arrow IPC stream.
async fn run_to_stdout(
    p: &Pipeline,
    source: Source,
    opts: &LoadOptions,
    now: DateTime<Utc>,
    started: Instant,
) -> anyhow::Result<LoadSummary> {
    if p.sinks.len() != 1 {
        crate::usage_bail!(
            "--output - writes one Arrow stream, but pipeline {:?} has {} sinks",
            p.name,
            p.sinks.len()
        );
    }
    let id = p.sinks.keys().next().expect("one sink").clone();
    let temp = tempfile::Builder::new()
        .prefix("runlake-stdout-")
        .tempdir()
        .context("cannot create a local staging directory")?;
    let w = match opts.window {
        Some(w) => w,
        None => requested_window(p, opts, now, now)?,
    };
    let target = SinkTarget {
        dir: temp.path().to_path_buf(),
        name: id.clone(),
        partition_by: vec![],
        format: Some(Format::ArrowIpc),
        committed: vec![],
    };
    let run = RunOptions {
        now: Some(now),
        project: opts.project.clone(),
        since: w.start.map(TimeSpec::At),
        until: Some(TimeSpec::At(w.end)),
        sinks: HashMap::from([(id.clone(), target)]),
        window: Some(w),
        progress: opts.progress.clone(),
        trace_scope: None,
        rejected: rejected_runs(p),
    };
    opts.progress.set_windows(1);
    // No table to keep unreadable runs beside: they are logged as they are set aside.
    let summary = run_pipeline(p, source.clone(), &run).await?;
    let rejected = run.rejected.count();
    opts.progress.window_done();
    let report = &summary.sinks[&id];
    // Arrow wraps I/O errors with their own text; report the I/O error once.
    let io = |e: crate::arrow::error::ArrowError| match e {
        crate::arrow::error::ArrowError::IoError(_, io) => anyhow::Error::new(io),
        other => anyhow::Error::new(other),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut writer: Option<crate::arrow::ipc::writer::StreamWriter<_>> = None;
    for f in &report.files {
        let file = std::fs::File::open(temp.path().join(&f.path))?;
        let reader =
            crate::arrow::ipc::reader::FileReader::try_new(std::io::BufReader::new(file), None)?;
        if writer.is_none() {
            writer = Some(
                crate::arrow::ipc::writer::StreamWriter::try_new(&mut out, &reader.schema())
                    .map_err(io)
                    .context("cannot write the Arrow stream to stdout")?,
            );
        }
        for batch in reader {
            writer
                .as_mut()
                .expect("opened")
                .write(&batch?)
                .map_err(io)
                .context("cannot write the Arrow stream to stdout")?;
        }
    }
    if let Some(mut w) = writer {
        w.finish()
            .map_err(io)
            .context("cannot write the Arrow stream to stdout")?;
    }
    out.flush().context("cannot write to stdout")?;
    Ok(LoadSummary {
        outputs: IndexMap::from([(id.clone(), "-".to_string())]),
        rejected,
        windows: vec![WindowReport {
            window: w,
            status: "loaded",
            rejected,
            rejected_files: vec![],
            stages: summary.stages,
            sinks: IndexMap::from([(
                id,
                SinkWindowReport {
                    files: 0,
                    rows: report.rows,
                    bytes: report.bytes,
                    removed: 0,
                },
            )]),
            wall_seconds: started.elapsed().as_secs_f64(),
        }],
        rows: report.rows,
        files: 0,
        bytes: report.bytes,
        ..LoadSummary::new(p, Mode::Stdout, &source, opts, started)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn shown(windows: &[Window]) -> Vec<String> {
        windows.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn incremental_windows_cut_the_trailing_resync_on_its_grid() {
        let day = TimeDelta::days(1);
        // A first load: one bulk window, then the last day on the day grid.
        let first = incremental_windows(
            Some(at("2026-10-01T00:00:00Z")),
            at("2026-10-31T06:00:00Z"),
            None,
            day,
        );
        let expected = [
            Window {
                start: Some(at("2026-10-01T00:00:00Z")),
                end: at("2026-10-30T00:00:00Z"),
            },
            Window {
                start: Some(at("2026-10-30T00:00:00Z")),
                end: at("2026-10-31T00:00:00Z"),
            },
            Window {
                start: Some(at("2026-10-31T00:00:00Z")),
                end: at("2026-10-31T06:00:00Z"),
            },
        ];
        assert_eq!(shown(&first), shown(&expected));
        // A later run inside the trailing range: only the grid.
        let later = incremental_windows(
            Some(at("2026-10-30T00:00:00Z")),
            at("2026-10-31T12:00:00Z"),
            None,
            day,
        );
        assert_eq!(
            shown(&later),
            shown(&expected[1..])
                .iter()
                .map(|s| s.replace("06:00", "12:00"))
                .collect::<Vec<_>>()
        );
        // Resync off, or a configured window size: as before.
        let off = incremental_windows(None, at("2026-10-31T06:00:00Z"), None, TimeDelta::zero());
        assert_eq!(off.len(), 1);
        let sized = incremental_windows(
            Some(at("2026-10-29T00:00:00Z")),
            at("2026-10-31T00:00:00Z"),
            Some(day),
            day,
        );
        assert_eq!(sized.len(), 2);
    }
}
