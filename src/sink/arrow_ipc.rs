//! `type = "arrow_ipc"`: Arrow IPC files, buffers compressed with zstd by default, the run's
//! metadata on the schema.

use std::fs::File;
use std::io::BufWriter;

use crate::arrow::datatypes::SchemaRef;
use crate::arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use crate::arrow::record_batch::RecordBatch;

use super::{Codec, FormatWriter, SinkOptions};

/// An Arrow IPC file, and the bytes handed to it so far (IPC writers do not count them).
struct IpcFile {
    writer: FileWriter<BufWriter<File>>,
    size: u64,
}

/// An Arrow IPC file for `schema`.
pub(super) fn open(
    file: BufWriter<File>,
    schema: &SchemaRef,
    options: &SinkOptions,
) -> anyhow::Result<Box<dyn FormatWriter>> {
    let schema = schema.as_ref().clone().with_metadata(
        options
            .metadata
            .iter()
            .cloned()
            .collect::<std::collections::HashMap<String, String>>(),
    );
    // Arrow IPC compresses buffer by buffer, at zstd's default level.
    // Snappy reaches here when a Parquet sink's rows are streamed as Arrow IPC (`--stdout`):
    // IPC has no snappy, and zstd is its compressed form.
    let compression = match options.codec {
        Codec::Zstd { .. } | Codec::Snappy => Some(crate::arrow::ipc::CompressionType::ZSTD),
        Codec::Uncompressed => None,
    };
    let ipc_options = IpcWriteOptions::default().try_with_compression(compression)?;
    Ok(Box::new(IpcFile {
        writer: FileWriter::try_new_with_options(file, &schema, ipc_options)?,
        size: 0,
    }))
}

impl FormatWriter for IpcFile {
    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        self.writer.write(batch)?;
        self.size += batch.get_array_memory_size() as u64;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn close(mut self: Box<Self>) -> anyhow::Result<()> {
        self.writer.finish()?;
        Ok(())
    }
}
