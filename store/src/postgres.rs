//! The log on PostgreSQL: the production [`Backend`].
//!
//! [`PgBackend::connect`] builds a connection pool (deadpool-postgres) from a URL such as
//! `postgres://bangfu_service@db.example/bangfu`, brings the schema up to [`SCHEMA_VERSION`] with
//! the versioned migrations below (each run inside one transaction, under an advisory lock, so two
//! processes starting together do not race), and returns.
//!
//! ## How an append is made safe
//!
//! One transaction, READ COMMITTED:
//!
//! 1. `SELECT pg_advisory_xact_lock(LOG_LOCK)` — one writer per log; released by COMMIT/ROLLBACK;
//! 2. the log's size, read in a *later* statement than the lock so its snapshot sees every append
//!    committed before we got the lock; it must equal `batch.first_index`, else `Conflict`;
//! 3. four `INSERT … SELECT … FROM UNNEST($1, $2, …)` statements (entries, events, household
//!    links, tree hashes): one array per column, so a batch of hundreds of entries is four
//!    statements, sent pipelined in one round trip;
//! 4. in the same round trip, `SELECT pg_notify('bangfu_log', <the new size>)` on
//!    [`LOG_CHANNEL`]: PostgreSQL delivers it only when the transaction commits, so a listener
//!    (the projector, `LISTEN bangfu_log`) hears of exactly the appends that are durable, at once.
//!    A notification is a hint, not the record: the payload is the log's size, and a listener that
//!    missed one still finds the entries by reading;
//! 5. `COMMIT`, with the server's `synchronous_commit` (refused at connect if it is `off`).
//!
//! Unique violations are mapped by constraint name, never by message text (which is translated
//! under `lc_messages`): `events_pkey` → [`StoreError::Conflict`], `entries_statement_id_key` →
//! [`StoreError::DuplicateStatement`], `entries_pkey` → `Conflict`. Every other database or
//! connection failure is [`StoreError::Unavailable`]; rows that cannot be what the log wrote are
//! [`StoreError::Corrupt`]. Nothing read from the database can make this module panic.
//!
//! ## Append-only
//!
//! `BEFORE UPDATE OR DELETE` row triggers and a `BEFORE TRUNCATE` statement trigger on `entries`,
//! `events`, `entry_households` and `tree_hashes` raise
//! `bangfu: the log is append-only: …; corrections are new signed statements, appended like any other`.
//! Likewise on `checkpoints` and `cosignatures` (migration 2): `bangfu: checkpoints are
//! append-only: …`. The `vault` refuses only `UPDATE` (`bangfu: a vault row is never changed: …`):
//! deleting a row is lawful erasure.
//! They stop a casual edit; they do not stop a table owner or superuser (who can disable
//! triggers). That is what the verifier, checkpoints and witnesses are for.
//!
//! ## Roles for a production deployment
//!
//! The service must not be able to change history, so it does not own the tables. Run migrations
//! as a separate owner role (e.g. `bangfu migrate` with the owner's URL, or connect once as the
//! owner), then grant the service only what appending and reading need:
//!
//! ```sql
//! CREATE ROLE bangfu_owner LOGIN PASSWORD '…';     -- owns the schema, runs migrations
//! CREATE ROLE bangfu_service LOGIN PASSWORD '…';   -- what the service connects as
//! CREATE DATABASE bangfu OWNER bangfu_owner;
//! -- connect to bangfu as bangfu_owner and open the store once (runs the migrations), then:
//! REVOKE ALL ON entries, events, entry_households, tree_hashes, schema_migrations FROM PUBLIC;
//! GRANT CONNECT ON DATABASE bangfu TO bangfu_service;
//! GRANT USAGE ON SCHEMA public TO bangfu_service;
//! GRANT SELECT, INSERT ON entries, events, entry_households, tree_hashes TO bangfu_service;
//! GRANT SELECT ON schema_migrations TO bangfu_service;
//! REVOKE ALL ON checkpoints, cosignatures, vault FROM PUBLIC;
//! GRANT SELECT, INSERT ON checkpoints, cosignatures TO bangfu_service;
//! GRANT SELECT, INSERT, DELETE ON vault TO bangfu_service;  -- DELETE: lawful erasure
//! REVOKE CREATE ON SCHEMA public FROM PUBLIC;        -- the default from PostgreSQL 15 on
//! -- Never GRANT UPDATE, DELETE or TRUNCATE on the log tables, checkpoints or cosignatures to
//! -- bangfu_service, never make it a superuser or a member of bangfu_owner: an owner can
//! -- disable the append-only triggers.
//! ```
//!
//! Checkpoint and cosignature writes take an advisory lock ([`CHECKPOINT_LOCK`], "bangfu:C")
//! rather than row locks, which would need `UPDATE` privilege.
//!
//! Opening an up-to-date store needs only `SELECT` on `schema_migrations` (the bookkeeping table
//! is created only when it is missing), so the service role can open what the owner migrated.
//!
//! Connections are made without TLS (`NoTls`): use a local socket or a private network, or put a
//! TLS-terminating proxy in front until a TLS connector is added.

use crate::backend::{
    Backend, Batch, CheckpointRows, Migration, Result, StoreError, StoredCheckpoint, StoredEntry,
    check_checkpoint_note, check_cosignature_line, opening_from_row, vault_rows,
};
use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event;
use bangfu_ledger::jcs;
use bangfu_ledger::seal::Opening;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{IsolationLevel, NoTls, Row, SimpleQueryMessage};

/// The schema version this program writes and expects.
pub const SCHEMA_VERSION: u32 = 2;

/// Advisory-lock key that serializes appends to the log (one log per database): "bangfu:L".
pub const LOG_LOCK: i64 = i64::from_be_bytes(*b"bangfu:L");

/// The channel each append notifies on commit, with the log's new size as the payload
/// (`LISTEN bangfu_log` to follow the log without polling).
pub const LOG_CHANNEL: &str = "bangfu_log";

/// Advisory-lock key that serializes migrations: "bangfu:M".
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"bangfu:M");

/// Advisory-lock key that serializes checkpoint and cosignature writes: "bangfu:C". (Row locks
/// would need UPDATE privilege, which the service's role must not have.)
pub const CHECKPOINT_LOCK: i64 = i64::from_be_bytes(*b"bangfu:C");

/// Every migration, in order. Never edit one that has shipped: add the next.
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

