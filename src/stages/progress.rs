//! Live counters of a running pipeline, read by the progress display while stages run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;

/// Items into and out of one stage (or sink), summed over every window of a load.
#[derive(Debug, Default)]
pub struct StageCounter {
    pub items_in: AtomicU64,
    pub items_out: AtomicU64,
}

impl StageCounter {
    pub fn add_in(&self, n: usize) {
        self.items_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn add_out(&self, n: usize) {
        self.items_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Items in and out so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.items_in.load(Ordering::Relaxed),
            self.items_out.load(Ordering::Relaxed),
        )
    }
}

/// A stage's kind, what its items are, and its counter.
type Registered = (&'static str, &'static str, Arc<StageCounter>);

#[derive(Debug, Default)]
struct Inner {
    stages: Mutex<IndexMap<String, Registered>>,
    windows_total: AtomicU64,
    windows_done: AtomicU64,
}

/// Shared handle; cloning shares the counters.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Inner>);

/// One stage's counts at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct StageCount {
    pub id: String,
    pub kind: &'static str,
    /// What its items are ("runs", "traces", "rows written").
    pub unit: &'static str,
    pub items_in: u64,
    pub items_out: u64,
}

impl Progress {
    /// The counter of a stage, created on first use (in pipeline order).
    pub fn stage(&self, id: &str, kind: &'static str, unit: &'static str) -> Arc<StageCounter> {
        let mut stages = self.0.stages.lock().expect("progress lock");
        stages
            .entry(id.to_string())
            .or_insert_with(|| (kind, unit, Arc::default()))
            .2
            .clone()
    }

    pub fn stages(&self) -> Vec<StageCount> {
        let stages = self.0.stages.lock().expect("progress lock");
        stages
            .iter()
            .map(|(id, (kind, unit, c))| StageCount {
                id: id.clone(),
                kind,
                unit,
                items_in: c.items_in.load(Ordering::Relaxed),
                items_out: c.items_out.load(Ordering::Relaxed),
            })
            .collect()
    }

    pub fn set_windows(&self, total: usize) {
        self.0.windows_total.store(total as u64, Ordering::Relaxed);
    }

    pub fn window_done(&self) {
        self.0.windows_done.fetch_add(1, Ordering::Relaxed);
    }

    /// (done, total) windows of the load.
    pub fn windows(&self) -> (u64, u64) {
        (
            self.0.windows_done.load(Ordering::Relaxed),
            self.0.windows_total.load(Ordering::Relaxed),
        )
    }
}
