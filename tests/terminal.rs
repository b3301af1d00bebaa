//! The progress display on a real terminal (tmux): bars render while a load runs, log lines
//! print above them, and the screen is left clean for the summary. Plain log lines when not
//! a terminal.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use runlake::sample::SampleConfig;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux is needed for the terminal test (apt-get install tmux)");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Every answer 150 ms late: a few seconds of load to watch.
fn slow_emulator(dir: &Path) -> (common::Served, SampleConfig) {
    common::serve_slow_sample(dir, 200, 6, 21, 1.0, 150)
}

#[test]
fn progress_bars_render_on_a_terminal_and_end_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (emu, sample) = slow_emulator(dir.path());
    let socket = dir.path().join("tmux.sock");
    let socket = socket.to_str().unwrap();
    let command = format!(
        "LANGSMITH_ENDPOINT={} LANGSMITH_API_KEY=k {} run {}/pipelines/tool_usage.toml \
         --project proj --since {} --until {} --output {} --set load.window=1d \
         --set source.v1_requests_per_10s=100000 --set source.api=v1; echo EXIT=$?; sleep 60",
        emu.url,
        env!("CARGO_BIN_EXE_runlake"),
        env!("CARGO_MANIFEST_DIR"),
        (sample.end - chrono::TimeDelta::days(6)).to_rfc3339(),
        sample.end.to_rfc3339(),
        dir.path().join("out").display(),
    );
    tmux(&[
        "-S",
        socket,
        "new-session",
        "-d",
        "-s",
        "progress",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    let capture = || tmux(&["-S", socket, "capture-pane", "-p", "-t", "progress"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_bars = None;
    let screen = loop {
        let screen = capture();
        // The first full frame: stage lines appear as the stages start.
        let kinds = [
            "query_runs",
            "group_by_trace",
            "fetch_roots",
            "flatten",
            "sink",
        ];
        if saw_bars.is_none()
            && screen.contains("windows ")
            && kinds.iter().all(|k| screen.contains(k))
        {
            saw_bars = Some(screen.clone());
        }
        if screen.contains("EXIT=") {
            break screen;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    tmux(&["-S", socket, "kill-server"]);
    let bars = saw_bars.unwrap_or_else(|| panic!("no progress bars seen; last screen:\n{screen}"));
    // While running: the window bar with ETA, the request line, one line per stage in
    // pipeline order, and log lines above the bars.
    assert!(bars.contains("ETA") && bars.contains("requests "), "{bars}");
    let order: Vec<usize> = [
        "query_runs",
        "group_by_trace",
        "fetch_roots",
        "flatten",
        "sink",
    ]
    .iter()
    .map(|k| {
        bars.find(k)
            .unwrap_or_else(|| panic!("no {k} line:\n{bars}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "stages out of order:\n{bars}"
    );
    assert!(
        bars.find("INFO loading").unwrap() < bars.find("windows ").unwrap(),
        "{bars}"
    );
    // After: no bar left behind, the summary and a clean exit.
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("ETA"),
        "a progress bar was left on screen:\n{screen}"
    );
    assert!(
        screen.contains("pipeline tool_usage (Backfill) finished") && screen.contains("requests/s"),
        "{screen}"
    );
}

#[test]
fn plain_progress_lines_when_not_a_terminal_and_none_with_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let (emu, sample) = slow_emulator(dir.path());
    let run = |quiet: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runlake"));
        if quiet {
            c.arg("-q");
        }
        c.arg("run")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/tool_usage.toml"))
            .args(["--project", "proj", "--output"])
            .arg(dir.path().join(if quiet { "q" } else { "v" }))
            .args([
                "--since",
                &(sample.end - chrono::TimeDelta::days(2)).to_rfc3339(),
            ])
            .args(["--until", &sample.end.to_rfc3339()])
            .args(["--set", "source.v1_requests_per_10s=100000"])
            .env("LANGSMITH_ENDPOINT", &emu.url)
            .env("LANGSMITH_API_KEY", "k")
            .env("RUNLAKE_PROGRESS_SECS", "0.3");
        let out = c.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let stderr = run(false);
    assert!(
        stderr.contains("progress: windows") && stderr.contains("query_runs"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape codes off a terminal: {stderr:?}"
    );
    let quiet = run(true);
    assert!(!quiet.contains("progress:"), "{quiet}");
}

#[test]
fn sigterm_stops_with_exit_130_and_keeps_committed_windows() {
    let dir = tempfile::tempdir().unwrap();
    let (emu, sample) = slow_emulator(dir.path());
    let out = dir.path().join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_runlake"))
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/tool_usage.toml"))
        .args(["--project", "proj", "--output"])
        .arg(&out)
        .args([
            "--since",
            &(sample.end - chrono::TimeDelta::days(6)).to_rfc3339(),
        ])
        .args(["--until", &sample.end.to_rfc3339()])
        .args([
            "--set",
            "load.window=1d",
            "--set",
            "source.v1_requests_per_10s=100000",
        ])
        .env("LANGSMITH_ENDPOINT", &emu.url)
        .env("LANGSMITH_API_KEY", "k")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until a window is committed, then ask it to stop as a scheduler would.
    let manifests = out.join("_runlake/tool_usage/tool_usage/windows");
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::data_files(&manifests, "json").is_empty() {
        assert!(Instant::now() < deadline, "no window committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(!common::data_files(&manifests, "json").is_empty());
    assert!(!common::data_files(&out, "parquet").is_empty());
}
