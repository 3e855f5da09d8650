//! Upcasters: old event shapes brought up to the current one before they are read. The log is
//! never rewritten; old entries keep their bytes and are read through these.
//!
//! - `CadreRegistered` 0.9 (before units were required) had `department` (a unit id) where 1.0 has
//!   `unit`, and no `party_member` (taken as true: the early programs paired party members only).

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde_json::Value;

/// The upcasters for an aggregate type's events (none for most).
pub fn for_aggregate(aggregate_type: &str) -> Vec<Box<dyn EventUpcaster>> {
    match aggregate_type {
        "cadre" => cadre(),
        _ => Vec::new(),
    }
}

pub fn cadre() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "CadreRegistered",
        "1.0",
        Box::new(|mut payload: Value| {
            if let Some(o) = payload.as_object_mut() {
                if let Some(unit) = o.remove("department") {
                    o.insert("unit".into(), unit);
                }
                o.entry("party_member").or_insert(Value::Bool(true));
            }
            payload
        }),
    ))]
}
