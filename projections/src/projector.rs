//! Following the log: the projector reads entries by index, applies them, and commits the changed
//! rows together with the new cursor — at least once and idempotently, because a batch whose
//! commit did not happen is simply applied again from the stored cursor.
//!
//! - [`Projector::catch_up`] applies everything the log has beyond the cursor;
//! - [`Projector::follow`] keeps doing so, woken by the log's notifications (PostgreSQL) or by
//!   polling (SQLite), until told to stop;
//! - [`rebuild`] replays the whole log into fresh tables and swaps them in;
//! - [`as_of`] replays up to a size into memory, for questions about the past.

use crate::apply::{ProjectError, Projection, Result};
use crate::views::{MemViews, ViewError, ViewStore};
use crate::watch::LogWatch;
use bangfu_domain::date::Date;
use bangfu_domain::registry::Registry;
use bangfu_ledger::entry::Entry;
use bangfu_store::backend::{Backend, StoredEntry};
use tokio::sync::watch;

/// Entries read from the log per page.
const PAGE: u32 = 1000;
/// Entries applied per committed batch. Larger batches make rebuilds faster; a follower commits
/// at least after every page so new entries show within a second.
const BATCH: u64 = 10_000;
/// The aggregates the registry is built from.
const REGISTRY_TYPES: [&str; 5] = ["authority", "unit", "cadre", "household", "program"];

/// Progress of long work: called with (entries applied, entries to apply).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// A projector over one view store.
pub struct Projector<V: ViewStore> {
    views: V,
    projection: Projection,
    applied: u64,
    /// Set when a catch-up failed part-way: the cache must be dropped before the next one.
    poisoned: bool,
}

impl<V: ViewStore> Projector<V> {
    /// Resumes from the store's cursor, rebuilding the registry as of that point from the log.
    pub async fn open<B: Backend>(backend: &B, views: V) -> Result<Projector<V>> {
        let applied = views.applied().await?;
        let projection = if applied == 0 {
            Projection::empty()
        } else {
            Projection::resume(registry_at(backend, applied).await?)
        };
        Ok(Projector {
            views,
            projection,
            applied,
            poisoned: false,
        })
    }

    /// A projector over a store that is known to be empty (a rebuild's fresh tables).
    fn fresh(views: V) -> Projector<V> {
        Projector {
            views,
            projection: Projection::empty(),
            applied: 0,
            poisoned: false,
        }
    }

    pub fn views(&self) -> &V {
        &self.views
    }

    pub fn into_views(self) -> V {
        self.views
    }

