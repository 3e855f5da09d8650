//! Inputs shared by the ledger's benchmarks, built with the crate's own types and real Ed25519
//! signatures, shaped like the entries a city-scale program writes. Everything derives from fixed
//! seeds, so two runs measure the same bytes.

use bangfu_ledger::Hash;
use bangfu_ledger::entry::{Entry, Event};
use bangfu_ledger::merkle::{CompactRange, leaf_hash};
use bangfu_ledger::seal::Opening;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::{Timestamp, civil_from_days};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// 2016-03-01T00:00:00.000Z, inside the programs' six years.
const START_MILLIS: i64 = 1_456_790_400_000;

const COMMUNITIES: [&str; 6] = [
    "东门社区",
    "西关社区",
    "南街社区",
    "北苑社区",
    "钟楼社区",
    "鼓楼社区",
];
const PROBLEMS: [&str; 5] = ["医疗", "住房", "就业", "就学", "低保"];

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The signing key of cadre `n`, derived from `n` (benchmarks need many distinct real keys).
pub fn cadre_key(n: u64) -> SigningKey {
    SigningKey::from_bytes(&sha256(&[b"bangfu bench cadre", &n.to_be_bytes()]))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("built as an object literal"),
    }
}

fn at(n: u64, offset_ms: i64) -> Timestamp {
    // One entry every 90 s or so, as at city scale (1M entries over six years).
    Timestamp::from_unix_millis(START_MILLIS + n as i64 * 90_000 + offset_ms)
        .expect("within the six years")
}

