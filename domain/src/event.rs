//! Events as the ledger keeps them: `{aggregate_type, aggregate_id, sequence, event_type,
//! event_version, payload}`. Each aggregate's events are one enum, serialized adjacently tagged so
//! the variant name is the `event_type` and its fields are the `payload`. Old event shapes are
//! brought up to date by cqrs-es upcasters before they are deserialized.

use crate::error::DomainError;
use bangfu_ledger::entry::Event as LedgerEvent;
use cqrs_es::DomainEvent;
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Declares an aggregate's event enum: each variant wraps a struct of the same name, with its
/// current `event_version`.
#[macro_export]
macro_rules! events {
    ($(#[$doc:meta])* pub enum $name:ident { $($variant:ident = $version:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "event_type", content = "payload")]
        pub enum $name {
            $($variant($variant)),+
        }

        impl cqrs_es::DomainEvent for $name {
            fn event_type(&self) -> String {
                match self {
                    $($name::$variant(_) => stringify!($variant).to_owned()),+
                }
            }

            fn event_version(&self) -> String {
                match self {
                    $($name::$variant(_) => $version.to_owned()),+
                }
            }
        }
    };
}

/// Turns a domain event into the ledger's form.
pub fn to_ledger<E: DomainEvent + Serialize>(
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: u64,
    event: &E,
) -> LedgerEvent {
    let tagged = serde_json::to_value(event).expect("events serialize to JSON");
    let payload = match tagged.get("payload") {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    LedgerEvent {
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        sequence,
        event_type: event.event_type(),
        event_version: event.event_version(),
        payload,
    }
}

/// Reads a ledger event back into the domain's type, upcasting old versions first.
pub fn from_ledger<E: DeserializeOwned>(
    event: &LedgerEvent,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<E, DomainError> {
    let mut serialized = SerializedEvent {
        aggregate_id: event.aggregate_id.clone(),
        sequence: event.sequence as usize,
        aggregate_type: event.aggregate_type.clone(),
        event_type: event.event_type.clone(),
        event_version: event.event_version.clone(),
        payload: Value::Object(event.payload.clone()),
        metadata: Value::Null,
    };
    for u in upcasters {
        if u.can_upcast(&serialized.event_type, &serialized.event_version) {
            serialized = u.upcast(serialized);
        }
    }
    serde_json::from_value(json!({
        "event_type": serialized.event_type,
        "payload": serialized.payload,
    }))
    .map_err(|e| DomainError::BadArgs {
        command: format!("event {} v{}", event.event_type, event.event_version),
        reason: e.to_string(),
    })
}
