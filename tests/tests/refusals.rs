//! One test per reason a statement is refused, in the intake's order. Each checks the status, the
//! code, that the message says what to fix, and that the log did not change.

use bangfu_tests::*;
use serde_json::{Value, json};

/// A service with the small district in it, and its size.
async fn ready(name: &str) -> (Service, u64) {
    let s = Service::start(name).await;
    let size = setup_district(&s).await;
    (s, size)
}

/// Sends `body`, expects the refusal, and checks that nothing changed.
async fn refused(s: &Service, size: u64, body: Vec<u8>, status: u16, code: &str, fix: &str) {
    let (got, v) = s.post(body).await;
    assert_eq!(got, status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(fix),
        "the message should say {fix:?}: {message}"
    );
    // Bilingual: Chinese first, then English.
    assert!(
        message
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{message}"
    );
    assert_eq!(s.size().await, size, "a refused statement changed the log");
}

fn a_unit(signer: &str, id: &str) -> Vec<u8> {
    statement(
        signer,
        "register_unit",
        &format!("unit/{id}"),
        json!({"name": "华林街道", "kind": "street_office", "parent": "gulou"}),
    )
}

#[tokio::test]
async fn too_large() {
    let (s, size) = ready("e2e_too_large").await;
    // Over the limit at the HTTP layer: the same JSON refusal, not a bare 413.
    let body = vec![b' '; bangfu_api::intake::MAX_BODY + 1];
    refused(&s, size, body, 413, "too_large", "split the work").await;
}

#[tokio::test]
async fn bad_json() {
    let (s, size) = ready("e2e_bad_json").await;
    refused(
        &s,
        size,
        b"{\"body\": {".to_vec(),
        400,
        "bad_json",
        "not well-formed JSON",
    )
    .await;
}

#[tokio::test]
async fn bad_schema() {
    let (s, size) = ready("e2e_bad_schema").await;
    let mut st: Value = serde_json::from_slice(&a_unit("authority", "hualin")).unwrap();
    st["body"]["args"]["kind"] = json!("castle");
    refused(
        &s,
        size,
        serde_json::to_vec(&st).unwrap(),
        422,
        "bad_schema",
        "bangfu commands",
    )
    .await;
}

#[tokio::test]
async fn not_nfc() {
    let (s, size) = ready("e2e_not_nfc").await;
    // "é" as e + combining acute: the same text, not in NFC.
    let text = String::from_utf8(a_unit("authority", "hualin"))
        .unwrap()
        .replace("华林街道", "Cafe\u{301}");
    refused(
        &s,
        size,
        text.into_bytes(),
        422,
        "not_canonical",
        "NFC strings",
    )
    .await;
}

#[tokio::test]
async fn bad_signature() {
    let (s, size) = ready("e2e_bad_signature").await;
    let mut st: Value = serde_json::from_slice(&a_unit("authority", "hualin")).unwrap();
    let other: Value = serde_json::from_slice(&a_unit("authority", "other")).unwrap();
    st["sig"] = other["sig"].clone();
    refused(
        &s,
        size,
        bangfu_ledger::jcs::to_vec(&st).unwrap(),
        401,
        "bad_signature",
        "sign the exact canonical body",
    )
    .await;
}

#[tokio::test]
async fn signed_at_out_of_window() {
    let (s, size) = ready("e2e_window").await;
    let four_days_ago = now_ms() - 4 * 24 * 3600 * 1000;
    let body = statement_with(
        fresh_id(),
        four_days_ago,
        "authority",
        "register_unit",
        "unit/hualin",
        json!({"name": "华林街道", "kind": "street_office"}),
    );
    refused(
        &s,
        size,
        body,
        422,
        "signed_at_out_of_window",
        "check the device clock",
    )
    .await;
}

#[tokio::test]
async fn key_unknown() {
    let (s, size) = ready("e2e_key_unknown").await;
    refused(
        &s,
        size,
        a_unit("stranger", "hualin"),
        401,
        "key_unknown",
        "ask a coordinator to register it",
    )
    .await;
}

