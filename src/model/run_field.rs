//! A run's top-level field, resolved from its name once, when a pipeline is validated: per
//! row, reading a column is a match on this enum, never a comparison of field names.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use super::fields::V1_SELECTABLE as SELECTABLE;
use super::{Decimal, Maybe, Run, Timestamp};
use crate::flatten::{Cell, Kind, json_cell};

/// Fields computed from other fields.
pub const DERIVED: &[&str] = &["latency", "is_root", "metadata"];

/// A field of [`Run`], or one derived from its fields (`latency`, `is_root`, `metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunField {
    Id,
    Text(TextField),
    Time(TimeField),
    Tokens(TokenField),
    Cost(CostField),
    List(ListField),
    Json(JsonField),
    Latency,
    IsRoot,
    /// `extra.metadata`, or the v2 run's own `metadata`.
    Metadata,
    /// Any other field LangSmith lets `select` name, kept raw among the run's unknown fields.
    Other(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Name,
    RunType,
    Status,
    Error,
    TraceId,
    DottedOrder,
    ParentRunId,
    SessionId,
    ReferenceExampleId,
    ReferenceDatasetId,
    ThreadId,
    AppPath,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    StartTime,
    EndTime,
    FirstTokenTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    Total,
    Prompt,
    Completion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostField {
    Total,
    Prompt,
    Completion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListField {
    Tags,
    ParentRunIds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonField {
    Inputs,
    Outputs,
    InputsS3Urls,
    OutputsS3Urls,
    S3Urls,
    Extra,
    Events,
    FeedbackStats,
    PromptTokenDetails,
    CompletionTokenDetails,
    PromptCostDetails,
    CompletionCostDetails,
}

/// Every named field, with its name: the one table `parse` and `name` read.
const NAMED: &[(&str, RunField)] = {
    use RunField::*;
    &[
        ("id", Id),
        ("name", Text(TextField::Name)),
        ("run_type", Text(TextField::RunType)),
        ("status", Text(TextField::Status)),
        ("error", Text(TextField::Error)),
        ("trace_id", Text(TextField::TraceId)),
        ("dotted_order", Text(TextField::DottedOrder)),
        ("parent_run_id", Text(TextField::ParentRunId)),
        ("session_id", Text(TextField::SessionId)),
        ("reference_example_id", Text(TextField::ReferenceExampleId)),
        ("reference_dataset_id", Text(TextField::ReferenceDatasetId)),
        ("thread_id", Text(TextField::ThreadId)),
        ("app_path", Text(TextField::AppPath)),
        ("start_time", Time(TimeField::StartTime)),
        ("end_time", Time(TimeField::EndTime)),
        ("first_token_time", Time(TimeField::FirstTokenTime)),
        ("total_tokens", Tokens(TokenField::Total)),
        ("prompt_tokens", Tokens(TokenField::Prompt)),
        ("completion_tokens", Tokens(TokenField::Completion)),
        ("total_cost", Cost(CostField::Total)),
        ("prompt_cost", Cost(CostField::Prompt)),
        ("completion_cost", Cost(CostField::Completion)),
        ("tags", List(ListField::Tags)),
        ("parent_run_ids", List(ListField::ParentRunIds)),
        ("inputs", Json(JsonField::Inputs)),
        ("outputs", Json(JsonField::Outputs)),
        ("inputs_s3_urls", Json(JsonField::InputsS3Urls)),
        ("outputs_s3_urls", Json(JsonField::OutputsS3Urls)),
        ("s3_urls", Json(JsonField::S3Urls)),
        ("extra", Json(JsonField::Extra)),
        ("events", Json(JsonField::Events)),
        ("feedback_stats", Json(JsonField::FeedbackStats)),
        ("prompt_token_details", Json(JsonField::PromptTokenDetails)),
        (
            "completion_token_details",
            Json(JsonField::CompletionTokenDetails),
        ),
        ("prompt_cost_details", Json(JsonField::PromptCostDetails)),
        (
            "completion_cost_details",
            Json(JsonField::CompletionCostDetails),
        ),
        ("latency", Latency),
        ("is_root", IsRoot),
        ("metadata", Metadata),
    ]
};

impl RunField {
    /// The field called `name`: a LangSmith field `select` can name, or a derived one.
    pub fn parse(name: &str) -> Option<RunField> {
        if let Some((_, field)) = NAMED.iter().find(|(n, _)| *n == name) {
            return Some(*field);
        }
        SELECTABLE
            .iter()
            .find(|s| **s == name)
            .map(|s| RunField::Other(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            RunField::Other(name) => name,
            named => NAMED
                .iter()
                .find(|(_, f)| *f == named)
                .map_or("?", |(n, _)| n),
        }
    }

    /// The column kind this field always has, where it has one (raw fields LangSmith adds
    /// later take the kind of their values).
    pub fn kind(self) -> Option<Kind> {
        match self {
            RunField::Id | RunField::Text(_) => Some(Kind::Utf8),
            RunField::Time(_) => Some(Kind::Timestamp),
            RunField::Tokens(_) => Some(Kind::Int64),
            RunField::Cost(_) | RunField::Latency => Some(Kind::Float64),
            RunField::List(_) => Some(Kind::ListUtf8),
            RunField::IsRoot => Some(Kind::Bool),
            RunField::Json(_) | RunField::Metadata => Some(Kind::Json),
            RunField::Other(_) => None,
        }
    }

    /// The LangSmith fields to select so this field can be read.
    pub fn selects(self) -> Vec<&'static str> {
        match self {
            RunField::Latency => vec!["start_time", "end_time"],
            RunField::IsRoot => vec!["parent_run_id"],
            RunField::Metadata => vec!["extra"],
            other => vec![other.name()],
        }
    }

    /// The field's raw JSON, for fields kept raw.
    pub fn raw(self, run: &Run) -> Option<&RawValue> {
        match self {
            RunField::Json(f) => f.get(run).value().map(|b| &**b),
            RunField::Other(name) => run.unknown_field(name),
            RunField::Id
            | RunField::Text(_)
            | RunField::Time(_)
            | RunField::Tokens(_)
            | RunField::Cost(_)
            | RunField::List(_)
            | RunField::Latency
            | RunField::IsRoot
            | RunField::Metadata => None,
        }
    }

    /// The field as a typed cell.
    pub fn cell(self, run: &Run) -> Cell<'_> {
        match self {
            RunField::Id => Cell::Str(Cow::Borrowed(&run.id)),
            RunField::Text(f) => f
                .get(run)
                .value()
                .map_or(Cell::Null, |s| Cell::Str(Cow::Borrowed(s))),
            RunField::Time(f) => f
                .get(run)
                .value()
                .map_or(Cell::Null, |t| Cell::Timestamp(t.micros())),
            RunField::Tokens(f) => f.get(run).value().map_or(Cell::Null, |n| Cell::Int(*n)),
            RunField::Cost(f) => f
                .get(run)
                .value()
                .and_then(Decimal::as_f64)
                .map_or(Cell::Null, Cell::Float),
            RunField::List(f) => f.get(run).value().map_or(Cell::Null, |l| {
                Cell::List(l.iter().map(|x| Cow::Borrowed(x.as_str())).collect())
            }),
            RunField::Latency => run.latency_seconds().map_or(Cell::Null, Cell::Float),
            RunField::IsRoot => run.is_root().map_or(Cell::Null, Cell::Bool),
            RunField::Metadata => metadata(run).map_or(Cell::Null, json_cell),
            RunField::Json(_) | RunField::Other(_) => match self.raw(run) {
                Some(raw) if raw.get() != "null" => Cell::Json(Cow::Borrowed(raw.get())),
                _ => Cell::Null,
            },
        }
    }
}

/// A run's metadata: the v2 run's own, else `extra.metadata`.
pub fn metadata(run: &Run) -> Option<Value> {
    if let Some(m) = run.metadata.value() {
        return serde_json::from_str(m.get()).ok();
    }
    let extra: Value = serde_json::from_str(run.extra.value()?.get()).ok()?;
    extra.get("metadata").cloned()
}

impl TextField {
    fn get(self, run: &Run) -> &Maybe<String> {
        match self {
            TextField::Name => &run.name,
            TextField::RunType => &run.run_type,
            TextField::Status => &run.status,
            TextField::Error => &run.error,
            TextField::TraceId => &run.trace_id,
            TextField::DottedOrder => &run.dotted_order,
            TextField::ParentRunId => &run.parent_run_id,
            TextField::SessionId => &run.session_id,
            TextField::ReferenceExampleId => &run.reference_example_id,
            TextField::ReferenceDatasetId => &run.reference_dataset_id,
            TextField::ThreadId => &run.thread_id,
            TextField::AppPath => &run.app_path,
        }
    }
}

impl TimeField {
    fn get(self, run: &Run) -> &Maybe<Timestamp> {
        match self {
            TimeField::StartTime => &run.start_time,
            TimeField::EndTime => &run.end_time,
            TimeField::FirstTokenTime => &run.first_token_time,
        }
    }
}

impl TokenField {
    fn get(self, run: &Run) -> &Maybe<i64> {
        match self {
            TokenField::Total => &run.total_tokens,
            TokenField::Prompt => &run.prompt_tokens,
            TokenField::Completion => &run.completion_tokens,
        }
    }
}

impl CostField {
    fn get(self, run: &Run) -> &Maybe<Decimal> {
        match self {
            CostField::Total => &run.total_cost,
            CostField::Prompt => &run.prompt_cost,
            CostField::Completion => &run.completion_cost,
        }
    }
}

impl ListField {
    fn get(self, run: &Run) -> &Maybe<Vec<String>> {
        match self {
            ListField::Tags => &run.tags,
            ListField::ParentRunIds => &run.parent_run_ids,
        }
    }
}

impl JsonField {
    fn get(self, run: &Run) -> &Maybe<Box<RawValue>> {
        match self {
            JsonField::Inputs => &run.inputs,
            JsonField::Outputs => &run.outputs,
            JsonField::InputsS3Urls => &run.inputs_s3_urls,
            JsonField::OutputsS3Urls => &run.outputs_s3_urls,
            JsonField::S3Urls => &run.s3_urls,
            JsonField::Extra => &run.extra,
            JsonField::Events => &run.events,
            JsonField::FeedbackStats => &run.feedback_stats,
            JsonField::PromptTokenDetails => &run.prompt_token_details,
            JsonField::CompletionTokenDetails => &run.completion_token_details,
            JsonField::PromptCostDetails => &run.prompt_cost_details,
            JsonField::CompletionCostDetails => &run.completion_cost_details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_field_parses_to_itself_and_every_selectable_one_is_known() {
        for (name, field) in NAMED {
            assert!(
                SELECTABLE.contains(name) || DERIVED.contains(name),
                "{name} is a field LangSmith selects, or derived"
            );
            assert_eq!(RunField::parse(name), Some(*field), "{name}");
            assert_eq!(field.name(), *name);
        }
        for name in SELECTABLE.iter().chain(DERIVED) {
            let field = RunField::parse(name).unwrap();
            assert_eq!(field.name(), *name);
        }
        assert_eq!(RunField::parse("nonsense"), None);
        assert_eq!(
            RunField::parse("manifest"),
            Some(RunField::Other("manifest"))
        );
    }
}
