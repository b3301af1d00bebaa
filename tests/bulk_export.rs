//! `runlake run --from <bulk export>`: the Parquet tree LangSmith's bulk export writes
//! (`export_id=…/tenant_id=…/session_id=…/resource=runs/year=…/month=…/day=…/*.parquet`)
//! gives exactly the rows the same runs give as JSONL, whichever of the shapes the reference
//! leaves open (§7.5, §7.6) each file takes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use runlake::arrow::array::{
    ArrayRef, BooleanArray, FixedSizeBinaryArray, Float64Array, Int64Array, ListArray, ListBuilder,
    RecordBatch, StringArray, StringBuilder, StructArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use runlake::arrow::buffer::OffsetBuffer;
use runlake::arrow::datatypes::{DataType, Field, Fields, Schema};
use runlake::sample::SampleConfig;
use serde_json::Value;
use serde_json::value::RawValue;

fn run(pipeline: &str, out: &Path, extra: &[&str]) -> String {
    common::run_30_days(pipeline, out, extra, &[])
}

type Line = BTreeMap<String, Box<RawValue>>;

/// A field's JSON text, `None` for null or absent.
fn raw<'a>(run: &'a Line, key: &str) -> Option<&'a str> {
    run.get(key).map(|v| v.get()).filter(|v| *v != "null")
}

fn value(run: &Line, key: &str) -> Value {
    raw(run, key).map_or(Value::Null, |v| serde_json::from_str(v).unwrap())
}

fn string(run: &Line, key: &str) -> Option<String> {
    raw(run, key).map(|v| serde_json::from_str(v).unwrap())
}

fn micros(run: &Line, key: &str) -> Option<i64> {
    string(run, key).map(|s| {
        runlake::model::parse_timestamp(&s)
            .unwrap()
            .timestamp_micros()
    })
}

/// One day's runs as a bulk-export file; `odd` picks the other half of the open shapes:
///
/// | | even days | odd days |
/// |---|---|---|
/// | times | `TIMESTAMP(NANOS, false)` (the old format) | µs, UTC (`v2_beta`) |
/// | ids | UTF-8 | `FIXED_LEN_BYTE_ARRAY(16)` UUIDs |
/// | `session_id` | none: the directory gives it | a column |
/// | `error` | the message | JSON text of the message |
/// | `tenant_id` | none | a column (not a v1 field: passed through) |
fn batch(runs: &[Line], odd: bool) -> RecordBatch {
    let utf8 = |key: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter(runs.iter().map(|r| string(r, key))))
    };
    let json_text = |key: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter(runs.iter().map(|r| raw(r, key))))
    };
    let id = |key: &str| -> ArrayRef {
        if !odd {
            return utf8(key);
        }
        let bytes = runs
            .iter()
            .map(|r| string(r, key).map(|s| *uuid::Uuid::parse_str(&s).unwrap().as_bytes()));
        Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(bytes, 16).unwrap())
    };
    let time = |key: &str| -> ArrayRef {
        let us = runs.iter().map(|r| micros(r, key));
        if odd {
            Arc::new(TimestampMicrosecondArray::from_iter(us).with_timezone("UTC"))
        } else {
            Arc::new(TimestampNanosecondArray::from_iter(
                us.map(|t| t.map(|t| t * 1000)),
            ))
        }
    };
    let strings = |key: &str| -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        for r in runs {
            match value(r, key) {
                Value::Array(items) => b.append_value(items.iter().map(|v| v.as_str())),
                Value::Null => b.append_null(),
                other => panic!("{key}: {other}"),
            }
        }
        Arc::new(b.finish())
    };
    let int = |key: &str| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            runs.iter().map(|r| value(r, key).as_i64()),
        ))
    };
    // Costs come as numbers or decimal strings; the export's column is a double.
    let cost = |key: &str| -> ArrayRef {
        Arc::new(Float64Array::from_iter(runs.iter().map(|r| {
            match value(r, key) {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => Some(s.parse().unwrap()),
                _ => None,
            }
        })))
    };
    let error: ArrayRef = if odd {
        Arc::new(StringArray::from_iter(runs.iter().map(|r| raw(r, "error"))))
    } else {
        utf8("error")
    };
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("id", id("id")),
        ("name", utf8("name")),
        ("run_type", utf8("run_type")),
        ("status", utf8("status")),
        ("start_time", time("start_time")),
        ("end_time", time("end_time")),
        ("first_token_time", time("first_token_time")),
        ("error", error),
        ("trace_id", id("trace_id")),
        ("dotted_order", utf8("dotted_order")),
        ("parent_run_id", id("parent_run_id")),
        ("parent_run_ids", strings("parent_run_ids")),
        ("reference_example_id", utf8("reference_example_id")),
        ("tags", strings("tags")),
        ("total_tokens", int("total_tokens")),
        ("prompt_tokens", int("prompt_tokens")),
        ("completion_tokens", int("completion_tokens")),
        ("total_cost", cost("total_cost")),
        ("prompt_cost", cost("prompt_cost")),
        ("completion_cost", cost("completion_cost")),
        ("thread_id", utf8("thread_id")),
        ("app_path", utf8("app_path")),
        ("trace_tier", utf8("trace_tier")),
        (
            "in_dataset",
            Arc::new(BooleanArray::from_iter(
                runs.iter().map(|r| value(r, "in_dataset").as_bool()),
            )),
        ),
        ("feedback", feedback(runs)),
    ];
    for key in [
        "inputs",
        "outputs",
        "extra",
        "events",
        "feedback_stats",
        "prompt_token_details",
        "completion_token_details",
    ] {
        columns.push((key, json_text(key)));
    }
    if odd {
        columns.push(("session_id", utf8("session_id")));
        columns.push((
            "tenant_id",
            Arc::new(StringArray::from(vec!["tenant"; runs.len()])),
        ));
    }
    // Every field the generator writes has a column: none is lost silently.
    for r in runs {
        for key in r.keys() {
            assert!(
                key == "session_id" || columns.iter().any(|(c, _)| c == key),
                "the test writes no column for the generated field {key:?}"
            );
        }
    }
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

