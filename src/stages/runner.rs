use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use indexmap::IndexMap;
use tokio::sync::mpsc;

use super::group::{Aggregate, Group};
use super::rows::RowSpec;
use super::{Msg, Record};
use crate::config::{Pipeline, SinkConfig, StageConfig, window};
use crate::filter::{Field, RunFacts};
use crate::flatten::TableBuilder;
use crate::langsmith::{Client, RunsQuery, StatsSnapshot};
use crate::sink::{Format, PartitionKey, RowBatch, Sink, SinkOptions, SinkReport};

/// Command-line overrides for one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// "Now", for relative windows (`since = "30d"`); the wall clock unless pinned.
    pub now: Option<DateTime<Utc>>,
    pub project: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Where each sink writes its files (a staging directory).
    pub sinks: HashMap<String, SinkTarget>,
    /// The load window, stamped into file metadata.
    pub window: Option<crate::load::Window>,
    /// Live counters for the progress display.
    pub progress: super::Progress,
    /// For windowed loads: which traces this window owns.
    pub trace_scope: Option<TraceScope>,
}

/// A window owns the traces whose root started in it, so that a trace spanning a window
/// boundary becomes one row, not one per window. Query stages that feed a `group_by_trace`
/// or `fetch_roots` fetch child runs up to `query_until` (the window end plus a margin for
/// long traces) and keep the runs of owned traces only.
#[derive(Debug, Clone, Copy)]
pub struct TraceScope {
    /// Traces started before this belong to an earlier window (`None`: no earlier window).
    pub start: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
    pub query_until: DateTime<Utc>,
}

impl TraceScope {
    fn owns(&self, run: &crate::model::Run) -> bool {
        let Some(t) = run
            .trace_start_micros()
            .or_else(|| run.start_time.value().map(|t| t.micros()))
        else {
            return true;
        };
        self.start.is_none_or(|s| t >= s.timestamp_micros()) && t < self.end.timestamp_micros()
    }
}

/// Whether `id`'s runs reach a `group_by_trace` or `fetch_roots`, directly or through filters.
fn feeds_trace_grouping(p: &Pipeline, id: &str) -> bool {
    p.stages.iter().any(|(cid, stage)| {
        stage.inputs().iter().any(|i| i == id)
            && match stage {
                StageConfig::GroupByTrace(_) | StageConfig::FetchRoots(_) => true,
                StageConfig::Filter(_) => feeds_trace_grouping(p, cid),
                _ => false,
            }
    })
}

