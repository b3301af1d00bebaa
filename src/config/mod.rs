//! Pipeline files: the TOML model, `${VAR}` interpolation, and validation that reports every
//! error with its file, line, column and key.

mod error;
mod interpolate;
pub mod keys;
mod load;
mod model;
pub mod paths;
pub mod schema;
mod span;
mod validate;
pub mod window;

pub use error::{ConfigError, ConfigErrors};
pub use load::{load, load_with, parse, parse_with};
pub use model::*;
