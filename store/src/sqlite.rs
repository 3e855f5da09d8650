//! The log in one embedded SQLite file (rusqlite, with SQLite bundled): the default store, so
//! `bangfu demo` runs on a fresh machine with no server.
//!
//! # Durability
//!
//! Every connection runs `journal_mode=WAL` and `synchronous=FULL`: a commit returns only after
//! the write-ahead log is synced, so an acknowledged [`Backend::append`] survives a killed process
//! and a power cut. (`fullfsync` is set too; it only matters on macOS, where a plain `fsync` does not
//! reach the disk.)
//!
//! # Concurrency
//!
//! rusqlite is blocking, so every database call runs on [`tokio::task::spawn_blocking`].
//!
//! - **One writer connection** behind a [`std::sync::Mutex`]. An append takes the mutex, then the
//!   database's write lock with `BEGIN IMMEDIATE`, so appends are serialized within this process
//!   by the mutex and across processes (or several [`SqliteBackend`]s on one file) by SQLite's lock,
//!   waited for up to [`BUSY_TIMEOUT`]. Under that lock the log's size is checked against
//!   [`Batch::first_index`]: whoever loses a race gets [`StoreError::Conflict`].
//! - **A few read-only connections** ([`READERS`]), each behind its own mutex. In WAL mode readers
//!   never wait for the writer nor block it, so lookups and proofs are not stuck behind an append's
//!   fsync; each read sees the last committed state. They are opened with `SQLITE_OPEN_READONLY`,
//!   so no read path can write.
//! - **A checkpointer**: its own read-write connection on its own thread, which folds the
//!   write-ahead log into the database file (`PRAGMA wal_checkpoint(PASSIVE)`) every few hundred
//!   appended entries, beside the appends rather than inside one of their commits, as SQLite's
//!   automatic checkpoint would. The writer keeps an automatic checkpoint at a high threshold as a
//!   backstop.
//!
//! # Append-only, and what protects the file
//!
//! Triggers refuse `UPDATE` and `DELETE` on `entries`, `events`, `entry_households` and
//! `tree_hashes` with `bangfu: the log is append-only; corrections are new signed statements`. A
//! third trigger per table refuses an `INSERT` whose key is already taken: SQLite's
//! `INSERT OR REPLACE` deletes the old row *without* firing `DELETE` triggers (unless the
//! connection turned on `recursive_triggers`), so without it a replace would be a silent edit.
//! Migration 2 does the same for `checkpoints` and `cosignatures`
//! ([`CHECKPOINTS_APPEND_ONLY_MESSAGE`]); the `vault` refuses `UPDATE` and replacing
//! ([`VAULT_NO_UPDATE_MESSAGE`]) but allows `DELETE`, which is lawful erasure.
//!
//! SQLite has no roles or grants: anyone who can write the file can drop a trigger and edit
//! anything. The embedded file is protected by file permissions — it is created `0600` on unix
//! (SQLite gives its `-wal` and `-shm` files the same mode), in a folder created `0700` — and
//! tamper-evidence comes from the verifier, which recomputes every leaf and tree head from the
//! entries and compares them with checkpoints that witnesses have cosigned. The triggers only make
//! a casual edit fail loudly.
//!
//! # Schema
//!
//! Versioned migrations are recorded in `schema_migrations`; each runs in one transaction with the
//! table's `version` row, and opening an up-to-date store changes nothing. Migration 1 is the
//! schema of [`crate::backend`], as `STRICT` tables (INTEGER for `idx`, `sequence`, `pos`,
//! `recorded_at_ms`; BLOB for `leaf`, `body`, `hash`; TEXT for the rest, the event payload holding
//! its exact JCS bytes), plus `events.ord`, the event's position within its entry, so log order is
//! exact. The file's `application_id` is set so another program's database is refused rather than
//! written into. Migration 2 adds `checkpoints`, `cosignatures` (whose `size` references a
//! checkpoint) and `vault`, also `STRICT`.
//!
//! Nothing read from the file is trusted to be well formed: a wrong type, a hash of the wrong
//! length, a payload that is not a JSON object or a missing row is [`StoreError::Corrupt`], never a
//! panic.

use crate::backend::{
    Backend, Batch, CheckpointRows, Migration, NewEntry, Result, StoreError, StoredCheckpoint,
    StoredEntry, VaultRow, check_checkpoint_note, check_cosignature_line, opening_from_row,
    vault_rows,
};
use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event;
use bangfu_ledger::jcs;
use bangfu_ledger::seal::Opening;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a connection waits for another one's lock before giving up with
/// [`StoreError::Unavailable`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many read-only connections a backend keeps.
pub const READERS: usize = 4;

/// The schema version this build writes and migrates to.
pub const SCHEMA_VERSION: u32 = 2;

/// `PRAGMA application_id` of a bangfu store: "BFLG".
const APPLICATION_ID: i64 = 0x4246_4C47;

/// The message every append-only trigger raises.
pub const APPEND_ONLY_MESSAGE: &str =
    "bangfu: the log is append-only; corrections are new signed statements";

/// The message the triggers on `checkpoints` and `cosignatures` raise.
pub const CHECKPOINTS_APPEND_ONLY_MESSAGE: &str = "bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it";

/// The message the `vault`'s triggers raise on a change (erasing a row is allowed).
pub const VAULT_NO_UPDATE_MESSAGE: &str = "bangfu: a vault row is never changed, only erased; a corrected value is sealed in a new signed statement";

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: MIGRATION_1,
    },
    Migration {
        version: 2,
        sql: MIGRATION_2,
    },
];

/// The schema of [`crate::backend`].
const MIGRATION_1: &str = r#"
PRAGMA application_id = 1111903303;

CREATE TABLE entries (
    idx            INTEGER PRIMARY KEY CHECK (idx >= 0),
    statement_id   TEXT    NOT NULL UNIQUE,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    signer         TEXT    NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    leaf           BLOB    NOT NULL CHECK (length(leaf) = 32),
    body           BLOB    NOT NULL
) STRICT;

CREATE TABLE events (
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    idx            INTEGER NOT NULL REFERENCES entries (idx),
    ord            INTEGER NOT NULL CHECK (ord >= 0),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    UNIQUE (idx, ord)
) STRICT, WITHOUT ROWID;

-- events_of_types: one ordered range scan per aggregate type.
CREATE INDEX events_by_type ON events (aggregate_type, idx, ord);

