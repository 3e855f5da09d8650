//! The log's writer: its aggregate cache, the batched replay lookup on both stores, and
//! pipelined commits (a batch built while the one before commits is written only after it, and
//! fails with it). A backend wrapper holds commits at a gate and signals the writer's lookups, so
//! every interleaving below is forced, never timed.

mod common;

use common::append_ok;

use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event;
use bangfu_ledger::seal::Opening;
use bangfu_ledger::statement::VerifiedStatement;
use bangfu_store::backend::{Backend, Batch, Result, StoreError, StoredCheckpoint, StoredEntry};
use bangfu_store::log::{AppendError, Log, Receipt};
use bangfu_store::postgres::{PgBackend, TestDatabase};
use bangfu_store::sqlite::SqliteBackend;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Semaphore, mpsc};

fn clock() -> bangfu_store::log::Clock {
    Box::new(|| 1_452_038_400_000) // 2016-01-06T00:00Z, after the visits' date
}

/// The visit ids recorded on household `h`'s pairing, checking its sequence is gap-free.
async fn visits<B: Backend>(log: &Log<B>, h: usize) -> Vec<String> {
    let events = log
        .aggregate_events("pairing", &format!("p2016:h{h}"))
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.sequence == i as u64 + 1),
        "pairing h{h}'s events are numbered without a gap"
    );
    events
        .iter()
        .filter(|e| e.event_type == "VisitRecorded")
        .filter_map(|e| e.payload.get("visit_id")?.as_str().map(str::to_owned))
        .collect()
}

/// A current-thread runtime runs the writer only when the test task waits, so statements sent
/// together by `join!` are all queued before the writer wakes: they form one batch.
#[tokio::test(flavor = "current_thread")]
async fn the_cache_is_emptied_between_batches_never_within_one() {
    let dir = tempfile::tempdir().unwrap();
    // A cache of one aggregate: the old writer emptied it at the second aggregate of a batch,
    // then decided the third statement on h0 as reloaded from the store, without the first.
    let log = Log::open_with_cache_limit(fresh_sqlite(&dir).await, clock(), 1)
        .await
        .unwrap();
    for st in district(2, 4) {
        append_ok(&log, st).await;
    }
    let size = log.size().await.unwrap();
    let (a, b, c) = tokio::join!(
        log.append(visit(0, 2, 1)),
        log.append(visit(1, 2, 2)),
        log.append(visit(0, 2, 3)),
    );
    let indexes: Vec<u64> = [a, b, c]
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("refused: {e}")).index)
        .collect();
    assert_eq!(indexes, [size, size + 1, size + 2], "one batch, in order");
    // The same again, with the third reusing the first's visit id: refused by the domain, which
    // sees the first visit although it was not committed when the third was decided.
    let (a, b, c) = tokio::join!(
        log.append(visit(0, 2, 4)),
        log.append(visit(1, 2, 5)),
        log.append(visit(0, 2, 4)),
    );
    assert_eq!(a.unwrap().index, size + 3);
    assert_eq!(b.unwrap().index, size + 4);
    assert!(matches!(c, Err(AppendError::Refused(_))), "{c:?}");
    assert_eq!(visits(&log, 0).await, ["v1", "v3", "v4"]);
    assert_eq!(visits(&log, 1).await, ["v2", "v5"]);
    assert_eq!(log.size().await.unwrap(), size + 5);
    log.close().await;
}

