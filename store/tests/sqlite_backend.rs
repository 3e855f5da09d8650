//! The SQLite backend against the `Backend` contract, on real files (one temporary folder per test).

use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event;
use bangfu_ledger::merkle::{self, CompactRange};
use bangfu_store::backend::{Backend, Batch, NewEntry, StoreError, StoredEntry};
use bangfu_store::sqlite::{APPEND_ONLY_MESSAGE, SqliteBackend};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ledger.db")
}

async fn open(path: &Path) -> SqliteBackend {
    SqliteBackend::open(path).await.expect("open the store")
}

fn payload(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("payload must be an object"),
    }
}

fn event(aggregate_type: &str, aggregate_id: &str, sequence: u64, v: Value) -> Event {
    Event {
        aggregate_type: aggregate_type.into(),
        aggregate_id: aggregate_id.into(),
        sequence,
        event_type: "Recorded".into(),
        event_version: "1".into(),
        payload: payload(v),
    }
}

/// Builds batches the way the append path does: indexes, leaves and Merkle hashes follow on.
#[derive(Clone, Default)]
struct Builder {
    range: CompactRange,
    /// Every stored hash so far, by position (positions are dense).
    hashes: Vec<Hash>,
}

struct Spec<'a> {
    statement_id: &'a str,
    target: (&'a str, &'a str),
    events: Vec<Event>,
    households: Vec<&'a str>,
}

fn spec<'a>(statement_id: &'a str, target: (&'a str, &'a str), events: Vec<Event>) -> Spec<'a> {
    Spec {
        statement_id,
        target,
        events,
        households: Vec::new(),
    }
}

impl Builder {
    fn size(&self) -> u64 {
        self.range.size()
    }

    fn batch(&mut self, specs: Vec<Spec<'_>>) -> Batch {
        let first_index = self.size();
        let mut entries = Vec::new();
        let mut hashes = Vec::new();
        for s in specs {
            let index = self.size();
            let body = serde_json::to_vec(&json!({
                "index": index,
                "statement": s.statement_id,
                "events": s.events.iter().map(Event::to_json).collect::<Vec<_>>(),
            }))
            .unwrap();
            let leaf = merkle::leaf_hash(&body);
            for h in self.range.append(leaf) {
                assert_eq!(h.position, self.hashes.len() as u64);
                self.hashes.push(h.hash);
                hashes.push(h);
            }
            entries.push(NewEntry {
                index,
                statement_id: s.statement_id.into(),
                aggregate_type: s.target.0.into(),
                aggregate_id: s.target.1.into(),
                signer: "c2lnbmVyLWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE=".into(),
                recorded_at_ms: 1_700_000_000_000 + index as i64,
                leaf,
                body,
                events: s.events,
                households: s.households.into_iter().map(String::from).collect(),
            });
        }
        Batch {
            first_index,
            entries,
            hashes,
        }
    }
}

fn stored(batch: &Batch) -> Vec<StoredEntry> {
    batch
        .entries
        .iter()
        .map(|e| StoredEntry {
            index: e.index,
            body: e.body.clone(),
        })
        .collect()
}

fn plain(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
}

/// Three batches touching two households, a unit and a key; returns them with the builder.
async fn sample(store: &SqliteBackend) -> (Builder, Vec<Batch>) {
    let mut b = Builder::default();
    let b1 = b.batch(vec![
        Spec {
            households: vec!["hh-1"],
            ..spec(
                "st-1",
                ("household", "hh-1"),
                vec![
                    event(
                        "household",
                        "hh-1",
                        1,
                        json!({"name": "张三家", "members": 4, "address": {"village": "李村", "group": 3}}),
                    ),
                    event("unit", "u-1", 1, json!({"added": "hh-1"})),
                ],
            )
        },
        spec(
            "st-2",
            ("key", "k-1"),
            vec![event("key", "k-1", 1, json!({"role": "cadre"}))],
        ),
    ]);
    let b2 = b.batch(vec![Spec {
        households: vec!["hh-1", "hh-2", "hh-1"],
        ..spec(
            "st-3",
            ("household", "hh-2"),
            vec![
                event(
                    "household",
                    "hh-2",
                    1,
                    json!({"name": "王五家", "income_fen": -12345}),
                ),
                event(
                    "household",
                    "hh-1",
                    2,
                    json!({"moved_to": "hh-2", "note": "é\u{4e00}\"\\"}),
                ),
            ],
        )
    }]);
    let b3 = b.batch(vec![
        spec(
            "st-4",
            ("unit", "u-1"),
            vec![event("unit", "u-1", 2, json!({}))],
        ),
        spec(
            "st-5",
            ("key", "k-2"),
            vec![event("key", "k-2", 1, json!({"role": "inspector"}))],
        ),
        Spec {
            households: vec!["hh-2"],
            ..spec(
                "st-6",
                ("household", "hh-2"),
                vec![event(
                    "household",
                    "hh-2",
                    2,
                    json!({"list": [1, "two", null, true, {"x": []}]}),
                )],
            )
        },
    ]);
    for batch in [&b1, &b2, &b3] {
        store.append(batch).await.expect("append");
    }
    (b, vec![b1, b2, b3])
}

