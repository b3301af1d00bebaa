//! One runs query, independent of the API version that will carry it.

use chrono::{DateTime, Duration as TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::ClientError;
use super::limiter::Lane;

/// LangSmith's faster v1 tier is for windows of at most this.
pub const SEVEN_DAYS: TimeDelta = TimeDelta::days(7);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

/// Every `list_runs` argument runlake uses. Project ids are resolved before querying.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunsQuery {
    pub projects: Vec<String>,
    pub run_type: Option<String>,
    pub is_root: Option<bool>,
    pub error: Option<bool>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub ids: Option<Vec<String>>,
    pub trace: Option<String>,
    pub parent_run: Option<String>,
    pub filter: Option<String>,
    pub trace_filter: Option<String>,
    pub tree_filter: Option<String>,
    /// v1 field names (lower-case); empty = the server's default.
    pub select: Vec<String>,
    pub order: Option<Order>,
}

/// v1 select names → v2 `selects` (where they differ by more than case).
pub fn v2_select(name: &str) -> Option<String> {
    let mapped = match name {
        "session_id" => "PROJECT_ID",
        "parent_run_id" | "parent_run_ids" => "PARENT_RUN_IDS",
        "in_dataset" => "IS_IN_DATASET",
        // v2's `attachments` (name → pre-signed URL), read back as `s3_urls`.
        "s3_urls" => "ATTACHMENTS",
        // Gone in v2 (reference §2.3).
        "child_run_ids"
        | "direct_child_run_ids"
        | "serialized"
        | "manifest_id"
        | "manifest_s3_id"
        | "inputs_s3_urls"
        | "outputs_s3_urls"
        | "messages"
        | "share_token"
        | "trace_tier"
        | "trace_upgrade"
        | "ttl_seconds"
        | "trace_first_received_at"
        | "execution_order" => return None,
        other => return Some(other.to_ascii_uppercase()),
    };
    Some(mapped.to_string())
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl RunsQuery {
    /// The `POST /api/v1/runs/query` body for one page.
    pub fn v1_body(&self, limit: usize, cursor: Option<&str>) -> Value {
        let mut body = Map::new();
        let mut put = |k: &str, v: Value| {
            body.insert(k.to_string(), v);
        };
        if !self.projects.is_empty() {
            put("session", json!(self.projects));
        }
        if let Some(v) = &self.run_type {
            put("run_type", json!(v));
        }
        if let Some(v) = self.is_root {
            put("is_root", json!(v));
        }
        if let Some(v) = self.error {
            put("error", json!(v));
        }
        if let Some(v) = &self.start_time {
            put("start_time", json!(time(v)));
        }
        if let Some(v) = &self.end_time {
            put("end_time", json!(time(v)));
        }
        if let Some(v) = &self.ids {
            put("id", json!(v));
        }
        if let Some(v) = &self.trace {
            put("trace", json!(v));
        }
        if let Some(v) = &self.parent_run {
            put("parent_run", json!(v));
        }
        for (k, v) in [
            ("filter", &self.filter),
            ("trace_filter", &self.trace_filter),
            ("tree_filter", &self.tree_filter),
        ] {
            if let Some(v) = v {
                put(k, json!(v));
            }
        }
        if !self.select.is_empty() {
            put("select", json!(self.select));
        }
        if let Some(order) = self.order {
            put("order", json!(order));
        }
        put("limit", json!(limit));
        if let Some(c) = cursor {
            put("cursor", json!(c));
        }
        Value::Object(body)
    }

    /// The `POST /api/v2/runs/query` body for one page. v2 has no `parent_run` and no `order`
    /// (always newest first), and needs project ids; it also defaults to the last day when no
    /// start is given, which an export never wants, so the start is always explicit.
    pub fn v2_body(&self, page_size: usize, cursor: Option<&str>) -> Result<Value, ClientError> {
        if self.projects.is_empty() {
            return Err(ClientError::Unsupported(
                "the v2 runs API needs a project".into(),
            ));
        }
        if self.parent_run.is_some() {
            return Err(ClientError::Unsupported(
                "the v2 runs API has no parent_run filter: use api = \"v1\" or a trace/tree filter"
                    .into(),
            ));
        }
        if self.order == Some(Order::Asc) {
            return Err(ClientError::Unsupported("the v2 runs API only returns newest first: drop order = \"asc\" or use api = \"v1\"".into()));
        }
        let mut body = Map::new();
        body.insert("project_ids".into(), json!(self.projects));
        let start = self.start_time.unwrap_or(DateTime::UNIX_EPOCH);
        body.insert("min_start_time".into(), json!(time(&start)));
        if let Some(v) = &self.end_time {
            body.insert("max_start_time".into(), json!(time(v)));
        }
        if let Some(v) = &self.run_type {
            body.insert("run_type".into(), json!(v.to_ascii_uppercase()));
        }
        if let Some(v) = self.is_root {
            body.insert("is_root".into(), json!(v));
        }
        if let Some(v) = self.error {
            body.insert("has_error".into(), json!(v));
        }
        if let Some(v) = &self.ids {
            body.insert("ids".into(), json!(v));
        }
        if let Some(v) = &self.trace {
            body.insert("trace_id".into(), json!(v));
        }
        for (k, v) in [
            ("filter", &self.filter),
            ("trace_filter", &self.trace_filter),
            ("tree_filter", &self.tree_filter),
        ] {
            if let Some(v) = v {
                body.insert(k.into(), json!(v));
            }
        }
        // The fields v1 returns whatever `select` says come back from v2 too, so a run has
        // the same shape whichever API carried it (its start time partitions the output).
        let mut selects: Vec<String> = vec![];
        let wanted: Vec<&str> = if self.select.is_empty() {
            V2_FULL.to_vec()
        } else {
            self.select.iter().map(String::as_str).collect()
        };
        let wanted = crate::langsmith::fields::V1_ALWAYS
            .iter()
            .copied()
            .chain(wanted);
        for name in wanted {
            if let Some(s) = v2_select(name)
                && !selects.contains(&s)
            {
                selects.push(s);
            }
        }
        body.insert("selects".into(), json!(selects));
        body.insert("page_size".into(), json!(page_size));
        if let Some(c) = cursor {
            body.insert("cursor".into(), json!(c));
        }
        Ok(Value::Object(body))
    }

    /// Whether v2 can carry the query: it has no `parent_run` and returns newest first only.
    pub fn expressible_in_v2(&self) -> bool {
        self.parent_run.is_none() && self.order != Some(Order::Asc)
    }

    /// The lanes a v1 query draws on: its per-tenant tier by window and shape, as LangSmith
    /// counts them (no start time is a long window), and the per-key allowance.
    pub fn v1_lanes(&self, now: DateTime<Utc>) -> &'static [Lane] {
        let short = self.window(now).is_some_and(|w| w <= SEVEN_DAYS);
        let strict = self.uses_search() || self.select.iter().any(|s| s == "child_run_ids");
        match (strict, short) {
            (true, true) => &[Lane::V1SearchShort, Lane::V1Key],
            (true, false) => &[Lane::V1SearchLong, Lane::V1Key],
            (false, true) => &[Lane::V1Short, Lane::V1Key],
            (false, false) => &[Lane::V1Long, Lane::V1Key],
        }
    }

    /// Whether the query uses full-text `search()` (LangSmith's strictest rate tier).
    pub fn uses_search(&self) -> bool {
        [&self.filter, &self.trace_filter, &self.tree_filter]
            .iter()
            .any(|f| {
                f.as_deref()
                    .is_some_and(|f| crate::filter::parse(f).is_ok_and(|e| e.uses_search()))
            })
    }

    /// The length of the query's time window; `None` when open-ended at the start.
    pub fn window(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        self.start_time.map(|s| self.end_time.unwrap_or(now) - s)
    }

    /// Cuts the window into consecutive windows of at most `max` (LangSmith's faster tier is
    /// for ≤ 7 days). Adjacent windows share their boundary instant, because the server's
    /// bounds are inclusive; the caller drops the duplicates this can produce.
    pub fn split(&self, max: TimeDelta, now: DateTime<Utc>) -> Vec<RunsQuery> {
        let (Some(start), true) = (self.start_time, max > TimeDelta::zero()) else {
            return vec![self.clone()];
        };
        if self.ids.is_some() {
            return vec![self.clone()];
        }
        let end = self.end_time.unwrap_or(now);
        let mut out = Vec::new();
        let mut lo = start;
        while lo < end {
            let hi = (lo + max).min(end);
            out.push(RunsQuery {
                start_time: Some(lo),
                end_time: Some(hi),
                ..self.clone()
            });
            lo = hi;
        }
        if out.is_empty() {
            out.push(self.clone());
        }
        out
    }
}

