//! Read models in an embedded SQLite file of their own (rusqlite, SQLite bundled).
//!
//! The caller passes a path beside the log, e.g. `<data dir>/readmodels.sqlite`, never the log's
//! file: SQLite has one write lock per file, and the projector must never make an append wait for
//! it. (A file carrying the log's `application_id` is refused for that reason.)
//!
//! # Tables
//!
//! ```sql
//! CREATE TABLE rm_docs (key TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL) STRICT, WITHOUT ROWID;
//! CREATE TABLE rm_cursor (id INTEGER PRIMARY KEY CHECK (id = 0),
//!                         applied INTEGER NOT NULL CHECK (applied >= 0)) STRICT;
//! ```
//!
//! `key` keeps SQLite's default `BINARY` collation, a byte-wise comparison, so a prefix is a
//! contiguous range of the primary key. A rebuild fills `rm_next_docs` / `rm_next_cursor` (dropped
//! and made afresh by [`ViewStore::start_rebuild`]); [`ViewStore::promote`] drops the live pair
//! and renames the new one into place in one transaction, so a reader sees the old rows or the new
//! ones. Readers keep working across a promote: SQLite notices the schema change and prepares
//! their cached statements again, which resolves the names to the renamed tables.
//!
//! # Durability and concurrency
//!
//! As for the log, and opened by the same code (`bangfu_store::sqlite::open_writer`): WAL,
//! `synchronous=FULL`, a busy timeout, the file created `0600` in a folder created `0700`.
//! rusqlite is blocking, so every call runs on [`tokio::task::spawn_blocking`]. One writer
//! connection behind a mutex takes SQLite's write lock with `BEGIN IMMEDIATE`, so the cursor it
//! checks cannot move before it commits; a few read-only connections serve `applied`, `get` and
//! `scan`, and in WAL mode they never wait for a commit.
//! A rebuild store opens its own connections to the same file.
//!
//! Nothing read from the file is trusted: a value of the wrong type or bad UTF-8 is
//! [`ViewError::Corrupt`], never a panic.

use crate::views::{Result, ViewError, ViewStore, prefix_end};
use bangfu_store::sqlite::{self, Connections, OpenError};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a connection waits for another one's lock (a rebuild's commit, another process)
/// before giving up with [`ViewError::Unavailable`]: the log's, as the connections are opened the
/// same way.
pub const BUSY_TIMEOUT: Duration = sqlite::BUSY_TIMEOUT;

/// How many read-only connections a store keeps.
pub const READERS: usize = 2;

/// `PRAGMA application_id` of a read-model file: "BFRM".
const APPLICATION_ID: i64 = 0x4246_524D;

/// The log's `application_id` ("BFLG", see `bangfu_store::sqlite`).
const LOG_APPLICATION_ID: i64 = 0x4246_4C47;

/// Which pair of tables a store addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tables {
    Live,
    Next,
}

impl Tables {
    fn docs(self) -> &'static str {
        match self {
            Tables::Live => "rm_docs",
            Tables::Next => "rm_next_docs",
        }
    }

    fn cursor(self) -> &'static str {
        match self {
            Tables::Live => "rm_cursor",
            Tables::Next => "rm_next_cursor",
        }
    }
}

/// The statements of one pair of tables, spelled once.
struct Sql {
    applied: String,
    get: String,
    set_cursor: String,
    upsert: String,
    /// `[key > ?1 | key >= ?1] [AND key < ?2]`: the tighter lower bound is chosen in Rust,
    /// because SQLite uses only one lower bound of a range to seek.
    scan_after_until: String,
    scan_from_until: String,
    scan_after: String,
    scan_from: String,
}

impl Sql {
    fn of(t: Tables) -> Sql {
        let (docs, cursor) = (t.docs(), t.cursor());
        let scan = |cond: &str, limit: &str| {
            format!("SELECT key, doc FROM {docs} WHERE {cond} ORDER BY key LIMIT {limit}")
        };
        Sql {
            applied: format!("SELECT applied FROM {cursor} WHERE id = 0"),
            get: format!("SELECT doc FROM {docs} WHERE key = ?1"),
            set_cursor: format!("UPDATE {cursor} SET applied = ?1 WHERE id = 0"),
            // An unchanged document is not rewritten: no new row version, no log volume.
            upsert: format!(
                "INSERT INTO {docs} (key, doc) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET doc = excluded.doc \
                 WHERE doc IS NOT excluded.doc"
            ),
            scan_after_until: scan("key > ?1 AND key < ?2", "?3"),
            scan_from_until: scan("key >= ?1 AND key < ?2", "?3"),
            scan_after: scan("key > ?1", "?2"),
            scan_from: scan("key >= ?1", "?2"),
        }
    }
}