const MIGRATION_1: &str = r#"
-- bangfu schema version 1: the log (see store/src/backend.rs for what each table holds).
--
-- Roles for a production deployment. The service must not own these tables. Run migrations as a
-- separate owner role, then grant the service's role INSERT and SELECT only:
--
--   CREATE ROLE bangfu_owner LOGIN PASSWORD '...';    -- owns the schema, runs migrations
--   CREATE ROLE bangfu_service LOGIN PASSWORD '...';  -- what the service connects as
--   REVOKE ALL ON entries, events, entry_households, tree_hashes, schema_migrations FROM PUBLIC;
--   GRANT USAGE ON SCHEMA public TO bangfu_service;
--   GRANT SELECT, INSERT ON entries, events, entry_households, tree_hashes TO bangfu_service;
--   GRANT SELECT ON schema_migrations TO bangfu_service;
--   REVOKE CREATE ON SCHEMA public FROM PUBLIC;       -- the default from PostgreSQL 15 on
--
-- No UPDATE, DELETE or TRUNCATE for bangfu_service; it is neither a superuser nor a member of
-- bangfu_owner (an owner can disable the triggers below).

CREATE TABLE entries (
    idx            BIGINT NOT NULL,
    statement_id   TEXT   NOT NULL,
    aggregate_type TEXT   NOT NULL,
    aggregate_id   TEXT   NOT NULL,
    signer         TEXT   NOT NULL,  -- the signer's public key, base64
    recorded_at_ms BIGINT NOT NULL,
    leaf           BYTEA  NOT NULL,  -- the entry's Merkle leaf hash
    body           BYTEA  NOT NULL,  -- the entry's exact JCS bytes, as hashed
    CONSTRAINT entries_pkey PRIMARY KEY (idx),
    CONSTRAINT entries_statement_id_key UNIQUE (statement_id),
    CONSTRAINT entries_idx_check CHECK (idx >= 0),
    CONSTRAINT entries_leaf_check CHECK (octet_length(leaf) = 32)
);

CREATE TABLE events (
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       BIGINT  NOT NULL,  -- position in the aggregate's stream, from 1
    idx            BIGINT  NOT NULL,  -- the entry holding the event
    ord            INTEGER NOT NULL,  -- the event's position among its entry's events, from 0
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,  -- exact JCS text; not jsonb, which would reorder keys
    CONSTRAINT events_pkey PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    CONSTRAINT events_idx_check CHECK (idx >= 0),
    CONSTRAINT events_ord_check CHECK (ord >= 0)
);
-- events_of_types: events of some aggregate types in log order.
CREATE INDEX events_by_type ON events (aggregate_type, idx, ord);

CREATE TABLE entry_households (
    household TEXT   NOT NULL,
    idx       BIGINT NOT NULL,
    CONSTRAINT entry_households_pkey PRIMARY KEY (household, idx)
);

CREATE TABLE tree_hashes (
    pos  BIGINT NOT NULL,  -- merkle::stored_hash_index
    hash BYTEA  NOT NULL,
    CONSTRAINT tree_hashes_pkey PRIMARY KEY (pos),
    CONSTRAINT tree_hashes_pos_check CHECK (pos >= 0),
    CONSTRAINT tree_hashes_hash_check CHECK (octet_length(hash) = 32)
);

CREATE FUNCTION bangfu_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'bangfu: the log is append-only: % on % is refused; corrections are new signed statements, appended like any other',
        TG_OP, TG_TABLE_NAME
        USING HINT = 'Sign a statement that corrects the record and append it; the log keeps both.';
END
$fn$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER entry_households_append_only BEFORE UPDATE OR DELETE ON entry_households
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER entry_households_no_truncate BEFORE TRUNCATE ON entry_households
    FOR EACH STATEMENT EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER tree_hashes_append_only BEFORE UPDATE OR DELETE ON tree_hashes
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_change();
CREATE TRIGGER tree_hashes_no_truncate BEFORE TRUNCATE ON tree_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION bangfu_refuse_change();
"#;

const MIGRATION_2: &str = r#"
-- bangfu schema version 2: checkpoints the log signed, witnesses' cosignatures, and the vault of
-- sealed values' cleartext (see store/src/backend.rs).
--
-- Grants for the service's role (see migration 1): it signs checkpoints, stores cosignatures,
-- keeps openings and erases them on a lawful request, and may change nothing else:
--
--   REVOKE ALL ON checkpoints, cosignatures, vault FROM PUBLIC;
--   GRANT SELECT, INSERT ON checkpoints, cosignatures TO bangfu_service;
--   GRANT SELECT, INSERT, DELETE ON vault TO bangfu_service;

CREATE TABLE checkpoints (
    size         BIGINT NOT NULL,
    root         BYTEA  NOT NULL,  -- the Merkle root at `size`
    note         TEXT   NOT NULL,  -- the signed note exactly as the log signed it
    signed_at_ms BIGINT NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (size),
    CONSTRAINT checkpoints_size_check CHECK (size >= 0),
    CONSTRAINT checkpoints_root_check CHECK (octet_length(root) = 32)
);

CREATE TABLE cosignatures (
    size        BIGINT NOT NULL,
    witness     TEXT   NOT NULL,  -- the witness's key name
    line        TEXT   NOT NULL,  -- the full signature line: "— <name> <base64>", newline
    added_at_ms BIGINT NOT NULL,
    CONSTRAINT cosignatures_pkey PRIMARY KEY (size, witness),
    CONSTRAINT cosignatures_size_fkey FOREIGN KEY (size) REFERENCES checkpoints (size)
);

CREATE TABLE vault (
    commitment BYTEA NOT NULL,  -- SHA-256(salt || JCS(value)), as sealed in the log
    salt       BYTEA NOT NULL,
    value      TEXT  NOT NULL,  -- the value's exact JCS text
    CONSTRAINT vault_pkey PRIMARY KEY (commitment),
    CONSTRAINT vault_commitment_check CHECK (octet_length(commitment) = 32),
    CONSTRAINT vault_salt_check CHECK (octet_length(salt) = 16)
);

CREATE FUNCTION bangfu_refuse_checkpoint_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'bangfu: checkpoints are append-only: % on % is refused; the log never signs two checkpoints for one size and a cosignature stands as the witness gave it',
        TG_OP, TG_TABLE_NAME
        USING HINT = 'Sign a new checkpoint when the log grows; witnesses cosign it in turn.';
END
$fn$;

CREATE FUNCTION bangfu_refuse_vault_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'bangfu: a vault row is never changed: % on % is refused; the log holds its commitment, which no other value opens',
        TG_OP, TG_TABLE_NAME
        USING HINT = 'Erase the row (DELETE) if the law requires it; a corrected value is sealed in a new signed statement.';
END
$fn$;

CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_checkpoint_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION bangfu_refuse_checkpoint_change();
CREATE TRIGGER cosignatures_append_only BEFORE UPDATE OR DELETE ON cosignatures
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_checkpoint_change();
CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION bangfu_refuse_checkpoint_change();
CREATE TRIGGER vault_no_update BEFORE UPDATE ON vault
    FOR EACH ROW EXECUTE FUNCTION bangfu_refuse_vault_update();
