//! The LangSmith client over loopback against `runlake emulate`: seed examples via v1 and v2,
//! faults and 429s, window splitting, request counts, errors, and no key in the logs.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{KEY, sample_file, start};
use futures::TryStreamExt;
use runlake::emulator::{Emulator, EmulatorConfig, FaultConfig};
use runlake::filter::{self, RunFacts};
use runlake::langsmith::{ApiChoice, Client, ClientConfig, ClientError, Lane, RunsQuery, Secret};
use runlake::model::Run;
use runlake::sample::SampleConfig;

struct Data {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    runs: Vec<Run>,
    facts: Vec<RunFacts>,
    project_id: String,
    latest: DateTime<Utc>,
}

fn data(traces: usize, seed: u64) -> Data {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path(), &SampleConfig::new("proj", traces, seed));
    let runs: Vec<Run> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| Run::from_json(l).unwrap())
        .collect();
    let facts = runs.iter().map(RunFacts::from_run).collect();
    let project_id = runs[0].session_id.value().unwrap().clone();
    let latest = runs
        .iter()
        .map(|r| r.start_time.value().unwrap().0)
        .max()
        .unwrap();
    Data {
        _dir: dir,
        path,
        runs,
        facts,
        project_id,
        latest,
    }
}

fn client_for(emu: &Emulator, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig {
        endpoint: format!("{}/api/v1", emu.url()), // normalised away, as users write it
        api_key: Some(Secret::new(KEY)),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(200),
        ..ClientConfig::default()
    };
    config.endpoint = runlake::langsmith::normalize_endpoint(&config.endpoint);
    // Unpaced (the emulator is not LangSmith Cloud) unless a test asks for limits.
    f(&mut config);
    Client::new(config).unwrap()
}

async fn ids(client: &Client, query: RunsQuery, split: bool) -> Vec<String> {
    let pages: Vec<Vec<Run>> = client
        .query(query, split)
        .map_ok(|p| p.runs)
        .try_collect()
        .await
        .unwrap();
    pages.into_iter().flatten().map(|r| r.id).collect()
}

fn unique(ids: &[String]) -> HashSet<String> {
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "a run was delivered twice");
    set
}

/// The emulator's own evaluation: the same filter code over the same runs, no HTTP.
fn expected(d: &Data, q: &RunsQuery) -> HashSet<String> {
    if let Some(ids) = &q.ids {
        return ids.iter().cloned().collect();
    }
    let parse = |f: &Option<String>| f.as_deref().map(|s| filter::parse(s).unwrap());
    let (f, tf, trf) = (
        parse(&q.filter),
        parse(&q.trace_filter),
        parse(&q.tree_filter),
    );
    let by_id: std::collections::HashMap<&str, usize> = d
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    d.runs
        .iter()
        .zip(&d.facts)
        .filter(|(r, facts)| {
            let start = r.start_time.value().unwrap().0;
            let trace = r.trace_id.value().unwrap();
            q.run_type
                .as_ref()
                .is_none_or(|t| r.run_type.value() == Some(t))
                && q.is_root.is_none_or(|b| r.is_root() == Some(b))
                && q.error
                    .is_none_or(|b| r.error.value().is_some_and(|e| !e.is_empty()) == b)
                && q.start_time.is_none_or(|s| start >= s)
                && q.end_time.is_none_or(|e| start <= e)
                && f.as_ref().is_none_or(|e| e.matches(facts))
                && tf.as_ref().is_none_or(|e| {
                    filter::trace_filter_matches(e, by_id.get(trace.as_str()).map(|&i| &d.facts[i]))
                })
                && trf.as_ref().is_none_or(|e| {
                    filter::tree_filter_matches(
                        e,
                        d.runs
                            .iter()
                            .zip(&d.facts)
                            .filter(|(o, _)| o.trace_id.value() == Some(trace))
                            .map(|(_, f)| f),
                    )
                })
        })
        .map(|(r, _)| r.id.clone())
        .collect()
}