async fn replay_lookup_in_one_read<B: Backend>(backend: B) {
    let log = Log::open_with_clock(backend, clock()).await.unwrap();
    let mut receipts = Vec::new();
    let mut ids = Vec::new();
    for st in district(2, 2) {
        ids.push(st.statement().body.id.to_string());
        receipts.push(append_ok(&log, st).await);
    }
    let missing = fresh_id().to_string();
    let asked = [
        ids[3].as_str(),
        missing.as_str(),
        ids[0].as_str(),
        ids[3].as_str(),
    ];
    let found = log.backend().entries_by_statements(&asked).await.unwrap();
    assert_eq!(found.len(), asked.len(), "one answer per id asked");
    assert!(found[1].is_none());
    for (i, at) in [(0, 3), (2, 0), (3, 3)] {
        let e = found[i].as_ref().expect("a stored statement is found");
        assert_eq!(e.index, receipts[at].index);
        assert_eq!(bangfu_ledger::merkle::leaf_hash(&e.body), receipts[at].leaf);
        assert_eq!(
            Some(e),
            log.backend()
                .entry_by_statement(asked[i])
                .await
                .unwrap()
                .as_ref()
        );
    }
    assert!(
        log.backend()
            .entries_by_statements(&[])
            .await
            .unwrap()
            .is_empty()
    );
    log.close().await;
}

#[tokio::test]
async fn replay_lookup_in_one_read_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    replay_lookup_in_one_read(fresh_sqlite(&dir).await).await;
}

#[tokio::test]
async fn replay_lookup_in_one_read_on_postgres() {
    let db = TestDatabase::create("bangfu_writer")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    replay_lookup_in_one_read(PgBackend::connect(&db.url).await.expect("connect")).await;
}

// ---------------------------------------------------------------------------------------------
// Pipelined commits, forced with a gated backend

/// What the test decides for one held commit.
#[derive(Debug)]
enum Verdict {
    Commit,
    Fail,
}

/// A store whose appends, once `hold` is on, each wait for the test's verdict; and which counts
/// the writer's replay lookups (one per chunk of statements it takes in).
struct Gated<B> {
    inner: B,
    hold: AtomicBool,
    verdicts: tokio::sync::Mutex<mpsc::UnboundedReceiver<Verdict>>,
    /// One permit per append waiting for a verdict.
    waiting: Semaphore,
    /// One permit per replay lookup made.
    lookups: Semaphore,
}

/// The test's side of a [`Gated`] store.
struct Gate<B> {
    store: Arc<Gated<B>>,
    verdicts: mpsc::UnboundedSender<Verdict>,
}

impl<B: Backend> Gate<B> {
    fn new(inner: B) -> Self {
        let (verdicts, rx) = mpsc::unbounded_channel();
        let store = Arc::new(Gated {
            inner,
            hold: AtomicBool::new(false),
            verdicts: tokio::sync::Mutex::new(rx),
            waiting: Semaphore::new(0),
            lookups: Semaphore::new(0),
        });
        Gate { store, verdicts }
    }

    /// From now on every append waits for [`Gate::decide`].
    fn hold(&self) {
        self.store.hold.store(true, Ordering::SeqCst);
    }

    /// Waits until an append is held, then lets it go on (`Commit`) or fail before writing.
    async fn decide(&self, v: Verdict) {
        stuck(self.store.waiting.acquire(), "no commit came to the gate")
            .await
            .unwrap()
            .forget();
        self.verdicts.send(v).unwrap();
    }

    /// Waits until the writer has made `n` more replay lookups: it has taken in that many more
    /// chunks of statements.
    async fn lookups(&self, n: u32) {
        stuck(
            self.store.lookups.acquire_many(n),
            "the writer never looked the statements up",
        )
        .await
        .unwrap()
        .forget();
    }

    /// Forgets the lookups made so far.
    fn reset_lookups(&self) {
        let made = self.store.lookups.available_permits() as u32;
        if made > 0 {
            self.store.lookups.try_acquire_many(made).unwrap().forget();
        }
    }
}

/// Awaits `f`; a writer that never gets there fails the test instead of hanging it. Not a
/// timing: every wait here is for something the test itself set going.
async fn stuck<T>(f: impl std::future::Future<Output = T>, what: &str) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what} (waited a minute)"))
}

struct Shared<B>(Arc<Gated<B>>);

