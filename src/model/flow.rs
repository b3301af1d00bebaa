//! What flows on an edge of a pipeline's graph.

/// What flows on an edge of the graph, for checking that edges make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Runs,
    Groups,
    Rows,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::Runs => "runs",
            Flow::Groups => "trace groups",
            Flow::Rows => "rows",
        }
    }
}
