//! `bangfu serve`: the HTTP service over the ledger chosen by `--database-url` /
//! `BANGFU_DATABASE_URL` (PostgreSQL) or `--data DIR` (embedded SQLite). See `docs/api.md`.

use super::store::{Store, StoreArgs, runtime};
use anyhow::Context;
use bangfu_api::service::{self, Options};
use bangfu_projections::watch::{LogWatch, POLL};
use std::net::SocketAddr;
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
    store: StoreArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // `BANGFU_LOG` (or `RUST_LOG`) chooses what is logged, e.g. `info` or `bangfu_api=debug`.
    let filter = EnvFilter::try_from_env("BANGFU_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal; files and log collectors get plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    runtime()?.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let store = args.store.open_existing().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "无法监听 {} / cannot listen on {}: is another service using it? choose another with --listen",
                args.listen, args.listen
            )
        })?;
    let options = Options {
        ready_lag: args.ready_lag,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
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

/// Resolves on SIGTERM (how service managers stop a service) or Ctrl-C.
async fn shutdown_signal() {
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
