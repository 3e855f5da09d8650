//! The conformance suite: the same behaviour, checked the same way, on PostgreSQL and on SQLite.
//! Ordering, refusals that change nothing, replay protection, 64 concurrent writers, two writers on
//! one store, proofs equal to the ledger crate's reference computation, reopening, and cqrs-es
//! loading aggregates from the log. Every test ends by verifying the whole log.

mod common;

use common::append_ok;

use bangfu_domain::aggregates::pairing::Pairing;
use bangfu_domain::replay::Replayer;
use bangfu_ledger::Hash;
use bangfu_ledger::merkle;
use bangfu_ledger::verify::Verifier;
use bangfu_store::backend::Backend;
use bangfu_store::log::{AppendError, Log, Receipt};
use bangfu_store::postgres::TestDatabase;
use common::*;
use std::sync::Arc;

/// Reads the whole log, verifies it under the full domain replay, and returns its leaves.
async fn verify_all<B: Backend>(log: &Log<B>) -> Vec<Hash> {
    let size = log.size().await.unwrap();
    let mut verifier = Verifier::new(Replayer::new());
    let mut leaves = Vec::new();
    let mut from = 0;
    while from < size {
        let page = log.entries(from, 100).await.unwrap();
        assert!(!page.is_empty(), "entries stop at {from} of {size}");
        for e in page {
            assert_eq!(e.index, from, "entries are gap-free and in order");
            leaves.push(verifier.push(&e.body).unwrap_or_else(|err| panic!("{err}")));
            from += 1;
        }
    }
    let (n, root, _) = verifier.finish().unwrap();
    assert_eq!(n, size);
    assert_eq!(root, log.tree_head(size).await.unwrap(), "stored tree head");
    leaves
}

/// Retries retryable failures, as a client would.
async fn append_retrying<B: Backend>(
    log: &Log<B>,
    st: bangfu_ledger::statement::VerifiedStatement,
) -> (Receipt, u32) {
    let mut retries = 0;
    loop {
        match log.append(st.clone()).await {
            Ok(r) => return (r, retries),
            Err(e) if e.is_retryable() => retries += 1,
            Err(e) => panic!("not retryable: {e}"),
        }
    }
}

