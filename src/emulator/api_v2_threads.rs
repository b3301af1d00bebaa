//! v2 threads (SDK `client.threads`): `POST /api/v2/threads/query` (thread summaries, newest
//! activity first), `GET /api/v2/threads/{thread_id}/traces` (a thread's traces in turn
//! order), `GET /api/v2/threads/{thread_id}/stats` (one thread's aggregates) and
//! `POST /api/v2/threads/stats` (aggregates over a project's threads).
//!
//! A thread is the set of root runs sharing a thread key (the run's `thread_id`, else metadata
//! `session_id`, `conversation_id` or `thread_id`); the window bounds root start times (min
//! inclusive, max exclusive). `filter` narrows which traces count, `trace_filter` and
//! `tree_filter` keep threads with at least one trace whose root (or any run) matches, and
//! `thread_filter` is evaluated on the summary seen as a run: `thread_id`, `trace_id` (the
//! last), `start_time` (the first), `end_time` (the last end), tokens and costs (sums),
//! `latency` (p50), `status` (`error` if any turn failed), `error` (the last one).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api_v2::{
    day_window, decode_cursor, next_cursor, page_size, parse_selects, require_v2, rfc3339_us,
    v2_value,
};
use super::api_v2_traces::{param, project, query_params, unsupported};
use super::error::ApiError;
use super::{AppState, json_response, parse_body, parse_filter};
use crate::runstore::threads::{
    ThreadSelection, ThreadSummary, USAGE_DETAILS, Usage, percentile, thread_roots,
};
use crate::runstore::{Cursor, Order, Project, RunQuery, StoredRun, preview};

/// `ThreadQueryParams` and `ThreadAggregateStatsParams` (they share their filters and
/// window). Unknown keys are ignored, as FastAPI does.
#[derive(Debug, Default, Deserialize)]
struct ThreadsBody {
    project_id: Option<String>,
    cursor: Option<String>,
    filter: Option<String>,
    min_start_time: Option<String>,
    max_start_time: Option<String>,
    page_size: Option<i64>,
    thread_filter: Option<String>,
    trace_filter: Option<String>,
    tree_filter: Option<String>,
    ai_search: Option<String>,
    sem_filter: Option<String>,
    /// `threads/stats` only.
    select: Option<Vec<String>>,
    stride: Option<Value>,
}

/// `ThreadTraceSelectField`.
const THREAD_TRACE_SELECTS: &[&str] = &[
    "THREAD_ID",
    "TRACE_ID",
    "OP",
    "PROMPT_TOKENS",
    "COMPLETION_TOKENS",
    "TOTAL_TOKENS",
    "START_TIME",
    "END_TIME",
    "LATENCY",
    "FIRST_TOKEN_TIME",
    "INPUTS_PREVIEW",
    "OUTPUTS_PREVIEW",
    "INPUTS",
    "OUTPUTS",
    "ERROR",
    "PROMPT_COST",
    "COMPLETION_COST",
    "TOTAL_COST",
    "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS",
    "COMPLETION_COST_DETAILS",
    "NAME",
    "ERROR_PREVIEW",
    "TURN_NUMBER",
];

/// `SingleThreadStatsSelectField`.
const THREAD_STATS_SELECTS: &[&str] = &[
    "TURNS",
    "FIRST_START_TIME",
    "LAST_START_TIME",
    "LAST_END_TIME",
    "LATENCY_P50",
    "LATENCY_P99",
    "PROMPT_TOKENS",
    "PROMPT_COST",
    "COMPLETION_TOKENS",
    "COMPLETION_COST",
    "TOTAL_TOKENS",
    "TOTAL_COST",
    "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS",
    "COMPLETION_COST_DETAILS",
    "FEEDBACK_STATS",
];

/// The aggregate-stats `select` values.
const AGGREGATE_STATS_SELECTS: &[&str] = &[
    "THREAD_COUNT",
    "TRACE_COUNT",
    "TOTAL_TOKENS",
    "TOTAL_COST",
    "ERROR_RATE",
    "STREAMING_RATE",
    "LATENCY_P50",
    "LATENCY_P99",
    "MEDIAN_TOKENS",
    "FIRST_TOKEN_P50",
    "FIRST_TOKEN_P99",
    "PROMPT_TOKENS",
    "COMPLETION_TOKENS",
    "PROMPT_COST",
    "COMPLETION_COST",
    "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS",
    "COMPLETION_COST_DETAILS",
    "THREAD_FEEDBACK_STATS",
];

