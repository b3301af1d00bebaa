//! `[source] fetch_offloaded = true`: runs whose `inputs` / `outputs` LangSmith offloaded to
//! object storage get them back. Wraps any source; for each run of a page whose payload is
//! null (or absent) while `<field>_s3_urls` points at it, GETs the pre-signed URL through the
//! client ([`Client::get_presigned`]: retries, pacing, no credentials) and fills the field.
//!
//! Shapes read (`<field>_s3_urls`; only `ROOT` is what the LangSmith backend is known to
//! write, the rest is tolerance):
//! * `{"ROOT": {"presigned_url": URL, "s3_url": …}}` — the payload at `ROOT`;
//! * `{"ROOT": URL}` — a bare URL string;
//! * without `ROOT`, a map holding exactly one entry of either kind;
//! * URL absolute `http(s)://…`, or relative `/…` (resolved against the endpoint, as the
//!   SDK resolves relative pre-signed URLs).
//!
//! Anything else (null, `{}`, several entries without `ROOT`, an entry without a
//! `presigned_url`) leaves the run as it is: its URLs stay in the output. A payload that
//! cannot be fetched (403, 404, still failing after retries) or is not JSON sets the run
//! aside (a rejected record naming the field, the URL without its signature and the
//! answer), like any unreadable run; the load goes on under `[load] max_rejected`.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{RunSource, Source};
use crate::langsmith::{
    Client, ClientError, FeedbackPageStream, FeedbackQuery, ItemStream, Lane, PageStream,
    RunsQuery, StatsSnapshot, Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery, Trace,
    TracesQuery,
};
use crate::model::{Maybe, Page, Rejected, Run};

/// Payload fetches in flight per page at most (the client caps requests overall).
const FETCHES: usize = 16;

/// A source whose runs get their offloaded payloads back.
pub struct OffloadedPayloads {
    inner: Source,
    client: Client,
}

impl OffloadedPayloads {
    pub fn new(inner: Source, client: Client) -> OffloadedPayloads {
        OffloadedPayloads { inner, client }
    }

    fn filled(&self, pages: PageStream) -> PageStream {
        let client = self.client.clone();
        let origin = self.inner.origin();
        Box::pin(pages.and_then(move |page| fill_page(client.clone(), origin.clone(), page)))
    }
}

/// The pre-signed URL of a `*_s3_urls` value, when it names exactly one payload.
pub fn payload_url(urls: &RawValue) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(urls.get()) else {
        return None;
    };
    let entry = match map.get("ROOT") {
        Some(root) => root,
        None if map.len() == 1 => map.values().next()?,
        None => return None,
    };
    match entry {
        Value::String(url) => Some(url.clone()),
        Value::Object(e) => e.get("presigned_url")?.as_str().map(str::to_string),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) => None,
    }
}

async fn fill_page(client: Client, origin: String, page: Page) -> Result<Page, ClientError> {
    let Page { runs, mut rejected } = page;
    let filled: Vec<Result<Run, Rejected>> = futures::stream::iter(runs)
        .map(|run| fill_run(&client, &origin, run))
        .buffered(FETCHES)
        .collect()
        .await;
    let mut runs = Vec::with_capacity(filled.len());
    for r in filled {
        match r {
            Ok(run) => runs.push(run),
            Err(bad) => rejected.push(bad),
        }
    }
    Ok(Page { runs, rejected })
}

