//! What users read when something is wrong: one snapshot of `runlake`'s stderr and exit code
//! per class of bad input, with temp paths and ports normalised. Each message should say what
//! is wrong and what to do about it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use runlake::emulator::{Emulator, EmulatorConfig};

const SAMPLE: &str = "data/sample/agent-prod.jsonl.zst";
const PROJECT: &str = "agent-prod";
const KEY: &str = "the-right-key";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory holding pipeline files; runlake runs inside it (so no
/// config/defaults.toml of the repository applies).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `pipelines/tool_usage.toml` with each `(from, to)` replaced (each must occur).
    fn tool_usage(&self, name: &str, edits: &[(&str, &str)]) -> PathBuf {
        let mut src = std::fs::read_to_string(repo().join("pipelines/tool_usage.toml")).unwrap();
        for (from, to) in edits {
            assert!(
                src.contains(from),
                "tool_usage.toml no longer contains {from:?}"
            );
            src = src.replacen(from, to, 1);
        }
        self.write(name, &src)
    }

    fn write(&self, name: &str, src: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, src).unwrap();
        path
    }

    /// Runs `runlake -q <args>` in the scratch directory with a clean LangSmith environment
    /// plus `env`; returns "exit code: N" and stderr, normalised.
    fn run(&self, args: &[&str], env: &[(&str, &str)], endpoint: Option<&str>) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runlake"));
        cmd.current_dir(self.path()).arg("-q").args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("LANGSMITH_")
                || k.starts_with("LANGCHAIN_")
                || k.starts_with("RUNLAKE_")
            {
                cmd.env_remove(k);
            }
        }
        cmd.env_remove("RUST_LOG").envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let tmp = self.path().to_string_lossy().into_owned();
        stderr = stderr.replace(&tmp, "[TMP]");
        if let Some(url) = endpoint {
            stderr = stderr.replace(url, "[ENDPOINT]");
        }
        format!(
            "exit code: {}\n{stderr}",
            out.status.code().map_or("signal".into(), |c| c.to_string())
        )
    }

    fn validate(&self, file: &Path) -> String {
        self.run(
            &["validate", file.file_name().unwrap().to_str().unwrap()],
            &[],
            None,
        )
    }
}

async fn emulator(config: EmulatorConfig) -> Emulator {
    common::start(&[(PROJECT, &repo().join(SAMPLE))], config).await
}

/// `runlake run tool_usage.toml` against `url` with these LangSmith variables.
fn run_against(url: &str, env: &[(&str, &str)], extra: &[&str]) -> String {
    let s = Scratch::new();
    s.tool_usage("tool_usage.toml", &[]);
    let mut all = vec![("LANGSMITH_ENDPOINT", url), ("LANGSMITH_PROJECT", PROJECT)];
    all.extend_from_slice(env);
    let mut args = vec!["run", "tool_usage.toml", "--output", "out"];
    args.extend_from_slice(extra);
    s.run(&args, &all, Some(url))
}

#[test]
fn malformed_toml() {
    let s = Scratch::new();
    let f = s.tool_usage("p.toml", &[("[stages.by_trace]", "[stages.by_trace")]);
    insta::assert_snapshot!(s.validate(&f));
}

#[test]
fn unknown_key() {
    let s = Scratch::new();
    let f = s.tool_usage("p.toml", &[("run_type = \"tool\"", "run_typ = \"tool\"")]);
    insta::assert_snapshot!(s.validate(&f));
}

#[test]
fn unknown_stage_input() {
    let s = Scratch::new();
    let f = s.tool_usage("p.toml", &[("inputs = [\"rows\"]", "inputs = [\"row\"]")]);
    insta::assert_snapshot!(s.validate(&f));
}

#[test]
fn cycle() {
    let s = Scratch::new();
    let f = s.tool_usage(
        "p.toml",
        &[("inputs = [\"tool_runs\"]", "inputs = [\"roots\"]")],
    );
    insta::assert_snapshot!(s.validate(&f));
}

