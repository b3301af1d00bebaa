//! The emulator over real HTTP: paging, select, limits, auth, rate limits, faults, stats.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{KEY, http, read_runs, sample_file, start};
use runlake::emulator::{Deployment, EmulatorConfig, FaultConfig};
use runlake::sample::SampleConfig;
use serde_json::{Value, json};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    runs: Vec<Value>,
    project_id: String,
}

fn fixture(traces: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = SampleConfig::new("proj", traces, 11);
    let path = sample_file(dir.path(), &config);
    let runs = read_runs(&path);
    let project_id = runs[0]["session_id"].as_str().unwrap().to_string();
    Fixture {
        _dir: dir,
        path,
        runs,
        project_id,
    }
}

async fn post(url: &str, body: Value) -> reqwest::Response {
    http()
        .post(url)
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Pages a v1 query to the end; returns every run id in arrival order and the request count.
async fn page_v1(base: &str, mut body: Value) -> (Vec<String>, usize) {
    let mut ids = vec![];
    let mut requests = 0;
    loop {
        let page: Value = post(&format!("{base}/api/v1/runs/query"), body.clone())
            .await
            .json()
            .await
            .unwrap();
        requests += 1;
        let runs = page["runs"].as_array().unwrap();
        ids.extend(runs.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["cursors"]["next"].as_str() {
            Some(c) if !runs.is_empty() => body["cursor"] = json!(c),
            _ => return (ids, requests),
        }
    }
}

async fn page_v2(base: &str, mut body: Value) -> (Vec<Value>, usize) {
    let mut items = vec![];
    let mut requests = 0;
    loop {
        let page: Value = post(&format!("{base}/api/v2/runs/query"), body.clone())
            .await
            .json()
            .await
            .unwrap();
        requests += 1;
        let batch = page["items"].as_array().unwrap();
        items.extend(batch.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) if !batch.is_empty() => body["cursor"] = json!(c),
            _ => return (items, requests),
        }
    }
}

fn assert_exactly_once(ids: &[String], expected: &HashSet<String>) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no run repeated");
    assert_eq!(unique.len(), expected.len(), "no run missed");
    assert!(ids.iter().all(|id| expected.contains(id)));
}

