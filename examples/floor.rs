//! The CPU floor of a pipeline run (issue 17), measured on the exact bytes it handled:
//!
//! (a) parsing the API answers it received (captured by `runlake emulate --capture DIR`),
//!     reading only what the pipeline uses: per run `id`, `trace_id`, `name`, `run_type`,
//!     `start_time` as strings, `inputs`, `outputs`, `feedback_stats` as raw JSON (one level of
//!     keys taken apart for the fields named by `--expand`, as a pipeline that expands them into
//!     columns must), and each page's `next_cursor`; everything else is skipped;
//! (b) zstd at the sink's level over the column bytes it wrote: every page of every column chunk
//!     of the output Parquet files, decompressed as the reader returns it, compressed again with
//!     `zstd::bulk::compress`.
//!
//! Beyond parse + zstd, two costs no pipeline avoids, measured the same way (reported, not in
//! `floor`): (c) `transport`, receiving the same bodies over a loopback TCP connection, one
//! request per body, into a reused buffer (the receiving thread's CPU; the sender is the
//! server's); (d) `parquet_write`, the parquet crate's `ArrowWriter` with the sink's own
//! properties writing the output's rows again, file by file, into memory (zstd included).
//! `floor_with_writer` = parse + transport + parquet_write: the least a pipeline built on
//! HTTP and the parquet crate can spend. Beside (a), for reference: the same typed read with
//! the payloads copied out (`parse_serde_json_owned_raw`), and runlake's own decode of the
//! bodies into its `Run` model (`runlake_decode`).
//!
//! Each is timed on one thread over bytes already in memory (so wall = CPU), best of `--repeat`.
//! sonic-rs chooses its SIMD code at compile time: built with `RUSTFLAGS="-C target-cpu=native"`
//! (AVX2 here) its parses were 5-40% faster, yet the best validating one stayed within 10% of
//! serde_json's RawValue read on these bodies, so the floor does not depend on that flag.
//! Usage: cargo run --release --example floor -- --capture DIR --output DIR
//!          [--expand inputs,outputs,feedback_stats] [--level 3] [--repeat 3]
//! Prints one `name seconds` line per measurement, then `floor_parse`, `floor_zstd`, `floor`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde::Deserialize;

struct Args {
    capture: PathBuf,
    output: PathBuf,
    expand: Vec<String>,
    level: i32,
    repeat: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        capture: PathBuf::new(),
        output: PathBuf::new(),
        expand: Vec::new(),
        level: runlake::sink::settings::ZSTD_DEFAULT_LEVEL,
        repeat: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--capture" => a.capture = value.into(),
            "--output" => a.output = value.into(),
            "--expand" => a.expand = value.split(',').map(str::to_string).collect(),
            "--level" => a.level = value.parse()?,
            "--repeat" => a.repeat = value.parse()?,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if a.capture.as_os_str().is_empty() || a.output.as_os_str().is_empty() {
        bail!("usage: floor --capture DIR --output DIR [--expand F,..] [--level N] [--repeat N]");
    }
    Ok(a)
}

/// Best time of `repeat` runs of `f`, in seconds; `f` returns a checksum kept alive.
fn best(repeat: usize, mut f: impl FnMut() -> anyhow::Result<usize>) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let start = Instant::now();
        black_box(f()?);
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, ext, out)?;
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

// --- (a) parsing -------------------------------------------------------------------------

/// Sums what a consumer would touch, so nothing is optimised away.
fn touch(s: &str) -> usize {
    s.len()
}

