//! The stage kinds, one module each, and what flows between them: a running stage is a tokio
//! task (a sink a blocking one), joined to its neighbours by bounded channels so a slow
//! consumer slows its producers (backpressure). `topology` wires them.

pub mod fetch_roots;
pub mod filter;
pub mod flatten;
pub mod group;
pub mod group_by_trace;
pub mod progress;
pub mod query_feedback;
pub mod query_runs;
pub mod query_threads;
pub mod query_traces;
pub mod reach;
pub mod rows;
pub(crate) mod sink;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::langsmith::RunsQuery;
use crate::located::Checks;
use crate::model::durations::TimeSpec;
use crate::model::{RejectedRuns, Run, ThreadRecord, TraceTotals};
use crate::source::Source;
use progress::StageCounter;

pub use crate::model::Flow;
pub use group::Group;
pub use progress::Progress;

/// The hasher of maps keyed by trace and run ids (groups, joins): aHash, randomly seeded like
/// std's SipHash but several times faster on 36-byte ids; SipHash was ~2% of tool_usage's CPU
/// at 1M runs.
pub type IdHasher = ahash::RandomState;

/// A window owns the traces whose root started in it, so that a trace spanning a window
/// boundary becomes one row, not one per window. Query stages that feed a `group_by_trace`
/// or `fetch_roots` fetch child runs up to `query_until` (the window end plus a margin for
/// long traces) and keep the runs of owned traces only.
#[derive(Debug, Clone, Copy)]
pub struct TraceScope {
    /// Traces started before this belong to an earlier window (`None`: no earlier window).
    pub start: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
    pub query_until: DateTime<Utc>,
}

impl TraceScope {
    pub(crate) fn owns(&self, run: &crate::model::Run) -> bool {
        let Some(t) = run
            .trace_start_micros()
            .or_else(|| run.start_time.value().map(|t| t.micros()))
        else {
            return true;
        };
        self.start.is_none_or(|s| t >= s.timestamp_micros()) && t < self.end.timestamp_micros()
    }
}

/// A time range either end of which may be open.
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// What a source stage's reading depends on beyond its own settings: the run's "now", the
/// command line's overrides, the pipeline's defaults, and project ids resolved once a run.
#[derive(Debug, Clone)]
pub struct SourceContext {
    pub now: DateTime<Utc>,
    /// `--project`.
    pub project: Option<String>,
    /// `--since`/`--until`, or the window being loaded.
    pub since: Option<TimeSpec>,
    pub until: Option<TimeSpec>,
    /// `[source]`'s project and `split_windows`.
    pub default_project: Option<String>,
    pub split_windows: Option<bool>,
    /// Project ids by name, resolved by the runner before any stage starts.
    pub project_ids: std::collections::HashMap<String, String>,
}

impl SourceContext {
    /// The projects a source stage `id` reads: `--project`, else its own, else `[source]`'s,
    /// else `LANGSMITH_PROJECT`.
    pub fn project_names(&self, id: &str, own: Option<&[String]>) -> anyhow::Result<Vec<String>> {
        Ok(match (&self.project, own, &self.default_project) {
            (Some(o), _, _) => vec![o.clone()],
            (None, Some(list), _) => list.to_vec(),
            (None, None, Some(s)) => vec![s.clone()],
            (None, None, None) => match std::env::var("LANGSMITH_PROJECT")
                .ok()
                .filter(|s| !s.is_empty())
            {
                Some(env) => vec![env],
                None => crate::usage_bail!(
                    "stage {id:?}: no project: set project in [source], or LANGSMITH_PROJECT, or pass --project"
                ),
            },
        })
    }

    /// The ids of `names` (resolved before stages start).
    pub fn project_ids(&self, names: &[String]) -> anyhow::Result<Vec<String>> {
        names
            .iter()
            .map(|n| {
                self.project_ids
                    .get(n)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("project {n:?} was not resolved"))
            })
            .collect()
    }

    /// A source stage's window: `--since`/`--until` (or the load's window), else its own.
    pub fn window(
        &self,
        since: Option<TimeSpec>,
        until: Option<TimeSpec>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        (
            self.since.or(since).map(|t| t.at(self.now)),
            self.until.or(until).map(|t| t.at(self.now)),
        )
    }
}

/// A run, with its trace's aggregates once a `fetch_roots` has joined them, or its trace's
/// totals when it is a root from `query_traces`.
#[derive(Debug, Clone)]
pub struct Record {
    pub run: Run,
    pub group: Option<Arc<Group>>,
    pub trace: Option<Arc<TraceTotals>>,
}

