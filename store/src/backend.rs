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
//! | `checkpoints` (migration 2) | `size`, `root` (32 bytes), `note` (the signed note exactly as the log signed it), `signed_at_ms` | `size` |
//! | `cosignatures` (migration 2) | `size` (a stored checkpoint's), `witness` (key name), `line` (the full signature line), `added_at_ms` | (`size`, `witness`) |
//! | `vault` (migration 2) | `commitment` (32 bytes), `salt` (16 bytes), `value` (JCS text) | `commitment` |
//!
//! Triggers refuse `UPDATE`, `DELETE` (and on PostgreSQL `TRUNCATE`) on the four log tables and on
//! `checkpoints` and `cosignatures` with an error naming the rule. Tamper-evidence does not rest on
//! them — the verifier catches what an administrator does by hand — but a casual edit fails loudly.
//! The `vault` refuses `UPDATE` only: deleting a row is lawful erasure of personal data, which
//! leaves every signature, leaf and proof valid (`docs/ledger-format.md` §9).

use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::entry::Event;
use bangfu_ledger::jcs;
use bangfu_ledger::merkle::StoredHash;
use bangfu_ledger::note::Note;
use bangfu_ledger::seal::{Commitment, Opening, SALT_LEN};
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

/// A checkpoint the log signed, with the cosignatures witnesses added since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The signed note exactly as the log signed it (text, blank line, log signature line).
    pub note: String,
    pub signed_at_ms: i64,
    /// (witness key name, full signature line) in the order added.
    pub cosignatures: Vec<(String, String)>,
}

impl StoredCheckpoint {
    /// The note with every cosignature line appended: what `bangfu export` writes as `checkpoint`
    /// and what GET /v1/checkpoint serves.
    pub fn cosigned_note(&self) -> String {
        let extra: usize = self.cosignatures.iter().map(|(_, l)| l.len()).sum();
        let mut out = String::with_capacity(self.note.len() + extra);
        out.push_str(&self.note);
        for (_, line) in &self.cosignatures {
            out.push_str(line);
        }
        out
    }
}

/// What both engines check before storing a checkpoint and again when reading one back: `note` is
/// a signed note with exactly one signature, by the key named as the checkpoint's origin (the
/// log's), over a checkpoint of this `size` and `root`. The signature itself is not checked here
/// (the store holds no keys); `sign_checkpoint` made it and the verifier checks it.
pub(crate) fn check_checkpoint_note(
    size: u64,
    root: &Hash,
    note: &str,
) -> std::result::Result<(), String> {
    let parsed = Note::parse(note.as_bytes()).map_err(|e| format!("not a signed note: {e}"))?;
    let checkpoint =
        Checkpoint::parse(&parsed.text).map_err(|e| format!("not a checkpoint: {e}"))?;
    if checkpoint.size != size || checkpoint.root != *root {
        return Err(format!(
            "the note is of size {} with root {}, not size {size} with root {root}",
            checkpoint.size, checkpoint.root
        ));
    }
    match parsed.signatures.as_slice() {
        [one] if one.name == checkpoint.origin => Ok(()),
        [one] => Err(format!(
            "the note is signed by {:?}, not by the log {:?}",
            one.name, checkpoint.origin
        )),
        more => Err(format!(
            "the note carries {} signatures; only the log's, alone, is stored as the note \
             (witness cosignatures are stored apart)",
            more.len()
        )),
    }
}

/// What both engines check before storing witness `witness`'s cosignature `line` on a checkpoint
/// whose note with the cosignatures stored so far is `cosigned`: the line is one signature line
/// (`— <witness> <base64>\n`) under the witness's name, and the note with it still parses (so it
/// stays within the signed-note limits on size and number of signatures).
pub(crate) fn check_cosignature_line(
    cosigned: &str,
    witness: &str,
    line: &str,
) -> std::result::Result<(), String> {
    let before = Note::parse(cosigned.as_bytes())
        .map_err(|e| format!("the stored checkpoint note does not parse: {e}"))?;
    let mut with = String::with_capacity(cosigned.len() + line.len());
    with.push_str(cosigned);
    with.push_str(line);
    let after = Note::parse(with.as_bytes())
        .map_err(|e| format!("the note with this line added does not parse: {e}"))?;
    match after.signatures.get(before.signatures.len()..) {
        Some([added]) if added.name == witness => Ok(()),
        Some([added]) => Err(format!(
            "the line is signed by {:?}, not by the witness {witness:?}",
            added.name
        )),
        _ => Err("the cosignature must be exactly one signature line, \
                  `— <witness name> <base64 signature>` ending in a newline"
            .into()),
    }
}

