//! Feedback entries: `GET /api/v1/feedback` (what the SDK's `list_feedback` calls) and
//! `GET /api/v1/feedback/{id}`, through the client's pacing (the `Other` lane: LangSmith
//! publishes no feedback-specific limit, so the per-key catch-all applies), in-flight cap and
//! retries.
//!
//! Paging is by offset: `limit` ≤ 100 per page, and a page shorter than `limit` is the last
//! (as the SDK stops). Run ids are sent in batches of [`RUN_IDS_PER_REQUEST`] (repeated `run`
//! parameters; a URL has to stay short), each batch paged to its end before the next.
//! The API has no filter on `modified_at`: [`FeedbackQuery::min_modified_at`] is applied by
//! the client to each page (a page can then come out empty; it is still yielded, so a
//! consumer sees progress).

use std::pin::Pin;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::Stream;
use serde::Deserialize;
use serde_json::Value;

use super::client::{Client, parse_json};
use super::{ClientError, Lane};
use crate::model::Timestamp;

/// Run ids per request when a query names runs.
pub const RUN_IDS_PER_REQUEST: usize = 50;

/// LangSmith's `SourceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackSourceType {
    Api,
    Model,
    App,
    AutoEval,
}

impl FeedbackSourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSourceType::Api => "api",
            FeedbackSourceType::Model => "model",
            FeedbackSourceType::App => "app",
            FeedbackSourceType::AutoEval => "auto_eval",
        }
    }
}

/// What to list; empty lists and `None` do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackQuery {
    pub run_ids: Vec<String>,
    /// Feedback keys (any of them).
    pub keys: Vec<String>,
    pub source_types: Vec<FeedbackSourceType>,
    /// Project ids.
    pub sessions: Vec<String>,
    pub has_comment: Option<bool>,
    pub has_score: Option<bool>,
    /// Inclusive bounds on `created_at`, applied by the server.
    pub min_created_at: Option<DateTime<Utc>>,
    pub max_created_at: Option<DateTime<Utc>>,
    /// Inclusive lower bound on `modified_at`, applied by the client.
    pub min_modified_at: Option<DateTime<Utc>>,
    /// Entries per request, 1–100 (0 = 100).
    pub page_size: usize,
}

/// One feedback entry (the SDK's `Feedback`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Feedback {
    pub id: String,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    pub key: String,
    /// A number or a bool; `None` for a label without a score.
    #[serde(default)]
    pub score: Option<Value>,
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub correction: Value,
    #[serde(default)]
    pub feedback_source: Option<FeedbackSource>,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    #[serde(default)]
    pub extra: Value,
}

impl Feedback {
    /// The score as a number (`true` is 1).
    pub fn score_f64(&self) -> Option<f64> {
        match self.score.as_ref()? {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FeedbackSource {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
}

/// A stream of pages of feedback entries.
pub type FeedbackPageStream =
    Pin<Box<dyn Stream<Item = Result<Vec<Feedback>, ClientError>> + Send>>;

impl FeedbackQuery {
    fn page_size(&self) -> usize {
        match self.page_size {
            0 => 100,
            n => n.min(100),
        }
    }

    /// The query string of one request: `runs` (one batch) plus every other filter.
    fn params(&self, runs: &[String], offset: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        for run in runs {
            q.append_pair("run", run);
        }
        for key in &self.keys {
            q.append_pair("key", key);
        }
        for source in &self.source_types {
            q.append_pair("source", source.as_str());
        }
        for session in &self.sessions {
            q.append_pair("session", session);
        }
        for (name, value) in [
            ("has_comment", self.has_comment),
            ("has_score", self.has_score),
        ] {
            if let Some(v) = value {
                q.append_pair(name, if v { "true" } else { "false" });
            }
        }
        if let Some(t) = &self.min_created_at {
            q.append_pair("min_created_at", &time(t));
        }
        if let Some(t) = &self.max_created_at {
            q.append_pair("max_created_at", &time(t));
        }
        q.append_pair("limit", &self.page_size().to_string());
        q.append_pair("offset", &offset.to_string());
        q.finish()
    }
}

impl Client {
    /// Every page of feedback the query selects, fetched lazily, newest first within a
    /// batch of run ids (as the server orders them).
    pub fn list_feedback(&self, query: FeedbackQuery) -> FeedbackPageStream {
        let batches: Vec<Vec<String>> = if query.run_ids.is_empty() {
            vec![vec![]]
        } else {
            query
                .run_ids
                .chunks(RUN_IDS_PER_REQUEST)
                .map(<[String]>::to_vec)
                .collect()
        };
        struct State {
            client: Client,
            query: FeedbackQuery,
            batches: std::vec::IntoIter<Vec<String>>,
            batch: Option<Vec<String>>,
            offset: usize,
        }
        let mut batches = batches.into_iter();
        let state = State {
            client: self.clone(),
            query,
            batch: batches.next(),
            batches,
            offset: 0,
        };
        Box::pin(futures::stream::try_unfold(state, |mut st| async move {
            let Some(batch) = &st.batch else {
                return Ok(None);
            };
            let path = format!("/api/v1/feedback?{}", st.query.params(batch, st.offset));
            let page: Vec<Feedback> = st
                .client
                .request(&[Lane::Other], "GET", &path, None, parse_json)
                .await?;
            if page.len() < st.query.page_size() {
                st.batch = st.batches.next();
                st.offset = 0;
            } else {
                st.offset += page.len();
            }
            let page = match st.query.min_modified_at {
                Some(t) => page.into_iter().filter(|f| f.modified_at.0 >= t).collect(),
                None => page,
            };
            Ok(Some((page, st)))
        }))
    }

    /// `GET /api/v1/feedback/{id}`.
    pub async fn read_feedback(&self, id: &str) -> Result<Feedback, ClientError> {
        let path = format!(
            "/api/v1/feedback/{}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        self.request(&[Lane::Other], "GET", &path, None, parse_json)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_repeat_lists_and_clamp_the_page() {
        let q = FeedbackQuery {
            keys: vec!["a b".into(), "c".into()],
            source_types: vec![FeedbackSourceType::Model, FeedbackSourceType::AutoEval],
            has_comment: Some(true),
            min_created_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            page_size: 500,
            ..Default::default()
        };
        assert_eq!(
            q.params(&["r1".into(), "r2".into()], 200),
            "run=r1&run=r2&key=a+b&key=c&source=model&source=auto_eval&has_comment=true\
             &min_created_at=2026-01-01T00%3A00%3A00.000000Z&limit=100&offset=200"
        );
    }
}