async fn appends_in_order_and_verifies<B: Backend>(backend: B) {
    let log = Log::open(backend).await.unwrap();
    let mut expected = 0;
    for st in district(4, 8) {
        let r = append_ok(&log, st).await;
        assert_eq!(r.index, expected);
        assert!(!r.replayed);
        expected += 1;
    }
    for n in 0..20 {
        let r = append_ok(&log, visit(n % 8, 4, n as u64)).await;
        assert_eq!(r.index, expected);
        assert_eq!(r.events[0].event_type, "VisitRecorded");
        expected += 1;
    }
    assert_eq!(log.size().await.unwrap(), expected);
    let leaves = verify_all(&log).await;
    // Household lookups: h3's registration, pairing and its visits.
    let h3 = log.entries_of_household("h3", 0, 100).await.unwrap();
    assert_eq!(h3.len(), 2 + 3, "{h3:?}");
    assert!(h3.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(leaves.len() as u64, expected);
    log.close().await;
}

async fn refusals_and_replays_change_nothing<B: Backend>(backend: B) {
    let log = Log::open(backend).await.unwrap();
    for st in district(2, 2) {
        append_ok(&log, st).await;
    }
    let size = log.size().await.unwrap();
    // A cadre not paired with h0 (c1 is paired with h1).
    let unpaired = sign(
        "c1",
        "record_visit",
        "pairing/p2016:h0",
        serde_json::json!({"visit_id": "x", "date": "2016-01-05", "kind": "routine", "diary": sealed("x")}),
    );
    assert!(matches!(
        log.append(unpaired).await,
        Err(AppendError::Refused(_))
    ));
    assert_eq!(log.size().await.unwrap(), size);
    // The same statement twice: the original receipt, once in the log.
    let st = visit(0, 2, 1);
    let first = append_ok(&log, st.clone()).await;
    let again = append_ok(&log, st.clone()).await;
    assert!(again.replayed);
    assert_eq!(
        (again.index, again.leaf, &again.events),
        (first.index, first.leaf, &first.events)
    );
    assert_eq!(log.size().await.unwrap(), size + 1);
    // A different statement reusing the id.
    let reused = sign_with_id(
        st.statement().body.id.clone(),
        "c0",
        "record_visit",
        "pairing/p2016:h0",
        serde_json::json!({"visit_id": "other", "date": "2016-01-05", "kind": "routine", "diary": sealed("y")}),
    );
    assert!(matches!(
        log.append(reused).await,
        Err(AppendError::IdReused { index, .. }) if index == first.index
    ));
    assert_eq!(log.size().await.unwrap(), size + 1);
    verify_all(&log).await;
    log.close().await;
}

/// 64 concurrent writers, half on one household and half on their own: no event lost or
/// duplicated, every aggregate's sequence gap-free.
async fn sixty_four_concurrent_writers<B: Backend>(backend: B) {
    let log = Arc::new(Log::open(backend).await.unwrap());
    for st in district(8, 33) {
        append_ok(&log, st).await;
    }
    let per_writer = 5u64;
    let mut tasks = Vec::new();
    for w in 0..64u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let h = if w < 32 { 0 } else { (w - 31) as usize };
            let mut receipts = Vec::new();
            for k in 0..per_writer {
                let (r, _) = append_retrying(&log, visit(h, 8, w * 1000 + k)).await;
                receipts.push(r.index);
            }
            receipts
        }));
    }
    let mut indexes = Vec::new();
    for t in tasks {
        indexes.extend(t.await.unwrap());
    }
    indexes.sort();
    indexes.dedup();
    assert_eq!(
        indexes.len() as u64,
        64 * per_writer,
        "every append has its own entry"
    );
    let shared = log.aggregate_events("pairing", "p2016:h0").await.unwrap();
    assert_eq!(shared.len() as u64, 1 + 32 * per_writer);
    assert!(
        shared
            .iter()
            .enumerate()
            .all(|(i, e)| e.sequence == i as u64 + 1)
    );
    for h in 1..=32 {
        let own = log
            .aggregate_events("pairing", &format!("p2016:h{h}"))
            .await
            .unwrap();
        assert_eq!(own.len() as u64, 1 + per_writer);
    }
    verify_all(&log).await;
}

/// Two writers (two `Log`s, as two service processes would be) on one store: conflicts happen and
/// are reported as retryable; retried, every statement lands once.
async fn two_writers_on_one_store<B: Backend>(a: B, b: B) {
    let first = Log::open(a).await.unwrap();
    for st in district(4, 8) {
        append_ok(&first, st).await;
    }
    let second = Log::open(b).await.unwrap();
    let (first, second) = (Arc::new(first), Arc::new(second));
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        let log = if w % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut retries = 0;
            for k in 0..5 {
                let (_, r) = append_retrying(&log, visit((w % 8) as usize, 4, w * 100 + k)).await;
                retries += r;
            }
            retries
        }));
    }
    let mut retries = 0;
    for t in tasks {
        retries += t.await.unwrap();
    }
    let leaves = verify_all(&first).await;
    assert_eq!(leaves.len(), district(4, 8).len() + 80);
    eprintln!("two writers: {retries} retryable conflicts");
}

/// Proofs from stored hashes equal the ledger crate's reference computation over the leaves.
async fn proofs_equal_the_reference<B: Backend>(backend: B) {
    let log = Log::open(backend).await.unwrap();
    for st in district(3, 10) {
        append_ok(&log, st).await;
    }
    for n in 0..14 {
        append_ok(&log, visit(n % 10, 3, n as u64)).await;
    }
    let leaves = verify_all(&log).await;
    let size = leaves.len() as u64;
    let mut reference: Vec<Hash> = Vec::new();
    let mut range = merkle::CompactRange::new();
    for l in &leaves {
        reference.extend(range.append(*l).into_iter().map(|s| s.hash));
    }
    for n in 1..=size {
        assert_eq!(
            log.tree_head(n).await.unwrap(),
            merkle::root(&leaves[..n as usize])
        );
        for i in (0..n).step_by(3) {
            assert_eq!(
                log.inclusion_proof(n, i).await.unwrap(),
                merkle::inclusion_proof(n, i, &reference).unwrap()
            );
        }
        for m in (0..=n).step_by(4) {
            assert_eq!(
                log.consistency_proof(m, n).await.unwrap(),
                merkle::consistency_proof(m, n, &reference).unwrap()
            );
        }
    }
    assert!(
        log.tree_head(size + 1).await.is_err(),
        "no head beyond the log"
    );
}

