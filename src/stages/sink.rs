//! The sink stage: a blocking task that turns what reaches it into files (`crate::sink`).

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;

use super::Msg;
use super::progress::StageCounter;
use super::rows::RowSpec;
use crate::flatten::TableBuilder;
use crate::sink::{Sink, SinkOptions, SinkReport};

pub(crate) fn run(
    id: String,
    options: SinkOptions,
    mut inbox: mpsc::Receiver<Msg>,
    counter: Arc<StageCounter>,
) -> anyhow::Result<(String, SinkReport)> {
    let context = format!("sink {id:?}");
    write_sink(options, &mut inbox, &counter)
        .context(context)
        .map(|report| (id, report))
}

fn write_sink(
    options: SinkOptions,
    inbox: &mut mpsc::Receiver<Msg>,
    counter: &StageCounter,
) -> anyhow::Result<SinkReport> {
    let mut sink = Sink::new(options)?;
    let spec = RowSpec::default_spec();
    let trace_spec = RowSpec::trace_spec();
    let thread_spec = RowSpec::thread_spec();
    while let Some(msg) = inbox.blocking_recv() {
        counter.add_in(msg.len());
        counter.add_out(msg.len());
        match msg {
            Msg::Rows(rows) => sink.write(&rows.batch, &rows.start_times)?,
            Msg::Runs(records) => {
                // Roots from a traces query carry their totals: the trace row.
                let spec = match records.first() {
                    Some(r) if r.trace.is_some() => &trace_spec,
                    _ => &spec,
                };
                let mut table = TableBuilder::with_columns(spec.column_kinds());
                let mut starts = Vec::with_capacity(records.len());
                let mut cells = Vec::new();
                for r in records.iter() {
                    spec.cells_into(r, &mut cells);
                    table.push_row(cells.drain(..));
                    starts.push(r.run.start_time.value().map(|t| t.micros()));
                }
                sink.write(&table.finish(), &starts)?;
            }
            Msg::Threads(threads) => {
                let mut table = TableBuilder::with_columns(thread_spec.column_kinds());
                let mut starts = Vec::with_capacity(threads.len());
                for t in threads.iter() {
                    table.push_row(thread_spec.thread_cells(t));
                    starts.push(t.first_start_us);
                }
                sink.write(&table.finish(), &starts)?;
            }
            Msg::TracesSeen(_) | Msg::Groups(_) => {}
        }
    }
    sink.finish()
}