/// The emulator's individual feedback entries as a nested column, LIST<STRUCT<…>>.
fn feedback(runs: &[Line]) -> ArrayRef {
    let entries: Vec<Vec<Value>> = runs
        .iter()
        .map(|r| match value(r, "feedback") {
            Value::Array(items) => items,
            _ => vec![],
        })
        .collect();
    let all: Vec<&Value> = entries.iter().flatten().collect();
    let text = |key: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter(all.iter().map(|e| e[key].as_str())))
    };
    let fields = Fields::from(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("comment", DataType::Utf8, true),
    ]);
    let values = StructArray::new(
        fields.clone(),
        vec![
            text("key"),
            Arc::new(Float64Array::from_iter(
                all.iter().map(|e| e["score"].as_f64()),
            )),
            text("value"),
            text("comment"),
        ],
        None,
    );
    let nulls = runs
        .iter()
        .map(|r| raw(r, "feedback").is_some())
        .collect::<Vec<_>>();
    Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Struct(fields), true)),
        OffsetBuffer::from_lengths(entries.iter().map(Vec::len)),
        Arc::new(values),
        Some(nulls.into()),
    ))
}

/// The runs of `jsonl` as LangSmith's bulk export lays them out under `root`, one file per
/// day of `start_time`; returns the number of files.
fn write_bulk_export(jsonl: &Path, root: &Path) -> usize {
    let text = std::fs::read_to_string(jsonl).unwrap();
    let mut by_day: BTreeMap<String, Vec<Line>> = BTreeMap::new();
    let mut session = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let run: Line = serde_json::from_str(line).unwrap();
        session = string(&run, "session_id");
        let day = string(&run, "start_time").unwrap()[..10].to_string();
        by_day.entry(day).or_default().push(run);
    }
    let session = session.unwrap();
    let prefix = root.join(format!(
        "export_id=0f1e2d3c/tenant_id=00000000-0000-4000-8000-00000000e1a0/session_id={session}"
    ));
    for (n, (day, runs)) in by_day.iter().enumerate() {
        let odd = n % 2 == 1;
        // Both layouts of the reference's CONFLICT: `resource=runs` (newer) and `runs`.
        let resource = if odd { "runs" } else { "resource=runs" };
        let dir = prefix.join(format!(
            "{resource}/year={}/month={}/day={}",
            &day[..4],
            &day[5..7],
            &day[8..10]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let batch = batch(runs, odd);
        let file = std::fs::File::create(dir.join(format!("{day}-0001.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    // The destination check's leftover (§7.5) is not a run file.
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::write(root.join("tmp/validate.txt"), "ok").unwrap();
    by_day.len()
}

#[test]
fn pipelines_over_a_bulk_export_give_the_rows_of_the_same_runs_as_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 300, 7);
    sample.days = 30;
    let jsonl = common::sample_file(dir.path(), &sample);
    let tree = dir.path().join("bulk");
    assert!(write_bulk_export(&jsonl, &tree) >= 2);
    let runs = [
        "--set",
        "stages.runs.trace_filter=and(eq(feedback_key, \"user_score\"), eq(feedback_score, 1))",
    ];
    for (pipeline, extra) in [
        ("tool_usage.toml", &[][..]),
        ("retriever_io.toml", &[][..]),
        // Every run, every standard column: times, costs, errors, tags, tokens, payloads.
        ("runs.toml", &[][..]),
        // Trace filters on the individual feedback entries (the nested column).
        ("runs.toml", &runs[..]),
    ] {
        let out = |name: &str| {
            dir.path()
                .join(format!("{pipeline}-{}-{name}", extra.len()))
        };
        for (name, path) in [("bulk", &tree), ("jsonl", &jsonl)] {
            let mut args = vec!["--project", "proj", "--from", path.to_str().unwrap()];
            args.extend(extra);
            run(pipeline, &out(name), &args);
        }
        let want = common::dataset_rows(&out("jsonl"));
        assert!(!want.is_empty(), "{pipeline} {extra:?}: no rows");
        assert_eq!(
            common::dataset_rows(&out("bulk")),
            want,
            "{pipeline} {extra:?}"
        );
    }
}

#[test]
fn a_single_export_file_reads_on_its_own_and_bad_trees_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 20, 3);
    sample.days = 2;
    let jsonl = common::sample_file(dir.path(), &sample);
    let tree = dir.path().join("bulk");
    write_bulk_export(&jsonl, &tree);
    let files = common::data_files(&tree, "parquet");
    let source = runlake::source::FileSource::open(&files[0]).unwrap();
    assert_eq!(
        source.projects(),
        [string(
            &serde_json::from_str(
                std::fs::read_to_string(&jsonl)
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
            )
            .unwrap(),
            "session_id"
        )
        .unwrap()]
    );

    // A Parquet file that is not a runs export, beside the export: the error says which.
    let stray = tree.join("stray.parquet");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&stray).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let err = format!(
        "{:#}",
        runlake::source::FileSource::open(&tree).err().unwrap()
    );
    assert!(
        err.contains(&stray.display().to_string()) && err.contains("no `id` column"),
        "{err}"
    );
}
