//! The `runlake` command line: one file per subcommand.

mod convert;
mod emulate;
mod generate;
mod plan;
pub mod progress;
mod quickstart;
pub mod run;
mod schema;
mod validate;

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

/// The runtime a pipeline runs on: one thread for the async stages and the HTTP client. Sinks
/// write on blocking threads of their own and the file sources parse on theirs, so the stages
/// left on the runtime (grouping, joins, flatten, parsing answers) fit in one thread; a second
/// worker only added wake-ups between threads (futex, scheduler, inter-processor interrupts).
/// Measured interleaved on 2 cores (2026-12-02): tool_usage 0.174 -> 0.164 s CPU at 163k runs
/// and 0.879 -> 0.825 s at 1M with the same wall time, retriever_io 0.117 -> 0.112 s,
/// `convert` of 1M runs 4.64 -> 4.42 s wall.
fn pipeline_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Export LangSmith traces into Parquet and Arrow files.
#[derive(Debug, Parser)]
#[command(name = "runlake", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Environment:
  LANGSMITH_API_KEY       API key (required by run, unless --from; never put it in a pipeline file)
  LANGSMITH_ENDPOINT      API URL (default https://api.smith.langchain.com; EU or self-hosted)
  LANGSMITH_WORKSPACE_ID  workspace id, for org-scoped keys
  LANGSMITH_PROJECT       project, when the pipeline and --project name none
  RUNLAKE_DEFAULTS        shared [source] defaults file (default config/defaults.toml)
  RUST_LOG                log filter, overriding -v / -q

Exit codes: 0 ok, 1 other failure (I/O, output), 2 bad pipeline, command line or project,
3 authentication or permission refused (401/403), 4 LangSmith kept failing after retries.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a local LangSmith-compatible API over JSONL run files (for tests and CI).
    Emulate(emulate::EmulateArgs),
    /// Write a deterministic sample project as JSONL (plain, .gz or .zst).
    Generate(generate::GenerateArgs),
    /// Run a pipeline: export runs to Parquet / Arrow files.
    Run(run::RunArgs),
    /// Check pipeline files without touching the network.
    Validate(validate::ValidateArgs),
    /// Show a pipeline's graph and the queries it will issue.
    Plan(plan::PlanArgs),
    /// Convert a JSONL file of runs into flattened Parquet (offline).
    Convert(convert::ConvertArgs),
    /// Run the tool_usage pipeline on the bundled sample, replayed offline.
    Quickstart(quickstart::QuickstartArgs),
    /// Print the JSON Schema of pipeline files (for editor completion).
    Schema(schema::SchemaArgs),
}

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// Bad configuration or command line.
    pub const CONFIG: u8 = 2;
    /// Anything else that failed (I/O, output).
    pub const FAILURE: u8 = 1;
    /// LangSmith refused the credentials.
    pub const AUTH: u8 = 3;
    /// LangSmith kept failing after retries.
    pub const API: u8 = 4;
    /// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it). Committed windows
    /// stay; the next run resumes.
    pub const INTERRUPTED: u8 = 130;
}

/// The run was stopped by a signal.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {0}: windows committed so far are kept; the next run resumes after them")]
pub struct Interrupted(pub &'static str);

/// Exit codes by error class, so schedulers can tell a config mistake from an outage.
fn exit_code(err: &anyhow::Error) -> u8 {
    use crate::langsmith::ClientError;
    if err.downcast_ref::<crate::config::ConfigErrors>().is_some()
        || err
            .chain()
            .any(|e| e.downcast_ref::<crate::usage::UsageError>().is_some())
    {
        return exit::CONFIG;
    }
    if err
        .chain()
        .any(|e| e.downcast_ref::<Interrupted>().is_some())
    {
        return exit::INTERRUPTED;
    }
    match err.chain().find_map(|e| e.downcast_ref::<ClientError>()) {
        Some(
            ClientError::MissingApiKey
            | ClientError::Unauthorized { .. }
            | ClientError::WorkspaceRequired { .. }
            | ClientError::Forbidden { .. },
        ) => exit::AUTH,
        Some(
            ClientError::ProjectNotFound { .. }
            | ClientError::ProjectNotInFiles { .. }
            | ClientError::ApiMissing { .. }
            | ClientError::Redirected { .. }
            | ClientError::BadRequest { .. }
            | ClientError::Unsupported(_),
        ) => exit::CONFIG,
        Some(
            ClientError::NotFound { .. }
            | ClientError::Server { .. }
            | ClientError::Exhausted { .. }
            | ClientError::RateLimited { .. }
            | ClientError::Transport { .. }
            | ClientError::Malformed { .. },
        ) => exit::API,
        // A run runlake cannot read is a data problem, not LangSmith failing.
        Some(
            ClientError::Unreadable { .. }
            | ClientError::FileRead { .. }
            | ClientError::Offloaded { .. },
        )
        | None => exit::FAILURE,
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Emulate(args) => emulate::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Run(args) => run::run(args, cli.quiet),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Schema(args) => schema::run(args),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("error: {err:#}");
            let disk_full = err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
            });
            if disk_full {
                eprintln!(
                    "hint: the disk is full: free space or write elsewhere (--output); nothing partial is published, and windows already committed are kept"
                );
            }
            ExitCode::from(exit_code(&err))
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let default = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::INFO,
        (false, 1) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    // RUST_LOG as `level` and `target=level` directives (a target filter, not the regex-based
    // env filter: its regex engine is a big part of a cold build).
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok());
    let filter = from_env.unwrap_or_else(|| {
        // Our crate at the chosen level; dependencies one notch quieter unless -vv.
        let deps = if verbose >= 2 {
            LevelFilter::DEBUG
        } else {
            LevelFilter::WARN
        };
        Targets::new()
            .with_default(deps)
            .with_target("runlake", default)
    });
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if tty {
        // Log lines go through the progress bars' writer, which prints them above the bars.
        let bars = tracing_indicatif::IndicatifLayer::new();
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(bars.get_stderr_writer())
            .with_target(false);
        tracing_subscriber::registry()
            .with(filter)
            .with(fmt)
            .with(tracing_subscriber::Layer::with_filter(
                bars,
                tracing_indicatif::filter::IndicatifFilter::new(false),
            ))
            .init();
    } else {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(false);
        tracing_subscriber::registry().with(filter).with(fmt).init();
    }
}
