//! Shared helpers for integration tests: sample projects and a loopback emulator.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use runlake::emulator::{Emulator, EmulatorConfig, Store};
use runlake::sample::{self, SampleConfig};

pub const KEY: &str = "test-key";

/// Writes a generated project to `dir/<name>.jsonl` and returns its path.
pub fn sample_file(dir: &Path, config: &SampleConfig) -> PathBuf {
    let path = dir.join(format!("{}.jsonl", config.project));
    let mut out = sample::open_writer(&path).unwrap();
    sample::generate(config, &mut out).unwrap();
    out.finish().unwrap();
    path
}

/// Every run of a JSONL file as parsed JSON.
pub fn read_runs(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub async fn start(projects: &[(&str, &Path)], config: EmulatorConfig) -> Emulator {
    let mut store = Store::default();
    for (name, path) in projects {
        store.load_project(name, path).unwrap();
    }
    Emulator::start(store, config).await.unwrap()
}

pub fn http() -> reqwest::Client {
    runlake::ensure_crypto_provider();
    reqwest::Client::builder().build().unwrap()
}

/// The project's Python (the independent readers, the SDK), from scripts/setup-python.sh.
pub fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "no Python test environment at {}: run scripts/setup-python.sh first",
        python.display()
    );
    python
}

/// Runs a Python check script from tests/python with the project's venv against the built
/// binary; fails unless the script ends with "N passed, 0 failed".
pub fn run_python_check(script: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new(venv_python())
        .args(["-W", "ignore"])
        .arg(root.join("tests/python").join(script))
        .arg("--runlake")
        .arg(env!("CARGO_BIN_EXE_runlake"))
        .output()
        .expect("run the Python check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

/// Every data file (by extension) under an output tree, skipping `_`/`.` bookkeeping, as a
/// reader globbing `**/*.ext` would see them.
#[allow(dead_code)]
pub fn data_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if runlake::sink::is_hidden(&path) {
            continue;
        }
        if path.is_dir() {
            out.extend(data_files(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The rows of a Parquet dataset as sorted text lines `partition dir | col=value …`: equal
/// when two outputs hold the same rows in the same partitions, whatever the file names.
pub fn dataset_rows(root: &Path) -> Vec<String> {
    rows_of(root, false)
}

fn rows_of(root: &Path, by_name: bool) -> Vec<String> {
    use runlake::arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut rows = vec![];
    for file in data_files(root, "parquet") {
        let dir = file
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{} is not a complete Parquet file: {e}", file.display()))
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let options = FormatOptions::default().with_null("∅");
            // Timestamps as µs: formatting a named time zone needs chrono-tz.
            let columns: Vec<runlake::arrow::array::ArrayRef> = batch
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    runlake::arrow::datatypes::DataType::Timestamp(..) => {
                        runlake::arrow::compute::cast(
                            c,
                            &runlake::arrow::datatypes::DataType::Int64,
                        )
                        .unwrap()
                    }
                    _ => c.clone(),
                })
                .collect();
            let formatters: Vec<_> = columns
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for i in 0..batch.num_rows() {
                let mut cells: Vec<String> = batch
                    .schema()
                    .fields()
                    .iter()
                    .zip(&formatters)
                    .zip(&columns)
                    .filter(|(_, c)| !(by_name && c.is_null(i)))
                    .map(|((f, fmt), _)| format!("{}={}", f.name(), fmt.value(i)))
                    .collect();
                if by_name {
                    cells.sort();
                }
                rows.push(format!("{dir} | {}", cells.join(" ")));
            }
        }
    }
    rows.sort();
    rows
}

/// [`dataset_rows`] as a table reader sees them by column name: each row's cells in name
/// order, null cells left out (a file may carry a column the table committed earlier as
/// null, another file may lack it; readers take both as null).
#[allow(dead_code)]
pub fn dataset_rows_by_name(root: &Path) -> Vec<String> {
    rows_of(root, true)
}

/// An emulator on its own runtime thread, for tests that drive the binary.
pub struct Served {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn serve(projects: &[(&str, &Path)], config: EmulatorConfig) -> Served {
    let projects: Vec<(String, PathBuf)> = projects
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_path_buf()))
        .collect();
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let refs: Vec<(&str, &Path)> = projects
                .iter()
                .map(|(n, p)| (n.as_str(), p.as_path()))
                .collect();
            let emu = start(&refs, config).await;
            url_tx.send(emu.url()).unwrap();
            let _ = stop_rx.await;
            emu.shutdown().await;
        });
    });
    Served {
        url: url_rx.recv().unwrap(),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// A generated project `proj` (`traces` traces over `days` days) served with a share `slow`
/// of the answers delayed by `delay_ms`, so a run lasts long enough to watch or to kill.
pub fn serve_slow_sample(
    dir: &Path,
    traces: usize,
    days: u32,
    seed: u64,
    slow: f64,
    delay_ms: u64,
) -> (Served, SampleConfig) {
    let mut sample = SampleConfig::new("proj", traces, seed);
    sample.days = days;
    let data = sample_file(dir, &sample);
    let config = EmulatorConfig {
        faults: runlake::emulator::FaultConfig {
            seed,
            slow,
            slow_delay: std::time::Duration::from_millis(delay_ms),
            ..Default::default()
        },
        ..Default::default()
    };
    (serve(&[("proj", &data)], config), sample)
}

/// `runlake -q run pipelines/<pipeline> --output <out>` plus `extra`, with no LangSmith
/// variables but `env`.
pub fn run_command(
    pipeline: &str,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_runlake"));
    c.args(["-q", "run"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("pipelines")
                .join(pipeline),
        )
        .arg("--output")
        .arg(out)
        .args(extra)
        .env_remove("LANGSMITH_API_KEY")
        .env_remove("LANGSMITH_ENDPOINT")
        .env_remove("LANGSMITH_PROJECT")
        .envs(env.iter().copied());
    c
}

/// `runlake -q run pipelines/<pipeline> --now 2026-11-01T00:10:00Z --since 30d --output <out>`
/// plus `extra`, with no LangSmith variables but `env`; must succeed; returns stderr.
pub fn run_30_days(pipeline: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = run_command(
        pipeline,
        out,
        &["--now", "2026-11-01T00:10:00Z", "--since", "30d"],
        env,
    );
    c.args(extra);
    let output = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{c:?}: {stderr}");
    stderr
}
