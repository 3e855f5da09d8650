//! The one append path. Verified statements go to a single writer task per log, which takes every
//! statement waiting at that moment as one batch (group commit): for each it checks replay, asks
//! the domain, builds the entry (index, `prev_root`, `recorded_at`, leaf) and the Merkle hashes it
//! completes; then the whole batch is written in one transaction and one durable commit, and each
//! caller learns its own entry index or its own refusal.
//!
//! Commits are pipelined: while one batch commits, the next is built on the state the first left in
//! memory. It is written only after the first committed, and fails with it if it does not; no
//! caller hears of an entry before the transaction holding it committed.
//!
//! State kept in memory by the writer, all rebuilt from the store on open and after any failed
//! commit: the registry (keys, units, cadres, households, programs), a cache of aggregates, the
//! right edge of the Merkle tree, and the last `recorded_at`. Readers go straight to the store.

use crate::backend::{Backend, Batch, NewEntry, StoreError, StoredEntry};
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::error::DomainError;
use bangfu_domain::registry::Registry;
use bangfu_ledger::Hash;
use bangfu_ledger::entry::{Entry, Event};
use bangfu_ledger::merkle::{self, CompactRange, ProofError};
use bangfu_ledger::statement::{Statement, StatementId, VerifiedStatement};
use bangfu_ledger::time::Timestamp;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The most statements one transaction takes.
pub const MAX_BATCH: usize = 512;

/// Aggregates kept in memory before the cache is emptied, between two batches (they reload from the
/// store on demand).
pub const CACHE_LIMIT: usize = 200_000;

/// Aggregate types whose events build the registry.
const REGISTRY_TYPES: [&str; 5] = ["authority", "unit", "cadre", "household", "program"];

/// What the log says about an accepted statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    pub index: u64,
    pub leaf: Hash,
    pub recorded_at: Timestamp,
    pub events: Vec<Event>,
    /// True when the statement was already in the log and this is its original receipt.
    pub replayed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AppendError {
    /// The domain refused the statement (or its key or role); the log is unchanged.
    Refused(DomainError),
    /// A different statement already used this id.
    IdReused { id: String, index: u64 },
    /// The store failed or another writer got there first; nothing of this statement was written.
    /// Safe to send the same statement again (replay protection makes it idempotent).
    Retry(StoreError),
    /// The stored log is damaged; see `bangfu verify`.
    Corrupt(String),
    /// The log is shutting down.
    Closed,
}

impl AppendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, AppendError::Retry(_))
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::Refused(e) => write!(f, "{e}"),
            AppendError::IdReused { id, index } => write!(
                f,
                "指令编号 {id} 已被第 {index} 条使用 / statement id {id} was already used by entry {index} for a different statement; sign again with a new id"
            ),
            AppendError::Retry(e) => write!(f, "{e}"),
            AppendError::Corrupt(e) => {
                write!(f, "the stored log is damaged: {e}; run `bangfu verify`")
            }
            AppendError::Closed => {
                write!(f, "账本正在关闭 / the log is shutting down; retry shortly")
            }
        }
    }
}

impl std::error::Error for AppendError {}

impl From<StoreError> for AppendError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(why) => AppendError::Corrupt(why),
            other => AppendError::Retry(other),
        }
    }
}

type Reply = oneshot::Sender<Result<Receipt, AppendError>>;

struct Job {
    statement: VerifiedStatement,
    reply: Reply,
}

