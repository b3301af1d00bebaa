use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde_json::Value;

use super::*;

fn runs(config: &SampleConfig) -> (Vec<Value>, Vec<u8>) {
    let mut bytes = Vec::new();
    let stats = generate(config, &mut bytes).unwrap();
    let runs: Vec<Value> = std::str::from_utf8(&bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stats.runs, runs.len());
    assert_eq!(stats.traces, config.traces);
    assert_eq!(stats.bytes, bytes.len() as u64);
    (runs, bytes)
}

/// Microseconds since the epoch of a naive or zoned timestamp.
fn ts(v: &Value) -> i64 {
    crate::model::parse_timestamp(v.as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

fn latency(r: &Value) -> Option<f64> {
    r["end_time"]
        .as_str()
        .map(|_| (ts(&r["end_time"]) - ts(&r["start_time"])) as f64 / 1e6)
}

fn cost(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().map(|s| s.parse().unwrap()))
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = runs(&SampleConfig::new("p", 40, 7)).1;
    assert_eq!(a, runs(&SampleConfig::new("p", 40, 7)).1);
    assert_ne!(a, runs(&SampleConfig::new("p", 40, 8)).1);
    assert_eq!(project_id("p", 7), project_id("p", 7));
    assert_ne!(project_id("p", 7), project_id("q", 7));
    assert_ne!(project_id("p", 7), project_id("p", 8));
    assert_eq!(runs(&SampleConfig::new("p", 0, 7)).1, b"");
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
    let end = config.end.timestamp_micros();
    let window_start = end - i64::from(config.days) * 86_400_000_000;
    let id_of = |segment: &str| segment.split_once('Z').unwrap().1.to_string();

    for r in &runs {
        let id = r["id"].as_str().unwrap();
        let start = ts(&r["start_time"]);
        assert_eq!(r["session_id"], session.as_str());
        // UUIDv7 carrying the start time's milliseconds.
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.hyphenated().to_string(), id, "lower-case hyphenated");
        let (secs, nanos) = uuid.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs as i64 * 1000 + i64::from(nanos / 1_000_000),
            start / 1000
        );
        assert!(
            (window_start..=end).contains(&start),
            "{id} starts in the window"
        );

        // dotted_order: one segment per ancestor, root first, each its run's start and id.
        let segments: Vec<&str> = r["dotted_order"].as_str().unwrap().split('.').collect();
        assert_eq!(id_of(segments.last().unwrap()), id);
        assert_eq!(id_of(segments[0]), r["trace_id"].as_str().unwrap());
        let parents: Vec<&str> = r["parent_run_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            parents,
            segments[..segments.len() - 1]
                .iter()
                .map(|s| id_of(s))
                .collect::<Vec<_>>()
        );
        for segment in &segments {
            let run = by_id[id_of(segment).as_str()];
            let stamp = chrono::DateTime::from_timestamp_micros(ts(&run["start_time"]))
                .unwrap()
                .format("%Y%m%dT%H%M%S%6fZ")
                .to_string();
            assert!(segment.starts_with(&stamp), "{segment} vs {stamp}");
        }
        assert_eq!(r["parent_run_id"].as_str(), parents.last().copied());

        // Status, end time, error and outputs agree.
        let status = r["status"].as_str().unwrap();
        match status {
            "pending" => assert!(r["end_time"].is_null() && r["outputs"].is_null()),
            "error" => assert!(r["error"].is_string() && r["end_time"].is_string()),
            "success" => assert!(r["error"].is_null() && r["outputs"].is_object()),
            other => panic!("status {other}"),
        }
        if let Some(end_time) = r["end_time"].as_str() {
            assert!(
                crate::model::parse_timestamp(end_time)
                    .unwrap()
                    .timestamp_micros()
                    <= end
            );
        }
        let events = r["events"].as_array().unwrap();
        assert_eq!(events[0]["name"], "start");
        assert_eq!(ts(&events[0]["time"]), start);
        if r["end_time"].is_string() {
            assert_eq!(events.last().unwrap()["name"], "end");
            assert_eq!(ts(&events.last().unwrap()["time"]), ts(&r["end_time"]));
        }

        // A child runs inside its parent.
        if let Some(pid) = r["parent_run_id"].as_str() {
            let parent = by_id[pid];
            assert!(
                start > ts(&parent["start_time"]),
                "child starts after parent"
            );
            match (r["end_time"].as_str(), parent["end_time"].as_str()) {
                (Some(_), Some(_)) => assert!(ts(&r["end_time"]) < ts(&parent["end_time"])),
                (None, Some(_)) => panic!("{id} is pending under a finished parent"),
                _ => {}
            }
            assert_eq!(r["trace_id"], parent["trace_id"]);
            assert_eq!(r["thread_id"], parent["thread_id"]);
        } else {
            assert_eq!(r["trace_id"].as_str(), Some(id));
            assert_eq!(segments.len(), 1);
        }

        // Thread id mirrors the metadata key the UI groups threads by.
        let metadata = r["extra"]["metadata"].as_object().unwrap();
        let thread_keys: Vec<&Value> = ["session_id", "conversation_id", "thread_id"]
            .iter()
            .filter_map(|k| metadata.get(*k))
            .collect();
        match r["thread_id"].as_str() {
            Some(t) => assert_eq!(thread_keys, [&Value::from(t)]),
            None => assert!(thread_keys.is_empty()),
        }

        // LLM-only fields.
        let llm = r["run_type"] == "llm";
        if !llm {
            assert!(r["prompt_token_details"].is_null() && r["first_token_time"].is_null());
            assert!(r["extra"].get("invocation_params").is_none());
        } else {
            assert!(metadata["ls_provider"].is_string() && metadata["ls_model_name"].is_string());
        }
        if let Some(first) = r["first_token_time"].as_str() {
            assert!(r["extra"]["invocation_params"]["stream"] == true);
            let first = crate::model::parse_timestamp(first)
                .unwrap()
                .timestamp_micros();
            assert!(start < first && first < ts(&r["end_time"]));
            assert!(events.iter().any(|e| e["name"] == "new_token"));
        }
        assert_eq!(
            r["app_path"].as_str().unwrap(),
            format!(
                "/o/{TENANT_ID}/projects/p/{session}/r/{id}?trace_id={}&start_time={}",
                r["trace_id"].as_str().unwrap(),
                by_id[r["trace_id"].as_str().unwrap()]["start_time"]
                    .as_str()
                    .unwrap()
            )
        );
        assert_eq!(r["in_dataset"], false);
        assert_eq!(r["trace_tier"], "longlived");
        assert!(r["reference_example_id"].is_null());

        check_feedback(r);
    }

    // Traces are contiguous, root first, runs in dotted order.
    let mut seen_traces = HashSet::new();
    for trace in runs.chunk_by(|a, b| a["trace_id"] == b["trace_id"]) {
        assert!(seen_traces.insert(trace[0]["trace_id"].as_str().unwrap()));
        assert!(trace[0]["parent_run_id"].is_null());
        let orders: Vec<&str> = trace
            .iter()
            .map(|r| r["dotted_order"].as_str().unwrap())
            .collect();
        assert!(orders.windows(2).all(|w| w[0] < w[1]), "dotted order");
    }

    check_usage_roll_up(&runs);
}

