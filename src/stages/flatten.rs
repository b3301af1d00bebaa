//! The `flatten` stage: runs (with their trace's aggregates) into Arrow record batches.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::progress::StageCounter;
use super::rows::RowSpec;
use super::{Msg, Outputs, StageReport, send};
use crate::flatten::TableBuilder;
use crate::sink::RowBatch;

/// Payload bytes per record batch leaving a flatten.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

pub(crate) async fn run(
    spec: RowSpec,
    batch_rows: usize,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    report: StageReport,
    counter: Arc<StageCounter>,
) -> anyhow::Result<StageReport> {
    let mut table = TableBuilder::with_columns(spec.column_kinds());
    let mut starts: Vec<Option<i64>> = Vec::with_capacity(batch_rows);
    let (mut n_in, mut n_out, mut bytes) = (0, 0, 0usize);
    while let Some(msg) = inbox.recv().await {
        n_in += msg.len() as u64;
        let Msg::Runs(records) = msg else { continue };
        counter.add_in(records.len());
        counter.add_out(records.len());
        for r in records.iter() {
            let cells = spec.cells(r);
            bytes += cells.iter().map(|(_, c)| c.approx_bytes()).sum::<usize>();
            table.push_row(cells);
            starts.push(r.run.start_time.value().map(|t| t.micros()));
            // Bounded in rows and bytes: payload-heavy rows make big batches, and every
            // queued batch is memory.
            if table.rows() >= batch_rows || bytes >= BATCH_BYTES {
                n_out += table.rows() as u64;
                bytes = 0;
                send(&outputs, rows_msg(&mut table, &mut starts)).await?;
            }
        }
    }
    if table.rows() > 0 {
        n_out += table.rows() as u64;
        send(&outputs, rows_msg(&mut table, &mut starts)).await?;
    }
    Ok(StageReport {
        items_in: n_in,
        items_out: n_out,
        ..report
    })
}

fn rows_msg(table: &mut TableBuilder, starts: &mut Vec<Option<i64>>) -> Msg {
    Msg::Rows(RowBatch {
        batch: table.finish(),
        start_times: Arc::new(std::mem::take(starts)),
    })
}
