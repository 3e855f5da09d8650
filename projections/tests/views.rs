//! The read-model stores' conformance suite: the same checks on `MemViews`, `SqliteViews` and
//! `PgViews` — rows and cursor move together, a conflicting commit writes nothing, scans page by
//! prefix in byte order, upserts overwrite, rebuilds stay beside the live rows until promoted —
//! and, on the two databases, promotion under open readers, repeated rebuilds, reopening, racing
//! writers and 50,000-row commits. Then `LogWatch` on PostgreSQL: woken by `NOTIFY` and by a real
//! append, the fallback, and reconnecting after its connection is killed.

#[path = "../../store/src/bin/fault_appender/district.rs"]
mod district;

use bangfu_projections::views::{MemViews, ViewError, ViewStore};
use bangfu_projections::views_postgres::PgViews;
use bangfu_projections::views_sqlite::SqliteViews;
use bangfu_projections::watch::LogWatch;
use bangfu_store::postgres::TestDatabase;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every row under `prefix`, fetched `page` at a time.
async fn all<S: ViewStore>(s: &S, prefix: &str, page: u32) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone()).unwrap_or_default();
        let got = s.scan(prefix, &after, page).await.unwrap();
        assert!(got.len() <= page as usize);
        let done = got.len() < page as usize;
        out.extend(got);
        if done {
            return out;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every store.

async fn commit_moves_rows_and_cursor_together<S: ViewStore>(s: S) {
    assert_eq!(s.applied().await.unwrap(), 0, "a new store is at entry 0");
    assert_eq!(s.get("a/1").await.unwrap(), None);
    s.commit(
        0,
        2,
        &rows(&[("a/1", r#"{"n":1}"#), ("b/1", r#"{"名":"张三"}"#)]),
    )
    .await
    .unwrap();
    assert_eq!(s.applied().await.unwrap(), 2);
    assert_eq!(s.get("a/1").await.unwrap().as_deref(), Some(r#"{"n":1}"#));
    assert_eq!(
        s.get("b/1").await.unwrap().as_deref(),
        Some(r#"{"名":"张三"}"#)
    );
    // A commit with no rows still moves the cursor (entries that change no read model).
    s.commit(2, 5, &[]).await.unwrap();
    assert_eq!(s.applied().await.unwrap(), 5);
    assert_eq!(all(&s, "", 10).await.len(), 2);
}

async fn a_conflicting_commit_writes_nothing<S: ViewStore>(s: S) {
    s.commit(0, 2, &rows(&[("a/1", "1")])).await.unwrap();
    let stale = s
        .commit(0, 3, &rows(&[("a/1", "changed"), ("a/2", "new")]))
        .await;
    assert_eq!(
        stale,
        Err(ViewError::Conflict {
            expected: 0,
            found: 2
        })
    );
    let ahead = s.commit(7, 9, &rows(&[("a/3", "new")])).await;
    assert_eq!(
        ahead,
        Err(ViewError::Conflict {
            expected: 7,
            found: 2
        })
    );
    assert_eq!(s.applied().await.unwrap(), 2);
    assert_eq!(all(&s, "", 10).await, rows(&[("a/1", "1")]));
    // And the store carries on from where it is.
    s.commit(2, 3, &rows(&[("a/2", "2")])).await.unwrap();
    assert_eq!(s.applied().await.unwrap(), 3);
}

/// Keys where byte order differs from a locale's (case, punctuation) and kinds that share a
/// prefix with a neighbour.
const KEYS: &[&str] = &[
    "a/B",
    "a/a",
    "a/_",
    "a/-",
    "a/0",
    "a/A",
    "a/b",
    "a/~",
    "a",
    "a0",
    "a/",
    "b/1",
    "pair/1",
    "pair/2",
    "pair/10",
    "pair0/1",
    "pairing/1",
    "pairing/2",
    "pai",
    "pair",
    "z",
];

async fn scan_pages_by_prefix_in_byte_order<S: ViewStore>(s: S) {
    let written: Vec<(String, String)> = KEYS
        .iter()
        .map(|k| (k.to_string(), format!(r#"{{"k":"{k}"}}"#)))
        .collect();
    s.commit(0, 1, &written).await.unwrap();
    // Rust's `str` order is byte order.
    let reference: BTreeMap<String, String> = written.iter().cloned().collect();
    let expect = |prefix: &str| -> Vec<(String, String)> {
        reference
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let keys_of = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys_of(&all(&s, "a/", 100).await),
        ["a/", "a/-", "a/0", "a/A", "a/B", "a/_", "a/a", "a/b", "a/~"],
        "byte order, not a locale's"
    );
    assert_eq!(
        keys_of(&all(&s, "pair/", 100).await),
        ["pair/1", "pair/10", "pair/2"]
    );
    assert_eq!(
        keys_of(&all(&s, "pairing/", 100).await),
        ["pairing/1", "pairing/2"]
    );
    for prefix in [
        "", "a", "a/", "pair", "pair/", "pairing/", "pai", "z", "zz/", "b/",
    ] {
        for page in [1, 2, 3, 100] {
            assert_eq!(
                all(&s, prefix, page).await,
                expect(prefix),
                "prefix {prefix:?} in pages of {page}"
            );
        }
    }
    // `after` before the prefix, inside it, past it.
    assert_eq!(s.scan("pair/", "a", 10).await.unwrap(), expect("pair/"));
    assert_eq!(
        keys_of(&s.scan("pair/", "pair/1", 10).await.unwrap()),
        ["pair/10", "pair/2"]
    );
    assert_eq!(
        keys_of(&s.scan("pair/", "pair/10", 1).await.unwrap()),
        ["pair/2"]
    );
    assert!(s.scan("a/", "b", 10).await.unwrap().is_empty());
    assert!(s.scan("a/", "", 0).await.unwrap().is_empty());
}

async fn upsert_overwrites<S: ViewStore>(s: S) {
    s.commit(0, 1, &rows(&[("a/1", "one"), ("a/2", "two")]))
        .await
        .unwrap();
    s.commit(1, 2, &rows(&[("a/1", "uno"), ("a/3", "tres")]))
        .await
        .unwrap();
    assert_eq!(
        all(&s, "a/", 10).await,
        rows(&[("a/1", "uno"), ("a/2", "two"), ("a/3", "tres")])
    );
    // A key twice in one batch: the last write wins.
    s.commit(
        2,
        3,
        &rows(&[("a/2", "first"), ("a/4", "x"), ("a/2", "last")]),
    )
    .await
    .unwrap();
    assert_eq!(s.get("a/2").await.unwrap().as_deref(), Some("last"));
    assert_eq!(all(&s, "a/", 10).await.len(), 4);
}

async fn a_rebuild_starts_empty_beside_the_live_rows<S: ViewStore>(s: S) {
    s.commit(0, 4, &rows(&[("a/1", "live")])).await.unwrap();
    let next = s.start_rebuild().await.unwrap();
    assert_eq!(next.applied().await.unwrap(), 0);
    assert!(all(&next, "", 10).await.is_empty());
    next.commit(0, 2, &rows(&[("a/1", "rebuilt"), ("a/2", "rebuilt")]))
        .await
        .unwrap();
    assert_eq!(next.get("a/1").await.unwrap().as_deref(), Some("rebuilt"));
    // The live rows are untouched until the promotion.
    assert_eq!(s.applied().await.unwrap(), 4);
    assert_eq!(all(&s, "", 10).await, rows(&[("a/1", "live")]));
    // The live store goes on being written meanwhile.
    s.commit(4, 5, &rows(&[("a/3", "live")])).await.unwrap();
    assert_eq!(next.get("a/3").await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// The two databases: several handles on one store.

/// `live` and `other` are two handles on one store; both have read before the promotion, so
/// their connections hold prepared statements naming the old tables.
async fn promotion_swaps_in_the_rebuilt_rows<S: ViewStore>(live: S, other: S) {
    live.commit(
        0,
        3,
        &rows(&[("a/1", "old"), ("a/2", "old"), ("b/1", "old")]),
    )
    .await
    .unwrap();
    for _ in 0..6 {
        for s in [&live, &other] {
            assert_eq!(s.applied().await.unwrap(), 3);
            assert_eq!(s.get("a/1").await.unwrap().as_deref(), Some("old"));
            assert_eq!(all(s, "a/", 1).await.len(), 2);
            assert_eq!(all(s, "", 10).await.len(), 3);
        }
    }
    let next = live.start_rebuild().await.unwrap();
    next.commit(0, 5, &rows(&[("a/1", "new"), ("c/1", "new")]))
        .await
        .unwrap();
    for s in [&live, &other] {
        assert_eq!(s.applied().await.unwrap(), 3, "not promoted yet");
        assert_eq!(s.get("c/1").await.unwrap(), None);
    }
    next.promote().await.unwrap();
    let rebuilt = rows(&[("a/1", "new"), ("c/1", "new")]);
    for s in [&live, &other] {
        for _ in 0..6 {
            assert_eq!(s.applied().await.unwrap(), 5, "the rebuilt cursor");
            assert_eq!(all(s, "", 10).await, rebuilt, "exactly the rebuilt rows");
            assert_eq!(all(s, "a/", 1).await, rows(&[("a/1", "new")]));
            assert_eq!(s.get("a/2").await.unwrap(), None);
            assert_eq!(s.get("c/1").await.unwrap().as_deref(), Some("new"));
        }
    }
    // A projector still at the old cursor learns that the rows moved on.
    assert_eq!(
        live.commit(3, 4, &rows(&[("z/1", "stale")])).await,
        Err(ViewError::Conflict {
            expected: 3,
            found: 5
        })
    );
    live.commit(5, 6, &rows(&[("d/1", "after")])).await.unwrap();
    assert_eq!(other.get("d/1").await.unwrap().as_deref(), Some("after"));

    // Again: nothing left by the first rebuild gets in the way.
    for round in 0..2u64 {
        let next = other.start_rebuild().await.unwrap();
        assert_eq!(next.applied().await.unwrap(), 0);
        assert!(all(&next, "", 10).await.is_empty());
        let doc = format!("round {round}");
        next.commit(0, 10 + round, &[("e/1".to_string(), doc.clone())])
            .await
            .unwrap();
        next.promote().await.unwrap();
        for s in [&live, &other] {
            assert_eq!(s.applied().await.unwrap(), 10 + round);
            assert_eq!(all(s, "", 10).await, vec![("e/1".to_string(), doc.clone())]);
        }
        live.commit(10 + round, 11 + round, &rows(&[("f/1", "x")]))
            .await
            .unwrap();
        assert_eq!(other.get("f/1").await.unwrap().as_deref(), Some("x"));
    }
}

async fn an_interrupted_rebuild_is_dropped<S: ViewStore>(live: S) {
    live.commit(0, 1, &rows(&[("a/1", "live")])).await.unwrap();
    let next = live.start_rebuild().await.unwrap();
    next.commit(0, 7, &rows(&[("x/1", "half done")]))
        .await
        .unwrap();
    drop(next);
    let next = live.start_rebuild().await.unwrap();
    assert_eq!(next.applied().await.unwrap(), 0);
    assert!(all(&next, "", 10).await.is_empty());
    next.commit(0, 2, &rows(&[("y/1", "done")])).await.unwrap();
    next.promote().await.unwrap();
    assert_eq!(all(&live, "", 10).await, rows(&[("y/1", "done")]));
    assert_eq!(live.applied().await.unwrap(), 2);
}

async fn only_a_rebuild_can_be_promoted<S: ViewStore>(live: S, again: S) {
    live.commit(0, 1, &rows(&[("a/1", "live")])).await.unwrap();
    assert!(matches!(
        live.promote().await,
        Err(ViewError::Unavailable(_))
    ));
    assert_eq!(all(&again, "", 10).await, rows(&[("a/1", "live")]));
}

async fn reopening_sees_committed_data<S: ViewStore>(first: S, reopen: impl AsyncFn() -> S) {
    first
        .commit(0, 9, &rows(&[("a/1", "kept"), ("b/2", "kept")]))
        .await
        .unwrap();
    drop(first);
    let s = reopen().await;
    assert_eq!(s.applied().await.unwrap(), 9);
    assert_eq!(
        all(&s, "", 10).await,
        rows(&[("a/1", "kept"), ("b/2", "kept")])
    );
    // Opening again creates nothing anew.
    s.commit(9, 10, &rows(&[("c/3", "more")])).await.unwrap();
    drop(s);
    let s = reopen().await;
    assert_eq!(s.applied().await.unwrap(), 10);
    assert_eq!(all(&s, "", 10).await.len(), 3);
}

/// Two projectors committing from the same cursor: one wins, the other writes nothing.
async fn racing_writers_one_wins<S: ViewStore>(a: S, b: S) {
    for round in 0..10u64 {
        let ka = format!("a/{round}");
        let kb = format!("b/{round}");
        let ra = [(ka.clone(), "a".to_string())];
        let rb = [(kb.clone(), "b".to_string())];
        let (x, y) = tokio::join!(
            a.commit(round, round + 1, &ra),
            b.commit(round, round + 1, &rb)
        );
        let conflict = Err(ViewError::Conflict {
            expected: round,
            found: round + 1,
        });
        match (&x, &y) {
            (Ok(()), c) if *c == conflict => assert_eq!(b.get(&kb).await.unwrap(), None),
            (c, Ok(())) if *c == conflict => assert_eq!(a.get(&ka).await.unwrap(), None),
            _ => panic!("round {round}: {x:?} and {y:?}"),
        }
        assert_eq!(a.applied().await.unwrap(), round + 1);
    }
}

async fn fifty_thousand_rows_in_one_commit<S: ViewStore>(s: S, name: &str) {
    const N: usize = 50_000;
    let doc = |i: usize, v: &str| {
        format!(
            r#"{{"household":"h{i}","cadre":"c{}","status":"{v}","visits":[1,2,3],"note":"走访记录 visit record"}}"#,
            i % 97
        )
    };
    // Keys in a scattered order, as a projection's dirty set would give them.
    let batch: Vec<(String, String)> = (0..N)
        .map(|i| {
            let j = (i * 7919) % N;
            (format!("pairing/p2016:h{j:06}"), doc(j, "new"))
        })
        .collect();
    let started = Instant::now();
    s.commit(0, 1, &batch).await.unwrap();
    let insert = started.elapsed();
    let update: Vec<(String, String)> = batch
        .iter()
        .map(|(k, _)| (k.clone(), doc(0, "updated")))
        .collect();
    let started = Instant::now();
    s.commit(1, 2, &update).await.unwrap();
    let upsert = started.elapsed();
    eprintln!(
        "{name}: {N} new rows in {insert:?} ({:.0} rows/s), {N} overwritten in {upsert:?} ({:.0} rows/s)",
        N as f64 / insert.as_secs_f64(),
        N as f64 / upsert.as_secs_f64()
    );
    let got = all(&s, "pairing/", 10_000).await;
    assert_eq!(got.len(), N);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(got.iter().all(|(_, d)| d.contains("updated")));
    assert_eq!(s.applied().await.unwrap(), 2);
    // Generous: a behaviour check that the batch path is not per-row round trips, not a benchmark.
    assert!(
        insert < Duration::from_secs(20) && upsert < Duration::from_secs(20),
        "{name}: {insert:?}, {upsert:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The stores.

macro_rules! every_store {
    ($name:ident, $env:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn commit_moves_rows_and_cursor_together() {
                let env = $env;
                super::commit_moves_rows_and_cursor_together(env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_conflicting_commit_writes_nothing() {
                let env = $env;
                super::a_conflicting_commit_writes_nothing(env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn scan_pages_by_prefix_in_byte_order() {
                let env = $env;
                super::scan_pages_by_prefix_in_byte_order(env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn upsert_overwrites() {
                let env = $env;
                super::upsert_overwrites(env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_rebuild_starts_empty_beside_the_live_rows() {
                let env = $env;
                super::a_rebuild_starts_empty_beside_the_live_rows(env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fifty_thousand_rows_in_one_commit() {
                let env = $env;
                super::fifty_thousand_rows_in_one_commit(env.open().await, stringify!($name)).await;
            }
        }
    };
}

macro_rules! database_store {
    ($name:ident, $env:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn promotion_swaps_in_the_rebuilt_rows() {
                let env = $env;
                super::promotion_swaps_in_the_rebuilt_rows(env.open().await, env.open().await)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_interrupted_rebuild_is_dropped() {
                let env = $env;
                super::an_interrupted_rebuild_is_dropped(env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn only_a_rebuild_can_be_promoted() {
                let env = $env;
                super::only_a_rebuild_can_be_promoted(env.open().await, env.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopening_sees_committed_data() {
                let env = $env;
                super::reopening_sees_committed_data(env.open().await, async || env.open().await)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn racing_writers_one_wins() {
                let env = $env;
                super::racing_writers_one_wins(env.open().await, env.open().await).await;
            }
        }
    };
}

struct MemEnv;

impl MemEnv {
    async fn open(&self) -> MemViews {
        MemViews::new()
    }
}

/// A fresh folder; `open()` opens another handle on the same file.
struct SqliteEnv(tempfile::TempDir);

impl SqliteEnv {
    fn new() -> Self {
        SqliteEnv(tempfile::tempdir().unwrap())
    }
    fn path(&self) -> std::path::PathBuf {
        self.0.path().join("data").join("readmodels.sqlite")
    }
    async fn open(&self) -> SqliteViews {
        SqliteViews::open(&self.path())
            .await
            .expect("open the read models")
    }
}

/// A fresh database, dropped when the test ends, pass or fail; `open()` connects another handle
/// to it.
struct PgEnv(TestDatabase);

impl PgEnv {
    async fn new() -> Self {
        PgEnv(
            TestDatabase::create("bangfu_views")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }
    async fn open(&self) -> PgViews {
        PgViews::connect(&self.0.url)
            .await
            .expect("connect to the test database")
    }
    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.0.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

every_store!(mem, MemEnv);
every_store!(sqlite, SqliteEnv::new());
every_store!(postgres, PgEnv::new().await);
database_store!(sqlite_db, SqliteEnv::new());
database_store!(postgres_db, PgEnv::new().await);

// ---------------------------------------------------------------------------------------------
// One store only.

#[cfg(unix)]
#[tokio::test]
async fn sqlite_file_and_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = SqliteEnv::new();
    let _views = env.open().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.path()), 0o600);
    assert_eq!(mode(env.path().parent().unwrap()), 0o700);
}

#[tokio::test]
async fn sqlite_refuses_the_log_file_and_other_databases() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("log.sqlite");
    let log = bangfu_store::sqlite::SqliteBackend::open(&log_path)
        .await
        .unwrap();
    match SqliteViews::open(&log_path).await {
        Err(ViewError::Unavailable(why)) => assert!(why.contains("log's file"), "{why}"),
        other => panic!("the log's file was taken for read models: {other:?}"),
    }
    drop(log);
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE things (x)")
        .unwrap();
    assert!(matches!(
        SqliteViews::open(&other).await,
        Err(ViewError::Unavailable(_))
    ));
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, not at all, no indeed ".repeat(40)).unwrap();
    assert!(SqliteViews::open(&text).await.is_err());
}

/// The key column orders byte-wise whatever the database's locale, also after a promotion; and
/// the test keys are ones a locale would order differently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys_collate_as_c() {
    let env = PgEnv::new().await;
    let live = env.open().await;
    let client = env.client().await;
    let collation = async |table: &str| -> String {
        client
            .query_one(
                "SELECT c.collname::text FROM pg_attribute a \
                 JOIN pg_collation c ON c.oid = a.attcollation \
                 WHERE a.attrelid = $1::text::regclass AND a.attname = 'key'",
                &[&table],
            )
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(collation("rm_docs").await, "C");
    let next = live.start_rebuild().await.unwrap();
    assert_eq!(collation("rm_next_docs").await, "C");
    next.promote().await.unwrap();
    assert_eq!(collation("rm_docs").await, "C");
    let constraints: Vec<String> = client
        .query(
            "SELECT conname::text FROM pg_constraint \
             WHERE conrelid IN ('rm_docs'::regclass, 'rm_cursor'::regclass) ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        constraints,
        [
            "rm_cursor_applied_check",
            "rm_cursor_id_check",
            "rm_cursor_pkey",
            "rm_docs_pkey"
        ]
    );
    let has_icu: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if has_icu {
        let keys: Vec<&str> = KEYS.to_vec();
        let locale: Vec<String> = client
            .query(
                r#"SELECT k FROM unnest($1::text[]) AS k ORDER BY k COLLATE "en-US-x-icu""#,
                &[&keys],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut bytes: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        bytes.sort();
        assert_ne!(
            locale, bytes,
            "the test keys should tell the two orders apart"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// LogWatch.

/// Returns how long `changed()` took.
async fn time_changed(watch: &mut LogWatch) -> Duration {
    let started = Instant::now();
    watch.changed().await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_watch_wakes_on_notify_and_falls_back_after_a_second() {
    let env = PgEnv::new().await;
    let mut watch = LogWatch::postgres(&env.0.url).await.unwrap();
    // Nothing happens: the fallback.
    let quiet = time_changed(&mut watch).await;
    assert!(
        quiet >= Duration::from_millis(900) && quiet < Duration::from_secs(3),
        "{quiet:?}"
    );
    let client = env.client().await;
    for _ in 0..3 {
        let notify = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client
                .batch_execute("NOTIFY bangfu_log, '1'")
                .await
                .unwrap();
        };
        let (took, ()) = tokio::join!(time_changed(&mut watch), notify);
        assert!(
            took >= Duration::from_millis(90) && took < Duration::from_millis(900),
            "woken after {took:?}"
        );
    }
    // A notification on another channel is not a wake-up.
    client
        .batch_execute("NOTIFY something_else, '1'")
        .await
        .unwrap();
    let quiet = time_changed(&mut watch).await;
    assert!(quiet >= Duration::from_millis(900), "{quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_watch_wakes_when_an_append_commits() {
    let env = PgEnv::new().await;
    let backend = bangfu_store::postgres::PgBackend::connect(&env.0.url)
        .await
        .unwrap();
    let log = bangfu_store::log::Log::open(backend).await.unwrap();
    let mut watch = LogWatch::postgres(&env.0.url).await.unwrap();
    // A plain listener too, to see the payloads: the log's size after each append.
    let (client, mut connection) = tokio_postgres::connect(&env.0.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (sizes_tx, mut sizes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = sizes_tx.send((n.channel().to_string(), n.payload().to_string()));
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", bangfu_store::postgres::LOG_CHANNEL))
        .await
        .unwrap();
    let statements = district::district(1, 1);
    let n = statements.len() as u64;
    let again = statements[0].clone();
    for (index, st) in (0u64..).zip(statements) {
        let append = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            log.append(st).await.unwrap()
        };
        let (took, receipt) = tokio::join!(time_changed(&mut watch), append);
        assert_eq!(receipt.index, index);
        assert!(took < Duration::from_millis(900), "woken after {took:?}");
        let heard = tokio::time::timeout(Duration::from_secs(5), sizes.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(heard, ("bangfu_log".to_string(), (index + 1).to_string()));
    }
    assert_eq!(log.size().await.unwrap(), n);
    // A replayed statement appends nothing, so nobody is told anything.
    assert!(log.append(again).await.unwrap().replayed);
    log.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sizes.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_watch_reconnects_when_its_connection_is_killed() {
    let env = PgEnv::new().await;
    let app = "bangfu-watch-reconnect";
    let mut watch = LogWatch::postgres(&format!("{}?application_name={app}", env.0.url))
        .await
        .unwrap();
    let client = env.client().await;
    let listener = async || -> Option<i32> {
        client
            .query_opt(
                "SELECT pid FROM pg_stat_activity \
                 WHERE application_name = $1 AND datname = current_database() \
                   AND state = 'idle' AND query = 'LISTEN bangfu_log'",
                &[&app],
            )
            .await
            .unwrap()
            .map(|r| r.get(0))
    };
    let first = listener().await.expect("the watch listens");
    client
        .execute("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap();
    // While it is away, the fallback still wakes the projector.
    let away = time_changed(&mut watch).await;
    assert!(away < Duration::from_millis(1500), "{away:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        match listener().await {
            Some(pid) if pid != first => break pid,
            _ if Instant::now() > deadline => panic!("the watch did not listen again"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_ne!(first, second);
    // The reconnection wakes once (appends may have been missed meanwhile), unless the fallback
    // above already took that wake-up; either way none is left after this.
    tokio::time::sleep(Duration::from_millis(200)).await;
    time_changed(&mut watch).await;
    let notify = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client
            .batch_execute("NOTIFY bangfu_log, '7'")
            .await
            .unwrap();
    };
    let (took, ()) = tokio::join!(time_changed(&mut watch), notify);
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_millis(900),
        "woken after {took:?}"
    );
}

#[tokio::test]
async fn log_watch_polls_on_sqlite() {
    let mut watch = LogWatch::poll(Duration::from_millis(50));
    let took = time_changed(&mut watch).await;
    assert!(took >= Duration::from_millis(45) && took < Duration::from_secs(2));
}

#[tokio::test]
async fn log_watch_reports_a_server_it_cannot_reach() {
    // Port 1 on the loopback: nothing listens there.
    let started = Instant::now();
    assert!(
        LogWatch::postgres("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2")
            .await
            .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(LogWatch::postgres("not a url").await.is_err());
}
