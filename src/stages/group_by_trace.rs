//! The `group_by_trace` stage: folds runs into per-trace aggregates ([`Group`]).

use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::mpsc;

use super::group::{Aggregate, Group};
use super::progress::StageCounter;
use super::{Msg, Outputs, StageReport, send};

/// Announces each trace id when first seen (so a `fetch_roots` can start fetching), and sends
/// the finished groups once the input ends: only then is a trace known to be complete.
pub(crate) async fn run(
    aggregates: IndexMap<String, Aggregate>,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    report: StageReport,
    counter: Arc<StageCounter>,
) -> anyhow::Result<StageReport> {
    let mut groups: IndexMap<String, Group> = IndexMap::new();
    let mut n_in = 0;
    while let Some(msg) = inbox.recv().await {
        n_in += msg.len() as u64;
        let Msg::Runs(records) = msg else { continue };
        let mut new = vec![];
        for r in records.iter() {
            let trace = r
                .run
                .trace_id
                .value()
                .cloned()
                .unwrap_or_else(|| r.run.id.clone());
            let group = groups.entry(trace.clone()).or_insert_with(|| {
                new.push(trace.clone());
                Group::new(trace)
            });
            group.add(&r.run, &aggregates);
        }
        counter.add_in(records.len());
        counter.add_out(new.len());
        if !new.is_empty() {
            send(&outputs, Msg::TracesSeen(Arc::new(new))).await?;
        }
    }
    let n_out = groups.len() as u64;
    let finished: Vec<Arc<Group>> = groups
        .into_values()
        .map(|g| Arc::new(g.finish(&aggregates)))
        .collect();
    for chunk in finished.chunks(1000) {
        send(&outputs, Msg::Groups(Arc::new(chunk.to_vec()))).await?;
    }
    Ok(StageReport {
        items_in: n_in,
        items_out: n_out,
        ..report
    })
}