/// The threads of `project` a threads query or aggregate asks about, summarised over their
/// traces in the window.
fn eligible_threads<'a>(
    project: &'a Project,
    body: &ThreadsBody,
) -> Result<Vec<ThreadSummary<'a>>, ApiError> {
    let (min_us, max_us) = day_window(
        body.min_start_time.as_deref(),
        body.max_start_time.as_deref(),
    )?;
    let selection = ThreadSelection {
        min_us,
        max_us,
        filter: parse_filter("filter", body.filter.as_deref())?,
        trace_filter: parse_filter("trace_filter", body.trace_filter.as_deref())?,
        tree_filter: parse_filter("tree_filter", body.tree_filter.as_deref())?,
        thread_filter: parse_filter("thread_filter", body.thread_filter.as_deref())?,
    };
    Ok(selection.threads(project))
}

fn tokens(v: f64) -> Value {
    json!(v.round() as i64)
}

/// A detail map of `usage` (`PROMPT_TOKEN_DETAILS` → `prompt_token_details`), token counts as
/// integers.
fn details(usage: &Usage, map: &str) -> Value {
    let is_tokens = map.contains("token");
    let entries: Map<String, Value> = usage
        .details(map)
        .into_iter()
        .map(|(k, v)| (k.to_string(), if is_tokens { tokens(v) } else { json!(v) }))
        .collect();
    Value::Object(entries)
}

/// Token (or cost) detail maps merged across prompt and completion.
fn total_details(usage: &Usage, kind: &str) -> Value {
    let mut sum: HashMap<&str, f64> = HashMap::new();
    for map in [
        format!("prompt_{kind}_details"),
        format!("completion_{kind}_details"),
    ] {
        for (k, v) in usage.details(&map) {
            *sum.entry(k).or_default() += v;
        }
    }
    let mut keys: Vec<_> = sum.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    Value::Object(
        keys.into_iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    if kind == "token" { tokens(v) } else { json!(v) },
                )
            })
            .collect(),
    )
}

fn preview_of(run: &StoredRun, field: &str) -> Value {
    serde_json::from_str(&preview(run.field(field))).unwrap_or(Value::Null)
}

fn micros(us: i64) -> Value {
    rfc3339_us(Some(us))
}

/// `feedback_stats` of several runs merged per key: counts and categorical values summed,
/// `avg` weighted by `n`, extremes kept; `stdev` is dropped (null) once two runs merge.
fn merged_feedback(runs: &[&StoredRun]) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for run in runs {
        let Some(Value::Object(stats)) = run
            .field("feedback_stats")
            .and_then(|v| serde_json::from_str(v.get()).ok())
        else {
            continue;
        };
        for (key, entry) in stats {
            let Value::Object(entry) = entry else {
                continue;
            };
            let Some(Value::Object(acc)) = out.get_mut(&key) else {
                out.insert(key, Value::Object(entry));
                continue;
            };
            let num = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_f64);
            let (n1, n2) = (
                num(acc, "n").unwrap_or(0.0),
                num(&entry, "n").unwrap_or(0.0),
            );
            let avg = match (num(acc, "avg"), num(&entry, "avg")) {
                (Some(a), Some(b)) if n1 + n2 > 0.0 => Some((a * n1 + b * n2) / (n1 + n2)),
                (a, b) => a.or(b),
            };
            let pick = |k: &str, f: fn(f64, f64) -> f64| match (num(acc, k), num(&entry, k)) {
                (Some(a), Some(b)) => Some(f(a, b)),
                (a, b) => a.or(b),
            };
            let (min, max) = (pick("min", f64::min), pick("max", f64::max));
            let errors = num(acc, "errors").unwrap_or(0.0) + num(&entry, "errors").unwrap_or(0.0);
            let mut values = acc
                .get("values")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (label, count) in entry
                .get("values")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let sum = values.get(label).and_then(Value::as_i64).unwrap_or(0)
                    + count.as_i64().unwrap_or(0);
                values.insert(label.clone(), json!(sum));
            }
            acc.insert("n".into(), json!((n1 + n2) as i64));
            acc.insert("avg".into(), json!(avg));
            acc.insert("stdev".into(), Value::Null);
            if min.is_some() || max.is_some() {
                acc.insert("min".into(), json!(min));
                acc.insert("max".into(), json!(max));
            }
            if acc.contains_key("errors") || entry.contains_key("errors") {
                acc.insert("errors".into(), json!(errors as i64));
            }
            acc.insert("values".into(), Value::Object(values));
        }
    }
    Value::Object(out)
}

