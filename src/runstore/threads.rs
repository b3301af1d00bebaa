//! Traces and threads over a project's runs, as LangSmith's v2 traces and threads APIs see
//! them: trace-wide usage (tokens, costs and their detail maps, first token) and
//! conversation threads (root runs sharing a thread key: the run's `thread_id`, else metadata
//! `session_id`, `conversation_id` or `thread_id`, as [`RunFacts::thread_id`] reads it).
//!
//! Computed on demand from the store's indexes, so a store that changes needs no rebuild.
//!
//! [`RunFacts::thread_id`]: crate::filter::RunFacts

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::query::{Order, RunQuery};
use super::store::{Project, StoredRun};
use crate::filter::{Expr, RunFacts};

/// Usage figures by name: `total_tokens`, `prompt_tokens`, `completion_tokens`, `total_cost`,
/// `prompt_cost`, `completion_cost`, and detail entries as `<detail map>.<category>` (for
/// example `prompt_token_details.cache_read`). Absent means zero.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage(pub BTreeMap<String, f64>);

/// The usage scalars, in the names runs and the v2 API give them.
pub const USAGE_FIELDS: [&str; 6] = [
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_cost",
    "prompt_cost",
    "completion_cost",
];

/// The usage detail maps (category → count or cost).
pub const USAGE_DETAILS: [&str; 4] = [
    "prompt_token_details",
    "completion_token_details",
    "prompt_cost_details",
    "completion_cost_details",
];

impl Usage {
    /// The figures one run reports (for most LangSmith data: rolled up from its descendants).
    pub fn of_run(run: &StoredRun) -> Usage {
        let f = &run.facts;
        let mut out = BTreeMap::new();
        let tokens = f
            .total_tokens
            .or(match (f.prompt_tokens, f.completion_tokens) {
                (None, None) => None,
                (p, c) => Some(p.unwrap_or(0.0) + c.unwrap_or(0.0)),
            });
        let scalars = [
            tokens,
            f.prompt_tokens,
            f.completion_tokens,
            f.total_cost,
            f.prompt_cost,
            f.completion_cost,
        ];
        for (name, value) in USAGE_FIELDS.iter().zip(scalars) {
            if let Some(v) = value {
                out.insert((*name).to_string(), v);
            }
        }
        for map in USAGE_DETAILS {
            let parsed = run
                .field(map)
                .and_then(|v| serde_json::from_str::<Value>(v.get()).ok());
            // v1 sends the map itself, v2 wraps it in `raw`.
            let object = match parsed {
                Some(Value::Object(mut o)) => match o.remove("raw") {
                    Some(Value::Object(raw)) => raw,
                    Some(other) => {
                        o.insert("raw".into(), other);
                        o
                    }
                    None => o,
                },
                _ => continue,
            };
            for (category, value) in object {
                let number = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                if let Some(n) = number {
                    out.insert(format!("{map}.{category}"), n);
                }
            }
        }
        Usage(out)
    }

    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    pub fn add(&mut self, other: &Usage) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    /// `self − other`, no figure below zero.
    fn minus_clamped(&self, other: &Usage) -> Usage {
        let mut out = self.clone();
        for (k, v) in &other.0 {
            if let Some(mine) = out.0.get_mut(k) {
                *mine = (*mine - v).max(0.0);
            }
        }
        out
    }

    /// One detail map's categories and figures.
    pub fn details(&self, map: &str) -> BTreeMap<&str, f64> {
        let prefix = format!("{map}.");
        self.0
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix.as_str()).map(|c| (c, *v)))
            .collect()
    }
}

/// A trace's aggregates over all its runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceAggregates {
    /// Each run's own usage summed over the trace. LangSmith rolls LLM usage up to every
    /// ancestor, so a run's own usage is its figure less its children's: the sum counts
    /// every token once, whether or not the data carries roll-ups (it then equals the root's
    /// rolled-up figure).
    pub usage: Usage,
    /// The earliest `first_token_time` of any run of the trace.
    pub first_token_us: Option<i64>,
}

/// The aggregates of trace `trace_id` in `project` (zero for an unknown trace).
pub fn trace_aggregates(project: &Project, trace_id: &str) -> TraceAggregates {
    let runs: Vec<&StoredRun> = project.trace_runs(trace_id).collect();
    let mut children: HashMap<&str, Usage> = HashMap::new();
    let own: Vec<Usage> = runs.iter().map(|r| Usage::of_run(r)).collect();
    for (run, usage) in runs.iter().zip(&own) {
        if let Some(parent) = run.parent_run_id.as_deref() {
            children.entry(parent).or_default().add(usage);
        }
    }
    let mut out = TraceAggregates::default();
    for (run, usage) in runs.iter().zip(&own) {
        let mine = match children.get(run.id.as_str()) {
            Some(below) => usage.minus_clamped(below),
            None => usage.clone(),
        };
        out.usage.add(&mine);
        if let Some(t) = run.facts.first_token_us {
            out.first_token_us = Some(out.first_token_us.map_or(t, |m| m.min(t)));
        }
    }
    out
}

