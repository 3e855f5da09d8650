//! Calendar dates and quarters. Programs run on China Standard Time (UTC+8, no daylight saving):
//! "today" for a statement is the date in Beijing of the moment the log recorded it.

use bangfu_ledger::time::{Timestamp, civil_from_days, days_from_civil, days_in_month};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

const CST_OFFSET_MS: i64 = 8 * 3_600_000;

impl Date {
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = b.get(r)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let bad =
            || format!("{s:?} is not a date of the form 2016-03-01 / 日期格式应为 2016-03-01");
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let (y, m, d) = (
            digits(0..4).ok_or_else(bad)?,
            digits(5..7).ok_or_else(bad)?,
            digits(8..10).ok_or_else(bad)?,
        );
        if y < 1 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return Err(bad());
        }
        Ok(Date {
            days: days_from_civil(y, m, d),
        })
    }

    pub fn from_ymd(y: i64, m: i64, d: i64) -> Result<Date, String> {
        Date::parse(&format!("{y:04}-{m:02}-{d:02}"))
    }

    /// The date in China Standard Time of an instant.
    pub fn in_china(t: Timestamp) -> Date {
        Date {
            days: (t.unix_millis() + CST_OFFSET_MS).div_euclid(86_400_000),
        }
    }

    pub fn ymd(self) -> (i64, i64, i64) {
        civil_from_days(self.days)
    }

    pub fn year(self) -> i64 {
        self.ymd().0
    }

    pub fn quarter(self) -> Quarter {
        let (y, m, _) = self.ymd();
        Quarter {
            year: y,
            q: ((m - 1) / 3 + 1) as u8,
        }
    }

    /// Days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.days - self.days
    }

    pub fn add_days(self, n: i64) -> Date {
        Date {
            days: self.days + n,
        }
    }
}

impl TryFrom<String> for Date {
    type Error = String;
    fn try_from(s: String) -> Result<Date, String> {
        Date::parse(&s)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.to_string()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

/// A calendar quarter: Q1 is January–March.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Quarter {
    pub year: i64,
    pub q: u8,
}

impl Quarter {
    pub fn first_day(self) -> Date {
        Date::from_ymd(self.year, i64::from(self.q) * 3 - 2, 1).expect("valid quarter")
    }

    pub fn last_day(self) -> Date {
        self.next().first_day().add_days(-1)
    }

    pub fn next(self) -> Quarter {
        if self.q == 4 {
            Quarter {
                year: self.year + 1,
                q: 1,
            }
        } else {
            Quarter {
                year: self.year,
                q: self.q + 1,
            }
        }
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-Q{}", self.year, self.q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_quarters_and_china_time() {
        let d = Date::parse("2016-03-31").unwrap();
        assert_eq!(d.quarter(), Quarter { year: 2016, q: 1 });
        assert_eq!(d.quarter().last_day(), d);
        assert_eq!(
            d.add_days(1).quarter().first_day(),
            Date::parse("2016-04-01").unwrap()
        );
        assert!(Date::parse("2016-02-30").is_err());
        assert!(Date::parse("2016-3-01").is_err());
        // 2016-03-31T16:30Z is already April 1st in Beijing.
        let t = Timestamp::parse("2016-03-31T16:30:00.000Z").unwrap();
        assert_eq!(Date::in_china(t), Date::parse("2016-04-01").unwrap());
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2016-03-31\"");
    }
}
