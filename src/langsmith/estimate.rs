//! What an export will ask of LangSmith before it runs: requests per lane for a given number
//! of runs and traces, and the least time LangSmith Cloud's published limits allow for them
//! (`runlake plan --runs N`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::client::ApiVersion;
use super::limiter::Lane;
use super::{ClientConfig, RunsQuery};

use super::query::SEVEN_DAYS;

/// Requests by lane, and the floor on wall time that pacing at the published limits imposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub requests: BTreeMap<&'static str, u64>,
    pub total: u64,
    /// Whole rate windows some lane must wait, times the window: requests beyond a window's
    /// allowance wait for the window to pass (network time not included).
    pub floor: Duration,
}

/// Counts requests lane by lane as a plan adds them.
#[derive(Debug, Default)]
pub struct Tally {
    by_lane: BTreeMap<Lane, u64>,
}

impl Tally {
    fn add(&mut self, lanes: &[Lane], n: u64) {
        for lane in lanes {
            *self.by_lane.entry(*lane).or_default() += n;
        }
    }

    /// The project lookups and, for `api = auto`, the `/info` request.
    pub fn lookups(&mut self, projects: u64, reads_info: bool) {
        self.add(&[Lane::Other], projects + u64::from(reads_info));
    }

    /// The pages of a query returning `runs` runs, spread evenly over its windows (v1 cuts a
    /// long window into 7-day ones when `split`).
    pub fn query(
        &mut self,
        api: ApiVersion,
        query: &RunsQuery,
        split: bool,
        runs: u64,
        now: DateTime<Utc>,
    ) {
        match api {
            ApiVersion::V2 => self.add(&[Lane::V2], pages(runs, 1000)),
            ApiVersion::V1 => {
                let parts = if split {
                    query.split(SEVEN_DAYS, now)
                } else {
                    vec![query.clone()]
                };
                let share = runs.div_ceil(parts.len() as u64);
                for part in &parts {
                    self.add(part.v1_lanes(now), pages(share, 100));
                }
            }
        }
    }

    /// Root runs fetched by id, one request per `batch` traces.
    pub fn roots(&mut self, api: ApiVersion, base: &RunsQuery, traces: u64, batch: usize) {
        let lanes = match api {
            ApiVersion::V2 => &[Lane::V2][..],
            ApiVersion::V1 => base.v1_lanes(Utc::now()),
        };
        self.add(lanes, traces.div_ceil(batch.max(1) as u64));
    }

    /// The totals, and the floor at each lane's limit under `config` (published limits where
    /// the lane is unpaced there).
    pub fn finish(&self, config: &ClientConfig) -> Estimate {
        let window = config.rate_window;
        let mut floor = Duration::ZERO;
        for (lane, n) in &self.by_lane {
            let limit = u64::from(config.lane_limit(*lane).unwrap_or(lane.published()).max(1));
            let waits = n.div_ceil(limit).saturating_sub(1);
            floor = floor.max(window * waits as u32);
        }
        Estimate {
            requests: self
                .by_lane
                .iter()
                .filter(|(lane, _)| **lane != Lane::V1Key)
                .map(|(lane, n)| (lane.name(), *n))
                .collect(),
            total: self
                .by_lane
                .iter()
                .filter(|(lane, _)| **lane != Lane::V1Key)
                .map(|(_, n)| n)
                .sum(),
            floor,
        }
    }
}

/// Pages for `runs` runs: the last page is the one whose cursor is empty.
fn pages(runs: u64, size: u64) -> u64 {
    runs.div_ceil(size).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn thirty_days_of_tool_runs_on_v1_and_v2() {
        let now = at("2026-11-01T00:00:00Z");
        let query = RunsQuery {
            start_time: Some(now - TimeDelta::days(30)),
            ..Default::default()
        };
        let config = ClientConfig::default();
        let mut v2 = Tally::default();
        v2.lookups(1, true);
        v2.query(ApiVersion::V2, &query, true, 2028, now);
        v2.roots(ApiVersion::V2, &RunsQuery::default(), 765, 1000);
        let v2 = v2.finish(&config);
        assert_eq!(v2.total, 2 + 3 + 1);
        assert_eq!(v2.floor, Duration::ZERO, "within one window of 300");

        let mut v1 = Tally::default();
        v1.lookups(1, false);
        v1.query(ApiVersion::V1, &query, true, 2028, now);
        v1.roots(ApiVersion::V1, &RunsQuery::default(), 765, 100);
        let v1 = v1.finish(&config);
        // Five windows (4 × 7 days + 2 days) of ~406 runs: 5 pages each; 8 root fetches.
        assert_eq!(v1.requests["v1_up_to_7_days"], 25);
        assert_eq!(v1.requests["v1_longer"], 8);
        // 33 v1 requests at 15 per key per window: two whole windows of waiting; the short
        // tier's 25 at 10 per window, also two.
        assert_eq!(v1.floor, Duration::from_secs(20));
    }
}