/// One `Thread` item.
fn thread_json(t: &ThreadSummary) -> Value {
    let mut out = json!({
        "thread_id": t.thread_id,
        "count": t.roots.len(),
        "start_time": micros(t.last_start_us()),
        "min_start_time": micros(t.first().start_us),
        "max_start_time": micros(t.last_start_us()),
        "first_trace_id": t.first().trace_id,
        "last_trace_id": t.last().trace_id,
        "trace_id": t.last().trace_id,
        "first_inputs": preview_of(t.first(), "inputs"),
        "last_outputs": preview_of(t.last(), "outputs"),
        "latency_p50": t.latency_percentile(0.5),
        "latency_p99": t.latency_percentile(0.99),
        "num_errored_turns": t.errored,
        "total_tokens": tokens(t.usage.get("total_tokens")),
        "total_cost": t.usage.get("total_cost"),
        "total_token_details": total_details(&t.usage, "token"),
        "total_cost_details": total_details(&t.usage, "cost"),
        "feedback_stats": merged_feedback(&t.roots),
        "query_metadata": null,
    });
    // Absent when no turn in the window failed.
    if let Some(run) = t.last_error() {
        out["last_error"] = preview_of(run, "error");
    }
    out
}

pub async fn threads_query(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_v2(&app, &headers)?;
    let body: ThreadsBody = parse_body(&body)?;
    unsupported(&[
        ("ai_search", body.ai_search.is_some()),
        ("sem_filter", body.sem_filter.is_some()),
    ])?;
    let store = app.store.read();
    let project = project(&store, body.project_id.as_deref(), &["body", "project_id"])?;
    let page_size = page_size(body.page_size, 20, 100)?;
    let after = decode_cursor(body.cursor.as_deref(), Order::Desc)?;
    let threads = eligible_threads(project, &body)?;
    let mut rest = threads.iter().filter(|t| {
        after
            .as_ref()
            .is_none_or(|c| (t.last_start_us(), t.thread_id) < (c.start_us, c.id.as_str()))
    });
    let page: Vec<&ThreadSummary> = rest.by_ref().take(page_size).collect();
    let next = match (page.last(), rest.next()) {
        (Some(last), Some(_)) => Some(Cursor {
            order: Order::Desc,
            start_us: last.last_start_us(),
            id: last.thread_id.to_string(),
        }),
        _ => None,
    };
    let items: Vec<Value> = page.iter().map(|t| thread_json(t)).collect();
    Ok(json_response(format!(
        "{{\"items\":{},\"next_cursor\":{}}}",
        Value::Array(items),
        next_cursor(next.as_ref())
    )))
}

