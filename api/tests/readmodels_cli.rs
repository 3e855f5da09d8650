//! `bangfu show`, `bangfu rebuild` and `bangfu report` on a small ledger in a `--data` directory,
//! through the real binary.

#[path = "../../store/src/bin/fault_appender/district.rs"]
mod district;

use bangfu_store::log::Log;
use bangfu_store::sqlite::SqliteBackend;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
mod common;

/// A ledger of 3 cadres and 6 households (household h<i> paired with cadre c<i mod 3>) and 4
/// visits; returns its size.
fn ledger(dir: &Path) -> u64 {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let backend = SqliteBackend::open(&dir.join("log.sqlite")).await.unwrap();
        let log = Log::open(backend).await.unwrap();
        let mut statements = district::district(3, 6);
        statements.extend((0..4).map(|n| district::visit(n as usize, 3, n)));
        for s in statements {
            log.append(s).await.unwrap();
        }
        let size = log.size().await.unwrap();
        log.close().await;
        size
    })
}

fn bangfu(dir: &Path, args: &[&str]) -> Output {
    common::bangfu_data(args, dir)
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = bangfu(dir, args);
    assert!(
        out.status.success(),
        "bangfu {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn show_rebuild_and_report_answer_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let size = ledger(dir.path());
    let d = dir.path();

    let now = json(d, &["show", "pairings", "--household", "h1", "--json"]);
    assert_eq!(now["log_size"], size);
    assert_eq!(now["data"][0]["team"]["lead"], "c1");
    assert_eq!(now["data"][0]["visits"].as_array().unwrap().len(), 1);

    let mine = json(d, &["show", "pairings", "--cadre", "c0", "--json"]);
    let households: Vec<&str> = mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["household"].as_str().unwrap())
        .collect();
    assert_eq!(households, ["h0", "h3"]);

    // Before h1 was paired (genesis, unit, program, 6 cadre entries, h0's two entries, h1's
    // registration): no pairing yet, and the live read models are not touched.
    let past = json(
        d,
        &[
            "show",
            "pairings",
            "--household",
            "h1",
            "--at-size",
            "12",
            "--json",
        ],
    );
    assert_eq!(past["log_size"], 12);
    assert_eq!(past["data"], serde_json::json!([]));
    let before_2016 = json(d, &["show", "funds", "--as-of", "2015-12-31", "--json"]);
    assert_eq!(before_2016["log_size"], 0);

    let rebuilt = json(d, &["rebuild", "--json"]);
    assert_eq!(rebuilt["entries"], size);
    assert_eq!(
        json(d, &["show", "pairings", "--household", "h1", "--json"]),
        now
    );

    let out = bangfu(
        d,
        &[
            "report",
            "assessment",
            "--program",
            "p2016",
            "--year",
            "2016",
            "--format",
            "csv",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.contains(&format!("log size / 账本条目数,{size}")),
        "{csv}"
    );
    assert!(csv.contains("bangfu.example/gulou"), "{csv}");
    assert!(csv.contains("c0"), "{csv}");

    let xlsx = d.join("funds.xlsx");
    let out = bangfu(
        d,
        &[
            "report",
            "funds",
            "--year",
            "2016",
            "--format",
            "xlsx",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&xlsx).unwrap().len() > 0);

    let text = bangfu(d, &["show", "compliance", "p2016:h1"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("2016-Q1"));
}

#[test]
fn refusals_name_the_problem_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = bangfu(dir.path(), &["show", "funds"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("there is no ledger") && err.contains("bangfu demo"),
        "{err}"
    );

    ledger(dir.path());
    let d = dir.path();
    for (args, says) in [
        (&["show", "funds", "--at-size", "100000"][..], "has only"),
        (
            &["show", "funds", "--as-of", "2016-13-01"][..],
            "YYYY-MM-DD",
        ),
        (
            &["report", "funds", "--year", "2016", "--format", "xlsx"][..],
            "--out",
        ),
        (&["show", "pairing", "p2016:nobody"][..], "no pairing"),
        (&["show", "receipts", "bad id!"][..], "household"),
    ] {
        let out = bangfu(d, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
