//! LangSmith's v2 traces and threads APIs (the SDK's `client.traces` and `client.threads`):
//! typed requests, and their answers as streams of pages fetched lazily through the client's
//! request path (pacing on the v2 lane, the in-flight cap, retries). Answers are read
//! tolerantly: every field is optional and unknown fields are ignored.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::client::parse_json;
use super::limiter::Lane;
use super::{Client, ClientError};
use crate::model::Run;

/// A stream of pages of items.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<Vec<T>, ClientError>> + Send>>;

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `POST /api/v2/traces/query`: the traces (root runs) of one project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracesQuery {
    pub project_id: String,
    /// Inclusive; the server defaults it to a day before `max_start_time`.
    pub min_start_time: Option<DateTime<Utc>>,
    /// Exclusive; the server defaults it to now.
    pub max_start_time: Option<DateTime<Utc>>,
    /// `RunSelectField` names; `TOTAL_TOKENS`, `TOTAL_COST` and `FIRST_TOKEN_TIME` come back
    /// as `trace_aggregates`, the rest on `root_run`. Empty = only the root's `id`.
    pub selects: Vec<String>,
    /// On the root run.
    pub trace_filter: Option<String>,
    /// On any run of the trace.
    pub tree_filter: Option<String>,
    pub trace_ids: Option<Vec<String>>,
    /// 1..=100; the server's default is 20.
    pub page_size: Option<usize>,
}

impl TracesQuery {
    pub fn body(&self, cursor: Option<&str>) -> Value {
        let mut body = Map::new();
        body.insert("project_id".into(), json!(self.project_id));
        put_window(&mut body, self.min_start_time, self.max_start_time);
        if !self.selects.is_empty() {
            // Root runs are read as runs, which need their id.
            let mut selects = self.selects.clone();
            if !selects.iter().any(|s| s == "ID") {
                selects.insert(0, "ID".into());
            }
            body.insert("selects".into(), json!(selects));
        }
        put_opt(&mut body, "trace_filter", &self.trace_filter);
        put_opt(&mut body, "tree_filter", &self.tree_filter);
        if let Some(ids) = &self.trace_ids {
            body.insert("trace_ids".into(), json!(ids));
        }
        put_page(&mut body, self.page_size, cursor);
        Value::Object(body)
    }
}

/// `POST /api/v2/threads/query`: the conversation threads of one project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadsQuery {
    pub project_id: String,
    /// Inclusive bound on thread activity (trace start times); server default: a day ago.
    pub min_start_time: Option<DateTime<Utc>>,
    /// Exclusive; server default: now.
    pub max_start_time: Option<DateTime<Utc>>,
    /// On each trace's root run.
    pub filter: Option<String>,
    /// On the thread summary.
    pub thread_filter: Option<String>,
    /// Threads with a trace whose root matches.
    pub trace_filter: Option<String>,
    /// Threads with a trace containing a matching run.
    pub tree_filter: Option<String>,
    /// 1..=100; the server's default is 20.
    pub page_size: Option<usize>,
}

impl ThreadsQuery {
    pub fn body(&self, cursor: Option<&str>) -> Value {
        let mut body = Map::new();
        body.insert("project_id".into(), json!(self.project_id));
        put_window(&mut body, self.min_start_time, self.max_start_time);
        put_opt(&mut body, "filter", &self.filter);
        put_opt(&mut body, "thread_filter", &self.thread_filter);
        put_opt(&mut body, "trace_filter", &self.trace_filter);
        put_opt(&mut body, "tree_filter", &self.tree_filter);
        put_page(&mut body, self.page_size, cursor);
        Value::Object(body)
    }
}

/// `GET /api/v2/threads/{thread_id}/traces`: one thread's traces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadTracesQuery {
    pub project_id: String,
    pub thread_id: String,
    /// `ThreadTraceSelectField` names; empty = only `trace_id`.
    pub selects: Vec<String>,
    pub filter: Option<String>,
    pub trace_filter: Option<String>,
    pub tree_filter: Option<String>,
    /// 1..=100; the server's default is 20.
    pub page_size: Option<usize>,
}

