//! A deterministic, seeded generator of realistic LangSmith projects: agent traces with nested
//! chains, LLM runs with messages, tokens and costs, tool and retriever runs, errors, pending
//! runs, tags, metadata, feedback, large and non-ASCII payloads. Same config, same bytes.

mod text;
mod trace;
mod writer;

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use writer::{SampleWriter, open_writer};

#[derive(Debug, Clone)]
pub struct SampleConfig {
    pub project: String,
    pub traces: usize,
    pub seed: u64,
    /// Latest start time in the data.
    pub end: DateTime<Utc>,
    pub days: u32,
    /// Every n-th trace gets a 200–500 KB input (0 = never).
    pub large_payload_every: usize,
}

impl SampleConfig {
    pub fn new(project: &str, traces: usize, seed: u64) -> Self {
        SampleConfig {
            project: project.to_string(),
            traces,
            seed,
            end: DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
                .expect("valid")
                .with_timezone(&Utc),
            days: 30,
            large_payload_every: 97,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    pub traces: usize,
    pub runs: usize,
    pub bytes: u64,
}

/// The tenant every generated project belongs to (the emulator's default tenant).
pub const TENANT_ID: &str = "00000000-0000-4000-8000-00000000e1a0";

fn name_hash(s: &str) -> u64 {
    // FNV-1a: stable across platforms and releases, unlike std's hasher.
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The project's id (its runs' `session_id`), derived from name and seed.
pub fn project_id(project: &str, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(name_hash(project) ^ seed.rotate_left(17));
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Writes the project as JSONL, one run per line, trace by trace; memory holds one trace.
pub fn generate(config: &SampleConfig, out: &mut dyn Write) -> std::io::Result<GenerateStats> {
    let session = project_id(&config.project, config.seed);
    let mut stats = GenerateStats::default();
    let span_us = i64::from(config.days.max(1)) * 86_400_000_000;
    let end_us = config.end.timestamp_micros();
    // A few traces at the very end are still running when the data is cut.
    let pending_from = config.traces - (config.traces / 50).max(1).min(config.traces);
    for index in 0..config.traces {
        let mut rng = ChaCha8Rng::seed_from_u64(
            config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64,
        );
        let pending = index >= pending_from;
        let start_us = if pending {
            end_us - rng.random_range(1_000_000..90_000_000)
        } else {
            end_us - rng.random_range(60_000_000..span_us)
        };
        let large = config.large_payload_every > 0
            && index % config.large_payload_every == config.large_payload_every / 2;
        let spec = trace::TraceSpec {
            session: &session,
            start_us,
            pending,
            large,
        };
        for line in trace::generate_trace(&mut rng, &spec) {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            stats.runs += 1;
            stats.bytes += line.len() as u64 + 1;
        }
        stats.traces += 1;
    }
    Ok(stats)
}

/// The two projects committed under `data/sample/` for the quickstart and tests.
pub const BUNDLED: &[(&str, usize, u64)] = &[("agent-prod", 400, 1), ("support-bot", 150, 2)];

/// Writes the bundled sample projects into `dir` as `<name>.jsonl.zst`.
pub fn write_bundled_sample(dir: &Path) -> std::io::Result<Vec<GenerateStats>> {
    std::fs::create_dir_all(dir)?;
    let mut all = Vec::new();
    for (name, traces, seed) in BUNDLED {
        let mut config = SampleConfig::new(name, *traces, *seed);
        config.large_payload_every = 150;
        let mut out = open_writer(&dir.join(format!("{name}.jsonl.zst")))?;
        all.push(generate(&config, &mut out)?);
        out.finish()?;
    }
    Ok(all)
}

#[cfg(test)]
mod tests;
