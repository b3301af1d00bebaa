//! Benchmark: a 30-day export under the emulator's LangSmith rate-limit tiers: v1 with and
//! without window splitting, and v2. Prints requests, 429s, the wall time and how much of it
//! the published limit itself imposes.
//!
//! `cargo run --release --example client_bench -- [TRACES] [SPEEDUP]`
//! SPEEDUP divides the emulator's 10 s windows (and the client's matching limits); figures are
//! reported both as measured and scaled back to LangSmith's real windows.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures::TryStreamExt;
use runlake::emulator::{Emulator, EmulatorConfig, Store};
use runlake::langsmith::{ApiChoice, Client, ClientConfig, Pacing, RunsQuery, Secret};
use runlake::sample::{self, SampleConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let traces: usize = args.next().map_or(Ok(800), |a| a.parse())?;
    let speedup: f64 = args.next().map_or(Ok(10.0), |a| a.parse())?;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.jsonl");
    let config = SampleConfig::new("bench", traces, 21);
    let mut out = sample::open_writer(&path)?;
    let generated = sample::generate(&config, &mut out)?;
    out.finish()?;
    let mut store = Store::default();
    store.load_project("bench", &path)?;
    let emulator = Emulator::start(
        store,
        EmulatorConfig {
            rate_limit_speedup: Some(speedup),
            ..Default::default()
        },
    )
    .await?;
    println!(
        "project: {} runs over 30 days; rate-limit windows sped up {speedup}x",
        generated.runs
    );

    for (api, split) in [
        (ApiChoice::V1, false),
        (ApiChoice::V1, true),
        (ApiChoice::V2, false),
    ] {
        // The emulator plays LangSmith Cloud: pace at its published limits, in its windows.
        let client = Client::new(ClientConfig {
            endpoint: emulator.url(),
            api_key: Some(Secret::new("bench")),
            api,
            pacing: Pacing::Published,
            rate_window: Duration::from_secs_f64(10.0 / speedup),
            ..ClientConfig::default()
        })?;
        let project = client.resolve_project("bench").await?;
        let query = RunsQuery {
            projects: vec![project],
            start_time: Some(config.end - TimeDelta::days(30)),
            end_time: Some(config.end),
            ..Default::default()
        };
        let started = Instant::now();
        let pages: Vec<_> = client.query(query, split).try_collect().await?;
        let elapsed = started.elapsed().as_secs_f64();
        let runs: usize = pages.iter().map(|p| p.runs.len()).sum();
        let stats = client.stats();
        let query_requests = stats.requests - 1; // minus the project lookup
        // The allowed requests per window of the tier these queries fall in; with an exact
        // sliding window, n requests need ceil(n / allowed) - 1 whole windows of waiting.
        let allowed = match (api, split) {
            (ApiChoice::V2, _) => 300,
            (_, true) => 10,
            _ => 3,
        };
        let windows = (query_requests.div_ceil(allowed)).saturating_sub(1) as f64;
        let floor = windows * 10.0 / speedup;
        println!(
            "{:<28} {runs} runs, {query_requests} requests ({} retries, {} x 429) in {elapsed:.2}s \
             = {:.1}s at LangSmith's real windows; the limit's floor {:.1}s ({:.0}% of the time \
             is the limit)",
            match (api, split) {
                (ApiChoice::V2, _) => "v2, one 30-day query",
                (_, true) => "v1, split into <=7-day windows",
                _ => "v1, one 30-day query",
            },
            stats.retries,
            stats.throttled,
            elapsed * speedup,
            floor * speedup,
            if elapsed > 0.0 {
                floor / elapsed * 100.0
            } else {
                0.0
            },
        );
    }
    emulator.shutdown().await;
    Ok(())
}