/// The list_runs examples of the seed page, as client queries.
fn seed_queries(d: &Data) -> Vec<(&'static str, RunsQuery)> {
    let p = || RunsQuery {
        projects: vec![d.project_id.clone()],
        ..Default::default()
    };
    let f = |s: &str| Some(s.to_string());
    let day_ago = d.latest - TimeDelta::days(1);
    vec![
        ("all runs", p()),
        (
            "llm last day",
            RunsQuery {
                start_time: Some(day_ago),
                run_type: f("llm"),
                ..p()
            },
        ),
        (
            "roots",
            RunsQuery {
                is_root: Some(true),
                ..p()
            },
        ),
        (
            "no errors",
            RunsQuery {
                error: Some(false),
                ..p()
            },
        ),
        (
            "by id",
            RunsQuery {
                ids: Some(vec![d.runs[1].id.clone(), d.runs[7].id.clone()]),
                ..p()
            },
        ),
        (
            "thread",
            RunsQuery {
                is_root: Some(true),
                filter: f(
                    r#"and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "a1b2c3d4-e5f6-7890"))"#,
                ),
                ..p()
            },
        ),
        (
            "extractor",
            RunsQuery {
                filter: f(r#"eq(name, "extractor")"#),
                trace_filter: f(r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#),
                ..p()
            },
        ),
        (
            "star rating",
            RunsQuery {
                filter: f(r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#),
                ..p()
            },
        ),
        (
            "latency 5s",
            RunsQuery {
                filter: f(r#"gt(latency, "5s")"#),
                ..p()
            },
        ),
        (
            "tokens",
            RunsQuery {
                filter: f("gt(total_tokens, 5000)"),
                ..p()
            },
        ),
        (
            "errors",
            RunsQuery {
                filter: f("neq(error, null)"),
                ..p()
            },
        ),
        (
            "start",
            RunsQuery {
                filter: f(r#"gt(start_time, "2023-07-15T12:34:56Z")"#),
                ..p()
            },
        ),
        (
            "search",
            RunsQuery {
                filter: f(r#"search("substring")"#),
                ..p()
            },
        ),
        (
            "tag",
            RunsQuery {
                filter: f(r#"has(tags, "2aa1cf4")"#),
                ..p()
            },
        ),
        (
            "slow chains",
            RunsQuery {
                filter: f(r#"and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))"#),
                ..p()
            },
        ),
        (
            "error or correctness",
            RunsQuery {
                filter: f(
                    r#"and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))"#,
                ),
                ..p()
            },
        ),
        (
            "tags latency",
            RunsQuery {
                filter: f(
                    r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))"#,
                ),
                ..p()
            },
        ),
        (
            "search phrase",
            RunsQuery {
                filter: f(r#"search("image classification")"#),
                ..p()
            },
        ),
        (
            "user_id key",
            RunsQuery {
                filter: f("eq(metadata_key, 'user_id')"),
                ..p()
            },
        ),
        (
            "user_id value",
            RunsQuery {
                filter: f(
                    "and(eq(metadata_key, 'user_id'), eq(metadata_value, '4070f233-f61e-44eb-bff1-da3c163895a3'))",
                ),
                ..p()
            },
        ),
        (
            "environment",
            RunsQuery {
                filter: f("and(eq(metadata_key, 'environment'), eq(metadata_value, 'production'))"),
                ..p()
            },
        ),
        (
            "conversation",
            RunsQuery {
                filter: f(
                    "and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'a1b2c3d4-e5f6-7890'))",
                ),
                ..p()
            },
        ),
        (
            "ChatOpenAI conversation",
            RunsQuery {
                filter: f(
                    "and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-b1e2-46ce-91de-794c077e8151'))",
                ),
                ..p()
            },
        ),
        (
            "tree filter",
            RunsQuery {
                filter: f(r#"eq(name, "RetrieveDocs")"#),
                trace_filter: f(r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#),
                tree_filter: f(r#"eq(name, "ExpandQuery")"#),
                ..p()
            },
        ),
        (
            "tool runs 30 days",
            RunsQuery {
                start_time: Some(d.latest - TimeDelta::days(30)),
                run_type: f("tool"),
                select: vec!["trace_id".into(), "name".into(), "run_type".into()],
                ..p()
            },
        ),
        (
            "retrievers with feedback",
            RunsQuery {
                start_time: Some(day_ago),
                run_type: f("retriever"),
                trace_filter: f(r#"eq(feedback_key, "user_score")"#),
                ..p()
            },
        ),
    ]
}

#[tokio::test]
async fn seed_examples_return_the_emulators_runs_via_v1_and_v2() {
    let d = data(300, 5);
    let emu = start(&[("proj", &d.path)], EmulatorConfig::default()).await;
    for api in [ApiChoice::V1, ApiChoice::V2] {
        let client = client_for(&emu, |c| c.api = api);
        for (name, query) in seed_queries(&d) {
            let want = expected(&d, &query);
            let got = unique(&ids(&client, query, false).await);
            assert_eq!(got, want, "{name} via {api:?}");
        }
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn auto_picks_v2_wherever_the_deployment_offers_it() {
    use runlake::emulator::Deployment;
    use runlake::langsmith::ApiVersion;
    let d = data(3, 1);
    for (deployment, want) in [
        (Deployment::V1Only, ApiVersion::V1),
        (Deployment::Saas, ApiVersion::V2),
        (Deployment::V2Only, ApiVersion::V2),
    ] {
        let emu = start(
            &[("proj", &d.path)],
            EmulatorConfig {
                deployment,
                ..Default::default()
            },
        )
        .await;
        let client = client_for(&emu, |_| {});
        assert_eq!(client.api_version().await.unwrap(), want, "{deployment:?}");
        let all = ids(
            &client,
            RunsQuery {
                projects: vec![d.project_id.clone()],
                ..Default::default()
            },
            false,
        )
        .await;
        assert_eq!(all.len(), d.runs.len());
        let v2 = emu.stats().total("POST /api/v2/runs/query");
        assert_eq!(v2 > 0, want == ApiVersion::V2, "{deployment:?}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn ten_thousand_runs_arrive_exactly_once_through_faults_and_429s_on_v1() {
    // v1's long tier is 3 per (sped-up) 250 ms; the client is told 6, so 429s must happen
    // and be absorbed.
    faults_and_429s(ApiChoice::V1, 40.0, |c| {
        c.rate_window = Duration::from_millis(250);
        c.rate_limits.set(Lane::V1Long, 6);
    })
    .await;
}

#[tokio::test]
async fn ten_thousand_runs_arrive_exactly_once_through_faults_and_429s_on_v2() {
    // v2 allows 300 per (sped-up) 6.7 s; unpaced fetches of 50 ids, 8 at a time, outrun
    // that until the 429s slow the client down.
    faults_and_429s(ApiChoice::V2, 1.5, |c| c.v2_page_size = 50).await;
}

async fn faults_and_429s(api: ApiChoice, speedup: f64, limits: impl FnOnce(&mut ClientConfig)) {
    let d = data(2000, 3);
    assert!(d.runs.len() >= 10_000, "{} runs", d.runs.len());
    let config = EmulatorConfig {
        faults: FaultConfig {
            seed: 42,
            server_error: 0.2,
            slow: 0.05,
            slow_delay: Duration::from_millis(150),
            drop: 0.03,
            truncate: 0.03,
        },
        rate_limit_speedup: Some(speedup),
        ..Default::default()
    };
    let emu = start(&[("proj", &d.path)], config).await;
    let client = client_for(&emu, |c| {
        limits(c);
        c.max_attempts = 30;
        c.request_timeout = Duration::from_secs(5);
        c.api = api; // no /info request in the count
    });
    let query = RunsQuery {
        projects: vec![d.project_id.clone()],
        start_time: (api == ApiChoice::V2).then_some(DateTime::UNIX_EPOCH),
        ..Default::default()
    };
    let got = if api == ApiChoice::V2 {
        // By id, 8 requests in flight: v2's allowance is spent well within one window
        // however fast this machine is, so 429s must come.
        let all: Vec<String> = d.runs.iter().map(|r| r.id.clone()).collect();
        let pages: Vec<Vec<Run>> = client
            .fetch_by_ids(&query, all)
            .map_ok(|p| p.runs)
            .try_collect()
            .await
            .unwrap();
        let ids: Vec<String> = pages.into_iter().flatten().map(|r| r.id).collect();
        assert_eq!(ids.len(), d.runs.len(), "each run exactly once");
        unique(&ids)
    } else {
        unique(&ids(&client, query, false).await)
    };
    assert_eq!(got.len(), d.runs.len());
    let stats = client.stats();
    let server = emu.stats();

    assert!(stats.throttled > 0, "the limit forced 429s: {stats:?}");
    for kind in ["server_error", "slow", "drop", "truncate"] {
        assert!(
            server.faults.get(kind).copied().unwrap_or(0) > 0,
            "{kind} injected: {:?}",
            server.faults
        );
    }
    // Every request beyond one per page was a retry.
    let page = if api == ApiChoice::V2 { 50 } else { 100 };
    assert_eq!(
        stats.requests,
        d.runs.len().div_ceil(page) as u64 + stats.retries,
        "{stats:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_split_window_returns_exactly_the_single_querys_runs() {
    let d = data(400, 8);
    let emu = start(&[("proj", &d.path)], EmulatorConfig::default()).await;
    let client = client_for(&emu, |_| {});
    let query = RunsQuery {
        projects: vec![d.project_id.clone()],
        start_time: Some(d.latest - TimeDelta::days(30)),
        end_time: Some(d.latest),
        ..Default::default()
    };
    let single = unique(&ids(&client, query.clone(), false).await);
    let split = unique(&ids(&client, query.clone(), true).await);
    assert_eq!(single, split);
    assert_eq!(single, expected(&d, &query));
    // A run exactly on a window boundary is delivered once.
    let boundary = d.runs[d.runs.len() / 2].start_time.value().unwrap().0;
    let q = RunsQuery {
        start_time: Some(boundary - TimeDelta::days(7)),
        end_time: Some(boundary + TimeDelta::days(7)),
        ..query
    };
    let parts = unique(&ids(&client, q.clone(), true).await);
    assert_eq!(parts, expected(&d, &q));
    emu.shutdown().await;
}

#[tokio::test]
async fn requests_per_query_are_pages_plus_retries() {
    let d = data(150, 4);
    let emu = start(&[("proj", &d.path)], EmulatorConfig::default()).await;
    for (api, page) in [(ApiChoice::V1, 100), (ApiChoice::V2, 1000)] {
        let client = client_for(&emu, |c| c.api = api);
        let tools = RunsQuery {
            projects: vec![d.project_id.clone()],
            run_type: Some("tool".into()),
            ..Default::default()
        };
        let n = ids(&client, tools, false).await.len();
        let s = client.stats();
        assert_eq!(s.retries, 0);
        assert_eq!(s.requests, n.div_ceil(page) as u64, "{api:?}: {n} runs");
        assert_eq!(s.runs, n as u64);
        // By id: batches at the page limit.
        let all: Vec<String> = d.runs.iter().map(|r| r.id.clone()).collect();
        let before = client.stats().requests;
        let base = RunsQuery {
            projects: vec![d.project_id.clone()],
            select: vec!["name".into()],
            ..Default::default()
        };
        let pages: Vec<Vec<Run>> = client
            .fetch_by_ids(&base, all.clone())
            .map_ok(|p| p.runs)
            .try_collect()
            .await
            .unwrap();
        let got = unique(
            &pages
                .into_iter()
                .flatten()
                .map(|r| r.id)
                .collect::<Vec<_>>(),
        );
        assert_eq!(got.len(), all.len());
        assert_eq!(
            client.stats().requests - before,
            all.len().div_ceil(page) as u64
        );
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn errors_say_what_to_fix() {
    let d = data(3, 1);
    let emu = start(
        &[("proj", &d.path)],
        EmulatorConfig {
            api_key: Some(KEY.into()),
            ..Default::default()
        },
    )
    .await;
    let wrong = client_for(&emu, |c| c.api_key = Some(Secret::new("wrong")));
    let err = wrong.resolve_project("proj").await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }));
    assert!(err.to_string().contains("LANGSMITH_API_KEY"), "{err}");

    let client = client_for(&emu, |_| {});
    let err = client.resolve_project("nope").await.unwrap_err();
    assert!(err.to_string().contains("\"nope\" not found"), "{err}");
    assert_eq!(client.resolve_project("proj").await.unwrap(), d.project_id);

    let err = client
        .page(
            &RunsQuery {
                projects: vec![d.project_id.clone()],
                ..Default::default()
            },
            None,
        )
        .await;
    assert!(err.is_ok());
    let bad = RunsQuery {
        projects: vec![d.project_id.clone()],
        filter: Some("eq(name".into()),
        ..Default::default()
    };
    let err = client.page(&bad, None).await.unwrap_err();
    assert!(
        matches!(err, ClientError::BadRequest { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(client.stats().retries, 0, "400 is never retried");
    emu.shutdown().await;

    // An API the deployment lacks, forced: a clear answer at once, no retries.
    for (deployment, forced, api) in [
        (runlake::emulator::Deployment::V1Only, ApiChoice::V2, "v2"),
        (runlake::emulator::Deployment::V2Only, ApiChoice::V1, "v1"),
    ] {
        let emu = start(
            &[("proj", &d.path)],
            EmulatorConfig {
                deployment,
                ..Default::default()
            },
        )
        .await;
        let client = client_for(&emu, |c| c.api = forced);
        let query = RunsQuery {
            projects: vec![d.project_id.clone()],
            ..Default::default()
        };
        let err = client.page(&query, None).await.unwrap_err();
        assert!(
            matches!(err, ClientError::ApiMissing { .. })
                && err
                    .to_string()
                    .contains(&format!("does not serve the {api} runs API"))
                && err.to_string().contains("api = \"auto\""),
            "{err}"
        );
        assert_eq!(client.stats().retries, 0, "{deployment:?}: not retried");
        emu.shutdown().await;
    }

    let emu = start(
        &[("proj", &d.path)],
        EmulatorConfig {
            workspace_id: Some("ws-9".into()),
            ..Default::default()
        },
    )
    .await;
    let err = client_for(&emu, |_| {})
        .resolve_project("proj")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("LANGSMITH_WORKSPACE_ID"), "{err}");
    let ok = client_for(&emu, |c| c.workspace_id = Some("ws-9".into()));
    assert_eq!(ok.resolve_project("proj").await.unwrap(), d.project_id);
    emu.shutdown().await;

    assert!(matches!(
        Client::new(ClientConfig::default()),
        Err(ClientError::MissingApiKey)
    ));
}

/// Captures every log line of every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_api_key_appears_in_no_log_line() {
    let secret = "lsv2_pt_SECRET_0123456789abcdef";
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let d = data(20, 2);
        let emu = start(
            &[("proj", &d.path)],
            EmulatorConfig {
                api_key: Some(secret.into()),
                faults: FaultConfig {
                    seed: 1,
                    server_error: 0.3,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await;
        let client = client_for(&emu, |c| c.api_key = Some(Secret::new(secret)));
        let project = client.resolve_project("proj").await.unwrap();
        let _ = ids(
            &client,
            RunsQuery {
                projects: vec![project],
                ..Default::default()
            },
            false,
        )
        .await;
        let err = client_for(&emu, |c| {
            c.api_key = Some(Secret::new(format!("{secret}x")))
        })
        .resolve_project("proj")
        .await
        .unwrap_err();
        tracing::error!(
            "final error: {err} / {err:?} / config {:?}",
            client.config()
        );
        emu.shutdown().await;
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.lines().count() > 20,
        "logs were captured at trace level:\n{text}"
    );
    assert!(
        !text.contains("SECRET_0123"),
        "the key leaked into the logs"
    );
}

/// A plain-HTTP endpoint (whose client loads no root certificates) follows redirects that stay
/// on plain HTTP, and stops at one to HTTPS with an error that says where the endpoint points,
/// instead of failing a TLS handshake it could not have made.
#[tokio::test]
async fn a_plain_http_endpoint_redirected_to_https_says_where_to_point() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = [0u8; 8192];
            let n = stream.read(&mut request).unwrap_or(0);
            let location = match request[..n].starts_with(b"GET /moved/") {
                true => "https://api.example.test/api/v1/sessions".to_string(),
                false => format!("http://{addr}/moved/sessions"),
            };
            let answer = format!(
                "HTTP/1.1 301 Moved Permanently\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let client = Client::new(ClientConfig {
        endpoint: format!("http://{addr}"),
        api_key: Some(Secret::new(KEY)),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(200),
        ..ClientConfig::default()
    })
    .unwrap();
    let err = client.resolve_project("proj").await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Redirected { status: 301, location, .. }
            if location == "https://api.example.test/api/v1/sessions"),
        "{err:?}"
    );
    assert!(err.to_string().contains("LANGSMITH_ENDPOINT"), "{err}");
    assert_eq!(client.stats().retries, 0, "a redirect is not retried");
}
