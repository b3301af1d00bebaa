use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config;
use crate::langsmith::{Client, ClientConfig, Lane, normalize_endpoint};
use crate::load::{LoadOptions, LoadSummary, Window};
use crate::model::Timestamp;
use crate::model::durations::TimeSpec;
use crate::source::{FileSource, Source};

/// `runlake run`: export with a pipeline file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML).
    pub file: PathBuf,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Output root for every sink (a sub-directory per sink when there are several): a
    /// directory, file://, s3://bucket/prefix, gs://bucket/prefix, az://container/prefix,
    /// or "-" for one Arrow IPC stream on stdout.
    #[arg(long, short)]
    pub output: Option<String>,
    /// Load exactly one window: a UTC day (2026-10-01) or START/END timestamps. For
    /// schedulers that run windows in parallel; without it, a run continues from the last
    /// committed window (or backfills --since/--until).
    #[arg(long, value_parser = parse_window, conflicts_with_all = ["since", "until"])]
    pub window: Option<Window>,
    /// Reload windows of a --since/--until backfill that are already committed.
    #[arg(long)]
    pub refresh: bool,
    /// Pin "now" for relative windows (reproducible runs and tests).
    #[arg(long)]
    pub now: Option<Timestamp>,
    /// Override a pipeline setting: KEY=VALUE with a dotted key, e.g.
    /// --set stages.tool_runs.since=7d --set source.split_windows=false. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
    /// Print the run summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Replay captured runs instead of asking LangSmith: JSONL files of v1 runs (plain, .gz
    /// or .zst) or LangSmith bulk-export Parquet files, one file or a directory of them, on
    /// disk or under s3://, gs://, az:// (credentials from AWS_*, GOOGLE_*, AZURE_*).
    /// Same queries, filters and rows; no key, no network. Runs of one project answer to
    /// any --project name; with several, name the project by its id.
    #[arg(long, value_name = "PATH")]
    pub from: Option<String>,
}

/// What to export, overriding the pipeline: shared by `run` and `plan`.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Project name, overriding the pipeline's (and LANGSMITH_PROJECT).
    #[arg(long)]
    pub project: Option<String>,
    /// Start of the window: a duration before now ("30d", "12h") or a timestamp.
    #[arg(long)]
    #[arg(value_parser = TimeSpec::parse)]
    pub since: Option<TimeSpec>,
    /// End of the window: a duration before now or a timestamp.
    #[arg(long)]
    #[arg(value_parser = TimeSpec::parse)]
    pub until: Option<TimeSpec>,
}

/// The client for a pipeline: environment first, then `[source]` overrides.
pub fn client_config(p: &config::Pipeline) -> ClientConfig {
    let mut c = ClientConfig::from_env();
    let s = &p.source;
    if let Some(e) = &s.endpoint {
        c.endpoint = normalize_endpoint(e);
    }
    if let Some(k) = &s.api_key {
        c.api_key = Some(k.clone());
    }
    if let Some(w) = &s.workspace_id {
        c.workspace_id = Some(w.clone());
    }
    c.api = s.api;
    if let Some(n) = s.max_in_flight {
        c.max_in_flight = n;
    }
    if let Some(n) = s.max_attempts {
        c.max_attempts = n;
    }
    if let Some(t) = s.timeout_secs {
        c.request_timeout = std::time::Duration::from_secs_f64(t);
    }
    if let Some(pacing) = s.pacing {
        c.pacing = pacing;
    }
    if let Some(w) = s.rate_window {
        c.rate_window = w.0;
    }
    for (lane, n) in [
        (Lane::V1Short, s.v1_requests_per_10s),
        (Lane::V1Long, s.v1_long_requests_per_10s),
        (Lane::V1SearchShort, s.v1_search_requests_per_10s),
        (Lane::V1SearchLong, s.v1_search_long_requests_per_10s),
        (Lane::V1Key, s.v1_key_requests_per_10s),
        (Lane::V2, s.v2_requests_per_10s),
        (Lane::Other, s.other_requests_per_10s),
    ] {
        if let Some(n) = n {
            c.rate_limits.set(lane, n);
        }
    }
    c
}

