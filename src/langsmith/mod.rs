//! The LangSmith HTTP client every stage shares: endpoint and credentials, v1 and v2 run
//! queries streamed page by page, id batches, window splitting, one adaptive rate limiter per
//! endpoint and query tier, retries with backoff, and counters for the run summary.

mod client;
mod config;
mod error;
pub mod fields;
mod limiter;
mod query;
mod stats;

pub use client::{ApiVersion, Client};
pub use config::{ApiChoice, ClientConfig, RateSpec, Secret, normalize_endpoint};
pub use error::ClientError;
pub use limiter::AdaptiveLimiter;
pub use query::{Order, RunsQuery};
pub use stats::{ClientStats, StatsSnapshot};
