//! The service end to end: answers and replays, who may read what, as-of and paging, proofs a
//! client can check, and a clean stop on SIGTERM.

use bangfu_ledger::Hash;
use bangfu_ledger::merkle;
use bangfu_tests::*;
use serde_json::json;

#[tokio::test]
async fn a_statement_is_appended_and_sending_it_again_returns_the_same_receipt() {
    let s = Service::start("e2e_append").await;
    let genesis = statement(
        "authority",
        "genesis",
        "authority/gulou",
        json!({"origin": "bangfu.example/gulou", "name": "鼓楼区委组织部", "holder": "person/org", "roles": ["coordinator"]}),
    );
    let (status, first) = s.post(genesis.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["index"], 0);
    assert_eq!(first["replayed"], false);
    assert!(first["leaf"].as_str().is_some_and(|l| l.len() == 44));
    assert!(first["events"].as_array().is_some_and(|e| !e.is_empty()));

    let (status, again) = s.post(genesis).await;
    assert_eq!(status, 200, "a replay is answered 200, not 201: {again}");
    assert_eq!(again["replayed"], true);
    for field in ["index", "leaf", "recorded_at", "events"] {
        assert_eq!(again[field], first[field], "{field}");
    }
    assert_eq!(s.size().await, 1);

    // The tree head names the log's origin and its one leaf.
    let (status, head) = s.get("/v1/tree-head").await;
    assert_eq!(status, 200);
    assert_eq!(head["origin"], "bangfu.example/gulou");
    // A one-leaf tree's root is its leaf hash.
    assert_eq!(head["root"], first["leaf"]);
}

#[tokio::test]
async fn each_role_reads_only_what_it_may() {
    let s = Service::start("e2e_access").await;
    setup_district(&s).await;
    s.caught_up().await;

    // Nobody unsigned reads personal data; the log itself is public.
    for path in [
        "/v1/households/h0",
        "/v1/households",
        "/v1/pairings/p2016:h0",
        "/v1/households/h0/timeline",
        "/v1/funds",
    ] {
        let (status, v) = s.get(path).await;
        assert_eq!(status, 401, "{path}: {v}");
        assert_eq!(v["error"]["code"], "unauthenticated");
    }
    for path in [
        "/v1/tree-head",
        "/v1/checkpoints",
        "/v1/entries?limit=2",
        "/v1/entries/0",
        "/v1/proofs/inclusion?index=1",
        "/v1/proofs/consistency?old_size=2",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert_eq!(s.get(path).await.0, 200, "{path}");
    }

    // Overseers read everything.
    for who in ["inspector", "evaluator", "authority"] {
        for path in [
            "/v1/households/h1",
            "/v1/households",
            "/v1/pairings?program=p2016",
        ] {
            let (status, v) = s.get_as(who, path).await;
            assert_eq!(status, 200, "{who} {path}: {v}");
        }
    }

    // A cadre reads their own household, not another cadre's.
    let (status, v) = s.get_as("c0", "/v1/households/h0").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["id"], "h0");
    assert!(
        v["data"].get("sensitive").is_none(),
        "no sealed fields in a read model"
    );
    assert_eq!(s.get_as("c0", "/v1/pairings/p2016:h0").await.0, 200);
    assert_eq!(s.get_as("c0", "/v1/households/h0/timeline").await.0, 200);
    assert_eq!(s.get_as("c0", "/v1/cadres/c0/pairings").await.0, 200);
    for path in [
        "/v1/households/h1",
        "/v1/pairings/p2016:h1",
        "/v1/households/h1/receipts",
        "/v1/households/h1/timeline",
        "/v1/households/h1/requests",
        "/v1/pairings/p2016:h1/compliance",
        "/v1/cadres/c1/pairings",
        "/v1/households",
        "/v1/programs/p2016/scores?year=2016",
    ] {
        let (status, v) = s.get_as("c0", path).await;
        assert_eq!(status, 403, "c0 {path}: {v}");
        assert_eq!(v["error"]["code"], "forbidden");
    }

    // A household's card reads its own record only.
    assert_eq!(s.get_as("card-h0", "/v1/households/h0").await.0, 200);
    assert_eq!(
        s.get_as("card-h0", "/v1/households/h0/receipts").await.0,
        200
    );
    for path in [
        "/v1/households/h1",
        "/v1/pairings/p2016:h1",
        "/v1/households",
    ] {
        assert_eq!(s.get_as("card-h0", path).await.0, 403, "card-h0 {path}");
    }

    // A fund's books: its manager and overseers; balances: any registered key.
    assert_eq!(s.get_as("manager", "/v1/funds/f1/trail").await.0, 200);
    assert_eq!(s.get_as("inspector", "/v1/funds/f1/trail").await.0, 200);
    assert_eq!(s.get_as("c0", "/v1/funds/f1/trail").await.0, 403);
    let (status, v) = s.get_as("card-h0", "/v1/funds/f1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["reconciliation"]["ok"], true);

    // Bad request signatures: signed for another path, too old, unknown or revoked key.
    let path = "/v1/households/h0";
    let other =
        bangfu_api::service::auth::authorization(&key("c0"), "GET", "/v1/households/h1", now_ms());
    let (status, v) = s.get_with(path, Some(other)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("bad_request_signature"))
    );
    let old = bangfu_api::service::auth::authorization(
        &key("c0"),
        "GET",
        path,
        now_ms() - 10 * 60 * 1000,
    );
    let (status, v) = s.get_with(path, Some(old)).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("request_expired"))
    );
    let (status, v) = s.get_as("stranger", path).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("key_unknown"))
    );
    let (status, v) = s.get_as("revoked", path).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("key_revoked"))
    );
    let (status, v) = s.get_with(path, Some("Bearer abc".into())).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("bad_authorization"))
    );
}