/// Everything the store holds, read through the trait.
async fn check_sample(store: &SqliteBackend, b: &Builder, batches: &[Batch]) {
    let all: Vec<StoredEntry> = batches.iter().flat_map(stored).collect();
    assert_eq!(store.size().await.unwrap(), 6);
    assert_eq!(store.entries(0, 100).await.unwrap(), all);
    assert_eq!(store.entries(2, 2).await.unwrap(), all[2..4]);
    assert_eq!(store.entries(6, 10).await.unwrap(), []);
    assert_eq!(store.entries(u64::MAX, 10).await.unwrap(), []);
    assert_eq!(store.entries(0, 0).await.unwrap(), []);

    assert_eq!(
        store.entry_by_statement("st-3").await.unwrap(),
        Some(all[2].clone())
    );
    assert_eq!(store.entry_by_statement("st-404").await.unwrap(), None);

    let hh1 = store.aggregate_events("household", "hh-1").await.unwrap();
    assert_eq!(
        hh1,
        [
            batches[0].entries[0].events[0].clone(),
            batches[1].entries[0].events[1].clone()
        ]
    );
    let u1 = store.aggregate_events("unit", "u-1").await.unwrap();
    assert_eq!(
        u1,
        [
            batches[0].entries[0].events[1].clone(),
            batches[2].entries[0].events[0].clone()
        ]
    );
    assert_eq!(store.aggregate_events("unit", "u-404").await.unwrap(), []);

    // Log order: (entry index, position in the entry).
    let all_events: Vec<(u64, Event)> = batches
        .iter()
        .flat_map(|b| &b.entries)
        .flat_map(|e| e.events.iter().map(move |ev| (e.index, ev.clone())))
        .collect();
    let of = |types: &[&str]| -> Vec<(u64, Event)> {
        all_events
            .iter()
            .filter(|(_, e)| types.contains(&e.aggregate_type.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(
        store
            .events_of_types(&["household", "unit", "key"], 0, 100)
            .await
            .unwrap(),
        all_events
    );
    assert_eq!(
        store
            .events_of_types(&["unit", "key"], 0, 100)
            .await
            .unwrap(),
        of(&["unit", "key"])
    );
    assert_eq!(
        store.events_of_types(&["household"], 0, 100).await.unwrap(),
        of(&["household"])
    );
    assert_eq!(store.events_of_types(&[], 0, 100).await.unwrap(), []);
    assert_eq!(store.events_of_types(&["unit"], 0, 0).await.unwrap(), []);
    // `limit` counts entries: entry 0 holds two household/unit events, entry 2 two household ones.
    let page = store
        .events_of_types(&["household", "unit"], 0, 2)
        .await
        .unwrap();
    assert_eq!(page, of(&["household", "unit"])[..4]);
    assert_eq!(
        page.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [0, 0, 2, 2]
    );
    // Paging on from the last index returned gets the rest and then nothing.
    let rest = store
        .events_of_types(&["household", "unit"], 3, 100)
        .await
        .unwrap();
    assert_eq!(rest, of(&["household", "unit"])[4..]);
    assert_eq!(
        store
            .events_of_types(&["household", "unit"], 6, 100)
            .await
            .unwrap(),
        []
    );
    // Paging one entry at a time visits every event exactly once.
    let mut from = 0;
    let mut paged = Vec::new();
    loop {
        let page = store
            .events_of_types(&["key", "unit"], from, 1)
            .await
            .unwrap();
        let Some(&(last, _)) = page.last() else { break };
        assert!(page.iter().all(|(i, _)| *i == last));
        paged.extend(page);
        from = last + 1;
    }
    assert_eq!(paged, of(&["key", "unit"]));

    assert_eq!(
        store.entries_of_household("hh-1", 0, 10).await.unwrap(),
        [0, 2]
    );
    assert_eq!(
        store.entries_of_household("hh-2", 0, 10).await.unwrap(),
        [2, 5]
    );
    assert_eq!(
        store.entries_of_household("hh-2", 3, 10).await.unwrap(),
        [5]
    );
    assert_eq!(store.entries_of_household("hh-2", 0, 1).await.unwrap(), [2]);
    assert!(
        store
            .entries_of_household("hh-9", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Every stored hash, in the order asked (here backwards, with a repeat).
    let count = merkle::stored_hash_count(6);
    assert_eq!(count, b.hashes.len() as u64);
    let positions: Vec<u64> = (0..count).rev().chain([1]).collect();
    let expected: Vec<Hash> = positions.iter().map(|&p| b.hashes[p as usize]).collect();
    assert_eq!(store.read_hashes(&positions).await.unwrap(), expected);
    assert_eq!(store.read_hashes(&[]).await.unwrap(), []);
    let all_hashes = store
        .read_hashes(&(0..count).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        merkle::tree_hash(6, &all_hashes).unwrap(),
        b.range.root(),
        "the stored hashes give the tree head"
    );
    let missing = store.read_hashes(&[0, count]).await.unwrap_err();
    assert!(matches!(missing, StoreError::Corrupt(_)), "{missing:?}");
    assert_eq!(store.schema_version().await.unwrap(), 2);
}

#[tokio::test]
async fn append_and_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir)).await;
    assert_eq!(store.size().await.unwrap(), 0);
    assert_eq!(store.entries(0, 10).await.unwrap(), []);
    let (b, batches) = sample(&store).await;
    check_sample(&store, &b, &batches).await;

    // Payloads are stored as their exact JCS text.
    let c = plain(&db_path(&dir));
    let text: String = c
        .query_row(
            "SELECT payload FROM events WHERE aggregate_type = 'household' AND aggregate_id = 'hh-1' AND sequence = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        text,
        r#"{"address":{"group":3,"village":"李村"},"members":4,"name":"张三家"}"#
    );
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    let (mut b, mut batches) = sample(&store).await;
    drop(store);

    let store = open(&path).await;
    check_sample(&store, &b, &batches).await;
    // And the log goes on where it stopped.
    let next = b.batch(vec![spec(
        "st-7",
        ("key", "k-1"),
        vec![event("key", "k-1", 2, json!({"revoked": true}))],
    )]);
    store.append(&next).await.unwrap();
    drop(store);
    let store = open(&path).await;
    assert_eq!(store.size().await.unwrap(), 7);
    batches.push(next);
    let all: Vec<StoredEntry> = batches.iter().flat_map(stored).collect();
    assert_eq!(store.entries(0, 100).await.unwrap(), all);
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let rows = |path: &Path| -> Vec<(i64, String)> {
        let c = plain(path);
        let mut s = c
            .prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let store = open(&path).await;
    assert_eq!(store.schema_version().await.unwrap(), 2);
    drop(store);
    let first = rows(&path);
    assert_eq!(first.len(), 2);
    assert_eq!((first[0].0, first[1].0), (1, 2));
    for _ in 0..3 {
        let store = open(&path).await;
        assert_eq!(store.schema_version().await.unwrap(), 2);
        drop(store);
        assert_eq!(rows(&path), first, "re-opening changes nothing");
    }
    // Two backends on one file at once are fine too.
    let a = open(&path).await;
    let b = open(&path).await;
    assert_eq!(a.schema_version().await.unwrap(), 2);
    assert_eq!(b.schema_version().await.unwrap(), 2);
}

#[tokio::test]
async fn an_empty_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // A SQLite file at version 0: it exists, holds nothing.
    plain(&path)
        .execute_batch("PRAGMA user_version = 0; VACUUM;")
        .unwrap();
    let store = open(&path).await;
    assert_eq!(store.schema_version().await.unwrap(), 2);
    let (b, batches) = sample(&store).await;
    check_sample(&store, &b, &batches).await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are my notes, not a ledger\n".repeat(100)).unwrap();
    let err = SqliteBackend::open(&path).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("not a SQLite database")),
        "{err}"
    );
    // Untouched.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "these are my notes, not a ledger\n".repeat(100)
    );

    let other = dir.path().join("other.db");
    plain(&other)
        .execute_batch("CREATE TABLE contacts (name TEXT)")
        .unwrap();
    let err = SqliteBackend::open(&other).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("not a bangfu store")),
        "{err}"
    );
}

