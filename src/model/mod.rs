//! The LangSmith Run (span) format, read tolerantly: v1 and v2 shapes, naive and zoned
//! timestamps, costs as numbers or decimal strings, absent vs null fields, unknown fields kept;
//! and a load's vocabulary (windows, dispositions).

pub mod durations;
pub mod fields;
mod flow;
mod load;
mod maybe;
pub mod paths;
mod rejected;
mod run;
pub mod run_field;
pub mod summaries;
mod time;

pub use flow::Flow;
pub use load::{Disposition, Window, cut as cut_windows};
pub use maybe::Maybe;
pub use rejected::{Page, Rejected, RejectedRuns, TooManyRejected};
pub use run::{Decimal, Run};
pub use summaries::{ThreadRecord, TraceTotals};
pub use time::{Timestamp, format_naive_micros, parse_timestamp};
