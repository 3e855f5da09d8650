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
use std::collections::VecDeque;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Serialized rows, `(key, document)`, as a commit takes them.
type Rows = Vec<(String, String)>;

/// Entries read from the log per page.
const PAGE: u32 = 1000;
/// Entries applied per committed batch. Larger batches make rebuilds faster; a follower commits
/// at least after every page so new entries show within a second.
const BATCH: u64 = 10_000;
/// Entries per committed batch of a rebuild. Nobody reads the fresh tables until they are
/// promoted, and the busiest rows (a pairing's, 5–9 KB) are written again by every batch that
/// touches them, so a rebuild commits less often.
const REBUILD_BATCH: u64 = 50_000;
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
    /// Entries per committed batch ([`BATCH`] unless tuned).
    batch: u64,
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
            batch: BATCH,
        })
    }

    /// A projector over a store that is known to be empty (a rebuild's fresh tables).
    fn fresh(views: V) -> Projector<V> {
        Projector {
            views,
            projection: Projection::empty(),
            applied: 0,
            poisoned: false,
            batch: BATCH,
        }
    }

    /// Commits every `entries` entries (at least 1) instead of every [`BATCH`]: smaller batches
    /// show rows sooner and hold fewer changed rows in memory, larger ones commit less often.
    pub fn with_batch(mut self, entries: u64) -> Projector<V> {
        self.batch = entries.max(1);
        self
    }

    /// Bounds the row cache at `bytes` accounted bytes and `rows` rows instead of the defaults
    /// (see [`Projection::set_cache_bound`]).
    pub fn with_cache_bound(mut self, bytes: usize, rows: usize) -> Projector<V> {
        self.projection.set_cache_bound(bytes, rows);
        self
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
        let batch = self.batch;
        let page_size = u64::from(PAGE).min(batch);
        let mut pages = Pages::new(self.applied, target, page_size);
        let mut batch_start = self.applied;
        // The last batch applied, waiting to be committed: (from, to, rows).
        let mut pending: Option<(u64, u64, Rows)> = None;
        loop {
            // The previous batch commits while the next one is applied. Both only read the view
            // store; the rows of the batch being committed stay cached (see `shrink`), so nothing
            // applied now reads a row the store does not have yet. The cursor still moves only
            // by a commit, one batch after another: a failure anywhere leaves the stored cursor
            // at the last commit, from which the next attempt starts again.
            let views = &self.views;
            let projection = &mut self.projection;
            let commit = async {
                match &pending {
                    Some((from, to, rows)) => {
                        views.commit(*from, *to, rows).await.map(|()| Some(*to))
                    }
                    None => Ok(None),
                }
            };
            let apply = async {
                let mut next = batch_start;
                while next - batch_start < batch {
                    let Some(page) = pages.next(backend).await? else {
                        break;
                    };
                    for entry in &page {
                        projection.apply(views, entry).await?;
                    }
                    next += page.len() as u64;
                    // A CPU-bound page seldom waits; yielding lets the commit beside it make
                    // progress on stores whose commit needs polling (PostgreSQL's round trips).
                    tokio::task::yield_now().await;
                }
                Ok::<u64, ProjectError>(next)
            };
            let (committed, applied) = tokio::join!(commit, apply);
            if let Some(to) = committed? {
                self.applied = to;
                if let Some(p) = progress {
                    p(to, target);
                }
            }
            let next = applied?;
            if next == batch_start {
                return Ok(self.applied);
            }
            let rows = self.projection.take_dirty();
            // The batch just taken is not committed yet; everything before it is.
            self.projection.shrink(1);
            pending = Some((batch_start, next, rows));
            batch_start = next;
        }
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
    let mut projector = Projector::fresh(fresh).with_batch(REBUILD_BATCH);
    let applied = projector.catch_up(backend, None, progress).await?;
    let Projector {
        views, projection, ..
    } = projector;
    // Freeing a full cache (hundreds of thousands of rows) takes a good part of a second: do it
    // beside the promotion rather than before or after it.
    let freeing = tokio::task::spawn_blocking(move || drop(projection));
    views.promote().await?;
    // A panic while freeing would be a bug in a destructor; the rows are promoted regardless.
    let _ = freeing.await;
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

/// Pages of decoded entries, read and decoded ahead: up to [`DECODE_AHEAD`] pages are parsed on
/// the blocking pool (in parallel when there are cores for it) while the caller applies the page
/// before them. Parsing is the largest part of applying an entry.
struct Pages {
    /// The next index to read.
    next: u64,
    target: u64,
    /// Pages being decoded, in log order, with the index of their first entry.
    ahead: VecDeque<(u64, JoinHandle<Result<Vec<Entry>>>)>,
    /// The log ended before `target` (a short read): read nothing more.
    ended: bool,
    /// Entries per page read, at most [`PAGE`].
    page: u64,
}

/// Pages decoding ahead of the one being applied: a few MiB of entries at most.
const DECODE_AHEAD: usize = 3;

impl Pages {
    fn new(from: u64, target: u64, page: u64) -> Pages {
        Pages {
            next: from,
            target,
            ahead: VecDeque::new(),
            ended: false,
            page,
        }
    }

    /// The next page, in order, or `None` at the target or the log's end.
    async fn next<B: Backend>(&mut self, backend: &B) -> Result<Option<Vec<Entry>>> {
        while self.ahead.len() < DECODE_AHEAD && !self.ended && self.next < self.target {
            let want = (self.target - self.next).min(self.page) as u32;
            let page = backend.entries(self.next, want).await?;
            if page.is_empty() {
                self.ended = true;
                break;
            }
            let first = self.next;
            self.next += page.len() as u64;
            let decoding = tokio::task::spawn_blocking(move || decode_page(&page, first));
            self.ahead.push_back((first, decoding));
        }
        let Some((first, decoding)) = self.ahead.pop_front() else {
            return Ok(None);
        };
        // The task fails only if decoding panicked: a bug met on these entries, so name them.
        let page = decoding.await.map_err(|e| ProjectError::BadEntry {
            index: first,
            reason: format!("decoding the page of entries from here failed: {e}"),
        })??;
        Ok(Some(page))
    }
}

fn decode_page(page: &[StoredEntry], first: u64) -> Result<Vec<Entry>> {
    page.iter()
        .zip(first..)
        .map(|(stored, expected)| decode_entry(stored, expected))
        .collect()
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