"#;

/// Takes the log's write lock, then (in a later statement, so with a later snapshot) reads its size.
static LOCK_AND_SIZE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT pg_advisory_xact_lock({LOG_LOCK}); SELECT COALESCE(MAX(idx) + 1, 0) FROM entries"
    )
});

/// Tells listeners on [`LOG_CHANNEL`] the log's new size; sent when the transaction commits.
static NOTIFY_SIZE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT pg_notify('{LOG_CHANNEL}', $1)"));

const INSERT_ENTRIES: &str = "INSERT INTO entries \
     (idx, statement_id, aggregate_type, aggregate_id, signer, recorded_at_ms, leaf, body) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::bigint[], $7::bytea[], $8::bytea[])";
const INSERT_EVENTS: &str = "INSERT INTO events \
     (aggregate_type, aggregate_id, sequence, idx, ord, event_type, event_version, payload) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], \
     $6::text[], $7::text[], $8::text[])";
const INSERT_HOUSEHOLDS: &str = "INSERT INTO entry_households (household, idx) \
     SELECT * FROM UNNEST($1::text[], $2::bigint[])";
const INSERT_HASHES: &str =
    "INSERT INTO tree_hashes (pos, hash) SELECT * FROM UNNEST($1::bigint[], $2::bytea[])";

const EVENT_COLUMNS: &str =
    "aggregate_type, aggregate_id, sequence, event_type, event_version, payload";

/// The application name the log's connections give the server unless told otherwise.
const APPLICATION_NAME: &str = "bangfu";

/// How long making a connection may take, unless the URL or config says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses connection settings (`postgres://user[:password]@host[:port]/dbname[?…]` or
/// `host=… dbname=…`) and sets a connect timeout of 10 s and `application_name` unless the URL
/// gives them. Callers describe a failure with [`describe`], in their own error type.
pub fn parse_url(
    url: &str,
    application_name: &str,
) -> std::result::Result<tokio_postgres::Config, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    set_defaults(&mut config, application_name);
    Ok(config)
}

/// A connection pool (deadpool-postgres, no TLS) over `config`, with the defaults of
/// [`parse_url`] set unless given, and bounded waits: 15 s to make a connection, 60 s for a free
/// one, 5 s to check a returned one. No connection is made until one is asked for.
pub fn build_pool(
    mut config: tokio_postgres::Config,
    application_name: &str,
) -> std::result::Result<Pool, deadpool_postgres::BuildError> {
    set_defaults(&mut config, application_name);
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(Duration::from_secs(15)))
        .wait_timeout(Some(Duration::from_secs(60)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
}

/// A connection from `pool`; when there is none, why (the server's error described by
/// [`describe`]), for the caller to put in its own error type.
pub async fn pooled(pool: &Pool) -> std::result::Result<deadpool_postgres::Object, String> {
    pool.get().await.map_err(|e| {
        let why = match &e {
            deadpool_postgres::PoolError::Backend(e) => describe(e),
            other => other.to_string(),
        };
        format!("cannot get a PostgreSQL connection: {why}")
    })
}

/// Runs one read on a pooled connection, with the statement prepared once per connection.
/// `fail` words an error in the caller's type, given what was being done: `preparing: {what}`,
/// or `what` itself.
pub async fn query_cached<E>(
    client: &deadpool_postgres::ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    what: &str,
    fail: impl Fn(&str, &tokio_postgres::Error) -> E,
) -> std::result::Result<Vec<Row>, E> {
    let stmt = client
        .prepare_cached(sql)
        .await
        .map_err(|e| fail(&format!("preparing: {what}"), &e))?;
    client
        .query(&stmt, params)
        .await
        .map_err(|e| fail(what, &e))
}

fn set_defaults(config: &mut tokio_postgres::Config, application_name: &str) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name(application_name);
    }
}

/// The PostgreSQL backend: a connection pool to one database holding one log.
#[derive(Clone)]
pub struct PgBackend {
    pool: Pool,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgBackend")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .finish()
    }
}

