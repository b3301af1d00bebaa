//! What a pipeline will ask of its source, before anything runs: each query stage's query,
//! and the fields (`select`) its consumers read. `runlake plan` prints the same.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use indexmap::IndexMap;

use super::RunOptions;
use crate::config::{Pipeline, Stage};
use crate::stages::SourceContext;
pub use crate::stages::query_runs::{PlanContext, PlannedQuery};
use crate::stages::rows::RowSpec;

/// Whether `id`'s runs reach a stage that works per trace, directly or through stages that
/// pass runs through.
pub(super) fn feeds_trace_grouping(p: &Pipeline, id: &str) -> bool {
    p.stages.iter().any(|(cid, stage)| {
        stage.inputs().iter().any(|i| i == id)
            && (stage.needs_traces()
                || (stage.passes_runs_through() && feeds_trace_grouping(p, cid)))
    })
}

/// What source stages read under `opts` (project ids not resolved yet).
pub fn source_context(p: &Pipeline, opts: &RunOptions) -> SourceContext {
    SourceContext {
        now: opts.now.unwrap_or_else(Utc::now),
        project: opts.project.clone(),
        since: opts.since,
        until: opts.until,
        default_project: p.source.project.clone(),
        split_windows: p.source.split_windows,
        project_ids: HashMap::new(),
    }
}

/// The query each `query_runs` stage will issue (projects still as names).
pub fn plan_queries(
    p: &Pipeline,
    source: &SourceContext,
) -> anyhow::Result<IndexMap<String, PlannedQuery>> {
    let mut out = IndexMap::new();
    for (id, stage) in &p.stages {
        let Stage::QueryRuns(q) = stage else {
            continue;
        };
        let cx = PlanContext {
            id,
            source,
            derived_select: derive_select(p, id, &["trace_id", "start_time"]),
        };
        out.insert(id.clone(), q.plan(&cx)?);
    }
    Ok(out)
}

/// What the components fed (directly or through stages that pass runs through) by `id`
/// read from its runs.
pub fn derive_select(p: &Pipeline, id: &str, base: &[&'static str]) -> Vec<String> {
    let mut fields: Vec<&'static str> = base.to_vec();
    let mut stack = vec![id.to_string()];
    let mut seen = HashSet::new();
    while let Some(producer) = stack.pop() {
        if !seen.insert(producer.clone()) {
            continue;
        }
        for (cid, stage) in &p.stages {
            if !stage.inputs().contains(&producer) {
                continue;
            }
            fields.extend(stage.reads());
            if stage.passes_runs_through() {
                stack.push(cid.clone());
            }
        }
        if p.sinks.values().any(|s| s.inputs.contains(&producer)) {
            fields.extend(RowSpec::default_spec().selects());
        }
    }
    let mut out: Vec<String> = vec![];
    for f in fields {
        if !out.iter().any(|o| o == f) {
            out.push(f.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::durations::TimeSpec;

    const PIPELINE: &str = r#"
[source]
project = "p"

[stages.tools]
type = "query_runs"
run_type = "tool"
since = "7d"

[stages.slow]
type = "filter"
inputs = ["tools"]
filter = 'gt(latency, 5)'

[stages.by_trace]
type = "group_by_trace"
inputs = ["slow"]
aggregate.names = { distinct = "name" }
aggregate.asked = { collect = "inputs.query" }

[stages.roots]
type = "fetch_roots"
inputs = ["by_trace"]

[stages.rows]
type = "flatten"
inputs = ["roots"]
columns = [{ name = "id", from = "id" }, { name = "tags", from = "tags" }]

[sinks.out]
type = "parquet"
inputs = ["rows"]
path = "out"
"#;

    fn pipeline(src: &str) -> Pipeline {
        crate::config::parse(std::path::Path::new("p.toml"), src, &|_| None).unwrap()
    }

    #[test]
    fn a_query_selects_what_its_consumers_read_through_filters() {
        let p = pipeline(PIPELINE);
        // The filter reads latency (start and end), the aggregates name and inputs; the
        // filter passes runs through, so its consumers' reads count too.
        let select = derive_select(&p, "tools", &["trace_id", "start_time"]);
        for field in ["trace_id", "start_time", "end_time", "name", "inputs"] {
            assert!(select.iter().any(|s| s == field), "{field} in {select:?}");
        }
        assert!(!select.iter().any(|s| s == "tags"), "{select:?}");
        // The roots: what flatten reads.
        let roots = derive_select(&p, "roots", &["trace_id"]);
        assert!(roots.iter().any(|s| s == "tags"), "{roots:?}");
        assert!(feeds_trace_grouping(&p, "tools"), "through the filter");
        assert!(!feeds_trace_grouping(&p, "roots"));
    }

    #[test]
    fn plans_apply_overrides_once_and_an_explicit_select_wins() {
        let now: chrono::DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let p = pipeline(PIPELINE);
        let planned = plan_queries(
            &p,
            &source_context(
                &p,
                &RunOptions {
                    now: Some(now),
                    ..Default::default()
                },
            ),
        )
        .unwrap();
        let q = &planned["tools"];
        assert_eq!(q.projects, ["p"]);
        assert_eq!(q.query.start_time, Some(now - chrono::TimeDelta::days(7)));
        assert_eq!(q.query.run_type.as_deref(), Some("tool"));
        assert!(q.split);
        let overridden = plan_queries(
            &p,
            &source_context(
                &p,
                &RunOptions {
                    now: Some(now),
                    project: Some("other".into()),
                    since: TimeSpec::parse("2026-10-01T00:00:00Z").ok(),
                    until: TimeSpec::parse("1d").ok(),
                    ..Default::default()
                },
            ),
        )
        .unwrap();
        let q = &overridden["tools"];
        assert_eq!(q.projects, ["other"]);
        assert_eq!(
            q.query.start_time,
            Some("2026-10-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(q.query.end_time, Some(now - chrono::TimeDelta::days(1)));
        let explicit = pipeline(&PIPELINE.replace(
            "since = \"7d\"",
            "since = \"7d\"\nselect = [\"trace_id\", \"name\"]\nsplit_windows = false",
        ));
        let q = &plan_queries(
            &explicit,
            &source_context(&explicit, &RunOptions::default()),
        )
        .unwrap()["tools"];
        assert_eq!(q.query.select, ["trace_id", "name"]);
        assert!(!q.split);
        let bad = TimeSpec::parse("last week").unwrap_err();
        assert!(bad.contains("neither a duration"), "{bad}");
    }
}
