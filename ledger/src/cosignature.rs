//! C2SP tlog-cosignature v1, Ed25519 (<https://c2sp.org/tlog-cosignature>): a witness's
//! timestamped statement that a checkpoint is the largest consistent tree head it has seen.
//!
//! A cosignature is one more signature line on the checkpoint note:
//!
//! ```text
//! key ID    = SHA-256(<name> || "\n" || 0x04 || 32-byte public key)[:4]
//! signature = key ID (4) || timestamp, u64 big-endian (8) || Ed25519 signature (64)
//! message   = "cosignature/v1\n" || "time <timestamp>\n" || checkpoint body
//! ```
//!
//! The timestamp is POSIX seconds and at most 2^63 − 1. A witness must cosign only after
//! checking a consistency proof from the last checkpoint it cosigned; this module only signs and
//! verifies. Verification never consults a clock: callers get the timestamps and judge them.

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::note::{self, Note, NoteError, NoteSignature, Verifier};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::fmt;

/// Signature type byte of timestamped Ed25519 witness cosignatures.
pub const KEY_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The largest timestamp the spec allows, 2^63 − 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Length of the signature bytes after the key ID: timestamp and Ed25519 signature.
const SIG_LEN: usize = 8 + 64;

/// Why a cosignature could not be made or checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CosignatureError {
    /// A malformed key or note, or a cosignature by a trusted witness that does not verify.
    Note(NoteError),
    /// The text to cosign is not a well-formed checkpoint.
    Checkpoint(CheckpointError),
    TimestampOutOfRange(u64),
}

impl fmt::Display for CosignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CosignatureError::Note(e) => write!(f, "cosignature: {e}"),
            CosignatureError::Checkpoint(e) => write!(f, "cosignature: {e}"),
            CosignatureError::TimestampOutOfRange(t) => write!(
                f,
                "cosignature timestamp {t} is above 2^63 - 1; use seconds since the Unix epoch"
            ),
        }
    }
}

impl std::error::Error for CosignatureError {}

impl From<NoteError> for CosignatureError {
    fn from(e: NoteError) -> Self {
        CosignatureError::Note(e)
    }
}

impl From<CheckpointError> for CosignatureError {
    fn from(e: CheckpointError) -> Self {
        CosignatureError::Checkpoint(e)
    }
}

/// The message an Ed25519 v1 cosignature signs: header line, time line, then the checkpoint body.
pub fn signed_message(timestamp: u64, checkpoint_text: &str) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}")
}

/// The timestamp a cosignature claims, if it has the length of an Ed25519 v1 cosignature. Not
/// verified: use [`verify`] for that.
pub fn timestamp(sig: &NoteSignature) -> Option<u64> {
    let time = sig
        .sig
        .first_chunk::<8>()
        .filter(|_| sig.sig.len() == SIG_LEN)?;
    Some(u64::from_be_bytes(*time))
}

/// A trusted witness's public key (type 0x04). Its `Display` is the vkey string
/// `<name>+<key ID hex>+<base64(0x04 || public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignerKey, NoteError> {
        if !note::is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        note::check_public_key(&key)?;
        Ok(CosignerKey {
            name: name.to_owned(),
            key_id: note::key_id(name, KEY_TYPE_COSIGNATURE_V1, &key),
            key,
        })
    }

    /// Parses a witness vkey of type 0x04 and checks its key ID. A plain Ed25519 (0x01) vkey is
    /// refused rather than converted: the type says how the witness signs.
    pub fn parse(vkey: &str) -> Result<CosignerKey, NoteError> {
        let (name, key_id, key) = note::parse_vkey(vkey, KEY_TYPE_COSIGNATURE_V1)?;
        Ok(CosignerKey { name, key_id, key })
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl Verifier for CosignerKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> [u8; 4] {
        self.key_id
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        let Some((time, sig)) = sig.split_first_chunk::<8>() else {
            return false;
        };
        let time = u64::from_be_bytes(*time);
        // verify_ed25519 checks that 64 signature bytes follow.
        time <= MAX_TIMESTAMP
            && note::verify_ed25519(&self.key, signed_message(time, text).as_bytes(), sig)
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        note::format_vkey(
            f,
            &self.name,
            &self.key_id,
            KEY_TYPE_COSIGNATURE_V1,
            &self.key,
        )
    }
}

/// A witness's signing key with its name.
pub struct Cosigner {
    key: CosignerKey,
    signing: SigningKey,
}

