//! Paths into runs (`name`, `inputs.query`, `extra.metadata.user_id`, `latency`), the column
//! sources of `flatten`, and how they map to `select`.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::flatten::Cell;
use crate::model::summaries::{ThreadField, TraceField};
use crate::model::{Maybe, Run};

pub use super::fields::V1_SELECTABLE as SELECTABLE;

/// Values computed from other fields.
pub const DERIVED: &[&str] = &["latency", "is_root", "metadata"];

/// A field of a run, optionally followed by a path into its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPath {
    pub field: String,
    pub path: Vec<String>,
}

impl RunPath {
    pub fn parse(s: &str) -> Result<RunPath, String> {
        let mut parts = s.split('.');
        let field = parts.next().unwrap_or("").to_string();
        if !SELECTABLE.contains(&field.as_str()) && !DERIVED.contains(&field.as_str()) {
            return Err(format!(
                "unknown run field {field:?} in {s:?}; fields are LangSmith's (id, name, inputs, outputs, extra, feedback_stats, …) plus latency, is_root and metadata"
            ));
        }
        let path: Vec<String> = parts.map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("empty segment in {s:?}"));
        }
        Ok(RunPath { field, path })
    }

    /// The LangSmith fields to select so this path can be read.
    pub fn selects(&self) -> Vec<&'static str> {
        match self.field.as_str() {
            "latency" => vec!["start_time", "end_time"],
            "is_root" => vec!["parent_run_id"],
            "metadata" => vec!["extra"],
            f => SELECTABLE
                .iter()
                .find(|s| **s == f)
                .copied()
                .into_iter()
                .collect(),
        }
    }

    /// The value at this path, typed.
    pub fn extract<'r>(&self, run: &'r Run) -> Cell<'r> {
        let top = field_cell(run, &self.field);
        if self.path.is_empty() {
            return top;
        }
        let raw: Option<&RawValue> = match self.field.as_str() {
            "metadata" => return navigate_value(metadata(run), &self.path),
            f => raw_field(run, f),
        };
        match raw.and_then(|r| serde_json::from_str::<Value>(r.get()).ok()) {
            Some(v) => navigate_value(Some(v), &self.path),
            None => Cell::Null,
        }
    }
}

fn metadata(run: &Run) -> Option<Value> {
    if let Some(m) = run.metadata.value() {
        return serde_json::from_str(m.get()).ok();
    }
    let extra: Value = serde_json::from_str(run.extra.value()?.get()).ok()?;
    extra.get("metadata").cloned()
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

/// A value from a run's payload as a typed cell, by a rule that does not depend on which
/// values a load happens to see, so the daily files of one table agree: every number is a
/// float (integers up to ±2^53 are exact as floats; past that they stay exact as JSON text),
/// strings are strings, booleans booleans, objects and arrays JSON.
pub fn json_cell(v: Value) -> Cell<'static> {
    const EXACT_AS_FLOAT: u64 = 1 << 53;
    match v {
        Value::Number(n) => {
            let exact = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() <= EXACT_AS_FLOAT,
                (None, Some(u)) => u <= EXACT_AS_FLOAT,
                (None, None) => true, // a float already
            };
            match n.as_f64() {
                Some(f) if exact => Cell::Float(f),
                _ => Cell::Json(Cow::Owned(n.to_string())),
            }
        }
        other => computed_cell(other),
    }
}

/// A value runlake computed (a count, a sum) as a typed cell: integers stay integers.
pub fn computed_cell(v: Value) -> Cell<'static> {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None if n.is_u64() => Cell::Json(Cow::Owned(n.to_string())),
            None => n.as_f64().map_or(Cell::Null, Cell::Float),
        },
        Value::String(s) => Cell::Str(Cow::Owned(s)),
        other => Cell::Json(Cow::Owned(other.to_string())),
    }
}