#[test]
fn bad_filter_with_caret() {
    let s = Scratch::new();
    let f = s.tool_usage(
        "p.toml",
        &[(
            "since = \"30d\"",
            "since = \"30d\"\nfilter = \"and(eq(run_type, \\\"tool\\\"), gt(latancy, 5))\"",
        )],
    );
    insta::assert_snapshot!(s.validate(&f));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_api_key() {
    let emu = emulator(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..Default::default()
    })
    .await;
    insta::assert_snapshot!(run_against(&emu.url(), &[], &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_api_key_401() {
    let emu = emulator(EmulatorConfig {
        api_key: Some(KEY.into()),
        ..Default::default()
    })
    .await;
    insta::assert_snapshot!(run_against(
        &emu.url(),
        &[("LANGSMITH_API_KEY", "lsv2_wrong")],
        &[]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_scoped_key_without_workspace_403() {
    let emu = emulator(EmulatorConfig {
        workspace_id: Some("ws-1234".into()),
        ..Default::default()
    })
    .await;
    insta::assert_snapshot!(run_against(&emu.url(), &[("LANGSMITH_API_KEY", KEY)], &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_the_key_cannot_read_403() {
    let emu = emulator(EmulatorConfig {
        workspace_id: Some("ws-1234".into()),
        ..Default::default()
    })
    .await;
    insta::assert_snapshot!(run_against(
        &emu.url(),
        &[
            ("LANGSMITH_API_KEY", KEY),
            ("LANGSMITH_WORKSPACE_ID", "ws-other")
        ],
        &[]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_project() {
    let emu = emulator(EmulatorConfig::default()).await;
    insta::assert_snapshot!(run_against(
        &emu.url(),
        &[("LANGSMITH_API_KEY", KEY)],
        &["--project", "agent-prd"]
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_output_directory() {
    let emu = emulator(EmulatorConfig::default()).await;
    let url = emu.url();
    let s = Scratch::new();
    s.tool_usage("tool_usage.toml", &[]);
    // Under a regular file, so the directory cannot be created (whoever runs the test). The
    // output is checked before any request, with runs to export.
    s.write("not-a-dir", "");
    let out = s.run(
        &["run", "tool_usage.toml", "--output", "not-a-dir/out"],
        &[
            ("LANGSMITH_ENDPOINT", &url),
            ("LANGSMITH_PROJECT", PROJECT),
            ("LANGSMITH_API_KEY", KEY),
        ],
        Some(&url),
    );
    insta::assert_snapshot!(out);
}

#[tokio::test(flavor = "multi_thread")]
async fn disk_full() {
    // /dev/full answers every write with ENOSPC: the Arrow stream on stdout hits it.
    let emu = emulator(EmulatorConfig::default()).await;
    let url = emu.url();
    let s = Scratch::new();
    s.tool_usage("tool_usage.toml", &[]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runlake"));
    cmd.current_dir(s.path())
        // "Now" at the sample's end, so its runs are in the 30-day window whatever the date.
        .args(["-q", "run", "tool_usage.toml", "--output", "-"])
        .args(["--now", "2026-11-01T00:10:00Z"])
        .env("LANGSMITH_ENDPOINT", &url)
        .env("LANGSMITH_PROJECT", PROJECT)
        .env("LANGSMITH_API_KEY", KEY)
        .stdout(std::fs::File::create("/dev/full").unwrap());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&url, "[ENDPOINT]");
    insta::assert_snapshot!(format!(
        "exit code: {}\n{stderr}",
        out.status.code().unwrap()
    ));
}

/// `runlake run <file> --from <the sample>`: offline, so usage errors need no emulator.
fn run_offline(s: &Scratch, file: &str, extra: &[&str]) -> String {
    let sample = repo().join(SAMPLE);
    let mut args = vec!["run", file, "--from", sample.to_str().unwrap()];
    args.extend_from_slice(extra);
    s.run(&args, &[], None)
}

#[test]
fn no_project_anywhere() {
    let s = Scratch::new();
    s.tool_usage(
        "p.toml",
        &[("project = \"${LANGSMITH_PROJECT:-my-project}\"\n", "")],
    );
    insta::assert_snapshot!(run_offline(&s, "p.toml", &["--output", "out"]));
}

#[test]
fn sink_without_a_path_and_no_output() {
    let s = Scratch::new();
    s.tool_usage("p.toml", &[("path = \"out/tool_usage\"\n", "")]);
    insta::assert_snapshot!(run_offline(&s, "p.toml", &[]));
}

#[test]
fn stdout_with_two_sinks() {
    let s = Scratch::new();
    let src = std::fs::read_to_string(repo().join("pipelines/tool_usage.toml")).unwrap();
    s.write(
        "p.toml",
        &format!(
            "{src}\n[sinks.copy]\ntype = \"arrow_ipc\"\ninputs = [\"rows\"]\npath = \"out/copy\"\n"
        ),
    );
    insta::assert_snapshot!(run_offline(&s, "p.toml", &["--output", "-"]));
}

#[test]
fn window_overlapping_a_loaded_one() {
    let s = Scratch::new();
    s.tool_usage("p.toml", &[]);
    let first = run_offline(&s, "p.toml", &["--window", "2026-10-10", "--output", "out"]);
    assert!(first.starts_with("exit code: 0"), "{first}");
    insta::assert_snapshot!(run_offline(
        &s,
        "p.toml",
        &[
            "--window",
            "2026-10-09T12:00:00Z/2026-10-10T12:00:00Z",
            "--output",
            "out"
        ]
    ));
}

#[test]
fn from_a_path_that_does_not_exist() {
    let s = Scratch::new();
    s.tool_usage("p.toml", &[]);
    insta::assert_snapshot!(s.run(
        &[
            "run",
            "p.toml",
            "--from",
            "captured/runs.jsonl",
            "--output",
            "out"
        ],
        &[],
        None
    ));
}