/// `feedback_stats` is exactly what the `feedback` entries give.
fn check_feedback(r: &Value) {
    let Some(entries) = r.get("feedback").and_then(Value::as_array) else {
        assert!(r["feedback_stats"].is_null());
        return;
    };
    assert!(!entries.is_empty());
    let stats = r["feedback_stats"].as_object().unwrap();
    let keys: HashSet<&str> = entries.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, stats.keys().map(String::as_str).collect());
    for (key, stat) in stats {
        let of_key: Vec<&Value> = entries.iter().filter(|e| e["key"] == *key).collect();
        let scores: Vec<f64> = of_key.iter().filter_map(|e| e["score"].as_f64()).collect();
        assert_eq!(stat["n"].as_u64().unwrap() as usize, scores.len());
        match stat["avg"].as_f64() {
            Some(avg) => {
                assert!((avg - scores.iter().sum::<f64>() / scores.len() as f64).abs() < 1e-9)
            }
            None => assert!(scores.is_empty()),
        }
        let mut values: BTreeMap<&str, u64> = BTreeMap::new();
        for e in &of_key {
            if let (None, Some(v)) = (e["score"].as_f64(), e["value"].as_str()) {
                *values.entry(v).or_default() += 1;
            }
        }
        let got: BTreeMap<&str, u64> = stat["values"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(got, values);
        assert_eq!(stat["show_feedback_arrow"], false);
    }
}