impl Record {
    pub fn of(run: Run) -> Record {
        Record {
            run,
            group: None,
            trace: None,
        }
    }
}

/// What flows on an edge of the graph.
#[derive(Debug, Clone)]
pub enum Msg {
    Runs(Arc<Vec<Record>>),
    /// Trace ids seen for the first time, sent early so roots can be fetched while child
    /// runs still stream in.
    TracesSeen(Arc<Vec<String>>),
    /// Final per-trace aggregates, at the end of the input.
    Groups(Arc<Vec<Arc<Group>>>),
    /// Conversation threads (`query_threads`).
    Threads(Arc<Vec<ThreadRecord>>),
    Rows(crate::sink::RowBatch),
}

impl Msg {
    /// Items carried, for stage counters.
    pub fn len(&self) -> usize {
        match self {
            Msg::Runs(r) => r.len(),
            Msg::TracesSeen(t) => t.len(),
            Msg::Groups(g) => g.len(),
            Msg::Threads(t) => t.len(),
            Msg::Rows(b) => b.batch.num_rows(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a stage or sink did, for the run summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageReport {
    pub id: String,
    pub kind: String,
    pub items_in: u64,
    pub items_out: u64,
}

/// A producer's senders, one per consumer.
pub(crate) type Outputs = Vec<mpsc::Sender<Msg>>;

/// A consumer went away: its own error is the one to report.
#[derive(Debug, thiserror::Error)]
#[error("a downstream component stopped")]
pub(crate) struct DownstreamStopped;

/// Sends `msg` to every consumer, waiting while one is full (backpressure).
async fn send(outputs: &Outputs, msg: Msg) -> anyhow::Result<()> {
    for tx in outputs {
        tx.send(msg.clone()).await.map_err(|_| DownstreamStopped)?;
    }
    Ok(())
}

/// Sends `items` on in messages of at most `per_message`, each made by `wrap`; items are
/// produced as messages go, so a big set is never built twice.
async fn send_chunked<T>(
    outputs: &Outputs,
    items: impl IntoIterator<Item = T>,
    per_message: usize,
    wrap: impl Fn(Vec<T>) -> Msg,
) -> anyhow::Result<()> {
    let mut items = items.into_iter();
    loop {
        let chunk: Vec<T> = items.by_ref().take(per_message).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        send(outputs, wrap(chunk)).await?;
    }
}

/// Everything a stage may need when it starts; each kind takes what it uses.
pub struct Start {
    pub source: Source,
    /// What reaches it (closed at once for a stage without inputs).
    pub inbox: mpsc::Receiver<Msg>,
    pub outputs: Outputs,
    /// Its id, for messages.
    pub id: String,
    /// Where it counts what it takes in and sends on.
    pub counter: Arc<StageCounter>,
    /// For a query stage: its planned query, project ids resolved, and whether to split it.
    pub query: Option<(RunsQuery, bool)>,
    /// For a windowed load: which traces the window owns.
    pub scope: Option<TraceScope>,
    /// The pipeline's project ids.
    pub projects: Vec<String>,
    /// What the stages it feeds read from its output runs.
    pub select: Vec<String>,
    /// Where a source stage sets aside the runs it cannot read.
    pub rejected: Arc<RejectedRuns>,
    /// For a source stage: overrides, defaults and resolved project ids.
    pub context: Arc<SourceContext>,
}

/// A stage kind. Its module holds its settings (the `[stages.<id>]` table), their checks,
/// what it consumes and produces, and how it starts; one line of [`stage_kinds!`] registers
/// it, and the compiler finds every place that must know it.
pub trait StageKind: std::fmt::Debug + Clone + PartialEq + Send + Sync + Sized + 'static {
    /// Its `type` in a pipeline file.
    const KIND: &'static str;
    /// The table, as serde reads it.
    type Settings: serde::de::DeserializeOwned;
    /// Checks the settings and resolves them into the stage as it will run (filters parsed,
    /// aggregates and columns compiled, times typed); each problem goes to `cx`.
    fn resolve(settings: Self::Settings, cx: &mut Checks) -> Option<Self>;
    /// Its table's JSON Schema first, then the shapes it refers to (`$defs` names).
    fn schema() -> Vec<(&'static str, Value)>;
    /// The stages it takes items from (none for a source).
    fn inputs(&self) -> &[String] {
        &[]
    }
    /// For a source stage: the projects and window it reads.
    fn reach(&self) -> Option<&reach::Reach> {
        None
    }
    /// Whether it makes items from nothing (and so takes no inputs).
    fn is_source(&self) -> bool {
        self.reach().is_some()
    }
    /// For a source stage: its own time bounds at `now` (loads start from the earliest).
    fn bounds(&self, now: DateTime<Utc>) -> Option<Bounds> {
        self.reach().map(|r| r.bounds(now))
    }
    /// For a source stage: the projects it reads, by name (resolved before stages start).
    fn projects(&self, id: &str, cx: &SourceContext) -> anyhow::Result<Vec<String>> {
        self.reach().map_or(Ok(vec![]), |r| r.project_names(id, cx))
    }
    fn produces(&self) -> Flow;
    /// Whether it takes items of `flow` (a source takes none).
    fn accepts(&self, _flow: Flow) -> bool {
        false
    }
    /// Whether its output runs are its input runs, so what its consumers read is read from
    /// its inputs too.
    fn passes_runs_through(&self) -> bool {
        false
    }
    /// Whether it works per trace (so a windowed load must give it whole traces).
    fn needs_traces(&self) -> bool {
        false
    }
    /// Run fields it reads from its input runs (they decide what queries `select`).
    fn reads(&self) -> Vec<&'static str> {
        vec![]
    }
    /// What its output items are, for progress lines.
    fn unit(&self) -> &'static str;
    /// What it asks of its source beyond a runs query, for `runlake plan` (`None`: nothing).
    fn describe(&self) -> Option<String> {
        None
    }
    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>>;
}

/// The object-safe part of [`StageKind`], so [`Stage`] can hand out any kind.
trait AnyStage {
    fn kind(&self) -> &'static str;
    fn inputs(&self) -> &[String];
    fn is_source(&self) -> bool;
    fn bounds(&self, now: DateTime<Utc>) -> Option<Bounds>;
    fn projects(&self, id: &str, cx: &SourceContext) -> anyhow::Result<Vec<String>>;
    fn produces(&self) -> Flow;
    fn accepts(&self, flow: Flow) -> bool;
    fn passes_runs_through(&self) -> bool;
    fn needs_traces(&self) -> bool;
    fn reads(&self) -> Vec<&'static str>;
    fn unit(&self) -> &'static str;
    fn describe(&self) -> Option<String>;
    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>>;
}

impl<T: StageKind> AnyStage for T {
    fn kind(&self) -> &'static str {
        T::KIND
    }
    fn inputs(&self) -> &[String] {
        StageKind::inputs(self)
    }
    fn is_source(&self) -> bool {
        StageKind::is_source(self)
    }
    fn bounds(&self, now: DateTime<Utc>) -> Option<Bounds> {
        StageKind::bounds(self, now)
    }
    fn projects(&self, id: &str, cx: &SourceContext) -> anyhow::Result<Vec<String>> {
        StageKind::projects(self, id, cx)
    }
    fn produces(&self) -> Flow {
        StageKind::produces(self)
    }
    fn accepts(&self, flow: Flow) -> bool {
        StageKind::accepts(self, flow)
    }
    fn passes_runs_through(&self) -> bool {
        StageKind::passes_runs_through(self)
    }
    fn needs_traces(&self) -> bool {
        StageKind::needs_traces(self)
    }
    fn reads(&self) -> Vec<&'static str> {
        StageKind::reads(self)
    }
    fn unit(&self) -> &'static str {
        StageKind::unit(self)
    }
    fn describe(&self) -> Option<String> {
        StageKind::describe(self)
    }
    fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        StageKind::start(self, start)
    }
}