#[tokio::test]
async fn a_stale_first_index_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir)).await;
    let mut b = Builder::default();
    let mut stale = b.clone();
    let first = b.batch(vec![spec("st-1", ("key", "k-1"), vec![])]);
    store.append(&first).await.unwrap();

    let late = stale.batch(vec![spec("st-2", ("key", "k-2"), vec![])]);
    let err = store.append(&late).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.is_retryable());
    // Ahead of the log is a conflict too.
    let mut ahead = b.clone();
    ahead.batch(vec![spec("st-x", ("key", "k-x"), vec![])]);
    let far = ahead.batch(vec![spec("st-3", ("key", "k-3"), vec![])]);
    assert!(matches!(
        store.append(&far).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert_eq!(store.size().await.unwrap(), 1);
    assert_eq!(store.entry_by_statement("st-2").await.unwrap(), None);
    assert_eq!(store.entries(0, 10).await.unwrap(), stored(&first));
}

#[tokio::test]
async fn a_taken_aggregate_sequence_is_a_conflict_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir)).await;
    let mut b = Builder::default();
    let first = b.batch(vec![spec(
        "st-1",
        ("household", "hh-1"),
        vec![event("household", "hh-1", 1, json!({"n": 1}))],
    )]);
    store.append(&first).await.unwrap();
    let before = b.clone();

    // The second entry of the batch reuses hh-1's sequence 1; the first entry alone would be fine.
    let second = b.batch(vec![
        Spec {
            households: vec!["hh-2"],
            ..spec(
                "st-2",
                ("household", "hh-2"),
                vec![event("household", "hh-2", 1, json!({"n": 2}))],
            )
        },
        Spec {
            households: vec!["hh-1"],
            ..spec(
                "st-3",
                ("household", "hh-1"),
                vec![event("household", "hh-1", 1, json!({"n": 3}))],
            )
        },
    ]);
    let err = store.append(&second).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("household/hh-1")),
        "{err:?}"
    );

    assert_eq!(store.size().await.unwrap(), 1);
    assert_eq!(store.entries(0, 10).await.unwrap(), stored(&first));
    assert_eq!(store.entry_by_statement("st-2").await.unwrap(), None);
    assert_eq!(
        store.aggregate_events("household", "hh-2").await.unwrap(),
        []
    );
    assert_eq!(
        store.aggregate_events("household", "hh-1").await.unwrap(),
        first.entries[0].events
    );
    assert!(
        store
            .entries_of_household("hh-2", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let new_positions: Vec<u64> = second.hashes.iter().map(|h| h.position).collect();
    assert!(matches!(
        store.read_hashes(&new_positions).await.unwrap_err(),
        StoreError::Corrupt(_)
    ));
    let c = plain(&db_path(&dir));
    for table in ["entries", "events", "entry_households", "tree_hashes"] {
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        // The first batch: one entry, one event, one leaf hash, no household.
        let want = if table == "entry_households" { 0 } else { 1 };
        assert_eq!(n, want, "{table}");
    }

    // Two events with the same sequence inside one batch: a conflict as well.
    let mut b = before.clone();
    let twice = b.batch(vec![
        spec(
            "st-4",
            ("unit", "u-1"),
            vec![event("unit", "u-1", 1, json!({}))],
        ),
        spec(
            "st-5",
            ("unit", "u-1"),
            vec![event("unit", "u-1", 1, json!({}))],
        ),
    ]);
    assert!(matches!(
        store.append(&twice).await.unwrap_err(),
        StoreError::Conflict(_)
    ));

    // The right batch goes in afterwards.
    let mut b = before;
    let fixed = b.batch(vec![spec(
        "st-3",
        ("household", "hh-1"),
        vec![event("household", "hh-1", 2, json!({"n": 3}))],
    )]);
    store.append(&fixed).await.unwrap();
    assert_eq!(store.size().await.unwrap(), 2);
}

#[tokio::test]
async fn a_repeated_statement_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir)).await;
    let mut b = Builder::default();
    store
        .append(&b.batch(vec![spec("st-1", ("key", "k-1"), vec![])]))
        .await
        .unwrap();
    let before = b.clone();
    let again = b.batch(vec![
        spec("st-2", ("key", "k-2"), vec![]),
        spec("st-1", ("key", "k-3"), vec![]),
    ]);
    let err = store.append(&again).await.unwrap_err();
    assert_eq!(err, StoreError::DuplicateStatement("st-1".into()));
    assert!(!err.is_retryable());
    assert_eq!(store.size().await.unwrap(), 1);
    assert_eq!(store.entry_by_statement("st-2").await.unwrap(), None);

    // Twice in one batch.
    let mut b = before;
    let twice = b.batch(vec![
        spec("st-9", ("key", "k-2"), vec![]),
        spec("st-9", ("key", "k-3"), vec![]),
    ]);
    assert_eq!(
        store.append(&twice).await.unwrap_err(),
        StoreError::DuplicateStatement("st-9".into())
    );
    assert_eq!(store.size().await.unwrap(), 1);
}

