//! Seeded fault injection: the emulator misbehaves the way networks and overloaded servers do,
//! reproducibly for a given seed and request order.

use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    pub seed: u64,
    /// Fraction of requests answered 500, 502 or 503.
    pub server_error: f64,
    /// Fraction of requests delayed by `slow_delay` before being answered normally.
    pub slow: f64,
    pub slow_delay: Duration,
    /// Fraction of requests whose connection is closed without an answer.
    pub drop: f64,
    /// Fraction of answers cut off halfway through the body.
    pub truncate: f64,
}

impl FaultConfig {
    pub fn any(&self) -> bool {
        self.server_error + self.slow + self.drop + self.truncate > 0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServerError(u16),
    Slow(Duration),
    Drop,
    Truncate,
}

impl Fault {
    pub fn label(&self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::ServerError(_) => "server_error",
            Fault::Slow(_) => "slow",
            Fault::Drop => "drop",
            Fault::Truncate => "truncate",
        }
    }
}

pub struct Faults {
    config: FaultConfig,
    rng: Mutex<ChaCha8Rng>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(config.seed));
        Faults { config, rng }
    }

    /// One draw per request: at most one fault, chosen by where a uniform number falls.
    pub fn draw(&self) -> Fault {
        if !self.config.any() {
            return Fault::None;
        }
        let (x, pick): (f64, u8) = {
            let mut rng = self.rng.lock().unwrap();
            (rng.random(), rng.random_range(0..3))
        };
        let c = &self.config;
        let mut edge = c.server_error;
        if x < edge {
            return Fault::ServerError([500, 502, 503][pick as usize]);
        }
        edge += c.slow;
        if x < edge {
            return Fault::Slow(c.slow_delay);
        }
        edge += c.drop;
        if x < edge {
            return Fault::Drop;
        }
        edge += c.truncate;
        if x < edge {
            return Fault::Truncate;
        }
        Fault::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_proportional() {
        let config = FaultConfig {
            seed: 7,
            server_error: 0.2,
            slow: 0.05,
            slow_delay: Duration::from_millis(1),
            drop: 0.05,
            truncate: 0.1,
        };
        let a: Vec<_> = (0..2000)
            .map({
                let f = Faults::new(config.clone());
                move |_| f.draw()
            })
            .collect();
        let b: Vec<_> = (0..2000)
            .map({
                let f = Faults::new(config.clone());
                move |_| f.draw()
            })
            .collect();
        assert_eq!(a, b, "same seed, same faults");
        let share = |label| a.iter().filter(|f| f.label() == label).count() as f64 / 2000.0;
        assert!((share("server_error") - 0.2).abs() < 0.04);
        assert!((share("truncate") - 0.1).abs() < 0.03);
        assert!((share("none") - 0.6).abs() < 0.05);
        assert_eq!(Faults::new(FaultConfig::default()).draw(), Fault::None);
    }
}
