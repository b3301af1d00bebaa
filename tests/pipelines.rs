//! Pipeline files: validation errors located by file:line:col, and pipelines run end to end
//! against the emulator with their Parquet / Arrow output read back.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use common::{KEY, data_files, sample_file, start};
use runlake::arrow::array::AsArray;
use runlake::arrow::datatypes::DataType;
use runlake::config;
use runlake::emulator::EmulatorConfig;
use runlake::langsmith::{ApiChoice, Client, ClientConfig, Secret};
use runlake::load::{LoadOptions, run as run_pipeline};
use runlake::sample::SampleConfig;
use runlake::source::Source;

fn errors_of(src: &str) -> Vec<String> {
    let env = |k: &str| (k == "SET").then(|| "yes".to_string());
    match config::parse(Path::new("p.toml"), src, &env) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn shipped_pipelines_validate() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).unwrap()
    {
        let path = entry.unwrap().path();
        if let Err(e) = config::load(&path) {
            panic!("{}: {e}", path.display());
        }
    }
}

const GOOD: &str = r#"
[source]
project = "p"

[stages.q]
type = "query_runs"
filter = 'eq(name, "x")'

[sinks.out]
type = "parquet"
inputs = ["q"]
path = "out"
"#;

#[test]
fn errors_name_file_line_column_and_key() {
    assert_eq!(errors_of(GOOD), Vec::<String>::new());

    let e = errors_of("[stages.q\ntype = 1");
    assert!(
        e[0].starts_with("p.toml:1:") && e[0].contains("malformed TOML"),
        "{e:?}"
    );

    let e = errors_of(&GOOD.replace("filter = ", "filtr = "));
    assert!(
        e.iter()
            .any(|m| m.starts_with("p.toml:7:1: stages.q.filtr:") && m.contains("unknown field")),
        "{e:?}"
    );

    let e = errors_of(&GOOD.replace(r#"inputs = ["q"]"#, r#"inputs = ["qq"]"#));
    assert!(
        e.iter().any(|m| m.starts_with(
            "p.toml:11:11: sinks.out.inputs: unknown input \"qq\" (did you mean \"q\"?); an input must be a stage of this file: q"
        )),
        "{e:?}"
    );

    let e = errors_of(&GOOD.replace(r#"eq(name, "x")"#, r#"eq(nme, "x")"#));
    // The caret column is the field inside the filter string: `filter = 'eq(` is 13 chars.
    assert!(
        e.iter()
            .any(|m| m
                .starts_with("p.toml:7:14: stages.q.filter: bad filter: unknown field \"nme\"")),
        "{e:?}"
    );

    let e = errors_of(&GOOD.replace("query_runs", "query_rns"));
    assert!(
        e.iter()
            .any(|m| m
                .contains("stages.q.type: unknown type \"query_rns\"; expected one of query_runs")),
        "{e:?}"
    );

    let e = errors_of(&GOOD.replace(r#"project = "p""#, r#"project = "${UNSET_VAR}""#));
    assert!(
        e.iter().any(|m| m
            .starts_with("p.toml:3:11: source.project: environment variable UNSET_VAR is not set")),
        "{e:?}"
    );
    assert!(
        errors_of(&GOOD.replace(r#"project = "p""#, r#"project = "${UNSET_VAR:-p}""#)).is_empty()
    );
}

#[test]
fn cycles_wrong_edges_and_every_error_at_once() {
    let src = r#"
[stages.q]
type = "query_runs"
since = "yesterday-ish"

[stages.a]
type = "filter"
inputs = ["b"]
filter = "eq(name, 'x')"

[stages.b]
type = "filter"
inputs = ["a"]
filter = "eq(name, 'x')"

[stages.g]
type = "group_by_trace"
inputs = ["q"]
aggregate.tools = { distinct = "name" }

[stages.f]
type = "flatten"
inputs = ["g"]

[sinks.out]
type = "parquet"
inputs = ["f", "nowhere"]
compression = "lz77"
"#;
    let e = errors_of(src);
    let has = |needle: &str| {
        assert!(
            e.iter().any(|m| m.contains(needle)),
            "missing {needle:?} in {e:#?}"
        )
    };
    has("p.toml:4:9: stages.q.since: \"yesterday-ish\" is neither a duration");
    has("cycle: a → b → a");
    has(
        "stages.f.inputs: \"g\" (group_by_trace) produces trace groups, which a flatten cannot take",
    );
    has("unknown input \"nowhere\"");
    has("unknown compression \"lz77\"");
    assert!(e.len() >= 5, "all errors collected at once: {e:#?}");
}

#[test]
fn compression_level_is_checked_against_the_codec() {
    let pipeline = |sink: &str| {
        format!(
            "[stages.q]\ntype = \"query_runs\"\n\n[sinks.out]\ntype = \"parquet\"\ninputs = [\"q\"]\n{sink}\n"
        )
    };
    assert_eq!(
        errors_of(&pipeline("compression_level = 19")),
        Vec::<String>::new()
    );
    let e = errors_of(&pipeline("compression_level = 23"));
    assert!(
        e.iter().any(|m| m.contains("p.toml:7:21: sinks.out.compression_level: zstd level 23 is out of range; expected 1 (fastest) to 22")),
        "{e:#?}"
    );
    let e = errors_of(&pipeline("compression = \"snappy\"\ncompression_level = 5"));
    assert!(
        e.iter().any(|m| m
            .contains("sinks.out.compression_level: a level applies to zstd only, not to snappy")),
        "{e:#?}"
    );
    let ipc = |sink: &str| {
        errors_of(&pipeline(sink).replace("type = \"parquet\"", "type = \"arrow_ipc\""))
    };
    assert_eq!(ipc("compression = \"none\""), Vec::<String>::new());
    let e = ipc("compression = \"snappy\"");
    assert!(
        e.iter().any(|m| m.contains(
            "sinks.out.compression: Arrow IPC files are compressed with zstd or not at all"
        )),
        "{e:#?}"
    );
    let e = ipc("compression_level = 3");
    assert!(
        e.iter()
            .any(|m| m.contains("compression_level is for Parquet sinks")),
        "{e:#?}"
    );
}

fn client(url: &str) -> Source {
    let c = ClientConfig {
        endpoint: url.to_string(),
        api_key: Some(Secret::new(KEY)),
        api: ApiChoice::V1,
        ..Default::default()
    };
    Arc::new(Client::new(c.unpaced()).unwrap())
}

fn read_parquet(
    dir: &Path,
) -> (
    Vec<runlake::arrow::record_batch::RecordBatch>,
    HashMap<String, String>,
) {
    let mut batches = vec![];
    let mut meta = HashMap::new();
    for path in data_files(dir, "parquet") {
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap();
        for kv in builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap()
        {
            meta.insert(kv.key.clone(), kv.value.clone().unwrap_or_default());
        }
        batches.extend(builder.build().unwrap().map(Result::unwrap));
    }
    (batches, meta)
}

#[tokio::test]
async fn tool_usage_end_to_end_with_typed_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 300, 6);
    sample.days = 20;
    let data = sample_file(dir.path(), &sample);
    let runs = common::read_runs(&data);
    let emu = start(&[("proj", &data)], EmulatorConfig::default()).await;
    let pipeline = config::load_with(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/tool_usage.toml"),
        &[("source.split_windows".into(), "false".into())],
    )
    .unwrap();
    let out = dir.path().join("out");
    let options = LoadOptions {
        now: Some(sample.end),
        project: Some("proj".into()),
        output: Some(out.display().to_string()),
        // A one-off export of the stage's 30 days: one window.
        since: runlake::model::durations::TimeSpec::parse("30d").ok(),
        ..Default::default()
    };
    let client = client(&emu.url());
    let summary = run_pipeline(&pipeline, client, &options).await.unwrap();

    // Expected: every trace with a tool run, and its distinct tool names.
    let mut tools: HashMap<String, HashSet<String>> = HashMap::new();
    for r in runs.iter().filter(|r| r["run_type"] == "tool") {
        tools
            .entry(r["trace_id"].as_str().unwrap().into())
            .or_default()
            .insert(r["name"].as_str().unwrap().into());
    }
    let tool_runs: usize = runs.iter().filter(|r| r["run_type"] == "tool").count();
    let (batches, meta) = read_parquet(&out);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, tools.len());
    let schema = batches[0].schema();
    assert_eq!(
        schema.field_with_name("run_id").unwrap().data_type(),
        &DataType::Utf8
    );
    assert!(matches!(
        schema
            .field_with_name("tools_involved")
            .unwrap()
            .data_type(),
        DataType::List(_)
    ));
    assert_eq!(
        schema
            .field_with_name("inputs")
            .unwrap()
            .extension_type_name(),
        Some("arrow.json")
    );
    for b in &batches {
        let ids = b.column_by_name("run_id").unwrap().as_string::<i32>();
        let lists = b.column_by_name("tools_involved").unwrap().as_list::<i32>();
        for i in 0..b.num_rows() {
            let got: HashSet<String> = lists
                .value(i)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect();
            assert_eq!(got, tools[ids.value(i)]);
        }
    }
    assert_eq!(meta["runlake.pipeline"], "tool_usage");
    assert!(
        meta.values().all(|v| !v.contains(KEY)),
        "no secret in file metadata"
    );
    // Requests: project lookup + tool pages + root batches, nothing else.
    assert_eq!(
        summary.requests.requests as usize,
        1 + tool_runs.div_ceil(100) + tools.len().div_ceil(100)
    );
    assert!(
        !out.join("_staging").exists()
            || std::fs::read_dir(out.join("_staging"))
                .unwrap()
                .next()
                .is_none()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn simple_exports_select_what_the_emulator_selects() {
    let dir = tempfile::tempdir().unwrap();
    let sample = SampleConfig::new("proj", 200, 9);
    let data = sample_file(dir.path(), &sample);
    let runs = common::read_runs(&data);
    let emu = start(&[("proj", &data)], EmulatorConfig::default()).await;
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/runs.toml");
    type Expect = Box<dyn Fn(&serde_json::Value) -> bool>;
    let cases: Vec<(Vec<(&str, &str)>, Expect)> = vec![
        (
            vec![("stages.runs.is_root", "true")],
            Box::new(|r| r["parent_run_id"].is_null()),
        ),
        (
            vec![("stages.runs.run_type", "llm")],
            Box::new(|r| r["run_type"] == "llm"),
        ),
        (
            vec![("stages.runs.filter", r#"has(tags, "2aa1cf4")"#)],
            Box::new(|r| r["tags"].as_array().unwrap().iter().any(|t| t == "2aa1cf4")),
        ),
    ];
    for (i, (sets, expect)) in cases.into_iter().enumerate() {
        let sets: Vec<(String, String)> = sets
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let pipeline = config::load_with(&file, &sets).unwrap();
        let out = dir.path().join(format!("out{i}"));
        let options = LoadOptions {
            now: Some(sample.end + chrono::TimeDelta::minutes(1)),
            project: Some("proj".into()),
            output: Some(out.display().to_string()),
            ..Default::default()
        };
        run_pipeline(&pipeline, client(&emu.url()), &options)
            .await
            .unwrap();
        let (batches, _) = read_parquet(&out);
        let got: HashSet<String> = batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("id")
                    .unwrap()
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let want: HashSet<String> = runs
            .iter()
            .filter(|r| expect(r))
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "case {sets:?}");
        let schema = batches[0].schema();
        assert!(
            matches!(schema.field_with_name("start_time").unwrap().data_type(), DataType::Timestamp(_, Some(tz)) if tz.as_ref() == "UTC")
        );
        assert_eq!(
            schema.field_with_name("total_tokens").unwrap().data_type(),
            &DataType::Int64
        );
        assert_eq!(
            schema.field_with_name("total_cost").unwrap().data_type(),
            &DataType::Float64
        );
    }
    // The Arrow IPC sink, through a local filter stage.
    let pipeline = config::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/slow_expensive_chains.toml"),
    )
    .unwrap();
    let out = dir.path().join("ipc");
    let options = LoadOptions {
        now: Some(sample.end + chrono::TimeDelta::minutes(1)),
        project: Some("proj".into()),
        output: Some(out.display().to_string()),
        ..Default::default()
    };
    let summary = run_pipeline(&pipeline, client(&emu.url()), &options)
        .await
        .unwrap();
    assert_eq!(summary.files, data_files(&out, "arrow").len());
    let mut n = 0;
    for f in data_files(&out, "arrow") {
        let reader =
            runlake::arrow::ipc::reader::FileReader::try_new(std::fs::File::open(f).unwrap(), None)
                .unwrap();
        n += reader.map(|b| b.unwrap().num_rows()).sum::<usize>();
    }
    let want = runs
        .iter()
        .filter(|r| {
            let latency = r["end_time"].as_str().map(|e| {
                let p = |s: &str| {
                    runlake::model::parse_timestamp(s)
                        .unwrap()
                        .timestamp_micros()
                };
                (p(e) - p(r["start_time"].as_str().unwrap())) as f64 / 1e6
            });
            r["run_type"] == "chain"
                && latency.unwrap_or(0.0) > 10.0
                && r["total_tokens"].as_i64().unwrap() > 5000
                && r["extra"]["metadata"]["environment"] == "production"
        })
        .count();
    assert_eq!(n, want);
    assert!(want > 0);
    emu.shutdown().await;
}

#[test]
fn pacing_settings_reach_the_client_and_bad_windows_point_at_the_key() {
    use runlake::langsmith::{Lane, Pacing};
    let src = GOOD.replace(
        "project = \"p\"",
        "project = \"p\"\nendpoint = \"http://127.0.0.1:1984\"\npacing = \"published\"\n\
         rate_window = \"500ms\"\nv1_key_requests_per_10s = 5\nother_requests_per_10s = 40",
    );
    let p = config::parse(Path::new("p.toml"), &src, &|_| None).unwrap();
    let c = runlake::cli::run::client_config(&p);
    assert_eq!(c.pacing, Pacing::Published);
    assert_eq!(c.rate_window, std::time::Duration::from_millis(500));
    assert_eq!(c.lane_limit(Lane::V1Key), Some(5));
    assert_eq!(c.lane_limit(Lane::Other), Some(40));
    assert_eq!(
        c.lane_limit(Lane::V2),
        Some(300),
        "published, though not Cloud"
    );
    // Without `pacing`, a loopback endpoint is unpaced, apart from the lanes given a limit.
    let p = config::parse(
        Path::new("p.toml"),
        &src.replace("pacing = \"published\"\n", ""),
        &|_| None,
    )
    .unwrap();
    let c = runlake::cli::run::client_config(&p);
    assert_eq!(c.lane_limit(Lane::V2), None);
    assert_eq!(c.lane_limit(Lane::V1Key), Some(5));
    let e = config::parse(
        Path::new("p.toml"),
        &src.replace("\"500ms\"", "\"soon\""),
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("source.rate_window") && e.contains("not a positive duration"),
        "{e}"
    );
}

#[test]
fn shared_defaults_fill_unset_source_settings() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = dir.path().join("defaults.toml");
    std::fs::write(
        &defaults,
        "[source]\nproject = \"from-defaults\"\nmax_attempts = 3\nv1_requests_per_10s = 7\n",
    )
    .unwrap();
    let env = |k: &str| (k == "RUNLAKE_DEFAULTS").then(|| defaults.display().to_string());
    let src = GOOD.replace("project = \"p\"", "max_attempts = 5");
    let p = config::parse(Path::new("p.toml"), &src, &env).unwrap();
    assert_eq!(p.source.project.as_deref(), Some("from-defaults"));
    assert_eq!(
        p.source.max_attempts,
        Some(5),
        "the pipeline's own setting wins"
    );
    assert_eq!(p.source.v1_requests_per_10s, Some(7));
    std::fs::write(&defaults, "[source]\nbogus = 1\n").unwrap();
    let e = config::parse(Path::new("p.toml"), &src, &env)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("defaults.toml:2:1") && e.contains("bogus"),
        "{e}"
    );
}
