//! A run reduced to what filters read, computed once per run so evaluation never parses JSON
//! and never allocates for the common comparisons.

use std::ops::Range;

use serde_json::Value;

use super::ast::Pair;
use crate::model::Run;

/// Sections of [`RunFacts`]' lower-cased search text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Name = 0,
    Error,
    Inputs,
    Outputs,
    Tags,
    Metadata,
}

const SECTIONS: usize = 6;

/// Separates strings in the search text, so a match never spans two of them.
pub(crate) const SEP: char = '\0';

/// The evaluation view of one run. Build it once per run with [`RunFacts::from_run`]; every
/// field is already in the form comparisons use.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub id: String,
    pub name: Option<String>,
    /// Lower-case.
    pub run_type: Option<String>,
    /// Lower-case.
    pub status: Option<String>,
    /// Microseconds since the epoch, UTC.
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub first_token_us: Option<i64>,
    /// Seconds; `None` until the run has ended.
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
    /// The run's `thread_id`, else the first of metadata `session_id`, `conversation_id`,
    /// `thread_id` that is a string (the keys LangSmith groups threads by).
    pub thread_id: Option<String>,
    pub trace_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub session_id: Option<String>,
    pub reference_example_id: Option<String>,
    /// Top-level entries of v2 `metadata`, else of v1 `extra.metadata`.
    pub metadata: Vec<(String, Value)>,
    /// Inputs and outputs flattened to dotted paths: objects nest with ".", arrays add no
    /// segment (`messages.content` reaches `{"messages": [{"content": …}]}`), leaves are
    /// scalars.
    pub inputs: Vec<(String, Value)>,
    pub outputs: Vec<(String, Value)>,
    /// Feedback entries as (key, score): the emulator's `feedback` list when the run has one,
    /// else one per `feedback_stats` key scored by its `avg`. Scores are numbers or null.
    pub feedback: Vec<(String, Value)>,
    /// Lower-cased string content for `search()`, in sections.
    text: String,
    sections: [Range<usize>; SECTIONS],
}

impl RunFacts {
    pub fn from_run(run: &Run) -> RunFacts {
        let extra = json(run.extra.value().map(|b| &**b));
        let metadata_object = match run.metadata.value() {
            Some(m) => json(Some(m)),
            None => extra.get("metadata").cloned().unwrap_or(Value::Null),
        };
        let metadata: Vec<(String, Value)> = match metadata_object {
            Value::Object(m) => m.into_iter().collect(),
            _ => vec![],
        };
        let mut inputs = Vec::new();
        flatten("", json(run.inputs.value().map(|b| &**b)), &mut inputs);
        let mut outputs = Vec::new();
        flatten("", json(run.outputs.value().map(|b| &**b)), &mut outputs);
        let thread_id = run.thread_id.value().cloned().or_else(|| {
            ["session_id", "conversation_id", "thread_id"]
                .iter()
                .find_map(|k| {
                    metadata
                        .iter()
                        .find(|(key, _)| key == k)
                        .and_then(|(_, v)| v.as_str())
                        .map(str::to_string)
                })
        });
        let mut facts = RunFacts {
            id: run.id.clone(),
            name: run.name.value().cloned(),
            run_type: run.run_type.value().map(|s| s.to_ascii_lowercase()),
            status: run.status.value().map(|s| s.to_ascii_lowercase()),
            start_us: run.start_time.value().map(|t| t.micros()),
            end_us: run.end_time.value().map(|t| t.micros()),
            first_token_us: run.first_token_time.value().map(|t| t.micros()),
            latency: run.latency_seconds(),
            total_tokens: run.total_tokens.value().map(|n| *n as f64),
            prompt_tokens: run.prompt_tokens.value().map(|n| *n as f64),
            completion_tokens: run.completion_tokens.value().map(|n| *n as f64),
            total_cost: run.total_cost.value().and_then(|d| d.as_f64()),
            prompt_cost: run.prompt_cost.value().and_then(|d| d.as_f64()),
            completion_cost: run.completion_cost.value().and_then(|d| d.as_f64()),
            error: run.error.value().cloned(),
            execution_order: run
                .unknown_field("execution_order")
                .and_then(|r| r.get().parse::<f64>().ok()),
            tags: run.tags.value().cloned().unwrap_or_default(),
            is_root: run.is_root(),
            thread_id,
            trace_id: run.trace_id.value().cloned(),
            parent_run_id: run.parent_run_id.value().cloned(),
            session_id: run.session_id.value().cloned(),
            reference_example_id: run.reference_example_id.value().cloned(),
            metadata,
            inputs,
            outputs,
            feedback: feedback_entries(run),
            text: String::new(),
            sections: Default::default(),
        };
        facts.build_text();
        facts
    }

    fn build_text(&mut self) {
        fn push(text: &mut String, s: &str) {
            text.push_str(&s.to_lowercase());
            text.push(SEP);
        }
        let mut text = String::new();
        let mut sections: [Range<usize>; SECTIONS] = Default::default();
        let mut mark = |text: &String, which: Section, start: usize| {
            sections[which as usize] = start..text.len();
        };
        let start = text.len();
        if let Some(s) = &self.name {
            push(&mut text, s);
        }
        mark(&text, Section::Name, start);
        let start = text.len();
        if let Some(s) = &self.error {
            push(&mut text, s);
        }
        mark(&text, Section::Error, start);
        for (which, entries) in [
            (Section::Inputs, &self.inputs),
            (Section::Outputs, &self.outputs),
        ] {
            let start = text.len();
            for (_, v) in entries {
                if let Value::String(s) = v {
                    push(&mut text, s);
                }
            }
            mark(&text, which, start);
        }
        let start = text.len();
        for s in &self.tags {
            push(&mut text, s);
        }
        mark(&text, Section::Tags, start);
        let start = text.len();
        for (_, v) in &self.metadata {
            string_leaves(v, &mut |s| push(&mut text, s));
        }
        mark(&text, Section::Metadata, start);
        self.text = text;
        self.sections = sections;
    }

