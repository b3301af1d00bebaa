//! What the v2 traces and threads stages hand on: a trace's totals (beside its root run) and
//! one row per conversation thread, with the `trace.<field>` and `thread.<field>` names a
//! `flatten` column reads them by, their types, and what reading them needs fetched.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::flatten::{Cell, Kind};

/// A trace's aggregates over all its runs, as `POST /api/v2/traces/query` gives them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceTotals {
    pub total_tokens: Option<i64>,
    pub total_cost: Option<f64>,
    /// The earliest first token of any run of the trace, µs since the epoch.
    pub first_token_us: Option<i64>,
}

/// A `trace.<field>` column source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceField {
    TotalTokens,
    TotalCost,
    FirstTokenTime,
}

/// Every trace field: its name (also the run field selected to get it) and kind.
const TRACE_FIELDS: [(&str, TraceField, Kind); 3] = [
    ("total_tokens", TraceField::TotalTokens, Kind::Int64),
    ("total_cost", TraceField::TotalCost, Kind::Float64),
    (
        "first_token_time",
        TraceField::FirstTokenTime,
        Kind::Timestamp,
    ),
];

impl TraceField {
    pub fn parse(name: &str) -> Result<TraceField, String> {
        TRACE_FIELDS
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, f, _)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown trace field {name:?}; a query_traces stage gives {}",
                    names(TRACE_FIELDS.iter().map(|(n, ..)| *n), "trace.")
                )
            })
    }

    fn entry(self) -> &'static (&'static str, TraceField, Kind) {
        TRACE_FIELDS
            .iter()
            .find(|(_, f, _)| *f == self)
            .expect("every trace field is listed")
    }

    /// The run field a traces query selects to get it (the API answers it as an aggregate).
    pub fn select(self) -> &'static str {
        self.entry().0
    }

    /// Every trace field as `(column name, field)`.
    pub fn all() -> impl Iterator<Item = (&'static str, TraceField)> {
        TRACE_FIELDS.iter().map(|(n, f, _)| (*n, *f))
    }

    pub fn kind(self) -> Kind {
        self.entry().2
    }

    pub fn cell(self, t: &TraceTotals) -> Cell<'static> {
        match self {
            TraceField::TotalTokens => t.total_tokens.map_or(Cell::Null, Cell::Int),
            TraceField::TotalCost => t.total_cost.map_or(Cell::Null, Cell::Float),
            TraceField::FirstTokenTime => t.first_token_us.map_or(Cell::Null, Cell::Timestamp),
        }
    }
}

/// One conversation thread over a query's window: the root runs (turns) sharing a thread key
/// that started in it.
#[derive(Debug, Clone, Default)]
pub struct ThreadRecord {
    pub thread_id: String,
    pub project_id: String,
    pub first_start_us: Option<i64>,
    pub last_start_us: Option<i64>,
    /// Traces (turns) in the window.
    pub turns: Option<i64>,
    pub total_tokens: Option<i64>,
    pub total_cost: Option<f64>,
    /// Turns whose root failed.
    pub error_count: Option<i64>,
    pub latency_p50: Option<f64>,
    pub latency_p99: Option<f64>,
    pub last_error: Option<String>,
    /// The first turn's inputs and the last turn's outputs, whole (JSON).
    pub first_inputs: Option<Box<RawValue>>,
    pub last_outputs: Option<Box<RawValue>>,
    /// The turns' trace ids, oldest first.
    pub trace_ids: Option<Vec<String>>,
}

/// A `thread.<field>` column source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadField {
    ThreadId,
    ProjectId,
    FirstStartTime,
    LastStartTime,
    Turns,
    TotalTokens,
    TotalCost,
    ErrorCount,
    LatencyP50,
    LatencyP99,
    LastError,
    FirstInputs,
    LastOutputs,
    TraceIds,
}

/// What a thread field needs beyond the threads query: its turns, fetched per thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadNeeds {
    /// The threads query answers it.
    Summary,
    /// The turns' trace ids and start times.
    Turns,
    /// … and the first turn's inputs.
    Inputs,
    /// … and the last turn's outputs.
    Outputs,
}

impl ThreadNeeds {
    /// How a flatten says it reads this (its `reads`, which decide what a source fetches).
    pub fn read_name(self) -> Option<&'static str> {
        match self {
            ThreadNeeds::Summary => None,
            ThreadNeeds::Turns => Some("thread.turns"),
            ThreadNeeds::Inputs => Some("thread.first_inputs"),
            ThreadNeeds::Outputs => Some("thread.last_outputs"),
        }
    }

    /// What `reads` (the names above) ask of a thread's turns.
    pub fn read_by(reads: &[String]) -> Vec<ThreadNeeds> {
        [
            ThreadNeeds::Turns,
            ThreadNeeds::Inputs,
            ThreadNeeds::Outputs,
        ]
        .into_iter()
        .filter(|n| n.read_name().is_some_and(|r| reads.iter().any(|s| s == r)))
        .collect()
    }
}