CREATE TABLE entry_households (
    household TEXT    NOT NULL,
    idx       INTEGER NOT NULL REFERENCES entries (idx),
    PRIMARY KEY (household, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE tree_hashes (
    pos  INTEGER PRIMARY KEY CHECK (pos >= 0),
    hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER entries_no_replace BEFORE INSERT ON entries
WHEN EXISTS (SELECT 1 FROM entries WHERE idx = NEW.idx)
  OR EXISTS (SELECT 1 FROM entries WHERE statement_id = NEW.statement_id)
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE aggregate_type = NEW.aggregate_type
                                    AND aggregate_id = NEW.aggregate_id
                                    AND sequence = NEW.sequence)
  OR EXISTS (SELECT 1 FROM events WHERE idx = NEW.idx AND ord = NEW.ord)
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;

CREATE TRIGGER entry_households_no_update BEFORE UPDATE ON entry_households
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER entry_households_no_delete BEFORE DELETE ON entry_households
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER entry_households_no_replace BEFORE INSERT ON entry_households
WHEN EXISTS (SELECT 1 FROM entry_households WHERE household = NEW.household AND idx = NEW.idx)
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;

CREATE TRIGGER tree_hashes_no_update BEFORE UPDATE ON tree_hashes
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER tree_hashes_no_delete BEFORE DELETE ON tree_hashes
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
CREATE TRIGGER tree_hashes_no_replace BEFORE INSERT ON tree_hashes
WHEN EXISTS (SELECT 1 FROM tree_hashes WHERE pos = NEW.pos)
BEGIN SELECT RAISE(ABORT, 'bangfu: the log is append-only; corrections are new signed statements'); END;
"#;

/// Checkpoints, cosignatures and the vault (see [`crate::backend`]). As in migration 1, a third
/// trigger per table refuses an `INSERT` whose key is taken, because `INSERT OR REPLACE` would
/// otherwise replace a row without firing `DELETE` triggers.
const MIGRATION_2: &str = r#"
CREATE TABLE checkpoints (
    size         INTEGER PRIMARY KEY CHECK (size >= 0),
    root         BLOB    NOT NULL CHECK (length(root) = 32),
    note         TEXT    NOT NULL,
    signed_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE cosignatures (
    size        INTEGER NOT NULL REFERENCES checkpoints (size),
    witness     TEXT    NOT NULL,
    line        TEXT    NOT NULL,
    added_at_ms INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
) STRICT, WITHOUT ROWID;

CREATE TABLE vault (
    commitment BLOB NOT NULL PRIMARY KEY CHECK (length(commitment) = 32),
    salt       BLOB NOT NULL CHECK (length(salt) = 16),
    value      TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it'); END;
CREATE TRIGGER checkpoints_no_replace BEFORE INSERT ON checkpoints
WHEN EXISTS (SELECT 1 FROM checkpoints WHERE size = NEW.size)
BEGIN SELECT RAISE(ABORT, 'bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it'); END;

CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it'); END;
CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it'); END;
CREATE TRIGGER cosignatures_no_replace BEFORE INSERT ON cosignatures
WHEN EXISTS (SELECT 1 FROM cosignatures WHERE size = NEW.size AND witness = NEW.witness)
BEGIN SELECT RAISE(ABORT, 'bangfu: checkpoints are append-only; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it'); END;

CREATE TRIGGER vault_no_update BEFORE UPDATE ON vault
BEGIN SELECT RAISE(ABORT, 'bangfu: a vault row is never changed, only erased; a corrected value is sealed in a new signed statement'); END;
CREATE TRIGGER vault_no_replace BEFORE INSERT ON vault
WHEN EXISTS (SELECT 1 FROM vault WHERE commitment = NEW.commitment)
BEGIN SELECT RAISE(ABORT, 'bangfu: a vault row is never changed, only erased; a corrected value is sealed in a new signed statement'); END;
"#;

/// The log in an embedded SQLite file. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteBackend {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Declared first, so it stops (and closes its connection) before the others close.
    checkpointer: Option<Checkpointer>,
    conns: Connections,
}

/// After how many appended entries the checkpointer is asked to fold the write-ahead log into the
/// database file: a few hundred entries dirty about as many pages as SQLite's default automatic
/// checkpoint threshold (1,000 pages).
const CHECKPOINT_EVERY: u64 = 256;

/// The writer's automatic checkpoint threshold, in pages (SQLite's default is 1,000): a backstop
/// that bounds the write-ahead log if the checkpointer falls behind (readers holding old
/// snapshots, a slow disk), kept low enough that the commit which pays for it stalls for tens of
/// milliseconds, not seconds.
const AUTOCHECKPOINT_BACKSTOP: u32 = 4_000;

/// Folds the write-ahead log into the database file on its own thread and connection. SQLite's
/// automatic checkpoint runs inside the commit that crosses its threshold: a copy of every page in
/// the log and two more syncs, on the append path, every few batches. A `PASSIVE` checkpoint here
/// runs beside the appends instead (it never takes the write lock, so commits do not wait for it).
/// Durability does not depend on it: each commit is synced in the write-ahead log.
struct Checkpointer {
    shared: Arc<(Mutex<CheckpointState>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct CheckpointState {
    /// Entries appended since the checkpointer was last asked to run.
    appended: u64,
    wanted: bool,
    stop: bool,
}

impl Checkpointer {
    /// Starts the thread with its own read-write connection, or returns `None` (the writer's own
    /// automatic checkpoint then does the work, as SQLite does by default) if it cannot be opened.
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = open_writer(path).ok()?;
        let shared = Arc::new((
            Mutex::new(CheckpointState::default()),
            std::sync::Condvar::new(),
        ));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("bangfu-sqlite-checkpoint".into())
            .spawn(move || {
                let (state, wake) = &*theirs;
                loop {
                    {
                        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                        while !s.wanted && !s.stop {
                            s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
                        }
                        if s.stop {
                            return;
                        }
                        s.wanted = false;
                    }
                    // A failure (busy, I/O) leaves the log to the next run or to the backstop.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// `entries` were committed: asks for a checkpoint every [`CHECKPOINT_EVERY`] entries.
    fn committed(&self, entries: u64) {
        let (state, wake) = &*self.shared;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.appended += entries;
        if s.appended >= CHECKPOINT_EVERY {
            s.appended = 0;
            s.wanted = true;
            wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let (state, wake) = &*self.shared;
            state.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
            wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens the store at `path`, creating the file (mode `0600` on unix) and its parent folder if
    /// missing, and runs any pending migrations. A file that is not a SQLite database, or is
    /// another program's database, is refused with [`StoreError::Corrupt`]; a store written by a
    /// newer bangfu is refused too.
    pub async fn open(path: &Path) -> Result<SqliteBackend> {
        let path = path.to_path_buf();
        let inner = tokio::task::spawn_blocking(move || Inner::open(path))
            .await
            .map_err(|e| StoreError::Unavailable(format!("opening the store failed: {e}")))??;
        Ok(SqliteBackend {
            inner: Arc::new(inner),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn on_writer<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&mut inner.conns.writer()))
            .await
            .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    async fn on_reader<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&mut inner.conns.reader()))
            .await
            .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }
}

impl Inner {
    fn open(path: PathBuf) -> Result<Inner> {
        let shown = path.display().to_string();
        let mut writer = open_writer(&path).map_err(|e| open_failed(&shown, e, ""))?;
        for (pragma, value) in [("foreign_keys", "ON"), ("recursive_triggers", "ON")] {
            writer
                .pragma_update(None, pragma, value)
                .map_err(|e| open_err(&shown, e))?;
        }
        let fk: i64 = writer
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .map_err(|e| open_err(&shown, e))?;
        if fk != 1 {
            return Err(StoreError::Unavailable(format!(
                "{shown}: SQLite would not enforce foreign keys"
            )));
        }
        migrate(&mut writer, MIGRATIONS).map_err(|e| match e {
            StoreError::Corrupt(why) => StoreError::Corrupt(format!("{shown}: {why}")),
            StoreError::Unavailable(why) => StoreError::Unavailable(format!("{shown}: {why}")),
            other => other,
        })?;

        let conns = Connections::open(writer, &path, READERS)
            .map_err(|e| open_failed(&shown, e, " to read"))?;
        let checkpointer = Checkpointer::start(&path);
        if checkpointer.is_some() {
            conns
                .writer()
                .pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_BACKSTOP)
                .map_err(|e| open_err(&shown, e))?;
        }
        Ok(Inner {
            path,
            checkpointer,
            conns,
        })
    }
}

/// One writer connection and a few read-only ones to one SQLite file, each behind its own mutex
/// (see the module's notes on concurrency): the log's, and the read models'.
pub struct Connections {
    /// Declared before `writer`, so they close first and the writer, closing last, folds the
    /// write-ahead log into the database file and removes it.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    writer: Mutex<Connection>,
}

impl Connections {
    /// Takes `writer` (from [`open_writer`], set up as the caller needs) and opens `readers`
    /// connections to the same `path` with [`open_reader`].
    pub fn open(
        writer: Connection,
        path: &Path,
        readers: usize,
    ) -> std::result::Result<Connections, OpenError> {
        let readers = (0..readers)
            .map(|_| open_reader(path).map(Mutex::new))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Connections {
            readers,
            next_reader: AtomicUsize::new(0),
            writer: Mutex::new(writer),
        })
    }

    /// The writer, once no one else holds it.
    pub fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// A free reader if there is one, else waits for the next in turn (the writer, if there are
    /// no readers).
    pub fn reader(&self) -> MutexGuard<'_, Connection> {
        let n = self.readers.len();
        if n == 0 {
            return self.writer();
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return guard;
            }
        }
        lock(&self.readers[start % n])
    }
}

/// Locks a connection. A poisoned mutex is taken anyway: a panic cannot leave a transaction open
/// (rusqlite rolls back when a `Transaction` is dropped), so the connection is still sound.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why [`open_writer`] or [`open_reader`] failed; each caller words it in its own error type.
#[derive(Debug)]
pub enum OpenError {
    /// The file or its folder could not be created; the message says which, and why.
    Create(String),
    /// SQLite could not open the file.
    Open(rusqlite::Error),
    /// A setting was refused; `step` says which (e.g. `setting synchronous`).
    Setting {
        step: &'static str,
        error: rusqlite::Error,
    },
    /// SQLite would not use write-ahead logging; the journal mode it kept instead.
    NoWal(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Create(why) => f.write_str(why),
            OpenError::Open(e) => write!(f, "opening: {e}"),
            OpenError::Setting { step, error } => write!(f, "{step}: {error}"),
            OpenError::NoWal(mode) => write!(
                f,
                "SQLite refused write-ahead logging (journal mode is {mode})"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// Opens the read-write connection to a bangfu SQLite file (the log's, or the read models'), made
/// durable the same way for both: the folder (`0700` on unix) and the file (`0600` on unix)
/// created if missing, the settings of [`open_reader`], `journal_mode=WAL` (an error if SQLite
/// keeps another mode), `synchronous=FULL` and `fullfsync=ON`. Checking the file's
/// `application_id`, and any further settings, are the caller's.
pub fn open_writer(path: &Path) -> std::result::Result<Connection, OpenError> {
    create_file(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(OpenError::Open)?;
    configure(&conn)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|error| OpenError::Setting {
            step: "turning on write-ahead logging",
            error,
        })?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NoWal(mode));
    }
    for (step, pragma, value) in [
        ("setting synchronous", "synchronous", "FULL"),
        ("setting fullfsync", "fullfsync", "ON"),
    ] {
        conn.pragma_update(None, pragma, value)
            .map_err(|error| OpenError::Setting { step, error })?;
    }
    Ok(conn)
}

/// Opens a read-only connection (`SQLITE_OPEN_READ_ONLY`, so nothing read through it can write)
/// to a file [`open_writer`] made, with the settings every connection needs before it reads
/// anything: a busy timeout of [`BUSY_TIMEOUT`], `trusted_schema=OFF`, `cell_size_check=ON`.
pub fn open_reader(path: &Path) -> std::result::Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(OpenError::Open)?;
    configure(&conn)?;
    Ok(conn)
}

/// Settings every connection needs, before it reads anything.
fn configure(conn: &Connection) -> std::result::Result<(), OpenError> {
    let setting = |step| move |error| OpenError::Setting { step, error };
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(setting("setting the busy timeout"))?;
    // A hostile file cannot make the schema call functions with side effects.
    conn.pragma_update(None, "trusted_schema", "OFF")
        .map_err(setting("setting trusted_schema"))?;
    // Check b-tree cells as they are read: damage is reported, never followed.
    conn.pragma_update(None, "cell_size_check", "ON")
        .map_err(setting("setting cell_size_check"))?;
    Ok(())
}

/// Creates the parent folder (`0700` on unix) and the file (`0600` on unix) if missing, so that
/// SQLite never creates them with its own, wider default.
fn create_file(path: &Path) -> std::result::Result<(), OpenError> {
    let shown = path.display();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(parent).map_err(|e| {
                OpenError::Create(format!(
                    "cannot create the folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(OpenError::Create(format!("cannot create {shown}: {e}"))),
    }
}

/// An [`OpenError`] as the store words it; `reading` is `" to read"` for a reader.
fn open_failed(shown: &str, e: OpenError, reading: &str) -> StoreError {
    match e {
        OpenError::Create(why) => StoreError::Unavailable(why),
        OpenError::Open(e) => StoreError::Unavailable(format!("cannot open {shown}{reading}: {e}")),
        OpenError::Setting { error, .. } => open_err(shown, error),
        e @ OpenError::NoWal(_) => StoreError::Unavailable(format!("{shown}: {e}")),
    }
}

/// An error while opening: a file that is not a database gets a message that says so.
fn open_err(shown: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::Corrupt(format!(
            "{shown} is not a SQLite database, so not a bangfu store ({e}); check the path"
        )),
        Some(ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt(format!("{shown}: the SQLite file is damaged ({e})"))
        }
        _ => StoreError::Unavailable(format!("{shown}: {e}")),
    }
}

/// Maps a database error: damage and values of the wrong type are `Corrupt`; everything else (I/O,
/// a full disk, a lock held too long, …) is `Unavailable`.
fn db_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            StoreError::Corrupt(e.to_string())
        }
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..)
        | E::InvalidColumnType(..) => StoreError::Corrupt(format!("a stored value: {e}")),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// Runs pending migrations in one `BEGIN IMMEDIATE` transaction; returns the version reached.
fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u32> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let app_id: i64 = tx
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(db_err)?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(StoreError::Corrupt(format!(
            "not a bangfu store: the SQLite file belongs to another program (application_id {app_id:#x})"
        )));
    }
    let has_migrations: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if !has_migrations {
        let others: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if others > 0 {
            return Err(StoreError::Corrupt(
                "not a bangfu store: the SQLite file holds other tables and no schema_migrations"
                    .into(),
            ));
        }
        tx.execute_batch(
            "CREATE TABLE schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at TEXT    NOT NULL
             ) STRICT;",
        )
        .map_err(db_err)?;
    }
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let known = migrations.last().map_or(0, |m| m.version);
    let current = u32::try_from(current)
        .map_err(|_| StoreError::Corrupt(format!("schema version {current} is not valid")))?;
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "the store is at schema version {current}, written by a newer bangfu; this build knows up to {known}"
        )));
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Unavailable(format!("schema migration {} failed: {e}", m.version))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at)
             VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [m.version],
        )
        .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(current.max(known))
}

