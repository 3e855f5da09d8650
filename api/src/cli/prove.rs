//! `bangfu prove` writes proofs from a store; `bangfu check-proof` checks them offline against the
//! log's vkey, with no store and no trust in whoever sent them (docs/ledger-format.md §5, §8).

use super::store::{StoreArgs, runtime, with_store};
use super::verify::witness_keys;
use anyhow::{Context, bail};
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::{self, CosignerKey};
use bangfu_ledger::merkle::{leaf_hash, verify_consistency};
use bangfu_ledger::note::{Note, VerifierKey};
use bangfu_ledger::tlog_proof::{self, TlogProof};
use bangfu_store::backend::{Backend, StoredCheckpoint};
use bangfu_store::log::{consistency_proof, inclusion_proof};
use serde_json::json;
use std::path::{Path, PathBuf};

const PROVE_HELP: &str = "\
`bangfu prove INDEX` writes a C2SP tlog-proof that entry INDEX is in the log: its audit path and
the signed (and cosigned) checkpoint it leads to — the latest one, or the one of --size N. Save
the entry too (--entry-out), so anyone can check the proof with `bangfu check-proof`.

`bangfu prove --consistency OLD NEW` writes the consistency proof (one base64 hash per line) that
the log of size NEW extends the log of size OLD; --old-out / --new-out save the two signed
checkpoints it connects.

生成包含证明（某条目在账本中）或一致性证明（账本只追加、未改写）。";

#[derive(clap::Args, Debug)]
#[command(after_help = PROVE_HELP)]
pub struct ProveArgs {
    /// The entry to prove / 条目序号
    #[arg(required_unless_present = "consistency")]
    index: Option<u64>,
    /// Prove against the stored checkpoint of this size [default: the latest] / 检查点大小
    #[arg(long, value_name = "N")]
    size: Option<u64>,
    /// Prove that size NEW extends size OLD / 一致性证明
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with_all = ["index", "size"])]
    consistency: Option<Vec<u64>>,
    /// Write the proof here instead of standard output / 输出文件
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write the entry's exact bytes here / 同时保存条目
    #[arg(long, value_name = "FILE")]
    entry_out: Option<PathBuf>,
    /// With --consistency: write the old size's signed checkpoint here / 旧检查点
    #[arg(long, value_name = "FILE")]
    old_out: Option<PathBuf>,
    /// With --consistency: write the new size's signed checkpoint here / 新检查点
    #[arg(long, value_name = "FILE")]
    new_out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn prove(args: ProveArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, _views| {
            if let Some(sizes) = &args.consistency {
                let (old, new) = (sizes[0], sizes[1]);
                if old > new {
                    bail!("--consistency OLD NEW: OLD ({old}) must not exceed NEW ({new})");
                }
                let proof = consistency_proof(&backend, old, new).await?;
                for (size, out) in [(old, &args.old_out), (new, &args.new_out)] {
                    if let Some(path) = out {
                        let c = stored_checkpoint(&backend, Some(size)).await?;
                        write(path, c.cosigned_note().as_bytes())?;
                    }
                }
                return emit(&args.out, &tlog_proof::format_consistency_proof(&proof));
            }
            let index = args.index.unwrap_or_default();
            let checkpoint = stored_checkpoint(&backend, args.size).await?;
            if index >= checkpoint.size {
                bail!(
                    "条目 {index} 不在大小为 {} 的检查点内 / entry {index} is not covered by the checkpoint of size {}: sign a newer one (`bangfu checkpoint`) or pass --size",
                    checkpoint.size,
                    checkpoint.size
                );
            }
            let path = inclusion_proof(&backend, checkpoint.size, index).await?;
            let note = Note::parse(checkpoint.cosigned_note().as_bytes())
                .context("the stored checkpoint is not a signed note; run `bangfu verify`")?;
            let proof = TlogProof {
                extra: None,
                index,
                path,
                checkpoint: note,
            };
            if let Some(p) = &args.entry_out {
                let entry = backend
                    .entries(index, 1)
                    .await?
                    .pop()
                    .ok_or_else(|| anyhow::anyhow!("entry {index} is missing from the store"))?;
                write(p, &entry.body)?;
            }
            emit(&args.out, &proof.format()?)
        })
    })
}

