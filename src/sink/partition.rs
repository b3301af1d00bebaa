//! Hive-style partitions: `date=2026-10-01/run_type=llm/…`.
//!
//! `date` and `hour` come from the run's `start_time` (UTC), whatever the output columns are;
//! any other key names an output column, whose value moves into the path and out of the file
//! (as Hive, Spark and DuckDB expect). Values are escaped so that no value can escape the
//! output root, hide its rows (`_x`, `.x` directories are skipped by readers) or exceed a
//! file-system name limit.

use crate::arrow::array::{Array, ArrayRef, UInt32Array};
use crate::arrow::compute::take;
use crate::arrow::record_batch::RecordBatch;
use chrono::DateTime;
use std::collections::HashMap;

/// The value Hive, Spark and DuckDB read back as NULL.
pub const NULL_VALUE: &str = "__HIVE_DEFAULT_PARTITION__";
/// Longest escaped value kept as is; longer ones are cut and suffixed with a hash of the
/// whole value, so distinct values stay distinct (file names are limited to 255 bytes).
const MAX_VALUE_BYTES: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKey {
    /// `date=YYYY-MM-DD` of the run's start time.
    Date,
    /// `hour=HH` of the run's start time.
    Hour,
    /// An output column, e.g. `run_type`.
    Column(String),
}

impl PartitionKey {
    pub fn parse(s: &str) -> PartitionKey {
        match s {
            "date" => PartitionKey::Date,
            "hour" => PartitionKey::Hour,
            other => PartitionKey::Column(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            PartitionKey::Date => "date",
            PartitionKey::Hour => "hour",
            PartitionKey::Column(c) => c,
        }
    }
}

/// A batch's rows for one partition.
#[derive(Debug)]
pub struct PartitionSlice {
    /// `date=2026-10-01/run_type=llm` (empty without partition keys).
    pub dir: String,
    pub values: Vec<(String, String)>,
    pub batch: RecordBatch,
}

/// Escapes a partition value the way Hive does (`%XX`), and more strictly: only
/// `[A-Za-z0-9_.-]` stay as they are, so `/`, `\`, NUL, `=`, `%`, spaces and non-ASCII are
/// all escaped; a leading `.` or `_` is escaped so the directory is not hidden; empty
/// and null become Hive's default partition; long values are cut and hashed.
pub fn escape_value(value: Option<&str>) -> String {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return NULL_VALUE.to_string();
    };
    let mut out = String::with_capacity(v.len());
    for (i, b) in v.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'-' || (i > 0 && (b == b'_' || b == b'.'));
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_VALUE_BYTES {
        // Cut on a whole escape, then add a hash of the full value.
        let mut cut = MAX_VALUE_BYTES - 17;
        while out.as_bytes()[cut - 1] == b'%' || out.as_bytes()[cut.saturating_sub(2)] == b'%' {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&format!("-{:016x}", fnv1a(v.as_bytes())));
    }
    out
}

/// FNV-1a: stable across builds and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Splits `batch` by the partition keys. `start_times` holds each row's run start time
/// (µs since the epoch). Column keys are removed from the batch.
pub fn split(
    keys: &[PartitionKey],
    batch: &RecordBatch,
    start_times: &[Option<i64>],
) -> anyhow::Result<Vec<PartitionSlice>> {
    if keys.is_empty() {
        return Ok(vec![PartitionSlice {
            dir: String::new(),
            values: vec![],
            batch: batch.clone(),
        }]);
    }
    let mut columns: Vec<(usize, Vec<Option<String>>)> = vec![];
    for key in keys {
        if let PartitionKey::Column(name) = key {
            let index = batch
                .schema()
                .index_of(name)
                .map_err(|_| anyhow::anyhow!("partition key {name:?} is not an output column"))?;
            columns.push((index, column_strings(batch.column(index))?));
        }
    }
    type Values = Vec<(String, String)>;
    let mut groups: Vec<(Values, Vec<u32>)> = vec![];
    let mut index_of: HashMap<Values, usize> = HashMap::new();
    for row in 0..batch.num_rows() {
        let start = start_times
            .get(row)
            .copied()
            .flatten()
            .and_then(DateTime::from_timestamp_micros);
        let mut column = columns.iter();
        let values: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                let raw = match k {
                    PartitionKey::Date => start.map(|t| {
                        use chrono::Datelike;
                        format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
                    }),
                    PartitionKey::Hour => start.map(|t| {
                        use chrono::Timelike;
                        format!("{:02}", t.hour())
                    }),
                    PartitionKey::Column(_) => column.next().expect("one per key").1[row].clone(),
                };
                (k.name().to_string(), escape_value(raw.as_deref()))
            })
            .collect();
        let at = *index_of.entry(values.clone()).or_insert_with(|| {
            groups.push((values, vec![]));
            groups.len() - 1
        });
        groups[at].1.push(row as u32);
    }
    let drop: Vec<usize> = columns.iter().map(|(i, _)| *i).collect();
    let kept: Vec<usize> = (0..batch.num_columns())
        .filter(|i| !drop.contains(i))
        .collect();
    let projected = batch.project(&kept)?;
    groups
        .into_iter()
        .map(|(values, rows)| {
            let (first, last) = (rows[0] as usize, rows[rows.len() - 1] as usize);
            let batch = if last - first + 1 == rows.len() {
                // Runs arrive ordered by start time, so a partition's rows are usually one
                // contiguous range: a zero-copy slice instead of copying every column.
                projected.slice(first, rows.len())
            } else {
                let indices = UInt32Array::from(rows);
                let arrays: Vec<ArrayRef> = projected
                    .columns()
                    .iter()
                    .map(|c| take(c.as_ref(), &indices, None))
                    .collect::<Result<_, _>>()?;
                RecordBatch::try_new(projected.schema(), arrays)?
            };
            let dir = values
                .iter()
                .map(|(k, v)| format!("{}={v}", escape_key(k)))
                .collect::<Vec<_>>()
                .join("/");
            Ok(PartitionSlice { dir, values, batch })
        })
        .collect()
}