impl PgBackend {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/dbname[?…]` or
    /// `host=… dbname=…`), migrates its schema to [`SCHEMA_VERSION`], and returns the backend.
    ///
    /// Fails with `Unavailable` when the server cannot be reached, refuses the migration, or runs
    /// with `synchronous_commit = off` (commits would not be durable); with `Corrupt` when the
    /// store is at a newer schema version than this program knows.
    pub async fn connect(url: &str) -> Result<PgBackend> {
        let config = parse_url(url, APPLICATION_NAME).map_err(|e| {
            StoreError::Unavailable(format!("the PostgreSQL URL is not valid: {}", describe(&e)))
        })?;
        PgBackend::connect_config(config).await
    }

    /// [`PgBackend::connect`] with connection settings already parsed or built in code. A connect
    /// timeout of 10 s and the application name `bangfu` are set unless given.
    pub async fn connect_config(config: tokio_postgres::Config) -> Result<PgBackend> {
        let pool = build_pool(config, APPLICATION_NAME)
            .map_err(|e| StoreError::Unavailable(format!("cannot build the pool: {e}")))?;
        let backend = PgBackend { pool };
        let mut client = backend.client().await?;
        check_durability(&client).await?;
        migrate(&mut client).await?;
        Ok(backend)
    }

    /// The underlying pool, for tools that need plain SQL (reports, the inspector).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        pooled(&self.pool).await.map_err(StoreError::Unavailable)
    }

    /// Runs one read on a pooled connection, with the statement prepared once per connection.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &str,
    ) -> Result<Vec<Row>> {
        let client = self.client().await?;
        query_cached(&client, sql, params, what, unavailable).await
    }
}

async fn check_durability(client: &tokio_postgres::Client) -> Result<()> {
    let row = client
        .query_one("SELECT current_setting('synchronous_commit')", &[])
        .await
        .map_err(|e| unavailable("reading synchronous_commit", &e))?;
    let setting: String = col(&row, 0, "synchronous_commit")?;
    if setting == "off" {
        return Err(StoreError::Unavailable(
            "the server runs with synchronous_commit = off, so a commit could be lost in a crash; \
             the log needs durable commits: set it to on (the default)"
                .into(),
        ));
    }
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction; returns the version reached.
async fn migrate(client: &mut deadpool_postgres::Object) -> Result<u32> {
    let fail = |what: &str, e: &tokio_postgres::Error| unavailable(what, e);
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(|e| fail("starting the migration", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| fail("waiting for the migration lock", &e))?;
    // Created only when missing: a role without CREATE can open a store that is up to date.
    let row = tx
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(|e| fail("looking for schema_migrations", &e))?;
    let exists: bool = col(&row, 0, "schema_migrations")?;
    if !exists {
        tx.batch_execute(
            "CREATE TABLE schema_migrations (
                 version    INTEGER     NOT NULL PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(|e| fail("creating schema_migrations", &e))?;
    }
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .await
        .map_err(|e| fail("reading the schema version", &e))?;
    let current = version_from(col(&row, 0, "schema_migrations.version")?)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the store is at schema version {current}, newer than this program knows \
             ({SCHEMA_VERSION}); run a newer bangfu"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| fail(&format!("applying migration {}", m.version), &e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(m.version as i32)],
        )
        .await
        .map_err(|e| fail(&format!("recording migration {}", m.version), &e))?;
    }
    tx.commit()
        .await
        .map_err(|e| fail("committing the migration", &e))?;
    Ok(SCHEMA_VERSION)
}

fn version_from(v: i64) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("schema_migrations holds version {v}")))
}

/// A batch laid out column by column, checked before anything is sent.
struct Columns<'a> {
    e_idx: Vec<i64>,
    e_statement: Vec<&'a str>,
    e_agg_type: Vec<&'a str>,
    e_agg_id: Vec<&'a str>,
    e_signer: Vec<&'a str>,
    e_recorded: Vec<i64>,
    e_leaf: Vec<&'a [u8]>,
    e_body: Vec<&'a [u8]>,
    v_agg_type: Vec<&'a str>,
    v_agg_id: Vec<&'a str>,
    v_sequence: Vec<i64>,
    v_idx: Vec<i64>,
    v_ord: Vec<i32>,
    v_type: Vec<&'a str>,
    v_version: Vec<&'a str>,
    v_payload: Vec<String>,
    h_household: Vec<&'a str>,
    h_idx: Vec<i64>,
    t_pos: Vec<i64>,
    t_hash: Vec<&'a [u8]>,
}

fn malformed(why: String) -> StoreError {
    StoreError::Corrupt(format!("refused to write a malformed batch: {why}"))
}

impl<'a> Columns<'a> {
    fn of(batch: &'a Batch) -> Result<Columns<'a>> {
        let n = batch.entries.len();
        let events: usize = batch.entries.iter().map(|e| e.events.len()).sum();
        let households: usize = batch.entries.iter().map(|e| e.households.len()).sum();
        let mut c = Columns {
            e_idx: Vec::with_capacity(n),
            e_statement: Vec::with_capacity(n),
            e_agg_type: Vec::with_capacity(n),
            e_agg_id: Vec::with_capacity(n),
            e_signer: Vec::with_capacity(n),
            e_recorded: Vec::with_capacity(n),
            e_leaf: Vec::with_capacity(n),
            e_body: Vec::with_capacity(n),
            v_agg_type: Vec::with_capacity(events),
            v_agg_id: Vec::with_capacity(events),
            v_sequence: Vec::with_capacity(events),
            v_idx: Vec::with_capacity(events),
            v_ord: Vec::with_capacity(events),
            v_type: Vec::with_capacity(events),
            v_version: Vec::with_capacity(events),
            v_payload: Vec::with_capacity(events),
            h_household: Vec::with_capacity(households),
            h_idx: Vec::with_capacity(households),
            t_pos: Vec::with_capacity(batch.hashes.len()),
            t_hash: Vec::with_capacity(batch.hashes.len()),
        };
        let mut statements = HashSet::with_capacity(n);
        for (i, e) in batch.entries.iter().enumerate() {
            let want = batch.first_index.checked_add(i as u64);
            if want != Some(e.index) {
                return Err(malformed(format!(
                    "entry {i} of a batch starting at {} has index {}",
                    batch.first_index, e.index
                )));
            }
            if !statements.insert(e.statement_id.as_str()) {
                return Err(StoreError::DuplicateStatement(e.statement_id.clone()));
            }
            let idx = to_i64(e.index, "entry index")?;
            c.e_idx.push(idx);
            c.e_statement.push(&e.statement_id);
            c.e_agg_type.push(&e.aggregate_type);
            c.e_agg_id.push(&e.aggregate_id);
            c.e_signer.push(&e.signer);
            c.e_recorded.push(e.recorded_at_ms);
            c.e_leaf.push(&e.leaf.0);
            c.e_body.push(&e.body);
            for (ord, ev) in e.events.iter().enumerate() {
                let payload = jcs::to_vec(&Value::Object(ev.payload.clone())).map_err(|err| {
                    malformed(format!("an event payload of entry {}: {err}", e.index))
                })?;
                let payload = String::from_utf8(payload)
                    .map_err(|_| malformed(format!("entry {}: payload not UTF-8", e.index)))?;
                c.v_agg_type.push(&ev.aggregate_type);
                c.v_agg_id.push(&ev.aggregate_id);
                c.v_sequence.push(to_i64(ev.sequence, "event sequence")?);
                c.v_idx.push(idx);
                c.v_ord
                    .push(i32::try_from(ord).map_err(|_| {
                        malformed(format!("entry {} has too many events", e.index))
                    })?);
                c.v_type.push(&ev.event_type);
                c.v_version.push(&ev.event_version);
                c.v_payload.push(payload);
            }
            // A household named twice by one entry is one link.
            let mut seen = HashSet::with_capacity(e.households.len());
            for h in &e.households {
                if seen.insert(h.as_str()) {
                    c.h_household.push(h);
                    c.h_idx.push(idx);
                }
            }
        }
        for h in &batch.hashes {
            c.t_pos.push(to_i64(h.position, "tree hash position")?);
            c.t_hash.push(&h.hash.0);
        }
        Ok(c)
    }
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| malformed(format!("{what} {v} does not fit in a BIGINT")))
}

/// A database `BIGINT` that must be a `u64` (an index, a sequence, a position).
fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({v})")))
}

/// `from` as a query bound; `None` when no row can be that far (the answer is empty).
fn bound(from: u64) -> Option<i64> {
    i64::try_from(from).ok()
}

fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize, what: &str) -> Result<T> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("{what}: {}", describe(&e))))
}

fn hash_from(bytes: &[u8], what: &str) -> Result<Hash> {
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| StoreError::Corrupt(format!("{what} is {} bytes, not 32", bytes.len())))
}

/// Reads an event from six columns starting at `at`, in [`EVENT_COLUMNS`] order.
fn event_from(row: &Row, at: usize) -> Result<Event> {
    let aggregate_type: String = col(row, at, "events.aggregate_type")?;
    let aggregate_id: String = col(row, at + 1, "events.aggregate_id")?;
    let sequence = to_u64(col(row, at + 2, "events.sequence")?, "an event's sequence")?;
    let event_type: String = col(row, at + 3, "events.event_type")?;
    let event_version: String = col(row, at + 4, "events.event_version")?;
    let payload: &str = col(row, at + 5, "events.payload")?;
    let where_ = || format!("{aggregate_type}/{aggregate_id} #{sequence}");
    let payload = match jcs::parse(payload.as_bytes()) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(StoreError::Corrupt(format!(
                "the payload of event {} is not a JSON object",
                where_()
            )));
        }
        Err(e) => {
            return Err(StoreError::Corrupt(format!(
                "the payload of event {}: {e}",
                where_()
            )));
        }
    };
    Ok(Event {
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        event_version,
        payload,
    })
}

fn stored_entry(row: &Row) -> Result<StoredEntry> {
    Ok(StoredEntry {
        index: to_u64(col(row, 0, "entries.idx")?, "an entry index")?,
        body: col(row, 1, "entries.body")?,
    })
}

/// A tokio-postgres error with its cause (its `Display` alone says only "db error"): for a
/// server's error its severity, message, SQLSTATE and detail; otherwise the chain of causes.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(detail) = db.detail() {
            s.push_str("; ");
            s.push_str(detail);
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn unavailable(what: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL, {what}: {}", describe(e)))
}

/// What a failed insert means. The first statement to fail in a pipeline reports the cause; the
/// ones after it only say the transaction is aborted.
enum InsertFailure {
    DuplicateStatement,
    Other(StoreError),
}

fn insert_failure(errors: Vec<tokio_postgres::Error>) -> InsertFailure {
    let Some(e) = errors
        .iter()
        .find(|e| e.code() != Some(&SqlState::IN_FAILED_SQL_TRANSACTION))
        .or(errors.first())
    else {
        return InsertFailure::Other(StoreError::Unavailable("an insert failed".into()));
    };
    let Some(db) = e.as_db_error() else {
        return InsertFailure::Other(unavailable("appending", e));
    };
    if db.code() != &SqlState::UNIQUE_VIOLATION {
        return InsertFailure::Other(unavailable("appending", e));
    }
    let detail = db.detail().unwrap_or_default();
    let error = match db.constraint() {
        Some("entries_statement_id_key") => return InsertFailure::DuplicateStatement,
        Some("events_pkey") => StoreError::Conflict(format!(
            "an aggregate's next sequence number is taken: {detail}"
        )),
        Some("entries_pkey") => {
            StoreError::Conflict(format!("another writer appended the same index: {detail}"))
        }
        Some(other) => StoreError::Corrupt(format!(
            "the log's tables disagree with its size ({other}): {detail}"
        )),
        None => unavailable("appending", e),
    };
    InsertFailure::Other(error)
}

impl Backend for PgBackend {
    async fn size(&self) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", &[])
            .await
            .map_err(|e| unavailable("reading the log's size", &e))?;
        to_u64(col(&row, 0, "the log's size")?, "the log's size")
    }

    async fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<i64> = positions.iter().filter_map(|p| bound(*p)).collect();
        let rows = self
            .query(
                "SELECT pos, hash FROM tree_hashes WHERE pos = ANY($1)",
                &[&wanted],
                "reading tree hashes",
            )
            .await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in &rows {
            let pos = to_u64(col(row, 0, "tree_hashes.pos")?, "a tree hash position")?;
            let bytes: &[u8] = col(row, 1, "tree_hashes.hash")?;
            found.insert(pos, hash_from(bytes, &format!("the tree hash at {pos}"))?);
        }
        positions
            .iter()
            .map(|p| {
                found.get(p).copied().ok_or_else(|| {
                    StoreError::Corrupt(format!("the tree hash at position {p} is missing"))
                })
            })
            .collect()
    }

    async fn append(&self, batch: &Batch) -> Result<()> {
        let c = Columns::of(batch)?;
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(|e| unavailable("starting an append", &e))?;
        let messages = tx
            .simple_query(&LOCK_AND_SIZE)
            .await
            .map_err(|e| unavailable("taking the log's write lock", &e))?;
        // Two rows come back: the lock's (void), then the size.
        let size = messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .nth(1)
            .and_then(|row| row.get(0))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt("the log's size could not be read".into()))?;
        if size != batch.first_index {
            // Dropping `tx` rolls back, which releases the lock.
            return Err(StoreError::Conflict(format!(
                "the log has {size} entries but the batch starts at index {}",
                batch.first_index
            )));
        }
        if !(batch.entries.is_empty() && batch.hashes.is_empty()) {
            let (s1, s2, s3, s4, s5) = tokio::join!(
                biased;
                tx.prepare_cached(INSERT_ENTRIES),
                tx.prepare_cached(INSERT_EVENTS),
                tx.prepare_cached(INSERT_HOUSEHOLDS),
                tx.prepare_cached(INSERT_HASHES),
                tx.prepare_cached(&NOTIFY_SIZE),
            );
            let prep = |r: std::result::Result<_, tokio_postgres::Error>| {
                r.map_err(|e| unavailable("preparing an append", &e))
            };
            let (s1, s2, s3, s4, s5) = (prep(s1)?, prep(s2)?, prep(s3)?, prep(s4)?, prep(s5)?);
            let new_size = batch
                .first_index
                .saturating_add(batch.entries.len() as u64)
                .to_string();
            let entries: [&(dyn ToSql + Sync); 8] = [
                &c.e_idx,
                &c.e_statement,
                &c.e_agg_type,
                &c.e_agg_id,
                &c.e_signer,
                &c.e_recorded,
                &c.e_leaf,
                &c.e_body,
            ];
            let events: [&(dyn ToSql + Sync); 8] = [
                &c.v_agg_type,
                &c.v_agg_id,
                &c.v_sequence,
                &c.v_idx,
                &c.v_ord,
                &c.v_type,
                &c.v_version,
                &c.v_payload,
            ];
            let households: [&(dyn ToSql + Sync); 2] = [&c.h_household, &c.h_idx];
            let hashes: [&(dyn ToSql + Sync); 2] = [&c.t_pos, &c.t_hash];
            let notify: [&(dyn ToSql + Sync); 1] = [&new_size];
            // Pipelined: all five are sent at once, and the server runs them in this order (the
            // notification last, so it fails with the transaction if an insert does).
            let results = tokio::join!(
                biased;
                tx.execute(&s1, &entries),
                tx.execute(&s2, &events),
                tx.execute(&s3, &households),
                tx.execute(&s4, &hashes),
                tx.execute(&s5, &notify),
            );
            let errors: Vec<_> = [results.0, results.1, results.2, results.3, results.4]
                .into_iter()
                .filter_map(|r| r.err())
                .collect();
            if !errors.is_empty() {
                match insert_failure(errors) {
                    InsertFailure::Other(e) => return Err(e),
                    InsertFailure::DuplicateStatement => {
                        tx.rollback()
                            .await
                            .map_err(|e| unavailable("rolling back", &e))?;
                        return Err(duplicate_statement(&client, &c.e_statement).await);
                    }
                }
            }
        }
        tx.commit()
            .await
            .map_err(|e| unavailable("committing an append", &e))
    }

    async fn entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>> {
        let Some(start) = bound(from) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .query(
                "SELECT idx, body FROM entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
                &[&start, &i64::from(limit)],
                "reading entries",
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, expect) in rows.iter().zip(from..) {
            let entry = stored_entry(row)?;
            crate::backend::check_contiguous(expect, entry.index)?;
            out.push(entry);
        }
        Ok(out)
    }

    async fn entry_by_statement(&self, statement_id: &str) -> Result<Option<StoredEntry>> {
        let rows = self
            .query(
                "SELECT idx, body FROM entries WHERE statement_id = $1",
                &[&statement_id],
                "looking up a statement",
            )
            .await?;
        rows.first().map(stored_entry).transpose()
    }

    /// One query, `statement_id = ANY($1)`, on the unique index.
    async fn entries_by_statements(
        &self,
        statement_ids: &[&str],
    ) -> Result<Vec<Option<StoredEntry>>> {
        if statement_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(
                "SELECT idx, body, statement_id FROM entries WHERE statement_id = ANY($1)",
                &[&statement_ids],
                "looking up statements",
            )
            .await?;
        let mut found: HashMap<String, StoredEntry> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: String = col(row, 2, "entries.statement_id")?;
            found.insert(id, stored_entry(row)?);
        }
        Ok(statement_ids
            .iter()
            .map(|id| found.get(*id).cloned())
            .collect())
    }

    async fn aggregate_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<Event>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
            ))
            .await
            .map_err(|e| unavailable("preparing an aggregate read", &e))?;
        let rows = client
            .query(&stmt, &[&aggregate_type, &aggregate_id])
            .await
            .map_err(|e| unavailable("reading an aggregate's events", &e))?;
        rows.iter().map(|row| event_from(row, 0)).collect()
    }

    async fn events_of_types(
        &self,
        aggregate_types: &[&str],
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, Event)>> {
        let Some(start) = bound(from) else {
            return Ok(Vec::new());
        };
        if limit == 0 || aggregate_types.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        // First the `limit` lowest entry indexes holding such events: each type's own first
        // `limit` (an ordered scan of events_by_type per type), merged. Then every such event up
        // to the last of them, in (entry, position in entry) order.
        let stmt = client
            .prepare_cached(&format!(
                "WITH picked AS ( \
                     SELECT DISTINCT p.idx FROM unnest($1::text[]) AS t(ty) \
                     CROSS JOIN LATERAL ( \
                         SELECT DISTINCT e.idx FROM events e \
                         WHERE e.aggregate_type = t.ty AND e.idx >= $2 \
                         ORDER BY e.idx LIMIT $3) p \
                     ORDER BY p.idx LIMIT $3) \
                 SELECT idx, {EVENT_COLUMNS} FROM events \
                 WHERE aggregate_type = ANY($1) AND idx >= $2 \
                   AND idx <= (SELECT MAX(idx) FROM picked) \
                 ORDER BY idx, ord"
            ))
            .await
            .map_err(|e| unavailable("preparing an event read", &e))?;
        let rows = client
            .query(&stmt, &[&aggregate_types, &start, &i64::from(limit)])
            .await
            .map_err(|e| unavailable("reading events by type", &e))?;
        rows.iter()
            .map(|row| {
                let idx = to_u64(col(row, 0, "events.idx")?, "an event's entry index")?;
                Ok((idx, event_from(row, 1)?))
            })
            .collect()
    }

    async fn entries_of_household(
        &self,
        household: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<u64>> {
        let Some(start) = bound(from) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT idx FROM entry_households \
                 WHERE household = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
            )
            .await
            .map_err(|e| unavailable("preparing a household read", &e))?;
        let rows = client
            .query(&stmt, &[&household, &start, &i64::from(limit)])
            .await
            .map_err(|e| unavailable("reading a household's entries", &e))?;
        rows.iter()
            .map(|row| to_u64(col(row, 0, "entry_households.idx")?, "an entry index"))
            .collect()
    }

    async fn schema_version(&self) -> Result<u32> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations",
                &[],
            )
            .await
            .map_err(|e| unavailable("reading the schema version", &e))?;
        version_from(col(&row, 0, "schema_migrations.version")?)
    }

    async fn save_checkpoint(&self, c: &StoredCheckpoint) -> Result<()> {
        let refused = |why: String| {
            StoreError::Corrupt(format!(
                "refused to store the checkpoint of size {}: {why}",
                c.size
            ))
        };
        check_checkpoint_note(c.size, &c.root, &c.note).map_err(refused)?;
        let size = bound(c.size).ok_or_else(|| refused("its size does not fit a BIGINT".into()))?;
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .start()
            .await
            .map_err(|e| unavailable("starting to store a checkpoint", &e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHECKPOINT_LOCK])
            .await
            .map_err(|e| unavailable("waiting for the checkpoint lock", &e))?;
        let inserted = tx
            .execute(
                "INSERT INTO checkpoints (size, root, note, signed_at_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (size) DO NOTHING",
                &[&size, &&c.root.0[..], &c.note, &c.signed_at_ms],
            )
            .await
            .map_err(|e| unavailable("storing a checkpoint", &e))?;
        if inserted == 0 {
            let row = tx
                .query_one("SELECT root FROM checkpoints WHERE size = $1", &[&size])
                .await
                .map_err(|e| unavailable("reading the stored checkpoint", &e))?;
            let root: &[u8] = col(&row, 0, "checkpoints.root")?;
            if root != c.root.0 {
                return Err(conflicting_checkpoint(c.size, root, &c.root));
            }
        }
        tx.commit()
            .await
            .map_err(|e| unavailable("committing a checkpoint", &e))
    }

    async fn checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>> {
        let Some(at) = bound(size) else {
            return Ok(None);
        };
        let client = self.client().await?;
        Ok(checkpoints_at(&client, at).await?.pop())
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        let rows = self
            .query(LATEST_CHECKPOINT, &[], "reading the latest checkpoint")
            .await?;
        Ok(checkpoints_from(&rows)?.pop())
    }

    async fn checkpoints(&self, from_size: u64, limit: u32) -> Result<Vec<StoredCheckpoint>> {
        let Some(from) = bound(from_size) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .query(
                CHECKPOINTS_FROM,
                &[&from, &i64::from(limit)],
                "reading checkpoints",
            )
            .await?;
        checkpoints_from(&rows)
    }

    async fn add_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        added_at_ms: i64,
    ) -> Result<()> {
        let Some(at) = bound(size) else {
            return Err(no_checkpoint(size));
        };
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .start()
            .await
            .map_err(|e| unavailable("starting to store a cosignature", &e))?;
        // One writer at a time, so the cosigned note stays within the signed-note limits.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHECKPOINT_LOCK])
            .await
            .map_err(|e| unavailable("waiting for the checkpoint lock", &e))?;
        let Some(stored) = checkpoints_at(&tx, at).await?.pop() else {
            return Err(no_checkpoint(size));
        };
        if stored.cosignatures.iter().any(|(w, _)| w == witness) {
            return Ok(());
        }
        check_cosignature_line(&stored.cosigned_note(), witness, line)
            .map_err(|why| refused_cosignature(size, witness, &why))?;
        tx.execute(
            "INSERT INTO cosignatures (size, witness, line, added_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (size, witness) DO NOTHING",
            &[&at, &witness, &line, &added_at_ms],
        )
        .await
        .map_err(|e| unavailable("storing a cosignature", &e))?;
        tx.commit()
            .await
            .map_err(|e| unavailable("committing a cosignature", &e))
    }

    async fn put_openings(&self, openings: &[Opening]) -> Result<()> {
        let rows = vault_rows(openings)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::with_capacity(rows.len());
        let (mut commitments, mut salts, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for r in rows.iter().filter(|r| seen.insert(r.commitment)) {
            commitments.push(&r.commitment[..]);
            salts.push(&r.salt[..]);
            values.push(r.value.as_str());
        }
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO vault (commitment, salt, value) \
                 SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::text[]) \
                 ON CONFLICT (commitment) DO NOTHING",
                &[&commitments, &salts, &values],
            )
            .await
            .map_err(|e| unavailable("storing openings in the vault", &e))?;
        Ok(())
    }

    async fn openings(&self, after: Option<Hash>, limit: u32) -> Result<Vec<Opening>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::from(limit);
        let rows = match &after {
            Some(h) => {
                self.query(
                    "SELECT commitment, salt, value FROM vault WHERE commitment > $1 \
                     ORDER BY commitment LIMIT $2",
                    &[&&h.0[..], &limit],
                    "reading the vault",
                )
                .await?
            }
            None => {
                self.query(
                    "SELECT commitment, salt, value FROM vault ORDER BY commitment LIMIT $1",
                    &[&limit],
                    "reading the vault",
                )
                .await?
            }
        };
        rows.iter().map(opening_from).collect()
    }

    async fn opening(&self, commitment: &Hash) -> Result<Option<Opening>> {
        let rows = self
            .query(
                "SELECT commitment, salt, value FROM vault WHERE commitment = $1",
                &[&&commitment.0[..]],
                "reading the vault",
            )
            .await?;
        rows.first().map(opening_from).transpose()
    }

    async fn erase_opening(&self, commitment: &Hash) -> Result<bool> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM vault WHERE commitment = $1",
                &[&&commitment.0[..]],
            )
            .await
            .map_err(|e| unavailable("erasing an opening from the vault", &e))?;
        Ok(deleted > 0)
    }
}

/// A checkpoint query: the checkpoints `picked` selects, each joined with its cosignatures in the
/// order added (one row per cosignature, or one row with none).
macro_rules! with_cosignatures {
    ($picked:literal) => {
        concat!(
            "SELECT c.size, c.root, c.note, c.signed_at_ms, s.witness, s.line FROM (",
            $picked,
            ") c LEFT JOIN cosignatures s ON s.size = c.size \
             ORDER BY c.size, s.added_at_ms, s.witness"
        )
    };
}

const CHECKPOINT_AT: &str = with_cosignatures!("SELECT * FROM checkpoints WHERE size = $1");
const LATEST_CHECKPOINT: &str =
    with_cosignatures!("SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1");
const CHECKPOINTS_FROM: &str =
    with_cosignatures!("SELECT * FROM checkpoints WHERE size >= $1 ORDER BY size LIMIT $2");

/// The checkpoint of size `at` (at most one), on a client or inside a transaction.
async fn checkpoints_at(
    client: &impl deadpool_postgres::GenericClient,
    at: i64,
) -> Result<Vec<StoredCheckpoint>> {
    let rows = client
        .query(CHECKPOINT_AT, &[&at])
        .await
        .map_err(|e| unavailable("reading a checkpoint", &e))?;
    checkpoints_from(&rows)
}

/// Rows of a [`with_cosignatures!`] query, as checkpoints.
fn checkpoints_from(rows: &[Row]) -> Result<Vec<StoredCheckpoint>> {
    let mut out = CheckpointRows::default();
    for row in rows {
        let size = to_u64(col(row, 0, "checkpoints.size")?, "a checkpoint's size")?;
        let witness: Option<String> = col(row, 4, "cosignatures.witness")?;
        let line: Option<String> = col(row, 5, "cosignatures.line")?;
        out.push(
            size,
            || {
                let root: Vec<u8> = col(row, 1, "checkpoints.root")?;
                let note: String = col(row, 2, "checkpoints.note")?;
                let signed_at_ms: i64 = col(row, 3, "checkpoints.signed_at_ms")?;
                Ok((root, note, signed_at_ms))
            },
            witness.zip(line),
        )?;
    }
    out.finish()
}

fn opening_from(row: &Row) -> Result<Opening> {
    let commitment: &[u8] = col(row, 0, "vault.commitment")?;
    let salt: &[u8] = col(row, 1, "vault.salt")?;
    let value: &str = col(row, 2, "vault.value")?;
    opening_from_row(commitment, salt, value)
}

fn no_checkpoint(size: u64) -> StoreError {
    StoreError::Conflict(format!(
        "没有规模为 {size} 的检查点 / no checkpoint of size {size} is stored; a witness cosigns \
         only a checkpoint the log signed"
    ))
}

fn refused_cosignature(size: u64, witness: &str, why: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "refused to store {witness}'s cosignature of the checkpoint of size {size}: {why}"
    ))
}

fn conflicting_checkpoint(size: u64, stored: &[u8], new: &Hash) -> StoreError {
    let stored = <[u8; 32]>::try_from(stored)
        .map(|b| Hash(b).to_string())
        .unwrap_or_else(|_| format!("{} bytes", stored.len()));
    StoreError::Conflict(format!(
        "规模 {size} 已有不同根的检查点 / a checkpoint of size {size} with root {stored} is \
         already stored; the log never signs a second one with root {new}: run `bangfu verify`"
    ))
}

/// Which of the batch's statements is already in the log (asked after the rollback; the unique
/// violation's message is not parsed, it is translated under `lc_messages`).
async fn duplicate_statement(client: &tokio_postgres::Client, ids: &[&str]) -> StoreError {
    let found = client
        .query_opt(
            "SELECT statement_id FROM entries WHERE statement_id = ANY($1) ORDER BY idx LIMIT 1",
            &[&ids],
        )
        .await;
    match found {
        Ok(Some(row)) => match row.try_get::<_, String>(0) {
            Ok(id) => StoreError::DuplicateStatement(id),
            Err(e) => StoreError::Corrupt(format!("entries.statement_id: {}", describe(&e))),
        },
        // Only possible if the conflicting row vanished, which the triggers forbid.
        Ok(None) => StoreError::DuplicateStatement(ids.join(", ")),
        Err(e) => unavailable("finding the duplicate statement", &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Test databases.

static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How to get a server for the tests, said whenever there is none.
const HOW_TO_START: &str = "Start the server with \
     `pg_ctlcluster --skip-systemctl-redirect 15 main start`, or point BANGFU_TEST_DATABASE_URL \
     at one";

async fn admin_client(admin_url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot reach PostgreSQL at the admin URL: {}. {HOW_TO_START}",
                describe(&e)
            ))
        })?;
    tokio::spawn(connection);
    Ok(client)
}

/// Creates a fresh, uniquely named, empty database on the server at `admin_url` (a URL whose user
/// may `CREATE DATABASE`) and returns a URL for it: the same server and user, the new name. The
/// name is `name_prefix` (lower-cased, reduced to `[a-z0-9_]`), the process id, a counter and a
/// random part. For tests: each gets its own database; drop it with [`drop_database`].
pub async fn create_test_database(admin_url: &str, name_prefix: &str) -> Result<String> {
    let name = unique_name(name_prefix);
    let client = admin_client(admin_url).await?;
    client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await
        .map_err(|e| unavailable(&format!("creating database {name}"), &e))?;
    Ok(with_dbname(admin_url, &name))
}

/// Drops a database made by [`create_test_database`] (its name, or a URL ending in it),
/// disconnecting whoever is still connected to it. Dropping one that does not exist is not an error.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let name = database_name_of(name);
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Unavailable(format!(
            "refusing to drop {name:?}: not the name of a test database"
        )));
    }
    let client = admin_client(admin_url).await?;
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .await
        .map_err(|e| unavailable(&format!("dropping database {name}"), &e))
}

/// The server the tests make their databases on: `BANGFU_TEST_DATABASE_URL`, else
/// `postgres://postgres@127.0.0.1:5432/postgres`. Its user must be allowed to `CREATE DATABASE`.
pub fn test_admin_url() -> String {
    std::env::var("BANGFU_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database on the [`test_admin_url`] server (see [`create_test_database`]), dropped when
/// this is dropped, so a test's database goes when the test ends, pass or fail.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connects to the new database.
    pub url: String,
}

impl TestDatabase {
    /// Makes the database; its name starts with `prefix`. When there is no server to make it on,
    /// the error says how to start one or where to point the tests instead.
    pub async fn create(prefix: &str) -> Result<TestDatabase> {
        let url = create_test_database(&test_admin_url(), prefix)
            .await
            .map_err(|e| {
                let why = match e {
                    StoreError::Conflict(why)
                    | StoreError::DuplicateStatement(why)
                    | StoreError::Unavailable(why)
                    | StoreError::Corrupt(why) => why,
                };
                let hint = if why.contains(HOW_TO_START) {
                    String::new()
                } else {
                    format!(". {HOW_TO_START}")
                };
                StoreError::Unavailable(format!("PostgreSQL is needed for this test: {why}{hint}"))
            })?;
        Ok(TestDatabase { url })
    }
}

impl Drop for TestDatabase {
    /// Drops the database on a thread of its own with its own runtime, so it works inside and
    /// outside an async test, whichever runtime flavour that test runs on.
    fn drop(&mut self) {
        let url = self.url.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                let _ = rt.block_on(drop_database(&test_admin_url(), &url));
            }
        })
        .join();
    }
}

