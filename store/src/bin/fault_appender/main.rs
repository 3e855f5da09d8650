//! `bangfu-fault-appender`: a fault-injection harness. It appends generated, validly signed
//! statements to a store from several concurrent writers, forever, and prints one line per
//! acknowledged append — `ack <index>` — only after the store has committed it (and `ready` once the
//! log is open). Crash tests kill it
//! with SIGKILL at random moments and then check that every printed index survived.
//!
//! Usage: `bangfu-fault-appender (--sqlite PATH | --postgres URL) [--writers N]`

mod district;

use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const CADRES: usize = 4;
const HOUSEHOLDS: usize = 16;

fn usage() -> ! {
    eprintln!("usage: bangfu-fault-appender (--sqlite PATH | --postgres URL) [--writers N]");
    std::process::exit(2)
}

fn ack(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the test is gone; stop quietly.
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

async fn run<B: Backend>(backend: B, writers: u64) {
    let log = Arc::new(Log::open(backend).await.unwrap_or_else(|e| {
        eprintln!("cannot open the log: {e}");
        std::process::exit(1)
    }));
    // Tells the crash test that start-up is over, so that its clock measures appending.
    ack("ready");
    if log.size().await.unwrap_or(0) == 0 {
        for st in district::district(CADRES, HOUSEHOLDS) {
            match log.append(st).await {
                Ok(r) => ack(&format!("ack {}", r.index)),
                Err(e) => {
                    eprintln!("setup refused: {e}");
                    std::process::exit(1)
                }
            }
        }
    }
    let counter = Arc::new(AtomicU64::new(0));
    let pid = u64::from(std::process::id());
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (log, counter) = (log.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = pid * 1_000_000 + counter.fetch_add(1, Ordering::Relaxed);
                let st = district::visit((w as usize + n as usize) % HOUSEHOLDS, CADRES, n);
                loop {
                    match log.append(st.clone()).await {
                        Ok(r) => {
                            ack(&format!("ack {}", r.index));
                            break;
                        }
                        Err(e) if e.is_retryable() => {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await
                        }
                        Err(e) => {
                            eprintln!("refused: {e}");
                            std::process::exit(1)
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut writers = 8;
    let mut store: Option<(String, String)> = None;
    let mut i = 0;
    while i < args.len() {
        match (args[i].as_str(), args.get(i + 1)) {
            ("--sqlite" | "--postgres", Some(v)) => store = Some((args[i].clone(), v.clone())),
            ("--writers", Some(v)) => writers = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
        i += 2;
    }
    match store {
        Some((kind, path)) if kind == "--sqlite" => {
            match bangfu_store::sqlite::SqliteBackend::open(std::path::Path::new(&path)).await {
                Ok(b) => run(b, writers).await,
                Err(e) => eprintln!("cannot open {path}: {e}"),
            }
        }
        Some((_, url)) => match bangfu_store::postgres::PgBackend::connect(&url).await {
            Ok(b) => run(b, writers).await,
            Err(e) => eprintln!("cannot connect to {url}: {e}"),
        },
        None => usage(),
    }
}
