use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::flatten::TableBuilder;
use crate::model::Run;
use crate::sink::{Format, Sink, SinkOptions};
use crate::stages::Record;
use crate::stages::rows::RowSpec;

/// `runlake convert`: a JSONL file of runs (plain, .gz, .zst) → flattened Parquet, offline.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// JSONL of LangSmith runs.
    pub input: PathBuf,
    /// Output directory.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Rows per record batch.
    #[arg(long, default_value_t = 8192)]
    pub batch_rows: usize,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let reader = crate::emulator::open_maybe_compressed(&args.input)?;
    let spec = RowSpec::default_spec();
    let mut table = TableBuilder::with_columns(spec.column_kinds());
    let mut sink = Sink::new(SinkOptions {
        format: Format::Parquet,
        dir: args.output.clone(),
        name: "runs".into(),
        compression: "zstd".into(),
        row_group_rows: 100_000,
        max_rows_per_file: 1_000_000,
        metadata: vec![("runlake.version".into(), env!("CARGO_PKG_VERSION").into())],
    })?;
    // Parsing and Parquet encoding take about the same time: run them on two threads.
    let (tx, rx) = std::sync::mpsc::sync_channel::<arrow::record_batch::RecordBatch>(4);
    let writer = std::thread::spawn(move || -> anyhow::Result<crate::sink::SinkReport> {
        for batch in rx {
            sink.write(&batch)?;
        }
        sink.finish()
    });
    let (mut bytes, mut rows) = (0u64, 0u64);
    let parsed = (|| -> anyhow::Result<()> {
        for (i, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("{}:{}", args.input.display(), i + 1))?;
            bytes += line.len() as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let run = Run::from_json(&line)
                .with_context(|| format!("{}:{}: not a run", args.input.display(), i + 1))?;
            let record = Record { run, group: None };
            table.push_row(spec.cells(&record));
            rows += 1;
            if table.rows() >= args.batch_rows && tx.send(table.finish()).is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        if table.rows() > 0 {
            let _ = tx.send(table.finish());
        }
        Ok(())
    })();
    drop(tx);
    let report = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the Parquet writer panicked"))??;
    parsed?;
    let secs = started.elapsed().as_secs_f64();
    for f in &report.files {
        println!("{}", f.display());
    }
    eprintln!(
        "{rows} runs, {:.1} MB of JSON in {secs:.2}s = {:.1} MB/s; {:.1} MB of Parquet",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs,
        report.bytes as f64 / 1e6
    );
    Ok(())
}
