//! LangSmith's bulk export (Parquet, reference §7) read as captured runs: every row becomes
//! the JSON text of a v1 run and goes through [`runstore::stored_run`] like a JSONL line, so
//! queries, filters and rows are the same whichever form the runs were captured in.
//!
//! The export's Parquet schema is largely UNVERIFIED (§7.6), so the reader takes what it is
//! given: JSON payloads as text or as nested columns, timestamps of any unit with or without
//! a time zone, ids as text or 16-byte UUIDs, costs as floats or decimals. Columns it has no
//! name for pass through as run fields, as unknown JSONL keys do.

use std::fmt::Write as _;
use std::path::Path;

use crate::arrow::array::{Array, AsArray, RecordBatch, downcast_dictionary_array};
use crate::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use crate::arrow::util::display::{ArrayFormatter, FormatOptions};
use anyhow::{Context, bail};
use arrow_schema::extension::{ExtensionType, Json};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::files::Collected;

/// v1 fields whose value is a JSON document (§6.1, §7.4 "Run data (JSON)"): a text column of
/// that name holds the document's text, to be read as JSON rather than as a string.
const JSON_FIELDS: &[&str] = &[
    "inputs",
    "outputs",
    "extra",
    "events",
    "feedback_stats",
    "error",
    "prompt_token_details",
    "completion_token_details",
    "prompt_cost_details",
    "completion_cost_details",
    "metadata",
    "serialized",
    "messages",
    "s3_urls",
    "inputs_s3_urls",
    "outputs_s3_urls",
];

/// Whether `path` names a Parquet file.
pub(super) fn is_parquet(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".parquet"))
}

/// Every run of one Parquet file, by project id; errors name the file and the row.
pub(super) fn read_runs(file: &Path, into: &mut Collected) -> anyhow::Result<()> {
    let handle =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    read_runs_from(file, handle, into)
}

/// Like [`read_runs`], from the file's bytes (object storage); `file` names it and carries
/// its `session_id=` directory.
pub(super) fn read_runs_from(
    file: &Path,
    handle: impl parquet::file::reader::ChunkReader + 'static,
    into: &mut Collected,
) -> anyhow::Result<()> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle)
        .with_context(|| format!("{}: not a readable Parquet file", file.display()))?;
    let layout = Layout::new(file, builder.schema().fields())?;
    let batches = builder
        .build()
        .with_context(|| format!("{}: cannot read its rows", file.display()))?;
    let mut row = 0usize;
    let mut line = String::new();
    for batch in batches {
        let batch =
            batch.with_context(|| format!("{}: cannot read rows after {row}", file.display()))?;
        for i in 0..batch.num_rows() {
            row += 1;
            let at = || format!("{}: row {row}", file.display());
            line.clear();
            layout.write_run(&mut line, &batch, i).with_context(at)?;
            into.add(at, &line)?;
        }
    }
    Ok(())
}

/// How one top-level text column is read.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Text {
    /// A string.
    Plain,
    /// JSON text when it parses (a JSON field, or the Parquet JSON type), else a string.
    Json,
    /// `error` is a string in v1: only a JSON string literal (or `null`) is unwrapped, so an
    /// error message that happens to parse (`404`) stays the message.
    JsonString,
}

struct Column {
    /// The field name as a JSON key, quoted.
    key: String,
    text: Text,
}

/// A file's columns, read once, and where its rows' `session_id` comes from.
struct Layout {
    columns: Vec<Column>,
    session_column: Option<usize>,
    /// The `session_id=<uuid>` directory of the file's path, as a JSON string.
    dir_session: Option<String>,
}