/// `GET /api/v2/threads/{thread_id}/traces?project_id=…`: the thread's traces oldest first,
/// whatever their age (the endpoint has no window).
pub async fn thread_traces(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    require_v2(&app, &headers)?;
    let params = query_params(raw.as_deref());
    let store = app.store.read();
    let project = project(
        &store,
        param(&params, "project_id"),
        &["query", "project_id"],
    )?;
    let page_size = page_size(
        param(&params, "page_size")
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    ApiError::validation(&["query", "page_size"], "Input should be a valid integer")
                })
            })
            .transpose()?,
        20,
        100,
    )?;
    let selects = match params.get("selects") {
        None => vec!["TRACE_ID"],
        Some(list) => parse_selects(
            "query",
            list,
            THREAD_TRACE_SELECTS,
            "ThreadTraceSelectField",
        )?,
    };
    let roots = thread_roots(project, &thread_id);
    // Turn numbers count the whole thread, before any filter or page.
    let turns: HashMap<&str, usize> = roots
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i + 1))
        .collect();
    let query = RunQuery {
        ids: Some(roots.iter().map(|r| r.id.clone()).collect()),
        is_root: Some(true),
        filter: parse_filter("filter", param(&params, "filter"))?,
        trace_filter: parse_filter("trace_filter", param(&params, "trace_filter"))?,
        tree_filter: parse_filter("tree_filter", param(&params, "tree_filter"))?,
        ..RunQuery::over(vec![project], Order::Asc)
    };
    let after = decode_cursor(param(&params, "cursor"), Order::Asc)?;
    let page = query.page(after.as_ref(), page_size);
    let items: Vec<Value> = page
        .runs
        .iter()
        .map(|(_, root)| {
            let mut item = Map::new();
            item.insert("trace_id".into(), json!(root.trace_id));
            for s in &selects {
                let value = match *s {
                    "TRACE_ID" => continue,
                    "THREAD_ID" => json!(thread_id),
                    "TURN_NUMBER" => json!(turns.get(root.id.as_str())),
                    // A numeric run-type code whose mapping LangSmith does not publish.
                    "OP" => Value::Null,
                    "LATENCY" => raw_json(&v2_value(root, "LATENCY_SECONDS")),
                    other => raw_json(&v2_value(root, other)),
                };
                item.insert(s.to_ascii_lowercase(), value);
            }
            Value::Object(item)
        })
        .collect();
    app.stats.add_runs(items.len());
    Ok(json_response(format!(
        "{{\"items\":{},\"next_cursor\":{}}}",
        Value::Array(items),
        next_cursor(page.next.as_ref())
    )))
}

fn raw_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The usage sums a select names (`PROMPT_TOKENS` → `prompt_tokens`), if it names one.
fn usage_select(usage: &Usage, select: &str) -> Option<Value> {
    let name = select.to_ascii_lowercase();
    if USAGE_DETAILS.contains(&name.as_str()) {
        return Some(details(usage, &name));
    }
    match name.as_str() {
        "total_tokens" | "prompt_tokens" | "completion_tokens" => Some(tokens(usage.get(&name))),
        "total_cost" | "prompt_cost" | "completion_cost" => Some(json!(usage.get(&name))),
        _ => None,
    }
}

/// `GET /api/v2/threads/{thread_id}/stats?session_id=…&selects=…`: one thread's aggregates
/// over all its traces (those `filter` keeps).
pub async fn thread_stats(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    require_v2(&app, &headers)?;
    let params = query_params(raw.as_deref());
    let store = app.store.read();
    let project = project(
        &store,
        param(&params, "session_id"),
        &["query", "session_id"],
    )?;
    let selects = match params.get("selects").filter(|s| !s.is_empty()) {
        None => {
            return Err(ApiError::validation(
                &["query", "selects"],
                "Field required",
            ));
        }
        Some(list) => parse_selects(
            "query",
            list,
            THREAD_STATS_SELECTS,
            "SingleThreadStatsSelectField",
        )?,
    };
    let filter = parse_filter("filter", param(&params, "filter"))?;
    let roots: Vec<&StoredRun> = thread_roots(project, &thread_id)
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|f| f.matches(&r.facts)))
        .collect();
    let summary = (!roots.is_empty()).then(|| ThreadSummary::new(project, &thread_id, roots));
    let mut out = Map::new();
    for s in selects {
        let value = match (&summary, s) {
            (None, "TURNS") => json!(0),
            (None, _) => Value::Null,
            (Some(t), "TURNS") => json!(t.roots.len()),
            (Some(t), "FIRST_START_TIME") => micros(t.first().start_us),
            (Some(t), "LAST_START_TIME") => micros(t.last_start_us()),
            (Some(t), "LAST_END_TIME") => rfc3339_us(t.last_end_us()),
            (Some(t), "LATENCY_P50") => json!(t.latency_percentile(0.5)),
            (Some(t), "LATENCY_P99") => json!(t.latency_percentile(0.99)),
            (Some(t), "FEEDBACK_STATS") => merged_feedback(&t.roots),
            (Some(t), other) => match usage_select(&t.usage, other) {
                // Single-thread detail maps come wrapped, as on runs.
                Some(v) if other.ends_with("_DETAILS") => json!({ "raw": v }),
                Some(v) => v,
                None => Value::Null,
            },
        };
        let key = match s {
            "LATENCY_P50" => "latency_p50_seconds".to_string(),
            "LATENCY_P99" => "latency_p99_seconds".to_string(),
            other => other.to_ascii_lowercase(),
        };
        out.insert(key, value);
    }
    Ok(json_response(Value::Object(out).to_string()))
}

