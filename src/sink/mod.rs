//! Sinks: record batches → Parquet or Arrow IPC files, laid out in Hive partitions inside a
//! local staging directory; `lake` and `commit` publish them.
//!
//! While every batch has the same fully typed schema, Parquet is written straight to a file
//! per partition (at most [`MAX_OPEN_WRITERS`] open; the least recently used is closed when
//! more are needed). Otherwise (expanded `prefix.*` columns, widening types) batches are
//! set aside (held in memory up to [`HELD_BYTES`], spilled as Arrow IPC files past it) and,
//! at the end, conformed to the union schema of the whole output; files written straight away
//! before a new column appeared are rewritten with it, so every file has the same columns.

mod arrow_ipc;
pub mod commit;
pub mod lake;
mod parquet_format;
pub mod partition;
pub mod settings;
pub mod table;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::arrow::datatypes::SchemaRef;
use crate::arrow::ipc::reader::StreamReader;
use crate::arrow::ipc::writer::StreamWriter;
use crate::arrow::record_batch::RecordBatch;
use anyhow::Context;
use indexmap::IndexMap;
use parquet::arrow::ArrowWriter;

use crate::flatten::{Kind, SchemaUnion, kind_of};
/// What a sink's settings fall back to, in one place: pipelines and `convert` share them.
pub mod defaults {
    pub const ROW_GROUP_ROWS: usize = 100_000;
    pub const MAX_ROWS_PER_FILE: usize = 1_000_000;
    /// A file is closed once it reaches about this many MiB.
    pub const MAX_FILE_MB: u64 = 512;
    /// Rows per record batch built from runs.
    pub const BATCH_ROWS: usize = 8192;
}

pub use parquet_format::properties as parquet_properties;
pub use partition::PartitionKey;

/// Upper bound of a row group's encoded size, which the writer holds in memory.
const ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;
/// Parquet files open at once. Each holds an uncompressed page and a zstd context per column
/// besides its row group; rows mostly arrive in time order, so a few cover the partitions in
/// use (tool_usage at 1M runs: 20 date partitions, still 20 files, ~12 MB less peak RSS than
/// with 8).
pub const MAX_OPEN_WRITERS: usize = 4;
/// Write buffer per open file: the Parquet writer hands over whole column chunks when a row
/// group closes, so a small buffer only batches page headers and footers.
const FILE_BUFFER_BYTES: usize = 64 * 1024;

/// The file format a sink writes: its `type` in a pipeline file. Each has its module
/// (`parquet_format`, `arrow_ipc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Parquet,
    ArrowIpc,
}

impl Format {
    /// Its `type` in a pipeline file.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::ArrowIpc => "arrow_ipc",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::ArrowIpc => "arrow",
        }
    }

    /// Sinks take rows, or runs (traces) and threads in their default row shapes.
    pub fn accepts(self, flow: crate::model::Flow) -> bool {
        use crate::model::Flow;
        match self {
            Format::Parquet | Format::ArrowIpc => {
                matches!(flow, Flow::Rows | Flow::Runs | Flow::Traces | Flow::Threads)
            }
        }
    }
}

/// How a sink's files are compressed: its `compression` and `compression_level`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// zstd at a level checked against [`settings::ZSTD_LEVELS`].
    Zstd {
        level: i32,
    },
    Snappy,
    Uncompressed,
}

#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub format: Format,
    /// Local directory the files are written under (a staging directory until committed).
    pub dir: PathBuf,
    /// Base name of the output files: the sink id, plus the window for windowed loads.
    pub name: String,
    pub codec: Codec,
    pub row_group_rows: usize,
    pub max_rows_per_file: usize,
    /// Files are closed once they reach about this size.
    pub max_file_bytes: u64,
    pub partition_by: Vec<PartitionKey>,
    /// Key-value metadata stamped into every file (never secrets).
    pub metadata: Vec<(String, String)>,
    /// The columns (and kinds) the table has committed: every file keeps them, as they are.
    pub committed: Vec<(String, Kind)>,
}

/// One finished file, relative to the sink's directory.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StagedFile {
    /// `date=2026-10-01/tool_usage-00000.parquet`, always with `/`.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

/// What a sink wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SinkReport {
    pub files: Vec<StagedFile>,
    pub rows: u64,
    pub bytes: u64,
    /// Columns and their Arrow types, as written.
    pub schema: Vec<(String, String)>,
    /// Which of them hold JSON text.
    pub json_columns: Vec<String>,
}

