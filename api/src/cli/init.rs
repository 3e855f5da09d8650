//! `bangfu init`: a new log — the authority's genesis (entry 0), the log key and the origin.
//!
//! The genesis goes through the same intake as every other statement, so entry 0 is checked
//! exactly like the rest. What the service later needs to sign checkpoints (origin, log vkey and
//! where the log key file is) is kept in `ledger.json` (see `keyfile::LedgerConfig`).

use super::store::{LOG_FILE, READ_MODELS_FILE, StoreArgs, runtime, with_store};
use anyhow::{Context, bail};
use bangfu_api::intake::{Accepted, Intake, Window};
use bangfu_api::keyfile::{self, KeyFile, LEDGER_CONFIG_FILE, LEDGER_CONFIG_FORMAT, LedgerConfig};
use bangfu_domain::command::Holder;
use bangfu_domain::role::Role;
use bangfu_ledger::jcs;
use bangfu_ledger::note::{self, Signer};
use bangfu_ledger::statement::{
    Body, CommandName, Statement, StatementId, Target, is_aggregate_id,
};
use bangfu_ledger::time::Timestamp;
use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Printed after the options by `bangfu init --help` (the one-line summary is in `cli/mod.rs`).
const AFTER_HELP: &str = "\
Keys: either --new-keys DIR (writes DIR/authority.key and DIR/log.key, readable by you only) or
both --authority-key FILE and --log-key FILE from `bangfu keygen`. No secret is ever printed.

Where the log's setup is kept: ledger.json (format bangfu-ledger-config-v1: origin, name,
authority target and public key, the log's verifier key and the absolute path of the log key
file; no secret) is written to --config FILE, by default <--data>/ledger.json for the embedded
store. With PostgreSQL (--database-url) it is written only when --config is given; otherwise the
values to configure are printed. The service reads it to sign checkpoints with the log key.

密钥：--new-keys DIR 生成机关密钥与日志密钥（仅本人可读），或用 --authority-key 与 --log-key
指定 `bangfu keygen` 生成的文件；任何时候都不打印私钥。日志标识、日志验证密钥与日志密钥文件的位置
写入 ledger.json（默认在 --data 目录；使用 PostgreSQL 时仅在给出 --config 时写入）。";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The log's origin, named in every checkpoint: no spaces, no '+', e.g. bangfu.example/district / 日志标识
    #[arg(long)]
    origin: String,
    /// The authority's name, e.g. "清河区委组织部" / 主管机关名称
    #[arg(long)]
    name: String,
    /// Who holds the authority key: person/<id> / 机关密钥持有人
    #[arg(long, value_name = "person/ID")]
    holder: String,
    /// The authority's id in the genesis target authority/<id> [default: the last part of the origin] / 机关编号
    #[arg(long, value_name = "ID")]
    authority_id: Option<String>,
    /// Roles of the authority key, comma-separated; must include coordinator / 机关密钥的角色
    #[arg(long, value_delimiter = ',', default_value = "coordinator")]
    roles: Vec<String>,
    /// The authority's key file (from `bangfu keygen`) / 机关密钥文件
    #[arg(long, value_name = "FILE", conflicts_with = "new_keys")]
    authority_key: Option<PathBuf>,
    /// The log's key file, which signs checkpoints; not the authority key / 日志密钥文件
    #[arg(long, value_name = "FILE", conflicts_with = "new_keys")]
    log_key: Option<PathBuf>,
    /// Generate both keys into DIR (authority.key, log.key; owner-only) / 生成新密钥到目录
    #[arg(long, value_name = "DIR")]
    new_keys: Option<PathBuf>,
    /// Where to write ledger.json [default: <--data>/ledger.json; with --database-url, not written unless given] / 配置文件路径
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Replace an existing embedded ledger in --data (deletes it; never a PostgreSQL one) / 覆盖已有本地账本
    #[arg(long)]
    force: bool,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Everything checked before anything is written, so a mistake leaves no half-made ledger.