/// Keys are column names chosen by the pipeline author; escaped the same way for safety.
fn escape_key(k: &str) -> String {
    escape_value(Some(k))
}

/// A column's values as text: strings as they are, other scalars as Arrow displays them.
fn column_strings(array: &ArrayRef) -> anyhow::Result<Vec<Option<String>>> {
    let as_text = crate::arrow::compute::cast(array, &crate::arrow::datatypes::DataType::Utf8)?;
    let strings = as_text
        .as_any()
        .downcast_ref::<crate::arrow::array::StringArray>()
        .expect("cast to Utf8");
    Ok((0..strings.len())
        .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{Int64Array, StringArray};
    use crate::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn hostile_values_stay_inside_one_segment() {
        for v in [
            "../../etc",
            "a/b",
            "a\0b",
            "..",
            ".",
            "_hidden",
            ".dot",
            "C:\\x",
            "x=y",
            "100%",
            "naïve 日本",
        ] {
            let e = escape_value(Some(v));
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(&b)),
                "{v:?} → {e:?}"
            );
            assert!(!e.starts_with('.') && !e.starts_with('_'), "{v:?} → {e:?}");
            assert!(e != "." && e != "..");
        }
        assert_eq!(escape_value(Some("a/b")), "a%2Fb");
        assert_eq!(escape_value(Some("../x")), "%2E.%2Fx");
        assert_eq!(escape_value(Some("llm")), "llm");
        assert_eq!(escape_value(Some("")), NULL_VALUE);
        assert_eq!(escape_value(None), NULL_VALUE);
    }

    #[test]
    fn long_values_are_cut_and_stay_distinct() {
        let a = "é".repeat(300);
        let b = format!("{}x", "é".repeat(299));
        let (ea, eb) = (escape_value(Some(&a)), escape_value(Some(&b)));
        assert!(ea.len() <= MAX_VALUE_BYTES, "{}", ea.len());
        assert_ne!(ea, eb);
        // Never cut inside an escape.
        let body = ea.rsplit_once('-').unwrap().0;
        assert!(body.split('%').skip(1).all(|p| p.len() >= 2), "{body}");
    }

    #[test]
    fn splits_by_date_and_column_and_drops_the_column() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("run_type", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "c", "d"])),
                Arc::new(StringArray::from(vec![
                    Some("llm"),
                    Some("../x"),
                    Some("llm"),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            ],
        )
        .unwrap();
        let day = 86_400_000_000i64;
        let starts = vec![Some(0), Some(day), Some(day + 5), None];
        let keys = [PartitionKey::Date, PartitionKey::parse("run_type")];
        let slices = split(&keys, &batch, &starts).unwrap();
        let dirs: Vec<(&str, usize)> = slices
            .iter()
            .map(|s| (s.dir.as_str(), s.batch.num_rows()))
            .collect();
        assert_eq!(
            dirs,
            vec![
                ("date=1970-01-01/run_type=llm", 1),
                ("date=1970-01-02/run_type=%2E.%2Fx", 1),
                ("date=1970-01-02/run_type=llm", 1),
                (
                    "date=__HIVE_DEFAULT_PARTITION__/run_type=__HIVE_DEFAULT_PARTITION__",
                    1
                ),
            ]
        );
        assert!(slices.iter().all(|s| s.batch.num_columns() == 2));
        assert!(split(&[PartitionKey::parse("nope")], &batch, &starts).is_err());
    }
}
