//! A load's vocabulary, shared by the pipeline model, the loads, the stages and the table
//! commits: windows, half-open ranges `[start, end)` of run start times cut on a fixed grid so
//! that the same range always gives the same windows (and the same file names), and write
//! dispositions, how a window's files meet what the table already holds.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// How a window's files meet what the lake already holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Add the window's files; a re-run of the same window replaces only that window's files.
    #[default]
    Append,
    /// Swap every partition the window writes: all other files in them are removed.
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// `None`: from the beginning of the project.
    pub start: Option<DateTime<Utc>>,
    pub end: DateTime<Utc>,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.start {
            Some(s) => write!(f, "{}/{}", s.to_rfc3339(), self.end.to_rfc3339()),
            None => write!(f, "(beginning)/{}", self.end.to_rfc3339()),
        }
    }
}

fn compact(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y%m%dT%H%M%SZ").to_string()
    } else {
        t.format("%Y%m%dT%H%M%S%.6fZ").to_string()
    }
}

impl Window {
    /// A name for files and manifests: `20261001T000000Z_20261002T000000Z`.
    pub fn key(&self) -> String {
        let start = self.start.map(compact).unwrap_or_else(|| "begin".into());
        format!("{start}_{}", compact(self.end))
    }

    pub fn overlaps(&self, other: &Window) -> bool {
        let starts_before_other_ends = self.start.is_none_or(|s| s < other.end);
        let other_starts_before_end = other.start.is_none_or(|s| s < self.end);
        starts_before_other_ends && other_starts_before_end
    }

    /// The parts of this window no window of `covered` covers, in order.
    pub fn minus(&self, covered: &[Window]) -> Vec<Window> {
        let mut sorted: Vec<&Window> = covered.iter().filter(|c| c.overlaps(self)).collect();
        sorted.sort_by_key(|c| c.start);
        let mut out = vec![];
        // The start of what is not covered yet (`None`: from the beginning).
        let mut at = self.start;
        for c in sorted {
            if let Some(cs) = c.start
                && at.is_none_or(|a| a < cs)
            {
                out.push(Window {
                    start: at,
                    end: cs.min(self.end),
                });
            }
            if at.is_none_or(|a| c.end > a) {
                at = Some(c.end);
            }
            if at.is_some_and(|a| a >= self.end) {
                return out;
            }
        }
        if at.is_none_or(|a| a < self.end) {
            out.push(Window {
                start: at,
                end: self.end,
            });
        }
        out
    }

    pub fn contains(&self, other: &Window) -> bool {
        let start_ok = match (self.start, other.start) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a <= b,
        };
        start_ok && other.end <= self.end
    }

    /// Parses `--window`: `START/END` (timestamps or dates) or one date (that UTC day).
    pub fn parse(s: &str) -> Result<Window, String> {
        let time = |t: &str| -> Result<DateTime<Utc>, String> {
            if let Ok(d) = NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d") {
                return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
            }
            crate::model::parse_timestamp(t.trim()).ok_or_else(|| {
                format!("{t:?} is not a date (2026-10-01) or timestamp (2026-10-01T06:00:00Z)")
            })
        };
        let w = match s.split_once('/') {
            Some((a, b)) => Window {
                start: Some(time(a)?),
                end: time(b)?,
            },
            None => {
                let start = time(s)?;
                Window {
                    start: Some(start),
                    end: start + TimeDelta::days(1),
                }
            }
        };
        if w.start.is_some_and(|s| s >= w.end) {
            return Err(format!(
                "window {s:?} is empty: its start is not before its end"
            ));
        }
        Ok(w)
    }
}

/// Cuts `[start, end)` at multiples of `size` since the Unix epoch (so daily windows start at
/// UTC midnight). Without a size, or without a start, the range is one window.
pub fn cut(
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    size: Option<TimeDelta>,
) -> Vec<Window> {
    let (Some(mut at), Some(size)) = (start, size.filter(|s| *s > TimeDelta::zero())) else {
        return match start {
            Some(s) if s >= end => vec![],
            _ => vec![Window { start, end }],
        };
    };
    let step = size.num_microseconds().unwrap_or(i64::MAX);
    let mut out = vec![];
    while at < end {
        let micros = at.timestamp_micros();
        let next_grid = (micros.div_euclid(step) + 1).saturating_mul(step);
        let next = DateTime::from_timestamp_micros(next_grid)
            .unwrap_or(end)
            .min(end);
        out.push(Window {
            start: Some(at),
            end: next,
        });
        at = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn w(start: Option<&str>, end: &str) -> Window {
        Window {
            start: start.map(t),
            end: t(end),
        }
    }

    #[test]
    fn what_committed_windows_leave_uncovered() {
        let day = |d: u32, e: u32| {
            w(
                Some(&format!("2026-10-{d:02}T00:00:00Z")),
                &format!("2026-10-{e:02}T00:00:00Z"),
            )
        };
        let range = day(1, 10);
        assert_eq!(range.minus(&[]), [range]);
        assert_eq!(range.minus(&[day(1, 10)]), []);
        assert_eq!(range.minus(&[w(None, "2026-11-01T00:00:00Z")]), []);
        // Holes at the start, between and at the end; overlapping committed windows merge.
        assert_eq!(
            range.minus(&[day(2, 4), day(3, 5), day(7, 8)]),
            [day(1, 2), day(5, 7), day(8, 10)]
        );
        assert_eq!(range.minus(&[day(1, 9)]), [day(9, 10)]);
        // Committed windows reaching outside the range are cut to it.
        assert_eq!(range.minus(&[day(9, 20)]), [day(1, 9)]);
        let open = w(None, "2026-10-05T00:00:00Z");
        assert_eq!(
            open.minus(&[day(2, 3)]),
            [w(None, "2026-10-02T00:00:00Z"), day(3, 5)]
        );
    }

    #[test]
    fn cuts_on_the_utc_grid() {
        let w = cut(
            Some(t("2026-10-01T05:00:00Z")),
            t("2026-10-03T12:00:00Z"),
            Some(TimeDelta::days(1)),
        );
        let keys: Vec<String> = w.iter().map(Window::key).collect();
        assert_eq!(
            keys,
            [
                "20261001T050000Z_20261002T000000Z",
                "20261002T000000Z_20261003T000000Z",
                "20261003T000000Z_20261003T120000Z"
            ]
        );
        assert_eq!(
            cut(
                Some(t("2026-10-02T00:00:00Z")),
                t("2026-10-01T00:00:00Z"),
                None
            ),
            vec![]
        );
        assert_eq!(
            cut(None, t("2026-10-01T00:00:00Z"), Some(TimeDelta::days(1))).len(),
            1
        );
    }

    #[test]
    fn parses_windows_and_relations() {
        let day = Window::parse("2026-10-01").unwrap();
        assert_eq!(day.key(), "20261001T000000Z_20261002T000000Z");
        let two = Window::parse("2026-10-01/2026-10-03").unwrap();
        assert!(two.contains(&day) && !day.contains(&two) && two.overlaps(&day));
        let next = Window::parse("2026-10-02T00:00:00Z/2026-10-02T06:00:00Z").unwrap();
        assert!(
            !day.overlaps(&next),
            "half-open windows that touch do not overlap"
        );
        assert!(Window::parse("2026-10-02/2026-10-01").is_err());
        assert!(Window::parse("yesterday").is_err());
    }
}