/// A sink's local output for one run.
#[derive(Debug, Clone)]
pub struct SinkTarget {
    pub dir: PathBuf,
    /// Base name of its files.
    pub name: String,
    pub partition_by: Vec<PartitionKey>,
    /// Overrides the sink's own format (stdout is always Arrow IPC).
    pub format: Option<Format>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StageReport {
    pub id: String,
    pub kind: String,
    pub items_in: u64,
    pub items_out: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub pipeline: String,
    pub stages: Vec<StageReport>,
    pub sinks: IndexMap<String, SinkReport>,
    pub requests: StatsSnapshot,
    pub wall_seconds: f64,
}

const CHANNEL_DEPTH: usize = 8;
/// Root runs `fetch_roots` keeps in memory before spilling to a temporary file
/// (`RUNLAKE_ROOTS_MEMORY_MB` overrides).
fn roots_in_memory_bytes() -> usize {
    std::env::var("RUNLAKE_ROOTS_MEMORY_MB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(64)
        * 1024
        * 1024
}
/// Payload bytes per record batch leaving a flatten.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// The query a `query_runs` stage will issue, its project names and whether to split it.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub query: RunsQuery,
    pub projects: Vec<String>,
    pub split: bool,
}

/// The query each `query_runs` stage will issue (projects still as names).
pub fn plan_queries(
    p: &Pipeline,
    opts: &RunOptions,
) -> anyhow::Result<IndexMap<String, PlannedQuery>> {
    let now = opts.now.unwrap_or_else(Utc::now);
    let mut out = IndexMap::new();
    for (id, stage) in &p.stages {
        let StageConfig::QueryRuns(q) = stage else {
            continue;
        };
        let projects = match (&opts.project, &q.project, &p.source.project) {
            (Some(o), _, _) => vec![o.clone()],
            (None, Some(list), _) => list.names(),
            (None, None, Some(s)) => vec![s.clone()],
            (None, None, None) => match std::env::var("LANGSMITH_PROJECT")
                .ok()
                .filter(|s| !s.is_empty())
            {
                Some(env) => vec![env],
                None => bail!(
                    "stage {id:?}: no project: set project in [source], or LANGSMITH_PROJECT, or pass --project"
                ),
            },
        };
        let time = |s: &Option<String>| {
            s.as_deref()
                .map(|t| window::parse_time_or_duration(t, now).map_err(anyhow::Error::msg))
                .transpose()
        };
        let since = time(&opts.since.clone().or(q.since.clone()))?;
        let until = time(&opts.until.clone().or(q.until.clone()))?;
        let select = match &q.select {
            Some(s) => s.clone(),
            None => derive_select(p, id, &["trace_id", "start_time"]),
        };
        let query = RunsQuery {
            projects: vec![],
            run_type: q.run_type.clone(),
            is_root: q.is_root,
            error: q.error,
            start_time: since,
            end_time: until,
            ids: q.ids.clone(),
            trace: q.trace.clone(),
            parent_run: q.parent_run.clone(),
            filter: q.filter.clone(),
            trace_filter: q.trace_filter.clone(),
            tree_filter: q.tree_filter.clone(),
            select,
            order: q.order,
        };
        let split = q.split_windows.or(p.source.split_windows).unwrap_or(true);
        out.insert(
            id.clone(),
            PlannedQuery {
                query,
                projects,
                split,
            },
        );
    }
    Ok(out)
}

/// LangSmith fields a filter reads.
fn filter_selects(expr: &crate::filter::Expr) -> Vec<&'static str> {
    let mut out = vec![];
    if expr.uses_search() {
        out.extend(["name", "error", "inputs", "outputs", "tags", "extra"]);
    }
    for f in expr.fields() {
        out.extend(match f {
            Field::Latency => &["start_time", "end_time"][..],
            Field::MetadataKey | Field::MetadataValue | Field::Metadata => &["extra"],
            Field::InputKey | Field::InputValue | Field::Inputs => &["inputs"],
            Field::OutputKey | Field::OutputValue | Field::Outputs => &["outputs"],
            Field::FeedbackKey | Field::FeedbackScore => &["feedback_stats"],
            Field::IsRoot => &["parent_run_id"],
            Field::ExecutionOrder => &[],
            other => std::slice::from_ref(
                crate::langsmith::fields::V1_SELECTABLE
                    .iter()
                    .find(|s| **s == other.name())
                    .unwrap_or(&"id"),
            ),
        });
    }
    out
}