/// Tokens and costs: a model call's own, and every ancestor's the sum of its children's.
fn check_usage_roll_up(runs: &[Value]) {
    let mut children: HashMap<&str, Vec<&Value>> = HashMap::new();
    for r in runs {
        if let Some(pid) = r["parent_run_id"].as_str() {
            children.entry(pid).or_default().push(r);
        }
    }
    for r in runs {
        let tokens = |r: &Value, k: &str| r[k].as_i64().unwrap();
        assert_eq!(
            tokens(r, "total_tokens"),
            tokens(r, "prompt_tokens") + tokens(r, "completion_tokens")
        );
        let kids = children
            .get(r["id"].as_str().unwrap())
            .cloned()
            .unwrap_or_default();
        if r["run_type"] == "llm" {
            assert!(kids.is_empty());
            assert!(r["prompt_token_details"].is_object());
            assert!(r["completion_token_details"].is_object());
            // Only a finished, successful call reports usage.
            assert_eq!(r["status"] == "success", tokens(r, "total_tokens") > 0);
        } else {
            for k in ["total_tokens", "prompt_tokens", "completion_tokens"] {
                let sum: i64 = kids.iter().map(|c| tokens(c, k)).sum();
                assert_eq!(tokens(r, k), sum, "{k} of {} rolls up", r["id"]);
            }
        }
        let has_cost = !r["total_cost"].is_null();
        assert_eq!(has_cost, tokens(r, "total_tokens") > 0, "{}", r["id"]);
        if has_cost {
            let (total, prompt, completion) = (
                cost(&r["total_cost"]).unwrap(),
                cost(&r["prompt_cost"]).unwrap(),
                cost(&r["completion_cost"]).unwrap(),
            );
            assert!((total - prompt - completion).abs() < 3e-6);
            if !kids.is_empty() {
                let sum: f64 = kids.iter().filter_map(|c| cost(&c["total_cost"])).sum();
                assert!((total - sum).abs() < 1e-6 * (kids.len() + 2) as f64);
            }
            // Same encoding for the three costs of a run.
            assert_eq!(r["total_cost"].is_string(), r["prompt_cost"].is_string());
        }
    }
}

