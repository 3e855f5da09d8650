//! The projector's row cache under pressure, and commits overlapping the next batch: with a cache
//! bound so small that every committed row is evicted after each batch, and batches of a few
//! hundred entries, projecting the realistic program (see `common/scenario.rs`) gives the same
//! rows as a replay that never evicts — from an empty store, resuming over stored rows, and after
//! a commit that failed part-way. A projection that started from an empty store asks the store
//! only for rows it evicted, never for rows that do not exist.

mod common;

use bangfu_projections::projector::{self, Projector};
use bangfu_projections::views::{MemViews, Result as ViewResult, ViewError, ViewStore};
use bangfu_projections::views_sqlite::SqliteViews;
use bangfu_store::log::Log;
use bangfu_store::sqlite::SqliteBackend;
use common::scenario::{Scenario, final_day};
use common::{SEED, assert_same_rows, rows};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Another store, counting the rows asked for and those not found, and failing the `fail_at`-th
/// commit (counting from 1; 0 never fails).
struct Counting<V> {
    inner: V,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    gets: AtomicU64,
    not_found: AtomicU64,
    commits: AtomicU64,
    fail_at: AtomicU64,
}

impl<V: ViewStore> Counting<V> {
    fn new(inner: V) -> (Counting<V>, Arc<Stats>) {
        let stats = Arc::new(Stats::default());
        let stats2 = Arc::clone(&stats);
        (Counting { inner, stats }, stats2)
    }
}

impl<V: ViewStore> ViewStore for Counting<V> {
    async fn applied(&self) -> ViewResult<u64> {
        self.inner.applied().await
    }

    async fn get(&self, key: &str) -> ViewResult<Option<String>> {
        self.stats.gets.fetch_add(1, Ordering::SeqCst);
        let found = self.inner.get(key).await?;
        if found.is_none() {
            self.stats.not_found.fetch_add(1, Ordering::SeqCst);
        }
        Ok(found)
    }

    async fn commit(&self, from: u64, to: u64, rows: &[(String, String)]) -> ViewResult<()> {
        let n = self.stats.commits.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.stats.fail_at.load(Ordering::SeqCst) {
            return Err(ViewError::Unavailable("a commit failed (test)".into()));
        }
        self.inner.commit(from, to, rows).await
    }

    async fn scan(
        &self,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> ViewResult<Vec<(String, String)>> {
        self.inner.scan(prefix, after, limit).await
    }

    async fn start_rebuild(&self) -> ViewResult<Counting<V>> {
        Ok(Counting {
            inner: self.inner.start_rebuild().await?,
            stats: Arc::clone(&self.stats),
        })
    }

    async fn promote(self) -> ViewResult<()> {
        self.inner.promote().await
    }
}

/// The realistic program on a SQLite log in `dir`.
async fn program(dir: &std::path::Path) -> Log<SqliteBackend> {
    let mut sc = Scenario::new(SEED);
    let backend = SqliteBackend::open(&dir.join("log.sqlite"))
        .await
        .expect("open SQLite store");
    let log = Log::open_with_clock(backend, sc.clock())
        .await
        .expect("open log");
    sc.run_until(&log, final_day()).await;
    assert!(sc.finished());
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_cache_and_overlapping_commits_give_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let log = program(dir.path()).await;
    let b = log.backend();
    let size = log.size().await.unwrap();
    let reference = rows(&projector::as_of(b, size).await.unwrap()).await;
    assert!(reference.len() > 5_000, "{} rows", reference.len());

    // With room for everything, a projection from an empty store never asks the store.
    let (views, stats) = Counting::new(MemViews::new());
    let mut p = Projector::open(b, views).await.unwrap().with_batch(300);
    assert_eq!(p.catch_up(b, None, None).await.unwrap(), size);
    assert_same_rows("unbounded", &reference, &rows(p.views()).await);
    assert_eq!(stats.gets.load(Ordering::SeqCst), 0);
    assert!(stats.commits.load(Ordering::SeqCst) >= size / 300);

    // With no room: every committed row is evicted after each batch of 300, so rows are read
    // back from SQLite while the next batch's commit may be running. Only evicted rows are asked
    // for, so every one asked for is found.
    let (views, stats) = Counting::new(
        SqliteViews::open(&dir.path().join("a.sqlite"))
            .await
            .unwrap(),
    );
    let mut p = Projector::open(b, views)
        .await
        .unwrap()
        .with_batch(300)
        .with_cache_bound(0, 0);
    assert_eq!(p.catch_up(b, None, None).await.unwrap(), size);
    assert_same_rows("evicting from empty", &reference, &rows(p.views()).await);
    let gets = stats.gets.load(Ordering::SeqCst);
    assert!(gets > 1_000, "{gets} rows read back");
    assert_eq!(stats.not_found.load(Ordering::SeqCst), 0);

    // Resuming over stored rows: half the log projected, then the rest by a new projector that
    // evicts everything it can.
    let path = dir.path().join("b.sqlite");
    let mut first = Projector::open(b, SqliteViews::open(&path).await.unwrap())
        .await
        .unwrap()
        .with_batch(300);
    assert_eq!(
        first.catch_up(b, Some(size / 2), None).await.unwrap(),
        size / 2
    );
    drop(first);
    let mut second = Projector::open(b, SqliteViews::open(&path).await.unwrap())
        .await
        .unwrap()
        .with_batch(300)
        .with_cache_bound(0, 0);
    assert_eq!(second.applied(), size / 2);
    assert_eq!(second.catch_up(b, None, None).await.unwrap(), size);
    assert_same_rows("evicting, resumed", &reference, &rows(second.views()).await);
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_loses_nothing_and_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let log = program(dir.path()).await;
    let b = log.backend();
    let size = log.size().await.unwrap();
    let reference = rows(&projector::as_of(b, size).await.unwrap()).await;

    let (views, stats) = Counting::new(
        SqliteViews::open(&dir.path().join("rm.sqlite"))
            .await
            .unwrap(),
    );
    // The fifth commit fails while the sixth batch is being applied beside it.
    stats.fail_at.store(5, Ordering::SeqCst);
    let mut p = Projector::open(b, views)
        .await
        .unwrap()
        .with_batch(300)
        .with_cache_bound(0, 0);
    let failed = p.catch_up(b, None, None).await;
    assert!(
        matches!(
            failed,
            Err(bangfu_projections::apply::ProjectError::Views(
                ViewError::Unavailable(_)
            ))
        ),
        "{failed:?}"
    );
    let stored = p.views().applied().await.unwrap();
    assert_eq!(p.applied(), stored);
    assert!(stored > 0 && stored < size, "the cursor stayed at {stored}");
    // The next attempt starts again from the stored cursor.
    assert_eq!(p.catch_up(b, None, None).await.unwrap(), size);
    assert_same_rows("after a failed commit", &reference, &rows(p.views()).await);
    log.close().await;
}
