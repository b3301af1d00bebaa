//! Paths into runs (`name`, `inputs.query`, `extra.metadata.user_id`, `latency`), the column
//! sources of `flatten`, and how they map to `select`.

use serde_json::Value;

use crate::flatten::{Cell, json_cell};
use crate::model::Run;
use crate::model::run_field::{RunField, metadata};
use crate::model::summaries::{ThreadField, TraceField};

pub use super::fields::V1_SELECTABLE as SELECTABLE;

/// A field of a run, optionally followed by a path into its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPath {
    pub field: RunField,
    pub path: Vec<String>,
}

impl RunPath {
    pub fn parse(s: &str) -> Result<RunPath, String> {
        let mut parts = s.split('.');
        let name = parts.next().unwrap_or("");
        let Some(field) = RunField::parse(name) else {
            return Err(format!(
                "unknown run field {name:?} in {s:?}; fields are LangSmith's (id, name, inputs, outputs, extra, feedback_stats, …) plus latency, is_root and metadata"
            ));
        };
        let path: Vec<String> = parts.map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("empty segment in {s:?}"));
        }
        Ok(RunPath { field, path })
    }

    /// The whole of one field.
    pub fn field(field: RunField) -> RunPath {
        RunPath {
            field,
            path: vec![],
        }
    }

    /// The LangSmith fields to select so this path can be read.
    pub fn selects(&self) -> Vec<&'static str> {
        self.field.selects()
    }

    /// The value at this path, typed.
    pub fn extract<'r>(&self, run: &'r Run) -> Cell<'r> {
        if self.path.is_empty() {
            return self.field.cell(run);
        }
        let value = match self.field {
            RunField::Metadata => metadata(run),
            field => field
                .raw(run)
                .and_then(|r| serde_json::from_str::<Value>(r.get()).ok()),
        };
        navigate_value(value, &self.path)
    }
}

fn navigate_value(value: Option<Value>, path: &[String]) -> Cell<'static> {
    let mut v = match value {
        Some(v) => v,
        None => return Cell::Null,
    };
    for seg in path {
        v = match v {
            Value::Object(mut m) => match m.remove(seg) {
                Some(x) => x,
                None => return Cell::Null,
            },
            _ => return Cell::Null,
        };
    }
    json_cell(v)
}

/// Where a `flatten` column comes from: a run path, a group aggregate, a trace's totals (from
/// `query_traces`) or a thread's (from `query_threads`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSource {
    Run(RunPath),
    Group(String),
    Trace(TraceField),
    Thread(ThreadField),
}

impl ColumnSource {
    pub fn parse(s: &str) -> Result<ColumnSource, String> {
        if let Some(name) = s.strip_prefix("trace.") {
            return TraceField::parse(name).map(ColumnSource::Trace);
        }
        if let Some(name) = s.strip_prefix("thread.") {
            return ThreadField::parse(name).map(ColumnSource::Thread);
        }
        match s.strip_prefix("group.") {
            Some(name) if !name.is_empty() => Ok(ColumnSource::Group(name.to_string())),
            Some(_) => Err("\"group.\" needs an aggregate name, e.g. group.tools_involved".into()),
            None => RunPath::parse(s).map(ColumnSource::Run),
        }
    }
}

/// The statistics of `feedback_stats` that `expand` can spread (`stat`; `avg` by default).
pub const FEEDBACK_STATS: &[&str] = &["avg", "n", "stdev", "min", "max"];

/// What `expand` spreads into `prefix + key` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandSource {
    /// An object-valued run path (`inputs`, `outputs`, `extra.metadata`).
    Run(RunPath),
    /// `feedback_stats`, one column per feedback key with the given statistic.
    Feedback(String),
    /// The group's keyed aggregates (`collect_keys`, `extend_keys`).
    Group,
}

impl ExpandSource {
    pub fn parse(from: &str, stat: Option<&str>) -> Result<ExpandSource, String> {
        match from {
            "group" => Ok(ExpandSource::Group),
            "feedback_stats" => {
                let stat = stat.unwrap_or("avg");
                if !FEEDBACK_STATS.contains(&stat) {
                    return Err(format!(
                        "unknown feedback statistic {stat:?}; expected avg, n, stdev, min or max"
                    ));
                }
                Ok(ExpandSource::Feedback(stat.to_string()))
            }
            other => RunPath::parse(other).map(ExpandSource::Run),
        }
    }
}