/// A checkpoint row (and its cosignatures, in the order added) as read back, checked to be what
/// `save_checkpoint` and `add_cosignature` write; anything else is `Corrupt`.
pub(crate) fn stored_checkpoint(
    size: u64,
    root: &[u8],
    note: String,
    signed_at_ms: i64,
    cosignatures: Vec<(String, String)>,
) -> Result<StoredCheckpoint> {
    let corrupt =
        |why: String| StoreError::Corrupt(format!("the checkpoint of size {size}: {why}"));
    let root = <[u8; 32]>::try_from(root)
        .map(Hash)
        .map_err(|_| corrupt(format!("its root is {} bytes, not 32", root.len())))?;
    check_checkpoint_note(size, &root, &note).map_err(corrupt)?;
    let c = StoredCheckpoint {
        size,
        root,
        note,
        signed_at_ms,
        cosignatures,
    };
    if !c.cosignatures.is_empty() {
        let all = Note::parse(c.cosigned_note().as_bytes()).map_err(|e| {
            corrupt(format!(
                "with its cosignatures it is not a signed note: {e}"
            ))
        })?;
        let names = all.signatures.iter().skip(1).map(|s| s.name.as_str());
        if !names.eq(c.cosignatures.iter().map(|(w, _)| w.as_str())) {
            return Err(corrupt(
                "its cosignature lines are not one line each under their witness's name".into(),
            ));
        }
    }
    Ok(c)
}

/// Builds checkpoints from rows of a checkpoint joined with its cosignatures (one row per
/// cosignature, or one row with none), ordered by size and then in the order the cosignatures
/// were added. Each checkpoint is checked by [`stored_checkpoint`].
#[derive(Default)]
pub(crate) struct CheckpointRows {
    done: Vec<StoredCheckpoint>,
    open: Option<OpenCheckpoint>,
}

struct OpenCheckpoint {
    size: u64,
    root: Vec<u8>,
    note: String,
    signed_at_ms: i64,
    cosignatures: Vec<(String, String)>,
}

