//! v1 routes: `/info`, `/sessions`, `/runs/query` (served with and without `/api/v1`).

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::{AppState, json_response, parse_body, parse_filter, parse_time};
use crate::emulator::limits;
use crate::langsmith::fields::{RUN_TYPES, V1_DEFAULT, V1_SELECTABLE};
use crate::runstore::{Cursor, Order, Project, RunQuery, write_v1_run};

pub async fn info(State(app): State<Arc<AppState>>) -> Response {
    let (ch, sdb) = (
        app.config.deployment.has_v1(),
        app.config.deployment.has_v2(),
    );
    axum::Json(json!({
        "version": concat!("0.12.0+runlake-emulator.", env!("CARGO_PKG_VERSION")),
        "license_expiration_time": null,
        "instance_flags": {
            "ch_query_enabled": ch,
            "sdb_query_enabled": sdb,
            "dataset_examples_multipart_enabled": true,
        },
        "batch_ingest_config": {
            "size_limit": 100, "size_limit_bytes": 20_971_520, "use_multipart_endpoint": true,
            "scale_up_qsize_trigger": 1000, "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4,
        },
        "customer_info": null,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub struct SessionsParams {
    name: Option<String>,
    name_contains: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

pub async fn sessions(
    State(app): State<Arc<AppState>>,
    Query(params): Query<SessionsParams>,
) -> Response {
    let limit = params.limit.unwrap_or(100);
    let list: Vec<_> = app
        .store
        .read()
        .projects
        .iter()
        .filter(|p| params.name.as_ref().is_none_or(|n| *n == p.name))
        .filter(|p| {
            params
                .name_contains
                .as_ref()
                .is_none_or(|n| p.name.contains(n.as_str()))
        })
        .skip(params.offset.unwrap_or(0))
        .take(limit)
        .map(|p| session_json(&app, p))
        .collect();
    axum::Json(list).into_response()
}

pub async fn session_by_id(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match app.store.read().project_by_id(&id) {
        Some(p) => axum::Json(session_json(&app, p)).into_response(),
        None => ApiError::not_found("Session not found").into_response(),
    }
}

fn session_json(app: &AppState, p: &Project) -> serde_json::Value {
    let start = crate::model::Timestamp::from_micros(p.start_us)
        .map(|t| crate::model::format_naive_micros(&t.0));
    json!({
        "id": p.id, "name": p.name, "start_time": start, "end_time": null,
        "description": null, "extra": null, "tenant_id": app.config.tenant_id(),
        "reference_dataset_id": null, "default_dataset_id": null,
    })
}

/// `BodyParamsForRunsQuerySchema`. Unknown keys are ignored, as FastAPI does.
#[derive(Debug, Default, Deserialize)]
pub struct V1Body {
    session: Option<Vec<String>>,
    id: Option<Vec<String>>,
    trace: Option<String>,
    parent_run: Option<String>,
    run_type: Option<String>,
    reference_example: Option<Vec<String>>,
    start_time: Option<String>,
    end_time: Option<String>,
    error: Option<bool>,
    query: Option<String>,
    filter: Option<String>,
    trace_filter: Option<String>,
    tree_filter: Option<String>,
    is_root: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
    select: Option<Vec<String>>,
    order: Option<String>,
}

pub async fn runs_query(
    State(app): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !app.config.deployment.has_v1() {
        return Err(ApiError::detail(
            StatusCode::NOT_IMPLEMENTED,
            "Run query via /runs/query is not available on this deployment; use /api/v2/runs/query",
        ));
    }
    let body: V1Body = parse_body(&body)?;
    if body.query.is_some() {
        return Err(ApiError::bad_request(
            "Natural-language `query` is not supported by runlake emulate",
        ));
    }
    if body.reference_example.is_some() {
        return Err(ApiError::bad_request(
            "`reference_example` is not supported by runlake emulate",
        ));
    }
    let limit = match body.limit {
        None => 100,
        Some(n) if n > 100 => {
            return Err(ApiError::bad_request(
                "Limit exceeds maximum allowed value of 100",
            ));
        }
        Some(n) if n < 1 => {
            return Err(ApiError::validation(
                &["body", "limit"],
                "Input should be greater than or equal to 1",
            ));
        }
        Some(n) => n as usize,
    };
    let order = match body.order.as_deref() {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(other) => {
            return Err(ApiError::validation(
                &["body", "order"],
                format!("Input should be 'asc' or 'desc', got {other:?}"),
            ));
        }
    };
    if let Some(t) = &body.run_type
        && !RUN_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::validation(
            &["body", "run_type"],
            format!("Input should be one of {RUN_TYPES:?}"),
        ));
    }
    let select: Vec<&str> = match &body.select {
        None => V1_DEFAULT.to_vec(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (i, name) in list.iter().enumerate() {
                match V1_SELECTABLE.iter().find(|s| **s == name.as_str()) {
                    Some(s) => out.push(*s),
                    None => {
                        return Err(ApiError::validation(
                            &["body", "select", &i.to_string()],
                            format!("Input should be a valid RunSelect, got {name:?}"),
                        ));
                    }
                }
            }
            out
        }
    };
    let filter = parse_filter("filter", body.filter.as_deref())?;
    let trace_filter = parse_filter("trace_filter", body.trace_filter.as_deref())?;
    let tree_filter = parse_filter("tree_filter", body.tree_filter.as_deref())?;
    let min_start_us = parse_time("start_time", body.start_time.as_deref())?;
    let max_start_us = parse_time("end_time", body.end_time.as_deref())?;

    // Rate limits depend on the query's shape: its window and whether it searches.
    let window_secs = min_start_us.map(|lo| (max_start_us.unwrap_or_else(now_us) - lo) / 1_000_000);
    let searches = [&filter, &trace_filter, &tree_filter]
        .iter()
        .any(|f| f.as_ref().is_some_and(|e| e.uses_search()));
    let children = select.contains(&"child_run_ids");
    app.check_rate(
        &headers,
        &[
            (limits::V1_QUERY_PER_KEY, super::Identity::Key),
            (
                limits::v1_tenant_tier(window_secs, searches, children),
                super::Identity::Tenant,
            ),
        ],
    )?;

    // Run ids "ignore all other filtering arguments", the project included (docs).
    let store = app.store.read();
    let projects = match &body.session {
        _ if body.id.is_some() => store.projects.iter().collect(),
        None => store.projects.iter().collect(),
        Some(ids) => {
            let mut out = Vec::new();
            for id in ids {
                out.push(
                    store
                        .project_by_id(id)
                        .ok_or_else(|| ApiError::not_found(format!("Session not found: {id}")))?,
                );
            }
            out
        }
    };
    let query = RunQuery {
        projects,
        ids: body.id.map(|ids| ids.into_iter().collect::<HashSet<_>>()),
        ids_ignore_filters: true,
        trace: body.trace,
        parent_run: body.parent_run,
        run_type: body.run_type,
        is_root: body.is_root,
        error: body.error,
        min_start_us,
        max_start_us,
        filter,
        trace_filter,
        tree_filter,
        order,
        feedback_modified: None,
    };
    let after = body
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, order).map_err(ApiError::bad_request))
        .transpose()?;
    let page = query.page(after.as_ref(), limit);

    let mut out = String::with_capacity(page.runs.len() * 2048 + 128);
    out.push_str("{\"runs\":[");
    for (i, (project, run)) in page.runs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_v1_run(&mut out, project, run, &select);
    }
    out.push_str("],\"cursors\":{\"next\":");
    match &page.next {
        Some(c) => out.push_str(&serde_json::to_string(&c.encode()).expect("string")),
        None => out.push_str("null"),
    }
    out.push_str(",\"prev\":null},\"search_cursors\":null,\"parsed_query\":null}");
    app.stats.add_runs(page.runs.len());
    Ok(json_response(out))
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
