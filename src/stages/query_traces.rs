//! `type = "query_traces"`: one item per trace, as LangSmith's v2 `POST /api/v2/traces/query`
//! answers it: the trace's root run with the trace's totals (tokens, cost, first token) over
//! all its runs, pages of at most 100 on the v2 lane. A trace belongs to the window its root
//! started in, so a windowed load needs no margin: the totals cover the whole trace.

use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reach::{ProjectList, Reach, check_filters, check_page_size};
use super::{Flow, Msg, Record, SourceContext, StageKind, Start, send};
use crate::langsmith::{TraceAggregates, TracesQuery};
use crate::located::Checks;
use crate::located::schema::{integer, kind, select, string, string_list};
use crate::model::summaries::TraceField;
use crate::model::{Decimal, Maybe, Run, Timestamp, TraceTotals};

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    pub project: Option<ProjectList>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// On each trace's root run.
    pub trace_filter: Option<String>,
    /// On any run of each trace.
    pub tree_filter: Option<String>,
    pub trace_ids: Option<Vec<String>>,
    /// Fields of the root runs; derived from what downstream stages read when omitted.
    pub select: Option<Vec<String>>,
    /// Traces per request, 1 to 100 (default 100).
    pub page_size: Option<usize>,
}

/// A query_traces stage, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryTraces {
    pub reach: Reach,
    trace_filter: Option<String>,
    tree_filter: Option<String>,
    trace_ids: Option<Vec<String>>,
    select: Option<Vec<String>>,
    page_size: usize,
}

impl QueryTraces {
    /// The query for one project: the v2 names of the root fields `select` names (the fields
    /// every run carries included, as on runs queries; the trace fields come back as totals).
    pub fn query(&self, project_id: String, cx: &SourceContext, select: &[String]) -> TracesQuery {
        let (min, max) = self.reach.v2_window(cx);
        let wanted = self.select.as_deref().unwrap_or(select);
        let mut selects: Vec<String> = vec![];
        let names = crate::model::fields::V1_ALWAYS
            .iter()
            .copied()
            .chain(wanted.iter().map(String::as_str))
            .chain(TraceField::all().map(|(_, f)| f.select()));
        for name in names {
            if let Some(s) = crate::langsmith::v2_select(name)
                && !selects.contains(&s)
            {
                selects.push(s);
            }
        }
        TracesQuery {
            project_id,
            min_start_time: Some(min),
            max_start_time: max,
            selects,
            trace_filter: self.trace_filter.clone(),
            tree_filter: self.tree_filter.clone(),
            trace_ids: self.trace_ids.clone(),
            page_size: Some(self.page_size),
        }
    }
}

impl StageKind for QueryTraces {
    const KIND: &'static str = "query_traces";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<QueryTraces> {
        let failed_before = cx.errors.len();
        check_filters(
            &[
                ("trace_filter", &s.trace_filter),
                ("tree_filter", &s.tree_filter),
            ],
            cx,
        );
        check_page_size(s.page_size, cx);
        super::check_select(s.select.as_deref(), cx);
        let reach = Reach::resolve(
            s.project.as_ref(),
            s.since.as_deref(),
            s.until.as_deref(),
            cx,
        );
        (cx.errors.len() == failed_before).then(|| QueryTraces {
            reach,
            trace_filter: s.trace_filter,
            tree_filter: s.tree_filter,
            trace_ids: s.trace_ids,
            select: s.select,
            page_size: s.page_size.unwrap_or(100),
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        Reach::source_schema(
            Self::KIND,
            "Lists traces: each trace's root run with total tokens, total cost and first token time over all its runs (v2 traces/query).",
            json!({
                "type": kind(Self::KIND, "Lists traces (root runs with their trace's totals) from LangSmith's v2 API."),
                "trace_filter": string("LangSmith filter on each trace's root run."),
                "tree_filter": string("Filter on any run of each trace."),
                "trace_ids": string_list("Only these traces."),
                "select": select("Fields of the root runs; derived from what downstream stages read when omitted."),
                "page_size": integer("Traces per request, at most 100 (default 100).", 1),
            }),
        )
    }

    fn reach(&self) -> Option<&Reach> {
        Some(&self.reach)
    }

    fn produces(&self) -> Flow {
        Flow::Traces
    }

    fn unit(&self) -> &'static str {
        "traces"
    }

