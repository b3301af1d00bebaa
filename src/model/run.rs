use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{Maybe, Timestamp};

/// Raw JSON kept as text until something needs it (inputs, outputs, extra, …): exports copy
/// it verbatim, so payload drift upstream never breaks a load.
pub type Json = Box<RawValue>;

/// A decimal amount (cost) as LangSmith sent it: a JSON number or a decimal string.
/// The text is kept so a Decimal column can be exact; `as_f64` serves Float64 columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal(pub String);

impl Decimal {
    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than a `serde_json::Value`: no tree is built per cost field.
        struct DecimalVisitor;
        impl Visitor<'_> for DecimalVisitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal number or string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                // serde_json's own rendering of the number, as a `Value` would print it.
                serde_json::Number::from_f64(v)
                    .map(|n| Decimal(n.to_string()))
                    .ok_or_else(|| E::custom(format!("expected a decimal number, got {v}")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Decimal, E> {
                let t = s.trim();
                if t.parse::<f64>().is_ok() {
                    Ok(Decimal(t.to_string()))
                } else {
                    Err(E::custom(format!(
                        "expected a decimal number or string, got {s:?}"
                    )))
                }
            }
        }
        d.deserialize_any(DecimalVisitor)
    }
}

/// Token counts are integers, but be lenient with `12.0` and `"12"`.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Maybe<i64>, D::Error> {
    // A visitor rather than a `serde_json::Value`: no tree is built per token field.
    struct CountVisitor;
    impl<'a> Visitor<'a> for CountVisitor {
        type Value = Maybe<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a token count")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Maybe<i64>, E> {
            Ok(Maybe::Null)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Maybe<i64>, E> {
            Ok(Maybe::Value(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Maybe<i64>, E> {
            // Past i64, the nearest count (saturating), as a float would have given.
            Ok(Maybe::Value(i64::try_from(v).unwrap_or(v as f64 as i64)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Maybe<i64>, E> {
            Ok(Maybe::Value(v as i64))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Maybe<i64>, E> {
            s.trim()
                .parse()
                .map(Maybe::Value)
                .map_err(|_| E::custom(format!("not a token count: {s:?}")))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Maybe<i64>, E> {
            Err(E::custom(format!("not a token count: {v}")))
        }
        fn visit_seq<A: de::SeqAccess<'a>>(self, _: A) -> Result<Maybe<i64>, A::Error> {
            Err(de::Error::custom("not a token count: an array"))
        }
        fn visit_map<A: MapAccess<'a>>(self, _: A) -> Result<Maybe<i64>, A::Error> {
            Err(de::Error::custom("not a token count: an object"))
        }
    }
    d.deserialize_any(CountVisitor)
}

/// One LangSmith run, normalised to the v1 shape whichever API it came from.
///
/// Every field is a [`Maybe`]: absent (not selected), null, or a value. Fields runlake does not
/// know are kept in `unknown`, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub id: String,
    pub name: Maybe<String>,
    pub run_type: Maybe<String>,
    pub status: Maybe<String>,
    pub start_time: Maybe<Timestamp>,
    pub end_time: Maybe<Timestamp>,
    pub first_token_time: Maybe<Timestamp>,
    pub error: Maybe<String>,
    pub inputs: Maybe<Json>,
    pub outputs: Maybe<Json>,
    /// Where LangSmith offloaded a large `inputs` / `outputs` payload (v1 only): an object
    /// whose `ROOT` entry holds a `presigned_url` (and its `s3_url`); see
    /// `source::offloaded`. Kept verbatim.
    pub inputs_s3_urls: Maybe<Json>,
    pub outputs_s3_urls: Maybe<Json>,
    /// The run's attachments (v1 `s3_urls`: `attachment.<name>` → `{presigned_url, …}`).
    pub s3_urls: Maybe<Json>,
    pub extra: Maybe<Json>,
    pub events: Maybe<Json>,
    pub feedback_stats: Maybe<Json>,
    pub tags: Maybe<Vec<String>>,
    pub trace_id: Maybe<String>,
    pub dotted_order: Maybe<String>,
    pub parent_run_id: Maybe<String>,
    pub parent_run_ids: Maybe<Vec<String>>,
    pub session_id: Maybe<String>,
    pub reference_example_id: Maybe<String>,
    pub reference_dataset_id: Maybe<String>,
    pub thread_id: Maybe<String>,
    pub app_path: Maybe<String>,
    pub is_root: Maybe<bool>,
    pub total_tokens: Maybe<i64>,
    pub prompt_tokens: Maybe<i64>,
    pub completion_tokens: Maybe<i64>,
    pub total_cost: Maybe<Decimal>,
    pub prompt_cost: Maybe<Decimal>,
    pub completion_cost: Maybe<Decimal>,
    pub prompt_token_details: Maybe<Json>,
    pub completion_token_details: Maybe<Json>,
    pub prompt_cost_details: Maybe<Json>,
    pub completion_cost_details: Maybe<Json>,
    /// v2 only (`METADATA`); v1 carries it inside `extra.metadata`.
    pub metadata: Maybe<Json>,
    /// Fields runlake has no slot for, verbatim.
    pub unknown: Vec<(String, Json)>,
}

impl Run {
    /// Parses one run from JSON text (v1 or v2 shape) and normalises it.
    pub fn from_json(text: &str) -> Result<Run, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Whether this is a trace root: `is_root` when sent, else derived from parent/trace ids.
    pub fn is_root(&self) -> Option<bool> {
        if let Some(v) = self.is_root.value() {
            return Some(*v);
        }
        match (&self.parent_run_id, self.trace_id.value()) {
            (Maybe::Null, _) => Some(true),
            (Maybe::Value(_), _) => Some(false),
            (Maybe::Absent, Some(trace)) => Some(trace == &self.id),
            (Maybe::Absent, None) => None,
        }
    }

    /// When the run's trace started (µs): the root's start time, which leads every run's
    /// `dotted_order` (`20261002T222613647821Z<root id>.…`); a root's own start otherwise.
    pub fn trace_start_micros(&self) -> Option<i64> {
        if let Some(t) = self
            .dotted_order
            .value()
            .and_then(|o| super::time::parse_compact_micros(o.as_bytes()))
        {
            return Some(t);
        }
        match self.is_root() {
            Some(true) => self.start_time.value().map(|t| t.micros()),
            _ => None,
        }
    }

    /// About how many bytes the run holds: its JSON payloads plus a fixed share for the rest.
    pub fn approx_bytes(&self) -> usize {
        let json = |m: &Maybe<Json>| m.value().map_or(0, |j| j.get().len());
        512 + json(&self.inputs)
            + json(&self.outputs)
            + json(&self.extra)
            + json(&self.events)
            + json(&self.feedback_stats)
            + json(&self.metadata)
            + self
                .unknown
                .iter()
                .map(|(k, v)| k.len() + v.get().len())
                .sum::<usize>()
    }

    /// Latency in seconds, when the run has finished.
    pub fn latency_seconds(&self) -> Option<f64> {
        let (start, end) = (self.start_time.value()?, self.end_time.value()?);
        Some((end.micros() - start.micros()) as f64 / 1e6)
    }

    pub fn unknown_field(&self, name: &str) -> Option<&RawValue> {
        self.unknown
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| &**v)
    }

    /// v2 → v1: `project_id` → `session_id`, `parent_run_ids` → `parent_run_id`, lower-case
    /// enums, `{"raw": …}` detail maps unwrapped.
    fn normalise(&mut self) {
        for v in [&mut self.run_type, &mut self.status] {
            if let Maybe::Value(s) = v {
                s.make_ascii_lowercase();
            }
        }
        if self.s3_urls.is_absent()
            && let Some(pos) = self.unknown.iter().position(|(k, _)| k == "attachments")
        {
            let (_, raw) = self.unknown.remove(pos);
            self.s3_urls = v1_attachments(&raw);
        }
        if self.parent_run_id.is_absent()
            && let Maybe::Value(ids) = &self.parent_run_ids
        {
            self.parent_run_id = ids.last().cloned().into();
        }
        for details in [
            &mut self.prompt_token_details,
            &mut self.completion_token_details,
            &mut self.prompt_cost_details,
            &mut self.completion_cost_details,
        ] {
            if let Maybe::Value(raw) = details
                && let Some(inner) = unwrap_raw_wrapper(raw)
            {
                *raw = inner;
            }
        }
    }
}

/// v2 `attachments` (name → pre-signed URL) as v1 `s3_urls` (`attachment.<name>` →
/// `{"presigned_url": …}`), as the SDK converts them; none is null, and a shape that is
/// not a map of strings is kept as it came.
fn v1_attachments(raw: &RawValue) -> Maybe<Json> {
    match serde_json::from_str::<Option<std::collections::BTreeMap<String, String>>>(raw.get()) {
        // No attachments: null, as v1 sends it.
        Ok(None) => Maybe::Null,
        Ok(Some(map)) if map.is_empty() => Maybe::Null,
        Ok(Some(map)) => {
            let v1: serde_json::Map<String, serde_json::Value> = map
                .into_iter()
                .map(|(name, url)| {
                    (
                        format!("attachment.{name}"),
                        serde_json::json!({ "presigned_url": url }),
                    )
                })
                .collect();
            let text = serde_json::Value::Object(v1).to_string();
            Maybe::Value(RawValue::from_string(text).expect("JSON"))
        }
        Err(_) => Maybe::Value(raw.to_owned()),
    }
}

/// `{"raw": X}` → `X` (v2 detail maps); anything else → None.
fn unwrap_raw_wrapper(raw: &RawValue) -> Option<Json> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        raw: Json,
    }
    // Only a map whose first key is `raw` can be the wrapper: anything else is answered
    // without a parse (a failed parse builds an error, for every run's detail maps in v1).
    let first_key = raw
        .get()
        .trim_start()
        .strip_prefix('{')
        .map(str::trim_start);
    if !first_key.is_some_and(|k| k.starts_with("\"raw\"")) {
        return None;
    }
    serde_json::from_str::<Wrapper>(raw.get())
        .ok()
        .map(|w| w.raw)
}

impl<'de> Deserialize<'de> for Run {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RunVisitor;
        impl<'de> Visitor<'de> for RunVisitor {
            type Value = Run;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a LangSmith run object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Run, A::Error> {
                let mut run = Run::default();
                let mut has_id = false;
                // v2's `project_id` is read straight into `session_id` (unless a
                // `session_id` is sent too: then it stays an unknown field, as sent).
                let mut session_from_project = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    // A value that does not fit names its field, so a run set aside says
                    // what was wrong with it.
                    let in_field = |e: A::Error| de::Error::custom(format!("field `{key}`: {e}"));
                    macro_rules! set {
                        ($field:ident) => {
                            run.$field = map.next_value().map_err(in_field)?
                        };
                    }
                    match &*key {
                        "id" => {
                            run.id = map.next_value().map_err(in_field)?;
                            has_id = true;
                        }
                        "name" => set!(name),
                        "run_type" => set!(run_type),
                        "status" => set!(status),
                        "start_time" => set!(start_time),
                        "end_time" => set!(end_time),
                        "first_token_time" => set!(first_token_time),
                        "error" => set!(error),
                        "inputs" => set!(inputs),
                        "outputs" => set!(outputs),
                        "inputs_s3_urls" => set!(inputs_s3_urls),
                        "outputs_s3_urls" => set!(outputs_s3_urls),
                        "s3_urls" => set!(s3_urls),
                        "extra" => set!(extra),
                        "events" => set!(events),
                        "feedback_stats" => set!(feedback_stats),
                        "tags" => set!(tags),
                        "trace_id" => set!(trace_id),
                        "dotted_order" => set!(dotted_order),
                        "parent_run_id" => set!(parent_run_id),
                        "parent_run_ids" => set!(parent_run_ids),
                        "session_id" => {
                            if session_from_project {
                                let project = serde_json::value::to_raw_value(&run.session_id)
                                    .map_err(de::Error::custom)?;
                                run.unknown.push(("project_id".into(), project));
                                session_from_project = false;
                            }
                            set!(session_id)
                        }
                        "project_id" if run.session_id.is_absent() => {
                            set!(session_id);
                            session_from_project = true;
                        }
                        "reference_example_id" => set!(reference_example_id),
                        "reference_dataset_id" => set!(reference_dataset_id),
                        "thread_id" => set!(thread_id),
                        "app_path" => set!(app_path),
                        "is_root" => set!(is_root),
                        "total_cost" => set!(total_cost),
                        "prompt_cost" => set!(prompt_cost),
                        "completion_cost" => set!(completion_cost),
                        "prompt_token_details" => set!(prompt_token_details),
                        "completion_token_details" => set!(completion_token_details),
                        "prompt_cost_details" => set!(prompt_cost_details),
                        "completion_cost_details" => set!(completion_cost_details),
                        "metadata" => set!(metadata),
                        "total_tokens" | "prompt_tokens" | "completion_tokens" => {
                            let v = map.next_value::<LenientI64>().map_err(in_field)?.0;
                            match &*key {
                                "total_tokens" => run.total_tokens = v,
                                "prompt_tokens" => run.prompt_tokens = v,
                                _ => run.completion_tokens = v,
                            }
                        }
                        other => {
                            let raw: Json = map.next_value()?;
                            run.unknown.push((other.to_string(), raw));
                        }
                    }
                }
                if !has_id {
                    return Err(de::Error::missing_field("id"));
                }
                run.normalise();
                Ok(run)
            }
        }
        d.deserialize_map(RunVisitor)
    }
}