#[tokio::test]
async fn plain_sql_cannot_change_or_remove_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    let (b, batches) = sample(&store).await;

    let c = plain(&path);
    let attempts = [
        "UPDATE entries SET body = x'00' WHERE idx = 0",
        "UPDATE entries SET statement_id = 'forged'",
        "DELETE FROM entries WHERE idx = 5",
        "DELETE FROM entries",
        "UPDATE events SET payload = '{}' WHERE aggregate_id = 'hh-1'",
        "DELETE FROM events",
        "UPDATE entry_households SET household = 'hh-9'",
        "DELETE FROM entry_households WHERE household = 'hh-1'",
        "UPDATE tree_hashes SET hash = zeroblob(32) WHERE pos = 0",
        "DELETE FROM tree_hashes",
        // REPLACE deletes the old row without firing DELETE triggers; refused all the same.
        "INSERT OR REPLACE INTO tree_hashes (pos, hash) VALUES (0, zeroblob(32))",
        "REPLACE INTO entry_households (household, idx) VALUES ('hh-1', 0)",
        "INSERT OR REPLACE INTO entries (idx, statement_id, aggregate_type, aggregate_id, signer, recorded_at_ms, leaf, body)
         VALUES (0, 'forged', 'key', 'k-1', 's', 0, zeroblob(32), x'00')",
        "INSERT OR REPLACE INTO events (aggregate_type, aggregate_id, sequence, idx, ord, event_type, event_version, payload)
         VALUES ('household', 'hh-1', 1, 0, 0, 'Forged', '1', '{}')",
        "INSERT INTO entries (idx, statement_id, aggregate_type, aggregate_id, signer, recorded_at_ms, leaf, body)
         VALUES (0, 'st-1', 'key', 'k-1', 's', 0, zeroblob(32), x'00')
         ON CONFLICT DO UPDATE SET body = x'01'",
    ];
    for sql in attempts {
        let err = c.execute(sql, []).unwrap_err();
        assert!(
            err.to_string().contains(APPEND_ONLY_MESSAGE),
            "{sql}: {err}"
        );
    }
    assert_eq!(
        APPEND_ONLY_MESSAGE,
        "bangfu: the log is append-only; corrections are new signed statements"
    );
    drop(c);
    check_sample(&store, &b, &batches).await;
}

