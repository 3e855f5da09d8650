//! `bangfu-test-ledger DIR`: writes a small ledger (the fault appender's district: 2 cadres,
//! 3 households, a program, pairings) into the embedded store in DIR, straight through the log,
//! and the authority's secret key (a coordinator) as hex to `DIR/authority.key.hex`, so that
//! `.ci/run` can start `bangfu serve --data DIR` and let schemathesis sign requests with it.
//! For tests only: the key is derived from a public name.

use bangfu_store::log::Log;
use bangfu_store::sqlite::SqliteBackend;
use bangfu_tests::district;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: bangfu-test-ledger DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let log = Log::open(SqliteBackend::open(&dir.join("log.sqlite")).await?).await?;
    if log.size().await? == 0 {
        for st in district::district(2, 3) {
            log.append(st).await?;
        }
    }
    let size = log.size().await?;
    log.close().await;
    let seed: String = district::key("authority")
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(dir.join("authority.key.hex"), seed)?;
    println!("{size} entries in {}", dir.display());
    Ok(())
}