/// Read models in a SQLite file. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteViews {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    shown: String,
    tables: Tables,
    sql: Sql,
    conns: Connections,
}

impl fmt::Debug for SqliteViews {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteViews")
            .field("path", &self.inner.path)
            .field("tables", &self.inner.tables.docs())
            .finish_non_exhaustive()
    }
}

impl SqliteViews {
    /// Opens the read models at `path`, creating the file (mode `0600` on unix), its folder and the
    /// tables if missing. The log's own file, or another program's database, is refused.
    pub async fn open(path: &Path) -> Result<SqliteViews> {
        let path = path.to_path_buf();
        blocking(move || open_blocking(path, Tables::Live)).await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn on_writer<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || f(&inner, &mut inner.conns.writer())).await
    }

    async fn on_reader<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || f(&inner, &inner.conns.reader())).await
    }
}

async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ViewError::Unavailable(format!(
            "读模型数据库任务失败 / the database task failed: {e}"
        ))
    })?
}

/// Opens connections to `path` addressing `tables`. For the live tables, creates them if
/// missing; for the rebuild tables, drops any left over and creates them empty.
fn open_blocking(path: PathBuf, tables: Tables) -> Result<SqliteViews> {
    let shown = path.display().to_string();
    let mut writer = sqlite::open_writer(&path).map_err(|e| open_failed(&shown, e, "opening"))?;
    for (pragma, value) in [
        // A rebuild's large commits grow the WAL file; shrink it back after each checkpoint.
        ("journal_size_limit", "67108864"),
        // Upserts into a large table touch many b-tree pages: 64 MiB of page cache.
        ("cache_size", "-65536"),
    ] {
        writer
            .pragma_update(None, pragma, value)
            .map_err(|e| fail(&shown, &format!("setting {pragma}"), e))?;
    }
    set_up_tables(&mut writer, tables).map_err(|e| match e {
        ViewError::Unavailable(why) => ViewError::Unavailable(format!("{shown}: {why}")),
        ViewError::Corrupt(why) => ViewError::Corrupt(format!("{shown}: {why}")),
        other => other,
    })?;
    let conns = Connections::open(writer, &path, READERS)
        .map_err(|e| open_failed(&shown, e, "opening to read"))?;
    Ok(SqliteViews {
        inner: Arc::new(Inner {
            path,
            shown,
            tables,
            sql: Sql::of(tables),
            conns,
        }),
    })
}

impl Inner {
    fn fail<'a>(&'a self, what: &'a str) -> impl FnOnce(rusqlite::Error) -> ViewError + 'a {
        move |e| fail(&self.shown, what, e)
    }
}

/// In one `BEGIN IMMEDIATE` transaction: checks that the file is a read-model file (or a new
/// one), then creates `tables` if missing, or afresh for a rebuild.
fn set_up_tables(conn: &mut Connection, tables: Tables) -> Result<()> {
    let plain = |what: &'static str| move |e| fail("", what, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(plain("starting to set up the tables"))?;
    let app_id: i64 = tx
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(plain("reading the application id"))?;
    match app_id {
        APPLICATION_ID => {}
        LOG_APPLICATION_ID => {
            return Err(ViewError::Unavailable(
                "这是账本文件，读模型需要单独的文件 / this is the log's file; read models need a \
                 file of their own (e.g. readmodels.sqlite beside it)"
                    .into(),
            ));
        }
        0 => {
            // A new file, or someone else's database that never set an id: only the former may
            // become a read-model file.
            let others: i64 = tx
                .query_row(
                    "SELECT count(*) FROM sqlite_schema \
                     WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'rm\\_%' ESCAPE '\\'",
                    [],
                    |r| r.get(0),
                )
                .map_err(plain("looking at the file's tables"))?;
            if others > 0 {
                return Err(ViewError::Unavailable(format!(
                    "不是读模型文件 / not a read-model file: it holds {others} other tables or indexes"
                )));
            }
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(plain("setting the application id"))?;
        }
        other => {
            return Err(ViewError::Unavailable(format!(
                "不是读模型文件 / not a read-model file: the SQLite file belongs to another program \
                 (application_id {other:#x})"
            )));
        }
    }
    let (docs, cursor) = (tables.docs(), tables.cursor());
    if tables == Tables::Next {
        // Whatever an interrupted rebuild left.
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {docs}; DROP TABLE IF EXISTS {cursor};"
        ))
        .map_err(plain("dropping an interrupted rebuild's tables"))?;
    }
    let has_cursor: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            [cursor],
            |r| r.get(0),
        )
        .map_err(plain("looking for the cursor table"))?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {docs} (
             key TEXT PRIMARY KEY NOT NULL,
             doc TEXT NOT NULL
         ) STRICT, WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS {cursor} (
             id      INTEGER PRIMARY KEY CHECK (id = 0),
             applied INTEGER NOT NULL CHECK (applied >= 0)
         ) STRICT;"
    ))
    .map_err(plain("creating the tables"))?;
    if !has_cursor {
        // Only with a new table: a cursor row that vanished later is damage, not a fresh start.
        tx.execute(
            &format!("INSERT INTO {cursor} (id, applied) VALUES (0, 0)"),
            [],
        )
        .map_err(plain("writing the first cursor"))?;
    }
    tx.commit().map_err(plain("committing the tables"))
}