fn raw_field<'r>(run: &'r Run, field: &str) -> Option<&'r RawValue> {
    let m = |v: &'r Maybe<Box<RawValue>>| v.value().map(|b| &**b);
    match field {
        "inputs" => m(&run.inputs),
        "outputs" => m(&run.outputs),
        "inputs_s3_urls" => m(&run.inputs_s3_urls),
        "outputs_s3_urls" => m(&run.outputs_s3_urls),
        "s3_urls" => m(&run.s3_urls),
        "extra" => m(&run.extra),
        "events" => m(&run.events),
        "feedback_stats" => m(&run.feedback_stats),
        "prompt_token_details" => m(&run.prompt_token_details),
        "completion_token_details" => m(&run.completion_token_details),
        "prompt_cost_details" => m(&run.prompt_cost_details),
        "completion_cost_details" => m(&run.completion_cost_details),
        other => run.unknown_field(other),
    }
}

/// A top-level field as a typed cell.
pub fn field_cell<'r>(run: &'r Run, field: &str) -> Cell<'r> {
    let s = |v: &'r Maybe<String>| {
        v.value()
            .map_or(Cell::Null, |s| Cell::Str(Cow::Borrowed(s)))
    };
    let t = |v: &Maybe<crate::model::Timestamp>| {
        v.value()
            .map_or(Cell::Null, |t| Cell::Timestamp(t.micros()))
    };
    let i = |v: &Maybe<i64>| v.value().map_or(Cell::Null, |n| Cell::Int(*n));
    let d = |v: &Maybe<crate::model::Decimal>| {
        v.value()
            .and_then(|d| d.as_f64())
            .map_or(Cell::Null, Cell::Float)
    };
    let list = |v: &'r Maybe<Vec<String>>| {
        v.value().map_or(Cell::Null, |l| {
            Cell::List(l.iter().map(|x| Cow::Borrowed(x.as_str())).collect())
        })
    };
    match field {
        "id" => Cell::Str(Cow::Borrowed(&run.id)),
        "name" => s(&run.name),
        "run_type" => s(&run.run_type),
        "status" => s(&run.status),
        "error" => s(&run.error),
        "trace_id" => s(&run.trace_id),
        "dotted_order" => s(&run.dotted_order),
        "parent_run_id" => s(&run.parent_run_id),
        "session_id" => s(&run.session_id),
        "reference_example_id" => s(&run.reference_example_id),
        "reference_dataset_id" => s(&run.reference_dataset_id),
        "thread_id" => s(&run.thread_id),
        "app_path" => s(&run.app_path),
        "start_time" => t(&run.start_time),
        "end_time" => t(&run.end_time),
        "first_token_time" => t(&run.first_token_time),
        "total_tokens" => i(&run.total_tokens),
        "prompt_tokens" => i(&run.prompt_tokens),
        "completion_tokens" => i(&run.completion_tokens),
        "total_cost" => d(&run.total_cost),
        "prompt_cost" => d(&run.prompt_cost),
        "completion_cost" => d(&run.completion_cost),
        "tags" => list(&run.tags),
        "parent_run_ids" => list(&run.parent_run_ids),
        "latency" => run.latency_seconds().map_or(Cell::Null, Cell::Float),
        "is_root" => run.is_root().map_or(Cell::Null, Cell::Bool),
        "metadata" => metadata(run).map_or(Cell::Null, json_cell),
        other => match raw_field(run, other) {
            Some(raw) if raw.get() != "null" => Cell::Json(Cow::Borrowed(raw.get())),
            _ => Cell::Null,
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_numbers_are_floats_and_integers_too_big_for_one_stay_exact_text() {
        let cell = |text: &str| json_cell(serde_json::from_str(text).unwrap());
        assert!(matches!(cell("42"), Cell::Float(f) if f == 42.0));
        assert!(matches!(cell("-9007199254740992"), Cell::Float(f) if f == -9007199254740992.0));
        for big in [
            "18446744073709551557",
            "9007199254740993",
            "-9007199254740993",
        ] {
            match cell(big) {
                Cell::Json(t) => assert_eq!(t, big),
                other => panic!("{other:?}"),
            }
        }
        let computed = |text: &str| computed_cell(serde_json::from_str(text).unwrap());
        assert!(
            matches!(computed("42"), Cell::Int(42)),
            "counts stay integers"
        );
        assert!(matches!(cell("1.5"), Cell::Float(f) if f == 1.5));
        assert!(
            matches!(cell("1.0"), Cell::Float(f) if f == 1.0),
            "whole floats stay floats"
        );
    }
}
