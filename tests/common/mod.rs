//! Shared helpers for integration tests: sample projects and a loopback emulator.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use runlake::emulator::{Emulator, EmulatorConfig, Store};
use runlake::sample::{self, SampleConfig};

pub const KEY: &str = "test-key";

/// Writes a generated project to `dir/<name>.jsonl` and returns its path.
pub fn sample_file(dir: &Path, config: &SampleConfig) -> PathBuf {
    let path = dir.join(format!("{}.jsonl", config.project));
    let mut out = sample::open_writer(&path).unwrap();
    sample::generate(config, &mut out).unwrap();
    out.finish().unwrap();
    path
}

/// Every run of a JSONL file as parsed JSON.
pub fn read_runs(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub async fn start(projects: &[(&str, &Path)], config: EmulatorConfig) -> Emulator {
    let mut store = Store::default();
    for (name, path) in projects {
        store.load_project(name, path).unwrap();
    }
    Emulator::start(store, config).await.unwrap()
}

pub fn http() -> reqwest::Client {
    runlake::ensure_crypto_provider();
    reqwest::Client::builder().build().unwrap()
}
