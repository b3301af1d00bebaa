//! The `query_runs` stage: pages of a LangSmith runs query, as they arrive.

use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;

use super::progress::StageCounter;
use super::{Msg, Outputs, Record, StageReport, TraceScope, send};
use crate::langsmith::RunsQuery;
use crate::source::Source;

/// Sends each page on as it arrives; with a `scope`, only the runs of traces the window owns.
pub(crate) async fn run(
    source: Source,
    query: RunsQuery,
    split: bool,
    scope: Option<TraceScope>,
    outputs: Outputs,
    report: StageReport,
    counter: Arc<StageCounter>,
) -> anyhow::Result<StageReport> {
    let mut pages = source.query(query, split);
    let mut n = 0u64;
    while let Some(page) = pages.next().await {
        let mut runs = page.with_context(|| format!("stage {:?}", report.id))?;
        if let Some(scope) = &scope {
            runs.retain(|r| scope.owns(r));
        }
        n += runs.len() as u64;
        counter.add_out(runs.len());
        let records: Vec<Record> = runs
            .into_iter()
            .map(|run| Record { run, group: None })
            .collect();
        send(&outputs, Msg::Runs(Arc::new(records))).await?;
    }
    Ok(StageReport {
        items_out: n,
        ..report
    })
}
