//! `bangfu verify`: checks a live ledger or an export bundle end to end (docs/ledger-format.md §11)
//! and names the first bad entry and why.

use super::readmodels::bar;
use super::store::{StoreArgs, runtime, with_store};
use bangfu_inspect::bundle::Bundle;
use bangfu_inspect::verify::{self, Failure, Outcome, Report, Trust};
use bangfu_ledger::cosignature::CosignerKey;
use bangfu_ledger::note::VerifierKey;
use serde_json::json;
use std::path::PathBuf;

/// The exit status when the log (or bundle) failed verification.
pub const EXIT_FAILED: i32 = 1;
/// The exit status when verification could not run (unreadable input, database unavailable).
pub const EXIT_CANNOT: i32 = 2;

const AFTER_HELP: &str = "\
Checks, stopping at the first failure: each entry's canonical form, index and prev_root, its
signature, that its key was registered, unrevoked and allowed the command at that time, and that
its events are exactly what its statement produces (the domain is replayed); every signed
checkpoint against the root at its size, with the log key, and the cosignatures of the trusted
witnesses; the vault's openings against the commitments; and with --since, that the log is a
consistent extension of a checkpoint you saved earlier.

Without --bundle it checks the store chosen by --data / --database-url, trusting the log key in
its ledger.json (--config) unless --log-vkey is given. With --bundle DIR it checks an export
bundle offline, trusting the bundle's log.vkey and witnesses.vkeys unless --log-vkey / --witness
are given (an inspector should pin the keys they were given separately).

Exit status: 0 verified; 1 verification failed (the first bad entry and the reason are printed);
2 could not verify (bad arguments, unreadable files, database unavailable).

核验账本或导出包：逐条检查格式、序号、前根、签名、密钥登记与角色、事件重放，
检查每个签名检查点与见证副署、保管库承诺，以及（--since）与您保存的检查点一致。
退出码：0 通过；1 核验失败；2 无法核验。";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Verify an export bundle folder instead of a store / 核验导出包目录
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// A checkpoint saved earlier: the log must extend it consistently / 先前保存的检查点
    #[arg(long, value_name = "FILE")]
    since: Option<PathBuf>,
    /// The log's verifier key to trust (else ledger.json's, or the bundle's) / 信任的日志公钥
    #[arg(long, value_name = "VKEY")]
    log_vkey: Option<String>,
    /// A trusted witness's vkey; repeat for several (else the bundle's witnesses.vkeys) / 见证公钥
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// How many trusted witnesses must have cosigned the latest checkpoint / 最少副署数
    #[arg(long, default_value_t = 0)]
    quorum: usize,
    /// The ledger's config (ledger.json) for the log key [default: <--data>/ledger.json] / 账本配置
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Parses `--witness VKEY` arguments.
pub(super) fn witness_keys(vkeys: &[String]) -> anyhow::Result<Vec<CosignerKey>> {
    vkeys
        .iter()
        .map(|w| {
            CosignerKey::parse(w.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "--witness {w:?} is not a witness vkey (<name>+<hex id>+<base64>): {e}"
                )
            })
        })
        .collect()
}

/// Reports that a check could not run at all (as opposed to finding something wrong) and exits
/// with [`EXIT_CANNOT`].
pub(super) fn cannot_verify(e: anyhow::Error, json: bool) -> ! {
    if json {
        println!(
            "{}",
            json!({"ok": false, "cannot_verify": format!("{e:#}")})
        );
    } else {
        eprintln!("无法核验 / could not verify: {e:#}");
    }
    std::process::exit(EXIT_CANNOT);
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let json = args.json;
    let outcome = match check(args) {
        Ok(o) => o,
        Err(e) => cannot_verify(e, json),
    };
    match outcome {
        Ok(report) => {
            print_report(&report, None, json);
            Ok(())
        }
        Err((failure, report)) => {
            print_report(&report, Some(&failure), json);
            std::process::exit(EXIT_FAILED);
        }
    }
}

