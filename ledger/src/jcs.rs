//! RFC 8785 JSON Canonicalization Scheme (JCS), restricted to the I-JSON subset the ledger allows.
//!
//! The parser is strict on purpose: every JSON text the ledger hashes or signs must have exactly one
//! meaning. It refuses floating-point numbers (any fraction or exponent, even `1.0`), integers beyond
//! ±(2^53 − 1), strings not in Unicode NFC (keys included), duplicate keys, lone surrogates, invalid
//! UTF-8 and nesting deeper than [`MAX_DEPTH`]. The serializer writes RFC 8785 form: no whitespace,
//! object members sorted by the UTF-16 code units of their keys, minimal string escapes.

use serde_json::{Map, Number, Value};
use std::fmt;
use std::io::Write as _;
use unicode_normalization::is_nfc;

/// The largest integer magnitude allowed: 2^53 − 1 (I-JSON, RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Nesting limit for arrays and objects; deep enough for any statement, shallow enough that a
/// hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Why a JSON text or value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JcsErrorKind {
    /// Not JSON at all (with what was expected).
    Syntax(&'static str),
    /// The bytes are not UTF-8.
    InvalidUtf8,
    /// A number with a fraction or exponent; money is integer fen, counts are integers.
    Float,
    /// An integer beyond ±(2^53 − 1).
    IntegerOutOfRange,
    /// A string (or key) not in Unicode Normalization Form C.
    NotNfc,
    /// The same key twice in one object.
    DuplicateKey(String),
    /// A `\u` escape that is an unpaired UTF-16 surrogate.
    LoneSurrogate,
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Valid JSON, but not byte-for-byte in canonical form where canonical form is required.
    NotCanonical,
}

/// A refused JSON text: what was wrong and where (byte offset into the input; 0 for values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JcsError {
    pub kind: JcsErrorKind,
    pub offset: usize,
}

impl fmt::Display for JcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            JcsErrorKind::Syntax(what) => write!(f, "not valid JSON: {what}"),
            JcsErrorKind::InvalidUtf8 => {
                write!(f, "not valid UTF-8; send JSON text encoded as UTF-8")
            }
            JcsErrorKind::Float => write!(
                f,
                "a number with a fraction or exponent; use whole numbers (money in integer fen)"
            ),
            JcsErrorKind::IntegerOutOfRange => {
                write!(
                    f,
                    "an integer beyond ±(2^53 − 1); such numbers are not allowed"
                )
            }
            JcsErrorKind::NotNfc => write!(
                f,
                "a string not in Unicode NFC; normalise text to NFC before signing"
            ),
            JcsErrorKind::DuplicateKey(k) => write!(f, "the key {k:?} appears twice in one object"),
            JcsErrorKind::LoneSurrogate => write!(f, "a \\u escape that is an unpaired surrogate"),
            JcsErrorKind::TooDeep => write!(f, "nested deeper than {MAX_DEPTH} levels"),
            JcsErrorKind::NotCanonical => write!(
                f,
                "not in RFC 8785 canonical form (JCS): re-serialise with a JCS library"
            ),
        }?;
        if self.offset > 0 {
            write!(f, " (at byte {})", self.offset)?;
        }
        Ok(())
    }
}

impl std::error::Error for JcsError {}

fn err<T>(kind: JcsErrorKind, offset: usize) -> Result<T, JcsError> {
    Err(JcsError { kind, offset })
}

/// Parses one JSON text under the ledger's strict rules.
pub fn parse(input: &[u8]) -> Result<Value, JcsError> {
    let text = std::str::from_utf8(input).map_err(|e| JcsError {
        kind: JcsErrorKind::InvalidUtf8,
        offset: e.valid_up_to(),
    })?;
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return err(JcsErrorKind::Syntax("text after the end of the value"), p.i);
    }
    Ok(v)
}

/// Parses `input` and requires it to be exactly the canonical form of its value.
pub fn parse_canonical(input: &[u8]) -> Result<Value, JcsError> {
    let v = parse(input)?;
    let canon = to_vec(&v)?;
    if canon != input {
        let at = canon
            .iter()
            .zip(input)
            .position(|(a, b)| a != b)
            .unwrap_or(canon.len().min(input.len()));
        return err(JcsErrorKind::NotCanonical, at);
    }
    Ok(v)
}

/// Parses a JSON text and returns its canonical bytes.
pub fn canonicalize(input: &[u8]) -> Result<Vec<u8>, JcsError> {
    to_vec(&parse(input)?)
}

/// Serializes a value in canonical form, checking the same rules as [`parse`] (a value built in
/// code could hold a float or an un-normalised string).
pub fn to_vec(v: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write_value(v, &mut out, 0)?;
    Ok(out)
}

