//! `type = "group_by_trace"`: folds runs into per-trace aggregates ([`Group`]).

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::group::{Aggregate, Group};
use super::progress::StageCounter;
use super::{Flow, Msg, Outputs, StageKind, Start, send, send_chunked};
use crate::located::Checks;
use crate::located::schema::{boolean, inputs, kind, run_path, string, table};

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    pub inputs: Vec<String>,
    #[serde(default)]
    pub aggregate: IndexMap<String, AggregateSettings>,
}

/// One aggregate, e.g. `tools_involved = { distinct = "name" }`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AggregateSettings {
    /// Distinct values of a field, sorted.
    pub distinct: Option<String>,
    /// Every value of a field, in arrival order.
    pub collect: Option<String>,
    /// Number of runs.
    pub count: Option<bool>,
    pub first: Option<String>,
    pub last: Option<String>,
    /// For each key of an object field (e.g. `inputs`), collect its values into a column
    /// `<prefix><key>` (the seed's `retriever.inputs.*`).
    pub collect_keys: Option<String>,
    /// Like `collect_keys`, but list values are concatenated (the seed's `retriever.outputs.*`).
    pub extend_keys: Option<String>,
    pub prefix: Option<String>,
}

/// A group_by_trace stage, its aggregates compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupByTrace {
    pub inputs: Vec<String>,
    pub aggregates: IndexMap<String, Aggregate>,
}

impl StageKind for GroupByTrace {
    const KIND: &'static str = "group_by_trace";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<GroupByTrace> {
        let mut aggregates = IndexMap::new();
        for (name, a) in &s.aggregate {
            match Aggregate::compile(name, a) {
                Ok(agg) => {
                    aggregates.insert(name.clone(), agg);
                }
                Err(e) => cx.error(&format!("aggregate.{name}"), e),
            }
        }
        (aggregates.len() == s.aggregate.len()).then(|| GroupByTrace {
            inputs: s.inputs,
            aggregates,
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        let ops = [
            "distinct",
            "collect",
            "count",
            "first",
            "last",
            "collect_keys",
            "extend_keys",
        ];
        let exactly_one: Vec<Value> = ops.iter().map(|op| json!({ "required": [op] })).collect();
        vec![
            (
                Self::KIND,
                table(
                    "Groups runs by trace and computes aggregates per trace.",
                    json!({
                        "type": kind(Self::KIND, "Groups runs by trace."),
                        "inputs": inputs("stage"),
                        "aggregate": {
                            "type": "object",
                            "description": "Named aggregates, e.g. aggregate.tools_involved = { distinct = \"name\" }.",
                            "additionalProperties": { "$ref": "#/$defs/aggregate" },
                        },
                    }),
                    &["type", "inputs"],
                ),
            ),
            (
                "aggregate",
                json!({
                    "type": "object",
                    "description": "One aggregate over a trace's runs: exactly one of distinct, collect, count, first, last, collect_keys, extend_keys.",
                    "properties": {
                        "distinct": run_path("Distinct values of this field, sorted."),
                        "collect": run_path("Every value of this field, in arrival order."),
                        "count": boolean("Number of runs."),
                        "first": run_path("Value of the first run."),
                        "last": run_path("Value of the last run."),
                        "collect_keys": run_path("For each key of this object field, collect its values into a column <prefix><key>."),
                        "extend_keys": run_path("Like collect_keys, but list values are concatenated."),
                        "prefix": string("Column name prefix for collect_keys / extend_keys, e.g. \"retriever.inputs.\"."),
                    },
                    "oneOf": exactly_one,
                    "additionalProperties": false,
                }),
            ),
        ]
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn produces(&self) -> Flow {
        Flow::Groups
    }

    fn accepts(&self, flow: Flow) -> bool {
        flow == Flow::Runs
    }

    fn needs_traces(&self) -> bool {
        true
    }

    fn reads(&self) -> Vec<&'static str> {
        let mut fields = vec!["trace_id"];
        for a in self.aggregates.values() {
            if let Some(path) = a.path() {
                fields.extend(path.selects());
            }
        }
        fields
    }

    fn unit(&self) -> &'static str {
        "traces"
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        run(
            self.aggregates.clone(),
            start.inbox,
            start.outputs,
            start.counter,
        )
        .boxed()
    }
}

/// Announces each trace id when first seen (so a `fetch_roots` can start fetching), and sends
/// the finished groups once the input ends: only then is a trace known to be complete.
async fn run(
    aggregates: IndexMap<String, Aggregate>,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    counter: Arc<StageCounter>,
) -> anyhow::Result<()> {
    // Each group is built in its final allocation, which stays where it is as the map grows
    // (at 1M runs, a map of inline groups held ~8 MB more at its peak).
    let mut groups: IndexMap<String, Arc<Group>, super::IdHasher> = IndexMap::default();
    while let Some(msg) = inbox.recv().await {
        let Msg::Runs(records) = msg else { continue };
        let mut new = vec![];
        for r in records.iter() {
            let trace = r.run.trace_id.value().unwrap_or(&r.run.id);
            // The id is copied only for a trace not seen before.
            let i = match groups.get_index_of(trace.as_str()) {
                Some(i) => i,
                None => {
                    new.push(trace.clone());
                    let group = Arc::new(Group::new(trace.clone(), &aggregates));
                    groups.insert_full(trace.clone(), group).0
                }
            };
            // Not yet shared: no copy.
            Arc::make_mut(&mut groups[i]).add(&r.run, &aggregates);
        }
        counter.add_in(records.len());
        counter.add_out(new.len());
        if !new.is_empty() {
            send(&outputs, Msg::TracesSeen(Arc::new(new))).await?;
        }
    }
    let finished = groups.into_values().map(|mut g| {
        Arc::make_mut(&mut g).finish(&aggregates);
        g
    });
    send_chunked(&outputs, finished, 1000, |c| Msg::Groups(Arc::new(c))).await
}
