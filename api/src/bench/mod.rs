//! `bangfu bench`: a synthetic program at a chosen scale ([`generate`]), run through the real code
//! paths, every figure printed beside a baseline measured in the same run and the ratio (issue 8).
//!
//! [`run`] goes phase by phase, each with its own progress on stderr:
//!
//! 1. the program is generated and loaded into an embedded store at full speed
//!    ([`generate::load_fast`]), and the log signs a checkpoint of it;
//! 2. the read-side figures on that log ([`read::figures`]): verify, rebuild, proofs, the as-of
//!    query and the peak memory of verify and rebuild, each in a child `bangfu`;
//! 3. the append workload is signed ([`generate::workload`]) and sent through the real intake by 64
//!    clients ([`append::intake_run`]): into that same log (SQLite at full size), into smaller
//!    prefixes of the program (append throughput against log size), and into a PostgreSQL log;
//! 4. the baseline: the same workload, unsigned, through cqrs-es over PostgreSQL
//!    ([`append::baseline_run`]).
//!
//! The [`Report`] holds the figures, the machine and the commit; [`table`] prints it for people.
pub mod append;
pub mod generate;
pub mod read;

/// One measured figure, with the baseline measured in the same run when there is one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    /// Stable id, e.g. "append.sqlite.per_sec".
    pub id: String,
    /// What it is, for people: "signed appends/s, SQLite, 64 clients".
    pub what: String,
    pub value: f64,
    /// "entries/s", "ms", "MiB", …
    pub unit: String,
    /// The baseline's description and value, in the same unit, measured in this run.
    pub baseline: Option<(String, f64)>,
    /// The issue's target, for people: "≥ 1.0× baseline and ≥ 5,000/s".
    pub target: String,
    /// Whether the target was met (None when it cannot be judged at this scale).
    pub met: Option<bool>,
}

impl Figure {
    /// The value over the baseline's, when there is a baseline and it is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match &self.baseline {
            Some((_, b)) if *b != 0.0 => Some(self.value / b),
            _ => None,
        }
    }
}

use anyhow::Context;
use bangfu_ledger::note::Signer;
use bangfu_ledger::time::Timestamp;
use bangfu_store::checkpoints::sign_checkpoint;
use bangfu_store::postgres::{PgBackend, create_test_database, drop_database};
use bangfu_store::sqlite::SqliteBackend;
use generate::{Keys, Scale, Workload};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub scale: Scale,
    /// A PostgreSQL server on which the user may `CREATE DATABASE`: the PostgreSQL log and the
    /// baseline each get a scratch database there, dropped at the end. `None` skips both (and
    /// every figure that needs them says so).
    pub admin_url: Option<String>,
    /// Keep the embedded stores here (an empty or new folder) instead of a temporary one.
    pub keep: Option<PathBuf>,
    /// The `bangfu` program the read-side children run.
    pub bangfu: PathBuf,
    /// Progress bars on stderr (when it is a terminal) and a line per phase.
    pub progress: bool,
}

/// The machine the figures were measured on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_mib: u64,
    pub os: String,
}

/// Everything one run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub scale: String,
    /// Entries in the generated program's log.
    pub entries: u64,
    pub started_at: String,
    /// Wall time of the whole run.
    pub seconds: f64,
    pub machine: Machine,
    /// `git describe --always --dirty` of the checkout the program was built in, if known.
    pub commit: Option<String>,
    /// The exact command, for docs/performance.md.
    pub command: String,
    pub figures: Vec<Figure>,
    /// What a reader needs to know to read the figures (what was skipped, and why).
    pub notes: Vec<String>,
}

/// How long each append run lasts and how big the logs it appends to are, per scale.
struct Plan {
    /// Each timed append run stops after this long (or when its statements run out).
    run: Duration,
    /// Statements signed per client for the append runs (enough to outlast `run`).
    per_client: usize,
    /// Log sizes for "append throughput against log size", below the full program.
    series: &'static [u64],
    /// Entries of the program loaded into PostgreSQL before its append run (None: all).
    postgres_prefix: Option<u64>,
}

