//! Sinks: record batches → Parquet or Arrow IPC files with one schema per file.
//!
//! While every batch has the same schema (fixed columns of known types), Parquet is written
//! directly to a file in the output's `_staging/` directory. Otherwise (expanded `prefix.*`
//! columns, widening types) batches are spilled there as Arrow IPC and, at the end, conformed
//! to the union schema and written out. Either way a file has one schema and is renamed into
//! place only when complete: readers never see a partial file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::{FileWriter, StreamWriter};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::flatten::SchemaUnion;

/// Upper bound of a row group's encoded size, which the writer holds in memory.
const ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    ArrowIpc,
}

#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub format: Format,
    pub dir: PathBuf,
    /// Base name of the output files, e.g. the sink id.
    pub name: String,
    pub compression: String,
    pub row_group_rows: usize,
    pub max_rows_per_file: usize,
    /// Key-value metadata stamped into every file (never secrets).
    pub metadata: Vec<(String, String)>,
}

/// What a sink wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SinkReport {
    pub files: Vec<PathBuf>,
    pub rows: u64,
    pub bytes: u64,
}

/// A Parquet file being written straight from batches of one schema.
struct Direct {
    writer: ArrowWriter<BufWriter<File>>,
    schema: arrow::datatypes::SchemaRef,
    tmp: PathBuf,
    path: PathBuf,
}

pub struct Sink {
    options: SinkOptions,
    direct: Option<Direct>,
    staging: PathBuf,
    spills: Vec<(PathBuf, usize)>,
    union: SchemaUnion,
    rows_pending: usize,
    report: SinkReport,
}

