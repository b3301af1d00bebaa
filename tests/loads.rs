//! Warehouse loads through the real binary: Hive partitions, window manifests, idempotent
//! re-runs, incremental state, resumable backfills, kills at random points, S3 through a
//! real S3-compatible server, and Arrow IPC on stdout.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{data_files, dataset_rows, sample_file, serve};
use runlake::emulator::EmulatorConfig;
use runlake::sample::SampleConfig;

const KEY: &str = "load-test-key";

fn pipeline(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pipelines")
        .join(name)
}

/// `runlake run` against `url` with the default `api = auto` (v2 on the emulator's default
/// deployment, which has both; add `--set source.api=v1` for v1). The emulator is not
/// LangSmith Cloud, so nothing is paced.
fn runlake(url: &str, file: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runlake"));
    c.args(["-q", "run"]).arg(pipeline(file)).args(args);
    c.env("LANGSMITH_ENDPOINT", url)
        .env("LANGSMITH_API_KEY", KEY)
        .env_remove("LANGSMITH_PROJECT")
        .env_remove("LANGSMITH_WORKSPACE_ID");
    c
}

fn ok(mut c: Command) -> (Output, serde_json::Value) {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (out, summary)
}

fn ids(root: &Path) -> Vec<String> {
    let mut out = vec![];
    for file in data_files(root, "parquet") {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch.column_by_name("id").unwrap();
            let col = runlake::arrow::array::AsArray::as_string::<i32>(col);
            out.extend(col.iter().map(|s| s.unwrap().to_string()));
        }
    }
    out.sort();
    out
}

fn start_us(run: &serde_json::Value) -> i64 {
    runlake::model::parse_timestamp(run["start_time"].as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

fn write_runs(path: &Path, runs: &[&serde_json::Value]) {
    let text: String = runs.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn incremental_runs_add_exactly_the_new_runs_and_a_window_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 120, 11);
    sample.days = 6;
    let full = sample_file(dir.path(), &sample);
    let runs = common::read_runs(&full);
    let end = sample.end;
    let cut = end - chrono::TimeDelta::days(2);
    let early: Vec<&serde_json::Value> = runs
        .iter()
        .filter(|r| start_us(r) < cut.timestamp_micros())
        .collect();
    let early_path = dir.path().join("early.jsonl");
    write_runs(&early_path, &early);
    let out = dir.path().join("lake");
    let out_s = out.display().to_string();
    let common_args = |now: chrono::DateTime<chrono::Utc>| {
        vec![
            "--project".to_string(),
            "proj".into(),
            "--output".into(),
            out_s.clone(),
            "--now".into(),
            now.to_rfc3339(),
            "--json".into(),
            "--set".into(),
            "stages.runs.since=10d".into(),
            // Without re-reading a trailing period (resync has its own tests).
            "--set".into(),
            "load.resync=0s".into(),
        ]
    };

    // First incremental run: only the early data exists, up to `cut`.
    {
        let emu = serve(&[("proj", &early_path)], EmulatorConfig::default());
        let args = common_args(cut);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, summary) = ok(runlake(&emu.url, "runs.toml", &args));
        assert_eq!(summary["mode"], "incremental");
    }
    let mut want: Vec<String> = early
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(ids(&out), want);
    // Every file sits in the date partition of its runs' start.
    for file in data_files(&out, "parquet") {
        let part = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        assert!(part.starts_with("date=2026-"), "{}", file.display());
    }

    // New data arrives; the next run continues where the last one stopped.
    let emu = serve(&[("proj", &full)], EmulatorConfig::default());
    let later = end + chrono::TimeDelta::minutes(1);
    let args = common_args(later);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, summary) = ok(runlake(&emu.url, "runs.toml", &args));
    let window = &summary["windows"][0]["window"];
    assert_eq!(
        runlake::model::parse_timestamp(window["start"].as_str().unwrap()),
        Some(cut),
        "continues from the committed end"
    );
    let mut want: Vec<String> = runs
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(ids(&out), want, "every run exactly once");
    let before = dataset_rows(&out);

    // Nothing new: up to date, nothing changes.
    let (_, summary) = ok(runlake(&emu.url, "runs.toml", &args));
    assert_eq!(summary["windows"].as_array().unwrap().len(), 0);
    assert_eq!(dataset_rows(&out), before);

    // Re-running a finished window replaces it with the same rows.
    let w = format!("{}/{}", cut.to_rfc3339(), later.to_rfc3339());
    let mut again = args.clone();
    again.extend(["--window", &w]);
    let (_, summary) = ok(runlake(&emu.url, "runs.toml", &again));
    assert_eq!(summary["mode"], "window");
    assert!(summary["rows"].as_u64().unwrap() > 0);
    assert_eq!(dataset_rows(&out), before, "a re-run never duplicates rows");

    // A window that straddles a committed one is refused, with what to do.
    let straddle = format!(
        "{}/{}",
        (cut - chrono::TimeDelta::hours(1)).to_rfc3339(),
        (cut + chrono::TimeDelta::hours(1)).to_rfc3339()
    );
    let mut bad = args.clone();
    bad.extend(["--window", &straddle]);
    let out2 = runlake(&emu.url, "runs.toml", &bad).output().unwrap();
    let err = String::from_utf8_lossy(&out2.stderr);
    assert!(!out2.status.success() && err.contains("overlaps"), "{err}");
    assert_eq!(dataset_rows(&out), before);

    // Manifests and staging are hidden from readers; staging is gone.
    assert!(!out.join("_staging").exists());
    let manifests = data_files(&out.join("_runlake/runs/out/windows"), "json");
    assert_eq!(manifests.len(), 2);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifests[0]).unwrap()).unwrap();
    for key in [
        "files",
        "rows",
        "window",
        "schema",
        "pipeline_hash",
        "runlake_version",
    ] {
        assert!(!m[key].is_null(), "manifest has {key}: {m}");
    }
    assert!(!String::from_utf8_lossy(&std::fs::read(&manifests[0]).unwrap()).contains(KEY));
}