struct Plan {
    origin: String,
    name: String,
    holder: Holder,
    roles: Vec<String>,
    target: Target,
    config: Option<PathBuf>,
}

enum Keys {
    Files {
        authority: Box<KeyFile>,
        log: Box<KeyFile>,
    },
    New(PathBuf),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (plan, keys) = plan(&args)?;
    // The ledger first: `create_new` refuses an existing one before any key file is written.
    let rt = runtime()?;
    let store = rt.block_on(args.store.create_new(args.force))?;
    let new_keys = matches!(keys, Keys::New(_));
    let (authority, log) = match make_keys(keys) {
        Ok(k) => k,
        Err(e) => {
            drop(store);
            remove_embedded(&args.store);
            return Err(e);
        }
    };
    let appended = Signer::new(&plan.origin, log.key.clone())
        .map_err(|e| anyhow::anyhow!("--origin {:?}: {e}", plan.origin))
        .and_then(|signer| {
            let statement = genesis(&plan, &authority)?;
            let bytes = jcs::to_vec(&statement.to_json()).context("encoding the genesis")?;
            let accepted = rt.block_on(async {
                with_store!(store, |backend, _views| append(backend, &bytes).await)
            })?;
            Ok((signer, accepted))
        });
    let (signer, accepted) = match appended {
        Ok(a) => a,
        Err(e) => {
            // An empty log.sqlite would make the next `bangfu init` demand --force for nothing,
            // and keys that signed nothing kept are of no use: remove both so the same command
            // can be run again once the cause is fixed.
            remove_embedded(&args.store);
            if new_keys {
                let _ = std::fs::remove_file(&authority.path);
                let _ = std::fs::remove_file(&log.path);
            }
            return Err(e);
        }
    };

    let config = LedgerConfig {
        format: LEDGER_CONFIG_FORMAT.into(),
        origin: plan.origin.clone(),
        name: plan.name.clone(),
        authority: plan.target.to_string(),
        authority_key: authority.public_key().to_base64(),
        log_vkey: signer.verifier_key().to_string(),
        log_key_file: absolute(&log.path),
    };
    if let Some(path) = &plan.config {
        let written = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
            }
            None => Ok(()),
        }
        .and_then(|()| config.write(path));
        if let Err(e) = written {
            // The ledger exists now; say what the file would have held so it can be written by hand.
            bail!(
                "账本已建立，但配置未写入 / the ledger was created but its config was not written: {e:#}; write this to {} yourself:\n{}",
                path.display(),
                serde_json::to_string_pretty(&config).unwrap_or_default()
            );
        }
    }
    let log_public = log.public_key().to_base64();
    print(
        &args,
        &plan,
        &config,
        &accepted,
        &authority.path,
        &log_public,
    );
    Ok(())
}

