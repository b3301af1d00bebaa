use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer in LangSmith's (FastAPI's) shape: `{"detail": …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn detail(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "detail": detail.into() }),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::NOT_FOUND, detail)
    }

    /// FastAPI's 422: `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`.
    pub fn validation(loc: &[&str], msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "detail": [{ "loc": loc, "msg": msg.into(), "type": "value_error" }] }),
            retry_after: None,
        }
    }

    pub fn rate_limited(retry_after: std::time::Duration, rule: &str) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({ "detail": format!("Too many requests: rate limit '{rule}' exceeded") }),
            retry_after: Some(retry_after),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(wait) = self.retry_after {
            // HTTP wants whole seconds; the millisecond header (as Stainless clients read it)
            // keeps sped-up emulator windows precise.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            headers.insert(
                "retry-after-ms",
                HeaderValue::from(wait.as_millis().max(1) as u64),
            );
        }
        response
    }
}