/// What runlake selects from v2 when the query names no fields (the SDK's full list).
const V2_FULL: &[&str] = &[
    "name",
    "run_type",
    "status",
    "start_time",
    "end_time",
    "inputs",
    "outputs",
    "parent_run_ids",
    "session_id",
    "trace_id",
    "dotted_order",
    "reference_example_id",
    "error",
    "tags",
    "extra",
    "events",
    "feedback_stats",
    "first_token_time",
    "app_path",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_cost",
    "completion_cost",
    "total_cost",
    "prompt_token_details",
    "completion_token_details",
    "prompt_cost_details",
    "completion_cost_details",
    "thread_id",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn v1_and_v2_bodies_carry_every_argument() {
        let q = RunsQuery {
            projects: vec!["p".into()],
            run_type: Some("tool".into()),
            is_root: Some(false),
            error: Some(false),
            start_time: Some(at("2026-10-01T00:00:00Z")),
            filter: Some("eq(name, \"x\")".into()),
            select: vec![
                "trace_id".into(),
                "name".into(),
                "session_id".into(),
                "child_run_ids".into(),
            ],
            ..Default::default()
        };
        let v1 = q.v1_body(100, Some("c1"));
        assert_eq!(v1["session"], json!(["p"]));
        assert_eq!(v1["run_type"], "tool");
        assert_eq!(v1["error"], false);
        assert_eq!(v1["start_time"], "2026-10-01T00:00:00.000000Z");
        assert_eq!(v1["cursor"], "c1");
        assert_eq!(v1["limit"], 100);
        let v2 = q.v2_body(1000, None).unwrap();
        assert_eq!(v2["project_ids"], json!(["p"]));
        assert_eq!(v2["run_type"], "TOOL");
        assert_eq!(v2["has_error"], false);
        // What v1 always returns, then what was asked for (child_run_ids is gone in v2).
        assert_eq!(
            v2["selects"],
            json!([
                "ID",
                "NAME",
                "RUN_TYPE",
                "START_TIME",
                "TRACE_ID",
                "DOTTED_ORDER",
                "STATUS",
                "PROJECT_ID",
                "APP_PATH"
            ])
        );
        assert!(q.expressible_in_v2());
        for needs_v1 in [
            RunsQuery {
                parent_run: Some("r".into()),
                ..q.clone()
            },
            RunsQuery {
                order: Some(Order::Asc),
                ..q.clone()
            },
        ] {
            assert!(!needs_v1.expressible_in_v2());
            assert!(needs_v1.v2_body(1000, None).is_err());
        }
        let open = RunsQuery {
            projects: vec!["p".into()],
            ..Default::default()
        };
        assert_eq!(
            open.v2_body(10, None).unwrap()["min_start_time"],
            "1970-01-01T00:00:00.000000Z",
            "never the 1-day default"
        );
        assert!(
            RunsQuery {
                parent_run: Some("x".into()),
                ..open
            }
            .v2_body(10, None)
            .is_err()
        );
    }

    #[test]
    fn v1_queries_draw_on_their_tier_and_the_key() {
        let now = at("2026-11-01T00:00:00Z");
        let q = |days: Option<i64>, filter: Option<&str>| RunsQuery {
            start_time: days.map(|d| now - TimeDelta::days(d)),
            filter: filter.map(String::from),
            ..Default::default()
        };
        assert_eq!(q(Some(7), None).v1_lanes(now), [Lane::V1Short, Lane::V1Key]);
        assert_eq!(q(Some(8), None).v1_lanes(now), [Lane::V1Long, Lane::V1Key]);
        assert_eq!(q(None, None).v1_lanes(now), [Lane::V1Long, Lane::V1Key]);
        let search = Some(r#"search("refund")"#);
        assert_eq!(
            q(Some(1), search).v1_lanes(now),
            [Lane::V1SearchShort, Lane::V1Key]
        );
        assert_eq!(
            q(None, search).v1_lanes(now),
            [Lane::V1SearchLong, Lane::V1Key]
        );
    }

    #[test]
    fn split_covers_the_window_with_shared_boundaries() {
        let q = RunsQuery {
            start_time: Some(at("2026-10-01T00:00:00Z")),
            end_time: Some(at("2026-10-31T00:00:00Z")),
            ..Default::default()
        };
        let parts = q.split(TimeDelta::days(7), Utc::now());
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].start_time, q.start_time);
        assert_eq!(parts[4].end_time, q.end_time);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].end_time, pair[1].start_time);
        }
        assert!(
            parts
                .iter()
                .all(|p| p.window(Utc::now()).unwrap() <= TimeDelta::days(7))
        );
        let open = RunsQuery::default();
        assert_eq!(
            open.split(TimeDelta::days(7), Utc::now()),
            vec![open.clone()]
        );
    }
}
