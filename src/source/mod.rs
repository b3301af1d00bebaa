//! Where a pipeline's runs come from, behind one small trait: the LangSmith API (v2 or v1,
//! [`langsmith`]) or captured run files replayed offline ([`files`]). Stages see only
//! [`RunSource`]; they never know which. Besides runs, a source answers v2's trace and thread
//! queries (run files compute them offline, as the emulator does).

mod bulk_export;
pub mod files;
mod langsmith;
pub mod offloaded;
mod priority;
mod summaries;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use crate::langsmith::PageStream;
use crate::langsmith::{
    ClientError, FeedbackPageStream, FeedbackQuery, ItemStream, Lane, RunsQuery, StatsSnapshot,
    Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery, Trace, TracesQuery,
};
pub use files::{FileSource, StreamedFiles};
pub use offloaded::OffloadedPayloads;

/// A source of runs with LangSmith's query semantics.
pub trait RunSource: Send + Sync {
    /// Where runs come from, for messages: an endpoint or a path.
    fn origin(&self) -> String;
    /// A project's id from its name.
    fn resolve_project<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, ClientError>>;
    /// Every page of a query, fetched lazily. `split`: the source may cut a long window
    /// where that buys a faster rate tier.
    fn query(&self, query: RunsQuery, split: bool) -> PageStream;
    /// Runs by id; `base` supplies projects and `select`.
    fn fetch_by_ids(&self, base: &RunsQuery, ids: Vec<String>) -> PageStream;
    /// Feedback entries, page by page, as `GET /api/v1/feedback` lists them (`sessions` are
    /// project ids; `min_modified_at` is applied to each page).
    fn feedback(&self, query: FeedbackQuery) -> FeedbackPageStream;
    /// How many ids one fetch takes for a query like `base`.
    fn batch_size<'a>(&'a self, base: &'a RunsQuery) -> BoxFuture<'a, Result<usize, ClientError>>;
    /// The traces of one project (root runs with their trace's totals), as v2's
    /// `traces/query` pages them.
    fn traces(&self, query: TracesQuery) -> ItemStream<Trace>;
    /// The conversation threads of one project, as v2's `threads/query` pages them.
    fn threads(&self, query: ThreadsQuery) -> ItemStream<Thread>;
    /// One thread's traces (turns), oldest first.
    fn thread_traces(&self, query: ThreadTracesQuery) -> ItemStream<ThreadTrace>;
    /// Requests, retries, runs and bytes so far.
    fn stats(&self) -> StatsSnapshot;
    /// Each lane's allowance per window (`None`: not paced), and the window; nothing for a
    /// source without requests.
    fn lane_limits(&self) -> (Vec<(Lane, Option<u32>)>, Duration);
}

/// A shared source.
pub type Source = Arc<dyn RunSource>;
