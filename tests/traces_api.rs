//! runlake's client for LangSmith's v2 traces and threads APIs against `runlake emulate`:
//! every trace and thread arrives once, in order, across pages; aggregates equal sums over
//! the JSONL runs computed here independently; a deployment without v2 gives a clear error.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{KEY, sample_file, start};
use futures::TryStreamExt;
use runlake::emulator::{Deployment, Emulator, EmulatorConfig};
use runlake::langsmith::{
    Client, ClientConfig, Secret, ThreadTracesQuery, ThreadsQuery, TraceRunsQuery, TracesQuery,
};
use runlake::sample::SampleConfig;
use serde_json::Value;

struct Data {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    runs: Vec<Value>,
    project_id: String,
    first: DateTime<Utc>,
    latest: DateTime<Utc>,
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    let s = if s.ends_with('Z') || s.contains('+') {
        s.to_string()
    } else {
        format!("{s}Z")
    };
    DateTime::parse_from_rfc3339(&s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        _ => 0.0,
    }
}

fn data() -> Data {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path(), &SampleConfig::new("traces", 160, 5));
    let runs = common::read_runs(&path);
    let project_id = runs[0]["session_id"].as_str().unwrap().to_string();
    let starts = runs.iter().map(|r| ts(&r["start_time"]).unwrap());
    let (first, latest) = (starts.clone().min().unwrap(), starts.max().unwrap());
    Data {
        _dir: dir,
        path,
        runs,
        project_id,
        first,
        latest,
    }
}

impl Data {
    fn roots(&self) -> Vec<&Value> {
        self.runs
            .iter()
            .filter(|r| r["parent_run_id"].is_null())
            .collect()
    }

    fn trace(&self, id: &str) -> Vec<&Value> {
        self.runs.iter().filter(|r| r["trace_id"] == id).collect()
    }

    /// Tokens and cost of a trace: the LLM calls' usage (the runs that incur it) summed.
    fn usage(&self, trace_id: &str) -> (i64, f64) {
        let llm: Vec<&Value> = self
            .trace(trace_id)
            .into_iter()
            .filter(|r| r["run_type"] == "llm")
            .collect();
        (
            llm.iter()
                .map(|r| r["total_tokens"].as_i64().unwrap_or(0))
                .sum(),
            llm.iter().map(|r| num(&r["total_cost"])).sum(),
        )
    }

    /// The earliest first-token time of any run of the trace.
    fn first_token(&self, trace_id: &str) -> Option<DateTime<Utc>> {
        self.trace(trace_id)
            .iter()
            .filter_map(|r| ts(&r["first_token_time"]))
            .min()
    }

    /// Root runs by thread (run `thread_id`, else metadata session_id / conversation_id /
    /// thread_id), each in start order.
    fn threads(&self) -> BTreeMap<String, Vec<&Value>> {
        let mut out: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for root in self.roots() {
            let meta = &root["extra"]["metadata"];
            let key = root["thread_id"].as_str().or_else(|| {
                ["session_id", "conversation_id", "thread_id"]
                    .iter()
                    .find_map(|k| meta[*k].as_str())
            });
            if let Some(k) = key {
                out.entry(k.to_string()).or_default().push(root);
            }
        }
        for roots in out.values_mut() {
            roots.sort_by_key(|r| (ts(&r["start_time"]), r["id"].as_str().unwrap().to_string()));
        }
        out
    }

    /// A window holding every run: min inclusive, max exclusive.
    fn everything(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        (
            Some(self.first - TimeDelta::seconds(1)),
            Some(self.latest + TimeDelta::seconds(1)),
        )
    }
}

fn client_for(emu: &Emulator) -> Client {
    Client::new(ClientConfig {
        endpoint: emu.url(),
        api_key: Some(Secret::new(KEY)),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(200),
        ..ClientConfig::default()
    })
    .unwrap()
}

async fn emulator(data: &Data, deployment: Deployment) -> Emulator {
    start(
        &[("traces", data.path.as_path())],
        EmulatorConfig {
            deployment,
            ..EmulatorConfig::default()
        },
    )
    .await
}

/// Costs agree to within rounding: the data rounds each run's (rolled-up) cost to 6
/// decimals, so the LLM calls' costs and the trace's own-usage sum can differ by a few 1e-6.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 2e-5
}

