//! Feedback entries: what `GET /api/v1/feedback` lists, and what each run's `feedback_stats`
//! summarises. Entries live with their run ([`StoredRun::feedback`]); the store keeps an
//! index by entry id and by `created_at` for listing.
//!
//! Where a run's entries come from when it is loaded (or upserted as a new run):
//! 1. the run line's `feedback` list (the sample generator's extension key), one entry per
//!    item: `key`, `score`, `value`, `comment`, and optionally `id`, `created_at`,
//!    `modified_at`, `correction`, `feedback_source` (`{type, …}`) or
//!    `feedback_source_type`, `extra`; the run's `feedback_stats` is kept as the line has it;
//! 2. else derived from `feedback_stats`, per key: `n` scored entries whose scores average
//!    `avg` exactly (all equal to `avg`; or `min`, `max` and the rest equal when the stat
//!    has a consistent `min`/`max`), then one unscored entry per count of each `values`
//!    label (value = the label), the stat's `comments` handed to its first entries and its
//!    `sources` (strings or `{type}` objects) round-robin as `feedback_source`. `stdev`,
//!    `errors` and `contains_thread_feedback` are not reproduced;
//! 3. a sidecar of entries (see `Store::load_feedback`) replaces a run's entries and the
//!    run's `feedback_stats` is recomputed from them.
//!
//! What an entry does not say is filled deterministically: the id is a UUID hashed from the
//! run id and the entry's position, `created_at` is the run's end (else start) plus
//! position + 1 seconds, `modified_at` equals `created_at`, the source is `{"type": "api"}`.
//! Whenever entries change (admin routes), `feedback_stats` is recomputed in the shape the
//! generator writes: per key `n` (scored entries), `avg`, `show_feedback_arrow`, `values`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{Timestamp, format_naive_micros, parse_timestamp};

/// LangSmith's `SourceType`: the values the `source` filter accepts.
pub const SOURCE_TYPES: &[&str] = &["api", "model", "app", "auto_eval"];

/// One feedback entry, as `GET /api/v1/feedback` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackEntry {
    pub id: String,
    pub run_id: String,
    pub trace_id: String,
    pub session_id: String,
    /// The run's start, served as the entry's `start_time`.
    pub run_start_us: i64,
    pub key: String,
    /// A number, a bool or null.
    pub score: Value,
    pub value: Value,
    pub comment: Option<String>,
    pub correction: Value,
    /// `{"type": …, …}`.
    pub source: Value,
    pub extra: Value,
    pub created_us: i64,
    pub modified_us: i64,
}

impl FeedbackEntry {
    /// The score as a number (`true` is 1): what `avg` and filters see.
    pub fn score_f64(&self) -> Option<f64> {
        match &self.score {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    pub fn source_type(&self) -> Option<&str> {
        self.source.get("type").and_then(Value::as_str)
    }

    pub fn has_comment(&self) -> bool {
        self.comment.as_deref().is_some_and(|c| !c.is_empty())
    }

    /// The `(key, score)` pair the filter language binds `feedback_key`/`feedback_score` to.
    pub fn fact(&self) -> (String, Value) {
        let score = match &self.score {
            Value::Bool(_) => self.score_f64().map_or(Value::Null, |f| json!(f)),
            other => other.clone(),
        };
        (self.key.clone(), score)
    }

    /// The API's JSON (the SDK's `Feedback` model).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "created_at": api_time(self.created_us),
            "modified_at": api_time(self.modified_us),
            "session_id": self.session_id,
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "start_time": api_time(self.run_start_us),
            "key": self.key,
            "score": self.score,
            "value": self.value,
            "comment": self.comment,
            "correction": self.correction,
            "feedback_source": self.source,
            "feedback_group_id": null,
            "comparative_experiment_id": null,
            "extra": self.extra,
        })
    }
}

/// Feedback times are zoned (`+00:00`), with microseconds.
fn api_time(us: i64) -> Option<String> {
    Timestamp::from_micros(us).map(|t| format!("{}+00:00", format_naive_micros(&t.0)))
}

/// The run an entry belongs to, as entries are built for it.
#[derive(Debug, Clone, Copy)]
pub struct RunRef<'a> {
    pub id: &'a str,
    pub trace_id: &'a str,
    pub session_id: &'a str,
    pub start_us: i64,
    /// When derived entries were created: the run's end, else its start.
    pub done_us: i64,
}

/// An entry as given (run line, sidecar, admin body); what it leaves out is filled in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedbackInput {
    pub id: Option<String>,
    pub run_id: Option<String>,
    pub key: String,
    #[serde(default)]
    pub score: Value,
    #[serde(default)]
    pub value: Value,
    pub comment: Option<String>,
    #[serde(default)]
    pub correction: Value,
    pub feedback_source: Option<Value>,
    pub feedback_source_type: Option<String>,
    #[serde(default)]
    pub extra: Value,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
}

