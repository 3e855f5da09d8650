//! `bangfu demo`: creates a fresh embedded ledger, plays a district's year of pairing assistance
//! into it through the real signing and intake path, verifies the log and prints an inspector's
//! summary. The story itself is `bangfu_api::demo`.

use super::store::{StoreArgs, runtime, with_store};
use bangfu_api::demo::{self, Location, Scale, Stage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Replace a ledger already in --data (it is deleted first) / 覆盖已有的本地账本
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON / 以 JSON 输出摘要
    #[arg(long)]
    json: bool,
    /// No progress bar / 不显示进度条
    #[arg(long)]
    quiet: bool,
    /// How big the district is: `full` (480 cadres, 500 households) or `small` (a tenth, for
    /// tests of the unoptimised build) / 规模（small 供测试使用）
    #[arg(long, value_enum, default_value = "full", hide_short_help = true)]
    scale: ScaleArg,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ScaleArg {
    Full,
    Small,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let scale = match args.scale {
        ScaleArg::Full => Scale::Full,
        ScaleArg::Small => Scale::Small,
    };
    let location = Location {
        flags: match &args.store.database_url {
            // Never print a URL that may carry a password.
            Some(_) => "--database-url \"$BANGFU_DATABASE_URL\"".to_owned(),
            None => format!(
                "--data {}",
                shell_word(&args.store.data.display().to_string())
            ),
        },
    };
    let bar = Bar::new(args.quiet);
    let progress = |stage: Stage, done: u64, total: u64| bar.show(stage, done, total);
    let summary = runtime()?.block_on(async {
        let store = args.store.create_new(args.force).await?;
        with_store!(store, |backend, views| {
            demo::run(backend, views, scale, &location, &progress).await
        })
    });
    bar.finish();
    let summary = summary?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

/// A path as a shell word, quoted when it needs to be.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The progress bar on stderr: hidden with --quiet or when stderr is not a terminal.
struct Bar {
    bar: ProgressBar,
    stage: Mutex<Option<Stage>>,
    visible: bool,
}

impl Bar {
    fn new(quiet: bool) -> Bar {
        // Drawn only from the first report on, when its length is known.
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template("{msg:24} [{bar:40}] {pos}/{len} ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar {
            bar,
            stage: Mutex::new(None),
            visible: !quiet && std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, stage: Stage, done: u64, total: u64) {
        if let Ok(mut current) = self.stage.lock()
            && *current != Some(stage)
        {
            let first = current.is_none();
            *current = Some(stage);
            self.bar.set_message(match stage {
                Stage::Appending => "记账 / appending",
                Stage::Verifying => "核验 / verifying",
            });
            self.bar.set_length(total);
            self.bar.set_position(done);
            if first && self.visible {
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            return;
        }
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