/// Back to v1 JSON: present fields only (absent ones stay absent), unknown fields verbatim.
/// Used to set a run aside (a payload that could not be fetched) without losing anything.
impl serde::Serialize for Run {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        macro_rules! put {
            ($($f:ident),*) => { $( if self.$f.is_present() { map.serialize_entry(stringify!($f), &self.$f)?; } )* };
        }
        put!(
            name,
            run_type,
            status,
            start_time,
            end_time,
            first_token_time,
            error,
            inputs,
            outputs,
            inputs_s3_urls,
            outputs_s3_urls,
            s3_urls,
            extra,
            events,
            feedback_stats,
            tags,
            trace_id,
            dotted_order,
            parent_run_id,
            parent_run_ids,
            session_id,
            reference_example_id,
            reference_dataset_id,
            thread_id,
            app_path,
            is_root,
            total_tokens,
            prompt_tokens,
            completion_tokens,
            total_cost,
            prompt_cost,
            completion_cost,
            prompt_token_details,
            completion_token_details,
            prompt_cost_details,
            completion_cost_details,
            metadata
        );
        for (k, v) in &self.unknown {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

struct LenientI64(Maybe<i64>);
impl<'de> Deserialize<'de> for LenientI64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient_i64(d).map(LenientI64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v1_run_with_absent_null_and_unknown_fields() {
        let run = Run::from_json(
            r#"{"id":"r1","name":"agent","run_type":"chain","start_time":"2026-01-05T16:46:01.068924",
                "end_time":null,"total_cost":"0.001572","prompt_cost":0.5,"total_tokens":12.0,
                "inputs":{"q":"héllo"},"parent_run_id":null,"trace_id":"r1","shiny_new":[1,2]}"#,
        )
        .unwrap();
        assert_eq!(run.name, Maybe::Value("agent".into()));
        assert_eq!(run.end_time, Maybe::Null);
        assert!(run.outputs.is_absent());
        assert_eq!(run.total_cost.value().unwrap().0, "0.001572");
        assert_eq!(run.prompt_cost.value().unwrap().as_f64(), Some(0.5));
        assert_eq!(run.total_tokens, Maybe::Value(12));
        assert_eq!(run.inputs.value().unwrap().get(), r#"{"q":"héllo"}"#);
        assert_eq!(run.unknown_field("shiny_new").unwrap().get(), "[1,2]");
        assert_eq!(run.is_root(), Some(true));
    }

    #[test]
    fn normalises_v2_shape() {
        let run = Run::from_json(
            r#"{"id":"c","run_type":"LLM","status":"SUCCESS","start_time":"2025-08-21T10:15:12.456789Z",
                "project_id":"p1","parent_run_ids":["root","mid"],"total_cost":0.001572,
                "prompt_token_details":{"raw":{"audio":0,"cache_read":3}}}"#,
        )
        .unwrap();
        assert_eq!(run.run_type, Maybe::Value("llm".into()));
        assert_eq!(run.status, Maybe::Value("success".into()));
        assert_eq!(run.session_id, Maybe::Value("p1".into()));
        assert_eq!(run.parent_run_id, Maybe::Value("mid".into()));
        assert_eq!(
            run.prompt_token_details.value().unwrap().get(),
            r#"{"audio":0,"cache_read":3}"#
        );
        assert!(run.unknown.is_empty());
        assert_eq!(run.is_root(), Some(false));
    }

    #[test]
    fn token_counts_and_costs_are_read_in_every_shape_sent() {
        let run = |fields: &str| Run::from_json(&format!(r#"{{"id":"a",{fields}}}"#));
        for (text, tokens) in [
            ("12", Maybe::Value(12)),
            ("12.0", Maybe::Value(12)),
            (r#"" 12 ""#, Maybe::Value(12)),
            ("-3", Maybe::Value(-3)),
            ("null", Maybe::Null),
            ("18446744073709551615", Maybe::Value(i64::MAX)),
        ] {
            let r = run(&format!(r#""total_tokens":{text}"#)).unwrap();
            assert_eq!(r.total_tokens, tokens, "{text}");
        }
        for text in [r#""twelve""#, "true", "[1]", r#"{"n":1}"#] {
            let e = run(&format!(r#""prompt_tokens":{text}"#)).unwrap_err();
            assert!(e.to_string().contains("not a token count"), "{text}: {e}");
        }
        for (text, cost) in [
            ("0.001572", "0.001572"),
            ("2", "2"),
            ("-1", "-1"),
            (r#"" 0.5 ""#, "0.5"),
            ("1e-7", "1e-7"),
        ] {
            let r = run(&format!(r#""total_cost":{text}"#)).unwrap();
            assert_eq!(r.total_cost.value().unwrap().0, cost, "{text}");
        }
        assert_eq!(run(r#""total_cost":null"#).unwrap().total_cost, Maybe::Null);
        for text in [r#""cheap""#, "true", "[0.1]"] {
            assert!(run(&format!(r#""total_cost":{text}"#)).is_err(), "{text}");
        }
    }

    #[test]
    fn only_a_map_of_raw_alone_is_unwrapped() {
        let details = |text: &str| {
            Run::from_json(&format!(r#"{{"id":"a","prompt_token_details":{text}}}"#))
                .unwrap()
                .prompt_token_details
                .value()
                .unwrap()
                .get()
                .to_string()
        };
        assert_eq!(details(r#"{ "raw" : {"audio":1} }"#), r#"{"audio":1}"#);
        assert_eq!(details(r#"{"raw":null}"#), "null");
        for kept in [
            r#"{"audio":1}"#,
            r#"{"raw":1,"audio":2}"#,
            r#"{"audio":2,"raw":1}"#,
            r#"{}"#,
            "[1]",
            "3",
        ] {
            assert_eq!(details(kept), kept);
        }
    }

    #[test]
    fn project_id_is_the_session_unless_a_session_id_is_sent_too() {
        for text in [
            r#"{"id":"a","project_id":"p"}"#,
            r#"{"id":"a","session_id":"s","project_id":"p"}"#,
            r#"{"id":"a","project_id":"p","session_id":"s"}"#,
        ] {
            let run = Run::from_json(text).unwrap();
            if text.contains("session_id") {
                assert_eq!(run.session_id, Maybe::Value("s".into()), "{text}");
                assert_eq!(run.unknown_field("project_id").unwrap().get(), r#""p""#);
            } else {
                assert_eq!(run.session_id, Maybe::Value("p".into()), "{text}");
                assert!(run.unknown.is_empty());
            }
        }
    }

    #[test]
    fn serializes_back_without_losing_fields() {
        let text = r#"{"id":"r1","name":"agent","start_time":"2026-01-05T16:46:01.068924","end_time":null,"total_cost":"0.001572","inputs":{"q":"héllo"},"parent_run_id":null,"trace_id":"r1","tags":["a"],"total_tokens":12,"shiny_new":[1,2]}"#;
        let run = Run::from_json(text).unwrap();
        let again = Run::from_json(&serde_json::to_string(&run).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&run).unwrap(),
            serde_json::to_value(&again).unwrap()
        );
        assert_eq!(again.end_time, Maybe::Null);
        assert!(again.outputs.is_absent());
        assert_eq!(again.total_cost.value().unwrap().0, "0.001572");
        assert_eq!(again.unknown_field("shiny_new").unwrap().get(), "[1,2]");
    }

    #[test]
    fn rejects_garbage_with_a_message() {
        let err = Run::from_json(r#"{"id":"x","total_cost":"cheap"}"#).unwrap_err();
        assert!(err.to_string().contains("decimal"), "{err}");
        assert!(Run::from_json(r#"{"name":"no id"}"#).is_err());
    }
}
