//! Read models on PostgreSQL, in the log's database (tokio-postgres + deadpool-postgres).
//!
//! # Tables
//!
//! ```sql
//! CREATE TABLE rm_docs (
//!     key text COLLATE "C" NOT NULL,  -- byte-wise order, as on SQLite, whatever the database locale
//!     doc text NOT NULL,
//!     CONSTRAINT rm_docs_pkey PRIMARY KEY (key));
//! CREATE TABLE rm_cursor (
//!     id smallint NOT NULL, applied bigint NOT NULL,
//!     CONSTRAINT rm_cursor_pkey PRIMARY KEY (id),
//!     CONSTRAINT rm_cursor_id_check CHECK (id = 0),
//!     CONSTRAINT rm_cursor_applied_check CHECK (applied >= 0));
//! ```
//!
//! [`PgViews::connect`] creates them when missing, under an advisory lock so two processes
//! starting together do not race. A rebuild fills `rm_next_docs` / `rm_next_cursor` (dropped and
//! made afresh by [`ViewStore::start_rebuild`]); [`ViewStore::promote`] drops the live pair and
//! renames the new one, constraints included (a primary key's index is a relation, so a leftover
//! `rm_next_docs_pkey` would clash with the next rebuild's), in one transaction. Statements other
//! connections have prepared keep working: PostgreSQL re-analyses them when a table they name is
//! dropped, which finds the renamed one.
//!
//! A commit is one READ COMMITTED transaction: `SELECT … FOR UPDATE` on the cursor row (so two
//! projectors cannot both pass the check), one `INSERT … SELECT FROM UNNEST(keys, docs) ON
//! CONFLICT DO UPDATE` for every row, the cursor moved, `COMMIT`. The promotion locks `rm_cursor`
//! before `rm_docs`, the order a commit takes them in, so the two never deadlock.
//!
//! # Roles
//!
//! Live projection needs `SELECT, INSERT, UPDATE` on `rm_docs` and `rm_cursor`. A rebuild drops
//! and renames tables, which only their owner may do, and creates tables, which needs `CREATE` on
//! the schema; the grants on a table go with it, so after a promotion the live tables are the ones
//! the rebuild created. So the role that runs the projector owns the read models, and the service
//! reads them through default privileges, which follow each rebuild:
//!
//! ```sql
//! CREATE ROLE bangfu_projector LOGIN PASSWORD '…';
//! GRANT CONNECT ON DATABASE bangfu TO bangfu_projector;
//! GRANT USAGE, CREATE ON SCHEMA public TO bangfu_projector;  -- the rm_ tables, every rebuild's
//! GRANT SELECT ON entries, events, entry_households, tree_hashes, schema_migrations
//!     TO bangfu_projector;                                  -- it follows the log, never writes it
//! -- Tables bangfu_projector creates (and only those) are readable by the service:
//! ALTER DEFAULT PRIVILEGES FOR ROLE bangfu_projector IN SCHEMA public
//!     GRANT SELECT ON TABLES TO bangfu_service;
//! -- Then connect once as bangfu_projector, which creates rm_docs and rm_cursor. Tables made
//! -- earlier by another role: ALTER TABLE rm_docs OWNER TO bangfu_projector (and rm_cursor).
//! ```
//!
//! Connecting needs no `CREATE` when the tables exist (they are created only when missing), so the
//! service can open them read-only. Never give bangfu_projector `UPDATE`/`DELETE` on the log's
//! tables, nor membership in the log's owner role.

use crate::views::{Result, ViewError, ViewStore, prefix_end};
use bangfu_store::postgres::{self, describe};
use deadpool_postgres::Pool;
use std::fmt;
use std::sync::Arc;
use tokio_postgres::types::FromSql;
use tokio_postgres::{IsolationLevel, Row};

/// The application name the read models' connections give the server unless told otherwise.
const APPLICATION_NAME: &str = "bangfu-projections";

/// Advisory-lock key that serializes creating, rebuilding and promoting read models: "bangfu:V".
pub const VIEWS_LOCK: i64 = i64::from_be_bytes(*b"bangfu:V");

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

    /// Creates the pair if missing, with its first cursor.
    fn create_sql(self) -> String {
        let (docs, cursor) = (self.docs(), self.cursor());
        format!(
            r#"CREATE TABLE IF NOT EXISTS {docs} (
                   key text COLLATE "C" NOT NULL,
                   doc text NOT NULL,
                   CONSTRAINT {docs}_pkey PRIMARY KEY (key)
               );
               CREATE TABLE IF NOT EXISTS {cursor} (
                   id      smallint NOT NULL,
                   applied bigint   NOT NULL,
                   CONSTRAINT {cursor}_pkey PRIMARY KEY (id),
                   CONSTRAINT {cursor}_id_check CHECK (id = 0),
                   CONSTRAINT {cursor}_applied_check CHECK (applied >= 0)
               );
               INSERT INTO {cursor} (id, applied) VALUES (0, 0) ON CONFLICT (id) DO NOTHING;"#
        )
    }
}