// ---------------------------------------------------------------------------------------------
// Conversions

fn to_i64(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        StoreError::Corrupt(format!(
            "invalid batch: {what} {v} does not fit a SQLite integer"
        ))
    })
}

fn stored_u64(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({v})")))
}

/// `from` as a SQL bound: an index beyond SQLite's range matches nothing.
fn from_bound(from: u64) -> Option<i64> {
    i64::try_from(from).ok()
}

fn stored_hash(what: &str, bytes: Vec<u8>) -> Result<Hash> {
    let len = bytes.len();
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| StoreError::Corrupt(format!("{what} is {len} bytes, not 32")))
}

// ---------------------------------------------------------------------------------------------
// Append

/// A batch checked and turned into rows before it goes to the blocking thread.
struct PreparedBatch {
    first_index: i64,
    entries: Vec<EntryRow>,
    hashes: Vec<(i64, [u8; 32])>,
}

struct EntryRow {
    idx: i64,
    statement_id: String,
    aggregate_type: String,
    aggregate_id: String,
    signer: String,
    recorded_at_ms: i64,
    leaf: [u8; 32],
    body: Vec<u8>,
    events: Vec<EventRow>,
    households: Vec<String>,
}

struct EventRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
}

/// Checks what the schema cannot express (entry indexes follow `first_index` without a gap,
/// hash positions ascend) and serializes payloads to JCS. A batch that fails is a caller's bug and
/// is refused before the database is touched.
fn prepare_batch(batch: &Batch) -> Result<PreparedBatch> {
    let first_index = to_i64("first index", batch.first_index)?;
    let mut entries = Vec::with_capacity(batch.entries.len());
    for (i, e) in batch.entries.iter().enumerate() {
        let expected = batch.first_index.checked_add(i as u64);
        if expected != Some(e.index) {
            return Err(StoreError::Corrupt(format!(
                "invalid batch: its entry {i} has index {} but the batch starts at {}",
                e.index, batch.first_index
            )));
        }
        entries.push(entry_row(e)?);
    }
    let mut hashes = Vec::with_capacity(batch.hashes.len());
    let mut last: Option<u64> = None;
    for h in &batch.hashes {
        if last.is_some_and(|l| l >= h.position) {
            return Err(StoreError::Corrupt(format!(
                "invalid batch: hash positions must ascend ({} after {})",
                h.position,
                last.unwrap_or_default()
            )));
        }
        last = Some(h.position);
        hashes.push((to_i64("hash position", h.position)?, h.hash.0));
    }
    Ok(PreparedBatch {
        first_index,
        entries,
        hashes,
    })
}

