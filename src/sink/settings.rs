//! A sink's settings (the `[sinks.<id>]` table): its kind, their checks, its schema and the
//! options a sink is built with, defaults applied once.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Codec, Format, SinkOptions, defaults};
use crate::located::Checks;
use crate::located::schema::{inputs, integer, one_of_strings, string, string_list, table};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    #[serde(rename = "type")]
    pub kind: SinkKind,
    pub inputs: Vec<String>,
    /// Output directory (local path; `--output` overrides).
    pub path: Option<String>,
    /// zstd (default), snappy, none.
    pub compression: Option<String>,
    /// zstd level, 1 (fastest) to 22 (smallest); default 3.
    pub compression_level: Option<i32>,
    pub row_group_rows: Option<usize>,
    pub max_rows_per_file: Option<usize>,
    /// Close a file once it reaches about this many MiB (default 512).
    pub max_file_mb: Option<u64>,
    /// Hive partition keys: `date`, `hour` (of the run's start time, UTC) or output
    /// columns. Default `["date"]`; `[]` writes no partition directories.
    pub partition_by: Option<Vec<String>>,
    /// `append` (default) or `replace` (swap the partitions a window writes).
    pub disposition: Option<crate::model::Disposition>,
}

/// A sink's `type` is the format it writes.
pub use super::Format as SinkKind;

pub const SINK_TYPES: &[&str] = &[Format::Parquet.name(), Format::ArrowIpc.name()];
/// Values of a sink's `compression`.
pub const COMPRESSIONS: &[&str] = &["zstd", "snappy", "none"];
/// Levels a zstd sink accepts (`compression_level`), and the default: zstd's own.
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;

/// The codec a `compression` value names, if runlake writes it (one of [`COMPRESSIONS`]).
fn codec_named(name: &str, zstd_level: i32) -> Option<Codec> {
    match name {
        "zstd" => Some(Codec::Zstd { level: zstd_level }),
        "snappy" => Some(Codec::Snappy),
        "none" => Some(Codec::Uncompressed),
        _ => None,
    }
}

impl SinkConfig {
    /// Checks what serde cannot: codec and level, sizes, partition keys.
    pub fn check(&self, cx: &mut Checks) {
        let sink = self;
        if let Some(c) = &sink.compression
            && codec_named(c, ZSTD_DEFAULT_LEVEL).is_none()
        {
            cx.error(
                "compression",
                format!("unknown compression {c:?}; expected zstd, snappy or none"),
            );
        }
        if sink.kind == SinkKind::ArrowIpc
            && let Some(c) = sink.compression.as_deref().filter(|c| *c == "snappy")
        {
            cx.error(
                "compression",
                format!("Arrow IPC files are compressed with zstd or not at all (none), not {c}"),
            );
        }
        if sink.kind == SinkKind::ArrowIpc && sink.compression_level.is_some() {
            cx.error(
                "compression_level",
                "Arrow IPC files use zstd's default level; compression_level is for Parquet sinks",
            );
        } else if let Some(level) = sink.compression_level {
            let codec = sink.compression.as_deref().unwrap_or("zstd");
            if codec != "zstd" {
                cx.error(
                    "compression_level",
                    format!(
                        "a level applies to zstd only, not to {codec}; remove compression_level"
                    ),
                );
            } else if !ZSTD_LEVELS.contains(&level) {
                cx.error(
                "compression_level",
                format!(
                    "zstd level {level} is out of range; expected {} (fastest) to {} (smallest)",
                    ZSTD_LEVELS.start(),
                    ZSTD_LEVELS.end()
                ),
            );
            }
        }
        for (k, v) in [
            ("row_group_rows", sink.row_group_rows.map(|n| n as u64)),
            (
                "max_rows_per_file",
                sink.max_rows_per_file.map(|n| n as u64),
            ),
            ("max_file_mb", sink.max_file_mb),
        ] {
            if v == Some(0) {
                cx.error(k, "must be at least 1");
            }
        }
        for k in sink.partition_by.iter().flatten() {
            if k.is_empty() || k.starts_with('_') || k.starts_with('.') {
                cx.error(
            "partition_by",
            format!("{k:?} cannot be a partition key: it is empty or would hide the directory (leading _ or .)"),
            );
            }
        }
    }