fn plan(args: &Args) -> anyhow::Result<(Plan, Keys)> {
    let origin = args.origin.as_str();
    if origin.is_empty() || origin.len() > 128 || !note::is_valid_key_name(origin) {
        bail!(
            "--origin {origin:?}: 日志标识须为 1–128 字节，不含空格和“+” / the origin must be 1–128 bytes with no spaces and no '+' (it names every checkpoint), e.g. bangfu.example/district"
        );
    }
    let n = args.name.chars().count();
    if n == 0 || n > 100 {
        bail!("--name: 名称须为 1–100 个字符 / the authority's name must be 1–100 characters");
    }
    let holder =
        Holder::try_from(args.holder.clone()).map_err(|e| anyhow::anyhow!("--holder: {e}"))?;
    // Cadres and households must be registered first, which cannot happen before the genesis.
    if !matches!(holder, Holder::Person(_)) {
        bail!(
            "--holder {}: 创世时机关密钥只能由 person/<id> 持有 / at the genesis the authority key's holder must be person/<id> (no cadre or household is registered yet)",
            args.holder
        );
    }
    let mut roles = Vec::new();
    for r in &args.roles {
        let role: Role = serde_json::from_value(json!(r.trim())).map_err(|_| {
            let all: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            anyhow::anyhow!(
                "--roles: 未知角色 {r:?} / unknown role {r:?}; roles are {}",
                all.join(", ")
            )
        })?;
        roles.push(role.name().to_owned());
    }
    roles.sort();
    roles.dedup();
    // The domain gives these only to registered cadres and households; a person cannot hold them.
    if let Some(r) = roles
        .iter()
        .find(|r| *r == Role::Cadre.name() || *r == Role::Household.name())
    {
        bail!(
            "--roles: {r} 角色只能登记给干部或户 / the {r} role belongs to a registered cadre or household, not to the authority's person/<id>"
        );
    }
    if !roles.iter().any(|r| r == Role::Coordinator.name()) {
        bail!(
            "--roles: 机关密钥必须含 coordinator 角色 / the authority key must hold the coordinator role, or nobody could register keys"
        );
    }
    let id = match &args.authority_id {
        Some(id) => id.clone(),
        None => origin.rsplit('/').next().unwrap_or(origin).to_owned(),
    };
    if !is_aggregate_id(&id) {
        bail!(
            "机关编号 {id:?} 不可用 / {id:?} cannot be the authority's id (1–128 of A-Z a-z 0-9 . _ : -); pass --authority-id ID"
        );
    }
    let target = Target::new("authority", &id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys = match (&args.new_keys, &args.authority_key, &args.log_key) {
        (Some(dir), None, None) => {
            for f in ["authority.key", "log.key"] {
                let p = dir.join(f);
                if p.exists() {
                    bail!(
                        "{} 已存在 / {} already exists; bangfu never overwrites a key: choose another --new-keys DIR",
                        p.display(),
                        p.display()
                    );
                }
            }
            Keys::New(dir.clone())
        }
        (None, Some(a), Some(l)) => {
            let authority = keyfile::read(a)?;
            let log = keyfile::read(l)?;
            if authority.public_key() == log.public_key() {
                bail!(
                    "--log-key 与 --authority-key 是同一把密钥 / the log key must not be the authority key: make one with `bangfu keygen`"
                );
            }
            Keys::Files {
                authority: Box::new(authority),
                log: Box::new(log),
            }
        }
        _ => bail!(
            "需要密钥 / give either --new-keys DIR (generates both keys) or both --authority-key FILE and --log-key FILE"
        ),
    };
    let config = match &args.config {
        Some(p) => Some(p.clone()),
        None if args.store.database_url.is_none() => Some(args.store.data.join(LEDGER_CONFIG_FILE)),
        None => None,
    };
    let plan = Plan {
        origin: origin.to_owned(),
        name: args.name.clone(),
        holder,
        roles,
        target,
        config,
    };
    Ok((plan, keys))
}

/// The authority and log keys: read, or generated and written.
fn make_keys(keys: Keys) -> anyhow::Result<(KeyFile, KeyFile)> {
    match keys {
        Keys::Files { authority, log } => Ok((*authority, *log)),
        Keys::New(dir) => {
            create_private_dir(&dir)?;
            let new = |name: &str| -> anyhow::Result<KeyFile> {
                let path = dir.join(format!("{name}.key"));
                let key = keyfile::generate()?;
                keyfile::write(&path, name, &key)?;
                Ok(KeyFile {
                    path: absolute(&path),
                    name: name.into(),
                    key,
                })
            };
            let authority = new("authority")?;
            let log = new("log").inspect_err(|_| {
                let _ = std::fs::remove_file(&authority.path);
            })?;
            Ok((authority, log))
        }
    }
}

/// A folder for keys: created owner-only, since it will hold secrets.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

fn genesis(plan: &Plan, authority: &KeyFile) -> anyhow::Result<Statement> {
    let mut id = [0u8; 16];
    getrandom::getrandom(&mut id)
        .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes: {e}"))?;
    let args = json!({
        "origin": plan.origin,
        "name": plan.name,
        "holder": plan.holder.to_string(),
        "roles": plan.roles,
    });
    let body = Body {
        id: StatementId::from_random_bytes(id),
        command: CommandName::parse("genesis").map_err(|e| anyhow::anyhow!("{e}"))?,
        target: plan.target.clone(),
        args: args.as_object().cloned().unwrap_or_default(),
        signed_at: now()?,
        key: authority.public_key(),
    };
    Statement::sign(body, &authority.key).map_err(|e| anyhow::anyhow!("signing the genesis: {e}"))
}

pub(super) fn now() -> anyhow::Result<Timestamp> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_unix_millis(ms)
        .ok_or_else(|| anyhow::anyhow!("the system clock is outside years 0001–9999"))
}