/// The stored checkpoint of `size`, or the latest.
async fn stored_checkpoint<B: Backend>(
    backend: &B,
    size: Option<u64>,
) -> anyhow::Result<StoredCheckpoint> {
    let found = match size {
        Some(n) => backend.checkpoint(n).await?,
        None => backend.latest_checkpoint().await?,
    };
    found.ok_or_else(|| match size {
        Some(n) => anyhow::anyhow!(
            "没有大小为 {n} 的签名检查点 / the log signed no checkpoint of size {n}: see GET /v1/checkpoints for the sizes it did sign, or run `bangfu checkpoint`"
        ),
        None => anyhow::anyhow!(
            "账本尚未签署检查点 / the log has signed no checkpoint yet: run `bangfu checkpoint`"
        ),
    })
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| {
        format!(
            "无法写入 {} / cannot write {}",
            path.display(),
            path.display()
        )
    })
}

fn emit(out: &Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => write(path, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

const CHECK_HELP: &str = "\
Checks a proof offline with nothing but the log's verifier key:

  bangfu check-proof PROOF --entry FILE --log-vkey VKEY
      PROOF is a tlog-proof (`bangfu prove INDEX`), FILE the entry's exact bytes (`--entry-out`).
  bangfu check-proof PROOF --consistency --old FILE --new FILE --log-vkey VKEY
      PROOF is a consistency proof, --old / --new the two signed checkpoints it connects.

--witness VKEY (repeatable) also checks those witnesses' cosignatures on the checkpoint.
Exit status: 0 the proof holds; 1 it does not (the reason is printed); 2 unreadable input.

离线核验包含证明或一致性证明，只需日志公钥。退出码：0 成立；1 不成立；2 输入无法读取。";

#[derive(clap::Args, Debug)]
#[command(after_help = CHECK_HELP)]
pub struct CheckArgs {
    /// The proof file / 证明文件
    proof: PathBuf,
    /// The log's verifier key, <origin>+<hex id>+<base64> / 日志公钥
    #[arg(long, value_name = "VKEY", required_unless_present = "log_vkey_file")]
    log_vkey: Option<String>,
    /// Read the log's verifier key from FILE (e.g. a bundle's log.vkey) / 从文件读取日志公钥
    #[arg(long, value_name = "FILE")]
    log_vkey_file: Option<PathBuf>,
    /// The entry's exact bytes, for an inclusion proof / 条目文件
    #[arg(long, value_name = "FILE", required_unless_present = "consistency")]
    entry: Option<PathBuf>,
    /// The proof is a consistency proof between --old and --new / 一致性证明
    #[arg(long, requires_all = ["old", "new"], conflicts_with = "entry")]
    consistency: bool,
    /// The older signed checkpoint / 旧检查点
    #[arg(long, value_name = "FILE")]
    old: Option<PathBuf>,
    /// The newer signed checkpoint / 新检查点
    #[arg(long, value_name = "FILE")]
    new: Option<PathBuf>,
    /// A witness vkey whose cosignature to check; repeatable / 见证公钥
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
}

pub fn check(args: CheckArgs) -> anyhow::Result<()> {
    let json = args.json;
    let inputs = read_inputs(&args);
    let (log_vkey, witnesses, proof) = match inputs {
        Ok(i) => i,
        Err(e) => {
            eprintln!("无法读取 / cannot read the input: {e:#}");
            std::process::exit(2);
        }
    };
    let verdict = if args.consistency {
        check_consistency(&args, &log_vkey, &witnesses, &proof)
    } else {
        check_inclusion(&args, &log_vkey, &witnesses, &proof)
    };
    match verdict {
        Ok(what) => {
            if json {
                println!("{}", json!({"ok": true, "proves": what}));
            } else {
                println!("✔ 证明成立 / the proof holds: {what}");
            }
            Ok(())
        }
        Err(e) => {
            if json {
                println!("{}", json!({"ok": false, "reason": format!("{e:#}")}));
            } else {
                println!("✘ 证明不成立 / the proof does NOT hold: {e:#}");
            }
            std::process::exit(1);
        }
    }
}

type Inputs = (VerifierKey, Vec<CosignerKey>, Vec<u8>);

fn read_inputs(args: &CheckArgs) -> anyhow::Result<Inputs> {
    let vkey_text = match (&args.log_vkey, &args.log_vkey_file) {
        (Some(v), _) => v.clone(),
        (None, Some(p)) => read(p)?.into_iter().map(char::from).collect(),
        (None, None) => bail!("pass --log-vkey VKEY or --log-vkey-file FILE"),
    };
    let log_vkey = VerifierKey::parse(vkey_text.trim())
        .map_err(|e| anyhow::anyhow!("the log vkey is not <origin>+<hex id>+<base64>: {e}"))?;
    let witnesses = witness_keys(&args.witnesses)?;
    Ok((log_vkey, witnesses, read(&args.proof)?))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "无法读取 {} / cannot read {}",
            path.display(),
            path.display()
        )
    })
}