impl Layout {
    fn new(file: &Path, fields: &crate::arrow::datatypes::Fields) -> anyhow::Result<Layout> {
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        for required in ["id", "start_time"] {
            if !names.contains(&required) {
                bail!(
                    "{}: no `{required}` column; expected runs as LangSmith's bulk export \
                     writes them (id, start_time, … per run; found: {})",
                    file.display(),
                    names.join(", ")
                );
            }
        }
        let session_column = names.iter().position(|n| *n == "session_id");
        let dir_session = hive_session(file).map(|s| quote(&s));
        if session_column.is_none() && dir_session.is_none() {
            bail!(
                "{}: no `session_id` column and no `session_id=<uuid>` directory in its path; \
                 expected the bulk export's layout \
                 (…/session_id=<uuid>/runs/year=…/month=…/day=…/….parquet)",
                file.display()
            );
        }
        let columns = fields
            .iter()
            .map(|f| {
                let name = f.name().as_str();
                let text = if name == "error" {
                    Text::JsonString
                } else if JSON_FIELDS.contains(&name) || f.extension_type_name() == Some(Json::NAME)
                {
                    Text::Json
                } else {
                    Text::Plain
                };
                Column {
                    key: quote(name),
                    text,
                }
            })
            .collect();
        Ok(Layout {
            columns,
            session_column,
            dir_session,
        })
    }

    /// Row `i` as the JSON object of a v1 run.
    fn write_run(&self, out: &mut String, batch: &RecordBatch, i: usize) -> anyhow::Result<()> {
        out.push('{');
        for (j, (column, array)) in self.columns.iter().zip(batch.columns()).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&column.key);
            out.push(':');
            match &self.dir_session {
                // A null in the column falls back on the directory, as a missing column does.
                Some(dir) if Some(j) == self.session_column && array.is_null(i) => {
                    out.push_str(dir);
                }
                _ => write_value(out, array.as_ref(), i, column.text).with_context(|| {
                    format!(
                        "column {} ({}): cannot read the value",
                        column.key,
                        array.data_type()
                    )
                })?,
            }
        }
        if self.session_column.is_none()
            && let Some(dir) = &self.dir_session
        {
            out.push_str(",\"session_id\":");
            out.push_str(dir);
        }
        out.push('}');
        Ok(())
    }
}

