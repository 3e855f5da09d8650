//! `bangfu bench` end to end: the real binary runs the tiny scale against a real PostgreSQL and
//! prints every figure of issue 8 with a sane value and, where the issue names one, a baseline
//! measured in the same run. No timing is judged here: figures vary with the machine.

use bangfu_store::postgres::test_admin_url;
use serde_json::Value;
use std::process::Command;

fn bangfu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bangfu"))
}

fn figure<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["figures"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["id"] == id))
        .unwrap_or_else(|| panic!("figure {id} is missing from {report:#}"))
}

#[test]
fn tiny_bench_prints_every_figure_with_its_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.json");
    let out = bangfu()
        .args(["bench", "--scale", "tiny", "--json", "--out"])
        .arg(&out_file)
        .env("BANGFU_BENCH_DATABASE_URL", test_admin_url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // --out holds the same report.
    let saved: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(saved, report);

    assert_eq!(report["scale"], "tiny");
    let entries = report["entries"].as_u64().unwrap();
    assert!((15_000..30_000).contains(&entries), "{entries} entries");
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(report["seconds"].as_f64().unwrap() > 0.0);
    let notes = report["notes"].to_string();
    assert!(
        !notes.contains("skipped"),
        "PostgreSQL was skipped: {notes}"
    );

    // Issue 8's figures; those with a baseline in its table carry one, measured in this run.
    let with_baseline = [
        "append.sqlite.per_sec",
        "append.postgresql.per_sec",
        "verify.per_sec",
        "rebuild.per_sec",
    ];
    let without = [
        "append.sqlite.p50_ms",
        "append.sqlite.p99_ms",
        "append.postgresql.p50_ms",
        "append.postgresql.p99_ms",
        "memory.verify.peak_mib",
        "memory.rebuild.peak_mib",
        "proof.inclusion.p50_ms",
        "proof.inclusion.p99_ms",
        "proof.consistency.p50_ms",
        "proof.consistency.p99_ms",
        "asof.pairings.p50_ms",
        "asof.pairings.p99_ms",
        "load.per_sec",
    ];
    for id in with_baseline.iter().chain(&without) {
        let f = figure(&report, id);
        let value = f["value"].as_f64().unwrap();
        assert!(value.is_finite() && value > 0.0, "{id} = {value}");
        assert!(
            !f["what"].as_str().unwrap().is_empty(),
            "{id} says what it is"
        );
        assert!(
            !f["target"].as_str().unwrap().is_empty(),
            "{id} has a target"
        );
    }
    for id in with_baseline {
        let f = figure(&report, id);
        let (what, value) = (&f["baseline"][0], f["baseline"][1].as_f64().unwrap());
        assert!(
            !what.as_str().unwrap().is_empty(),
            "{id}'s baseline is named"
        );
        assert!(
            value.is_finite() && value > 0.0,
            "{id}'s baseline = {value}"
        );
        assert!(f["met"].is_boolean(), "{id} is judged against its baseline");
    }
    for id in without {
        assert!(figure(&report, id)["baseline"].is_null(), "{id}");
    }
    // The appends' baseline is the cqrs-es run, the same for both stores.
    assert_eq!(
        figure(&report, "append.sqlite.per_sec")["baseline"],
        figure(&report, "append.postgresql.per_sec")["baseline"]
    );
    assert!(
        figure(&report, "append.sqlite.per_sec")["baseline"][0]
            .as_str()
            .unwrap()
            .contains("cqrs-es")
    );

    // Append throughput against the log's size: several sizes, the full log last, and the spread.
    let series: Vec<&Value> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let id = f["id"].as_str().unwrap();
            id.starts_with("append.series.") && id.ends_with(".per_sec")
        })
        .collect();
    assert!(series.len() >= 3, "{series:?}");
    assert_eq!(
        series.last().unwrap()["id"],
        format!("append.series.{entries}.per_sec")
    );
    for f in &series {
        assert!(f["value"].as_f64().unwrap() > 0.0);
    }
    let spread = figure(&report, "append.series.spread_pct")["value"]
        .as_f64()
        .unwrap();
    assert!(spread.is_finite() && spread >= 0.0);
}

#[test]
fn bench_refuses_a_keep_folder_that_is_not_empty_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.txt");
    std::fs::write(&mine, "keep me").unwrap();
    let out = bangfu()
        .args(["bench", "--scale", "tiny", "--no-postgres", "--keep"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("不是空目录"), "{stderr}");
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "keep me");
}

#[test]
fn bench_refuses_an_unknown_scale() {
    let out = bangfu()
        .args(["bench", "--scale", "galaxy"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tiny") && stderr.contains("city"),
        "{stderr}"
    );
}
