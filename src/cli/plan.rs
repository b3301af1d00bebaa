use std::path::PathBuf;

use clap::Args;

use crate::config::Stage;
use crate::langsmith::{ApiChoice, ApiVersion, RunsQuery, Tally};
use crate::topology::{RunOptions, plan_queries, source_context};

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
    /// Plan for this API instead of the pipeline's (`auto` plans v2 and shows v1's figures).
    #[arg(long, value_enum)]
    pub api: Option<PlanApi>,
    /// Runs each query stage is expected to return: the plan then counts its requests and
    /// the least time LangSmith Cloud's published limits allow for them.
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
    /// Traces whose roots fetch_roots fetches (default: as many as --runs).
    #[arg(long, value_name = "N", requires = "runs")]
    pub traces: Option<u64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PlanApi {
    V1,
    V2,
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
            println!("  {id:?} [shape=box, label=\"{id}\\n{}\"];", s.kind.name());
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
        if let Some(note) = s.describe() {
            println!("    {note}");
        }
    }
    for (id, s) in &p.sinks {
        println!(
            "  sink {id} ({}) <- {} -> {}",
            s.kind.name(),
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
                crate::model::Disposition::Append => "append",
                crate::model::Disposition::Replace => "replace",
            }
        );
    }
    println!(
        "load: windows of {}, lag {}, trace margin {}",
        p.load
            .window
            .map_or("the whole range".into(), |s| s.to_string()),
        p.load.lag.map_or("0s".into(), |s| s.to_string()),
        p.load.trace_margin.map_or("1h".into(), |s| s.to_string())
    );
    let options = RunOptions {
        project: args.scope.project,
        since: args.scope.since,
        until: args.scope.until,
        ..Default::default()
    };
    let queries = plan_queries(&p, &source_context(&p, &options))?;
    let config = super::run::client_config(&p);
    let apis: Vec<ApiVersion> = match (args.api, p.source.api) {
        (Some(PlanApi::V1), _) | (None, ApiChoice::V1) => vec![ApiVersion::V1],
        (Some(PlanApi::V2), _) | (None, ApiChoice::V2) => vec![ApiVersion::V2],
        (None, ApiChoice::Auto) => {
            println!(
                "api: auto: v2 wherever /info offers it (LangSmith Cloud, self-hosted 0.16 and later), \
                 v1 where it does not; --api v1 shows the fallback alone"
            );
            vec![ApiVersion::V2, ApiVersion::V1]
        }
    };
    let now = chrono::Utc::now();
    for (id, planned) in &queries {
        // Shown with project names; their ids are looked up when the pipeline runs.
        let q = &RunsQuery {
            projects: planned.projects.clone(),
            ..planned.query.clone()
        };
        println!("query {id}: projects {:?}", planned.projects);
        for api in &apis {
            match api {
                ApiVersion::V2 if q.expressible_in_v2() => {
                    let body = q
                        .v2_body(1000, None)
                        .map_or_else(|e| e.to_string(), |b| b.to_string());
                    println!("  v2: one window, pages of 1,000: POST /api/v2/runs/query {body}");
                }
                ApiVersion::V2 => println!(
                    "  v2: cannot carry this query (parent_run or order = \"asc\"); auto sends it to v1"
                ),
                ApiVersion::V1 => {
                    let windows = if planned.split {
                        q.split(crate::langsmith::SEVEN_DAYS, now).len()
                    } else {
                        1
                    };
                    println!(
                        "  v1: {windows} window(s){}, pages of 100: POST /api/v1/runs/query {}",
                        if planned.split {
                            " of at most 7 days"
                        } else {
                            ""
                        },
                        q.v1_body(100, None)
                    );
                }
            }
        }
    }
    let mut roots = vec![];
    for (id, s) in &p.stages {
        if let Stage::FetchRoots(f) = s {
            let select = f
                .select
                .clone()
                .unwrap_or_else(|| crate::topology::derive_select_for(&p, id));
            let per = f.batch_size.map_or_else(
                || "1,000 per request on v2, 100 on v1".to_string(),
                |n| format!("{n} per request"),
            );
            println!("fetch {id}: root runs by trace id, {per}, select {select:?}");
            roots.push(f.batch_size);
        }
    }
    let Some(runs) = args.runs else {
        return Ok(());
    };
    let traces = args.traces.unwrap_or(runs);
    let projects: std::collections::HashSet<&String> =
        queries.values().flat_map(|q| &q.projects).collect();
    for api in &apis {
        let mut tally = Tally::default();
        tally.lookups(projects.len() as u64, p.source.api == ApiChoice::Auto);
        for planned in queries.values() {
            let carrier = match api {
                ApiVersion::V2 if !planned.query.expressible_in_v2() => ApiVersion::V1,
                api => *api,
            };
            tally.query(carrier, &planned.query, planned.split, runs, now);
        }
        for batch in &roots {
            let per = batch.unwrap_or(match api {
                ApiVersion::V1 => 100,
                ApiVersion::V2 => 1000,
            });
            tally.roots(*api, &RunsQuery::default(), traces, per);
        }
        let e = tally.finish(&config);
        let lanes: Vec<String> = e.requests.iter().map(|(l, n)| format!("{l} {n}")).collect();
        println!(
            "expected on {}: {} requests ({}) for {runs} runs and {traces} traces; at least {:.0} s \
             at LangSmith Cloud's published limits",
            match api {
                ApiVersion::V1 => "v1",
                ApiVersion::V2 => "v2",
            },
            e.total,
            lanes.join(", "),
            e.floor.as_secs_f64()
        );
    }
    Ok(())
}
