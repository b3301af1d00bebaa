//! The `runlake` command line: one file per subcommand.

mod emulate;
mod generate;

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

/// Export LangSmith traces into Parquet and Arrow files.
#[derive(Debug, Parser)]
#[command(name = "runlake", version, about, long_about = None)]
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a local LangSmith-compatible API over JSONL run files (for tests and CI).
    Emulate(emulate::EmulateArgs),
    /// Write a deterministic sample project as JSONL (plain, .gz or .zst).
    Generate(generate::GenerateArgs),
}

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: u8 = 0;
    /// Bad configuration or command line.
    pub const CONFIG: u8 = 2;
    /// Anything else that failed.
    pub const FAILURE: u8 = 1;
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Emulate(args) => emulate::run(args),
        Command::Generate(args) => generate::run(args),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Our crate at the chosen level; dependencies one notch quieter unless -vv.
        let deps = if verbose >= 2 { "debug" } else { "warn" };
        EnvFilter::new(format!("{deps},runlake={default}"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