fn check(args: Args) -> anyhow::Result<Result<Report, (Failure, Report)>> {
    let since = match &args.since {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            anyhow::anyhow!(
                "无法读取 {} / cannot read {}: {e}",
                p.display(),
                p.display()
            )
        })?),
        None => None,
    };
    let pinned = args
        .log_vkey
        .as_deref()
        .map(|v| {
            VerifierKey::parse(v.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "--log-vkey is not a log verifier key (<origin>+<hex id>+<base64>): {e}"
                )
            })
        })
        .transpose()?;
    let witnesses = witness_keys(&args.witnesses)?;
    let rt = runtime()?;
    let outcome: Outcome = if let Some(dir) = &args.bundle {
        let bundle = Bundle::open(dir)?;
        if let Some(pinned) = &pinned
            && pinned != &bundle.log_vkey
        {
            return Ok(Err((
                Failure {
                    index: None,
                    kind: "checkpoint",
                    reason: format!(
                        "导出包的日志公钥不是您信任的那把 / the bundle's log.vkey ({}) is not the log key you trust ({pinned})",
                        bundle.log_vkey
                    ),
                },
                Report::default(),
            )));
        }
        let total = bundle.count_entries()?;
        let bar = bar(total, "核验 / verifying");
        let trusted = (!witnesses.is_empty()).then_some(witnesses);
        let outcome = rt.block_on(verify::verify_bundle(
            &bundle,
            trusted,
            args.quorum,
            since.as_deref(),
            &mut |done, _| bar.set_position(done),
        ));
        bar.finish_and_clear();
        outcome
    } else {
        let log_vkey = match pinned {
            Some(k) => k,
            None => {
                let (_, config) = args.store.ledger_config(args.config.as_deref())?;
                VerifierKey::parse(&config.log_vkey)
                    .map_err(|e| anyhow::anyhow!("ledger.json's log_vkey: {e}"))?
            }
        };
        let trust = Trust {
            log_vkey,
            witnesses,
            quorum: args.quorum,
        };
        rt.block_on(async {
            let store = args.store.open_existing().await?;
            with_store!(store, |backend, _views| {
                use bangfu_store::backend::Backend;
                let total = backend.size().await?;
                let bar = bar(total, "核验 / verifying");
                let outcome =
                    verify::verify_store(&backend, &trust, since.as_deref(), &mut |done, _| {
                        bar.set_position(done)
                    })
                    .await;
                bar.finish_and_clear();
                Ok::<_, anyhow::Error>(outcome)
            })
        })?
    };
    Ok(outcome?)
}

fn print_report(report: &Report, failure: Option<&Failure>, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": failure.is_none(),
                "failure": failure,
                "report": report,
            }))
            .unwrap_or_default()
        );
        return;
    }
    match failure {
        None => println!(
            "✔ 核验通过 / verified: {} entries, root {}",
            report.entries, report.root
        ),
        Some(f) => {
            match f.index {
                Some(i) => println!("✘ 核验失败 / verification FAILED at entry {i}"),
                None => println!("✘ 核验失败 / verification FAILED"),
            }
            println!("  原因 / reason [{}]: {}", f.kind, f.reason);
        }
    }
    if report.checkpoints > 0 || report.latest_checkpoint.is_some() {
        println!(
            "  检查点 / checkpoints: {} checked against the entries; latest of size {}",
            report.checkpoints,
            report
                .latest_checkpoint
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into())
        );
        if !report.cosigned_by.is_empty() {
            println!(
                "  见证副署 / cosigned by: {}",
                report.cosigned_by.join(", ")
            );
        }
    }
    if report.vault_rows > 0 {
        println!(
            "  保管库 / vault: {} rows checked against their commitments",
            report.vault_rows
        );
    }
    if let Some(s) = report.since {
        println!("  一致 / consistent with your checkpoint of size {s}");
    }
    for w in &report.warnings {
        println!("  ⚠ {w}");
    }
}