#[test]
fn the_api_key_appears_in_nothing_a_run_prints_or_writes() {
    let secret = "lsv2_pt_0123456789SECRETabcdef";
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 60, 31);
    sample.days = 3;
    let data = sample_file(dir.path(), &sample);
    let emu = serve(
        &[("proj", &data)],
        EmulatorConfig {
            api_key: Some(secret.into()),
            ..Default::default()
        },
    );
    let now = (sample.end + chrono::TimeDelta::minutes(1)).to_rfc3339();
    let out = dir.path().join("out");
    // Everything logged at trace level, the JSON summary, then a run with a revoked key.
    let run = |key: &str, out: &Path| {
        let mut c = runlake(
            &emu.url,
            "tool_usage.toml",
            &[
                "--project",
                "proj",
                "--now",
                &now,
                "--json",
                "--output",
                out.to_str().unwrap(),
            ],
        );
        c.env("LANGSMITH_API_KEY", key).env("RUST_LOG", "trace");
        c.output().unwrap()
    };
    let good = run(secret, &out);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        String::from_utf8_lossy(&good.stderr).contains("TRACE"),
        "trace logging is on"
    );
    let revoked = run(&format!("{secret}-revoked"), &dir.path().join("out2"));
    assert_eq!(revoked.status.code(), Some(3), "an auth failure");
    let mut seen = vec![good.stdout, good.stderr, revoked.stdout, revoked.stderr];
    let mut dirs = vec![dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                seen.push(std::fs::read(&path).unwrap());
            }
        }
    }
    assert!(seen.len() > 6, "output files were read");
    for bytes in &seen {
        assert!(
            !String::from_utf8_lossy(bytes).contains("0123456789SECRET"),
            "the key leaked"
        );
    }
}

#[test]
fn replace_swaps_the_partitions_a_window_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 60, 12);
    sample.days = 3;
    let data = sample_file(dir.path(), &sample);
    let emu = serve(&[("proj", &data)], EmulatorConfig::default());
    let out = dir.path().join("lake");
    let day = (sample.end - chrono::TimeDelta::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let args = [
        "--project",
        "proj",
        "--output",
        out.to_str().unwrap(),
        "--window",
        &day,
        "--set",
        "sinks.out.disposition=replace",
    ];
    ok(runlake(&emu.url, "runs.toml", &args));
    let first = dataset_rows(&out);
    assert!(!first.is_empty());
    // A stray file from elsewhere in the same partition, e.g. an older export.
    let part = out.join(format!("date={day}"));
    std::fs::copy(
        &data_files(&part, "parquet")[0],
        part.join("old-export.parquet"),
    )
    .unwrap();
    assert_ne!(dataset_rows(&out), first);
    let (_, summary) = ok(runlake(
        &emu.url,
        "runs.toml",
        &[&args[..], &["--json"]].concat(),
    ));
    assert_eq!(
        dataset_rows(&out),
        first,
        "the partition holds exactly the window"
    );
    assert_eq!(summary["windows"][0]["sinks"]["out"]["removed"], 1);
}

