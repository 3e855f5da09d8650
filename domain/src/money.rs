//! Money: integer fen (分, 1/100 yuan), never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest amount the format can carry: 2^53 − 1 fen.
pub const MAX_FEN: i64 = (1 << 53) - 1;

/// A positive amount of money in fen: at least 1 fen and at most 2^53 − 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Fen(i64);

impl Fen {
    pub fn new(fen: i64) -> Result<Fen, String> {
        if fen <= 0 {
            Err(format!(
                "金额必须大于零 / an amount must be more than zero fen (got {fen})"
            ))
        } else if fen > MAX_FEN {
            Err(format!(
                "金额过大 / an amount must be at most {MAX_FEN} fen (got {fen})"
            ))
        } else {
            Ok(Fen(fen))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Fen {
    type Error = String;
    fn try_from(v: i64) -> Result<Fen, String> {
        Fen::new(v)
    }
}

impl From<Fen> for i64 {
    fn from(f: Fen) -> i64 {
        f.0
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({})", self.0)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&yuan(self.0))
    }
}

/// Formats fen as yuan for people: `¥1,234.50`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}¥{grouped}.{:02}", abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_positive_and_bounded() {
        assert!(Fen::new(0).is_err());
        assert!(Fen::new(-1).is_err());
        assert!(Fen::new(MAX_FEN + 1).is_err());
        assert_eq!(Fen::new(MAX_FEN).unwrap().get(), MAX_FEN);
        assert!(serde_json::from_str::<Fen>("1.5").is_err());
        assert!(serde_json::from_str::<Fen>("0").is_err());
        assert_eq!(serde_json::from_str::<Fen>("150").unwrap().get(), 150);
    }

    #[test]
    fn yuan_for_people() {
        assert_eq!(yuan(123_456_750), "¥1,234,567.50");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(-2_700_000), "-¥27,000.00");
    }
}