pub fn run(args: RunArgs, quiet: bool) -> anyhow::Result<()> {
    let pipeline = config::load_with(&args.file, &args.set)?;
    let runtime = super::pipeline_runtime()?;
    let source: Source = match args.from.as_deref() {
        Some(uri) if uri.contains("://") => Arc::new(runtime.block_on(FileSource::open_uri(uri))?),
        Some(path) if !std::path::Path::new(path).exists() => crate::usage_bail!(
            "--from {path}: no such file or directory; give a JSONL file of runs (plain, .gz or .zst), a bulk-export Parquet file, or a directory of them"
        ),
        Some(path) => Arc::new(FileSource::open(std::path::Path::new(path))?),
        None => {
            let client = Client::new(client_config(&pipeline))?;
            match pipeline.source.fetch_offloaded {
                Some(true) => Arc::new(crate::source::OffloadedPayloads::new(
                    Arc::new(client.clone()),
                    client,
                )),
                Some(false) | None => Arc::new(client),
            }
        }
    };
    let progress = crate::stages::Progress::default();
    let options = LoadOptions {
        now: args.now.map(|t| t.0),
        project: args.scope.project.clone(),
        since: args.scope.since,
        until: args.scope.until,
        window: args.window,
        output: args.output.clone(),
        refresh: args.refresh,
        progress: progress.clone(),
    };
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let display = super::progress::Display::start(progress, source.clone(), tty, quiet);
    let result = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = crate::load::run(&pipeline, source, &options) => r,
            _ = tokio::signal::ctrl_c() => Err(super::Interrupted("Ctrl-C").into()),
            _ = term.recv() => Err(super::Interrupted("SIGTERM").into()),
        }
    });
    display.finish();
    let summary = result.with_context(|| format!("pipeline {:?} failed", pipeline.name))?;
    // With --output - stdout carries the data, so the summary goes to stderr.
    let to_stdout = args.output.as_deref() != Some("-");
    print_summary(&summary, args.json, to_stdout);
    Ok(())
}

pub fn print_summary(s: &LoadSummary, json: bool, stdout: bool) {
    if json {
        let line = serde_json::to_string(s).expect("summary serializes");
        match stdout {
            true => println!("{line}"),
            false => eprintln!("{line}"),
        }
        return;
    }
    eprintln!(
        "pipeline {} ({:?}) finished in {:.2}s",
        s.pipeline, s.mode, s.wall_seconds
    );
    if s.rolled_back > 0 {
        eprintln!(
            "  rolled back {} interrupted publish(es) of an earlier run",
            s.rolled_back
        );
    }
    if s.windows.is_empty() {
        eprintln!("  up to date: no new window to load");
    }
    const SHOWN: usize = 12;
    if s.windows.len() > SHOWN {
        eprintln!(
            "  ({} earlier windows not shown; --json lists them all)",
            s.windows.len() - SHOWN
        );
    }
    for w in s.windows.iter().skip(s.windows.len().saturating_sub(SHOWN)) {
        let sinks: Vec<String> = w
            .sinks
            .iter()
            .map(|(id, k)| format!("{id}: {} rows, {} file(s)", k.rows, k.files))
            .collect();
        eprintln!("  window {} {} {}", w.window, w.status, sinks.join("; "));
        if w.rejected > 0 {
            let at = w
                .rejected_files
                .first()
                .map_or(String::new(), |f| format!(" -> {f}"));
            eprintln!("    {} run(s) could not be read, set aside{at}", w.rejected);
        }
    }
    for st in &s.stages {
        eprintln!(
            "  stage {:<16} {:<15} in {:>9}  out {:>9}",
            st.id, st.kind, st.items_in, st.items_out
        );
    }
    let r = &s.requests;
    let mut limits: Vec<String> = s
        .rate_limits
        .iter()
        .filter_map(|(lane, per_s)| per_s.map(|r| format!("{lane} {r:.1}")))
        .collect();
    if s.rate_limits.is_empty() {
        limits.push("none: runs read from files".into());
    } else if limits.len() < s.rate_limits.len() {
        limits.push(format!(
            "{} unpaced until a 429",
            if limits.is_empty() { "all" } else { "others" }
        ));
    }
    eprintln!(
        "  requests {} (retries {}, 429s {}), {} runs, {:.1} MB received; {:.2} requests/s (limits per lane, /s: {})",
        r.requests,
        r.retries,
        r.throttled,
        r.runs,
        r.bytes as f64 / 1e6,
        s.request_rate,
        limits.join(", ")
    );
    for (id, out) in &s.outputs {
        eprintln!(
            "  sink {id}: {} rows in {} file(s), {:.1} KB -> {out}",
            s.rows,
            s.files,
            s.bytes as f64 / 1e3
        );
    }
}

fn parse_window(s: &str) -> Result<Window, String> {
    Window::parse(s)
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "expected KEY=VALUE (e.g. stages.tool_runs.since=7d), got {s:?}"
        )),
    }
}
