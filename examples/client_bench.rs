//! Benchmark: a 30-day v1 export under the emulator's LangSmith rate-limit tiers, with and
//! without window splitting. Prints runs/s, requests/s and the share of the allowed request
//! rate actually used.
//!
//! `cargo run --release --example client_bench -- [TRACES] [SPEEDUP]`
//! SPEEDUP divides the emulator's 10 s windows (and the client's matching limits); figures are
//! reported both as measured and scaled back to LangSmith's real windows.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures::TryStreamExt;
use runlake::emulator::{Emulator, EmulatorConfig, Store};
use runlake::langsmith::{ApiChoice, Client, ClientConfig, RateSpec, RunsQuery, Secret};
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

    for split in [false, true] {
        let scaled = |requests: u32| RateSpec {
            requests,
            period: Duration::from_secs_f64(10.0 / speedup),
        };
        let client = Client::new(ClientConfig {
            endpoint: emulator.url(),
            api_key: Some(Secret::new("bench")),
            api: ApiChoice::V1,
            v1_short_window: scaled(10),
            v1_long_window: scaled(3),
            v1_search: scaled(3),
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
        let runs: usize = pages.iter().map(Vec::len).sum();
        let stats = client.stats();
        let query_requests = stats.requests - 1; // minus the project lookup
        // The allowed rate of the tier these queries fall in.
        let allowed = if split { 10.0 } else { 3.0 } / 10.0 * speedup;
        // The first request of a GCRA limiter is free, so measure the spacing of the rest.
        let used = (query_requests.saturating_sub(1)) as f64 / elapsed / allowed;
        println!(
            "{:<24} {runs} runs, {query_requests} requests ({} retries, {} x 429) in {elapsed:.2}s: \
             {:.0} runs/s measured = {:.1} runs/s at LangSmith's real windows; \
             {:.2} req/s of {allowed:.2} allowed = {:.0}% of the limit used",
            if split {
                "split into <=7-day windows"
            } else {
                "one 30-day query"
            },
            stats.retries,
            stats.throttled,
            runs as f64 / elapsed,
            runs as f64 / elapsed / speedup,
            query_requests as f64 / elapsed,
            used * 100.0,
        );
    }
    emulator.shutdown().await;
    Ok(())
}
