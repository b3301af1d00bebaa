//! `type = "parquet"`: Parquet files, zstd by default, with the run's metadata.

use std::fs::File;
use std::io::BufWriter;

use crate::arrow::datatypes::{DataType, Field, SchemaRef};
use crate::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::{Codec, FormatWriter, ROW_GROUP_BYTES, SinkOptions};

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

/// A column chunk's dictionary stops growing past this and the rest of the chunk is written
/// plain: names, run types, statuses and tags fit many times over, while a column of unique
/// values (run ids, dotted orders) gives up after ~1,800 ids instead of hashing ~29,000 for
/// the default 1 MiB (with [`dictionary_pays`], `convert` of 163k runs: 6% less CPU, a 4%
/// smaller file).
const DICTIONARY_PAGE_BYTES: usize = 64 * 1024;

/// zstd (level 3 unless configured), page statistics, row groups bounded by rows and bytes
/// (the writer buffers a whole row group). Dictionaries only for strings and lists of strings
/// (see [`dictionary_pays`]). JSON payload columns get no statistics either: min/max of JSON
/// text prune nothing, and comparing kilobyte-long values costs CPU for every row.
pub fn properties(
    options: &SinkOptions,
    schema: &crate::arrow::datatypes::Schema,
) -> anyhow::Result<WriterProperties> {
    let compression = match options.codec {
        Codec::Zstd { level } => Compression::ZSTD(ZstdLevel::try_new(level)?),
        Codec::Snappy => Compression::SNAPPY,
        Codec::Uncompressed => Compression::UNCOMPRESSED,
    };
    let mut builder = WriterProperties::builder();
    for field in schema.fields() {
        let column = || parquet::schema::types::ColumnPath::from(field.name().as_str());
        if !dictionary_pays(field) {
            builder = builder.set_column_dictionary_enabled(column(), false);
        }
        if is_json(field) {
            builder = builder.set_column_statistics_enabled(column(), EnabledStatistics::None);
        }
    }
    Ok(builder
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
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

fn is_json(field: &Field) -> bool {
    field.extension_type_name() == Some("arrow.json")
}

/// Whether a column's values are likely to repeat enough for a dictionary page: short
/// strings (names, types, statuses) and lists of them. Timestamps, numbers and JSON payloads
/// rarely repeat; hashing every value into a dictionary that is then dropped costs CPU, and
/// zstd packs them better plain (`convert` of 163k runs: ~3% less CPU, a 3% smaller file).
fn dictionary_pays(field: &Field) -> bool {
    match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => !is_json(field),
        DataType::List(_) | DataType::LargeList(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(codec: Codec) -> SinkOptions {
        crate::sink::tests::options(std::path::Path::new("unused"), codec)
    }

    #[test]
    fn dictionaries_only_for_strings_and_statistics_not_for_json() {
        use crate::arrow::datatypes::TimeUnit;
        let schema = crate::arrow::datatypes::Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "start_time",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("total_cost", DataType::Float64, true),
            Field::new("inputs", DataType::Utf8, true)
                .with_extension_type(arrow_schema::extension::Json::default()),
        ]);
        let props = properties(&options(Codec::Zstd { level: 3 }), &schema).unwrap();
        let column = |name: &str| parquet::schema::types::ColumnPath::from(name);
        let dictionary = |name| props.dictionary_enabled(&column(name));
        assert!(dictionary("name"));
        assert!(!dictionary("start_time"));
        assert!(!dictionary("total_cost"));
        assert!(!dictionary("inputs"));
        assert_eq!(
            props.statistics_enabled(&column("inputs")),
            EnabledStatistics::None
        );
        assert_eq!(
            props.statistics_enabled(&column("name")),
            EnabledStatistics::Page
        );
        assert_eq!(props.dictionary_page_size_limit(), DICTIONARY_PAGE_BYTES);
    }

    #[test]
    fn the_configured_zstd_level_reaches_the_writer() {
        let schema = crate::arrow::datatypes::Schema::empty();
        let codec = |codec| {
            properties(&options(codec), &schema)
                .unwrap()
                .compression(&parquet::schema::types::ColumnPath::from("x"))
        };
        assert_eq!(
            codec(Codec::Zstd { level: 19 }),
            Compression::ZSTD(ZstdLevel::try_new(19).unwrap())
        );
        assert_eq!(
            codec(Codec::Zstd { level: 1 }),
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap())
        );
        assert_eq!(codec(Codec::Snappy), Compression::SNAPPY);
        assert_eq!(codec(Codec::Uncompressed), Compression::UNCOMPRESSED);
    }
}