/// What the components fed (directly or through filters) by `id` read from its runs.
pub fn derive_select(p: &Pipeline, id: &str, base: &[&'static str]) -> Vec<String> {
    let mut fields: Vec<&'static str> = base.to_vec();
    let mut stack = vec![id.to_string()];
    let mut seen = HashSet::new();
    while let Some(producer) = stack.pop() {
        if !seen.insert(producer.clone()) {
            continue;
        }
        for (cid, stage) in &p.stages {
            if !stage.inputs().contains(&producer) {
                continue;
            }
            match stage {
                StageConfig::Filter(f) => {
                    fields.extend(filter_selects(
                        &crate::filter::parse(&f.filter).expect("validated"),
                    ));
                    stack.push(cid.clone());
                }
                StageConfig::GroupByTrace(g) => {
                    fields.push("trace_id");
                    for (name, a) in &g.aggregate {
                        if let Some(path) = Aggregate::compile(name, a).path() {
                            fields.extend(path.selects());
                        }
                    }
                }
                StageConfig::Flatten(f) => {
                    fields.extend(RowSpec::new(&f.columns, &f.expand).selects())
                }
                StageConfig::FetchRoots(_) => fields.push("trace_id"),
                StageConfig::QueryRuns(_) => {}
            }
        }
        if p.sinks.values().any(|s| s.inputs.contains(&producer)) {
            fields.extend(RowSpec::default_spec().selects());
        }
    }
    let mut out: Vec<String> = vec![];
    for f in fields {
        if !out.iter().any(|o| o == f) {
            out.push(f.to_string());
        }
    }
    out
}

type Outputs = Vec<mpsc::Sender<Msg>>;

/// A consumer went away: its own error is the one to report.
#[derive(Debug, thiserror::Error)]
#[error("a downstream component stopped")]
struct DownstreamStopped;

async fn send(outputs: &Outputs, msg: Msg) -> anyhow::Result<()> {
    for tx in outputs {
        tx.send(msg.clone()).await.map_err(|_| DownstreamStopped)?;
    }
    Ok(())
}

/// Runs a validated pipeline to completion.
pub async fn run_pipeline(
    p: &Pipeline,
    client: Client,
    opts: &RunOptions,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let queries = plan_queries(p, opts)?;
    // Resolve every project once, before any stage starts.
    let mut resolved: HashMap<String, String> = HashMap::new();
    for PlannedQuery { projects, .. } in queries.values() {
        for name in projects {
            if !resolved.contains_key(name) {
                let id = client.resolve_project(name).await?;
                resolved.insert(name.clone(), id);
            }
        }
    }

    // One inbox per consuming component; producers hold a sender per consumer.
    let mut inboxes: HashMap<String, mpsc::Receiver<Msg>> = HashMap::new();
    let mut senders: HashMap<String, mpsc::Sender<Msg>> = HashMap::new();
    let consumers: Vec<(&String, &[String])> = p
        .stages
        .iter()
        .filter(|(_, s)| !matches!(s, StageConfig::QueryRuns(_)))
        .map(|(id, s)| (id, s.inputs()))
        .chain(p.sinks.iter().map(|(id, s)| (id, s.inputs.as_slice())))
        .collect();
    for (id, _) in &consumers {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        senders.insert((*id).clone(), tx);
        inboxes.insert((*id).clone(), rx);
    }
    let outputs_of = |producer: &str| -> Outputs {
        consumers
            .iter()
            .filter(|(_, inputs)| inputs.iter().any(|i| i == producer))
            .map(|(id, _)| senders[*id].clone())
            .collect()
    };

    let mut tasks: tokio::task::JoinSet<anyhow::Result<StageReport>> = tokio::task::JoinSet::new();
    let mut sink_tasks: tokio::task::JoinSet<anyhow::Result<(String, SinkReport)>> =
        tokio::task::JoinSet::new();
    let now = opts.now.unwrap_or_else(Utc::now);
    let metadata = file_metadata(p, &queries, now, opts.window);
    for (id, stage) in &p.stages {
        let outputs = outputs_of(id);
        let report = |items_in, items_out| StageReport {
            id: id.clone(),
            kind: stage.kind().into(),
            items_in,
            items_out,
        };
        match stage {
            StageConfig::QueryRuns(_) => {
                let PlannedQuery {
                    query,
                    projects,
                    split,
                } = queries[id].clone();
                let mut query = RunsQuery {
                    projects: projects.iter().map(|n| resolved[n].clone()).collect(),
                    ..query
                };
                let scope = opts.trace_scope.filter(|_| feeds_trace_grouping(p, id));
                if let Some(scope) = scope {
                    query.end_time = Some(scope.query_until);
                    if !query.select.iter().any(|f| f == "dotted_order") {
                        query.select.push("dotted_order".into());
                    }
                }
                let client = client.clone();
                let report = report(0, 0);
                let counter = opts.progress.stage(id, stage.kind());
                tasks.spawn(async move {
                    let mut pages = client.query(query, split);
                    let mut n = 0u64;
                    while let Some(page) = pages.next().await {
                        let mut runs = page.with_context(|| format!("stage {:?}", report.id))?;
                        if let Some(scope) = &scope {
                            runs.retain(|r| scope.owns(r));
                        }
                        n += runs.len() as u64;
                        counter.add_out(runs.len());
                        let records: Vec<Record> = runs
                            .into_iter()
                            .map(|run| Record { run, group: None })
                            .collect();
                        send(&outputs, Msg::Runs(Arc::new(records))).await?;
                    }
                    Ok(StageReport {
                        items_out: n,
                        ..report
                    })
                });
            }
            StageConfig::Filter(f) => {
                let expr = crate::filter::parse(&f.filter).expect("validated");
                let mut inbox = inboxes.remove(id).expect("inbox");
                let report = report(0, 0);
                let counter = opts.progress.stage(id, stage.kind());
                tasks.spawn(async move {
                    let (mut n_in, mut n_out) = (0, 0);
                    while let Some(msg) = inbox.recv().await {
                        n_in += msg.len() as u64;
                        if let Msg::Runs(records) = msg {
                            let kept: Vec<Record> = records
                                .iter()
                                .filter(|r| expr.matches(&RunFacts::from_run(&r.run)))
                                .cloned()
                                .collect();
                            n_out += kept.len() as u64;
                            counter.add_in(records.len());
                            counter.add_out(kept.len());
                            send(&outputs, Msg::Runs(Arc::new(kept))).await?;
                        }
                    }
                    Ok(StageReport {
                        items_in: n_in,
                        items_out: n_out,
                        ..report
                    })
                });
            }
            StageConfig::GroupByTrace(g) => {
                let aggregates: IndexMap<String, Aggregate> = g
                    .aggregate
                    .iter()
                    .map(|(n, a)| (n.clone(), Aggregate::compile(n, a)))
                    .collect();
                let mut inbox = inboxes.remove(id).expect("inbox");
                let report = report(0, 0);
                let counter = opts.progress.stage(id, stage.kind());
                tasks.spawn(async move {
                    let mut groups: IndexMap<String, Group> = IndexMap::new();
                    let mut n_in = 0;
                    while let Some(msg) = inbox.recv().await {
                        n_in += msg.len() as u64;
                        let Msg::Runs(records) = msg else { continue };
                        let mut new = vec![];
                        for r in records.iter() {
                            let trace = r
                                .run
                                .trace_id
                                .value()
                                .cloned()
                                .unwrap_or_else(|| r.run.id.clone());
                            let group = groups.entry(trace.clone()).or_insert_with(|| {
                                new.push(trace.clone());
                                Group::new(trace)
                            });
                            group.add(&r.run, &aggregates);
                        }
                        counter.add_in(records.len());
                        counter.add_out(new.len());
                        if !new.is_empty() {
                            send(&outputs, Msg::TracesSeen(Arc::new(new))).await?;
                        }
                    }
                    let n_out = groups.len() as u64;
                    let finished: Vec<Arc<Group>> = groups
                        .into_values()
                        .map(|g| Arc::new(g.finish(&aggregates)))
                        .collect();
                    for chunk in finished.chunks(1000) {
                        send(&outputs, Msg::Groups(Arc::new(chunk.to_vec()))).await?;
                    }
                    Ok(StageReport {
                        items_in: n_in,
                        items_out: n_out,
                        ..report
                    })
                });
            }
            StageConfig::FetchRoots(f) => {
                let select = match &f.select {
                    Some(s) => s.clone(),
                    None => derive_select(p, id, &["trace_id"]),
                };
                let base = RunsQuery {
                    projects: resolved.values().cloned().collect(),
                    select,
                    ..Default::default()
                };
                let batch = f.batch_size.unwrap_or(100);
                let inbox = inboxes.remove(id).expect("inbox");
                let client = client.clone();
                let report = report(0, 0);
                let counter = opts.progress.stage(id, stage.kind());
                tasks.spawn(async move {
                    fetch_roots(client, base, batch, inbox, outputs, report, counter).await
                });
            }
            StageConfig::Flatten(f) => {
                let spec = RowSpec::new(&f.columns, &f.expand);
                let batch_rows = f.batch_rows.unwrap_or(8192).max(1);
                let mut inbox = inboxes.remove(id).expect("inbox");
                let report = report(0, 0);
                let counter = opts.progress.stage(id, stage.kind());
                tasks.spawn(async move {
                    let mut table = TableBuilder::with_columns(spec.column_kinds());
                    let mut starts: Vec<Option<i64>> = Vec::with_capacity(batch_rows);
                    let (mut n_in, mut n_out, mut bytes) = (0, 0, 0usize);
                    while let Some(msg) = inbox.recv().await {
                        n_in += msg.len() as u64;
                        let Msg::Runs(records) = msg else { continue };
                        counter.add_in(records.len());
                        counter.add_out(records.len());
                        for r in records.iter() {
                            let cells = spec.cells(r);
                            bytes += cells.iter().map(|(_, c)| c.approx_bytes()).sum::<usize>();
                            table.push_row(cells);
                            starts.push(r.run.start_time.value().map(|t| t.micros()));
                            // Bounded in rows and bytes: payload-heavy rows make big batches,
                            // and every queued batch is memory.
                            if table.rows() >= batch_rows || bytes >= BATCH_BYTES {
                                n_out += table.rows() as u64;
                                bytes = 0;
                                send(&outputs, rows_msg(&mut table, &mut starts)).await?;
                            }
                        }
                    }
                    if table.rows() > 0 {
                        n_out += table.rows() as u64;
                        send(&outputs, rows_msg(&mut table, &mut starts)).await?;
                    }
                    Ok(StageReport {
                        items_in: n_in,
                        items_out: n_out,
                        ..report
                    })
                });
            }
        }
    }
    for (id, sink) in &p.sinks {
        let inbox = inboxes.remove(id).expect("inbox");
        let options = sink_options(id, sink, opts, &metadata)?;
        let counter = opts.progress.stage(id, "sink");
        let id = id.clone();
        sink_tasks.spawn_blocking(move || run_sink(id, options, inbox, counter));
    }
    drop(senders);

    let mut stages = Vec::new();
    // A stage that failed because its consumer stopped is only a symptom: keep going until
    // the consumer's own error (often a sink's: unwritable output, full disk) is known.
    let mut symptom = None;
    while let Some(done) = tasks.join_next().await {
        match done.context("a stage panicked")? {
            Ok(report) => stages.push(report),
            Err(e) if e.downcast_ref::<DownstreamStopped>().is_some() => symptom = Some(e),
            Err(e) => {
                tasks.abort_all();
                sink_tasks.abort_all();
                return Err(e);
            }
        }
    }
    let mut sinks = IndexMap::new();
    while let Some(done) = sink_tasks.join_next().await {
        let (id, report) = done.context("a sink panicked")??;
        sinks.insert(id, report);
    }
    if let Some(e) = symptom {
        return Err(e);
    }
    stages.sort_by_key(|s| p.stages.get_index_of(&s.id));
    sinks.sort_by_key(|k, _| p.sinks.get_index_of(k));
    Ok(RunSummary {
        pipeline: p.name.clone(),
        stages,
        sinks,
        requests: client.stats(),
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Metadata stamped into output files: what was exported, never how (no endpoint or key).
fn file_metadata(
    p: &Pipeline,
    queries: &IndexMap<String, PlannedQuery>,
    now: DateTime<Utc>,
    window: Option<crate::load::Window>,
) -> Vec<(String, String)> {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    let described: serde_json::Map<String, serde_json::Value> = queries
        .iter()
        .map(
            |(
                id,
                PlannedQuery {
                    query: q, projects, ..
                },
            )| {
                (
                    id.clone(),
                    serde_json::json!({
                        "projects": projects, "run_type": q.run_type, "since": time(q.start_time),
                        "until": time(q.end_time.or(Some(now))), "filter": q.filter,
                        "trace_filter": q.trace_filter, "tree_filter": q.tree_filter,
                    }),
                )
            },
        )
        .collect();
    let mut out: Vec<(String, String)> = vec![
        ("runlake.pipeline".into(), p.name.clone()),
        ("runlake.pipeline_hash".into(), p.hash.clone()),
        ("runlake.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("runlake.exported_at".into(), now.to_rfc3339()),
        (
            "runlake.queries".into(),
            serde_json::Value::Object(described).to_string(),
        ),
    ];
    if let Some(w) = window {
        out.push(("runlake.window".into(), w.to_string()));
    }
    out
}

fn sink_options(
    id: &str,
    sink: &SinkConfig,
    opts: &RunOptions,
    metadata: &[(String, String)],
) -> anyhow::Result<SinkOptions> {
    let Some(target) = opts.sinks.get(id) else {
        bail!("sink {id:?} has no output directory")
    };
    Ok(SinkOptions {
        format: target.format.unwrap_or(if sink.kind == "arrow_ipc" {
            Format::ArrowIpc
        } else {
            Format::Parquet
        }),
        dir: target.dir.clone(),
        name: target.name.clone(),
        compression: sink.compression.clone().unwrap_or_else(|| "zstd".into()),
        compression_level: sink
            .compression_level
            .unwrap_or(crate::config::ZSTD_DEFAULT_LEVEL),
        row_group_rows: sink.row_group_rows.unwrap_or(100_000),
        max_rows_per_file: sink.max_rows_per_file.unwrap_or(1_000_000),
        max_file_bytes: sink.max_file_mb.unwrap_or(512).max(1) * 1024 * 1024,
        partition_by: target.partition_by.clone(),
        metadata: metadata.to_vec(),
    })
}

fn rows_msg(table: &mut TableBuilder, starts: &mut Vec<Option<i64>>) -> Msg {
    Msg::Rows(RowBatch {
        batch: table.finish(),
        start_times: Arc::new(std::mem::take(starts)),
    })
}

fn run_sink(
    id: String,
    options: SinkOptions,
    mut inbox: mpsc::Receiver<Msg>,
    counter: Arc<super::progress::StageCounter>,
) -> anyhow::Result<(String, SinkReport)> {
    let context = format!("sink {id:?}");
    write_sink(options, &mut inbox, &counter)
        .context(context)
        .map(|report| (id, report))
}

fn write_sink(
    options: SinkOptions,
    inbox: &mut mpsc::Receiver<Msg>,
    counter: &super::progress::StageCounter,
) -> anyhow::Result<SinkReport> {
    let mut sink = Sink::new(options)?;
    let spec = RowSpec::default_spec();
    while let Some(msg) = inbox.blocking_recv() {
        counter.add_in(msg.len());
        counter.add_out(msg.len());
        match msg {
            Msg::Rows(rows) => sink.write(&rows.batch, &rows.start_times)?,
            Msg::Runs(records) => {
                let mut table = TableBuilder::with_columns(spec.column_kinds());
                let mut starts = Vec::with_capacity(records.len());
                for r in records.iter() {
                    table.push_row(spec.cells(r));
                    starts.push(r.run.start_time.value().map(|t| t.micros()));
                }
                sink.write(&table.finish(), &starts)?;
            }
            Msg::TracesSeen(_) | Msg::Groups(_) => {}
        }
    }
    sink.finish()
}

/// `fetch_roots`: batches trace ids as they are first seen and fetches their roots while the
/// child query is still running. Fetched roots are spilled to an anonymous temporary file, so
/// memory holds only group state; at the end each root is joined with its trace's aggregates.
pub(super) async fn fetch_roots(
    client: Client,
    base: RunsQuery,
    batch: usize,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    report: StageReport,
    counter: Arc<super::progress::StageCounter>,
) -> anyhow::Result<StageReport> {
    use std::io::{BufRead, Seek, Write};
    let mut pending: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut groups: HashMap<String, Arc<Group>> = HashMap::new();
    let mut fetches: tokio::task::JoinSet<anyhow::Result<Vec<crate::model::Run>>> =
        tokio::task::JoinSet::new();
    let mut spill = std::io::BufWriter::new(
        tempfile::tempfile().context("cannot create a spill file for root runs")?,
    );
    let mut n_in = 0;
    let spawn =
        |ids: Vec<String>,
         fetches: &mut tokio::task::JoinSet<anyhow::Result<Vec<crate::model::Run>>>| {
            let client = client.clone();
            let base = base.clone();
            fetches.spawn(async move {
                let mut out = vec![];
                let mut pages = client.fetch_by_ids(&base, ids);
                while let Some(page) = pages.next().await {
                    out.extend(page?);
                }
                Ok(out)
            });
        };
    // Roots are held in memory up to a budget and spilled beyond it: most exports never
    // touch the disk, and the biggest stay bounded.
    let mut held: Vec<crate::model::Run> = Vec::new();
    let mut held_bytes = 0usize;
    let budget = roots_in_memory_bytes();
    let mut spilled = 0usize;
    let mut write_roots = |roots: Vec<crate::model::Run>| -> anyhow::Result<()> {
        counter.add_out(roots.len());
        for root in roots {
            if held_bytes < budget {
                held_bytes += root.approx_bytes();
                held.push(root);
            } else {
                serde_json::to_writer(&mut spill, &root)?;
                spill.write_all(b"\n")?;
                spilled += 1;
            }
        }
        Ok(())
    };
    let mut open = true;
    while open || !fetches.is_empty() {
        tokio::select! {
            msg = inbox.recv(), if open => {
                let Some(msg) = msg else {
                    open = false;
                    if !pending.is_empty() {
                        spawn(std::mem::take(&mut pending), &mut fetches);
                    }
                    continue;
                };
                // Items in: trace ids (or runs) to fetch roots for; final groups are not counted.
                if !matches!(msg, Msg::Groups(_)) {
                    n_in += msg.len() as u64;
                    counter.add_in(msg.len());
                }
                let ids: Vec<String> = match msg {
                    Msg::TracesSeen(ids) => ids.iter().cloned().collect(),
                    Msg::Runs(records) => records.iter().map(|r| r.run.trace_id.value().cloned().unwrap_or_else(|| r.run.id.clone())).collect(),
                    Msg::Groups(g) => {
                        groups.extend(g.iter().map(|g| (g.trace_id.clone(), g.clone())));
                        vec![]
                    }
                    Msg::Rows(_) => vec![],
                };
                for id in ids {
                    if seen.insert(id.clone()) {
                        pending.push(id);
                        if pending.len() >= batch {
                            spawn(std::mem::take(&mut pending), &mut fetches);
                        }
                    }
                }
            }
            Some(done) = fetches.join_next(), if !fetches.is_empty() => {
                write_roots(done.context("a root fetch panicked")??)?;
            }
        }
    }
    let mut file = spill.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    let spilled_roots = std::io::BufReader::new(file).lines().take(spilled).map(
        |line| -> anyhow::Result<crate::model::Run> { Ok(crate::model::Run::from_json(&line?)?) },
    );
    let mut out = Vec::with_capacity(1000);
    let mut n_out = 0;
    for run in held.into_iter().map(Ok).chain(spilled_roots) {
        let run = run?;
        // Roots were fetched by trace id, so a root's id is its trace's id.
        let group = groups.get(&run.id).cloned();
        out.push(Record { run, group });
        if out.len() == 1000 {
            n_out += out.len() as u64;
            send(&outputs, Msg::Runs(Arc::new(std::mem::take(&mut out)))).await?;
        }
    }
    if !out.is_empty() {
        n_out += out.len() as u64;
        send(&outputs, Msg::Runs(Arc::new(out))).await?;
    }
    Ok(StageReport {
        items_in: n_in,
        items_out: n_out,
        ..report
    })
}
