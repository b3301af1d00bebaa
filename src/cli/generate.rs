use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::model::Timestamp;
use crate::sample::{self, SampleConfig};

/// `runlake generate`: a deterministic, realistic sample project as JSONL.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Project name (its id is derived from the name and seed).
    #[arg(long, default_value = "sample-project")]
    project: String,
    /// Number of traces (a trace is one root run and its descendants, ~10 runs on average).
    #[arg(long, default_value_t = 300)]
    traces: usize,
    /// Random seed: the same seed gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Latest start time of the data (ISO-8601).
    #[arg(long)]
    end: Option<Timestamp>,
    /// Days of start times before --end.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Output file; .gz and .zst compress.
    #[arg(long, short, required_unless_present = "bundled_sample")]
    out: Option<PathBuf>,
    /// Instead, write the bundled sample projects (data/sample/) into this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    bundled_sample: Option<PathBuf>,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.bundled_sample {
        let stats = sample::write_bundled_sample(dir)
            .with_context(|| format!("cannot write {}", dir.display()))?;
        for ((name, _, _), s) in sample::BUNDLED.iter().zip(stats) {
            tracing::info!("wrote {name}: {} traces, {} runs", s.traces, s.runs);
        }
        return Ok(());
    }
    let out_path = args.out.expect("clap requires --out");
    let mut config = SampleConfig::new(&args.project, args.traces, args.seed);
    if let Some(end) = args.end {
        config.end = end.0;
    }
    config.days = args.days;
    let mut out = sample::open_writer(&out_path)
        .with_context(|| format!("cannot write {}", out_path.display()))?;
    let stats = sample::generate(&config, &mut out).context("generating sample data")?;
    out.finish()
        .with_context(|| format!("cannot finish {}", out_path.display()))?;
    tracing::info!(
        "wrote {} traces, {} runs ({} bytes of JSON) for project {} (id {}) to {}",
        stats.traces,
        stats.runs,
        stats.bytes,
        args.project,
        sample::project_id(&args.project, args.seed),
        out_path.display()
    );
    Ok(())
}