/// A file being written from batches set aside.
struct OpenFile {
    file: Box<dyn FormatWriter>,
    /// Where it is written (`<rel>.inprogress`, which readers skip).
    tmp: PathBuf,
    /// Its name in the sink's directory once finished.
    rel: String,
    rows: u64,
}

/// A Parquet file being written straight from batches of one schema.
struct Direct {
    writer: ArrowWriter<BufWriter<File>>,
    schema: SchemaRef,
    tmp: PathBuf,
    rel: String,
    rows: u64,
}

/// Batches set aside until the output's schema is known are held in memory up to this many
/// bytes (Arrow's count, all partitions together); later ones are spilled to Arrow IPC files.
/// retriever_io at 163k runs holds all of its ~14 MB: writing, reading back and deleting
/// the spill files cost ~15% of its CPU.
const HELD_BYTES: usize = 32 * 1024 * 1024;

/// A batch set aside, in arrival order.
enum SetAside {
    Held(RecordBatch),
    Spilled(PathBuf),
}

/// The files of one partition.
#[derive(Default)]
struct Partition {
    direct: Option<Direct>,
    set_aside: Vec<SetAside>,
    files: usize,
    last_used: u64,
}

pub struct Sink {
    options: SinkOptions,
    partitions: IndexMap<String, Partition>,
    spill_dir: PathBuf,
    /// Batches set aside so far (held or spilled).
    set_aside: usize,
    held_bytes: usize,
    /// [`HELD_BYTES`] (tests spill everything).
    held_budget: usize,
    /// Files written straight away: their place in the report and their schema.
    direct_files: Vec<(usize, SchemaRef)>,
    union: SchemaUnion,
    /// The table's committed schema: batches of exactly it are written straight away.
    committed_schema: Option<SchemaRef>,
    written_schema: Option<SchemaRef>,
    clock: u64,
    report: SinkReport,
}