#[tokio::test]
async fn key_revoked() {
    let (s, size) = ready("e2e_key_revoked").await;
    refused(
        &s,
        size,
        a_unit("revoked", "hualin"),
        401,
        "key_revoked",
        "sign with your current key",
    )
    .await;
}

#[tokio::test]
async fn role_not_allowed() {
    let (s, size) = ready("e2e_role").await;
    // A cadre may not register units.
    let (status, v) = s.post(a_unit("c0", "hualin")).await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "role_not_allowed");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("may not issue register_unit"), "{message}");
    assert_eq!(s.size().await, size);
}

#[tokio::test]
async fn id_reused() {
    let (s, size) = ready("e2e_id_reused").await;
    let first: Value = serde_json::from_slice(&a_unit("authority", "hualin")).unwrap();
    s.append(serde_json::to_vec(&first).unwrap()).await;
    let id = first["body"]["id"].as_str().unwrap();
    let again = statement_with(
        bangfu_ledger::statement::StatementId::parse(id).unwrap(),
        now_ms(),
        "authority",
        "register_unit",
        "unit/gulou2",
        json!({"name": "另一个", "kind": "bureau"}),
    );
    refused(
        &s,
        size + 1,
        again,
        409,
        "id_reused",
        "give every statement a fresh id",
    )
    .await;
}

#[tokio::test]
async fn domain_refusal() {
    let (s, size) = ready("e2e_domain").await;
    // A disbursement larger than the fund holds: the fund never goes below zero.
    let body = statement(
        "manager",
        "disburse",
        "fund/f1",
        json!({"disbursement_id": "d1", "household": "h0", "through": "c0",
               "help": {"form": "cash", "amount": 50000}, "purpose": "medical", "date": "2016-02-01"}),
    );
    let (status, v) = s.post(body).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "refused");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("less than"),
        "names both amounts: {message}"
    );
    assert_eq!(s.size().await, size);
}

/// A household registration whose ID number is sealed with a known salt, and that opening.
fn household_with_opening(id: &str) -> (Value, Value) {
    use bangfu_ledger::seal::{Opening, SALT_LEN};
    let opening = Opening::new(json!("350102199001011234"), [9u8; SALT_LEN]).unwrap();
    let st: Value = serde_json::from_slice(&statement(
        "authority",
        "register_household",
        &format!("household/{id}"),
        json!({"address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
               "category": "illness", "members": 2,
               "sensitive": {"hardship": district::sealed("透析"), "id_number": opening.commitment.to_json()},
               "date": "2016-01-04"}),
    ))
    .unwrap();
    (st, opening.to_json())
}

#[tokio::test]
async fn bad_opening() {
    let (s, size) = ready("e2e_bad_opening").await;
    // The value does not open the commitment it names.
    let (mut st, mut opening) = household_with_opening("h9");
    opening["value"] = json!("350102199001019999");
    st["openings"] = json!([opening]);
    refused(
        &s,
        size,
        serde_json::to_vec(&st).unwrap(),
        422,
        "bad_opening",
        "exactly as sealed",
    )
    .await;
    // An opening for a commitment the statement does not hold.
    let (mut st, _) = household_with_opening("h9");
    let stranger = bangfu_ledger::seal::Opening::new(json!("别人的"), [1u8; 16]).unwrap();
    st["openings"] = json!([stranger.to_json()]);
    refused(
        &s,
        size,
        serde_json::to_vec(&st).unwrap(),
        422,
        "bad_opening",
        "not sealed in this statement",
    )
    .await;
    // The right opening is taken, beside the statement.
    let (mut st, opening) = household_with_opening("h9");
    st["openings"] = json!([opening]);
    let (status, v) = s.post(serde_json::to_vec(&st).unwrap()).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(s.size().await, size + 1);
    // …and kept in the vault, where `bangfu verify` and `bangfu export` find it.
    use bangfu_store::backend::Backend;
    let backend = bangfu_store::postgres::PgBackend::connect(&s.db.url)
        .await
        .unwrap();
    let commitment =
        bangfu_ledger::Hash::from_base64(opening["commitment"].as_str().unwrap()).unwrap();
    let kept = backend.opening(&commitment).await.unwrap().unwrap();
    assert_eq!(kept.to_json(), opening);
}
