//! Base64 as the format uses it: RFC 4648 §4, standard alphabet, with padding, and strict decoding
//! (no whitespace, no missing padding, no non-zero trailing bits), so each value has one spelling.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use base64::DecodeError;

pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

pub fn decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    STANDARD.decode(s)
}

/// Decodes exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_value() {
        assert_eq!(decode("AQ==").unwrap(), vec![1]);
        assert!(decode("AQ").is_err(), "missing padding");
        assert!(decode("AR==").is_err(), "non-zero trailing bits");
        assert!(decode("A Q==").is_err(), "whitespace");
        assert!(decode("_w==").is_err(), "URL-safe alphabet");
    }
}