#[tokio::test]
async fn damaged_rows_are_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    let (_, _) = sample(&store).await;
    let c = plain(&path);
    // Inserting is allowed by the triggers, so a hand-made row can be wrong in ways the schema
    // does not catch.
    c.execute_batch(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, idx, ord, event_type, event_version, payload)
         VALUES ('unit', 'u-1', 3, 5, 1, 'Bad', '1', '[1, 2]'),
                ('unit', 'u-2', 1, 5, 2, 'Bad', '1', '{\"x\": 1.5}'),
                ('unit', 'u-3', 2, 5, 3, 'Gap', '1', '{}');
         INSERT INTO entries (idx, statement_id, aggregate_type, aggregate_id, signer, recorded_at_ms, leaf, body)
         VALUES (9, 'st-9', 'key', 'k-9', 's', 0, zeroblob(32), x'00');",
    )
    .unwrap();
    for (t, id) in [("unit", "u-1"), ("unit", "u-2"), ("unit", "u-3")] {
        let err = store.aggregate_events(t, id).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{t}/{id}: {err:?}");
    }
    let err = store.events_of_types(&["unit"], 0, 100).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    // Entries 6, 7 and 8 are missing.
    let err = store.entries(0, 100).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("entry 6 is missing")),
        "{err:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_and_its_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data").join("bangfu");
    let path = folder.join("ledger.db");
    let store = open(&path).await;
    let mut b = Builder::default();
    store
        .append(&b.batch(vec![spec("st-1", ("key", "k-1"), vec![])]))
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    let wal = folder.join("ledger.db-wal");
    assert!(wal.exists(), "WAL mode");
    assert_eq!(mode(&wal), 0o600);
    assert_eq!(mode(&folder), 0o700);
}

