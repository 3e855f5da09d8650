//! Fields that must arrive sealed: the signer commits to them (see `bangfu_ledger::seal`) and the
//! cleartext goes to the vault. A command that carries such a field in clear is refused, so personal
//! data never enters the log.

use bangfu_ledger::seal::Commitment;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A sealed value: `{"sealed": "<base64 of 32 bytes>"}` and nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Sealed(pub Commitment);

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Commitment::from_json(&v).map(Sealed).ok_or_else(|| {
            serde::de::Error::custom(
                "this field holds personal data and must be sealed on the client as \
                 {\"sealed\": base64(SHA-256(salt || JCS(value)))}, never sent in clear / \
                 个人敏感信息必须在客户端密封后提交，不得明文上链",
            )
        })
    }
}