/// The source of `recorded_at`, in milliseconds since the epoch. Tests inject their own.
pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A log: the append path and the reads.
pub struct Log<B: Backend> {
    backend: Arc<B>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl<B: Backend> Log<B> {
    /// Opens the log over a store: rebuilds the writer's state and starts the writer.
    pub async fn open(backend: B) -> Result<Log<B>, StoreError> {
        Self::open_with_clock(backend, Box::new(system_clock)).await
    }

    pub async fn open_with_clock(backend: B, clock: Clock) -> Result<Log<B>, StoreError> {
        Self::open_with_cache_limit(backend, clock, CACHE_LIMIT).await
    }

    /// [`Log::open_with_clock`], with the writer's aggregate cache emptied past `cache_limit`
    /// aggregates rather than [`CACHE_LIMIT`] (tests make it small to exercise the eviction).
    pub async fn open_with_cache_limit(
        backend: B,
        clock: Clock,
        cache_limit: usize,
    ) -> Result<Log<B>, StoreError> {
        let backend = Arc::new(backend);
        let state = State::load(backend.as_ref()).await?;
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            backend: backend.clone(),
            state,
            clock,
            cache_limit,
        };
        let handle = tokio::spawn(writer.run(rx));
        Ok(Log {
            backend,
            jobs: Some(tx),
            writer: Some(handle),
        })
    }

