//! Late-arriving data reaches the table: after a first incremental load, runs complete,
//! feedback is added and edited (within `[load] resync` and weeks back) and new traces
//! arrive; the next incremental run's dataset equals a fresh full export of the changed data
//! (no stale row, no duplicate, nothing missing), also when that run is killed and resumed.
//! For tool_usage, retriever_io and feedback.toml, against the emulator changing its data
//! over `/_admin`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use runlake::emulator::{EmulatorConfig, FaultConfig};
use runlake::sample::SampleConfig;

/// The first load's "now"; the second runs six hours later.
fn first_now() -> DateTime<Utc> {
    "2026-10-31T00:00:00Z".parse().unwrap()
}

fn second_now() -> DateTime<Utc> {
    first_now() + TimeDelta::hours(6)
}

struct Case {
    pipeline: &'static str,
    extra: &'static [&'static str],
}

const CASES: [Case; 3] = [
    Case {
        pipeline: "tool_usage.toml",
        extra: &[],
    },
    Case {
        pipeline: "retriever_io.toml",
        extra: &["--set", "stages.retriever_runs.since=30d"],
    },
    Case {
        pipeline: "feedback.toml",
        extra: &[],
    },
];

fn runlake(url: &str, case: &Case, out: &Path, now: DateTime<Utc>, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runlake"));
    c.args(["-q", "run", "--json"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("pipelines")
                .join(case.pipeline),
        )
        .args(["--project", "proj", "--now", &now.to_rfc3339(), "--output"])
        .arg(out)
        .args(case.extra)
        .args(extra)
        .env("LANGSMITH_ENDPOINT", url)
        .env("LANGSMITH_API_KEY", "k")
        .env_remove("LANGSMITH_PROJECT");
    c
}

fn ok(mut c: Command) -> Value {
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{c:?}: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn admin(url: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = common::http()
            .request(method, format!("{url}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    })
}

fn feedback_of(url: &str, run_id: &str) -> Vec<Value> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        common::http()
            .get(format!("{url}/api/v1/feedback?run={run_id}"))
            .header("x-api-key", "k")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn time_of(run: &Value) -> DateTime<Utc> {
    runlake::model::parse_timestamp(run["start_time"].as_str().unwrap()).unwrap()
}

/// The data: a generated project, served without the traces that start after the first
/// load (they arrive later) and with one recent root still pending.
struct Data {
    runs: Vec<Value>,
    held_back: Vec<Value>,
    pending: Value,
}

fn data(dir: &Path) -> (PathBuf, Data) {
    let mut sample = SampleConfig::new("proj", 400, 31);
    sample.end = second_now() - TimeDelta::hours(1);
    sample.days = 30;
    let file = common::sample_file(dir, &sample);
    let all = common::read_runs(&file);
    let trace_start = |r: &Value| {
        let root = all.iter().find(|x| x["id"] == r["trace_id"]).unwrap_or(r);
        time_of(root)
    };
    let (mut runs, held_back): (Vec<Value>, Vec<Value>) = all
        .iter()
        .cloned()
        .partition(|r| trace_start(r) < first_now());
    // A recent finished root, served as still pending at the first load.
    let i = runs
        .iter()
        .rposition(|r| {
            r["parent_run_id"].is_null()
                && r["status"] == "success"
                && time_of(r) > first_now() - TimeDelta::hours(12)
        })
        .expect("a recent root");
    let pending = runs[i].clone();
    runs[i]["status"] = json!("pending");
    runs[i]["end_time"] = Value::Null;
    runs[i]["outputs"] = Value::Null;
    let served = dir.join("served.jsonl");
    let text: String = runs.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&served, text).unwrap();
    (
        served,
        Data {
            runs,
            held_back,
            pending,
        },
    )
}

/// After the first load: the pending root completes, new traces arrive, feedback is added
/// to a recent root and to one weeks old, and an entry weeks old is edited.
fn change(url: &str, data: &Data) {
    admin(
        url,
        reqwest::Method::POST,
        "/_admin/runs",
        json!([data.pending]),
    );
    admin(
        url,
        reqwest::Method::POST,
        "/_admin/runs",
        json!(data.held_back),
    );
    // Roots of traces with retriever runs, so retriever_io's rows change too.
    let retrieved: std::collections::HashSet<&str> = data
        .runs
        .iter()
        .filter(|r| r["run_type"] == "retriever")
        .map(|r| r["trace_id"].as_str().unwrap())
        .collect();
    let root_near = |when: DateTime<Utc>, scored: bool| {
        data.runs
            .iter()
            .filter(|r| {
                r["parent_run_id"].is_null()
                    && retrieved.contains(r["id"].as_str().unwrap())
                    && r["feedback_stats"]
                        .get("user_score")
                        .is_some_and(|s| !s.is_null())
                        == scored
            })
            .min_by_key(|r| (time_of(r) - when).num_seconds().abs())
            .unwrap()
            .clone()
    };
    let recent = root_near(first_now() - TimeDelta::hours(8), false);
    let old_new = root_near(first_now() - TimeDelta::days(15), false);
    let old_edited = root_near(first_now() - TimeDelta::days(20), true);
    assert!(time_of(&old_new) < first_now() - TimeDelta::days(10));
    assert!(time_of(&old_edited) < first_now() - TimeDelta::days(10));
    // Created now, as LangSmith stamps new entries (so after both loads' pinned "now": the
    // feedback table gets them in a later window; run tables see them on their runs).
    let add = |root: &Value| {
        admin(
            url,
            reqwest::Method::POST,
            "/_admin/feedback",
            json!({ "run_id": root["id"], "key": "user_score", "score": 0.25, "comment": "late" }),
        );
    };
    add(&recent);
    add(&old_new);
    let entry = feedback_of(url, old_edited["id"].as_str().unwrap())
        .into_iter()
        .find(|e| e["key"] == "user_score")
        .unwrap();
    admin(
        url,
        reqwest::Method::PATCH,
        &format!("/_admin/feedback/{}", entry["id"].as_str().unwrap()),
        json!({ "score": 0.0, "comment": "changed my mind" }),
    );
}

#[test]
fn late_runs_and_feedback_reach_the_table_like_a_fresh_export_even_with_kills() {
    let dir = tempfile::tempdir().unwrap();
    let (served, data) = data(dir.path());
    // Slow answers stretch a run so a kill lands inside it.
    let config = EmulatorConfig {
        faults: FaultConfig {
            seed: 3,
            slow: 0.5,
            slow_delay: Duration::from_millis(40),
            ..Default::default()
        },
        ..Default::default()
    };
    let emu = common::serve(&[("proj", &served)], config);
    let out = |case: &Case, name: &str| {
        dir.path().join(format!(
            "{}-{name}",
            case.pipeline.trim_end_matches(".toml")
        ))
    };
    for case in &CASES {
        for name in ["incremental", "killed"] {
            ok(runlake(&emu.url, case, &out(case, name), first_now(), &[]));
        }
    }
    let before: Vec<Vec<String>> = CASES
        .iter()
        .map(|c| common::dataset_rows_by_name(&out(c, "incremental")))
        .collect();
    change(&emu.url, &data);

    for (case, before) in CASES.iter().zip(before) {
        let name = case.pipeline;
        let started = Instant::now();
        let summary = ok(runlake(
            &emu.url,
            case,
            &out(case, "incremental"),
            second_now(),
            &[],
        ));
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(summary["mode"], "incremental", "{name}");
        // What it re-read: the trailing day before the first load's end (resync), and for
        // pipelines that read feedback, the windows weeks back whose feedback changed.
        let starts: Vec<DateTime<Utc>> = summary["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w["window"]["start"].as_str())
            .filter_map(runlake::model::parse_timestamp)
            .collect();
        assert!(
            starts.iter().any(|s| *s < first_now()),
            "{name}: re-read before {}: {starts:?}",
            first_now()
        );
        if case.pipeline != "tool_usage.toml" {
            assert!(
                starts
                    .iter()
                    .any(|s| *s < first_now() - TimeDelta::days(10)),
                "{name}: republished a window weeks back: {starts:?}"
            );
        }

        // The same range exported fresh, after the changes.
        let fresh = out(case, "fresh");
        let since = summary_start(&out(case, "killed"));
        ok(runlake(
            &emu.url,
            case,
            &fresh,
            second_now(),
            &["--since", &since, "--until", &second_now().to_rfc3339()],
        ));
        let want = common::dataset_rows_by_name(&fresh);
        assert!(want.len() > 10, "{name}: {} rows", want.len());
        assert_ne!(want, before, "{name}: the changes show in the data");
        assert_same(
            name,
            &common::dataset_rows_by_name(&out(case, "incremental")),
            &want,
        );

        // Killed part-way through its re-sync, then run again: the same.
        let killed = out(case, "killed");
        let mut landed = false;
        for share in [0.5, 0.3, 0.15, 0.05] {
            let mut child = runlake(&emu.url, case, &killed, second_now(), &[]);
            let mut child = child
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let at = Instant::now();
            while at.elapsed().as_secs_f64() < secs * share {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            landed = child.try_wait().unwrap().is_none();
            let _ = child.kill();
            let _ = child.wait();
            if landed {
                break;
            }
        }
        assert!(landed, "{name}: no kill landed inside a {secs:.2}s run");
        ok(runlake(&emu.url, case, &killed, second_now(), &[]));
        assert_same(name, &common::dataset_rows_by_name(&killed), &want);
    }
}

/// Where the first load of an output started (its earliest committed window).
fn summary_start(out: &Path) -> String {
    let mut starts = vec![];
    for dir in std::fs::read_dir(out.join("_runlake")).unwrap() {
        for sink in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            for m in std::fs::read_dir(sink.unwrap().path().join("windows")).unwrap() {
                let m: Value =
                    serde_json::from_str(&std::fs::read_to_string(m.unwrap().path()).unwrap())
                        .unwrap();
                starts.push(m["window"]["start"].as_str().unwrap().to_string());
            }
        }
    }
    starts.into_iter().min().unwrap()
}

fn assert_same(name: &str, got: &[String], want: &[String]) {
    let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(2).collect();
    let extra: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(2).collect();
    assert!(
        got == want,
        "{name}: {} rows, a fresh export has {}; missing {missing:#?}; stale or extra {extra:#?}",
        got.len(),
        want.len()
    );
}
