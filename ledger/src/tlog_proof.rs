//! Proofs as text: C2SP tlog-proof (<https://c2sp.org/tlog-proof>) for one entry's inclusion, and
//! a consistency proof as one base64 hash per line.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]            (opaque and unauthenticated; v1 of the ledger never writes it)
//! index <leaf index, decimal>
//! <audit path, one base64 hash per line, from the leaf's sibling up>
//! <empty line>
//! <the signed checkpoint note, verbatim>
//! ```
//!
//! Parsing is strict (every accepted proof formats back to its exact bytes) and bounded.

use crate::checkpoint::{Checkpoint, CheckpointError, parse_decimal};
use crate::merkle::{Hash, ProofError, verify_inclusion};
use crate::note::{MAX_NOTE_BYTES, Note, NoteError, VerifierKey};
use std::fmt;

/// The first line of every tlog-proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes in a proof: more than any tree of up to 2^64 − 1 leaves needs (inclusion ≤ 64,
/// consistency ≤ 65), so the bound only stops hostile input.
pub const MAX_PROOF_HASHES: usize = 128;

/// The largest tlog-proof read: a maximal note plus room for the lines before it.
pub const MAX_PROOF_BYTES: usize = MAX_NOTE_BYTES + (1 << 16);

/// Why a proof was refused or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlogProofError {
    TooLarge {
        size: usize,
    },
    /// Line `line` (1-based) of the proof is wrong.
    Malformed {
        line: usize,
        reason: &'static str,
    },
    TooManyHashes,
    /// The checkpoint note is malformed.
    Note(NoteError),
    /// The checkpoint does not open with the log key.
    Checkpoint(CheckpointError),
    /// The audit path does not lead from the leaf to the checkpoint's root.
    Inclusion(ProofError),
}

impl fmt::Display for TlogProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlogProofError::TooLarge { size } => write!(
                f,
                "proof is {size} bytes, over the limit of {MAX_PROOF_BYTES}; this is not a proof"
            ),
            TlogProofError::Malformed { line, reason } => write!(f, "proof line {line}: {reason}"),
            TlogProofError::TooManyHashes => write!(
                f,
                "more than {MAX_PROOF_HASHES} hashes; no tree needs a proof this long"
            ),
            TlogProofError::Note(e) => write!(f, "proof's checkpoint: {e}"),
            TlogProofError::Checkpoint(e) => write!(f, "proof's checkpoint: {e}"),
            TlogProofError::Inclusion(e) => write!(
                f,
                "inclusion proof: {e}; the entry is not at this index of the checkpointed tree, \
                 or the proof belongs to another entry or checkpoint"
            ),
        }
    }
}

impl std::error::Error for TlogProofError {}

impl From<NoteError> for TlogProofError {
    fn from(e: NoteError) -> Self {
        TlogProofError::Note(e)
    }
}

impl From<CheckpointError> for TlogProofError {
    fn from(e: CheckpointError) -> Self {
        TlogProofError::Checkpoint(e)
    }
}

impl From<ProofError> for TlogProofError {
    fn from(e: ProofError) -> Self {
        TlogProofError::Inclusion(e)
    }
}

fn malformed(line: usize, reason: &'static str) -> TlogProofError {
    TlogProofError::Malformed { line, reason }
}

/// Newline-terminated lines of a byte string, counted for error messages.
struct Lines<'a> {
    rest: &'a [u8],
    number: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Result<&'a str, TlogProofError> {
        self.number += 1;
        let end = self.rest.iter().position(|&b| b == b'\n').ok_or(malformed(
            self.number,
            "missing, or without its final newline",
        ))?;
        let line = std::str::from_utf8(&self.rest[..end])
            .map_err(|_| malformed(self.number, "not UTF-8"))?;
        self.rest = &self.rest[end + 1..];
        Ok(line)
    }
}

fn parse_hash(line: &str, number: usize, reason: &'static str) -> Result<Hash, TlogProofError> {
    Hash::from_base64(line).ok_or(malformed(number, reason))
}

/// An inclusion proof for the leaf at `index`, with the checkpoint it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque data beside the proof; never authenticated. `None` in every proof the ledger writes.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    /// The audit path (RFC 9162 §2.1.3.1), from the leaf's sibling up to the root's child.
    pub path: Vec<Hash>,
    /// The signed (and possibly cosigned) checkpoint note.
    pub checkpoint: Note,
}