/// The thread a root run belongs to, if any.
pub fn thread_of(run: &StoredRun) -> Option<&str> {
    run.facts.thread_id.as_deref()
}

/// Root runs grouped by thread, each thread's roots in keyset order `(start_time, id)`;
/// threads in no particular order.
pub fn group_threads<'a>(
    roots: impl IntoIterator<Item = &'a StoredRun>,
) -> HashMap<&'a str, Vec<&'a StoredRun>> {
    let mut threads: HashMap<&str, Vec<&StoredRun>> = HashMap::new();
    for root in roots {
        if let Some(thread) = thread_of(root) {
            threads.entry(thread).or_default().push(root);
        }
    }
    for roots in threads.values_mut() {
        roots.sort_by(|a, b| (a.start_us, &a.id).cmp(&(b.start_us, &b.id)));
    }
    threads
}

/// Every root run of one thread in `project`, in keyset order (turn order).
pub fn thread_roots<'a>(project: &'a Project, thread_id: &str) -> Vec<&'a StoredRun> {
    project
        .runs
        .iter()
        .filter(|r| r.is_root && thread_of(r) == Some(thread_id))
        .collect()
}

/// A thread summarised over some of its traces (those in a query's window).
#[derive(Clone)]
pub struct ThreadSummary<'a> {
    pub thread_id: &'a str,
    /// The traces' roots in turn order; never empty.
    pub roots: Vec<&'a StoredRun>,
    /// The traces' aggregates summed.
    pub usage: Usage,
    /// Each trace's own aggregates, by root, in turn order.
    pub traces: Vec<TraceAggregates>,
    /// Root latencies (seconds) of the traces that ended, ascending.
    pub latencies: Vec<f64>,
    pub errored: usize,
}

impl<'a> ThreadSummary<'a> {
    pub fn new(project: &'a Project, thread_id: &'a str, roots: Vec<&'a StoredRun>) -> Self {
        let traces: Vec<TraceAggregates> = roots
            .iter()
            .map(|r| trace_aggregates(project, &r.trace_id))
            .collect();
        let mut usage = Usage::default();
        for t in &traces {
            usage.add(&t.usage);
        }
        let mut latencies: Vec<f64> = roots.iter().filter_map(|r| r.facts.latency).collect();
        latencies.sort_by(f64::total_cmp);
        ThreadSummary {
            thread_id,
            errored: roots.iter().filter(|r| r.has_error).count(),
            roots,
            usage,
            traces,
            latencies,
        }
    }

    pub fn first(&self) -> &'a StoredRun {
        self.roots[0]
    }

    pub fn last(&self) -> &'a StoredRun {
        self.roots[self.roots.len() - 1]
    }

    /// The latest root start: threads sort by it, newest first.
    pub fn last_start_us(&self) -> i64 {
        self.last().start_us
    }

    /// The latest root end, if any trace has ended.
    pub fn last_end_us(&self) -> Option<i64> {
        self.roots.iter().filter_map(|r| r.facts.end_us).max()
    }

    /// Nearest-rank percentile of the root latencies (`p` in 0..=1).
    pub fn latency_percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies, p)
    }

    /// The most recent root with an error.
    pub fn last_error(&self) -> Option<&'a StoredRun> {
        self.roots.iter().rev().find(|r| r.has_error).copied()
    }
}

/// Which threads of a project a threads query selects, and over which of their traces.
#[derive(Debug, Clone, Default)]
pub struct ThreadSelection {
    /// Root start times, min inclusive, max exclusive.
    pub min_us: i64,
    pub max_us: i64,
    /// On each trace's root: which traces count.
    pub filter: Option<Expr>,
    /// Threads with a trace whose root (`trace_filter`) or some run (`tree_filter`) matches.
    pub trace_filter: Option<Expr>,
    pub tree_filter: Option<Expr>,
    /// On the thread summary seen as a run ([`summary_facts`]).
    pub thread_filter: Option<Expr>,
}

impl ThreadSelection {
    /// The selected threads of `project`, summarised over their traces in the window, newest
    /// activity first (the keyset a cursor points into).
    pub fn threads<'a>(&self, project: &'a Project) -> Vec<ThreadSummary<'a>> {
        let roots_query = |trace_filter: Option<Expr>, tree_filter: Option<Expr>| RunQuery {
            is_root: Some(true),
            min_start_us: Some(self.min_us),
            max_start_us: Some(self.max_us - 1),
            filter: self.filter.clone(),
            trace_filter,
            tree_filter,
            ..RunQuery::over(vec![project], Order::Asc)
        };
        let everything = project.runs.len().max(1);
        let roots: Vec<&StoredRun> = roots_query(None, None)
            .page(None, everything)
            .runs
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let with_match: Option<HashSet<&str>> =
            (self.trace_filter.is_some() || self.tree_filter.is_some()).then(|| {
                roots_query(self.trace_filter.clone(), self.tree_filter.clone())
                    .page(None, everything)
                    .runs
                    .iter()
                    .filter_map(|(_, r)| r.facts.thread_id.as_deref())
                    .collect()
            });
        let mut out: Vec<ThreadSummary> = group_threads(roots)
            .into_iter()
            .filter(|(id, _)| with_match.as_ref().is_none_or(|m| m.contains(id)))
            .map(|(id, roots)| ThreadSummary::new(project, id, roots))
            .filter(|t| {
                self.thread_filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&summary_facts(t)))
            })
            .collect();
        out.sort_by(|a, b| (b.last_start_us(), b.thread_id).cmp(&(a.last_start_us(), a.thread_id)));
        out
    }
}

