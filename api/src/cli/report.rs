//! `bangfu report …`: the year's assessment table and fund statements as text, JSON, CSV or Excel,
//! stamped with what they are, the log size and the signed checkpoint they were computed from;
//! `bangfu report verify FILE` recomputes a JSON or CSV report from the ledger or a bundle and
//! confirms it, byte for byte.
//!
//! Without --at-size / --as-of a report is computed as of the latest checkpoint the log signed, so
//! its stamp is a checkpoint anyone can check; with them, as of that point, stamped with the signed
//! checkpoint of exactly that size if there is one and otherwise with the unsigned tree head.

use super::readmodels::{AtArgs, bar, views_at};
use super::store::{StoreArgs, runtime, with_store};
use anyhow::{Context, bail};
use bangfu_domain::ids::{FundId, ProgramId};
use bangfu_inspect::bundle;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::note::VerifierKey;
use bangfu_projections::table::Table;
use bangfu_projections::views::ViewStore;
use bangfu_projections::{projector, report, scores};
use bangfu_store::backend::Backend;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
    #[command(flatten)]
    at: AtArgs,
    /// Output format / 输出格式
    #[arg(long, value_enum, default_value = "text", global = true)]
    format: Format,
    /// Write to this file (required for xlsx) / 输出文件
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// The year's assessment scores of a program / 年度考核表
    Assessment {
        #[arg(long)]
        program: String,
        #[arg(long)]
        year: i64,
    },
    /// Every fund's year: opening, in, out, closing, reconciled / 年度资金报表
    Funds {
        #[arg(long)]
        year: i64,
    },
    /// One fund's trail, with every statement and signer / 资金流水
    Trail {
        #[arg(long)]
        fund: String,
        #[arg(long)]
        year: Option<i64>,
    },
    /// Recompute a JSON or CSV report from the ledger (or --bundle) and confirm it / 核验报表
    Verify {
        /// The report file, as `bangfu report … --format json|csv` wrote it / 报表文件
        file: PathBuf,
        /// Recompute from this export bundle instead of the store / 使用导出包
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// The log's verifier key to trust (else the bundle's log.vkey or ledger.json's) / 日志公钥
        #[arg(long, value_name = "VKEY")]
        log_vkey: Option<String>,
        /// The ledger's config (ledger.json) [default: <--data>/ledger.json] / 账本配置
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// The stamp keys a report is recomputed from.
const REPORT_KEY: &str = "report / 报表";
const SIZE_KEY: &str = "log size / 账本条目数";
const CHECKPOINT_KEY: &str = "checkpoint / 检查点";

impl What {
    /// The report's own arguments, as written in its stamp and parsed back by `report verify`.
    fn describe(&self) -> String {
        match self {
            What::Assessment { program, year } => {
                format!("assessment --program {program} --year {year}")
            }
            What::Funds { year } => format!("funds --year {year}"),
            What::Trail { fund, year: None } => format!("trail --fund {fund}"),
            What::Trail {
                fund,
                year: Some(y),
            } => format!("trail --fund {fund} --year {y}"),
            What::Verify { .. } => String::new(),
        }
    }

    fn parse(text: &str) -> anyhow::Result<What> {
        let words: Vec<&str> = text.split(' ').collect();
        let flag = |name: &str| -> Option<&str> {
            words
                .iter()
                .position(|w| *w == name)
                .and_then(|i| words.get(i + 1).copied())
        };
        let year = |v: Option<&str>| -> anyhow::Result<i64> {
            v.context("--year missing")?
                .parse()
                .context("--year is not a year")
        };
        let what = match words.first().copied() {
            Some("assessment") => What::Assessment {
                program: flag("--program").context("--program missing")?.into(),
                year: year(flag("--year"))?,
            },
            Some("funds") => What::Funds {
                year: year(flag("--year"))?,
            },
            Some("trail") => What::Trail {
                fund: flag("--fund").context("--fund missing")?.into(),
                year: flag("--year").map(|y| year(Some(y))).transpose()?,
            },
            _ => bail!("unknown report {text:?}"),
        };
        if what.describe() != text {
            bail!("unknown report {text:?}");
        }
        Ok(what)
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    Text,
    Json,
    Csv,
    Xlsx,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let What::Verify { .. } = args.what {
        return verify(args);
    }
    if matches!(args.format, Format::Xlsx) && args.out.is_none() {
        anyhow::bail!("--format xlsx writes a file: add --out report.xlsx");
    }
    runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, views| make(&backend, views, &args).await)
    })
}

