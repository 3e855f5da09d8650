//! Timestamps as the format writes them: RFC 3339 in UTC with exactly millisecond precision and a
//! `Z`, e.g. `2016-03-01T08:30:00.000Z`. One spelling per instant, so the same moment always hashes
//! the same. Leap seconds (`:60`) are not representable and are refused.

use std::fmt;

/// An instant, held as milliseconds since 1970-01-01T00:00:00.000Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Years 0001–9999, the range RFC 3339's four-digit year can spell.
const MIN_MILLIS: i64 = -62_135_596_800_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    pub fn from_unix_millis(ms: i64) -> Option<Timestamp> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&ms)
            .then_some(Timestamp(ms))
    }

    pub fn unix_millis(&self) -> i64 {
        self.0
    }

    /// Parses the one accepted spelling `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let b = s.as_bytes();
        if b.len() != 24
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[23] != b'Z'
        {
            return Err(TimestampError(s.chars().take(40).collect()));
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let part = &b[r];
            if part.iter().all(u8::is_ascii_digit) {
                Ok(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
            } else {
                Err(TimestampError(s.to_owned()))
            }
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
        if y < 1 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
            return Err(TimestampError(s.to_owned()));
        }
        if h > 23 || mi > 59 || sec > 59 {
            return Err(TimestampError(s.to_owned()));
        }
        let days = days_from_civil(y, mo, d);
        Ok(Timestamp(
            ((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms,
        ))
    }

    /// The calendar date (UTC) as `(year, month, day)`.
    pub fn date(&self) -> (i64, i64, i64) {
        civil_from_days(self.0.div_euclid(86_400_000))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d) = self.date();
        let in_day = self.0.rem_euclid(86_400_000);
        let (h, rest) = (in_day / 3_600_000, in_day % 3_600_000);
        let (mi, rest) = (rest / 60_000, rest % 60_000);
        let (s, ms) = (rest / 1000, rest % 1000);
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// The text is not a timestamp in the format's one spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(pub String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a timestamp of the form 2016-03-01T08:30:00.000Z (UTC, milliseconds, Z)",
            self.0
        )
    }
}

impl std::error::Error for TimestampError {}

pub fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_instants() {
        for s in [
            "1970-01-01T00:00:00.000Z",
            "2016-02-29T23:59:59.999Z",
            "2026-11-22T08:05:03.042Z",
            "0001-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(Timestamp::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            Timestamp::parse("2016-03-01T00:00:00.000Z")
                .unwrap()
                .unix_millis(),
            1_456_790_400_000
        );
    }

    #[test]
    fn refuses_other_spellings() {
        for s in [
            "2016-03-01T00:00:00Z",
            "2016-03-01T00:00:00.000+08:00",
            "2016-03-01t00:00:00.000z",
            "2016-03-01 00:00:00.000Z",
            "2015-02-29T00:00:00.000Z",
            "2016-13-01T00:00:00.000Z",
            "2016-12-31T23:59:60.000Z",
            "2016-03-01T24:00:00.000Z",
            "0000-03-01T00:00:00.000Z",
            "+016-03-01T00:00:00.000Z",
            "2016-03-01T00:00:00.0000Z",
            "２016-03-01T00:00:00.000Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }
}
