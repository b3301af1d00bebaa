//! The query engine shared by the emulator's v1 and v2 routes and the run-file source:
//! candidate runs in keyset order `(start_time, id)`, LangSmith's predicates, and opaque
//! cursors.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::store::{Project, StoredRun};
use crate::filter::{self, Expr, RunFacts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// A position in keyset order. Encoded opaquely; stable across emulator restarts because it
/// names a key, not an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub order: Order,
    pub start_us: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let o = if self.order == Order::Asc { 'a' } else { 'd' };
        URL_SAFE_NO_PAD.encode(format!("rlc1:{o}:{}:{}", self.start_us, self.id))
    }

    /// The cursor `text` encodes, or why it is not one (the API answers 400 with that).
    pub fn decode(text: &str, order: Order) -> Result<Cursor, String> {
        let invalid = || format!("Invalid cursor: {text:?}");
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        let text_form = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text_form.splitn(4, ':');
        let (Some("rlc1"), Some(o), Some(us), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let cursor_order = match o {
            "a" => Order::Asc,
            "d" => Order::Desc,
            _ => return Err(invalid()),
        };
        if cursor_order != order {
            return Err("Cursor was issued for a different sort order".into());
        }
        Ok(Cursor {
            order,
            start_us: us.parse().map_err(|_| invalid())?,
            id: id.to_string(),
        })
    }
}

/// Bounds on feedback `modified_at` in µs: inclusive lower, exclusive upper.
pub type FeedbackWindow = (Option<i64>, Option<i64>);

/// Everything both API versions can ask, already validated.
pub struct RunQuery<'a> {
    pub projects: Vec<&'a Project>,
    /// Explicit run ids; in v1 they make every other filter moot (as the docs say).
    pub ids: Option<HashSet<String>>,
    pub ids_ignore_filters: bool,
    pub trace: Option<String>,
    pub parent_run: Option<String>,
    pub run_type: Option<String>,
    pub is_root: Option<bool>,
    pub error: Option<bool>,
    pub min_start_us: Option<i64>,
    pub max_start_us: Option<i64>,
    pub filter: Option<Expr>,
    pub trace_filter: Option<Expr>,
    pub tree_filter: Option<Expr>,
    pub order: Order,
    /// v2 `min_feedback_modified_at` (inclusive) / `max_…` (exclusive), µs: the feedback
    /// conditions of the filters see only entries modified in that window.
    pub feedback_modified: Option<FeedbackWindow>,
}

pub struct Page<'a> {
    pub runs: Vec<(&'a Project, &'a StoredRun)>,
    pub next: Option<Cursor>,
}

impl<'a> RunQuery<'a> {
    /// Every run of `projects` in `order`: set the conditions wanted on top of it.
    pub fn over(projects: Vec<&'a Project>, order: Order) -> Self {
        RunQuery {
            projects,
            ids: None,
            ids_ignore_filters: false,
            trace: None,
            parent_run: None,
            run_type: None,
            is_root: None,
            error: None,
            min_start_us: None,
            max_start_us: None,
            filter: None,
            trace_filter: None,
            tree_filter: None,
            order,
            feedback_modified: None,
        }
    }