/// `run` with its offloaded payloads, or set aside when one cannot be fetched.
async fn fill_run(client: &Client, origin: &str, mut run: Run) -> Result<Run, Rejected> {
    for field in ["inputs", "outputs"] {
        let (payload, urls) = match field {
            "inputs" => (&run.inputs, &run.inputs_s3_urls),
            _ => (&run.outputs, &run.outputs_s3_urls),
        };
        let offloaded = matches!(payload, Maybe::Absent | Maybe::Null);
        let Some(url) = urls
            .value()
            .filter(|_| offloaded)
            .and_then(|u| payload_url(u))
        else {
            continue;
        };
        let shown = crate::langsmith::without_query(&url).to_string();
        let fetched = client.get_presigned(&url).await.and_then(|bytes| {
            let text = std::str::from_utf8(&bytes).map_err(|_| ClientError::Offloaded {
                url: shown.clone(),
                status: None,
                detail: "the payload is not UTF-8".into(),
            })?;
            RawValue::from_string(text.to_string()).map_err(|e| ClientError::Offloaded {
                url: shown.clone(),
                status: None,
                detail: format!("the payload is not JSON: {e}"),
            })
        });
        match fetched {
            Ok(value) => match field {
                "inputs" => run.inputs = Maybe::Value(value),
                _ => run.outputs = Maybe::Value(value),
            },
            Err(e) => {
                let record = serde_json::to_string(&run).expect("a run serializes");
                return Err(Rejected::new(
                    format!("{origin}, {field}_s3_urls"),
                    &record,
                    format!("field `{field}`: {e}"),
                ));
            }
        }
    }
    Ok(run)
}

impl RunSource for OffloadedPayloads {
    fn origin(&self) -> String {
        self.inner.origin()
    }

    fn resolve_project<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, ClientError>> {
        self.inner.resolve_project(name)
    }

    fn query(&self, query: RunsQuery, split: bool) -> PageStream {
        self.filled(self.inner.query(query, split))
    }

    fn fetch_by_ids(&self, base: &RunsQuery, ids: Vec<String>) -> PageStream {
        self.filled(self.inner.fetch_by_ids(base, ids))
    }

    fn feedback(&self, query: FeedbackQuery) -> FeedbackPageStream {
        self.inner.feedback(query)
    }

    // Trace and thread summaries come from v2, which sends payloads inline.
    fn traces(&self, query: TracesQuery) -> ItemStream<Trace> {
        self.inner.traces(query)
    }

    fn threads(&self, query: ThreadsQuery) -> ItemStream<Thread> {
        self.inner.threads(query)
    }

    fn thread_traces(&self, query: ThreadTracesQuery) -> ItemStream<ThreadTrace> {
        self.inner.thread_traces(query)
    }

    fn batch_size<'a>(&'a self, base: &'a RunsQuery) -> BoxFuture<'a, Result<usize, ClientError>> {
        self.inner.batch_size(base)
    }

    fn stats(&self) -> StatsSnapshot {
        self.inner.stats()
    }

    fn lane_limits(&self) -> (Vec<(Lane, Option<u32>)>, Duration) {
        self.inner.lane_limits()
    }
}

#[cfg(test)]
mod tests {
    use super::payload_url;

    fn url(text: &str) -> Option<String> {
        payload_url(&serde_json::value::RawValue::from_string(text.into()).unwrap())
    }

    #[test]
    fn reads_root_bare_and_single_entries_and_refuses_the_rest() {
        let root = r#"{"ROOT": {"presigned_url": "https://s3/x?X-Amz-Signature=1", "s3_url": "s3://b/x"}}"#;
        assert_eq!(url(root).as_deref(), Some("https://s3/x?X-Amz-Signature=1"));
        assert_eq!(
            url(r#"{"ROOT": "/_blobs/k?s=1"}"#).as_deref(),
            Some("/_blobs/k?s=1")
        );
        assert_eq!(
            url(r#"{"other": {"presigned_url": "https://h/p"}}"#).as_deref(),
            Some("https://h/p")
        );
        for refused in [
            "null",
            "{}",
            r#"{"a": "https://h/1", "b": "https://h/2"}"#,
            r#"{"ROOT": {"s3_url": "s3://b/x"}}"#,
            r#"{"ROOT": 5}"#,
            r#"["https://h/p"]"#,
        ] {
            assert_eq!(url(refused), None, "{refused}");
        }
    }
}
