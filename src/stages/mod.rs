//! The running pipeline: one tokio task per stage and sink, joined by bounded channels so a
//! slow consumer slows its producers (backpressure), all sharing one LangSmith client.

mod fetch_roots;
mod filter;
mod flatten;
pub mod group;
mod group_by_trace;
mod plan;
pub mod progress;
mod query_runs;
pub mod rows;
mod runner;
mod sink;

use std::sync::Arc;

use tokio::sync::mpsc;

pub use group::Group;
pub use plan::{PlannedQuery, derive_select, plan_queries};
pub use progress::Progress;
pub use runner::{RunOptions, RunSummary, SinkTarget, TraceScope, run_pipeline};

/// The select a stage's consumers need (for `runlake plan`).
pub fn derive_select_for(p: &crate::config::Pipeline, id: &str) -> Vec<String> {
    derive_select(p, id, &["trace_id"])
}

use crate::model::Run;

/// A run, with its trace's aggregates once a `fetch_roots` has joined them.
#[derive(Debug, Clone)]
pub struct Record {
    pub run: Run,
    pub group: Option<Arc<Group>>,
}

/// What flows on an edge of the graph.
#[derive(Debug, Clone)]
pub enum Msg {
    Runs(Arc<Vec<Record>>),
    /// Trace ids seen for the first time, sent early so roots can be fetched while child
    /// runs still stream in.
    TracesSeen(Arc<Vec<String>>),
    /// Final per-trace aggregates, at the end of the input.
    Groups(Arc<Vec<Arc<Group>>>),
    Rows(crate::sink::RowBatch),
}

impl Msg {
    /// Items carried, for stage counters.
    pub fn len(&self) -> usize {
        match self {
            Msg::Runs(r) => r.len(),
            Msg::TracesSeen(t) => t.len(),
            Msg::Groups(g) => g.len(),
            Msg::Rows(b) => b.batch.num_rows(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a stage or sink did, for the run summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageReport {
    pub id: String,
    pub kind: String,
    pub items_in: u64,
    pub items_out: u64,
}

/// A producer's senders, one per consumer.
type Outputs = Vec<mpsc::Sender<Msg>>;

/// A consumer went away: its own error is the one to report.
#[derive(Debug, thiserror::Error)]
#[error("a downstream component stopped")]
struct DownstreamStopped;

/// Sends `msg` to every consumer, waiting while one is full (backpressure).
async fn send(outputs: &Outputs, msg: Msg) -> anyhow::Result<()> {
    for tx in outputs {
        tx.send(msg.clone()).await.map_err(|_| DownstreamStopped)?;
    }
    Ok(())
}
