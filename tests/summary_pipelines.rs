//! The shipped traces.toml and threads.toml, run by the binary against the emulator over
//! loopback: one row per trace with the sums over its runs, one row per thread with exactly
//! the traces sharing its key (checked by an independent Python reader from the JSONL, with
//! DuckDB, pandas and polars reading typed columns), the same rows from run files, loads by
//! window and incremental ones, and the clear refusals: a deployment without v2, a flatten fed
//! the wrong items.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use runlake::emulator::{Deployment, EmulatorConfig};
use runlake::sample::SampleConfig;

const NOW: &str = "2026-11-01T00:10:00Z";
const SINCE: &str = "2026-10-02T00:10:00Z";

/// `runlake run` on project `proj` (see `common::run_command`).
fn runlake(pipeline: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = common::run_command(pipeline, out, &["--project", "proj"], env);
    c.args(extra);
    c
}

/// `runlake run … --json` (see [`runlake`]), which must succeed: its summary.
fn run_json(pipeline: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let output = runlake(pipeline, out, extra, env)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Rows written, from a `--json` summary.
fn rows_loaded(summary: &serde_json::Value) -> u64 {
    summary["windows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["sinks"].as_object().unwrap().values())
        .map(|s| s["rows"].as_u64().unwrap())
        .sum()
}

/// A generated project `proj` of `traces` traces over the 30 days before `NOW`, served.
fn served_project(dir: &Path, traces: usize, seed: u64) -> (PathBuf, common::Served) {
    let mut sample = SampleConfig::new("proj", traces, seed);
    sample.days = 30;
    let file = common::sample_file(dir, &sample);
    let served = common::serve(&[("proj", &file)], EmulatorConfig::default());
    (file, served)
}

fn api(served: &common::Served) -> [(&'static str, &str); 2] {
    [
        ("LANGSMITH_ENDPOINT", served.url.as_str()),
        ("LANGSMITH_API_KEY", "k"),
    ]
}

#[test]
fn traces_and_threads_pipelines_match_sums_over_the_runs_and_read_typed_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (file, served) = served_project(dir.path(), 600, 14);
    let api = api(&served);
    let out = |name: &str| dir.path().join(name);
    common::run_30_days("traces.toml", &out("traces"), &["--project", "proj"], &api);
    common::run_30_days(
        "threads.toml",
        &out("threads"),
        &["--project", "proj"],
        &api,
    );
    common::run_30_days(
        "threads.toml",
        &out("threads-daily"),
        &["--project", "proj", "--set", "load.window=1d"],
        &api,
    );
    // Traces belong to the window their root started in: daily loads give the same rows.
    common::run_30_days(
        "traces.toml",
        &out("traces-daily"),
        &["--project", "proj", "--set", "load.window=1d"],
        &api,
    );
    // Turns read per thread give the same rows as turns read from one runs query of roots.
    common::run_30_days(
        "threads.toml",
        &out("threads-per-thread"),
        &[
            "--project",
            "proj",
            "--set",
            "stages.threads.turns_from=per_thread",
        ],
        &api,
    );
    let threads = common::dataset_rows(&out("threads"));
    assert!(threads.len() > 30, "{} threads", threads.len());
    assert_eq!(common::dataset_rows(&out("threads-per-thread")), threads);
    let rows = common::dataset_rows(&out("traces"));
    assert!(rows.len() > 400, "{} traces", rows.len());
    assert_eq!(common::dataset_rows(&out("traces-daily")), rows);
    // Run files answer the same queries offline, with the same rows.
    for (pipeline, api_out) in [("traces.toml", "traces"), ("threads.toml", "threads")] {
        let from_files = out(&format!("{api_out}-from-files"));
        common::run_30_days(
            pipeline,
            &from_files,
            &["--project", "proj", "--from", file.to_str().unwrap()],
            &[],
        );
        assert_eq!(
            common::dataset_rows(&from_files),
            common::dataset_rows(&out(api_out)),
            "{pipeline} from files"
        );
    }

    let output = Command::new(common::venv_python())
        .args(["-W", "ignore"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/summaries.py"))
        .arg(&file)
        .args([SINCE, NOW])
        .args(["traces", "threads", "threads-daily"].map(out))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn incremental_loads_continue_where_the_last_one_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (file, served) = served_project(dir.path(), 200, 15);
    let runs = common::read_runs(&file);
    let api = api(&served);
    let out = dir.path().join("traces");
    // The first load starts at the stage's `since` (30 days before its now), the second
    // where the first stopped; `[load] lag` is 0 and re-sync off (tests/late_data.rs has it).
    let roots_between = |from: &str, to: &str| {
        let (from, to) = (
            from.parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
            to.parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
        );
        runs.iter()
            .filter(|r| r["parent_run_id"].is_null())
            .filter(|r| {
                let t = runlake::model::parse_timestamp(r["start_time"].as_str().unwrap()).unwrap();
                t >= from && t < to
            })
            .count() as u64
    };
    let mut loaded = 0;
    for (now, from) in [
        ("2026-10-20T00:00:00Z", "2026-09-20T00:00:00Z"),
        (NOW, "2026-10-20T00:00:00Z"),
    ] {
        let args = ["--now", now, "--set", "load.resync=0s"];
        let rows = rows_loaded(&run_json("traces.toml", &out, &args, &api));
        assert_eq!(rows, roots_between(from, now), "load up to {now}");
        assert!(rows > 0, "up to {now}");
        loaded += rows;
    }
    assert_eq!(
        common::dataset_rows(&out).len() as u64,
        loaded,
        "no row twice"
    );
}

#[test]
fn a_deployment_without_v2_is_refused_naming_what_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::sample_file(dir.path(), &SampleConfig::new("proj", 30, 16));
    let served = common::serve(
        &[("proj", &file)],
        EmulatorConfig {
            deployment: Deployment::V1Only,
            ..EmulatorConfig::default()
        },
    );
    for pipeline in ["traces.toml", "threads.toml"] {
        let out = dir.path().join(pipeline);
        let refused = runlake(pipeline, &out, &["--since", "30d"], &api(&served))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{pipeline}: {stderr}");
        assert!(
            stderr.contains("does not serve the v2 traces and threads API")
                && stderr.contains("SmithDB"),
            "{pipeline}: {stderr}"
        );
        assert!(common::data_files(&out, "parquet").is_empty());
    }
}

#[test]
fn a_flatten_fed_items_its_columns_cannot_read_is_refused_where_it_is_written() {
    let errors = |src: &str| -> Vec<String> {
        match runlake::config::parse(Path::new("p.toml"), src, &|_| None) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    };
    let pipeline = |kind: &str, column: &str| {
        format!(
            "[source]\nproject = \"p\"\n\n[stages.q]\ntype = \"{kind}\"\n\n[stages.rows]\ntype = \"flatten\"\ninputs = [\"q\"]\ncolumns = [{{ name = \"c\", from = \"{column}\" }}]\n\n[sinks.out]\ntype = \"parquet\"\ninputs = [\"rows\"]\npath = \"out\"\n"
        )
    };
    assert_eq!(
        errors(&pipeline("query_traces", "trace.total_tokens")),
        Vec::<String>::new()
    );
    assert_eq!(
        errors(&pipeline("query_threads", "thread.trace_ids")),
        Vec::<String>::new()
    );
    let e = errors(&pipeline("query_runs", "trace.total_tokens"));
    assert!(
        e.iter()
            .any(|m| m.starts_with("p.toml:9:11: stages.rows.inputs:")
                && m.contains("produces runs, which a flatten cannot take")),
        "{e:?}"
    );
    let e = errors(&pipeline("query_threads", "name"));
    assert!(
        e.iter()
            .any(|m| m.contains("produces threads, which a flatten cannot take")),
        "{e:?}"
    );
    let e = errors(&pipeline("query_threads", "thread.turn"));
    assert!(
        e.iter()
            .any(|m| m.starts_with("p.toml:10:11: stages.rows.columns.c:")
                && m.contains("unknown thread field \"turn\"")
                && m.contains("thread.trace_ids")),
        "{e:?}"
    );
    let e = errors(&pipeline("query_traces", "trace.total_tokens").replace(
        "type = \"query_traces\"",
        "type = \"query_traces\"\npage_size = 500\ntrace_filter = 'eq(nme, 1)'",
    ));
    assert!(
        e.iter()
            .any(|m| m.starts_with("p.toml:6:13: stages.q.page_size:")
                && m.contains("between 1 and 100")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("p.toml:7:20: stages.q.trace_filter: bad filter")),
        "{e:?}"
    );
}

#[test]
fn a_threads_turns_are_requested_only_when_a_column_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (file, served) = served_project(dir.path(), 250, 17);
    let api = api(&served);
    let pipeline = |columns: &str| {
        let path = dir.path().join(format!("p{}.toml", columns.len()));
        std::fs::write(
            &path,
            format!(
                "[stages.threads]\ntype = \"query_threads\"\n\n[stages.rows]\ntype = \"flatten\"\ninputs = [\"threads\"]\ncolumns = [{columns}]\n\n[sinks.out]\ntype = \"parquet\"\ninputs = [\"rows\"]\n"
            ),
        )
        .unwrap();
        path
    };
    // Requests the emulator answered for one run, and the rows written.
    let requests = |path: &Path, extra: &[&str]| {
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let mut args = vec!["--now", NOW, "--since", "30d"];
        args.extend(extra);
        let summary = run_json(path.to_str().unwrap(), &out, &args, &api);
        (
            summary["requests"]["requests"].as_u64().unwrap(),
            rows_loaded(&summary),
        )
    };
    let summary_only = pipeline(
        r#"{ name = "t", from = "thread.thread_id" }, { name = "n", from = "thread.turns" }"#,
    );
    let with_turns = pipeline(
        r#"{ name = "t", from = "thread.thread_id" }, { name = "ids", from = "thread.trace_ids" }"#,
    );
    let (base, threads) = requests(&summary_only, &[]);
    assert!(threads > 20, "{threads} threads");
    let roots = common::read_runs(&file)
        .iter()
        .filter(|r| r["parent_run_id"].is_null())
        .count() as u64;
    // Turns from one runs query of the roots: `/info` (read once to choose the runs API) and
    // v2's pages of 1,000 (every root started in the window).
    let (by_roots, rows) = requests(&with_turns, &[]);
    assert_eq!((by_roots, rows), (base + 1 + roots.div_ceil(1000), threads));
    // Turns per thread: one request each (no thread has 100 turns here).
    let (per_thread, rows) = requests(
        &with_turns,
        &["--set", "stages.threads.turns_from=per_thread"],
    );
    assert_eq!((per_thread, rows), (base + threads, threads));
}