impl TlogProof {
    /// Parses a proof. Checks only its form; [`verify`] checks what it proves.
    pub fn parse(input: &[u8]) -> Result<TlogProof, TlogProofError> {
        if input.len() > MAX_PROOF_BYTES {
            return Err(TlogProofError::TooLarge { size: input.len() });
        }
        let mut lines = Lines {
            rest: input,
            number: 0,
        };
        if lines.next_line()? != HEADER {
            return Err(malformed(
                1,
                "the first line must be c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = lines.next_line()?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let bytes = crate::b64::decode(b64)
                    .ok()
                    .filter(|b| !b.is_empty())
                    .ok_or(malformed(
                        lines.number,
                        "extra data must be non-empty padded base64",
                    ))?;
                line = lines.next_line()?;
                Some(bytes)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(malformed(
                lines.number,
                "expected \"index <leaf index>\", decimal with no leading zero",
            ))?;
        let mut path = Vec::new();
        loop {
            let line = lines.next_line()?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::TooManyHashes);
            }
            path.push(parse_hash(
                line,
                lines.number,
                "expected a SHA-256 hash in padded base64 (44 characters), or the empty line \
                 before the checkpoint",
            )?);
        }
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint: Note::parse(lines.rest)?,
        })
    }

    pub fn format(&self) -> Result<String, TlogProofError> {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            if extra.is_empty() {
                // The spec omits the line when there is no extra data, and parse refuses it empty.
                return Err(malformed(2, "extra data must be non-empty (use None)"));
            }
            out.push_str(&format!("extra {}\n", crate::b64::encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        if self.path.len() > MAX_PROOF_HASHES {
            return Err(TlogProofError::TooManyHashes);
        }
        for h in &self.path {
            out.push_str(&format!("{h}\n"));
        }
        out.push('\n');
        out.push_str(&self.checkpoint.format()?);
        Ok(out)
    }
}

/// Checks that `leaf_hash` (the RFC 6962 leaf hash of the entry) is leaf `proof.index` of the tree
/// in the proof's checkpoint, and that the log key signed that checkpoint. Returns the checkpoint;
/// its cosignatures are for the caller to check with `cosignature::verify`. Ignores `extra`.
pub fn verify(
    proof: &TlogProof,
    leaf_hash: &Hash,
    log_key: &VerifierKey,
) -> Result<Checkpoint, TlogProofError> {
    let checkpoint = Checkpoint::open_note(&proof.checkpoint, log_key)?;
    verify_inclusion(
        proof.index,
        checkpoint.size,
        leaf_hash,
        &proof.path,
        &checkpoint.root,
    )?;
    Ok(checkpoint)
}

/// A consistency proof (RFC 9162 §2.1.4) as text: one base64 hash per line, each line ending in a
/// newline; the empty proof is the empty text.
pub fn format_consistency_proof(proof: &[Hash]) -> String {
    proof.iter().map(|h| format!("{h}\n")).collect()
}

/// Parses [`format_consistency_proof`]'s text, strictly.
pub fn parse_consistency_proof(input: &[u8]) -> Result<Vec<Hash>, TlogProofError> {
    let mut lines = Lines {
        rest: input,
        number: 0,
    };
    let mut proof = Vec::new();
    while !lines.rest.is_empty() {
        if proof.len() == MAX_PROOF_HASHES {
            return Err(TlogProofError::TooManyHashes);
        }
        let line = lines.next_line()?;
        proof.push(parse_hash(
            line,
            lines.number,
            "expected a SHA-256 hash in padded base64 (44 characters), one per line",
        )?);
    }
    Ok(proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;
    use crate::merkle::{CompactRange, inclusion_proof, leaf_hash};
    use crate::note::tests::{edits, mutate, signer};
    use proptest::prelude::*;

    /// A log of `n` entries: its stored hashes, a signed checkpoint note, and the leaf hashes.
    fn log(n: u64) -> (Vec<Hash>, Note, Vec<Hash>) {
        let (mut cr, mut store, mut leaves) = (CompactRange::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let leaf = leaf_hash(format!("entry {i}").as_bytes());
            leaves.push(leaf);
            store.extend(cr.append(leaf).into_iter().map(|s| s.hash));
        }
        let c = Checkpoint::new("example.com/log", n, cr.root());
        (
            store,
            c.sign(&signer(1, "example.com/log")).unwrap(),
            leaves,
        )
    }

    fn proof_for(index: u64, n: u64) -> (TlogProof, Hash) {
        let (store, checkpoint, leaves) = log(n);
        let path = inclusion_proof(n, index, &store).unwrap();
        let proof = TlogProof {
            extra: None,
            index,
            path,
            checkpoint,
        };
        (proof, leaves[index as usize])
    }

    #[test]
    fn spec_example_parses_once_its_elisions_are_filled() {
        // The example in c2sp.org/tlog-proof abbreviates its signatures ("hI2DJw[...]1roloI="),
        // which no strict note parser accepts; everything else is kept as the spec has it.
        let example = "c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
— witness2.example TnKKVHLX[...]xwYwrSjgow==
— witness3.example S4X82uH5[...]3oEcROGLFQ==
";
        assert!(matches!(
            TlogProof::parse(example.as_bytes()),
            Err(TlogProofError::Note(_))
        ));
        // Fill each gap so that the base64 has a valid length (a multiple of 4 characters).
        let filled = example
            .replacen("[...]", "AAAAAAAAAAA", 1)
            .replace("[...]", "AAAAAAAA");
        let p = TlogProof::parse(filled.as_bytes()).unwrap();
        assert_eq!(
            p.extra.as_deref().unwrap()[..26],
            *b"age-v1.2.1-darwin-arm64.ta"
        );
        assert_eq!(p.index, 73894);
        assert_eq!(p.path.len(), 5);
        assert_eq!(p.checkpoint.signatures.len(), 4);
        let c = Checkpoint::parse(&p.checkpoint.text).unwrap();
        assert_eq!(
            (c.origin.as_str(), c.size),
            ("example.com/fancylog", 109482)
        );
        assert_eq!(p.format().unwrap(), filled);
    }

    #[test]
    fn every_leaf_verifies_and_nothing_else_does() {
        let log_key = signer(1, "example.com/log").verifier_key();
        for n in [1u64, 2, 3, 7, 8, 13] {
            for i in 0..n {
                let (proof, leaf) = proof_for(i, n);
                let text = proof.format().unwrap();
                assert!(!text.contains("extra"), "v1 writes no extra line");
                let parsed = TlogProof::parse(text.as_bytes()).unwrap();
                assert_eq!(parsed, proof);
                assert_eq!(verify(&parsed, &leaf, &log_key).unwrap().size, n);
                let other = leaf_hash(b"not an entry");
                assert!(matches!(
                    verify(&parsed, &other, &log_key),
                    Err(TlogProofError::Inclusion(_))
                ));
                let mut moved = parsed.clone();
                moved.index = (i + 1) % n;
                if n > 1 {
                    assert!(verify(&moved, &leaf, &log_key).is_err());
                }
            }
        }
        let (proof, leaf) = proof_for(2, 5);
        let stranger = signer(2, "example.com/log").verifier_key();
        assert!(matches!(
            verify(&proof, &leaf, &stranger),
            Err(TlogProofError::Checkpoint(
                CheckpointError::NotSignedByLog { .. }
            ))
        ));
    }

    #[test]
    fn cosigned_checkpoints_travel_in_proofs() {
        let (mut proof, leaf) = proof_for(3, 6);
        let w =
            Cosigner::new("w.example", ed25519_dalek::SigningKey::from_bytes(&[3; 32])).unwrap();
        w.cosign_note(&mut proof.checkpoint, 1).unwrap();
        let parsed = TlogProof::parse(proof.format().unwrap().as_bytes()).unwrap();
        let log_key = signer(1, "example.com/log").verifier_key();
        verify(&parsed, &leaf, &log_key).unwrap();
        let trusted = [w.cosigner_key().clone()];
        assert_eq!(
            crate::cosignature::verify(&parsed.checkpoint, &trusted)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn refuses_malformed_proofs() {
        let (proof, _) = proof_for(1, 4);
        let good = proof.format().unwrap();
        let note = proof.checkpoint.format().unwrap();
        let h = proof.path[0].to_base64();
        let bad = [
            good.replacen(HEADER, "c2sp.org/tlog-proof@v2", 1),
            good.replacen("index 1", "index 01", 1),
            good.replacen("index 1", "index  1", 1),
            good.replacen("index 1", "index -1", 1),
            good.replacen("index 1", "Index 1", 1),
            good.replacen("index 1\n", "", 1),
            good.replacen("index 1", "extra \nindex 1", 1),
            good.replacen("index 1", "extra !!\nindex 1", 1),
            good.replacen("index 1", "index 1\nextra AA==", 1),
            format!("{HEADER}\nindex 1\n{}\n\n{note}", &h[..43]),
            format!("{HEADER}\nindex 1\n{h}\n{note}"),
            format!("{HEADER}\nindex 1\n{h} \n\n{note}"),
            format!("{HEADER}\nindex 1\n{h}\n\n"),
            format!("{HEADER}\nindex 1\n{h}"),
            format!("{HEADER}\r\nindex 1\n\n{note}"),
            format!(
                "{HEADER}\nindex 1\n{}\n{note}",
                format!("{h}\n").repeat(MAX_PROOF_HASHES + 1)
            ),
            String::new(),
        ];
        for text in bad {
            assert!(TlogProof::parse(text.as_bytes()).is_err(), "{text:?}");
        }
        let with_extra = good.replacen("index 1", "extra AA==\nindex 1", 1);
        assert_eq!(
            TlogProof::parse(with_extra.as_bytes()).unwrap().extra,
            Some(vec![0])
        );
        let huge = vec![b'\n'; MAX_PROOF_BYTES + 1];
        assert!(matches!(
            TlogProof::parse(&huge),
            Err(TlogProofError::TooLarge { .. })
        ));
    }

    #[test]
    fn consistency_proofs_round_trip_and_verify() {
        let (store, _, _) = log(20);
        for (m, n) in [(0, 20), (1, 20), (7, 20), (16, 20), (20, 20)] {
            let proof = crate::merkle::consistency_proof(m, n, &store).unwrap();
            let text = format_consistency_proof(&proof);
            assert_eq!(parse_consistency_proof(text.as_bytes()).unwrap(), proof);
            let old = crate::merkle::tree_hash(m, &store).unwrap();
            let new = crate::merkle::tree_hash(n, &store).unwrap();
            crate::merkle::verify_consistency(m, n, &old, &new, &proof).unwrap();
        }
        let h = Hash::empty_root().to_base64();
        for bad in [
            h.clone(),
            format!("{h}\n\n"),
            format!("\n{h}\n"),
            format!("{h}\r\n"),
            format!(" {h}\n"),
            format!("{}\n", &h[..43]),
            format!("{h}\n").repeat(MAX_PROOF_HASHES + 1),
        ] {
            assert!(parse_consistency_proof(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(parse_consistency_proof(b"").unwrap(), Vec::<Hash>::new());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parsers_never_panic_on_random_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = TlogProof::parse(&input) {
                prop_assert!(p.format().unwrap().as_bytes() == input.as_slice());
            }
            if let Ok(p) = parse_consistency_proof(&input) {
                prop_assert!(format_consistency_proof(&p).as_bytes() == input.as_slice());
            }
        }

        #[test]
        fn mutated_proofs_verify_only_unchanged(edits in edits()) {
            let (proof, leaf) = proof_for(2, 5);
            let bytes = mutate(proof.format().unwrap().into_bytes(), &edits);
            if let Ok(parsed) = TlogProof::parse(&bytes) {
                prop_assert!(parsed.format().unwrap().as_bytes() == bytes.as_slice());
                let log_key = signer(1, "example.com/log").verifier_key();
                if verify(&parsed, &leaf, &log_key).is_ok() {
                    prop_assert_eq!((parsed.index, &parsed.path), (proof.index, &proof.path));
                    prop_assert_eq!(&parsed.checkpoint.text, &proof.checkpoint.text);
                }
            }
        }

        #[test]
        fn mutated_consistency_proofs_never_panic(edits in edits()) {
            let (store, _, _) = log(9);
            let proof = crate::merkle::consistency_proof(3, 9, &store).unwrap();
            let bytes = mutate(format_consistency_proof(&proof).into_bytes(), &edits);
            if let Ok(p) = parse_consistency_proof(&bytes) {
                prop_assert!(format_consistency_proof(&p).as_bytes() == bytes.as_slice());
            }
        }
    }
}
