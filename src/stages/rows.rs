//! `flatten`: records → rows of named, typed cells.

use std::borrow::Cow;

use serde_json::Value;

use super::Record;
use crate::flatten::Cell;
use crate::flatten::{computed_cell, json_cell};
use crate::model::ThreadRecord;
use crate::model::paths::{ColumnSource, ExpandSource, RunPath};
use crate::model::run_field::{JsonField, RunField};
use crate::model::summaries::{ThreadField, TraceField};

/// Columns when a flatten names none, or a sink reads runs directly.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "id",
    "trace_id",
    "parent_run_id",
    "session_id",
    "name",
    "run_type",
    "status",
    "start_time",
    "end_time",
    "latency",
    "error",
    "tags",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_cost",
    "prompt_cost",
    "completion_cost",
    "first_token_time",
    "thread_id",
    "dotted_order",
    "inputs",
    "outputs",
    "extra",
    "feedback_stats",
    // Where offloaded payloads live (v1), so a reader can find them.
    "inputs_s3_urls",
    "outputs_s3_urls",
    "s3_urls",
];

#[derive(Debug, Clone, PartialEq)]
pub struct RowSpec {
    columns: Vec<(String, ColumnSource)>,
    expand: Vec<(ExpandSource, String)>,
}

impl RowSpec {
    /// A spec from compiled columns and expansions (`None` prefix: the source's default);
    /// with neither, the default columns.
    pub fn new(
        columns: Vec<(String, ColumnSource)>,
        expand: Vec<(ExpandSource, Option<String>)>,
    ) -> RowSpec {
        if columns.is_empty() && expand.is_empty() {
            return RowSpec::default_spec();
        }
        let expand = expand
            .into_iter()
            .map(|(source, prefix)| {
                let prefix = prefix.unwrap_or_else(|| match &source {
                    ExpandSource::Feedback(_) => "feedback.".into(),
                    ExpandSource::Group => String::new(),
                    ExpandSource::Run(p) => format!("{}.", p.field.name()),
                });
                (source, prefix)
            })
            .collect();
        RowSpec { columns, expand }
    }

    pub fn default_spec() -> RowSpec {
        RowSpec {
            columns: DEFAULT_COLUMNS
                .iter()
                .filter_map(|c| Some((c.to_string(), ColumnSource::parse(c).ok()?)))
                .collect(),
            expand: vec![],
        }
    }

    /// A root's row when a sink takes traces directly: the run columns and the trace's
    /// totals as `trace.<field>`.
    pub fn trace_spec() -> RowSpec {
        let mut spec = RowSpec::default_spec();
        spec.columns
            .extend(TraceField::all().map(|(n, f)| (format!("trace.{n}"), ColumnSource::Trace(f))));
        spec
    }

    /// A thread's row when a sink takes threads directly: every thread field.
    pub fn thread_spec() -> RowSpec {
        RowSpec {
            columns: ThreadField::all()
                .map(|(n, f)| (n.to_string(), ColumnSource::Thread(f)))
                .collect(),
            expand: vec![],
        }
    }

    /// Whether every column reads a thread (and nothing is expanded): what a flatten over
    /// threads must be.
    pub fn reads_threads_only(&self) -> bool {
        self.expand.is_empty()
            && self
                .columns
                .iter()
                .all(|(_, s)| matches!(s, ColumnSource::Thread(_)))
    }

    /// Whether some column reads a trace's totals (so its input must be traces).
    pub fn reads_traces(&self) -> bool {
        self.columns
            .iter()
            .any(|(_, s)| matches!(s, ColumnSource::Trace(_)))
    }

    /// Whether some column reads a thread.
    pub fn reads_threads(&self) -> bool {
        self.columns
            .iter()
            .any(|(_, s)| matches!(s, ColumnSource::Thread(_)))
    }

