//! Client-side pacing, one lane per endpoint and rate tier. A paced lane is an exact sliding
//! window, as LangSmith counts: at most N requests in any W, so a short export spends a
//! window's whole allowance at once and a long one runs at the published rate. An unpaced
//! lane sends freely until the server answers 429; then every lane that was refused honours
//! `Retry-After`, halves its allowance and recovers slowly after successes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which allowance a request draws on. v1 queries draw on their per-tenant tier and on the
/// per-key v1 allowance; everything else on one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// v1 `/runs/query`, windows of at most 7 days (per tenant).
    V1Short,
    /// v1 `/runs/query`, longer or open windows (per tenant).
    V1Long,
    /// v1 full-text `search()` or `child_run_ids`, at most 7 days (per tenant).
    V1SearchShort,
    /// ... longer or open windows.
    V1SearchLong,
    /// Every v1 `/runs/query` of one key.
    V1Key,
    /// v2 queries (runs; traces and threads share it until LangSmith publishes theirs).
    V2,
    /// Anything else carrying the key (`/sessions`, `/info`).
    Other,
}

impl Lane {
    pub const ALL: [Lane; 7] = [
        Lane::V1Short,
        Lane::V1Long,
        Lane::V1SearchShort,
        Lane::V1SearchLong,
        Lane::V1Key,
        Lane::V2,
        Lane::Other,
    ];

    /// LangSmith Cloud's published allowance per 10 s (reference §4.3; v1 per key is budgeted
    /// at the stricter of the two published figures).
    pub const fn published(self) -> u32 {
        match self {
            Lane::V1Short => 10,
            Lane::V1Long => 3,
            Lane::V1SearchShort => 3,
            Lane::V1SearchLong => 1,
            Lane::V1Key => 15,
            Lane::V2 => 300,
            Lane::Other => 1000,
        }
    }