#[tokio::test]
async fn reads_page_and_answer_as_of_a_past_size() {
    let s = Service::start("e2e_as_of").await;
    let size = setup_district(&s).await;
    s.caught_up().await;

    // Pages: one household at a time, following `next`.
    let (status, first) = s.get_as("inspector", "/v1/households?limit=1").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["log_size"], size);
    assert_eq!(first["data"][0]["id"], "h0");
    let next = first["next"].as_str().expect("a next page").to_owned();
    let (_, second) = s
        .get_as("inspector", &format!("/v1/households?limit=1&after={next}"))
        .await;
    assert_eq!(second["data"][0]["id"], "h1");
    let last = second["next"].as_str().map(str::to_owned);
    if let Some(n) = last {
        let (_, third) = s
            .get_as("inspector", &format!("/v1/households?limit=1&after={n}"))
            .await;
        assert_eq!(third["data"].as_array().map(Vec::len), Some(0));
        assert!(third["next"].is_null());
    }

    // As of size 3 (genesis, unit, program) there was no household yet.
    let (status, v) = s.get_as("inspector", "/v1/households/h0?at_size=3").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (status, v) = s.get_as("inspector", "/v1/households?at_size=8").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["log_size"], 8);
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1));
    // Today's day covers the whole log; a day before it saw nothing.
    let (_, v) = s
        .get_as("inspector", "/v1/households?as_of=2015-12-31")
        .await;
    assert_eq!(v["log_size"], 0);
    let (status, v) = s
        .get_as("inspector", &format!("/v1/households?at_size={}", size + 1))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("bad_parameter"))
    );
    let (status, _) = s
        .get_as("inspector", "/v1/households?at_size=3&as_of=2016-01-01")
        .await;
    assert_eq!(status, 400);

    // Entries page by index.
    let (_, e) = s.get("/v1/entries?limit=5").await;
    assert_eq!(e["data"].as_array().map(Vec::len), Some(5));
    assert_eq!(e["next"], "4");
    let (_, e) = s.get("/v1/entries?after=4&limit=5").await;
    assert_eq!(e["data"][0]["index"], 5);
}

fn hash(v: &serde_json::Value) -> Hash {
    Hash::from_base64(v.as_str().expect("a hash")).expect("base64 hash")
}

#[tokio::test]
async fn proofs_verify_against_the_tree_heads() {
    let s = Service::start("e2e_proofs").await;
    let size = setup_district(&s).await;

    let (_, old) = s.get("/v1/tree-head?size=5").await;
    let (_, new) = s.get("/v1/tree-head").await;
    assert_eq!(new["size"], size);
    assert!(
        new["checkpoint"]
            .as_str()
            .is_some_and(|c| c.starts_with("bangfu.example/gulou\n"))
    );

    let (status, p) = s
        .get(&format!("/v1/proofs/inclusion?index=3&size={size}"))
        .await;
    assert_eq!(status, 200, "{p}");
    let path: Vec<Hash> = p["path"].as_array().unwrap().iter().map(hash).collect();
    merkle::verify_inclusion(3, size, &hash(&p["leaf"]), &path, &hash(&new["root"]))
        .expect("the inclusion proof verifies");

    let (status, c) = s.get("/v1/proofs/consistency?old_size=5").await;
    assert_eq!(status, 200, "{c}");
    let path: Vec<Hash> = c["path"].as_array().unwrap().iter().map(hash).collect();
    merkle::verify_consistency(5, size, &hash(&old["root"]), &hash(&new["root"]), &path)
        .expect("the consistency proof verifies");

    for bad in [
        "/v1/proofs/inclusion?index=999",
        "/v1/proofs/consistency?old_size=0",
        "/v1/proofs/consistency?old_size=9999",
        "/v1/entries?limit=0",
    ] {
        let (status, v) = s.get(bad).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (400, Some("bad_parameter")),
            "{bad}"
        );
    }
    let (status, v) = s.get("/v1/nowhere").await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("no_route"))
    );
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly() {
    let mut s = Service::start("e2e_sigterm").await;
    setup_district(&s).await;
    assert_eq!(s.terminate().await, Some(0));
}

#[tokio::test]
async fn the_anomaly_report_is_for_overseers_and_names_its_entries() {
    let s = Service::start("e2e_anomalies").await;
    let size = setup_district(&s).await;
    s.caught_up().await;
    // A visit recorded long after the day it claims: a late record (the rules allow 7 days).
    let late = statement(
        "c0",
        "record_visit",
        "pairing/p2016:h0",
        json!({"visit_id": "v1", "date": "2016-01-05", "kind": "routine", "diary": sealed("走访，了解孩子上学情况。")}),
    );
    let (status, v) = s.post(late).await;
    assert_eq!(status, 201, "{v}");
    s.caught_up().await;

    let (status, v) = s.get("/v1/anomalies").await;
    assert_eq!(status, 401, "unsigned: {v}");
    let (status, v) = s.get_as("c0", "/v1/anomalies").await;
    assert_eq!(
        status, 403,
        "a cadre does not read the inspectors' report: {v}"
    );
    let (status, v) = s
        .get_as("inspector", "/v1/anomalies?kind=late_record")
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["log_size"], size + 1, "{v}");
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "late_record" && f["entries"] == json!([size])),
        "{v}"
    );
    let (status, v) = s.get_as("inspector", "/v1/anomalies?kind=castle").await;
    assert_eq!(status, 400, "{v}");
}
