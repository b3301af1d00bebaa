//! Pipeline files: the TOML model, `${VAR}` interpolation, and validation that reports every
//! error with its file, line, column and key.

mod interpolate;
pub mod keys;
mod load;
mod model;
pub use crate::model::paths;
pub mod schema;
mod validate;
pub use crate::model::durations as window;

pub use crate::located::{ConfigError, ConfigErrors};
pub use load::{load, load_with, parse, parse_with};
pub use model::*;