/// Checks the witnesses' cosignatures; returns a phrase naming those that cosigned.
fn cosigners(note: &Note, witnesses: &[CosignerKey]) -> anyhow::Result<String> {
    if witnesses.is_empty() {
        return Ok(String::new());
    }
    let signed = cosignature::verify(note, witnesses)?;
    for w in witnesses {
        if !signed.iter().any(|c| c.witness == w) {
            bail!("见证 {w} 未副署此检查点 / witness {w} did not cosign this checkpoint");
        }
    }
    Ok(format!(", cosigned by {} witness(es)", signed.len()))
}

fn check_inclusion(
    args: &CheckArgs,
    log_vkey: &VerifierKey,
    witnesses: &[CosignerKey],
    proof: &[u8],
) -> anyhow::Result<String> {
    let proof = TlogProof::parse(proof)?;
    let mut entry = read(args.entry.as_deref().unwrap_or(Path::new("-")))?;
    // A line copied out of entries.jsonl keeps its newline; the entry's bytes do not.
    if entry.last() == Some(&b'\n') {
        entry.pop();
    }
    let checkpoint = tlog_proof::verify(&proof, &leaf_hash(&entry), log_vkey)?;
    let cosigned = cosigners(&proof.checkpoint, witnesses)?;
    Ok(format!(
        "entry {} is in the log {} of size {} (root {}){cosigned}",
        proof.index, checkpoint.origin, checkpoint.size, checkpoint.root
    ))
}

fn check_consistency(
    args: &CheckArgs,
    log_vkey: &VerifierKey,
    witnesses: &[CosignerKey],
    proof: &[u8],
) -> anyhow::Result<String> {
    let proof = tlog_proof::parse_consistency_proof(proof)?;
    let open = |path: &Option<PathBuf>, which: &str| -> anyhow::Result<(Checkpoint, Note)> {
        let bytes = read(path.as_deref().unwrap_or(Path::new("-")))?;
        Checkpoint::open(&bytes, log_vkey)
            .map_err(|e| anyhow::anyhow!("the {which} checkpoint: {e}"))
    };
    let (old, _) = open(&args.old, "old")?;
    let (new, new_note) = open(&args.new, "new")?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof)?;
    let cosigned = cosigners(&new_note, witnesses)?;
    Ok(format!(
        "the log {} of size {} (root {}) extends its size {} (root {}){cosigned}",
        new.origin, new.size, new.root, old.size, old.root
    ))
}