impl FeedbackInput {
    /// The entry for `run`; `ordinal` (its position among the run's entries) seeds what is
    /// derived, `now_us` (when set) is the creation time of an entry that names none.
    pub fn into_entry(
        self,
        run: RunRef<'_>,
        ordinal: usize,
        now_us: Option<i64>,
    ) -> anyhow::Result<FeedbackEntry> {
        if self.key.is_empty() {
            bail!("feedback has an empty key");
        }
        if !matches!(self.score, Value::Null | Value::Number(_) | Value::Bool(_)) {
            bail!("feedback score must be a number, a bool or null");
        }
        if let Some(r) = &self.run_id
            && r != run.id
        {
            bail!("feedback names run {r}, not {}", run.id);
        }
        let source = match (self.feedback_source, self.feedback_source_type) {
            (Some(Value::Object(o)), _) if o.get("type").is_some_and(Value::is_string) => {
                Value::Object(o)
            }
            (Some(Value::String(t)), _) | (None, Some(t)) => source_of(&t),
            (None | Some(Value::Null), None) => source_of("api"),
            (Some(other), _) => bail!("feedback_source must be an object with a type: {other}"),
        };
        let time = |name: &str, text: Option<String>| -> anyhow::Result<Option<i64>> {
            text.map(|t| {
                parse_timestamp(&t)
                    .map(|t| t.timestamp_micros())
                    .with_context(|| format!("feedback {name} {t:?} is not a time"))
            })
            .transpose()
        };
        let created_us = time("created_at", self.created_at)?
            .or(now_us)
            .unwrap_or(run.done_us + (ordinal as i64 + 1) * 1_000_000);
        let modified_us = time("modified_at", self.modified_at)?.unwrap_or(created_us);
        Ok(FeedbackEntry {
            id: self.id.unwrap_or_else(|| derived_id(run.id, ordinal)),
            run_id: run.id.to_string(),
            trace_id: run.trace_id.to_string(),
            session_id: run.session_id.to_string(),
            run_start_us: run.start_us,
            key: self.key,
            score: self.score,
            value: self.value,
            comment: self.comment,
            correction: self.correction,
            source,
            extra: self.extra,
            created_us,
            modified_us,
        })
    }
}

fn source_of(kind: &str) -> Value {
    json!({"type": kind, "metadata": {}})
}

/// A UUID (v4-shaped) hashed from the run id and the entry's position: the same data gives
/// the same ids on every load.
fn derived_id(run_id: &str, ordinal: usize) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("runlake-feedback:{run_id}:{ordinal}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A run's entries from its line: the `feedback` list when there is one, else derived from
/// `feedback_stats` (module doc).
pub fn entries_for_run(
    run: RunRef<'_>,
    feedback_list: Option<&str>,
    feedback_stats: Option<&str>,
) -> anyhow::Result<Vec<FeedbackEntry>> {
    let inputs: Vec<FeedbackInput> = match feedback_list {
        Some(text) => serde_json::from_str::<Option<Vec<FeedbackInput>>>(text)
            .context("`feedback` is not a list of feedback entries")?
            .unwrap_or_default(),
        None => match feedback_stats.map(serde_json::from_str::<Value>) {
            Some(Ok(stats)) => from_stats(&stats),
            Some(Err(e)) => bail!("feedback_stats is not JSON: {e}"),
            None => vec![],
        },
    };
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| input.into_entry(run, i, None))
        .collect()
}

