//! The stage kinds, one module each, and what flows between them: a running stage is a tokio
//! task (a sink a blocking one), joined to its neighbours by bounded channels so a slow
//! consumer slows its producers (backpressure). `topology` wires them.

pub(crate) mod fetch_roots;
pub(crate) mod filter;
pub(crate) mod flatten;
pub mod group;
pub(crate) mod group_by_trace;
pub mod progress;
pub(crate) mod query_runs;
pub mod rows;
pub(crate) mod sink;

use std::sync::Arc;

use tokio::sync::mpsc;

pub use group::Group;
pub use progress::Progress;

use chrono::{DateTime, Utc};

use crate::model::Run;

/// A window owns the traces whose root started in it, so that a trace spanning a window
/// boundary becomes one row, not one per window. Query stages that feed a `group_by_trace`
/// or `fetch_roots` fetch child runs up to `query_until` (the window end plus a margin for
/// long traces) and keep the runs of owned traces only.
#[derive(Debug, Clone, Copy)]
pub struct TraceScope {
    /// Traces started before this belong to an earlier window (`None`: no earlier window).
    pub start: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
    pub query_until: DateTime<Utc>,
}

impl TraceScope {
    pub(crate) fn owns(&self, run: &crate::model::Run) -> bool {
        let Some(t) = run
            .trace_start_micros()
            .or_else(|| run.start_time.value().map(|t| t.micros()))
        else {
            return true;
        };
        self.start.is_none_or(|s| t >= s.timestamp_micros()) && t < self.end.timestamp_micros()
    }
}

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
pub(crate) type Outputs = Vec<mpsc::Sender<Msg>>;

/// A consumer went away: its own error is the one to report.
#[derive(Debug, thiserror::Error)]
#[error("a downstream component stopped")]
pub(crate) struct DownstreamStopped;

/// Sends `msg` to every consumer, waiting while one is full (backpressure).
async fn send(outputs: &Outputs, msg: Msg) -> anyhow::Result<()> {
    for tx in outputs {
        tx.send(msg.clone()).await.map_err(|_| DownstreamStopped)?;
    }
    Ok(())
}
