//! A JSON Schema (draft 2020-12) of pipeline files, for editor completion and checks
//! (`runlake schema`; taplo / Even Better TOML read it from a `#:schema <file>` comment).
//!
//! Key lists come from [`super::keys`], i.e. from the serde models the loader uses; the
//! schema adds types, enums and descriptions. `tests/schema.rs` checks both agree.

use serde_json::{Value, json};

use super::keys;
use super::model::{COMPRESSIONS, SINK_TYPES, STAGE_TYPES, ZSTD_LEVELS};
use super::paths::{DERIVED, FEEDBACK_STATS, SELECTABLE};
use crate::langsmith::fields::RUN_TYPES;
use crate::langsmith::{ApiChoice, Order, Pacing};

const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

fn integer(description: &str, minimum: u64) -> Value {
    json!({ "type": "integer", "minimum": minimum, "description": description })
}

fn one_of_strings(values: &[&str], description: &str) -> Value {
    json!({ "type": "string", "enum": values, "description": description })
}

fn string_list(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

fn inputs(what: &str) -> Value {
    json!({
        "type": "array",
        "items": { "type": "string" },
        "minItems": 1,
        "description": format!("Ids of the stages this {what} reads from."),
    })
}

fn kind(name: &str, description: &str) -> Value {
    json!({ "const": name, "description": description })
}

/// A table with exactly these properties (no others).
fn table(description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn select(description: &str) -> Value {
    json!({
        "type": "array",
        "items": { "enum": SELECTABLE },
        "description": description,
    })
}

fn run_path(description: &str) -> Value {
    string(&format!(
        "{description} A run field ({}, …, or the derived {}) optionally followed by a path into \
         its JSON, e.g. `inputs.question` or `metadata.user_id`.",
        SELECTABLE[..6].join(", "),
        DERIVED.join(", ")
    ))
}

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

fn query_runs() -> Value {
    table(
        "Lists runs, like the SDK's list_runs (every argument).",
        json!({
            "type": kind("query_runs", "Lists runs from LangSmith."),
            "project": {
                "description": "Project name or names, overriding [source].project.",
                "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" }, "minItems": 1 }],
            },
            "run_type": one_of_strings(RUN_TYPES, "Only runs of this type."),
            "is_root": boolean("Only root runs (true) or only child runs (false)."),
            "error": boolean("Only failed runs (true) or only successful ones (false)."),
            "since": string("Start of the window: a duration before now (\"30d\", \"12h\") or a timestamp."),
            "until": string("End of the window: a duration before now or a timestamp."),
            "filter": string("LangSmith filter on the runs, e.g. and(eq(name, \"x\"), gt(latency, 5))."),
            "trace_filter": string("Filter on each run's root run."),
            "tree_filter": string("Filter on any run of each run's trace."),
            "select": select("Fields to fetch; derived from what downstream stages read when omitted."),
            "order": one_of_strings(keys::variants_of::<Order>(), "Order by start time."),
            "ids": string_list("Only these run ids."),
            "trace": string("Only runs of this trace id."),
            "parent_run": string("Only children of this run id."),
            "split_windows": boolean("Overrides [source].split_windows for this stage."),
        }),
        &["type"],
    )
}

fn aggregate() -> Value {
    let ops = [
        "distinct",
        "collect",
        "count",
        "first",
        "last",
        "collect_keys",
        "extend_keys",
    ];
    let exactly_one: Vec<Value> = ops.iter().map(|op| json!({ "required": [op] })).collect();
    json!({
        "type": "object",
        "description": "One aggregate over a trace's runs: exactly one of distinct, collect, count, first, last, collect_keys, extend_keys.",
        "properties": {
            "distinct": run_path("Distinct values of this field, sorted."),
            "collect": run_path("Every value of this field, in arrival order."),
            "count": boolean("Number of runs."),
            "first": run_path("Value of the first run."),
            "last": run_path("Value of the last run."),
            "collect_keys": run_path("For each key of this object field, collect its values into a column <prefix><key>."),
            "extend_keys": run_path("Like collect_keys, but list values are concatenated."),
            "prefix": string("Column name prefix for collect_keys / extend_keys, e.g. \"retriever.inputs.\"."),
        },
        "oneOf": exactly_one,
        "additionalProperties": false,
    })
}

fn group_by_trace() -> Value {
    table(
        "Groups runs by trace and computes aggregates per trace.",
        json!({
            "type": kind("group_by_trace", "Groups runs by trace."),
            "inputs": inputs("stage"),
            "aggregate": {
                "type": "object",
                "description": "Named aggregates, e.g. aggregate.tools_involved = { distinct = \"name\" }.",
                "additionalProperties": { "$ref": "#/$defs/aggregate" },
            },
        }),
        &["type", "inputs"],
    )
}