/// Entries whose summary is `stats` (module doc, case 2).
pub fn from_stats(stats: &Value) -> Vec<FeedbackInput> {
    let Some(stats) = stats.as_object() else {
        return vec![];
    };
    let mut out = vec![];
    for (key, stat) in stats {
        let n = stat.get("n").and_then(Value::as_u64).unwrap_or(0) as usize;
        let num = |name: &str| stat.get(name).and_then(Value::as_f64);
        let scores = match num("avg") {
            Some(avg) if n > 0 => scores_with_mean(n, avg, num("min"), num("max")),
            _ => vec![],
        };
        let mut of_key: Vec<FeedbackInput> = scores
            .into_iter()
            .map(|s| FeedbackInput {
                key: key.clone(),
                score: json!(s),
                ..Default::default()
            })
            .collect();
        if let Some(values) = stat.get("values").and_then(Value::as_object) {
            for (label, count) in values {
                for _ in 0..count.as_u64().unwrap_or(0) {
                    of_key.push(FeedbackInput {
                        key: key.clone(),
                        value: json!(label),
                        ..Default::default()
                    });
                }
            }
        }
        let listed = |name: &str| {
            stat.get(name)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        for (entry, comment) in of_key.iter_mut().zip(listed("comments")) {
            entry.comment = comment.as_str().map(str::to_string);
        }
        let sources = listed("sources");
        if !sources.is_empty() {
            for (i, entry) in of_key.iter_mut().enumerate() {
                entry.feedback_source = Some(sources[i % sources.len()].clone());
            }
        }
        out.extend(of_key);
    }
    out
}

/// `n` scores averaging `avg`: `min`, `max` and the rest equal when that stays within them,
/// else all equal to `avg`.
fn scores_with_mean(n: usize, avg: f64, min: Option<f64>, max: Option<f64>) -> Vec<f64> {
    if let (Some(lo), Some(hi)) = (min, max)
        && n >= 2
        && lo < hi
    {
        let rest = n - 2;
        let total = avg * n as f64;
        if rest == 0 && ((lo + hi) - total).abs() < 1e-9 {
            return vec![lo, hi];
        }
        if rest > 0 {
            let each = (total - lo - hi) / rest as f64;
            if (lo..=hi).contains(&each) {
                let mut out = vec![lo, hi];
                out.extend(std::iter::repeat_n(each, rest));
                return out;
            }
        }
    }
    vec![avg; n]
}

/// `feedback_stats` of `(key, score, label)` points, in the shape LangSmith v1 shows: per key
/// `n` scored points and their `avg`, `values` counting the labels of unscored points (a
/// purely categorical key has `n` 0 and `avg` null), `show_feedback_arrow` false. Null when
/// there are no points.
pub fn stats<'a>(
    points: impl IntoIterator<Item = (&'a str, Option<f64>, Option<&'a str>)>,
) -> Value {
    #[derive(Default)]
    struct Acc {
        n: u64,
        sum: f64,
        values: BTreeMap<String, u64>,
    }
    let mut by_key: BTreeMap<&str, Acc> = BTreeMap::new();
    for (key, score, label) in points {
        let acc = by_key.entry(key).or_default();
        if let Some(score) = score {
            acc.n += 1;
            acc.sum += score;
        } else if let Some(label) = label {
            *acc.values.entry(label.to_string()).or_default() += 1;
        }
    }
    if by_key.is_empty() {
        return Value::Null;
    }
    let stats: Map<String, Value> = by_key
        .into_iter()
        .map(|(key, acc)| {
            let avg = (acc.n > 0).then(|| acc.sum / acc.n as f64);
            let stat =
                json!({"n": acc.n, "avg": avg, "show_feedback_arrow": false, "values": acc.values});
            (key.to_string(), stat)
        })
        .collect();
    Value::Object(stats)
}

/// The `feedback_stats` of a run's entries.
pub fn stats_of(entries: &[FeedbackEntry]) -> Value {
    stats(
        entries
            .iter()
            .map(|e| (e.key.as_str(), e.score_f64(), e.value.as_str())),
    )
}

/// A partial update (`PATCH /_admin/feedback/{id}`): fields present are set, null included.
#[derive(Debug, Default, Deserialize)]
pub struct FeedbackPatch {
    #[serde(default, deserialize_with = "present")]
    pub score: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub comment: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub correction: Option<Value>,
    pub key: Option<String>,
    /// When the edit happened; by default now (and always after the previous modification).
    pub modified_at: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl FeedbackPatch {
    /// Applies the patch; `now_us` is the default modification time.
    pub fn apply(self, entry: &mut FeedbackEntry, now_us: i64) -> anyhow::Result<()> {
        if let Some(score) = self.score {
            if !matches!(score, Value::Null | Value::Number(_) | Value::Bool(_)) {
                bail!("feedback score must be a number, a bool or null");
            }
            entry.score = score;
        }
        if let Some(value) = self.value {
            entry.value = value;
        }
        if let Some(comment) = self.comment {
            entry.comment = match comment {
                Value::Null => None,
                Value::String(s) => Some(s),
                other => bail!("feedback comment must be a string or null, got {other}"),
            };
        }
        if let Some(correction) = self.correction {
            entry.correction = correction;
        }
        if let Some(key) = self.key {
            if key.is_empty() {
                bail!("feedback has an empty key");
            }
            entry.key = key;
        }
        entry.modified_us = match self.modified_at {
            Some(t) => parse_timestamp(&t)
                .with_context(|| format!("modified_at {t:?} is not a time"))?
                .timestamp_micros(),
            None => now_us.max(entry.modified_us + 1),
        };
        Ok(())
    }
}

/// What `GET /api/v1/feedback` can filter on, validated.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFilter {
    pub runs: Option<Vec<String>>,
    pub keys: Option<Vec<String>>,
    pub sessions: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
    pub users: Option<Vec<String>>,
    pub has_comment: Option<bool>,
    pub has_score: Option<bool>,
    pub min_created_us: Option<i64>,
    pub max_created_us: Option<i64>,
    /// Session-level feedback or a comparative experiment: the emulator has none.
    pub nothing: bool,
}

