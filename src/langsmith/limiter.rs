//! An adaptive client-side limiter: governor's GCRA at the published rate, slowed down when
//! the server still answers 429 (clocks drift, other clients share the key) and recovering
//! step by step after successes.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};

use super::RateSpec;

/// Requests are spaced this much wider than the published rate: sliding windows on the server
/// and timer slop on ours otherwise meet at the edge.
const SAFETY: f64 = 1.02;
const SLOWEST: f64 = 0.1;
const RECOVER_AFTER: u32 = 20;

pub struct AdaptiveLimiter {
    spec: RateSpec,
    state: Mutex<State>,
}

struct State {
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Fraction of the published rate currently allowed.
    factor: f64,
    successes: u32,
    paused_until: Option<Instant>,
}

fn build(spec: RateSpec, factor: f64) -> Arc<DefaultDirectRateLimiter> {
    let interval = spec.period.as_secs_f64() / f64::from(spec.requests.max(1)) * SAFETY / factor;
    // Burst 1: a sliding window of N per T admits at most N in any T only if requests are evenly
    // spaced; GCRA with a burst b would allow b + T/interval.
    let quota = Quota::with_period(Duration::from_secs_f64(interval))
        .expect("positive period")
        .allow_burst(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(quota))
}

impl AdaptiveLimiter {
    pub fn new(spec: RateSpec) -> Self {
        AdaptiveLimiter {
            spec,
            state: Mutex::new(State {
                limiter: build(spec, 1.0),
                factor: 1.0,
                successes: 0,
                paused_until: None,
            }),
        }
    }

    pub fn spec(&self) -> RateSpec {
        self.spec
    }

    /// Current share of the published rate (1.0 when not slowed down).
    pub fn factor(&self) -> f64 {
        self.state.lock().unwrap().factor
    }

    /// Waits for a slot.
    pub async fn acquire(&self) {
        loop {
            let (limiter, pause) = {
                let s = self.state.lock().unwrap();
                (s.limiter.clone(), s.paused_until)
            };
            if let Some(until) = pause {
                let now = Instant::now();
                if until > now {
                    tokio::time::sleep(until - now).await;
                    continue;
                }
            }
            limiter
                .until_ready_with_jitter(Jitter::up_to(Duration::from_millis(3)))
                .await;
            // A 429 seen meanwhile may have paused everyone; honour it before sending.
            let paused = self
                .state
                .lock()
                .unwrap()
                .paused_until
                .is_some_and(|u| u > Instant::now());
            if !paused {
                return;
            }
        }
    }

    /// The server said 429: pause everyone for `retry_after` and halve the rate.
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.state.lock().unwrap();
        let wait = retry_after.unwrap_or(self.spec.period / self.spec.requests.max(1));
        let until = Instant::now() + wait;
        s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
        s.factor = (s.factor * 0.5).max(SLOWEST);
        s.successes = 0;
        s.limiter = build(self.spec, s.factor);
    }

    /// A request went through: after enough of them, speed back up by a quarter.
    pub fn succeeded(&self) {
        let mut s = self.state.lock().unwrap();
        if s.factor >= 1.0 {
            return;
        }
        s.successes += 1;
        if s.successes >= RECOVER_AFTER {
            s.successes = 0;
            s.factor = (s.factor * 1.25).min(1.0);
            s.limiter = build(self.spec, s.factor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spaces_requests_at_the_published_rate() {
        let limiter = AdaptiveLimiter::new(RateSpec {
            requests: 20,
            period: Duration::from_secs(1),
        });
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        // First is free, then 10 intervals of 51 ms.
        assert!((0.45..0.7).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test]
    async fn slows_down_on_429_and_recovers() {
        let limiter = AdaptiveLimiter::new(RateSpec {
            requests: 1000,
            period: Duration::from_secs(1),
        });
        limiter.throttled(Some(Duration::from_millis(100)));
        assert_eq!(limiter.factor(), 0.5);
        let start = Instant::now();
        limiter.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "Retry-After pauses everyone"
        );
        for _ in 0..RECOVER_AFTER {
            limiter.succeeded();
        }
        assert_eq!(limiter.factor(), 0.625);
    }
}