fn entry_row(e: &NewEntry) -> Result<EntryRow> {
    let mut events = Vec::with_capacity(e.events.len());
    for ev in &e.events {
        if ev.sequence == 0 {
            return Err(StoreError::Corrupt(format!(
                "invalid batch: event of {}/{} has sequence 0; sequences start at 1",
                ev.aggregate_type, ev.aggregate_id
            )));
        }
        let payload = jcs::to_vec(&Value::Object(ev.payload.clone())).map_err(|err| {
            StoreError::Corrupt(format!(
                "invalid batch: event {}/{}#{} has a payload with no JCS form: {err}",
                ev.aggregate_type, ev.aggregate_id, ev.sequence
            ))
        })?;
        let payload = String::from_utf8(payload).map_err(|_| {
            StoreError::Corrupt("invalid batch: JCS produced bytes that are not UTF-8".into())
        })?;
        events.push(EventRow {
            aggregate_type: ev.aggregate_type.clone(),
            aggregate_id: ev.aggregate_id.clone(),
            sequence: to_i64("event sequence", ev.sequence)?,
            event_type: ev.event_type.clone(),
            event_version: ev.event_version.clone(),
            payload,
        });
    }
    let mut seen = HashSet::new();
    let households = e
        .households
        .iter()
        .filter(|h| seen.insert(h.as_str()))
        .cloned()
        .collect();
    Ok(EntryRow {
        idx: to_i64("entry index", e.index)?,
        statement_id: e.statement_id.clone(),
        aggregate_type: e.aggregate_type.clone(),
        aggregate_id: e.aggregate_id.clone(),
        signer: e.signer.clone(),
        recorded_at_ms: e.recorded_at_ms,
        leaf: e.leaf.0,
        body: e.body.clone(),
        events,
        households,
    })
}

/// The log's size: one more than the largest index (indexes have no gaps: [`append`] writes them
/// only after checking the size, and triggers refuse deletes).
fn size_of(conn: &Connection) -> Result<u64> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(idx) FROM entries")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(db_err)?;
    match max {
        None => Ok(0),
        Some(m) => stored_u64("an entry index", m)?
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt(format!("entry index {m} is out of range"))),
    }
}

