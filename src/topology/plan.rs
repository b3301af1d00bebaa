//! What a pipeline will ask of its source, before anything runs: each query stage's query,
//! and the fields (`select`) its consumers read. `runlake plan` prints the same.

use std::collections::HashSet;

use chrono::Utc;
use indexmap::IndexMap;

use super::RunOptions;
use crate::config::{Pipeline, Stage};
use crate::model::durations::TimeSpec;
pub use crate::stages::query_runs::{PlanContext, PlannedQuery};
use crate::stages::rows::RowSpec;

/// Whether `id`'s runs reach a stage that works per trace, directly or through stages that
/// pass runs through.
pub(super) fn feeds_trace_grouping(p: &Pipeline, id: &str) -> bool {
    p.stages.iter().any(|(cid, stage)| {
        stage.inputs().iter().any(|i| i == id)
            && (stage.needs_traces()
                || (stage.passes_runs_through() && feeds_trace_grouping(p, cid)))
    })
}

/// The query each query stage will issue (projects still as names).
pub fn plan_queries(
    p: &Pipeline,
    opts: &RunOptions,
) -> anyhow::Result<IndexMap<String, PlannedQuery>> {
    let now = opts.now.unwrap_or_else(Utc::now);
    let time = |s: &Option<String>| {
        s.as_deref()
            .map(|t| TimeSpec::parse(t).map_err(crate::usage::UsageError))
            .transpose()
    };
    let since: Option<TimeSpec> = time(&opts.since)?;
    let until: Option<TimeSpec> = time(&opts.until)?;
    let mut out = IndexMap::new();
    for (id, stage) in &p.stages {
        let Stage::QueryRuns(q) = stage else {
            continue;
        };
        let cx = PlanContext {
            id,
            now,
            project: opts.project.as_deref(),
            since,
            until,
            default_project: p.source.project.as_deref(),
            split_windows: p.source.split_windows,
            derived_select: derive_select(p, id, &["trace_id", "start_time"]),
        };
        out.insert(id.clone(), q.plan(&cx)?);
    }
    Ok(out)
}

/// What the components fed (directly or through stages that pass runs through) by `id`
/// read from its runs.
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
            fields.extend(stage.reads());
            if stage.passes_runs_through() {
                stack.push(cid.clone());
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
