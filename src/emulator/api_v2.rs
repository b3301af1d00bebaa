//! `POST /api/v2/runs/query` (SmithDB): project ids, a one-day default window, page sizes up to
//! 1000, upper-case selects (only `ID` when omitted) and enums, `{"raw": …}` detail maps.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::{AppState, Identity, json_response, parse_body, parse_filter, parse_time};
use crate::emulator::limits;
use crate::filter::{Expr, Field};
use crate::langsmith::fields::{RUN_TYPES, V2_SELECTABLE};
use crate::runstore::{Cursor, FeedbackWindow, Order, Project, RunQuery, StoredRun, preview};

#[derive(Debug, Default, Deserialize)]
pub struct V2Body {
    project_ids: Option<Vec<String>>,
    reference_dataset_id: Option<String>,
    min_start_time: Option<String>,
    max_start_time: Option<String>,
    page_size: Option<i64>,
    cursor: Option<String>,
    selects: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    trace_id: Option<String>,
    filter: Option<String>,
    trace_filter: Option<String>,
    tree_filter: Option<String>,
    is_root: Option<bool>,
    has_error: Option<bool>,
    run_type: Option<String>,
    min_feedback_modified_at: Option<String>,
    max_feedback_modified_at: Option<String>,
}

const DAY_US: i64 = 24 * 3600 * 1_000_000;

/// Every v2 route: a deployment without SmithDB has none of them (404), and they share the
/// v2 per-key rate tier.
pub(super) fn require_v2(app: &AppState, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if !app.config.deployment.has_v2() {
        return Err(ApiError::not_found("Not Found"));
    }
    app.check_rate(headers, &[(limits::V2_QUERY_PER_KEY, Identity::Key)])
}

/// A v2 `page_size`: `default` when absent, else within `1..=max` (422 outside).
pub(super) fn page_size(value: Option<i64>, default: usize, max: i64) -> Result<usize, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::validation(
            &["body", "page_size"],
            format!("page_size must be between 1 and {max}"),
        )),
    }
}

/// Upper-case select names checked against `allowed` (422 naming the first stranger; `place`
/// is `body` or `query`).
pub(super) fn parse_selects(
    place: &str,
    list: &[String],
    allowed: &[&'static str],
    enum_name: &str,
) -> Result<Vec<&'static str>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, name)| {
            allowed
                .iter()
                .find(|s| **s == name.as_str())
                .copied()
                .ok_or_else(|| {
                    ApiError::validation(
                        &[place, "selects", &i.to_string()],
                        format!("Input should be a valid {enum_name}, got {name:?}"),
                    )
                })
        })
        .collect()
}

/// A v2 start-time window in µs: `max` defaults to now, `min` to a day before `max`.
pub(super) fn day_window(min: Option<&str>, max: Option<&str>) -> Result<(i64, i64), ApiError> {
    let now = chrono::Utc::now().timestamp_micros();
    let max_us = parse_time("max_start_time", max)?.unwrap_or(now);
    let min_us = parse_time("min_start_time", min)?.unwrap_or(max_us - DAY_US);
    Ok((min_us, max_us))
}

/// A v2 timestamp: RFC 3339 with microseconds and `Z`.
pub(super) fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    format!("{}Z", crate::model::format_naive_micros(t))
}

/// [`rfc3339`] of microseconds since the epoch, as a JSON value.
pub(super) fn rfc3339_us(us: Option<i64>) -> Value {
    us.and_then(crate::model::Timestamp::from_micros)
        .map_or(Value::Null, |t| Value::String(rfc3339(&t.0)))
}

