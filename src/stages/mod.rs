//! The running pipeline: one tokio task per stage and sink, joined by bounded channels so a
//! slow consumer slows its producers (backpressure), all sharing one LangSmith client.

pub mod group;
pub mod progress;
pub mod rows;
mod runner;

use std::sync::Arc;

pub use group::Group;
pub use progress::Progress;
pub use runner::{
    PlannedQuery, RunOptions, RunSummary, SinkTarget, StageReport, TraceScope, derive_select,
    plan_queries, run_pipeline,
};

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