    /// The name the run summary and the docs use.
    pub const fn name(self) -> &'static str {
        match self {
            Lane::V1Short => "v1_up_to_7_days",
            Lane::V1Long => "v1_longer",
            Lane::V1SearchShort => "v1_search_up_to_7_days",
            Lane::V1SearchLong => "v1_search_longer",
            Lane::V1Key => "v1_per_key",
            Lane::V2 => "v2",
            Lane::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Sends are spaced this share of a window wider than the limit requires (and at least
/// `MIN_MARGIN`, up to a tenth of the window): the server counts arrivals, and arrivals jitter
/// by the network's and the machine's variance.
const MARGIN: f64 = 0.02;
const MIN_MARGIN: Duration = Duration::from_millis(100);
/// An unpaced lane that has recovered past this many requests per window is unpaced again.
const UNPACED_AGAIN: u32 = 100_000;

/// When a request was let through, and on which lanes: a 429 slows those lanes down once per
/// congestion event, not once per request that was in flight when it happened.
#[derive(Debug, Clone)]
pub struct Ticket {
    at: Instant,
    lanes: Vec<Lane>,
}

#[derive(Debug)]
struct LaneState {
    /// Requests allowed per window now; `None` = not paced.
    limit: Option<u32>,
    /// The most this lane may recover to (the configured or published limit); `None` for a
    /// lane that started unpaced.
    ceiling: Option<u32>,
    /// Send times within the last window (plus margin), oldest first.
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
    /// Sends after this instant are judged against the current allowance.
    slowed_at: Option<Instant>,
    successes: u32,
}

impl LaneState {
    /// How long a new request must wait on this lane; zero when it may go now.
    fn wait(&mut self, now: Instant, window: Duration) -> Duration {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.sent.pop_front();
        }
        let paused = self
            .paused_until
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        let full = match self.limit {
            Some(limit) if self.sent.len() >= limit as usize => {
                // The send `limit` places back must leave the window first.
                let gate = self.sent[self.sent.len() - limit as usize];
                (gate + window).saturating_duration_since(now)
            }
            _ => Duration::ZERO,
        };
        paused.max(full)
    }
}

/// Every lane of one client, behind one lock: a request that draws on two lanes checks and
/// records both at once, so concurrent requests can never overrun either.
pub struct Pacer {
    /// The window plus the safety margin: how far apart sends `limit` places apart are kept.
    spacing: Duration,
    /// The window as the server counts it.
    window: Duration,
    lanes: Mutex<Vec<LaneState>>,
}

impl Pacer {
    /// `limit(lane)`: requests per `window`, or `None` to send freely until a 429.
    pub fn new(window: Duration, limit: impl Fn(Lane) -> Option<u32>) -> Pacer {
        let lanes = Lane::ALL
            .iter()
            .map(|lane| {
                let limit = limit(*lane).map(|n| n.max(1));
                LaneState {
                    limit,
                    ceiling: limit,
                    sent: VecDeque::new(),
                    paused_until: None,
                    slowed_at: None,
                    successes: 0,
                }
            })
            .collect();
        Pacer {
            spacing: window + window.mul_f64(MARGIN).max(MIN_MARGIN.min(window / 10)),
            window,
            lanes: Mutex::new(lanes),
        }
    }

    /// The allowance per window of each lane now (`None`: not paced), and the window.
    pub fn limits(&self) -> Vec<(Lane, Option<u32>)> {
        let lanes = self.lanes.lock().unwrap();
        Lane::ALL
            .iter()
            .map(|l| (*l, lanes[l.index()].limit))
            .collect()
    }

    /// The counting window, without the safety margin.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Waits until every lane admits the request, then records it on each.
    pub async fn acquire(&self, lanes: &[Lane]) -> Ticket {
        loop {
            let wait = {
                let mut states = self.lanes.lock().unwrap();
                let now = Instant::now();
                let wait = lanes
                    .iter()
                    .map(|l| states[l.index()].wait(now, self.spacing))
                    .max()
                    .unwrap_or_default();
                if wait.is_zero() {
                    for l in lanes {
                        states[l.index()].sent.push_back(now);
                    }
                    return Ticket {
                        at: now,
                        lanes: lanes.to_vec(),
                    };
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The server answered 429 to the ticket's request. Its first lane (the most specific)
    /// pauses for `retry_after` and, unless it already slowed down for a request sent later,
    /// halves its allowance: from its limit, or for an unpaced lane from what it sent in the
    /// last window (what the server put up with).
    pub fn throttled(&self, ticket: &Ticket, retry_after: Option<Duration>) {
        let Some(lane) = ticket.lanes.first() else {
            return;
        };
        let mut states = self.lanes.lock().unwrap();
        let now = Instant::now();
        let s = &mut states[lane.index()];
        s.wait(now, self.spacing);
        let wait = retry_after.unwrap_or_else(|| match s.limit {
            Some(limit) => self.spacing / limit,
            None => Duration::from_secs(1),
        });
        let until = now + wait;
        s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
        s.successes = 0;
        if s.slowed_at.is_some_and(|t| ticket.at < t) {
            return; // sent before the last slow-down: that one already counted it
        }
        let current = s.limit.unwrap_or(s.sent.len().max(1) as u32);
        s.limit = Some((current / 2).max(1));
        s.slowed_at = Some(now);
        tracing::debug!(
            "429 on {}: paused {:.2}s, now {} requests per {:.1}s",
            lane.name(),
            wait.as_secs_f64(),
            (current / 2).max(1),
            self.window().as_secs_f64()
        );
    }

    /// A request went through: after a window's worth of successes at the current allowance,
    /// a slowed lane speeds up by a quarter, up to its ceiling.
    pub fn succeeded(&self, ticket: &Ticket) {
        let Some(lane) = ticket.lanes.first() else {
            return;
        };
        let mut states = self.lanes.lock().unwrap();
        let s = &mut states[lane.index()];
        let Some(limit) = s.limit else {
            return;
        };
        if s.ceiling.is_some_and(|c| limit >= c) {
            return;
        }
        s.successes += 1;
        if s.successes < limit.max(4) {
            return;
        }
        s.successes = 0;
        let raised = (limit + limit / 4).max(limit + 1);
        s.limit = match s.ceiling {
            Some(c) => Some(raised.min(c)),
            None if raised >= UNPACED_AGAIN => None,
            None => Some(raised),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(window_ms: u64, limit: Option<u32>) -> Pacer {
        Pacer::new(Duration::from_millis(window_ms), |lane| {
            (lane == Lane::V1Short).then_some(limit).flatten()
        })
    }

    #[tokio::test]
    async fn a_window_allowance_goes_at_once_then_one_window_later() {
        let p = pacer(300, Some(5));
        let start = Instant::now();
        for _ in 0..5 {
            p.acquire(&[Lane::V1Short]).await;
        }
        assert!(start.elapsed() < Duration::from_millis(50), "burst");
        p.acquire(&[Lane::V1Short]).await;
        let sixth = start.elapsed();
        assert!(
            sixth >= Duration::from_millis(300) && sixth < Duration::from_millis(400),
            "{sixth:?}"
        );
        for _ in 0..4 {
            p.acquire(&[Lane::V1Short]).await;
        }
        assert!(start.elapsed() < Duration::from_millis(400), "same window");
    }

    #[tokio::test]
    async fn no_window_ever_holds_more_than_the_limit() {
        let p = std::sync::Arc::new(pacer(100, Some(4)));
        let times = std::sync::Arc::new(Mutex::new(vec![]));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (p, times) = (p.clone(), times.clone());
            tasks.spawn(async move {
                let t = p.acquire(&[Lane::V1Short, Lane::V1Key]).await;
                times.lock().unwrap().push(t.at);
            });
        }
        while tasks.join_next().await.is_some() {}
        let mut times = times.lock().unwrap().clone();
        times.sort();
        for pair in times.windows(5) {
            assert!(pair[4] - pair[0] >= Duration::from_millis(100));
        }
    }

    #[tokio::test]
    async fn unpaced_until_429_then_halved_once_per_event_and_recovering() {
        let p = pacer(1000, None);
        let mut tickets = vec![];
        for _ in 0..10 {
            tickets.push(p.acquire(&[Lane::V1Short]).await);
        }
        assert_eq!(p.limits()[0].1, None, "unpaced");
        // Every request in flight came back 429: one slow-down, to half of what was sent.
        for t in &tickets {
            p.throttled(t, Some(Duration::from_millis(50)));
        }
        assert_eq!(p.limits()[0].1, Some(5));
        let start = Instant::now();
        let t = p.acquire(&[Lane::V1Short]).await;
        assert!(start.elapsed() >= Duration::from_millis(45), "Retry-After");
        // A request sent after the slow-down and refused again halves again.
        p.throttled(&t, Some(Duration::ZERO));
        assert_eq!(p.limits()[0].1, Some(2));
        for _ in 0..4 {
            p.succeeded(&t);
        }
        assert_eq!(p.limits()[0].1, Some(3), "recovers after successes");
    }

    #[test]
    fn a_paced_lane_recovers_to_its_ceiling_only() {
        let p = pacer(1000, Some(8));
        let t = Ticket {
            at: Instant::now(),
            lanes: vec![Lane::V1Short],
        };
        p.throttled(&t, Some(Duration::ZERO));
        assert_eq!(p.limits()[0].1, Some(4));
        for _ in 0..100 {
            p.succeeded(&t);
        }
        assert_eq!(p.limits()[0].1, Some(8));
    }
}