impl Sink {
    pub fn new(options: SinkOptions) -> anyhow::Result<Sink> {
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("cannot create directory {}", options.dir.display()))?;
        let spill_dir = options.dir.join("_spill");
        let union = SchemaUnion::committed(&options.committed);
        let committed_schema = (!options.committed.is_empty()).then(|| union.schema());
        Ok(Sink {
            options,
            spill_dir,
            partitions: IndexMap::new(),
            set_aside: 0,
            held_bytes: 0,
            held_budget: HELD_BYTES,
            direct_files: vec![],
            union,
            committed_schema,
            written_schema: None,
            clock: 0,
            report: SinkReport::default(),
        })
    }

    /// Writes a batch; `start_times` are the rows' run start times (µs), for date partitions.
    pub fn write(
        &mut self,
        batch: &RecordBatch,
        start_times: &[Option<i64>],
    ) -> anyhow::Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        for slice in partition::split(&self.options.partition_by, batch, start_times)? {
            self.write_partition(slice.dir, &slice.batch)?;
        }
        Ok(())
    }

    fn write_partition(&mut self, dir: String, batch: &RecordBatch) -> anyhow::Result<()> {
        self.clock += 1;
        let clock = self.clock;
        self.partitions.entry(dir.clone()).or_default().last_used = clock;
        if self.write_direct(&dir, batch)? {
            return Ok(());
        }
        self.union.add(&batch.schema());
        let bytes = batch.get_array_memory_size();
        let kept = if self.held_bytes + bytes <= self.held_budget {
            self.held_bytes += bytes;
            SetAside::Held(batch.clone())
        } else {
            SetAside::Spilled(self.spill(batch)?)
        };
        self.set_aside += 1;
        self.partitions[&dir].set_aside.push(kept);
        Ok(())
    }

    /// Writes a batch to its own Arrow IPC file in the spill directory.
    fn spill(&mut self, batch: &RecordBatch) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.spill_dir)?;
        let path = self.spill_dir.join(format!("{:06}.arrows", self.set_aside));
        let mut w = StreamWriter::try_new(BufWriter::new(File::create(&path)?), &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
        Ok(path)
    }

    /// Creates the partition's next file as `<rel>.inprogress`: (rel, its temporary path, writer).
    fn create_next(&mut self, dir: &str) -> anyhow::Result<(String, PathBuf, BufWriter<File>)> {
        let rel = self.next_rel(dir);
        let tmp = self.options.dir.join(format!("{rel}.inprogress"));
        if let Some(parent) = tmp.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        Ok((rel, tmp, BufWriter::with_capacity(FILE_BUFFER_BYTES, file)))
    }

    /// Next file name in a partition: `<dir>/<name>-NNNNN.<ext>`.
    fn next_rel(&mut self, dir: &str) -> String {
        let p = self.partitions.get_mut(dir).expect("partition");
        let file = format!(
            "{}-{:05}.{}",
            self.options.name,
            p.files,
            self.options.format.extension()
        );
        p.files += 1;
        if dir.is_empty() {
            file
        } else {
            format!("{dir}/{file}")
        }
    }

    /// Writes `batch` straight into the partition's open Parquet file when its schema allows;
    /// `false` means the caller spills it.
    fn write_direct(&mut self, dir: &str, batch: &RecordBatch) -> anyhow::Result<bool> {
        let fixed = batch
            .schema()
            .fields()
            .iter()
            .all(|f| f.data_type() != &crate::arrow::datatypes::DataType::Null);
        let same = self
            .written_schema
            .as_ref()
            .or(self.committed_schema.as_ref())
            .is_none_or(|s| *s == batch.schema());
        if self.options.format != Format::Parquet || self.set_aside > 0 || !fixed || !same {
            self.close_all_direct()?;
            return Ok(false);
        }
        if self.partitions[dir].direct.is_none() {
            let open = self
                .partitions
                .values()
                .filter(|p| p.direct.is_some())
                .count();
            if open >= MAX_OPEN_WRITERS {
                let lru = self
                    .partitions
                    .iter()
                    .filter(|(_, p)| p.direct.is_some())
                    .min_by_key(|(_, p)| p.last_used)
                    .map(|(d, _)| d.clone())
                    .expect("an open writer");
                self.close_direct(&lru)?;
            }
            let (rel, tmp, file) = self.create_next(dir)?;
            let schema = batch.schema();
            let writer = ArrowWriter::try_new(
                file,
                schema.clone(),
                Some(parquet_format::properties(&self.options, &schema)?),
            )?;
            self.written_schema = Some(schema.clone());
            self.partitions[dir].direct = Some(Direct {
                writer,
                schema,
                tmp,
                rel,
                rows: 0,
            });
        }
        let d = self.partitions[dir].direct.as_mut().expect("opened");
        debug_assert_eq!(d.schema, batch.schema());
        d.writer.write(batch)?;
        d.rows += batch.num_rows() as u64;
        let size = d.writer.bytes_written() + d.writer.in_progress_size();
        if d.rows >= self.options.max_rows_per_file as u64
            || size as u64 >= self.options.max_file_bytes
        {
            self.close_direct(dir)?;
        }
        Ok(true)
    }

    fn close_all_direct(&mut self) -> anyhow::Result<()> {
        let open: Vec<String> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.direct.is_some())
            .map(|(d, _)| d.clone())
            .collect();
        for dir in open {
            self.close_direct(&dir)?;
        }
        Ok(())
    }

    fn close_direct(&mut self, dir: &str) -> anyhow::Result<()> {
        let Some(d) = self.partitions[dir].direct.take() else {
            return Ok(());
        };
        d.writer.close()?;
        self.finished(&d.tmp, d.rel, d.rows)?;
        self.direct_files
            .push((self.report.files.len() - 1, d.schema));
        Ok(())
    }

    /// Rewrites the files written straight away whose columns are not the output's final
    /// ones (a later batch brought a new column), so every file has the same columns.
    fn conform_direct_files(&mut self, schema: &SchemaRef) -> anyhow::Result<()> {
        for (index, written) in std::mem::take(&mut self.direct_files) {
            if written == *schema {
                continue;
            }
            let rel = self.report.files[index].path.clone();
            let path = self.options.dir.join(&rel);
            let tmp = self.options.dir.join(format!("{rel}.inprogress"));
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                File::open(&path)?,
            )?
            .build()?;
            let file =
                File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut out =
                self.open_file(BufWriter::with_capacity(FILE_BUFFER_BYTES, file), schema)?;
            for batch in reader {
                out.write(&self.union.conform(&batch?, schema)?)?;
            }
            out.close()?;
            let bytes = seal(&tmp, &path)?;
            let staged = &mut self.report.files[index];
            self.report.bytes = self.report.bytes - staged.bytes + bytes;
            staged.bytes = bytes;
        }
        Ok(())
    }

    /// A file is complete: fsync it and drop the `.inprogress` suffix.
    fn finished(&mut self, tmp: &Path, rel: String, rows: u64) -> anyhow::Result<()> {
        let bytes = seal(tmp, &self.options.dir.join(&rel))?;
        self.report.bytes += bytes;
        self.report.rows += rows;
        self.report.files.push(StagedFile {
            path: rel,
            rows,
            bytes,
        });
        Ok(())
    }

    /// Writes a partition's batches set aside, conformed to the output's union schema, into
    /// files of at most `max_rows_per_file` rows.
    fn flush_set_aside(&mut self, dir: &str, schema: &SchemaRef) -> anyhow::Result<()> {
        let set_aside = std::mem::take(&mut self.partitions[dir].set_aside);
        let mut out: Option<OpenFile> = None;
        for kept in set_aside {
            match kept {
                SetAside::Held(batch) => {
                    self.held_bytes -= batch.get_array_memory_size();
                    self.write_set_aside(dir, schema, &batch, &mut out)?;
                }
                SetAside::Spilled(path) => {
                    let file = File::open(&path)?;
                    for batch in StreamReader::try_new(std::io::BufReader::new(file), None)? {
                        self.write_set_aside(dir, schema, &batch?, &mut out)?;
                    }
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        if let Some(open) = out {
            open.file.close()?;
            self.finished(&open.tmp, open.rel, open.rows)?;
        }
        Ok(())
    }

    /// Writes one batch set aside into the partition's open file (opening one if needed),
    /// closing the file once it is full.
    fn write_set_aside(
        &mut self,
        dir: &str,
        schema: &SchemaRef,
        batch: &RecordBatch,
        out: &mut Option<OpenFile>,
    ) -> anyhow::Result<()> {
        let batch = self.union.conform(batch, schema)?;
        let mut open = match out.take() {
            Some(open) => open,
            None => {
                let (rel, tmp, file) = self.create_next(dir)?;
                OpenFile {
                    file: self.open_file(file, schema)?,
                    tmp,
                    rel,
                    rows: 0,
                }
            }
        };
        open.file.write(&batch)?;
        open.rows += batch.num_rows() as u64;
        if open.rows >= self.options.max_rows_per_file as u64
            || open.file.size() >= self.options.max_file_bytes
        {
            open.file.close()?;
            self.finished(&open.tmp, open.rel, open.rows)?;
        } else {
            *out = Some(open);
        }
        Ok(())
    }

    fn open_file(
        &self,
        file: BufWriter<File>,
        schema: &SchemaRef,
    ) -> anyhow::Result<Box<dyn FormatWriter>> {
        match self.options.format {
            Format::Parquet => parquet_format::open(file, schema, &self.options),
            Format::ArrowIpc => arrow_ipc::open(file, schema, &self.options),
        }
    }

    /// Writes what is left and removes the spill directory.
    pub fn finish(mut self) -> anyhow::Result<SinkReport> {
        self.close_all_direct()?;
        if self.set_aside > 0 {
            let mut union = self.union.clone();
            if let Some(direct) = &self.written_schema {
                union.add(direct);
            }
            self.union = union;
            let schema = self.union.schema();
            let dirs: Vec<String> = self.partitions.keys().cloned().collect();
            for dir in dirs {
                self.flush_set_aside(&dir, &schema)?;
            }
            self.conform_direct_files(&schema)?;
            self.written_schema = Some(schema);
        }
        let _ = std::fs::remove_dir_all(&self.spill_dir);
        if let Some(schema) = &self.written_schema {
            self.report.schema = schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().to_string()))
                .collect();
            self.report.json_columns = schema
                .fields()
                .iter()
                .filter(|f| kind_of(f) == Some(Kind::Json))
                .map(|f| f.name().clone())
                .collect();
        }
        Ok(self.report)
    }
}