impl CheckpointRows {
    /// One row; `columns` reads (root, note, signed_at_ms) and is called only for a row that
    /// starts a new checkpoint.
    pub fn push(
        &mut self,
        size: u64,
        columns: impl FnOnce() -> Result<(Vec<u8>, String, i64)>,
        cosignature: Option<(String, String)>,
    ) -> Result<()> {
        if self.open.as_ref().map(|o| o.size) != Some(size) {
            self.close()?;
            let (root, note, signed_at_ms) = columns()?;
            self.open = Some(OpenCheckpoint {
                size,
                root,
                note,
                signed_at_ms,
                cosignatures: Vec::new(),
            });
        }
        if let (Some(open), Some(c)) = (self.open.as_mut(), cosignature) {
            open.cosignatures.push(c);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(o) = self.open.take() {
            self.done.push(stored_checkpoint(
                o.size,
                &o.root,
                o.note,
                o.signed_at_ms,
                o.cosignatures,
            )?);
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<StoredCheckpoint>> {
        self.close()?;
        Ok(self.done)
    }
}

/// A vault row ready to be written: checked to open its commitment, the value in JCS.
pub(crate) struct VaultRow {
    pub commitment: [u8; 32],
    pub salt: [u8; SALT_LEN],
    pub value: String,
}

/// Turns openings into vault rows, refusing (`Corrupt`, nothing written) any whose value and salt
/// do not open its commitment: the vault must never hold what the verifier would fail.
pub(crate) fn vault_rows(openings: &[Opening]) -> Result<Vec<VaultRow>> {
    openings
        .iter()
        .map(|o| {
            let refused = |why: &str| {
                StoreError::Corrupt(format!(
                    "refused to store the opening of {}: {why}",
                    o.commitment.0
                ))
            };
            if !o.is_valid() {
                return Err(refused(
                    "its value and salt do not open its commitment; seal the value again",
                ));
            }
            let value = jcs::to_vec(&o.value)
                .map_err(|e| refused(&format!("its value has no canonical JSON form: {e}")))?;
            let value =
                String::from_utf8(value).map_err(|_| refused("its canonical JSON is not UTF-8"))?;
            Ok(VaultRow {
                commitment: o.commitment.0.0,
                salt: o.salt,
                value,
            })
        })
        .collect()
}

/// A vault row as read back; a commitment or salt of the wrong length or a value that is not
/// canonical JSON is `Corrupt`. Whether it opens its commitment is left to the reader
/// ([`Opening::is_valid`]), as the verifier judges it.
pub(crate) fn opening_from_row(commitment: &[u8], salt: &[u8], value: &str) -> Result<Opening> {
    let commitment = <[u8; 32]>::try_from(commitment).map(Hash).map_err(|_| {
        StoreError::Corrupt(format!(
            "a vault commitment is {} bytes, not 32",
            commitment.len()
        ))
    })?;
    let corrupt = |why: String| StoreError::Corrupt(format!("the vault row {commitment}: {why}"));
    let salt = <[u8; SALT_LEN]>::try_from(salt)
        .map_err(|_| corrupt(format!("its salt is {} bytes, not {SALT_LEN}", salt.len())))?;
    let value = jcs::parse_canonical(value.as_bytes())
        .map_err(|e| corrupt(format!("its value is not canonical JSON: {e}")))?;
    Ok(Opening {
        commitment: Commitment(commitment),
        salt,
        value,
    })
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

    /// The entries holding these statement ids: one answer per id, in the order asked (`None` where
    /// no entry holds it), all read in one round trip and from one snapshot. The writer checks a
    /// whole batch for replays with it.
    fn entries_by_statements(
        &self,
        statement_ids: &[&str],
    ) -> impl Future<Output = Result<Vec<Option<StoredEntry>>>> + Send;

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

    /// Stores a checkpoint the log signed (its `cosignatures` are ignored: see
    /// [`Backend::add_cosignature`]). Idempotent when a row for that size with the same root
    /// exists (the original row is kept); a different root at the same size is `Conflict`, as the
    /// log never signs two checkpoints for one size. A note that is not a checkpoint of this size
    /// and root signed once, by its origin, is refused (`Corrupt`, nothing written).
    fn save_checkpoint(&self, c: &StoredCheckpoint) -> impl Future<Output = Result<()>> + Send;

    /// The stored checkpoint of `size`, with its cosignatures.
    fn checkpoint(
        &self,
        size: u64,
    ) -> impl Future<Output = Result<Option<StoredCheckpoint>>> + Send;

    /// The stored checkpoint of the largest size, with its cosignatures.
    fn latest_checkpoint(&self) -> impl Future<Output = Result<Option<StoredCheckpoint>>> + Send;

    /// Ascending by size, sizes >= from_size, at most limit.
    fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredCheckpoint>>> + Send;

    /// Adds witness `witness`'s cosignature `line` (`— <witness> <base64>\n`, checked by the
    /// caller against the witness's key) to the checkpoint of `size`. Ignored (Ok) when that
    /// witness already cosigned that size (the first line is kept); `Conflict` if no checkpoint of
    /// that size is stored; `Corrupt` (nothing written) if the line is not one signature line
    /// under the witness's name.
    fn add_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        added_at_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Inserts vault rows, all or none; a commitment already held is left as it is. An opening
    /// whose value and salt do not open its commitment is refused (`Corrupt`, nothing written).
    fn put_openings(&self, openings: &[Opening]) -> impl Future<Output = Result<()>> + Send;

    /// Vault rows ordered by commitment bytes, strictly after `after`, at most `limit`.
    fn openings(
        &self,
        after: Option<Hash>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Opening>>> + Send;

    /// The vault row of one commitment.
    fn opening(&self, commitment: &Hash) -> impl Future<Output = Result<Option<Opening>>> + Send;

    /// Lawful erasure: true when a row was deleted.
    fn erase_opening(&self, commitment: &Hash) -> impl Future<Output = Result<bool>> + Send;
}
