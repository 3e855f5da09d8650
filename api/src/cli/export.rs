//! `bangfu export`: writes the export bundle of docs/ledger-format.md §10, which an inspector
//! verifies offline with `bangfu verify --bundle DIR` or their own tools.

use super::readmodels::bar;
use super::store::{StoreArgs, runtime, with_store};
use super::verify::witness_keys;
use bangfu_inspect::bundle;
use bangfu_ledger::note::VerifierKey;
use bangfu_store::backend::Backend;
use bangfu_store::checkpoints::sign_checkpoint;
use serde_json::json;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
The bundle holds entries.jsonl (entry i on line i+1, its exact bytes), checkpoint (signed by the
log key, with any witness cosignatures), log.vkey, witnesses.vkeys (the --witness keys, if any)
and vault.jsonl (the sealed values still held). It covers the log up to its checkpoint: when the
log key is at hand (ledger.json) a fresh checkpoint of the whole log is signed first, otherwise
the latest one the service signed is used (--no-sign always uses it).

导出核验包：条目、签名检查点、日志公钥、见证公钥与保管库。可离线以 bangfu verify --bundle 核验。";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The folder to create (must not exist) / 导出目录（须不存在）
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A witness vkey to list in witnesses.vkeys; repeat for several / 见证公钥
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// Use the latest stored checkpoint; do not sign a new one / 不签署新检查点
    #[arg(long)]
    no_sign: bool,
    /// The ledger's config (ledger.json) [default: <--data>/ledger.json] / 账本配置
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let witnesses = witness_keys(&args.witnesses)?;
    let (config_path, config) = args.store.ledger_config(args.config.as_deref())?;
    let log_vkey = VerifierKey::parse(&config.log_vkey)
        .map_err(|e| anyhow::anyhow!("ledger.json's log_vkey: {e}"))?;
    runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, _views| {
            let checkpoint = if args.no_sign {
                None
            } else {
                let signer = config.log_signer(&config_path)?;
                Some(sign_checkpoint(&backend, &signer, bangfu_api::service::system_clock()).await?)
            };
            let checkpoint = match checkpoint {
                Some(c) => c,
                None => backend.latest_checkpoint().await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "账本尚未签署检查点 / the log has signed no checkpoint yet: run `bangfu checkpoint` first, or export without --no-sign"
                    )
                })?,
            };
            let bar = bar(checkpoint.size, "导出 / exporting");
            let summary = bundle::export(
                &backend,
                &checkpoint,
                &log_vkey,
                &witnesses,
                &args.out,
                &mut |done, _| bar.set_position(done),
            )
            .await?;
            bar.finish_and_clear();
            if args.json {
                println!(
                    "{}",
                    json!({
                        "out": args.out,
                        "entries": summary.entries,
                        "root": summary.root.to_base64(),
                        "cosignatures": summary.cosignatures,
                        "vault_rows": summary.vault_rows,
                        "witnesses": summary.witnesses,
                    })
                );
            } else {
                println!(
                    "已导出 / exported {} entries to {} (root {}, {} cosignature(s), {} vault row(s))",
                    summary.entries,
                    args.out.display(),
                    summary.root,
                    summary.cosignatures,
                    summary.vault_rows
                );
                println!(
                    "核验 / verify it: bangfu verify --bundle {}",
                    args.out.display()
                );
            }
            Ok(())
        })
    })
}