    /// The lower-cased string content of the whole run: name, error, string leaves of inputs
    /// and outputs, tags, string leaves of metadata values.
    pub(crate) fn all_text(&self) -> &str {
        &self.text
    }

    pub(crate) fn text(&self, section: Section) -> &str {
        &self.text[self.sections[section as usize].clone()]
    }

    /// The entries a key/value family ranges over.
    pub fn entries(&self, pair: Pair) -> &[(String, Value)] {
        match pair {
            Pair::Metadata => &self.metadata,
            Pair::Input => &self.inputs,
            Pair::Output => &self.outputs,
            Pair::Feedback => &self.feedback,
        }
    }
}

fn json(raw: Option<&serde_json::value::RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn string_leaves(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| string_leaves(v, f)),
        Value::Object(map) => map.values().for_each(|v| string_leaves(v, f)),
        _ => {}
    }
}

/// Leaves of a JSON value keyed by dotted path; arrays add no path segment.
fn flatten(prefix: &str, value: Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) => items.into_iter().for_each(|v| flatten(prefix, v, out)),
        // A null or missing inputs/outputs object has no entries.
        Value::Null if prefix.is_empty() => {}
        leaf => out.push((prefix.to_string(), leaf)),
    }
}

/// The run's feedback entries: the emulator's `feedback` list when present, else one entry per
/// `feedback_stats` key scored by its average (all LangSmith exposes on a run).
fn feedback_entries(run: &Run) -> Vec<(String, Value)> {
    let score = |v: Option<&Value>| match v {
        Some(n @ Value::Number(_)) => n.clone(),
        _ => Value::Null,
    };
    if let Some(raw) = run.unknown_field("feedback")
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(raw.get())
    {
        return items
            .iter()
            .filter_map(|f| Some((f.get("key")?.as_str()?.to_string(), score(f.get("score")))))
            .collect();
    }
    match json(run.feedback_stats.value().map(|b| &**b)) {
        Value::Object(stats) => stats
            .into_iter()
            .map(|(k, s)| {
                let avg = score(s.get("avg"));
                (k, avg)
            })
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(json: &str) -> RunFacts {
        RunFacts::from_run(&Run::from_json(json).unwrap())
    }

    #[test]
    fn flattens_inputs_to_dotted_paths() {
        let f = facts(
            r#"{"id":"r","inputs":{"messages":[{"content":"Hi","role":"user"},{"content":"Yo"}],
                "opts":{"t":0.5,"stop":null,"tags":["a","b"]},"empty":{},"none":[]},"outputs":null}"#,
        );
        let mut keys: Vec<(&str, String)> = f
            .inputs
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                ("messages.content", "\"Hi\"".to_string()),
                ("messages.content", "\"Yo\"".into()),
                ("messages.role", "\"user\"".into()),
                ("opts.stop", "null".into()),
                ("opts.t", "0.5".into()),
                ("opts.tags", "\"a\"".into()),
                ("opts.tags", "\"b\"".into()),
            ]
        );
        assert!(f.outputs.is_empty());
    }

    #[test]
    fn search_text_is_sectioned_and_lower_case() {
        let f = facts(
            r#"{"id":"r","name":"Agent","error":"Boom","tags":["Beta"],"inputs":{"q":"Image X","n":5},
                "outputs":{"a":"Done"},"extra":{"metadata":{"env":"Prod"}}}"#,
        );
        assert_eq!(f.text(Section::Name), "agent\0");
        assert_eq!(f.text(Section::Error), "boom\0");
        assert_eq!(f.text(Section::Inputs), "image x\0");
        assert_eq!(f.text(Section::Outputs), "done\0");
        assert_eq!(f.text(Section::Tags), "beta\0");
        assert_eq!(f.text(Section::Metadata), "prod\0");
        assert_eq!(f.all_text(), "agent\0boom\0image x\0done\0beta\0prod\0");
        let nested = facts(r#"{"id":"r","extra":{"metadata":{"deep":{"k":["Deep"]}}}}"#);
        assert_eq!(nested.text(Section::Metadata), "deep\0");
    }

    #[test]
    fn metadata_thread_and_feedback_sources() {
        let v2 = facts(
            r#"{"id":"r","metadata":{"conversation_id":"c9"},"extra":{"metadata":{"ignored":1}},
                "feedback_stats":{"star_rating":{"n":2,"avg":4.5},"note":{"n":1,"avg":null}}}"#,
        );
        assert_eq!(v2.metadata.len(), 1);
        assert_eq!(v2.thread_id.as_deref(), Some("c9"));
        let mut fb = v2.feedback.clone();
        fb.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            fb,
            vec![
                ("note".to_string(), Value::Null),
                ("star_rating".to_string(), serde_json::json!(4.5))
            ]
        );
        let ext = facts(
            r#"{"id":"r","feedback":[{"key":"user_score","score":0},{"key":"tone","value":"calm"},{"score":1}],
                "feedback_stats":{"star_rating":{"n":1,"avg":5}}}"#,
        );
        assert_eq!(
            ext.feedback,
            vec![
                ("user_score".to_string(), serde_json::json!(0)),
                ("tone".to_string(), Value::Null)
            ]
        );
    }
}