fn exists(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<bool> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.exists(params))
        .map_err(db_err)
}

/// The whole append, inside one `BEGIN IMMEDIATE` transaction; returning an error rolls it back.
fn append_batch(conn: &mut Connection, batch: &PreparedBatch) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let size = size_of(&tx)?;
    if size != batch.first_index as u64 {
        return Err(StoreError::Conflict(format!(
            "the log has {size} entries, the batch was built for {}",
            batch.first_index
        )));
    }
    {
        let mut insert_entry = tx
            .prepare_cached(
                "INSERT INTO entries (idx, statement_id, aggregate_type, aggregate_id, signer,
                                      recorded_at_ms, leaf, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db_err)?;
        let mut insert_event = tx
            .prepare_cached(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, idx, ord, event_type,
                                     event_version, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db_err)?;
        let mut insert_household = tx
            .prepare_cached("INSERT INTO entry_households (household, idx) VALUES (?1, ?2)")
            .map_err(db_err)?;
        let mut insert_hash = tx
            .prepare_cached("INSERT INTO tree_hashes (pos, hash) VALUES (?1, ?2)")
            .map_err(db_err)?;

        for e in &batch.entries {
            if let Err(err) = insert_entry.execute(params![
                e.idx,
                e.statement_id,
                e.aggregate_type,
                e.aggregate_id,
                e.signer,
                e.recorded_at_ms,
                &e.leaf[..],
                e.body,
            ]) {
                return Err(entry_refused(&tx, e, err));
            }
            for (ord, ev) in e.events.iter().enumerate() {
                if let Err(err) = insert_event.execute(params![
                    ev.aggregate_type,
                    ev.aggregate_id,
                    ev.sequence,
                    e.idx,
                    ord as i64,
                    ev.event_type,
                    ev.event_version,
                    ev.payload,
                ]) {
                    return Err(event_refused(&tx, e.idx, ev, err));
                }
            }
            for h in &e.households {
                insert_household.execute(params![h, e.idx]).map_err(|err| {
                    if is_constraint(&err) {
                        StoreError::Corrupt(format!(
                            "household link {h} → entry {} refused: {err}",
                            e.idx
                        ))
                    } else {
                        db_err(err)
                    }
                })?;
            }
        }
        for (pos, hash) in &batch.hashes {
            if let Err(err) = insert_hash.execute(params![pos, &hash[..]]) {
                if is_constraint(&err)
                    && exists(&tx, "SELECT 1 FROM tree_hashes WHERE pos = ?1", [pos])?
                {
                    return Err(StoreError::Corrupt(format!(
                        "a tree hash is already stored at position {pos} although the log has \
                         only {size} entries"
                    )));
                }
                return Err(if is_constraint(&err) {
                    StoreError::Corrupt(format!("tree hash {pos} refused: {err}"))
                } else {
                    db_err(err)
                });
            }
        }
    }
    tx.commit().map_err(db_err)
}

/// Why an entry row was refused: the statement id taken, the index taken, or something else.
fn entry_refused(tx: &Connection, e: &EntryRow, err: rusqlite::Error) -> StoreError {
    if !is_constraint(&err) {
        return db_err(err);
    }
    match exists(
        tx,
        "SELECT 1 FROM entries WHERE statement_id = ?1",
        [&e.statement_id],
    ) {
        Ok(true) => return StoreError::DuplicateStatement(e.statement_id.clone()),
        Ok(false) => {}
        Err(other) => return other,
    }
    match exists(tx, "SELECT 1 FROM entries WHERE idx = ?1", [e.idx]) {
        Ok(true) => StoreError::Conflict(format!("entry {} is already written", e.idx)),
        Ok(false) => StoreError::Corrupt(format!("entry {} refused: {err}", e.idx)),
        Err(other) => other,
    }
}

/// Why an event row was refused: the aggregate's sequence number taken, or something else.
fn event_refused(tx: &Connection, idx: i64, ev: &EventRow, err: rusqlite::Error) -> StoreError {
    if !is_constraint(&err) {
        return db_err(err);
    }
    match exists(
        tx,
        "SELECT 1 FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence = ?3",
        params![ev.aggregate_type, ev.aggregate_id, ev.sequence],
    ) {
        Ok(true) => StoreError::Conflict(format!(
            "{}/{} already has event {}",
            ev.aggregate_type, ev.aggregate_id, ev.sequence
        )),
        Ok(false) => StoreError::Corrupt(format!(
            "event {}/{}#{} of entry {idx} refused: {err}",
            ev.aggregate_type, ev.aggregate_id, ev.sequence
        )),
        Err(other) => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

const EVENT_COLUMNS: &str =
    "idx, aggregate_type, aggregate_id, sequence, event_type, event_version, payload";

/// An event row (columns [`EVENT_COLUMNS`]) with its entry index.
fn event_from_row(r: &rusqlite::Row<'_>) -> Result<(u64, Event)> {
    let idx: i64 = r.get(0).map_err(db_err)?;
    let aggregate_type: String = r.get(1).map_err(db_err)?;
    let aggregate_id: String = r.get(2).map_err(db_err)?;
    let sequence: i64 = r.get(3).map_err(db_err)?;
    let event_type: String = r.get(4).map_err(db_err)?;
    let event_version: String = r.get(5).map_err(db_err)?;
    let payload: String = r.get(6).map_err(db_err)?;
    let name = format!("event {aggregate_type}/{aggregate_id}#{sequence}");
    let idx = stored_u64(&format!("the entry index of {name}"), idx)?;
    let sequence = u64::try_from(sequence)
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(|| StoreError::Corrupt(format!("{name}: a sequence must be ≥ 1")))?;
    let payload = match jcs::parse(payload.as_bytes()) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(StoreError::Corrupt(format!(
                "{name}: the payload is not a JSON object"
            )));
        }
        Err(e) => {
            return Err(StoreError::Corrupt(format!(
                "{name}: the payload is not valid ledger JSON: {e}"
            )));
        }
    };
    Ok((
        idx,
        Event {
            aggregate_type,
            aggregate_id,
            sequence,
            event_type,
            event_version,
            payload,
        },
    ))
}

fn entry_from_row(r: &rusqlite::Row<'_>) -> Result<StoredEntry> {
    let idx: i64 = r.get(0).map_err(db_err)?;
    let body: Vec<u8> = r.get(1).map_err(db_err)?;
    Ok(StoredEntry {
        index: stored_u64("an entry index", idx)?,
        body,
    })
}

