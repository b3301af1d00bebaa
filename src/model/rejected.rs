//! Runs that cannot be read are set aside, not fatal: each keeps why, where it came from and
//! its record exactly as received, so one bad run never sinks a load and nothing is lost.

use std::sync::Mutex;

use serde::Serialize;
use serde_json::value::RawValue;

use super::Run;

/// One run set aside.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Where it came from: a request (and page cursor), or a file and line.
    pub origin: String,
    /// Its id, when the record has a readable one.
    pub run_id: Option<String>,
    /// What was wrong: the field and what was expected.
    pub reason: String,
    /// The record as received (a line that is not JSON is kept as a JSON string).
    pub record: Box<RawValue>,
}

impl Rejected {
    /// `text` set aside for `reason`; its id is read when it has one.
    pub fn new(origin: String, text: &str, reason: String) -> Rejected {
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: Option<serde_json::Value>,
        }
        let run_id = serde_json::from_str::<IdOnly>(text)
            .ok()
            .and_then(|r| r.id)
            .map(|id| match id {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        let record = RawValue::from_string(text.to_string()).unwrap_or_else(|_| {
            let quoted = serde_json::to_string(text).expect("a string serializes");
            RawValue::from_string(quoted).expect("a JSON string is JSON")
        });
        Rejected {
            origin,
            run_id,
            reason,
            record,
        }
    }

    /// `run <id>: <reason>` (or the origin when the record has no id), for messages.
    pub fn describe(&self) -> String {
        match &self.run_id {
            Some(id) => format!("run {id} ({}): {}", self.origin, self.reason),
            None => format!("{}: {}", self.origin, self.reason),
        }
    }
}

/// A page of runs and the records of it that could not be read.
#[derive(Debug, Default)]
pub struct Page {
    pub runs: Vec<Run>,
    pub rejected: Vec<Rejected>,
}

impl Page {
    pub fn of(runs: Vec<Run>) -> Page {
        Page {
            runs,
            rejected: vec![],
        }
    }

    /// Reads each record on its own: the path for a page whose whole parse failed, so the
    /// records that can be read are kept. `origin` names where the page came from.
    pub fn read_each(records: &[&RawValue], origin: &str) -> Page {
        let mut page = Page::default();
        for (index, raw) in records.iter().enumerate() {
            match Run::from_json(raw.get()) {
                Ok(run) => page.runs.push(run),
                Err(e) => page.rejected.push(Rejected::new(
                    format!("{origin}, record {}", index + 1),
                    raw.get(),
                    e.to_string(),
                )),
            }
        }
        page
    }
}

/// More runs could not be read than `[load] max_rejected` allows.
#[derive(Debug, thiserror::Error)]
#[error(
    "{count} run(s) could not be read, more than [load] max_rejected = {limit} allows; first: {first}"
)]
pub struct TooManyRejected {
    pub count: usize,
    pub limit: usize,
    pub first: String,
}

/// The runs one pipeline run set aside, shared by its stages; past `limit`, the stage that
/// finds one more fails once it has finished its page.
#[derive(Debug, Default)]
pub struct RejectedRuns {
    list: Mutex<Vec<Rejected>>,
    limit: Option<usize>,
}

impl RejectedRuns {
    /// Fails past `limit` records (`None`: never).
    pub fn with_limit(limit: Option<usize>) -> RejectedRuns {
        RejectedRuns {
            list: Mutex::default(),
            limit,
        }
    }

    /// Keeps `records`; an error when there are now more than the limit allows.
    pub fn add(&self, records: Vec<Rejected>) -> Result<(), TooManyRejected> {
        if records.is_empty() {
            return Ok(());
        }
        for r in &records {
            tracing::warn!("set aside {}", r.describe());
        }
        let mut list = self.list.lock().unwrap();
        list.extend(records);
        match self.limit {
            Some(limit) if list.len() > limit => Err(TooManyRejected {
                count: list.len(),
                limit,
                first: list[0].describe(),
            }),
            _ => Ok(()),
        }
    }

    pub fn count(&self) -> usize {
        self.list.lock().unwrap().len()
    }

    /// Everything set aside so far, leaving none.
    pub fn take(&self) -> Vec<Rejected> {
        std::mem::take(&mut *self.list.lock().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_read_record_by_record_keeps_the_good_runs_and_says_what_is_wrong_with_the_bad() {
        let good = r#"{"id":"a","start_time":"2026-01-01T00:00:00Z"}"#;
        let bad = r#"{"id":"b","start_time":{"when":"soon"}}"#;
        let no_id = r#"{"name":"x"}"#;
        let raws: Vec<Box<RawValue>> = [good, bad, no_id]
            .iter()
            .map(|t| RawValue::from_string(t.to_string()).unwrap())
            .collect();
        let refs: Vec<&RawValue> = raws.iter().map(|r| &**r).collect();
        let page = Page::read_each(&refs, "POST /api/v1/runs/query");
        assert_eq!(page.runs.len(), 1);
        assert_eq!(page.runs[0].id, "a");
        assert_eq!(page.rejected.len(), 2);
        let b = &page.rejected[0];
        assert_eq!(b.run_id.as_deref(), Some("b"));
        assert!(b.reason.contains("start_time"), "{}", b.reason);
        assert_eq!(b.origin, "POST /api/v1/runs/query, record 2");
        assert_eq!(b.record.get(), bad);
        assert!(
            page.rejected[1].reason.contains("id"),
            "{:?}",
            page.rejected[1]
        );
    }

    #[test]
    fn a_line_that_is_not_json_is_kept_as_a_string() {
        let r = Rejected::new("f:3".into(), "{not json", "bad".into());
        assert_eq!(r.record.get(), r#""{not json""#);
        assert_eq!(r.run_id, None);
    }

    #[test]
    fn past_the_limit_adding_fails_but_keeps_every_record() {
        let runs = RejectedRuns::with_limit(Some(1));
        let one = || Rejected::new("o".into(), r#"{"id":"x"}"#, "r".into());
        assert!(runs.add(vec![one()]).is_ok());
        let err = runs.add(vec![one()]).unwrap_err();
        assert_eq!((err.count, err.limit), (2, 1));
        assert!(err.to_string().contains("run x (o): r"), "{err}");
        assert_eq!(runs.take().len(), 2);
    }
}
