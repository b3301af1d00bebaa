//! The filter AST.

/// A field a comparison can name (reference §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Name,
    RunType,
    Status,
    StartTime,
    EndTime,
    FirstTokenTime,
    Latency,
    TotalTokens,
    PromptTokens,
    CompletionTokens,
    TotalCost,
    PromptCost,
    CompletionCost,
    Error,
    ExecutionOrder,
    Tags,
    FeedbackKey,
    FeedbackScore,
    MetadataKey,
    MetadataValue,
    InputKey,
    InputValue,
    OutputKey,
    OutputValue,
    IsRoot,
    ThreadId,
    TraceId,
    ParentRunId,
    SessionId,
    ReferenceExampleId,
    Metadata,
    Inputs,
    Outputs,
}

/// Every field with its name in the language, in the order error messages list them.
pub const FIELDS: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("name", Field::Name),
    ("run_type", Field::RunType),
    ("status", Field::Status),
    ("start_time", Field::StartTime),
    ("end_time", Field::EndTime),
    ("first_token_time", Field::FirstTokenTime),
    ("latency", Field::Latency),
    ("total_tokens", Field::TotalTokens),
    ("prompt_tokens", Field::PromptTokens),
    ("completion_tokens", Field::CompletionTokens),
    ("total_cost", Field::TotalCost),
    ("prompt_cost", Field::PromptCost),
    ("completion_cost", Field::CompletionCost),
    ("error", Field::Error),
    ("execution_order", Field::ExecutionOrder),
    ("tags", Field::Tags),
    ("feedback_key", Field::FeedbackKey),
    ("feedback_score", Field::FeedbackScore),
    ("metadata_key", Field::MetadataKey),
    ("metadata_value", Field::MetadataValue),
    ("input_key", Field::InputKey),
    ("input_value", Field::InputValue),
    ("output_key", Field::OutputKey),
    ("output_value", Field::OutputValue),
    ("is_root", Field::IsRoot),
    ("thread_id", Field::ThreadId),
    ("trace_id", Field::TraceId),
    ("parent_run_id", Field::ParentRunId),
    ("session_id", Field::SessionId),
    ("reference_example_id", Field::ReferenceExampleId),
    ("metadata", Field::Metadata),
    ("inputs", Field::Inputs),
    ("outputs", Field::Outputs),
];

impl Field {
    pub fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("every field is listed")
    }

    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
    }

    pub fn is_time(self) -> bool {
        matches!(
            self,
            Field::StartTime | Field::EndTime | Field::FirstTokenTime
        )
    }

    /// The key/value family a field belongs to, for the binding rules of §5.5.
    pub fn pair(self) -> Option<(Pair, Side)> {
        Some(match self {
            Field::MetadataKey => (Pair::Metadata, Side::Key),
            Field::MetadataValue => (Pair::Metadata, Side::Value),
            Field::InputKey => (Pair::Input, Side::Key),
            Field::InputValue => (Pair::Input, Side::Value),
            Field::OutputKey => (Pair::Output, Side::Key),
            Field::OutputValue => (Pair::Output, Side::Value),
            Field::FeedbackKey => (Pair::Feedback, Side::Key),
            Field::FeedbackScore => (Pair::Feedback, Side::Value),
            _ => return None,
        })
    }
}

/// Families of entries whose key and value predicates bind to the same entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pair {
    Metadata,
    Input,
    Output,
    Feedback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Has,
    In,
    Like,
}

pub const OPS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("neq", Op::Neq),
    ("gt", Op::Gt),
    ("gte", Op::Gte),
    ("lt", Op::Lt),
    ("lte", Op::Lte),
    ("has", Op::Has),
    ("in", Op::In),
    ("like", Op::Like),
];

impl Op {
    pub fn name(self) -> &'static str {
        OPS.iter()
            .find(|(_, o)| *o == self)
            .map(|(n, _)| *n)
            .expect("every op is listed")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    /// A timestamp (µs since the epoch, UTC), from a string compared with a time field.
    Time(i64),
    List(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub op: Op,
    pub field: Field,
    pub value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Comparison),
    /// `search("text")` over the whole run, or `search(field, "text")`.
    Search {
        field: Option<Field>,
        text: String,
    },
}

impl Expr {
    /// Whether the expression uses full-text search (LangSmith rates it lower).
    pub fn uses_search(&self) -> bool {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().any(Expr::uses_search),
            Expr::Not(e) => e.uses_search(),
            Expr::Cmp(_) => false,
            Expr::Search { .. } => true,
        }
    }

    /// Fields the expression reads, each once, in order of appearance.
    pub fn fields(&self) -> Vec<Field> {
        fn walk(e: &Expr, out: &mut Vec<Field>) {
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, out)),
                Expr::Not(e) => walk(e, out),
                Expr::Cmp(c) if !out.contains(&c.field) => out.push(c.field),
                Expr::Cmp(_) => {}
                Expr::Search { field: Some(f), .. } if !out.contains(f) => out.push(*f),
                Expr::Search { .. } => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}