/// The project id a Hive-partitioned path carries (`…/session_id=<uuid>/…`). Only this
/// partition key becomes a field: export_id, tenant_id, resource, year/month/day are layout.
fn hive_session(file: &Path) -> Option<String> {
    let find = |p: &Path| {
        p.parent()?.components().rev().find_map(|c| {
            let value = c.as_os_str().to_str()?.strip_prefix("session_id=")?;
            (!value.is_empty()).then(|| value.to_string())
        })
    };
    // A relative path (`--from .` inside the session's directory) may not show it.
    find(file).or_else(|| find(&std::fs::canonicalize(file).ok()?))
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Value `i` of `array` as JSON text. `text` applies to strings of a top-level column only:
/// strings nested in structs and lists are plain.
fn write_value(out: &mut String, a: &dyn Array, i: usize, text: Text) -> anyhow::Result<()> {
    if a.is_null(i) || a.data_type() == &DataType::Null {
        out.push_str("null");
        return Ok(());
    }
    macro_rules! int {
        ($t:ty) => {
            write!(out, "{}", a.as_primitive::<$t>().value(i))?
        };
    }
    macro_rules! decimal {
        ($t:ty) => {
            number(out, &a.as_primitive::<$t>().value_as_string(i))
        };
    }
    match a.data_type() {
        DataType::Boolean => out.push_str(if a.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float16 => float(out, a.as_primitive::<Float16Type>().value(i).to_f64()),
        // Through f32's own shortest form: 0.1f32 is 0.1, not 0.10000000149011612.
        DataType::Float32 => {
            let v = a.as_primitive::<Float32Type>().value(i);
            if v.is_finite() {
                out.push_str(&serde_json::to_string(&v)?);
            } else {
                out.push_str("null");
            }
        }
        DataType::Float64 => float(out, a.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal32(..) => decimal!(Decimal32Type),
        DataType::Decimal64(..) => decimal!(Decimal64Type),
        DataType::Decimal128(..) => decimal!(Decimal128Type),
        DataType::Decimal256(..) => decimal!(Decimal256Type),
        DataType::Utf8 => write_text(out, a.as_string::<i32>().value(i), text),
        DataType::LargeUtf8 => write_text(out, a.as_string::<i64>().value(i), text),
        DataType::Utf8View => write_text(out, a.as_string_view().value(i), text),
        // Parquet BYTE_ARRAY without the UTF8 annotation arrives as binary: text if it is.
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let bytes = match a.data_type() {
                DataType::Binary => a.as_binary::<i32>().value(i),
                DataType::LargeBinary => a.as_binary::<i64>().value(i),
                _ => a.as_binary_view().value(i),
            };
            match std::str::from_utf8(bytes) {
                Ok(s) => write_text(out, s, text),
                Err(_) => formatted(out, a, i)?,
            }
        }
        // FIXED_LEN_BYTE_ARRAY(16): the UUID logical type of ids.
        DataType::FixedSizeBinary(16) => {
            let id = uuid::Uuid::from_slice(a.as_fixed_size_binary().value(i))?;
            write!(out, "\"{}\"", id.hyphenated())?;
        }
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            let t = datetime(a, i).context("a date or time out of range")?;
            // Naive timestamps (the old format's TIMESTAMP(NANOS, false)) are UTC wall time;
            // zoned ones are stored as UTC instants: the same reading either way.
            write!(out, "\"{}\"", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))?;
        }
        DataType::List(_) => {
            let list = a.as_list::<i32>();
            let o = list.value_offsets();
            write_array(
                out,
                list.values().as_ref(),
                o[i] as usize..o[i + 1] as usize,
            )?;
        }
        DataType::LargeList(_) => {
            let list = a.as_list::<i64>();
            let o = list.value_offsets();
            write_array(
                out,
                list.values().as_ref(),
                o[i] as usize..o[i + 1] as usize,
            )?;
        }
        DataType::FixedSizeList(_, n) => {
            let list = a.as_fixed_size_list();
            let start = list.value_offset_at(i);
            write_array(out, list.values().as_ref(), start..start + *n as usize)?;
        }
        DataType::Struct(fields) => {
            out.push('{');
            for (j, (field, child)) in fields.iter().zip(a.as_struct().columns()).enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str(&quote(field.name()));
                out.push(':');
                write_value(out, child.as_ref(), i, Text::Plain)?;
            }
            out.push('}');
        }
        DataType::Map(..) => {
            let map = a.as_map();
            let o = map.value_offsets();
            out.push('{');
            for (n, k) in (o[i] as usize..o[i + 1] as usize).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&map_key(map.keys().as_ref(), k)?);
                out.push(':');
                write_value(out, map.values().as_ref(), k, Text::Plain)?;
            }
            out.push('}');
        }
        DataType::Dictionary(..) => downcast_dictionary_array!(
            a => match a.key(i) {
                Some(k) => write_value(out, a.values().as_ref(), k, text)?,
                None => out.push_str("null"),
            },
            t => bail!("unexpected dictionary type {t}")
        ),
        // Times of day, durations, intervals, odd binaries: arrow's display text.
        _ => formatted(out, a, i)?,
    }
    Ok(())
}

/// Elements `range` of `values` as a JSON array.
fn write_array(
    out: &mut String,
    values: &dyn Array,
    range: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    out.push('[');
    for (n, k) in range.enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_value(out, values, k, Text::Plain)?;
    }
    out.push(']');
    Ok(())
}

/// A map key as a JSON object key: strings as they are, other keys as their JSON text.
fn map_key(keys: &dyn Array, k: usize) -> anyhow::Result<String> {
    let mut text = String::new();
    write_value(&mut text, keys, k, Text::Plain)?;
    Ok(if text.starts_with('"') {
        text
    } else {
        quote(&text)
    })
}