fn start_us(run: &Value) -> i64 {
    runlake::model::parse_timestamp(run["start_time"].as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

#[tokio::test]
async fn v1_pages_to_the_end_in_both_orders_without_loss_or_repeats() {
    let fx = fixture(120);
    let emu = start(&[("proj", &fx.path)], EmulatorConfig::default()).await;
    let all: HashSet<String> = fx
        .runs
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(all.len() > 500, "fixture big enough to page: {}", all.len());

    let (ids, requests) = page_v1(
        &emu.url(),
        json!({"session": [fx.project_id], "select": ["id"]}),
    )
    .await;
    assert_exactly_once(&ids, &all);
    assert_eq!(
        requests,
        all.len().div_ceil(100),
        "100 per page by default, no empty trailing page"
    );

    let (asc, _) = page_v1(
        &emu.url(),
        json!({"session": [fx.project_id], "limit": 7, "order": "asc", "select": ["start_time"]}),
    )
    .await;
    assert_exactly_once(&asc, &all);
    // Default order is start_time desc; asc is its reverse.
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(asc, reversed);

    // Filters narrow the paged set to exactly the matching runs.
    let tools: HashSet<String> = fx
        .runs
        .iter()
        .filter(|r| r["run_type"] == "tool")
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    let (tool_ids, _) = page_v1(
        &emu.url(),
        json!({"session": [fx.project_id], "run_type": "tool", "limit": 13}),
    )
    .await;
    assert_exactly_once(&tool_ids, &tools);
    emu.shutdown().await;
}

#[tokio::test]
async fn v1_select_returns_selected_fields_plus_required_ones() {
    let fx = fixture(20);
    let emu = start(&[("proj", &fx.path)], EmulatorConfig::default()).await;
    let page: Value = post(
        &format!("{}/runs/query", emu.url()),
        json!({"session": [fx.project_id], "select": ["trace_id", "total_tokens"], "limit": 5}),
    )
    .await
    .json()
    .await
    .unwrap();
    let run = page["runs"][0].as_object().unwrap();
    let keys: HashSet<&str> = run.keys().map(String::as_str).collect();
    let expected: HashSet<&str> = [
        "id",
        "name",
        "run_type",
        "start_time",
        "trace_id",
        "dotted_order",
        "status",
        "session_id",
        "app_path",
        "total_tokens",
    ]
    .into();
    assert_eq!(keys, expected);
    assert!(
        run.get("inputs").is_none(),
        "unselected payloads are not sent"
    );

    let default: Value = post(
        &format!("{}/api/v1/runs/query", emu.url()),
        json!({"session": [fx.project_id], "limit": 1}),
    )
    .await
    .json()
    .await
    .unwrap();
    let keys = default["runs"][0].as_object().unwrap();
    assert!(
        keys.contains_key("inputs")
            && keys.contains_key("feedback_stats")
            && keys.contains_key("thread_id")
    );
    assert!(
        !keys.contains_key("child_run_ids"),
        "child_run_ids only when asked"
    );

    let bad = post(
        &format!("{}/api/v1/runs/query", emu.url()),
        json!({"select": ["id", "colour"]}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("colour"));
    emu.shutdown().await;
}

#[tokio::test]
async fn v1_rejects_limit_above_100_and_bad_filters_with_a_message() {
    let fx = fixture(5);
    let emu = start(&[("proj", &fx.path)], EmulatorConfig::default()).await;
    let url = format!("{}/api/v1/runs/query", emu.url());
    let response = post(&url, json!({"session": [fx.project_id], "limit": 101})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Limit exceeds maximum allowed value of 100"})
    );

    let response = post(
        &url,
        json!({"session": [fx.project_id], "filter": "and(eq(name, \"x\")"}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let detail = response.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("column"), "{detail}");

    let response = post(
        &url,
        json!({"session": ["00000000-0000-0000-0000-000000000000"]}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = post(&url, json!({"session": "not-a-list"})).await;
    assert_eq!(response.status(), 422);
    emu.shutdown().await;
}

#[tokio::test]
async fn auth_answers_401_and_403_workspace() {
    let fx = fixture(3);
    let config = EmulatorConfig {
        api_key: Some(KEY.into()),
        workspace_id: Some("ws-1".into()),
        ..Default::default()
    };
    let emu = start(&[("proj", &fx.path)], config).await;
    let url = format!("{}/api/v1/sessions?name=proj", emu.url());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        http()
            .get(&url)
            .header("x-api-key", "wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let forbidden = http()
        .get(&url)
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        forbidden.json::<Value>().await.unwrap(),
        json!({"error": "org_scoped_key_requires_workspace"})
    );
    let ok = http()
        .get(&url)
        .header("x-api-key", KEY)
        .header("X-Tenant-Id", "ws-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let sessions: Value = ok.json().await.unwrap();
    assert_eq!(sessions[0]["id"], json!(fx.project_id));
    // /info is public.
    assert_eq!(
        http()
            .get(format!("{}/api/v1/info", emu.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn sessions_lookup_by_name_and_id() {
    let fx = fixture(3);
    let emu = start(&[("proj", &fx.path)], EmulatorConfig::default()).await;
    let get = |path: String| async move {
        http()
            .get(path)
            .header("x-api-key", KEY)
            .send()
            .await
            .unwrap()
    };
    let found: Value = get(format!("{}/api/v1/sessions?name=proj&limit=1", emu.url()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    let missing: Value = get(format!("{}/sessions?name=nope&limit=1", emu.url()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        missing,
        json!([]),
        "unknown names give an empty list, as LangSmith does"
    );
    let by_id = get(format!("{}/api/v1/sessions/{}", emu.url(), fx.project_id)).await;
    assert_eq!(by_id.json::<Value>().await.unwrap()["name"], "proj");
    assert_eq!(
        get(format!("{}/api/v1/sessions/nope", emu.url()))
            .await
            .status(),
        404
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn v2_pages_with_upper_case_selects_and_the_one_day_default() {
    let fx = fixture(120);
    let emu = start(&[("proj", &fx.path)], EmulatorConfig::default()).await;
    let all: HashSet<String> = fx
        .runs
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let window = json!({"project_ids": [fx.project_id], "min_start_time": "2000-01-01T00:00:00Z", "max_start_time": "2100-01-01T00:00:00Z"});

    let mut body = window.clone();
    body["page_size"] = json!(1000);
    let (items, requests) = page_v2(&emu.url(), body).await;
    assert_eq!(requests, all.len().div_ceil(1000));
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().into())
        .collect();
    assert_exactly_once(&ids, &all);
    assert_eq!(
        items[0].as_object().unwrap().len(),
        1,
        "only ID when selects is omitted"
    );

    let mut body = window.clone();
    body["page_size"] = json!(37);
    body["selects"] = json!([
        "ID",
        "RUN_TYPE",
        "STATUS",
        "START_TIME",
        "PROJECT_ID",
        "PROMPT_TOKEN_DETAILS"
    ]);
    body["run_type"] = json!("LLM");
    let (items, _) = page_v2(&emu.url(), body).await;
    let llm: HashSet<String> = fx
        .runs
        .iter()
        .filter(|r| r["run_type"] == "llm")
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    assert_exactly_once(
        &items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        &llm,
    );
    let item = &items[0];
    assert_eq!(item["run_type"], "LLM");
    assert!(matches!(
        item["status"].as_str(),
        Some("SUCCESS" | "ERROR" | "PENDING")
    ));
    assert!(item["start_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(item["project_id"], json!(fx.project_id));
    assert!(item["prompt_token_details"].get("raw").is_some());

    // Without min_start_time only the last day before max_start_time is searched.
    let latest = fx.runs.iter().map(start_us).max().unwrap();
    let max = chrono::DateTime::from_timestamp_micros(latest)
        .unwrap()
        .to_rfc3339();
    let expected: HashSet<String> = fx
        .runs
        .iter()
        .filter(|r| start_us(r) >= latest - 86_400_000_000)
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    let (items, _) = page_v2(
        &emu.url(),
        json!({"project_ids": [fx.project_id], "max_start_time": max, "page_size": 1000}),
    )
    .await;
    assert_exactly_once(
        &items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        &expected,
    );
    assert!(expected.len() < all.len());

    let too_big = post(
        &format!("{}/api/v2/runs/query", emu.url()),
        json!({"project_ids": [fx.project_id], "page_size": 1001}),
    )
    .await;
    assert_eq!(too_big.status(), 422);
    emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_tiers_answer_429_with_retry_after() {
    let fx = fixture(3);
    let emu = start(
        &[("proj", &fx.path)],
        EmulatorConfig {
            rate_limit_speedup: Some(1.0),
            ..Default::default()
        },
    )
    .await;
    let url = format!("{}/api/v1/runs/query", emu.url());
    // No start_time: the "> 7 days" tier, 3 requests per 10 s per tenant.
    for _ in 0..3 {
        assert_eq!(
            post(&url, json!({"session": [fx.project_id], "limit": 1}))
                .await
                .status(),
            200
        );
    }
    let refused = post(&url, json!({"session": [fx.project_id], "limit": 1})).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    // A short window is a different tier: still admitted (10 per 10 s).
    let now = chrono::Utc::now();
    let short = json!({"session": [fx.project_id], "limit": 1, "start_time": (now - chrono::Duration::days(2)).to_rfc3339()});
    assert_eq!(post(&url, short.clone()).await.status(), 200);
    // search() is stricter: 3 per 10 s even for short windows.
    let mut search = short.clone();
    search["filter"] = json!("search(\"x\")");
    let statuses: Vec<u16> = futures_statuses(&url, &search, 4).await;
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    emu.shutdown().await;

    // Sped up, the window passes quickly and requests are admitted again.
    let emu = start(
        &[("proj", &fx.path)],
        EmulatorConfig {
            rate_limit_speedup: Some(50.0),
            ..Default::default()
        },
    )
    .await;
    let url = format!("{}/api/v1/runs/query", emu.url());
    let statuses =
        futures_statuses(&url, &json!({"session": [fx.project_id], "limit": 1}), 4).await;
    assert_eq!(statuses, vec![200, 200, 200, 429]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        post(&url, json!({"session": [fx.project_id], "limit": 1}))
            .await
            .status(),
        200
    );
    assert_eq!(emu.stats().count("POST /api/v1/runs/query", "429"), 1);
    emu.shutdown().await;
}

async fn futures_statuses(url: &str, body: &Value, n: usize) -> Vec<u16> {
    let mut out = vec![];
    for _ in 0..n {
        out.push(post(url, body.clone()).await.status().as_u16());
    }
    out
}

fn faulty(f: impl FnOnce(&mut FaultConfig)) -> EmulatorConfig {
    let mut faults = FaultConfig {
        seed: 3,
        slow_delay: Duration::from_millis(300),
        ..Default::default()
    };
    f(&mut faults);
    EmulatorConfig {
        faults,
        ..Default::default()
    }
}

#[tokio::test]
async fn every_fault_kind_is_injected() {
    let fx = fixture(3);
    let body = json!({"session": [fx.project_id], "limit": 100});

    let emu = start(&[("proj", &fx.path)], faulty(|f| f.server_error = 1.0)).await;
    let status = post(&format!("{}/api/v1/runs/query", emu.url()), body.clone())
        .await
        .status()
        .as_u16();
    assert!([500, 502, 503].contains(&status), "{status}");
    emu.shutdown().await;

    let emu = start(&[("proj", &fx.path)], faulty(|f| f.slow = 1.0)).await;
    let started = Instant::now();
    assert_eq!(
        post(&format!("{}/api/v1/runs/query", emu.url()), body.clone())
            .await
            .status(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    emu.shutdown().await;

    let emu = start(&[("proj", &fx.path)], faulty(|f| f.drop = 1.0)).await;
    let err = http()
        .post(format!("{}/api/v1/runs/query", emu.url()))
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err:?}"
    );
    assert_eq!(emu.stats().count("POST /api/v1/runs/query", "dropped"), 1);
    emu.shutdown().await;

    let emu = start(&[("proj", &fx.path)], faulty(|f| f.truncate = 1.0)).await;
    let response = post(&format!("{}/api/v1/runs/query", emu.url()), body.clone()).await;
    assert_eq!(response.status(), 200, "headers arrive intact");
    assert!(response.bytes().await.is_err(), "the body is cut off");
    emu.shutdown().await;

    // Mixed, seeded: the same seed gives the same sequence of outcomes.
    let mut outcomes = vec![];
    for _ in 0..2 {
        let emu = start(
            &[("proj", &fx.path)],
            faulty(|f| {
                f.server_error = 0.3;
                f.slow = 0.1;
                f.slow_delay = Duration::from_millis(1);
            }),
        )
        .await;
        let mut seen = vec![];
        for _ in 0..20 {
            seen.push(
                post(&format!("{}/api/v1/runs/query", emu.url()), body.clone())
                    .await
                    .status()
                    .as_u16(),
            );
        }
        outcomes.push(seen);
        emu.shutdown().await;
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(outcomes[0].contains(&200) && outcomes[0].iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn stats_count_requests_runs_and_bytes() {
    let fx = fixture(10);
    let emu = start(&[("proj", &fx.path)], EmulatorConfig::default()).await;
    let (ids, requests) =
        page_v1(&emu.url(), json!({"session": [fx.project_id], "limit": 50})).await;
    let _ = http()
        .get(format!("{}/runs/query", emu.url()))
        .send()
        .await
        .unwrap();
    let stats: Value = http()
        .get(format!("{}/_stats", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["requests"]["POST /api/v1/runs/query"]["200"],
        json!(requests)
    );
    assert_eq!(stats["runs_served"], json!(ids.len()));
    assert!(stats["bytes_served"].as_u64().unwrap() > 1000);
    emu.shutdown().await;
}

#[tokio::test]
async fn each_deployment_answers_only_its_apis_and_says_so_in_info() {
    let fx = fixture(3);
    // Without v1, v1 queries answer 501 (as SmithDB-only LangSmith); without v2, its routes
    // do not exist.
    for (deployment, v1, v2) in [
        (Deployment::Saas, true, true),
        (Deployment::V1Only, true, false),
        (Deployment::V2Only, false, true),
    ] {
        let emu = start(
            &[("proj", &fx.path)],
            EmulatorConfig {
                deployment,
                ..Default::default()
            },
        )
        .await;
        let info: Value = http()
            .get(format!("{}/api/v1/info", emu.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["instance_flags"]["ch_query_enabled"], json!(v1));
        assert_eq!(info["instance_flags"]["sdb_query_enabled"], json!(v2));
        let v1_status = post(
            &format!("{}/api/v1/runs/query", emu.url()),
            json!({"session": [fx.project_id]}),
        )
        .await
        .status();
        assert_eq!(v1_status, if v1 { 200 } else { 501 }, "{deployment:?}");
        let v2_status = post(
            &format!("{}/api/v2/runs/query", emu.url()),
            json!({"project_ids": [fx.project_id]}),
        )
        .await
        .status();
        assert_eq!(v2_status, if v2 { 200 } else { 404 }, "{deployment:?}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn capture_writes_each_api_answer_body_but_not_stats() {
    let fx = fixture(3);
    let capture = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        capture: Some(capture.path().join("bodies")),
        ..Default::default()
    };
    let emu = start(&[("proj", &fx.path)], config).await;
    let page = post(
        &format!("{}/api/v2/runs/query", emu.url()),
        json!({"project_ids": [fx.project_id], "limit": 5}),
    )
    .await
    .text()
    .await
    .unwrap();
    let sessions = http()
        .get(format!("{}/api/v1/sessions?name=proj", emu.url()))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    http()
        .get(format!("{}/_stats", emu.url()))
        .send()
        .await
        .unwrap();
    emu.shutdown().await;
    let mut files: Vec<_> = std::fs::read_dir(capture.path().join("bodies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "000000-POST-api-v2-runs-query.json",
            "000001-GET-api-v1-sessions.json"
        ]
    );
    assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), page);
    assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), sessions);
}
