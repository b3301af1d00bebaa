//! `type = "filter"`: keeps the runs a LangSmith filter expression matches, evaluated locally.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::progress::StageCounter;
use super::{Flow, Msg, Outputs, Record, StageKind, Start, send};
use crate::filter::{Expr, RunFacts};
use crate::located::Checks;
use crate::located::schema::{inputs, kind, string, table};

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    pub inputs: Vec<String>,
    pub filter: String,
}

/// A filter stage, its expression parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub inputs: Vec<String>,
    pub expr: Expr,
}

impl StageKind for Filter {
    const KIND: &'static str = "filter";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<Filter> {
        let expr = cx.filter("filter", &s.filter)?;
        Some(Filter {
            inputs: s.inputs,
            expr,
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        vec![(
            Self::KIND,
            table(
                "Keeps the runs a filter matches, evaluated locally.",
                json!({
                    "type": kind(Self::KIND, "Filters runs locally."),
                    "inputs": inputs("stage"),
                    "filter": string("LangSmith filter language, e.g. gt(total_tokens, 1000)."),
                }),
                &["type", "inputs", "filter"],
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
        flow == Flow::Runs
    }

    fn passes_runs_through(&self) -> bool {
        true
    }

    fn reads(&self) -> Vec<&'static str> {
        super::filter_reads(&self.expr)
    }

    fn unit(&self) -> &'static str {
        "runs"
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        run(self.expr.clone(), start.inbox, start.outputs, start.counter).boxed()
    }
}

async fn run(
    expr: Expr,
    mut inbox: mpsc::Receiver<Msg>,
    outputs: Outputs,
    counter: Arc<StageCounter>,
) -> anyhow::Result<()> {
    while let Some(msg) = inbox.recv().await {
        if let Msg::Runs(records) = msg {
            let kept: Vec<Record> = records
                .iter()
                .filter(|r| expr.matches(&RunFacts::from_run(&r.run)))
                .cloned()
                .collect();
            counter.add_in(records.len());
            counter.add_out(kept.len());
            send(&outputs, Msg::Runs(Arc::new(kept))).await?;
        }
    }
    Ok(())
}
