//! v2's trace and thread queries answered offline over run files, with the selection and
//! aggregates `runlake emulate` serves (runstore's engine and `runstore::threads`), as the
//! typed items the client reads: a pipeline's traces and threads from files are the ones it
//! gets from the emulator serving them.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::files::parse;
use crate::langsmith::fields::V1_SELECTABLE;
use crate::langsmith::{
    ClientError, Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery, Trace, TraceAggregates,
    TracesQuery,
};
use crate::model::Run;
use crate::runstore::threads::{ThreadSelection, ThreadSummary, thread_roots, trace_aggregates};
use crate::runstore::{self, Order, Project, RunQuery, StoredRun};

const DAY_US: i64 = 24 * 3600 * 1_000_000;

/// A v2 window in µs: max (exclusive) defaults to now, min to a day before max.
fn window(min: Option<DateTime<Utc>>, max: Option<DateTime<Utc>>) -> (i64, i64) {
    let max = max.unwrap_or_else(Utc::now).timestamp_micros();
    (min.map_or(max - DAY_US, |t| t.timestamp_micros()), max)
}

fn time(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// A stored payload as the raw JSON an answer carries.
fn raw(run: &StoredRun, field: &str) -> Option<Box<RawValue>> {
    run.field(field).map(ToOwned::to_owned)
}

/// The v1 field a v2 root select names (the trace totals are aggregates, not root fields).
fn v1_field(select: &str) -> Option<&'static str> {
    match select {
        "TOTAL_TOKENS" | "TOTAL_COST" | "FIRST_TOKEN_TIME" => None,
        "PROJECT_ID" => Some("session_id"),
        "PARENT_RUN_IDS" => Some("parent_run_id"),
        "METADATA" => Some("extra"),
        "IS_IN_DATASET" => Some("in_dataset"),
        other => V1_SELECTABLE
            .iter()
            .find(|f| f.eq_ignore_ascii_case(other))
            .copied(),
    }
}

/// `traces/query`: the window's roots newest first, each with its trace's totals.
pub(super) fn traces(project: &Project, q: &TracesQuery) -> Result<Vec<Trace>, ClientError> {
    let (min, max) = window(q.min_start_time, q.max_start_time);
    let query = RunQuery {
        ids: q
            .trace_ids
            .as_ref()
            .map(|ids| ids.iter().cloned().collect()),
        is_root: Some(true),
        min_start_us: Some(min),
        max_start_us: Some(max - 1),
        trace_filter: parse("trace_filter", &q.trace_filter)?,
        tree_filter: parse("tree_filter", &q.tree_filter)?,
        ..RunQuery::over(vec![project], Order::Desc)
    };
    let select: Vec<&str> = q.selects.iter().filter_map(|s| v1_field(s)).collect();
    let mut text = String::new();
    query
        .page(None, project.runs.len().max(1))
        .runs
        .iter()
        .map(|(project, root)| {
            text.clear();
            runstore::write_v1_run(&mut text, project, root, &select);
            let run = Run::from_json(&text).map_err(|e| ClientError::Malformed {
                detail: format!("run {}: {e}", root.id),
            })?;
            let agg = trace_aggregates(project, &root.trace_id);
            Ok(Trace {
                root_run: Some(run),
                trace_aggregates: Some(TraceAggregates {
                    total_tokens: Some(agg.usage.get("total_tokens").round() as i64),
                    total_cost: Some(agg.usage.get("total_cost")),
                    first_token_time: agg.first_token_us.and_then(time),
                }),
            })
        })
        .collect()
}

/// `threads/query`: the selected threads, newest activity first, summarised over their
/// traces in the window (the fields runlake reads; previews as the emulator cuts them).
pub(super) fn threads(project: &Project, q: &ThreadsQuery) -> Result<Vec<Thread>, ClientError> {
    let (min_us, max_us) = window(q.min_start_time, q.max_start_time);
    let selection = ThreadSelection {
        min_us,
        max_us,
        filter: parse("filter", &q.filter)?,
        trace_filter: parse("trace_filter", &q.trace_filter)?,
        tree_filter: parse("tree_filter", &q.tree_filter)?,
        thread_filter: parse("thread_filter", &q.thread_filter)?,
    };
    Ok(selection.threads(project).iter().map(thread).collect())
}

fn thread(t: &ThreadSummary) -> Thread {
    let preview = |run: &StoredRun, field: &str| {
        serde_json::from_str::<String>(&runstore::preview(run.field(field))).ok()
    };
    let (first, last) = (t.first(), t.last());
    Thread {
        thread_id: Some(t.thread_id.to_string()),
        count: Some(t.roots.len() as i64),
        first_trace_id: Some(first.trace_id.clone()),
        last_trace_id: Some(last.trace_id.clone()),
        min_start_time: time(first.start_us),
        max_start_time: time(t.last_start_us()),
        start_time: time(t.last_start_us()),
        total_tokens: Some(t.usage.get("total_tokens").round() as i64),
        total_cost: Some(t.usage.get("total_cost")),
        num_errored_turns: Some(t.errored as i64),
        latency_p50: t.latency_percentile(0.5),
        latency_p99: t.latency_percentile(0.99),
        first_inputs: preview(first, "inputs"),
        last_outputs: preview(last, "outputs"),
        last_error: t.last_error().and_then(|r| preview(r, "error")),
        ..Thread::default()
    }
}

/// `threads/{id}/traces`: the thread's traces oldest first, whatever their age.
pub(super) fn thread_traces(
    project: &Project,
    q: &ThreadTracesQuery,
) -> Result<Vec<ThreadTrace>, ClientError> {
    let roots = thread_roots(project, &q.thread_id);
    let query = RunQuery {
        ids: Some(roots.iter().map(|r| r.id.clone()).collect()),
        is_root: Some(true),
        filter: parse("filter", &q.filter)?,
        trace_filter: parse("trace_filter", &q.trace_filter)?,
        tree_filter: parse("tree_filter", &q.tree_filter)?,
        ..RunQuery::over(vec![project], Order::Asc)
    };
    let wants = |s: &str| q.selects.iter().any(|x| x == s);
    Ok(query
        .page(None, project.runs.len().max(1))
        .runs
        .iter()
        .map(|(_, root)| ThreadTrace {
            trace_id: Some(root.trace_id.clone()),
            thread_id: Some(q.thread_id.clone()),
            start_time: time(root.start_us),
            inputs: wants("INPUTS").then(|| raw(root, "inputs")).flatten(),
            outputs: wants("OUTPUTS").then(|| raw(root, "outputs")).flatten(),
            ..ThreadTrace::default()
        })
        .collect())
}
