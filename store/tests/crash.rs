//! Nothing acknowledged is ever lost. A child process (`bangfu-fault-appender`, 8 concurrent
//! writers) appends to a store and prints each index only after its commit; we kill it with SIGKILL
//! at random moments, many times, restarting it on the same store. After every kill: every printed
//! index is in the log and the log is gap-free; at the end the whole log verifies under the full
//! domain replay.

use bangfu_domain::replay::Replayer;
use bangfu_ledger::verify::Verifier;
use bangfu_store::backend::Backend;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs the appender for `run_for` — counted from when it says it is ready, unless
/// `during_start_up`, which may kill it while it opens the store — then kills it with SIGKILL.
/// Returns the indexes it acknowledged. Counting from readiness keeps rounds on a loaded machine,
/// where start-up alone can take a second, from acknowledging nothing.
fn run_and_kill(store_args: &[&str], run_for: Duration, during_start_up: bool) -> Vec<u64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bangfu-fault-appender"))
        .args(store_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bangfu-fault-appender");
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let sink = acked.clone();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "ready" {
                let _ = ready_tx.send(());
            }
            if let Some(i) = line
                .strip_prefix("ack ")
                .and_then(|s| s.parse::<u64>().ok())
            {
                sink.lock().unwrap().push(i);
            }
        }
    });
    if !during_start_up {
        // A child that dies first closes the channel, and its missing acks fail the test.
        let _ = ready.recv_timeout(Duration::from_secs(60));
    }
    std::thread::sleep(run_for);
    child.kill().expect("SIGKILL the appender"); // std's kill is SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    acked.lock().unwrap().clone()
}

async fn check_after_kill<B: Backend>(backend: &B, acked: &[u64], round: usize, seed: u64) -> u64 {
    let size = backend.size().await.unwrap();
    if let Some(max) = acked.iter().max() {
        assert!(
            *max < size,
            "round {round} (seed {seed}): index {max} was acknowledged but the log has {size} entries"
        );
    }
    // Gap-free: the last entry holds index size − 1 and every index below is present.
    let mut from = 0;
    while from < size {
        let page = backend.entries(from, 1000).await.unwrap();
        for e in &page {
            assert_eq!(e.index, from, "round {round}: gap at {from}");
            from += 1;
        }
        assert!(
            !page.is_empty(),
            "round {round}: entries stop at {from} of {size}"
        );
    }
    size
}

async fn verify_whole_log<B: Backend>(backend: &B) -> u64 {
    let size = backend.size().await.unwrap();
    let mut verifier = Verifier::new(Replayer::new());
    let mut from = 0;
    while from < size {
        for e in backend.entries(from, 1000).await.unwrap() {
            verifier.push(&e.body).unwrap_or_else(|err| panic!("{err}"));
            from += 1;
        }
    }
    verifier.finish().unwrap().0
}

async fn crash_rounds<B: Backend, F, Fut>(store_args: Vec<String>, open: F, rounds: usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = B>,
{
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let args: Vec<&str> = store_args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let mut total_acked = 0;
    let mut last_size = 0;
    for round in 0..rounds {
        // Long enough to get past start-up and commit several batches, short enough to die mid-batch.
        let run_for = Duration::from_millis(300 + rng.next() % 900);
        let acked = run_and_kill(&args, run_for, rng.next() % 4 == 0);
        total_acked += acked.len();
        let backend = open().await;
        let size = check_after_kill(&backend, &acked, round, seed).await;
        assert!(
            size >= last_size,
            "round {round}: the log shrank from {last_size} to {size}"
        );
        last_size = size;
    }
    assert!(
        total_acked > rounds,
        "the appender acknowledged almost nothing ({total_acked})"
    );
    let backend = open().await;
    let verified = verify_whole_log(&backend).await;
    eprintln!(
        "{rounds} SIGKILLs in {:.1}s: {total_acked} acknowledged appends, {verified} entries verified",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    let args = vec!["--sqlite".to_owned(), path.display().to_string()];
    crash_rounds(
        args,
        || async {
            bangfu_store::sqlite::SqliteBackend::open(&path)
                .await
                .unwrap()
        },
        20,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_at_random_moments() {
    let db = bangfu_store::postgres::TestDatabase::create("bangfu_crash")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let args = vec!["--postgres".to_owned(), db.url.clone()];
    crash_rounds(
        args,
        || async {
            bangfu_store::postgres::PgBackend::connect(&db.url)
                .await
                .unwrap()
        },
        20,
    )
    .await;
}
