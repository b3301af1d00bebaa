use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::emulator::{Emulator, EmulatorConfig, Store};
use crate::langsmith::{ApiChoice, Client, Secret};
use crate::stages::{RunOptions, run_pipeline};

/// `runlake quickstart`: the tool_usage pipeline on the bundled sample, through a built-in
/// emulator — no credentials, no network.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// The sample run file to serve.
    #[arg(long, default_value = "data/sample/agent-prod.jsonl.zst")]
    data: PathBuf,
    /// The pipeline to run.
    #[arg(long, default_value = "pipelines/tool_usage.toml")]
    pipeline: PathBuf,
    /// Where to write the output.
    #[arg(long, short, default_value = "out/tool_usage")]
    output: PathBuf,
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let pipeline = crate::config::load(&args.pipeline)?;
    let mut store = Store::default();
    store
        .load_project("agent-prod", &args.data)
        .with_context(|| format!("loading the sample {}", args.data.display()))?;
    // Relative windows ("30d") are read against the sample's own clock, not today's.
    let latest = store
        .projects
        .iter()
        .flat_map(|p| p.runs.last())
        .map(|r| r.start_us)
        .max()
        .unwrap_or(0);
    let now = chrono::DateTime::from_timestamp_micros(latest + 1_000_000);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let emulator = Emulator::start(store, EmulatorConfig::default()).await?;
        let mut config = super::run::client_config(&pipeline);
        config.endpoint = emulator.url();
        config.api_key = Some(Secret::new("quickstart"));
        config.workspace_id = None;
        config.api = ApiChoice::V1;
        // The built-in emulator has no rate limits; LangSmith's would only slow the demo.
        for spec in [
            &mut config.v1_short_window,
            &mut config.v1_long_window,
            &mut config.v1_search,
        ] {
            *spec = crate::langsmith::RateSpec::per_10s(10_000);
        }
        let client = Client::new(config)?;
        let options = RunOptions {
            now,
            project: Some("agent-prod".into()),
            output: Some(args.output.clone()),
            ..Default::default()
        };
        let summary = run_pipeline(&pipeline, client, &options).await?;
        emulator.shutdown().await;
        super::run::print_summary(&summary, false);
        for sink in summary.sinks.values() {
            if let Some(first) = sink.files.first() {
                preview(first)?;
            }
        }
        anyhow::Ok(())
    })
}

/// A few rows of a Parquet file, without the bulky payload columns.
fn preview(path: &std::path::Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(5)
        .build()?;
    if let Some(batch) = reader.into_iter().next() {
        let batch = batch?;
        let keep: Vec<usize> = (0..batch.num_columns())
            .filter(|&i| {
                !matches!(
                    batch.schema().field(i).name().as_str(),
                    "inputs" | "outputs"
                )
            })
            .collect();
        let batch = batch.project(&keep)?;
        println!(
            "\nfirst rows of {}:\n{}",
            path.display(),
            arrow::util::pretty::pretty_format_batches(&[batch])?
        );
    }
    Ok(())
}