/// `POST /api/v2/threads/stats`: aggregates over the project's eligible threads (as
/// `threads/query` selects them), without `stride` buckets.
pub async fn aggregate_stats(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_v2(&app, &headers)?;
    let body: ThreadsBody = parse_body(&body)?;
    unsupported(&[("stride", body.stride.is_some())])?;
    let store = app.store.read();
    let project = project(&store, body.project_id.as_deref(), &["body", "project_id"])?;
    let selects = match body.select.as_deref().filter(|s| !s.is_empty()) {
        None => return Err(ApiError::validation(&["body", "select"], "Field required")),
        Some(list) => parse_selects(
            "body",
            list,
            AGGREGATE_STATS_SELECTS,
            "ThreadAggregateStatsSelectField",
        )
        .map_err(|_| {
            ApiError::validation(
                &["body", "select"],
                "Input should be a valid ThreadAggregateStatsSelectField",
            )
        })?,
    };
    let threads = eligible_threads(project, &body)?;
    let roots: Vec<&StoredRun> = threads
        .iter()
        .flat_map(|t| t.roots.iter().copied())
        .collect();
    let mut usage = Usage::default();
    let mut per_trace_tokens = Vec::new();
    let mut first_token_waits = Vec::new();
    let mut streamed = 0usize;
    for t in &threads {
        usage.add(&t.usage);
        for (root, agg) in t.roots.iter().zip(&t.traces) {
            per_trace_tokens.push(agg.usage.get("total_tokens"));
            if let Some(first) = agg.first_token_us {
                streamed += 1;
                first_token_waits.push((first - root.start_us) as f64 / 1e6);
            }
        }
    }
    let mut latencies: Vec<f64> = roots.iter().filter_map(|r| r.facts.latency).collect();
    latencies.sort_by(f64::total_cmp);
    per_trace_tokens.sort_by(f64::total_cmp);
    first_token_waits.sort_by(f64::total_cmp);
    let rate = |n: usize| (!roots.is_empty()).then(|| n as f64 / roots.len() as f64);
    let mut out = Map::new();
    for s in selects {
        let (key, value) = match s {
            "THREAD_COUNT" => ("thread_count", json!(threads.len())),
            "TRACE_COUNT" => ("trace_count", json!(roots.len())),
            "ERROR_RATE" => (
                "error_rate",
                json!(rate(roots.iter().filter(|r| r.has_error).count())),
            ),
            "STREAMING_RATE" => ("streaming_rate", json!(rate(streamed))),
            "LATENCY_P50" => ("latency_p50_seconds", json!(percentile(&latencies, 0.5))),
            "LATENCY_P99" => ("latency_p99_seconds", json!(percentile(&latencies, 0.99))),
            "MEDIAN_TOKENS" => (
                "median_tokens",
                json!(percentile(&per_trace_tokens, 0.5).map(|v| v.round() as i64)),
            ),
            "FIRST_TOKEN_P50" => (
                "first_token_p50_seconds",
                json!(percentile(&first_token_waits, 0.5)),
            ),
            "FIRST_TOKEN_P99" => (
                "first_token_p99_seconds",
                json!(percentile(&first_token_waits, 0.99)),
            ),
            "THREAD_FEEDBACK_STATS" => ("thread_feedback_stats", merged_feedback(&roots)),
            other => {
                let value = usage_select(&usage, other).unwrap_or(Value::Null);
                out.insert(other.to_ascii_lowercase(), value);
                continue;
            }
        };
        out.insert(key.to_string(), value);
    }
    Ok(json_response(Value::Object(out).to_string()))
}
