//! `bangfu demo` through the real binary: it builds a district the size of Gulou's program,
//! verifies it, refuses to overwrite it without --force, and leaves read models that
//! `bangfu show` answers from.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn bangfu(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("BANGFU_DATABASE_URL")
        .output()
        .expect("the bangfu binary runs")
}

fn json_of(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {:?}", out.stdout))
}

fn n(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{v} is not an integer"))
}

#[test]
fn the_demo_plays_a_district_verifies_it_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");

    // The full story, as the README's first command plays it.
    let full = json_of(&bangfu(&["demo", "--json", "--quiet"], &data), "demo");
    assert_eq!(full["verified"], true, "{full}");
    let entries = n(&full["entries"]);
    assert!(entries > 5_000, "{entries} entries");
    let t = &full["totals"];
    // The Gulou figures of the seed articles.
    assert!(n(&t["cadres"]) >= 400, "{t}");
    assert!(n(&t["households"]) >= 400, "{t}");
    assert!(n(&t["visits"]) >= 2_000, "{t}");
    assert!(n(&t["requests_resolved"]) >= 450, "{t}");
    assert!(n(&t["delivered_fen"]) >= 50_000_000, "{t}");
    assert_eq!(
        n(&t["delivered_fen"]),
        n(&t["disbursed_fen"]) + n(&t["donated_fen"])
    );
    assert!(
        n(&t["festival_visits"]) > 0 && n(&t["late_visits"]) > 0,
        "{t}"
    );
    assert!(n(&t["pairings_active"]) < n(&t["pairings"]), "{t}");
    let funds = full["funds"].as_array().unwrap();
    assert_eq!(funds.len(), 3);
    assert!(funds.iter().all(|f| f["reconciled"] == true), "{funds:?}");
    assert!(funds.iter().any(|f| f["kind"] == "named"), "{funds:?}");
    let spot = &full["spot_check"];
    assert_eq!(n(&spot["sample"]) * 10, n(&t["households"]));
    assert_eq!(n(&spot["revisits"]), n(&spot["sample"]));
    let a = &full["assessment"];
    assert_eq!(n(&a["cadres_scored"]), n(&t["cadres"]));
    assert_eq!(a["best"].as_array().unwrap().len(), 5);
    assert_eq!(a["worst"].as_array().unwrap().len(), 5);
    assert!(n(&a["best"][0]["points"]) >= n(&a["worst"][0]["points"]));
    assert_eq!(n(&a["index"]), entries - 1, "the scores are the last entry");
    assert_eq!(full["handovers"].as_array().unwrap().len(), 2);
    let refused = &full["refused"];
    assert_eq!(refused["command"], "disburse");
    assert!(
        refused["message"].as_str().unwrap().contains("余额不足"),
        "{refused}"
    );
    let next: Vec<&str> = full["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["command"].as_str().unwrap())
        .collect();
    assert!(next.iter().any(|c| c.starts_with("bangfu serve --data")));
    assert!(next.iter().any(|c| c.starts_with("bangfu verify")));

    // Run again without --force: refused, with a message that says how, and nothing changed.
    let log = data.join("log.sqlite");
    let before = std::fs::metadata(&log).unwrap().len();
    let again = bangfu(&["demo", "--json", "--quiet", "--scale", "small"], &data);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("--force"), "{err}");
    assert!(again.stdout.is_empty());
    assert_eq!(std::fs::metadata(&log).unwrap().len(), before);

    // The read models are there for `bangfu show`, and the log is the demo's.
    let shown = json_of(&bangfu(&["show", "funds", "--json"], &data), "show funds");
    assert_eq!(n(&shown["log_size"]), entries);
    let rows = shown["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["ok"] == true), "{rows:?}");
    let balances: i64 = funds.iter().map(|f| n(&f["balance_fen"])).sum();
    assert_eq!(rows.iter().map(|r| n(&r["balance"])).sum::<i64>(), balances);

    // --force replaces it (here with the small story), and the same story gives the same log.
    let small = json_of(
        &bangfu(
            &["demo", "--json", "--quiet", "--force", "--scale", "small"],
            &data,
        ),
        "demo --force",
    );
    assert_eq!(small["verified"], true);
    assert_eq!(n(&small["totals"]["cadres"]), 48);
    assert!(n(&small["entries"]) < entries);
    let elsewhere = dir.path().join("again");
    let twin = json_of(
        &bangfu(
            &["demo", "--json", "--quiet", "--scale", "small"],
            &elsewhere,
        ),
        "demo elsewhere",
    );
    assert_eq!(twin["root"], small["root"], "the demo is reproducible");
    assert_eq!(twin["entries"], small["entries"]);
}