fn plan(scale: Scale) -> Plan {
    match scale {
        Scale::Tiny => Plan {
            run: Duration::from_secs(3),
            per_client: 150,
            series: &[2_000, 6_000],
            postgres_prefix: None,
        },
        Scale::City => Plan {
            run: Duration::from_secs(10),
            per_client: 2_000,
            series: &[10_000, 100_000],
            postgres_prefix: Some(100_000),
        },
        Scale::Province => Plan {
            run: Duration::from_secs(15),
            per_client: 3_000,
            series: &[10_000, 100_000, 1_000_000],
            postgres_prefix: Some(1_000_000),
        },
    }
}

/// The key the benchmark's log signs its checkpoints with (derived, so every run's log is the same;
/// it protects nothing).
pub fn log_signer() -> anyhow::Result<Signer> {
    let key = bangfu_ledger::signature::SigningKey::from_bytes(&generate::sha256(&[
        b"bangfu bench log key",
    ]));
    Signer::new(generate::ORIGIN, key).map_err(|e| anyhow::anyhow!("the benchmark's origin: {e}"))
}

/// Progress on stderr: a bar per long phase (drawn only on a terminal) and a line per phase.
struct Progress {
    enabled: bool,
}

impl Progress {
    fn phase(&self, what: &str) {
        if self.enabled {
            eprintln!("▸ {what}");
        }
    }

    fn bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        self.phase(what);
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("  {bar:40} {human_pos}/{human_len} {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    }

    /// A bar that counts down a timed run.
    fn timed(&self, run: Duration, what: &str) -> (ProgressBar, tokio::task::JoinHandle<()>) {
        let bar = self.bar(run.as_secs().max(1), what);
        let ticking = bar.clone();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                ticking.inc(1);
            }
        });
        (bar, handle)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Roughly how many entries the program of `shape` has (for progress bars; the load counts them).
fn estimate(shape: &generate::Shape) -> u64 {
    let h = u64::from(shape.households);
    let c = u64::from(shape.cadres);
    let years = shape.years.max(0) as u64;
    shape.setup_len() + 2 * c + 37 * h / 10 + years * (c + 104 * h / 10)
}

