//! The LangSmith HTTP client every stage shares: endpoint and credentials, the choice of v1 or
//! v2 per query, run queries streamed page by page, id batches, v1 window splitting, pacing
//! per endpoint and rate tier (exact sliding windows, or adaptive after a 429), retries with
//! backoff, counters for the run summary, and request estimates for `runlake plan`; feedback
//! entries listed page by page (`feedback`).

mod client;
mod config;
mod error;
mod estimate;
mod feedback;
pub use crate::model::fields;
mod limiter;
mod query;
mod stats;
mod traces;

pub use client::{ApiVersion, Client, PageStream, without_query};
pub use config::{ApiChoice, ClientConfig, LaneLimits, Pacing, Secret, normalize_endpoint};
pub use error::ClientError;
pub use estimate::{Estimate, Tally};
pub use feedback::{
    Feedback, FeedbackPageStream, FeedbackQuery, FeedbackSource, FeedbackSourceType,
    RUN_IDS_PER_REQUEST,
};
pub use limiter::Lane;
pub use query::{Order, RunsQuery, SEVEN_DAYS, v2_select};
pub use stats::{ClientStats, StatsSnapshot};
pub use traces::{
    ItemStream, Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery, Trace, TraceAggregates,
    TraceRunsQuery, TracesQuery,
};
