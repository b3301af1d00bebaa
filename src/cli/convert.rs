use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::model::{Rejected, RejectedRuns};
use crate::sink::defaults;
use crate::source::{RunSource, StreamedFiles};
use crate::topology::{RunOptions, SinkTarget, run_pipeline};

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
    /// How many unreadable lines may be set aside (in OUTPUT/_rejected.jsonl) with the output
    /// still published; past it, convert finishes reading, publishes nothing and exits 1.
    #[arg(long, default_value_t = 0)]
    pub max_rejected: usize,
    /// Print the summary as one JSON object on stdout (instead of the files written).
    #[arg(long)]
    pub json: bool,
}

/// What convert runs: every run of the file as the standard run columns, one Parquet table
/// without partitions (the `runs` pipeline over a streamed read of the file).
const PIPELINE: &str = r#"
name = "convert"
description = "runlake convert: every run of a JSONL file as the standard run columns"

[source]
# A streamed read of run files holds every project of the file.
project = "(every project in the file)"

[stages.runs]
type = "query_runs"

[stages.rows]
type = "flatten"
inputs = ["runs"]

[sinks.out]
type = "parquet"
inputs = ["rows"]
partition_by = []
"#;

/// Where the sink writes before the output is published (hidden from readers).
const STAGING: &str = "_convert";
/// The lines set aside, beside the output (hidden from readers).
const REJECTED: &str = "_rejected.jsonl";

/// What convert did, as `--json` prints it.
#[derive(Debug, serde::Serialize)]
struct ConvertSummary {
    input: String,
    output: String,
    /// Whether the files were published into `output` (false past `--max-rejected`).
    published: bool,
    files: Vec<String>,
    runs: u64,
    rejected: usize,
    rejected_file: Option<String>,
    json_bytes: u64,
    parquet_bytes: u64,
    wall_seconds: f64,
}

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let overrides = [(
        "stages.rows.batch_rows".to_string(),
        args.batch_rows.to_string(),
    )];
    let pipeline = crate::config::parse_with(
        Path::new("(built in) convert"),
        PIPELINE,
        &|_| None,
        &overrides,
    )?;
    let source = StreamedFiles::open(&args.input)?;
    let staging = args.output.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    let opts = RunOptions {
        sinks: HashMap::from([(
            "out".to_string(),
            SinkTarget {
                dir: staging.clone(),
                name: "runs".into(),
                partition_by: vec![],
                format: None,
                committed: vec![],
            },
        )]),
        // Every line is read before the limit is applied, so the rejected file is complete.
        rejected: Arc::new(RejectedRuns::with_limit(None)),
        ..Default::default()
    };
    let ran = super::pipeline_runtime()?.block_on(run_pipeline(
        &pipeline,
        Arc::new(source.clone()),
        &opts,
    ));
    let rejected = opts.rejected.take();
    let rejected_file = set_aside(&args.output, &rejected)?;
    let summary = match ran {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let report = &summary.sinks["out"];
    let published = rejected.len() <= args.max_rejected;
    let mut files = vec![];
    if published {
        for f in &report.files {
            let to = args.output.join(&f.path);
            std::fs::rename(staging.join(&f.path), &to)
                .with_context(|| format!("cannot publish {}", to.display()))?;
            files.push(to.display().to_string());
        }
    }
    std::fs::remove_dir_all(&staging)
        .with_context(|| format!("cannot remove {}", staging.display()))?;
    let stats = source.stats();
    let out = ConvertSummary {
        input: args.input.display().to_string(),
        output: args.output.display().to_string(),
        published,
        files,
        runs: report.rows,
        rejected: rejected.len(),
        rejected_file: rejected_file.map(|p| p.display().to_string()),
        json_bytes: stats.bytes,
        parquet_bytes: report.bytes,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    print_summary(&out, args.json)?;
    if !published {
        anyhow::bail!(
            "{} run(s) could not be read, more than --max-rejected {} allows; first: {}. \
             Nothing was published into {}; the lines set aside are in {}",
            rejected.len(),
            args.max_rejected,
            rejected[0].describe(),
            args.output.display(),
            out.rejected_file.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

/// Writes the lines set aside to `OUTPUT/_rejected.jsonl` (one `Rejected` record a line), or
/// removes a stale one when there are none.
fn set_aside(output: &Path, rejected: &[Rejected]) -> anyhow::Result<Option<PathBuf>> {
    let path = output.join(REJECTED);
    if rejected.is_empty() {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", path.display()));
            }
            _ => return Ok(None),
        }
    }
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut lines = Vec::new();
    for r in rejected {
        serde_json::to_writer(&mut lines, r)?;
        lines.push(b'\n');
    }
    std::fs::write(&path, lines).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(path))
}

fn print_summary(s: &ConvertSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(s)?);
    } else {
        for f in &s.files {
            println!("{f}");
        }
    }
    let aside = match &s.rejected_file {
        Some(at) => format!("; {} line(s) set aside in {at}", s.rejected),
        None => String::new(),
    };
    eprintln!(
        "{} runs, {:.1} MB of JSON in {:.2}s = {:.1} MB/s; {:.1} MB of Parquet{aside}",
        s.runs,
        s.json_bytes as f64 / 1e6,
        s.wall_seconds,
        s.json_bytes as f64 / 1e6 / s.wall_seconds,
        s.parquet_bytes as f64 / 1e6
    );
    Ok(())
}