    /// The codec named by `compression` (zstd when absent), at `compression_level`.
    fn codec(&self) -> Codec {
        let level = self.compression_level.unwrap_or(ZSTD_DEFAULT_LEVEL);
        let zstd = Codec::Zstd { level };
        // `check` refused any name `codec_named` does not know.
        self.compression
            .as_deref()
            .and_then(|c| codec_named(c, level))
            .unwrap_or(zstd)
    }

    /// The options to write with: the settings with defaults applied, into `dir`.
    pub fn options(
        &self,
        dir: std::path::PathBuf,
        name: String,
        partition_by: Vec<super::PartitionKey>,
        format: Option<Format>,
        metadata: Vec<(String, String)>,
    ) -> SinkOptions {
        SinkOptions {
            format: format.unwrap_or(self.kind),
            dir,
            name,
            codec: self.codec(),
            row_group_rows: self.row_group_rows.unwrap_or(defaults::ROW_GROUP_ROWS),
            max_rows_per_file: self
                .max_rows_per_file
                .unwrap_or(defaults::MAX_ROWS_PER_FILE),
            max_file_bytes: self.max_file_mb.unwrap_or(defaults::MAX_FILE_MB).max(1) * 1024 * 1024,
            partition_by,
            metadata,
            committed: vec![],
        }
    }

    /// The JSON Schema of the table.
    pub fn schema() -> Value {
        let properties = json!({
            "type": one_of_strings(SINK_TYPES, "Output format: Parquet files or Arrow IPC files."),
            "inputs": inputs("sink"),
            "path": string("Output directory (local path); --output overrides it."),
            "compression": one_of_strings(COMPRESSIONS, "Compression codec (default zstd). Arrow IPC sinks: zstd (per buffer) or none."),
            "compression_level": json!({ "type": "integer", "minimum": ZSTD_LEVELS.start(), "maximum": ZSTD_LEVELS.end(), "description": "zstd level: 1 is fastest, 22 smallest (default 3). Parquet sinks with zstd only." }),
            "row_group_rows": integer("Rows per Parquet row group at most.", 1),
            "max_rows_per_file": integer("Rows per file at most; more start a new file.", 1),
            "max_file_mb": integer("Close a file once it reaches about this many MiB (default 512).", 1),
            "partition_by": string_list("Hive partition keys: \"date\" or \"hour\" of the run's start time (UTC), or output columns (moved from the file into the path). Default [\"date\"]; [] for none."),
            "disposition": one_of_strings(&["append", "replace"], "append (default): a window adds its files, a re-run of the same window replaces them; replace: swap every partition the window writes."),
        });
        table(
            "Writes rows (or runs) to files.",
            properties,
            &["type", "inputs"],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_settings_resolve_to_one_codec() {
        let codec = |compression: Option<&str>, compression_level: Option<i32>| {
            SinkConfig {
                compression: compression.map(str::to_string),
                compression_level,
                ..Default::default()
            }
            .codec()
        };
        let zstd = |level| Codec::Zstd { level };
        assert_eq!(codec(None, None), zstd(ZSTD_DEFAULT_LEVEL));
        assert_eq!(codec(None, Some(19)), zstd(19));
        assert_eq!(codec(Some("zstd"), Some(1)), zstd(1));
        assert_eq!(codec(Some("snappy"), None), Codec::Snappy);
        assert_eq!(codec(Some("none"), None), Codec::Uncompressed);
        for name in COMPRESSIONS {
            assert!(codec_named(name, 3).is_some(), "{name}");
        }
    }
}
