use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::flatten::TableBuilder;
use crate::model::Run;
use crate::sink::{Format, Sink, SinkOptions, defaults};
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
    #[arg(long, default_value_t = defaults::BATCH_ROWS)]
    pub batch_rows: usize,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let reader = crate::runstore::open_maybe_compressed(&args.input)?;
    let spec = RowSpec::default_spec();
    let mut sink = Sink::new(SinkOptions {
        committed: vec![],
        format: Format::Parquet,
        dir: args.output.clone(),
        name: "runs".into(),
        compression: "zstd".into(),
        compression_level: crate::config::ZSTD_DEFAULT_LEVEL,
        row_group_rows: defaults::ROW_GROUP_ROWS,
        max_rows_per_file: defaults::MAX_ROWS_PER_FILE,
        max_file_bytes: defaults::MAX_FILE_MB * 1024 * 1024,
        partition_by: vec![],
        metadata: vec![("runlake.version".into(), env!("CARGO_PKG_VERSION").into())],
    })?;
    // Parsing and Parquet encoding take about the same time: run them on two threads.
    let (tx, rx) = std::sync::mpsc::sync_channel::<arrow::record_batch::RecordBatch>(4);
    let writer = std::thread::spawn(move || -> anyhow::Result<crate::sink::SinkReport> {
        for batch in rx {
            sink.write(&batch, &[])?;
        }
        sink.finish()
    });
    let (mut bytes, mut rows) = (0u64, 0u64);
    // Lines are read in blocks of about BLOCK_BYTES and parsed by two builder threads (row
    // order within the output does not matter to a dataset); the writer thread encodes
    // Parquet meanwhile. A block is one allocation, checked as UTF-8 once.
    let (block_tx, block_rx) = std::sync::mpsc::sync_channel::<Block>(4);
    let block_rx = std::sync::Arc::new(std::sync::Mutex::new(block_rx));
    let input = args.input.display().to_string();
    let parsed = std::thread::scope(|scope| -> anyhow::Result<()> {
        let builders: Vec<_> = (0..2)
            .map(|_| {
                let (block_rx, tx, spec, input) = (block_rx.clone(), tx.clone(), &spec, &input);
                scope.spawn(move || -> anyhow::Result<u64> {
                    let mut table = TableBuilder::with_columns(spec.column_kinds());
                    let mut rows = 0;
                    loop {
                        let next = block_rx.lock().expect("block queue").recv();
                        let Ok(Block { first_line, text }) = next else {
                            break;
                        };
                        let text = std::str::from_utf8(&text).map_err(|e| {
                            let line = first_line + count_lines(&text[..e.valid_up_to()]);
                            anyhow::anyhow!("{input}:{line}: not UTF-8")
                        })?;
                        for (k, line) in text.lines().enumerate() {
                            if line.trim().is_empty() {
                                continue;
                            }
                            let run = Run::from_json(line).with_context(|| {
                                format!("{input}:{}: not a run", first_line + k)
                            })?;
                            table.push_row(spec.cells(&Record::of(run)));
                            rows += 1;
                            if table.rows() >= args.batch_rows && tx.send(table.finish()).is_err() {
                                return Ok(rows); // the writer failed; its error is reported below
                            }
                        }
                    }
                    if table.rows() > 0 {
                        let _ = tx.send(table.finish());
                    }
                    Ok(rows)
                })
            })
            .collect();
        let mut reader = reader;
        let mut line = 1;
        loop {
            let mut text = Vec::with_capacity(BLOCK_BYTES + (64 << 10));
            let mut lines = 0;
            while text.len() < BLOCK_BYTES {
                let n = reader
                    .read_until(b'\n', &mut text)
                    .with_context(|| format!("{input}:{}", line + lines))?;
                if n == 0 {
                    break;
                }
                lines += 1;
            }
            if text.is_empty() {
                break;
            }
            bytes += text.len() as u64;
            let block = Block {
                first_line: line,
                text,
            };
            line += lines;
            if block_tx.send(block).is_err() {
                break;
            }
        }
        drop(block_tx);
        for b in builders {
            rows += b
                .join()
                .map_err(|_| anyhow::anyhow!("a row builder panicked"))??;
        }
        Ok(())
    });
    drop(tx);
    let report = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the Parquet writer panicked"))??;
    parsed?;
    let secs = started.elapsed().as_secs_f64();
    for f in &report.files {
        println!("{}", args.output.join(&f.path).display());
    }
    eprintln!(
        "{rows} runs, {:.1} MB of JSON in {secs:.2}s = {:.1} MB/s; {:.1} MB of Parquet",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs,
        report.bytes as f64 / 1e6
    );
    Ok(())
}

/// About this many bytes of whole lines go to a builder at a time.
const BLOCK_BYTES: usize = 1 << 20;

/// Whole lines of the input, starting at line `first_line` (1-based).
struct Block {
    first_line: usize,
    text: Vec<u8>,
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}
