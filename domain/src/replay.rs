//! Replaying the domain over a log: the verifier's [`Authorizer`]. For each entry it checks that the
//! statement id is new, that the key was registered, unrevoked and allowed the command at that
//! point, and that the entry's events are exactly what the domain produces for the statement.

use crate::decide::{AnyAggregate, authorize};
use crate::registry::Registry;
use bangfu_ledger::entry::Entry;
use bangfu_ledger::verify::Authorizer;
use std::collections::{HashMap, HashSet};

/// Keeps the registry and every aggregate's state while the verifier walks the log.
#[derive(Default)]
pub struct Replayer {
    pub registry: Registry,
    aggregates: HashMap<(String, String), AnyAggregate>,
    /// Every statement id so far, as its 128 bits.
    seen: HashSet<u128>,
}

impl Replayer {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Authorizer for Replayer {
    fn authorize(&mut self, entry: &Entry) -> Result<(), String> {
        let statement = &entry.statement;
        if !self.seen.insert(statement.body.id.as_u128()) {
            return Err(format!(
                "statement id {} was used by an earlier entry (a replayed statement)",
                statement.body.id
            ));
        }
        let ctx = authorize(statement, entry.index, entry.recorded_at, &self.registry)
            .map_err(|e| format!("refused: {e}"))?;
        let target = &statement.body.target;
        let key = (
            target.aggregate_type().to_owned(),
            target.aggregate_id().to_owned(),
        );
        let aggregate = match self.aggregates.get_mut(&key) {
            Some(a) => a,
            None => self
                .aggregates
                .entry(key)
                .or_insert(AnyAggregate::new(target.aggregate_type()).map_err(|e| e.to_string())?),
        };
        let expected = aggregate
            .handle(ctx, statement, &self.registry)
            .map_err(|e| format!("the domain refuses this statement: {e}"))?;
        if expected != entry.events {
            return Err(format!(
                "the entry's events are not what its statement produces (expected {} event(s): {})",
                expected.len(),
                expected
                    .iter()
                    .map(|e| format!("{}#{}", e.event_type, e.sequence))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for e in &expected {
            self.registry.apply(e).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
