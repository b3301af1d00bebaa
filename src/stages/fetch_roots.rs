//! `type = "fetch_roots"`: the root run of every trace its input names, joined with the
//! trace's aggregates.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::group::Group;
use super::{Flow, IdHasher, Msg, Record, StageKind, Start, send_chunked};
use crate::langsmith::RunsQuery;
use crate::located::Checks;
use crate::located::schema::{inputs, kind, select, table};

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    pub inputs: Vec<String>,
    pub select: Option<Vec<String>>,
    /// Trace ids per request (at most the API's page size).
    pub batch_size: Option<usize>,
}

/// A fetch_roots stage.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRoots {
    pub inputs: Vec<String>,
    /// Fields of the roots; derived from what downstream stages read when `None`.
    pub select: Option<Vec<String>>,
    /// Trace ids per request; the API's page size when `None`.
    pub batch_size: Option<usize>,
}

impl StageKind for FetchRoots {
    const KIND: &'static str = "fetch_roots";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<FetchRoots> {
        if s.batch_size.is_some_and(|b| b == 0 || b > 1000) {
            cx.error(
                "batch_size",
                "batch_size must be between 1 and 1000 (100 on the v1 API)",
            );
            return None;
        }
        if !super::check_select(s.select.as_deref(), cx) {
            return None;
        }
        Some(FetchRoots {
            inputs: s.inputs,
            select: s.select,
            batch_size: s.batch_size,
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        vec![(
            Self::KIND,
            table(
                "Fetches the root run of each trace group (or of each run's trace) while children still stream in.",
                json!({
                    "type": kind(Self::KIND, "Fetches root runs by trace id."),
                    "inputs": inputs("stage"),
                    "select": select("Fields of the root runs; derived from downstream stages when omitted."),
                    "batch_size": { "type": "integer", "minimum": 1, "maximum": 1000, "description": "Trace ids per request (at most 100 on the v1 API)." },
                }),
                &["type", "inputs"],
            ),
        )]
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn produces(&self) -> Flow {
        Flow::Runs
    }

    fn accepts(&self, flow: Flow) -> bool {
        matches!(flow, Flow::Groups | Flow::Runs)
    }

    fn needs_traces(&self) -> bool {
        true
    }

    fn reads(&self) -> Vec<&'static str> {
        vec!["trace_id"]
    }

    fn unit(&self) -> &'static str {
        "roots"
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        let base = RunsQuery {
            projects: start.projects.clone(),
            select: self.select.clone().unwrap_or_else(|| start.select.clone()),
            ..Default::default()
        };
        run(start, base, self.batch_size).boxed()
    }
}