impl ThreadTracesQuery {
    pub fn path(&self, cursor: Option<&str>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("project_id", &self.project_id);
        for s in &self.selects {
            q.append_pair("selects", s);
        }
        for (k, v) in [
            ("filter", &self.filter),
            ("trace_filter", &self.trace_filter),
            ("tree_filter", &self.tree_filter),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        if let Some(n) = self.page_size {
            q.append_pair("page_size", &n.to_string());
        }
        if let Some(c) = cursor {
            q.append_pair("cursor", c);
        }
        format!(
            "/api/v2/threads/{}/traces?{}",
            segment(&self.thread_id),
            q.finish()
        )
    }
}

/// `GET /api/v2/traces/{trace_id}/runs`: the runs of one trace, in start-time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceRunsQuery {
    pub project_id: String,
    pub trace_id: String,
    /// `RunSelectField` names; empty = only `id`.
    pub selects: Vec<String>,
    pub filter: Option<String>,
    /// Inclusive bounds on run start times, sent only as a pair (the API wants both or none).
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl TraceRunsQuery {
    pub fn path(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("project_id", &self.project_id);
        for s in &self.selects {
            q.append_pair("selects", s);
        }
        if let Some(f) = &self.filter {
            q.append_pair("filter", f);
        }
        if let Some((min, max)) = &self.window {
            q.append_pair("min_start_time", &time(min));
            q.append_pair("max_start_time", &time(max));
        }
        format!(
            "/api/v2/traces/{}/runs?{}",
            segment(&self.trace_id),
            q.finish()
        )
    }
}

fn put_opt(body: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        body.insert(key.into(), json!(v));
    }
}

fn put_window(
    body: &mut Map<String, Value>,
    min: Option<DateTime<Utc>>,
    max: Option<DateTime<Utc>>,
) {
    if let Some(t) = min {
        body.insert("min_start_time".into(), json!(time(&t)));
    }
    if let Some(t) = max {
        body.insert("max_start_time".into(), json!(time(&t)));
    }
}

fn put_page(body: &mut Map<String, Value>, page_size: Option<usize>, cursor: Option<&str>) {
    if let Some(n) = page_size {
        body.insert("page_size".into(), json!(n.clamp(1, 100)));
    }
    if let Some(c) = cursor {
        body.insert("cursor".into(), json!(c));
    }
}

/// A path segment, percent-encoded.
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// One item of `traces/query`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Trace {
    #[serde(default)]
    pub root_run: Option<Run>,
    #[serde(default)]
    pub trace_aggregates: Option<TraceAggregates>,
}

/// Trace-wide aggregates (only those selected are present).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TraceAggregates {
    #[serde(default)]
    pub total_tokens: Option<i64>,
    #[serde(default)]
    pub total_cost: Option<f64>,
    #[serde(default)]
    pub first_token_time: Option<DateTime<Utc>>,
}

/// One item of `threads/query`. Detail maps and feedback stay raw JSON.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Thread {
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub count: Option<i64>,
    #[serde(default)]
    pub first_trace_id: Option<String>,
    #[serde(default)]
    pub last_trace_id: Option<String>,
    #[serde(default)]
    pub min_start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub max_start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub total_tokens: Option<i64>,
    #[serde(default)]
    pub total_cost: Option<f64>,
    #[serde(default)]
    pub num_errored_turns: Option<i64>,
    #[serde(default)]
    pub latency_p50: Option<f64>,
    #[serde(default)]
    pub latency_p99: Option<f64>,
    #[serde(default)]
    pub first_inputs: Option<String>,
    #[serde(default)]
    pub last_outputs: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub total_token_details: Option<Box<RawValue>>,
    #[serde(default)]
    pub total_cost_details: Option<Box<RawValue>>,
    #[serde(default)]
    pub feedback_stats: Option<Box<RawValue>>,
}

/// One item of `threads/{thread_id}/traces` (only selected fields are present).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ThreadTrace {
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub turn_number: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub latency: Option<f64>,
    #[serde(default)]
    pub first_token_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub total_tokens: Option<i64>,
    #[serde(default)]
    pub prompt_tokens: Option<i64>,
    #[serde(default)]
    pub completion_tokens: Option<i64>,
    #[serde(default)]
    pub total_cost: Option<f64>,
    #[serde(default)]
    pub prompt_cost: Option<f64>,
    #[serde(default)]
    pub completion_cost: Option<f64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub inputs: Option<Box<RawValue>>,
    #[serde(default)]
    pub outputs: Option<Box<RawValue>>,
    #[serde(default)]
    pub inputs_preview: Option<String>,
    #[serde(default)]
    pub outputs_preview: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct ItemsPage<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// What a v2-only route's 404 means here: the deployment has no SmithDB v2 API at all.