/// A thread summary as the filter language sees a run: `thread_id`, `trace_id` (the last),
/// `start_time` (the first), `end_time` (the last end), tokens and costs (sums), `latency`
/// (p50), `status` (`error` if any turn failed), `error` (the last one).
pub fn summary_facts(t: &ThreadSummary) -> RunFacts {
    let usage = |name| Some(t.usage.get(name));
    let mut facts = RunFacts::default();
    facts.id = t.thread_id.to_string();
    facts.name = t.first().facts.name.clone();
    facts.status = Some(if t.errored > 0 { "error" } else { "success" }.into());
    facts.start_us = Some(t.first().start_us);
    facts.end_us = t.last_end_us();
    facts.latency = t.latency_percentile(0.5);
    facts.total_tokens = usage("total_tokens");
    facts.prompt_tokens = usage("prompt_tokens");
    facts.completion_tokens = usage("completion_tokens");
    facts.total_cost = usage("total_cost");
    facts.prompt_cost = usage("prompt_cost");
    facts.completion_cost = usage("completion_cost");
    facts.error = t.last_error().and_then(|r| r.facts.error.clone());
    facts.is_root = Some(true);
    facts.thread_id = Some(t.thread_id.to_string());
    facts.trace_id = Some(t.last().trace_id.clone());
    facts.session_id = t.first().facts.session_id.clone();
    facts
}

/// Nearest-rank percentile of ascending `sorted` (`p` in 0..=1).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runstore::stored_run;

    fn project(lines: &[&str]) -> Project {
        let mut store = crate::runstore::Store::default();
        let runs = lines.iter().map(|l| stored_run(l).unwrap()).collect();
        store
            .add_project("p".into(), "p", runs, std::path::Path::new("t"))
            .unwrap();
        store.projects.pop().unwrap()
    }

    #[test]
    fn rolled_up_usage_counts_once_and_plain_usage_sums() {
        // The root and the chain carry their descendants' usage, as LangSmith rolls it up.
        let rolled = project(&[
            r#"{"id":"r","trace_id":"r","session_id":"p","start_time":"2025-01-01T00:00:00","total_tokens":30,"total_cost":"0.3","prompt_token_details":{"cache_read":6}}"#,
            r#"{"id":"c","trace_id":"r","parent_run_id":"r","session_id":"p","start_time":"2025-01-01T00:00:01","total_tokens":30,"total_cost":0.3,"prompt_token_details":{"cache_read":6}}"#,
            r#"{"id":"l1","trace_id":"r","parent_run_id":"c","session_id":"p","start_time":"2025-01-01T00:00:02","total_tokens":10,"total_cost":0.1,"prompt_token_details":{"cache_read":2},"first_token_time":"2025-01-01T00:00:03"}"#,
            r#"{"id":"l2","trace_id":"r","parent_run_id":"c","session_id":"p","start_time":"2025-01-01T00:00:04","total_tokens":20,"total_cost":0.2,"prompt_token_details":{"cache_read":4},"first_token_time":"2025-01-01T00:00:05"}"#,
        ]);
        let agg = trace_aggregates(&rolled, "r");
        assert_eq!(agg.usage.get("total_tokens"), 30.0);
        assert!((agg.usage.get("total_cost") - 0.3).abs() < 1e-12);
        assert_eq!(agg.usage.details("prompt_token_details")["cache_read"], 6.0);
        assert_eq!(
            agg.first_token_us,
            crate::model::parse_timestamp("2025-01-01T00:00:03").map(|t| t.timestamp_micros())
        );
        // Only the LLM runs carry usage: the sum is theirs.
        let plain = project(&[
            r#"{"id":"r","trace_id":"r","session_id":"p","start_time":"2025-01-01T00:00:00"}"#,
            r#"{"id":"l1","trace_id":"r","parent_run_id":"r","session_id":"p","start_time":"2025-01-01T00:00:02","prompt_tokens":4,"completion_tokens":6}"#,
            r#"{"id":"l2","trace_id":"r","parent_run_id":"r","session_id":"p","start_time":"2025-01-01T00:00:04","total_tokens":20}"#,
        ]);
        assert_eq!(
            trace_aggregates(&plain, "r").usage.get("total_tokens"),
            30.0
        );
        assert_eq!(trace_aggregates(&plain, "nope"), TraceAggregates::default());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.0));
        assert_eq!(percentile(&v, 0.99), Some(4.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
