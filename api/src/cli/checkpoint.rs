//! `bangfu checkpoint`: sign a checkpoint of the local store now (if the log grew since the last
//! one; else the last one is taken), ask each `--witness` to cosign it, and print the cosigned
//! note. The same round the service runs on its timer (`service::checkpoints`).

use super::store::{StoreArgs, runtime, with_store};
use bangfu_api::service::checkpoints::{Checkpointer, RoundView, WitnessOutcome};
use bangfu_api::service::system_clock;
use bangfu_api::witness::WitnessEndpoint;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ledger's config from `bangfu init`, naming the log key [default: <--data>/ledger.json] / 账本配置
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A witness to ask for a cosignature: its URL and vkey, URL=VKEY (repeatable) / 见证人
    #[arg(long, value_name = "URL=VKEY")]
    witness: Vec<WitnessEndpoint>,
    /// Print JSON: the checkpoint and what each witness did / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (path, config) = args.store.ledger_config(args.config.as_deref())?;
    let signer = config.log_signer(&path)?;
    let checkpointer = Checkpointer::new(signer, Duration::ZERO, args.witness.clone())
        .map_err(anyhow::Error::msg)?;
    let round = runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, _views| {
            checkpointer.check_origin(&backend).await?;
            checkpointer
                .round(&backend, system_clock())
                .await
                .map_err(anyhow::Error::from)
        })
    })?;
    // A witness that gave nothing is reported but does not fail the command: the checkpoint is
    // signed and stored, and the next round asks the witness again.
    for (w, outcome) in &round.witnesses {
        if let WitnessOutcome::Failed(why) = outcome {
            eprintln!(
                "警告 / warning: witness {} ({}) did not cosign: {why}",
                w.name(),
                w.url
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&RoundView::of(&round))?);
    } else {
        print!("{}", round.checkpoint.cosigned_note());
    }
    Ok(())
}
