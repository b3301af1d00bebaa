//! The `fetch_roots` stage: the root run of every trace its input names, joined with the
//! trace's aggregates.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::group::Group;
use super::progress::StageCounter;
use super::{Msg, Outputs, Record, StageReport, send};
use crate::langsmith::RunsQuery;
use crate::source::Source;

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
pub(crate) async fn run(
    source: Source,
    base: RunsQuery,
    batch: Option<usize>,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    report: StageReport,
    counter: Arc<StageCounter>,
) -> anyhow::Result<StageReport> {
    use std::io::{BufRead, Seek, Write};
    // A page's worth of ids per request unless the pipeline says otherwise: 1,000 on v2,
    // 100 on v1.
    let batch = match batch {
        Some(n) => n.max(1),
        None => source
            .batch_size(&base)
            .await
            .with_context(|| format!("stage {:?}", report.id))?,
    };
    let mut pending: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut groups: HashMap<String, Arc<Group>> = HashMap::new();
    let mut fetches: tokio::task::JoinSet<anyhow::Result<Vec<crate::model::Run>>> =
        tokio::task::JoinSet::new();
    let mut spill = std::io::BufWriter::new(
        tempfile::tempfile().context("cannot create a spill file for root runs")?,
    );
    let mut n_in = 0;
    let spawn =
        |ids: Vec<String>,
         fetches: &mut tokio::task::JoinSet<anyhow::Result<Vec<crate::model::Run>>>| {
            let source = source.clone();
            let base = base.clone();
            fetches.spawn(async move {
                let mut out = vec![];
                let mut pages = source.fetch_by_ids(&base, ids);
                while let Some(page) = pages.next().await {
                    out.extend(page?);
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
                    n_in += msg.len() as u64;
                    counter.add_in(msg.len());
                }
                let ids: Vec<String> = match msg {
                    Msg::TracesSeen(ids) => ids.iter().cloned().collect(),
                    Msg::Runs(records) => records.iter().map(|r| r.run.trace_id.value().cloned().unwrap_or_else(|| r.run.id.clone())).collect(),
                    Msg::Groups(g) => {
                        groups.extend(g.iter().map(|g| (g.trace_id.clone(), g.clone())));
                        vec![]
                    }
                    Msg::Rows(_) => vec![],
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
    let mut n_out = 0;
    for run in held.into_iter().map(Ok).chain(spilled_roots) {
        let run = run?;
        // Roots were fetched by trace id, so a root's id is its trace's id.
        let group = groups.get(&run.id).cloned();
        out.push(Record { run, group });
        if out.len() == 1000 {
            n_out += out.len() as u64;
            send(&outputs, Msg::Runs(Arc::new(std::mem::take(&mut out)))).await?;
        }
    }
    if !out.is_empty() {
        n_out += out.len() as u64;
        send(&outputs, Msg::Runs(Arc::new(out))).await?;
    }
    Ok(StageReport {
        items_in: n_in,
        items_out: n_out,
        ..report
    })
}