/// Every filter example of the seed page ("Export traces") selects some runs but not all,
/// in a 300-trace project.
#[test]
fn covers_what_the_seed_page_filters_for() {
    let config = SampleConfig::new("p", 300, 1);
    let (runs, _) = runs(&config);
    let by_id: HashMap<&str, &Value> = runs
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    let root = |r: &Value| by_id[r["trace_id"].as_str().unwrap()];
    let traces_with = |name: &str| -> HashSet<&str> {
        runs.iter()
            .filter(|r| r["name"] == name)
            .map(|r| r["trace_id"].as_str().unwrap())
            .collect()
    };
    let expand_traces = traces_with("ExpandQuery");
    let feedback = |r: &Value, key: &str, pred: &dyn Fn(f64) -> bool| {
        r["feedback"].as_array().is_some_and(|f| {
            f.iter()
                .any(|e| e["key"] == key && e["score"].as_f64().is_some_and(pred))
        })
    };
    let meta = |r: &Value, k: &str| r["extra"]["metadata"].get(k).cloned();
    let meta_str = |r: &Value, k: &str| meta(r, k).and_then(|v| v.as_str().map(str::to_string));
    let has_tag = |r: &Value, t: &str| r["tags"].as_array().unwrap().iter().any(|x| x == t);
    let slow = |r: &Value, s: f64| latency(r).is_some_and(|l| l > s);
    let tokens = |r: &Value| r["total_tokens"].as_i64().unwrap();
    let is_root = |r: &Value| r["parent_run_id"].is_null();
    let last_day = config.end.timestamp_micros() - 86_400_000_000;

    type Check<'a> = (&'a str, Box<dyn Fn(&Value) -> bool + 'a>);
    let checks: Vec<Check> = vec![
        ("llm runs", Box::new(|r| r["run_type"] == "llm")),
        ("root runs", Box::new(|r| is_root(r))),
        ("no error", Box::new(|r| r["error"].is_null())),
        (
            "extractor under user_score 1",
            Box::new(|r| {
                r["name"] == "extractor" && feedback(root(r), "user_score", &|s| s == 1.0)
            }),
        ),
        (
            "star_rating > 4",
            Box::new(|r| feedback(r, "star_rating", &|s| s > 4.0)),
        ),
        ("latency > 5 s", Box::new(|r| slow(r, 5.0))),
        ("total_tokens > 5000", Box::new(|r| tokens(r) > 5000)),
        ("error", Box::new(|r| r["error"].is_string())),
        (
            "substring",
            Box::new(|r| r.to_string().contains("substring")),
        ),
        ("tag 2aa1cf4", Box::new(|r| has_tag(r, "2aa1cf4"))),
        (
            "chain > 10 s, > 5000 tokens",
            Box::new(|r| r["run_type"] == "chain" && slow(r, 10.0) && tokens(r) > 5000),
        ),
        (
            "error or Correctness 0",
            Box::new(|r| r["error"].is_string() || feedback(r, "Correctness", &|s| s == 0.0)),
        ),
        (
            "experimental or beta, > 2 s",
            Box::new(|r| (has_tag(r, "experimental") || has_tag(r, "beta")) && slow(r, 2.0)),
        ),
        (
            "image classification",
            Box::new(|r| r.to_string().contains("image classification")),
        ),
        ("has user_id", Box::new(|r| meta(r, "user_id").is_some())),
        (
            "user_id 4070f233",
            Box::new(|r| {
                meta_str(r, "user_id").as_deref() == Some("4070f233-f61e-44eb-bff1-da3c163895a3")
            }),
        ),
        (
            "environment production",
            Box::new(|r| meta_str(r, "environment").as_deref() == Some("production")),
        ),
        (
            "conversation a1b2c3d4",
            Box::new(|r| meta_str(r, "conversation_id").as_deref() == Some("a1b2c3d4-e5f6-7890")),
        ),
        (
            "thread roots of a1b2c3d4",
            Box::new(|r| is_root(r) && r["thread_id"] == "a1b2c3d4-e5f6-7890"),
        ),
        (
            "ChatOpenAI in 69b12c91",
            Box::new(|r| {
                r["name"] == "ChatOpenAI"
                    && meta_str(r, "conversation_id").as_deref()
                        == Some("69b12c91-b1e2-46ce-91de-794c077e8151")
            }),
        ),
        (
            "RetrieveDocs, root user_score 1, ExpandQuery in trace",
            Box::new(|r| {
                r["name"] == "RetrieveDocs"
                    && feedback(root(r), "user_score", &|s| s == 1.0)
                    && expand_traces.contains(r["trace_id"].as_str().unwrap())
            }),
        ),
        (
            "retriever of the last day, root has user_score",
            Box::new(|r| {
                r["run_type"] == "retriever"
                    && ts(&r["start_time"]) > last_day
                    && root(r)["feedback_stats"].get("user_score").is_some()
            }),
        ),
        // Beyond the seed page: the variety exports must survive.
        ("pending", Box::new(|r| r["status"] == "pending")),
        ("errors", Box::new(|r| r["status"] == "error")),
        (
            "RateLimitError",
            Box::new(|r| {
                r["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("RateLimitError"))
            }),
        ),
        (
            "ValueError",
            Box::new(|r| {
                r["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("ValueError"))
            }),
        ),
        (
            "latency < 100 ms",
            Box::new(|r| latency(r).is_some_and(|l| l < 0.1)),
        ),
        ("tag beta", Box::new(|r| has_tag(r, "beta"))),
        ("tag experimental", Box::new(|r| has_tag(r, "experimental"))),
        ("non-ASCII", Box::new(|r| !r.to_string().is_ascii())),
        (
            "non-ASCII output",
            Box::new(|r| !r["outputs"].to_string().is_ascii()),
        ),
        ("string costs", Box::new(|r| r["total_cost"].is_string())),
        ("number costs", Box::new(|r| r["total_cost"].is_number())),
        ("streaming", Box::new(|r| r["first_token_time"].is_string())),
        (
            "large input",
            Box::new(|r| r["inputs"].to_string().len() > 200_000),
        ),
        (
            "CONCEPTUAL feedback",
            Box::new(|r| r["feedback_stats"]["intent"]["values"]["CONCEPTUAL"].is_u64()),
        ),
        (
            "two entries of one key",
            Box::new(|r| r["feedback_stats"]["user_score"]["n"] == 2),
        ),
        (
            "feedback on a non-root",
            Box::new(|r| !is_root(r) && r.get("feedback").is_some()),
        ),
        (
            "numeric metadata",
            Box::new(|r| meta(r, "attempt").is_some_and(|v| v.is_number())),
        ),
        (
            "session_id key",
            Box::new(|r| meta(r, "session_id").is_some()),
        ),
        (
            "thread_id key",
            Box::new(|r| meta(r, "thread_id").is_some()),
        ),
        ("ChatAnthropic", Box::new(|r| r["name"] == "ChatAnthropic")),
        ("AgentExecutor", Box::new(|r| r["name"] == "AgentExecutor")),
        ("support_agent", Box::new(|r| r["name"] == "support_agent")),
        (
            "documents are lists",
            Box::new(|r| r["name"] == "RetrieveDocs" && r["outputs"]["documents"].is_array()),
        ),
    ];
    let mut failures = vec![];
    for (what, pred) in &checks {
        let n = runs.iter().filter(|r| pred(r)).count();
        if n == 0 || n == runs.len() {
            failures.push(format!("{what}: {n} of {} runs", runs.len()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    let run_types: HashSet<&str> = runs
        .iter()
        .map(|r| r["run_type"].as_str().unwrap())
        .collect();
    for t in [
        "chain",
        "llm",
        "tool",
        "retriever",
        "embedding",
        "prompt",
        "parser",
    ] {
        assert!(run_types.contains(t), "run_type {t}");
    }
    let tools: HashSet<&str> = runs
        .iter()
        .filter(|r| r["run_type"] == "tool")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for t in [
        "search_web",
        "calculator",
        "get_weather",
        "sql_query",
        "send_email",
    ] {
        assert!(tools.contains(t), "tool {t}");
    }
    // Whole traces in progress at the end of the window.
    let pending_roots = runs
        .iter()
        .filter(|r| is_root(r) && r["status"] == "pending")
        .count();
    assert!((1..=10).contains(&pending_roots), "{pending_roots}");
}

#[test]
fn writer_compresses_by_extension_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let config = SampleConfig::new("w", 5, 1);
    let (_, plain) = runs(&config);
    for name in ["w.jsonl", "w.jsonl.gz", "w.jsonl.zst"] {
        let path = dir.path().join(name);
        let mut out = open_writer(&path).unwrap();
        generate(&config, &mut out).unwrap();
        out.finish().unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut back = Vec::new();
        match name.rsplit('.').next() {
            Some("gz") => flate2::read::GzDecoder::new(file)
                .read_to_end(&mut back)
                .unwrap(),
            Some("zst") => zstd::Decoder::new(file)
                .unwrap()
                .read_to_end(&mut back)
                .unwrap(),
            _ => std::io::BufReader::new(file)
                .read_to_end(&mut back)
                .unwrap(),
        };
        assert!(back == plain, "{name} round-trips");
    }
    assert!(open_writer(&dir.path().join("missing/dir/x.jsonl")).is_err());
}

#[test]
fn bundled_sample_is_committed_and_current() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write_bundled_sample(dir.path()).unwrap();
    assert_eq!(stats.len(), BUNDLED.len());
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let mut total = 0;
    for (name, _, _) in BUNDLED {
        let file = format!("{name}.jsonl.zst");
        let fresh = std::fs::read(dir.path().join(&file)).unwrap();
        let kept = std::fs::read(committed.join(&file)).unwrap_or_else(|_| {
            panic!("data/sample/{file} is missing: `runlake generate --bundled-sample data/sample`")
        });
        assert!(
            fresh == kept,
            "data/sample/{file} differs from what the generator writes: \
             `runlake generate --bundled-sample data/sample`"
        );
        total += kept.len();
    }
    assert!(total <= 2 * 1024 * 1024, "bundled sample is {total} bytes");
}