/// 16 appenders race on the same `first_index`, round after round: exactly one wins each round,
/// the others get `Conflict`, and the log has no gaps.
async fn race(stores: Vec<SqliteBackend>) {
    const ROUNDS: usize = 12;
    let mut b = Builder::default();
    let mut winners = Vec::new();
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        let barrier = Arc::new(tokio::sync::Barrier::new(stores.len()));
        let mut candidates = Vec::new();
        for (k, store) in stores.iter().enumerate() {
            let mut mine = b.clone();
            let sid = format!("st-{round}-{k}");
            let agg = format!("k-{round}-{k}");
            let batch = mine.batch(vec![Spec {
                households: vec!["hh-1"],
                ..spec(
                    &sid,
                    ("key", &agg),
                    vec![event("key", &agg, 1, json!({"round": round, "k": k}))],
                )
            }]);
            candidates.push((mine, batch.clone()));
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.append(&batch).await
            }));
        }
        let mut won = None;
        for (k, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(()) => {
                    assert!(won.is_none(), "round {round}: two winners");
                    won = Some(k);
                }
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("round {round}: appender {k}: {other:?}"),
            }
        }
        let k = won.unwrap_or_else(|| panic!("round {round}: nobody won"));
        let (next, batch) = candidates.swap_remove(k);
        b = next;
        winners.push(batch);
    }
    let store = &stores[0];
    assert_eq!(store.size().await.unwrap(), ROUNDS as u64);
    let all: Vec<StoredEntry> = winners.iter().flat_map(stored).collect();
    assert_eq!(store.entries(0, 1000).await.unwrap(), all);
    let count = merkle::stored_hash_count(ROUNDS as u64);
    let hashes = store
        .read_hashes(&(0..count).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(hashes, b.hashes);
    assert_eq!(
        store.entries_of_household("hh-1", 0, 1000).await.unwrap(),
        (0..ROUNDS as u64).collect::<Vec<_>>()
    );
    let events = store.events_of_types(&["key"], 0, 1000).await.unwrap();
    assert_eq!(events.len(), ROUNDS);
    for (i, (idx, ev)) in events.iter().enumerate() {
        assert_eq!(*idx, i as u64);
        assert_eq!(ev, &winners[i].entries[0].events[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn racing_appenders_on_one_backend() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir)).await;
    race(vec![store; 16]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn racing_appenders_on_sixteen_connections_to_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut stores = Vec::new();
    for _ in 0..16 {
        stores.push(open(&path).await);
    }
    race(stores).await;
}

#[tokio::test]
async fn an_invalid_batch_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db_path(&dir)).await;
    let mut b = Builder::default();
    let mut gap = b.batch(vec![
        spec("st-1", ("key", "k-1"), vec![]),
        spec("st-2", ("key", "k-2"), vec![]),
    ]);
    gap.entries[1].index = 5;
    let invalid =
        |e: StoreError| matches!(&e, StoreError::Corrupt(m) if m.starts_with("invalid batch"));
    assert!(invalid(store.append(&gap).await.unwrap_err()));
    let mut unordered = Builder::default().batch(vec![
        spec("st-1", ("key", "k-1"), vec![]),
        spec("st-2", ("key", "k-2"), vec![]),
    ]);
    unordered.hashes.swap(0, 1);
    assert!(invalid(store.append(&unordered).await.unwrap_err()));
    let mut float = Builder::default().batch(vec![spec(
        "st-1",
        ("key", "k-1"),
        vec![event("key", "k-1", 1, json!({}))],
    )]);
    float.entries[0].events[0]
        .payload
        .insert("x".into(), json!(1.5));
    assert!(invalid(store.append(&float).await.unwrap_err()));
    assert_eq!(store.size().await.unwrap(), 0);
}

#[tokio::test]
async fn closing_checkpoints_the_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    sample(&store).await;
    drop(store);
    assert!(
        !dir.path().join("ledger.db-wal").exists(),
        "the last connection folds the WAL into the file"
    );
    let store = open(&path).await;
    assert_eq!(store.size().await.unwrap(), 6);
}