/// The statements of one pair of tables, spelled once.
struct Sql {
    applied: String,
    lock_cursor: String,
    set_cursor: String,
    get: String,
    upsert: String,
    scan_until: String,
    scan: String,
}

impl Sql {
    fn of(t: Tables) -> Sql {
        let (docs, cursor) = (t.docs(), t.cursor());
        Sql {
            applied: format!("SELECT applied FROM {cursor} WHERE id = 0"),
            lock_cursor: format!("SELECT applied FROM {cursor} WHERE id = 0 FOR UPDATE"),
            set_cursor: format!("UPDATE {cursor} SET applied = $1 WHERE id = 0"),
            get: format!("SELECT doc FROM {docs} WHERE key = $1"),
            // An unchanged document is not rewritten: no new row version, no log volume.
            upsert: format!(
                "INSERT INTO {docs} (key, doc) SELECT * FROM UNNEST($1::text[], $2::text[]) \
                 ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc \
                 WHERE {docs}.doc IS DISTINCT FROM EXCLUDED.doc"
            ),
            scan_until: format!(
                "SELECT key, doc FROM {docs} WHERE key > $1 AND key >= $2 AND key < $3 \
                 ORDER BY key LIMIT $4"
            ),
            scan: format!(
                "SELECT key, doc FROM {docs} WHERE key > $1 AND key >= $2 ORDER BY key LIMIT $3"
            ),
        }
    }
}

/// Read models in a PostgreSQL database. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgViews {
    pool: Pool,
    tables: Tables,
    sql: Arc<Sql>,
}

impl fmt::Debug for PgViews {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgViews")
            .field("tables", &self.tables.docs())
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .finish()
    }
}

impl PgViews {
    /// Connects to the database at `url` (the log's), creating the read-model tables if missing.
    pub async fn connect(url: &str) -> Result<PgViews> {
        let config = postgres::parse_url(url, APPLICATION_NAME).map_err(|e| {
            ViewError::Unavailable(format!(
                "PostgreSQL 地址无效 / the PostgreSQL URL is not valid: {}",
                describe(&e)
            ))
        })?;
        PgViews::connect_config(config).await
    }

    /// [`PgViews::connect`] with connection settings already parsed or built in code. A connect
    /// timeout of 10 s and the application name `bangfu-projections` are set unless given.
    pub async fn connect_config(config: tokio_postgres::Config) -> Result<PgViews> {
        let pool = postgres::build_pool(config, APPLICATION_NAME)
            .map_err(|e| ViewError::Unavailable(format!("cannot build the pool: {e}")))?;
        let views = PgViews::over(pool, Tables::Live);
        views.create_live_tables().await?;
        Ok(views)
    }

    fn over(pool: Pool, tables: Tables) -> PgViews {
        PgViews {
            pool,
            tables,
            sql: Arc::new(Sql::of(tables)),
        }
    }

    /// The underlying pool, shared with the rebuild store.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        postgres::pooled(&self.pool)
            .await
            .map_err(ViewError::Unavailable)
    }

    /// Creates the live tables only when missing: a role without `CREATE` on the schema can still
    /// open tables that exist (`CREATE TABLE IF NOT EXISTS` checks the privilege first).
    async fn create_live_tables(&self) -> Result<()> {
        let mut client = self.client().await?;
        let tx = locked(&mut client, "starting to create the tables").await?;
        let row = tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
                &[&Tables::Live.docs(), &Tables::Live.cursor()],
            )
            .await
            .map_err(|e| unavailable("looking for the read-model tables", &e))?;
        let exist: bool = col(&row, 0, "the tables' presence")?;
        if !exist {
            tx.batch_execute(&Tables::Live.create_sql())
                .await
                .map_err(|e| unavailable("creating the read-model tables", &e))?;
        }
        tx.commit()
            .await
            .map_err(|e| unavailable("committing the read-model tables", &e))
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &str,
    ) -> Result<Vec<Row>> {
        let client = self.client().await?;
        postgres::query_cached(&client, sql, params, what, unavailable).await
    }
}

