//! What every source stage reads besides its own query: its projects and its time window, as
//! written (`project`, `since`, `until`), checked, and resolved against the run's
//! [`SourceContext`] (`--project`, `--since`/`--until` or the load's window).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Bounds, SourceContext};
use crate::located::Checks;
use crate::located::schema::{string, table};
use crate::model::durations::TimeSpec;

/// `project = "p"` or `project = ["p", "q"]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ProjectList {
    One(String),
    Many(Vec<String>),
}

impl ProjectList {
    pub fn names(&self) -> Vec<String> {
        match self {
            ProjectList::One(p) => vec![p.clone()],
            ProjectList::Many(v) => v.clone(),
        }
    }
}

/// A source stage's projects and window, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reach {
    pub projects: Option<Vec<String>>,
    pub since: Option<TimeSpec>,
    pub until: Option<TimeSpec>,
}

impl Reach {
    /// The settings' `project`, `since` and `until`; a time that does not parse goes to `cx`.
    pub fn resolve(
        project: Option<&ProjectList>,
        since: Option<&str>,
        until: Option<&str>,
        cx: &mut Checks,
    ) -> Reach {
        let mut time = |field: &str, text: Option<&str>| {
            text.and_then(|t| match TimeSpec::parse(t) {
                Ok(t) => Some(t),
                Err(e) => {
                    cx.error(field, e);
                    None
                }
            })
        };
        Reach {
            since: time("since", since),
            until: time("until", until),
            projects: project.map(ProjectList::names),
        }
    }

    /// A source stage's table schema: its own `properties` and `project`, `since`, `until`.
    pub fn source_schema(
        kind: &'static str,
        description: &str,
        mut properties: Value,
    ) -> Vec<(&'static str, Value)> {
        Reach::schema(&mut properties);
        vec![(kind, table(description, properties, &["type"]))]
    }

    /// The JSON Schema of `project`, `since` and `until`.
    fn schema(properties: &mut Value) {
        properties["project"] = json!({
            "description": "Project name or names, overriding [source].project.",
            "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" }, "minItems": 1 }],
        });
        properties["since"] =
            string("Start of the window: a duration before now (\"30d\", \"12h\") or a timestamp.");
        properties["until"] = string("End of the window: a duration before now or a timestamp.");
    }

    /// Its own bounds at `now` (loads start from the earliest).
    pub fn bounds(&self, now: DateTime<Utc>) -> Bounds {
        (self.since.map(|t| t.at(now)), self.until.map(|t| t.at(now)))
    }

    /// The projects it reads, by name.
    pub fn project_names(&self, id: &str, cx: &SourceContext) -> anyhow::Result<Vec<String>> {
        cx.project_names(id, self.projects.as_deref())
    }

    /// The window as v2's trace and thread queries take it: start inclusive (the epoch when
    /// open, as an export wants everything rather than the API's last day), end exclusive
    /// (runlake's own end bound is inclusive to the µs, as v1's).
    pub fn v2_window(&self, cx: &SourceContext) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let (start, end) = cx.window(self.since, self.until);
        (
            start.unwrap_or(DateTime::UNIX_EPOCH),
            end.map(|e| e + TimeDelta::microseconds(1)),
        )
    }
}

/// A `page_size` of v2's trace and thread queries: 1 to 100.
pub fn check_page_size(page_size: Option<usize>, cx: &mut Checks) {
    if page_size.is_some_and(|n| !(1..=100).contains(&n)) {
        cx.error(
            "page_size",
            "page_size must be between 1 and 100 (the API's limit)",
        );
    }
}

/// Filters as written, each checked with a caret under the error; the ones that parse.
pub fn check_filters(
    filters: &[(&str, &Option<String>)],
    cx: &mut Checks,
) -> Vec<crate::filter::Expr> {
    filters
        .iter()
        .filter_map(|(field, text)| cx.filter(field, text.as_deref()?))
        .collect()
}
