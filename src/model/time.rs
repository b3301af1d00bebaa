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
    if let Some(t) = parse_iso_fast(s.as_bytes()) {
        return Some(t);
    }
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

/// The shapes LangSmith sends, `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM]`, without chrono's
/// format-string machinery (which costs several parse attempts per timestamp; runs carry
/// several timestamps each). Anything else returns `None` and takes the general path.
fn num(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// The compact UTC time that leads a `dotted_order` segment, `20261002T222613647821Z`, in
/// µs since the epoch.
pub fn parse_compact_micros(b: &[u8]) -> Option<i64> {
    if b.len() < 22 || b[8] != b'T' || b[21] != b'Z' {
        return None;
    }
    let date =
        chrono::NaiveDate::from_ymd_opt(num(&b[0..4])? as i32, num(&b[4..6])?, num(&b[6..8])?)?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        num(&b[9..11])?,
        num(&b[11..13])?,
        num(&b[13..15])?,
        num(&b[15..21])?,
    )?;
    Some(date.and_time(time).and_utc().timestamp_micros())
}

fn parse_iso_fast(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date =
        chrono::NaiveDate::from_ymd_opt(num(&b[0..4])? as i32, num(&b[5..7])?, num(&b[8..10])?)?;
    let (h, m, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some((b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(&frac[..digits])? * 10u32.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let v = i64::from(num(&[*hh1, *hh2])? * 3600 + num(&[*mm1, *mm2])? * 60);
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let time = chrono::NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?;
    let utc = date.and_time(time).and_utc() - chrono::TimeDelta::seconds(offset_secs);
    Some(utc)
}

/// LangSmith v1's wire format: naive UTC with exactly six fractional digits.
pub fn format_naive_micros(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_micros()
    )
}

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_timestamp(s).map(Timestamp).ok_or_else(|| {
            format!("not a timestamp: {s:?} (expected ISO-8601, e.g. 2026-01-05T16:46:01Z)")
        })
    }
}

impl Timestamp {
    /// An epoch number as the SDKs send it (the JS SDK's `start_time: number`): seconds,
    /// milliseconds or microseconds, told apart by size (1e11 seconds is the year 5138).
    pub fn from_epoch(n: f64) -> Option<Timestamp> {
        let micros = match n.abs() {
            a if a >= 1e14 => n,
            a if a >= 1e11 => n * 1e3,
            _ => n * 1e6,
        };
        micros
            .is_finite()
            .then(|| DateTime::from_timestamp_micros(micros.round() as i64))
            .flatten()
            .map(Timestamp)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an ISO-8601 timestamp or epoch seconds/milliseconds")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Timestamp, E> {
                self.visit_f64(n as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Timestamp, E> {
                self.visit_f64(n as f64)
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Timestamp, E> {
                Timestamp::from_epoch(n).ok_or_else(|| {
                    E::custom(format!(
                        "{n} is not a time as epoch seconds or milliseconds"
                    ))
                })
            }
        }
        d.deserialize_any(Visit)
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
    fn epoch_numbers_as_the_sdks_send_them() {
        let want: DateTime<Utc> = "2026-02-18T09:00:01.990Z".parse().unwrap();
        for json in ["1771405201990", "1771405201.99", "1771405201990000"] {
            let t: Timestamp = serde_json::from_str(json).unwrap();
            assert_eq!(t.0, want, "{json}");
        }
        let t: Timestamp = serde_json::from_str("\"2026-02-18T09:00:01.990Z\"").unwrap();
        assert_eq!(t.0, want);
        assert!(serde_json::from_str::<Timestamp>("true").is_err());
        assert!(serde_json::from_str::<Timestamp>("1e300").is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for s in [
            "2026-01-05T16:46:01.068924",
            "2026-01-05T16:46:01",
            "2026-01-05T16:46:01.5Z",
            "2026-01-05T16:46:01.068924+02:00",
            "2026-01-05T16:46:01.123456789-05:30",
            "1999-12-31T23:59:59.999999Z",
        ] {
            let fast = parse_iso_fast(s.as_bytes()).unwrap();
            let slow = DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
                })
                .unwrap();
            assert_eq!(fast, slow, "{s}");
            assert_eq!(
                format_naive_micros(&fast),
                fast.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
            );
        }
        for bad in [
            "2026-13-05T16:46:01",
            "2026-01-05T25:00:00",
            "2026-01-05 16:46:01",
            "2026-01-05T16:46:01.",
            "2026-01-05T16:46:01+0200",
        ] {
            assert!(parse_iso_fast(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(
            parse_timestamp("2026-01-05 16:46:01").is_some(),
            "other shapes still parse"
        );
    }

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