#[test]
fn hostile_partition_values_stay_inside_the_output_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 40, 13);
    sample.days = 2;
    let data = sample_file(dir.path(), &sample);
    let mut runs = common::read_runs(&data);
    let hostile = [
        "../../etc".to_string(),
        "a/b".into(),
        "nul\0byte".into(),
        "..".into(),
        "_hidden".into(),
        ".dot".into(),
        "x".repeat(300),
        "ü".repeat(150),
    ];
    for (i, r) in runs.iter_mut().enumerate() {
        r["name"] = serde_json::Value::String(hostile[i % hostile.len()].clone());
    }
    let path = dir.path().join("hostile.jsonl");
    write_runs(&path, &runs.iter().collect::<Vec<_>>());
    let emu = serve(&[("proj", &path)], EmulatorConfig::default());
    let root = dir.path().join("deep/lake");
    let now = (sample.end + chrono::TimeDelta::minutes(1)).to_rfc3339();
    ok(runlake(
        &emu.url,
        "runs.toml",
        &[
            "--project",
            "proj",
            "--output",
            root.to_str().unwrap(),
            "--now",
            &now,
            "--set",
            r#"sinks.out.partition_by=["date", "name"]"#,
        ],
    ));
    // Nothing was written outside the root, and every run is visible to a reader.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        outside.iter().collect::<HashSet<_>>(),
        ["deep", "proj.jsonl", "hostile.jsonl"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .iter()
            .collect()
    );
    let files = data_files(&root, "parquet");
    let names: HashSet<String> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).unwrap();
            assert_eq!(rel.components().count(), 3, "{}", rel.display());
            for c in rel.components() {
                let c = c.as_os_str().to_string_lossy();
                assert!(c.len() <= 255 && c != ".." && !c.starts_with('.') && !c.starts_with('_'));
            }
            rel.components()
                .nth(1)
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), hostile.len(), "{names:?}");
    assert_eq!(ids(&root).len(), runs.len());
    assert!(names.contains("name=%2E.%2F..%2Fetc"), "{names:?}");
}

/// The interrupted and the uninterrupted loads must end with the same rows.
fn reference_rows(url: &str, args: &[&str], dir: &Path) -> (Vec<String>, f64) {
    let out = dir.join("reference");
    let started = Instant::now();
    ok(runlake(
        url,
        "tool_usage.toml",
        &[args, &["--output", out.to_str().unwrap()]].concat(),
    ));
    (dataset_rows(&out), started.elapsed().as_secs_f64())
}

/// Every data file a reader sees must be a complete Parquet file of a committed window, or
/// of a publish whose journal the next run rolls back (a kill between its renames).
fn assert_visible_files_complete_and_accounted_for(root: &Path, bookkeeping: &Path) {
    let mut accounted = HashSet::new();
    for kind in ["windows", "journal"] {
        for f in data_files(&bookkeeping.join(kind), "json") {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            for file in doc["files"].as_array().unwrap() {
                // Manifests list {path, rows, bytes}; journals list paths.
                let path = file["path"].as_str().or(file.as_str()).unwrap();
                accounted.insert(root.join(path));
            }
        }
    }
    for f in data_files(root, "parquet") {
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&f).unwrap(),
        )
        .unwrap_or_else(|e| panic!("a reader saw a partial file {}: {e}", f.display()));
        assert!(
            accounted.contains(&f),
            "{} is visible but neither committed nor journaled",
            f.display()
        );
    }
}

#[test]
fn sigkill_at_random_points_then_resume_gives_the_uninterrupted_dataset_on_v2_and_v1() {
    // One after the other: kill timing is measured against a reference run, which a second
    // such test running beside it would skew.
    sigkill_at_random_points_then_resume("v2");
    sigkill_at_random_points_then_resume("v1");
}

