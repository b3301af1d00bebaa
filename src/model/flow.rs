//! What flows on an edge of a pipeline's graph.

/// What flows on an edge of the graph, for checking that edges make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Runs,
    Groups,
    Rows,
    /// Root runs with their trace's totals (`query_traces`).
    Traces,
    /// One record per conversation thread (`query_threads`).
    Threads,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::Runs => "runs",
            Flow::Groups => "trace groups",
            Flow::Rows => "rows",
            Flow::Traces => "traces",
            Flow::Threads => "threads",
        }
    }
}
