//! Shared by the projections' integration tests: the statement helpers of the store's fault
//! appender (deterministic keys, sealed values), and a realistic, seeded program appended through
//! the real log ([`scenario`]).
#![allow(dead_code)]

#[path = "../../../store/src/bin/fault_appender/district.rs"]
pub mod district;
pub mod scenario;

/// The PostgreSQL server the tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("BANGFU_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database, dropped when the test ends, pass or fail.
pub struct PgDb {
    pub url: String,
}

impl PgDb {
    pub async fn new(prefix: &str) -> PgDb {
        let url = bangfu_store::postgres::create_test_database(&admin_url(), prefix)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is needed for this test ({e}); start it with \
                     `pg_ctlcluster --skip-systemctl-redirect 15 main start` or set BANGFU_TEST_DATABASE_URL"
                )
            });
        PgDb { url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let url = self.url.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                let _ = rt.block_on(bangfu_store::postgres::drop_database(&admin_url(), &url));
            }
        })
        .join();
    }
}