pub(super) fn system_clock() -> bangfu_api::intake::Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

async fn append<B: Backend>(backend: B, bytes: &[u8]) -> anyhow::Result<Accepted> {
    let log = Log::open(backend)
        .await
        .context("打开账本失败 / could not open the ledger")?;
    let intake = Intake::new(log, system_clock(), Window::default());
    let result = intake.submit(bytes).await;
    intake.close().await;
    result.map_err(|r| {
        anyhow::anyhow!(
            "创世条目被拒绝 / the genesis was refused [{}]: {r}",
            r.code()
        )
    })
}

/// Removes the embedded ledger files `create_new` just made (never a PostgreSQL database).
fn remove_embedded(store: &StoreArgs) {
    if store.database_url.is_some() {
        return;
    }
    for f in [LOG_FILE, READ_MODELS_FILE] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(store.data.join(format!("{f}{suffix}")));
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_owned())
}

fn print(
    args: &Args,
    plan: &Plan,
    config: &LedgerConfig,
    accepted: &Accepted,
    authority_file: &Path,
    log_public: &str,
) {
    if args.json {
        println!(
            "{}",
            json!({
                "origin": config.origin,
                "name": config.name,
                "authority": config.authority,
                "holder": plan.holder.to_string(),
                "roles": plan.roles,
                "authority_public_key": config.authority_key,
                "authority_key_file": absolute(authority_file),
                "log_public_key": log_public,
                "log_vkey": config.log_vkey,
                "log_key_file": config.log_key_file,
                "config": plan.config.as_ref().map(|p| absolute(p)),
                "ledger_config": config,
                "index": accepted.index,
                "leaf": accepted.leaf,
                "recorded_at": accepted.recorded_at,
            })
        );
        return;
    }
    println!("新账本已建立 / New ledger created");
    println!("  origin / 日志标识:           {}", config.origin);
    println!(
        "  authority / 主管机关:        {} ({})",
        config.name, config.authority
    );
    println!(
        "  holder, roles / 持有人与角色: {} [{}]",
        plan.holder,
        plan.roles.join(", ")
    );
    println!(
        "  authority key / 机关公钥:    {}  ({})",
        config.authority_key,
        authority_file.display()
    );
    println!(
        "  log key / 日志公钥:          {}  ({})",
        log_public,
        config.log_key_file.display()
    );
    println!("  log vkey / 日志验证密钥:     {}", config.log_vkey);
    println!(
        "  genesis / 创世条目:          index {}, leaf {}, {}",
        accepted.index, accepted.leaf, accepted.recorded_at
    );
    match &plan.config {
        Some(p) => println!("  config / 配置:               {}", p.display()),
        None => {
            println!(
                "  config / 配置: not written (PostgreSQL, no --config); the service needs this ledger.json:"
            );
            println!("  未写入配置（PostgreSQL，未给 --config）；服务需要如下 ledger.json：");
            println!(
                "{}",
                serde_json::to_string_pretty(config).unwrap_or_default()
            );
        }
    }
    println!(
        "Keep both key files secret and backed up; they are readable by you only. / 请妥善保管并备份两个密钥文件（仅本人可读）。"
    );
}
