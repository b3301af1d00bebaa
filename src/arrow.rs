//! The parts of Arrow runlake uses, under the `arrow` umbrella crate's paths, from Arrow's
//! own crates: the umbrella also builds compute kernels runlake never calls (arithmetic,
//! string kernels and their regex engine, the row format), which cost every cold build.

pub mod array {
    pub use arrow_array::builder::*;
    pub use arrow_array::cast::*;
    pub use arrow_array::*;
}

pub use arrow_buffer as buffer;
pub use arrow_ipc as ipc;

pub mod datatypes {
    pub use arrow_array::types::*;
    pub use arrow_schema::*;
}

pub mod record_batch {
    pub use arrow_array::{RecordBatch, RecordBatchOptions, RecordBatchReader};
}

pub mod compute {
    pub use arrow_cast::cast;
    pub use arrow_select::take::take;
}

pub mod error {
    pub use arrow_schema::ArrowError;
}

pub mod util {
    pub use arrow_cast::{display, pretty};
}