/// sonic-rs, lazily: iterate the page object, its `items` array and each run's fields,
/// skipping (but validating) what is not read; `checked = false` skips validation too.
fn sonic_lazy(body: &str, expand: &[String], checked: bool) -> anyhow::Result<usize> {
    use sonic_rs::JsonValueTrait;
    fn object_iter(s: &str, checked: bool) -> sonic_rs::ObjectJsonIter<'_> {
        if checked {
            sonic_rs::to_object_iter(s)
        } else {
            // SAFETY: only used on the emulator's own JSON, for reference.
            unsafe { sonic_rs::to_object_iter_unchecked(s) }
        }
    }
    let mut sum = 0;
    for field in object_iter(body, checked) {
        let (key, value) = field?;
        match &*key {
            "next_cursor" => sum += value.as_str().map_or(0, touch),
            "items" => {
                let items = if checked {
                    sonic_rs::to_array_iter(value.as_raw_str())
                } else {
                    // SAFETY: as above.
                    unsafe { sonic_rs::to_array_iter_unchecked(value.as_raw_str()) }
                };
                for item in items {
                    let item = item?;
                    for field in object_iter(item.as_raw_str(), checked) {
                        let (key, value) = field?;
                        match &*key {
                            "id" | "trace_id" | "name" | "run_type" | "start_time" => {
                                sum += value.as_str().map_or(0, touch)
                            }
                            "inputs" | "outputs" | "feedback_stats" => {
                                if expand.iter().any(|e| *e == *key) && value.is_object() {
                                    for inner in object_iter(value.as_raw_str(), checked) {
                                        let (k, v) = inner?;
                                        sum += touch(&k) + touch(v.as_raw_str());
                                    }
                                } else {
                                    sum += touch(value.as_raw_str());
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(sum)
}

/// A v2 page of the fields the pipelines read, its payloads kept raw as `P` (sonic-rs's lazy
/// values or serde_json's `RawValue`s).
#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>, 'de: 'a"))]
struct Page<'a, P> {
    #[serde(default = "Vec::new")]
    items: Vec<Item<'a, P>>,
    #[serde(borrow)]
    next_cursor: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>, 'de: 'a"))]
struct Item<'a, P> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    run_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    start_time: Option<Cow<'a, str>>,
    inputs: Option<P>,
    outputs: Option<P>,
    feedback_stats: Option<P>,
}

/// sonic-rs through serde in one pass: borrowed strings, lazy (raw) payloads, unknown fields
/// skipped; expanded payloads taken apart one level with the lazy iterator.
fn sonic_serde(body: &str, expand: &[String]) -> anyhow::Result<usize> {
    use sonic_rs::JsonValueTrait;
    let page: Page<sonic_rs::LazyValue> = sonic_rs::from_str(body)?;
    let mut sum = page.next_cursor.as_deref().map_or(0, touch);
    let raw = |name: &str, v: &Option<sonic_rs::LazyValue>| -> anyhow::Result<usize> {
        let Some(v) = v else { return Ok(0) };
        if expand.iter().any(|e| e == name) && v.is_object() {
            let mut sum = 0;
            for inner in sonic_rs::to_object_iter(v.as_raw_str()) {
                let (k, v) = inner?;
                sum += touch(&k) + touch(v.as_raw_str());
            }
            Ok(sum)
        } else {
            Ok(touch(v.as_raw_str()))
        }
    };
    for item in &page.items {
        for s in [
            &item.id,
            &item.trace_id,
            &item.name,
            &item.run_type,
            &item.start_time,
        ] {
            sum += s.as_deref().map_or(0, touch);
        }
        sum += raw("inputs", &item.inputs)?;
        sum += raw("outputs", &item.outputs)?;
        sum += raw("feedback_stats", &item.feedback_stats)?;
    }
    Ok(sum)
}

/// serde_json for reference: the same typed read with `RawValue` payloads (unknown fields go
/// through `IgnoredAny`).
fn serde_json_raw(body: &str, expand: &[String]) -> anyhow::Result<usize> {
    type Level<'a> = HashMap<Cow<'a, str>, &'a serde_json::value::RawValue>;
    let page: Page<&serde_json::value::RawValue> = serde_json::from_str(body)?;
    let mut sum = page.next_cursor.as_deref().map_or(0, touch);
    let raw = |name: &str, v: Option<&serde_json::value::RawValue>| -> anyhow::Result<usize> {
        let Some(v) = v else { return Ok(0) };
        if expand.iter().any(|e| e == name) && v.get().starts_with('{') {
            let level: Level = serde_json::from_str(v.get())?;
            Ok(level.iter().map(|(k, v)| touch(k) + touch(v.get())).sum())
        } else {
            Ok(touch(v.get()))
        }
    };
    for item in &page.items {
        for s in [
            &item.id,
            &item.trace_id,
            &item.name,
            &item.run_type,
            &item.start_time,
        ] {
            sum += s.as_deref().map_or(0, touch);
        }
        sum += raw("inputs", item.inputs)?;
        sum += raw("outputs", item.outputs)?;
        sum += raw("feedback_stats", item.feedback_stats)?;
    }
    Ok(sum)
}

/// A page as runlake decodes it: every run whole, into its `Run` model (v2 `items`, v1 `runs`).
#[derive(Deserialize)]
struct RunsPage {
    #[serde(default)]
    items: Vec<runlake::model::Run>,
    #[serde(default)]
    runs: Vec<runlake::model::Run>,
}

/// serde_json's cheapest full pass: validate and skip everything (`IgnoredAny`).
fn serde_json_ignored(body: &str) -> anyhow::Result<usize> {
    let _: serde::de::IgnoredAny = serde_json::from_str(body)?;
    Ok(body.len())
}

// --- (c) transport ------------------------------------------------------------------------

/// CPU seconds the calling thread has used.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec, a clock every Linux has.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// The receiving side's CPU for `bodies` sent over loopback TCP, one one-byte request each
/// (best of `repeat`): the kernel's copy into a reused buffer and the round trips' syscalls.
fn transport(bodies: &[String], repeat: usize) -> anyhow::Result<f64> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sizes: Vec<usize> = bodies.iter().map(String::len).collect();
    let mut best = f64::INFINITY;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(|| -> anyhow::Result<()> {
            for _ in 0..repeat {
                let (mut conn, _) = listener.accept()?;
                let mut request = [0u8; 1];
                for body in bodies {
                    conn.read_exact(&mut request)?;
                    conn.write_all(body.as_bytes())?;
                }
            }
            Ok(())
        });
        let mut buffer = vec![0u8; sizes.iter().copied().max().unwrap_or(0)];
        for _ in 0..repeat {
            let mut conn = std::net::TcpStream::connect(addr)?;
            conn.set_nodelay(true)?;
            let start = thread_cpu();
            for &size in &sizes {
                conn.write_all(b"?")?;
                conn.read_exact(&mut buffer[..size])?;
            }
            best = best.min(thread_cpu() - start);
            black_box(&buffer);
        }
        Ok(())
    })?;
    Ok(best)
}

// --- (d) the Parquet writer ---------------------------------------------------------------

/// One output file's rows: its schema and its batches.
type FileRows = (
    runlake::arrow::datatypes::SchemaRef,
    Vec<runlake::arrow::record_batch::RecordBatch>,
);

/// Each output file's rows, as Arrow batches with the file's schema.
fn file_batches(path: &Path) -> anyhow::Result<FileRows> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(path)?,
    )?
    .with_batch_size(runlake::sink::defaults::BATCH_ROWS)
    .build()?;
    let schema = runlake::arrow::record_batch::RecordBatchReader::schema(&reader);
    Ok((schema, reader.collect::<Result<_, _>>()?))
}

/// Writes every file's batches again with the sink's properties, into memory.
fn parquet_write(files: &[FileRows], level: i32) -> anyhow::Result<usize> {
    let options = runlake::sink::SinkOptions {
        format: runlake::sink::Format::Parquet,
        dir: PathBuf::new(),
        name: String::new(),
        codec: runlake::sink::Codec::Zstd { level },
        row_group_rows: runlake::sink::defaults::ROW_GROUP_ROWS,
        max_rows_per_file: runlake::sink::defaults::MAX_ROWS_PER_FILE,
        max_file_bytes: runlake::sink::defaults::MAX_FILE_MB << 20,
        partition_by: vec![],
        metadata: vec![],
        committed: vec![],
    };
    let mut sum = 0;
    for (schema, batches) in files {
        let props = runlake::sink::parquet_properties(&options, schema)?;
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))?;
        for batch in batches {
            writer.write(batch)?;
        }
        sum += writer.into_inner()?.len();
    }
    Ok(sum)
}

