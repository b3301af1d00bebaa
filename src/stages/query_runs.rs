//! `type = "query_runs"`: every `list_runs` argument; pages of a runs query, as they arrive.

use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

pub use super::reach::ProjectList;
use super::reach::{Reach, check_filters};
use super::{Flow, Msg, Record, SourceContext, StageKind, Start, send};
use crate::langsmith::{Order, RunsQuery};
use crate::located::Checks;
use crate::located::schema::{boolean, kind, one_of_strings, select, string, string_list};
use crate::located::variants_of;
use crate::model::fields::RUN_TYPES;

/// The table as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(rename = "type")]
    pub kind: String,
    /// Overrides `[source].project`; several projects are a list.
    pub project: Option<ProjectList>,
    pub run_type: Option<String>,
    pub is_root: Option<bool>,
    pub error: Option<bool>,
    /// A duration before now ("30d", "12h") or a timestamp.
    pub since: Option<String>,
    pub until: Option<String>,
    pub filter: Option<String>,
    pub trace_filter: Option<String>,
    pub tree_filter: Option<String>,
    /// Fields to fetch; derived from what downstream stages read when omitted.
    pub select: Option<Vec<String>>,
    pub order: Option<Order>,
    pub ids: Option<Vec<String>>,
    pub trace: Option<String>,
    pub parent_run: Option<String>,
    pub split_windows: Option<bool>,
}

/// A query_runs stage: filters checked, times typed.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRuns {
    pub reach: Reach,
    pub split_windows: Option<bool>,
    pub select: Option<Vec<String>>,
    /// Whether its filters have feedback conditions (its rows then depend on feedback).
    pub filters_on_feedback: bool,
    /// Every other argument, as LangSmith takes it (filters are sent as written); boxed, as
    /// the biggest stage by far.
    settings: Box<Settings>,
}

/// What a query stage's plan depends on beyond its own settings.
pub struct PlanContext<'a> {
    pub id: &'a str,
    pub source: &'a SourceContext,
    /// What downstream stages read (used when the stage names no `select`).
    pub derived_select: Vec<String>,
}

/// The query a `query_runs` stage will issue, its project names and whether to split it.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub query: RunsQuery,
    pub projects: Vec<String>,
    pub split: bool,
}

impl QueryRuns {
    /// The query this stage issues in `cx`.
    pub fn plan(&self, cx: &PlanContext) -> anyhow::Result<PlannedQuery> {
        let projects = self.reach.project_names(cx.id, cx.source)?;
        let (start_time, end_time) = cx.source.window(self.reach.since, self.reach.until);
        let s = &self.settings;
        let query = RunsQuery {
            projects: vec![],
            run_type: s.run_type.clone(),
            is_root: s.is_root,
            error: s.error,
            start_time,
            end_time,
            ids: s.ids.clone(),
            trace: s.trace.clone(),
            parent_run: s.parent_run.clone(),
            filter: s.filter.clone(),
            trace_filter: s.trace_filter.clone(),
            tree_filter: s.tree_filter.clone(),
            select: self
                .select
                .clone()
                .unwrap_or_else(|| cx.derived_select.clone()),
            order: s.order,
        };
        Ok(PlannedQuery {
            query,
            projects,
            split: self
                .split_windows
                .or(cx.source.split_windows)
                .unwrap_or(true),
        })
    }
}

impl StageKind for QueryRuns {
    const KIND: &'static str = "query_runs";
    type Settings = Settings;

    fn resolve(s: Settings, cx: &mut Checks) -> Option<QueryRuns> {
        let failed_before = cx.errors.len();
        let filters = check_filters(
            &[
                ("filter", &s.filter),
                ("trace_filter", &s.trace_filter),
                ("tree_filter", &s.tree_filter),
            ],
            cx,
        );
        let reach = Reach::resolve(
            s.project.as_ref(),
            s.since.as_deref(),
            s.until.as_deref(),
            cx,
        );
        if let Some(t) = &s.run_type
            && !RUN_TYPES.contains(&t.as_str())
        {
            cx.error(
                "run_type",
                format!(
                    "unknown run type {t:?}; expected one of {}",
                    RUN_TYPES.join(", ")
                ),
            );
        }
        super::check_select(s.select.as_deref(), cx);
        (cx.errors.len() == failed_before).then(|| QueryRuns {
            reach,
            split_windows: s.split_windows,
            select: s.select.clone(),
            filters_on_feedback: filters
                .iter()
                .any(|f| super::filter_reads(f).contains(&"feedback_stats")),
            settings: Box::new(s),
        })
    }

    fn schema() -> Vec<(&'static str, Value)> {
        Reach::source_schema(
            Self::KIND,
            "Lists runs, like the SDK's list_runs (every argument).",
            json!({
                "type": kind(Self::KIND, "Lists runs from LangSmith."),
                "run_type": one_of_strings(RUN_TYPES, "Only runs of this type."),
                "is_root": boolean("Only root runs (true) or only child runs (false)."),
                "error": boolean("Only failed runs (true) or only successful ones (false)."),
                "filter": string("LangSmith filter on the runs, e.g. and(eq(name, \"x\"), gt(latency, 5))."),
                "trace_filter": string("Filter on each run's root run."),
                "tree_filter": string("Filter on any run of each run's trace."),
                "select": select("Fields to fetch; derived from what downstream stages read when omitted."),
                "order": one_of_strings(variants_of::<Order>(), "Order by start time."),
                "ids": string_list("Only these run ids."),
                "trace": string("Only runs of this trace id."),
                "parent_run": string("Only children of this run id."),
                "split_windows": boolean("Overrides [source].split_windows for this stage."),
            }),
        )
    }

    fn reach(&self) -> Option<&Reach> {
        Some(&self.reach)
    }

    fn produces(&self) -> Flow {
        Flow::Runs
    }

    fn unit(&self) -> &'static str {
        "runs"
    }

    fn start(&self, mut start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        let Some((query, split)) = start.query.take() else {
            let id = start.id;
            return async move { anyhow::bail!("stage {id:?}: no query was planned") }.boxed();
        };
        run(start, query, split).boxed()
    }
}

/// Sends each page on as it arrives; with a `scope`, only the runs of traces the window owns.
async fn run(start: Start, query: RunsQuery, split: bool) -> anyhow::Result<()> {
    let Start {
        source,
        scope,
        outputs,
        id,
        counter,
        rejected,
        ..
    } = start;
    let mut pages = source.query(query, split);
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("stage {id:?}"))?;
        let mut runs = page.runs;
        // The page's good runs go on before a limit on bad ones fails the stage.
        let too_many = rejected.add(page.rejected);
        if let Some(scope) = &scope {
            runs.retain(|r| scope.owns(r));
        }
        counter.add_out(runs.len());
        let records: Vec<Record> = runs.into_iter().map(Record::of).collect();
        if !records.is_empty() {
            send(&outputs, Msg::Runs(Arc::new(records))).await?;
        }
        too_many.with_context(|| format!("stage {id:?}"))?;
    }
    Ok(())
}
