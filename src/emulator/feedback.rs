//! `GET /api/v1/feedback` (also `/feedback`) and `GET /api/v1/feedback/{id}`: feedback
//! entries, as the SDK's `Client.list_feedback` / `read_feedback` call them.
//!
//! Query parameters (LangSmith's `FeedbackListParams`; repeated keys make lists, unknown keys
//! are ignored as FastAPI does): `run`, `key`, `session`, `source` (`api`, `model`, `app`,
//! `auto_eval`), `user` (matches `feedback_source.user_id`), `has_comment`, `has_score`,
//! `min_created_at`, `max_created_at` (inclusive), `level` (`run`; `session` lists nothing:
//! there is no session-level feedback here), `comparative_experiment_id` (lists nothing),
//! `include_user_names` (ignored), `limit` (1–100, default 100) and `offset` (≥ 0). Invalid
//! values answer 422. The SDK stops paging at a page shorter than `limit`.
//!
//! Order: newest first (`created_at`, then id, descending), so offsets shift when entries are
//! added between pages, as offset pagination does. The answer is a bare JSON array of
//! entries: `id`, `created_at`, `modified_at` (RFC 3339, `+00:00`), `session_id`, `run_id`,
//! `trace_id`, `start_time` (the run's), `key`, `score`, `value`, `comment`, `correction`,
//! `feedback_source` (`{type, metadata, …}`), `feedback_group_id`,
//! `comparative_experiment_id`, `extra`.
//!
//! Note: `list_feedback(feedback_source_type=[FeedbackSourceType.MODEL])` sends
//! `source=FeedbackSourceType.MODEL` (requests formats the enum with `str`); like LangSmith's
//! validation, that answers 422. Pass the plain strings (`"model"`).
//!
//! Where entries come from (the runs' `feedback` lists, `feedback_stats`, or a
//! `<runs file base>.feedback.jsonl` sidecar) is described in `runstore::feedback`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::runstore::FeedbackFilter;
use crate::runstore::feedback::SOURCE_TYPES;

pub async fn list(
    State(app): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (filter, offset, limit) = parse_params(query.as_deref().unwrap_or(""))?;
    let store = app.store.read();
    let entries: Vec<serde_json::Value> = store
        .list_feedback(&filter, offset, limit)
        .into_iter()
        .map(|e| e.to_json())
        .collect();
    Ok(axum::Json(entries).into_response())
}

pub async fn read(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = app.store.read();
    match store.feedback_by_id(&id) {
        Some(e) => Ok(axum::Json(e.to_json()).into_response()),
        None => Err(ApiError::not_found("Feedback not found")),
    }
}

fn parse_params(query: &str) -> Result<(FeedbackFilter, usize, usize), ApiError> {
    let invalid = |param: &str, msg: String| ApiError::validation(&["query", param], msg);
    let mut filter = FeedbackFilter::default();
    let (mut offset, mut limit) = (0usize, 100usize);
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        let push =
            |list: &mut Option<Vec<String>>, v: String| list.get_or_insert_with(Vec::new).push(v);
        match &*name {
            "run" | "session" => {
                if uuid::Uuid::parse_str(&value).is_err() {
                    return Err(invalid(
                        &name,
                        format!("Input should be a valid UUID, got {value:?}"),
                    ));
                }
                let list = if name == "run" {
                    &mut filter.runs
                } else {
                    &mut filter.sessions
                };
                push(list, value);
            }
            "key" => push(&mut filter.keys, value),
            "user" => push(&mut filter.users, value),
            "source" => {
                if !SOURCE_TYPES.contains(&value.as_str()) {
                    return Err(invalid(
                        "source",
                        format!("Input should be one of {SOURCE_TYPES:?}, got {value:?}"),
                    ));
                }
                push(&mut filter.sources, value);
            }
            "has_comment" => filter.has_comment = Some(boolean(&name, &value)?),
            "has_score" => filter.has_score = Some(boolean(&name, &value)?),
            "include_user_names" => {
                boolean(&name, &value)?;
            }
            "min_created_at" | "max_created_at" => {
                let us = super::parse_time(&name, Some(&value)).map_err(|_| {
                    invalid(
                        &name,
                        format!("Input should be a valid datetime, got {value:?}"),
                    )
                })?;
                if name == "min_created_at" {
                    filter.min_created_us = us;
                } else {
                    filter.max_created_us = us;
                }
            }
            "level" => match value.as_str() {
                "run" => {}
                "session" => filter.nothing = true,
                _ => {
                    return Err(invalid(
                        "level",
                        format!("Input should be 'run' or 'session', got {value:?}"),
                    ));
                }
            },
            "comparative_experiment_id" => filter.nothing = true,
            "limit" => {
                limit = match value.parse::<i64>() {
                    Ok(n @ 1..=100) => n as usize,
                    _ => {
                        return Err(invalid(
                            "limit",
                            format!("Input should be an integer from 1 to 100, got {value:?}"),
                        ));
                    }
                }
            }
            "offset" => {
                offset = value.parse::<usize>().map_err(|_| {
                    invalid(
                        "offset",
                        format!("Input should be an integer ≥ 0, got {value:?}"),
                    )
                })?
            }
            _ => {}
        }
    }
    Ok((filter, offset, limit))
}

/// A query bool as pydantic reads one.
fn boolean(param: &str, value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ApiError::validation(
            &["query", param],
            format!("Input should be a valid boolean, got {value:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_repeat_validate_and_default() {
        let (f, offset, limit) = parse_params(
            "run=0198c2a1-5e10-7a3b-9c11-2b6f0e4d7a01&run=0198c2a1-5e10-7a3b-9c11-2b6f0e4d7a02\
             &key=a&key=b%20c&source=model&has_comment=True&offset=5&limit=7&whatever=1",
        )
        .unwrap();
        assert_eq!(f.runs.unwrap().len(), 2);
        assert_eq!(f.keys.unwrap(), ["a", "b c"]);
        assert_eq!(f.sources.unwrap(), ["model"]);
        assert_eq!(f.has_comment, Some(true));
        assert_eq!((offset, limit), (5, 7));
        assert_eq!(parse_params("").unwrap().2, 100);
        for bad in [
            "limit=101",
            "limit=0",
            "run=nope",
            "source=FeedbackSourceType.MODEL",
            "has_score=maybe",
            "min_created_at=yesterday",
        ] {
            let e = parse_params(bad).unwrap_err();
            assert_eq!(e.status.as_u16(), 422, "{bad}");
        }
    }
}