// --- (b) compression ---------------------------------------------------------------------

/// Every page of every column chunk of `path`, decompressed.
fn column_pages(path: &Path, pages: &mut Vec<bytes::Bytes>) -> anyhow::Result<()> {
    let reader = SerializedFileReader::new(std::fs::File::open(path)?)?;
    for rg in 0..reader.metadata().num_row_groups() {
        let group = reader.get_row_group(rg)?;
        for col in 0..group.num_columns() {
            for page in group.get_column_page_reader(col)? {
                pages.push(page?.buffer().clone());
            }
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let mut paths = Vec::new();
    files(&a.capture, "json", &mut paths)?;
    let bodies: Vec<String> = paths
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("-query") || n.contains("-runs"))
        })
        .map(std::fs::read_to_string)
        .collect::<Result<_, _>>()?;
    let json_bytes: usize = bodies.iter().map(String::len).sum();
    let mut parquet = Vec::new();
    files(&a.output, "parquet", &mut parquet)?;
    let mut pages = Vec::new();
    for p in &parquet {
        column_pages(p, &mut pages).with_context(|| format!("reading {}", p.display()))?;
    }
    let page_bytes: usize = pages.iter().map(|p| p.len()).sum();
    let outputs = parquet
        .iter()
        .map(|p| file_batches(p).with_context(|| format!("reading {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    eprintln!(
        "{} run-query bodies ({:.1} MB); {} parquet files, {} pages ({:.1} MB uncompressed); zstd level {}",
        bodies.len(),
        json_bytes as f64 / 1e6,
        parquet.len(),
        pages.len(),
        page_bytes as f64 / 1e6,
        a.level
    );

    let over = |f: &dyn Fn(&str) -> anyhow::Result<usize>| {
        best(a.repeat, || {
            bodies.iter().try_fold(0, |sum, b| Ok(sum + f(b)?))
        })
    };
    let sonic_lazy_s = over(&|b| sonic_lazy(b, &a.expand, true))?;
    let sonic_unchecked_s = over(&|b| sonic_lazy(b, &a.expand, false))?;
    let sonic_serde_s = over(&|b| sonic_serde(b, &a.expand))?;
    let serde_raw_s = over(&|b| serde_json_raw(b, &a.expand))?;
    let serde_ignored_s = over(&serde_json_ignored)?;
    // Beside the floor: what copying the payloads out costs, and runlake's own decode.
    let owned_s = over(&|b| {
        let page: Page<Box<serde_json::value::RawValue>> = serde_json::from_str(b)?;
        Ok(page.items.len())
    })?;
    let runlake_s = over(&|b| {
        let page: RunsPage = serde_json::from_str(b)?;
        Ok(page.items.len() + page.runs.len())
    })?;
    let zstd_s = best(a.repeat, || {
        let mut sum = 0;
        for page in &pages {
            sum += zstd::bulk::compress(page, a.level)?.len();
        }
        Ok(sum)
    })?;
    println!("parse_sonic_lazy {sonic_lazy_s:.4}");
    println!("parse_sonic_lazy_unchecked {sonic_unchecked_s:.4}");
    println!("parse_sonic_serde {sonic_serde_s:.4}");
    println!("parse_serde_json_rawvalue {serde_raw_s:.4}");
    println!("parse_serde_json_ignoredany {serde_ignored_s:.4}");
    println!("parse_serde_json_owned_raw {owned_s:.4}");
    println!("runlake_decode {runlake_s:.4}");
    // The floor takes the fastest parse that extracts what the pipeline reads and still
    // validates what it skips (not the unchecked iterator, nor IgnoredAny, which extracts nothing).
    let parse = sonic_lazy_s.min(sonic_serde_s).min(serde_raw_s);
    println!("floor_parse {parse:.4}");
    println!("floor_zstd {zstd_s:.4}");
    println!("floor {:.4}", parse + zstd_s);
    let transport_s = transport(&bodies, a.repeat)?;
    let write_s = best(a.repeat, || parquet_write(&outputs, a.level))?;
    println!("transport {transport_s:.4}");
    println!("parquet_write {write_s:.4}");
    println!("floor_with_writer {:.4}", parse + transport_s + write_s);
    Ok(())
}
