//! Where read models live: rows of `key → JSON document`, and the number of log entries they
//! reflect (the cursor), both changed only together in one transaction.
//!
//! This is the view-repository pattern of cqrs-es (a view is a JSON payload under an id) with two
//! differences the ledger needs: the cursor is a log index, not a per-view version, and a whole
//! batch of rows moves with the cursor atomically — so a crash between two batches can neither
//! lose an entry nor count one twice.
//!
//! Keys are ASCII (`<kind>/<id>[/<part>…]`, built from the ledger's id alphabet) and sort
//! byte-wise on every store, so a prefix is a contiguous range and pages are stable.
//! Documents are the deterministic JSON of the typed rows in [`crate::docs`]; equal models have
//! byte-equal rows, which is how rebuild and as-of are compared with the incremental result.
//!
//! Implementations: [`MemViews`] (as-of queries and tests), [`crate::views_sqlite::SqliteViews`]
//! and [`crate::views_postgres::PgViews`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewError {
    /// The cursor was not where the writer thought: another projector or a rebuild moved it.
    /// Nothing was written; reload and carry on from the stored cursor.
    Conflict { expected: u64, found: u64 },
    /// The database failed or could not be reached; nothing may be assumed written.
    Unavailable(String),
    /// A row is not what the projector wrote (bad JSON, wrong kind).
    Corrupt(String),
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViewError::Conflict { expected, found } => write!(
                f,
                "读模型已被其他进程更新 / the read models moved on elsewhere (expected to be at entry {expected}, found {found}); reloading"
            ),
            ViewError::Unavailable(why) => {
                write!(
                    f,
                    "读模型数据库不可用 / the read-model database is unavailable: {why}"
                )
            }
            ViewError::Corrupt(why) => write!(
                f,
                "读模型已损坏，请运行 `bangfu rebuild` / a read-model row is damaged, run `bangfu rebuild`: {why}"
            ),
        }
    }
}

impl std::error::Error for ViewError {}

pub type Result<T> = std::result::Result<T, ViewError>;

/// Storage for read-model rows. One instance addresses one set of tables: the live ones, or the
/// fresh ones a rebuild fills before [`ViewStore::promote`] swaps them in.
pub trait ViewStore: Send + Sync + 'static {
    /// How many log entries the rows reflect: the index of the next entry to apply.
    fn applied(&self) -> impl Future<Output = Result<u64>> + Send;

    /// One row's document.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// In ONE transaction: upsert every row and move the cursor from `from` to `to`. If the
    /// cursor is not at `from`, nothing is written and the answer is `Conflict`.
    fn commit(
        &self,
        from: u64,
        to: u64,
        rows: &[(String, String)],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Rows whose key starts with `prefix` and sorts strictly after `after` (`""` for the first
    /// page), ascending by key, at most `limit`.
    fn scan(
        &self,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;

    /// A store over fresh, empty rebuild tables (dropping any left by an interrupted rebuild).
    /// The live tables are untouched until [`ViewStore::promote`].
    fn start_rebuild(&self) -> impl Future<Output = Result<Self>> + Send
    where
        Self: Sized;

    /// Called on a store from [`ViewStore::start_rebuild`]: atomically replaces the live tables
    /// with this store's tables. Readers see the old rows or the new ones, never a mix.
    fn promote(self) -> impl Future<Output = Result<()>> + Send
    where
        Self: Sized;
}

/// The first key after every key that starts with `prefix` (keys are ASCII), or `None` when
/// there is none (the empty prefix).
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

/// Read models held in memory: what an as-of query replays into, so the live tables are never
/// touched. Also the reference the database stores are compared with in tests.
#[derive(Debug, Default)]
pub struct MemViews {
    inner: Mutex<MemInner>,
}

#[derive(Debug, Default, Clone)]
struct MemInner {
    applied: u64,
    rows: BTreeMap<String, String>,
}

impl MemViews {
    pub fn new() -> MemViews {
        MemViews::default()
    }

    /// Every row, in key order.
    pub fn rows(&self) -> Vec<(String, String)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .rows
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl ViewStore for MemViews {
    async fn applied(&self) -> Result<u64> {
        Ok(self.inner.lock().unwrap_or_else(|e| e.into_inner()).applied)
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(inner.rows.get(key).cloned())
    }

    async fn commit(&self, from: u64, to: u64, rows: &[(String, String)]) -> Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.applied != from {
            return Err(ViewError::Conflict {
                expected: from,
                found: inner.applied,
            });
        }
        for (k, v) in rows {
            inner.rows.insert(k.clone(), v.clone());
        }
        inner.applied = to;
        Ok(())
    }

    async fn scan(&self, prefix: &str, after: &str, limit: u32) -> Result<Vec<(String, String)>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let start = if after >= prefix { after } else { prefix };
        Ok(inner
            .rows
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .filter(|(k, _)| k.as_str() > after)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn start_rebuild(&self) -> Result<MemViews> {
        Ok(MemViews::default())
    }

    async fn promote(self) -> Result<()> {
        // In memory there is nothing to swap: the caller keeps the rebuilt store.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        assert_eq!(prefix_end("pairing/").as_deref(), Some("pairing0"));
        assert_eq!(prefix_end("a\x7f").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
    }

    #[tokio::test]
    async fn mem_views_commit_moves_rows_and_cursor_together() {
        let v = MemViews::new();
        v.commit(
            0,
            2,
            &[("a/1".into(), "1".into()), ("b/1".into(), "2".into())],
        )
        .await
        .unwrap();
        assert_eq!(v.applied().await.unwrap(), 2);
        assert_eq!(
            v.commit(0, 3, &[("a/2".into(), "x".into())]).await,
            Err(ViewError::Conflict {
                expected: 0,
                found: 2
            })
        );
        assert_eq!(v.get("a/2").await.unwrap(), None);
        v.commit(
            2,
            3,
            &[("a/2".into(), "3".into()), ("a/1".into(), "4".into())],
        )
        .await
        .unwrap();
        let page = v.scan("a/", "", 10).await.unwrap();
        assert_eq!(
            page,
            vec![("a/1".into(), "4".into()), ("a/2".into(), "3".into())]
        );
        assert_eq!(v.scan("a/", "a/1", 10).await.unwrap().len(), 1);
        assert!(v.scan("c/", "", 10).await.unwrap().is_empty());
    }
}
