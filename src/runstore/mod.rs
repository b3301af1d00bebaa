//! Run files indexed in memory and LangSmith's query semantics over them (windows, ids,
//! filters, trace and tree filters, keyset cursors, v1 rendering), with each run's feedback
//! entries; a [`SharedStore`] changes while the emulator serves it. No HTTP: the emulator
//! serves it, and the run-file source reads it directly, so both give the same runs.

pub mod feedback;
mod query;
mod render;
mod store;
pub mod threads;

pub use feedback::{FeedbackEntry, FeedbackFilter, FeedbackInput, FeedbackPatch};
pub use query::{Cursor, FeedbackWindow, Order, Page, RunQuery};
pub use render::{preview, write_v1_run};
pub use store::{
    BLOBS_ROUTE, ChangeError, Project, SharedStore, Store, StoredRun, Upserted, decompress,
    open_decompressed, open_maybe_compressed, run_session, stored_run,
};