#[tokio::test]
async fn traces_page_through_every_root_with_aggregates_equal_to_sums_over_their_runs() {
    let data = data();
    for deployment in [Deployment::Saas, Deployment::V2Only] {
        let emu = emulator(&data, deployment).await;
        let client = client_for(&emu);
        let (min, max) = data.everything();
        let query = TracesQuery {
            project_id: data.project_id.clone(),
            min_start_time: min,
            max_start_time: max,
            selects: [
                "NAME",
                "START_TIME",
                "TOTAL_TOKENS",
                "TOTAL_COST",
                "FIRST_TOKEN_TIME",
            ]
            .map(String::from)
            .to_vec(),
            page_size: Some(7),
            ..TracesQuery::default()
        };
        let pages: Vec<_> = client
            .query_traces(query.clone())
            .try_collect()
            .await
            .unwrap();
        assert!(pages.iter().all(|p| !p.is_empty() && p.len() <= 7));
        let traces: Vec<_> = pages.into_iter().flatten().collect();
        let ids: Vec<String> = traces
            .iter()
            .map(|t| t.root_run.as_ref().unwrap().id.clone())
            .collect();
        let roots: HashSet<String> = data
            .roots()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), roots.len(), "{deployment:?}: every trace once");
        assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), roots);
        let starts: Vec<_> = traces
            .iter()
            .map(|t| t.root_run.as_ref().unwrap().start_time.value().unwrap().0)
            .collect();
        assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");
        let mut with_tokens = 0;
        for t in &traces {
            let id = &t.root_run.as_ref().unwrap().id;
            let agg = t
                .trace_aggregates
                .as_ref()
                .expect("aggregates were selected");
            let (tokens, cost) = data.usage(id);
            with_tokens += usize::from(tokens > 0);
            assert_eq!(agg.total_tokens, Some(tokens), "trace {id}");
            assert!(
                close(agg.total_cost.unwrap(), cost),
                "trace {id}: {agg:?} vs {cost}"
            );
            assert_eq!(agg.first_token_time, data.first_token(id), "trace {id}");
        }
        assert!(with_tokens > 10, "the data exercises the sums");

        // Filters on the root, on any run, and a list of trace ids.
        let collect = |q: TracesQuery| {
            let client = client.clone();
            async move {
                let pages: Vec<_> = client.query_traces(q).try_collect().await.unwrap();
                pages
                    .into_iter()
                    .flatten()
                    .map(|t| t.root_run.unwrap().id)
                    .collect::<HashSet<_>>()
            }
        };
        let errored = collect(TracesQuery {
            trace_filter: Some(r#"eq(status, "error")"#.into()),
            ..query.clone()
        })
        .await;
        let expected: HashSet<String> = data
            .roots()
            .iter()
            .filter(|r| r["status"] == "error")
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(errored, expected);
        let with_retriever = collect(TracesQuery {
            tree_filter: Some(r#"eq(run_type, "retriever")"#.into()),
            ..query.clone()
        })
        .await;
        let expected: HashSet<String> = roots
            .iter()
            .filter(|id| data.trace(id).iter().any(|r| r["run_type"] == "retriever"))
            .cloned()
            .collect();
        assert!(!expected.is_empty() && expected.len() < roots.len());
        assert_eq!(with_retriever, expected);
        let some: Vec<String> = roots.iter().take(5).cloned().collect();
        let listed = collect(TracesQuery {
            trace_ids: Some(some.clone()),
            ..query.clone()
        })
        .await;
        assert_eq!(listed, some.into_iter().collect());
        // The default window is the last day before now: this data is older.
        let recent = collect(TracesQuery {
            min_start_time: None,
            max_start_time: None,
            ..query.clone()
        })
        .await;
        assert!(recent.is_empty() || data.latest > Utc::now() - TimeDelta::days(1));
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn threads_thread_traces_and_trace_runs_match_the_runs() {
    let data = data();
    let emu = emulator(&data, Deployment::Saas).await;
    let client = client_for(&emu);
    let (min, max) = data.everything();
    let expected = data.threads();
    assert!(
        expected.values().any(|t| t.len() > 1),
        "some thread has turns"
    );

    let pages: Vec<_> = client
        .query_threads(ThreadsQuery {
            project_id: data.project_id.clone(),
            min_start_time: min,
            max_start_time: max,
            page_size: Some(4),
            ..ThreadsQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert!(pages.iter().all(|p| p.len() <= 4));
    let threads: Vec<_> = pages.into_iter().flatten().collect();
    assert_eq!(threads.len(), expected.len(), "every thread once");
    let last_starts: Vec<_> = threads.iter().map(|t| t.max_start_time.unwrap()).collect();
    assert!(
        last_starts.windows(2).all(|w| w[0] >= w[1]),
        "newest activity first"
    );
    for t in &threads {
        let id = t.thread_id.as_deref().unwrap();
        let roots = &expected[id];
        assert_eq!(t.count, Some(roots.len() as i64), "thread {id}");
        assert_eq!(t.first_trace_id.as_deref(), roots[0]["id"].as_str());
        assert_eq!(
            t.last_trace_id.as_deref(),
            roots.last().unwrap()["id"].as_str()
        );
        let (tokens, cost) = roots
            .iter()
            .map(|r| data.usage(r["id"].as_str().unwrap()))
            .fold((0, 0.0), |(t, c), (t2, c2)| (t + t2, c + c2));
        assert_eq!(t.total_tokens, Some(tokens), "thread {id}");
        assert!(close(t.total_cost.unwrap(), cost), "thread {id}");
        let errored = roots.iter().filter(|r| r["status"] == "error").count();
        assert_eq!(t.num_errored_turns, Some(errored as i64));
        assert_eq!(t.last_error.is_some(), errored > 0);
    }

    // The longest thread's traces, two a page, in turn order.
    let (thread_id, roots) = expected.iter().max_by_key(|(_, r)| r.len()).unwrap();
    let pages: Vec<_> = client
        .thread_traces(ThreadTracesQuery {
            project_id: data.project_id.clone(),
            thread_id: thread_id.clone(),
            selects: ["TURN_NUMBER", "NAME", "TOTAL_TOKENS", "THREAD_ID"]
                .map(String::from)
                .to_vec(),
            page_size: Some(2),
            ..ThreadTracesQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() >= roots.len().div_ceil(2));
    let traces: Vec<_> = pages.into_iter().flatten().collect();
    let got: Vec<_> = traces.iter().map(|t| t.trace_id.clone().unwrap()).collect();
    let want: Vec<_> = roots
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want);
    for (i, t) in traces.iter().enumerate() {
        assert_eq!(t.turn_number, Some(i as i64 + 1));
        assert_eq!(t.thread_id.as_deref(), Some(thread_id.as_str()));
        assert_eq!(t.name.as_deref(), roots[i]["name"].as_str());
        assert_eq!(t.total_tokens, roots[i]["total_tokens"].as_i64());
    }

    // One trace's runs, oldest first; then only its LLM calls.
    let trace_id = want.last().unwrap();
    let runs_of = |filter: Option<&str>| {
        let client = client.clone();
        let q = TraceRunsQuery {
            project_id: data.project_id.clone(),
            trace_id: trace_id.clone(),
            selects: vec!["ID".into(), "START_TIME".into(), "RUN_TYPE".into()],
            filter: filter.map(String::from),
            window: None,
        };
        async move {
            let pages: Vec<_> = client.trace_runs(q).try_collect().await.unwrap();
            pages.into_iter().flatten().collect::<Vec<_>>()
        }
    };
    let runs = runs_of(None).await;
    let mut want: Vec<_> = data
        .trace(trace_id)
        .iter()
        .map(|r| {
            (
                ts(&r["start_time"]).unwrap(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    let got: Vec<_> = runs
        .iter()
        .map(|r| (r.start_time.value().unwrap().0, r.id.clone()))
        .collect();
    assert_eq!(got, want);
    let llm = runs_of(Some(r#"eq(run_type, "llm")"#)).await;
    let want_llm: HashSet<_> = data
        .trace(trace_id)
        .iter()
        .filter(|r| r["run_type"] == "llm")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        llm.iter().map(|r| r.id.clone()).collect::<HashSet<_>>(),
        want_llm
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_deployment_without_v2_says_so() {
    let data = data();
    let emu = emulator(&data, Deployment::V1Only).await;
    let client = client_for(&emu);
    let err = client
        .query_traces(TracesQuery {
            project_id: data.project_id.clone(),
            ..TracesQuery::default()
        })
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("does not serve the v2 traces and threads API") && text.contains("404"),
        "{text}"
    );
    let err = client
        .query_threads(ThreadsQuery {
            project_id: data.project_id.clone(),
            ..ThreadsQuery::default()
        })
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("v2 traces and threads"), "{err}");
    // One request each: a missing API is not retried.
    assert_eq!(client.stats().requests, 2);
    emu.shutdown().await;
}
