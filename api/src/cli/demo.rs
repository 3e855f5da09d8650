//! `bangfu demo`: creates a fresh embedded ledger, plays a district's year of pairing assistance
//! into it through the real signing and intake path, verifies the log and prints an inspector's
//! summary. The story itself is `bangfu_api::demo`.
//!
//! Like `bangfu init`, it leaves the log key (`<--data>/log.key`, owner-only) and `ledger.json`
//! beside the ledger, so `bangfu checkpoint`, `export`, `verify` and `spot-check` work on it; and
//! the story's inspector key (`<--data>/inspector.key`) to try `spot-check draw` with.

use super::store::{StoreArgs, runtime, with_store};
use anyhow::Context;
use bangfu_api::demo::{self, Location, Scale, Stage};
use bangfu_api::keyfile::{self, LEDGER_CONFIG_FILE};
use bangfu_ledger::signature::{PublicKey, SigningKey};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The demo's log key file, in --data.
const LOG_KEY_FILE: &str = "log.key";
/// The demo inspector's key file, in --data.
const INSPECTOR_KEY_FILE: &str = "inspector.key";

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
    let config = args.store.data.join(LEDGER_CONFIG_FILE);
    let location = Location {
        flags: match &args.store.database_url {
            // Never print a URL that may carry a password.
            Some(_) => "--database-url \"$BANGFU_DATABASE_URL\"".to_owned(),
            None => format!(
                "--data {}",
                shell_word(&args.store.data.display().to_string())
            ),
        },
        // ledger.json is found in --data only for the embedded store.
        config_flag: match &args.store.database_url {
            Some(_) => format!("--config {}", shell_word(&config.display().to_string())),
            None => String::new(),
        },
    };
    let bar = Bar::new(args.quiet);
    let progress = |stage: Stage, done: u64, total: u64| bar.show(stage, done, total);
    let summary = runtime()?.block_on(async {
        let store = args.store.create_new(args.force).await?;
        write_log_key_and_config(&args.store.data, &config, args.force)?;
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

/// Writes the demo's log key and its inspector's key (owner-only) and ledger.json into `data`, as
/// `bangfu init` does. The inspector's key lets `bangfu spot-check draw` and `bangfu submit` be
/// tried on the demo's ledger.
fn write_log_key_and_config(data: &Path, config: &Path, force: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let log = data.join(LOG_KEY_FILE);
    write_demo_key(&log, "demo log key", &demo::log_key(), force)?;
    write_demo_key(
        &data.join(INSPECTOR_KEY_FILE),
        "demo inspector (person/jiwei-inspector)",
        &demo::inspector_key(),
        force,
    )?;
    let absolute = std::fs::canonicalize(&log)
        .or_else(|_| std::path::absolute(&log))
        .unwrap_or_else(|_| PathBuf::from(&log));
    demo::ledger_config(absolute)?.write(config)
}

/// A key file already at `path` is kept when it holds the demo's key, replaced with --force,
/// and otherwise refused: it may be a real ledger's key.
fn write_demo_key(path: &Path, name: &str, key: &SigningKey, force: bool) -> anyhow::Result<()> {
    if path.exists() {
        let same = keyfile::read(path)
            .map(|k| k.public_key() == PublicKey::from(key))
            .unwrap_or(false);
        if same {
            return Ok(());
        }
        if !force {
            anyhow::bail!(
                "{} 已存在且不是演示账本的密钥 / {} exists and is not the demo's key; pass --force to replace it, or choose another --data DIR",
                path.display(),
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    keyfile::write(path, name, key)
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
