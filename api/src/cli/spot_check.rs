//! `bangfu spot-check`: the verifiable spot-check draw (docs/spot-checks.md). `draw` derives a
//! campaign's sample from a checkpoint the log signed after the year closed and records it;
//! `verify` recomputes a recorded draw and compares; `sample` draws from a bundle (or store) and a
//! checkpoint alone, recording nothing.

use super::init::now;
use super::readmodels::bar;
use super::store::{StoreArgs, runtime, with_store};
use super::submit::{self, EXIT_REFUSED, Outcome};
use super::verify::cannot_verify;
use anyhow::{Context, bail};
use bangfu_api::keyfile;
use bangfu_domain::ids::{CampaignId, ProgramId};
use bangfu_inspect::bundle::{self, LoadedBundle};
use bangfu_inspect::draw::{self, Draw, DrawCheck, DrawError, Mismatch};
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::jcs;
use bangfu_ledger::note::{Note, VerifierKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_store::backend::{Backend, StoredCheckpoint};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The exit status when a recorded draw does not match its recomputation.
pub const EXIT_MISMATCH: i32 = 1;

/// The longest checkpoint note a draw records (the domain's limit).
const MAX_RECORDED_NOTE: usize = 8192;

const AFTER_HELP: &str = "\
The sample of a program's year is derived from a checkpoint the log signed after the year closed
(its last entry recorded on or after 1 January of the next year, China time): every household
paired in the program during the year is ranked by SHA-256(root || household id), and the first
ceil(eligible × rate / 1000) are the sample. Anyone with the log or its export bundle recomputes
it; see docs/spot-checks.md.

  bangfu spot-check draw   --program P --year Y --campaign ID --key FILE   draw and record
  bangfu spot-check verify --campaign ID [--bundle DIR]                    recompute a recorded draw
  bangfu spot-check sample --program P --year Y --bundle DIR [--checkpoint FILE]   draw, record nothing

Exit status of verify: 0 the recorded draw is the one its checkpoint gives; 1 it is not (the
difference is printed); 2 it could not be checked. draw exits 2 when the ledger refuses the record.

可验证抽查：以年度结束后签署的检查点为种子，对该年度结对的每户计算 SHA-256(根 || 户编号) 排序，
取前 ceil(户数 × 比例 / 1000) 户。任何持有账本或导出包的人都能重新算出同一样本。";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Draw a campaign's sample from a signed checkpoint and record it / 抽样并记录
    Draw(DrawArgs),
    /// Recompute a campaign's recorded draw and compare / 核验已记录的抽样
    Verify(VerifyArgs),
    /// Draw from a bundle (or store) and a checkpoint alone; records nothing / 仅计算样本
    Sample(SampleArgs),
}

/// How the log's verifier key is found.
#[derive(clap::Args, Debug)]
struct Trust {
    /// The log's verifier key to trust [default: ledger.json's, or the bundle's] / 信任的日志公钥
    #[arg(long, value_name = "VKEY")]
    log_vkey: Option<String>,
    /// The ledger's config (ledger.json) [default: <--data>/ledger.json] / 账本配置
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct DrawArgs {
    /// The program, e.g. qinghe2016 / 帮扶项目
    #[arg(long, value_name = "ID")]
    program: String,
    /// The year inspected, e.g. 2016 / 抽查年度
    #[arg(long)]
    year: i64,
    /// The campaign, opened with open_campaign on spot_check/<ID> / 抽查活动编号
    #[arg(long, value_name = "ID")]
    campaign: String,
    /// The inspector's key file, which signs record_draw / 督查人员密钥文件
    #[arg(long, value_name = "FILE", required_unless_present = "dry_run")]
    key: Option<PathBuf>,
    /// Draw from the stored checkpoint of this size [default: the latest] / 使用指定大小的检查点
    #[arg(long, value_name = "SIZE")]
    checkpoint: Option<u64>,
    /// Compute and print the sample, record nothing / 只计算不记录
    #[arg(long)]
    dry_run: bool,
    /// Send record_draw to the service at URL instead of the local store / 发往服务
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: Trust,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    /// The campaign whose recorded draw is checked / 抽查活动编号
    #[arg(long, value_name = "ID")]
    campaign: String,
    /// Check against an export bundle folder instead of a store / 使用导出包
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: Trust,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args, Debug)]
struct SampleArgs {
    /// The program / 帮扶项目
    #[arg(long, value_name = "ID")]
    program: String,
    /// The year / 年度
    #[arg(long)]
    year: i64,
    /// An export bundle folder [default: the store of --data / --database-url] / 导出包目录
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// A signed checkpoint note [default: the bundle's checkpoint, or the store's latest] / 检查点文件
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: Trust,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Sub::Draw(a) => run_draw(a),
        Sub::Verify(a) => run_verify(a),
        Sub::Sample(a) => run_sample(a),
    }
}

