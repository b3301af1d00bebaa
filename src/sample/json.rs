//! The output line: one v1 Run with its keys in LangSmith's order, nested objects with sorted
//! keys. Sorting here, rather than relying on `serde_json::Map`'s order, keeps the bytes the
//! same whether or not some other crate in the build turns on serde_json's `preserve_order`.

use std::borrow::Borrow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

/// A JSON value serialized with every object's keys in sorted order.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = s.serialize_map(Some(keys.len()))?;
                for key in keys {
                    out.serialize_entry(key, &Sorted(&map[key]))?;
                }
                out.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(Sorted)),
            scalar => scalar.serialize(s),
        }
    }
}

fn sorted<V: Borrow<Value>, S: Serializer>(v: &V, s: S) -> Result<S::Ok, S::Error> {
    Sorted(v.borrow()).serialize(s)
}

/// One line of the JSONL output. Field order follows LangSmith's v1 `RunSchema`; `feedback`
/// is the emulator's extension (the entries `feedback_stats` summarises), absent when empty.
#[derive(Serialize)]
pub struct RunLine<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub run_type: &'a str,
    pub status: &'a str,
    pub start_time: String,
    pub end_time: Option<String>,
    pub error: Option<&'a str>,
    #[serde(serialize_with = "sorted")]
    pub inputs: &'a Value,
    #[serde(serialize_with = "sorted")]
    pub outputs: &'a Value,
    #[serde(serialize_with = "sorted")]
    pub extra: Value,
    #[serde(serialize_with = "sorted")]
    pub events: Value,
    pub tags: Vec<&'a str>,
    pub trace_id: &'a str,
    pub dotted_order: &'a str,
    pub parent_run_id: Option<&'a str>,
    pub parent_run_ids: Vec<&'a str>,
    pub session_id: &'a str,
    pub reference_example_id: Option<&'a str>,
    #[serde(serialize_with = "sorted")]
    pub feedback_stats: Value,
    pub total_tokens: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[serde(serialize_with = "sorted")]
    pub prompt_token_details: Value,
    #[serde(serialize_with = "sorted")]
    pub completion_token_details: Value,
    /// Costs: a JSON number or a decimal string (both occur), or null.
    pub total_cost: Value,
    pub prompt_cost: Value,
    pub completion_cost: Value,
    pub first_token_time: Option<String>,
    pub thread_id: Option<&'a str>,
    pub app_path: String,
    pub in_dataset: bool,
    pub trace_tier: &'a str,
    #[serde(serialize_with = "sorted", skip_serializing_if = "is_empty_list")]
    pub feedback: Value,
}

fn is_empty_list(v: &Value) -> bool {
    v.as_array().is_none_or(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_are_sorted_whatever_the_map_order() {
        let v = json!({"b": [{"z": 1, "a": 2}], "a": null});
        let mut out = Vec::new();
        sorted(&v, &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":null,"b":[{"a":2,"z":1}]}"#
        );
    }
}