impl<B: Backend> Backend for Shared<B> {
    async fn size(&self) -> Result<u64> {
        self.0.inner.size().await
    }
    async fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>> {
        self.0.inner.read_hashes(positions).await
    }
    async fn append(&self, batch: &Batch) -> Result<()> {
        if self.0.hold.load(Ordering::SeqCst) {
            // The writer keeps one commit in flight, so one append at a time waits here.
            self.0.waiting.add_permits(1);
            let verdict = self.0.verdicts.lock().await.recv().await;
            if !matches!(verdict, Some(Verdict::Commit)) {
                return Err(StoreError::Unavailable(
                    "the test failed this commit".into(),
                ));
            }
        }
        self.0.inner.append(batch).await
    }
    async fn entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>> {
        self.0.inner.entries(from, limit).await
    }
    async fn entry_by_statement(&self, id: &str) -> Result<Option<StoredEntry>> {
        self.0.inner.entry_by_statement(id).await
    }
    async fn entries_by_statements(&self, ids: &[&str]) -> Result<Vec<Option<StoredEntry>>> {
        let found = self.0.inner.entries_by_statements(ids).await;
        self.0.lookups.add_permits(1);
        found
    }
    async fn aggregate_events(&self, t: &str, id: &str) -> Result<Vec<Event>> {
        self.0.inner.aggregate_events(t, id).await
    }
    async fn events_of_types(
        &self,
        types: &[&str],
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, Event)>> {
        self.0.inner.events_of_types(types, from, limit).await
    }
    async fn entries_of_household(&self, h: &str, from: u64, limit: u32) -> Result<Vec<u64>> {
        self.0.inner.entries_of_household(h, from, limit).await
    }
    async fn schema_version(&self) -> Result<u32> {
        self.0.inner.schema_version().await
    }
    async fn save_checkpoint(&self, c: &StoredCheckpoint) -> Result<()> {
        self.0.inner.save_checkpoint(c).await
    }
    async fn checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>> {
        self.0.inner.checkpoint(size).await
    }
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.0.inner.latest_checkpoint().await
    }
    async fn checkpoints(&self, from: u64, limit: u32) -> Result<Vec<StoredCheckpoint>> {
        self.0.inner.checkpoints(from, limit).await
    }
    async fn add_cosignature(&self, size: u64, w: &str, line: &str, at: i64) -> Result<()> {
        self.0.inner.add_cosignature(size, w, line, at).await
    }
    async fn put_openings(&self, openings: &[Opening]) -> Result<()> {
        self.0.inner.put_openings(openings).await
    }
    async fn openings(&self, after: Option<Hash>, limit: u32) -> Result<Vec<Opening>> {
        self.0.inner.openings(after, limit).await
    }
    async fn opening(&self, commitment: &Hash) -> Result<Option<Opening>> {
        self.0.inner.opening(commitment).await
    }
    async fn erase_opening(&self, commitment: &Hash) -> Result<bool> {
        self.0.inner.erase_opening(commitment).await
    }
}

type Answer = tokio::task::JoinHandle<std::result::Result<Receipt, AppendError>>;

/// A log over a gated SQLite store holding a small district (2 cadres, 4 households); the gate is
/// open and no lookup is counted yet.
async fn gated_log(
    dir: &tempfile::TempDir,
) -> (Arc<Log<Shared<SqliteBackend>>>, Gate<SqliteBackend>) {
    let gate = Gate::new(fresh_sqlite(dir).await);
    let log = Log::open_with_clock(Shared(gate.store.clone()), clock())
        .await
        .unwrap();
    for st in district(2, 4) {
        append_ok(&log, st).await;
    }
    gate.reset_lookups();
    (Arc::new(log), gate)
}

/// Sends `st` from its own task, and waits until the writer has taken it in.
async fn send<B: Backend>(
    log: &Arc<Log<Shared<B>>>,
    gate: &Gate<B>,
    st: VerifiedStatement,
) -> Answer {
    let sender = log.clone();
    let answer = tokio::spawn(async move { sender.append(st).await });
    gate.lookups(1).await;
    answer
}