impl Sink {
    pub fn new(options: SinkOptions) -> anyhow::Result<Sink> {
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("cannot create output directory {}", options.dir.display()))?;
        let staging =
            options
                .dir
                .join("_staging")
                .join(format!("{}-{}", options.name, std::process::id()));
        std::fs::create_dir_all(&staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        Ok(Sink {
            options,
            staging,
            direct: None,
            spills: vec![],
            union: SchemaUnion::default(),
            rows_pending: 0,
            report: SinkReport::default(),
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.write_direct(batch)? {
            return Ok(());
        }
        let path = self
            .staging
            .join(format!("spill-{:06}.arrows", self.spills.len()));
        let mut w = StreamWriter::try_new(BufWriter::new(File::create(&path)?), &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
        self.union.add(&batch.schema());
        self.spills.push((path, batch.num_rows()));
        self.rows_pending += batch.num_rows();
        if self.rows_pending >= self.options.max_rows_per_file {
            self.flush_file()?;
        }
        Ok(())
    }

    fn next_path(&self) -> (PathBuf, PathBuf) {
        let ext = match self.options.format {
            Format::Parquet => "parquet",
            Format::ArrowIpc => "arrow",
        };
        let path = self.options.dir.join(format!(
            "{}-{:05}.{ext}",
            self.options.name,
            self.report.files.len()
        ));
        let tmp = self.staging.join(format!(
            "{}.inprogress",
            path.file_name().expect("file name").to_string_lossy()
        ));
        (path, tmp)
    }

    /// Writes `batch` straight into the open Parquet file when its schema allows; `false`
    /// means the caller spills it.
    fn write_direct(&mut self, batch: &RecordBatch) -> anyhow::Result<bool> {
        let fixed = batch
            .schema()
            .fields()
            .iter()
            .all(|f| f.data_type() != &arrow::datatypes::DataType::Null);
        if self.options.format != Format::Parquet || !self.spills.is_empty() || !fixed {
            self.close_direct()?;
            return Ok(false);
        }
        if self
            .direct
            .as_ref()
            .is_some_and(|d| d.schema != batch.schema())
        {
            self.close_direct()?; // a new schema starts a new file
        }
        if self.direct.is_none() {
            let (path, tmp) = self.next_path();
            let file = BufWriter::with_capacity(
                1 << 20,
                File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?,
            );
            let schema = batch.schema();
            let writer =
                ArrowWriter::try_new(file, schema.clone(), Some(self.properties(&schema)?))?;
            self.direct = Some(Direct {
                writer,
                schema,
                tmp,
                path,
            });
        }
        self.direct.as_mut().expect("opened").writer.write(batch)?;
        self.rows_pending += batch.num_rows();
        if self.rows_pending >= self.options.max_rows_per_file {
            self.close_direct()?;
        }
        Ok(true)
    }

    fn close_direct(&mut self) -> anyhow::Result<()> {
        let Some(d) = self.direct.take() else {
            return Ok(());
        };
        d.writer.close()?;
        self.publish(&d.tmp, d.path)
    }

    /// Makes a finished file visible: fsync, then rename out of staging.
    fn publish(&mut self, tmp: &Path, path: PathBuf) -> anyhow::Result<()> {
        File::open(tmp)?.sync_all()?;
        std::fs::rename(tmp, &path)
            .with_context(|| format!("cannot publish {}", path.display()))?;
        self.report.bytes += std::fs::metadata(&path)?.len();
        self.report.rows += self.rows_pending as u64;
        self.report.files.push(path);
        self.rows_pending = 0;
        Ok(())
    }

    /// Writes the spilled batches as one file with one schema, then publishes it by rename.
    fn flush_file(&mut self) -> anyhow::Result<()> {
        if self.spills.is_empty() {
            return Ok(());
        }
        let schema = self.union.schema();
        let (final_path, tmp) = self.next_path();
        let file = BufWriter::with_capacity(
            1 << 20,
            File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?,
        );
        let spills = std::mem::take(&mut self.spills);
        let batches = spills
            .iter()
            .map(|(p, _)| -> anyhow::Result<Vec<RecordBatch>> {
                let reader = StreamReader::try_new(std::io::BufReader::new(File::open(p)?), None)?;
                Ok(reader.collect::<Result<Vec<_>, _>>()?)
            });
        match self.options.format {
            Format::Parquet => {
                let mut w =
                    ArrowWriter::try_new(file, schema.clone(), Some(self.properties(&schema)?))?;
                for spill in batches {
                    for batch in spill? {
                        w.write(&self.union.conform(&batch, &schema))?;
                    }
                }
                w.close()?;
            }
            Format::ArrowIpc => {
                let schema = Arc::new(
                    schema.as_ref().clone().with_metadata(
                        self.options
                            .metadata
                            .iter()
                            .cloned()
                            .collect::<std::collections::HashMap<String, String>>(),
                    ),
                );
                let mut w = FileWriter::try_new(file, &schema)?;
                for spill in batches {
                    for batch in spill? {
                        w.write(&self.union.conform(&batch, &schema))?;
                    }
                }
                w.finish()?;
            }
        }
        for (p, _) in &spills {
            let _ = std::fs::remove_file(p);
        }
        self.publish(&tmp, final_path)?;
        self.union = SchemaUnion::default();
        Ok(())
    }

    /// zstd(3), page statistics, row groups bounded by rows and bytes (the writer buffers a
    /// whole row group), no dictionary for JSON payload columns (large, rarely repeated).
    fn properties(&self, schema: &arrow::datatypes::Schema) -> anyhow::Result<WriterProperties> {
        let compression = match self.options.compression.as_str() {
            "snappy" => Compression::SNAPPY,
            "none" => Compression::UNCOMPRESSED,
            _ => Compression::ZSTD(ZstdLevel::try_new(3)?),
        };
        let mut builder = WriterProperties::builder();
        for field in schema.fields() {
            if field.extension_type_name() == Some("arrow.json") {
                builder = builder.set_column_dictionary_enabled(
                    parquet::schema::types::ColumnPath::from(field.name().as_str()),
                    false,
                );
            }
        }
        Ok(builder
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.options.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_key_value_metadata(Some(
                self.options
                    .metadata
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect(),
            ))
            .set_created_by(format!("runlake {}", env!("CARGO_PKG_VERSION")))
            .build())
    }

    /// Writes what is left and removes the staging directory.
    pub fn finish(mut self) -> anyhow::Result<SinkReport> {
        self.close_direct()?;
        self.flush_file()?;
        let _ = std::fs::remove_dir(&self.staging);
        if let Some(parent) = self.staging.parent() {
            let _ = std::fs::remove_dir(parent); // only if empty: other sinks may share it
        }
        Ok(self.report)
    }
}

pub fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('_') || n.starts_with('.'))
}
