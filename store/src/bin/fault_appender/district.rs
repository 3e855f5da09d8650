//! A generator of valid signed statements for a small district: genesis, keys, units, cadres,
//! households, a program, pairings and visits. Shared by the fault appender and the store's tests
//! (which include this file by path), so both drive the real domain the same way.
#![allow(dead_code)]

use bangfu_ledger::seal::{Opening, SALT_LEN};
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{
    Body, CommandName, Statement, StatementId, Target, VerifiedStatement,
};
use bangfu_ledger::time::Timestamp;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

pub fn key(name: &str) -> SigningKey {
    let mut seed = [0u8; 32];
    for (i, b) in name.bytes().enumerate() {
        seed[i % 32] = seed[i % 32].wrapping_mul(31).wrapping_add(b);
    }
    seed[31] ^= name.len() as u8;
    SigningKey::from_bytes(&seed)
}

pub fn b64key(name: &str) -> String {
    PublicKey::from(&key(name)).to_base64()
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A fresh statement id, unique within the test process.
pub fn fresh_id() -> StatementId {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Bytes 6 and 8 carry the UUID version and variant bits, so keep the counter and the process
    // id clear of them: process id in bytes 0–3, counter in bytes 9–15 (56 bits).
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&std::process::id().to_be_bytes());
    b[9..16].copy_from_slice(&n.to_be_bytes()[1..]);
    StatementId::from_random_bytes(b)
}

pub fn sign(signer: &str, command: &str, target: &str, args: Value) -> VerifiedStatement {
    sign_with_id(fresh_id(), signer, command, target, args)
}

pub fn sign_with_id(
    id: StatementId,
    signer: &str,
    command: &str,
    target: &str,
    args: Value,
) -> VerifiedStatement {
    let sk = key(signer);
    Statement::sign(
        Body {
            id,
            command: CommandName::parse(command).unwrap(),
            target: Target::parse(target).unwrap(),
            args: args.as_object().cloned().unwrap(),
            signed_at: Timestamp::parse("2016-01-04T01:00:00.000Z").unwrap(),
            key: PublicKey::from(&sk),
        },
        &sk,
    )
    .unwrap()
    .verified()
    .unwrap()
}

pub fn sealed(text: &str) -> Value {
    Opening::new(json!(text), [7u8; SALT_LEN])
        .unwrap()
        .commitment
        .to_json()
}

/// The statements that set up a district with `cadres` cadres and `households` households, each
/// household paired with one cadre.
pub fn district(cadres: usize, households: usize) -> Vec<VerifiedStatement> {
    let mut out = vec![
        sign(
            "authority",
            "genesis",
            "authority/gulou",
            json!({"origin": "bangfu.example/gulou", "name": "鼓楼区委组织部", "holder": "person/org", "roles": ["coordinator"]}),
        ),
        sign(
            "authority",
            "register_unit",
            "unit/gulou",
            json!({"name": "鼓楼区", "kind": "bureau"}),
        ),
        sign(
            "authority",
            "create_program",
            "program/p2016",
            json!({"name": "结对帮扶 2016", "rules": {
                "min_visits_per_quarter": 1, "festivals": [], "spot_check_per_mille": 100,
                "late_after_days": 7,
                "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                            "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}}}),
        ),
    ];
    for c in 0..cadres {
        out.push(sign(
            "authority",
            "register_cadre",
            &format!("cadre/c{c}"),
            json!({"name": format!("干部{c}"), "unit": "gulou", "rank": "section", "party_member": true, "date": "2016-01-04"}),
        ));
        out.push(sign(
            "authority",
            "register_key",
            "authority/gulou",
            json!({"key": b64key(&format!("c{c}")), "holder": format!("cadre/c{c}"), "roles": ["cadre"]}),
        ));
    }
    for h in 0..households {
        out.push(sign(
            "authority",
            "register_household",
            &format!("household/h{h}"),
            json!({"address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
                   "category": "illness", "members": 3,
                   "sensitive": {"hardship": sealed("透析"), "id_number": sealed("350102")},
                   "date": "2016-01-04"}),
        ));
        let c = h % cadres.max(1);
        out.push(sign(
            "authority",
            "form_pairing",
            &format!("pairing/p2016:h{h}"),
            json!({"program": "p2016", "household": format!("h{h}"), "cadres": [format!("c{c}")], "lead": format!("c{c}"), "date": "2016-01-04"}),
        ));
    }
    out
}

/// A visit by household `h`'s cadre (of `cadres`), with a fresh visit id.
pub fn visit(h: usize, cadres: usize, n: u64) -> VerifiedStatement {
    let c = h % cadres.max(1);
    sign(
        &format!("c{c}"),
        "record_visit",
        &format!("pairing/p2016:h{h}"),
        json!({"visit_id": format!("v{n}"), "date": "2016-01-05", "kind": "routine", "diary": sealed("走访")}),
    )
}
