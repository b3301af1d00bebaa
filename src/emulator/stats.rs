//! `GET /_stats`: what the emulator served, for tests that count requests and for benchmarks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Default)]
pub struct Stats {
    /// `route → status → count`; status is a code, or `dropped` for a connection closed unanswered.
    requests: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    runs_served: AtomicU64,
    bytes_served: AtomicU64,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct StatsSnapshot {
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    pub faults: BTreeMap<String, u64>,
    pub runs_served: u64,
    pub bytes_served: u64,
}

impl StatsSnapshot {
    /// Requests to `route` answered with `status` (e.g. "200", "429", "dropped").
    pub fn count(&self, route: &str, status: &str) -> u64 {
        self.requests
            .get(route)
            .and_then(|m| m.get(status))
            .copied()
            .unwrap_or(0)
    }

    /// Every request to `route`, whatever the answer.
    pub fn total(&self, route: &str) -> u64 {
        self.requests.get(route).map_or(0, |m| m.values().sum())
    }
}

impl Stats {
    pub fn record(&self, route: &str, status: &str, bytes: u64) {
        let mut requests = self.requests.lock().unwrap();
        *requests
            .entry(route.to_string())
            .or_default()
            .entry(status.to_string())
            .or_default() += 1;
        self.bytes_served.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn fault(&self, label: &'static str) {
        *self.faults.lock().unwrap().entry(label).or_default() += 1;
    }

    pub fn add_runs(&self, n: usize) {
        self.runs_served.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.lock().unwrap().clone(),
            faults: self
                .faults
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            runs_served: self.runs_served.load(Ordering::Relaxed),
            bytes_served: self.bytes_served.load(Ordering::Relaxed),
        }
    }
}
