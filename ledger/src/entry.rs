//! Entries: what the log holds. Entry `i` is the JCS serialization of
//! `{index, prev_root, recorded_at, statement, events}`; its Merkle leaf is SHA-256(0x00 || bytes).

use crate::Hash;
use crate::jcs::{self, JcsError};
use crate::merkle::leaf_hash;
use crate::statement::{Statement, StatementError, exact_fields, is_aggregate_id, str_field};
use crate::time::Timestamp;
use serde_json::{Map, Value, json};

/// One domain event produced by the entry's statement.
#[derive(Clone, PartialEq, Debug)]
pub struct Event {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Position in the aggregate's own stream: 1-based, no gaps.
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Map<String, Value>,
}

impl Event {
    pub fn to_json(&self) -> Value {
        json!({
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "sequence": self.sequence,
            "event_type": self.event_type,
            "event_version": self.event_version,
            "payload": Value::Object(self.payload.clone()),
        })
    }

    pub fn from_json(v: &Value) -> Result<Event, StatementError> {
        let o = exact_fields(
            v,
            "event",
            &[
                "aggregate_type",
                "aggregate_id",
                "sequence",
                "event_type",
                "event_version",
                "payload",
            ],
        )?;
        let aggregate_type = str_field(o, "event", "aggregate_type")?;
        let aggregate_id = str_field(o, "event", "aggregate_id")?;
        let event_type = str_field(o, "event", "event_type")?;
        let event_version = str_field(o, "event", "event_version")?;
        if !crate::statement::is_type_name(aggregate_type) || !is_aggregate_id(aggregate_id) {
            return Err(StatementError::BadTarget(format!(
                "{aggregate_type}/{aggregate_id}"
            )));
        }
        if !is_identifier(event_type) {
            return Err(StatementError::WrongType(
                "event.event_type".into(),
                "an identifier (letters, digits, _; starting with a letter)",
            ));
        }
        if event_version.is_empty() || event_version.len() > 16 {
            return Err(StatementError::WrongType(
                "event.event_version".into(),
                "a version string of 1–16 characters",
            ));
        }
        let sequence = o["sequence"]
            .as_u64()
            .filter(|s| *s >= 1)
            .ok_or_else(|| StatementError::WrongType("event.sequence".into(), "an integer ≥ 1"))?;
        let Value::Object(payload) = &o["payload"] else {
            return Err(StatementError::WrongType(
                "event.payload".into(),
                "an object",
            ));
        };
        Ok(Event {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            sequence,
            event_type: event_type.to_owned(),
            event_version: event_version.to_owned(),
            payload: payload.clone(),
        })
    }
}

fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// One log entry.
#[derive(Clone, PartialEq, Debug)]
pub struct Entry {
    pub index: u64,
    /// Root of entries `0..index`.
    pub prev_root: Hash,
    pub recorded_at: Timestamp,
    pub statement: Statement,
    pub events: Vec<Event>,
}

impl Entry {
    pub fn to_json(&self) -> Value {
        json!({
            "index": self.index,
            "prev_root": self.prev_root.to_base64(),
            "recorded_at": self.recorded_at.to_string(),
            "statement": self.statement.to_json(),
            "events": self.events.iter().map(Event::to_json).collect::<Vec<_>>(),
        })
    }

    /// The entry's bytes: its JCS form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, JcsError> {
        jcs::to_vec(&self.to_json())
    }

    /// Parses an entry that must already be in canonical form (as stored and exported).
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, StatementError> {
        let v = jcs::parse_canonical(bytes).map_err(StatementError::Json)?;
        Entry::from_value(&v, Statement::from_jcs_input)
    }

    pub fn from_json(v: &Value) -> Result<Entry, StatementError> {
        Entry::from_value(v, Statement::from_json)
    }

    fn from_value(
        v: &Value,
        statement_from: fn(&Value) -> Result<Statement, StatementError>,
    ) -> Result<Entry, StatementError> {
        let o = exact_fields(
            v,
            "entry",
            &["index", "prev_root", "recorded_at", "statement", "events"],
        )?;
        let index = o["index"]
            .as_u64()
            .ok_or_else(|| StatementError::WrongType("entry.index".into(), "an integer ≥ 0"))?;
        let prev_root =
            Hash::from_base64(str_field(o, "entry", "prev_root")?).ok_or_else(|| {
                StatementError::WrongType(
                    "entry.prev_root".into(),
                    "standard base64 of a 32-byte hash",
                )
            })?;
        let recorded_at = Timestamp::parse(str_field(o, "entry", "recorded_at")?)
            .map_err(StatementError::BadTimestamp)?;
        let statement = statement_from(&o["statement"])?;
        let Value::Array(events) = &o["events"] else {
            return Err(StatementError::WrongType("entry.events".into(), "an array"));
        };
        let events = events
            .iter()
            .map(Event::from_json)
            .collect::<Result<_, _>>()?;
        Ok(Entry {
            index,
            prev_root,
            recorded_at,
            statement,
            events,
        })
    }

    /// The Merkle leaf hash of this entry.
    pub fn leaf_hash(&self) -> Result<Hash, JcsError> {
        Ok(leaf_hash(&self.to_bytes()?))
    }
}
