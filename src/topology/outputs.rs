//! What each sink is told when a pipeline starts: its options (codec, sizes, partitions,
//! where to write) and the metadata stamped into its files.

use anyhow::bail;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use super::plan::PlannedQuery;
use super::runner::RunOptions;
use crate::config::{Pipeline, SinkConfig};
use crate::sink::SinkOptions;

/// Metadata stamped into output files: what was exported, never how (no endpoint or key).
pub(super) fn file_metadata(
    p: &Pipeline,
    queries: &IndexMap<String, PlannedQuery>,
    now: DateTime<Utc>,
    window: Option<crate::model::Window>,
) -> Vec<(String, String)> {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
    let described: serde_json::Map<String, serde_json::Value> = queries
        .iter()
        .map(
            |(
                id,
                PlannedQuery {
                    query: q, projects, ..
                },
            )| {
                (
                    id.clone(),
                    serde_json::json!({
                        "projects": projects, "run_type": q.run_type, "since": time(q.start_time),
                        "until": time(q.end_time.or(Some(now))), "filter": q.filter,
                        "trace_filter": q.trace_filter, "tree_filter": q.tree_filter,
                    }),
                )
            },
        )
        .collect();
    let mut out: Vec<(String, String)> = vec![
        ("runlake.pipeline".into(), p.name.clone()),
        ("runlake.pipeline_hash".into(), p.hash.clone()),
        ("runlake.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("runlake.exported_at".into(), now.to_rfc3339()),
        (
            "runlake.queries".into(),
            serde_json::Value::Object(described).to_string(),
        ),
    ];
    if let Some(w) = window {
        out.push(("runlake.window".into(), w.to_string()));
    }
    out
}

pub(super) fn sink_options(
    id: &str,
    sink: &SinkConfig,
    opts: &RunOptions,
    metadata: &[(String, String)],
) -> anyhow::Result<SinkOptions> {
    let Some(target) = opts.sinks.get(id) else {
        bail!("sink {id:?} has no output directory")
    };
    Ok(SinkOptions {
        committed: target.committed.clone(),
        ..sink.options(
            target.dir.clone(),
            target.name.clone(),
            target.partition_by.clone(),
            target.format,
            metadata.to_vec(),
        )
    })
}
