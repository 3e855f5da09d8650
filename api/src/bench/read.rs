//! The read-side figures of `bangfu bench`: how fast the whole log is verified and its read models
//! rebuilt, how fast proofs and a past-date query are answered, and how much memory verify and
//! rebuild need, each beside the baseline issue 8 names, measured in the same run.
//!
//! Verify and rebuild run as the real `bangfu verify` and `bangfu rebuild` in a child process:
//! that is the program an inspector runs, and the only way to read one command's peak memory
//! (`wait4` returns the child's own `ru_maxrss`). Timing them there as well spares a second pass
//! over the log, which at city scale would cost minutes. The baselines run in this process:
//! the Ed25519 batch rate on the log's own signatures, and a bare read of the entries.
//!
//! Proofs and the as-of query are timed one call at a time over deterministic pseudo-random
//! inputs (the same inputs every run at the same size), and each proof is checked after its
//! timing, so a fast answer that is wrong cannot pass for a figure.

use super::Figure;
use super::generate::Rng;
use anyhow::{Context, bail};
use bangfu_domain::date::Date;
use bangfu_domain::ids::HouseholdId;
use bangfu_ledger::entry::Entry;
use bangfu_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use bangfu_ledger::note::VerifierKey;
use bangfu_ledger::signature::{PublicKey, Signature, VerifyingKey};
use bangfu_projections::docs::{Doc, HouseholdRow};
use bangfu_projections::query;
use bangfu_projections::views::ViewStore;
use bangfu_projections::views_postgres::PgViews;
use bangfu_projections::views_sqlite::SqliteViews;
use bangfu_store::backend::Backend;
use bangfu_store::log::{consistency_proof, inclusion_proof, tree_head};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Entries read per page, as the verifier and the projector read them.
const PAGE: u32 = 1000;
/// Signatures per `verify_batch` call in the baseline.
const BATCH: usize = 64;
/// Signatures gathered before each timed round of the baselines (then split over the cores).
const CHUNK: usize = 8_192;
/// The read-model file of an embedded store (`bangfu`'s `cli/store.rs` names it the same).
const READ_MODELS_FILE: &str = "readmodels.sqlite";
/// Proof p99 target of issue 8, in ms.
const PROOF_P99_MS: f64 = 5.0;
/// As-of query p99 target of issue 8, in ms.
const AS_OF_P99_MS: f64 = 20.0;
/// Peak-memory target of issue 8, in MiB; judged at 10 million entries.
const PEAK_MIB: f64 = 1024.0;
const PEAK_JUDGED_AT: u64 = 10_000_000;

/// Where the store under test is, so that a child `bangfu` opens the same one.
#[derive(Clone, Debug)]
pub enum StoreAt {
    /// An embedded store: the child gets `--data DIR`; its read models are `DIR/readmodels.sqlite`.
    Data(PathBuf),
    /// A PostgreSQL store: the child gets the URL in `BANGFU_DATABASE_URL`, never on its command
    /// line (where a password would show in the process list).
    Database(String),
}

/// What the read-side figures need besides the store.
#[derive(Clone, Debug)]
pub struct Options {
    pub store: StoreAt,
    /// The `bangfu` program the verify and rebuild children run (the CLI passes
    /// `std::env::current_exe()`; a test passes the built binary).
    pub bangfu: PathBuf,
    /// At most this many of the log's signatures are timed for the batch-verify baseline, taken in
    /// pages spread evenly over the log.
    pub signature_sample: u64,
    /// Calls timed per latency figure.
    pub queries: usize,
}

impl Options {
    /// 200,000 signatures (about 13 s on the 2-core machine) and 1,000 calls per latency figure.
    pub fn new(store: StoreAt, bangfu: PathBuf) -> Options {
        Options {
            store,
            bangfu,
            signature_sample: 200_000,
            queries: 1_000,
        }
    }
}

