//! One unreadable run never sinks a load: through v2, v1 and run files, a run whose fields do
//! not fit is set aside in `_runlake/…/rejected/` with its record and why, every other run is
//! exported, and `[load] max_rejected` decides whether the window publishes. Runs in shapes
//! the SDKs send (epoch-millisecond times) are read, not set aside.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runlake::emulator::EmulatorConfig;
use runlake::sample::SampleConfig;

fn runlake(pipeline: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runlake"))
        .args(["-q", "run", "--json"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("pipelines")
                .join(pipeline),
        )
        .args([
            "--now",
            "2026-11-01T00:10:00Z",
            "--since",
            "30d",
            "--output",
        ])
        .arg(out)
        .args(["--project", "proj"])
        .args(extra)
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGSMITH_ENDPOINT")
        .env_remove("LANGSMITH_PROJECT")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The rejected-record files under an output root, as parsed lines.
fn rejected_records(out: &Path) -> Vec<serde_json::Value> {
    let mut found = vec![];
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.parent().is_some_and(|d| d.ends_with("rejected")) {
                let text = std::fs::read_to_string(&p).unwrap();
                found.extend(text.lines().map(|l| serde_json::from_str(l).unwrap()));
            }
        }
    }
    found
}

struct Data {
    /// The project with one unreadable run and one in epoch milliseconds.
    with_bad: PathBuf,
    /// The same project without the unreadable run: what a clean export holds.
    without_bad: PathBuf,
    bad_id: String,
    bad_line: String,
    /// The run whose start is epoch milliseconds, and that start in µs.
    epoch: (String, i64),
}

/// A generated project whose runs are tweaked: one child run's `tags` becomes a string (no
/// SDK sends that: unreadable), another's `start_time` epoch milliseconds (the JS SDK's
/// shape: readable and exact).
fn data(dir: &Path) -> Data {
    let mut sample = SampleConfig::new("proj", 60, 5);
    sample.days = 20;
    let file = common::sample_file(dir, &sample);
    let mut lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let children: Vec<usize> = (0..lines.len())
        .filter(|&i| !lines[i]["parent_run_id"].is_null())
        .collect();
    let (bad, epoch) = (children[3], children[7]);
    lines[bad]["tags"] = serde_json::json!("urgent");
    let start = lines[epoch]["start_time"].as_str().unwrap().to_string();
    let ms = runlake::model::parse_timestamp(&start)
        .unwrap()
        .timestamp_millis();
    // Whole milliseconds, so the epoch form is the same instant.
    lines[epoch]["start_time"] = serde_json::json!(ms);
    let text = |skip: Option<usize>| {
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect::<String>()
    };
    let with_bad = dir.join("with_bad.jsonl");
    let without_bad = dir.join("without_bad.jsonl");
    std::fs::write(&with_bad, text(None)).unwrap();
    std::fs::write(&without_bad, text(Some(bad))).unwrap();
    Data {
        with_bad,
        without_bad,
        bad_id: lines[bad]["id"].as_str().unwrap().to_string(),
        bad_line: lines[bad].to_string(),
        epoch: (lines[epoch]["id"].as_str().unwrap().to_string(), ms * 1000),
    }
}

