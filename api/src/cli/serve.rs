//! `bangfu serve`: the HTTP service over the ledger chosen by `--database-url` /
//! `BANGFU_DATABASE_URL` (PostgreSQL) or `--data DIR` (embedded SQLite). See `docs/api.md`.
//!
//! With the ledger's config (`--config`, or `<--data>/ledger.json`) it also signs checkpoints with
//! the log key every `--checkpoint-every` seconds and asks each `--witness` to cosign them.

use super::store::{Store, StoreArgs, runtime, with_store};
use anyhow::Context;
use bangfu_api::service::checkpoints::Checkpointer;
use bangfu_api::service::{self, Options};
use bangfu_api::witness::WitnessEndpoint;
use bangfu_projections::watch::{LogWatch, POLL};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on / 监听地址
    #[arg(long, env = "BANGFU_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Log lines as text for people or JSON for collectors / 日志格式
    #[arg(long, value_enum, default_value = "text", env = "BANGFU_LOG_FORMAT")]
    log_format: LogFormat,
    /// /readyz fails while the read models are more than this many entries behind / 就绪阈值
    #[arg(long, default_value_t = 1000)]
    ready_lag: u64,
    /// Seconds to let requests in flight finish after SIGTERM or Ctrl-C / 关闭宽限秒数
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// Signing checkpoints; shared with `bangfu checkpoint`.
#[derive(clap::Args, Debug, Clone)]
pub struct CheckpointArgs {
    /// The ledger's config from `bangfu init`, naming the log key [default: <--data>/ledger.json if it exists] / 账本配置
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Sign a checkpoint every SECS seconds when the log grew; 0 = only on demand / 检查点间隔秒数
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub checkpoint_every: u64,
    /// A witness to ask for cosignatures: its URL and vkey, URL=VKEY (repeatable) / 见证人
    #[arg(long, value_name = "URL=VKEY")]
    pub witness: Vec<WitnessEndpoint>,
}

impl CheckpointArgs {
    /// The checkpointer the options ask for: `None` without a config (and then no witness may be
    /// named); the log key is read and checked against the config's vkey.
    pub fn checkpointer(&self, store: &StoreArgs) -> anyhow::Result<Option<Checkpointer>> {
        let Some(path) = store.ledger_config_path(self.config.as_deref()) else {
            if !self.witness.is_empty() {
                anyhow::bail!(
                    "--witness 需要日志密钥 / --witness needs the log key to sign checkpoints: pass --config FILE (the ledger.json `bangfu init` wrote)"
                );
            }
            return Ok(None);
        };
        let (_, config) = store.ledger_config(Some(&path))?;
        let signer = config.log_signer(&path)?;
        let every = Duration::from_secs(self.checkpoint_every);
        Checkpointer::new(signer, every, self.witness.clone())
            .map(Some)
            .map_err(anyhow::Error::msg)
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_logging(args.log_format);
    runtime()?.block_on(serve(args))
}

/// Log lines to stderr, for `bangfu serve` and `bangfu witness serve`.
pub fn init_logging(format: LogFormat) {
    // `BANGFU_LOG` (or `RUST_LOG`) chooses what is logged, e.g. `info` or `bangfu_api=debug`.
    let filter = EnvFilter::try_from_env("BANGFU_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal; files and log collectors get plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let checkpointer = args.checkpoints.checkpointer(&args.store)?;
    let store = args.store.open_existing().await?;
    if let Some(c) = &checkpointer {
        with_store!(&store, |backend, _views| c.check_origin(backend).await)?;
    }
    let listener = listen(args.listen).await?;
    let options = Options {
        ready_lag: args.ready_lag,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        checkpoints: checkpointer.map(Arc::new),
        ..Options::default()
    };
    match store {
        Store::Sqlite { backend, views } => {
            // SQLite cannot tell another process that the log grew: poll its size.
            service::serve(
                backend,
                views,
                LogWatch::poll(POLL),
                LogWatch::poll(POLL),
                listener,
                options,
                shutdown_signal(),
            )
            .await
        }
        Store::Postgres { backend, views } => {
            let url = args.store.database_url.as_deref().unwrap_or_default();
            let follow = LogWatch::postgres(url).await?;
            let directory = LogWatch::postgres(url).await?;
            service::serve(
                backend,
                views,
                follow,
                directory,
                listener,
                options,
                shutdown_signal(),
            )
            .await
        }
    }
}

/// Binds the address a server listens on, saying what to do when it is taken.
pub(super) async fn listen(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "无法监听 {addr} / cannot listen on {addr}: is another service using it? choose another with --listen"
        )
    })
}

/// Resolves on SIGTERM (how service managers stop a service) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
