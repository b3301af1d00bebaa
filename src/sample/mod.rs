//! A deterministic, seeded generator of realistic LangSmith projects: agent traces with nested
//! chains, LLM runs with messages, tokens and costs, tool and retriever runs, errors, pending
//! runs, tags, metadata, feedback, large and non-ASCII payloads. Same config, same bytes.
//!
//! Output is JSONL, one LangSmith v1 Run per line, trace after trace, each trace's runs in
//! `dotted_order` order. One key is an emulator extension: `feedback`, the entries that
//! `feedback_stats` summarises. Each trace draws from its own RNG seeded by (seed, index), so
//! memory holds one trace at a time.
//!
//! * `shapes`: the trees applications produce (LangChain and LangGraph agents, RAG, extraction);
//! * `trace`: errors, feedback, tags and metadata, layout in time, one line per run;
//! * `feedback`, `json` (the line's layout), `text` (vocabulary), `writer` (output files).

mod feedback;
mod json;
mod shapes;
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
    /// The end of the window: latest start time, and the instant the data is cut (runs still
    /// going then are pending).
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
    /// Bytes of JSONL written, before any compression.
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

const DAY_US: i64 = 86_400_000_000;
/// Finished traces start at least this long before `end`, so they have ended by then (the
/// longest shape takes under a minute).
const QUIET_US: i64 = 120_000_000;

/// Each trace's own RNG, so a trace does not depend on how much randomness others used.
fn trace_rng(seed: u64, index: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64)
}

/// How long before `end` a finished trace starts. Usage grows over the window: the density
/// rises towards `end` (offset = span·u^1.5), so with 30 days about a tenth of the traces fall
/// in the last day, which `since = "1d"` exports read. `u·√u` rather than `powf`: sqrt is
/// exactly rounded everywhere, so the bytes do not depend on the platform's libm.
fn start_offset(rng: &mut ChaCha8Rng, days: u32) -> i64 {
    let span = i64::from(days.max(1)) * DAY_US - QUIET_US;
    let u: f64 = rng.random();
    QUIET_US + (span as f64 * u * u.sqrt()) as i64
}

/// Writes the project as JSONL, one run per line, trace by trace; memory holds one trace.
pub fn generate(config: &SampleConfig, out: &mut dyn Write) -> std::io::Result<GenerateStats> {
    let session = project_id(&config.project, config.seed);
    let end_us = config.end.timestamp_micros();
    // The last few traces are still running when the data is cut at `end`.
    let in_progress = (config.traces / 50).max(1).min(config.traces);
    let every = config.large_payload_every;
    let mut stats = GenerateStats::default();
    for index in 0..config.traces {
        let mut rng = trace_rng(config.seed, index);
        let pending = index >= config.traces - in_progress;
        let start_us = if pending {
            end_us - rng.random_range(300_000..4_000_000)
        } else {
            end_us - start_offset(&mut rng, config.days)
        };
        let spec = trace::TraceSpec {
            session: &session,
            tenant: TENANT_ID,
            start_us,
            cut_us: end_us,
            pending,
            large: every > 0 && index % every == every / 2,
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

/// The projects committed under `data/sample/` for the quickstart and tests:
/// (name, traces, seed).
pub const BUNDLED: &[(&str, usize, u64)] = &[("agent-prod", 400, 1), ("support-bot", 150, 2)];

/// Writes the bundled sample projects into `dir` as `<name>.jsonl.zst`; their stats in
/// [`BUNDLED`] order. `data/sample/` must hold exactly what this writes (a test checks).
pub fn write_bundled_sample(dir: &Path) -> std::io::Result<Vec<GenerateStats>> {
    std::fs::create_dir_all(dir)?;
    let mut all = Vec::new();
    for (name, traces, seed) in BUNDLED {
        let config = SampleConfig::new(name, *traces, *seed);
        let mut out = open_writer(&dir.join(format!("{name}.jsonl.zst")))?;
        all.push(generate(&config, &mut out)?);
        out.finish()?;
    }
    Ok(all)
}

#[cfg(test)]
mod tests;
