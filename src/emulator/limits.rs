//! LangSmith Cloud's published read-API rate limits (reference §4.3), modelled as sliding
//! windows per identity. Off unless asked for; `speedup` shrinks every window so tests and
//! benchmarks can exercise the tiers without waiting tens of seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One limit: at most `limit` requests per `window` for one identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub name: &'static str,
    pub limit: u32,
    pub window_secs: u64,
}

const fn tier(name: &'static str, limit: u32, window_secs: u64) -> Tier {
    Tier {
        name,
        limit,
        window_secs,
    }
}

/// Per API key, `POST /runs/query` (v1), "Run query (API)".
pub const V1_QUERY_PER_KEY: Tier = tier("v1 runs/query per key", 15, 10);
/// Per tenant, v1 queries by shape: window ≤ 7 days or longer (or no start), full-text
/// `search()`, and `child_run_ids` selects.
pub const V1_TENANT_SHORT: Tier = tier("v1 runs/query per tenant, window <= 7 days", 10, 10);
pub const V1_TENANT_LONG: Tier = tier("v1 runs/query per tenant, window > 7 days", 3, 10);
pub const V1_TENANT_SEARCH_SHORT: Tier = tier("v1 search() per tenant, window <= 7 days", 3, 10);
pub const V1_TENANT_SEARCH_LONG: Tier = tier("v1 search() per tenant, window > 7 days", 1, 10);
pub const V1_TENANT_CHILDREN_SHORT: Tier =
    tier("v1 child_run_ids per tenant, window <= 7 days", 3, 10);
pub const V1_TENANT_CHILDREN_LONG: Tier =
    tier("v1 child_run_ids per tenant, window > 7 days", 1, 10);
/// Per API key, `POST /api/v2/runs/query`; v2 has no per-tenant tiers.
pub const V2_QUERY_PER_KEY: Tier = tier("v2 runs/query per key", 300, 10);
/// Any other request carrying an API key.
pub const OTHER_PER_KEY: Tier = tier("other requests per key", 1000, 10);
/// `/info`, per client address.
pub const INFO_PER_IP: Tier = tier("/info per IP", 2000, 10);

const SEVEN_DAYS_SECS: i64 = 7 * 24 * 3600;

/// The per-tenant tier of a v1 query, from its time window and shape.
pub fn v1_tenant_tier(window_secs: Option<i64>, uses_search: bool, selects_children: bool) -> Tier {
    let short = window_secs.is_some_and(|w| w <= SEVEN_DAYS_SECS);
    match (uses_search, selects_children, short) {
        (true, _, true) => V1_TENANT_SEARCH_SHORT,
        (true, _, false) => V1_TENANT_SEARCH_LONG,
        (false, true, true) => V1_TENANT_CHILDREN_SHORT,
        (false, true, false) => V1_TENANT_CHILDREN_LONG,
        (false, false, true) => V1_TENANT_SHORT,
        (false, false, false) => V1_TENANT_LONG,
    }
}

pub struct RateLimiter {
    speedup: f64,
    history: Mutex<HashMap<(&'static str, String), VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(speedup: f64) -> Self {
        RateLimiter {
            speedup: speedup.max(1e-6),
            history: Mutex::new(HashMap::new()),
        }
    }

    fn window(&self, tier: &Tier) -> Duration {
        Duration::from_secs_f64(tier.window_secs as f64 / self.speedup)
    }

    /// Admits the request under every `(tier, identity)` given, or names the first tier that
    /// refuses and how long until it would admit. A refused request counts against nothing.
    pub fn admit(&self, checks: &[(Tier, String)]) -> Result<(), (Tier, Duration)> {
        let now = Instant::now();
        let mut history = self.history.lock().unwrap();
        for (tier, who) in checks {
            let window = self.window(tier);
            let seen = history.entry((tier.name, who.clone())).or_default();
            while seen
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                seen.pop_front();
            }
            if seen.len() >= tier.limit as usize {
                let oldest = *seen.front().expect("limit is at least 1");
                return Err((*tier, window.saturating_sub(now.duration_since(oldest))));
            }
        }
        for (tier, who) in checks {
            history
                .get_mut(&(tier.name, who.clone()))
                .expect("inserted above")
                .push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_window_and_shape() {
        assert_eq!(v1_tenant_tier(Some(3600), false, false), V1_TENANT_SHORT);
        assert_eq!(
            v1_tenant_tier(Some(SEVEN_DAYS_SECS + 1), false, false),
            V1_TENANT_LONG
        );
        assert_eq!(
            v1_tenant_tier(None, false, false),
            V1_TENANT_LONG,
            "no start = long"
        );
        assert_eq!(v1_tenant_tier(Some(60), true, true), V1_TENANT_SEARCH_SHORT);
        assert_eq!(
            v1_tenant_tier(Some(60), false, true),
            V1_TENANT_CHILDREN_SHORT
        );
    }

    #[test]
    fn refuses_past_the_limit_and_reports_the_wait() {
        let limiter = RateLimiter::new(1.0);
        let checks = [(V1_TENANT_LONG, "t".to_string())];
        for _ in 0..3 {
            limiter.admit(&checks).unwrap();
        }
        let (tier, wait) = limiter.admit(&checks).unwrap_err();
        assert_eq!(tier, V1_TENANT_LONG);
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert!(
            limiter
                .admit(&[(V1_TENANT_LONG, "other tenant".into())])
                .is_ok()
        );
    }
}