/// Measures every read-side figure on the log in `backend`, which `options.store` names for the
/// children. Rebuilds the store's live read models (they are disposable). `work_dir` receives the
/// children's output. The log must verify: a figure over a bad log means nothing, so any failure
/// is an error naming it.
pub async fn figures<B: Backend>(
    backend: &B,
    log_vkey: &VerifierKey,
    work_dir: &Path,
    options: &Options,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Vec<Figure>> {
    let size = backend
        .size()
        .await
        .context("读取账本大小失败 / could not read the log's size")?;
    if size < 2 {
        bail!(
            "账本只有 {size} 条 / the log holds {size} entries: the read-side figures need at least 2; generate a program first"
        );
    }
    if options.queries == 0 || options.signature_sample == 0 {
        bail!("queries and signature_sample must be at least 1");
    }
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating the work folder {}", work_dir.display()))?;
    let mut out = Vec::new();

    progress("Ed25519 batch-verify baseline / 批量验签基线");
    let signatures = signature_rates(backend, size, options.signature_sample).await?;
    progress(&format!("bangfu verify, {size} entries / 全量核验"));
    let verify = verify_child(options, log_vkey, work_dir, size).await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    out.push(Figure {
        id: "verify.per_sec".into(),
        what: format!("full `bangfu verify` of {size} entries (one process)"),
        value: per_sec(size, verify.wall),
        unit: "entries/s".into(),
        baseline: Some((
            format!(
                "ed25519-dalek verify_batch of {} of the log's own signatures, batches of {BATCH}, on {cores} cores",
                signatures.signatures
            ),
            signatures.batch_per_sec,
        )),
        target: "≥ 0.8× baseline".into(),
        met: None,
    });
    // The format must decide as strict verification does, which a plain batch does not (see
    // ledger/src/signature.rs): strict checks on every core are the floor for a verifier.
    out.push(Figure {
        id: "verify.per_sec_vs_strict".into(),
        what: format!("full `bangfu verify` of {size} entries, against the strict floor"),
        value: per_sec(size, verify.wall),
        unit: "entries/s".into(),
        baseline: Some((
            format!(
                "strict Ed25519 verification of the same {} signatures, one at a time, on {cores} cores",
                signatures.signatures
            ),
            signatures.strict_per_sec,
        )),
        target: "(for reference)".into(),
        met: None,
    });

    progress("reading the entries without applying them / 只读条目基线");
    let read = read_rate(backend, size).await?;
    progress(&format!("bangfu rebuild, {size} entries / 重建读模型"));
    let rebuild = rebuild_child(options, work_dir, size).await?;
    out.push(Figure {
        id: "rebuild.per_sec".into(),
        what: format!("projection `bangfu rebuild` of {size} entries"),
        value: per_sec(size, rebuild.seconds),
        unit: "entries/s".into(),
        baseline: Some((
            format!("reading the same entries, pages of {PAGE}, parsing nothing"),
            read,
        )),
        target: "≥ 0.5× baseline and ≥ 100,000/s".into(),
        met: None,
    });

    for (what, usage, id) in [
        ("verify", &verify.usage, "memory.verify.peak_mib"),
        ("rebuild", &rebuild.usage, "memory.rebuild.peak_mib"),
    ] {
        let mib = usage.peak_rss_kib as f64 / 1024.0;
        out.push(Figure {
            id: id.into(),
            what: format!("peak resident memory of `bangfu {what}` over {size} entries"),
            value: mib,
            unit: "MiB".into(),
            baseline: None,
            target: "≤ 1 GiB at 10M entries, flat in n".into(),
            // Under 1 GiB below 10M says little about 10M; over it is a miss at any size.
            met: if mib > PEAK_MIB {
                Some(false)
            } else {
                (size >= PEAK_JUDGED_AT).then_some(true)
            },
        });
    }

    progress(&format!("{} inclusion proofs / 包含证明", options.queries));
    let mut rng = Rng::new(&[size]);
    let inclusion = inclusion_latencies(backend, size, options.queries, &mut rng).await?;
    progress(&format!(
        "{} consistency proofs / 一致性证明",
        options.queries
    ));
    let consistency = consistency_latencies(backend, size, options.queries, &mut rng).await?;
    for (kind, lat) in [("inclusion", &inclusion), ("consistency", &consistency)] {
        let what = match kind {
            "inclusion" => format!("random indexes in the tree of {size}"),
            _ => format!("random old sizes to {size}"),
        };
        out.extend(latency_figures(
            &format!("proof.{kind}"),
            &format!("{kind} proof from stored hashes ({} {what})", lat.len()),
            lat,
            "≤ 5 ms; O(log n)",
            PROOF_P99_MS,
        ));
    }

    progress(&format!(
        "{} as-of pairing queries / 历史结对查询",
        options.queries
    ));
    let as_of = match &options.store {
        StoreAt::Data(dir) => {
            let views = SqliteViews::open(&dir.join(READ_MODELS_FILE))
                .await
                .context("打开读模型失败 / could not open the rebuilt read models")?;
            as_of_latencies(backend, &views, size, options.queries, &mut rng).await?
        }
        StoreAt::Database(url) => {
            let views = PgViews::connect(url)
                .await
                .context("打开读模型失败 / could not open the rebuilt read models")?;
            as_of_latencies(backend, &views, size, options.queries, &mut rng).await?
        }
    };
    out.extend(latency_figures(
        "asof.pairings",
        &format!(
            "pairings of a household on a past date, live read models ({} random household/day pairs, {} of them paired that day)",
            as_of.latencies.len(),
            as_of.paired
        ),
        &as_of.latencies,
        "≤ 20 ms",
        AS_OF_P99_MS,
    ));

    for f in &mut out {
        if f.met.is_none() {
            f.met = judge_ratio(f);
        }
    }
    Ok(out)
}

/// The ratio targets of verify and rebuild (the others are judged where they are made).
fn judge_ratio(f: &Figure) -> Option<bool> {
    let ratio = f.ratio()?;
    match f.id.as_str() {
        "verify.per_sec" => Some(ratio >= 0.8),
        "rebuild.per_sec" => Some(ratio >= 0.5 && f.value >= 100_000.0),
        _ => None,
    }
}

fn per_sec(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The p50 and p99 figures of one kind of call; `target_ms` judges the p99.
fn latency_figures(
    id: &str,
    what: &str,
    latencies: &[Duration],
    target: &str,
    target_ms: f64,
) -> Vec<Figure> {
    let p50 = percentile_ms(latencies, 50);
    let p99 = percentile_ms(latencies, 99);
    vec![
        Figure {
            id: format!("{id}.p50_ms"),
            what: format!("{what}, p50"),
            value: p50,
            unit: "ms".into(),
            baseline: None,
            target: "—".into(),
            met: None,
        },
        Figure {
            id: format!("{id}.p99_ms"),
            what: format!("{what}, p99"),
            value: p99,
            unit: "ms".into(),
            baseline: None,
            target: target.into(),
            met: Some(p99 <= target_ms),
        },
    ]
}

/// The nearest-rank percentile `p` of the latencies, in ms (0 for none).
fn percentile_ms(latencies: &[Duration], p: usize) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Baselines

struct SignatureRates {
    signatures: u64,
    /// ed25519-dalek's `verify_batch` on every core.
    batch_per_sec: f64,
    /// Strict verification, one signature at a time, on every core.
    strict_per_sec: f64,
}

/// The pages of the log the signature baseline reads: all of them, or `sample` entries' worth
/// spread evenly, so it sees the log's mix of signers rather than only its opening registrations.
fn sample_pages(size: u64, sample: u64) -> Vec<u64> {
    let page = u64::from(PAGE);
    let total = size.div_ceil(page);
    let wanted = sample.div_ceil(page).max(1);
    if wanted >= total {
        return (0..total).map(|p| p * page).collect();
    }
    (0..wanted).map(|k| (k * total / wanted) * page).collect()
}

/// Times the log's own statements' signatures alone, in chunks of [`CHUNK`] spread over every
/// core, two ways: ed25519-dalek's `verify_batch` in batches of [`BATCH`] (the machine's Ed25519
/// batch-verify rate, issue 8's baseline; it does not decide as strict verification does, so the
/// format cannot use it) and strict verification one signature at a time (what a conforming
/// verifier must at least do). Parsing and building the signed messages are not timed.
async fn signature_rates<B: Backend>(
    backend: &B,
    size: u64,
    sample: u64,
) -> anyhow::Result<SignatureRates> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut chunk: Vec<Signed> = Vec::with_capacity(CHUNK);
    let (mut batch_time, mut strict_time) = (Duration::ZERO, Duration::ZERO);
    let mut signatures = 0u64;
    let mut time_chunk = |chunk: &mut Vec<Signed>| -> anyhow::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let share = chunk.len().div_ceil(threads);
        let started = Instant::now();
        let batches_ok = std::thread::scope(|scope| {
            let workers: Vec<_> = chunk
                .chunks(share)
                .map(|part| scope.spawn(move || part.chunks(BATCH).all(unguarded_batch)))
                .collect();
            workers.into_iter().all(|w| w.join().unwrap_or(false))
        });
        batch_time += started.elapsed();
        let started = Instant::now();
        let first_bad = std::thread::scope(|scope| {
            let workers: Vec<_> = chunk
                .chunks(share)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .find(|s| s.key.verify_strict(&s.message, &s.signature).is_err())
                            .map(|s| s.index)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or(Some(u64::MAX)))
                .find(Option::is_some)
                .flatten()
        });
        strict_time += started.elapsed();
        if let Some(index) = first_bad.or((!batches_ok).then_some(u64::MAX)) {
            bail!(
                "条目 {index} 的签名无效 / the signature of entry {index} does not verify: the log is damaged; run `bangfu verify` to see where"
            );
        }
        signatures += chunk.len() as u64;
        chunk.clear();
        Ok(())
    };
    for from in sample_pages(size, sample) {
        let page = backend
            .entries(from, PAGE)
            .await
            .with_context(|| format!("reading entries from {from}"))?;
        for stored in page {
            let entry = Entry::from_bytes(&stored.body).map_err(|e| {
                anyhow::anyhow!(
                    "条目 {} 无法解析 / entry {} does not parse: {e}; run `bangfu verify`",
                    stored.index,
                    stored.index
                )
            })?;
            let message =
                entry.statement.body.signing_message().map_err(|e| {
                    anyhow::anyhow!("entry {}: its statement body: {e}", stored.index)
                })?;
            chunk.push(Signed {
                index: stored.index,
                key: entry.statement.body.key,
                message,
                signature: entry.statement.sig,
            });
            if chunk.len() == CHUNK {
                time_chunk(&mut chunk)?;
            }
        }
    }
    time_chunk(&mut chunk)?;
    Ok(SignatureRates {
        signatures,
        batch_per_sec: per_sec(signatures, batch_time),
        strict_per_sec: per_sec(signatures, strict_time),
    })
}

