//! Feedback: the individual entries (the emulator's `feedback` extension key) and the
//! `feedback_stats` LangSmith derives from them.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::shapes::Node;

fn scored(rng: &mut ChaCha8Rng, key: &str, score: f64) -> Value {
    let comment = if rng.random_bool(0.3) {
        json!("Helpful, but a bit slow.")
    } else {
        Value::Null
    };
    json!({"key": key, "score": score, "value": null, "comment": comment})
}

/// A label without a score, as annotation queues produce.
fn categorical(key: &str, value: &str) -> Value {
    json!({"key": key, "score": null, "value": value, "comment": null})
}

/// Feedback users and evaluators leave: mostly on roots, now and then on a model call.
pub fn add_feedback(rng: &mut ChaCha8Rng, root: &mut Node) {
    let mut entries = vec![];
    if rng.random_bool(0.45) {
        // Sometimes the user clicks twice: two entries of the same key.
        for _ in 0..if rng.random_bool(0.05) { 2 } else { 1 } {
            let score = f64::from(rng.random_range(0..2u8));
            entries.push(scored(rng, "user_score", score));
        }
    }
    if rng.random_bool(0.25) {
        let score = f64::from(rng.random_range(1..6u8));
        entries.push(scored(rng, "star_rating", score));
    }
    if rng.random_bool(0.2) {
        let score = if rng.random_bool(0.7) { 1.0 } else { 0.0 };
        entries.push(scored(rng, "Correctness", score));
    }
    if rng.random_bool(0.04) {
        let value = if rng.random_bool(0.7) {
            "CONCEPTUAL"
        } else {
            "FACTUAL"
        };
        entries.push(categorical("intent", value));
    }
    root.feedback = entries;
    for_each_llm(root, &mut |n| {
        if rng.random_bool(0.04) {
            let score = if rng.random_bool(0.5) { 1.0 } else { 0.0 };
            n.feedback.push(scored(rng, "Correctness", score));
        }
    });
}

fn for_each_llm(n: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    if n.run_type == "llm" {
        f(n);
    }
    for child in &mut n.children {
        for_each_llm(child, f);
    }
}

/// `feedback_stats` derived from the entries, per key: `n` scored entries and their `avg`,
/// and `values` counting categorical labels (the emulator computes it the same way).
pub fn stats(entries: &[Value]) -> Value {
    crate::runstore::feedback::stats(entries.iter().map(|e| {
        (
            e["key"].as_str().expect("feedback entries have a key"),
            e["score"].as_f64(),
            e["value"].as_str(),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_average_scores_and_count_labels() {
        let entries = [
            json!({"key": "user_score", "score": 1.0, "value": null, "comment": null}),
            json!({"key": "user_score", "score": 0.0, "value": null, "comment": "meh"}),
            json!({"key": "intent", "score": null, "value": "CONCEPTUAL", "comment": null}),
        ];
        assert_eq!(
            stats(&entries),
            json!({
                "user_score": {"n": 2, "avg": 0.5, "show_feedback_arrow": false, "values": {}},
                "intent": {"n": 0, "avg": null, "show_feedback_arrow": false, "values": {"CONCEPTUAL": 1}},
            })
        );
        assert_eq!(stats(&[]), Value::Null);
    }
}
