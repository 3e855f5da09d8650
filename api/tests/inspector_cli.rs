//! The inspector's commands on a real ledger (the small demo district): `verify` on the store and
//! on an exported bundle, `prove` / `check-proof` for inclusion and consistency, and `report
//! verify` recomputing JSON and CSV reports — each accepting what is true and refusing, with exit
//! status 1 and a reason, what was altered.

use bangfu_store::backend::Backend;
use bangfu_store::sqlite::SqliteBackend;
use serde_json::Value;
use std::path::Path;

use std::sync::OnceLock;
mod common;

use common::{bangfu_in as bangfu, ok_in as ok, text};

/// Runs and expects exit status 1 (checked, and found wrong); returns stdout.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = bangfu(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "bangfu {args:?} should fail with 1: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// One small demo ledger for every test here (made once; the tests only read it).
fn ledger() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        ok(
            dir.path(),
            &["demo", "--data", "data", "--quiet", "--scale", "small"],
        );
        dir
    })
    .path()
}

/// Sizes of the checkpoints the demo's log signed.
fn checkpoint_sizes(data: &Path) -> Vec<u64> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let backend = SqliteBackend::open(&data.join("log.sqlite")).await.unwrap();
        let list = backend.checkpoints(0, 100).await.unwrap();
        list.iter().map(|c| c.size).collect()
    })
}