fn program_id(s: &str) -> anyhow::Result<ProgramId> {
    ProgramId::new(s.trim()).map_err(|e| anyhow::anyhow!("--program: {e}"))
}

fn campaign_id(s: &str) -> anyhow::Result<CampaignId> {
    CampaignId::new(s.trim()).map_err(|e| anyhow::anyhow!("--campaign: {e}"))
}

fn parse_vkey(v: &str) -> anyhow::Result<VerifierKey> {
    VerifierKey::parse(v.trim()).map_err(|e| {
        anyhow::anyhow!("--log-vkey is not a log verifier key (<origin>+<hex id>+<base64>): {e}")
    })
}

/// The log key of a store: --log-vkey, else the one in ledger.json.
fn store_vkey(trust: &Trust, store: &StoreArgs) -> anyhow::Result<VerifierKey> {
    if let Some(v) = &trust.log_vkey {
        return parse_vkey(v);
    }
    let (path, config) = store.ledger_config(trust.config.as_deref())?;
    VerifierKey::parse(&config.log_vkey)
        .map_err(|e| anyhow::anyhow!("{}: its log_vkey: {e}", path.display()))
}

/// Loads a bundle, checking its log key against --log-vkey when one is pinned.
async fn load_bundle(dir: &Path, trust: &Trust) -> anyhow::Result<(LoadedBundle, VerifierKey)> {
    let pinned = trust.log_vkey.as_deref().map(parse_vkey).transpose()?;
    let total = bundle::Bundle::open(dir)?.count_entries()?;
    let bar = bar(total, "载入 / loading");
    let loaded = bundle::load(dir, &mut |done, _| bar.set_position(done)).await;
    bar.finish_and_clear();
    let loaded = loaded?;
    let vkey = loaded.bundle.log_vkey.clone();
    if let Some(pinned) = pinned
        && pinned != vkey
    {
        bail!(
            "导出包的日志公钥不是您信任的那把 / the bundle's log.vkey ({vkey}) is not the log key you trust ({pinned})"
        );
    }
    Ok((loaded, vkey))
}

/// The checkpoint to draw from: the stored one of `size`, or the latest.
async fn stored_checkpoint<B: Backend>(
    backend: &B,
    size: Option<u64>,
) -> anyhow::Result<StoredCheckpoint> {
    let found = match size {
        Some(s) => backend.checkpoint(s).await?,
        None => backend.latest_checkpoint().await?,
    };
    match (found, size) {
        (Some(c), _) => Ok(c),
        (None, Some(s)) => bail!(
            "没有大小为 {s} 的已签检查点 / the log signed no checkpoint of size {s}: leave out --checkpoint to use the latest, or sign one now with `bangfu checkpoint`"
        ),
        (None, None) => bail!(
            "尚无已签检查点 / the log has no signed checkpoint yet: run `bangfu checkpoint` (after the year has closed), then draw"
        ),
    }
}

/// What a draw records: the cosigned note when witnesses have cosigned (stronger evidence), as
/// long as it fits what `record_draw` accepts.
fn note_to_record(c: &StoredCheckpoint) -> String {
    let cosigned = c.cosigned_note();
    if cosigned.len() <= MAX_RECORDED_NOTE {
        cosigned
    } else {
        c.note.clone()
    }
}

fn run_draw(args: DrawArgs) -> anyhow::Result<()> {
    let program = program_id(&args.program)?;
    let campaign = campaign_id(&args.campaign)?;
    let vkey = store_vkey(&args.trust, &args.store)?;
    let key = args.key.as_deref().map(keyfile::read).transpose()?;
    if let Some(url) = &args.to
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!(
            "--to {url}: 须为 http:// 或 https:// 地址 / give the service's address as http://HOST:PORT or https://HOST"
        );
    }
    let rt = runtime()?;
    let (drawn, outcome) = rt.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, _views| {
            let drawn = draw_for_campaign(
                &backend,
                &vkey,
                &program,
                args.year,
                &campaign,
                args.checkpoint,
            )
            .await?;
            let outcome = match (&key, args.dry_run) {
                (Some(key), false) => {
                    let statement = record_draw_statement(key, &campaign, &drawn)?;
                    let id = statement.body.id.to_string();
                    let signed_at = statement.body.signed_at.to_string();
                    let bytes =
                        jcs::to_vec(&statement.to_json()).context("encoding record_draw")?;
                    let outcome = match &args.to {
                        // ureq blocks: keep it off the runtime's threads.
                        Some(url) => {
                            let url = url.clone();
                            tokio::task::spawn_blocking(move || {
                                submit::send(&url, &bytes, &id, &signed_at)
                            })
                            .await
                            .context("sending record_draw")??
                        }
                        None => submit::append(backend, &bytes).await?,
                    };
                    Some((statement.body.id.to_string(), outcome))
                }
                _ => None,
            };
            Ok::<_, anyhow::Error>((drawn, outcome))
        })
    })?;
    print_draw(&drawn, Some(&campaign), outcome.as_ref(), args.json);
    if let Some((_, Outcome::Refused { .. })) = outcome {
        let _ = std::io::stdout().flush();
        std::process::exit(EXIT_REFUSED);
    }
    Ok(())
}