/// One signature of the log, ready to check.
struct Signed {
    index: u64,
    key: PublicKey,
    message: Vec<u8>,
    signature: Signature,
}

fn unguarded_batch(batch: &[Signed]) -> bool {
    let messages: Vec<&[u8]> = batch.iter().map(|s| s.message.as_slice()).collect();
    let signatures: Vec<Signature> = batch.iter().map(|s| s.signature).collect();
    let keys: Vec<VerifyingKey> = batch.iter().map(|s| *s.key.verifying_key()).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

/// Reads every entry in pages as the projector does, parsing nothing: the floor under a rebuild.
async fn read_rate<B: Backend>(backend: &B, size: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (mut next, mut bytes) = (0u64, 0usize);
    while next < size {
        let want = (size - next).min(u64::from(PAGE)) as u32;
        let page = backend
            .entries(next, want)
            .await
            .with_context(|| format!("reading entries from {next}"))?;
        if page.is_empty() {
            bail!("the log ended at {next}, short of its size {size}");
        }
        next += page.len() as u64;
        // Touch the bytes so the read cannot be optimised away.
        bytes += page.iter().map(|e| e.body.len()).sum::<usize>();
    }
    let elapsed = started.elapsed();
    std::hint::black_box(bytes);
    Ok(per_sec(size, elapsed))
}

// ---------------------------------------------------------------------------------------------
// Children: verify and rebuild, timed, with their peak memory

/// How often a running child's `VmHWM` is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// What a finished child used.
struct Usage {
    /// The child's peak resident set, KiB (see [`peak_kib`]).
    peak_rss_kib: u64,
}

/// The `VmHWM` (peak resident set, KiB) in a `/proc/<pid>/status` file; `None` once the process
/// is gone or has no memory left to report (a zombie).
fn vm_hwm_kib(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The child's own peak from `wait4`'s `ru_maxrss` and the last `VmHWM` sampled while it ran.
///
/// `ru_maxrss` alone is not the child's: Linux also counts the memory the child had before it
/// called `exec`, and a child spawned with `vfork` (as Rust spawns) shares this process's memory
/// until then, so `ru_maxrss` is at least this process's own peak. When it is above that peak it
/// can only be the child's, and exact; otherwise the sampled `VmHWM` (which starts afresh at
/// `exec`) is the answer, short at most of what the child grew in its last sampling interval.
fn peak_kib(ru_maxrss: u64, sampled: u64) -> u64 {
    let ours = vm_hwm_kib("/proc/self/status").unwrap_or(u64::MAX);
    if ru_maxrss > ours {
        ru_maxrss.max(sampled)
    } else {
        sampled
    }
}

struct Finished {
    wall: Duration,
    usage: Usage,
    stdout: String,
}

/// Runs `bangfu <args>` on the store under test, its output in `work_dir/<name>.{stdout,stderr}`,
/// and waits for it with `wait4`, which reports that one child's peak memory (unlike
/// `getrusage(RUSAGE_CHILDREN)`, the largest of every child ever waited for).
fn run_child(
    options: &Options,
    args: &[String],
    work_dir: &Path,
    name: &str,
) -> anyhow::Result<Finished> {
    let out_path = work_dir.join(format!("{name}.stdout"));
    let err_path = work_dir.join(format!("{name}.stderr"));
    let mut cmd = Command::new(&options.bangfu);
    cmd.args(args);
    match &options.store {
        StoreAt::Data(dir) => {
            // An inherited URL would send the child to another store.
            cmd.env_remove("BANGFU_DATABASE_URL").arg("--data").arg(dir);
        }
        StoreAt::Database(url) => {
            cmd.env("BANGFU_DATABASE_URL", url);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(
            File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?,
        )
        .stderr(
            File::create(&err_path).with_context(|| format!("creating {}", err_path.display()))?,
        );
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| {
        format!(
            "无法启动 / could not start {}; pass the path of the `bangfu` program",
            options.bangfu.display()
        )
    })?;
    let pid = libc::pid_t::try_from(child.id()).context("the child's pid")?;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value of the plain C struct, which wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut sampled = 0u64;
    loop {
        // Sampled before each check, so the last sample is at most one interval before the exit.
        if let Some(kib) = vm_hwm_kib(&format!("/proc/{pid}/status")) {
            sampled = sampled.max(kib);
        }
        // SAFETY: `pid` is our own child, not yet waited for (`child` is never waited on: it is
        // only dropped, which neither waits nor kills); `status` and `usage` are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if r == 0 {
            std::thread::sleep(SAMPLE_EVERY);
            continue;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("waiting for the child `bangfu`");
        }
    }
    let wall = started.elapsed();
    drop(child);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !exited_ok {
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let tail = |s: &str| {
            s.chars()
                .rev()
                .take(2000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        };
        bail!(
            "`bangfu {}` 失败 / failed ({}): {}{}",
            args.join(" "),
            if libc::WIFEXITED(status) {
                format!("exit status {}", libc::WEXITSTATUS(status))
            } else {
                format!("killed by signal {}", libc::WTERMSIG(status))
            },
            tail(&stdout),
            tail(&stderr)
        );
    }
    Ok(Finished {
        wall,
        usage: Usage {
            peak_rss_kib: peak_kib(u64::try_from(usage.ru_maxrss).unwrap_or(0), sampled),
        },
        stdout,
    })
}

/// Runs a child off the async threads (it blocks in `wait4` for as long as the command runs).
async fn child(
    options: &Options,
    args: Vec<String>,
    work_dir: &Path,
    name: &'static str,
) -> anyhow::Result<Finished> {
    let (options, work_dir) = (options.clone(), work_dir.to_owned());
    tokio::task::spawn_blocking(move || run_child(&options, &args, &work_dir, name))
        .await
        .context("the task waiting for a child `bangfu` failed")?
}

/// The value at `path` in the child's JSON output.
fn json_field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// `bangfu verify --json` over the whole log; it must pass and cover `size` entries.
async fn verify_child(
    options: &Options,
    log_vkey: &VerifierKey,
    work_dir: &Path,
    size: u64,
) -> anyhow::Result<Finished> {
    let args = vec![
        "verify".into(),
        "--json".into(),
        "--log-vkey".into(),
        log_vkey.to_string(),
    ];
    let done = child(options, args, work_dir, "verify").await?;
    let v: serde_json::Value = serde_json::from_str(&done.stdout)
        .with_context(|| format!("`bangfu verify --json` printed no JSON: {}", done.stdout))?;
    let entries = json_field(&v, &["report", "entries"]).and_then(|e| e.as_u64());
    if v.get("ok") != Some(&serde_json::Value::Bool(true)) || entries != Some(size) {
        bail!(
            "核验未通过 / the log did not verify over its {size} entries: {}",
            done.stdout
        );
    }
    Ok(done)
}

struct Rebuilt {
    /// The time `bangfu rebuild` reports for the rebuild itself (without starting up).
    seconds: Duration,
    usage: Usage,
}

/// `bangfu rebuild --json`; it must apply `size` entries.
async fn rebuild_child(options: &Options, work_dir: &Path, size: u64) -> anyhow::Result<Rebuilt> {
    let args = vec!["rebuild".into(), "--json".into()];
    let done = child(options, args, work_dir, "rebuild").await?;
    let v: serde_json::Value = serde_json::from_str(&done.stdout)
        .with_context(|| format!("`bangfu rebuild --json` printed no JSON: {}", done.stdout))?;
    let entries = v.get("entries").and_then(|e| e.as_u64());
    let seconds = v.get("seconds").and_then(|s| s.as_f64());
    match (entries, seconds) {
        (Some(n), Some(s)) if n == size && s.is_finite() && s >= 0.0 => Ok(Rebuilt {
            seconds: Duration::from_secs_f64(s),
            usage: done.usage,
        }),
        _ => bail!(
            "重建结果不符 / `bangfu rebuild` did not report {size} entries applied: {}",
            done.stdout
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Latencies

/// `n` inclusion proofs of random entries in the tree of `size`, each timed alone, then checked
/// against the entry's leaf and the tree head.
async fn inclusion_latencies<B: Backend>(
    backend: &B,
    size: u64,
    n: usize,
    rng: &mut Rng,
) -> anyhow::Result<Vec<Duration>> {
    let root = tree_head(backend, size).await?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let index = rng.below(size);
        let started = Instant::now();
        let proof = inclusion_proof(backend, size, index).await?;
        out.push(started.elapsed());
        let entry = backend.entries(index, 1).await?;
        let Some(stored) = entry.first().filter(|e| e.index == index) else {
            bail!("entry {index} could not be read back");
        };
        verify_inclusion(index, size, &leaf_hash(&stored.body), &proof, &root).map_err(|e| {
            anyhow::anyhow!(
                "包含证明无效 / the inclusion proof of entry {index} in the tree of {size} does not verify: {e}; the stored hashes are damaged, run `bangfu verify`"
            )
        })?;
    }
    Ok(out)
}

/// `n` consistency proofs from random old sizes to `size`, each timed alone, then checked against
/// both tree heads.
async fn consistency_latencies<B: Backend>(
    backend: &B,
    size: u64,
    n: usize,
    rng: &mut Rng,
) -> anyhow::Result<Vec<Duration>> {
    let root = tree_head(backend, size).await?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let old = 1 + rng.below(size - 1);
        let started = Instant::now();
        let proof = consistency_proof(backend, old, size).await?;
        out.push(started.elapsed());
        let old_root = tree_head(backend, old).await?;
        verify_consistency(old, size, &old_root, &root, &proof).map_err(|e| {
            anyhow::anyhow!(
                "一致性证明无效 / the consistency proof from {old} to {size} does not verify: {e}; the stored hashes are damaged, run `bangfu verify`"
            )
        })?;
    }
    Ok(out)
}

struct AsOf {
    latencies: Vec<Duration>,
    /// How many of the answers held a pairing: a figure of empty answers would measure little.
    paired: usize,
}

/// `n` calls of [`query::pairings_of_household_on`] for random households on random days
/// between the log's first and last entry, on read models that must reflect all `size` entries.
async fn as_of_latencies<B: Backend, V: ViewStore>(
    backend: &B,
    views: &V,
    size: u64,
    n: usize,
    rng: &mut Rng,
) -> anyhow::Result<AsOf> {
    let applied = views.applied().await?;
    if applied != size {
        bail!(
            "读模型只反映 {applied} 条 / the read models reflect {applied} of the log's {size} entries after the rebuild; run `bangfu rebuild`"
        );
    }
    let prefix = format!("{}/", HouseholdRow::KIND);
    let mut households = Vec::new();
    let mut after = String::new();
    loop {
        let rows = views.scan(&prefix, &after, 5000).await?;
        let Some((last, _)) = rows.last() else { break };
        after = last.clone();
        for (key, _) in &rows {
            let id = key.strip_prefix(&prefix).unwrap_or(key);
            households.push(
                HouseholdId::new(id).map_err(|e| anyhow::anyhow!("read-model row {key}: {e}"))?,
            );
        }
    }
    if households.is_empty() {
        bail!(
            "the read models hold no household: the log registers none, so there is nothing to ask"
        );
    }
    let first = first_day(backend).await?;
    let last = query::today(views).await?;
    let span = first.days_until(last).max(0) as u64 + 1;
    let mut out = AsOf {
        latencies: Vec::with_capacity(n),
        paired: 0,
    };
    for _ in 0..n {
        let household = &households[rng.below(households.len() as u64) as usize];
        let day = first.add_days(rng.below(span) as i64);
        let started = Instant::now();
        let answer = query::pairings_of_household_on(views, household, day).await?;
        out.latencies.push(started.elapsed());
        out.paired += usize::from(!answer.is_empty());
    }
    Ok(out)
}

/// The China date of the first entry.
async fn first_day<B: Backend>(backend: &B) -> anyhow::Result<Date> {
    let first = backend.entries(0, 1).await?;
    let Some(stored) = first.first() else {
        bail!("the log has no entry 0");
    };
    let entry = Entry::from_bytes(&stored.body)
        .map_err(|e| anyhow::anyhow!("entry 0 does not parse: {e}; run `bangfu verify`"))?;
    Ok(Date::in_china(entry.recorded_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, Location, Scale};
    use bangfu_projections::docs::PairingRow;
    use bangfu_projections::projector;
    use bangfu_store::sqlite::SqliteBackend;
    use std::collections::BTreeSet;

    #[test]
    fn samples_spread_over_the_log_and_percentiles_are_nearest_rank() {
        assert_eq!(sample_pages(2_500, 200_000), vec![0, 1000, 2000]);
        let spread = sample_pages(1_000_000, 200_000);
        assert_eq!(spread.len(), 200);
        assert_eq!(spread[0], 0);
        assert!(
            spread.windows(2).all(|w| w[1] - w[0] == 5_000),
            "{spread:?}"
        );
        assert_eq!(sample_pages(1_000_000, 1), vec![0]);

        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let hundred = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(percentile_ms(&hundred, 50), 50.0);
        assert_eq!(percentile_ms(&hundred, 99), 99.0);
        assert_eq!(percentile_ms(&ms(&[7]), 99), 7.0);
        assert_eq!(percentile_ms(&[], 99), 0.0);

        let judged = |id: &str, value: f64, base: f64| {
            judge_ratio(&Figure {
                id: id.into(),
                what: String::new(),
                value,
                unit: "entries/s".into(),
                baseline: Some((String::new(), base)),
                target: String::new(),
                met: None,
            })
        };
        assert_eq!(judged("verify.per_sec", 8_000.0, 10_000.0), Some(true));
        assert_eq!(judged("verify.per_sec", 7_999.0, 10_000.0), Some(false));
        assert_eq!(judged("rebuild.per_sec", 90_000.0, 100_000.0), Some(false));
        assert_eq!(judged("rebuild.per_sec", 100_000.0, 150_000.0), Some(true));
        assert_eq!(judged("rebuild.per_sec", 100_000.0, 250_000.0), Some(false));
    }

    /// A child's peak memory is its own: a shell holding 64 MB, then one holding nothing.
    #[test]
    fn a_child_reports_its_own_peak_memory_and_failures_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let sh = |script: &str| {
            let options = Options::new(StoreAt::Data(dir.path().into()), "/bin/sh".into());
            run_child(&options, &["-c".into(), script.into()], dir.path(), "sh")
        };
        // Each holds its memory a while, as the bench's children do, so a sample sees it.
        let big =
            sh("x=$(head -c 64000000 /dev/zero | tr '\\0' a); sleep 0.3; echo ${#x}").unwrap();
        assert_eq!(big.stdout.trim(), "64000000");
        assert!(
            big.usage.peak_rss_kib > 60_000,
            "{}",
            big.usage.peak_rss_kib
        );
        // Not this test process's memory either, which the child shared until `exec`.
        let small = sh("sleep 0.3; echo ok").unwrap();
        assert_eq!(small.stdout.trim(), "ok");
        let ours = vm_hwm_kib("/proc/self/status").unwrap();
        assert!(
            small.usage.peak_rss_kib > 0 && small.usage.peak_rss_kib < 20_000,
            "{} (this process: {ours})",
            small.usage.peak_rss_kib
        );
        let e = sh("echo the log is bad >&2; exit 3")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("exit status 3") && e.contains("the log is bad"),
            "{e}"
        );
        let missing = Options::new(StoreAt::Data(dir.path().into()), dir.path().join("nope"));
        let e = run_child(&missing, &[], dir.path(), "x").err().unwrap();
        assert!(format!("{e:#}").contains("could not start"), "{e:#}");
    }

    /// On the demo's log: the baselines cover it, every proof checks, and the past-date query
    /// agrees with a replay of the log up to the end of each day asked about.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_process_figures_on_the_demo_and_the_query_agrees_with_a_replay() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("log.sqlite"))
            .await
            .unwrap();
        let views = SqliteViews::open(&dir.path().join(READ_MODELS_FILE))
            .await
            .unwrap();
        let location = Location {
            flags: String::new(),
            config_flag: String::new(),
        };
        demo::run(
            backend.clone(),
            views.clone(),
            Scale::Small,
            &location,
            &|_, _, _| {},
        )
        .await
        .unwrap();
        let size = backend.size().await.unwrap();

        let rates = signature_rates(&backend, size, 1_000_000).await.unwrap();
        assert_eq!(rates.signatures, size);
        assert!(rates.batch_per_sec > 0.0 && rates.strict_per_sec > 0.0);
        let sampled = signature_rates(&backend, size, 500).await.unwrap();
        assert_eq!(sampled.signatures, 1000.min(size));
        assert!(read_rate(&backend, size).await.unwrap() > 0.0);

        let mut rng = Rng::new(&[size]);
        let inclusion = inclusion_latencies(&backend, size, 50, &mut rng)
            .await
            .unwrap();
        let consistency = consistency_latencies(&backend, size, 50, &mut rng)
            .await
            .unwrap();
        assert_eq!((inclusion.len(), consistency.len()), (50, 50));

        projector::rebuild(&backend, &views, None).await.unwrap();
        let as_of = as_of_latencies(&backend, &views, size, 200, &mut rng)
            .await
            .unwrap();
        assert_eq!(as_of.latencies.len(), 200);
        assert!(as_of.paired > 0 && as_of.paired < 200, "{}", as_of.paired);

        // Every household on days across the story: the live rows' answer is the replay's.
        let households: Vec<HouseholdRow> = query::all(&views, "household/").await.unwrap();
        let first = first_day(&backend).await.unwrap();
        let last = query::today(&views).await.unwrap();
        let step = (first.days_until(last) / 9).max(1);
        let mut compared = 0;
        let mut day = first;
        while day <= last {
            let at = projector::size_at_end_of(&backend, day).await.unwrap();
            let past = projector::as_of(&backend, at).await.unwrap();
            for h in &households {
                let live = query::pairings_of_household_on(&views, &h.id, day)
                    .await
                    .unwrap();
                let replayed: Vec<PairingRow> = query::pairings_of_household(&past, &h.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|p| !p.team_on(day).is_empty())
                    .collect();
                let live_teams: Vec<(String, BTreeSet<_>, _)> = live
                    .iter()
                    .map(|p| (p.pairing.clone(), p.cadres.clone(), p.lead.clone()))
                    .collect();
                let replay_teams: Vec<(String, BTreeSet<_>, _)> = replayed
                    .iter()
                    .map(|p| {
                        let team = p.team_on(day).into_iter().cloned().collect();
                        (p.id.clone(), team, Some(p.team.lead.clone()))
                    })
                    .collect();
                assert_eq!(live_teams, replay_teams, "household {} on {day}", h.id);
                compared += live.len();
            }
            day = day.add_days(step);
        }
        assert!(compared > 0, "no household was paired on any day asked");
    }
}
