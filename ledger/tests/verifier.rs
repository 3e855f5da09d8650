//! The streaming verifier on a small log built here: an untouched log verifies to the right root;
//! each kind of tampering is reported at the first bad index with the right reason.

use bangfu_ledger::Hash;
use bangfu_ledger::entry::{Entry, Event};
use bangfu_ledger::merkle::{CompactRange, leaf_hash, root};
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use bangfu_ledger::verify::{Authorizer, Failure, Verifier, VerifyError};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// A minimal key policy standing in for the domain's: entry 0 registers its own signer; later keys
/// are registered or revoked by events; a signer must be registered and not revoked.
#[derive(Default)]
struct Keys {
    active: HashMap<String, HashSet<String>>,
}

impl Authorizer for Keys {
    fn authorize(&mut self, entry: &Entry) -> Result<(), String> {
        let signer = entry.statement.body.key.to_base64();
        if entry.index == 0 {
            if entry.statement.body.command.as_str() != "genesis" {
                return Err("entry 0 must be the genesis".into());
            }
        } else if !self.active.contains_key(&signer) {
            return Err(format!("key {signer} is not registered or was revoked"));
        }
        for e in &entry.events {
            let key = e
                .payload
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match e.event_type.as_str() {
                "key_registered" => {
                    self.active.insert(key, HashSet::new());
                }
                "key_revoked" => {
                    self.active.remove(&key);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

struct Log {
    range: CompactRange,
    entries: Vec<Vec<u8>>,
    seq: u64,
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

impl Log {
    fn new() -> Self {
        Log {
            range: CompactRange::new(),
            entries: Vec::new(),
            seq: 0,
        }
    }

    fn append(&mut self, signer: &SigningKey, command: &str, args: Value, event: (&str, Value)) {
        let index = self.range.size();
        self.seq += 1;
        let body = Body {
            id: StatementId::from_random_bytes([index as u8; 16]),
            command: CommandName::parse(command).unwrap(),
            target: Target::parse("authority/gulou").unwrap(),
            args: args.as_object().unwrap().clone(),
            signed_at: Timestamp::from_unix_millis(1_456_790_400_000 + index as i64).unwrap(),
            key: PublicKey::from(signer),
        };
        let entry = Entry {
            index,
            prev_root: self.range.root(),
            recorded_at: Timestamp::from_unix_millis(1_456_790_401_000 + index as i64).unwrap(),
            statement: Statement::sign(body, signer).unwrap(),
            events: vec![Event {
                aggregate_type: "authority".into(),
                aggregate_id: "gulou".into(),
                sequence: self.seq,
                event_type: event.0.into(),
                event_version: "1".into(),
                payload: event.1.as_object().unwrap().clone(),
            }],
        };
        let bytes = entry.to_bytes().unwrap();
        self.range.append(leaf_hash(&bytes));
        self.entries.push(bytes);
    }
}

/// Genesis by the authority and registration of a cadre; returns the log and both keys.
fn registered_cadre() -> (Log, SigningKey, SigningKey) {
    let (authority, cadre) = (key(1), key(2));
    let mut log = Log::new();
    let a = PublicKey::from(&authority).to_base64();
    let c = PublicKey::from(&cadre).to_base64();
    log.append(
        &authority,
        "genesis",
        json!({"origin": "bangfu.example/gulou"}),
        ("key_registered", json!({"key": a})),
    );
    log.append(
        &authority,
        "register_key",
        json!({"key": c}),
        ("key_registered", json!({"key": c})),
    );
    (log, authority, cadre)
}

/// `visits` visits by the registered cadre, with amounts 5000, 5001, …
fn visits(log: &mut Log, cadre: &SigningKey, visits: u64) {
    for i in 0..visits {
        log.append(
            cadre,
            "record_visit",
            json!({"amount_fen": 5000 + i}),
            ("visit_recorded", json!({"n": i})),
        );
    }
}

/// Genesis, registration of a cadre, 20 visits by the cadre, revocation of the cadre.
fn sample_log() -> Log {
    let (mut log, authority, cadre) = registered_cadre();
    visits(&mut log, &cadre, 20);
    let c = PublicKey::from(&cadre).to_base64();
    log.append(
        &authority,
        "revoke_key",
        json!({"key": c}),
        ("key_revoked", json!({"key": c})),
    );
    log
}

fn verify(entries: &[Vec<u8>]) -> Result<(u64, Hash), VerifyError> {
    let mut v = Verifier::new(Keys::default());
    for e in entries {
        v.push(e)?;
    }
    let (size, root, _) = v.finish()?;
    Ok((size, root))
}

fn first_failure(entries: &[Vec<u8>]) -> (u64, Failure) {
    let e = verify(entries).expect_err("tampering must be detected");
    (e.index, e.failure)
}

#[test]
fn untouched_log_verifies_to_its_root() {
    let log = sample_log();
    let leaves: Vec<Hash> = log.entries.iter().map(|e| leaf_hash(e)).collect();
    assert_eq!(verify(&log.entries).unwrap(), (23, root(&leaves)));
}

#[test]
fn a_changed_signed_byte_is_a_bad_signature_at_that_index() {
    let mut log = sample_log();
    let s = String::from_utf8(log.entries[7].clone()).unwrap();
    log.entries[7] = s
        .replace("\"amount_fen\":5005", "\"amount_fen\":9005")
        .into_bytes();
    assert_eq!(first_failure(&log.entries), (7, Failure::BadSignature));
}

#[test]
fn a_changed_unsigned_byte_breaks_the_next_prev_root() {
    let mut log = sample_log();
    let s = String::from_utf8(log.entries[7].clone()).unwrap();
    log.entries[7] = s.replace("T00:00:01.007Z", "T00:00:02.007Z").into_bytes();
    assert!(matches!(
        first_failure(&log.entries),
        (8, Failure::WrongPrevRoot { .. })
    ));
}

#[test]
fn a_deleted_or_swapped_entry_is_a_wrong_index() {
    let mut log = sample_log();
    log.entries.remove(5);
    assert_eq!(
        first_failure(&log.entries),
        (
            5,
            Failure::WrongIndex {
                expected: 5,
                found: 6
            }
        )
    );
    let mut log = sample_log();
    log.entries.swap(5, 6);
    assert_eq!(
        first_failure(&log.entries),
        (
            5,
            Failure::WrongIndex {
                expected: 5,
                found: 6
            }
        )
    );
}

#[test]
fn a_non_canonical_entry_is_malformed() {
    let mut log = sample_log();
    let s = String::from_utf8(log.entries[3].clone()).unwrap();
    log.entries[3] = s.replacen(",", ", ", 1).into_bytes();
    assert!(matches!(
        first_failure(&log.entries),
        (3, Failure::Malformed(_))
    ));
}

#[test]
fn unknown_and_revoked_keys_are_refused() {
    // Entry signed by a key nobody registered (the log rebuilt consistently around it).
    let mut log = sample_log();
    let intruder = key(9);
    log.append(
        &intruder,
        "record_visit",
        json!({"amount_fen": 1}),
        ("visit_recorded", json!({})),
    );
    let (index, failure) = first_failure(&log.entries);
    assert_eq!(index, 23);
    assert!(
        matches!(failure, Failure::Refused(ref why) if why.contains("not registered")),
        "{failure:?}"
    );
    // The cadre after revocation.
    let mut log = sample_log();
    log.append(
        &key(2),
        "record_visit",
        json!({"amount_fen": 1}),
        ("visit_recorded", json!({})),
    );
    assert!(matches!(
        first_failure(&log.entries),
        (23, Failure::Refused(_))
    ));
}

#[test]
fn an_earlier_bad_signature_is_reported_before_a_later_failure_in_the_same_batch() {
    let mut log = sample_log();
    let s = String::from_utf8(log.entries[4].clone()).unwrap();
    log.entries[4] = s
        .replace("\"amount_fen\":5002", "\"amount_fen\":5999")
        .into_bytes();
    log.entries.remove(15);
    assert_eq!(first_failure(&log.entries), (4, Failure::BadSignature));
}

#[test]
fn a_genesis_that_is_not_a_genesis_is_refused() {
    let mut log = Log::new();
    log.append(
        &key(1),
        "record_visit",
        json!({}),
        ("visit_recorded", json!({})),
    );
    assert!(matches!(
        first_failure(&log.entries),
        (0, Failure::Refused(_))
    ));
}

/// Genesis, registration of a cadre and `n` visits: enough entries for many chunks of
/// signatures to be in flight on the worker threads at once.
fn long_log(n: u64) -> Log {
    let (mut log, _, cadre) = registered_cadre();
    visits(&mut log, &cadre, n);
    log
}

/// Alters the signed amount of the visit at `index` (a long log's visit `index - 2`).
fn forge_amount(log: &mut Log, index: usize) {
    let amount = 5000 + index - 2;
    let s = String::from_utf8(log.entries[index].clone()).unwrap();
    let forged = s.replace(
        &format!("\"amount_fen\":{amount}"),
        &format!("\"amount_fen\":{}", amount + 1_000_000),
    );
    assert_ne!(s, forged);
    log.entries[index] = forged.into_bytes();
}

#[test]
fn with_many_chunks_in_flight_the_lowest_bad_index_is_reported() {
    let log = long_log(1_500);
    let leaves: Vec<Hash> = log.entries.iter().map(|e| leaf_hash(e)).collect();
    assert_eq!(verify(&log.entries).unwrap(), (1_502, root(&leaves)));

    // Two forged signatures far apart: the earlier one is named, whichever chunk finishes first.
    let mut two = long_log(1_500);
    forge_amount(&mut two, 1_333);
    forge_amount(&mut two, 301);
    assert_eq!(first_failure(&two.entries), (301, Failure::BadSignature));

    // A forged signature, then a removed entry hundreds of entries later, then the end.
    let mut removed = long_log(1_500);
    forge_amount(&mut removed, 130);
    removed.entries.remove(1_100);
    assert_eq!(
        first_failure(&removed.entries),
        (130, Failure::BadSignature)
    );

    // The very last entry: found only when the verifier finishes.
    let mut last = long_log(1_500);
    forge_amount(&mut last, 1_501);
    assert_eq!(first_failure(&last.entries), (1_501, Failure::BadSignature));
}
