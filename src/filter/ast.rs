//! The filter AST: fields, comparators, literals and expressions.

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
    /// The metadata object as a whole, for `has(metadata, '{"k": "v"}')`.
    Metadata,
    /// Inputs / outputs as a whole, for `search(inputs, "text")`.
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

/// What a field holds, which decides the comparators and literals it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string compared exactly (ids, name, error, …).
    Text,
    /// `run_type`, `status`: strings compared case-insensitively.
    Enum,
    /// Tokens, costs, execution order.
    Number,
    /// Seconds; literals may be durations (`"5s"`).
    Latency,
    /// Timestamps; literals are ISO-8601 strings.
    Time,
    Bool,
    Tags,
    /// The key side of a key/value pair family.
    Key,
    /// The value side of `metadata`/`input`/`output` pairs: any scalar.
    Value,
    /// The value side of feedback: a numeric score.
    Score,
    /// `metadata` as a whole: JSON containment with `has`.
    Blob,
    /// `inputs` / `outputs` as a whole: only for `search(field, "text")`.
    Body,
}

impl Kind {
    /// The comparators a field of this kind accepts.
    pub(crate) fn ops(self) -> &'static [Op] {
        use Op::*;
        match self {
            Kind::Text | Kind::Value => &[Eq, Neq, In, Like, Gt, Gte, Lt, Lte],
            Kind::Enum | Kind::Key => &[Eq, Neq, In, Like],
            Kind::Number | Kind::Latency | Kind::Time | Kind::Score => {
                &[Eq, Neq, In, Gt, Gte, Lt, Lte]
            }
            Kind::Bool => &[Eq, Neq],
            Kind::Tags => &[Has, Eq, Neq, In, Like],
            Kind::Blob => &[Has],
            Kind::Body => &[],
        }
    }

    /// Whether `search(field, "text")` applies.
    pub(crate) fn searchable(self) -> bool {
        matches!(
            self,
            Kind::Text
                | Kind::Enum
                | Kind::Tags
                | Kind::Key
                | Kind::Value
                | Kind::Blob
                | Kind::Body
        )
    }
}

impl Field {
    pub fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .expect("every field is listed")
    }

    /// Looks a field up by name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
    }

    pub fn is_time(self) -> bool {
        self.kind() == Kind::Time
    }

    pub(crate) fn kind(self) -> Kind {
        use Field::*;
        match self {
            Id | Name | Error | ThreadId | TraceId | ParentRunId | SessionId
            | ReferenceExampleId => Kind::Text,
            RunType | Status => Kind::Enum,
            TotalTokens | PromptTokens | CompletionTokens | TotalCost | PromptCost
            | CompletionCost | ExecutionOrder => Kind::Number,
            Latency => Kind::Latency,
            StartTime | EndTime | FirstTokenTime => Kind::Time,
            IsRoot => Kind::Bool,
            Tags => Kind::Tags,
            FeedbackKey | MetadataKey | InputKey | OutputKey => Kind::Key,
            MetadataValue | InputValue | OutputValue => Kind::Value,
            FeedbackScore => Kind::Score,
            Metadata => Kind::Blob,
            Inputs | Outputs => Kind::Body,
        }
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

impl Pair {
    pub(crate) const ALL: [Pair; 4] = [Pair::Metadata, Pair::Input, Pair::Output, Pair::Feedback];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

/// A comparator (everything but `and`, `or`, `not`, `search`).
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

    /// Looks a comparator up by name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Op> {
        OPS.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, o)| *o)
    }
}

/// A value in a comparison, already converted to what its field compares against.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    /// A number; latency durations are converted to seconds.
    Num(f64),
    Bool(bool),
    Null,
    /// A timestamp (µs since the epoch, UTC), from a string compared with a time field.
    Time(i64),
    /// The JSON object of `has(metadata, '{"k": "v"}')`, parsed once.
    Json(serde_json::Value),
    List(Vec<Literal>),
}

/// `op(field, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub op: Op,
    pub field: Field,
    pub value: Literal,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Comparison),
    /// `search("text")` over the whole run, or `search(field, "text")`. The text is stored
    /// lower-cased: search is case-insensitive.
    Search {
        field: Option<Field>,
        text: String,
    },
}

impl Expr {
    /// Whether the expression uses full-text search (LangSmith rate-limits it harder).
    pub fn uses_search(&self) -> bool {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().any(Expr::uses_search),
            Expr::Not(e) => e.uses_search(),
            Expr::Cmp(_) => false,
            Expr::Search { .. } => true,
        }
    }

    /// Fields the expression names, each once, in order of appearance (a field-less
    /// `search("text")` names none; see [`Expr::uses_search`]).
    pub fn fields(&self) -> Vec<Field> {
        fn walk(e: &Expr, out: &mut Vec<Field>) {
            let mut add = |f: Field| {
                if !out.contains(&f) {
                    out.push(f);
                }
            };
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, out)),
                Expr::Not(e) => walk(e, out),
                Expr::Cmp(c) => add(c.field),
                Expr::Search { field: Some(f), .. } => add(*f),
                Expr::Search { field: None, .. } => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

impl std::str::FromStr for Expr {
    type Err = super::ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::parse(s)
    }
}