impl FeedbackFilter {
    pub fn matches(&self, e: &FeedbackEntry) -> bool {
        let listed = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        !self.nothing
            && listed(&self.runs, &e.run_id)
            && listed(&self.keys, &e.key)
            && listed(&self.sessions, &e.session_id)
            && listed(&self.sources, e.source_type().unwrap_or(""))
            && self.users.as_ref().is_none_or(|users| {
                let user = e.source.get("user_id").and_then(Value::as_str);
                user.is_some_and(|u| users.iter().any(|x| x == u))
            })
            && self.has_comment.is_none_or(|want| e.has_comment() == want)
            && self.has_score.is_none_or(|want| e.score.is_null() != want)
            && self.min_created_us.is_none_or(|us| e.created_us >= us)
            && self.max_created_us.is_none_or(|us| e.created_us <= us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunRef<'static> {
        RunRef {
            id: "r1",
            trace_id: "t1",
            session_id: "s1",
            start_us: 1_000_000,
            done_us: 5_000_000,
        }
    }

    #[test]
    fn entries_derived_from_stats_summarise_back_to_them() {
        let stats_in = json!({
            "user_score": {"n": 2, "avg": 0.5, "show_feedback_arrow": false, "values": {}},
            "star_rating": {"n": 4, "avg": 3.5, "min": 1.0, "max": 5.0, "values": {},
                            "comments": ["great"], "sources": ["model", {"type": "app"}]},
            "intent": {"n": 0, "avg": null, "values": {"CONCEPTUAL": 2, "FACTUAL": 1}},
        });
        let text = stats_in.to_string();
        let entries = entries_for_run(run(), None, Some(&text)).unwrap();
        assert_eq!(entries.len(), 2 + 4 + 3);
        let stars: Vec<&FeedbackEntry> =
            entries.iter().filter(|e| e.key == "star_rating").collect();
        let scores: Vec<f64> = stars.iter().filter_map(|e| e.score_f64()).collect();
        assert_eq!(scores, [1.0, 5.0, 4.0, 4.0]);
        assert_eq!(stars[0].comment.as_deref(), Some("great"));
        assert_eq!(stars[0].source_type(), Some("model"));
        assert_eq!(stars[1].source_type(), Some("app"));
        let back = stats_of(&entries);
        for key in ["user_score", "star_rating", "intent"] {
            assert_eq!(back[key]["n"], stats_in[key]["n"], "{key}");
            assert_eq!(back[key]["avg"], stats_in[key]["avg"], "{key}");
        }
        assert_eq!(back["intent"]["values"], stats_in["intent"]["values"]);
        // Deterministic: the same run gives the same ids and times.
        assert_eq!(entries, entries_for_run(run(), None, Some(&text)).unwrap());
        let ids: std::collections::HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), entries.len());
        assert!(entries.iter().all(|e| e.created_us > run().done_us));
    }

    #[test]
    fn listed_entries_keep_what_they_say() {
        let list = r#"[{"key":"k","score":true,"comment":"c","id":"f1",
            "created_at":"2026-01-01T00:00:00Z","feedback_source":{"type":"model"}},
            {"key":"k","score":0}]"#;
        let entries = entries_for_run(run(), Some(list), None).unwrap();
        assert_eq!(entries[0].id, "f1");
        assert_eq!(entries[0].source_type(), Some("model"));
        assert_eq!(entries[0].modified_us, entries[0].created_us);
        assert_eq!(
            entries[0].to_json()["created_at"],
            "2026-01-01T00:00:00.000000+00:00"
        );
        assert_eq!(entries[1].source_type(), Some("api"));
        assert_eq!(stats_of(&entries)["k"]["avg"], 0.5);
        assert!(entries_for_run(run(), Some(r#"[{"key":"k","score":"x"}]"#), None).is_err());
    }

    #[test]
    fn patches_set_fields_and_move_modified_at_forward() {
        let mut e =
            entries_for_run(run(), Some(r#"[{"key":"k","score":1}]"#), None).unwrap()[0].clone();
        let before = e.modified_us;
        let patch: FeedbackPatch = serde_json::from_str(r#"{"score":0,"comment":null}"#).unwrap();
        patch.apply(&mut e, 0).unwrap();
        assert_eq!(e.score, json!(0));
        assert_eq!(e.modified_us, before + 1);
        let patch: FeedbackPatch = serde_json::from_str(r#"{"comment":"now"}"#).unwrap();
        patch.apply(&mut e, before + 10).unwrap();
        assert_eq!(e.comment.as_deref(), Some("now"));
        assert_eq!(e.score, json!(0), "absent fields stay");
        assert_eq!(e.modified_us, before + 10);
    }
}