fn read_hashes(conn: &mut Connection, positions: &[u64]) -> Result<Vec<Hash>> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut stmt = tx
        .prepare_cached("SELECT hash FROM tree_hashes WHERE pos = ?1")
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(positions.len());
    for &p in positions {
        let missing = || StoreError::Corrupt(format!("the tree hash at position {p} is missing"));
        let pos = i64::try_from(p).map_err(|_| missing())?;
        let bytes: Vec<u8> = stmt
            .query_row([pos], |r| r.get(0))
            .optional()
            .map_err(db_err)?
            .ok_or_else(missing)?;
        out.push(stored_hash(
            &format!("the tree hash at position {p}"),
            bytes,
        )?);
    }
    Ok(out)
}

fn read_entries(conn: &Connection, from: u64, limit: u32) -> Result<Vec<StoredEntry>> {
    let Some(from_i) = from_bound(from) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare_cached("SELECT idx, body FROM entries WHERE idx >= ?1 ORDER BY idx LIMIT ?2")
        .map_err(db_err)?;
    let mut rows = stmt.query(params![from_i, limit]).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let e = entry_from_row(r)?;
        crate::backend::check_contiguous(from + out.len() as u64, e.index)?;
        out.push(e);
    }
    Ok(out)
}

fn read_entry_by_statement(conn: &Connection, statement_id: &str) -> Result<Option<StoredEntry>> {
    let mut stmt = conn
        .prepare_cached("SELECT idx, body FROM entries WHERE statement_id = ?1")
        .map_err(db_err)?;
    let mut rows = stmt.query([statement_id]).map_err(db_err)?;
    match rows.next().map_err(db_err)? {
        Some(r) => entry_from_row(r).map(Some),
        None => Ok(None),
    }
}

/// One read transaction (one snapshot) of prepared point lookups: in-process, each costs
/// microseconds, so what a batch saves is the trips to the blocking pool and the connection locks.
fn read_entries_by_statements(
    conn: &mut Connection,
    statement_ids: &[String],
) -> Result<Vec<Option<StoredEntry>>> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut stmt = tx
        .prepare_cached("SELECT idx, body FROM entries WHERE statement_id = ?1")
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(statement_ids.len());
    for id in statement_ids {
        let mut rows = stmt.query([id]).map_err(db_err)?;
        out.push(match rows.next().map_err(db_err)? {
            Some(r) => Some(entry_from_row(r)?),
            None => None,
        });
    }
    Ok(out)
}

fn read_aggregate_events(
    conn: &Connection,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<Event>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE aggregate_type = ?1 AND aggregate_id = ?2 ORDER BY sequence"
        ))
        .map_err(db_err)?;
    let mut rows = stmt
        .query(params![aggregate_type, aggregate_id])
        .map_err(db_err)?;
    let mut out: Vec<Event> = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let (_, ev) = event_from_row(r)?;
        let expected = out.len() as u64 + 1;
        if ev.sequence != expected {
            return Err(StoreError::Corrupt(format!(
                "event {aggregate_type}/{aggregate_id}#{expected} is missing"
            )));
        }
        out.push(ev);
    }
    Ok(out)
}

/// Two steps, each an ordered index scan: find the first `limit` entries (from `from` on) holding
/// an event of one of the types, then read those entries' matching events in (idx, ord) order.
fn read_events_of_types(
    conn: &mut Connection,
    types: &[String],
    from: u64,
    limit: u32,
) -> Result<Vec<(u64, Event)>> {
    let Some(from_i) = from_bound(from) else {
        return Ok(Vec::new());
    };
    if types.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let tx = conn.transaction().map_err(db_err)?;
    let mut idxs: Vec<i64> = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT DISTINCT idx FROM events WHERE aggregate_type = ?1 AND idx >= ?2
                 ORDER BY idx LIMIT ?3",
            )
            .map_err(db_err)?;
        for t in types {
            let mut rows = stmt.query(params![t, from_i, limit]).map_err(db_err)?;
            while let Some(r) = rows.next().map_err(db_err)? {
                idxs.push(r.get(0).map_err(db_err)?);
            }
        }
    }
    idxs.sort_unstable();
    idxs.dedup();
    let Some(&last) = idxs.get(limit as usize - 1).or(idxs.last()) else {
        return Ok(Vec::new());
    };
    let placeholders = (0..types.len())
        .map(|i| format!("?{}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE idx >= ?1 AND idx <= ?2 AND aggregate_type IN ({placeholders})
             ORDER BY idx, ord"
        ))
        .map_err(db_err)?;
    let mut bind: Vec<&dyn rusqlite::ToSql> = vec![&from_i, &last];
    bind.extend(types.iter().map(|t| t as &dyn rusqlite::ToSql));
    let mut rows = stmt.query(bind.as_slice()).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        out.push(event_from_row(r)?);
    }
    Ok(out)
}

fn read_entries_of_household(
    conn: &Connection,
    household: &str,
    from: u64,
    limit: u32,
) -> Result<Vec<u64>> {
    let Some(from_i) = from_bound(from) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT idx FROM entry_households WHERE household = ?1 AND idx >= ?2
             ORDER BY idx LIMIT ?3",
        )
        .map_err(db_err)?;
    let mut rows = stmt
        .query(params![household, from_i, limit])
        .map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let idx: i64 = r.get(0).map_err(db_err)?;
        out.push(stored_u64("a household's entry index", idx)?);
    }
    Ok(out)
}

fn read_schema_version(conn: &Connection) -> Result<u32> {
    let v: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(db_err)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("schema version {v} is not valid")))
}

// ---------------------------------------------------------------------------------------------
// Checkpoints, cosignatures and the vault

/// A checkpoint query: the checkpoints `picked` selects, each joined with its cosignatures in the
/// order added (one row per cosignature, or one row with none).
macro_rules! with_cosignatures {
    ($picked:literal) => {
        concat!(
            "SELECT c.size, c.root, c.note, c.signed_at_ms, s.witness, s.line FROM (",
            $picked,
            ") c LEFT JOIN cosignatures s ON s.size = c.size
             ORDER BY c.size, s.added_at_ms, s.witness"
        )
    };
}

const CHECKPOINT_AT: &str = with_cosignatures!("SELECT * FROM checkpoints WHERE size = ?1");
const LATEST_CHECKPOINT: &str =
    with_cosignatures!("SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1");
const CHECKPOINTS_FROM: &str =
    with_cosignatures!("SELECT * FROM checkpoints WHERE size >= ?1 ORDER BY size LIMIT ?2");