/// A statement reusing `st`'s id for something else.
fn reusing_id_of(st: &VerifiedStatement) -> VerifiedStatement {
    sign_with_id(
        st.statement().body.id.clone(),
        "c0",
        "record_visit",
        "pairing/p2016:h0",
        serde_json::json!({"visit_id": "other", "date": "2016-01-05", "kind": "routine", "diary": sealed("y")}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_batch_is_built_while_one_commits_and_answered_after_its_own_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (log, gate) = gated_log(&dir).await;
    let size = log.size().await.unwrap();
    gate.hold();
    // Batch N: a visit on h0, its commit held.
    let a = visit(0, 2, 10);
    let first = send(&log, &gate, a.clone()).await;
    // Batch N+1, decided on N's state while N commits: another visit on h0; N's statement sent
    // again (answered from the batch in flight: the store does not hold it yet); and another
    // statement reusing N's id.
    let second = send(&log, &gate, visit(0, 2, 11)).await;
    let replay = send(&log, &gate, a.clone()).await;
    let reused = send(&log, &gate, reusing_id_of(&a)).await;
    assert!(matches!(
        reused.await.unwrap(),
        Err(AppendError::IdReused { index, .. }) if index == size
    ));
    // Nothing is answered before its commit.
    assert!(!first.is_finished() && !second.is_finished() && !replay.is_finished());
    assert_eq!(log.size().await.unwrap(), size, "nothing committed yet");
    gate.decide(Verdict::Commit).await;
    let first = first.await.unwrap().unwrap();
    assert_eq!((first.index, first.replayed), (size, false));
    let replay = replay.await.unwrap().unwrap();
    assert!(replay.replayed);
    assert_eq!((replay.index, replay.leaf), (first.index, first.leaf));
    // N+1 is held in its turn: its caller hears nothing before it commits.
    assert!(!second.is_finished());
    gate.decide(Verdict::Commit).await;
    let second = second.await.unwrap().unwrap();
    assert_eq!(second.index, size + 1);
    assert_eq!(second.events[0].sequence, first.events[0].sequence + 1);
    assert_eq!(log.size().await.unwrap(), size + 2);
    assert_eq!(visits(&log, 0).await, ["v10", "v11"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_built_on_one_that_fails_fails_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (log, gate) = gated_log(&dir).await;
    let size = log.size().await.unwrap();
    gate.hold();
    let (a, b, c) = (visit(0, 2, 20), visit(0, 2, 21), visit(1, 2, 22));
    let first = send(&log, &gate, a.clone()).await;
    // Built on N: b on the same pairing (decided after a), c on another, and a again.
    let second = send(&log, &gate, b.clone()).await;
    let third = send(&log, &gate, c.clone()).await;
    let replay = send(&log, &gate, a.clone()).await;
    gate.decide(Verdict::Fail).await;
    for (what, answer) in [
        ("N", first),
        ("N+1", second),
        ("N+1", third),
        ("N's replay", replay),
    ] {
        match answer.await.unwrap() {
            Err(e) if e.is_retryable() => {}
            other => panic!("{what}: {other:?}, expected a retryable failure"),
        }
    }
    assert_eq!(log.size().await.unwrap(), size, "nothing was written");
    // The writer reloaded its state: sent again, the same statements land, in order, on the
    // state the store holds.
    let first = send(&log, &gate, a).await;
    gate.decide(Verdict::Commit).await;
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.index, size);
    let second = send(&log, &gate, b).await;
    gate.decide(Verdict::Commit).await;
    assert_eq!(second.await.unwrap().unwrap().index, size + 1);
    let third = send(&log, &gate, c).await;
    gate.decide(Verdict::Commit).await;
    assert_eq!(third.await.unwrap().unwrap().index, size + 2);
    assert_eq!(visits(&log, 0).await, ["v20", "v21"]);
    assert_eq!(visits(&log, 1).await, ["v22"]);
}
