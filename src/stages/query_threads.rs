//! `type = "query_threads"`: one record per conversation thread (root runs sharing a thread
//! key), as LangSmith's v2 `POST /api/v2/threads/query` summarises the threads active in the
//! window (turns, tokens, cost, errors, first and last start), pages of at most 100 on the
//! v2 lane. Where a downstream stage reads the turns themselves (`thread.trace_ids`,
//! `thread.first_inputs`, `thread.last_outputs`), each thread's traces are fetched too
//! (`GET /api/v2/threads/{id}/traces`, several threads at once) and kept to the window, so a
//! record describes the same turns its summary counts.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reach::{ProjectList, Reach, check_filters, check_page_size};
use super::{Flow, Msg, StageKind, Start, send};
use crate::langsmith::{Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery};
use crate::located::Checks;
use crate::located::schema::{integer, kind, string};
use crate::model::ThreadRecord;
use crate::model::summaries::ThreadNeeds;
use crate::source::Source;

/// Threads whose turns are fetched at once.
const TURN_FETCHES: usize = 8;

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    pub project: Option<ProjectList>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// On each trace's root run: which turns count.
    pub filter: Option<String>,
    /// On the thread's summary.
    pub thread_filter: Option<String>,
    /// Threads with a turn whose root matches.
    pub trace_filter: Option<String>,
    /// Threads with a turn containing a matching run.
    pub tree_filter: Option<String>,
    /// Threads per request, 1 to 100 (default 100).
    pub page_size: Option<usize>,
}

/// A query_threads stage, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryThreads {
    pub reach: Reach,
    filter: Option<String>,
    thread_filter: Option<String>,
    trace_filter: Option<String>,
    tree_filter: Option<String>,
    page_size: usize,
}

impl StageKind for QueryThreads {
    const KIND: &'static str = "query_threads";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<QueryThreads> {
        let failed_before = cx.errors.len();
        check_filters(
            &[
                ("filter", &s.filter),
                ("thread_filter", &s.thread_filter),
                ("trace_filter", &s.trace_filter),
                ("tree_filter", &s.tree_filter),
            ],
            cx,
        );
        check_page_size(s.page_size, cx);
        let reach = Reach::resolve(
            s.project.as_ref(),
            s.since.as_deref(),
            s.until.as_deref(),
            cx,
        );
        (cx.errors.len() == failed_before).then(|| QueryThreads {
            reach,
            filter: s.filter,
            thread_filter: s.thread_filter,
            trace_filter: s.trace_filter,
            tree_filter: s.tree_filter,
            page_size: s.page_size.unwrap_or(100),
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        Reach::source_schema(
            Self::KIND,
            "Lists conversation threads (root runs sharing a thread key) active in the window, one record each: turns, totals, first and last start; their turns when read (v2 threads/query, threads/{id}/traces).",
            json!({
                "type": kind(Self::KIND, "Lists conversation threads from LangSmith's v2 API."),
                "filter": string("LangSmith filter on each trace's root run: which turns count."),
                "thread_filter": string("Filter on each thread's summary (thread_id, start_time, total_tokens, latency, status, …)."),
                "trace_filter": string("Only threads with a turn whose root run matches."),
                "tree_filter": string("Only threads with a turn containing a matching run."),
                "page_size": integer("Threads per request, at most 100 (default 100).", 1),
            }),
        )
    }

    fn reach(&self) -> Option<&Reach> {
        Some(&self.reach)
    }

    fn produces(&self) -> Flow {
        Flow::Threads
    }

    fn unit(&self) -> &'static str {
        "threads"
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        run(self.clone(), start).boxed()
    }
}

/// What one run of the stage asks of one project.
#[derive(Clone)]
struct Plan {
    source: Source,
    project_id: String,
    window: (DateTime<Utc>, Option<DateTime<Utc>>),
    filter: Option<String>,
    /// What downstream stages read of the turns (nothing: no per-thread request).
    needs: Vec<ThreadNeeds>,
}

