//! What every command carries besides its own fields: who signed it, in what role, and when the log
//! recorded it. The domain is pure, so "now" is the entry's `recorded_at`, never a clock.

use crate::date::Date;
use crate::ids::{CadreId, HouseholdId, PersonId};
use crate::role::Role;
use bangfu_ledger::signature::PublicKey;
use bangfu_ledger::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// A public key in JSON: base64 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key(pub PublicKey);

impl Key {
    pub fn to_base64(&self) -> String {
        self.0.to_base64()
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_base64())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_base64(&s)
            .map(Key)
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_base64())
    }
}

/// Whose key it is: `cadre/<id>`, `household/<id>` or `person/<id>` (coordinators, inspectors, …).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Holder {
    Cadre(CadreId),
    Household(HouseholdId),
    Person(PersonId),
}

impl TryFrom<String> for Holder {
    type Error = String;
    fn try_from(s: String) -> Result<Holder, String> {
        match s.split_once('/') {
            Some(("cadre", id)) => CadreId::new(id).map(Holder::Cadre),
            Some(("household", id)) => HouseholdId::new(id).map(Holder::Household),
            Some(("person", id)) => PersonId::new(id).map(Holder::Person),
            _ => Err(format!(
                "{s:?} is not a key holder: write cadre/<id>, household/<id> or person/<id>"
            )),
        }
    }
}

impl From<Holder> for String {
    fn from(h: Holder) -> String {
        h.to_string()
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Cadre(id) => write!(f, "cadre/{id}"),
            Holder::Household(id) => write!(f, "household/{id}"),
            Holder::Person(id) => write!(f, "person/{id}"),
        }
    }
}

/// The circumstances of one command.
#[derive(Clone, Debug, PartialEq)]
pub struct Ctx {
    /// The index the entry will have in the log.
    pub index: u64,
    /// The id of the target aggregate (the part of `target` after the `/`).
    pub aggregate_id: String,
    pub signer: Key,
    /// The signer's registration; `None` only for the genesis, which registers itself.
    pub holder: Option<Holder>,
    pub roles: BTreeSet<Role>,
    /// When the log recorded the statement.
    pub recorded_at: Timestamp,
    /// When the signer says they signed it.
    pub signed_at: Timestamp,
}

impl Ctx {
    /// Today in China Standard Time, as the log sees it.
    pub fn today(&self) -> Date {
        Date::in_china(self.recorded_at)
    }

    /// The target's id as a typed id.
    pub fn id<T: TryFrom<String, Error = String>>(&self) -> Result<T, crate::error::DomainError> {
        T::try_from(self.aggregate_id.clone()).map_err(|reason| {
            crate::error::DomainError::BadArgs {
                command: "target".into(),
                reason,
            }
        })
    }

    /// The cadre who signed, if a cadre signed.
    pub fn cadre(&self) -> Option<&CadreId> {
        match &self.holder {
            Some(Holder::Cadre(c)) => Some(c),
            _ => None,
        }
    }
}

/// A command as an aggregate receives it: the circumstances and the typed arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Command<C> {
    pub ctx: Ctx,
    pub body: C,
}
