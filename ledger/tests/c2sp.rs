//! Cross-checks of the C2SP formats (`note`, `checkpoint`, `cosignature`, `tlog_proof`) against
//! independent implementations, both ways: what we write, they read and verify; what they write,
//! we read and verify.
//!
//! - `signed_note` 0.2: Cloudflare's Rust port of Go's `golang.org/x/mod/sumdb/note` (notes, Ed25519
//!   note keys, vkeys, key IDs).
//! - `tlog_tiles` 0.2: its port of Go's `sumdb/tlog` (checkpoint bodies, inclusion and
//!   consistency proof checks).
//!
//! Neither crate implements tlog-cosignature (key type 0x04). For cosignatures, `signed_note`
//! still parses the note, computes the key ID and matches signatures to keys, while the
//! cosignature message and its 72-byte signature are written here, in this file, from the text of
//! c2sp.org/tlog-cosignature, without using our `cosignature` module. The real-world witness
//! cosignature checked in `cosignature`'s unit tests is the fully independent vector.

use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::{self, Cosigner, CosignerKey};
use bangfu_ledger::merkle::{self, CompactRange, Hash};
use bangfu_ledger::note::{Note, Signer, Verifier as _, VerifierKey};
use bangfu_ledger::tlog_proof::{self, TlogProof};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::OsRng;
use signed_note::{StandardSigner, StandardVerifier, VerifierList};

const ORIGIN: &str = "bangfu.example/log";

/// A log of `n` entries: stored hashes (Go's layout, shared by `tlog_tiles`) and leaf hashes.
fn build_log(n: u64) -> (Vec<Hash>, Vec<Hash>, Hash) {
    let (mut cr, mut store, mut leaves) = (CompactRange::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let leaf = merkle::leaf_hash(format!("{{\"index\":{i}}}").as_bytes());
        leaves.push(leaf);
        store.extend(cr.append(leaf).into_iter().map(|s| s.hash));
    }
    (store, leaves, cr.root())
}

fn tt(h: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h.0)
}

/// Our stored hashes, read by `tlog_tiles`' proof generators.
struct Store(Vec<Hash>);

impl tlog_tiles::HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| tt(&self.0[i as usize])).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Cosignature v1, written here from the spec text, independently of `bangfu_ledger::cosignature`.

const COSIGNATURE_V1: u8 = 0x04;

fn spec_cosigned_message(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(body);
    m
}

fn spec_cosigner_key_id(name: &str, key: &VerifyingKey) -> u32 {
    signed_note::key_id(name, &[&[COSIGNATURE_V1][..], key.as_bytes()].concat())
}

struct SpecCosignatureVerifier {
    name: String,
    key: VerifyingKey,
}

impl signed_note::Verifier for SpecCosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        spec_cosigner_key_id(&self.name, &self.key)
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // timestamped_signature: u64 timestamp, big-endian, then the 64-byte Ed25519 signature.
        if sig.len() != 72 {
            return false;
        }
        let timestamp = u64::from_be_bytes(sig[..8].try_into().unwrap());
        let sig = ed25519_dalek::Signature::from_bytes(sig[8..].try_into().unwrap());
        timestamp <= i64::MAX as u64
            && self
                .key
                .verify_strict(&spec_cosigned_message(timestamp, msg), &sig)
                .is_ok()
    }
}

struct SpecCosigner {
    name: String,
    key: SigningKey,
    timestamp: u64,
}

impl signed_note::Signer for SpecCosigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        spec_cosigner_key_id(&self.name, &self.key.verifying_key())
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let sig = self.key.sign(&spec_cosigned_message(self.timestamp, msg));
        Ok([&self.timestamp.to_be_bytes()[..], &sig.to_bytes()[..]].concat())
    }
}

// ---------------------------------------------------------------------------------------------
// Ours → theirs