#[test]
fn the_demo_ledger_verifies_and_says_what_it_checked() {
    let dir = ledger();
    let out = ok(dir, &["verify", "--data", "data", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let report = &v["report"];
    assert!(report["entries"].as_u64().unwrap() > 1000, "{report}");
    assert!(report["checkpoints"].as_u64().unwrap() >= 2, "{report}");
    assert!(report["vault_rows"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["latest_checkpoint"], report["entries"]);
}

#[test]
fn an_exported_bundle_verifies_offline_and_a_changed_copy_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = ledger().join("data");
    let data = data.to_str().unwrap();
    ok(dir.path(), &["export", "--data", data, "--out", "bundle"]);
    for f in ["entries.jsonl", "checkpoint", "log.vkey", "vault.jsonl"] {
        assert!(dir.path().join("bundle").join(f).is_file(), "{f}");
    }
    let out = ok(dir.path(), &["verify", "--bundle", "bundle"]);
    assert!(out.contains("verified"), "{out}");
    // Exporting into a folder that exists is refused, and leaves it alone.
    let again = bangfu(dir.path(), &["export", "--data", data, "--out", "bundle"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already exists"));

    // An inspector who pins another log key does not accept the bundle.
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let other = bangfu_ledger::note::VerifierKey::new("other.example/log", key.verifying_key())
        .unwrap()
        .to_string();
    let out = fails(
        dir.path(),
        &["verify", "--bundle", "bundle", "--log-vkey", &other],
    );
    assert!(out.contains("not the log key you trust"), "{out}");

    // A vault value changed after export: the vault check names it.
    let vault = dir.path().join("bundle/vault.jsonl");
    let rows = std::fs::read_to_string(&vault).unwrap();
    let first = rows.lines().next().unwrap();
    let mut row: Value = serde_json::from_str(first).unwrap();
    row["value"] = Value::String("改过的日记 / an altered diary".into());
    let altered = rows.replacen(first, &serde_json::to_string(&row).unwrap(), 1);
    std::fs::write(&vault, altered).unwrap();
    let out = fails(dir.path(), &["verify", "--bundle", "bundle", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["failure"]["kind"], "vault", "{v}");
}

#[test]
fn an_inclusion_proof_checks_offline_and_fails_for_another_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = ledger().join("data");
    let data = data.to_str().unwrap();
    ok(
        dir.path(),
        &[
            "prove",
            "100",
            "--data",
            data,
            "--out",
            "proof",
            "--entry-out",
            "entry",
        ],
    );
    ok(
        dir.path(),
        &["prove", "101", "--data", data, "--entry-out", "other"],
    );
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(ledger().join("data/ledger.json")).unwrap())
            .unwrap();
    let vkey = config["log_vkey"].as_str().unwrap();
    let out = ok(
        dir.path(),
        &[
            "check-proof",
            "proof",
            "--entry",
            "entry",
            "--log-vkey",
            vkey,
        ],
    );
    assert!(out.contains("entry 100 is in the log"), "{out}");
    let out = fails(
        dir.path(),
        &[
            "check-proof",
            "proof",
            "--entry",
            "other",
            "--log-vkey",
            vkey,
        ],
    );
    assert!(out.contains("does NOT hold"), "{out}");
    // Past the latest checkpoint there is nothing signed to prove against.
    let out = bangfu(dir.path(), &["prove", "99999999", "--data", data]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not covered"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_consistency_proof_connects_two_signed_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = ledger().join("data");
    let sizes = checkpoint_sizes(&data);
    assert!(sizes.len() >= 2, "the demo signs at least two checkpoints");
    let (old, new) = (sizes[0].to_string(), sizes[sizes.len() - 1].to_string());
    let data = data.to_str().unwrap();
    ok(
        dir.path(),
        &[
            "prove",
            "--consistency",
            &old,
            &new,
            "--data",
            data,
            "--out",
            "proof",
            "--old-out",
            "old",
            "--new-out",
            "new",
        ],
    );
    std::fs::write(dir.path().join("vkey"), {
        let c: Value = serde_json::from_str(
            &std::fs::read_to_string(ledger().join("data/ledger.json")).unwrap(),
        )
        .unwrap();
        c["log_vkey"].as_str().unwrap().to_owned()
    })
    .unwrap();
    let args = [
        "check-proof",
        "proof",
        "--consistency",
        "--old",
        "old",
        "--new",
        "new",
        "--log-vkey-file",
        "vkey",
    ];
    let out = ok(dir.path(), &args);
    assert!(out.contains("extends its size"), "{out}");
    // Swapping the checkpoints does not prove anything.
    let swapped = [
        "check-proof",
        "proof",
        "--consistency",
        "--old",
        "new",
        "--new",
        "old",
        "--log-vkey-file",
        "vkey",
    ];
    fails(dir.path(), &swapped);
}

#[test]
fn a_report_is_confirmed_from_the_store_and_from_a_bundle_and_an_edited_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = ledger().join("data");
    let data = data.to_str().unwrap();
    ok(dir.path(), &["export", "--data", data, "--out", "bundle"]);
    for (name, format) in [("funds.json", "json"), ("funds.csv", "csv")] {
        ok(
            dir.path(),
            &[
                "report", "--data", data, "funds", "--year", "2016", "--format", format, "--out",
                name,
            ],
        );
        let out = ok(dir.path(), &["report", "--data", data, "verify", name]);
        assert!(out.contains("exactly what the ledger gives"), "{out}");
        let out = ok(
            dir.path(),
            &["report", "verify", name, "--bundle", "bundle"],
        );
        assert!(out.contains("exactly what the ledger gives"), "{out}");
    }
    // The report names the signed checkpoint it was computed from.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("funds.json")).unwrap())
            .unwrap();
    let checkpoint = report["stamp"]["checkpoint / 检查点"].as_str().unwrap();
    assert!(checkpoint.contains("\n\n— "), "a signed note: {checkpoint}");

    // One amount changed in the CSV: refused, and the line is named.
    let csv = std::fs::read_to_string(dir.path().join("funds.csv")).unwrap();
    let last = csv.lines().last().unwrap().to_owned();
    let edited = last.replacen(".00", ".50", 1);
    assert_ne!(edited, last);
    std::fs::write(dir.path().join("edited.csv"), csv.replace(&last, &edited)).unwrap();
    let out = fails(
        dir.path(),
        &["report", "verify", "edited.csv", "--bundle", "bundle"],
    );
    assert!(out.contains("line"), "{out}");
}