/// Declares [`Stage`], one variant per registered kind, and what needs every kind.
macro_rules! stage_kinds {
    ($($variant:ident => $module:ident :: $ty:ident),* $(,)?) => {
        /// A stage of a pipeline, resolved: one variant per kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Stage {
            $($variant($module::$ty)),*
        }

        /// The `type` of every stage kind.
        pub const STAGE_TYPES: &[&str] = &[$(<$module::$ty as StageKind>::KIND),*];

        impl Stage {
            /// Reads and checks one `[stages.<id>]` table whose `type` is `kind`: `None` for
            /// a kind nobody registered, `Some(None)` when the table has errors (in `cx`).
            pub fn resolve(kind: &str, cx: &mut Checks) -> Option<Option<Stage>> {
                $(if kind == <$module::$ty as StageKind>::KIND {
                    let settings = cx.typed::<<$module::$ty as StageKind>::Settings>();
                    return Some(settings
                        .and_then(|s| <$module::$ty as StageKind>::resolve(s, cx))
                        .map(Stage::$variant));
                })*
                None
            }

            /// The keys a table of type `kind` accepts.
            pub fn keys(kind: &str) -> Option<&'static [&'static str]> {
                $(if kind == <$module::$ty as StageKind>::KIND {
                    return Some(crate::located::fields_of::<<$module::$ty as StageKind>::Settings>());
                })*
                None
            }

            /// Every kind's JSON Schema pieces, as `$defs` entries.
            pub fn schemas() -> Vec<(&'static str, Value)> {
                let mut out = vec![];
                $(out.extend(<$module::$ty as StageKind>::schema());)*
                out
            }

            fn any(&self) -> &dyn AnyStage {
                match self {
                    $(Stage::$variant(s) => s),*
                }
            }
        }
    };
}