/// Every thread field: name, field, kind, and what reading it needs.
const THREAD_FIELDS: [(&str, ThreadField, Kind, ThreadNeeds); 14] = {
    use Kind::*;
    use ThreadField as F;
    use ThreadNeeds as N;
    [
        ("thread_id", F::ThreadId, Utf8, N::Summary),
        ("project_id", F::ProjectId, Utf8, N::Summary),
        ("first_start_time", F::FirstStartTime, Timestamp, N::Summary),
        ("last_start_time", F::LastStartTime, Timestamp, N::Summary),
        ("turns", F::Turns, Int64, N::Summary),
        ("total_tokens", F::TotalTokens, Int64, N::Summary),
        ("total_cost", F::TotalCost, Float64, N::Summary),
        ("error_count", F::ErrorCount, Int64, N::Summary),
        ("latency_p50", F::LatencyP50, Float64, N::Summary),
        ("latency_p99", F::LatencyP99, Float64, N::Summary),
        ("last_error", F::LastError, Utf8, N::Summary),
        ("first_inputs", F::FirstInputs, Json, N::Inputs),
        ("last_outputs", F::LastOutputs, Json, N::Outputs),
        ("trace_ids", F::TraceIds, ListUtf8, N::Turns),
    ]
};

impl ThreadField {
    pub fn parse(name: &str) -> Result<ThreadField, String> {
        THREAD_FIELDS
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, f, ..)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown thread field {name:?}; a query_threads stage gives {}",
                    names(THREAD_FIELDS.iter().map(|(n, ..)| *n), "thread.")
                )
            })
    }

    fn entry(self) -> &'static (&'static str, ThreadField, Kind, ThreadNeeds) {
        THREAD_FIELDS
            .iter()
            .find(|(_, f, ..)| *f == self)
            .expect("every thread field is listed")
    }

    pub fn kind(self) -> Kind {
        self.entry().2
    }

    /// Every thread field as `(column name, field)`: a thread's default row.
    pub fn all() -> impl Iterator<Item = (&'static str, ThreadField)> {
        THREAD_FIELDS.iter().map(|(n, f, ..)| (*n, *f))
    }

    pub fn needs(self) -> ThreadNeeds {
        self.entry().3
    }

    pub fn cell(self, t: &ThreadRecord) -> Cell<'_> {
        fn text(s: &Option<String>) -> Cell<'_> {
            s.as_deref()
                .map_or(Cell::Null, |s| Cell::Str(Cow::Borrowed(s)))
        }
        fn json(v: &Option<Box<RawValue>>) -> Cell<'_> {
            match v.as_deref().map(RawValue::get) {
                Some(raw) if raw != "null" => Cell::Json(Cow::Borrowed(raw)),
                _ => Cell::Null,
            }
        }
        let int = |v: Option<i64>| v.map_or(Cell::Null, Cell::Int);
        let float = |v: Option<f64>| v.map_or(Cell::Null, Cell::Float);
        let time = |v: Option<i64>| v.map_or(Cell::Null, Cell::Timestamp);
        match self {
            ThreadField::ThreadId => Cell::Str(Cow::Borrowed(&t.thread_id)),
            ThreadField::ProjectId => Cell::Str(Cow::Borrowed(&t.project_id)),
            ThreadField::FirstStartTime => time(t.first_start_us),
            ThreadField::LastStartTime => time(t.last_start_us),
            ThreadField::Turns => int(t.turns),
            ThreadField::TotalTokens => int(t.total_tokens),
            ThreadField::TotalCost => float(t.total_cost),
            ThreadField::ErrorCount => int(t.error_count),
            ThreadField::LatencyP50 => float(t.latency_p50),
            ThreadField::LatencyP99 => float(t.latency_p99),
            ThreadField::LastError => text(&t.last_error),
            ThreadField::FirstInputs => json(&t.first_inputs),
            ThreadField::LastOutputs => json(&t.last_outputs),
            ThreadField::TraceIds => t.trace_ids.as_ref().map_or(Cell::Null, |ids| {
                Cell::List(ids.iter().map(|s| Cow::Borrowed(s.as_str())).collect())
            }),
        }
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> String {
    names
        .map(|n| format!("{prefix}{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_by_name_and_read_typed_cells() {
        let t = TraceTotals {
            total_tokens: Some(7),
            total_cost: None,
            first_token_us: Some(5),
        };
        assert_eq!(
            TraceField::parse("total_tokens").unwrap().cell(&t),
            Cell::Int(7)
        );
        assert_eq!(
            TraceField::parse("total_cost").unwrap().cell(&t),
            Cell::Null
        );
        assert_eq!(TraceField::FirstTokenTime.kind(), Kind::Timestamp);
        let e = TraceField::parse("tokens").unwrap_err();
        assert!(e.contains("trace.total_tokens, trace.total_cost"), "{e}");
        let r = ThreadRecord {
            thread_id: "t".into(),
            trace_ids: Some(vec!["a".into(), "b".into()]),
            first_inputs: Some(RawValue::from_string("{\"q\":1}".into()).unwrap()),
            ..Default::default()
        };
        assert_eq!(
            ThreadField::parse("trace_ids").unwrap().cell(&r),
            Cell::List(vec![Cow::Borrowed("a"), Cow::Borrowed("b")])
        );
        assert_eq!(
            ThreadField::FirstInputs.cell(&r),
            Cell::Json(Cow::Borrowed("{\"q\":1}"))
        );
        assert_eq!(ThreadField::LastOutputs.cell(&r), Cell::Null);
        assert_eq!(ThreadField::TraceIds.needs(), ThreadNeeds::Turns);
        assert!(ThreadField::parse("turn").is_err());
    }
}
