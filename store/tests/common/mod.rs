//! Shared by the store's tests: fresh stores of both kinds, and the statement generator of the
//! fault appender (`src/bin/fault_appender/district.rs`), so tests exercise the real domain through
//! the real append path.
#![allow(dead_code)]

#[path = "../../src/bin/fault_appender/district.rs"]
mod district;
#[allow(unused_imports)]
pub use district::*;

use bangfu_store::postgres::PgBackend;
use bangfu_store::sqlite::SqliteBackend;

pub fn admin_url() -> String {
    std::env::var("BANGFU_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn fresh_postgres() -> PgBackend {
    let url = bangfu_store::postgres::create_test_database(&admin_url(), "bangfu_conf")
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for the store's tests ({e}); start it with \
                 `pg_ctlcluster --skip-systemctl-redirect 15 main start` or set BANGFU_TEST_DATABASE_URL"
            )
        });
    PgBackend::connect(&url)
        .await
        .expect("connect to the fresh test database")
}

pub async fn fresh_sqlite(dir: &tempfile::TempDir) -> SqliteBackend {
    SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .expect("open SQLite store")
}