/// Root runs `fetch_roots` holds in memory while its input still runs; past it, trace ids wait
/// and their roots are fetched once the input ends (`RUNLAKE_ROOTS_MEMORY_MB` overrides).
fn roots_in_memory_bytes() -> usize {
    std::env::var("RUNLAKE_ROOTS_MEMORY_MB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(16)
        * 1024
        * 1024
}

/// Root batches requested at once: enough to keep the client's request slots busy beside the
/// child query, few enough that fetched-but-unsent roots stay a few pages.
const BATCHES_IN_FLIGHT: usize = 4;

/// Roots sent downstream per message.
const SEND_CHUNK: usize = 100;

type Fetch = BoxFuture<'static, anyhow::Result<Vec<crate::model::Run>>>;

/// Batches trace ids as they are first seen and fetches their roots while the child query is
/// still running: a root can only be sent once the input ends, when its trace's aggregates are
/// complete, so fetched roots are held, up to a memory budget. Past the budget, trace ids wait
/// instead and their roots are fetched after the input ends, streaming straight through: memory
/// stays bounded without writing roots to disk and parsing them twice.
async fn run(start: Start, base: RunsQuery, batch: Option<usize>) -> anyhow::Result<()> {
    let Start {
        source,
        mut inbox,
        outputs,
        id,
        counter,
        rejected,
        ..
    } = start;
    // A page's worth of ids per request unless the pipeline says otherwise: 1,000 on v2,
    // 100 on v1.
    let batch = match batch {
        Some(n) => n.max(1),
        None => source
            .batch_size(&base)
            .await
            .with_context(|| format!("stage {id:?}"))?,
    };
    let fetch = |ids: Vec<String>| -> Fetch {
        let source = source.clone();
        let base = base.clone();
        let rejected = rejected.clone();
        async move {
            let mut out = vec![];
            let mut pages = source.fetch_by_ids(&base, ids);
            while let Some(page) = pages.next().await {
                let page = page?;
                out.extend(page.runs);
                rejected.add(page.rejected)?;
            }
            Ok(out)
        }
        .boxed()
    };
    let budget = roots_in_memory_bytes();
    let mut pending: Vec<String> = Vec::new();
    let mut seen: HashSet<String, IdHasher> = HashSet::default();
    let mut groups: HashMap<String, Arc<Group>, IdHasher> = HashMap::default();
    // Full batches not yet requested, oldest first; after the budget is spent, all the rest.
    let mut waiting: VecDeque<Vec<String>> = VecDeque::new();
    let mut fetches = FuturesUnordered::new();
    let mut held: Vec<crate::model::Run> = Vec::new();
    let mut held_bytes = 0usize;
    let mut open = true;
    loop {
        while fetches.len() < BATCHES_IN_FLIGHT && held_bytes < budget {
            let Some(ids) = waiting.pop_front() else {
                break;
            };
            fetches.push(fetch(ids));
        }
        if !open && fetches.is_empty() {
            break;
        }
        tokio::select! {
            msg = inbox.recv(), if open => {
                let Some(msg) = msg else {
                    open = false;
                    if !pending.is_empty() {
                        waiting.push_back(std::mem::take(&mut pending));
                    }
                    continue;
                };
                if !matches!(msg, Msg::Groups(_)) {
                    counter.add_in(msg.len());
                }
                let ids: Vec<String> = match msg {
                    Msg::TracesSeen(ids) => ids.iter().cloned().collect(),
                    Msg::Runs(records) => records.iter().map(|r| r.run.trace_id.value().cloned().unwrap_or_else(|| r.run.id.clone())).collect(),
                    Msg::Groups(g) => {
                        groups.extend(g.iter().map(|g| (g.trace_id.clone(), g.clone())));
                        vec![]
                    }
                    Msg::Threads(_) | Msg::Rows(_) => vec![],
                };
                for id in ids {
                    if seen.insert(id.clone()) {
                        pending.push(id);
                        if pending.len() >= batch {
                            waiting.push_back(std::mem::take(&mut pending));
                        }
                    }
                }
            }
            Some(done) = fetches.next(), if !fetches.is_empty() => {
                let roots = done?;
                counter.add_out(roots.len());
                held_bytes += roots.iter().map(|r| r.approx_bytes()).sum::<usize>();
                held.extend(roots);
            }
        }
    }
    send_joined(&outputs, &groups, held).await?;
    let mut late =
        futures::stream::iter(waiting.into_iter().map(fetch)).buffer_unordered(BATCHES_IN_FLIGHT);
    while let Some(roots) = late.next().await {
        let roots = roots?;
        counter.add_out(roots.len());
        send_joined(&outputs, &groups, roots).await?;
    }
    Ok(())
}

/// Sends roots on, each joined with its trace's aggregates.
async fn send_joined(
    outputs: &super::Outputs,
    groups: &HashMap<String, Arc<Group>, IdHasher>,
    roots: Vec<crate::model::Run>,
) -> anyhow::Result<()> {
    // Roots were fetched by trace id, so a root's id is its trace's id.
    let records = roots.into_iter().map(|run| Record {
        group: groups.get(&run.id).cloned(),
        ..Record::of(run)
    });
    send_chunked(outputs, records, SEND_CHUNK, |c| Msg::Runs(Arc::new(c))).await
}
