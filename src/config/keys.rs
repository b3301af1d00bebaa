//! The keys each table of a pipeline file accepts, read from the serde models themselves so
//! the validator, the JSON Schema (`runlake schema`) and the README cannot drift apart.

use serde::de::{self, Deserializer, Visitor};

use super::model::*;

/// Top-level keys of a pipeline file (the loader matches exactly these).
pub const TOP_LEVEL_KEYS: &[&str] = &["name", "description", "source", "load", "stages", "sinks"];

/// The field names serde accepts for a struct (renames applied), e.g. `["type", "inputs", …]`.
pub fn fields_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    let mut grab = FieldGrabber(None);
    let _ = T::deserialize(&mut grab);
    grab.0.unwrap_or(&[])
}

/// The variant names serde accepts for a unit enum (renames applied), e.g. `["auto", "v1", "v2"]`.
pub fn variants_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    fields_of::<T>()
}

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
    Some(match kind {
        "query_runs" => fields_of::<QueryRunsConfig>(),
        "group_by_trace" => fields_of::<GroupByTraceConfig>(),
        "fetch_roots" => fields_of::<FetchRootsConfig>(),
        "flatten" => fields_of::<FlattenConfig>(),
        "filter" => fields_of::<FilterConfig>(),
        _ => return None,
    })
}

/// `[sinks.<id>]` (every sink type takes the same keys).
pub fn sink_keys() -> &'static [&'static str] {
    fields_of::<SinkConfig>()
}

/// One `aggregate.<name>` of `group_by_trace`.
pub fn aggregate_keys() -> &'static [&'static str] {
    fields_of::<AggregateConfig>()
}

/// One entry of `flatten.columns`.
pub fn column_keys() -> &'static [&'static str] {
    fields_of::<ColumnConfig>()
}

/// One entry of `flatten.expand`.
pub fn expand_keys() -> &'static [&'static str] {
    fields_of::<ExpandConfig>()
}

/// A deserializer that only records the field (struct) or variant (enum) names a derived
/// `Deserialize` asks for.
struct FieldGrabber(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut FieldGrabber {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(variants);
        Err(de::Error::custom("variants recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}
