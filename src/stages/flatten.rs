//! `type = "flatten"`: runs (with their trace's aggregates) into typed Arrow record batches.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::progress::StageCounter;
use super::rows::RowSpec;
use super::{Flow, Msg, Outputs, Record, StageKind, Start, send};
use crate::flatten::TableBuilder;
use crate::located::Checks;
use crate::located::schema::{inputs, integer, kind, one_of_strings, run_path, string, table};
use crate::model::ThreadRecord;
use crate::model::paths::{ColumnSource, ExpandSource, FEEDBACK_STATS};
use crate::sink::{RowBatch, defaults};

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    pub inputs: Vec<String>,
    #[serde(default)]
    pub columns: Vec<ColumnSettings>,
    #[serde(default)]
    pub expand: Vec<ExpandSettings>,
    /// Rows per record batch.
    pub batch_rows: Option<usize>,
}

/// A column: `{ name = "run_id", from = "id" }`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnSettings {
    pub name: String,
    pub from: String,
}

/// Expands an object into `prefix + key` columns: `{ from = "inputs", prefix = "inputs." }`;
/// for `feedback_stats`, `stat` picks the statistic (default `avg`); `from = "group"`
/// expands the group's keyed aggregates.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpandSettings {
    pub from: String,
    pub prefix: Option<String>,
    pub stat: Option<String>,
}

/// A flatten stage: its columns compiled into a row spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Flatten {
    pub inputs: Vec<String>,
    pub spec: RowSpec,
    pub batch_rows: usize,
}

impl StageKind for Flatten {
    const KIND: &'static str = "flatten";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<Flatten> {
        if s.batch_rows == Some(0) {
            cx.error("batch_rows", "must be at least 1");
        }
        let mut columns = vec![];
        for c in &s.columns {
            match ColumnSource::parse(&c.from) {
                Ok(source) => columns.push((c.name.clone(), source)),
                Err(e) => cx.error(&format!("columns.{}", c.name), e),
            }
        }
        let mut expand = vec![];
        for x in &s.expand {
            match ExpandSource::parse(&x.from, x.stat.as_deref()) {
                Ok(source) => expand.push((source, x.prefix.clone())),
                Err(e) => cx.error("expand", e),
            }
        }
        if columns.len() != s.columns.len() || expand.len() != s.expand.len() {
            return None;
        }
        Some(Flatten {
            inputs: s.inputs,
            spec: RowSpec::new(columns, expand),
            batch_rows: s.batch_rows.unwrap_or(defaults::BATCH_ROWS).max(1),
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        vec![
            (
                Self::KIND,
                table(
                    "Turns runs into typed table rows.",
                    json!({
                        "type": kind(Self::KIND, "Runs to rows."),
                        "inputs": inputs("stage"),
                        "columns": { "type": "array", "items": { "$ref": "#/$defs/column" }, "description": "Columns, in order." },
                        "expand": { "type": "array", "items": { "$ref": "#/$defs/expand" }, "description": "Objects spread into prefixed columns after `columns`." },
                        "batch_rows": integer("Rows per record batch.", 1),
                    }),
                    &["type", "inputs"],
                ),
            ),
            (
                "column",
                table(
                    "One output column.",
                    json!({
                        "name": string("Column name."),
                        "from": run_path("Where the value comes from; `group.<aggregate>` reads an aggregate of group_by_trace, `trace.<field>` a trace's totals (query_traces), `thread.<field>` a thread (query_threads)."),
                    }),
                    &["name", "from"],
                ),
            ),
            (
                "expand",
                table(
                    "Spreads an object into one column per key.",
                    json!({
                        "from": run_path("The object to spread; `feedback_stats` (one column per feedback key) and `group` (the keyed aggregates) are special."),
                        "prefix": string("Column name prefix, e.g. \"inputs.\"."),
                        "stat": one_of_strings(FEEDBACK_STATS, "With from = \"feedback_stats\": the statistic per key (default avg)."),
                    }),
                    &["from"],
                ),
            ),
        ]
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn produces(&self) -> Flow {
        Flow::Rows
    }

    /// Runs, or traces (roots with totals: `trace.*` columns read them), or threads when
    /// every column is a `thread.*` one.
    fn accepts(&self, flow: Flow) -> bool {
        match flow {
            Flow::Runs => !self.spec.reads_traces() && !self.spec.reads_threads(),
            Flow::Traces => !self.spec.reads_threads(),
            Flow::Threads => self.spec.reads_threads_only(),
            Flow::Groups | Flow::Rows => false,
        }
    }

    fn reads(&self) -> Vec<&'static str> {
        self.spec.selects()
    }

    fn unit(&self) -> &'static str {
        "rows"
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        run(
            self.spec.clone(),
            self.batch_rows,
            start.inbox,
            start.outputs,
            start.counter,
        )
        .boxed()
    }
}

/// Payload bytes per record batch leaving a flatten: a few hundred payload-heavy rows, plenty
/// for the writer's pages, while the builders (which double as they grow) and the queued
/// batches stay small.
const BATCH_BYTES: usize = 1024 * 1024;

async fn run(
    spec: RowSpec,
    batch_rows: usize,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    counter: Arc<StageCounter>,
) -> anyhow::Result<()> {
    let mut table = TableBuilder::with_columns(spec.column_kinds());
    let mut starts: Vec<Option<i64>> = Vec::with_capacity(batch_rows);
    let mut bytes = 0usize;
    while let Some(msg) = inbox.recv().await {
        let rows = match &msg {
            Msg::Runs(records) => Rows::Runs(records),
            Msg::Threads(threads) => Rows::Threads(threads),
            Msg::TracesSeen(_) | Msg::Groups(_) | Msg::Rows(_) => continue,
        };
        let count = msg.len();
        counter.add_in(count);
        counter.add_out(count);
        // One row's cells at a time, in a vector reused across the message's rows.
        let mut cells = Vec::new();
        for i in 0..count {
            let start = match rows {
                Rows::Runs(records) => {
                    spec.cells_into(&records[i], &mut cells);
                    records[i].run.start_time.value().map(|t| t.micros())
                }
                // A thread's row is partitioned by its first turn.
                Rows::Threads(threads) => {
                    cells.extend(spec.thread_cells(&threads[i]));
                    threads[i].first_start_us
                }
            };
            bytes += cells.iter().map(|(_, c)| c.approx_bytes()).sum::<usize>();
            table.push_row(cells.drain(..));
            starts.push(start);
            // Bounded in rows and bytes: payload-heavy rows make big batches, and every
            // queued batch is memory.
            if table.rows() >= batch_rows || bytes >= BATCH_BYTES {
                bytes = 0;
                send(&outputs, rows_msg(&mut table, &mut starts)).await?;
            }
        }
    }
    if table.rows() > 0 {
        send(&outputs, rows_msg(&mut table, &mut starts)).await?;
    }
    Ok(())
}

/// The records of a message that become rows.
#[derive(Clone, Copy)]
enum Rows<'m> {
    Runs(&'m [Record]),
    Threads(&'m [ThreadRecord]),
}

pub(super) fn rows_msg(table: &mut TableBuilder, starts: &mut Vec<Option<i64>>) -> Msg {
    Msg::Rows(RowBatch {
        batch: table.finish(),
        start_times: Arc::new(std::mem::take(starts)),
    })
}