#[test]
fn our_signed_checkpoint_verifies_with_signed_note_and_parses_with_tlog_tiles() {
    let log = Signer::new(ORIGIN, SigningKey::generate(&mut OsRng)).unwrap();
    for n in [0u64, 1, 5, 1000] {
        let (_, _, root) = build_log(n);
        let note = Checkpoint::new(ORIGIN, n, root).sign(&log).unwrap();
        let bytes = note.format().unwrap();

        // Our vkey string is accepted by the Go port as is.
        let verifier = StandardVerifier::new(&log.verifier_key().to_string()).unwrap();
        let theirs = signed_note::Note::from_bytes(bytes.as_bytes()).unwrap();
        let (verified, unverified) = theirs
            .verify(&VerifierList::new(vec![Box::new(verifier.clone())]))
            .unwrap();
        assert_eq!(verified.len(), 1);
        assert!(unverified.is_empty());
        assert_eq!(verified[0].id().to_be_bytes(), log.key_id());
        assert_eq!(theirs.to_bytes(), bytes.as_bytes());

        let body = tlog_tiles::Checkpoint::from_bytes(theirs.text()).unwrap();
        assert_eq!(body.origin(), ORIGIN);
        assert_eq!(body.size(), n);
        assert_eq!(body.hash().0, root.0);
        assert_eq!(body.extension(), "");

        // Both reject the same tampering.
        let forged = bytes.replace(&format!("\n{n}\n"), &format!("\n{}\n", n + 1));
        let theirs = signed_note::Note::from_bytes(forged.as_bytes()).unwrap();
        assert!(
            theirs
                .verify(&VerifierList::new(vec![Box::new(verifier)]))
                .is_err()
        );
        assert!(Checkpoint::open(forged.as_bytes(), &log.verifier_key()).is_err());
    }
}

#[test]
fn our_cosignature_verifies_with_an_independent_cosignature_verifier() {
    let log = Signer::new(ORIGIN, SigningKey::generate(&mut OsRng)).unwrap();
    let witness = Cosigner::new("witness.example/w1", SigningKey::generate(&mut OsRng)).unwrap();
    let (_, _, root) = build_log(42);
    let mut note = Checkpoint::new(ORIGIN, 42, root).sign(&log).unwrap();
    witness.cosign_note(&mut note, 1_750_000_000).unwrap();
    let bytes = note.format().unwrap();

    // The witness vkey names the key the same way: <name>+<key ID>+base64(0x04 || key).
    let wkey = witness.cosigner_key();
    let expected_vkey = format!(
        "witness.example/w1+{:08x}+{}",
        spec_cosigner_key_id("witness.example/w1", wkey.public_key()),
        STANDARD.encode([&[COSIGNATURE_V1][..], wkey.public_key().as_bytes()].concat())
    );
    assert_eq!(wkey.to_string(), expected_vkey);

    let theirs = signed_note::Note::from_bytes(bytes.as_bytes()).unwrap();
    let known = VerifierList::new(vec![
        Box::new(StandardVerifier::new(&log.verifier_key().to_string()).unwrap()),
        Box::new(SpecCosignatureVerifier {
            name: "witness.example/w1".into(),
            key: *wkey.public_key(),
        }),
    ]);
    let (verified, unverified) = theirs.verify(&known).unwrap();
    assert_eq!(verified.len(), 2, "the log's signature and the cosignature");
    assert!(unverified.is_empty());

    // A cosignature over another timestamp than the one it states does not verify there either.
    let mut altered = note.clone();
    altered.signatures[1].sig[7] ^= 1;
    let theirs = signed_note::Note::from_bytes(altered.format().unwrap().as_bytes()).unwrap();
    assert!(theirs.verify(&known).is_err());
    assert!(cosignature::verify(&altered, std::slice::from_ref(wkey)).is_err());
}