    /// Appends a verified statement; returns its receipt (the original one if it was already in
    /// the log) or why not.
    pub async fn append(&self, statement: VerifiedStatement) -> Result<Receipt, AppendError> {
        let jobs = self.jobs.as_ref().ok_or(AppendError::Closed)?;
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { statement, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }

    /// Stops taking statements, lets the writer finish what it holds, and waits for it.
    pub async fn close(mut self) {
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.await;
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The store, shared (for cqrs-es's repository and other readers).
    pub fn shared_backend(&self) -> Arc<B> {
        self.backend.clone()
    }

    pub async fn size(&self) -> Result<u64, StoreError> {
        self.backend.size().await
    }

    pub async fn entries(&self, from: u64, limit: u32) -> Result<Vec<StoredEntry>, StoreError> {
        self.backend.entries(from, limit).await
    }

    /// The root of the first `size` entries (`size` at most the log's size).
    pub async fn tree_head(&self, size: u64) -> Result<Hash, StoreError> {
        tree_head(self.backend.as_ref(), size).await
    }

    /// The audit path of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, size: u64, index: u64) -> Result<Vec<Hash>, StoreError> {
        inclusion_proof(self.backend.as_ref(), size, index).await
    }

    /// The consistency proof from `old_size` to `new_size`.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        consistency_proof(self.backend.as_ref(), old_size, new_size).await
    }

    pub async fn entry_by_statement(
        &self,
        id: &StatementId,
    ) -> Result<Option<StoredEntry>, StoreError> {
        self.backend.entry_by_statement(id.as_str()).await
    }

    pub async fn aggregate_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<Event>, StoreError> {
        self.backend
            .aggregate_events(aggregate_type, aggregate_id)
            .await
    }

    pub async fn entries_of_household(
        &self,
        household: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<u64>, StoreError> {
        self.backend
            .entries_of_household(household, from, limit)
            .await
    }
}

fn proof_error(e: ProofError) -> StoreError {
    match e {
        ProofError::BadRange { what } => StoreError::Conflict(what.to_owned()),
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// The row the store keeps for an entry: its bytes, and its keys for lookups by statement,
/// aggregate and household.
pub fn new_entry(entry: &Entry, leaf: Hash, body: Vec<u8>) -> NewEntry {
    let statement = &entry.statement;
    NewEntry {
        index: entry.index,
        statement_id: statement.body.id.to_string(),
        aggregate_type: statement.body.target.aggregate_type().to_owned(),
        aggregate_id: statement.body.target.aggregate_id().to_owned(),
        signer: statement.body.key.to_base64(),
        recorded_at_ms: entry.recorded_at.unix_millis(),
        leaf,
        households: households_of(statement, &entry.events),
        events: entry.events.clone(),
        body,
    }
}

/// The households an entry concerns: its target, a pairing's household, and any `household`
/// named in its events.
pub fn households_of(statement: &Statement, events: &[Event]) -> Vec<String> {
    let target = &statement.body.target;
    let mut out: Vec<String> = Vec::new();
    match target.aggregate_type() {
        "household" => out.push(target.aggregate_id().to_owned()),
        "pairing" => {
            if let Some((_, h)) = target.aggregate_id().split_once(':') {
                out.push(h.to_owned());
            }
        }
        _ => {}
    }
    for e in events {
        if let Some(h) = e.payload.get("household").and_then(|v| v.as_str()) {
            out.push(h.to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Refuses a size past the end of the log.
async fn check_size<B: Backend>(backend: &B, size: u64) -> Result<(), StoreError> {
    let have = backend.size().await?;
    if size > have {
        return Err(StoreError::Conflict(format!(
            "the log has {have} entries, fewer than the {size} asked for"
        )));
    }
    Ok(())
}

/// Reads the stored hashes at `positions`, keyed by position.
async fn fetch<B: Backend>(
    backend: &B,
    positions: &[u64],
) -> Result<HashMap<u64, Hash>, StoreError> {
    let hashes = backend.read_hashes(positions).await?;
    Ok(positions.iter().copied().zip(hashes).collect())
}

/// The root of the first `size` entries of a store (`size` at most its size), for readers that
/// do not hold a [`Log`].
pub async fn tree_head<B: Backend>(backend: &B, size: u64) -> Result<Hash, StoreError> {
    check_size(backend, size).await?;
    let positions = merkle::tree_hash_positions(size).map_err(proof_error)?;
    let stored = fetch(backend, &positions).await?;
    merkle::tree_hash(size, &stored).map_err(proof_error)
}

/// The audit path of entry `index` in the tree of the first `size` entries.
pub async fn inclusion_proof<B: Backend>(
    backend: &B,
    size: u64,
    index: u64,
) -> Result<Vec<Hash>, StoreError> {
    check_size(backend, size).await?;
    let positions = merkle::inclusion_proof_positions(size, index).map_err(proof_error)?;
    let hashes = fetch(backend, &positions).await?;
    merkle::inclusion_proof(size, index, &hashes).map_err(proof_error)
}

/// The consistency proof from the first `old_size` entries to the first `new_size`.
pub async fn consistency_proof<B: Backend>(
    backend: &B,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, StoreError> {
    check_size(backend, new_size).await?;
    let positions = merkle::consistency_proof_positions(old_size, new_size).map_err(proof_error)?;
    let hashes = fetch(backend, &positions).await?;
    merkle::consistency_proof(old_size, new_size, &hashes).map_err(proof_error)
}

/// What the writer keeps in memory.
struct State {
    registry: Registry,
    aggregates: HashMap<(String, String), AnyAggregate>,
    range: CompactRange,
    last_recorded_ms: i64,
}

impl State {
    async fn load<B: Backend>(backend: &B) -> Result<State, StoreError> {
        let size = backend.size().await?;
        let positions = merkle::tree_hash_positions(size).map_err(proof_error)?;
        let peaks = backend.read_hashes(&positions).await?;
        let stored: HashMap<u64, Hash> = positions.into_iter().zip(peaks).collect();
        let range = CompactRange::resume(size, &stored).map_err(proof_error)?;
        let mut registry = Registry::default();
        let mut from = 0;
        loop {
            let page = backend.events_of_types(&REGISTRY_TYPES, from, 1000).await?;
            let Some((last, _)) = page.last() else { break };
            let next = last + 1;
            for (_, event) in &page {
                registry
                    .apply(event)
                    .map_err(|e| StoreError::Corrupt(format!("registry event: {e}")))?;
            }
            from = next;
        }
        let last_recorded_ms = match size {
            0 => 0,
            n => {
                let last = backend.entries(n - 1, 1).await?;
                let entry = last
                    .first()
                    .ok_or_else(|| StoreError::Corrupt(format!("entry {} is missing", n - 1)))?;
                Entry::from_bytes(&entry.body)
                    .map_err(|e| StoreError::Corrupt(format!("entry {}: {e}", n - 1)))?
                    .recorded_at
                    .unix_millis()
            }
        };
        Ok(State {
            registry,
            aggregates: HashMap::new(),
            range,
            last_recorded_ms,
        })
    }
}

struct Writer<B: Backend> {
    backend: Arc<B>,
    state: State,
    clock: Clock,
    /// Past this many cached aggregates the cache is emptied, between batches only.
    cache_limit: usize,
}

/// An accepted statement awaiting the commit of its batch.
struct Pending {
    reply: Reply,
    receipt: Receipt,
}

/// Who waits for one batch, and what each was promised.
#[derive(Default)]
struct Callers {
    pending: Vec<Pending>,
    /// The statements accepted into the batch, by id, with their position in it. A statement sent
    /// again while its batch is built or committing is found here: the store does not hold it yet.
    ids: HashMap<StatementId, usize>,
    /// Callers who sent a statement of the batch again, with its position: they get its receipt
    /// (marked replayed) when the batch commits, or its failure.
    replays: Vec<(Reply, usize)>,
}

impl Callers {
    /// The batch committed: every caller gets its receipt.
    fn answer(self) {
        for (reply, at) in self.replays {
            let answer = match self.pending.get(at) {
                Some(p) => Ok(Receipt {
                    replayed: true,
                    ..p.receipt.clone()
                }),
                None => Err(AppendError::Corrupt(format!(
                    "the writer lost track of position {at} in its batch"
                ))),
            };
            let _ = reply.send(answer);
        }
        for p in self.pending {
            let _ = p.reply.send(Ok(p.receipt));
        }
    }

    /// The batch was not written: every caller may retry (replay protection makes it idempotent).
    fn fail(self, e: &StoreError) {
        let error = match e {
            StoreError::DuplicateStatement(why) => StoreError::Conflict(format!(
                "a statement in the batch was appended by another writer ({why})"
            )),
            other => other.clone(),
        };
        for p in self.pending {
            let _ = p.reply.send(Err(AppendError::from(error.clone())));
        }
        for (reply, _) in self.replays {
            let _ = reply.send(Err(AppendError::from(error.clone())));
        }
    }
}

/// The batch being built.
struct Building {
    batch: Batch,
    callers: Callers,
}

/// A batch whose commit is under way, on its own task, while the writer builds the next one.
struct InFlight {
    /// Shared with the commit task; read here only to compare a statement sent again.
    batch: Arc<Batch>,
    callers: Callers,
    commit: JoinHandle<Result<(), StoreError>>,
}

impl InFlight {
    async fn wait(&mut self) -> Result<(), StoreError> {
        joined((&mut self.commit).await)
    }

    /// Answers the callers once the commit finished with `result`; on failure returns the error,
    /// after telling them.
    fn settle(self, result: Result<(), StoreError>) -> Result<(), StoreError> {
        match result {
            Ok(()) => {
                self.callers.answer();
                Ok(())
            }
            Err(e) => {
                self.callers.fail(&e);
                Err(e)
            }
        }
    }
}

/// A commit task's outcome. A task that panicked or was cancelled may or may not have committed:
/// `Unavailable` says exactly that, and a retry is made safe by replay protection.
fn joined(r: Result<Result<(), StoreError>, tokio::task::JoinError>) -> Result<(), StoreError> {
    r.unwrap_or_else(|e| {
        Err(StoreError::Unavailable(format!(
            "the commit task failed: {e}"
        )))
    })
}

/// What woke the writer up.
// Lives on the stack from `wake` to the match on it: boxing the job would cost an allocation per
// statement to save a few hundred bytes of stack.
#[allow(clippy::large_enum_variant)]
enum Wake {
    Job(Job),
    /// The batch in flight finished committing, with this outcome.
    Committed(Result<(), StoreError>),
    /// Every sender is gone: the log is closing.
    Closed,
}

/// Whether the statement at position `at` of `batch` is `statement` (rather than another one
/// reusing its id).
fn same_statement(batch: &Batch, at: usize, statement: &Statement) -> bool {
    batch
        .entries
        .get(at)
        .is_some_and(|e| Entry::from_bytes(&e.body).is_ok_and(|e| e.statement == *statement))
}

impl<B: Backend> Writer<B> {
    /// Group commit, pipelined: while batch N commits (on its own task), batch N+1 is built on the
    /// state N left in memory and keeps taking statements as they arrive. N+1 is written only
    /// after N committed, and its callers are answered only after N+1 itself committed. If N
    /// fails, N+1 (decided on N's state) fails too and the state is reloaded from the store.
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut inflight: Option<InFlight> = None;
        loop {
            let first = match Self::wake(&mut jobs, inflight.as_mut()).await {
                Wake::Job(job) => job,
                Wake::Committed(result) => {
                    if let Some(f) = inflight.take() {
                        if f.settle(result).is_err() {
                            self.reload().await;
                        }
                    }
                    continue;
                }
                Wake::Closed => {
                    if let Some(mut f) = inflight.take() {
                        let result = f.wait().await;
                        let _ = f.settle(result);
                    }
                    return;
                }
            };
            if self.state.aggregates.len() >= self.cache_limit {
                // Only between batches, and only once the batch in flight has committed: its
                // aggregates moved on in memory, not yet in the store, and a statement must never
                // be decided on an aggregate reloaded without them.
                if let Some(mut f) = inflight.take() {
                    let result = f.wait().await;
                    if f.settle(result).is_err() {
                        self.reload().await;
                    }
                }
                self.state.aggregates.clear();
            }
            let mut next = Building {
                batch: Batch {
                    first_index: self.state.range.size(),
                    ..Batch::default()
                },
                callers: Callers::default(),
            };
            let mut chunk = vec![first];
            let mut failed: Option<StoreError> = None;
            loop {
                while next.batch.entries.len() + chunk.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(job) => chunk.push(job),
                        Err(_) => break,
                    }
                }
                let taken = std::mem::take(&mut chunk);
                if let Err(e) = self.add(&mut next, taken, inflight.as_mut()).await {
                    failed = Some(e);
                    break;
                }
                // While the batch before commits, whatever arrives joins this one.
                if inflight.is_none() || next.batch.entries.len() >= MAX_BATCH {
                    break;
                }
                match Self::wake(&mut jobs, inflight.as_mut()).await {
                    Wake::Job(job) => {
                        chunk.push(job);
                        // Let the callers that are about to send run first, so the next replay
                        // lookup covers them all rather than one statement each.
                        tokio::task::yield_now().await;
                    }
                    Wake::Committed(result) => {
                        if let Some(f) = inflight.take() {
                            failed = f.settle(result).err();
                        }
                        break;
                    }
                    Wake::Closed => break,
                }
            }
            // This batch continues the tree and the aggregates of the one before: it is written
            // only once that one has committed.
            if let Some(mut f) = inflight.take() {
                let result = f.wait().await;
                if let Err(e) = f.settle(result) {
                    failed.get_or_insert(e);
                }
            }
            if let Some(e) = failed {
                // The state in memory may be ahead of the store: nothing of this batch is written.
                next.callers.fail(&e);
                self.reload().await;
                continue;
            }
            if !next.batch.entries.is_empty() {
                inflight = Some(self.submit(next));
            }
        }
    }

    /// The next statement, or the commit in flight finishing (looked at first, so its callers
    /// hear at once), or the log closing.
    async fn wake(jobs: &mut mpsc::Receiver<Job>, inflight: Option<&mut InFlight>) -> Wake {
        match inflight {
            None => jobs.recv().await.map_or(Wake::Closed, Wake::Job),
            Some(f) => tokio::select! {
                biased;
                result = &mut f.commit => Wake::Committed(joined(result)),
                job = jobs.recv() => job.map_or(Wake::Closed, Wake::Job),
            },
        }
    }

    /// Starts committing a built batch on its own task.
    fn submit(&self, next: Building) -> InFlight {
        let batch = Arc::new(next.batch);
        let (backend, rows) = (self.backend.clone(), batch.clone());
        let commit = tokio::spawn(async move { backend.append(&rows).await });
        InFlight {
            batch,
            callers: next.callers,
            commit,
        }
    }

    /// Rebuilds the in-memory state from the store (after a failed batch, which the store holds
    /// none of), retrying while the store is unreachable: it may be restarting.
    async fn reload(&mut self) {
        loop {
            match State::load(self.backend.as_ref()).await {
                Ok(state) => {
                    self.state = state;
                    return;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }

    /// Decides `jobs` into the batch being built, on top of `prev` (the batch committing, if
    /// any). Each job is answered at once (a refusal, the receipt of a statement already
    /// committed) or kept with the batch until its commit. An error means a read failed while
    /// deciding, so the state in memory may be ahead of what can be written: the caller fails the
    /// batch and reloads. Every job of `jobs` has been answered or kept by then.
    async fn add(
        &mut self,
        next: &mut Building,
        jobs: Vec<Job>,
        mut prev: Option<&mut InFlight>,
    ) -> Result<(), StoreError> {
        // Replay checks for the whole chunk in one read. A statement of `prev` may not be
        // visible in the store yet; it is found in `prev.callers.ids` below.
        let lookup = {
            let ids: Vec<&str> = jobs
                .iter()
                .map(|j| j.statement.statement().body.id.as_str())
                .collect();
            self.backend.entries_by_statements(&ids).await
        };
        let stored = match lookup {
            Ok(found) if found.len() == jobs.len() => found,
            other => {
                // Nothing was decided: the batch so far stands; these statements may be resent.
                let e = other.err().unwrap_or_else(|| {
                    StoreError::Corrupt("the replay lookup answered for other statements".into())
                });
                for job in jobs {
                    let _ = job.reply.send(Err(e.clone().into()));
                }
                return Ok(());
            }
        };
        let mut jobs = jobs.into_iter().zip(stored);
        while let Some((job, stored)) = jobs.next() {
            let statement = job.statement.statement();
            let id = &statement.body.id;
            if let Some(&at) = next.callers.ids.get(id) {
                if same_statement(&next.batch, at, statement) {
                    next.callers.replays.push((job.reply, at));
                } else {
                    let _ = job.reply.send(Err(AppendError::IdReused {
                        id: id.to_string(),
                        index: next.batch.first_index + at as u64,
                    }));
                }
                continue;
            }
            if let Some(p) = prev.as_deref_mut() {
                if let Some(&at) = p.callers.ids.get(id) {
                    if same_statement(&p.batch, at, statement) {
                        p.callers.replays.push((job.reply, at));
                    } else {
                        let _ = job.reply.send(Err(AppendError::IdReused {
                            id: id.to_string(),
                            index: p.batch.first_index + at as u64,
                        }));
                    }
                    continue;
                }
            }
            if let Some(stored) = stored {
                let _ = job.reply.send(Self::replayed(&stored, statement));
                continue;
            }
            match self.decide(&next.batch, statement).await {
                Ok((entry, body)) => {
                    let leaf = merkle::leaf_hash(&body);
                    let hashes = self.state.range.append(leaf);
                    next.batch.hashes.extend(hashes);
                    self.state.last_recorded_ms = entry.recorded_at.unix_millis();
                    next.callers
                        .ids
                        .insert(id.clone(), next.batch.entries.len());
                    next.batch.entries.push(new_entry(&entry, leaf, body));
                    next.callers.pending.push(Pending {
                        reply: job.reply,
                        receipt: Receipt {
                            index: entry.index,
                            leaf,
                            recorded_at: entry.recorded_at,
                            events: entry.events,
                            replayed: false,
                        },
                    });
                }
                Err(e) => {
                    let failed_store = matches!(e, AppendError::Retry(_) | AppendError::Corrupt(_));
                    let _ = job.reply.send(Err(e));
                    if failed_store {
                        let e = StoreError::Unavailable(
                            "a read failed while building the batch".into(),
                        );
                        for (job, _) in jobs {
                            let _ = job.reply.send(Err(e.clone().into()));
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    async fn aggregate(
        &mut self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<&mut AnyAggregate, AppendError> {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        if !self.state.aggregates.contains_key(&key) {
            // Never emptied here, in the middle of a batch: see `run`.
            let mut aggregate = AnyAggregate::new(aggregate_type).map_err(AppendError::Refused)?;
            for event in self
                .backend
                .aggregate_events(aggregate_type, aggregate_id)
                .await?
            {
                aggregate.apply(&event).map_err(|e| {
                    AppendError::Corrupt(format!("{aggregate_type}/{aggregate_id}: {e}"))
                })?;
            }
            self.state.aggregates.insert(key.clone(), aggregate);
        }
        self.state
            .aggregates
            .get_mut(&key)
            .ok_or_else(|| AppendError::Corrupt("aggregate cache".into()))
    }

    /// The receipt of a statement already in the log, or `IdReused` if the stored one differs.
    fn replayed(stored: &StoredEntry, statement: &Statement) -> Result<Receipt, AppendError> {
        let entry = Entry::from_bytes(&stored.body)
            .map_err(|e| AppendError::Corrupt(format!("entry {}: {e}", stored.index)))?;
        if entry.statement != *statement {
            return Err(AppendError::IdReused {
                id: statement.body.id.to_string(),
                index: stored.index,
            });
        }
        Ok(Receipt {
            index: stored.index,
            leaf: merkle::leaf_hash(&stored.body),
            recorded_at: entry.recorded_at,
            events: entry.events,
            replayed: true,
        })
    }

    /// Authorizes the statement and lets its aggregate decide; builds the entry.
    async fn decide(
        &mut self,
        batch: &Batch,
        statement: &Statement,
    ) -> Result<(Entry, Vec<u8>), AppendError> {
        let index = batch.first_index + batch.entries.len() as u64;
        // recorded_at never goes backwards, whatever the clock does.
        let now = (self.clock)().max(self.state.last_recorded_ms);
        let recorded_at = Timestamp::from_unix_millis(now)
            .ok_or_else(|| AppendError::Corrupt(format!("the clock reads {now} ms")))?;
        let ctx = authorize(statement, index, recorded_at, &self.state.registry)
            .map_err(AppendError::Refused)?;
        let target = &statement.body.target;
        let (t, id) = (
            target.aggregate_type().to_owned(),
            target.aggregate_id().to_owned(),
        );
        // Borrow juggling: the registry is read while the aggregate is mutated.
        let registry = std::mem::take(&mut self.state.registry);
        let decided = match self.aggregate(&t, &id).await {
            Ok(aggregate) => aggregate
                .handle(ctx, statement, &registry)
                .map_err(AppendError::Refused),
            Err(e) => Err(e),
        };
        self.state.registry = registry;
        let events = decided?;
        for e in &events {
            self.state
                .registry
                .apply(e)
                .map_err(|e| AppendError::Corrupt(format!("registry: {e}")))?;
        }
        let entry = Entry {
            index,
            prev_root: self.state.range.root(),
            recorded_at,
            statement: statement.clone(),
            events,
        };
        // The aggregate and registry have moved on already; an entry that cannot be serialized is a
        // bug, reported as corruption so the writer reloads its state.
        let body = entry.to_bytes().map_err(|e| {
            AppendError::Corrupt(format!("entry {index} cannot be serialized: {e}"))
        })?;
        Ok((entry, body))
    }
}
