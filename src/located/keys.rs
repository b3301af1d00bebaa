//! The keys a table accepts, read from its serde model itself, so that checks, the JSON
//! Schema and the docs cannot drift from what the loader reads.

use serde::de::{self, Deserializer, Visitor};

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