#[test]
fn our_proofs_check_with_tlog_tiles() {
    let log = Signer::new(ORIGIN, SigningKey::generate(&mut OsRng)).unwrap();
    let (store, leaves, root) = build_log(37);
    let checkpoint = Checkpoint::new(ORIGIN, 37, root).sign(&log).unwrap();
    for index in [0u64, 1, 17, 31, 32, 36] {
        let proof = TlogProof {
            extra: None,
            index,
            path: merkle::inclusion_proof(37, index, &store).unwrap(),
            checkpoint: checkpoint.clone(),
        };
        let text = proof.format().unwrap();
        // Read the tlog-proof with a few lines of code written from the spec, not with ours.
        let (head, note) = text.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
        let got_index: u64 = lines
            .next()
            .unwrap()
            .strip_prefix("index ")
            .unwrap()
            .parse()
            .unwrap();
        let path: Vec<tlog_tiles::Hash> = lines
            .map(|l| tlog_tiles::Hash::parse_hash(l).unwrap())
            .collect();
        let note = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
        let verifier = StandardVerifier::new(&log.verifier_key().to_string()).unwrap();
        note.verify(&VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
        let body = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
        tlog_tiles::check_record(
            &path,
            body.size(),
            *body.hash(),
            got_index,
            tt(&leaves[index as usize]),
        )
        .unwrap();
    }
    for old in [1u64, 6, 16, 36, 37] {
        let proof = merkle::consistency_proof(old, 37, &store).unwrap();
        let text = tlog_proof::format_consistency_proof(&proof);
        let theirs: Vec<tlog_tiles::Hash> = text
            .lines()
            .map(|l| tlog_tiles::Hash::parse_hash(l).unwrap())
            .collect();
        let old_root = merkle::tree_hash(old, &store).unwrap();
        tlog_tiles::check_tree(&theirs, 37, tt(&root), old, tt(&old_root)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Theirs → ours

#[test]
fn their_signed_checkpoint_opens_with_ours() {
    let (skey, vkey) = signed_note::generate_key(&mut OsRng, ORIGIN);
    let signer = StandardSigner::new(&skey).unwrap();
    let (_, _, root) = build_log(9);
    let body = tlog_tiles::Checkpoint::new(ORIGIN, 9, tt(&root), "").unwrap();
    let mut theirs = signed_note::Note::new(&body.to_bytes(), &[]).unwrap();
    theirs.add_sigs(&[&signer]).unwrap();
    let bytes = theirs.to_bytes();

    let key = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(key.to_string(), vkey);
    let (checkpoint, note) = Checkpoint::open(&bytes, &key).unwrap();
    assert_eq!(checkpoint, Checkpoint::new(ORIGIN, 9, root));
    assert_eq!(note.format().unwrap().as_bytes(), &bytes[..]);

    // Their key, made ours from the raw public key, gets the same key ID.
    let raw = STANDARD
        .decode(vkey.splitn(3, '+').nth(2).unwrap())
        .unwrap();
    let public = VerifyingKey::from_bytes(raw[1..].try_into().unwrap()).unwrap();
    assert_eq!(VerifierKey::new(ORIGIN, public).unwrap(), key);

    // Their tlog_tiles writes extension lines; we read them and the signature still verifies.
    let body = tlog_tiles::Checkpoint::new(ORIGIN, 9, tt(&root), "ext one\next-two\n").unwrap();
    let mut theirs = signed_note::Note::new(&body.to_bytes(), &[]).unwrap();
    theirs.add_sigs(&[&signer]).unwrap();
    let (checkpoint, _) = Checkpoint::open(&theirs.to_bytes(), &key).unwrap();
    assert_eq!(checkpoint.extensions, ["ext one", "ext-two"]);
}

#[test]
fn their_notes_with_several_signers_verify_with_ours() {
    let (skey_a, vkey_a) = signed_note::generate_key(&mut OsRng, "a.example");
    let (skey_b, vkey_b) = signed_note::generate_key(&mut OsRng, "b.example");
    let mut theirs = signed_note::Note::new(b"some text\n\nwith an empty line\n", &[]).unwrap();
    theirs
        .add_sigs(&[
            &StandardSigner::new(&skey_a).unwrap(),
            &StandardSigner::new(&skey_b).unwrap(),
        ])
        .unwrap();
    let note = Note::parse(&theirs.to_bytes()).unwrap();
    assert_eq!(note.text, "some text\n\nwith an empty line\n");
    let a = VerifierKey::parse(&vkey_a).unwrap();
    let b = VerifierKey::parse(&vkey_b).unwrap();
    let known = [b.clone(), a.clone()];
    let signed: Vec<&str> = note
        .verify(&known)
        .unwrap()
        .into_iter()
        .map(|k| k.name())
        .collect();
    assert_eq!(signed, ["a.example", "b.example"]);
}

#[test]
fn their_cosignature_verifies_with_ours() {
    let (skey, vkey) = signed_note::generate_key(&mut OsRng, ORIGIN);
    let (_, _, root) = build_log(3);
    let body = tlog_tiles::Checkpoint::new(ORIGIN, 3, tt(&root), "").unwrap();
    let witness_key = SigningKey::generate(&mut OsRng);
    let spec_cosigner = SpecCosigner {
        name: "witness.example/w2".into(),
        key: witness_key.clone(),
        timestamp: 1_700_000_123,
    };
    let mut theirs = signed_note::Note::new(&body.to_bytes(), &[]).unwrap();
    theirs
        .add_sigs(&[&StandardSigner::new(&skey).unwrap(), &spec_cosigner])
        .unwrap();

    let (_, note) =
        Checkpoint::open(&theirs.to_bytes(), &VerifierKey::parse(&vkey).unwrap()).unwrap();
    let trusted = [CosignerKey::new("witness.example/w2", witness_key.verifying_key()).unwrap()];
    assert_eq!(
        trusted[0].key_id(),
        spec_cosigner_key_id("witness.example/w2", &witness_key.verifying_key()).to_be_bytes()
    );
    let got = cosignature::verify(&note, &trusted).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].timestamp, 1_700_000_123);

    // And a cosignature by our Cosigner for the same checkpoint and time is byte-identical
    // (Ed25519 is deterministic), so both sides agree on the message, not merely on validity.
    let ours = Cosigner::new("witness.example/w2", witness_key)
        .unwrap()
        .cosign(&Checkpoint::new(ORIGIN, 3, root), 1_700_000_123)
        .unwrap();
    assert!(note.signatures.contains(&ours));
}

#[test]
fn their_proofs_verify_with_ours() {
    let (skey, vkey) = signed_note::generate_key(&mut OsRng, ORIGIN);
    let (store, leaves, root) = build_log(21);
    let store = Store(store);
    let body = tlog_tiles::Checkpoint::new(ORIGIN, 21, tt(&root), "").unwrap();
    let mut note = signed_note::Note::new(&body.to_bytes(), &[]).unwrap();
    note.add_sigs(&[&StandardSigner::new(&skey).unwrap()])
        .unwrap();
    let note = String::from_utf8(note.to_bytes()).unwrap();
    let key = VerifierKey::parse(&vkey).unwrap();
    for index in 0..21u64 {
        // A tlog-proof assembled by hand from tlog_tiles' audit path and signed_note's note.
        let path = tlog_tiles::prove_record(21, index, &store).unwrap();
        let mut text = format!("c2sp.org/tlog-proof@v1\nindex {index}\n");
        for h in &path {
            text.push_str(&format!("{h}\n"));
        }
        text.push('\n');
        text.push_str(&note);
        let proof = TlogProof::parse(text.as_bytes()).unwrap();
        let checkpoint = tlog_proof::verify(&proof, &leaves[index as usize], &key).unwrap();
        assert_eq!(checkpoint.size, 21);
        assert_eq!(proof.format().unwrap(), text);
    }
    for old in [1u64, 2, 13, 20, 21] {
        let path = tlog_tiles::prove_tree(21, old, &store).unwrap();
        let text: String = path.iter().map(|h| format!("{h}\n")).collect();
        let proof = tlog_proof::parse_consistency_proof(text.as_bytes()).unwrap();
        let old_root = merkle::tree_hash(old, &store.0).unwrap();
        merkle::verify_consistency(old, 21, &old_root, &root, &proof).unwrap();
    }
}
