//! Shared by the store's tests: a fresh SQLite store (for PostgreSQL, see
//! `bangfu_store::postgres::TestDatabase`), and the statement generator of the
//! fault appender (`src/bin/fault_appender/district.rs`), so tests exercise the real domain through
//! the real append path.
#![allow(dead_code)]

#[path = "../../src/bin/fault_appender/district.rs"]
mod district;
#[allow(unused_imports)]
pub use district::*;

use bangfu_ledger::statement::VerifiedStatement;
use bangfu_store::backend::Backend;
use bangfu_store::log::{Log, Receipt};
use bangfu_store::sqlite::SqliteBackend;

pub async fn fresh_sqlite(dir: &tempfile::TempDir) -> SqliteBackend {
    SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .expect("open SQLite store")
}

/// Appends a statement the test expects to be accepted; a refusal fails the test, naming it.
pub async fn append_ok<B: Backend>(log: &Log<B>, st: VerifiedStatement) -> Receipt {
    let label = format!(
        "{} {}",
        st.statement().body.command,
        st.statement().body.target
    );
    log.append(st)
        .await
        .unwrap_or_else(|e| panic!("{label} refused: {e}"))
}
