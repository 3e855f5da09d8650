//! cqrs-es over the bangfu log: a `PersistedEventRepository` whose storage is our log, so cqrs-es's
//! `PersistedEventStore::new_event_store` (the only store of cqrs-es 0.5.0 that does not apply
//! events twice) loads any aggregate from it, with upcasters.
//!
//! Events enter the log only as parts of signed entries through [`crate::log::Log::append`]:
//! `persist` refuses, because an event without the statement that produced it could not be
//! verified by anyone. Snapshots are not kept (aggregates are cached by the writer instead).

use crate::backend::{Backend, StoreError};
use bangfu_ledger::entry::Event;
use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// The log as cqrs-es storage.
pub struct LogRepository<B: Backend> {
    backend: Arc<B>,
}

impl<B: Backend> LogRepository<B> {
    pub fn new(backend: Arc<B>) -> Self {
        LogRepository { backend }
    }
}

/// An event as cqrs-es reads it: brought up to date by the domain's upcasters (which work on the
/// ledger's payload), then with the payload in the event enum's serde form
/// (`{"event_type", "payload"}`), which is what cqrs-es deserializes.
fn serialized(e: Event) -> SerializedEvent {
    let mut event = SerializedEvent {
        aggregate_id: e.aggregate_id,
        sequence: e.sequence as usize,
        aggregate_type: e.aggregate_type,
        event_type: e.event_type,
        event_version: e.event_version,
        payload: Value::Object(e.payload),
        metadata: json!({}),
    };
    for u in bangfu_domain::upcasters::for_aggregate(&event.aggregate_type) {
        if u.can_upcast(&event.event_type, &event.event_version) {
            event = u.upcast(event);
        }
    }
    event.payload = json!({"event_type": event.event_type, "payload": event.payload});
    event
}

fn persistence(e: StoreError) -> PersistenceError {
    match e {
        StoreError::Conflict(_) | StoreError::DuplicateStatement(_) => {
            PersistenceError::OptimisticLockError
        }
        StoreError::Unavailable(_) => PersistenceError::ConnectionError(Box::new(e)),
        StoreError::Corrupt(_) => PersistenceError::DeserializationError(Box::new(e)),
    }
}

#[derive(Debug)]
struct SignedPathOnly;

impl std::fmt::Display for SignedPathOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "events enter the bangfu log only with the signed statement that produced them: \
             submit a statement (Log::append) instead of persisting events"
        )
    }
}

impl std::error::Error for SignedPathOnly {}

impl<B: Backend> PersistedEventRepository for LogRepository<B> {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self
            .backend
            .aggregate_events(A::TYPE, aggregate_id)
            .await
            .map_err(persistence)?;
        Ok(events.into_iter().map(serialized).collect())
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        Ok(events
            .into_iter()
            .filter(|e| e.sequence > last_sequence)
            .collect())
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        _events: &[SerializedEvent],
        _snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        Err(PersistenceError::UnknownError(Box::new(SignedPathOnly)))
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for e in events {
            feed.push(Ok(e)).await?;
        }
        Ok(stream)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let backend = self.backend.clone();
        let (mut feed, stream) = ReplayStream::new(1000);
        // Streamed page by page in log order, so memory stays flat however long the log is.
        tokio::spawn(async move {
            let mut from = 0;
            loop {
                match backend.events_of_types(&[A::TYPE], from, 1000).await {
                    Ok(page) if page.is_empty() => break,
                    Ok(page) => {
                        from = page.last().map(|(i, _)| i + 1).unwrap_or(from);
                        for (_, e) in page {
                            if feed.push(Ok(serialized(e))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = feed.push(Err(persistence(e))).await;
                        break;
                    }
                }
            }
        });
        Ok(stream)
    }
}
