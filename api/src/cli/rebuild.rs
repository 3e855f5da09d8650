//! `bangfu rebuild`: throw the read models away and replay the whole log into fresh tables, then
//! swap them in. The old read models keep answering until the swap.

use super::readmodels::bar;
use super::store::{StoreArgs, runtime, with_store};
use bangfu_projections::projector;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, views| {
            use bangfu_store::backend::Backend;
            let size = backend.size().await?;
            let started = Instant::now();
            let progress = bar(size, "重建读模型 / rebuilding");
            let applied = projector::rebuild(
                &backend,
                &views,
                Some(&|done, _| progress.set_position(done)),
            )
            .await?;
            progress.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"entries": applied, "seconds": secs})
                );
            } else {
                println!("读模型已重建 / read models rebuilt: {applied} entries in {secs:.1} s");
            }
            Ok(())
        })
    })
}