/// Starts a READ COMMITTED transaction; `starting` says what it is for, should it fail to start.
async fn begin<'a>(
    client: &'a mut deadpool_postgres::Object,
    starting: &str,
) -> Result<deadpool_postgres::Transaction<'a>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(|e| unavailable(starting, &e))
}

/// [`begin`], then takes [`VIEWS_LOCK`], held until the transaction ends.
async fn locked<'a>(
    client: &'a mut deadpool_postgres::Object,
    starting: &str,
) -> Result<deadpool_postgres::Transaction<'a>> {
    let tx = begin(client, starting).await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&VIEWS_LOCK])
        .await
        .map_err(|e| unavailable("waiting for the read models' lock", &e))?;
    Ok(tx)
}

fn unavailable(what: &str, e: &tokio_postgres::Error) -> ViewError {
    ViewError::Unavailable(format!("PostgreSQL, {what}: {}", describe(e)))
}

fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize, what: &str) -> Result<T> {
    row.try_get(i)
        .map_err(|e| ViewError::Corrupt(format!("{what}: {}", describe(&e))))
}

/// The cursor from its row, or `Corrupt` when the row is missing or negative.
fn cursor_of(row: Option<&Row>, table: &str) -> Result<u64> {
    let row =
        row.ok_or_else(|| ViewError::Corrupt(format!("the cursor row of {table} is missing")))?;
    let v: i64 = col(row, 0, &format!("{table}.applied"))?;
    u64::try_from(v).map_err(|_| ViewError::Corrupt(format!("{table}.applied is negative ({v})")))
}

/// The rows as two arrays, sorted by key, each key once with its last document: one `INSERT …
/// ON CONFLICT DO UPDATE` may not touch a row twice, and the last write wins as in
/// [`crate::views::MemViews`]. Sorted input also makes the index inserts sequential.
fn columns(rows: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Stable: equal keys stay in the order given, so the last of a run is the last written.
    order.sort_by(|&a, &b| rows[a].0.cmp(&rows[b].0));
    let mut keys = Vec::with_capacity(rows.len());
    let mut docs = Vec::with_capacity(rows.len());
    for (i, &at) in order.iter().enumerate() {
        let (key, doc) = &rows[at];
        if order.get(i + 1).is_some_and(|&next| rows[next].0 == *key) {
            continue;
        }
        keys.push(key.as_str());
        docs.push(doc.as_str());
    }
    (keys, docs)
}

impl ViewStore for PgViews {
    async fn applied(&self) -> Result<u64> {
        let rows = self
            .query(&self.sql.applied, &[], "reading the cursor")
            .await?;
        cursor_of(rows.first(), self.tables.cursor())
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let rows = self.query(&self.sql.get, &[&key], "reading a row").await?;
        rows.first()
            .map(|row| col(row, 0, &format!("the document of {key}")))
            .transpose()
    }

    async fn commit(&self, from: u64, to: u64, rows: &[(String, String)]) -> Result<()> {
        let to_db = i64::try_from(to).map_err(|_| {
            ViewError::Unavailable(format!("the cursor {to} does not fit in a BIGINT"))
        })?;
        let (keys, docs) = columns(rows);
        let mut client = self.client().await?;
        let tx = begin(&mut client, "starting a commit").await?;
        // Prepared together: one round trip, and cached per connection afterwards.
        let (lock, upsert, set) = tokio::join!(
            tx.prepare_cached(&self.sql.lock_cursor),
            tx.prepare_cached(&self.sql.upsert),
            tx.prepare_cached(&self.sql.set_cursor),
        );
        let prep = |r: std::result::Result<_, tokio_postgres::Error>| {
            r.map_err(|e| unavailable("preparing a commit", &e))
        };
        let (lock, upsert, set) = (prep(lock)?, prep(upsert)?, prep(set)?);
        let row = tx
            .query_opt(&lock, &[])
            .await
            .map_err(|e| unavailable("locking the cursor", &e))?;
        let found = cursor_of(row.as_ref(), self.tables.cursor())?;
        if found != from {
            // Dropping `tx` rolls back.
            return Err(ViewError::Conflict {
                expected: from,
                found,
            });
        }
        if !keys.is_empty() {
            tx.execute(&upsert, &[&keys, &docs])
                .await
                .map_err(|e| unavailable("writing rows", &e))?;
        }
        tx.execute(&set, &[&to_db])
            .await
            .map_err(|e| unavailable("moving the cursor", &e))?;
        tx.commit().await.map_err(|e| unavailable("committing", &e))
    }

