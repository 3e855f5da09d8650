//! Which store a command works on: PostgreSQL when `--database-url` (or `BANGFU_DATABASE_URL`)
//! is given, else the embedded SQLite store in `--data DIR` (default `./bangfu-data`), which holds
//! `log.sqlite` (the ledger) and `readmodels.sqlite` (the read models, a separate file so the
//! projector never waits on the log's write lock).

use anyhow::Context;
use bangfu_projections::views_postgres::PgViews;
use bangfu_projections::views_sqlite::SqliteViews;
use bangfu_store::postgres::PgBackend;
use bangfu_store::sqlite::SqliteBackend;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// PostgreSQL URL of the ledger, e.g. postgres://bangfu@db/bangfu / PostgreSQL 连接串
    #[arg(long, env = "BANGFU_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory of the embedded store (used when no database URL is given) / 本地数据目录
    #[arg(long, default_value = "bangfu-data", global = true)]
    pub data: PathBuf,
}

pub const LOG_FILE: &str = "log.sqlite";
pub const READ_MODELS_FILE: &str = "readmodels.sqlite";

pub enum Store {
    Sqlite {
        backend: SqliteBackend,
        views: SqliteViews,
    },
    Postgres {
        backend: PgBackend,
        views: PgViews,
    },
}

impl StoreArgs {
    /// Opens an existing ledger; refuses to create one where none is (that is `bangfu init`'s
    /// or `bangfu demo`'s job), so a mistyped `--data` does not silently start an empty log.
    pub async fn open_existing(&self) -> anyhow::Result<Store> {
        if let Some(url) = &self.database_url {
            let backend = PgBackend::connect(url).await.with_context(
                || "打开 PostgreSQL 账本失败 / could not open the PostgreSQL ledger",
            )?;
            let views = PgViews::connect(url)
                .await
                .with_context(|| "打开读模型失败 / could not open the read models")?;
            return Ok(Store::Postgres { backend, views });
        }
        let log = self.data.join(LOG_FILE);
        if !log.exists() {
            anyhow::bail!(
                "{} 中没有账本 / there is no ledger in {}: run `bangfu demo` to create one, or pass --data DIR or --database-url URL",
                self.data.display(),
                self.data.display()
            );
        }
        let backend = SqliteBackend::open(&log)
            .await
            .with_context(|| format!("could not open {}", log.display()))?;
        let views = SqliteViews::open(&self.data.join(READ_MODELS_FILE))
            .await
            .with_context(|| "打开读模型失败 / could not open the read models")?;
        Ok(Store::Sqlite { backend, views })
    }
}

impl StoreArgs {
    /// Opens the store for a NEW ledger: creates `--data` if needed and refuses when a ledger with
    /// entries is already there (a PostgreSQL database with entries, or a `log.sqlite` file),
    /// unless `replace` is set — then an embedded ledger is deleted first (a PostgreSQL one is
    /// never deleted by bangfu: drop the database yourself).
    pub async fn create_new(&self, replace: bool) -> anyhow::Result<Store> {
        use bangfu_store::backend::Backend;
        if self.database_url.is_some() {
            let store = self.open_existing().await?;
            let size = match &store {
                Store::Sqlite { backend, .. } => backend.size().await?,
                Store::Postgres { backend, .. } => backend.size().await?,
            };
            if size > 0 {
                anyhow::bail!(
                    "该数据库已有账本（{size} 条）/ this database already holds a ledger of {size} entries; bangfu never deletes one: use a new database, or drop it yourself"
                );
            }
            return Ok(store);
        }
        let log = self.data.join(LOG_FILE);
        if log.exists() {
            if !replace {
                anyhow::bail!(
                    "{} 中已有账本 / {} already holds a ledger; pass --force to replace it, or choose another --data DIR",
                    self.data.display(),
                    self.data.display()
                );
            }
            for f in [LOG_FILE, READ_MODELS_FILE] {
                for suffix in ["", "-wal", "-shm"] {
                    let path = self.data.join(format!("{f}{suffix}"));
                    if path.exists() {
                        std::fs::remove_file(&path)
                            .with_context(|| format!("removing {}", path.display()))?;
                    }
                }
            }
        }
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("creating {}", self.data.display()))?;
        let backend = SqliteBackend::open(&log)
            .await
            .with_context(|| format!("could not create {}", log.display()))?;
        let views = SqliteViews::open(&self.data.join(READ_MODELS_FILE))
            .await
            .with_context(|| "创建读模型失败 / could not create the read models")?;
        Ok(Store::Sqlite { backend, views })
    }
}

impl StoreArgs {
    /// Where the ledger's config (`ledger.json`, written by `bangfu init`) is: `explicit` when
    /// given, else `<--data>/ledger.json` for the embedded store if it exists.
    pub fn ledger_config_path(&self, explicit: Option<&std::path::Path>) -> Option<PathBuf> {
        if let Some(p) = explicit {
            return Some(p.to_owned());
        }
        let default = self.data.join(bangfu_api::keyfile::LEDGER_CONFIG_FILE);
        (self.database_url.is_none() && default.is_file()).then_some(default)
    }

    /// The ledger's config, or a message saying how to name it.
    pub fn ledger_config(
        &self,
        explicit: Option<&std::path::Path>,
    ) -> anyhow::Result<(PathBuf, bangfu_api::keyfile::LedgerConfig)> {
        let Some(path) = self.ledger_config_path(explicit) else {
            anyhow::bail!(
                "找不到账本配置 / no ledger config found: pass --config FILE (the ledger.json `bangfu init` wrote; for an embedded store it is <--data>/ledger.json)"
            );
        };
        let config = bangfu_api::keyfile::LedgerConfig::read(&path)?;
        Ok((path, config))
    }
}

/// Runs `$body` with `$backend` and `$views` bound to whichever store is open.
macro_rules! with_store {
    ($store:expr, |$backend:ident, $views:ident| $body:expr) => {
        match $store {
            $crate::cli::store::Store::Sqlite {
                backend: $backend,
                views: $views,
            } => $body,
            $crate::cli::store::Store::Postgres {
                backend: $backend,
                views: $views,
            } => $body,
        }
    };
}
pub(crate) use with_store;

/// A runtime for the commands that talk to a store.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}
