//! `GET /_blobs/{key}`: the object store behind the pre-signed URLs of offloaded payloads
//! (`inputs_s3_urls` / `outputs_s3_urls` → `ROOT.presigned_url`, `s3_urls` →
//! `attachment.<name>.presigned_url`). A line of a served file carries its payloads in the
//! emulator's `blobs` extension key (`{"<key>": <JSON payload>}`), and its URLs point here.
//!
//! Like S3 answering a pre-signed GET: no API key is needed (a URL carries its own
//! signature), a URL without an `X-Amz-Signature` is refused with 403 `AccessDenied`, an
//! unknown key is 404 `NoSuchKey`. Requests are counted in `/_stats` under
//! `GET /_blobs/{*key}`, and those that arrived with an `x-api-key` header — which a client
//! should never send to an object store — also under `GET /_blobs/{*key} with x-api-key`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

pub const ROUTE: &str = "GET /_blobs/{*key}";

pub async fn get_blob(
    State(app): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key("x-api-key") {
        app.stats
            .record(&format!("{ROUTE} with x-api-key"), "sent", 0);
    }
    let signed = query.as_deref().is_some_and(|q| {
        q.split('&').any(|kv| {
            kv.strip_prefix("X-Amz-Signature=")
                .is_some_and(|v| !v.is_empty())
        })
    });
    let (status, body, content_type) = if !signed {
        (
            StatusCode::FORBIDDEN,
            s3_error("AccessDenied", "Request has no signature"),
            "application/xml",
        )
    } else {
        match app.store.read().blob(&key) {
            Some(blob) => (StatusCode::OK, blob.get().to_string(), "application/json"),
            None => (
                StatusCode::NOT_FOUND,
                s3_error("NoSuchKey", "The specified key does not exist."),
                "application/xml",
            ),
        }
    };
    app.stats.record(ROUTE, status.as_str(), body.len() as u64);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn s3_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
}