/// The draw for an open, undrawn campaign of this program and year, from a stored checkpoint.
async fn draw_for_campaign<B: Backend>(
    backend: &B,
    vkey: &VerifierKey,
    program: &ProgramId,
    year: i64,
    campaign: &CampaignId,
    size: Option<u64>,
) -> anyhow::Result<Draw> {
    let c = draw::campaign(backend, campaign).await?;
    if &c.program != program || c.year != year {
        bail!(
            "抽查活动 {campaign} 针对的是 {} 的 {} 年度 / campaign {campaign} was opened for program {} and year {}, not --program {program} --year {year}",
            c.program,
            c.year,
            c.program,
            c.year
        );
    }
    if let Some(d) = &c.draw {
        bail!(
            "抽查活动 {campaign} 已于第 {} 条记录抽样 / campaign {campaign} was drawn already (entry {}); check it with `bangfu spot-check verify --campaign {campaign}`",
            d.index,
            d.index
        );
    }
    let checkpoint = stored_checkpoint(backend, size).await?;
    Ok(draw::draw(backend, vkey, program, year, &note_to_record(&checkpoint)).await?)
}

/// `record_draw` on `spot_check/<campaign>`, signed by the inspector now.
fn record_draw_statement(
    key: &keyfile::KeyFile,
    campaign: &CampaignId,
    drawn: &Draw,
) -> anyhow::Result<Statement> {
    let mut id = [0u8; 16];
    getrandom::getrandom(&mut id)
        .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes: {e}"))?;
    let args = json!({"checkpoint": drawn.checkpoint.note, "sample": drawn.households()});
    let body = Body {
        id: StatementId::from_random_bytes(id),
        command: CommandName::parse("record_draw").map_err(|e| anyhow::anyhow!("{e}"))?,
        target: Target::new("spot_check", campaign.as_str()).map_err(|e| anyhow::anyhow!("{e}"))?,
        args: args.as_object().cloned().unwrap_or_default(),
        signed_at: now()?,
        key: key.public_key(),
    };
    Statement::sign(body, &key.key).map_err(|e| anyhow::anyhow!("signing record_draw: {e}"))
}

fn print_draw(
    drawn: &Draw,
    campaign: Option<&CampaignId>,
    outcome: Option<&(String, Outcome)>,
    as_json: bool,
) {
    if as_json {
        let mut out = json!({"draw": drawn.to_json()});
        if let Some(c) = campaign {
            out["campaign"] = json!(c);
            out["recorded"] = match outcome {
                None => json!(null),
                Some((id, Outcome::Accepted(a))) => json!({
                    "id": id, "index": a.index, "leaf": a.leaf,
                    "recorded_at": a.recorded_at, "replayed": a.replayed,
                }),
                Some((id, Outcome::Refused { code, message })) => {
                    json!({"id": id, "refused": true, "code": code, "message": message})
                }
            };
        }
        println!("{out}");
        return;
    }
    let c = &drawn.checkpoint;
    println!(
        "抽查样本 / spot-check sample: program {}, year {}{}",
        drawn.program,
        drawn.year,
        campaign
            .map(|c| format!(", campaign {c}"))
            .unwrap_or_default()
    );
    println!(
        "  checkpoint / 检查点:  {} size {}, root {}",
        c.origin, c.size, c.root
    );
    println!(
        "  signed after / 签于:  entry {} recorded {} (after {} closed)",
        c.size - 1,
        c.last_recorded_at,
        drawn.year
    );
    println!(
        "  rate / 比例:          {}‰ of {} eligible households → {}",
        drawn.per_mille,
        drawn.eligible,
        drawn.sample.len()
    );
    println!("  户 / households, in rank order (rank = SHA-256(root || household id)):");
    println!("  {:>4}  {:<24}  rank", "#", "household");
    for (k, d) in drawn.sample.iter().enumerate() {
        println!(
            "  {:>4}  {:<24}  {}",
            k + 1,
            d.household.as_str(),
            d.rank.to_hex()
        );
    }
    match outcome {
        None if campaign.is_some() => {
            println!("未记录（--dry-run）/ not recorded (--dry-run)");
        }
        None => {}
        Some((id, Outcome::Accepted(a))) => {
            if a.replayed {
                println!("此前已记录 / already in the log");
            } else {
                println!("已记录 / Recorded");
            }
            println!(
                "  statement {id}: entry {}, recorded at {}",
                a.index, a.recorded_at
            );
        }
        Some((_, Outcome::Refused { code, message })) => {
            eprintln!("被拒绝 / refused [{code}]: {message}");
            eprintln!("账本未改变 / the ledger is unchanged.");
        }
    }
}