    fn describe(&self) -> Option<String> {
        Some(format!(
            "v2 POST /api/v2/traces/query per project: pages of {} traces with their totals \
             (ceil(traces / {}) requests, whatever their runs); needs LangSmith's v2 API",
            self.page_size, self.page_size
        ))
    }

    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        run(self.clone(), start).boxed()
    }
}

/// The root with the trace's totals; where the root does not carry a total itself (v2
/// answers those fields as the trace's), it reads the trace's, so `total_tokens` and
/// `trace.total_tokens` agree.
fn record(mut root: Run, agg: Option<TraceAggregates>) -> Record {
    let agg = agg.unwrap_or_default();
    let totals = TraceTotals {
        total_tokens: agg.total_tokens,
        total_cost: agg.total_cost,
        first_token_us: agg.first_token_time.map(|t| t.timestamp_micros()),
    };
    if root.total_tokens.is_absent()
        && let Some(n) = totals.total_tokens
    {
        root.total_tokens = Maybe::Value(n);
    }
    if root.total_cost.is_absent()
        && let Some(c) = totals.total_cost
    {
        root.total_cost = Maybe::Value(Decimal(c.to_string()));
    }
    if root.first_token_time.is_absent()
        && let Some(t) = agg.first_token_time
    {
        root.first_token_time = Maybe::Value(Timestamp(t));
    }
    Record {
        trace: Some(Arc::new(totals)),
        ..Record::of(root)
    }
}

/// Each project's traces, page by page as they arrive.
async fn run(stage: QueryTraces, start: Start) -> anyhow::Result<()> {
    let Start {
        source,
        outputs,
        id,
        counter,
        context,
        select,
        ..
    } = start;
    let names = stage.reach.project_names(&id, &context)?;
    for project_id in context.project_ids(&names)? {
        let mut pages = source.traces(stage.query(project_id, &context, &select));
        while let Some(page) = pages.next().await {
            let page = page.with_context(|| format!("stage {id:?}"))?;
            let records: Vec<Record> = page
                .into_iter()
                .filter_map(|t| Some(record(t.root_run?, t.trace_aggregates)))
                .collect();
            counter.add_out(records.len());
            if !records.is_empty() {
                send(&outputs, Msg::Runs(Arc::new(records))).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Stage;
    use crate::topology::{derive_select, source_context};

    /// The v2 selects of the `traces` stage of a pipeline whose flatten has `columns`.
    fn selects(columns: &str) -> Vec<String> {
        let src = format!(
            "[source]\nproject = \"p\"\n[stages.traces]\ntype = \"query_traces\"\n[stages.rows]\ntype = \"flatten\"\ninputs = [\"traces\"]\ncolumns = [{columns}]\n[sinks.out]\ntype = \"parquet\"\ninputs = [\"rows\"]\npath = \"o\"\n"
        );
        let p = crate::config::parse(std::path::Path::new("p.toml"), &src, &|_| None).unwrap();
        let Stage::QueryTraces(stage) = &p.stages["traces"] else {
            panic!("a query_traces stage");
        };
        let cx = source_context(&p, &Default::default());
        let select = derive_select(&p, "traces", &["trace_id"]);
        stage.query("pid".into(), &cx, &select).selects
    }

    #[test]
    fn selects_are_what_downstream_reads_plus_the_totals() {
        let narrow = selects(r#"{ name = "n", from = "name" }"#);
        assert!(narrow.iter().any(|s| s == "NAME"), "{narrow:?}");
        for total in ["TOTAL_TOKENS", "TOTAL_COST", "FIRST_TOKEN_TIME"] {
            assert!(narrow.iter().any(|s| s == total), "{narrow:?}");
        }
        for payload in ["INPUTS", "OUTPUTS", "EXTRA", "TAGS"] {
            assert!(!narrow.iter().any(|s| s == payload), "{narrow:?}");
        }
        let wide = selects(
            r#"{ name = "q", from = "inputs.question" }, { name = "m", from = "metadata" }, { name = "l", from = "latency" }"#,
        );
        for field in ["INPUTS", "EXTRA", "END_TIME", "START_TIME"] {
            assert!(wide.iter().any(|s| s == field), "{wide:?}");
        }
        assert!(!wide.iter().any(|s| s == "OUTPUTS"), "{wide:?}");
    }
}
