use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with microsecond precision, as LangSmith stores it.
///
/// v1 sends naive UTC strings (`2026-01-05T16:46:01.068924`), v2 and event times carry `Z` or
/// `+00:00`; all are read as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    pub fn from_micros(us: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(us).map(Timestamp)
    }
}

/// Parses RFC 3339 (any offset), naive ISO-8601 (taken as UTC), a date alone (midnight UTC),
/// with or without fractional seconds and with `T` or a space between date and time.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// LangSmith v1's wire format: naive UTC with exactly six fractional digits.
pub fn format_naive_micros(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_timestamp(s).map(Timestamp).ok_or_else(|| {
            format!("not a timestamp: {s:?} (expected ISO-8601, e.g. 2026-01-05T16:46:01Z)")
        })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_naive_micros(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape_langsmith_sends() {
        let naive = parse_timestamp("2026-01-05T16:46:01.068924").unwrap();
        assert_eq!(naive.timestamp_micros() % 1_000_000, 68924);
        assert_eq!(parse_timestamp("2026-01-05T16:46:01.068924Z"), Some(naive));
        assert_eq!(
            parse_timestamp("2026-01-05T16:46:01.068924+00:00"),
            Some(naive)
        );
        assert_eq!(parse_timestamp("2026-01-05 16:46:01.068924"), Some(naive));
        assert_eq!(
            parse_timestamp("2026-01-05T17:46:01.068924+01:00"),
            Some(naive),
            "offsets are converted to UTC"
        );
        assert!(parse_timestamp("2026-01-05").is_some());
        assert!(parse_timestamp("yesterday").is_none());
        assert_eq!(format_naive_micros(&naive), "2026-01-05T16:46:01.068924");
    }
}
