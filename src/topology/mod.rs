//! The topology: a validated pipeline wired into running stages. `plan` says what each query
//! stage will ask and what fields its consumers read; `runner` wires the stages and sinks with
//! bounded channels, starts each, and joins them into a run summary.

mod outputs;
mod plan;
mod runner;

pub use plan::{PlannedQuery, derive_select, plan_queries, source_context};
pub use runner::{RunOptions, RunSummary, SinkTarget, run_pipeline};

/// The select a stage's consumers need (for `runlake plan`).
pub fn derive_select_for(p: &crate::config::Pipeline, id: &str) -> Vec<String> {
    derive_select(p, id, &["trace_id"])
}
