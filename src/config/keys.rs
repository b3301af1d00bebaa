//! The keys each table of a pipeline file accepts, read from the serde models themselves so
//! the validator, the JSON Schema (`runlake schema`) and the README cannot drift apart.

use super::model::*;

/// Top-level keys of a pipeline file (the loader matches exactly these).
pub const TOP_LEVEL_KEYS: &[&str] = &["name", "description", "source", "load", "stages", "sinks"];

pub use crate::located::{fields_of, variants_of};

/// `[source]`.
pub fn source_keys() -> &'static [&'static str] {
    fields_of::<SourceConfig>()
}

/// `[load]`.
pub fn load_keys() -> &'static [&'static str] {
    fields_of::<LoadConfig>()
}

/// `[stages.<id>]` of one `type` (`None` for an unknown type).
pub fn stage_keys(kind: &str) -> Option<&'static [&'static str]> {
    crate::stages::Stage::keys(kind)
}

/// `[sinks.<id>]` (every sink type takes the same keys).
pub fn sink_keys() -> &'static [&'static str] {
    fields_of::<SinkConfig>()
}

/// One `aggregate.<name>` of `group_by_trace`.
pub fn aggregate_keys() -> &'static [&'static str] {
    fields_of::<crate::stages::group_by_trace::AggregateSettings>()
}

/// One entry of `flatten.columns`.
pub fn column_keys() -> &'static [&'static str] {
    fields_of::<crate::stages::flatten::ColumnSettings>()
}

/// One entry of `flatten.expand`.
pub fn expand_keys() -> &'static [&'static str] {
    fields_of::<crate::stages::flatten::ExpandSettings>()
}