    /// The next `limit` matches after `after`, and a cursor when more exist.
    pub fn page(&self, after: Option<&Cursor>, limit: usize) -> Page<'a> {
        let want = limit + 1;
        let mut found: Vec<(&'a Project, &'a StoredRun)> = Vec::new();
        for &project in &self.projects {
            // Tree-filter verdicts are per trace, and a page asks about the same trace often.
            let mut tree_cache = HashMap::new();
            let mut taken = 0;
            for run in self.candidates(project, after) {
                if self.matches(project, run, &mut tree_cache) {
                    found.push((project, run));
                    taken += 1;
                    if taken == want {
                        break;
                    }
                }
            }
        }
        // Several projects: merge their first matches into one keyset order.
        found.sort_by(|(_, a), (_, b)| (a.start_us, &a.id).cmp(&(b.start_us, &b.id)));
        if self.order == Order::Desc {
            found.reverse();
        }
        let more = found.len() > limit;
        found.truncate(limit);
        let next = more.then(|| {
            let (_, last) = found.last().expect("limit >= 1");
            Cursor {
                order: self.order,
                start_us: last.start_us,
                id: last.id.clone(),
            }
        });
        Page { runs: found, next }
    }

    /// A project's runs that could match, in query order, strictly after the cursor.
    fn candidates(
        &self,
        project: &'a Project,
        after: Option<&Cursor>,
    ) -> Box<dyn Iterator<Item = &'a StoredRun> + 'a> {
        let runs = &project.runs;
        let after = after.cloned();
        let order = self.order;
        let bound = after.clone();
        let keep = move |r: &&'a StoredRun| is_after(r, bound.as_ref(), order);
        let listed: Option<Vec<usize>> = if let Some(ids) = &self.ids {
            let mut v: Vec<usize> = ids
                .iter()
                .filter_map(|id| project.by_id.get(id).copied())
                .collect();
            v.sort_unstable();
            Some(v)
        } else {
            self.trace
                .as_ref()
                .map(|t| project.traces.get(t).cloned().unwrap_or_default())
        };
        if let Some(indices) = listed {
            let iter = indices.into_iter().map(move |i| &runs[i]);
            return match order {
                Order::Asc => Box::new(iter.filter(keep)),
                Order::Desc => Box::new(iter.rev().filter(keep)),
            };
        }
        // Bound the walk by the time window and the cursor: paging a big project is linear
        // overall, never quadratic.
        let mut lo = self
            .min_start_us
            .map_or(0, |us| runs.partition_point(|r| r.start_us < us));
        let mut hi = self
            .max_start_us
            .map_or(runs.len(), |us| runs.partition_point(|r| r.start_us <= us));
        if let Some(c) = &after {
            let at = project.position(c.start_us, &c.id);
            match order {
                Order::Asc => lo = lo.max(at),
                Order::Desc => hi = hi.min(at),
            }
        }
        let slice = &runs[lo.min(hi)..hi];
        match order {
            Order::Asc => Box::new(slice.iter().filter(keep)),
            Order::Desc => Box::new(slice.iter().rev().filter(keep)),
        }
    }

    fn matches(
        &self,
        project: &Project,
        run: &StoredRun,
        tree_cache: &mut HashMap<String, bool>,
    ) -> bool {
        if self.ids.is_some() && self.ids_ignore_filters {
            return true;
        }
        let in_window = self.min_start_us.is_none_or(|us| run.start_us >= us)
            && self.max_start_us.is_none_or(|us| run.start_us <= us);
        let simple = in_window
            && self.trace.as_ref().is_none_or(|t| *t == run.trace_id)
            && self
                .parent_run
                .as_ref()
                .is_none_or(|p| run.parent_run_id.as_ref() == Some(p))
            && self
                .run_type
                .as_ref()
                .is_none_or(|t| run.run_type.as_ref() == Some(t))
            && self.is_root.is_none_or(|want| run.is_root == want)
            && self.error.is_none_or(|want| run.has_error == want);
        if !simple
            || self
                .filter
                .as_ref()
                .is_some_and(|f| !f.matches(&self.facts(run)))
        {
            return false;
        }
        if let Some(expr) = &self.trace_filter {
            let root = project.root_of(&run.trace_id).map(|r| self.facts(r));
            if !filter::trace_filter_matches(expr, root.as_deref()) {
                return false;
            }
        }
        if let Some(expr) = &self.tree_filter {
            let verdict = *tree_cache.entry(run.trace_id.clone()).or_insert_with(|| {
                let facts: Vec<Cow<'_, RunFacts>> = project
                    .trace_runs(&run.trace_id)
                    .map(|r| self.facts(r))
                    .collect();
                filter::tree_filter_matches(expr, facts.iter().map(|f| &**f))
            });
            if !verdict {
                return false;
            }
        }
        true
    }
}

impl RunQuery<'_> {
    /// What the filters see of a run: with a feedback-modified window, only the feedback
    /// entries modified inside it.
    fn facts<'r>(&self, run: &'r StoredRun) -> Cow<'r, RunFacts> {
        let Some((lo, hi)) = self.feedback_modified else {
            return Cow::Borrowed(&run.facts);
        };
        let inside = |us: i64| lo.is_none_or(|lo| us >= lo) && hi.is_none_or(|hi| us < hi);
        if run.feedback.iter().all(|e| inside(e.modified_us)) {
            return Cow::Borrowed(&run.facts);
        }
        let mut facts = run.facts.clone();
        facts.feedback = run
            .feedback
            .iter()
            .filter(|e| inside(e.modified_us))
            .map(|e| e.fact())
            .collect();
        Cow::Owned(facts)
    }
}

fn is_after(run: &StoredRun, after: Option<&Cursor>, order: Order) -> bool {
    let Some(c) = after else { return true };
    let key = (run.start_us, run.id.as_str());
    let cursor = (c.start_us, c.id.as_str());
    match order {
        Order::Asc => key > cursor,
        Order::Desc => key < cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let c = Cursor {
            order: Order::Desc,
            start_us: 1_700_000_000_123_456,
            id: "0198-ab".into(),
        };
        let text = c.encode();
        assert!(!text.contains("0198"), "opaque: {text}");
        assert_eq!(Cursor::decode(&text, Order::Desc).unwrap(), c);
        assert!(
            Cursor::decode(&text, Order::Asc).is_err(),
            "order is bound into the cursor"
        );
        assert!(Cursor::decode("not-a-cursor", Order::Desc).is_err());
    }
}
