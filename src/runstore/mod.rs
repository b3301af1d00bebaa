//! Run files indexed in memory and LangSmith's query semantics over them (windows, ids,
//! filters, trace and tree filters, keyset cursors, v1 rendering). No HTTP: the emulator
//! serves it, and the run-file source reads it directly, so both give the same runs.

mod query;
mod render;
mod store;
pub mod threads;

pub use query::{Cursor, Order, Page, RunQuery};
pub use render::{preview, write_v1_run};
pub use store::{
    Project, Store, StoredRun, decompress, open_maybe_compressed, run_session, stored_run,
};
