//! `bangfu anomalies` through the real binary, on the ledger `bangfu demo` plays: the demo's
//! deliberate irregularities (visits written up weeks late, missed quarters, payments never
//! acknowledged, a revisit that does not confirm what the log says) are found, and agree with the
//! demo's own independent tallies; its clean handovers are not flagged.

use serde_json::Value;
use std::process::Output;
mod common;

use common::bangfu_data as bangfu;

fn json_of(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {:?}", out.stdout))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

#[test]
fn the_demos_irregularities_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let demo = json_of(
        &bangfu(&["demo", "--scale", "small", "--json", "--quiet"], &data),
        "demo",
    );
    let entries = n(&demo["entries"]);

    let r = json_of(&bangfu(&["anomalies", "--json"], &data), "anomalies");
    assert_eq!(n(&r["log_size"]), entries);
    assert!(
        r["stamp"]["checkpoint / 检查点"]
            .as_str()
            .unwrap()
            .contains(&entries.to_string()),
        "{}",
        r["stamp"]
    );
    let counts = &r["counts"];
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(n(&r["shown"]), findings.len() as u64);
    let total: u64 = counts.as_object().unwrap().values().map(n).sum();
    assert_eq!(total, findings.len() as u64);
    for f in findings {
        let e = f["entries"].as_array().unwrap();
        assert!(!e.is_empty(), "{f}");
        assert!(e.iter().all(|i| n(i) < entries), "{f}");
        assert!(f["description"].as_str().unwrap().contains(" / "), "{f}");
    }
    let of =
        |kind: &str| -> Vec<&Value> { findings.iter().filter(|f| f["kind"] == kind).collect() };

    // Visits written up more than the program's 7 days late: the same number the demo counts.
    let late_visits = of("late_record")
        .iter()
        .filter(|f| {
            f["description"]
                .as_str()
                .unwrap()
                .contains("recorded the visit")
        })
        .count() as u64;
    assert!(late_visits > 0);
    assert_eq!(late_visits, n(&demo["totals"]["late_visits"]));
    // The revisits' "not confirmed" findings all name records the log holds.
    assert_eq!(
        n(&counts["contradicted_finding"]),
        n(&demo["spot_check"]["not_confirmed"])
    );
    // A few quarters are missed and some payments never acknowledged, by design.
    assert!(n(&counts["missed_quarters"]) > 0, "{counts}");
    assert!(n(&counts["unacknowledged_disbursement"]) > 0, "{counts}");
    // The transfer and the retirement are handed over before they take effect: no visit after.
    assert_eq!(n(&counts["visit_after_handover"]), 0, "{counts}");
    assert!(r["diaries"]["sealed"].as_u64().unwrap() > 0);

    // One kind, a few findings.
    let some = json_of(
        &bangfu(
            &[
                "anomalies",
                "--kind",
                "late_record",
                "--limit",
                "3",
                "--json",
            ],
            &data,
        ),
        "anomalies --kind --limit",
    );
    assert_eq!(some["findings"].as_array().unwrap().len(), 3);
    assert_eq!(some["counts"].as_object().unwrap().len(), 1);
    assert_eq!(some["counts"]["late_record"], counts["late_record"]);

    // A report an inspector files: CSV with the stamp above the table.
    let csv = dir.path().join("anomalies.csv");
    let out = bangfu(
        &[
            "anomalies",
            "--format",
            "csv",
            "--out",
            csv.to_str().unwrap(),
        ],
        &data,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with('\u{feff}'),
        "Excel needs the byte-order mark"
    );
    assert!(text.contains("late_record") && text.contains("checkpoint"));

    // People's table.
    let out = bangfu(&["anomalies", "--kind", "missed_quarters"], &data);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("异常线索 / Anomalies") && text.contains("missed_quarters"));

    // As the ledger stood at mid-year.
    let past = json_of(
        &bangfu(&["anomalies", "--as-of", "2016-06-30", "--json"], &data),
        "anomalies --as-of",
    );
    assert!(n(&past["log_size"]) < entries);
    assert!(past["today"].as_str().unwrap() <= "2016-06-30");

    // Offline, from the export bundle: the same findings.
    let bundle = dir.path().join("bundle");
    let out = bangfu(&["export", "--out", bundle.to_str().unwrap()], &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = json_of(
        &bangfu(
            &["anomalies", "--bundle", bundle.to_str().unwrap(), "--json"],
            &data,
        ),
        "anomalies --bundle",
    );
    assert_eq!(offline["findings"], r["findings"]);
    assert_eq!(offline["diaries"], r["diaries"]);

    // Refusals say what was wrong and how to fix it, and change nothing.
    let out = bangfu(&["anomalies", "--kind", "late"], &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no such kind") && err.contains("late_record"),
        "{err}"
    );
    let out = bangfu(&["anomalies", "--diary-similarity", "10"], &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("diary_similarity_percent"), "{err}");
    let out = bangfu(&["anomalies", "--format", "xlsx"], &data);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}
