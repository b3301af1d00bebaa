use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use std::sync::Arc;

use crate::load::LoadOptions;
use crate::source::FileSource;

/// `runlake quickstart`: the tool_usage pipeline on the bundled sample, replayed by the
/// run-file source — no credentials, no network.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// The sample run file to replay [default: data/sample/agent-prod.jsonl.zst, or the copy
    /// built into runlake when there is no such file]
    #[arg(long)]
    data: Option<PathBuf>,
    /// The pipeline to run [default: pipelines/tool_usage.toml, or the copy built into
    /// runlake when there is no such file]
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Where to write the output.
    #[arg(long, short, default_value = "out/tool_usage")]
    output: PathBuf,
}

/// The shipped pipeline and sample, built in so that an installed binary, run outside the
/// repository, still has its demo.
const PIPELINE: &str = "pipelines/tool_usage.toml";
const BUILT_IN_PIPELINE: &str = include_str!("../../pipelines/tool_usage.toml");
const SAMPLE: &str = "data/sample/agent-prod.jsonl.zst";
const BUILT_IN_SAMPLE: &[u8] = include_bytes!("../../data/sample/agent-prod.jsonl.zst");

/// The pipeline to run: the one asked for, else the repository's, else the built-in copy.
fn pipeline(asked: Option<&Path>) -> anyhow::Result<crate::config::Pipeline> {
    let path = asked.unwrap_or(Path::new(PIPELINE));
    if asked.is_some() || path.exists() {
        return Ok(crate::config::load(path)?);
    }
    tracing::info!("no {PIPELINE} here: running the copy built into runlake");
    let env = |k: &str| std::env::var(k).ok();
    Ok(crate::config::parse(
        Path::new("(built in) pipelines/tool_usage.toml"),
        BUILT_IN_PIPELINE,
        &env,
    )?)
}

/// The sample to replay, chosen like [`pipeline`].
fn sample(asked: Option<&Path>) -> anyhow::Result<FileSource> {
    let path = asked.unwrap_or(Path::new(SAMPLE));
    if asked.is_some() || path.exists() {
        return FileSource::open(path)
            .with_context(|| format!("loading the sample {}", path.display()));
    }
    tracing::info!("no {SAMPLE} here: replaying the copy built into runlake");
    let reader = std::io::BufReader::new(zstd::Decoder::new(BUILT_IN_SAMPLE)?);
    FileSource::from_reader(Path::new("(built in) agent-prod.jsonl"), reader)
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let pipeline = pipeline(args.pipeline.as_deref())?;
    let source = sample(args.data.as_deref())?;
    // Relative windows ("30d") are read against the sample's own clock, not today's; whole
    // seconds keep window (and file) names short.
    let now = source
        .latest_start()
        .and_then(|t| chrono::DateTime::from_timestamp(t.timestamp() + 1, 0));
    let runtime = super::pipeline_runtime()?;
    runtime.block_on(async {
        // A backfill up to the sample's end, reloaded every time: the demo is repeatable.
        let options = LoadOptions {
            now,
            project: Some("agent-prod".into()),
            until: now.map(crate::model::durations::TimeSpec::At),
            output: Some(args.output.display().to_string()),
            refresh: true,
            ..Default::default()
        };
        let summary = crate::load::run(&pipeline, Arc::new(source), &options).await?;
        super::run::print_summary(&summary, false, true);
        if let Some(first) = first_data_file(&args.output)? {
            preview(&first)?;
        }
        anyhow::Ok(())
    })
}

/// The first Parquet file of an output tree, skipping `_`/`.` bookkeeping.
fn first_data_file(dir: &std::path::Path) -> anyhow::Result<Option<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if crate::sink::is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            if let Some(found) = first_data_file(&path)? {
                return Ok(Some(found));
            }
        } else if path.extension().is_some_and(|e| e == "parquet") {
            return Ok(Some(path));
        }
    }
    Ok(None)
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
        // Show UTC timestamps without their zone name (naming zones needs a tz database).
        let columns: Vec<crate::arrow::array::ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                crate::arrow::datatypes::DataType::Timestamp(unit, Some(_)) => {
                    let data = c
                        .to_data()
                        .into_builder()
                        .data_type(crate::arrow::datatypes::DataType::Timestamp(*unit, None));
                    crate::arrow::array::make_array(data.build().expect("same layout"))
                }
                _ => c.clone(),
            })
            .collect();
        let fields: Vec<crate::arrow::datatypes::Field> = batch
            .schema()
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        let batch = crate::arrow::record_batch::RecordBatch::try_new(
            std::sync::Arc::new(crate::arrow::datatypes::Schema::new(fields)),
            columns,
        )?;
        println!(
            "\nfirst rows of {}:\n{}",
            path.display(),
            crate::arrow::util::pretty::pretty_format_batches(&[batch])?
        );
    }
    Ok(())
}
