use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::*;

fn runs(config: &SampleConfig) -> (Vec<Value>, Vec<u8>) {
    let mut bytes = Vec::new();
    generate(config, &mut bytes).unwrap();
    let runs = String::from_utf8(bytes.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (runs, bytes)
}

fn ts(v: &Value) -> i64 {
    crate::model::parse_timestamp(v.as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = runs(&SampleConfig::new("p", 40, 7)).1;
    assert_eq!(a, runs(&SampleConfig::new("p", 40, 7)).1);
    assert_ne!(a, runs(&SampleConfig::new("p", 40, 8)).1);
    assert_eq!(project_id("p", 7), project_id("p", 7));
    assert_ne!(project_id("p", 7), project_id("q", 7));
}

#[test]
fn runs_are_structurally_consistent() {
    let config = SampleConfig::new("p", 300, 3);
    let (runs, _) = runs(&config);
    let by_id: HashMap<&str, &Value> = runs
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    assert_eq!(by_id.len(), runs.len(), "ids are unique");
    let session = project_id("p", 3);
    for r in &runs {
        let id = r["id"].as_str().unwrap();
        assert_eq!(r["session_id"], session.as_str());
        let dotted = r["dotted_order"].as_str().unwrap();
        let segments: Vec<&str> = dotted.split('.').collect();
        let uuid_of = |seg: &str| seg.split_once('Z').unwrap().1.to_string();
        assert_eq!(uuid_of(segments.last().unwrap()), id);
        assert_eq!(uuid_of(segments[0]), r["trace_id"].as_str().unwrap());
        let parents: Vec<String> = r["parent_run_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            parents,
            segments[..segments.len() - 1]
                .iter()
                .map(|s| uuid_of(s))
                .collect::<Vec<_>>()
        );
        match r["parent_run_id"].as_str() {
            None => assert_eq!(segments.len(), 1),
            Some(pid) => {
                assert_eq!(pid, parents.last().unwrap());
                let parent = by_id[pid];
                assert!(
                    ts(&r["start_time"]) >= ts(&parent["start_time"]),
                    "child starts after its parent"
                );
                if let (Some(_), Some(_)) = (r["end_time"].as_str(), parent["end_time"].as_str()) {
                    assert!(
                        ts(&r["end_time"]) <= ts(&parent["end_time"]),
                        "child ends before its parent"
                    );
                }
            }
        }
        // feedback_stats is derived from the entries.
        if let Some(entries) = r.get("feedback").and_then(Value::as_array) {
            let stats = r["feedback_stats"].as_object().unwrap();
            let keys: HashSet<&str> = entries.iter().map(|e| e["key"].as_str().unwrap()).collect();
            assert_eq!(keys, stats.keys().map(String::as_str).collect());
            for (k, s) in stats {
                let scores: Vec<f64> = entries
                    .iter()
                    .filter(|e| e["key"] == k.as_str())
                    .filter_map(|e| e["score"].as_f64())
                    .collect();
                assert_eq!(
                    s["n"].as_u64().unwrap() as usize,
                    entries.iter().filter(|e| e["key"] == k.as_str()).count()
                );
                match s["avg"].as_f64() {
                    Some(avg) => assert!(
                        (avg - scores.iter().sum::<f64>() / scores.len() as f64).abs() < 1e-9
                    ),
                    None => assert!(scores.is_empty()),
                }
            }
        } else {
            assert!(r["feedback_stats"].is_null());
        }
    }
    // Tokens roll up: a parent's total is at least the sum of its children's.
    let mut child_sum: HashMap<&str, i64> = HashMap::new();
    for r in &runs {
        if let Some(pid) = r["parent_run_id"].as_str() {
            *child_sum.entry(pid).or_default() += r["total_tokens"].as_i64().unwrap();
        }
    }
    for (pid, sum) in child_sum {
        assert!(by_id[pid]["total_tokens"].as_i64().unwrap() >= sum);
    }
}

#[test]
fn covers_what_the_seed_page_filters_for() {
    let (runs, _) = runs(&SampleConfig::new("p", 300, 1));
    let count = |pred: &dyn Fn(&Value) -> bool| runs.iter().filter(|r| pred(r)).count();
    let latency = |r: &Value| {
        r["end_time"]
            .as_str()
            .map(|_| (ts(&r["end_time"]) - ts(&r["start_time"])) as f64 / 1e6)
    };
    let meta = |r: &Value, k: &str| r["extra"]["metadata"][k].as_str().map(str::to_string);
    let has_tag = |r: &Value, t: &str| r["tags"].as_array().unwrap().iter().any(|x| x == t);
    let text = |r: &Value| format!("{}{}", r["inputs"], r["outputs"]);
    let checks: Vec<(&str, usize)> = vec![
        ("pending", count(&|r| r["status"] == "pending")),
        (
            "errors",
            count(&|r| r["status"] == "error" && r["error"].is_string()),
        ),
        ("tag 2aa1cf4", count(&|r| has_tag(r, "2aa1cf4"))),
        ("experimental", count(&|r| has_tag(r, "experimental"))),
        ("beta", count(&|r| has_tag(r, "beta"))),
        (
            "slow heavy chains",
            count(&|r| {
                r["run_type"] == "chain"
                    && latency(r).unwrap_or(0.0) > 10.0
                    && r["total_tokens"].as_i64().unwrap() > 5000
            }),
        ),
        ("over 5 s", count(&|r| latency(r).unwrap_or(0.0) > 5.0)),
        ("tools", count(&|r| r["run_type"] == "tool")),
        ("retrievers", count(&|r| r["run_type"] == "retriever")),
        ("extractor", count(&|r| r["name"] == "extractor")),
        ("ExpandQuery", count(&|r| r["name"] == "ExpandQuery")),
        (
            "user_id value",
            count(&|r| {
                meta(r, "user_id").as_deref() == Some("4070f233-f61e-44eb-bff1-da3c163895a3")
            }),
        ),
        (
            "conversation a1b2",
            count(&|r| meta(r, "conversation_id").as_deref() == Some("a1b2c3d4-e5f6-7890")),
        ),
        (
            "ChatOpenAI in 69b1",
            count(&|r| {
                r["name"] == "ChatOpenAI"
                    && meta(r, "conversation_id").as_deref()
                        == Some("69b12c91-b1e2-46ce-91de-794c077e8151")
            }),
        ),
        (
            "production",
            count(&|r| meta(r, "environment").as_deref() == Some("production")),
        ),
        (
            "user_score",
            count(&|r| r["feedback_stats"].get("user_score").is_some()),
        ),
        (
            "star_rating 5",
            count(&|r| {
                r["feedback"].as_array().is_some_and(|f| {
                    f.iter()
                        .any(|e| e["key"] == "star_rating" && e["score"] == 5.0)
                })
            }),
        ),
        (
            "Correctness 0",
            count(&|r| {
                r["feedback"].as_array().is_some_and(|f| {
                    f.iter()
                        .any(|e| e["key"] == "Correctness" && e["score"] == 0.0)
                })
            }),
        ),
        ("substring", count(&|r| text(r).contains("substring"))),
        (
            "image classification",
            count(&|r| text(r).contains("image classification")),
        ),
        ("non-ASCII", count(&|r| !text(r).is_ascii())),
        ("string costs", count(&|r| r["total_cost"].is_string())),
        ("number costs", count(&|r| r["total_cost"].is_number())),
        ("streaming", count(&|r| r["first_token_time"].is_string())),
        ("large", count(&|r| r["inputs"].to_string().len() > 200_000)),
    ];
    for (what, n) in checks {
        assert!(
            n > 0 && n < runs.len(),
            "{what}: {n} of {} runs",
            runs.len()
        );
    }
}

#[test]
fn bundled_sample_is_committed_and_current() {
    let dir = tempfile::tempdir().unwrap();
    write_bundled_sample(dir.path()).unwrap();
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let mut total = 0;
    for (name, _, _) in BUNDLED {
        let file = format!("{name}.jsonl.zst");
        let fresh = std::fs::read(dir.path().join(&file)).unwrap();
        let kept = std::fs::read(committed.join(&file)).unwrap_or_else(|_| {
            panic!("data/sample/{file} is missing: regenerate with `runlake generate`")
        });
        assert!(
            fresh == kept,
            "data/sample/{file} differs from what the generator writes; regenerate it"
        );
        total += kept.len();
    }
    assert!(total <= 2 * 1024 * 1024, "bundled sample is {total} bytes");
}
