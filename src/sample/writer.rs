use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// A JSONL destination, compressed by extension (`.gz`, `.zst`). Call [`SampleWriter::finish`]:
/// it completes the compressed stream and reports errors that a drop would swallow.
pub struct SampleWriter(Inner);

enum Inner {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

pub fn open_writer(path: &Path) -> io::Result<SampleWriter> {
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let name = path.to_string_lossy();
    Ok(SampleWriter(if name.ends_with(".gz") {
        Inner::Gzip(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        ))
    } else if name.ends_with(".zst") || name.ends_with(".zstd") {
        Inner::Zstd(zstd::Encoder::new(file, 9)?)
    } else {
        Inner::Plain(file)
    }))
}

impl SampleWriter {
    pub fn finish(self) -> io::Result<()> {
        let mut file = match self.0 {
            Inner::Plain(w) => w,
            Inner::Gzip(w) => w.finish()?,
            Inner::Zstd(w) => w.finish()?,
        };
        file.flush()?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

impl Write for SampleWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::Plain(w) => w.write(buf),
            Inner::Gzip(w) => w.write(buf),
            Inner::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Inner::Plain(w) => w.flush(),
            Inner::Gzip(w) => w.flush(),
            Inner::Zstd(w) => w.flush(),
        }
    }
}
