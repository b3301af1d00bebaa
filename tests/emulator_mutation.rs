//! Late-arriving data over real HTTP: runs and feedback changed through `/_admin` while the
//! emulator serves, seen by v1 and v2 run queries, cursors issued before the change and the
//! feedback list; every run's `feedback_stats` stays what its entries give.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::{KEY, http, read_runs, sample_file, start};
use futures::TryStreamExt;
use runlake::emulator::EmulatorConfig;
use runlake::langsmith::{Client, ClientConfig, Feedback, FeedbackQuery, Secret};
use runlake::runstore::FeedbackInput;
use runlake::sample::SampleConfig;
use serde_json::{Value, json};

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = http().request(method, url).header("x-api-key", KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Follows a run query's cursor from `body` to its end: every run object, in order.
async fn all_pages(base: &str, v2: bool, mut body: Value) -> Vec<Value> {
    let (path, items, next) = if v2 {
        ("/api/v2/runs/query", "/items", "/next_cursor")
    } else {
        ("/api/v1/runs/query", "/runs", "/cursors/next")
    };
    let mut out = vec![];
    loop {
        let (status, page) = call(
            reqwest::Method::POST,
            format!("{base}{path}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let batch = page
            .pointer(items)
            .and_then(Value::as_array)
            .unwrap()
            .clone();
        let done = batch.is_empty();
        out.extend(batch);
        match page.pointer(next).and_then(Value::as_str) {
            Some(c) if !done => body["cursor"] = json!(c),
            _ => return out,
        }
    }
}

fn ids(runs: &[Value]) -> Vec<String> {
    runs.iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// A one-run trace of the project, `offset_us` from `base`'s start.
fn new_trace(base: &Value, id: &str, start_us: i64) -> Value {
    let t = chrono::DateTime::from_timestamp_micros(start_us).unwrap();
    let mut run = base.clone();
    let obj = run.as_object_mut().unwrap();
    obj.remove("feedback");
    obj.insert("id".into(), json!(id));
    obj.insert("trace_id".into(), json!(id));
    obj.insert("parent_run_id".into(), Value::Null);
    obj.insert("parent_run_ids".into(), json!([]));
    obj.insert(
        "start_time".into(),
        json!(runlake::model::format_naive_micros(&t)),
    );
    obj.insert("end_time".into(), Value::Null);
    obj.insert("status".into(), json!("pending"));
    obj.insert("feedback_stats".into(), Value::Null);
    obj.insert(
        "dotted_order".into(),
        json!(format!("{}{id}", t.format("%Y%m%dT%H%M%S%6fZ"))),
    );
    run
}

fn start_us(r: &Value) -> i64 {
    runlake::model::parse_timestamp(r["start_time"].as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

/// Per run, per key: (`n` scored entries, their sum, label counts).
type Summary = HashMap<String, BTreeMap<String, (u64, f64, BTreeMap<String, u64>)>>;

fn summarise(entries: &[Feedback]) -> Summary {
    let mut out: Summary = HashMap::new();
    for f in entries {
        let stat = out
            .entry(f.run_id.clone().unwrap())
            .or_default()
            .entry(f.key.clone())
            .or_default();
        match (f.score_f64(), f.value.as_str()) {
            (Some(s), _) => {
                stat.0 += 1;
                stat.1 += s;
            }
            (None, Some(label)) => *stat.2.entry(label.to_string()).or_default() += 1,
            (None, None) => {}
        }
    }
    out
}

/// Every run's `feedback_stats` agrees with the entries the feedback list gives.
fn assert_consistent(runs: &[Value], entries: &[Feedback]) {
    let summary = summarise(entries);
    let mut with_stats = 0;
    for r in runs {
        let id = r["id"].as_str().unwrap();
        let stats = r["feedback_stats"].as_object();
        let mine = summary.get(id);
        let Some(stats) = stats.filter(|s| !s.is_empty()) else {
            assert!(mine.is_none(), "run {id} has entries but no feedback_stats");
            continue;
        };
        with_stats += 1;
        let mine = mine.unwrap_or_else(|| panic!("run {id} has feedback_stats but no entries"));
        assert_eq!(
            stats.keys().collect::<HashSet<_>>(),
            mine.keys().collect::<HashSet<_>>(),
            "{id}"
        );
        for (key, (n, sum, values)) in mine {
            let stat = &stats[key];
            assert_eq!(stat["n"].as_u64().unwrap(), *n, "{id} {key}");
            match stat["avg"].as_f64() {
                Some(avg) => assert!((avg - sum / *n as f64).abs() < 1e-9, "{id} {key}"),
                None => assert_eq!(*n, 0),
            }
            let labels: BTreeMap<String, u64> = stat["values"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(&labels, values, "{id} {key}");
        }
    }
    assert!(with_stats > 10, "the sample has feedback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_reach_run_queries_cursors_and_the_feedback_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("late", 120, 23);
    sample.days = 5;
    let path = sample_file(dir.path(), &sample);
    let runs = read_runs(&path);
    let project = runs[0]["session_id"].as_str().unwrap().to_string();
    let emu = start(&[("late", &path)], EmulatorConfig::default()).await;
    let base = emu.url();
    let v1 = |extra: Value| {
        let mut body = json!({"session": [project], "limit": 17, "select": ["id", "start_time", "status", "end_time", "outputs", "feedback_stats"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    // A v1 cursor issued before the changes.
    let (_, first) = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/runs/query"),
        Some(v1(json!({}))),
    )
    .await;
    let first_ids = ids(first["runs"].as_array().unwrap());
    let cursor = first["cursors"]["next"].as_str().unwrap().to_string();

    // A pending run completes; one trace arrives late (older than the cursor), one is new.
    let pending = runs
        .iter()
        .find(|r| r["status"] == "pending" && r["parent_run_id"].is_null())
        .expect("the sample ends with running traces");
    let mut done = pending.clone();
    let end = chrono::DateTime::from_timestamp_micros(start_us(pending) + 2_500_000).unwrap();
    done["end_time"] = json!(runlake::model::format_naive_micros(&end));
    done["status"] = json!("success");
    done["outputs"] = json!({"answer": "finished late"});
    let earliest = runs.iter().map(start_us).min().unwrap();
    let latest = runs.iter().map(start_us).max().unwrap();
    let old_id = "0198aaaa-0000-7000-8000-000000000001";
    let new_id = "0198aaaa-0000-7000-8000-000000000002";
    let root = runs.iter().find(|r| r["parent_run_id"].is_null()).unwrap();
    let late_old = new_trace(root, old_id, earliest + 60_000_000);
    let late_new = new_trace(root, new_id, latest + 3_600_000_000);
    let (status, answer) = call(
        reqwest::Method::POST,
        format!("{base}/_admin/runs"),
        Some(json!([done, late_old, late_new])),
    )
    .await;
    assert_eq!(
        (status, &answer),
        (200, &json!({"inserted": 2, "updated": 1}))
    );
    // A run cannot move to another project.
    let mut moved = pending.clone();
    moved["session_id"] = json!("00000000-0000-4000-8000-0000000000ff");
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{base}/_admin/runs"),
        Some(moved),
    )
    .await;
    assert_eq!(status, 400);

    // The old cursor goes on from its key: the late old trace is ahead of it, the new one
    // behind; nothing twice, nothing lost.
    let rest = ids(&all_pages(&base, false, v1(json!({"cursor": cursor}))).await);
    let mut seen: Vec<String> = first_ids.iter().chain(&rest).cloned().collect();
    assert!(rest.contains(&old_id.to_string()));
    assert!(!seen.contains(&new_id.to_string()));
    let unique: HashSet<String> = seen.drain(..).collect();
    let mut want: HashSet<String> = ids(&runs).into_iter().collect();
    want.insert(old_id.into());
    assert_eq!(unique.len(), first_ids.len() + rest.len(), "no run twice");
    assert_eq!(unique, want);

    // Fresh v1 and v2 queries see the completed run and both new traces.
    let fresh = all_pages(&base, false, v1(json!({}))).await;
    assert_eq!(fresh.len(), runs.len() + 2);
    let completed = fresh.iter().find(|r| r["id"] == pending["id"]).unwrap();
    assert_eq!(completed["status"], "success");
    assert_eq!(completed["outputs"], json!({"answer": "finished late"}));
    assert!(completed["end_time"].is_string());
    let v2_body = |extra: Value| {
        let mut body = json!({"project_ids": [project], "min_start_time": "2026-01-01T00:00:00Z",
            "max_start_time": "2027-06-01T00:00:00Z", "page_size": 50,
            "selects": ["ID", "STATUS", "END_TIME", "FEEDBACK_STATS"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let v2_runs = all_pages(&base, true, v2_body(json!({}))).await;
    assert_eq!(v2_runs.len(), runs.len() + 2);
    let v2_done = v2_runs.iter().find(|r| r["id"] == pending["id"]).unwrap();
    assert_eq!(v2_done["status"], "SUCCESS");
    assert!(v2_done["end_time"].as_str().unwrap().ends_with('Z'));
    assert!(ids(&v2_runs).contains(&new_id.to_string()));

    // Feedback arrives on a root that had none, and is edited later.
    let quiet = runs
        .iter()
        .find(|r| {
            r["parent_run_id"].is_null() && r["feedback"].is_null() && r["status"] == "success"
        })
        .unwrap();
    let quiet_id = quiet["id"].as_str().unwrap();
    let (status, added) = call(
        reqwest::Method::POST,
        format!("{base}/_admin/feedback"),
        Some(json!([
            {"run_id": quiet_id, "key": "user_score", "score": 1, "comment": "late",
             "feedback_source_type": "app", "created_at": "2026-12-01T00:00:00Z"},
            {"run_id": quiet_id, "key": "tone", "value": "warm", "created_at": "2026-12-01T00:00:01Z"},
        ])),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let score_id = added[0]["id"].as_str().unwrap().to_string();
    assert_eq!(added[0]["feedback_source"]["type"], "app");
    assert_eq!(added[0]["trace_id"], quiet["trace_id"]);
    let (status, listed) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/feedback?run={quiet_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(listed.as_array().unwrap()),
        [added[1]["id"].as_str().unwrap(), &score_id]
    );
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{base}/_admin/feedback"),
        Some(json!({"run_id": "00000000-0000-4000-8000-000000000000", "key": "k"})),
    )
    .await;
    assert_eq!(status, 404);

    let stats_of = |runs: &[Value], id: &str| {
        runs.iter().find(|r| r["id"] == id).unwrap()["feedback_stats"].clone()
    };
    let after_add = all_pages(&base, false, v1(json!({"trace": quiet["trace_id"]}))).await;
    let stats = stats_of(&after_add, quiet_id);
    assert_eq!(stats["user_score"]["n"], 1);
    assert_eq!(stats["user_score"]["avg"], 1.0);
    assert_eq!(stats["tone"]["values"], json!({"warm": 1}));

    let (status, edited) = call(
        reqwest::Method::PATCH,
        format!("{base}/_admin/feedback/{score_id}"),
        Some(json!({"score": 0, "modified_at": "2027-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["created_at"], "2026-12-01T00:00:00.000000+00:00");
    assert_eq!(edited["modified_at"], "2027-01-01T00:00:00.000000+00:00");
    let (_, read) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/feedback/{score_id}"),
        None,
    )
    .await;
    assert_eq!(read, edited);

    // v2 sees the edit, and bounds on feedback modification pick exactly the edited run.
    let zero = json!({"filter": "and(eq(feedback_key, \"user_score\"), eq(feedback_score, 0))"});
    let all_zero = ids(&all_pages(&base, true, v2_body(zero.clone())).await);
    assert!(
        all_zero.contains(&quiet_id.to_string()) && all_zero.len() > 1,
        "{all_zero:?}"
    );
    let mut recent = zero.clone();
    recent["min_feedback_modified_at"] = json!("2026-12-15T00:00:00Z");
    let recent_runs = all_pages(&base, true, v2_body(recent)).await;
    assert_eq!(ids(&recent_runs), [quiet_id]);
    assert_eq!(recent_runs[0]["feedback_stats"]["user_score"]["avg"], 0.0);
    let mut before = zero.clone();
    before["max_feedback_modified_at"] = json!("2026-12-15T00:00:00Z");
    assert!(!ids(&all_pages(&base, true, v2_body(before)).await).contains(&quiet_id.to_string()));
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{base}/api/v2/runs/query"),
        Some(v2_body(json!({"filter": "eq(name, \"x\")", "min_feedback_modified_at": "2026-12-15T00:00:00Z"}))),
    )
    .await;
    assert_eq!(status, 400, "a feedback window needs a feedback condition");

    // In process too.
    let before_count = emu.store().read().feedback_count();
    let added = emu
        .store()
        .add_feedback(vec![FeedbackInput {
            run_id: Some(new_id.into()),
            key: "Correctness".into(),
            score: json!(true),
            ..Default::default()
        }])
        .unwrap();
    assert_eq!(added[0].trace_id, new_id);
    assert_eq!(emu.store().read().feedback_count(), before_count + 1);

    // Every entry, through runlake's client (offset pages of 37), against every run's stats.
    let mut config = ClientConfig {
        endpoint: emu.url(),
        api_key: Some(Secret::new(KEY)),
        ..ClientConfig::default()
    };
    config.endpoint = runlake::langsmith::normalize_endpoint(&config.endpoint);
    let client = Client::new(config).unwrap();
    let pages: Vec<Vec<Feedback>> = client
        .list_feedback(FeedbackQuery {
            sessions: vec![project.clone()],
            page_size: 37,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() > 2);
    let entries: Vec<Feedback> = pages.into_iter().flatten().collect();
    assert_eq!(entries.len(), before_count + 1);
    assert_eq!(
        entries.iter().map(|f| &f.id).collect::<HashSet<_>>().len(),
        entries.len()
    );
    assert!(
        entries
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    let final_runs = all_pages(&base, false, v1(json!({}))).await;
    assert_consistent(&final_runs, &entries);

    // By run ids (batched) and modified since: just the edited entry.
    let recent: Vec<Feedback> = client
        .list_feedback(FeedbackQuery {
            run_ids: ids(&final_runs),
            min_modified_at: Some("2026-12-15T00:00:00Z".parse().unwrap()),
            ..Default::default()
        })
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(
        recent.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        [score_id.as_str()]
    );
    assert_eq!(
        client.read_feedback(&score_id).await.unwrap().score_f64(),
        Some(0.0)
    );
    emu.shutdown().await;
}

/// Runs whose lines carry only `feedback_stats` (as LangSmith exports them) get entries
/// derived from it, and a `<base>.feedback.jsonl` sidecar replaces a run's entries.
#[tokio::test]
async fn entries_from_stats_alone_and_from_a_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path(), &SampleConfig::new("bare", 40, 7));
    let mut runs = read_runs(&path);
    for r in &mut runs {
        r.as_object_mut().unwrap().remove("feedback");
    }
    let bare = dir.path().join("bare-stats.jsonl");
    let text: Vec<String> = runs.iter().map(Value::to_string).collect();
    std::fs::write(&bare, text.join("\n")).unwrap();
    let target = runs
        .iter()
        .find(|r| r["feedback_stats"].is_null() && r["parent_run_id"].is_null())
        .unwrap();
    let target_id = target["id"].as_str().unwrap();
    std::fs::write(
        dir.path().join("bare-stats.feedback.jsonl"),
        format!(
            "{}\n{}\n",
            json!({"run_id": target_id, "key": "star_rating", "score": 4, "feedback_source": {"type": "model"}}),
            json!({"run_id": target_id, "key": "star_rating", "score": 5, "comment": "crisp"}),
        ),
    )
    .unwrap();
    let emu = start(&[("bare", &bare)], EmulatorConfig::default()).await;
    let base = emu.url();
    let (_, listed) = call(
        reqwest::Method::GET,
        format!("{base}/feedback?limit=100"),
        None,
    )
    .await;
    let listed = listed.as_array().unwrap();
    assert!(
        listed.len() > 10 && listed.len() < 100,
        "one page holds them all"
    );
    let served = all_pages(
        &base,
        false,
        json!({"select": ["id", "feedback_stats"], "limit": 100}),
    )
    .await;
    let entries: Vec<Feedback> = listed
        .iter()
        .map(|v| serde_json::from_value(v.clone()).unwrap())
        .collect();
    assert_consistent(&served, &entries);
    let stat = &served.iter().find(|r| r["id"] == target_id).unwrap()["feedback_stats"];
    assert_eq!(stat["star_rating"]["n"], 2);
    assert_eq!(stat["star_rating"]["avg"], 4.5);
    let (_, model) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/feedback?source=model&run={target_id}"),
        None,
    )
    .await;
    assert_eq!(model.as_array().unwrap().len(), 1);
    emu.shutdown().await;
}
