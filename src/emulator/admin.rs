//! `/_admin/…`: change the served data while the emulator runs, so late-arriving data can be
//! tested end to end. Like `/_stats`, these routes are the emulator's own: no
//! authentication, no rate limits, no injected faults, not counted in the stats. The same
//! changes are available in process through [`super::Emulator::store`].
//!
//! * `POST /_admin/runs`: insert or replace runs. Body: runs in the JSONL run format (v1 run
//!   JSON with `session_id`), as a JSON array, one object, or JSONL. A pending run completes
//!   by posting it again with its `end_time`, `status`, `outputs`; a new trace arrives by
//!   posting its runs. A replaced run keeps its feedback entries and `feedback_stats` unless
//!   the body carries a `feedback` list; a run of an unknown `session_id` starts a project
//!   named by that id. All or none. Answers `{"inserted": n, "updated": n}`.
//! * `POST /_admin/feedback`: add entries. Body: one entry or an array, each
//!   `{run_id, key, score?, value?, comment?, correction?, feedback_source? | feedback_source_type?,
//!   extra?, id?, created_at?, modified_at?}`; `created_at` defaults to now, `modified_at`
//!   to `created_at`. The run's `feedback_stats` is recomputed. Answers the entries as
//!   `GET /api/v1/feedback` shows them.
//! * `PATCH /_admin/feedback/{id}`: edit an entry. Body: any of `score`, `value`, `comment`,
//!   `correction`, `key` (present fields are set, null included) and `modified_at` (default
//!   now; always later than before). The run's `feedback_stats` is recomputed. Answers the
//!   entry.
//!
//! Errors: 400 for a malformed body or run, 404 for an unknown run or entry, 409 for an entry
//! id already used.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use bytes::Bytes;
use serde_json::value::RawValue;

use super::AppState;
use super::error::ApiError;
use crate::runstore::{ChangeError, FeedbackInput, FeedbackPatch};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_admin/runs", post(upsert_runs))
        .route("/_admin/feedback", post(add_feedback))
        .route("/_admin/feedback/{id}", patch(edit_feedback))
}

fn refused(e: ChangeError) -> ApiError {
    let status = match e {
        ChangeError::NotFound(_) => StatusCode::NOT_FOUND,
        ChangeError::Conflict(_) => StatusCode::CONFLICT,
        ChangeError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    ApiError::detail(status, e.to_string())
}

fn text(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|_| ApiError::bad_request("body is not UTF-8"))
}

async fn upsert_runs(State(app): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let body = text(&body)?.trim();
    let runs: Vec<Box<RawValue>> = if body.starts_with('[') {
        serde_json::from_str(body)
            .map_err(|e| ApiError::bad_request(format!("body is not a JSON array: {e}")))?
    } else if let Ok(one) = serde_json::from_str::<Box<RawValue>>(body) {
        vec![one]
    } else {
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| ApiError::bad_request(format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<_, _>>()?
    };
    let done = app
        .store
        .upsert_runs(runs.iter().map(|r| r.get()))
        .map_err(refused)?;
    Ok(axum::Json(done).into_response())
}

async fn add_feedback(State(app): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let body = text(&body)?.trim();
    let inputs: Vec<FeedbackInput> = if body.starts_with('[') {
        serde_json::from_str(body)
    } else {
        serde_json::from_str(body).map(|one| vec![one])
    }
    .map_err(|e| ApiError::bad_request(format!("not feedback: {e}")))?;
    let entries = app.store.add_feedback(inputs).map_err(refused)?;
    let json: Vec<serde_json::Value> = entries.iter().map(|e| e.to_json()).collect();
    Ok(axum::Json(json).into_response())
}

async fn edit_feedback(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let patch: FeedbackPatch = serde_json::from_str(text(&body)?)
        .map_err(|e| ApiError::bad_request(format!("not a feedback edit: {e}")))?;
    let entry = app.store.edit_feedback(&id, patch).map_err(refused)?;
    Ok(axum::Json(entry.to_json()).into_response())
}
