//! A run reduced to what filters read, computed once per run so evaluation never parses JSON.

use serde_json::Value;

use crate::model::Run;

/// One feedback entry: key and numeric score (categorical feedback has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub key: String,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub id: String,
    pub name: Option<String>,
    /// Lower-case.
    pub run_type: Option<String>,
    /// Lower-case.
    pub status: Option<String>,
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub first_token_us: Option<i64>,
    pub latency: Option<f64>,
    pub total_tokens: Option<f64>,
    pub prompt_tokens: Option<f64>,
    pub completion_tokens: Option<f64>,
    pub total_cost: Option<f64>,
    pub prompt_cost: Option<f64>,
    pub completion_cost: Option<f64>,
    /// `None` for null or absent.
    pub error: Option<String>,
    pub execution_order: Option<f64>,
    pub tags: Vec<String>,
    pub is_root: Option<bool>,
    pub thread_id: Option<String>,
    pub trace_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub session_id: Option<String>,
    pub reference_example_id: Option<String>,
    /// `extra.metadata` (or v2 `metadata`) as key/value entries, and whole.
    pub metadata: Vec<(String, Value)>,
    pub metadata_object: Value,
    /// Inputs and outputs flattened to dotted paths (arrays traversed without an index).
    pub inputs: Vec<(String, Value)>,
    pub outputs: Vec<(String, Value)>,
    pub feedback: Vec<Feedback>,
    /// Lower-cased text for `search()`: the whole run, and per field.
    pub text_all: String,
    pub text_inputs: String,
    pub text_outputs: String,
}

fn json(raw: Option<&serde_json::value::RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

impl RunFacts {
    pub fn from_run(run: &Run) -> RunFacts {
        let extra = json(run.extra.value().map(|b| &**b));
        let metadata_object = match run.metadata.value() {
            Some(m) => json(Some(m)),
            None => extra.get("metadata").cloned().unwrap_or(Value::Null),
        };
        let metadata: Vec<(String, Value)> = match &metadata_object {
            Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => vec![],
        };
        let inputs_json = json(run.inputs.value().map(|b| &**b));
        let outputs_json = json(run.outputs.value().map(|b| &**b));
        let mut inputs = Vec::new();
        flatten("", &inputs_json, &mut inputs);
        let mut outputs = Vec::new();
        flatten("", &outputs_json, &mut outputs);
        let feedback = feedback_entries(run);
        let tags = run.tags.value().cloned().unwrap_or_default();
        let error = run.error.value().cloned();
        let name = run.name.value().cloned();

        let text_of = |entries: &[(String, Value)]| {
            let mut s = String::new();
            for (_, v) in entries {
                if let Value::String(t) = v {
                    s.push_str(&t.to_lowercase());
                    s.push('\n');
                }
            }
            s
        };
        let text_inputs = text_of(&inputs);
        let text_outputs = text_of(&outputs);
        let mut text_all = String::new();
        for part in [
            name.as_deref().unwrap_or(""),
            error.as_deref().unwrap_or(""),
        ] {
            text_all.push_str(&part.to_lowercase());
            text_all.push('\n');
        }
        text_all.push_str(&text_inputs);
        text_all.push_str(&text_outputs);
        for t in &tags {
            text_all.push_str(&t.to_lowercase());
            text_all.push('\n');
        }
        text_all.push_str(&text_of(&metadata));

        let num = |v: Option<&i64>| v.map(|n| *n as f64);
        let cost = |v: Option<&crate::model::Decimal>| v.and_then(|d| d.as_f64());
        let exec_order = run
            .unknown_field("execution_order")
            .and_then(|r| r.get().parse::<f64>().ok());
        let thread_id = run.thread_id.value().cloned().or_else(|| {
            ["thread_id", "session_id", "conversation_id"]
                .iter()
                .find_map(|k| {
                    metadata_object
                        .get(k)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
        });
        RunFacts {
            id: run.id.clone(),
            name,
            run_type: run.run_type.value().map(|s| s.to_ascii_lowercase()),
            status: run.status.value().map(|s| s.to_ascii_lowercase()),
            start_us: run.start_time.value().map(|t| t.micros()),
            end_us: run.end_time.value().map(|t| t.micros()),
            first_token_us: run.first_token_time.value().map(|t| t.micros()),
            latency: run.latency_seconds(),
            total_tokens: num(run.total_tokens.value()),
            prompt_tokens: num(run.prompt_tokens.value()),
            completion_tokens: num(run.completion_tokens.value()),
            total_cost: cost(run.total_cost.value()),
            prompt_cost: cost(run.prompt_cost.value()),
            completion_cost: cost(run.completion_cost.value()),
            error,
            execution_order: exec_order,
            tags,
            is_root: run.is_root(),
            thread_id,
            trace_id: run.trace_id.value().cloned(),
            parent_run_id: run.parent_run_id.value().cloned(),
            session_id: run.session_id.value().cloned(),
            reference_example_id: run.reference_example_id.value().cloned(),
            metadata,
            metadata_object,
            inputs,
            outputs,
            feedback,
            text_all,
            text_inputs,
            text_outputs,
        }
    }
}

/// Leaves of a JSON value keyed by dotted path; arrays add no path segment, so
/// `messages.content` reaches `{"messages": [{"content": …}]}`.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| flatten(prefix, v, out)),
        Value::Null if prefix.is_empty() => {}
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

/// The run's feedback entries: the emulator's `feedback` list when present, else one entry per
/// `feedback_stats` key scored by its average (all LangSmith exposes on a run).
fn feedback_entries(run: &Run) -> Vec<Feedback> {
    if let Some(raw) = run.unknown_field("feedback")
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(raw.get())
    {
        return items
            .iter()
            .filter_map(|f| {
                Some(Feedback {
                    key: f.get("key")?.as_str()?.to_string(),
                    score: f.get("score").and_then(Value::as_f64),
                })
            })
            .collect();
    }
    match json(run.feedback_stats.value().map(|b| &**b)) {
        Value::Object(stats) => stats
            .iter()
            .map(|(k, s)| Feedback {
                key: k.clone(),
                score: s.get("avg").and_then(Value::as_f64),
            })
            .collect(),
        _ => vec![],
    }
}