fn read_checkpoints(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredCheckpoint>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let mut rows = stmt.query(params).map_err(db_err)?;
    let mut out = CheckpointRows::default();
    while let Some(r) = rows.next().map_err(db_err)? {
        let size: i64 = r.get(0).map_err(db_err)?;
        let witness: Option<String> = r.get(4).map_err(db_err)?;
        let line: Option<String> = r.get(5).map_err(db_err)?;
        out.push(
            stored_u64("a checkpoint's size", size)?,
            || {
                let root: Vec<u8> = r.get(1).map_err(db_err)?;
                let note: String = r.get(2).map_err(db_err)?;
                let signed_at_ms: i64 = r.get(3).map_err(db_err)?;
                Ok((root, note, signed_at_ms))
            },
            witness.zip(line),
        )?;
    }
    out.finish()
}

fn read_checkpoint(conn: &Connection, size: u64) -> Result<Option<StoredCheckpoint>> {
    let Some(at) = from_bound(size) else {
        return Ok(None);
    };
    Ok(read_checkpoints(conn, CHECKPOINT_AT, [at])?.pop())
}

fn save_checkpoint(conn: &mut Connection, c: &StoredCheckpoint) -> Result<()> {
    let refused = |why: String| {
        StoreError::Corrupt(format!(
            "refused to store the checkpoint of size {}: {why}",
            c.size
        ))
    };
    check_checkpoint_note(c.size, &c.root, &c.note).map_err(refused)?;
    let size =
        from_bound(c.size).ok_or_else(|| refused("its size does not fit an integer".into()))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let stored: Option<Vec<u8>> = tx
        .prepare_cached("SELECT root FROM checkpoints WHERE size = ?1")
        .and_then(|mut s| s.query_row([size], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match stored {
        Some(root) if root == c.root.0 => return Ok(()),
        Some(root) => {
            let root = stored_hash("a stored checkpoint's root", root)?;
            return Err(StoreError::Conflict(format!(
                "规模 {} 已有不同根的检查点 / a checkpoint of size {} with root {root} is already \
                 stored; the log never signs a second one with root {}: run `bangfu verify`",
                c.size, c.size, c.root
            )));
        }
        None => {}
    }
    tx.prepare_cached(
        "INSERT INTO checkpoints (size, root, note, signed_at_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![size, &c.root.0[..], c.note, c.signed_at_ms]))
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

fn add_cosignature(
    conn: &mut Connection,
    size: u64,
    witness: &str,
    line: &str,
    added_at_ms: i64,
) -> Result<()> {
    let no_checkpoint = || {
        StoreError::Conflict(format!(
            "没有规模为 {size} 的检查点 / no checkpoint of size {size} is stored; a witness \
             cosigns only a checkpoint the log signed"
        ))
    };
    let at = from_bound(size).ok_or_else(no_checkpoint)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let stored = read_checkpoint(&tx, size)?.ok_or_else(no_checkpoint)?;
    if stored.cosignatures.iter().any(|(w, _)| w == witness) {
        return Ok(());
    }
    check_cosignature_line(&stored.cosigned_note(), witness, line).map_err(|why| {
        StoreError::Corrupt(format!(
            "refused to store {witness}'s cosignature of the checkpoint of size {size}: {why}"
        ))
    })?;
    tx.prepare_cached(
        "INSERT INTO cosignatures (size, witness, line, added_at_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![at, witness, line, added_at_ms]))
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

fn put_openings(conn: &mut Connection, rows: &[VaultRow]) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    {
        // Insert only what is missing: a held commitment is left as it is (and REPLACE is
        // refused by a trigger).
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO vault (commitment, salt, value) SELECT ?1, ?2, ?3
                 WHERE NOT EXISTS (SELECT 1 FROM vault WHERE commitment = ?1)",
            )
            .map_err(db_err)?;
        for r in rows {
            insert
                .execute(params![&r.commitment[..], &r.salt[..], r.value])
                .map_err(db_err)?;
        }
    }
    tx.commit().map_err(db_err)
}

fn opening_from_sqlite(r: &rusqlite::Row<'_>) -> Result<Opening> {
    let commitment: Vec<u8> = r.get(0).map_err(db_err)?;
    let salt: Vec<u8> = r.get(1).map_err(db_err)?;
    let value: String = r.get(2).map_err(db_err)?;
    opening_from_row(&commitment, &salt, &value)
}

fn read_openings(conn: &Connection, after: Option<Hash>, limit: u32) -> Result<Vec<Opening>> {
    let mut out = Vec::new();
    let mut collect = |mut rows: rusqlite::Rows<'_>| -> Result<()> {
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(opening_from_sqlite(r)?);
        }
        Ok(())
    };
    match after {
        Some(h) => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT commitment, salt, value FROM vault WHERE commitment > ?1
                     ORDER BY commitment LIMIT ?2",
                )
                .map_err(db_err)?;
            collect(stmt.query(params![&h.0[..], limit]).map_err(db_err)?)?;
        }
        None => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT commitment, salt, value FROM vault ORDER BY commitment LIMIT ?1",
                )
                .map_err(db_err)?;
            collect(stmt.query([limit]).map_err(db_err)?)?;
        }
    }
    Ok(out)
}

fn read_opening(conn: &Connection, commitment: &Hash) -> Result<Option<Opening>> {
    let mut stmt = conn
        .prepare_cached("SELECT commitment, salt, value FROM vault WHERE commitment = ?1")
        .map_err(db_err)?;
    let mut rows = stmt.query([&commitment.0[..]]).map_err(db_err)?;
    match rows.next().map_err(db_err)? {
        Some(r) => opening_from_sqlite(r).map(Some),
        None => Ok(None),
    }
}

impl Backend for SqliteBackend {
    async fn size(&self) -> Result<u64> {
        self.on_reader(|c| size_of(c)).await
    }

    async fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>> {
        let positions = positions.to_vec();
        self.on_reader(move |c| read_hashes(c, &positions)).await
    }

