//! Shared by `bangfu show`, `bangfu report` and `bangfu rebuild`: bringing the read models up to
//! date, or replaying them as of a past point, and printing tables for people or JSON for tools.

use anyhow::Context;
use bangfu_domain::date::Date;
use bangfu_projections::projector::{self, Projector};
use bangfu_projections::views::{MemViews, Result as ViewResult, ViewStore};
use bangfu_store::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};

/// Which moment of the ledger to answer for.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AtArgs {
    /// Answer as the ledger stood at the end of this day (China time), YYYY-MM-DD / 截至某日
    #[arg(long, value_name = "DATE", conflicts_with = "at_size", global = true)]
    pub as_of: Option<String>,
    /// Answer as the ledger stood when it had this many entries / 截至某条目数
    #[arg(long, value_name = "N", global = true)]
    pub at_size: Option<u64>,
}

/// The live read models, or a replay into memory for a past point (the live tables untouched).
pub enum Views<V> {
    Live(V),
    Past(MemViews),
}

impl<V: ViewStore> ViewStore for Views<V> {
    async fn applied(&self) -> ViewResult<u64> {
        match self {
            Views::Live(v) => v.applied().await,
            Views::Past(v) => v.applied().await,
        }
    }
    async fn get(&self, key: &str) -> ViewResult<Option<String>> {
        match self {
            Views::Live(v) => v.get(key).await,
            Views::Past(v) => v.get(key).await,
        }
    }
    async fn commit(&self, from: u64, to: u64, rows: &[(String, String)]) -> ViewResult<()> {
        match self {
            Views::Live(v) => v.commit(from, to, rows).await,
            Views::Past(v) => v.commit(from, to, rows).await,
        }
    }
    async fn scan(
        &self,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> ViewResult<Vec<(String, String)>> {
        match self {
            Views::Live(v) => v.scan(prefix, after, limit).await,
            Views::Past(v) => v.scan(prefix, after, limit).await,
        }
    }
    async fn start_rebuild(&self) -> ViewResult<Self> {
        match self {
            Views::Live(v) => Ok(Views::Live(v.start_rebuild().await?)),
            Views::Past(v) => Ok(Views::Past(v.start_rebuild().await?)),
        }
    }
    async fn promote(self) -> ViewResult<()> {
        match self {
            Views::Live(v) => v.promote().await,
            Views::Past(v) => v.promote().await,
        }
    }
}

/// The read models to answer from: replayed to `--as-of`/`--at-size`, or the live ones brought
/// up to the log's current size first (so a read never shows a stale answer).
pub async fn views_at<B: Backend, V: ViewStore>(
    backend: &B,
    live: V,
    at: &AtArgs,
) -> anyhow::Result<(Views<V>, u64)> {
    let size = match (&at.as_of, at.at_size) {
        (Some(day), _) => {
            let day = Date::parse(day).map_err(|e| {
                anyhow::anyhow!("--as-of {day}: {e}; write the date as YYYY-MM-DD, e.g. 2016-03-01")
            })?;
            Some(projector::size_at_end_of(backend, day).await?)
        }
        (None, Some(n)) => {
            let have = backend.size().await?;
            if n > have {
                anyhow::bail!(
                    "--at-size {n}: 账本只有 {have} 条 / the ledger has only {have} entries; choose at most {have}"
                );
            }
            Some(n)
        }
        (None, None) => None,
    };
    match size {
        Some(n) => {
            let bar = bar(n, "重放 / replaying");
            let past =
                projector::as_of_with_progress(backend, n, Some(&|done, _| bar.set_position(done)))
                    .await
                    .context("replaying the ledger")?;
            bar.finish_and_clear();
            Ok((Views::Past(past), n))
        }
        None => {
            let mut p = Projector::open(backend, live).await?;
            let target = backend.size().await?;
            let bar = bar(
                target.saturating_sub(p.applied()),
                "更新读模型 / catching up",
            );
            let start = p.applied();
            let applied = p
                .catch_up(
                    backend,
                    None,
                    Some(&|done, _| bar.set_position(done - start)),
                )
                .await?;
            bar.finish_and_clear();
            Ok((Views::Live(p.into_views()), applied))
        }
    }
}

/// A progress bar on stderr, hidden for short work and when stderr is not a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if len < 5_000 {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(what.to_owned());
    b
}