fn write_value(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), JcsError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return err(JcsErrorKind::TooDeep, 0);
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return err(JcsErrorKind::TooDeep, 0);
            }
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: sort by UTF-16 code units, not by UTF-8 bytes or code points.
            // For ASCII keys, the usual case, that is the byte order.
            members.sort_by(|a, b| {
                if a.0.is_ascii() && b.0.is_ascii() {
                    a.0.cmp(b.0)
                } else {
                    a.0.encode_utf16().cmp(b.0.encode_utf16())
                }
            });
            out.push(b'{');
            for (i, (k, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out)?;
                out.push(b':');
                write_value(item, out, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &Number, out: &mut Vec<u8>) -> Result<(), JcsError> {
    let i = if let Some(i) = n.as_i64() {
        i
    } else if n.is_u64() {
        return err(JcsErrorKind::IntegerOutOfRange, 0);
    } else {
        return err(JcsErrorKind::Float, 0);
    };
    if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
        return err(JcsErrorKind::IntegerOutOfRange, 0);
    }
    // For integers in the safe range, ECMAScript's Number-to-String is plain decimal.
    let _ = write!(out, "{i}"); // writing to a Vec cannot fail
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) -> Result<(), JcsError> {
    if !nfc(s) {
        return err(JcsErrorKind::NotNfc, 0);
    }
    out.push(b'"');
    // Copy runs that need no escaping whole: the bytes of a run are valid UTF-8 already.
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        if escaped.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escaped);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
    Ok(())
}