fn run_verify(args: VerifyArgs) -> anyhow::Result<()> {
    let json = args.json;
    let result = (|| -> anyhow::Result<DrawCheck> {
        let campaign = campaign_id(&args.campaign)?;
        let rt = runtime()?;
        match &args.bundle {
            Some(dir) => rt.block_on(async {
                let (loaded, vkey) = load_bundle(dir, &args.trust).await?;
                Ok(draw::verify_draw(&loaded.backend, &vkey, &campaign).await?)
            }),
            None => {
                let vkey = store_vkey(&args.trust, &args.store)?;
                rt.block_on(async {
                    let store = args.store.open_existing().await?;
                    with_store!(store, |backend, _views| {
                        Ok(draw::verify_draw(&backend, &vkey, &campaign).await?)
                    })
                })
            }
        }
    })();
    let check = result.unwrap_or_else(|e| cannot_verify(e, json));
    print_check(&check, json);
    if !check.matches() {
        let _ = std::io::stdout().flush();
        std::process::exit(EXIT_MISMATCH);
    }
    Ok(())
}

fn print_check(check: &DrawCheck, as_json: bool) {
    let r = &check.recorded;
    let size = Note::parse(r.checkpoint.as_bytes())
        .ok()
        .and_then(|n| Checkpoint::parse(&n.text).ok())
        .map(|c| c.size);
    if as_json {
        let mut out = json!({
            "ok": check.matches(),
            "campaign": r.campaign,
            "program": r.program,
            "year": r.year,
            "index": r.index,
            "checkpoint_size": size,
            "recorded": r.sample,
        });
        match &check.outcome {
            Ok(d) => out["draw"] = d.to_json(),
            Err(m) => {
                out["reason"] = json!(m.to_string());
                match m {
                    Mismatch::Sample {
                        expected,
                        missing,
                        extra,
                    } => {
                        out["expected"] = json!(expected);
                        out["missing"] = json!(missing);
                        out["extra"] = json!(extra);
                    }
                    Mismatch::Order { expected } => out["expected"] = json!(expected),
                    Mismatch::Checkpoint(_) => {}
                }
            }
        }
        println!("{out}");
        return;
    }
    match &check.outcome {
        Ok(d) => {
            println!(
                "✔ 抽样核验通过 / the draw of campaign {} verifies: its {} households are the sample of checkpoint size {} (root {})",
                r.campaign,
                d.sample.len(),
                d.checkpoint.size,
                d.checkpoint.root
            );
            println!(
                "  program {} year {}: {}‰ of {} eligible; recorded at entry {}",
                r.program, r.year, d.per_mille, d.eligible, r.index
            );
        }
        Err(m) => {
            println!(
                "✘ 抽样核验失败 / the draw of campaign {} recorded at entry {} does NOT verify",
                r.campaign, r.index
            );
            println!("  {m}");
        }
    }
}

fn run_sample(args: SampleArgs) -> anyhow::Result<()> {
    let program = program_id(&args.program)?;
    let given = match &args.checkpoint {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            anyhow::anyhow!(
                "无法读取 {} / cannot read {}: {e}",
                p.display(),
                p.display()
            )
        })?),
        None => None,
    };
    let rt = runtime()?;
    let drawn: Result<Draw, DrawError> = match &args.bundle {
        Some(dir) => rt.block_on(async {
            let (loaded, vkey) = load_bundle(dir, &args.trust).await?;
            let note = match given {
                Some(n) => n,
                None => loaded
                    .bundle
                    .checkpoint
                    .format()
                    .map_err(|e| anyhow::anyhow!("the bundle's checkpoint: {e}"))?,
            };
            Ok::<_, anyhow::Error>(
                draw::draw(&loaded.backend, &vkey, &program, args.year, &note).await,
            )
        })?,
        None => {
            let vkey = store_vkey(&args.trust, &args.store)?;
            rt.block_on(async {
                let store = args.store.open_existing().await?;
                with_store!(store, |backend, _views| {
                    let note = match given {
                        Some(n) => n,
                        None => note_to_record(&stored_checkpoint(&backend, None).await?),
                    };
                    Ok::<_, anyhow::Error>(
                        draw::draw(&backend, &vkey, &program, args.year, &note).await,
                    )
                })
            })?
        }
    };
    let drawn = drawn?;
    print_draw(&drawn, None, None, args.json);
    Ok(())
}
