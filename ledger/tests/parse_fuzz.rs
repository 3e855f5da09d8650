//! Hostile input never panics: statement and entry parsing, timestamps, and the verifier, fed
//! random bytes and random mutations of valid entries, return errors.

use bangfu_ledger::entry::Entry;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use bangfu_ledger::verify::{Authorizer, Verifier};
use proptest::prelude::*;
use serde_json::json;

struct AnyKey;
impl Authorizer for AnyKey {
    fn authorize(&mut self, _: &Entry) -> Result<(), String> {
        Ok(())
    }
}

fn valid_entry() -> Vec<u8> {
    let sk = SigningKey::from_bytes(&[3; 32]);
    let body = Body {
        id: StatementId::from_random_bytes([1; 16]),
        command: CommandName::parse("record_visit").unwrap(),
        target: Target::parse("pairing/p-1").unwrap(),
        args: json!({"cash_fen": 100, "note": "走访"})
            .as_object()
            .unwrap()
            .clone(),
        signed_at: Timestamp::parse("2016-03-01T08:30:00.000Z").unwrap(),
        key: PublicKey::from(&sk),
    };
    let entry = Entry {
        index: 0,
        prev_root: bangfu_ledger::Hash::empty_root(),
        recorded_at: Timestamp::parse("2016-03-01T08:30:01.000Z").unwrap(),
        statement: Statement::sign(body, &sk).unwrap(),
        events: vec![],
    };
    entry.to_bytes().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Statement::from_slice(&bytes);
        let _ = Entry::from_bytes(&bytes);
        let _ = Timestamp::parse(&String::from_utf8_lossy(&bytes));
        let mut v = Verifier::new(AnyKey);
        let _ = v.push(&bytes);
    }

    #[test]
    fn mutated_entries_never_panic_and_never_verify_a_changed_statement(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6)
    ) {
        let good = valid_entry();
        let mut bytes = good.clone();
        for (at, byte, op) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        let mut v = Verifier::new(AnyKey);
        let pushed = v.push(&bytes).and_then(|_| v.finish().map(|_| ()));
        // Unsigned fields (recorded_at) may change and still verify on their own (the Merkle root
        // against a checkpoint catches that); a changed *statement* must never verify.
        if pushed.is_ok() {
            let original = Entry::from_bytes(&good).unwrap().statement;
            prop_assert_eq!(Entry::from_bytes(&bytes).unwrap().statement, original);
        }
    }
}

#[test]
fn the_unmutated_entry_verifies() {
    let mut v = Verifier::new(AnyKey);
    v.push(&valid_entry()).unwrap();
    v.finish().unwrap();
}