/// Whether a string is in Unicode Normalization Form C. ASCII always is, and nearly every string
/// in a log is ASCII, so it skips the table lookups.
fn nfc(s: &str) -> bool {
    s.is_ascii() || is_nfc(s)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), JcsError> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            err(JcsErrorKind::Syntax(what), self.i)
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JcsError> {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => err(JcsErrorKind::Syntax("expected a value"), self.i),
            None => err(JcsErrorKind::Syntax("unexpected end of input"), self.i),
        }
    }

    fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, JcsError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            err(JcsErrorKind::Syntax("expected true, false or null"), self.i)
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JcsError> {
        if depth >= MAX_DEPTH {
            return err(JcsErrorKind::TooDeep, self.i);
        }
        self.i += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return err(JcsErrorKind::Syntax("expected a string key"), self.i);
            }
            let at = self.i;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':', "expected ':' after a key")?;
            self.skip_ws();
            let v = self.value(depth + 1)?;
            if map.contains_key(&key) {
                return err(JcsErrorKind::DuplicateKey(key), at);
            }
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                _ => return err(JcsErrorKind::Syntax("expected ',' or '}'"), self.i),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JcsError> {
        if depth >= MAX_DEPTH {
            return err(JcsErrorKind::TooDeep, self.i);
        }
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return err(JcsErrorKind::Syntax("expected ',' or ']'"), self.i),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JcsError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            _ => return err(JcsErrorKind::Syntax("expected a digit"), self.i),
        }
        let int_end = self.i;
        // Grammar of the fraction and exponent is checked so that "1." is a syntax error, not a
        // float refusal; either one present makes the number a float.
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digits()?;
            float = true;
        }
        if float {
            return err(JcsErrorKind::Float, start);
        }
        // More than 16 digits cannot be within 2^53 − 1 (16 digits); avoid overflow in parsing.
        if int_end - digits > 16 {
            return err(JcsErrorKind::IntegerOutOfRange, start);
        }
        let n: i64 = self.text[start..int_end].parse().map_err(|_| JcsError {
            kind: JcsErrorKind::Syntax("bad integer"),
            offset: start,
        })?;
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n) {
            return err(JcsErrorKind::IntegerOutOfRange, start);
        }
        Ok(Value::Number(n.into()))
    }

    fn digits(&mut self) -> Result<(), JcsError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return err(JcsErrorKind::Syntax("expected a digit"), self.i);
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String, JcsError> {
        let start = self.i;
        self.i += 1; // opening quote
        let mut out = String::with_capacity(16);
        loop {
            let run = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input is valid UTF-8 and we stopped only at ASCII bytes, so this slice is whole.
            out.push_str(&self.text[run..self.i]);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    return err(
                        JcsErrorKind::Syntax("a control character inside a string must be escaped"),
                        self.i,
                    );
                }
                None => return err(JcsErrorKind::Syntax("unterminated string"), start),
            }
        }
        if !nfc(&out) {
            return err(JcsErrorKind::NotNfc, start);
        }
        Ok(out)
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JcsError> {
        let at = self.i;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.i += 1;
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if !self.s[self.i..].starts_with(b"\\u") {
                        return err(JcsErrorKind::LoneSurrogate, at);
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return err(JcsErrorKind::LoneSurrogate, at);
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return err(JcsErrorKind::LoneSurrogate, at);
                } else {
                    hi
                };
                // Surrogates were excluded above, so every remaining code is a char.
                out.push(char::from_u32(code).ok_or(JcsError {
                    kind: JcsErrorKind::LoneSurrogate,
                    offset: at,
                })?);
                return Ok(());
            }
            _ => return err(JcsErrorKind::Syntax("unknown escape"), at),
        };
        self.i += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, JcsError> {
        let Some(h) = self.s.get(self.i..self.i + 4) else {
            return err(JcsErrorKind::Syntax("expected four hex digits"), self.i);
        };
        let mut v = 0u32;
        for &b in h {
            let d = (b as char).to_digit(16).ok_or(JcsError {
                kind: JcsErrorKind::Syntax("expected four hex digits"),
                offset: self.i,
            })?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> JcsErrorKind {
        parse(s.as_bytes()).unwrap_err().kind
    }

    #[test]
    fn refuses_what_the_format_forbids() {
        assert_eq!(kind("1.0"), JcsErrorKind::Float);
        assert_eq!(kind("1e3"), JcsErrorKind::Float);
        assert_eq!(kind("[-0.5]"), JcsErrorKind::Float);
        assert_eq!(kind("9007199254740992"), JcsErrorKind::IntegerOutOfRange);
        assert_eq!(kind("-9007199254740992"), JcsErrorKind::IntegerOutOfRange);
        assert_eq!(
            kind("123456789012345678901234"),
            JcsErrorKind::IntegerOutOfRange
        );
        assert_eq!(
            kind(r#"{"a":1,"a":2}"#),
            JcsErrorKind::DuplicateKey("a".into())
        );
        assert_eq!(kind("\"A\u{30a}\""), JcsErrorKind::NotNfc);
        assert_eq!(kind(r#"{"A\u030a":1}"#), JcsErrorKind::NotNfc);
        assert_eq!(kind(r#""\ud800""#), JcsErrorKind::LoneSurrogate);
        assert_eq!(kind(r#""\udc00\ud800""#), JcsErrorKind::LoneSurrogate);
        assert_eq!(kind(&"[".repeat(MAX_DEPTH + 1)), JcsErrorKind::TooDeep);
        assert!(matches!(kind("01"), JcsErrorKind::Syntax(_)));
        assert!(matches!(kind("1."), JcsErrorKind::Syntax(_)));
        assert!(matches!(kind("\"a\nb\""), JcsErrorKind::Syntax(_)));
        assert!(matches!(kind("{} x"), JcsErrorKind::Syntax(_)));
        assert!(matches!(kind("[1,]"), JcsErrorKind::Syntax(_)));
        assert!(matches!(kind("\u{feff}{}"), JcsErrorKind::Syntax(_)));
        assert_eq!(
            parse(b"\"\xff\"").unwrap_err().kind,
            JcsErrorKind::InvalidUtf8
        );
    }

    #[test]
    fn limits_are_inclusive() {
        assert_eq!(
            canonicalize(b"9007199254740991").unwrap(),
            b"9007199254740991"
        );
        assert_eq!(
            canonicalize(b"-9007199254740991").unwrap(),
            b"-9007199254740991"
        );
        assert_eq!(canonicalize(b"-0").unwrap(), b"0");
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // U+FF21 sorts after U+1D11E in UTF-16 (0xD834 < 0xFF21) but before it in UTF-8.
        let c = canonicalize("{\"\u{ff21}\":1,\"\u{1d11e}\":2,\"a\":3}".as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(c).unwrap(),
            "{\"a\":3,\"\u{1d11e}\":2,\"\u{ff21}\":1}"
        );
    }

    #[test]
    fn escapes_minimally() {
        let c = canonicalize(br#""\u0041\/\u001f\u007f\b\"""#).unwrap();
        assert_eq!(c, b"\"A/\\u001f\x7f\\b\\\"\"");
    }

    #[test]
    fn canonical_form_is_required_where_asked() {
        assert!(parse_canonical(br#"{"a":1,"b":[true,null]}"#).is_ok());
        assert_eq!(
            parse_canonical(br#"{"b":1,"a":2}"#).unwrap_err().kind,
            JcsErrorKind::NotCanonical
        );
        assert_eq!(
            parse_canonical(br#"{"a": 1}"#).unwrap_err().kind,
            JcsErrorKind::NotCanonical
        );
    }

    #[test]
    fn values_built_in_code_are_checked_too() {
        assert_eq!(
            to_vec(&serde_json::json!({"x": 1.5})).unwrap_err().kind,
            JcsErrorKind::Float
        );
        assert_eq!(
            to_vec(&serde_json::json!(u64::MAX)).unwrap_err().kind,
            JcsErrorKind::IntegerOutOfRange
        );
        assert_eq!(
            to_vec(&serde_json::json!("e\u{301}")).unwrap_err().kind,
            JcsErrorKind::NotNfc
        );
    }
}