    /// A thread's cells (the spec reads threads only).
    pub fn thread_cells<'r>(&'r self, thread: &'r ThreadRecord) -> Vec<(Cow<'r, str>, Cell<'r>)> {
        self.columns
            .iter()
            .map(|(name, source)| {
                let cell = match source {
                    ColumnSource::Thread(f) => f.cell(thread),
                    ColumnSource::Run(_) | ColumnSource::Group(_) | ColumnSource::Trace(_) => {
                        Cell::Null
                    }
                };
                (Cow::Borrowed(name.as_str()), cell)
            })
            .collect()
    }

    /// The fixed columns, in order (expanded ones follow as they appear).
    pub fn fixed_columns(&self) -> Vec<String> {
        self.columns.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The fixed columns with their kinds where the field's type is known, so batches keep one
    /// schema even when a column happens to be all null.
    pub fn column_kinds(&self) -> Vec<(String, Option<crate::flatten::Kind>)> {
        self.columns
            .iter()
            .map(|(name, source)| {
                let kind = match source {
                    ColumnSource::Trace(f) => Some(f.kind()),
                    ColumnSource::Thread(f) => Some(f.kind()),
                    ColumnSource::Run(p) if p.path.is_empty() => p.field.kind(),
                    _ => None,
                };
                (name.clone(), kind)
            })
            .collect()
    }

    /// LangSmith fields the row reads from the run.
    pub fn selects(&self) -> Vec<&'static str> {
        let mut out = vec![];
        for (_, source) in &self.columns {
            match source {
                ColumnSource::Run(p) => out.extend(p.selects()),
                ColumnSource::Group(_) => {}
                ColumnSource::Trace(f) => out.push(f.select()),
                ColumnSource::Thread(f) => out.extend(f.needs().read_name()),
            }
        }
        for (source, _) in &self.expand {
            match source {
                ExpandSource::Run(p) => out.extend(p.selects()),
                ExpandSource::Feedback(_) => out.push("feedback_stats"),
                ExpandSource::Group => {}
            }
        }
        out
    }

    /// A record's row, as (column, cell) pairs appended to `row`: callers flattening many
    /// records reuse one vector instead of allocating one per row.
    pub fn cells_into<'r>(&'r self, record: &'r Record, row: &mut Vec<(Cow<'r, str>, Cell<'r>)>) {
        for (name, source) in &self.columns {
            let cell = match source {
                ColumnSource::Run(p) => p.extract(&record.run),
                ColumnSource::Group(agg) => record
                    .group
                    .as_ref()
                    .and_then(|g| g.value(agg))
                    .map_or(Cell::Null, list_or_json),
                ColumnSource::Trace(f) => record.trace.as_deref().map_or(Cell::Null, |t| f.cell(t)),
                // A thread column reads threads (flatten accepts no other input with one).
                ColumnSource::Thread(_) => Cell::Null,
            };
            row.push((Cow::Borrowed(name.as_str()), cell));
        }
        for (source, prefix) in &self.expand {
            match source {
                ExpandSource::Run(p) => {
                    if let Value::Object(map) = object_at(p, record) {
                        for (k, v) in map {
                            row.push((Cow::Owned(format!("{prefix}{k}")), json_cell(v)));
                        }
                    }
                }
                ExpandSource::Feedback(stat) => {
                    let stats = RunPath::field(RunField::Json(JsonField::FeedbackStats));
                    if let Value::Object(map) = object_at(&stats, record) {
                        for (k, v) in map {
                            let value = v.get(stat.as_str()).cloned().unwrap_or(Value::Null);
                            row.push((Cow::Owned(format!("{prefix}{k}")), json_cell(value)));
                        }
                    }
                }
                ExpandSource::Group => {
                    if let Some(g) = &record.group {
                        for (k, values) in &g.keyed {
                            row.push((Cow::Owned(format!("{prefix}{k}")), list_cell(values)));
                        }
                    }
                }
            }
        }
    }
}

fn object_at(path: &RunPath, record: &Record) -> Value {
    super::group::cell_value(path.extract(&record.run))
}

/// A list of strings as List<Utf8>; any other list, or a scalar, as JSON or its own type.
/// Borrowed from the group: aggregates are read, never copied, per row.
fn list_or_json(v: &Value) -> Cell<'_> {
    match v {
        Value::Array(items) => list_cell(items),
        scalar => computed_cell(scalar.clone()),
    }
}

/// Strings as List<Utf8>, anything else as the list's JSON text.
fn list_cell(items: &[Value]) -> Cell<'_> {
    let strings: Option<Vec<Cow<'_, str>>> = items
        .iter()
        .map(|v| v.as_str().map(Cow::Borrowed))
        .collect();
    match strings {
        Some(list) => Cell::List(list),
        // Values serialise without fail (their map keys are strings).
        None => {
            serde_json::to_string(items).map_or(Cell::Null, |text| Cell::Json(Cow::Owned(text)))
        }
    }
}
