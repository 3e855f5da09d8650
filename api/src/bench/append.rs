//! The append figures: signed statements through the real intake ([`crate::intake::Intake`] over
//! [`bangfu_store::log::Log`]: size, JSON, schema, canonical form, strict signature, `signed_at`
//! window, then the single writer's key, role, replay and domain checks and its group commit), sent
//! by many concurrent clients, each timing every submit; and the baseline the issue names, the
//! same aggregates run unsigned by cqrs-es.
//!
//! The baseline is cqrs-es 0.5.0's own `CqrsFramework` over its `PersistedEventStore` (event
//! sourced, no snapshots): per command it loads the aggregate's events, runs our `Pairing`
//! aggregate's `handle`, and inserts the new events in one transaction. postgres-es 0.5.0 (the
//! repository cqrs-es ships for PostgreSQL) cannot be built into this workspace: it needs sqlx 0.8,
//! whose manifest declares `links = "sqlite3"` through its SQLite driver, and Cargo refuses two
//! packages linking `sqlite3` in one dependency graph, even with sqlx's SQLite feature off (our
//! store's rusqlite links it). So [`BaselineRepository`] is postgres-es's event repository written
//! again over tokio-postgres: the same `events` table (postgres-es's `init.sql`: `json` payload and
//! metadata, primary key `(aggregate_type, aggregate_id, sequence)`), the same statements (select
//! one aggregate's events by sequence; insert each new event, all in one transaction, a key
//! collision being an optimistic-lock error).

use super::generate::{Action, Keys, PROGRAM_IDS, Program, Shape, Workload};
use crate::intake::{Intake, Window};
use anyhow::Context;
use bangfu_domain::aggregates::pairing::{Pairing, PairingCommand};
use bangfu_domain::command::Command;
use bangfu_domain::decide::authorize;
use bangfu_domain::registry::Registry;
use bangfu_ledger::statement::Statement;
use bangfu_ledger::time::Timestamp;
use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use bangfu_store::postgres::{build_pool, describe, parse_url, pooled};
use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::{Aggregate, CqrsFramework};
use deadpool_postgres::Pool;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one timed run did.
#[derive(Clone, Debug)]
pub struct Run {
    /// Statements appended (each acknowledged by the store).
    pub appended: u64,
    /// From the first submit to the last answer.
    pub seconds: f64,
    /// Every submit's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    pub fn per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.appended as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The nearest-rank percentile `p` (0–100) of the latencies, in ms; 0 when there are none.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let n = self.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1].as_secs_f64() * 1000.0
    }
}

type OpFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// Runs `op(state, client, i)` from one task per client, each sending its own statements in
/// order, one at a time, until it has sent them all or `duration` has passed; times every call.
/// Any failure stops the run: the workload is valid, so a refusal is a fault to report.
async fn drive<S>(
    state: Arc<S>,
    lens: Vec<usize>,
    duration: Duration,
    op: for<'a> fn(&'a S, usize, usize) -> OpFuture<'a>,
) -> anyhow::Result<Run>
where
    S: Send + Sync + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(lens.len());
    for (client, len) in lens.into_iter().enumerate() {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(len);
            for i in 0..len {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                op(&state, client, i).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = None;
    for t in tasks {
        match t.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => failed = failed.or(Some(e)),
            Err(e) => failed = failed.or(Some(anyhow::anyhow!("a client task failed: {e}"))),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(e) = failed {
        return Err(e);
    }
    latencies.sort_unstable();
    Ok(Run {
        appended: latencies.len() as u64,
        seconds,
        latencies,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct IntakeState<B: Backend> {
    intake: Intake<B>,
    workload: Arc<Workload>,
}

fn submit<B: Backend>(s: &IntakeState<B>, client: usize, i: usize) -> OpFuture<'_> {
    Box::pin(async move {
        let body = s
            .workload
            .clients
            .get(client)
            .and_then(|c| c.get(i))
            .context("the workload has no such statement")?;
        s.intake.submit(body).await.map(|_| ()).map_err(|r| {
            anyhow::anyhow!(
                "基准指令被拒绝 / the intake refused a workload statement ({}): {r}",
                r.code()
            )
        })
    })
}

/// Opens the log over `backend` (which must hold at least the program's setup), puts the real
/// intake in front of it with the system clock, and sends the workload from one task per client
/// for at most `duration`.
pub async fn intake_run<B: Backend>(
    backend: B,
    workload: Arc<Workload>,
    duration: Duration,
) -> anyhow::Result<Run> {
    let log = Log::open(backend)
        .await
        .context("打开账本失败 / could not open the log for the append run")?;
    let intake = Intake::new(log, Arc::new(now_ms), Window::default());
    let lens = workload.clients.iter().map(Vec::len).collect();
    let state = Arc::new(IntakeState { intake, workload });
    let run = drive(state.clone(), lens, duration, submit::<B>).await;
    if let Ok(state) = Arc::try_unwrap(state) {
        state.intake.close().await;
    }
    run
}

// ---------------------------------------------------------------------------------------------
// The baseline

/// postgres-es 0.5.0's `db/init.sql`, the events table (snapshots are not used by an event store).
const BASELINE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL,
    event_version text NOT NULL,
    payload json NOT NULL,
    metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
)";

const SELECT_EVENTS: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload::text, metadata::text FROM events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence";

const SELECT_LAST_EVENTS: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload::text, metadata::text FROM events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";

const SELECT_ALL_EVENTS: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload::text, metadata::text FROM events \
     WHERE aggregate_type = $1 ORDER BY aggregate_id, sequence";

const INSERT_EVENT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, \
     event_type, event_version, payload, metadata) \
     VALUES ($1, $2, $3, $4, $5, $6::text::json, $7::text::json)";

/// cqrs-es's event repository over PostgreSQL, as postgres-es 0.5.0 does it (see the module
/// documentation for why it is written again here).
pub struct BaselineRepository {
    pool: Pool,
}

fn connection(why: String) -> PersistenceError {
    PersistenceError::ConnectionError(Box::new(std::io::Error::other(why)))
}

fn database(e: tokio_postgres::Error) -> PersistenceError {
    if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        PersistenceError::OptimisticLockError
    } else {
        connection(describe(&e))
    }
}

fn serialized(row: &tokio_postgres::Row) -> Result<SerializedEvent, PersistenceError> {
    let json = |i: usize| -> Result<Value, PersistenceError> {
        let text: String = row.try_get(i).map_err(database)?;
        serde_json::from_str(&text).map_err(|e| PersistenceError::DeserializationError(Box::new(e)))
    };
    let sequence: i64 = row.try_get(2).map_err(database)?;
    Ok(SerializedEvent {
        aggregate_type: row.try_get(0).map_err(database)?,
        aggregate_id: row.try_get(1).map_err(database)?,
        sequence: sequence.max(0) as usize,
        event_type: row.try_get(3).map_err(database)?,
        event_version: row.try_get(4).map_err(database)?,
        payload: json(5)?,
        metadata: json(6)?,
    })
}

impl BaselineRepository {
    /// A repository on the database at `url`, its `events` table created if missing.
    pub async fn connect(url: &str) -> anyhow::Result<BaselineRepository> {
        let config = parse_url(url, "bangfu-bench-baseline")
            .map_err(|e| anyhow::anyhow!("the baseline's database URL: {}", describe(&e)))?;
        let pool = build_pool(config, "bangfu-bench-baseline")
            .map_err(|e| anyhow::anyhow!("the baseline's connection pool: {e}"))?;
        let client = pooled(&pool).await.map_err(anyhow::Error::msg)?;
        client.batch_execute(BASELINE_SCHEMA).await.map_err(|e| {
            anyhow::anyhow!("creating the baseline's events table: {}", describe(&e))
        })?;
        drop(client);
        Ok(BaselineRepository { pool })
    }

    async fn select(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let client = pooled(&self.pool).await.map_err(connection)?;
        let stmt = client.prepare_cached(sql).await.map_err(database)?;
        let rows = client.query(&stmt, params).await.map_err(database)?;
        rows.iter().map(serialized).collect()
    }
}

impl PersistedEventRepository for BaselineRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select(SELECT_EVENTS, &[&A::TYPE, &aggregate_id]).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let last = last_sequence as i64;
        self.select(SELECT_LAST_EVENTS, &[&A::TYPE, &aggregate_id, &last])
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        _snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let mut client = pooled(&self.pool).await.map_err(connection)?;
        let tx = client.transaction().await.map_err(database)?;
        let stmt = tx.prepare_cached(INSERT_EVENT).await.map_err(database)?;
        for e in events {
            let sequence = e.sequence as i64;
            let payload = e.payload.to_string();
            let metadata = e.metadata.to_string();
            tx.execute(
                &stmt,
                &[
                    &e.aggregate_type,
                    &e.aggregate_id,
                    &sequence,
                    &e.event_type,
                    &e.event_version,
                    &payload,
                    &metadata,
                ],
            )
            .await
            .map_err(database)?;
        }
        tx.commit().await.map_err(database)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        replay(self.get_events::<A>(aggregate_id).await?).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        replay(self.select(SELECT_ALL_EVENTS, &[&A::TYPE]).await?).await
    }
}

