//! `type = "parquet"`: Parquet files, zstd by default, with the run's metadata.

use std::fs::File;
use std::io::BufWriter;

use crate::arrow::datatypes::SchemaRef;
use crate::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::{FormatWriter, ROW_GROUP_BYTES, SinkOptions};

/// A Parquet file for `schema`.
pub(super) fn open(
    file: BufWriter<File>,
    schema: &SchemaRef,
    options: &SinkOptions,
) -> anyhow::Result<Box<dyn FormatWriter>> {
    Ok(Box::new(ArrowWriter::try_new(
        file,
        schema.clone(),
        Some(properties(options, schema)?),
    )?))
}

impl FormatWriter for ArrowWriter<BufWriter<File>> {
    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        ArrowWriter::write(self, batch)?;
        Ok(())
    }

    fn size(&self) -> u64 {
        (self.bytes_written() + self.in_progress_size()) as u64
    }

    fn close(self: Box<Self>) -> anyhow::Result<()> {
        ArrowWriter::close(*self)?;
        Ok(())
    }
}

/// zstd (level 3 unless configured), page statistics, row groups bounded by rows and bytes
/// (the writer buffers a whole row group). JSON payload columns get neither a dictionary
/// (large, rarely repeated) nor statistics: min/max of JSON text prune nothing, and comparing
/// kilobyte-long values costs CPU for every row.
pub(super) fn properties(
    options: &SinkOptions,
    schema: &crate::arrow::datatypes::Schema,
) -> anyhow::Result<WriterProperties> {
    let compression = match options.compression.as_str() {
        "snappy" => Compression::SNAPPY,
        "none" => Compression::UNCOMPRESSED,
        _ => Compression::ZSTD(ZstdLevel::try_new(options.compression_level)?),
    };
    let mut builder = WriterProperties::builder();
    for field in schema.fields() {
        if field.extension_type_name() == Some("arrow.json") {
            let column = parquet::schema::types::ColumnPath::from(field.name().as_str());
            builder = builder
                .set_column_dictionary_enabled(column.clone(), false)
                .set_column_statistics_enabled(column, EnabledStatistics::None);
        }
    }
    Ok(builder
        .set_compression(compression)
        .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(
            options
                .metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect(),
        ))
        .set_created_by(format!("runlake {}", env!("CARGO_PKG_VERSION")))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Format;

    #[test]
    fn the_configured_zstd_level_reaches_the_writer() {
        let options = |compression: &str, compression_level| SinkOptions {
            format: Format::Parquet,
            dir: std::path::PathBuf::from("unused"),
            name: "t".into(),
            compression: compression.into(),
            compression_level,
            row_group_rows: 10,
            max_rows_per_file: 10,
            max_file_bytes: 1 << 20,
            partition_by: vec![],
            metadata: vec![],
            committed: vec![],
        };
        let schema = crate::arrow::datatypes::Schema::empty();
        let codec = |compression, level| {
            properties(&options(compression, level), &schema)
                .unwrap()
                .compression(&parquet::schema::types::ColumnPath::from("x"))
        };
        assert_eq!(
            codec("zstd", 19),
            Compression::ZSTD(ZstdLevel::try_new(19).unwrap())
        );
        assert_eq!(
            codec("zstd", 1),
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap())
        );
        assert_eq!(codec("snappy", 3), Compression::SNAPPY);
    }
}