    /// Entries applied and committed.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Applies every entry up to `until` (the log's size when `None`), committing in batches.
    /// Returns the new cursor. If another writer moved the cursor, reloads from it and goes on.
    pub async fn catch_up<B: Backend>(
        &mut self,
        backend: &B,
        until: Option<u64>,
        progress: Option<Progress<'_>>,
    ) -> Result<u64> {
        loop {
            match self.catch_up_once(backend, until, progress).await {
                Err(ProjectError::Views(ViewError::Conflict { found, .. })) => {
                    self.applied = found;
                    let registry = registry_at(backend, found).await?;
                    self.projection.forget(registry);
                }
                Err(e) => {
                    // A half-applied batch leaves the cache ahead of the stored rows: drop it,
                    // so the next attempt starts again from what was committed.
                    self.poisoned = true;
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    async fn catch_up_once<B: Backend>(
        &mut self,
        backend: &B,
        until: Option<u64>,
        progress: Option<Progress<'_>>,
    ) -> Result<u64> {
        if self.poisoned {
            let applied = self.views.applied().await?;
            let registry = registry_at(backend, applied).await?;
            self.projection.forget(registry);
            self.applied = applied;
            self.poisoned = false;
        }
        let target = match until {
            Some(n) => n.min(backend.size().await?),
            None => backend.size().await?,
        };
        let mut next = self.applied;
        let mut batch_start = self.applied;
        while next < target {
            let want = (target - next).min(u64::from(PAGE)) as u32;
            let page = backend.entries(next, want).await?;
            if page.is_empty() {
                break;
            }
            for stored in &page {
                let entry = decode_entry(stored, next)?;
                self.projection.apply(&self.views, &entry).await?;
                next += 1;
            }
            // Commit each full batch, and always at the end so followers stay fresh.
            if next - batch_start >= BATCH || next >= target {
                self.commit(batch_start, next).await?;
                batch_start = next;
                if let Some(p) = progress {
                    p(next, target);
                }
            }
        }
        if next > batch_start {
            self.commit(batch_start, next).await?;
        }
        Ok(self.applied)
    }

    async fn commit(&mut self, from: u64, to: u64) -> Result<()> {
        let rows = self.projection.take_dirty();
        self.views.commit(from, to, &rows).await?;
        self.applied = to;
        Ok(())
    }

    /// Catches up, then keeps following the log until `stop` turns true. Transient failures
    /// (the database restarting) are retried after the watch's interval; the projector resumes
    /// from its stored cursor, so nothing is lost or counted twice.
    pub async fn follow<B: Backend>(
        &mut self,
        backend: &B,
        mut watch: LogWatch,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            if let Err(e) = self.catch_up(backend, None, None).await {
                // Damage stops the follower; anything else (the database restarting) is retried
                // from the stored cursor after the next wake-up.
                if matches!(
                    e,
                    ProjectError::BadEntry { .. } | ProjectError::Views(ViewError::Corrupt(_))
                ) {
                    return Err(e);
                }
            }
            tokio::select! {
                _ = watch.changed() => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Replays the whole log into fresh tables beside the live ones and swaps them in. The live read
/// models keep answering until the swap. Returns the number of entries applied.
pub async fn rebuild<B: Backend, V: ViewStore>(
    backend: &B,
    live: &V,
    progress: Option<Progress<'_>>,
) -> Result<u64> {
    let fresh = live.start_rebuild().await?;
    let mut projector = Projector::fresh(fresh);
    let applied = projector.catch_up(backend, None, progress).await?;
    projector.views.promote().await?;
    Ok(applied)
}

/// The read models as they stood when the log had `size` entries, in memory.
pub async fn as_of<B: Backend>(backend: &B, size: u64) -> Result<MemViews> {
    as_of_with_progress(backend, size, None).await
}

/// [`as_of`], reporting progress on long replays.
pub async fn as_of_with_progress<B: Backend>(
    backend: &B,
    size: u64,
    progress: Option<Progress<'_>>,
) -> Result<MemViews> {
    let size = size.min(backend.size().await?);
    let mut projector = Projector::fresh(MemViews::new());
    projector.catch_up(backend, Some(size), progress).await?;
    Ok(projector.views)
}

/// The log's size at the end of `day` (China time): the entries recorded on or before it.
/// `recorded_at` never decreases along the log, so this is a binary search.
pub async fn size_at_end_of<B: Backend>(backend: &B, day: Date) -> Result<u64> {
    let (mut lo, mut hi) = (0u64, backend.size().await?);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let page = backend.entries(mid, 1).await?;
        let Some(stored) = page.first() else {
            return Err(ProjectError::BadEntry {
                index: mid,
                reason: "the entry could not be read".into(),
            });
        };
        let entry = decode_entry(stored, mid)?;
        if Date::in_china(entry.recorded_at) <= day {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

fn decode_entry(stored: &StoredEntry, expected: u64) -> Result<Entry> {
    bangfu_store::backend::check_contiguous(expected, stored.index)?;
    Entry::from_bytes(&stored.body).map_err(|e| ProjectError::BadEntry {
        index: stored.index,
        reason: e.to_string(),
    })
}

/// The registry as of `size` entries, from the log's directory events.
pub async fn registry_at<B: Backend>(backend: &B, size: u64) -> Result<Registry> {
    let mut registry = Registry::default();
    let mut from = 0;
    'pages: while from < size {
        let page = backend.events_of_types(&REGISTRY_TYPES, from, PAGE).await?;
        let Some(&(last, _)) = page.last() else {
            break;
        };
        for (index, event) in &page {
            if *index >= size {
                break 'pages;
            }
            registry.apply(event).map_err(|e| ProjectError::BadEntry {
                index: *index,
                reason: e.to_string(),
            })?;
        }
        from = last + 1;
    }
    Ok(registry)
}
