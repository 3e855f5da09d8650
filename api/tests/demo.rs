//! `bangfu demo` through the real binary: it builds a district the size of Gulou's program,
//! verifies it, refuses to overwrite it without --force, and leaves read models that
//! `bangfu show` answers from, a log key and ledger.json that `bangfu verify` and
//! `bangfu spot-check` use, and a spot-check draw anyone recomputes, from the bundle alone too.

use serde_json::Value;
use std::path::Path;
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
    assert!(
        next.iter()
            .any(|c| c.starts_with("bangfu spot-check verify"))
    );

    // Signed checkpoints and the vault: the last checkpoint covers the whole story, the draw's
    // was signed after 2016 closed, and `bangfu verify` (log key from the ledger.json the demo
    // wrote) checks them and the vault's rows, of which there are some.
    assert!(data.join("ledger.json").is_file() && data.join("log.key").is_file());
    assert_eq!(
        n(&full["checkpoint"]["size"]),
        entries,
        "{}",
        full["checkpoint"]
    );
    assert!(n(&spot["checkpoint_size"]) < entries);
    assert!(
        spot["checkpoint_signed_at"].as_str().unwrap() >= "2016-12-31T16:00:00.000Z",
        "{spot}"
    );
    assert!(n(&full["vault"]) > 0);
    let verified = json_of(&bangfu(&["verify", "--json"], &data), "verify");
    assert_eq!(verified["ok"], true, "{verified}");
    let report = &verified["report"];
    assert!(n(&report["vault_rows"]) > 0, "the vault is empty: {report}");
    // docs/spot-checks.md's example is this ledger's draw.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/spot-checks.md"
    ))
    .unwrap();
    for fact in [
        spot["checkpoint_root"].as_str().unwrap().to_owned(),
        format!("checkpoint size {}", n(&spot["checkpoint_size"])),
    ] {
        assert!(
            doc.contains(&fact),
            "docs/spot-checks.md's example is not the demo's draw ({fact}); update it"
        );
    }
    // The recorded draw is the sample of the checkpoint it names.
    let check = json_of(
        &bangfu(
            &["spot-check", "verify", "--campaign", CAMPAIGN, "--json"],
            &data,
        ),
        "spot-check verify",
    );
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(n(&check["checkpoint_size"]), n(&spot["checkpoint_size"]));
    assert_eq!(
        check["recorded"].as_array().unwrap().len() as i64,
        n(&spot["sample"])
    );

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
    assert_eq!(
        twin["checkpoint"], small["checkpoint"],
        "and signs the same checkpoints"
    );

    spot_checks_from_the_bundle_alone(&data, &dir.path().join("bundle"));
    spot_check_draw_records_and_verify_tells(&data);
}

const CAMPAIGN: &str = "qinghe2016-2016";

/// The acceptance point: the same sample is drawn from the export bundle alone, with the
/// checkpoint taken from the bundle's own entries.
fn spot_checks_from_the_bundle_alone(data: &Path, bundle: &Path) {
    let out = bangfu(&["export", "--out", bundle.to_str().unwrap()], data);
    assert!(
        out.status.success(),
        "export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offline = json_of(
        &bangfu(
            &[
                "spot-check",
                "verify",
                "--campaign",
                CAMPAIGN,
                "--bundle",
                bundle.to_str().unwrap(),
                "--json",
            ],
            data,
        ),
        "spot-check verify --bundle",
    );
    assert_eq!(offline["ok"], true, "{offline}");
    let entries = std::fs::read_to_string(bundle.join("entries.jsonl")).unwrap();
    let line = entries.lines().nth(n(&offline["index"]) as usize).unwrap();
    let entry: Value = serde_json::from_str(line).unwrap();
    let args = &entry["statement"]["body"]["args"];
    let note = bundle.join("draw-checkpoint");
    std::fs::write(&note, args["checkpoint"].as_str().unwrap()).unwrap();
    let drawn = json_of(
        &bangfu(
            &[
                "spot-check",
                "sample",
                "--program",
                "qinghe2016",
                "--year",
                "2016",
                "--bundle",
                bundle.to_str().unwrap(),
                "--checkpoint",
                note.to_str().unwrap(),
                "--json",
            ],
            data,
        ),
        "spot-check sample --bundle",
    );
    let households: Vec<&Value> = drawn["draw"]["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["household"])
        .collect();
    let recorded: Vec<&Value> = args["sample"].as_array().unwrap().iter().collect();
    assert_eq!(
        households, recorded,
        "the bundle alone gives the recorded sample"
    );
}

/// `spot-check draw` records a draw through the intake with the inspector's key; `verify` passes
/// it and fails, naming the households, a draw recorded with one household swapped.
fn spot_check_draw_records_and_verify_tells(data: &Path) {
    let key = data.join("inspector.key");
    let key = key.to_str().unwrap();
    let open = |campaign: &str| {
        let out = bangfu(
            &[
                "submit",
                "--key",
                key,
                "--command",
                "open_campaign",
                "--target",
                &format!("spot_check/{campaign}"),
                "--args",
                r#"{"program": "qinghe2016", "year": 2016}"#,
            ],
            data,
        );
        assert!(
            out.status.success(),
            "open {campaign}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Drawn already, and a campaign nobody opened: refused, with what to do.
    let again = bangfu(
        &[
            "spot-check",
            "draw",
            "--program",
            "qinghe2016",
            "--year",
            "2016",
            "--campaign",
            CAMPAIGN,
            "--key",
            key,
        ],
        data,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("spot-check verify"));
    let unopened = bangfu(
        &[
            "spot-check",
            "draw",
            "--program",
            "qinghe2016",
            "--year",
            "2016",
            "--campaign",
            "recheck",
            "--dry-run",
        ],
        data,
    );
    assert!(!unopened.status.success());
    assert!(String::from_utf8_lossy(&unopened.stderr).contains("open_campaign"));

    open("recheck");
    let drawn = json_of(
        &bangfu(
            &[
                "spot-check",
                "draw",
                "--program",
                "qinghe2016",
                "--year",
                "2016",
                "--campaign",
                "recheck",
                "--key",
                key,
                "--json",
            ],
            data,
        ),
        "spot-check draw",
    );
    assert!(drawn["recorded"]["index"].is_u64(), "{drawn}");
    let verified = bangfu(&["spot-check", "verify", "--campaign", "recheck"], data);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // Another campaign records the same checkpoint with one household swapped for another.
    open("forged");
    let sample: Vec<String> = drawn["draw"]["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["household"].as_str().unwrap().to_owned())
        .collect();
    let outsider = (1..=50)
        .map(|h| format!("h{h:03}"))
        .find(|h| !sample.contains(h))
        .unwrap();
    let mut forged = sample.clone();
    forged[0] = outsider.clone();
    let args =
        serde_json::json!({"checkpoint": drawn["draw"]["checkpoint"]["note"], "sample": forged});
    let out = bangfu(
        &[
            "submit",
            "--key",
            key,
            "--command",
            "record_draw",
            "--target",
            "spot_check/forged",
            "--args",
            &args.to_string(),
        ],
        data,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let caught = bangfu(
        &["spot-check", "verify", "--campaign", "forged", "--json"],
        data,
    );
    assert_eq!(caught.status.code(), Some(1), "a forged draw must fail");
    let report: Value = serde_json::from_slice(&caught.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["missing"], serde_json::json!([sample[0]]));
    assert_eq!(report["extra"], serde_json::json!([outsider]));
}
