//! `runlake convert`: the `runs` pipeline over a streamed read of a JSONL file. Its rows are the
//! ones `runlake run pipelines/runs.toml --from FILE` writes for the same file; a line that is
//! not a run is set aside beside the output, and past `--max-rejected` nothing is published.

mod common;

use std::path::Path;
use std::process::Command;

use runlake::sample::SampleConfig;

fn runlake() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runlake"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGSMITH_PROJECT")
        .env_remove("LANGSMITH_ENDPOINT");
    c
}

fn convert(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    runlake()
        .args(["-q", "convert"])
        .arg(input)
        .arg("--output")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn convert_writes_the_rows_the_runs_pipeline_writes_from_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 150, 11);
    sample.days = 20;
    let file = common::sample_file(dir.path(), &sample);
    let converted = dir.path().join("converted");
    let out = convert(&file, &converted, &["--batch-rows", "300"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = dir.path().join("ran");
    let out = runlake()
        .args(["-q", "run", "pipelines/runs.toml", "--from"])
        .arg(&file)
        .args([
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2100-01-01T00:00:00Z",
            "--set",
            "sinks.out.partition_by=[]",
            "--output",
        ])
        .arg(&ran)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let converted = common::dataset_rows(&converted);
    assert_eq!(converted.len(), common::read_runs(&file).len());
    assert_eq!(converted, common::dataset_rows(&ran));
}

/// A good run, a run with epoch-millisecond times (the JS SDK's `start_time: number`) and a
/// run whose `tags` is a string.
fn runs_with_one_bad(dir: &Path) -> (std::path::PathBuf, [serde_json::Value; 3]) {
    let good = serde_json::json!({
        "id": "00000000-0000-0000-0000-00000000000a", "name": "good", "run_type": "chain",
        "start_time": "2026-02-18T09:00:01.990000", "end_time": "2026-02-18T09:00:02.000000",
        "trace_id": "00000000-0000-0000-0000-00000000000a", "parent_run_id": null,
        "session_id": "p", "tags": ["a"], "inputs": {"q": 1}, "outputs": {"a": 2},
    });
    let epoch_ms = serde_json::json!({
        "id": "00000000-0000-0000-0000-00000000000b", "name": "js", "run_type": "llm",
        "start_time": 1771405201990u64, "end_time": 1771405202990u64,
        "trace_id": "00000000-0000-0000-0000-00000000000b", "parent_run_id": null,
        "session_id": "p", "inputs": {"q": 3},
    });
    let bad = serde_json::json!({
        "id": "00000000-0000-0000-0000-00000000000c", "name": "bad", "run_type": "tool",
        "start_time": "2026-02-18T09:00:03Z", "trace_id": "00000000-0000-0000-0000-00000000000c",
        "session_id": "p", "tags": "urgent",
    });
    let path = dir.join("runs.jsonl");
    let text: String = [&good, &epoch_ms, &bad]
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    (path, [good, epoch_ms, bad])
}

#[test]
fn an_unreadable_run_is_set_aside_and_by_default_nothing_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let (file, [_, _, bad]) = runs_with_one_bad(dir.path());
    let out_dir = dir.path().join("out");
    let out = convert(&file, &out_dir, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("more than --max-rejected 0 allows")
            && stderr.contains("runs.jsonl:3")
            && stderr.contains("field `tags`"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["published"], false);
    assert_eq!(summary["rejected"], 1);
    assert_eq!(summary["runs"], 2, "{summary}");
    assert!(
        common::data_files(&out_dir, "parquet").is_empty(),
        "nothing where readers look"
    );
    assert!(!out_dir.join("_convert").exists(), "no staging left behind");
    let rejected = std::fs::read_to_string(out_dir.join("_rejected.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = rejected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let [r] = lines.as_slice() else {
        panic!("{rejected}")
    };
    assert_eq!(r["origin"], format!("{}:3", file.display()));
    assert_eq!(r["run_id"], bad["id"]);
    assert!(
        r["reason"].as_str().unwrap().contains("field `tags`"),
        "{r}"
    );
    assert_eq!(r["record"], bad, "the record exactly as it was read");
}

#[test]
fn within_max_rejected_the_readable_runs_are_published_epoch_milliseconds_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (file, [good, epoch_ms, _]) = runs_with_one_bad(dir.path());
    let out_dir = dir.path().join("out");
    // A stale rejected file of an earlier convert is replaced.
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("_rejected.jsonl"), "stale\n").unwrap();
    let out = convert(&file, &out_dir, &["--max-rejected", "1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            &summary["published"],
            &summary["runs"],
            &summary["rejected"]
        ),
        (&true.into(), &2.into(), &1.into()),
        "{summary}"
    );
    let rejected = std::fs::read_to_string(out_dir.join("_rejected.jsonl")).unwrap();
    assert_eq!(rejected.lines().count(), 1);
    assert!(!rejected.contains("stale"));
    let rows = common::dataset_rows(&out_dir);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |id: &serde_json::Value| {
        rows.iter()
            .find(|r| r.contains(&format!("id={} ", id.as_str().unwrap())))
            .unwrap_or_else(|| panic!("{id} not in {rows:?}"))
            .clone()
    };
    // 1771405201990 ms = 2026-02-18T09:00:01.990Z, to the microsecond.
    let js = row(&epoch_ms["id"]);
    assert!(
        js.contains("start_time=1771405201990000 ") && js.contains("end_time=1771405202990000 "),
        "{js}"
    );
    assert!(js.contains("latency=1.0 "), "{js}");
    assert!(
        row(&good["id"]).contains("start_time=1771405201990000 "),
        "the same instant as text"
    );

    // Nothing set aside: no rejected file is left from before.
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(&clean, format!("{good}\n{epoch_ms}\n")).unwrap();
    let out = convert(&clean, &out_dir, &[]);
    assert!(out.status.success());
    assert!(!out_dir.join("_rejected.jsonl").exists());
}

#[test]
fn a_missing_input_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = convert(&dir.path().join("nope.jsonl"), &dir.path().join("o"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.jsonl"));
}

/// The allocator set-up the throughput figures rest on (src/main.rs): jemalloc serves C's
/// `malloc` too (zstd's contexts), so it reads `MALLOC_CONF`, and the options compiled in are
/// in force. jemalloc prints its options at exit when `MALLOC_CONF` asks for statistics.
#[cfg(target_os = "linux")]
#[test]
fn jemalloc_serves_malloc_with_one_arena_and_lazy_purging() {
    let out = runlake()
        .arg("--version")
        .env("MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(
        stats.contains("opt.narenas: 1") && stats.contains("opt.muzzy_decay_ms: -1"),
        "jemalloc did not read MALLOC_CONF or the compiled options are not in force:\n{stats}"
    );
}
