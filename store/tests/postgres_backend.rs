//! The PostgreSQL backend against a real server: each test makes its own fresh database.
//!
//! The server is `postgres://postgres@127.0.0.1:5432/postgres` unless `BANGFU_TEST_DATABASE_URL`
//! says otherwise. When it cannot be reached the tests fail (they never skip) and say how to start
//! it.

use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event;
use bangfu_ledger::jcs;
use bangfu_ledger::merkle::{self, CompactRange, leaf_hash};
use bangfu_store::backend::{Backend, Batch, NewEntry, StoreError, StoredEntry};
use bangfu_store::postgres::{self, PgBackend, SCHEMA_VERSION, TestDatabase};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// A fresh database on the test server, dropped when the test ends (or at
/// `drop(db)`).
struct Db(TestDatabase);

impl std::ops::Deref for Db {
    type Target = TestDatabase;
    fn deref(&self) -> &TestDatabase {
        &self.0
    }
}

impl Db {
    async fn new() -> Db {
        Db(TestDatabase::create("bangfu_pgtest")
            .await
            .unwrap_or_else(|e| panic!("{e}")))
    }

    async fn open(&self) -> PgBackend {
        PgBackend::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening the fresh database: {e}"))
    }

    /// A plain client, as an administrator poking at the tables by hand would use.
    async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to the fresh database: {e}"));
        tokio::spawn(connection);
        client
    }
}

fn event(aggregate: &str, sequence: u64, event_type: &str, payload: Value) -> Event {
    let (aggregate_type, aggregate_id) = aggregate.split_once('/').unwrap();
    Event {
        aggregate_type: aggregate_type.into(),
        aggregate_id: aggregate_id.into(),
        sequence,
        event_type: event_type.into(),
        event_version: "1".into(),
        payload: payload.as_object().unwrap().clone(),
    }
}

fn entry(index: u64, statement_id: &str, events: Vec<Event>, households: &[&str]) -> NewEntry {
    let target = events
        .first()
        .map(|e| (e.aggregate_type.clone(), e.aggregate_id.clone()))
        .unwrap_or_else(|| ("authority".into(), "gulou".into()));
    let body = jcs::to_vec(&json!({
        "index": index,
        "statement": statement_id,
        "events": events.iter().map(Event::to_json).collect::<Vec<_>>(),
    }))
    .unwrap();
    NewEntry {
        index,
        statement_id: statement_id.into(),
        aggregate_type: target.0,
        aggregate_id: target.1,
        signer: "MCowBQYDK2VwAyEAsigner".into(),
        recorded_at_ms: 1_467_331_200_000 + index as i64,
        leaf: leaf_hash(&body),
        body,
        events,
        households: households.iter().map(|h| h.to_string()).collect(),
    }
}

/// A batch of `entries` on top of `range`, with the hashes they add; `range` grows.
fn batch(range: &mut CompactRange, entries: Vec<NewEntry>) -> Batch {
    let first_index = range.size();
    let hashes = entries.iter().flat_map(|e| range.append(e.leaf)).collect();
    Batch {
        first_index,
        entries,
        hashes,
    }
}

fn bodies(entries: &[NewEntry]) -> Vec<StoredEntry> {
    entries
        .iter()
        .map(|e| StoredEntry {
            index: e.index,
            body: e.body.clone(),
        })
        .collect()
}

async fn assert_refused(client: &tokio_postgres::Client, sql: &str) {
    let err = client
        .batch_execute(sql)
        .await
        .expect_err(&format!("`{sql}` must be refused"));
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("`{sql}`: {err:?}"));
    assert!(
        db.message().starts_with("bangfu: the log is append-only"),
        "`{sql}`: {}",
        db.message()
    );
    assert!(
        db.message()
            .contains("corrections are new signed statements"),
        "`{sql}`: {}",
        db.message()
    );
}

