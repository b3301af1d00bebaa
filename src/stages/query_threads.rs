//! `type = "query_threads"`: one record per conversation thread (root runs sharing a thread
//! key), as LangSmith's v2 `POST /api/v2/threads/query` summarises the threads active in the
//! window (turns, tokens, cost, errors, first and last start), pages of at most 100 on the
//! v2 lane. Where a downstream stage reads the turns themselves (`thread.trace_ids`,
//! `thread.first_inputs`, `thread.last_outputs`), they are read too, kept to the window so a
//! record describes the turns its summary counts: by default from one runs query of the
//! window's root runs (pages of 1,000 on v2) grouped by thread key, or
//! (`turns_from = "per_thread"`) from each thread's `GET /api/v2/threads/{id}/traces`, several
//! threads at once.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::reach::{ProjectList, Reach, check_filters, check_page_size};
use super::{Flow, Msg, StageKind, Start, send};
use crate::filter::RunFacts;
use crate::langsmith::{RunsQuery, Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery};
use crate::located::Checks;
use crate::located::schema::{integer, kind, one_of_strings, string};
use crate::located::variants_of;
use crate::model::summaries::ThreadNeeds;
use crate::model::{RejectedRuns, Run, ThreadRecord};
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
    /// Where the turns come from when they are read.
    pub turns_from: Option<TurnsFrom>,
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
    turns_from: TurnsFrom,
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
            turns_from: s.turns_from.unwrap_or_default(),
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
                "turns_from": one_of_strings(variants_of::<TurnsFrom>(), "Where turns come from when read (thread.trace_ids, first_inputs, last_outputs): one runs query of the window's root runs (roots, default) or one request per thread (per_thread)."),
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

    fn describe(&self) -> Option<String> {
        let turns = match self.turns_from {
            TurnsFrom::Roots => "one runs query of the window's root runs (pages of 1,000 on v2)",
            TurnsFrom::PerThread => "GET /api/v2/threads/{id}/traces, one request per thread",
        };
        Some(format!(
            "v2 POST /api/v2/threads/query per project: pages of {} threads; turns, when a \
             column reads them, from {turns}; needs LangSmith's v2 API",
            self.page_size
        ))
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        run(self.clone(), start).boxed()
    }
}

/// How a thread's turns are read, where a downstream stage reads them.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TurnsFrom {
    /// One runs query of the window's root runs (pages of 1,000 on v2), grouped by thread
    /// key here: the fewest requests wherever threads average more than one turn per
    /// thousand traces, as conversations do.
    #[default]
    Roots,
    /// One `threads/{id}/traces` request per thread (and page of 100 turns): fewer when a
    /// filter keeps a few threads out of many traces.
    PerThread,
}

/// One thread's turns in the window, as far as they are read.
#[derive(Debug, Clone, Default)]
struct Turns {
    /// `(start µs, trace id)` of every turn.
    ids: Vec<(Option<i64>, String)>,
    first_inputs: Option<(Option<i64>, String, Option<Box<RawValue>>)>,
    last_outputs: Option<(Option<i64>, String, Option<Box<RawValue>>)>,
}

impl Turns {
    fn add(
        &mut self,
        start: Option<i64>,
        id: String,
        inputs: Option<Box<RawValue>>,
        outputs: Option<Box<RawValue>>,
    ) {
        let key = (start, id.clone());
        if self
            .first_inputs
            .as_ref()
            .is_none_or(|(s, i, _)| key < (*s, i.clone()))
        {
            self.first_inputs = Some((start, id.clone(), inputs));
        }
        if self
            .last_outputs
            .as_ref()
            .is_none_or(|(s, i, _)| key > (*s, i.clone()))
        {
            self.last_outputs = Some((start, id.clone(), outputs));
        }
        self.ids.push(key);
    }

    /// Onto `record`: trace ids in turn order, the first turn's inputs, the last's outputs.
    fn fill(mut self, record: &mut ThreadRecord) {
        self.ids.sort();
        record.first_inputs = self.first_inputs.and_then(|(.., v)| v);
        record.last_outputs = self.last_outputs.and_then(|(.., v)| v);
        record.trace_ids = Some(self.ids.into_iter().map(|(_, id)| id).collect());
    }
}

/// What one run of the stage asks of one project.
#[derive(Clone)]
struct Plan {
    source: Source,
    project_id: String,
    window: (DateTime<Utc>, Option<DateTime<Utc>>),
    filter: Option<String>,
    /// What downstream stages read of the turns (nothing: no turn is read).
    needs: Vec<ThreadNeeds>,
}

impl Plan {
    fn wants(&self, need: ThreadNeeds) -> bool {
        self.needs.contains(&need)
    }

    fn in_window(&self, start: Option<DateTime<Utc>>) -> bool {
        let (min, max) = self.window;
        start.is_some_and(|s| s >= min && max.is_none_or(|m| s < m))
    }