impl Cosigner {
    pub fn new(name: &str, signing: SigningKey) -> Result<Cosigner, NoteError> {
        let key = CosignerKey::new(name, signing.verifying_key())?;
        Ok(Cosigner { key, signing })
    }

    pub fn cosigner_key(&self) -> &CosignerKey {
        &self.key
    }

    /// Cosigns `checkpoint` at `timestamp` (POSIX seconds). Call only after checking the log's
    /// signature and a consistency proof from the last checkpoint this witness cosigned.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampOutOfRange(timestamp));
        }
        let message = signed_message(timestamp, &checkpoint.format()?);
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&self.signing.sign(message.as_bytes()).to_bytes());
        Ok(NoteSignature {
            name: self.key.name.clone(),
            key_id: self.key.key_id,
            sig,
        })
    }

    /// Cosigns the checkpoint that is `note`'s text and attaches the cosignature to the note,
    /// replacing an earlier one by this witness. Refuses a note whose text is not a checkpoint.
    pub fn cosign_note(&self, note: &mut Note, timestamp: u64) -> Result<(), CosignatureError> {
        let checkpoint = Checkpoint::parse(&note.text)?;
        note.add_signature(self.cosign(&checkpoint, timestamp)?);
        Ok(())
    }
}

/// A verified cosignature: which trusted witness, and the time it claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature<'k> {
    pub witness: &'k CosignerKey,
    pub timestamp: u64,
}

