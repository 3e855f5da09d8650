//! Sealed values: commitments to personal data that can later be erased.
//!
//! The signer replaces a sensitive value with `{"sealed": base64(SHA-256(salt || JCS(value)))}`,
//! where `salt` is 16 random bytes, and keeps `{commitment, salt, value}` in a vault outside the
//! signed bytes. Erasing the vault row leaves every signature, leaf and proof valid; while the row
//! exists, anyone can check it against the commitment. The salt stops anyone from confirming a
//! guess (an ID number, a diagnosis) against the commitment alone.

use crate::Hash;
use crate::jcs::{self, JcsError};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Bytes of salt; callers draw them from a cryptographic random source.
pub const SALT_LEN: usize = 16;

/// The commitment that stands in the log in place of a sensitive value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Commitment(pub Hash);

impl Commitment {
    /// The JSON that stands in `args` and payloads: `{"sealed": "<base64>"}`.
    pub fn to_json(&self) -> Value {
        json!({ "sealed": self.0.to_base64() })
    }

    /// Recognises a sealed object: exactly one field, `sealed`, holding base64 of 32 bytes.
    pub fn from_json(v: &Value) -> Option<Commitment> {
        let o = v.as_object()?;
        if o.len() != 1 {
            return None;
        }
        Hash::from_base64(o.get("sealed")?.as_str()?).map(Commitment)
    }
}

/// Seals `value` with `salt`.
pub fn seal(value: &Value, salt: &[u8; SALT_LEN]) -> Result<Commitment, JcsError> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(jcs::to_vec(value)?);
    Ok(Commitment(Hash(h.finalize().into())))
}

/// True when `value` with `salt` opens `commitment`.
pub fn opens(commitment: &Commitment, salt: &[u8; SALT_LEN], value: &Value) -> bool {
    seal(value, salt).is_ok_and(|c| c == *commitment)
}

/// A vault row: the cleartext behind one commitment.
#[derive(Clone, PartialEq, Debug)]
pub struct Opening {
    pub commitment: Commitment,
    pub salt: [u8; SALT_LEN],
    pub value: Value,
}

impl Opening {
    pub fn new(value: Value, salt: [u8; SALT_LEN]) -> Result<Opening, JcsError> {
        Ok(Opening {
            commitment: seal(&value, &salt)?,
            salt,
            value,
        })
    }

    /// True when the row's value and salt really open its commitment.
    pub fn is_valid(&self) -> bool {
        opens(&self.commitment, &self.salt, &self.value)
    }

    /// The vault line: `{"commitment", "salt", "value"}`, commitment and salt in base64.
    pub fn to_json(&self) -> Value {
        json!({
            "commitment": self.commitment.0.to_base64(),
            "salt": crate::b64::encode(self.salt),
            "value": self.value,
        })
    }

    pub fn from_json(v: &Value) -> Option<Opening> {
        let o: &Map<String, Value> = v.as_object()?;
        if o.len() != 3 {
            return None;
        }
        Some(Opening {
            commitment: Commitment(Hash::from_base64(o.get("commitment")?.as_str()?)?),
            salt: crate::b64::decode_array(o.get("salt")?.as_str()?)?,
            value: o.get("value")?.clone(),
        })
    }
}

/// Every commitment found anywhere inside a JSON value (args or payloads), in document order.
pub fn commitments_in(v: &Value, out: &mut Vec<Commitment>) {
    if let Some(c) = Commitment::from_json(v) {
        out.push(c);
        return;
    }
    match v {
        Value::Array(items) => items.iter().for_each(|i| commitments_in(i, out)),
        Value::Object(o) => o.values().for_each(|i| commitments_in(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse() {
        let v = json!({"diagnosis": "尿毒症", "since": 2014});
        let salt = [9u8; SALT_LEN];
        let o = Opening::new(v.clone(), salt).unwrap();
        assert!(o.is_valid());
        assert!(!opens(&o.commitment, &[8u8; SALT_LEN], &v), "other salt");
        assert!(!opens(
            &o.commitment,
            &salt,
            &json!({"diagnosis": "尿毒症", "since": 2015})
        ));
        // Key order does not matter: the commitment is over the canonical form.
        let reordered = jcs::parse(r#"{"since":2014,"diagnosis":"尿毒症"}"#.as_bytes()).unwrap();
        assert!(opens(&o.commitment, &salt, &reordered));
        let back = Opening::from_json(&o.to_json()).unwrap();
        assert_eq!(back, o);
        let mut found = Vec::new();
        commitments_in(&json!({"a": [1, o.commitment.to_json()]}), &mut found);
        assert_eq!(found, vec![o.commitment]);
    }

    #[test]
    fn known_answers_from_python_hashlib() {
        // base64(hashlib.sha256(salt + jcs_bytes).digest()), computed with Python 3.11.
        let c = seal(&json!("x"), &[0u8; SALT_LEN]).unwrap();
        assert_eq!(
            c.0.to_base64(),
            "PurDB0Hn/6sU7rrC6Gb+ZW5wJ9fl/tMXAaWjQnKP8G0="
        );
        let c = seal(
            &json!({"since": 2014, "diagnosis": "尿毒症"}),
            &[9u8; SALT_LEN],
        )
        .unwrap();
        assert_eq!(
            c.0.to_base64(),
            "jcavGF+4YOlrHanaEetxlIEizNrGKHEhmTpXSqgFImw="
        );
    }
}