    /// Every turn of every thread in the window, from one runs query of the root runs: their
    /// thread keys as LangSmith groups threads (the run's `thread_id`, else metadata
    /// `session_id`, `conversation_id` or `thread_id`).
    async fn turns_by_thread(
        &self,
        rejected: &RejectedRuns,
    ) -> anyhow::Result<HashMap<String, Turns>> {
        let mut select: Vec<String> = ["id", "start_time", "thread_id", "extra"]
            .map(String::from)
            .to_vec();
        if self.wants(ThreadNeeds::Inputs) {
            select.push("inputs".into());
        }
        if self.wants(ThreadNeeds::Outputs) {
            select.push("outputs".into());
        }
        let query = RunsQuery {
            projects: vec![self.project_id.clone()],
            is_root: Some(true),
            start_time: Some(self.window.0),
            // Runs queries take the end inclusive, to the µs.
            end_time: self.window.1.map(|m| m - TimeDelta::microseconds(1)),
            // Which traces count as turns: `filter` is on each trace's root.
            filter: self.filter.clone(),
            select,
            ..RunsQuery::default()
        };
        let mut pages = self.source.query(query, false);
        let mut out: HashMap<String, Turns> = HashMap::new();
        while let Some(page) = pages.next().await {
            let page = page?;
            let too_many = rejected.add(page.rejected);
            for root in page.runs {
                let Some(key) = RunFacts::from_run(&Run {
                    thread_id: root.thread_id.clone(),
                    metadata: root.metadata.clone(),
                    extra: root.extra.clone(),
                    ..Run::default()
                })
                .thread_id
                else {
                    continue;
                };
                let start = root.start_time.value().map(|t| t.micros());
                out.entry(key).or_default().add(
                    start,
                    root.id,
                    root.inputs.into_value(),
                    root.outputs.into_value(),
                );
            }
            too_many?;
        }
        Ok(out)
    }

    /// One thread's turns in the window, from its own traces.
    async fn thread_turns(&self, thread_id: String) -> anyhow::Result<Turns> {
        let mut selects = vec!["TRACE_ID".to_string(), "START_TIME".to_string()];
        if self.wants(ThreadNeeds::Inputs) {
            selects.push("INPUTS".into());
        }
        if self.wants(ThreadNeeds::Outputs) {
            selects.push("OUTPUTS".into());
        }
        let all: Vec<ThreadTrace> = self
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
        let mut turns = Turns::default();
        // The endpoint has no window: keep the turns the summary counted.
        for t in all.into_iter().filter(|t| self.in_window(t.start_time)) {
            let Some(id) = t.trace_id else { continue };
            turns.add(
                t.start_time.map(|s| s.timestamp_micros()),
                id,
                t.inputs,
                t.outputs,
            );
        }
        Ok(turns)
    }

    /// A thread as the summary gives it, with its turns when they are read: from `collected`,
    /// else fetched.
    async fn record(
        self,
        thread: Thread,
        collected: Option<Arc<HashMap<String, Turns>>>,
    ) -> anyhow::Result<ThreadRecord> {
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
        let turns = match (&collected, self.needs.is_empty()) {
            (_, true) => return Ok(record),
            (Some(all), false) => all.get(&thread_id).cloned().unwrap_or_default(),
            (None, false) => self.thread_turns(thread_id).await?,
        };
        turns.fill(&mut record);
        Ok(record)
    }
}

/// Each project's threads; their turns read from one runs query of the roots, or per
/// thread, several threads at once; sent on in pages.
async fn run(stage: QueryThreads, start: Start) -> anyhow::Result<()> {
    let Start {
        source,
        outputs,
        id,
        counter,
        context,
        select,
        rejected,
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
        // Every summary first (a thread is small): no turn is read for a project without
        // threads, nor before the deployment has answered the threads query.
        let mut threads: Vec<Thread> = vec![];
        while let Some(page) = pages.next().await {
            threads.extend(page.with_context(|| format!("stage {id:?}"))?);
        }
        if threads.is_empty() {
            continue;
        }
        let collected = match stage.turns_from {
            TurnsFrom::Roots if !needs.is_empty() => Some(Arc::new(
                plan.turns_by_thread(&rejected)
                    .await
                    .with_context(|| format!("stage {id:?}"))?,
            )),
            TurnsFrom::Roots | TurnsFrom::PerThread => None,
        };
        let mut records = futures::stream::iter(threads)
            .map(|thread| plan.clone().record(thread, collected.clone()))
            .buffered(TURN_FETCHES)
            .try_chunks(stage.page_size);
        while let Some(chunk) = records.next().await {
            let chunk = chunk
                .map_err(|e| e.1)
                .with_context(|| format!("stage {id:?}"))?;
            counter.add_out(chunk.len());
            send(&outputs, Msg::Threads(Arc::new(chunk))).await?;
        }
    }
    Ok(())
}
