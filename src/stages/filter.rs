//! The `filter` stage: keeps the runs a filter expression matches, evaluated locally.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::progress::StageCounter;
use super::{Msg, Outputs, Record, StageReport, send};
use crate::filter::{Expr, RunFacts};

pub(crate) async fn run(
    expr: Expr,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    report: StageReport,
    counter: Arc<StageCounter>,
) -> anyhow::Result<StageReport> {
    let (mut n_in, mut n_out) = (0, 0);
    while let Some(msg) = inbox.recv().await {
        n_in += msg.len() as u64;
        if let Msg::Runs(records) = msg {
            let kept: Vec<Record> = records
                .iter()
                .filter(|r| expr.matches(&RunFacts::from_run(&r.run)))
                .cloned()
                .collect();
            n_out += kept.len() as u64;
            counter.add_in(records.len());
            counter.add_out(kept.len());
            send(&outputs, Msg::Runs(Arc::new(kept))).await?;
        }
    }
    Ok(StageReport {
        items_in: n_in,
        items_out: n_out,
        ..report
    })
}