/// `postgres://…/name?…` → `name`; a bare name is returned as is.
fn database_name_of(name_or_url: &str) -> &str {
    if !name_or_url.contains("://") {
        return name_or_url;
    }
    let before_query = name_or_url.split('?').next().unwrap_or_default();
    let after_scheme = before_query
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    after_scheme
        .split_once('/')
        .map(|(_, db)| db)
        .unwrap_or_default()
}

fn unique_name(prefix: &str) -> String {
    let mut p: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .take(30)
        .collect();
    if !p.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        p.insert(0, 't');
    }
    let n = DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let random = h.finish() as u32;
    format!("{p}_{}_{n}_{random:08x}", std::process::id())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The same connection settings as `url`, for database `name`.
fn with_dbname(url: &str, name: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        let Some(rest) = url.strip_prefix(scheme) else {
            continue;
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let authority = before_query.split('/').next().unwrap_or_default();
        let query: Vec<&str> = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|kv| !kv.is_empty() && !kv.starts_with("dbname="))
            .collect();
        let mut out = format!("{scheme}{authority}/{name}");
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        return out;
    }
    // key=value form: a later dbname overrides an earlier one.
    format!("{url} dbname={name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_for_a_new_database() {
        assert_eq!(
            with_dbname("postgres://postgres@127.0.0.1:5432/postgres", "t_1"),
            "postgres://postgres@127.0.0.1:5432/t_1"
        );
        assert_eq!(
            with_dbname("postgresql://u:p@h/db?sslmode=disable&dbname=x", "t_1"),
            "postgresql://u:p@h/t_1?sslmode=disable"
        );
        assert_eq!(with_dbname("postgres://h", "t_1"), "postgres://h/t_1");
        assert_eq!(
            with_dbname("host=127.0.0.1 user=postgres", "t_1"),
            "host=127.0.0.1 user=postgres dbname=t_1"
        );
        assert_eq!(database_name_of("postgres://h:1/t_1?x=y"), "t_1");
        assert_eq!(database_name_of("t_1"), "t_1");
    }

    #[test]
    fn database_names_are_safe_and_unique() {
        let a = unique_name("Bangfu-Test 😀");
        let b = unique_name("Bangfu-Test 😀");
        assert_ne!(a, b);
        assert!(a.starts_with("bangfutest_"), "{a}");
        assert!(a.len() < 63);
        assert!(unique_name("9x").starts_with("t9x_"));
        assert!(unique_name("").starts_with("t_"));
    }

    #[test]
    fn lock_keys_differ() {
        assert_ne!(LOG_LOCK, MIGRATION_LOCK);
        assert_ne!(CHECKPOINT_LOCK, LOG_LOCK);
        assert_ne!(CHECKPOINT_LOCK, MIGRATION_LOCK);
        assert!(LOCK_AND_SIZE.contains(&LOG_LOCK.to_string()));
        assert!(NOTIFY_SIZE.contains(&format!("'{LOG_CHANNEL}'")));
    }
}