/// An error opening a connection, worded as [`fail`] does; `opening` names the step when SQLite
/// could not open the file at all.
fn open_failed(shown: &str, e: OpenError, opening: &str) -> ViewError {
    match e {
        OpenError::Create(why) => ViewError::Unavailable(why),
        OpenError::Open(e) => fail(shown, opening, e),
        OpenError::Setting { step, error } => fail(shown, step, error),
        e @ OpenError::NoWal(_) => ViewError::Unavailable(format!("{shown}: {e}")),
    }
}

/// Maps a database error, saying where and what was being done: damage and values of the wrong
/// type are `Corrupt`; everything else (I/O, a full disk, a lock held too long) is `Unavailable`.
fn fail(shown: &str, what: &str, e: rusqlite::Error) -> ViewError {
    use rusqlite::Error as E;
    let at = if shown.is_empty() {
        String::new()
    } else {
        format!("{shown}: ")
    };
    match &e {
        E::SqliteFailure(f, _) if f.code == ErrorCode::NotADatabase => {
            ViewError::Unavailable(format!(
                "{at}{what}: not a SQLite database, so not a read-model file ({e}); check the path"
            ))
        }
        E::SqliteFailure(f, _) if f.code == ErrorCode::DatabaseCorrupt => {
            ViewError::Corrupt(format!("{at}{what}: the SQLite file is damaged ({e})"))
        }
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..)
        | E::InvalidColumnType(..) => {
            ViewError::Corrupt(format!("{at}{what}: a stored value: {e}"))
        }
        _ => ViewError::Unavailable(format!("{at}{what}: {e}")),
    }
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| ViewError::Unavailable(format!("{what} {v} does not fit in a SQLite integer")))
}

fn read_applied(inner: &Inner, conn: &Connection) -> Result<u64> {
    let v: Option<i64> = conn
        .prepare_cached(&inner.sql.applied)
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(inner.fail("reading the cursor"))?;
    let v = v.ok_or_else(|| {
        ViewError::Corrupt(format!(
            "{}: the cursor row of {} is missing",
            inner.shown,
            inner.tables.cursor()
        ))
    })?;
    u64::try_from(v)
        .map_err(|_| ViewError::Corrupt(format!("{}: the cursor is negative ({v})", inner.shown)))
}

impl ViewStore for SqliteViews {
    async fn applied(&self) -> Result<u64> {
        self.on_reader(read_applied).await
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.on_reader(move |inner, conn| {
            conn.prepare_cached(&inner.sql.get)
                .and_then(|mut s| s.query_row([&key], |r| r.get(0)).optional())
                .map_err(inner.fail("reading a row"))
        })
        .await
    }