    /// One `BEGIN IMMEDIATE` transaction on the writer connection: size check, prepared inserts,
    /// `COMMIT` (fsynced). See [`Backend::append`].
    async fn append(&self, batch: &Batch) -> Result<()> {
        let batch = prepare_batch(batch)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            append_batch(&mut inner.conns.writer(), &batch)?;
            if let Some(c) = &inner.checkpointer {
                c.committed(batch.entries.len() as u64);
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    async fn entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>> {
        self.on_reader(move |c| read_entries(c, from, limit)).await
    }

    async fn entry_by_statement(&self, statement_id: &str) -> Result<Option<StoredEntry>> {
        let id = statement_id.to_owned();
        self.on_reader(move |c| read_entry_by_statement(c, &id))
            .await
    }

    async fn entries_by_statements(
        &self,
        statement_ids: &[&str],
    ) -> Result<Vec<Option<StoredEntry>>> {
        if statement_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = statement_ids.iter().map(|id| (*id).to_owned()).collect();
        self.on_reader(move |c| read_entries_by_statements(c, &ids))
            .await
    }

    async fn aggregate_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<Event>> {
        let (t, id) = (aggregate_type.to_owned(), aggregate_id.to_owned());
        self.on_reader(move |c| read_aggregate_events(c, &t, &id))
            .await
    }

    /// `limit` counts entries, not events: the events of at most `limit` entries that hold an event
    /// of one of `aggregate_types`, with index ≥ `from`, in (entry index, position in entry)
    /// order. An empty answer means there is nothing more from `from` on; otherwise continue from
    /// the last index returned plus one.
    async fn events_of_types(
        &self,
        aggregate_types: &[&str],
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, Event)>> {
        let mut types: Vec<String> = aggregate_types.iter().map(|t| (*t).to_owned()).collect();
        types.sort_unstable();
        types.dedup();
        self.on_reader(move |c| read_events_of_types(c, &types, from, limit))
            .await
    }

    async fn entries_of_household(
        &self,
        household: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<u64>> {
        let h = household.to_owned();
        self.on_reader(move |c| read_entries_of_household(c, &h, from, limit))
            .await
    }

    async fn schema_version(&self) -> Result<u32> {
        self.on_reader(|c| read_schema_version(c)).await
    }

    async fn save_checkpoint(&self, c: &StoredCheckpoint) -> Result<()> {
        let c = c.clone();
        self.on_writer(move |conn| save_checkpoint(conn, &c)).await
    }

    async fn checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>> {
        self.on_reader(move |c| read_checkpoint(c, size)).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.on_reader(|c| Ok(read_checkpoints(c, LATEST_CHECKPOINT, [])?.pop()))
            .await
    }

    async fn checkpoints(&self, from_size: u64, limit: u32) -> Result<Vec<StoredCheckpoint>> {
        let Some(from) = from_bound(from_size) else {
            return Ok(Vec::new());
        };
        self.on_reader(move |c| read_checkpoints(c, CHECKPOINTS_FROM, params![from, limit]))
            .await
    }

    async fn add_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        added_at_ms: i64,
    ) -> Result<()> {
        let (witness, line) = (witness.to_owned(), line.to_owned());
        self.on_writer(move |c| add_cosignature(c, size, &witness, &line, added_at_ms))
            .await
    }

    async fn put_openings(&self, openings: &[Opening]) -> Result<()> {
        let rows = vault_rows(openings)?;
        if rows.is_empty() {
            return Ok(());
        }
        self.on_writer(move |c| put_openings(c, &rows)).await
    }

    async fn openings(&self, after: Option<Hash>, limit: u32) -> Result<Vec<Opening>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.on_reader(move |c| read_openings(c, after, limit))
            .await
    }

    async fn opening(&self, commitment: &Hash) -> Result<Option<Opening>> {
        let commitment = *commitment;
        self.on_reader(move |c| read_opening(c, &commitment)).await
    }

    async fn erase_opening(&self, commitment: &Hash) -> Result<bool> {
        let commitment = *commitment;
        self.on_writer(move |c| {
            let deleted = c
                .prepare_cached("DELETE FROM vault WHERE commitment = ?1")
                .and_then(|mut s| s.execute([&commitment.0[..]]))
                .map_err(db_err)?;
            Ok(deleted > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATION_3: &str = "CREATE TABLE extra (x INTEGER NOT NULL) STRICT;";
    const BROKEN_3: &str =
        "CREATE TABLE extra (x INTEGER NOT NULL) STRICT; CREATE TABLE entries (x);";

    fn mem() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    fn versions(c: &Connection) -> Vec<i64> {
        let mut s = c
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn has_table(c: &Connection, name: &str) -> bool {
        c.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn an_older_store_is_migrated_once() {
        let mut c = mem();
        // A store of version 1, as the first release wrote it, gains checkpoints and the vault.
        assert_eq!(migrate(&mut c, &MIGRATIONS[..1]).unwrap(), 1);
        assert!(!has_table(&c, "checkpoints"));
        assert_eq!(migrate(&mut c, MIGRATIONS).unwrap(), SCHEMA_VERSION);
        for t in ["checkpoints", "cosignatures", "vault"] {
            assert!(has_table(&c, t), "{t}");
        }
        assert_eq!(versions(&c), [1, 2]);
        let later = [
            Migration {
                version: 1,
                sql: MIGRATION_1,
            },
            Migration {
                version: 2,
                sql: MIGRATION_2,
            },
            Migration {
                version: 3,
                sql: MIGRATION_3,
            },
        ];
        assert_eq!(migrate(&mut c, &later).unwrap(), 3);
        assert!(has_table(&c, "extra"));
        assert_eq!(versions(&c), [1, 2, 3]);
        assert_eq!(migrate(&mut c, &later).unwrap(), 3);
        assert_eq!(versions(&c), [1, 2, 3]);
        // An older build refuses a newer store rather than misreading it.
        let err = migrate(&mut c, MIGRATIONS).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("newer")),
            "{err}"
        );
    }

    #[test]
    fn a_failing_migration_leaves_the_store_as_it_was() {
        let mut c = mem();
        migrate(&mut c, MIGRATIONS).unwrap();
        let broken = [
            Migration {
                version: 1,
                sql: MIGRATION_1,
            },
            Migration {
                version: 2,
                sql: MIGRATION_2,
            },
            Migration {
                version: 3,
                sql: BROKEN_3,
            },
        ];
        assert!(migrate(&mut c, &broken).is_err());
        assert!(!has_table(&c, "extra"));
        assert_eq!(versions(&c), [1, 2]);
    }

    #[test]
    fn the_trigger_messages_are_the_published_ones() {
        // RAISE takes a literal, so the SQL spells each message out; they must stay equal.
        assert_eq!(
            MIGRATION_2.matches(CHECKPOINTS_APPEND_ONLY_MESSAGE).count(),
            6
        );
        assert_eq!(MIGRATION_2.matches(VAULT_NO_UPDATE_MESSAGE).count(), 2);
        assert_eq!(MIGRATION_1.matches(APPEND_ONLY_MESSAGE).count(), 12);
    }

    #[test]
    fn another_programs_database_is_refused() {
        let mut c = mem();
        c.execute_batch("CREATE TABLE notes (t TEXT)").unwrap();
        let err = migrate(&mut c, MIGRATIONS).unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt(m) if m.contains("not a bangfu store")));
        let mut c = mem();
        c.pragma_update(None, "application_id", 7).unwrap();
        assert!(migrate(&mut c, MIGRATIONS).is_err());
    }

    #[test]
    fn the_migration_sets_the_application_id() {
        let mut c = mem();
        migrate(&mut c, MIGRATIONS).unwrap();
        let id: i64 = c
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID);
    }
}