/// The trusted witnesses that cosigned the checkpoint in `note`, each once, with the latest time
/// each claims. A trusted witness's cosignature that does not verify is an error; a witness that
/// did not cosign is simply absent (witnesses may lag); signatures by other keys are ignored.
pub fn verify<'k>(
    note: &Note,
    witnesses: &'k [CosignerKey],
) -> Result<Vec<Cosignature<'k>>, CosignatureError> {
    let signed = note.verify(witnesses)?;
    Ok(signed
        .into_iter()
        .map(|witness| Cosignature {
            witness,
            timestamp: note
                .signatures
                .iter()
                .filter(|s| s.name == witness.name && s.key_id == witness.key_id)
                .filter_map(timestamp)
                .max()
                .unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::note::VerifierKey;
    use crate::note::tests::{edits, mutate, signer};
    use proptest::prelude::*;

    /// A real checkpoint of a Certificate Transparency test log (transparency.dev) with five
    /// cosignatures, used as a vector by other implementations (tlog_scales' tests).
    pub(crate) const ARCHE: &str = "arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
";
    /// The witness key of remora.n621.de (also in transparency-dev/formats' tests).
    const REMORA: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

    #[test]
    fn spec_example_parses_and_its_timestamp_matches_the_spec() {
        let msg = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
            — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let note = Note::parse(msg.as_bytes()).unwrap();
        Checkpoint::parse(&note.text).unwrap();
        let w = &note.signatures[1];
        assert_eq!(w.name, "witness.example.com/w1");
        // The spec's sample message says "time 1679315147".
        assert_eq!(timestamp(w), Some(1679315147));
        assert_eq!(
            signed_message(1679315147, &note.text),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        assert_eq!(note.format().unwrap(), msg);
    }

    #[test]
    fn transparency_dev_timestamp_vector() {
        let sig = crate::b64::decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==").unwrap();
        let sig = NoteSignature {
            name: "w".into(),
            key_id: sig[..4].try_into().unwrap(),
            sig: sig[4..].to_vec(),
        };
        assert_eq!(timestamp(&sig), Some(1727964367));
    }

    #[test]
    fn real_witness_cosignature_verifies() {
        let remora = CosignerKey::parse(REMORA).unwrap();
        assert_eq!(remora.to_string(), REMORA);
        let note = Note::parse(ARCHE.as_bytes()).unwrap();
        let got = verify(&note, std::slice::from_ref(&remora)).unwrap();
        assert_eq!(
            got,
            [Cosignature {
                witness: &remora,
                timestamp: 0x6a12_2120
            }]
        );
        // Change the tree size: the witness's cosignature no longer verifies.
        let altered = Note::parse(ARCHE.replace("1432088532", "1432088533").as_bytes()).unwrap();
        assert!(matches!(
            verify(&altered, &[remora]),
            Err(CosignatureError::Note(NoteError::InvalidSignature { .. }))
        ));
    }

    #[test]
    fn cosign_attach_and_verify() {
        let log = signer(1, "example.com/log");
        let c = Checkpoint::new("example.com/log", 9, crate::merkle::leaf_hash(b"z"));
        let mut note = c.sign(&log).unwrap();
        let w1 = Cosigner::new("witness.example/1", SigningKey::from_bytes(&[11; 32])).unwrap();
        let w2 = Cosigner::new("witness.example/2", SigningKey::from_bytes(&[12; 32])).unwrap();
        w1.cosign_note(&mut note, 1_700_000_000).unwrap();
        let trusted = [w1.cosigner_key().clone(), w2.cosigner_key().clone()];
        let got = verify(&note, &trusted).unwrap();
        assert_eq!(got.len(), 1, "w2 has not cosigned yet");
        assert_eq!(got[0].witness, &trusted[0]);
        assert_eq!(got[0].timestamp, 1_700_000_000);
        // Cosigning again replaces the old line; the log's signature stays valid.
        w1.cosign_note(&mut note, 1_700_000_060).unwrap();
        w2.cosign_note(&mut note, 1_700_000_001).unwrap();
        assert_eq!(note.signatures.len(), 3);
        let bytes = note.format().unwrap();
        let (opened, note) = Checkpoint::open(bytes.as_bytes(), &log.verifier_key()).unwrap();
        assert_eq!(opened, c);
        let got = verify(&note, &trusted).unwrap();
        assert_eq!(
            got.iter().map(|c| c.timestamp).collect::<Vec<_>>(),
            [1_700_000_060, 1_700_000_001]
        );
        // The key ID separates the two types: the same key and name as a plain note key is
        // another key, whose signature lines a witness key ignores, and the other way round.
        let as_note_key = VerifierKey::new("witness.example/1", *trusted[0].public_key()).unwrap();
        assert_ne!(as_note_key.key_id(), trusted[0].key_id());
        assert!(note.verify(&[as_note_key]).unwrap().is_empty());
        assert!(
            verify(
                &note,
                &[CosignerKey::new(
                    "example.com/log",
                    log.verifier_key().public_key().to_owned()
                )
                .unwrap()]
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn refuses_bad_timestamps_and_texts() {
        let w = Cosigner::new("w", SigningKey::from_bytes(&[5; 32])).unwrap();
        let c = Checkpoint::new("o", 1, crate::merkle::leaf_hash(b""));
        assert_eq!(
            w.cosign(&c, MAX_TIMESTAMP + 1),
            Err(CosignatureError::TimestampOutOfRange(MAX_TIMESTAMP + 1))
        );
        let sig = w.cosign(&c, MAX_TIMESTAMP).unwrap();
        assert!(w.cosigner_key().verify(&c.format().unwrap(), &sig.sig));
        let mut note = Note::new("not a checkpoint\n").unwrap();
        assert!(matches!(
            w.cosign_note(&mut note, 1),
            Err(CosignatureError::Checkpoint(_))
        ));
        // A signature over a timestamp above 2^63 - 1 is refused even if the Ed25519 part is valid.
        let text = c.format().unwrap();
        let t = MAX_TIMESTAMP + 1;
        let mut forged = t.to_be_bytes().to_vec();
        forged.extend_from_slice(
            &w.signing
                .sign(signed_message(t, &text).as_bytes())
                .to_bytes(),
        );
        assert!(!w.cosigner_key().verify(&text, &forged));
        // A plain Ed25519 vkey is not a witness key.
        assert!(matches!(
            CosignerKey::parse(
                "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(NoteError::WrongKeyType {
                expected: 4,
                got: 1
            })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn mutated_cosigned_notes_never_verify_other_text(edits in edits()) {
            let w = Cosigner::new("w.example", SigningKey::from_bytes(&[9; 32])).unwrap();
            let mut note = Checkpoint::new("example.com/log", 2, crate::merkle::leaf_hash(b"a"))
                .sign(&signer(4, "example.com/log"))
                .unwrap();
            w.cosign_note(&mut note, 42).unwrap();
            let bytes = mutate(note.format().unwrap().into_bytes(), &edits);
            if let Ok(parsed) = Note::parse(&bytes) {
                let trusted = [w.cosigner_key().clone()];
                if let Ok(got) = verify(&parsed, &trusted) {
                    prop_assert!(got.is_empty() || (parsed.text == note.text && got[0].timestamp == 42));
                }
            }
        }

        #[test]
        fn cosigner_vkey_parse_never_panics(edits in edits()) {
            let mutated = mutate(REMORA.as_bytes().to_vec(), &edits);
            if let Ok(s) = std::str::from_utf8(&mutated) {
                if let Ok(k) = CosignerKey::parse(s) {
                    prop_assert_eq!(k.to_string(), s);
                }
            }
        }
    }
}
