//! `bangfu witness`: run a witness that cosigns a log's checkpoints (C2SP tlog-witness). See
//! `docs/witness.md`.
//!
//! - `init --key FILE --name NAME`: a new witness key; prints its vkey;
//! - `vkey --key FILE`: prints the vkey of an existing witness key;
//! - `serve --key FILE --state FILE --log VKEY… --listen ADDR`: the HTTP witness;
//! - `cosign --key FILE --state FILE --log VKEY… [--request FILE]`: decides one add-checkpoint
//!   request offline (same rules, same state file), printing the cosignature line.

use super::serve::{LogFormat, init_logging, listen, shutdown_signal};
use super::store::runtime;
use anyhow::Context;
use bangfu_api::keyfile;
use bangfu_api::witness::Witness;
use bangfu_api::witness::http;
use bangfu_api::witness::state::StateFile;
use bangfu_ledger::cosignature::Cosigner;
use bangfu_ledger::note::VerifierKey;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Create a witness key (owner-only) and print its vkey / 生成见证密钥
    Init(InitArgs),
    /// Print the vkey of a witness key / 打印见证验证密钥
    Vkey(KeyArgs),
    /// Run the witness over HTTP: POST /add-checkpoint / 启动见证服务
    Serve(ServeArgs),
    /// Decide one add-checkpoint request offline, from a file or standard input / 离线副署
    Cosign(CosignArgs),
}

#[derive(clap::Args, Debug)]
struct InitArgs {
    /// Where to write the key; refuses to replace a file / 密钥文件
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The witness's name in its cosignatures, e.g. witness.example/w1 (no spaces, no '+') / 见证人名称
    #[arg(long)]
    name: String,
    /// Print JSON / 输出 JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct KeyArgs {
    /// The witness key file / 见证密钥文件
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
}

#[derive(clap::Args, Debug)]
struct WitnessArgs {
    /// The witness key file (from `bangfu witness init`) / 见证密钥文件
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The state file: per log the last cosigned size and root; created if missing / 见证状态文件
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// A log to witness, by its verifier key (repeatable; ledger.json's log_vkey) / 被见证日志的验证密钥
    #[arg(long = "log", value_name = "VKEY", required = true)]
    logs: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    witness: WitnessArgs,
    /// Address to listen on / 监听地址
    #[arg(long, env = "BANGFU_WITNESS_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Log lines as text for people or JSON for collectors / 日志格式
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(clap::Args, Debug)]
struct CosignArgs {
    #[command(flatten)]
    witness: WitnessArgs,
    /// The request body (old size, proof, empty line, checkpoint); standard input when omitted or - / 请求文件
    #[arg(long, value_name = "FILE")]
    request: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Sub::Init(a) => init(a),
        Sub::Vkey(a) => {
            println!("{}", cosigner(&a.key)?.cosigner_key());
            Ok(())
        }
        Sub::Serve(a) => serve(a),
        Sub::Cosign(a) => cosign(a),
    }
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    let key = keyfile::generate()?;
    // Check the name before anything is written.
    let cosigner = Cosigner::new(&args.name, key.clone())
        .map_err(|e| anyhow::anyhow!("见证人名称无效 / --name {:?}: {e}", args.name))?;
    keyfile::write(&args.key, &args.name, &key)?;
    let vkey = cosigner.cosigner_key().to_string();
    if args.json {
        println!(
            "{}",
            serde_json::json!({"name": args.name, "key_file": args.key, "vkey": vkey})
        );
    } else {
        eprintln!(
            "见证密钥已写入 / witness key written to {} (owner-only); give logs this vkey:",
            args.key.display()
        );
        println!("{vkey}");
    }
    Ok(())
}

/// The witness's signer, named as in its key file.
fn cosigner(path: &Path) -> anyhow::Result<Cosigner> {
    let file = keyfile::read(path)?;
    Cosigner::new(&file.name, file.key).map_err(|e| {
        anyhow::anyhow!(
            "{} 的名称不能用作见证人名称 / the name in {} cannot name a witness: {e}; create the key with `bangfu witness init --name NAME`",
            path.display(),
            path.display()
        )
    })
}

fn witness(args: &WitnessArgs) -> anyhow::Result<Witness> {
    let cosigner = cosigner(&args.key)?;
    let mut logs = Vec::new();
    for vkey in &args.logs {
        logs.push(VerifierKey::parse(vkey).map_err(|e| {
            anyhow::anyhow!(
                "--log {vkey:?} 不是日志验证密钥 / is not a log verifier key: {e} (it is ledger.json's log_vkey)"
            )
        })?);
    }
    let state = StateFile::open(&args.state)?;
    Ok(Witness::new(cosigner, logs, state))
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let witness = Arc::new(witness(&args.witness)?);
    runtime()?.block_on(async move {
        let listener = listen(args.listen).await?;
        http::serve(witness, listener, shutdown_signal()).await
    })
}

fn cosign(args: CosignArgs) -> anyhow::Result<()> {
    let witness = witness(&args.witness)?;
    let mut body = Vec::new();
    let limit = bangfu_api::witness::cosign::MAX_REQUEST_BYTES as u64 + 1;
    let source = match args.request.as_deref() {
        Some(p) if p != Path::new("-") => p.display().to_string(),
        _ => "standard input".to_owned(),
    };
    let read = match args.request.as_deref() {
        Some(p) if p != Path::new("-") => {
            std::fs::File::open(p).and_then(|f| f.take(limit).read_to_end(&mut body))
        }
        _ => std::io::stdin().take(limit).read_to_end(&mut body),
    };
    read.with_context(|| format!("无法读取请求 / cannot read the request from {source}"))?;
    match witness.add_checkpoint(&body) {
        Ok(lines) => {
            print!("{lines}");
            Ok(())
        }
        Err(refusal) => anyhow::bail!("{refusal} (HTTP {})", refusal.status()),
    }
}