impl Plan {
    /// A thread as the summary gives it, with its turns in the window when they are read.
    async fn record(self, thread: Thread) -> anyhow::Result<ThreadRecord> {
        let thread_id = thread.thread_id.clone().unwrap_or_default();
        let mut record = ThreadRecord {
            thread_id: thread_id.clone(),
            project_id: self.project_id.clone(),
            first_start_us: thread.min_start_time.map(|t| t.timestamp_micros()),
            last_start_us: thread.max_start_time.map(|t| t.timestamp_micros()),
            turns: thread.count,
            total_tokens: thread.total_tokens,
            total_cost: thread.total_cost,
            error_count: thread.num_errored_turns,
            latency_p50: thread.latency_p50,
            latency_p99: thread.latency_p99,
            last_error: thread.last_error,
            ..Default::default()
        };
        if self.needs.is_empty() {
            return Ok(record);
        }
        let mut selects = vec!["TRACE_ID".to_string(), "START_TIME".to_string()];
        if self.needs.contains(&ThreadNeeds::Inputs) {
            selects.push("INPUTS".into());
        }
        if self.needs.contains(&ThreadNeeds::Outputs) {
            selects.push("OUTPUTS".into());
        }
        let turns: Vec<ThreadTrace> = self
            .source
            .thread_traces(ThreadTracesQuery {
                project_id: self.project_id.clone(),
                thread_id,
                selects,
                filter: self.filter.clone(),
                page_size: Some(100),
                ..Default::default()
            })
            .try_concat()
            .await?;
        // The endpoint has no window: keep the turns the summary counted.
        let (min, max) = self.window;
        let mut turns: Vec<ThreadTrace> = turns
            .into_iter()
            .filter(|t| {
                t.start_time
                    .is_some_and(|s| s >= min && max.is_none_or(|m| s < m))
            })
            .collect();
        turns.sort_by(|a, b| (a.start_time, &a.trace_id).cmp(&(b.start_time, &b.trace_id)));
        record.first_inputs = turns.first().and_then(|t| t.inputs.clone());
        record.last_outputs = turns.last().and_then(|t| t.outputs.clone());
        record.trace_ids = Some(turns.into_iter().filter_map(|t| t.trace_id).collect());
        Ok(record)
    }
}

/// Each project's threads, page by page, their turns fetched several threads at once.
async fn run(stage: QueryThreads, start: Start) -> anyhow::Result<()> {
    let Start {
        source,
        outputs,
        id,
        counter,
        context,
        select,
        ..
    } = start;
    let needs = ThreadNeeds::read_by(&select);
    let window = stage.reach.v2_window(&context);
    let names = stage.reach.project_names(&id, &context)?;
    for project_id in context.project_ids(&names)? {
        let plan = Plan {
            source: source.clone(),
            project_id: project_id.clone(),
            window,
            filter: stage.filter.clone(),
            needs: needs.clone(),
        };
        let mut pages = source.threads(ThreadsQuery {
            project_id,
            min_start_time: Some(window.0),
            max_start_time: window.1,
            filter: stage.filter.clone(),
            thread_filter: stage.thread_filter.clone(),
            trace_filter: stage.trace_filter.clone(),
            tree_filter: stage.tree_filter.clone(),
            page_size: Some(stage.page_size),
        });
        while let Some(page) = pages.next().await {
            let page = page.with_context(|| format!("stage {id:?}"))?;
            let records: Vec<ThreadRecord> = futures::stream::iter(page)
                .map(|thread| plan.clone().record(thread))
                .buffered(TURN_FETCHES)
                .try_collect()
                .await
                .with_context(|| format!("stage {id:?}"))?;
            counter.add_out(records.len());
            if !records.is_empty() {
                send(&outputs, Msg::Threads(Arc::new(records))).await?;
            }
        }
    }
    Ok(())
}