pub async fn runs_query(
    State(app): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_v2(&app, &headers)?;
    let body: V2Body = parse_body(&body)?;
    if body.reference_dataset_id.is_some() {
        return Err(ApiError::bad_request(
            "`reference_dataset_id` is not supported by runlake emulate",
        ));
    }
    let Some(project_ids) = body.project_ids.filter(|p| !p.is_empty()) else {
        return Err(ApiError::validation(
            &["body", "project_ids"],
            "project_ids is required",
        ));
    };
    let page_size = page_size(body.page_size, 100, 1000)?;
    let run_type = match body.run_type {
        None => None,
        Some(t)
            if RUN_TYPES.iter().any(|r| r.eq_ignore_ascii_case(&t))
                && t == t.to_ascii_uppercase() =>
        {
            Some(t.to_ascii_lowercase())
        }
        Some(t) => {
            return Err(ApiError::validation(
                &["body", "run_type"],
                format!(
                    "Input should be one of {:?}, got {t:?}",
                    RUN_TYPES
                        .iter()
                        .map(|r| r.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                ),
            ));
        }
    };
    let selects = match &body.selects {
        None => vec!["ID"],
        Some(list) => parse_selects("body", list, V2_SELECTABLE, "RunSelectField")?,
    };
    // The documented trap: without min_start_time only the last day is searched.
    let (min_start_us, max_start_us) = day_window(
        body.min_start_time.as_deref(),
        body.max_start_time.as_deref(),
    )?;
    let filter = parse_filter("filter", body.filter.as_deref())?;
    let trace_filter = parse_filter("trace_filter", body.trace_filter.as_deref())?;
    let tree_filter = parse_filter("tree_filter", body.tree_filter.as_deref())?;
    let feedback_modified = feedback_window(
        body.min_feedback_modified_at.as_deref(),
        body.max_feedback_modified_at.as_deref(),
        [&filter, &trace_filter, &tree_filter],
    )?;
    let store = app.store.read();
    let mut projects = Vec::new();
    for id in &project_ids {
        projects.push(
            store
                .project_by_id(id)
                .ok_or_else(|| ApiError::not_found(format!("Project not found: {id}")))?,
        );
    }
    let query = RunQuery {
        projects,
        ids: body.ids.map(|ids| ids.into_iter().collect::<HashSet<_>>()),
        ids_ignore_filters: false,
        trace: body.trace_id,
        parent_run: None,
        run_type,
        is_root: body.is_root,
        error: body.has_error,
        min_start_us: Some(min_start_us),
        max_start_us: Some(max_start_us),
        filter,
        trace_filter,
        tree_filter,
        order: Order::Desc,
        feedback_modified,
    };
    let after = decode_cursor(body.cursor.as_deref(), Order::Desc)?;
    let page = query.page(after.as_ref(), page_size);
    let mut out = String::with_capacity(page.runs.len() * 2048 + 64);
    write_v2_items(&mut out, &page.runs, &selects);
    out.push_str(",\"next_cursor\":");
    out.push_str(&next_cursor(page.next.as_ref()));
    out.push('}');
    app.stats.add_runs(page.runs.len());
    Ok(json_response(out))
}

/// A request's `cursor`, decoded for `order` (400 when it is not one the emulator gave).
pub(super) fn decode_cursor(text: Option<&str>, order: Order) -> Result<Option<Cursor>, ApiError> {
    text.map(|c| Cursor::decode(c, order).map_err(ApiError::bad_request))
        .transpose()
}

/// `next_cursor`'s JSON: the encoded cursor or `null`.
pub(super) fn next_cursor(next: Option<&Cursor>) -> String {
    next.map_or("null".into(), |c| Value::String(c.encode()).to_string())
}

/// `{"items":[…]` with `runs` as v2 runs of the selected fields; the caller closes the object.
pub(super) fn write_v2_items(out: &mut String, runs: &[(&Project, &StoredRun)], selects: &[&str]) {
    out.push_str("{\"items\":[");
    for (i, (_, run)) in runs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_v2_run(out, run, selects);
    }
    out.push(']');
}

/// `min_/max_feedback_modified_at`: bounds on the feedback the filters' feedback conditions
/// see, which they need at least one of.
fn feedback_window(
    min: Option<&str>,
    max: Option<&str>,
    filters: [&Option<Expr>; 3],
) -> Result<Option<FeedbackWindow>, ApiError> {
    let lo = parse_time("min_feedback_modified_at", min)?;
    let hi = parse_time("max_feedback_modified_at", max)?;
    if lo.is_none() && hi.is_none() {
        return Ok(None);
    }
    let on_feedback = filters.iter().filter_map(|f| f.as_ref()).any(|f| {
        f.fields()
            .iter()
            .any(|f| matches!(f, Field::FeedbackKey | Field::FeedbackScore))
    });
    if !on_feedback {
        return Err(ApiError::bad_request(
            "min_feedback_modified_at and max_feedback_modified_at need a feedback condition \
             (feedback_key or feedback_score) in filter, trace_filter or tree_filter",
        ));
    }
    Ok(Some((lo, hi)))
}

/// v1 `s3_urls` (`attachment.<name>` → `{presigned_url, …}`) as v2 `attachments`
/// (`<name>` → pre-signed URL), the inverse of the SDK's `_v2_attachments_to_schema`.
fn attachments(run: &StoredRun) -> String {
    let mut out = serde_json::Map::new();
    if let Value::Object(urls) = parsed(run, "s3_urls") {
        for (key, value) in urls {
            if let (Some(name), Some(url)) = (
                key.strip_prefix("attachment."),
                value.get("presigned_url").and_then(Value::as_str),
            ) {
                out.insert(name.to_string(), Value::String(url.to_string()));
            }
        }
    }
    Value::Object(out).to_string()
}

pub(super) fn write_v2_run(out: &mut String, run: &StoredRun, selects: &[&str]) {
    out.push('{');
    for (i, select) in selects.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key = select.to_ascii_lowercase();
        out.push('"');
        out.push_str(&key);
        out.push_str("\":");
        out.push_str(&v2_value(run, select));
    }
    out.push('}');
}

