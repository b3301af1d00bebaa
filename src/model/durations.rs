//! Time windows: `since`/`until` as durations before now ("30d") or timestamps.

use chrono::{DateTime, TimeDelta, Utc};

/// "30d", "12h", "90m", "45s", "500ms", "2w" → a duration.
pub fn parse_duration(s: &str) -> Option<TimeDelta> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().ok()?;
    Some(match unit {
        "ms" => TimeDelta::milliseconds(n),
        "s" => TimeDelta::seconds(n),
        "m" | "min" => TimeDelta::minutes(n),
        "h" => TimeDelta::hours(n),
        "d" => TimeDelta::days(n),
        "w" => TimeDelta::weeks(n),
        _ => return None,
    })
}

/// A length of time as a pipeline writes it ("1d", "6h", "30m", "45s"), read once when the
/// file is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub TimeDelta);

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map(Span).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration; expected e.g. \"1d\", \"6h\", \"30m\""
            ))
        })
    }
}

impl std::fmt::Display for Span {
    /// In the largest unit that divides it: "1d", "90m", "0s".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.num_milliseconds();
        for (unit, size) in [
            ("w", 604_800_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms != 0 && ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        if ms == 0 {
            f.write_str("0s")
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// A point in time as a pipeline writes it: a duration before "now" ("30d"), or a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    Ago(TimeDelta),
    At(DateTime<Utc>),
}

impl TimeSpec {
    pub fn parse(s: &str) -> Result<TimeSpec, String> {
        if let Some(d) = parse_duration(s) {
            return Ok(TimeSpec::Ago(d));
        }
        crate::model::parse_timestamp(s)
            .map(TimeSpec::At)
            .ok_or_else(|| format!("{s:?} is neither a duration (\"30d\", \"12h\", \"90m\") nor a timestamp (\"2026-10-01T00:00:00Z\")"))
    }

    /// The instant, with "now" fixed.
    pub fn at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeSpec::Ago(d) => now - d,
            TimeSpec::At(t) => t,
        }
    }
}

/// A duration before `now`, or an ISO-8601 timestamp.
pub fn parse_time_or_duration(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    TimeSpec::parse(s).map(|t| t.at(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_timestamps() {
        let now: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            parse_time_or_duration("30d", now).unwrap(),
            "2026-10-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_time_or_duration("2026-10-05T12:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-10-05T12:00:00+00:00"
        );
        assert!(parse_time_or_duration("last week", now).is_err());
        assert!(parse_duration("5x").is_none());
    }
}