#[tokio::test]
async fn migrations_are_versioned_and_idempotent() {
    let db = Db::new().await;
    let backend = db.open().await;
    assert_eq!(backend.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 2);
    let mut range = CompactRange::new();
    let b = batch(&mut range, vec![entry(0, "s0", vec![], &[])]);
    backend.append(&b).await.unwrap();
    drop(backend);

    // Re-opening is a no-op: same version, one migration row, the data kept.
    let backend = db.open().await;
    assert_eq!(backend.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(backend.size().await.unwrap(), 1);
    let sql = db.sql().await;
    let rows = sql
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, vec![1, 2]);

    // Two processes opening at once both succeed; the migration runs once.
    let other = Db::new().await;
    let (a, b) = tokio::join!(
        PgBackend::connect(&other.url),
        PgBackend::connect(&other.url)
    );
    assert_eq!(a.unwrap().schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(b.unwrap().schema_version().await.unwrap(), SCHEMA_VERSION);
    drop(other);

    // A store newer than this program is refused, not written to.
    sql.execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
        .await
        .unwrap();
    match PgBackend::connect(&db.url).await {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("99"), "{why}"),
        other => panic!("a store at version 99 must be refused: {other:?}"),
    }
    drop(db);
}

#[tokio::test]
async fn an_older_store_is_migrated() {
    // A store from before the first migration: the bookkeeping table, nothing applied.
    let db = Db::new().await;
    db.sql()
        .await
        .batch_execute(
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .unwrap();
    let backend = db.open().await;
    assert_eq!(backend.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(backend.size().await.unwrap(), 0);
    drop(db);
}

#[tokio::test]
async fn append_and_read_back_exactly() {
    let db = Db::new().await;
    let backend = db.open().await;
    assert_eq!(backend.size().await.unwrap(), 0);
    assert!(backend.entries(0, 10).await.unwrap().is_empty());

    // Keys out of order, nesting, non-ASCII text, integers at the edge of the safe range.
    let odd = json!({"zeta": 1, "alpha": {"b": [3, 2, 1], "a": "鼓楼区"}, "n": 9007199254740991i64, "e": ""});
    let e0 = entry(
        0,
        "s0",
        vec![
            event(
                "authority/gulou",
                1,
                "genesis",
                json!({"origin": "bangfu.example/gulou"}),
            ),
            event(
                "key/k1",
                1,
                "key_registered",
                json!({"holder": "person/org"}),
            ),
        ],
        &[],
    );
    let e1 = entry(
        1,
        "s1",
        vec![
            event("household/h1", 1, "registered", odd.clone()),
            event("key/k2", 1, "key_registered", json!({"holder": "cadre/c1"})),
            event("household/h1", 2, "noted", json!({})),
            event("key/k1", 2, "key_revoked", json!({"why": "lost"})),
        ],
        &["h1", "h1"],
    );
    let e2 = entry(
        2,
        "s2",
        vec![event(
            "pairing/p:h1",
            1,
            "formed",
            json!({"household": "h1"}),
        )],
        &["h1", "h2"],
    );
    let e3 = entry(3, "s3", vec![], &["h2"]);
    let e4 = entry(
        4,
        "s4",
        vec![event("household/h1", 3, "visited", json!({"by": "c1"}))],
        &["h1"],
    );
    let all = vec![e0, e1, e2, e3, e4];

    let mut range = CompactRange::new();
    let first = batch(&mut range, all[..2].to_vec());
    let second = batch(&mut range, all[2..].to_vec());
    let mut hashes = first.hashes.clone();
    hashes.extend(second.hashes.clone());
    backend.append(&first).await.unwrap();
    backend.append(&second).await.unwrap();

    // Entries.
    assert_eq!(backend.size().await.unwrap(), 5);
    assert_eq!(backend.entries(0, 100).await.unwrap(), bodies(&all));
    assert_eq!(backend.entries(2, 2).await.unwrap(), bodies(&all[2..4]));
    assert!(backend.entries(5, 10).await.unwrap().is_empty());
    assert!(backend.entries(u64::MAX, 10).await.unwrap().is_empty());
    assert!(backend.entries(0, 0).await.unwrap().is_empty());
    assert_eq!(
        backend.entry_by_statement("s3").await.unwrap(),
        Some(bodies(&all[3..4])[0].clone())
    );
    assert_eq!(backend.entry_by_statement("nope").await.unwrap(), None);

    // Events of one aggregate, by sequence, exactly as written (payload included).
    let h1 = backend.aggregate_events("household", "h1").await.unwrap();
    assert_eq!(
        h1,
        vec![
            all[1].events[0].clone(),
            all[1].events[2].clone(),
            all[4].events[0].clone()
        ]
    );
    assert_eq!(h1[0].payload, *odd.as_object().unwrap());
    assert!(
        backend
            .aggregate_events("household", "h9")
            .await
            .unwrap()
            .is_empty()
    );

    // The payload is stored as its JCS text.
    let sql = db.sql().await;
    let stored: String = sql
        .query_one(
            "SELECT payload FROM events WHERE aggregate_type = 'household' AND sequence = 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored.as_bytes(), jcs::to_vec(&odd).unwrap().as_slice());

    // Events of some types in (entry, position in entry) order, with their entry index.
    let want: Vec<(u64, Event)> = vec![
        (0, all[0].events[0].clone()),
        (0, all[0].events[1].clone()),
        (1, all[1].events[1].clone()),
        (1, all[1].events[3].clone()),
    ];
    let types = ["key", "authority"];
    assert_eq!(backend.events_of_types(&types, 0, 100).await.unwrap(), want);
    // `limit` counts entries: one page holds whole entries.
    assert_eq!(
        backend.events_of_types(&types, 0, 1).await.unwrap(),
        want[..2]
    );
    assert_eq!(
        backend.events_of_types(&types, 1, 1).await.unwrap(),
        want[2..]
    );
    assert!(
        backend
            .events_of_types(&types, 2, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        backend
            .events_of_types(&[], 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Paging as the log does (from = last index + 1 until empty) sees every event once.
    let mut paged = Vec::new();
    let mut from = 0;
    loop {
        let page = backend
            .events_of_types(&["household", "key"], from, 1)
            .await
            .unwrap();
        let Some((last, _)) = page.last() else { break };
        from = last + 1;
        paged.extend(page);
    }
    let every: Vec<(u64, Event)> = all
        .iter()
        .flat_map(|e| e.events.iter().map(move |ev| (e.index, ev.clone())))
        .filter(|(_, ev)| ev.aggregate_type == "household" || ev.aggregate_type == "key")
        .collect();
    assert_eq!(paged, every);

    // Households.
    assert_eq!(
        backend.entries_of_household("h1", 0, 100).await.unwrap(),
        vec![1, 2, 4]
    );
    assert_eq!(
        backend.entries_of_household("h1", 2, 1).await.unwrap(),
        vec![2]
    );
    assert_eq!(
        backend.entries_of_household("h2", 0, 100).await.unwrap(),
        vec![2, 3]
    );
    assert!(
        backend
            .entries_of_household("h3", 0, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Hashes: in the order asked, repeats included; a missing one is Corrupt.
    let by_pos: HashMap<u64, Hash> = hashes.iter().map(|h| (h.position, h.hash)).collect();
    let mut positions: Vec<u64> = by_pos.keys().copied().collect();
    positions.sort();
    positions.reverse();
    positions.push(positions[0]);
    let read = backend.read_hashes(&positions).await.unwrap();
    assert_eq!(
        read,
        positions.iter().map(|p| by_pos[p]).collect::<Vec<_>>()
    );
    assert!(backend.read_hashes(&[]).await.unwrap().is_empty());
    match backend.read_hashes(&[positions[0], 1_000_000]).await {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("1000000"), "{why}"),
        other => panic!("a missing hash must be Corrupt: {other:?}"),
    }
    match backend.read_hashes(&[u64::MAX]).await {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("a position beyond BIGINT must be Corrupt (missing): {other:?}"),
    }
    // The tree resumes from what is stored, with the same root.
    let size = backend.size().await.unwrap();
    let peaks = merkle::tree_hash_positions(size).unwrap();
    let stored: HashMap<u64, Hash> = peaks
        .iter()
        .copied()
        .zip(backend.read_hashes(&peaks).await.unwrap())
        .collect();
    assert_eq!(merkle::tree_hash(size, &stored).unwrap(), range.root());

    drop(db);
}

#[tokio::test]
async fn a_stale_first_index_is_a_conflict() {
    let db = Db::new().await;
    let backend = db.open().await;
    let mut range = CompactRange::new();
    backend
        .append(&batch(&mut range, vec![entry(0, "s0", vec![], &[])]))
        .await
        .unwrap();
    backend
        .append(&batch(&mut range, vec![entry(1, "s1", vec![], &[])]))
        .await
        .unwrap();

    // A writer that still thinks the log holds one entry.
    let mut stale_range = CompactRange::new();
    stale_range.append(leaf_hash(b"whatever"));
    let stale = batch(&mut stale_range, vec![entry(1, "s-late", vec![], &["h1"])]);
    match backend.append(&stale).await {
        Err(e @ StoreError::Conflict(_)) => {
            assert!(e.is_retryable());
            let why = e.to_string();
            assert!(why.contains('2') && why.contains('1'), "{why}");
        }
        other => panic!("stale first_index must be a Conflict: {other:?}"),
    }
    // One from the future is a conflict too.
    let mut ahead = CompactRange::new();
    for i in 0..5 {
        ahead.append(leaf_hash(&[i]));
    }
    let future = batch(&mut ahead, vec![entry(5, "s-future", vec![], &[])]);
    assert!(matches!(
        backend.append(&future).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(backend.size().await.unwrap(), 2);
    assert_eq!(backend.entry_by_statement("s-late").await.unwrap(), None);
    assert!(
        backend
            .entries_of_household("h1", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The batch's first index must match its entries.
    let mut r = range.clone();
    let mut bad = batch(&mut r, vec![entry(2, "s2", vec![], &[])]);
    bad.entries[0].index = 7;
    assert!(matches!(
        backend.append(&bad).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(backend.size().await.unwrap(), 2);
    drop(db);
}

#[tokio::test]
async fn a_taken_aggregate_sequence_is_a_conflict_and_writes_nothing() {
    let db = Db::new().await;
    let backend = db.open().await;
    let mut range = CompactRange::new();
    let first = batch(
        &mut range,
        vec![entry(
            0,
            "s0",
            vec![event(
                "household/h1",
                1,
                "registered",
                json!({"members": 3}),
            )],
            &["h1"],
        )],
    );
    backend.append(&first).await.unwrap();

    // A later batch: a good entry, then one reusing household/h1's sequence 1.
    let mut r = range.clone();
    let later = batch(
        &mut r,
        vec![
            entry(
                1,
                "s1",
                vec![event(
                    "household/h2",
                    1,
                    "registered",
                    json!({"members": 2}),
                )],
                &["h2"],
            ),
            entry(
                2,
                "s2",
                vec![event(
                    "household/h1",
                    1,
                    "registered",
                    json!({"members": 4}),
                )],
                &["h1"],
            ),
        ],
    );
    match backend.append(&later).await {
        Err(StoreError::Conflict(why)) => assert!(why.contains("sequence"), "{why}"),
        other => panic!("a taken sequence must be a Conflict: {other:?}"),
    }
    // Nothing of that batch was written.
    assert_eq!(backend.size().await.unwrap(), 1);
    assert_eq!(backend.entry_by_statement("s1").await.unwrap(), None);
    assert!(
        backend
            .aggregate_events("household", "h2")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        backend.aggregate_events("household", "h1").await.unwrap(),
        first.entries[0].events
    );
    assert!(
        backend
            .entries_of_household("h2", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        backend.entries_of_household("h1", 0, 10).await.unwrap(),
        vec![0]
    );
    let later_positions: Vec<u64> = later.hashes.iter().map(|h| h.position).collect();
    assert!(matches!(
        backend.read_hashes(&later_positions).await,
        Err(StoreError::Corrupt(_))
    ));

    // The same sequence twice inside one batch is a conflict as well.
    let mut r = range.clone();
    let twice = batch(
        &mut r,
        vec![entry(
            1,
            "s3",
            vec![
                event("household/h3", 1, "registered", json!({})),
                event("household/h3", 1, "registered", json!({})),
            ],
            &[],
        )],
    );
    assert!(matches!(
        backend.append(&twice).await,
        Err(StoreError::Conflict(_))
    ));

    // The log still takes the right next batch.
    let next = batch(
        &mut range,
        vec![entry(
            1,
            "s1",
            vec![event("household/h1", 2, "noted", json!({}))],
            &["h1"],
        )],
    );
    backend.append(&next).await.unwrap();
    assert_eq!(backend.size().await.unwrap(), 2);
    drop(db);
}

#[tokio::test]
async fn a_statement_already_in_the_log_is_refused() {
    let db = Db::new().await;
    let backend = db.open().await;
    let mut range = CompactRange::new();
    backend
        .append(&batch(&mut range, vec![entry(0, "s0", vec![], &[])]))
        .await
        .unwrap();
    backend
        .append(&batch(&mut range, vec![entry(1, "s1", vec![], &[])]))
        .await
        .unwrap();

    let mut r = range.clone();
    let again = batch(
        &mut r,
        vec![entry(2, "fresh", vec![], &[]), entry(3, "s1", vec![], &[])],
    );
    let e = backend.append(&again).await.unwrap_err();
    assert_eq!(e, StoreError::DuplicateStatement("s1".into()));
    assert!(!e.is_retryable());

    // Twice in one batch.
    let mut r = range.clone();
    let twice = batch(
        &mut r,
        vec![entry(2, "dup", vec![], &[]), entry(3, "dup", vec![], &[])],
    );
    assert_eq!(
        backend.append(&twice).await,
        Err(StoreError::DuplicateStatement("dup".into()))
    );
    assert_eq!(backend.size().await.unwrap(), 2);
    assert_eq!(backend.entry_by_statement("fresh").await.unwrap(), None);
    drop(db);
}

#[tokio::test]
async fn the_tables_are_append_only() {
    let db = Db::new().await;
    let backend = db.open().await;
    let mut range = CompactRange::new();
    backend
        .append(&batch(
            &mut range,
            vec![entry(
                0,
                "s0",
                vec![event(
                    "household/h1",
                    1,
                    "registered",
                    json!({"members": 3}),
                )],
                &["h1"],
            )],
        ))
        .await
        .unwrap();
    let sql = db.sql().await;
    for sql_text in [
        "UPDATE entries SET signer = 'someone else'",
        "UPDATE events SET payload = '{}'",
        "UPDATE entry_households SET household = 'h2'",
        "UPDATE tree_hashes SET hash = hash",
        "DELETE FROM entries",
        "DELETE FROM events WHERE sequence = 1",
        "DELETE FROM entry_households",
        "DELETE FROM tree_hashes",
        "TRUNCATE entries",
        "TRUNCATE events",
        "TRUNCATE entry_households",
        "TRUNCATE tree_hashes",
        "TRUNCATE entries, events, entry_households, tree_hashes",
    ] {
        assert_refused(&sql, sql_text).await;
    }
    // Nothing changed.
    assert_eq!(backend.size().await.unwrap(), 1);
    assert_eq!(
        backend
            .aggregate_events("household", "h1")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        backend.entries_of_household("h1", 0, 9).await.unwrap(),
        vec![0]
    );
    drop(db);
}

/// The grants documented in postgres.rs: the service's role can open the store, append and read,
/// and cannot change or remove anything, whatever the triggers.
#[tokio::test]
async fn the_service_role_can_append_and_read_but_not_rewrite() {
    let db = Db::new().await;
    let owner = db.open().await; // migrates, as the owner
    let role = db.url.rsplit('/').next().unwrap().to_owned() + "_svc";
    let sql = db.sql().await;
    sql.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN;
         REVOKE ALL ON entries, events, entry_households, tree_hashes, schema_migrations FROM PUBLIC;
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT ON entries, events, entry_households, tree_hashes TO {role};
         GRANT SELECT ON schema_migrations TO {role};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    ))
    .await
    .unwrap();

    let mut config: tokio_postgres::Config = db.url.parse().unwrap();
    config.user(&role);
    let service = PgBackend::connect_config(config.clone())
        .await
        .expect("the service role opens a migrated store");
    assert_eq!(service.schema_version().await.unwrap(), SCHEMA_VERSION);
    let mut range = CompactRange::new();
    let b = batch(
        &mut range,
        vec![entry(
            0,
            "s0",
            vec![event("household/h1", 1, "registered", json!({}))],
            &["h1"],
        )],
    );
    service.append(&b).await.unwrap();
    assert_eq!(owner.size().await.unwrap(), 1);
    assert_eq!(service.entries(0, 9).await.unwrap(), bodies(&b.entries));

    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    for sql_text in [
        "UPDATE entries SET signer = 'x'",
        "DELETE FROM events",
        "TRUNCATE tree_hashes",
        "ALTER TABLE entries DISABLE TRIGGER entries_append_only",
        "DROP TABLE entry_households",
        "CREATE TABLE sneaky (x int)",
    ] {
        let err = client.batch_execute(sql_text).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "`{sql_text}` as the service role: {err:?}"
        );
    }
    drop((service, owner, client, sql));
    drop(db);
    // Roles belong to the whole server: remove this one once its database is gone.
    let (admin, connection) =
        tokio_postgres::connect(&postgres::test_admin_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_appenders_one_wins_each_round() {
    const RACERS: usize = 16;
    const ROUNDS: u64 = 6;
    let db = Db::new().await;
    let backend = Arc::new(db.open().await);
    let mut range = CompactRange::new();
    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for racer in 0..RACERS {
            let mut r = range.clone();
            let b = batch(
                &mut r,
                vec![entry(
                    round,
                    &format!("r{round}-{racer}"),
                    vec![event(
                        &format!("household/r{round}x{racer}"),
                        1,
                        "registered",
                        json!({}),
                    )],
                    &[],
                )],
            );
            let (backend, barrier) = (backend.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                (racer, backend.append(&b).await, b)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (racer, result, b) = t.await.unwrap();
            match result {
                Ok(()) => winners.push((racer, b)),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}, racer {racer}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one append wins");
        let (racer, won) = winners.pop().unwrap();
        range.append(won.entries[0].leaf);
        let stored = backend.entries(round, 1).await.unwrap();
        assert_eq!(stored, bodies(&won.entries), "round {round}: racer {racer}");
    }
    // No gaps, and the stored tree is the tree of the winners.
    assert_eq!(backend.size().await.unwrap(), ROUNDS);
    let stored = backend.entries(0, 100).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.index).collect::<Vec<_>>(),
        (0..ROUNDS).collect::<Vec<_>>()
    );
    let peaks = merkle::tree_hash_positions(ROUNDS).unwrap();
    let hashes: HashMap<u64, Hash> = peaks
        .iter()
        .copied()
        .zip(backend.read_hashes(&peaks).await.unwrap())
        .collect();
    assert_eq!(merkle::tree_hash(ROUNDS, &hashes).unwrap(), range.root());
    drop(backend);
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_that_retry_on_conflict_leave_no_gaps() {
    const WRITERS: usize = 16;
    const EACH: usize = 5;
    let db = Db::new().await;
    let backend = Arc::new(db.open().await);
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let backend = backend.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for n in 0..EACH {
                loop {
                    let size = backend.size().await.unwrap();
                    let b = Batch {
                        first_index: size,
                        entries: vec![entry(size, &format!("w{w}-{n}"), vec![], &[])],
                        hashes: vec![],
                    };
                    match backend.append(&b).await {
                        Ok(()) => break,
                        Err(StoreError::Conflict(_)) => conflicts += 1,
                        Err(e) => panic!("writer {w}: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = (WRITERS * EACH) as u64;
    assert_eq!(backend.size().await.unwrap(), total);
    let stored = backend.entries(0, 1000).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.index).collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>()
    );
    for w in 0..WRITERS {
        for n in 0..EACH {
            assert!(
                backend
                    .entry_by_statement(&format!("w{w}-{n}"))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
    drop(backend);
    drop(db);
}

#[tokio::test]
async fn a_large_batch_is_one_append() {
    let db = Db::new().await;
    let backend = db.open().await;
    let mut range = CompactRange::new();
    let entries: Vec<NewEntry> = (0..500u64)
        .map(|i| {
            entry(
                i,
                &format!("s{i}"),
                vec![
                    event(&format!("household/h{i}"), 1, "registered", json!({"i": i})),
                    event("key/k", i + 1, "used", json!({"i": i})),
                ],
                &[&format!("h{i}"), "all"],
            )
        })
        .collect();
    let b = batch(&mut range, entries.clone());
    backend.append(&b).await.unwrap();
    assert_eq!(backend.size().await.unwrap(), 500);
    assert_eq!(backend.entries(0, 1000).await.unwrap(), bodies(&entries));
    let key_events = backend.aggregate_events("key", "k").await.unwrap();
    assert_eq!(key_events.len(), 500);
    assert_eq!(key_events[499].sequence, 500);
    assert_eq!(
        backend.entries_of_household("all", 0, 1000).await.unwrap(),
        (0..500).collect::<Vec<_>>()
    );
    let positions: Vec<u64> = b.hashes.iter().map(|h| h.position).collect();
    assert_eq!(
        backend.read_hashes(&positions).await.unwrap(),
        b.hashes.iter().map(|h| h.hash).collect::<Vec<_>>()
    );
    drop(db);
}

#[tokio::test]
async fn damaged_rows_are_corrupt_not_a_panic() {
    let db = Db::new().await;
    let backend = db.open().await;
    let sql = db.sql().await;
    // Rows no append would write, inserted by hand (the triggers allow INSERT).
    sql.batch_execute(
        "INSERT INTO events VALUES ('household', 'h1', 1, 0, 0, 'registered', '1', '[1,2]');
         INSERT INTO events VALUES ('household', 'h2', 1, 0, 1, 'registered', '1', '{\"a\":1.5}');
         INSERT INTO events VALUES ('household', 'h3', -4, 0, 2, 'registered', '1', '{}');
         INSERT INTO entries VALUES (0, 's0', 'a', 'b', 'k', 0, '\\x0000000000000000000000000000000000000000000000000000000000000000', 'x');
         INSERT INTO entries VALUES (2, 's2', 'a', 'b', 'k', 0, '\\x0000000000000000000000000000000000000000000000000000000000000000', 'x');",
    )
    .await
    .unwrap();
    for h in ["h1", "h2", "h3"] {
        match backend.aggregate_events("household", h).await {
            Err(StoreError::Corrupt(_)) => {}
            other => panic!("{h}: {other:?}"),
        }
    }
    assert!(matches!(
        backend.events_of_types(&["household"], 0, 10).await,
        Err(StoreError::Corrupt(_))
    ));
    match backend.entries(0, 10).await {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("entry 1 is missing"), "{why}"),
        other => panic!("a gap must be Corrupt: {other:?}"),
    }
    assert!(matches!(
        backend.entries(1, 10).await,
        Err(StoreError::Corrupt(_))
    ));
    drop(db);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    match PgBackend::connect("postgres://postgres@127.0.0.1:1/nothing").await {
        Err(e @ StoreError::Unavailable(_)) => assert!(e.is_retryable()),
        other => panic!("{other:?}"),
    }
    match postgres::create_test_database("postgres://postgres@127.0.0.1:1/postgres", "x").await {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("pg_ctlcluster"), "{why}"),
        other => panic!("{other:?}"),
    }
}
