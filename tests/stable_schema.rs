//! A table's column types do not depend on which values a load happened to see: payload
//! numbers are float64 whether a day saw `1` or `0.5`, a column a day saw only as null keeps
//! the committed type, and a value a committed column cannot hold fails the load naming the
//! column. DuckDB, pyarrow and polars read the loads as one table (independent readers).

mod common;

use std::path::Path;
use std::process::{Command, Output};

const PIPELINE: &str = r#"
name = "payloads"
[source]
project = "proj"
[load]
window = "1d"
[stages.roots]
type = "query_runs"
is_root = true
[stages.rows]
type = "flatten"
inputs = ["roots"]
columns = [{ name = "run_id", from = "id" }, { name = "start_time", from = "start_time" }]
expand = [
  { from = "inputs", prefix = "in." },
  { from = "feedback_stats", prefix = "fb.", stat = "avg" },
]
[sinks.out]
type = "parquet"
inputs = ["rows"]
"#;

/// A root run on `day` of October 2026 with these inputs and feedback averages.
fn run(id: u32, day: u32, inputs: serde_json::Value, score: f64) -> String {
    let id = format!("00000000-0000-4000-8000-{id:012}");
    serde_json::json!({
        "id": id, "trace_id": id, "parent_run_id": null,
        "session_id": "11111111-1111-4111-8111-111111111111",
        "name": "root", "run_type": "chain", "status": "success",
        "start_time": format!("2026-10-{day:02}T12:00:00.000000"),
        "end_time": format!("2026-10-{day:02}T12:00:01.000000"),
        "inputs": inputs, "outputs": {},
        "feedback_stats": { "score": { "n": 1, "avg": score } },
    })
    .to_string()
        + "\n"
}

fn load(dir: &Path, runs: &str, since: &str, until: &str) -> Output {
    let file = dir.join(format!("runs-{since}.jsonl"));
    std::fs::write(&file, runs).unwrap();
    let pipeline = dir.join("payloads.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    Command::new(env!("CARGO_BIN_EXE_runlake"))
        .args(["-q", "run"])
        .arg(&pipeline)
        .arg("--from")
        .arg(&file)
        .args(["--since", since, "--until", until, "--output"])
        .arg(dir.join("out"))
        .output()
        .unwrap()
}

#[test]
fn loads_that_saw_different_values_make_one_table_of_one_schema() {
    let dir = tempfile::tempdir().unwrap();
    // Day 1: whole numbers only (as Go's encoder behind v2 writes 1.0), a label.
    let day1 = run(
        1,
        1,
        serde_json::json!({ "n": 1, "label": "a", "big": 3 }),
        1.0,
    )
    .replace("\"avg\":1.0", "\"avg\":1");
    let ok = load(
        dir.path(),
        &day1,
        "2026-10-01T00:00:00Z",
        "2026-10-02T00:00:00Z",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Day 2: fractions, and the label only as null.
    let day2 = run(
        2,
        2,
        serde_json::json!({ "n": 2.5, "label": null, "big": 4 }),
        0.5,
    );
    let ok = load(
        dir.path(),
        &day2,
        "2026-10-02T00:00:00Z",
        "2026-10-03T00:00:00Z",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let out = dir.path().join("out");
    let check = r#"
import sys, duckdb, pyarrow.dataset as ds, polars as pl
root = sys.argv[1]
want = {"in.n": "double", "in.label": "string", "in.big": "double", "fb.score": "double"}
t = ds.dataset(root, format="parquet", partitioning="hive").to_table()
types = {f.name: str(f.type) for f in t.schema}
assert all(types[c] == w for c, w in want.items()), types
rows = sorted(t.select(["run_id", "in.n", "in.label", "fb.score"]).to_pylist(), key=lambda r: r["run_id"])
assert [(r["in.n"], r["in.label"], r["fb.score"]) for r in rows] == [(1.0, "a", 1.0), (2.5, None, 0.5)], rows
# DuckDB without union_by_name takes the first file's schema for all: it must fit all.
d = duckdb.sql(f"select \"in.n\", \"fb.score\" from read_parquet('{root}/**/*.parquet') order by run_id").fetchall()
assert d == [(1.0, 1.0), (2.5, 0.5)], d
p = pl.scan_parquet(f"{root}/**/*.parquet").select(["in.n", "in.label"]).collect()
assert p.schema["in.n"] == pl.Float64 and p.schema["in.label"] == pl.String, p.schema
print("3 passed, 0 failed")
"#;
    let output = Command::new(common::venv_python())
        .args(["-W", "ignore", "-c", check])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Day 3: a word where the committed column holds numbers: refused, naming the column,
    // and nothing of day 3 is published.
    let day3 = run(3, 3, serde_json::json!({ "n": "many" }), 0.5);
    let refused = load(
        dir.path(),
        &day3,
        "2026-10-03T00:00:00Z",
        "2026-10-04T00:00:00Z",
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("column \"in.n\" is float64") && stderr.contains("\"many\""),
        "{stderr}"
    );
    assert!(
        !common::data_files(&out, "parquet")
            .iter()
            .any(|f| f.to_string_lossy().contains("2026-10-03")),
        "day 3 not published"
    );
}