async fn replay(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    for e in events {
        feed.push(Ok(e)).await?;
    }
    Ok(stream)
}

type BaselineCqrs = CqrsFramework<Pairing, PersistedEventStore<BaselineRepository, Pairing>>;

struct BaselineState {
    cqrs: BaselineCqrs,
    registry: Registry,
    workload: Arc<Workload>,
}

/// One command through cqrs-es, unsigned: the request body parsed (as any service parses its
/// JSON), the signer's registration and role looked up (`authorize`, which does not check the
/// signature), the command built, and `CqrsFramework::execute`.
async fn execute(
    cqrs: &BaselineCqrs,
    registry: &Registry,
    statement: &Statement,
) -> anyhow::Result<()> {
    let now = Timestamp::from_unix_millis(now_ms()).context("the system clock is out of range")?;
    let ctx = authorize(statement, 1, now, registry).map_err(|e| {
        anyhow::anyhow!(
            "基线拒绝 / the baseline refused {} on {}: {e}",
            statement.body.command,
            statement.body.target
        )
    })?;
    let body: PairingCommand = serde_json::from_value(json!({
        "type": statement.body.command.as_str(),
        "args": statement.body.args,
    }))
    .with_context(|| format!("{} is not a pairing command", statement.body.command))?;
    let id = statement.body.target.aggregate_id().to_owned();
    cqrs.execute(&id, Command { ctx, body }).await.map_err(|e| {
        anyhow::anyhow!(
            "基线拒绝 / cqrs-es refused {} on {}: {e}",
            statement.body.command,
            statement.body.target
        )
    })
}

fn baseline_op(s: &BaselineState, client: usize, i: usize) -> OpFuture<'_> {
    Box::pin(async move {
        let body = s
            .workload
            .clients
            .get(client)
            .and_then(|c| c.get(i))
            .context("the workload has no such statement")?;
        let statement = Statement::from_slice(body)
            .map_err(|e| anyhow::anyhow!("a workload statement does not parse: {e}"))?;
        execute(&s.cqrs, &s.registry, &statement).await
    })
}

