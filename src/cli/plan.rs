use std::path::PathBuf;

use clap::Args;

use crate::config::StageConfig;
use crate::stages::{RunOptions, plan_queries};

/// `runlake plan`: the stage graph (text, or DOT with --dot) and the queries it will issue.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The pipeline file (TOML).
    pub file: PathBuf,
    /// Print the graph in Graphviz DOT.
    #[arg(long)]
    pub dot: bool,
    #[command(flatten)]
    pub scope: super::run::ScopeArgs,
}

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let p = crate::config::load(&args.file)?;
    if args.dot {
        println!("digraph {:?} {{\n  rankdir=LR;", p.name);
        for (id, s) in &p.stages {
            println!("  {id:?} [label=\"{id}\\n{}\"];", s.kind());
            for i in s.inputs() {
                println!("  {i:?} -> {id:?};");
            }
        }
        for (id, s) in &p.sinks {
            println!("  {id:?} [shape=box, label=\"{id}\\n{}\"];", s.kind);
            for i in &s.inputs {
                println!("  {i:?} -> {id:?};");
            }
        }
        println!("}}");
        return Ok(());
    }
    println!(
        "pipeline {}{}",
        p.name,
        p.description
            .as_ref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    );
    for (id, s) in &p.stages {
        let inputs = if s.inputs().is_empty() {
            String::new()
        } else {
            format!(" <- {}", s.inputs().join(", "))
        };
        println!("  stage {id} ({}){inputs}", s.kind());
    }
    for (id, s) in &p.sinks {
        println!(
            "  sink {id} ({}) <- {} -> {}",
            s.kind,
            s.inputs.join(", "),
            s.path.as_deref().unwrap_or("(--output)")
        );
        println!(
            "    partitions {}, disposition {}",
            match &s.partition_by {
                None => "date".to_string(),
                Some(keys) if keys.is_empty() => "none".to_string(),
                Some(keys) => keys.join("/"),
            },
            match s.disposition.unwrap_or_default() {
                crate::sink::commit::Disposition::Append => "append",
                crate::sink::commit::Disposition::Replace => "replace",
            }
        );
    }
    println!(
        "load: windows of {}, lag {}, trace margin {}",
        p.load.window.as_deref().unwrap_or("the whole range"),
        p.load.lag.as_deref().unwrap_or("0s"),
        p.load.trace_margin.as_deref().unwrap_or("1h")
    );
    let options = RunOptions {
        project: args.scope.project,
        since: args.scope.since,
        until: args.scope.until,
        ..Default::default()
    };
    for (
        id,
        crate::stages::PlannedQuery {
            query: q,
            projects,
            split,
        },
    ) in plan_queries(&p, &options)?
    {
        println!("query {id}: projects {projects:?}, split into 7-day windows: {split}");
        println!("  POST /api/v1/runs/query {}", q.v1_body(100, None));
    }
    for (id, s) in &p.stages {
        if let StageConfig::FetchRoots(f) = s {
            let select = f
                .select
                .clone()
                .unwrap_or_else(|| crate::stages::derive_select_for(&p, id));
            println!(
                "fetch {id}: root runs by trace id, {} per request, select {select:?}",
                f.batch_size.unwrap_or(100)
            );
        }
    }
    Ok(())
}