fn fetch_roots() -> Value {
    table(
        "Fetches the root run of each trace group (or of each run's trace) while children still stream in.",
        json!({
            "type": kind("fetch_roots", "Fetches root runs by trace id."),
            "inputs": inputs("stage"),
            "select": select("Fields of the root runs; derived from downstream stages when omitted."),
            "batch_size": { "type": "integer", "minimum": 1, "maximum": 1000, "description": "Trace ids per request (at most 100 on the v1 API)." },
        }),
        &["type", "inputs"],
    )
}

fn column() -> Value {
    table(
        "One output column.",
        json!({
            "name": string("Column name."),
            "from": run_path("Where the value comes from; `group.<aggregate>` reads an aggregate of group_by_trace."),
        }),
        &["name", "from"],
    )
}

fn expand() -> Value {
    table(
        "Spreads an object into one column per key.",
        json!({
            "from": run_path("The object to spread; `feedback_stats` (one column per feedback key) and `group` (the keyed aggregates) are special."),
            "prefix": string("Column name prefix, e.g. \"inputs.\"."),
            "stat": one_of_strings(FEEDBACK_STATS, "With from = \"feedback_stats\": the statistic per key (default avg)."),
        }),
        &["from"],
    )
}

fn flatten() -> Value {
    table(
        "Turns runs into typed table rows.",
        json!({
            "type": kind("flatten", "Runs to rows."),
            "inputs": inputs("stage"),
            "columns": { "type": "array", "items": { "$ref": "#/$defs/column" }, "description": "Columns, in order." },
            "expand": { "type": "array", "items": { "$ref": "#/$defs/expand" }, "description": "Objects spread into prefixed columns after `columns`." },
            "batch_rows": integer("Rows per record batch.", 1),
        }),
        &["type", "inputs"],
    )
}

fn filter() -> Value {
    table(
        "Keeps the runs a filter matches, evaluated locally.",
        json!({
            "type": kind("filter", "Filters runs locally."),
            "inputs": inputs("stage"),
            "filter": string("LangSmith filter language, e.g. gt(total_tokens, 1000)."),
        }),
        &["type", "inputs", "filter"],
    )
}

fn load() -> Value {
    let duration = |d: &str| json!({ "type": "string", "pattern": "^[0-9]+(s|m|min|h|d|w)$", "description": d });
    table(
        "How runs are cut into committed windows, and how far an incremental run goes.",
        json!({
            "window": duration("Window size, e.g. \"1d\": long ranges are loaded and committed window by window on a UTC grid. Unset: one window per run."),
            "lag": duration("An incremental run stops this long before now, so late and long runs settle (default \"0s\")."),
            "trace_margin": duration("How long a trace may last: a window owns the traces whose root started in it and fetches their child runs up to this long after its end (default \"1h\")."),
        }),
        &[],
    )
}

fn sink() -> Value {
    // ---- sink keys: add new sink options here (partition_by, disposition, …) and keep
    // ---- SinkConfig in model.rs in step; tests/schema.rs compares the two.
    let properties = json!({
        "type": one_of_strings(SINK_TYPES, "Output format: Parquet files or Arrow IPC files."),
        "inputs": inputs("sink"),
        "path": string("Output directory (local path); --output overrides it."),
        "compression": one_of_strings(COMPRESSIONS, "Compression codec (default zstd). Arrow IPC sinks: zstd (per buffer) or none."),
        "compression_level": json!({ "type": "integer", "minimum": ZSTD_LEVELS.start(), "maximum": ZSTD_LEVELS.end(), "description": "zstd level: 1 is fastest, 22 smallest (default 3). Parquet sinks with zstd only." }),
        "row_group_rows": integer("Rows per Parquet row group at most.", 1),
        "max_rows_per_file": integer("Rows per file at most; more start a new file.", 1),
        "max_file_mb": integer("Close a file once it reaches about this many MiB (default 512).", 1),
        "partition_by": string_list("Hive partition keys: \"date\" or \"hour\" of the run's start time (UTC), or output columns (moved from the file into the path). Default [\"date\"]; [] for none."),
        "disposition": one_of_strings(&["append", "replace"], "append (default): a window adds its files, a re-run of the same window replaces them; replace: swap every partition the window writes."),
    });
    // ---- end of sink keys
    table(
        "Writes rows (or runs) to files.",
        properties,
        &["type", "inputs"],
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
    json!({
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
            "query_runs": query_runs(),
            "group_by_trace": group_by_trace(),
            "aggregate": aggregate(),
            "fetch_roots": fetch_roots(),
            "flatten": flatten(),
            "column": column(),
            "expand": expand(),
            "filter": filter(),
            "sink": sink(),
        },
    })
}