/// The baseline: cqrs-es over the (empty) database at `url`, with `registry` as its service (the
/// registry a load of the program's setup left). First the benchmark's pairings are formed through
/// it, untimed; then the same workload, the same clients, for at most `duration`.
pub async fn baseline_run(
    url: &str,
    keys: Arc<Keys>,
    registry: Registry,
    workload: Arc<Workload>,
    duration: Duration,
) -> anyhow::Result<Run> {
    let repo = BaselineRepository::connect(url).await?;
    let cqrs = CqrsFramework::new(
        PersistedEventStore::new_event_store(repo),
        Vec::new(),
        registry.clone(),
    );
    let shape: Shape = *keys.shape();
    let setup: Vec<Action> = Program::new(keys.clone())
        .take(shape.setup_len() as usize)
        .filter(|a| a.command == "form_pairing")
        .collect();
    for a in &setup {
        let statement = a.sign(&keys, PROGRAM_IDS)?;
        execute(&cqrs, &registry, &statement).await?;
    }
    let lens = workload.clients.iter().map(Vec::len).collect();
    let state = Arc::new(BaselineState {
        cqrs,
        registry,
        workload,
    });
    drive(state, lens, duration, baseline_op).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::generate::{self, Scale};
    use bangfu_store::postgres::TestDatabase;
    use bangfu_store::sqlite::SqliteBackend;

    #[test]
    fn percentiles_are_nearest_rank_and_rates_never_divide_by_zero() {
        let run = Run {
            appended: 100,
            seconds: 2.0,
            latencies: (1..=100).map(Duration::from_millis).collect(),
        };
        assert_eq!(run.per_sec(), 50.0);
        assert_eq!(run.percentile_ms(50.0), 50.0);
        assert_eq!(run.percentile_ms(99.0), 99.0);
        assert_eq!(run.percentile_ms(100.0), 100.0);
        assert_eq!(run.percentile_ms(0.0), 1.0);
        let empty = Run {
            appended: 0,
            seconds: 0.0,
            latencies: Vec::new(),
        };
        assert_eq!(empty.per_sec(), 0.0);
        assert_eq!(empty.percentile_ms(99.0), 0.0);
    }

    /// The baseline's repository keeps cqrs-es's contract: events come back in sequence order,
    /// and a second writer of the same sequence gets an optimistic-lock error, nothing written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_baseline_repository_orders_events_and_refuses_a_taken_sequence() {
        let db = TestDatabase::create("bench_baseline_repo").await.unwrap();
        let repo = BaselineRepository::connect(&db.url).await.unwrap();
        let event = |sequence: usize, n: i64| SerializedEvent {
            aggregate_id: "p:h1".into(),
            sequence,
            aggregate_type: Pairing::TYPE.into(),
            event_type: "VisitRecorded".into(),
            event_version: "1.0".into(),
            payload: json!({"n": n}),
            metadata: json!({}),
        };
        repo.persist::<Pairing>(&[event(2, 2), event(1, 1)], None)
            .await
            .unwrap();
        let got = repo.get_events::<Pairing>("p:h1").await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(got[0].payload, json!({"n": 1}));
        let last = repo.get_last_events::<Pairing>("p:h1", 1).await.unwrap();
        assert_eq!(last.len(), 1);
        assert!(matches!(
            repo.persist::<Pairing>(&[event(3, 3), event(2, 9)], None)
                .await,
            Err(PersistenceError::OptimisticLockError)
        ));
        // All or nothing: sequence 3 was not written either.
        assert_eq!(repo.get_events::<Pairing>("p:h1").await.unwrap().len(), 2);
        assert!(repo.get_events::<Pairing>("p:h2").await.unwrap().is_empty());
    }

    /// The workload goes through the real intake into a prefix of the program on SQLite, and
    /// unsigned through cqrs-es on PostgreSQL: every statement is accepted by both.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_workload_is_accepted_by_the_intake_and_by_the_baseline() {
        let keys = Arc::new(Keys::new(Scale::Tiny.shape()));
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("log.sqlite"))
            .await
            .unwrap();
        let setup = keys.shape().setup_len();
        let loaded = generate::load_fast(&backend, keys.clone(), Some(setup), &|_| {})
            .await
            .unwrap();
        let workload = Arc::new(generate::workload(&keys, 6, now_ms()).unwrap());
        assert_eq!(workload.len(), 6 * keys.shape().clients as usize);
        let run = intake_run(backend.clone(), workload.clone(), Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(run.appended as usize, workload.len());
        assert_eq!(run.latencies.len(), workload.len());
        assert!(run.latencies.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(backend.size().await.unwrap(), setup + workload.len() as u64);
        // The same statements again are replays: accepted with their original receipts, the log
        // unchanged.
        intake_run(backend.clone(), workload.clone(), Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(backend.size().await.unwrap(), setup + workload.len() as u64);

        let db = TestDatabase::create("bench_baseline_run").await.unwrap();
        let base = baseline_run(
            &db.url,
            keys.clone(),
            loaded.registry,
            workload.clone(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        assert_eq!(base.appended as usize, workload.len());
        // Its events are there: client 0's first household was formed, then visited in rounds 0
        // and 1 (statements 0 and 4 of the client's six; four households each).
        let repo = BaselineRepository::connect(&db.url).await.unwrap();
        let events = repo
            .get_events::<Pairing>(&format!("{}:hb00000", generate::PROGRAM))
            .await
            .unwrap();
        assert_eq!(keys.shape().per_client, 4);
        assert_eq!(events.len(), 3);
    }
}
