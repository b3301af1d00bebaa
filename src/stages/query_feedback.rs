//! `type = "query_feedback"`: raw feedback entries (`GET /api/v1/feedback`, as the SDK's
//! `list_feedback` pages it) as typed rows, one per entry. Its window is on `created_at`,
//! which never changes, so an entry always belongs to one window: an edited entry is
//! republished in its window (loads find entries modified since the last run and reload the
//! windows holding them), never appended as a second row.

use std::borrow::Cow;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::flatten::rows_msg;
use super::reach::{ProjectList, Reach};
use super::{Flow, SourceContext, StageKind, Start, send};
use crate::flatten::{Cell, Kind, TableBuilder};
use crate::langsmith::{Feedback, FeedbackQuery, FeedbackSourceType};
use crate::located::Checks;
use crate::located::schema::{kind, string_list};

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    /// Overrides `[source].project`; several projects are a list.
    pub project: Option<ProjectList>,
    /// Start of the window on `created_at`: a duration before now or a timestamp.
    pub since: Option<String>,
    pub until: Option<String>,
    /// Only these feedback keys.
    pub keys: Option<Vec<String>>,
    /// Only feedback from these sources (`api`, `model`, `app`, `auto_eval`).
    pub source_types: Option<Vec<String>>,
}

/// A query_feedback stage: times typed, source types checked.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryFeedback {
    /// Its projects and its window on `created_at`.
    reach: Reach,
    keys: Vec<String>,
    source_types: Vec<FeedbackSourceType>,
}

const SOURCE_TYPES: [FeedbackSourceType; 4] = [
    FeedbackSourceType::Api,
    FeedbackSourceType::Model,
    FeedbackSourceType::App,
    FeedbackSourceType::AutoEval,
];

/// The rows' columns, in order.
pub const COLUMNS: [(&str, Kind); 12] = [
    ("id", Kind::Utf8),
    ("run_id", Kind::Utf8),
    ("trace_id", Kind::Utf8),
    ("session_id", Kind::Utf8),
    ("key", Kind::Utf8),
    ("score", Kind::Float64),
    ("value", Kind::Json),
    ("comment", Kind::Utf8),
    ("correction", Kind::Json),
    ("source_type", Kind::Utf8),
    ("created_at", Kind::Timestamp),
    ("modified_at", Kind::Timestamp),
];

impl QueryFeedback {
    /// What it lists in `cx`: its projects, keys, sources and `created_at` window.
    pub fn query(&self, id: &str, cx: &SourceContext) -> anyhow::Result<FeedbackQuery> {
        let names = self.reach.project_names(id, cx)?;
        let (min_created_at, max_created_at) = cx.window(self.reach.since, self.reach.until);
        Ok(FeedbackQuery {
            sessions: cx.project_ids(&names)?,
            keys: self.keys.clone(),
            source_types: self.source_types.clone(),
            min_created_at,
            max_created_at,
            ..FeedbackQuery::default()
        })
    }
}

impl StageKind for QueryFeedback {
    const KIND: &'static str = "query_feedback";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<QueryFeedback> {
        let failed_before = cx.errors.len();
        let reach = Reach::resolve(
            s.project.as_ref(),
            s.since.as_deref(),
            s.until.as_deref(),
            cx,
        );
        let mut source_types = vec![];
        for name in s.source_types.iter().flatten() {
            match SOURCE_TYPES.iter().find(|t| t.as_str() == name) {
                Some(t) => source_types.push(*t),
                None => cx.error(
                    "source_types",
                    format!(
                        "unknown feedback source {name:?}; expected one of {}",
                        SOURCE_TYPES.map(FeedbackSourceType::as_str).join(", ")
                    ),
                ),
            }
        }
        (cx.errors.len() == failed_before).then(|| QueryFeedback {
            reach,
            keys: s.keys.unwrap_or_default(),
            source_types,
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        Reach::source_schema(
            Self::KIND,
            "Lists raw feedback entries, like the SDK's list_feedback: one row per entry; its window is on created_at.",
            json!({
                "type": kind(Self::KIND, "Lists feedback entries from LangSmith."),
                "keys": string_list("Only these feedback keys."),
                "source_types": string_list("Only feedback from these sources: api, model, app, auto_eval."),
            }),
        )
    }

    fn inputs(&self) -> &[String] {
        &[]
    }

    fn reach(&self) -> Option<&Reach> {
        Some(&self.reach)
    }

    fn produces(&self) -> Flow {
        Flow::Rows
    }

    fn accepts(&self, _flow: Flow) -> bool {
        false
    }

    fn reads(&self) -> Vec<&'static str> {
        vec![]
    }

    fn unit(&self) -> &'static str {
        "entries"
    }

    fn describe(&self) -> Option<String> {
        let mut only = vec![];
        if !self.keys.is_empty() {
            only.push(format!("keys {}", self.keys.join(", ")));
        }
        if !self.source_types.is_empty() {
            let sources: Vec<&str> = self.source_types.iter().map(|t| t.as_str()).collect();
            only.push(format!("sources {}", sources.join(", ")));
        }
        let only = match only.is_empty() {
            true => String::new(),
            false => format!(", only {}", only.join("; ")),
        };
        Some(format!(
            "v1 GET /api/v1/feedback per project, created_at in the window{only}: pages of 100 \
             entries (ceil(entries / 100) requests)"
        ))
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        let query = self.query(&start.id, &start.context);
        async move {
            let query = query?;
            let Start {
                source,
                outputs,
                id,
                counter,
                ..
            } = start;
            let mut pages = source.feedback(query);
            let columns = COLUMNS.iter().map(|(n, k)| (n.to_string(), Some(*k)));
            let mut table = TableBuilder::with_columns(columns);
            let mut created = vec![];
            while let Some(page) = pages.next().await {
                let page = page.with_context(|| format!("stage {id:?}"))?;
                counter.add_out(page.len());
                for entry in &page {
                    table.push_row(cells(entry));
                    created.push(Some(entry.created_at.micros()));
                }
                if table.rows() > 0 {
                    send(&outputs, rows_msg(&mut table, &mut created)).await?;
                }
            }
            Ok(())
        }
        .boxed()
    }
}

/// One entry's row, in [`COLUMNS`] order.
fn cells(e: &Feedback) -> Vec<(Cow<'_, str>, Cell<'_>)> {
    fn text(v: Option<&str>) -> Cell<'_> {
        v.map_or(Cell::Null, |s| Cell::Str(Cow::Borrowed(s)))
    }
    let json = |v: &Value| match v {
        Value::Null => Cell::Null,
        other => Cell::Json(Cow::Owned(other.to_string())),
    };
    let values = [
        Cell::Str(Cow::Borrowed(&e.id)),
        text(e.run_id.as_deref()),
        text(e.trace_id.as_deref()),
        text(e.session_id.as_deref()),
        Cell::Str(Cow::Borrowed(&e.key)),
        e.score_f64().map_or(Cell::Null, Cell::Float),
        json(&e.value),
        text(e.comment.as_deref()),
        json(&e.correction),
        text(e.feedback_source.as_ref().and_then(|s| s.kind.as_deref())),
        Cell::Timestamp(e.created_at.micros()),
        Cell::Timestamp(e.modified_at.micros()),
    ];
    COLUMNS
        .iter()
        .zip(values)
        .map(|((name, _), cell)| (Cow::Borrowed(*name), cell))
        .collect()
}