// The registry: a new stage kind is its module plus one line here.
stage_kinds! {
    QueryRuns => query_runs::QueryRuns,
    QueryTraces => query_traces::QueryTraces,
    QueryThreads => query_threads::QueryThreads,
    GroupByTrace => group_by_trace::GroupByTrace,
    FetchRoots => fetch_roots::FetchRoots,
    Flatten => flatten::Flatten,
    Filter => filter::Filter,
    QueryFeedback => query_feedback::QueryFeedback,
}

impl Stage {
    pub fn kind(&self) -> &'static str {
        self.any().kind()
    }
    pub fn inputs(&self) -> &[String] {
        self.any().inputs()
    }
    pub fn is_source(&self) -> bool {
        self.any().is_source()
    }
    pub fn bounds(&self, now: DateTime<Utc>) -> Option<Bounds> {
        self.any().bounds(now)
    }
    pub fn projects(&self, id: &str, cx: &SourceContext) -> anyhow::Result<Vec<String>> {
        self.any().projects(id, cx)
    }
    pub fn produces(&self) -> Flow {
        self.any().produces()
    }
    pub fn accepts(&self, flow: Flow) -> bool {
        self.any().accepts(flow)
    }
    pub fn passes_runs_through(&self) -> bool {
        self.any().passes_runs_through()
    }
    pub fn needs_traces(&self) -> bool {
        self.any().needs_traces()
    }
    pub fn reads(&self) -> Vec<&'static str> {
        self.any().reads()
    }
    pub fn unit(&self) -> &'static str {
        self.any().unit()
    }
    pub fn describe(&self) -> Option<String> {
        self.any().describe()
    }
    pub fn start(&self, start: Start) -> BoxFuture<'static, anyhow::Result<()>> {
        self.any().start(start)
    }
}

/// A `select` list's names must be LangSmith run fields.
fn check_select(select: Option<&[String]>, cx: &mut Checks) -> bool {
    let mut ok = true;
    for name in select.unwrap_or_default() {
        if !crate::model::paths::SELECTABLE.contains(&name.as_str()) {
            cx.error("select", format!("{name:?} is not a LangSmith run field"));
            ok = false;
        }
    }
    ok
}

/// LangSmith fields a filter reads.
pub(crate) fn filter_reads(expr: &crate::filter::Expr) -> Vec<&'static str> {
    let mut out = vec![];
    if expr.uses_search() {
        out.extend(["name", "error", "inputs", "outputs", "tags", "extra"]);
    }
    for f in expr.fields() {
        out.extend(match f {
            crate::filter::Field::Latency => &["start_time", "end_time"][..],
            crate::filter::Field::MetadataKey
            | crate::filter::Field::MetadataValue
            | crate::filter::Field::Metadata => &["extra"],
            crate::filter::Field::InputKey
            | crate::filter::Field::InputValue
            | crate::filter::Field::Inputs => &["inputs"],
            crate::filter::Field::OutputKey
            | crate::filter::Field::OutputValue
            | crate::filter::Field::Outputs => &["outputs"],
            crate::filter::Field::FeedbackKey | crate::filter::Field::FeedbackScore => {
                &["feedback_stats"]
            }
            crate::filter::Field::IsRoot => &["parent_run_id"],
            crate::filter::Field::ExecutionOrder => &[],
            other => std::slice::from_ref(
                crate::model::fields::V1_SELECTABLE
                    .iter()
                    .find(|s| **s == other.name())
                    .unwrap_or(&"id"),
            ),
        });
    }
    out
}
