//! The follower keeps the read models current by itself: after an append, the rows catch up
//! without anyone asking — woken by NOTIFY on PostgreSQL, by polling on SQLite — and stopping it
//! leaves a cursor the next run resumes from.

#[path = "../../store/src/bin/fault_appender/district.rs"]
mod district;

use bangfu_projections::projector::Projector;
use bangfu_projections::views::ViewStore;
use bangfu_projections::views_postgres::PgViews;
use bangfu_projections::views_sqlite::SqliteViews;
use bangfu_projections::watch::{LogWatch, POLL};
use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use bangfu_store::postgres::{PgBackend, TestDatabase};
use bangfu_store::sqlite::SqliteBackend;
use std::time::{Duration, Instant};

/// Appends a district, starts a follower, appends more, and waits for the rows to catch up.
async fn follows<B: Backend, V: ViewStore + Clone>(log: Log<B>, views: V, watch: LogWatch) {
    for s in district::district(2, 3) {
        log.append(s).await.unwrap();
    }
    let backend = log.shared_backend();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = {
        let (backend, views) = (backend.clone(), views.clone());
        tokio::spawn(async move {
            let mut p = Projector::open(backend.as_ref(), views).await?;
            p.follow(backend.as_ref(), watch, stopped).await
        })
    };
    for round in 0..3u64 {
        let started = Instant::now();
        log.append(district::visit(1, 2, round)).await.unwrap();
        let size = log.size().await.unwrap();
        // Nobody calls catch_up here: only the follower can move the cursor.
        while views.applied().await.unwrap() < size {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the follower did not pick up entry {} by itself",
                size - 1
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        eprintln!(
            "round {round}: entry {} projected after {:?}",
            size - 1,
            started.elapsed()
        );
    }
    let row = views.get("pairing/p2016:h1").await.unwrap().unwrap();
    assert_eq!(row.matches("\"visit_id\"").count(), 3, "{row}");
    stop.send(true).unwrap();
    follower.await.unwrap().unwrap();
    // Stopped: the cursor stays where the log is, ready for the next run.
    assert_eq!(views.applied().await.unwrap(), log.size().await.unwrap());
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_keeps_sqlite_read_models_current() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        SqliteBackend::open(&dir.path().join("log.sqlite"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let views = SqliteViews::open(&dir.path().join("readmodels.sqlite"))
        .await
        .unwrap();
    follows(log, views, LogWatch::poll(POLL)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_keeps_postgres_read_models_current() {
    let db = TestDatabase::create("bangfu_follow")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let log = Log::open(PgBackend::connect(&db.url).await.unwrap())
        .await
        .unwrap();
    let views = PgViews::connect(&db.url).await.unwrap();
    let watch = LogWatch::postgres(&db.url).await.unwrap();
    follows(log, views, watch).await;
}