fn explain_missing(e: ClientError) -> ClientError {
    match e {
        ClientError::ApiMissing {
            endpoint,
            status,
            what,
            ..
        } => ClientError::Unsupported(format!(
            "LangSmith at {endpoint} does not serve the v2 traces and threads API ({status} \
             for {what}): it needs a SmithDB deployment (LangSmith Cloud, or self-hosted \
             0.16 or later)"
        )),
        other => other,
    }
}

impl Client {
    /// Pages of an items/next_cursor endpoint, fetched lazily on the v2 lane; `request` gives
    /// the method, path and body of the page after a cursor.
    fn item_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        request: impl Fn(Option<&str>) -> (&'static str, String, Option<Value>) + Send + Sync + 'static,
    ) -> ItemStream<T> {
        struct State<F> {
            client: Client,
            request: F,
            cursor: Option<String>,
            done: bool,
        }
        let state = State {
            client: self.clone(),
            request,
            cursor: None,
            done: false,
        };
        Box::pin(futures::stream::try_unfold(state, |mut st| async move {
            if st.done {
                return Ok(None);
            }
            let (method, path, body) = (st.request)(st.cursor.as_deref());
            let page: ItemsPage<T> = st
                .client
                .request(&[Lane::V2], method, &path, body, parse_json)
                .await
                .map_err(explain_missing)?;
            st.done =
                page.items.is_empty() || page.next_cursor.as_deref().is_none_or(str::is_empty);
            st.cursor = page.next_cursor;
            if page.items.is_empty() {
                return Ok(None);
            }
            Ok(Some((page.items, st)))
        }))
    }

    /// `POST /api/v2/traces/query`, every page.
    pub fn query_traces(&self, query: TracesQuery) -> ItemStream<Trace> {
        self.item_pages(move |cursor| {
            (
                "POST",
                "/api/v2/traces/query".into(),
                Some(query.body(cursor)),
            )
        })
    }

    /// `POST /api/v2/threads/query`, every page.
    pub fn query_threads(&self, query: ThreadsQuery) -> ItemStream<Thread> {
        self.item_pages(move |cursor| {
            (
                "POST",
                "/api/v2/threads/query".into(),
                Some(query.body(cursor)),
            )
        })
    }

    /// `GET /api/v2/threads/{thread_id}/traces`, every page.
    pub fn thread_traces(&self, query: ThreadTracesQuery) -> ItemStream<ThreadTrace> {
        self.item_pages(move |cursor| ("GET", query.path(cursor), None))
    }

    /// `GET /api/v2/traces/{trace_id}/runs`: one page (the endpoint has no cursor), as a
    /// stream like the others.
    pub fn trace_runs(&self, query: TraceRunsQuery) -> ItemStream<Run> {
        self.item_pages(move |_| ("GET", query.path(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_paths_carry_what_is_set() {
        let q = TracesQuery {
            project_id: "p".into(),
            selects: vec!["NAME".into(), "TOTAL_TOKENS".into()],
            page_size: Some(500),
            ..Default::default()
        };
        assert_eq!(
            q.body(Some("c")),
            json!({"project_id": "p", "selects": ["ID", "NAME", "TOTAL_TOKENS"], "page_size": 100, "cursor": "c"})
        );
        let t = ThreadTracesQuery {
            project_id: "p".into(),
            thread_id: "a b/c".into(),
            selects: vec!["TRACE_ID".into(), "NAME".into()],
            filter: Some("eq(status, \"error\")".into()),
            ..Default::default()
        };
        assert_eq!(
            t.path(None),
            "/api/v2/threads/a%20b%2Fc/traces?project_id=p&selects=TRACE_ID&selects=NAME&filter=eq%28status%2C+%22error%22%29"
        );
    }

    #[test]
    fn items_are_read_tolerantly() {
        let page: ItemsPage<Trace> = serde_json::from_str(
            r#"{"items":[{"root_run":{"id":"r","name":"x","surprise":1},"trace_aggregates":{"total_tokens":5,"first_token_time":"2025-01-01T00:00:00Z"},"query_metadata":null}],"next_cursor":null,"extra":true}"#,
        )
        .unwrap();
        let t = &page.items[0];
        assert_eq!(t.root_run.as_ref().unwrap().id, "r");
        assert_eq!(t.trace_aggregates.as_ref().unwrap().total_tokens, Some(5));
        assert!(
            t.trace_aggregates
                .as_ref()
                .unwrap()
                .first_token_time
                .is_some()
        );
    }
}
