use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::emulator::{Deployment, Emulator, EmulatorConfig, FaultConfig, Store};

/// `runlake emulate`: serve JSONL run files as a LangSmith read API on loopback.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// A project to serve: NAME=FILE, FILE being JSONL of v1 runs (plain, .gz or .zst). Repeatable.
    #[arg(long = "data", value_name = "NAME=FILE", required = true, value_parser = parse_data)]
    data: Vec<(String, PathBuf)>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 1984)]
    port: u16,
    /// Address to listen on. Loopback unless you mean it.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The only API key accepted; by default any non-empty x-api-key is.
    #[arg(long, env = "RUNLAKE_EMULATE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Behave like an org-scoped key: require this workspace id in X-Tenant-Id (else 403).
    #[arg(long)]
    workspace_id: Option<String>,
    /// Enforce LangSmith Cloud's published rate-limit tiers in real time (429 + Retry-After).
    #[arg(long)]
    rate_limits: bool,
    /// Divide every rate-limit window by this factor (implies --rate-limits).
    #[arg(long, value_name = "FACTOR")]
    rate_limit_speedup: Option<f64>,
    /// Which run-query APIs the deployment has, as /info's flags say: saas (v1 and v2, as
    /// LangSmith Cloud), v1-only (v2 answers 404) or v2-only (v1 /runs/query answers 501).
    #[arg(long, value_enum, default_value_t = Deployment::Saas)]
    deployment: Deployment,
    /// Seed for fault injection: the same seed injects the same faults into the same requests.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    fault_seed: u64,
    /// Fraction of requests answered 500/502/503.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = fraction)]
    fault_5xx: f64,
    /// Fraction of requests answered slowly (see --fault-slow-ms).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = fraction)]
    fault_slow: f64,
    /// Delay of a slow answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    fault_slow_ms: u64,
    /// Fraction of requests whose connection is dropped without an answer.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = fraction)]
    fault_drop: f64,
    /// Fraction of answers truncated halfway through the body.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = fraction)]
    fault_truncate: f64,
    /// Write every API answer's body to DIR/NNNNNN-<route>.json (for benchmarks on the exact
    /// bytes a client received).
    #[arg(long, value_name = "DIR")]
    capture: Option<PathBuf>,
}

fn parse_data(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), file.into()))
        }
        _ => Err(format!(
            "expected NAME=FILE (e.g. my-project=runs.jsonl.zst), got {s:?}"
        )),
    }
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("expected a fraction between 0 and 1, got {s:?}")),
    }
}

impl EmulateArgs {
    fn config(&self) -> anyhow::Result<EmulatorConfig> {
        let faults = FaultConfig {
            seed: self.fault_seed,
            server_error: self.fault_5xx,
            slow: self.fault_slow,
            slow_delay: Duration::from_millis(self.fault_slow_ms),
            drop: self.fault_drop,
            truncate: self.fault_truncate,
        };
        if faults.server_error + faults.slow + faults.drop + faults.truncate > 1.0 {
            bail!("fault fractions add up to more than 1");
        }
        Ok(EmulatorConfig {
            bind: SocketAddr::new(self.host, self.port),
            api_key: self.api_key.clone(),
            workspace_id: self.workspace_id.clone(),
            rate_limit_speedup: match (self.rate_limits, self.rate_limit_speedup) {
                (_, Some(f)) if f > 0.0 => Some(f),
                (_, Some(f)) => bail!("--rate-limit-speedup must be positive, got {f}"),
                (true, None) => Some(1.0),
                (false, None) => None,
            },
            faults,
            deployment: self.deployment,
            capture: self.capture.clone(),
        })
    }
}

pub fn run(args: EmulateArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let mut store = Store::default();
    for (name, path) in &args.data {
        store
            .load_project(name, path)
            .with_context(|| format!("loading project {name:?}"))?;
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let projects: Vec<String> = store
            .projects
            .iter()
            .map(|p| format!("{} ({} runs, id {})", p.name, p.runs.len(), p.id))
            .collect();
        let emulator = Emulator::start(store, config)
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        // The URL on stdout, alone on its line, so scripts can read it.
        println!("{}", emulator.url());
        std::io::stdout().flush()?;
        for p in &projects {
            tracing::info!("serving project {p}");
        }
        tracing::info!(
            "LangSmith emulator listening on {}; Ctrl-C stops it",
            emulator.url()
        );
        wait_for_signal().await;
        tracing::info!("stopping");
        emulator.shutdown().await;
        Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