fn date_of(t: Timestamp) -> String {
    let (y, m, d) = civil_from_days(t.unix_millis().div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

fn statement_id(n: u64) -> StatementId {
    let mut b = [0u8; 16];
    b.copy_from_slice(&sha256(&[b"bangfu bench id", &n.to_be_bytes()])[..16]);
    StatementId::from_random_bytes(b)
}

fn sealed(text: &str, n: u64) -> Value {
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&sha256(&[b"bangfu bench salt", &n.to_be_bytes()])[..16]);
    Opening::new(json!(text), salt)
        .expect("a plain string seals")
        .commitment
        .to_json()
}

/// Entry `index` of a log whose root before it is `prev_root`: a cadre's `record_visit` with a
/// sealed diary and the `visit_recorded` event it produces — the commonest entry of a program
/// (about 850 bytes). As in the demo program, some visits also carry a photo hash (3 in 10) or a
/// problem tag (3 in 20).
pub fn visit_entry(index: u64, prev_root: Hash, signer: &SigningKey) -> Entry {
    let household = index % 16_000;
    let signed_at = at(index, 0);
    let visit_id = format!("v{index:07}");
    let date = date_of(signed_at);
    let community = COMMUNITIES[(household % 6) as usize];
    let diary = sealed(&format!("走访记录 {visit_id}：了解家庭近况"), index);
    let photos: Vec<String> = (index % 10 < 3)
        .then(|| Hash(sha256(&[b"photo", visit_id.as_bytes()])).to_base64())
        .into_iter()
        .collect();
    let problems: Vec<&str> = (index % 20 < 3)
        .then_some(PROBLEMS[(index % 5) as usize])
        .into_iter()
        .collect();
    let mut args = json!({
        "visit_id": visit_id, "date": date, "kind": "routine", "diary": diary,
        "location": community,
    });
    if !photos.is_empty() {
        args["photos"] = json!(photos);
    }
    if !problems.is_empty() {
        args["problems"] = json!(problems);
    }
    let cadre = format!("c{:05}", index % 10_000);
    let body = Body {
        id: statement_id(index),
        command: CommandName::parse("record_visit").expect("a command name"),
        target: Target::parse(&format!("pairing/gulou-2016:h{household:05}")).expect("a target"),
        args: obj(args),
        signed_at,
        key: PublicKey::from(signer),
    };
    // The event spells out every field, empty lists included, as the aggregate's event type does.
    let payload = json!({
        "visit_id": visit_id, "cadre": cadre, "date": date, "kind": "routine", "diary": diary,
        "problems": problems, "photos": photos, "location": community,
    });
    Entry {
        index,
        prev_root,
        recorded_at: at(index, 1_234),
        statement: Statement::sign(body, signer).expect("the body's key is the signer's"),
        events: vec![Event {
            aggregate_type: "pairing".into(),
            aggregate_id: format!("gulou-2016:h{household:05}"),
            sequence: index / 16_000 + 2,
            event_type: "visit_recorded".into(),
            event_version: "1.0".into(),
            payload: obj(payload),
        }],
    }
}

/// A large entry (about 40 KiB): an in-kind donation listing `items` goods, each with a name,
/// quantity and unit value in fen, echoed in its event — the size of the biggest statements a
/// program sees (long item lists, program rules).
pub fn large_entry(index: u64, prev_root: Hash, signer: &SigningKey, items: usize) -> Entry {
    let goods: Vec<Value> = (0..items)
        .map(|i| {
            json!({"name": format!("大米（5公斤装）第{i}批"), "quantity": 1 + i % 7,
                   "unit_value": 4_500 + 10 * i as i64})
        })
        .collect();
    let help = json!({"form": "in_kind", "items": goods});
    let signed_at = at(index, 0);
    let date = date_of(signed_at);
    let body = Body {
        id: statement_id(index),
        command: CommandName::parse("record_personal_donation").expect("a command name"),
        target: Target::parse("pairing/gulou-2016:h00042").expect("a target"),
        args: obj(json!({"donation_id": "d0042", "date": date, "help": help,
                         "purpose": "春节慰问，送米送油"})),
        signed_at,
        key: PublicKey::from(signer),
    };
    let payload = json!({"donation_id": "d0042", "cadre": "c00042", "date": date, "help": help,
                         "purpose": "春节慰问，送米送油"});
    Entry {
        index,
        prev_root,
        recorded_at: at(index, 1_234),
        statement: Statement::sign(body, signer).expect("the body's key is the signer's"),
        events: vec![Event {
            aggregate_type: "pairing".into(),
            aggregate_id: "gulou-2016:h00042".into(),
            sequence: 7,
            event_type: "personal_donation_recorded".into(),
            event_version: "1.0".into(),
            payload: obj(payload),
        }],
    }
}

/// The canonical bytes of a typical entry (a visit with neither photo nor problem tag) and of a
/// large one (about 40 KiB).
pub fn sample_entries() -> (Vec<u8>, Vec<u8>) {
    let key = cadre_key(7);
    let root = Hash(sha256(&[b"some earlier root"]));
    let typical = visit_entry(123_456, root, &key)
        .to_bytes()
        .expect("canonical");
    let large = large_entry(123_457, root, &key, 265)
        .to_bytes()
        .expect("canonical");
    (typical, large)
}

/// `n` consecutive entries from index 0, each chained to the root of those before it and signed
/// by one of `cadres` distinct cadres in turn: a valid log for the streaming verifier.
pub fn log(n: u64, cadres: u64) -> Vec<Vec<u8>> {
    let keys: Vec<SigningKey> = (0..cadres.min(n)).map(cadre_key).collect();
    let mut range = CompactRange::new();
    (0..n)
        .map(|i| {
            let entry = visit_entry(i, range.root(), &keys[(i % cadres) as usize]);
            let bytes = entry.to_bytes().expect("canonical");
            range.append(leaf_hash(&bytes));
            bytes
        })
        .collect()
}

/// The stored hashes of a tree of `n` leaves, in the layout of `merkle::stored_hash_index`, as a
/// store holds them.
pub fn stored_hashes(n: u64) -> Vec<Hash> {
    let mut range = CompactRange::new();
    let mut stored = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let leaf = leaf_hash(&i.to_be_bytes());
        stored.extend(range.append(leaf).into_iter().map(|s| s.hash));
    }
    stored
}

/// The `i`-th of a fixed pseudo-random sequence in `0..n`, so successive proofs take different
/// paths through the tree instead of one path the caches already hold.
pub fn spread(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x632B_E59B)
        % n
}