fn raw<'a>(run: &'a StoredRun, field: &str) -> &'a str {
    run.field(field).map_or("null", RawValue::get)
}

fn parsed(run: &StoredRun, field: &str) -> Value {
    run.field(field)
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .unwrap_or(Value::Null)
}

fn upper(run: &StoredRun, field: &str) -> String {
    match parsed(run, field) {
        Value::String(s) => serde_json::to_string(&s.to_ascii_uppercase()).expect("string"),
        _ => "null".into(),
    }
}

/// v2 timestamps are RFC 3339 with `Z`.
fn zoned(run: &StoredRun, field: &str) -> String {
    match parsed(run, field) {
        Value::String(s) => match crate::model::parse_timestamp(&s) {
            Some(t) => format!("\"{}\"", rfc3339(&t)),
            None => "null".into(),
        },
        _ => "null".into(),
    }
}

/// v2 costs are numbers, v1 may send decimal strings.
fn number(run: &StoredRun, field: &str) -> String {
    match parsed(run, field) {
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_or("null".into(), |f| f.to_string()),
        Value::Number(n) => n.to_string(),
        _ => "null".into(),
    }
}

fn wrapped_raw(run: &StoredRun, field: &str) -> String {
    match parsed(run, field) {
        Value::Null => "null".into(),
        Value::Object(map) => {
            // Cost details are strings in v1 and floats in v2.
            let map: serde_json::Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (
                        k,
                        s.parse::<f64>()
                            .map_or(Value::String(s), |f| serde_json::json!(f)),
                    ),
                    v => (k, v),
                })
                .collect();
            serde_json::json!({ "raw": map }).to_string()
        }
        other => serde_json::json!({ "raw": other }).to_string(),
    }
}

pub(super) fn v2_value(run: &StoredRun, select: &str) -> String {
    match select {
        "ID" => raw(run, "id").into(),
        "RUN_TYPE" => upper(run, "run_type"),
        "STATUS" => upper(run, "status"),
        "START_TIME" => zoned(run, "start_time"),
        "END_TIME" => zoned(run, "end_time"),
        "FIRST_TOKEN_TIME" => zoned(run, "first_token_time"),
        "LAST_QUEUED_AT" => zoned(run, "last_queued_at"),
        "PROJECT_ID" => raw(run, "session_id").into(),
        "IS_ROOT" => run.is_root.to_string(),
        "IS_IN_DATASET" => raw(run, "in_dataset").into(),
        "LATENCY_SECONDS" => match (parsed(run, "start_time"), parsed(run, "end_time")) {
            (Value::String(a), Value::String(b)) => {
                match (
                    crate::model::parse_timestamp(&a),
                    crate::model::parse_timestamp(&b),
                ) {
                    (Some(a), Some(b)) => {
                        ((b - a).num_microseconds().unwrap_or(0) as f64 / 1e6).to_string()
                    }
                    _ => "null".into(),
                }
            }
            _ => "null".into(),
        },
        "METADATA" => match parsed(run, "extra") {
            Value::Object(mut extra) => extra.remove("metadata").unwrap_or(Value::Null).to_string(),
            _ => "null".into(),
        },
        "ERROR_PREVIEW" => preview(run.field("error")),
        "INPUTS_PREVIEW" => preview(run.field("inputs")),
        "OUTPUTS_PREVIEW" => preview(run.field("outputs")),
        "TOTAL_COST" => number(run, "total_cost"),
        "PROMPT_COST" => number(run, "prompt_cost"),
        "COMPLETION_COST" => number(run, "completion_cost"),
        "PROMPT_TOKEN_DETAILS" => wrapped_raw(run, "prompt_token_details"),
        "COMPLETION_TOKEN_DETAILS" => wrapped_raw(run, "completion_token_details"),
        "PROMPT_COST_DETAILS" => wrapped_raw(run, "prompt_cost_details"),
        "COMPLETION_COST_DETAILS" => wrapped_raw(run, "completion_cost_details"),
        // v2 has no `*_s3_urls`: SmithDB answers with the payload itself (inferred: v2 gives
        // no other way to reach it), and attachments as name → pre-signed URL.
        "INPUTS" | "OUTPUTS" => {
            let field = select.to_ascii_lowercase();
            match (run.field(&field), run.offloaded(&field)) {
                (None, Some(blob)) => blob.get().into(),
                (Some(v), Some(blob)) if v.get() == "null" => blob.get().into(),
                (v, _) => v.map_or("null", RawValue::get).into(),
            }
        }
        "ATTACHMENTS" => attachments(run),
        "SHARE_URL" | "THREAD_EVALUATION_TIME" | "MANIFEST" => "null".into(),
        other => raw(run, &other.to_ascii_lowercase()).into(),
    }
}
