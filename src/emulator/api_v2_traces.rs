//! v2 traces (SDK `client.traces`): `POST /api/v2/traces/query`, one item per trace (its
//! root run plus trace-wide aggregates), and `GET /api/v2/traces/{trace_id}/runs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_v2::{
    day_window, decode_cursor, next_cursor, page_size, parse_selects, require_v2, rfc3339_us,
    write_v2_items, write_v2_run,
};
use super::error::ApiError;
use super::{AppState, json_response, parse_body, parse_filter, parse_time};
use crate::langsmith::fields::V2_SELECTABLE;
use crate::runstore::threads::{TraceAggregates, trace_aggregates};
use crate::runstore::{Order, Project, RunQuery};

/// `TraceQueryParams`. Unknown keys are ignored, as FastAPI does.
#[derive(Debug, Default, Deserialize)]
struct TracesBody {
    project_id: Option<String>,
    cursor: Option<String>,
    min_start_time: Option<String>,
    max_start_time: Option<String>,
    page_size: Option<i64>,
    selects: Option<Vec<String>>,
    trace_filter: Option<String>,
    tree_filter: Option<String>,
    trace_ids: Option<Vec<String>>,
    ai_search: Option<String>,
    sem_filter: Option<String>,
    min_feedback_modified_at: Option<String>,
    max_feedback_modified_at: Option<String>,
    /// Not a field of this endpoint (runs have it, traces take `trace_filter`); refused
    /// rather than silently ignored.
    filter: Option<String>,
}

/// Selects that go under `trace_aggregates` rather than `root_run`.
const AGGREGATE_SELECTS: [&str; 3] = ["TOTAL_TOKENS", "TOTAL_COST", "FIRST_TOKEN_TIME"];

/// The request's project, or 404 as the v2 runs route answers.
pub(super) fn project<'a>(
    store: &'a crate::runstore::Store,
    id: Option<&str>,
    place: &[&str],
) -> Result<&'a Project, ApiError> {
    let id = id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::validation(place, "Field required"))?;
    store
        .project_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("Project not found: {id}")))
}

/// Refuses what the emulator has no data or model for, by name.
pub(super) fn unsupported(fields: &[(&str, bool)]) -> Result<(), ApiError> {
    match fields.iter().find(|(_, given)| *given) {
        Some((name, _)) => Err(ApiError::bad_request(format!(
            "`{name}` is not supported by runlake emulate"
        ))),
        None => Ok(()),
    }
}

pub async fn traces_query(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_v2(&app, &headers)?;
    let body: TracesBody = parse_body(&body)?;
    unsupported(&[
        ("ai_search", body.ai_search.is_some()),
        ("sem_filter", body.sem_filter.is_some()),
        (
            "min_feedback_modified_at",
            body.min_feedback_modified_at.is_some(),
        ),
        (
            "max_feedback_modified_at",
            body.max_feedback_modified_at.is_some(),
        ),
    ])?;
    if body.filter.is_some() {
        return Err(ApiError::validation(
            &["body", "filter"],
            "Extra inputs are not permitted: traces/query filters root runs with trace_filter",
        ));
    }
    let store = app.store.read();
    let project = project(&store, body.project_id.as_deref(), &["body", "project_id"])?;
    let page_size = page_size(body.page_size, 20, 100)?;
    let selects = match &body.selects {
        None => vec!["ID"],
        Some(list) => parse_selects("body", list, V2_SELECTABLE, "RunSelectField")?,
    };
    let (root_selects, aggregates): (Vec<&str>, Vec<&str>) =
        selects.iter().partition(|s| !AGGREGATE_SELECTS.contains(s));
    // The window bounds root start times: min inclusive, max exclusive.
    let (min_start_us, max_start_us) = day_window(
        body.min_start_time.as_deref(),
        body.max_start_time.as_deref(),
    )?;
    let query = RunQuery {
        ids: body
            .trace_ids
            .map(|ids| ids.into_iter().collect::<HashSet<_>>()),
        is_root: Some(true),
        min_start_us: Some(min_start_us),
        max_start_us: Some(max_start_us - 1),
        trace_filter: parse_filter("trace_filter", body.trace_filter.as_deref())?,
        tree_filter: parse_filter("tree_filter", body.tree_filter.as_deref())?,
        ..RunQuery::over(vec![project], Order::Desc)
    };
    let after = decode_cursor(body.cursor.as_deref(), Order::Desc)?;
    let page = query.page(after.as_ref(), page_size);
    let mut out = String::with_capacity(page.runs.len() * 1024 + 64);
    out.push_str("{\"items\":[");
    for (i, (project, root)) in page.runs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"root_run\":");
        write_v2_run(&mut out, root, &root_selects);
        if !aggregates.is_empty() {
            let agg = trace_aggregates(project, &root.trace_id);
            out.push_str(",\"trace_aggregates\":");
            out.push_str(&aggregates_json(&agg, &aggregates).to_string());
        }
        out.push_str(",\"query_metadata\":null}");
    }
    out.push_str("],\"next_cursor\":");
    out.push_str(&next_cursor(page.next.as_ref()));
    out.push('}');
    app.stats.add_runs(page.runs.len());
    Ok(json_response(out))
}

/// `TraceAggregates` with the selected fields.
fn aggregates_json(agg: &TraceAggregates, selected: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for s in selected {
        let value = match *s {
            "TOTAL_TOKENS" => json!(agg.usage.get("total_tokens").round() as i64),
            "TOTAL_COST" => json!(agg.usage.get("total_cost")),
            _ => rfc3339_us(agg.first_token_us),
        };
        out.insert(s.to_ascii_lowercase(), value);
    }
    Value::Object(out)
}

/// A query string's parameters, repeated keys (`selects=A&selects=B`, also `selects[]=`) in
/// order.
pub(super) fn query_params(raw: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let key = k.strip_suffix("[]").unwrap_or(&k).to_string();
        out.entry(key).or_default().push(v.into_owned());
    }
    out
}

/// One query parameter's (last) value.
pub(super) fn param<'a>(params: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    params.get(name).and_then(|v| v.last()).map(String::as_str)
}

/// `GET /api/v2/traces/{trace_id}/runs?project_id=…`: the trace's runs in start-time order,
/// optionally filtered and bounded (both bounds inclusive, given together or not at all).
pub async fn trace_runs(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(trace_id): Path<String>,
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
    let selects = match params.get("selects") {
        None => vec!["ID"],
        Some(list) => parse_selects("query", list, V2_SELECTABLE, "RunSelectField")?,
    };
    let min = parse_time("min_start_time", param(&params, "min_start_time"))?;
    let max = parse_time("max_start_time", param(&params, "max_start_time"))?;
    if min.is_some() != max.is_some() {
        return Err(ApiError::validation(
            &[
                "query",
                if min.is_some() {
                    "max_start_time"
                } else {
                    "min_start_time"
                },
            ],
            "min_start_time and max_start_time are required together",
        ));
    }
    let query = RunQuery {
        trace: Some(trace_id),
        min_start_us: min,
        max_start_us: max,
        filter: parse_filter("filter", param(&params, "filter"))?,
        ..RunQuery::over(vec![project], Order::Asc)
    };
    let page = query.page(None, project.runs.len().max(1));
    let mut out = String::with_capacity(page.runs.len() * 1024 + 16);
    write_v2_items(&mut out, &page.runs, &selects);
    out.push('}');
    app.stats.add_runs(page.runs.len());
    Ok(json_response(out))
}
