//! What a storage engine must do to hold a bangfu log. PostgreSQL ([`crate::postgres`]) and
//! embedded SQLite ([`crate::sqlite`]) implement it; the append path ([`crate::log`]) and the
//! conformance suite (`store/tests/`) are written against it once.
//!
//! The schema is the same on both (types differ):
//!
//! | table | holds | key |
//! |---|---|---|
//! | `entries` | `idx`, `statement_id`, target `aggregate_type`/`aggregate_id`, `signer` (base64 key), `recorded_at_ms`, `leaf` (32 bytes), `body` (the entry's exact JCS bytes) | `idx`; `statement_id` unique |
//! | `events` | `aggregate_type`, `aggregate_id`, `sequence`, `idx`, `event_type`, `event_version`, `payload` (JCS text) | (`aggregate_type`, `aggregate_id`, `sequence`): per-aggregate optimistic concurrency |
//! | `entry_households` | `household`, `idx`: which entries concern which household | (`household`, `idx`) |
//! | `tree_hashes` | `pos`, `hash`: every complete subtree hash at `merkle::stored_hash_index` | `pos` |
//! | `schema_migrations` | `version`, `applied_at` | `version` |
//!
//! Triggers refuse `UPDATE`, `DELETE` (and on PostgreSQL `TRUNCATE`) on the four log tables with an
//! error naming the rule. Tamper-evidence does not rest on them — the verifier catches what an
//! administrator does by hand — but a casual edit fails loudly.

use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event;
use bangfu_ledger::merkle::StoredHash;
use std::fmt;
use std::future::Future;

/// One schema migration: `sql` takes a store from `version - 1` to `version`. Never edit one that
/// has shipped: add the next.
pub struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// One entry, ready to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    pub index: u64,
    pub statement_id: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The signer's public key, base64.
    pub signer: String,
    pub recorded_at_ms: i64,
    pub leaf: Hash,
    /// The entry's JCS bytes, exactly as hashed.
    pub body: Vec<u8>,
    /// The entry's events (also inside `body`), stored again for lookups by aggregate.
    pub events: Vec<Event>,
    /// Households the entry concerns, for lookups by household.
    pub households: Vec<String>,
}

/// Entries appended together, in one transaction, with the Merkle hashes they complete.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// The log's size before this batch: the index of its first entry.
    pub first_index: u64,
    pub entries: Vec<NewEntry>,
    /// Every hash the entries add at `merkle::stored_hash_index` positions, in position order.
    pub hashes: Vec<StoredHash>,
}

/// A stored entry as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub index: u64,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Another writer got there first: the log grew past `first_index`, or an aggregate's next
    /// sequence number was taken. Nothing was written; reload and retry.
    Conflict(String),
    /// A statement with this id is already in the log.
    DuplicateStatement(String),
    /// The database could not be reached or failed; nothing may be assumed written unless a later
    /// read shows it.
    Unavailable(String),
    /// Stored data is not what the log wrote (a row missing, a hash of the wrong length, …).
    Corrupt(String),
}

impl StoreError {
    /// True for errors a caller may retry after reloading.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict(_) | StoreError::Unavailable(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict(why) => {
                write!(f, "写入冲突，请重试 / conflicting append, retry: {why}")
            }
            StoreError::DuplicateStatement(id) => write!(
                f,
                "指令编号 {id} 已在账本中 / statement id {id} is already in the log"
            ),
            StoreError::Unavailable(why) => {
                write!(f, "数据库不可用 / the database is unavailable: {why}")
            }
            StoreError::Corrupt(why) => write!(f, "stored log is damaged: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Reads of entries must come back gap-free: the entry read as the `expected`-th must hold that
/// index.
pub fn check_contiguous(expected: u64, found: u64) -> Result<()> {
    if found != expected {
        return Err(StoreError::Corrupt(format!(
            "entry {expected} is missing (the next stored entry is {found})"
        )));
    }
    Ok(())
}

/// A storage engine for one log.
pub trait Backend: Send + Sync + 'static {
    /// The number of entries.
    fn size(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Stored Merkle hashes by position, in the order asked; a missing position is `Corrupt`.
    fn read_hashes(&self, positions: &[u64]) -> impl Future<Output = Result<Vec<Hash>>> + Send;

    /// Writes a batch in ONE durable transaction: takes the log's write lock, checks that the log
    /// still has exactly `batch.first_index` entries (else `Conflict`), inserts entries, events,
    /// household links and hashes, and commits. A unique violation on an aggregate's sequence is
    /// `Conflict`; on a statement id, `DuplicateStatement`. On any error nothing is written.
    fn append(&self, batch: &Batch) -> impl Future<Output = Result<()>> + Send;

    /// Up to `limit` entries from index `from` on, in order.
    fn entries(
        &self,
        from: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredEntry>>> + Send;

    /// The entry holding a statement id, if any.
    fn entry_by_statement(
        &self,
        statement_id: &str,
    ) -> impl Future<Output = Result<Option<StoredEntry>>> + Send;

    /// Every event of one aggregate, by sequence.
    fn aggregate_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> impl Future<Output = Result<Vec<Event>>> + Send;

    /// Events of the given aggregate types in log order, from entry index `from` on, at most
    /// `limit` entries' worth; each with its entry index. Used to rebuild the registry at start.
    fn events_of_types(
        &self,
        aggregate_types: &[&str],
        from: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(u64, Event)>>> + Send;

    /// Indexes of the entries concerning a household, ascending, from `from` on.
    fn entries_of_household(
        &self,
        household: &str,
        from: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<u64>>> + Send;

    /// The schema version the store is at (after migrations ran on open).
    fn schema_version(&self) -> impl Future<Output = Result<u32>> + Send;
}