async fn make<B: Backend, V: ViewStore>(backend: &B, live: V, args: &Args) -> anyhow::Result<()> {
    let mut at = args.at.clone();
    if at.as_of.is_none() && at.at_size.is_none() {
        match backend.latest_checkpoint().await? {
            Some(c) => at.at_size = Some(c.size),
            None => eprintln!(
                "注意 / note: the log has signed no checkpoint yet, so this report is stamped with an unsigned tree head; run `bangfu checkpoint` first for one an inspector can check"
            ),
        }
    }
    let (views, size) = views_at(backend, live, &at).await?;
    let table = compute(backend, &views, &args.what, size).await?;
    write(&table, args.format, args.out.as_ref())
}

/// The report `what` as of `size`, stamped.
async fn compute<B: Backend, V: ViewStore>(
    backend: &B,
    views: &V,
    what: &What,
    size: u64,
) -> anyhow::Result<Table> {
    let mut stamp = vec![(REPORT_KEY.to_owned(), what.describe())];
    stamp.extend(stamp_of(backend, size).await?);
    Ok(match what {
        What::Assessment { program, year } => {
            let p = ProgramId::new(program).map_err(|e| anyhow::anyhow!("--program: {e}"))?;
            let a = scores::assess(views, &p, *year).await?;
            report::assessment_table(&a, stamp)
        }
        What::Funds { year } => report::fund_statement(views, *year, stamp).await?,
        What::Trail { fund, year } => {
            let f = FundId::new(fund).map_err(|e| anyhow::anyhow!("--fund: {e}"))?;
            report::fund_trail(views, &f, *year, stamp).await?
        }
        What::Verify { .. } => bail!("`report verify` recomputes a report; it is not one"),
    })
}

/// Provenance: the log size and the checkpoint of the log the report was computed from — the
/// signed (and cosigned) note when the log signed one of that size, else the unsigned tree head
/// (origin, size, root hash, as in a C2SP checkpoint body).
async fn stamp_of<B: Backend>(backend: &B, size: u64) -> anyhow::Result<Vec<(String, String)>> {
    let checkpoint = match backend.checkpoint(size).await? {
        Some(c) => c.cosigned_note(),
        None => {
            let root = bangfu_store::log::tree_head(backend, size).await?;
            let registry = projector::registry_at(backend, size).await?;
            let origin = registry.authority.origin.clone().unwrap_or_default();
            format!("{origin}\n{size}\n{}\n", root.to_base64())
        }
    };
    Ok(vec![
        (SIZE_KEY.into(), size.to_string()),
        (CHECKPOINT_KEY.into(), checkpoint),
    ])
}

/// A report file's own account of itself: what it is and the checkpoint it names.
struct Claimed {
    what: What,
    checkpoint: String,
    /// The file as read, to compare with the recomputed report.
    bytes: Vec<u8>,
}

/// Reads the stamp of a report written with `--format json` or `--format csv`.
fn read_claim(bytes: &[u8]) -> anyhow::Result<(Claimed, bool)> {
    let text = std::str::from_utf8(bytes).context("the report is not UTF-8 text")?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(text).context("the report is not valid JSON")?;
        let field = |k: &str| v["stamp"][k].as_str().map(str::to_owned);
        let what = field(REPORT_KEY).context(
            "the report's stamp does not say which report it is (written by an older bangfu?)",
        )?;
        let checkpoint = field(CHECKPOINT_KEY).context("the report's stamp has no checkpoint")?;
        return Ok((
            Claimed {
                what: What::parse(&what)?,
                checkpoint,
                bytes: bytes.to_vec(),
            },
            true,
        ));
    }
    // CSV: stamp records are `#,<key>,<line>`; a multi-line value continues as `#,,<line>`.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let (mut what, mut key) = (None, String::new());
    let mut checkpoint: Vec<String> = Vec::new();
    for record in reader.records() {
        let record = record.context("the report is neither JSON nor bangfu's CSV")?;
        if record.get(0) != Some("#") {
            continue;
        }
        let (k, line) = (record.get(1).unwrap_or(""), record.get(2).unwrap_or(""));
        if !k.is_empty() {
            key = k.to_owned();
        }
        match key.as_str() {
            REPORT_KEY => what = Some(line.to_owned()),
            CHECKPOINT_KEY => checkpoint.push(line.to_owned()),
            _ => {}
        }
    }
    let what = what.context("the report's stamp does not say which report it is")?;
    Ok((
        Claimed {
            what: What::parse(&what)?,
            // One record per line of the value; joining them with newlines gives it back.
            checkpoint: checkpoint.join("\n"),
            bytes: bytes.to_vec(),
        },
        false,
    ))
}