    async fn commit(&self, from: u64, to: u64, rows: &[(String, String)]) -> Result<()> {
        let to_db = to_i64(to, "the cursor")?;
        // spawn_blocking needs owned data; copying is small next to the upserts themselves.
        let rows = rows.to_vec();
        self.on_writer(move |inner, conn| {
            // IMMEDIATE: the write lock is taken before the cursor is read, so the check holds
            // until COMMIT, also against another process.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(inner.fail("starting a commit"))?;
            let found = read_applied(inner, &tx)?;
            if found != from {
                // Dropping `tx` rolls back.
                return Err(ViewError::Conflict {
                    expected: from,
                    found,
                });
            }
            {
                let mut upsert = tx
                    .prepare_cached(&inner.sql.upsert)
                    .map_err(inner.fail("preparing the upsert"))?;
                // In key order, b-tree inserts touch each page once (about 1.5x faster for a
                // scattered batch). Stable, so of a key written twice the last write wins.
                let mut order: Vec<usize> = (0..rows.len()).collect();
                order.sort_by(|&a, &b| rows[a].0.cmp(&rows[b].0));
                for (key, doc) in order.iter().map(|&i| &rows[i]) {
                    upsert
                        .execute(params![key, doc])
                        .map_err(inner.fail("writing a row"))?;
                }
            }
            tx.prepare_cached(&inner.sql.set_cursor)
                .and_then(|mut s| s.execute([to_db]))
                .map_err(inner.fail("moving the cursor"))?;
            tx.commit().map_err(inner.fail("committing"))
        })
        .await
    }

    async fn scan(&self, prefix: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The tighter of the two lower bounds, so the seek lands on the first candidate.
        let (lower, strict) = if after >= prefix {
            (after.to_owned(), true)
        } else {
            (prefix.to_owned(), false)
        };
        let end = prefix_end(prefix);
        let prefix = prefix.to_owned();
        let limit = i64::from(limit);
        self.on_reader(move |inner, conn| {
            let sql = &inner.sql;
            let rows = |mut stmt: rusqlite::CachedStatement<'_>,
                        params: &[&dyn rusqlite::ToSql]| {
                stmt.query_map(params, |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            };
            let found = match (&end, strict) {
                (Some(end), true) => conn
                    .prepare_cached(&sql.scan_after_until)
                    .and_then(|s| rows(s, &[&lower, end, &limit])),
                (Some(end), false) => conn
                    .prepare_cached(&sql.scan_from_until)
                    .and_then(|s| rows(s, &[&lower, end, &limit])),
                (None, true) => conn
                    .prepare_cached(&sql.scan_after)
                    .and_then(|s| rows(s, &[&lower, &limit])),
                (None, false) => conn
                    .prepare_cached(&sql.scan_from)
                    .and_then(|s| rows(s, &[&lower, &limit])),
            }
            .map_err(inner.fail("scanning rows"))?;
            // Keys sharing the prefix are contiguous and first, so this only trims the tail when
            // `prefix_end` had no answer (a prefix ending in non-ASCII bytes).
            Ok(found
                .into_iter()
                .take_while(|(k, _)| k.starts_with(prefix.as_str()))
                .collect())
        })
        .await
    }

    async fn start_rebuild(&self) -> Result<SqliteViews> {
        let path = self.inner.path.clone();
        blocking(move || open_blocking(path, Tables::Next)).await
    }

    async fn promote(self) -> Result<()> {
        if self.inner.tables != Tables::Next {
            return Err(ViewError::Unavailable(
                "只能提升重建的读模型 / only a store from start_rebuild can be promoted; the live \
                 tables are unchanged"
                    .into(),
            ));
        }
        self.on_writer(|inner, conn| {
            // Nothing cached may hold the tables being renamed.
            conn.flush_prepared_statement_cache();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(inner.fail("starting the promotion"))?;
            let present: i64 = tx
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (?1, ?2)",
                    [Tables::Next.docs(), Tables::Next.cursor()],
                    |r| r.get(0),
                )
                .map_err(inner.fail("looking for the rebuilt tables"))?;
            if present != 2 {
                return Err(ViewError::Unavailable(format!(
                    "{}: 重建的表已不存在 / the rebuilt tables are gone (another rebuild started?); \
                     the live tables are unchanged",
                    inner.shown
                )));
            }
            let (live, next) = (Tables::Live, Tables::Next);
            tx.execute_batch(&format!(
                "DROP TABLE IF EXISTS {};
                 DROP TABLE IF EXISTS {};
                 ALTER TABLE {} RENAME TO {};
                 ALTER TABLE {} RENAME TO {};",
                live.docs(),
                live.cursor(),
                next.docs(),
                live.docs(),
                next.cursor(),
                live.cursor(),
            ))
            .map_err(inner.fail("swapping in the rebuilt tables"))?;
            tx.commit().map_err(inner.fail("committing the promotion"))
        })
        .await
    }
}