    async fn scan(&self, prefix: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::from(limit);
        let rows = match prefix_end(prefix) {
            Some(end) => {
                self.query(
                    &self.sql.scan_until,
                    &[&after, &prefix, &end, &limit],
                    "scanning rows",
                )
                .await?
            }
            None => {
                self.query(&self.sql.scan, &[&after, &prefix, &limit], "scanning rows")
                    .await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let key: String = col(row, 0, "a read-model key")?;
            // Keys sharing the prefix come first; this only trims the tail when `prefix_end`
            // had no answer (a prefix ending in non-ASCII bytes).
            if !key.starts_with(prefix) {
                break;
            }
            let doc: String = col(row, 1, &format!("the document of {key}"))?;
            out.push((key, doc));
        }
        Ok(out)
    }

    async fn start_rebuild(&self) -> Result<PgViews> {
        let next = Tables::Next;
        let mut client = self.client().await?;
        let tx = begin(&mut client, "starting a rebuild").await?;
        tx.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({VIEWS_LOCK});
             DROP TABLE IF EXISTS {}, {};
             {}",
            next.docs(),
            next.cursor(),
            next.create_sql()
        ))
        .await
        .map_err(|e| unavailable("creating the rebuild's tables", &e))?;
        tx.commit()
            .await
            .map_err(|e| unavailable("committing the rebuild's tables", &e))?;
        Ok(PgViews::over(self.pool.clone(), next))
    }

    async fn promote(self) -> Result<()> {
        if self.tables != Tables::Next {
            return Err(ViewError::Unavailable(
                "只能提升重建的读模型 / only a store from start_rebuild can be promoted; the live \
                 tables are unchanged"
                    .into(),
            ));
        }
        let (live, next) = (Tables::Live, Tables::Next);
        let mut client = self.client().await?;
        let tx = locked(&mut client, "starting the promotion").await?;
        let row = tx
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL, \
                        to_regclass($3) IS NOT NULL, to_regclass($4) IS NOT NULL",
                &[&next.docs(), &next.cursor(), &live.cursor(), &live.docs()],
            )
            .await
            .map_err(|e| unavailable("looking for the tables", &e))?;
        let next_present: bool = col(&row, 0, "the rebuilt tables' presence")?;
        if !next_present {
            return Err(ViewError::Unavailable(
                "重建的表已不存在 / the rebuilt tables are gone (another rebuild started?); the \
                 live tables are unchanged"
                    .into(),
            ));
        }
        // The live tables exist unless someone dropped them; lock those that do, cursor first.
        let mut to_lock = Vec::new();
        if col::<bool>(&row, 1, "rm_cursor's presence")? {
            to_lock.push(live.cursor());
        }
        if col::<bool>(&row, 2, "rm_docs' presence")? {
            to_lock.push(live.docs());
        }
        let lock = if to_lock.is_empty() {
            String::new()
        } else {
            format!(
                "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE;",
                to_lock.join(", ")
            )
        };
        let (ld, lc, nd, nc) = (live.docs(), live.cursor(), next.docs(), next.cursor());
        tx.batch_execute(&format!(
            "{lock}
             DROP TABLE IF EXISTS {ld}, {lc};
             ALTER TABLE {nd} RENAME TO {ld};
             ALTER TABLE {ld} RENAME CONSTRAINT {nd}_pkey TO {ld}_pkey;
             ALTER TABLE {nc} RENAME TO {lc};
             ALTER TABLE {lc} RENAME CONSTRAINT {nc}_pkey TO {lc}_pkey;
             ALTER TABLE {lc} RENAME CONSTRAINT {nc}_id_check TO {lc}_id_check;
             ALTER TABLE {lc} RENAME CONSTRAINT {nc}_applied_check TO {lc}_applied_check;"
        ))
        .await
        .map_err(|e| unavailable("swapping in the rebuilt tables", &e))?;
        tx.commit()
            .await
            .map_err(|e| unavailable("committing the promotion", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_sort_and_keep_the_last_write_of_a_key() {
        let rows: Vec<(String, String)> = [("b", "1"), ("a", "2"), ("b", "3"), ("c", "4")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(columns(&rows), (vec!["a", "b", "c"], vec!["2", "3", "4"]));
        assert_eq!(columns(&[]), (Vec::<&str>::new(), Vec::<&str>::new()));
    }

    #[test]
    fn the_lock_key_is_not_the_logs() {
        assert_ne!(VIEWS_LOCK, bangfu_store::postgres::LOG_LOCK);
    }
}