/// A file of one format being written from conformed batches; each format's module
/// implements it.
trait FormatWriter {
    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()>;
    /// Bytes written so far (about), to bound file sizes.
    fn size(&self) -> u64;
    fn close(self: Box<Self>) -> anyhow::Result<()>;
}

/// Makes a written file durable under its final name: fsync, then rename from `tmp` (a name
/// readers skip) to `path`. Its size in bytes.
fn seal(tmp: &Path, path: &Path) -> anyhow::Result<u64> {
    File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path).with_context(|| format!("cannot finish {}", path.display()))?;
    Ok(std::fs::metadata(path)?.len())
}

/// Readers (Spark, pyarrow, DuckDB's hive layout) skip names starting with `_` or `.`.
pub fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('_') || n.starts_with('.'))
}

/// Shared batches with their rows' run start times.
#[derive(Debug, Clone)]
pub struct RowBatch {
    pub batch: RecordBatch,
    pub start_times: Arc<Vec<Option<i64>>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::array::{Array, Int64Array, StringArray};
    use crate::arrow::datatypes::{DataType, Field, Schema};

    fn batch(ids: &[i64], names: Option<&[&str]>) -> RecordBatch {
        let mut fields = vec![Field::new("id", DataType::Int64, true)];
        let mut columns: Vec<crate::arrow::array::ArrayRef> =
            vec![Arc::new(Int64Array::from(ids.to_vec()))];
        if let Some(names) = names {
            fields.push(Field::new("name", DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from(names.to_vec())));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    /// Parquet into `dir` with `codec`, small row groups and files; no partitions.
    pub(super) fn options(dir: &Path, codec: Codec) -> SinkOptions {
        SinkOptions {
            format: Format::Parquet,
            dir: dir.to_path_buf(),
            name: "t".into(),
            codec,
            row_group_rows: 100,
            max_rows_per_file: 1000,
            max_file_bytes: 1 << 20,
            partition_by: vec![],
            metadata: vec![],
            committed: vec![],
        }
    }

    /// Every row of the output's files as (its file's column count, id, name).
    fn rows_of(dir: &Path, report: &SinkReport) -> Vec<(usize, i64, Option<String>)> {
        let mut rows = vec![];
        for f in &report.files {
            let file = File::open(dir.join(&f.path)).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
                    .unwrap();
            for b in reader {
                let b = b.unwrap();
                let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                let names = b
                    .column_by_name("name")
                    .map(|c| c.as_any().downcast_ref::<StringArray>().unwrap().clone());
                for i in 0..b.num_rows() {
                    let name = names
                        .as_ref()
                        .and_then(|n| n.is_valid(i).then(|| n.value(i).to_string()));
                    rows.push((b.num_columns(), ids.value(i), name));
                }
            }
        }
        rows
    }

    /// A file written straight away, before a batch brought a new column, is rewritten with
    /// it: every file of the output has the same columns.
    #[test]
    fn a_file_written_before_a_new_column_appears_gets_the_column_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::new(options(dir.path(), Codec::Zstd { level: 3 })).unwrap();
        sink.write(&batch(&[1, 2], None), &[None, None]).unwrap();
        sink.write(&batch(&[3], Some(&["c"])), &[None]).unwrap();
        let report = sink.finish().unwrap();
        assert_eq!(report.files.len(), 2);
        assert_eq!(
            report.bytes,
            report.files.iter().map(|f| f.bytes).sum::<u64>()
        );
        let on_disk: u64 = report
            .files
            .iter()
            .map(|f| std::fs::metadata(dir.path().join(&f.path)).unwrap().len())
            .sum();
        assert_eq!(report.bytes, on_disk);
        assert_eq!(
            rows_of(dir.path(), &report),
            vec![(2, 1, None), (2, 2, None), (2, 3, Some("c".to_string()))]
        );
    }

    /// Batches of differing schemas are set aside, held in memory or spilled to files past
    /// the budget; either way the output holds every row under the union schema, in order,
    /// and no spill file is left.
    #[test]
    fn batches_set_aside_in_memory_or_spilled_make_the_same_output() {
        let mut outputs = vec![];
        for budget in [HELD_BYTES, 0] {
            let dir = tempfile::tempdir().unwrap();
            let mut sink = Sink::new(options(dir.path(), Codec::Zstd { level: 3 })).unwrap();
            sink.held_budget = budget;
            // The first batch is written straight to a file; the schema changes, so the
            // next two are set aside.
            sink.write(&batch(&[1, 2], Some(&["a", "b"])), &[None, None])
                .unwrap();
            sink.write(&batch(&[3], None), &[None]).unwrap();
            sink.write(&batch(&[4, 5], None), &[None, None]).unwrap();
            let spill_files = std::fs::read_dir(dir.path().join("_spill"))
                .map(|d| d.count())
                .unwrap_or(0);
            assert_eq!(spill_files, if budget == 0 { 2 } else { 0 });
            let report = sink.finish().unwrap();
            assert_eq!(report.rows, 5);
            assert!(!dir.path().join("_spill").exists());
            outputs.push(rows_of(dir.path(), &report));
        }
        assert_eq!(outputs[0], outputs[1]);
        let name = |s: &str| Some(s.to_string());
        assert_eq!(
            outputs[0],
            vec![
                (2, 1, name("a")),
                (2, 2, name("b")),
                (2, 3, None),
                (2, 4, None),
                (2, 5, None)
            ]
        );
    }
}