fn write_text(out: &mut String, s: &str, text: Text) {
    let json = match text {
        Text::Plain => None,
        Text::Json => serde_json::from_str::<&serde_json::value::RawValue>(s).ok(),
        Text::JsonString => serde_json::from_str::<&serde_json::value::RawValue>(s)
            .ok()
            .filter(|v| v.get().starts_with('"') || v.get() == "null"),
    };
    match json {
        // The document's own text, not re-encoded: key order and number forms stay as written.
        Some(raw) => out.push_str(raw.get()),
        None => out.push_str(&quote(s)),
    }
}

/// A finite float as a JSON number; NaN and infinities (not JSON) as null.
fn float(out: &mut String, v: f64) {
    if v.is_finite() {
        out.push_str(&serde_json::to_string(&v).expect("a finite float serializes"));
    } else {
        out.push_str("null");
    }
}

/// Decimal text as a JSON number when it is one (arrow writes `-0.50`, `123`), else a string.
fn number(out: &mut String, s: &str) {
    if serde_json::from_str::<serde_json::Number>(s).is_ok() {
        out.push_str(s);
    } else {
        out.push_str(&quote(s));
    }
}

/// Arrow's display text of a value, as a JSON string.
fn formatted(out: &mut String, a: &dyn Array, i: usize) -> anyhow::Result<()> {
    let formatter = ArrayFormatter::try_new(a, &FormatOptions::default())
        .with_context(|| format!("no JSON form for {}", a.data_type()))?;
    out.push_str(&quote(&formatter.value(i).to_string()));
    Ok(())
}

