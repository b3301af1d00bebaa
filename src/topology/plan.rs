//! What a pipeline will ask of LangSmith, before anything runs: each `query_runs` stage's
//! query, and the fields (`select`) its consumers read. `runlake plan` prints the same.

use std::collections::HashSet;

use chrono::Utc;
use indexmap::IndexMap;

use super::RunOptions;
use crate::config::{Pipeline, StageConfig, window};
use crate::filter::Field;
use crate::langsmith::RunsQuery;
use crate::stages::group::Aggregate;
use crate::stages::rows::RowSpec;

/// Whether `id`'s runs reach a `group_by_trace` or `fetch_roots`, directly or through filters.
pub(super) fn feeds_trace_grouping(p: &Pipeline, id: &str) -> bool {
    p.stages.iter().any(|(cid, stage)| {
        stage.inputs().iter().any(|i| i == id)
            && match stage {
                StageConfig::GroupByTrace(_) | StageConfig::FetchRoots(_) => true,
                StageConfig::Filter(_) => feeds_trace_grouping(p, cid),
                StageConfig::QueryRuns(_) | StageConfig::Flatten(_) => false,
            }
    })
}

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
                None => crate::usage_bail!(
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
