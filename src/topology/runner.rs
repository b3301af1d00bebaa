//! The topology: wires a validated pipeline's stages and sinks with bounded channels, runs
//! each as a task (one module per stage kind), and joins them into a [`RunSummary`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use tokio::sync::mpsc;

use super::outputs::{file_metadata, sink_options};
use super::plan::{derive_select, feeds_trace_grouping, plan_queries, source_context};
use crate::config::Pipeline;
use crate::langsmith::{RunsQuery, StatsSnapshot};
use crate::model::RejectedRuns;
use crate::model::durations::TimeSpec;
use crate::sink::{Format, PartitionKey, SinkReport};
use crate::source::Source;
use crate::stages::{DownstreamStopped, Msg, Outputs, StageReport, Start, TraceScope, sink};

/// Command-line overrides for one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// "Now", for relative windows (`since = "30d"`); the wall clock unless pinned.
    pub now: Option<DateTime<Utc>>,
    pub project: Option<String>,
    pub since: Option<TimeSpec>,
    pub until: Option<TimeSpec>,
    /// Where each sink writes its files (a staging directory).
    pub sinks: HashMap<String, SinkTarget>,
    /// The load window, stamped into file metadata.
    pub window: Option<crate::model::Window>,
    /// Live counters for the progress display.
    pub progress: crate::stages::Progress,
    /// For windowed loads: which traces this window owns.
    pub trace_scope: Option<TraceScope>,
    /// Where the stages set aside runs they cannot read (and how many they may).
    pub rejected: Arc<RejectedRuns>,
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
    /// The columns the table has committed, which every new file keeps as they are.
    pub committed: Vec<(String, crate::flatten::Kind)>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub pipeline: String,
    pub stages: Vec<StageReport>,
    pub sinks: IndexMap<String, SinkReport>,
    pub requests: StatsSnapshot,
    pub wall_seconds: f64,
}

/// Messages waiting between two stages. Enough to keep both sides busy; a message is up to
/// a thousand runs or a megabyte of rows, so every extra slot is memory (tool_usage at 1M
/// runs: ~4 MB less peak RSS than with 8, no slower).
const CHANNEL_DEPTH: usize = 2;

/// Runs a validated pipeline to completion.
pub async fn run_pipeline(
    p: &Pipeline,
    source: Source,
    opts: &RunOptions,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut context = source_context(p, opts);
    let queries = plan_queries(p, &context)?;
    // Resolve every source stage's projects once, before any stage starts.
    for (id, stage) in &p.stages {
        for name in stage.projects(id, &context)? {
            if let std::collections::hash_map::Entry::Vacant(slot) = context.project_ids.entry(name)
            {
                let project_id = source.resolve_project(slot.key()).await?;
                slot.insert(project_id);
            }
        }
    }
    let context = Arc::new(context);
    let resolved = &context.project_ids;

    // One inbox per component; producers hold a sender per consumer. A stage without
    // inputs gets an inbox nobody sends to.
    let mut inboxes: HashMap<String, mpsc::Receiver<Msg>> = HashMap::new();
    let mut senders: HashMap<String, mpsc::Sender<Msg>> = HashMap::new();
    let consumers: Vec<(&String, &[String])> = p
        .stages
        .iter()
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
        // The counter lives across a load's windows; this run's report is what it adds.
        let counter = opts.progress.stage(id, stage.kind(), stage.unit());
        let (in_before, out_before) = counter.counts();
        let Some(inbox) = inboxes.remove(id) else {
            anyhow::bail!("stage {id:?} appears twice in the graph");
        };
        // A query stage's planned query, its projects resolved; a windowed load fetches child
        // runs of the traces it owns up to the window's margin.
        let scope = opts
            .trace_scope
            .filter(|_| stage.is_source() && feeds_trace_grouping(p, id));
        let query = queries.get(id).map(|planned| {
            let mut query = RunsQuery {
                projects: planned
                    .projects
                    .iter()
                    .map(|n| resolved[n].clone())
                    .collect(),
                ..planned.query.clone()
            };
            if let Some(scope) = scope {
                query.end_time = Some(scope.query_until);
                if !query.select.iter().any(|f| f == "dotted_order") {
                    query.select.push("dotted_order".into());
                }
            }
            (query, planned.split)
        });
        let running = stage.start(Start {
            source: source.clone(),
            inbox,
            outputs,
            id: id.clone(),
            counter: counter.clone(),
            query,
            scope,
            projects: resolved.values().cloned().collect(),
            select: derive_select(p, id, &["trace_id"]),
            rejected: opts.rejected.clone(),
            context: context.clone(),
        });
        let (id, kind) = (id.clone(), stage.kind());
        tasks.spawn(async move {
            running.await?;
            let (items_in, items_out) = counter.counts();
            Ok(StageReport {
                id,
                kind: kind.into(),
                items_in: items_in - in_before,
                items_out: items_out - out_before,
            })
        });
    }
    for (id, sink) in &p.sinks {
        let Some(inbox) = inboxes.remove(id) else {
            anyhow::bail!("sink {id:?} appears twice in the graph");
        };
        let options = sink_options(id, sink, opts, &metadata)?;
        let counter = opts.progress.stage(id, "sink", "rows written");
        let id = id.clone();
        sink_tasks.spawn_blocking(move || sink::run(id, options, inbox, counter));
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
        requests: source.stats(),
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{SampleConfig, generate};
    use crate::source::FileSource;
    use std::collections::{BTreeSet, HashMap};

    /// The runner over the file source: every stage's counts are the ones computed here,
    /// independently, from the runs themselves.
    #[tokio::test]
    async fn a_pipeline_over_run_files_counts_what_the_runs_say() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("runs.jsonl");
        let mut config = SampleConfig::new("proj", 120, 5);
        config.days = 10;
        generate(&config, &mut std::fs::File::create(&file).unwrap()).unwrap();
        let runs: Vec<serde_json::Value> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let tools: Vec<&serde_json::Value> =
            runs.iter().filter(|r| r["run_type"] == "tool").collect();
        let traces: BTreeSet<&str> = tools
            .iter()
            .map(|r| r["trace_id"].as_str().unwrap())
            .collect();
        let p = crate::config::parse(
            std::path::Path::new("p.toml"),
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/tool_usage.toml"),
            )
            .unwrap()
            .replace("since = \"30d\"", ""),
            &|_| None,
        )
        .unwrap();
        let out = dir.path().join("out");
        let opts = RunOptions {
            project: Some("proj".into()),
            sinks: HashMap::from([(
                "tool_usage".to_string(),
                SinkTarget {
                    dir: out.clone(),
                    name: "t".into(),
                    partition_by: vec![],
                    format: None,
                    committed: vec![],
                },
            )]),
            ..Default::default()
        };
        let source: Source = std::sync::Arc::new(FileSource::open(&file).unwrap());
        let summary = run_pipeline(&p, source, &opts).await.unwrap();
        let count = |id: &str| {
            let s = summary.stages.iter().find(|s| s.id == id).unwrap();
            (s.items_in, s.items_out)
        };
        assert_eq!(count("tool_runs").1, tools.len() as u64);
        assert_eq!(count("by_trace"), (tools.len() as u64, traces.len() as u64));
        assert_eq!(count("roots").1, traces.len() as u64, "one root per trace");
        assert_eq!(summary.sinks["tool_usage"].rows, traces.len() as u64);
        assert_eq!(summary.requests.requests, 0, "files, not requests");
    }
}
