//! LangSmith's filter query language (`filter`, `trace_filter`, `tree_filter`): a parser with
//! precise errors, a canonical printer, and an evaluator over one run or a trace.
//!
//! Choices where LangSmith's documentation is silent: function, field and keyword names are
//! case-insensitive; strings take JSON escapes in either quote kind; `latency` accepts seconds
//! or durations ("5s", "500ms", "2m", "1h"); `run_type`/`status` compare case-insensitively,
//! other strings exactly; full-text `search()` is a case-insensitive substring match over the
//! run's name, error, string leaves of inputs and outputs, tags and metadata values;
//! `tree_filter` counts every run of the trace, the candidate and the root included.

mod ast;
mod eval;
mod facts;
mod parser;
mod printer;

pub use ast::{Comparison, Expr, FIELDS, Field, Literal, OPS, Op, Pair, Side};
pub use eval::{like, trace_filter_matches, tree_filter_matches};
pub use facts::{Feedback, RunFacts};
pub use parser::{ParseError, parse, parse_duration};

#[cfg(test)]
mod tests;
