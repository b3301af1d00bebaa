//! `runlake emulate` as users run it: prints its URL, serves the bundled sample, stops cleanly
//! on SIGTERM, and explains bad arguments.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn runlake() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runlake"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[tokio::test]
async fn serves_the_bundled_sample_and_stops_on_sigterm() {
    let mut child = runlake()
        .args([
            "-q",
            "emulate",
            "--port",
            "0",
            "--data",
            "agent-prod=data/sample/agent-prod.jsonl.zst",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "prints its loopback URL first: {url:?}"
    );

    runlake::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let sessions: serde_json::Value = http
        .get(format!("{url}/api/v1/sessions?name=agent-prod"))
        .header("x-api-key", "any")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions[0]["name"], "agent-prod");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean stop: {exit:?}");
}

#[test]
fn bad_data_arguments_say_what_is_wrong() {
    let out = runlake()
        .args(["emulate", "--port", "0", "--data", "nofile"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected NAME=FILE"));

    let out = runlake()
        .args(["emulate", "--port", "0", "--data", "p=does/not/exist.jsonl"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does/not/exist.jsonl") && err.contains("\"p\""),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\": \"a\", \"start_time\": \"2026-01-01T00:00:00\", \"session_id\": \"s\"}\nnot json\n").unwrap();
    let out = runlake()
        .args(["emulate", "--port", "0", "--data"])
        .arg(format!("p={}", bad.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.jsonl:2"),
        "names the file and line: {err}"
    );
}

#[test]
fn quickstart_exports_the_bundled_sample_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let out = runlake()
        .args(["quickstart", "--output"])
        .arg(dir.path().join("tool_usage"))
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGSMITH_ENDPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(".parquet") && stdout.contains("tools_involved"),
        "{stdout}"
    );
    let root = dir.path().join("tool_usage");
    let files = common::data_files(&root, "parquet");
    assert!(
        !files.is_empty()
            && files.iter().all(|f| f
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("date=")),
        "{files:?}"
    );
    assert!(!root.join("_staging").exists(), "staging is cleaned up");
    assert_eq!(
        common::data_files(&root.join("_runlake/tool_usage/tool_usage/windows"), "json").len(),
        1,
        "one committed window"
    );
}

#[test]
fn quickstart_runs_anywhere_with_the_built_in_pipeline_and_sample() {
    // An installed binary, run outside the repository: no pipelines/ and no data/ here.
    let dir = tempfile::tempdir().unwrap();
    let out = runlake()
        .arg("quickstart")
        .current_dir(dir.path())
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGSMITH_ENDPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("running the copy built into runlake")
            && stderr.contains("replaying the copy built into runlake"),
        "{stderr}"
    );
    // The same rows as from the repository's own files.
    let repo = tempfile::tempdir().unwrap();
    let from_repo = runlake()
        .args(["-q", "quickstart", "--output"])
        .arg(repo.path())
        .output()
        .unwrap();
    assert!(from_repo.status.success());
    let rows = common::dataset_rows(&dir.path().join("out/tool_usage"));
    assert!(rows.len() > 10, "{rows:?}");
    assert_eq!(rows, common::dataset_rows(repo.path()));
}

#[test]
fn convert_names_the_line_of_a_bad_run_or_bad_utf8_in_any_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = String::new();
    std::io::Read::read_to_string(
        &mut runlake::emulator::open_maybe_compressed(std::path::Path::new(&format!(
            "{}/data/sample/support-bot.jsonl.zst",
            env!("CARGO_MANIFEST_DIR")
        )))
        .unwrap(),
        &mut sample,
    )
    .unwrap();
    // Several input blocks of whole lines, then a broken line.
    let lines = sample.lines().count();
    assert!(sample.len() > 2 << 20, "the sample spans several blocks");
    let convert = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = runlake()
            .args(["-q", "convert"])
            .arg(&path)
            .arg("--output")
            .arg(dir.path().join("out"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = convert(
        "bad.jsonl",
        format!("{sample}{{\"id\": \"x\", broken\n").into_bytes(),
    );
    assert!(
        err.contains(&format!("bad.jsonl:{}: not a run", lines + 1)),
        "{err}"
    );
    let mut latin1 = sample.into_bytes();
    latin1.extend(b"{\"name\": \"caf\xe9\"}\n");
    let err = convert("latin1.jsonl", latin1);
    assert!(
        err.contains(&format!("latin1.jsonl:{}: not UTF-8", lines + 1)),
        "{err}"
    );
}

#[test]
fn convert_writes_every_run_once_as_typed_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = runlake()
        .args([
            "-q",
            "convert",
            "data/sample/support-bot.jsonl.zst",
            "--batch-rows",
            "100",
            "--output",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = runlake::emulator::open_maybe_compressed(std::path::Path::new(&format!(
        "{}/data/sample/support-bot.jsonl.zst",
        env!("CARGO_MANIFEST_DIR")
    )))
    .unwrap();
    let mut want: Vec<String> = reader
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut got = vec![];
    for path in common::data_files(dir.path(), "parquet") {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            assert!(matches!(
                batch
                    .schema()
                    .field_with_name("start_time")
                    .unwrap()
                    .data_type(),
                runlake::arrow::datatypes::DataType::Timestamp(..)
            ));
            let ids = runlake::arrow::array::AsArray::as_string::<i32>(
                batch.column_by_name("id").unwrap(),
            );
            got.extend(ids.iter().map(|s| s.unwrap().to_string()));
        }
    }
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "every run exactly once, whichever builder thread took it"
    );
}

#[test]
fn plan_shows_graph_queries_layout_and_dot_offline() {
    let out = runlake()
        .args([
            "plan",
            "pipelines/tool_usage.toml",
            "--project",
            "p",
            "--since",
            "2026-10-01T00:00:00Z",
            "--until",
            "2026-10-31T00:00:00Z",
            "--runs",
            "2028",
            "--traces",
            "765",
        ])
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGSMITH_ENDPOINT")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "stage by_trace (group_by_trace) <- tool_runs",
        "api: auto: v2 wherever /info offers it",
        r#"v2: one window, pages of 1,000: POST /api/v2/runs/query"#,
        r#""run_type":"TOOL""#,
        r#""min_start_time":"2026-10-01T00:00:00.000000Z""#,
        "v1: 5 window(s) of at most 7 days, pages of 100: POST /api/v1/runs/query",
        r#""run_type":"tool""#,
        r#""start_time":"2026-10-01T00:00:00.000000Z""#,
        "fetch roots: root runs by trace id, 1,000 per request on v2, 100 on v1",
        // 2 lookups (/info, the project) + 3 pages + 1 root fetch; within one window.
        "expected on v2: 6 requests (other 2, v2 4) for 2028 runs and 765 traces; at least 0 s",
        // 5 windows × 5 pages + 8 root fetches: 33 v1 requests at 15 per key per 10 s.
        "expected on v1: 35 requests (other 2, v1_longer 8, v1_up_to_7_days 25) for 2028 runs and 765 traces; at least 20 s",
        "partitions date, disposition append",
        "load: windows of the whole range",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    let dot = runlake()
        .args(["plan", "pipelines/tool_usage.toml", "--dot"])
        .output()
        .unwrap();
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(
        dot.starts_with("digraph") && dot.contains(r#""by_trace" -> "roots";"#),
        "{dot}"
    );
}
