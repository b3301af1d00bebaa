//! Runs rendered as LangSmith's v1 API sends them: the selected fields (plus those v1 always
//! returns), copied from the stored JSON text, never re-encoded.

use super::store::{Project, StoredRun};
use crate::langsmith::fields::{PREVIEW_CHARS, V1_ALWAYS};

/// One run with the selected fields (plus `V1_ALWAYS`), copied from the stored JSON text.
pub fn write_v1_run(out: &mut String, project: &Project, run: &StoredRun, select: &[&str]) {
    out.push('{');
    let mut first = true;
    let mut emit = |out: &mut String, key: &str, value: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        out.push_str(value);
    };
    let wanted = V1_ALWAYS
        .iter()
        .chain(select.iter().filter(|s| !V1_ALWAYS.contains(s)));
    for &key in wanted {
        match key {
            "inputs_preview" | "outputs_preview" => {
                let source = run.field(&key[..key.len() - "_preview".len()]);
                emit(out, key, &preview(source));
            }
            "child_run_ids" => {
                let children: Vec<&str> = project
                    .trace_runs(&run.trace_id)
                    .filter(|r| r.parent_run_id.as_deref() == Some(run.id.as_str()))
                    .map(|r| r.id.as_str())
                    .collect();
                emit(
                    out,
                    key,
                    &serde_json::to_string(&children).expect("strings"),
                );
            }
            _ => emit(out, key, run.field(key).map_or("null", |v| v.get())),
        }
    }
    out.push('}');
}

/// A short text preview of a JSON payload, as the `*_preview` selects give.
pub fn preview(source: Option<&serde_json::value::RawValue>) -> String {
    match source {
        None => "null".into(),
        Some(v) if v.get() == "null" => "null".into(),
        Some(v) => {
            let text: String = v.get().chars().take(PREVIEW_CHARS).collect();
            serde_json::to_string(&text).expect("string")
        }
    }
}