#[test]
fn an_unreadable_run_is_set_aside_and_the_rest_exported_through_v2_v1_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let served = common::serve(&[("proj", &data.with_bad)], EmulatorConfig::default());
    let clean_served = common::serve(&[("proj", &data.without_bad)], EmulatorConfig::default());
    let env = |url: &str| {
        vec![
            ("LANGSMITH_ENDPOINT", url.to_string()),
            ("LANGSMITH_API_KEY", "k".to_string()),
        ]
    };
    let (api, clean_api) = (env(&served.url), env(&clean_served.url));
    let with_bad = ["--from", data.with_bad.to_str().unwrap()];
    let without_bad = ["--from", data.without_bad.to_str().unwrap()];
    type Way<'a> = (&'a str, Vec<&'a str>, Vec<&'a str>, &'a [(&'a str, String)]);
    let ways: [Way; 3] = [
        (
            "v2",
            vec!["--set", "source.api=v2"],
            vec!["--set", "source.api=v2"],
            &api,
        ),
        (
            "v1",
            vec!["--set", "source.api=v1"],
            vec!["--set", "source.api=v1"],
            &api,
        ),
        ("files", with_bad.to_vec(), without_bad.to_vec(), &[]),
    ];
    for (way, args, clean_args, env) in ways {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let env = env.as_slice();
        // What an export of the same runs without the unreadable one holds, the same way.
        let clean = dir.path().join(format!("{way}-clean"));
        let clean_env: Vec<(&str, &str)> =
            clean_api.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let ok = runlake(
            "runs.toml",
            &clean,
            &clean_args,
            if way == "files" { &[] } else { &clean_env },
        );
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let want = common::dataset_rows(&clean);
        assert!(want.len() > 100, "{} rows", want.len());

        // By default one unreadable run fails its window: nothing is published, the run is
        // set aside, and the message names it, its field and where it is kept.
        let out = dir.path().join(format!("{way}-strict"));
        let failed = runlake("runs.toml", &out, &args, env);
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(failed.status.code(), Some(1), "{way}: {stderr}");
        assert!(
            stderr.contains(&data.bad_id) && stderr.contains("field `tags`"),
            "{way}: {stderr}"
        );
        assert!(stderr.contains("max_rejected"), "{way}: {stderr}");
        assert!(
            stderr.contains("rejected/") && stderr.contains("not published"),
            "{way}: {stderr}"
        );
        assert!(
            common::data_files(&out, "parquet").is_empty(),
            "{way}: nothing published"
        );
        let kept = rejected_records(&out);
        assert_eq!(kept.len(), 1, "{way}: {kept:?}");

        // Allowed, the window publishes every other run, exactly a clean export's rows.
        let out = dir.path().join(format!("{way}-lenient"));
        let mut lenient = args.clone();
        lenient.extend(["--set", "load.max_rejected=3"]);
        let done = runlake("runs.toml", &out, &lenient, env);
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert!(
            done.status.success(),
            "{way}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let got = common::dataset_rows(&out);
        let first_difference = got.iter().zip(&want).find(|(g, w)| g != w);
        assert!(
            got.len() == want.len() && first_difference.is_none(),
            "{way}: {} rows, a clean export has {}; first difference: {first_difference:?}",
            got.len(),
            want.len()
        );
        let (epoch_id, epoch_us) = &data.epoch;
        let epoch_row = format!("id={epoch_id} ");
        let row = got.iter().find(|r| r.contains(&epoch_row)).unwrap();
        assert!(
            row.contains(&format!("start_time={epoch_us} ")),
            "{way}: epoch milliseconds read exactly: {row}"
        );
        let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(summary["rejected"], 1, "{way}: {summary}");
        let kept = rejected_records(&out);
        let [record] = kept.as_slice() else {
            panic!("{way}: {kept:?}")
        };
        assert_eq!(record["run_id"], data.bad_id.as_str(), "{way}");
        assert!(
            record["reason"]
                .as_str()
                .unwrap()
                .contains("field `tags`: invalid type: string \"urgent\", expected a sequence"),
            "{way}: {record}"
        );
        // As received: the file's line itself, or the run as the API sent it.
        let kept = &record["record"];
        if way == "files" {
            assert_eq!(kept.to_string(), data.bad_line, "{way}: verbatim");
        }
        assert_eq!(kept["id"], data.bad_id.as_str(), "{way}");
        assert_eq!(kept["tags"], "urgent", "{way}");
        let origin = record["origin"].as_str().unwrap();
        let expected_origin = match way {
            "files" => "with_bad.jsonl:",
            "v1" => "/api/v1/runs/query",
            _ => "/api/v2/runs/query",
        };
        assert!(origin.contains(expected_origin), "{way}: {origin}");
        assert!(
            !origin.contains("k\""),
            "{way}: no key in the origin: {origin}"
        );
    }
}

#[test]
fn a_later_clean_load_of_the_window_removes_its_stale_rejected_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let out = dir.path().join("out");
    // The same range again, reloaded (--refresh) from runs that now read clean.
    let run = |file: &Path| {
        let args = ["--from", file.to_str().unwrap(), "--refresh"];
        runlake(
            "runs.toml",
            &out,
            &[&args[..], &["--set", "load.max_rejected=1"]].concat(),
            &[],
        )
    };
    assert!(run(&data.with_bad).status.success());
    assert_eq!(rejected_records(&out).len(), 1);
    let again = run(&data.without_bad);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(rejected_records(&out).is_empty(), "the window read clean");
}