fn sigkill_at_random_points_then_resume(api: &str) {
    let api = format!("source.api={api}");
    let dir = tempfile::tempdir().unwrap();
    // Slow answers stretch the run so kills land in every phase: queries, root fetches,
    // Parquet writing, publishing.
    let (emu, sample) = common::serve_slow_sample(dir.path(), 400, 8, 14, 0.5, 60);
    let since = (sample.end - chrono::TimeDelta::days(8)).to_rfc3339();
    let until = sample.end.to_rfc3339();
    let args = [
        "--project",
        "proj",
        "--since",
        &since,
        "--until",
        &until,
        "--set",
        "load.window=1d",
        "--set",
        &api,
        "--json",
    ];
    let (want, mut full_secs) = reference_rows(&emu.url, &args, dir.path());
    assert!(want.len() > 100);

    let out = dir.path().join("killed");
    let full: Vec<&str> = [&args[..], &["--output", out.to_str().unwrap()]].concat();
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut kills = 0;
    let mut resumed_with_skips = false;
    let mut attempts = 0;
    while kills < 10 {
        attempts += 1;
        assert!(
            attempts < 60,
            "only {kills} kills landed in {attempts} attempts"
        );
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // A resumed run has less left to do, so kill within the first 70% of a full run.
        let delay = Duration::from_secs_f64(full_secs * 0.7 * (rng % 1000) as f64 / 1000.0);
        let mut child = runlake(&emu.url, "tool_usage.toml", &full)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if started.elapsed() >= delay {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
                break true;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let status = child.wait().unwrap();
        if !killed && status.success() {
            // A machine busier during the reference run than now would put every kill after
            // the end: aim at what a whole run takes now.
            full_secs = full_secs.min(started.elapsed().as_secs_f64());
        }
        let mut stdout = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        if !killed && !status.success() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("a run that was not killed failed ({status}): {stderr}");
        }
        if status.success() {
            // It finished before the kill; start over so later kills hit a fresh load.
            let summary: serde_json::Value =
                serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
            resumed_with_skips |= summary["windows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["status"] == "skipped");
            assert_eq!(dataset_rows(&out), want);
            std::fs::remove_dir_all(&out).unwrap();
        }
        assert_visible_files_complete_and_accounted_for(
            &out,
            &out.join("_runlake/tool_usage/tool_usage"),
        );
    }
    // The resumed run skips the windows committed before the kills.
    let (_, summary) = ok(runlake(&emu.url, "tool_usage.toml", &full));
    resumed_with_skips |= summary["windows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["status"] == "skipped");
    assert!(
        resumed_with_skips,
        "no resumed run skipped a committed window"
    );
    assert_eq!(
        dataset_rows(&out),
        want,
        "resumed dataset = uninterrupted dataset"
    );
    assert!(!out.join("_staging").exists(), "staging cleaned");
    // And a repeated backfill of finished windows changes nothing.
    ok(runlake(&emu.url, "tool_usage.toml", &full));
    assert_eq!(dataset_rows(&out), want);
}

#[test]
fn arrow_ipc_sinks_are_zstd_compressed_and_read_like_the_parquet_sink() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 120, 21);
    sample.days = 3;
    let data = sample_file(dir.path(), &sample);
    let emu = serve(&[("proj", &data)], EmulatorConfig::default());
    // tool_usage with two Arrow IPC sinks beside its Parquet one.
    let file = dir.path().join("three_sinks.toml");
    let shipped = std::fs::read_to_string(pipeline("tool_usage.toml")).unwrap();
    std::fs::write(
        &file,
        format!(
            "{shipped}\n[sinks.ipc]\ntype = \"arrow_ipc\"\ninputs = [\"rows\"]\n\n\
             [sinks.ipc_plain]\ntype = \"arrow_ipc\"\ninputs = [\"rows\"]\ncompression = \"none\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let now = (sample.end + chrono::TimeDelta::minutes(1)).to_rfc3339();
    ok(runlake(
        &emu.url,
        file.to_str().unwrap(),
        &[
            "--project",
            "proj",
            "--now",
            &now,
            "--output",
            out.to_str().unwrap(),
        ],
    ));
    let bytes = |sink: &str| -> u64 {
        data_files(&out.join(sink), "arrow")
            .iter()
            .map(|f| f.metadata().unwrap().len())
            .sum()
    };
    assert!(
        bytes("ipc") * 2 < bytes("ipc_plain"),
        "zstd IPC {} bytes vs uncompressed {}",
        bytes("ipc"),
        bytes("ipc_plain")
    );
    // pyarrow reads each output as a Hive-partitioned dataset: same rows, same types.
    let python = common::venv_python();
    let script = "import sys, pyarrow.dataset as ds\n\
        def read(sink, fmt):\n\
        \x20   t = ds.dataset(f'{sys.argv[1]}/{sink}', format=fmt, partitioning='hive').to_table()\n\
        \x20   return t.sort_by('run_id')\n\
        parquet = read('tool_usage', 'parquet')\n\
        for sink in ['ipc', 'ipc_plain']:\n\
        \x20   ipc = read(sink, 'ipc')\n\
        \x20   assert ipc.schema.equals(parquet.schema), (ipc.schema, parquet.schema)\n\
        \x20   assert ipc.to_pylist() == parquet.to_pylist(), sink\n\
        print(parquet.num_rows, parquet.schema.field('tools_involved').type)\n";
    let reader = Command::new(python)
        .args(["-c", script])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        reader.status.success(),
        "{}",
        String::from_utf8_lossy(&reader.stderr)
    );
    let text = String::from_utf8_lossy(&reader.stdout);
    let rows = dataset_rows(&out.join("tool_usage")).len();
    assert!(rows > 10);
    assert_eq!(text.trim(), format!("{rows} list<item: string>"));
}

#[test]
fn arrow_ipc_on_stdout_reads_in_polars() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 80, 15);
    sample.days = 3;
    let data = sample_file(dir.path(), &sample);
    let runs = common::read_runs(&data);
    let emu = serve(&[("proj", &data)], EmulatorConfig::default());
    let now = (sample.end + chrono::TimeDelta::minutes(1)).to_rfc3339();
    let python = common::venv_python();
    let mut producer = runlake(
        &emu.url,
        "runs.toml",
        &["--project", "proj", "--now", &now, "--output", "-"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let reader = Command::new(python)
        .args([
            "-c",
            "import sys, polars as pl; df = pl.read_ipc_stream(sys.stdin.buffer); \
             print(df.height, df.schema['start_time'], df['id'].n_unique())",
        ])
        .stdin(producer.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(producer.wait().unwrap().success());
    let text = String::from_utf8_lossy(&reader.stdout);
    assert!(
        reader.status.success(),
        "{}",
        String::from_utf8_lossy(&reader.stderr)
    );
    let n = runs.len();
    assert_eq!(
        text.trim(),
        format!("{n} Datetime(time_unit='us', time_zone='UTC') {n}")
    );
}

/// A test tool serving on a free loopback port, killed when dropped.
struct LoopbackServer {
    child: std::process::Child,
    endpoint: String,
    /// The server's request log.
    log: tempfile::NamedTempFile,
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bin` (installed by `installer`); `configure` adds the port and where the server
/// logs its requests. Returns once the port accepts connections.
fn loopback_server(
    bin: PathBuf,
    installer: &str,
    configure: impl FnOnce(&mut Command, u16, &tempfile::NamedTempFile),
) -> LoopbackServer {
    assert!(bin.exists(), "no {}: run {installer} first", bin.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut command = Command::new(&bin);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    configure(&mut command, port, &log);
    let child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{} did not start", bin.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    LoopbackServer {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// A moto S3 server, from the project's Python environment; it logs requests to stderr.
fn s3_server() -> LoopbackServer {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    loopback_server(bin, "scripts/setup-python.sh", |c, port, log| {
        c.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Small parts, so that test-sized files go through multipart upload.
            .env("S3_UPLOAD_PART_MIN_SIZE", "4096")
            .stderr(log.reopen().unwrap());
    })
}

fn with_s3_env(mut c: Command, endpoint: &str) -> Command {
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("RUNLAKE_UPLOAD_PART_BYTES", "4096");
    c
}

/// Downloads every object under `prefix` into `dir`, keeping relative paths.
fn download(endpoint: &str, bucket: &str, prefix: &str, dir: &Path) -> Vec<String> {
    use object_store::{ObjectStore, ObjectStoreExt};
    runlake::ensure_crypto_provider();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use futures::TryStreamExt;
        let list: Vec<_> = store
            .list(Some(&object_store::path::Path::from(prefix)))
            .try_collect()
            .await
            .unwrap();
        let mut keys = vec![];
        for meta in list {
            let key = meta.location.as_ref().to_string();
            let rel = key.strip_prefix(&format!("{prefix}/")).unwrap().to_string();
            let bytes = store
                .get(&meta.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let path = dir.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
            keys.push(rel);
        }
        keys.sort();
        keys
    })
}

/// Loads four daily windows into an object store: a run killed halfway, then a resumed one.
/// `with_store` points a runlake command at the store; `download` copies `prefix` out of it
/// into a directory and lists the keys. The downloaded dataset must equal an uninterrupted
/// local run's, with no staging left.
fn killed_and_resumed_load_into(
    output: &str,
    with_store: &dyn Fn(Command) -> Command,
    download: &dyn Fn(&Path) -> Vec<String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (emu, sample) = common::serve_slow_sample(dir.path(), 300, 4, 16, 0.5, 50);
    let since = (sample.end - chrono::TimeDelta::days(4)).to_rfc3339();
    let until = sample.end.to_rfc3339();
    let args = [
        "--project",
        "proj",
        "--since",
        &since,
        "--until",
        &until,
        "--set",
        "load.window=1d",
    ];
    let (want, full_secs) = reference_rows(&emu.url, &args, dir.path());
    let store_args: Vec<&str> = [&args[..], &["--output", output]].concat();

    let mut child = with_store(runlake(&emu.url, "tool_usage.toml", &store_args))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs_f64(full_secs * 0.5));
    let _ = child.kill();
    child.wait().unwrap();
    ok(with_store(runlake(
        &emu.url,
        "tool_usage.toml",
        &store_args,
    )));

    let local = dir.path().join("downloaded");
    let keys = download(&local);
    assert!(
        keys.iter().all(|k| !k.starts_with("_staging")),
        "staging objects left: {keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("date=") && k.ends_with(".parquet"))
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("_runlake/tool_usage/tool_usage/windows/"))
    );
    assert_eq!(
        dataset_rows(&local),
        want,
        "dataset in the store = local uninterrupted dataset"
    );
}

#[test]
fn s3_round_trip_through_a_real_s3_server_including_a_killed_run() {
    let s3 = s3_server();
    // Create the bucket (moto accepts unsigned requests).
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        common::http()
            .put(format!("{}/lake", s3.endpoint))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
    killed_and_resumed_load_into(
        "s3://lake/exports/tool_usage",
        &|c| with_s3_env(c, &s3.endpoint),
        &|local| download(&s3.endpoint, "lake", "exports/tool_usage", local),
    );
    // Files bigger than a part went up in parts (moto logs each request).
    let log = std::fs::read_to_string(s3.log.path()).unwrap();
    let parts = log.lines().filter(|l| l.contains("partNumber=2")).count();
    assert!(
        log.contains("?uploads") && parts > 0,
        "no multipart upload in moto's log"
    );
}

/// Azurite, Microsoft's Azure Blob Storage emulator (from scripts/node); its debug log has
/// one entry per request.
fn azurite() -> LoopbackServer {
    let bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/node/node_modules/.bin/azurite-blob");
    loopback_server(bin, "scripts/setup-node.sh", |c, port, log| {
        c.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ])
            .arg("--debug")
            .arg(log.path());
    })
}

/// tests/python/azure_blob.py, the Azure SDK's view of the emulator.
fn azure_blob(endpoint: &str, args: &[&str]) -> String {
    let out = Command::new(common::venv_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/azure_blob.py"))
        .arg(endpoint)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn azure_round_trip_through_azurite_including_a_killed_run() {
    let az = azurite();
    azure_blob(&az.endpoint, &["create", "lake"]);
    killed_and_resumed_load_into(
        "az://lake/exports/tool_usage",
        &|mut c| {
            // object_store's emulator mode: the well-known Azurite account and key.
            c.env("AZURE_STORAGE_USE_EMULATOR", "true")
                .env("AZURITE_BLOB_STORAGE_URL", &az.endpoint)
                .env("RUNLAKE_UPLOAD_PART_BYTES", "4096");
            c
        },
        &|local| {
            let listed = azure_blob(
                &az.endpoint,
                &[
                    "download",
                    "lake",
                    "exports/tool_usage",
                    local.to_str().unwrap(),
                ],
            );
            let mut keys: Vec<String> = listed.lines().map(str::to_string).collect();
            keys.sort();
            keys
        },
    );
    // Files bigger than a part went up as blocks committed by a block list.
    let log = std::fs::read_to_string(az.log.path()).unwrap();
    assert!(
        log.contains("comp=block&") && log.contains("comp=blocklist"),
        "no block upload in Azurite's log"
    );
}

#[test]
fn daily_windows_give_the_same_rows_as_one_window_even_for_traces_across_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 600, 4);
    sample.days = 20;
    let generated = sample_file(dir.path(), &sample);
    let mut runs = common::read_runs(&generated);
    // Move one trace with two tool runs seconds apart so that midnight falls between them:
    // shift every timestamp of the trace, dotted orders included.
    let root_of = |r: &serde_json::Value| r["trace_id"].as_str().unwrap().to_string();
    let mut tools_by_trace: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for r in runs.iter().filter(|r| r["run_type"] == "tool") {
        tools_by_trace
            .entry(root_of(r))
            .or_default()
            .push(start_us(r));
    }
    let (trace, mut starts) = tools_by_trace
        .into_iter()
        .filter(|(_, s)| s.len() >= 2)
        .find(|(_, s)| s.iter().max().unwrap() - s.iter().min().unwrap() > 2_000_000)
        .expect("a trace with two tool runs over 2 s apart");
    starts.sort();
    let between = (starts[0] + starts[starts.len() - 1]) / 2;
    let midnight = (between.div_euclid(86_400_000_000) + 1) * 86_400_000_000;
    let delta = chrono::TimeDelta::microseconds(midnight - between);
    let shift = |t: &str| {
        let t = runlake::model::parse_timestamp(t).unwrap() + delta;
        runlake::model::format_naive_micros(&t)
    };
    for r in runs.iter_mut().filter(|r| root_of(r) == trace) {
        for field in ["start_time", "end_time"] {
            if let Some(t) = r[field].as_str() {
                r[field] = shift(t).into();
            }
        }
        let order: Vec<String> = r["dotted_order"]
            .as_str()
            .unwrap()
            .split('.')
            .map(|seg| {
                let (ts, id) = seg.split_at(22);
                let iso = format!(
                    "{}-{}-{}T{}:{}:{}.{}",
                    &ts[0..4],
                    &ts[4..6],
                    &ts[6..8],
                    &ts[9..11],
                    &ts[11..13],
                    &ts[13..15],
                    &ts[15..21]
                );
                let shifted = runlake::model::parse_timestamp(&iso).unwrap() + delta;
                format!("{}{id}", shifted.format("%Y%m%dT%H%M%S%6fZ"))
            })
            .collect();
        r["dotted_order"] = order.join(".").into();
    }
    let data = dir.path().join("shifted.jsonl");
    write_runs(&data, &runs.iter().collect::<Vec<_>>());
    let emu = serve(&[("proj", &data)], EmulatorConfig::default());
    let since = (sample.end - chrono::TimeDelta::days(20)).to_rfc3339();
    let until = sample.end.to_rfc3339();
    let load = |out: &Path, extra: &[&str], roots_memory_mb: &str| {
        let args: Vec<&str> = [
            &[
                "--project",
                "proj",
                "--since",
                &since,
                "--until",
                &until,
                "--output",
                out.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat();
        let mut c = runlake(&emu.url, "tool_usage.toml", &args);
        c.env("RUNLAKE_ROOTS_MEMORY_MB", roots_memory_mb);
        ok(c);
        dataset_rows(out)
    };
    // With no memory for roots, the single window fetches every root after its children; the
    // daily ones fetch them while the children stream in.
    let one = load(&dir.path().join("one"), &[], "0");
    let daily = load(
        &dir.path().join("daily"),
        &["--set", "load.window=1d"],
        "64",
    );
    assert_eq!(
        daily.len(),
        one.len(),
        "one row per trace, whatever the windows"
    );
    assert_eq!(daily, one);
}

#[test]
fn from_replays_run_files_on_s3_like_the_same_files_on_disk() {
    let s3 = s3_server();
    let dir = tempfile::tempdir().unwrap();
    let mut sample = runlake::sample::SampleConfig::new("proj", 200, 17);
    sample.days = 20;
    let file = common::sample_file(dir.path(), &sample);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, (second.join("\n") + "\n").as_bytes()).unwrap();
    // Half the runs plain, half gzipped, in two "directories"; bookkeeping beside them that
    // must not be read (moto accepts unsigned requests).
    let put = |key: &str, body: Vec<u8>| {
        let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
            common::http()
                .put(format!("{}/{key}", s3.endpoint))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success(), "{key}: {status}");
    };
    put("captured", vec![]);
    put(
        "captured/runs/a/part.jsonl",
        (first.join("\n") + "\n").into_bytes(),
    );
    put("captured/runs/b/part.jsonl.gz", gz.finish().unwrap());
    put("captured/runs/_state/junk.jsonl", b"not a run\n".to_vec());
    let run = |from: &str, out: &Path| {
        let mut c = with_s3_env(Command::new(env!("CARGO_BIN_EXE_runlake")), &s3.endpoint);
        c.args(["-q", "run"])
            .arg(pipeline("tool_usage.toml"))
            .args(["--from", from, "--project", "proj", "--since", "30d"])
            .args(["--now", "2026-11-01T00:10:00Z", "--output"])
            .arg(out);
        ok(c);
        common::dataset_rows(out)
    };
    let want = run(file.to_str().unwrap(), &dir.path().join("local"));
    assert!(want.len() > 20, "{} rows", want.len());
    assert_eq!(
        run("s3://captured/runs", &dir.path().join("remote")),
        want,
        "the same rows in the same partitions"
    );
}

#[test]
fn a_backfill_run_again_later_loads_only_what_is_missing() {
    // The cron job that reruns `--since 30d`: its range now overlaps the committed one.
    let dir = tempfile::tempdir().unwrap();
    let mut sample = runlake::sample::SampleConfig::new("proj", 300, 23);
    sample.days = 31;
    let file = common::sample_file(dir.path(), &sample);
    let run = |now: &str, out: &Path, extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runlake"));
        c.args(["-q", "run"])
            .arg(pipeline("tool_usage.toml"))
            .args(["--from", file.to_str().unwrap(), "--project", "proj"])
            .args(["--now", now, "--output"])
            .arg(out)
            .args(["--json"])
            .args(extra);
        ok(c).1
    };
    let out = dir.path().join("out");
    run("2026-10-31T00:00:00Z", &out, &["--since", "30d"]);
    let again = run("2026-11-01T00:10:00Z", &out, &["--since", "30d"]);
    let windows = again["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "only the gap: {windows:?}");
    assert_eq!(windows[0]["status"], "loaded");
    assert_eq!(
        windows[0]["window"]["start"], "2026-10-31T00:00:00Z",
        "{windows:?}"
    );
    // The same as one backfill over the union of both ranges.
    let once = dir.path().join("once");
    run(
        "2026-11-01T00:10:00Z",
        &once,
        &["--since", "2026-10-01T00:00:00Z"],
    );
    assert_eq!(common::dataset_rows(&out), common::dataset_rows(&once));
    // Run yet again: nothing left to load.
    let third = run("2026-11-01T00:10:00Z", &out, &["--since", "30d"]);
    assert!(
        third["windows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["status"] == "skipped"),
        "{third}"
    );
    assert_eq!(common::dataset_rows(&out), common::dataset_rows(&once));
    // --refresh reloads the range, and the committed windows it touches, whole.
    let refreshed = run(
        "2026-11-01T00:10:00Z",
        &out,
        &["--since", "30d", "--refresh"],
    );
    let windows = refreshed["windows"].as_array().unwrap();
    assert!(
        windows.iter().all(|w| w["status"] == "loaded"),
        "{windows:?}"
    );
    assert_eq!(common::dataset_rows(&out), common::dataset_rows(&once));
}