async fn reopens_where_it_left_off<B: Backend, F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = B>,
{
    let log = Log::open(open().await).await.unwrap();
    for st in district(2, 4) {
        append_ok(&log, st).await;
    }
    let before = log.size().await.unwrap();
    let head = log.tree_head(before).await.unwrap();
    log.close().await;
    let log = Log::open(open().await).await.unwrap();
    assert_eq!(log.size().await.unwrap(), before);
    assert_eq!(log.tree_head(before).await.unwrap(), head);
    // The writer's state came back too: the registry knows the cadres, the tree continues.
    let r = append_ok(&log, visit(3, 2, 99)).await;
    assert_eq!(r.index, before);
    verify_all(&log).await;
}

async fn cqrs_es_loads_aggregates_from_the_log<B: Backend>(backend: B) {
    use bangfu_domain::aggregates::pairing::PairingEvent;
    use cqrs_es::persist::PersistedEventStore;
    use cqrs_es::{AggregateContext, EventStore};
    let log = Log::open(backend).await.unwrap();
    for st in district(2, 2) {
        append_ok(&log, st).await;
    }
    append_ok(&log, visit(1, 2, 7)).await;
    let store = PersistedEventStore::<_, Pairing>::new_event_store(
        bangfu_store::cqrs::LogRepository::new(log.shared_backend()),
    );
    let mut context = store.load_aggregate("p2016:h1").await.unwrap();
    let pairing = context.aggregate();
    assert_eq!(pairing.visits.len(), 1);
    assert_eq!(
        pairing.active.as_ref().map(|t| t.lead.to_string()),
        Some("c1".to_owned())
    );
    // Events without a signed statement are refused: the log is written only through append.
    let stray =
        PairingEvent::VisitAcknowledged(bangfu_domain::aggregates::pairing::VisitAcknowledged {
            visit_id: bangfu_domain::ids::VisitId::new("v7").unwrap(),
        });
    let size = log.size().await.unwrap();
    assert!(
        store
            .commit(vec![stray], context, Default::default())
            .await
            .is_err()
    );
    assert_eq!(log.size().await.unwrap(), size);
}

macro_rules! conformance {
    ($kind:ident, $open:expr) => {
        mod $kind {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn appends_in_order_and_the_log_verifies() {
                let env = $open;
                appends_in_order_and_verifies(env.backend().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn refusals_and_replays_change_nothing() {
                let env = $open;
                super::refusals_and_replays_change_nothing(env.backend().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sixty_four_concurrent_writers() {
                let env = $open;
                super::sixty_four_concurrent_writers(env.backend().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_on_one_store() {
                let env = $open;
                super::two_writers_on_one_store(env.backend().await, env.backend().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn proofs_equal_the_reference() {
                let env = $open;
                super::proofs_equal_the_reference(env.backend().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cqrs_es_loads_aggregates_from_the_log() {
                let env = $open;
                super::cqrs_es_loads_aggregates_from_the_log(env.backend().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopens_where_it_left_off() {
                let env = $open;
                super::reopens_where_it_left_off(|| env.backend()).await;
            }
        }
    };
}

/// A fresh store of each kind; `backend()` opens another connection to the same store.
struct SqliteEnv(tempfile::TempDir);

impl SqliteEnv {
    fn new() -> Self {
        SqliteEnv(tempfile::tempdir().unwrap())
    }
    async fn backend(&self) -> bangfu_store::sqlite::SqliteBackend {
        fresh_sqlite(&self.0).await
    }
}

/// Each test's database is dropped when the test ends, pass or fail.
struct PgEnv(TestDatabase);

impl PgEnv {
    async fn new() -> Self {
        PgEnv(
            TestDatabase::create("bangfu_conf")
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }
    async fn backend(&self) -> bangfu_store::postgres::PgBackend {
        bangfu_store::postgres::PgBackend::connect(&self.0.url)
            .await
            .expect("connect to the test database")
    }
}

conformance!(sqlite, SqliteEnv::new());
conformance!(postgres, PgEnv::new().await);