fn datetime(a: &dyn Array, i: usize) -> Option<chrono::NaiveDateTime> {
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            a.as_primitive::<TimestampSecondType>().value_as_datetime(i)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => a
            .as_primitive::<TimestampMillisecondType>()
            .value_as_datetime(i),
        DataType::Timestamp(TimeUnit::Microsecond, _) => a
            .as_primitive::<TimestampMicrosecondType>()
            .value_as_datetime(i),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => a
            .as_primitive::<TimestampNanosecondType>()
            .value_as_datetime(i),
        DataType::Date32 => a.as_primitive::<Date32Type>().value_as_datetime(i),
        DataType::Date64 => a.as_primitive::<Date64Type>().value_as_datetime(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray, Float32Array,
        Float64Array, Int64Array, ListBuilder, MapBuilder, StringArray, StringBuilder, StructArray,
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };
    use crate::arrow::datatypes::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    fn json(a: &dyn Array, text: Text) -> Vec<String> {
        (0..a.len())
            .map(|i| {
                let mut out = String::new();
                write_value(&mut out, a, i, text).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn timestamps_of_every_unit_and_zone_read_as_utc_microseconds() {
        let us = 1_790_000_000_123_456i64; // 2026-09-21T14:13:20.123456Z
        let want = "\"2026-09-21T14:13:20.123456Z\"";
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(vec![us * 1000 + 789])),
            Arc::new(TimestampNanosecondArray::from(vec![us * 1000]).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(vec![us]).with_timezone("+02:00")),
            Arc::new(TimestampMicrosecondArray::from(vec![us])),
        ];
        for a in &arrays {
            assert_eq!(json(a.as_ref(), Text::Plain), [want], "{}", a.data_type());
        }
        let ms = TimestampMillisecondArray::from(vec![us / 1000]);
        assert_eq!(json(&ms, Text::Plain), ["\"2026-09-21T14:13:20.123000Z\""]);
        let s = TimestampSecondArray::from(vec![Some(0), None]);
        assert_eq!(
            json(&s, Text::Plain),
            ["\"1970-01-01T00:00:00.000000Z\"", "null"]
        );
        let d = Date32Array::from(vec![20_000]);
        assert_eq!(json(&d, Text::Plain), ["\"2024-10-04T00:00:00.000000Z\""]);
    }

    #[test]
    fn json_text_columns_become_documents_and_the_rest_stay_strings() {
        let a = StringArray::from(vec![
            Some(r#"{"b":1,"a":[1.50,"x"]}"#),
            Some("not json"),
            Some("404"),
            Some(r#""quoted""#),
            None,
        ]);
        assert_eq!(
            json(&a, Text::Json),
            [
                r#"{"b":1,"a":[1.50,"x"]}"#,
                r#""not json""#,
                "404",
                r#""quoted""#,
                "null"
            ]
        );
        assert_eq!(
            json(&a, Text::JsonString),
            [
                r#""{\"b\":1,\"a\":[1.50,\"x\"]}""#,
                r#""not json""#,
                r#""404""#,
                r#""quoted""#,
                "null"
            ]
        );
        assert_eq!(json(&a, Text::Plain)[2], r#""404""#);
    }

    #[test]
    fn ids_numbers_and_nested_columns() {
        let id = uuid::Uuid::parse_str("0198c2a1-5e10-7a3b-9c11-2b6f0e4d7a01").unwrap();
        let ids = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            vec![Some(*id.as_bytes()), None].into_iter(),
            16,
        )
        .unwrap();
        assert_eq!(
            json(&ids, Text::Plain),
            ["\"0198c2a1-5e10-7a3b-9c11-2b6f0e4d7a01\"", "null"]
        );
        let cost = Decimal128Array::from(vec![Some(1572), Some(-50), None])
            .with_precision_and_scale(38, 6)
            .unwrap();
        assert_eq!(json(&cost, Text::Plain), ["0.001572", "-0.000050", "null"]);
        let floats = Float64Array::from(vec![0.001572, f64::NAN, 1.0]);
        assert_eq!(json(&floats, Text::Plain), ["0.001572", "null", "1.0"]);
        assert_eq!(
            json(&Float32Array::from(vec![0.1f32]), Text::Plain),
            ["0.1"]
        );

        let mut tags = ListBuilder::new(StringBuilder::new());
        tags.append_value([Some("prod"), Some("v\"3")]);
        tags.append_null();
        tags.append_value::<[Option<&str>; 0], _>([]);
        let tags = tags.finish();
        assert_eq!(
            json(&tags, Text::Json),
            [r#"["prod","v\"3"]"#, "null", "[]"]
        );

        let mut details = MapBuilder::new(None, StringBuilder::new(), Int64Array::builder(2));
        details.keys().append_value("audio");
        details.values().append_value(0);
        details.keys().append_value("cache_read");
        details.values().append_value(3);
        details.append(true).unwrap();
        let details = details.finish();
        assert_eq!(
            json(&details, Text::Json),
            [r#"{"audio":0,"cache_read":3}"#]
        );

        let inputs = StructArray::from(vec![
            (
                Arc::new(Field::new("q", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("{\"not\":\"parsed\"}"), None])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("ok", DataType::Boolean, true)),
                Arc::new(BooleanArray::from(vec![true, false])) as ArrayRef,
            ),
        ]);
        assert_eq!(
            json(&inputs, Text::Json),
            [
                r#"{"q":"{\"not\":\"parsed\"}","ok":true}"#,
                r#"{"q":null,"ok":false}"#
            ]
        );
    }

    fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let schema = Schema::new(
            columns
                .iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn strings(v: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    #[test]
    fn the_session_comes_from_the_column_or_the_hive_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir
            .path()
            .join("export_id=e/tenant_id=t/session_id=s-dir/resource=runs/year=2026/month=10/day=01/a.parquet");
        let start: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            1_790_000_000_000_000_000,
            1_790_000_001_000_000_000,
        ]));
        write_parquet(
            &file,
            vec![
                ("id", strings(&["r1", "r2"])),
                ("start_time", start.clone()),
                ("inputs", strings(&[r#"{"q":1}"#, "{}"])),
                ("year", strings(&["2026", "2026"])),
            ],
        );
        let mut read = Collected::default();
        read_runs(&file, &mut read).unwrap();
        let runs = &read.by_project["s-dir"];
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].field("inputs").unwrap().get(), r#"{"q":1}"#);
        assert_eq!(
            runs[0].field("start_time").unwrap().get(),
            "\"2026-09-21T14:13:20.000000Z\""
        );
        assert_eq!(runs[0].start_us, 1_790_000_000_000_000);
        assert_eq!(
            runs[1].field("year").unwrap().get(),
            "\"2026\"",
            "passed through"
        );
        assert!(
            runs[0].field("tenant_id").is_none(),
            "layout is not a field"
        );

        // A column wins over the directory; a null in it falls back on the directory.
        let file = dir.path().join("session_id=s-dir/b.parquet");
        write_parquet(
            &file,
            vec![
                ("id", strings(&["r3", "r4"])),
                ("start_time", start.clone()),
                (
                    "session_id",
                    Arc::new(StringArray::from(vec![Some("s-col"), None])),
                ),
            ],
        );
        let mut read = Collected::default();
        read_runs(&file, &mut read).unwrap();
        assert_eq!(read.by_project["s-col"][0].id, "r3");
        assert_eq!(read.by_project["s-dir"][0].id, "r4");
    }

    #[test]
    fn bad_files_name_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let start: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![0]));
        let err = |file: &Path| {
            format!(
                "{:#}",
                read_runs(file, &mut Collected::default()).unwrap_err()
            )
        };

        let no_id = dir.path().join("session_id=s/no_id.parquet");
        write_parquet(
            &no_id,
            vec![("run", strings(&["r1"])), ("start_time", start.clone())],
        );
        let e = err(&no_id);
        assert!(e.contains(&no_id.display().to_string()), "{e}");
        assert!(
            e.contains("no `id` column") && e.contains("found: run, start_time"),
            "{e}"
        );

        let no_session = dir.path().join("no_session.parquet");
        write_parquet(
            &no_session,
            vec![("id", strings(&["r1"])), ("start_time", start.clone())],
        );
        let e = err(&no_session);
        assert!(
            e.contains("no_session.parquet") && e.contains("session_id=<uuid>"),
            "{e}"
        );

        let dup = dir.path().join("session_id=s/dup.parquet");
        write_parquet(
            &dup,
            vec![
                ("id", strings(&["r1", "r1"])),
                (
                    "start_time",
                    Arc::new(TimestampNanosecondArray::from(vec![0, 1])),
                ),
            ],
        );
        let e = err(&dup);
        assert!(
            e.contains("dup.parquet: row 2: run id r1 appears twice"),
            "{e}"
        );

        let bad_cost = dir.path().join("session_id=s/bad_cost.parquet");
        write_parquet(
            &bad_cost,
            vec![
                ("id", strings(&["r1", "r2"])),
                (
                    "start_time",
                    Arc::new(TimestampNanosecondArray::from(vec![0, 1])),
                ),
                ("total_cost", strings(&["0.1", "cheap"])),
            ],
        );
        // A row that is not a run is set aside, the others kept.
        let mut read = Collected::default();
        read_runs(&bad_cost, &mut read).unwrap();
        assert_eq!(read.by_project["s"].len(), 1);
        let [bad] = read.rejected.as_slice() else {
            panic!("{:?}", read.rejected)
        };
        assert!(bad.origin.ends_with("bad_cost.parquet: row 2"), "{bad:?}");
        assert_eq!(bad.run_id.as_deref(), Some("r2"));
        assert!(bad.reason.contains("total_cost"), "{bad:?}");

        let not_parquet = dir.path().join("session_id=s/junk.parquet");
        std::fs::write(&not_parquet, "id,start_time\n").unwrap();
        let e = err(&not_parquet);
        assert!(
            e.contains("junk.parquet: not a readable Parquet file"),
            "{e}"
        );
    }
}
