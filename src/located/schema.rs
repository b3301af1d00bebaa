//! Pieces of the pipeline file's JSON Schema (draft 2020-12) that every component's own
//! schema is built from.

use serde_json::{Value, json};

use crate::model::paths::SELECTABLE;
use crate::model::run_field::DERIVED;

pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

pub fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

pub fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

pub fn integer(description: &str, minimum: u64) -> Value {
    json!({ "type": "integer", "minimum": minimum, "description": description })
}

pub fn one_of_strings(values: &[&str], description: &str) -> Value {
    json!({ "type": "string", "enum": values, "description": description })
}

pub fn string_list(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

pub fn inputs(what: &str) -> Value {
    json!({
        "type": "array",
        "items": { "type": "string" },
        "minItems": 1,
        "description": format!("Ids of the stages this {what} reads from."),
    })
}

pub fn kind(name: &str, description: &str) -> Value {
    json!({ "const": name, "description": description })
}

/// A table with exactly these properties (no others).
pub fn table(description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

pub fn select(description: &str) -> Value {
    json!({
        "type": "array",
        "items": { "enum": SELECTABLE },
        "description": description,
    })
}

pub fn run_path(description: &str) -> Value {
    string(&format!(
        "{description} A run field ({}, …, or the derived {}) optionally followed by a path into \
         its JSON, e.g. `inputs.question` or `metadata.user_id`.",
        SELECTABLE[..6].join(", "),
        DERIVED.join(", ")
    ))
}
