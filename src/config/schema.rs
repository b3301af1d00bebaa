//! A JSON Schema (draft 2020-12) of pipeline files, for editor completion and checks
//! (`runlake schema`; taplo / Even Better TOML read it from a `#:schema <file>` comment).
//!
//! Key lists come from [`super::keys`], i.e. from the serde models the loader uses; the
//! schema adds types, enums and descriptions. `tests/schema.rs` checks both agree.

use serde_json::{Value, json};

use crate::located::schema::*;

use super::keys;
use super::model::{STAGE_TYPES, SinkConfig};
use crate::langsmith::{ApiChoice, Pacing};

fn source() -> Value {
    table(
        "Where runs come from. Unset values fall back to LANGSMITH_ENDPOINT, LANGSMITH_API_KEY, \
         LANGSMITH_WORKSPACE_ID and LANGSMITH_PROJECT, then to config/defaults.toml.",
        json!({
            "endpoint": string("LangSmith API URL, e.g. https://eu.api.smith.langchain.com or https://host/api/v1 (self-hosted)."),
            "api_key": string("API key; use an environment variable (\"${LANGSMITH_API_KEY}\"), never the key itself."),
            "workspace_id": string("Workspace id, required for org-scoped keys (sent as X-Tenant-Id)."),
            "project": string("Project name queried by stages without their own `project`."),
            "api": one_of_strings(keys::variants_of::<ApiChoice>(), "Runs API: v1 /runs/query, v2, or auto (v2 wherever /info offers it, else v1)."),
            "split_windows": boolean("On v1, cut windows longer than 7 days into 7-day windows (v1's faster rate tier). Default true; v2 never splits."),
            "fetch_offloaded": boolean("GET the pre-signed URLs of payloads LangSmith offloaded (inputs_s3_urls, outputs_s3_urls; no credentials sent) and fill inputs/outputs from them. Default false: the URLs are exported in their columns. A payload that cannot be fetched sets its run aside."),
            "max_in_flight": integer("Concurrent requests at most.", 0),
            "max_attempts": integer("Attempts per request before giving up (retries on 429, 5xx, timeouts).", 0),
            "timeout_secs": { "type": "number", "minimum": 0, "description": "Timeout of one request, in seconds." },
            "pacing": one_of_strings(keys::variants_of::<Pacing>(), "auto: LangSmith Cloud paced at its published limits, other endpoints unpaced until a 429; published: always at the published limits; adaptive: never paced until a 429."),
            "rate_window": string("The window request limits are counted over (LangSmith's: \"10s\"); shorter only for an emulator with compressed time."),
            "v1_requests_per_10s": integer("v1 run queries per rate window for windows of at most 7 days; paces that lane on any endpoint.", 1),
            "v1_long_requests_per_10s": integer("v1 run queries per rate window for longer or open-ended windows; paces that lane on any endpoint.", 1),
            "v1_search_requests_per_10s": integer("v1 queries using search() or selecting child_run_ids, windows of at most 7 days, per rate window.", 1),
            "v1_search_long_requests_per_10s": integer("... longer or open-ended windows.", 1),
            "v1_key_requests_per_10s": integer("All v1 run queries of one key per rate window.", 1),
            "v2_requests_per_10s": integer("v2 queries per rate window; paces that lane on any endpoint.", 1),
            "other_requests_per_10s": integer("Other requests (/info, project lookups) per rate window.", 1),
        }),
        &[],
    )
}

fn load() -> Value {
    let duration = |d: &str| json!({ "type": "string", "pattern": "^[0-9]+(s|m|min|h|d|w)$", "description": d });
    table(
        "How runs are cut into committed windows, and how far an incremental run goes.",
        json!({
            "window": duration("Window size, e.g. \"1d\": long ranges are loaded and committed window by window on a UTC grid. Unset: one window per run."),
            "lag": duration("An incremental run stops this long before now, so late and long runs settle (default \"0s\")."),
            "resync": duration("How far back every incremental run re-reads and republishes before the committed end, so runs that finished and feedback that arrived since reach the table (default \"1d\"; \"0s\": off). Feedback edited after that is found and its windows republished too."),
            "max_rejected": integer("How many runs a window may set aside as unreadable (kept in _runlake/<pipeline>/<sink>/rejected/) and still be published (default 0: the window fails and publishes nothing).", 0),
            "trace_margin": duration("How long a trace may last: a window owns the traces whose root started in it and fetches their child runs up to this long after its end (default \"1h\")."),
        }),
        &[],
    )
}

/// The schema as JSON.
pub fn pipeline_schema() -> Value {
    let stage_refs: Vec<Value> = STAGE_TYPES
        .iter()
        .map(|t| json!({ "$ref": format!("#/$defs/{t}") }))
        .collect();
    // ---- top-level tables: add [load] and other tables here, and to keys::TOP_LEVEL_KEYS.
    let top = json!({
        "name": string("Pipeline name (default: the file name without .toml); recorded in the output's metadata."),
        "description": string("What the pipeline exports."),
        "source": { "$ref": "#/$defs/source" },
        "load": load(),
        "stages": {
            "type": "object",
            "description": "Named stages (ids: letters, digits, '_' and '-'), wired by `inputs`.",
            "additionalProperties": { "$ref": "#/$defs/stage" },
        },
        "sinks": {
            "type": "object",
            "description": "Named outputs (ids: letters, digits, '_' and '-').",
            "minProperties": 1,
            "additionalProperties": { "$ref": "#/$defs/sink" },
        },
    });
    // ---- end of top-level tables
    let mut schema = json!({
        "$schema": DIALECT,
        "title": "runlake pipeline",
        "description": "A runlake pipeline file: [source], [stages.<id>] and [sinks.<id>]. Strings may use ${VAR} and ${VAR:-default}.",
        "type": "object",
        "properties": top,
        "required": ["sinks"],
        "additionalProperties": false,
        "$defs": {
            "source": source(),
            "stage": {
                "description": "A stage; `type` picks its kind.",
                "type": "object",
                "required": ["type"],
                "properties": { "type": { "enum": STAGE_TYPES } },
                "oneOf": stage_refs,
            },
            "sink": SinkConfig::schema(),
        },
    });
    // Each stage kind's own schema, from its module.
    let defs = schema["$defs"].as_object_mut().expect("built above");
    for (name, def) in crate::stages::Stage::schemas() {
        defs.insert(name.to_string(), def);
    }
    schema
}