fn verify(args: Args) -> anyhow::Result<()> {
    let What::Verify {
        file,
        bundle: bundle_dir,
        log_vkey,
        config,
    } = &args.what
    else {
        unreachable!("run() sends only `report verify` here")
    };
    let bytes = std::fs::read(file)
        .with_context(|| format!("无法读取 / cannot read {}", file.display()))?;
    let (claim, is_json) = read_claim(&bytes)?;
    runtime()?.block_on(async {
        let pinned = log_vkey
            .as_deref()
            .map(|v| VerifierKey::parse(v.trim()).map_err(|e| anyhow::anyhow!("--log-vkey: {e}")))
            .transpose()?;
        let outcome = match bundle_dir {
            Some(dir) => {
                let b = bundle::Bundle::open(dir)?;
                let bar = bar(b.count_entries()?, "载入导出包 / loading the bundle");
                let loaded = bundle::load(dir, &mut |done, _| bar.set_position(done)).await?;
                bar.finish_and_clear();
                let vkey = pinned.unwrap_or_else(|| loaded.bundle.log_vkey.clone());
                recompute(&loaded.backend, &vkey, &claim, is_json).await?
            }
            None => {
                let vkey = match pinned {
                    Some(k) => k,
                    None => {
                        let (_, c) = args.store.ledger_config(config.as_deref())?;
                        VerifierKey::parse(&c.log_vkey)
                            .map_err(|e| anyhow::anyhow!("ledger.json's log_vkey: {e}"))?
                    }
                };
                let store = args.store.open_existing().await?;
                with_store!(store, |backend, _views| recompute(&backend, &vkey, &claim, is_json)
                    .await?)
            }
        };
        match outcome {
            Ok(size) => {
                println!(
                    "✔ 报表核验通过 / the report is exactly what the ledger gives: {} as of the signed checkpoint of size {size}",
                    claim.what.describe()
                );
                Ok(())
            }
            Err(why) => {
                println!("✘ 报表与账本不符 / the report does NOT match the ledger: {why}");
                std::process::exit(1);
            }
        }
    })
}

/// Recomputes the claimed report as of its checkpoint; `Ok(Err(why))` when it differs.
async fn recompute<B: Backend>(
    backend: &B,
    vkey: &VerifierKey,
    claim: &Claimed,
    is_json: bool,
) -> anyhow::Result<Result<u64, String>> {
    let (checkpoint, _) = match Checkpoint::open(claim.checkpoint.as_bytes(), vkey) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Err(format!(
                "its checkpoint is not signed by the log key {vkey}: {e}"
            )));
        }
    };
    if checkpoint.size > backend.size().await? {
        return Ok(Err(format!(
            "its checkpoint is of size {}, but the ledger holds fewer entries",
            checkpoint.size
        )));
    }
    let root = bangfu_store::log::tree_head(backend, checkpoint.size).await?;
    if root != checkpoint.root {
        return Ok(Err(format!(
            "the ledger's first {} entries hash to {root}, not to the root {} its checkpoint signed; run `bangfu verify`",
            checkpoint.size, checkpoint.root
        )));
    }
    let views = projector::as_of(backend, checkpoint.size).await?;
    let table = compute(backend, &views, &claim.what, checkpoint.size).await?;
    if is_json {
        let file: serde_json::Value = serde_json::from_slice(&claim.bytes)?;
        let ours = table.to_json();
        if file != ours {
            return Ok(Err(first_difference(&file, &ours)));
        }
    } else if claim.bytes != table.to_csv().as_bytes() {
        let ours = table.to_csv();
        let theirs = String::from_utf8_lossy(&claim.bytes);
        let line = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or_else(|| ours.lines().count().min(theirs.lines().count()) + 1);
        return Ok(Err(format!(
            "line {line} of the CSV differs from the recomputed report"
        )));
    }
    Ok(Ok(checkpoint.size))
}

/// Where a JSON report and the recomputed one first differ, for people.
fn first_difference(file: &serde_json::Value, ours: &serde_json::Value) -> String {
    if file["title"] != ours["title"] || file["stamp"] != ours["stamp"] {
        return "its title or stamp differs from the recomputed report's".into();
    }
    let (a, b) = (
        file["rows"].as_array().cloned().unwrap_or_default(),
        ours["rows"].as_array().cloned().unwrap_or_default(),
    );
    match a.iter().zip(&b).position(|(x, y)| x != y) {
        Some(i) => format!(
            "row {} differs: the file says {}, the ledger gives {}",
            i + 1,
            a[i],
            b[i]
        ),
        None if a.len() != b.len() => format!(
            "the file has {} rows, the ledger gives {}",
            a.len(),
            b.len()
        ),
        None => "its columns differ from the recomputed report's".into(),
    }
}

fn write(table: &Table, format: Format, out: Option<&PathBuf>) -> anyhow::Result<()> {
    let text = match format {
        Format::Xlsx => {
            let path = out.context("--out is required for xlsx")?;
            table
                .write_xlsx(path)
                .map_err(|e| anyhow::anyhow!("writing {}: {e:?}", path.display()))?;
            eprintln!("已写入 / written: {}", path.display());
            return Ok(());
        }
        Format::Text => table.to_text(),
        Format::Json => serde_json::to_string_pretty(&table.to_json())? + "\n",
        Format::Csv => table.to_csv(),
    };
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("已写入 / written: {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