/// Runs the whole benchmark.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let started_at = Timestamp::from_unix_millis(now_ms())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let progress = Progress {
        enabled: options.progress,
    };
    let scale = options.scale;
    let shape = scale.shape();
    let plan = plan(scale);
    let keys = Arc::new(Keys::new(shape));
    let mut notes = Vec::new();

    let temp;
    let work: PathBuf = match &options.keep {
        Some(dir) => {
            let busy = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
            if busy {
                anyhow::bail!(
                    "{} 不是空目录 / {} is not empty: --keep needs a new or empty folder for the benchmark's stores",
                    dir.display(),
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("bangfu-bench-")
                .tempdir()
                .context("creating a temporary folder for the benchmark's stores")?;
            temp.path().to_owned()
        }
    };

    // 1. The program, loaded at full speed into an embedded store.
    let log_dir = work.join("log");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let log_file = log_dir.join("log.sqlite");
    let backend = SqliteBackend::open(&log_file)
        .await
        .with_context(|| format!("creating {}", log_file.display()))?;
    let bar = progress.bar(
        estimate(&shape),
        &format!(
            "生成并载入 / generating the {} program into SQLite ({} households, {} cadres, {} years)",
            scale.name(),
            shape.households,
            shape.cadres,
            shape.years
        ),
    );
    let loaded = generate::load_fast(&backend, keys.clone(), None, &|n| bar.set_position(n))
        .await
        .context("生成程序失败 / generating the program")?;
    bar.finish_and_clear();
    let entries = loaded.entries;
    let signer = log_signer()?;
    sign_checkpoint(&backend, &signer, now_ms())
        .await
        .map_err(|e| anyhow::anyhow!("signing the benchmark log's checkpoint: {e}"))?;
    let load_figure = Figure {
        id: "load.per_sec".into(),
        what: format!(
            "generating, signing, deciding and writing the {} program ({entries} entries) into SQLite, batches of 1,000",
            scale.name()
        ),
        value: per_sec(entries, loaded.seconds),
        unit: "entries/s".into(),
        baseline: None,
        target: "—".into(),
        met: None,
    };

    // 2. The read side.
    progress.phase("读取侧 / the read-side figures");
    let read_options =
        read::Options::new(read::StoreAt::Data(log_dir.clone()), options.bangfu.clone());
    let read_figures = read::figures(
        &backend,
        &signer.verifier_key(),
        &work.join("children"),
        &read_options,
        &|what| progress.phase(&format!("  {what}")),
    )
    .await
    .context("读取侧指标失败 / the read-side figures")?;
    drop(backend);

    // 3. The append workload through the real intake.
    progress.phase(&format!(
        "签署追加负载 / signing the append workload ({} statements)",
        plan.per_client * shape.clients as usize
    ));
    let signing_keys = keys.clone();
    let per_client = plan.per_client;
    let workload: Arc<Workload> = Arc::new(
        tokio::task::spawn_blocking(move || {
            generate::workload(&signing_keys, per_client, now_ms())
        })
        .await
        .context("the signing task failed")??,
    );

    let sqlite_run = {
        let (bar, ticker) = progress.timed(
            plan.run,
            &format!("追加 / signed appends through the intake, SQLite, log of {entries} entries, {} clients", shape.clients),
        );
        let backend = SqliteBackend::open(&log_file).await?;
        let run = append::intake_run(backend, workload.clone(), plan.run).await;
        ticker.abort();
        bar.finish_and_clear();
        run.context("追加测试失败 / the SQLite append run")?
    };

    let mut series = Vec::new();
    for &n in plan.series.iter().filter(|&&n| n < entries) {
        let n = n.max(shape.setup_len());
        let dir = work.join(format!("log-{n}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join("log.sqlite");
        let backend = SqliteBackend::open(&file).await?;
        let bar = progress.bar(
            n,
            &format!("载入前 {n} 条 / loading the program's first {n} entries"),
        );
        generate::load_fast(&backend, keys.clone(), Some(n), &|k| bar.set_position(k)).await?;
        bar.finish_and_clear();
        let (bar, ticker) = progress.timed(
            plan.run,
            &format!("追加 / appends into a log of {n} entries"),
        );
        let run = append::intake_run(backend, workload.clone(), plan.run).await;
        ticker.abort();
        bar.finish_and_clear();
        series.push((
            n,
            run.with_context(|| format!("追加测试失败 / the append run at {n} entries"))?,
        ));
    }
    series.push((entries, sqlite_run.clone()));

    // 4. PostgreSQL: our log, then the baseline.
    let mut postgres = None;
    let mut baseline = None;
    match &options.admin_url {
        None => notes.push(
            "PostgreSQL figures and the cqrs-es baseline were skipped: no --database-url was given"
                .into(),
        ),
        Some(admin) => match postgres_runs(admin, &keys, &workload, &plan, &progress).await {
            Ok((ours, base)) => {
                postgres = Some(ours);
                baseline = Some(base);
            }
            Err(e) => notes.push(format!(
                "PostgreSQL 不可用 / the PostgreSQL figures and the cqrs-es baseline were skipped: {e:#}"
            )),
        },
    }

    let baseline_name = format!(
        "cqrs-es 0.5.0 CqrsFramework + PersistedEventStore, our Pairing aggregate, unsigned, over PostgreSQL (a postgres-es-shaped events table), {} clients",
        shape.clients
    );
    let append_figure = |backend: &str, size: u64, run: &append::Run| -> Vec<Figure> {
        let base = baseline.as_ref().map(|b: &append::Run| b.per_sec());
        let value = run.per_sec();
        let p99 = run.percentile_ms(99.0);
        vec![
            Figure {
                id: format!("append.{}.per_sec", backend.to_lowercase()),
                what: format!(
                    "signed appends/s through the intake, {backend}, {} clients, log of {size} entries",
                    shape.clients
                ),
                value,
                unit: "appends/s".into(),
                baseline: base.map(|b| (baseline_name.clone(), b)),
                target: "≥ 1.0× baseline and ≥ 5,000/s".into(),
                met: base.map(|b| value >= b && value >= 5_000.0),
            },
            Figure {
                id: format!("append.{}.p50_ms", backend.to_lowercase()),
                what: format!("append latency at that load, {backend}, p50"),
                value: run.percentile_ms(50.0),
                unit: "ms".into(),
                baseline: None,
                target: "—".into(),
                met: None,
            },
            Figure {
                id: format!("append.{}.p99_ms", backend.to_lowercase()),
                what: format!("append latency at that load, {backend}, p99"),
                value: p99,
                unit: "ms".into(),
                baseline: None,
                target: "p99 ≤ 50 ms".into(),
                met: Some(p99 <= 50.0),
            },
        ]
    };
    let mut out = append_figure("SQLite", entries, &sqlite_run);
    if let Some((size, run)) = &postgres {
        out.extend(append_figure("PostgreSQL", *size, run));
    }
    if let Some(b) = &baseline {
        notes.push(format!(
            "baseline: {} appends in {:.1} s, p50 {:.2} ms, p99 {:.2} ms. postgres-es 0.5.0 itself cannot be built here (its sqlx declares links = \"sqlite3\", as does our rusqlite, and Cargo allows one), so its event repository is rewritten over tokio-postgres with the same table and statements",
            b.appended,
            b.seconds,
            b.percentile_ms(50.0),
            b.percentile_ms(99.0)
        ));
    }
    out.extend(read_figures);
    let rates: Vec<f64> = series.iter().map(|(_, r)| r.per_sec()).collect();
    for (n, run) in &series {
        out.push(Figure {
            id: format!("append.series.{n}.per_sec"),
            what: format!(
                "signed appends/s, SQLite, {} clients, log of {n} entries",
                shape.clients
            ),
            value: run.per_sec(),
            unit: "appends/s".into(),
            baseline: None,
            target: "within ±20% of each other".into(),
            met: None,
        });
    }
    if rates.len() > 1 {
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        let spread = rates
            .iter()
            .map(|r| (r - mean).abs() / mean.max(f64::MIN_POSITIVE))
            .fold(0.0, f64::max)
            * 100.0;
        out.push(Figure {
            id: "append.series.spread_pct".into(),
            what: format!(
                "largest deviation of those rates from their mean ({} sizes)",
                rates.len()
            ),
            value: spread,
            unit: "%".into(),
            baseline: None,
            target: "≤ 20 %".into(),
            met: Some(spread <= 20.0),
        });
    }
    out.push(load_figure);
    if options.keep.is_some() {
        // The log key is derived and protects nothing; its vkey lets the kept log be verified
        // again (or profiled) with the real command.
        let vkey_file = work.join("log.vkey");
        std::fs::write(&vkey_file, format!("{}\n", log_signer()?.verifier_key()))
            .with_context(|| format!("writing {}", vkey_file.display()))?;
        notes.push(format!(
            "the embedded stores are kept in {}; verify the log again with `bangfu verify --data {} --log-vkey \"$(cat {})\"`",
            work.display(),
            log_dir.display(),
            vkey_file.display()
        ));
    }
    notes.push(
        "the loaded log's vault is empty (lawful erasure): openings travel beside statements and would only add vault rows".into(),
    );

    Ok(Report {
        scale: scale.name().into(),
        entries,
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        machine: machine(),
        commit: commit(&options.bangfu),
        command: format!("bangfu bench --scale {}", scale.name()),
        figures: out,
        notes,
    })
}

fn per_sec(n: u64, seconds: f64) -> f64 {
    n as f64 / seconds.max(1e-9)
}

/// Our PostgreSQL log (a prefix of the program) and the baseline, each in a scratch database
/// that is dropped afterwards, pass or fail. Returns ((log size, our run), the baseline's run).
async fn postgres_runs(
    admin: &str,
    keys: &Arc<Keys>,
    workload: &Arc<Workload>,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<((u64, append::Run), append::Run)> {
    let url = create_test_database(admin, "bangfu_bench_log")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ours = async {
        let backend = PgBackend::connect(&url)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let len = plan.postgres_prefix.unwrap_or(u64::MAX);
        let bar = progress.bar(
            plan.postgres_prefix
                .unwrap_or_else(|| estimate(keys.shape())),
            "载入 PostgreSQL / loading the program into PostgreSQL",
        );
        let loaded =
            generate::load_fast(&backend, keys.clone(), Some(len), &|k| bar.set_position(k))
                .await?;
        bar.finish_and_clear();
        let (bar, ticker) = progress.timed(
            plan.run,
            &format!(
                "追加 / signed appends through the intake, PostgreSQL, log of {} entries",
                loaded.entries
            ),
        );
        let run = append::intake_run(backend, workload.clone(), plan.run).await;
        ticker.abort();
        bar.finish_and_clear();
        anyhow::Ok((loaded.entries, run?, loaded.registry))
    }
    .await;
    let _ = drop_database(admin, &url).await;
    let (size, run, registry) =
        ours.context("PostgreSQL 追加测试失败 / the PostgreSQL append run")?;

    let url = create_test_database(admin, "bangfu_bench_baseline")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (bar, ticker) = progress.timed(
        plan.run,
        "基线 / the baseline: the same workload, unsigned, through cqrs-es on PostgreSQL",
    );
    let base = append::baseline_run(&url, keys.clone(), registry, workload.clone(), plan.run).await;
    ticker.abort();
    bar.finish_and_clear();
    let _ = drop_database(admin, &url).await;
    Ok((
        (size, run),
        base.context("基线测试失败 / the cqrs-es baseline run")?,
    ))
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!("{} {}", std::env::consts::OS, r.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.into());
    Machine {
        cores: generate::available_cores(),
        cpu,
        memory_mib: memory_kib / 1024,
        os,
    }
}

/// `git describe --always --dirty` of the checkout the running program was built in (its folder
/// is inside `target/`), else of the working directory; `None` outside a checkout.
fn commit(bangfu: &std::path::Path) -> Option<String> {
    let describe = |dir: Option<&std::path::Path>| {
        let mut git = std::process::Command::new("git");
        if let Some(d) = dir {
            git.arg("-C").arg(d);
        }
        let out = git
            .args(["describe", "--always", "--dirty"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let s = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !s.trim().is_empty()).then(|| s.trim().to_owned())
    };
    describe(bangfu.parent()).or_else(|| describe(None))
}

/// A number for people: thousands separated above 1,000, else two decimals.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    // Below 999.995 two decimals still round under 1,000.
    if v.abs() < 999.995 {
        return format!("{v:.2}");
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// The report as a table for people, then what each figure and baseline is, then the notes.
pub fn table(report: &Report) -> String {
    let m = &report.machine;
    let mut out = format!(
        "{} · {} entries · {} cores ({}) · {} MiB · {} · commit {} · {:.0} s\n\n",
        report.command,
        number(report.entries as f64),
        m.cores,
        m.cpu,
        m.memory_mib,
        m.os,
        report.commit.as_deref().unwrap_or("unknown"),
        report.seconds
    );
    let rows: Vec<[String; 6]> = report
        .figures
        .iter()
        .map(|f| {
            [
                f.id.clone(),
                format!("{} {}", number(f.value), f.unit),
                f.baseline
                    .as_ref()
                    .map_or_else(|| "—".into(), |(_, b)| format!("{} {}", number(*b), f.unit)),
                f.ratio().map_or_else(|| "—".into(), |r| format!("{r:.2}×")),
                f.target.clone(),
                match f.met {
                    Some(true) => "✔".into(),
                    Some(false) => "✘".into(),
                    None => "·".into(),
                },
            ]
        })
        .collect();
    let header = ["figure", "value", "baseline", "ratio", "target", "met"].map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            // Numbers right-aligned, words left.
            if (1..=3).contains(&i) && row != &header {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    for f in &report.figures {
        out.push_str(&format!("{}: {}", f.id, f.what));
        if let Some((b, _)) = &f.baseline {
            out.push_str(&format!("; baseline: {b}"));
        }
        out.push('\n');
    }
    if !report.notes.is_empty() {
        out.push('\n');
        for n in &report.notes {
            out.push_str(&format!("note: {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(id: &str, value: f64, baseline: Option<f64>, met: Option<bool>) -> Figure {
        Figure {
            id: id.into(),
            what: format!("what {id} is"),
            value,
            unit: "appends/s".into(),
            baseline: baseline.map(|b| ("the baseline".to_owned(), b)),
            target: "≥ 1.0× baseline".into(),
            met,
        }
    }

    #[test]
    fn ratios_are_value_over_baseline_and_absent_without_one() {
        assert_eq!(figure("a", 300.0, Some(200.0), None).ratio(), Some(1.5));
        assert_eq!(figure("a", 300.0, None, None).ratio(), None);
        assert_eq!(figure("a", 300.0, Some(0.0), None).ratio(), None);
    }

    #[test]
    fn numbers_read_like_the_issue_writes_them() {
        assert_eq!(number(5_000.0), "5,000");
        assert_eq!(number(1_073_791.4), "1,073,791");
        assert_eq!(number(999.999), "1,000");
        assert_eq!(number(999.99), "999.99");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(-12_345.0), "-12,345");
    }

    #[test]
    fn the_table_shows_value_baseline_ratio_target_and_verdict() {
        let report = Report {
            scale: "tiny".into(),
            entries: 21_515,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            seconds: 42.0,
            machine: Machine {
                cores: 2,
                cpu: "a CPU".into(),
                memory_mib: 1024,
                os: "linux".into(),
            },
            commit: Some("abc1234".into()),
            command: "bangfu bench --scale tiny".into(),
            figures: vec![
                figure("append.sqlite.per_sec", 6_000.0, Some(4_000.0), Some(true)),
                figure("append.sqlite.p99_ms", 60.0, None, Some(false)),
                figure("load.per_sec", 9_000.0, None, None),
            ],
            notes: vec!["a note".into()],
        };
        let t = table(&report);
        let row = |id: &str| t.lines().find(|l| l.starts_with(id)).unwrap().to_owned();
        let ok = row("append.sqlite.per_sec");
        assert!(ok.contains("6,000 appends/s"), "{ok}");
        assert!(ok.contains("4,000 appends/s"), "{ok}");
        assert!(ok.contains("1.50×") && ok.ends_with('✔'), "{ok}");
        assert!(row("append.sqlite.p99_ms").ends_with('✘'));
        assert!(row("load.per_sec").ends_with('·'));
        assert!(t.starts_with("bangfu bench --scale tiny · 21,515 entries · 2 cores (a CPU)"));
        assert!(t.contains("commit abc1234"));
        assert!(t.contains(
            "append.sqlite.per_sec: what append.sqlite.per_sec is; baseline: the baseline"
        ));
        assert!(t.contains("note: a note"));
    }
}
