//! `type = "fetch_roots"`: the root run of every trace its input names, joined with the
//! trace's aggregates.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::group::Group;
use super::{Flow, Msg, Record, StageKind, Start, send};
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

/// Root runs `fetch_roots` keeps in memory before spilling to a temporary file
/// (`RUNLAKE_ROOTS_MEMORY_MB` overrides).
fn roots_in_memory_bytes() -> usize {
    std::env::var("RUNLAKE_ROOTS_MEMORY_MB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(64)
        * 1024
        * 1024
}

/// Batches trace ids as they are first seen and fetches their roots while the child query is
/// still running. Fetched roots are held in memory up to a budget, then spilled to an
/// anonymous temporary file; once the input ends (and with it the groups), each root is
/// joined with its trace's aggregates and sent on.
async fn run(start: Start, base: RunsQuery, batch: Option<usize>) -> anyhow::Result<()> {
    use std::io::{BufRead, Seek, Write};
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
    let mut pending: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut groups: HashMap<String, Arc<Group>> = HashMap::new();
    let mut fetches: tokio::task::JoinSet<anyhow::Result<Vec<crate::model::Run>>> =
        tokio::task::JoinSet::new();
    let mut spill = std::io::BufWriter::new(
        tempfile::tempfile().context("cannot create a spill file for root runs")?,
    );
    let spawn =
        |ids: Vec<String>,
         fetches: &mut tokio::task::JoinSet<anyhow::Result<Vec<crate::model::Run>>>| {
            let source = source.clone();
            let base = base.clone();
            let rejected = rejected.clone();
            fetches.spawn(async move {
                let mut out = vec![];
                let mut pages = source.fetch_by_ids(&base, ids);
                while let Some(page) = pages.next().await {
                    let page = page?;
                    out.extend(page.runs);
                    rejected.add(page.rejected)?;
                }
                Ok(out)
            });
        };
    // Roots are held in memory up to a budget and spilled beyond it: most exports never
    // touch the disk, and the biggest stay bounded.
    let mut held: Vec<crate::model::Run> = Vec::new();
    let mut held_bytes = 0usize;
    let budget = roots_in_memory_bytes();
    let mut spilled = 0usize;
    let mut write_roots = |roots: Vec<crate::model::Run>| -> anyhow::Result<()> {
        counter.add_out(roots.len());
        for root in roots {
            if held_bytes < budget {
                held_bytes += root.approx_bytes();
                held.push(root);
            } else {
                serde_json::to_writer(&mut spill, &root)?;
                spill.write_all(b"\n")?;
                spilled += 1;
            }
        }
        Ok(())
    };
    let mut open = true;
    while open || !fetches.is_empty() {
        tokio::select! {
            msg = inbox.recv(), if open => {
                let Some(msg) = msg else {
                    open = false;
                    if !pending.is_empty() {
                        spawn(std::mem::take(&mut pending), &mut fetches);
                    }
                    continue;
                };
                // Items in: trace ids (or runs) to fetch roots for; final groups are not counted.
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
                            spawn(std::mem::take(&mut pending), &mut fetches);
                        }
                    }
                }
            }
            Some(done) = fetches.join_next(), if !fetches.is_empty() => {
                write_roots(done.context("a root fetch panicked")??)?;
            }
        }
    }
    let mut file = spill.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    let spilled_roots = std::io::BufReader::new(file).lines().take(spilled).map(
        |line| -> anyhow::Result<crate::model::Run> { Ok(crate::model::Run::from_json(&line?)?) },
    );
    let mut out = Vec::with_capacity(1000);
    for run in held.into_iter().map(Ok).chain(spilled_roots) {
        let run = run?;
        // Roots were fetched by trace id, so a root's id is its trace's id.
        let group = groups.get(&run.id).cloned();
        out.push(Record {
            group,
            ..Record::of(run)
        });
        if out.len() == 1000 {
            send(&outputs, Msg::Runs(Arc::new(std::mem::take(&mut out)))).await?;
        }
    }
    if !out.is_empty() {
        send(&outputs, Msg::Runs(Arc::new(out))).await?;
    }
    Ok(())
}
