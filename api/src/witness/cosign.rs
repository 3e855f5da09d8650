//! The witness's decision on one `add-checkpoint` request (C2SP tlog-witness), in the spec's order:
//!
//! 1. the body is `old <size>\n`, at most 63 base64 proof hashes one per line, an empty line, then
//!    a signed checkpoint note (else 400);
//! 2. the checkpoint's origin is a configured log (else 404), and a trusted key of that log signed
//!    it (else 403);
//! 3. `old` is at most the checkpoint's size (else 400) and is the size last cosigned for the
//!    origin, 0 if none (else 409 with that size); at equal sizes the roots must match (else 409);
//! 4. the consistency proof leads from the cosigned root to the new one (else 422);
//! 5. the new size and root are made durable, and only then the cosignature is returned.
//!
//! Steps 3 to 5 run under the origin's lock, so two requests cannot both advance from one size.

use super::state::{Cosigned, StateFile};
use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::{Cosigner, CosignerKey};
use bangfu_ledger::merkle::verify_consistency;
use bangfu_ledger::note::{MAX_NOTE_BYTES, Note, NoteSignature, Verifier, VerifierKey};
use bangfu_ledger::tlog_proof::parse_consistency_proof;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// The spec's bound on proof lines.
pub const MAX_PROOF_LINES: usize = 63;

/// The largest request body: a maximal note plus the old-size line and 63 proof lines.
pub const MAX_REQUEST_BYTES: usize = MAX_NOTE_BYTES + 64 * 64;

/// Why a request was not cosigned. Each maps to the status the spec gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the body is not an add-checkpoint request.
    Malformed(String),
    /// 400: the old size is larger than the checkpoint's.
    OldAfterNew { old: u64, new: u64 },
    /// 404: no log with this origin is configured.
    UnknownOrigin(String),
    /// 403: no trusted key of the origin signed the checkpoint (or a trusted key's signature is bad).
    NotSignedByLog { origin: String, why: String },
    /// 409: `old` is not the size last cosigned for the origin; `known` is that size.
    StaleOld { old: u64, known: u64 },
    /// 409: the same size as last cosigned, with another root: the log forked.
    RootMismatch { size: u64 },
    /// 422: the consistency proof does not lead from the cosigned root to the new one.
    BadProof { old: u64, new: u64, why: String },
    /// 500: the new state could not be made durable; nothing was cosigned.
    Storage(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::OldAfterNew { .. } => 400,
            Refusal::NotSignedByLog { .. } => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::StaleOld { .. } | Refusal::RootMismatch { .. } => 409,
            Refusal::BadProof { .. } => 422,
            Refusal::Storage(_) => 500,
        }
    }

    /// For a 409: the size the witness holds, which the spec puts in the body.
    pub fn known_size(&self) -> Option<u64> {
        match self {
            Refusal::StaleOld { known, .. } => Some(*known),
            Refusal::RootMismatch { size } => Some(*size),
            _ => None,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(
                f,
                "请求格式不对 / not an add-checkpoint request: {why}; send \"old <size>\", the \
                 consistency proof (one base64 hash per line), an empty line, then the signed checkpoint"
            ),
            Refusal::OldAfterNew { old, new } => write!(
                f,
                "旧大小大于新检查点 / old size {old} is larger than the checkpoint's size {new}; \
                 send the size of the checkpoint this witness cosigned before"
            ),
            Refusal::UnknownOrigin(origin) => write!(
                f,
                "未知日志 / this witness does not witness the log {origin:?}; ask its operator to \
                 add the log's verifier key (--log)"
            ),
            Refusal::NotSignedByLog { origin, why } => write!(
                f,
                "日志签名无效 / the checkpoint carries no valid signature by a trusted key of \
                 {origin:?} ({why}); sign it with the log key this witness was given"
            ),
            Refusal::StaleOld { old, known } => write!(
                f,
                "旧大小不符 / old size {old} is not the size this witness last cosigned ({known}); \
                 send a consistency proof from size {known}"
            ),
            Refusal::RootMismatch { size } => write!(
                f,
                "同一大小根哈希不同 / a checkpoint of size {size} with another root than the one \
                 this witness cosigned: the log forked; nothing was cosigned"
            ),
            Refusal::BadProof { old, new, why } => write!(
                f,
                "一致性证明无效 / the consistency proof from size {old} to {new} does not verify \
                 ({why}): the new tree does not extend the one this witness cosigned; nothing was cosigned"
            ),
            Refusal::Storage(why) => write!(
                f,
                "见证状态无法保存 / the witness could not save its state ({why}); nothing was \
                 cosigned, try again later"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// A parsed `add-checkpoint` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    pub note: Note,
}

/// The request body a log sends: `old <size>`, the proof, an empty line, the signed note.
pub fn format_request(old: u64, proof: &[Hash], note: &str) -> String {
    let proof = bangfu_ledger::tlog_proof::format_consistency_proof(proof);
    format!("old {old}\n{proof}\n{note}")
}

/// Decimal with no sign and no leading zero (but "0"): one spelling per size, as the spec says.
fn strict_decimal(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// Parses an `add-checkpoint` body strictly and boundedly.
pub fn parse_request(body: &[u8]) -> Result<AddCheckpoint, Refusal> {
    let bad = |why: &str| Refusal::Malformed(why.to_owned());
    if body.len() > MAX_REQUEST_BYTES {
        return Err(bad("the body is larger than any checkpoint request"));
    }
    let first_end = body
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("the first line must be \"old <size>\" ending in a newline"))?;
    let old = std::str::from_utf8(&body[..first_end])
        .ok()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(strict_decimal)
        .ok_or_else(|| {
            bad("the first line must be \"old <size>\", the size in decimal without leading zeros")
        })?;
    let rest = &body[first_end + 1..];
    // The proof runs up to the first empty line; the note follows it.
    let mut end = 0;
    let mut lines = 0;
    loop {
        let Some(len) = rest[end..].iter().position(|&b| b == b'\n') else {
            return Err(bad("no empty line between the proof and the checkpoint"));
        };
        if len == 0 {
            break;
        }
        lines += 1;
        if lines > MAX_PROOF_LINES {
            return Err(bad("more than 63 proof lines; no tree needs that many"));
        }
        end += len + 1;
    }
    let proof = parse_consistency_proof(&rest[..end]).map_err(|e| bad(&e.to_string()))?;
    let note = Note::parse(&rest[end + 1..]).map_err(|e| bad(&format!("the checkpoint: {e}")))?;
    Ok(AddCheckpoint { old, proof, note })
}

/// A signature line (`— <name> <base64>\n`) as it follows `text` in a note.
pub fn signature_line(text: &str, sig: &NoteSignature) -> Option<String> {
    let note = Note {
        text: text.to_owned(),
        signatures: vec![sig.clone()],
    };
    let formatted = note.format().ok()?;
    formatted
        .strip_prefix(text)
        .and_then(|s| s.strip_prefix('\n'))
        .map(str::to_owned)
}

/// One log this witness follows: its trusted keys and the lock that serialises its requests.
struct TrustedLog {
    keys: Vec<VerifierKey>,
    turn: Mutex<()>,
}

/// A witness: its key, the logs it follows, its state. Blocking (the state is fsynced); the HTTP
/// server calls it from a blocking thread.
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, TrustedLog>,
    state: StateFile,
    /// Seconds since the Unix epoch, for the cosignature's timestamp.
    clock: fn() -> u64,
}

pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Witness {
    /// A witness cosigning as `cosigner` the checkpoints of the logs whose keys are `logs` (several
    /// keys may share an origin, e.g. while a log key is rotated).
    pub fn new(cosigner: Cosigner, logs: Vec<VerifierKey>, state: StateFile) -> Witness {
        let mut trusted: BTreeMap<String, TrustedLog> = BTreeMap::new();
        for key in logs {
            let log = trusted
                .entry(key.name().to_owned())
                .or_insert_with(|| TrustedLog {
                    keys: Vec::new(),
                    turn: Mutex::new(()),
                });
            if !log.keys.contains(&key) {
                log.keys.push(key);
            }
        }
        Witness {
            cosigner,
            logs: trusted,
            state,
            clock: unix_seconds,
        }
    }

    /// The witness's verifier key, which logs and verifiers configure.
    pub fn key(&self) -> &CosignerKey {
        self.cosigner.cosigner_key()
    }

    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// Decides one request body; on success returns the cosignature line(s) to answer with.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, Refusal> {
        let request = parse_request(body)?;
        self.add(&request)
    }

    /// Decides a parsed request.
    pub fn add(&self, request: &AddCheckpoint) -> Result<String, Refusal> {
        let note = &request.note;
        // Only to learn the origin: nothing in the text is trusted before a signature verifies.
        let checkpoint = Checkpoint::parse(&note.text)
            .map_err(|e| Refusal::Malformed(format!("the note's text: {e}")))?;
        let origin = checkpoint.origin.clone();
        let log = self
            .logs
            .get(&origin)
            .ok_or_else(|| Refusal::UnknownOrigin(origin.clone()))?;
        match note.verify(&log.keys) {
            Ok(signed) if !signed.is_empty() => {}
            Ok(_) => {
                return Err(Refusal::NotSignedByLog {
                    origin,
                    why: "no signature line by a trusted key".into(),
                });
            }
            Err(e) => {
                return Err(Refusal::NotSignedByLog {
                    origin,
                    why: e.to_string(),
                });
            }
        }
        let new = checkpoint.size;
        if request.old > new {
            return Err(Refusal::OldAfterNew {
                old: request.old,
                new,
            });
        }

        let _turn = log.turn.lock().unwrap_or_else(|e| e.into_inner());
        let (known, known_root) = match self.state.get(&origin) {
            Some(c) => (c.size, c.root),
            None => (0, Hash::empty_root()),
        };
        if request.old != known {
            return Err(Refusal::StaleOld {
                old: request.old,
                known,
            });
        }
        if known == new && known_root != checkpoint.root {
            return Err(Refusal::RootMismatch { size: new });
        }
        verify_consistency(known, new, &known_root, &checkpoint.root, &request.proof).map_err(
            |e| Refusal::BadProof {
                old: known,
                new,
                why: e.to_string(),
            },
        )?;

        let now = (self.clock)();
        // Durable before anything is signed: a crash after this cannot forget the new size.
        if known != new || self.state.get(&origin).is_none() {
            self.state
                .record(
                    &origin,
                    Cosigned {
                        size: new,
                        root: checkpoint.root,
                        at: now,
                    },
                )
                .map_err(|e| Refusal::Storage(e.to_string()))?;
        }
        let sig = self
            .cosigner
            .cosign(&checkpoint, now)
            .map_err(|e| Refusal::Storage(format!("cosigning: {e}")))?;
        signature_line(&note.text, &sig)
            .ok_or_else(|| Refusal::Storage("formatting the cosignature".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bangfu_ledger::merkle::{CompactRange, consistency_proof, leaf_hash};
    use bangfu_ledger::note::Signer;
    use ed25519_dalek::SigningKey;

    const ORIGIN: &str = "bangfu.example/test";

    struct Tree {
        hashes: Vec<Hash>,
        range: CompactRange,
        roots: Vec<Hash>,
    }

    /// A log of `n` leaves with every stored hash, so proofs can be built.
    fn tree(n: u64, salt: &str) -> Tree {
        let mut t = Tree {
            hashes: Vec::new(),
            range: CompactRange::new(),
            roots: vec![Hash::empty_root()],
        };
        for i in 0..n {
            for h in t.range.append(leaf_hash(format!("{salt}{i}").as_bytes())) {
                t.hashes.push(h.hash);
            }
            t.roots.push(t.range.root());
        }
        t
    }

    fn log_signer() -> Signer {
        Signer::new(ORIGIN, SigningKey::from_bytes(&[3; 32])).unwrap()
    }

    fn note(signer: &Signer, size: u64, root: Hash) -> String {
        Checkpoint::new(ORIGIN, size, root)
            .sign(signer)
            .unwrap()
            .format()
            .unwrap()
    }

    fn witness(dir: &std::path::Path) -> Witness {
        let cosigner = Cosigner::new("w.example", SigningKey::from_bytes(&[4; 32])).unwrap();
        let state = StateFile::open(&dir.join("state.json")).unwrap();
        Witness::new(cosigner, vec![log_signer().verifier_key()], state)
    }

    #[test]
    fn cosigns_from_zero_then_from_the_cosigned_size_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let w = witness(dir.path());
        let log = log_signer();
        let t = tree(9, "a");
        let first = note(&log, 4, t.roots[4]);
        let line = w
            .add_checkpoint(format_request(0, &[], &first).as_bytes())
            .unwrap();
        let cosigned = Note::parse(format!("{first}{line}").as_bytes()).unwrap();
        let got = bangfu_ledger::cosignature::verify(&cosigned, std::slice::from_ref(w.key()));
        assert_eq!(got.unwrap().len(), 1);

        // Stale old size: 409 naming 4.
        let second = note(&log, 9, t.roots[9]);
        let stale = w
            .add_checkpoint(format_request(0, &[], &second).as_bytes())
            .unwrap_err();
        assert_eq!((stale.status(), stale.known_size()), (409, Some(4)));
        // The right proof: cosigned.
        let proof = consistency_proof(4, 9, &t.hashes).unwrap();
        w.add_checkpoint(format_request(4, &proof, &second).as_bytes())
            .unwrap();
        assert_eq!(w.state().get(ORIGIN).map(|c| c.size), Some(9));

        // A fork at a larger size: its proof cannot connect to the cosigned root.
        let fork = tree(12, "b");
        let forked = note(&log, 12, fork.roots[12]);
        let proof = consistency_proof(9, 12, &fork.hashes).unwrap();
        let e = w
            .add_checkpoint(format_request(9, &proof, &forked).as_bytes())
            .unwrap_err();
        assert_eq!(e.status(), 422, "{e}");
        // Same size, other root: 409.
        let same = note(&log, 9, fork.roots[9]);
        let e = w
            .add_checkpoint(format_request(9, &[], &same).as_bytes())
            .unwrap_err();
        assert_eq!(e, Refusal::RootMismatch { size: 9 });
        assert_eq!(w.state().get(ORIGIN).map(|c| c.root), Some(t.roots[9]));

        // Another log key, an unknown origin, old > new, garbage.
        let other = Signer::new(ORIGIN, SigningKey::from_bytes(&[5; 32])).unwrap();
        let e = w
            .add_checkpoint(format_request(9, &[], &note(&other, 9, t.roots[9])).as_bytes())
            .unwrap_err();
        assert_eq!(e.status(), 403, "{e}");
        let stranger = Signer::new("elsewhere", SigningKey::from_bytes(&[5; 32])).unwrap();
        let elsewhere = Checkpoint::new("elsewhere", 1, t.roots[1])
            .sign(&stranger)
            .unwrap()
            .format()
            .unwrap();
        let e = w
            .add_checkpoint(format_request(0, &[], &elsewhere).as_bytes())
            .unwrap_err();
        assert_eq!(e.status(), 404);
        let e = w
            .add_checkpoint(format_request(10, &[], &second).as_bytes())
            .unwrap_err();
        assert_eq!(e, Refusal::OldAfterNew { old: 10, new: 9 });
        for body in [
            &b""[..],
            b"old 01\n\nx",
            b"old 1",
            b"new 1\n\n",
            b"old 1\nnot base64\n\n",
        ] {
            assert_eq!(w.add_checkpoint(body).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn signature_lines_format_like_the_note() {
        let log = log_signer();
        let text = Checkpoint::new(ORIGIN, 1, leaf_hash(b"x"))
            .format()
            .unwrap();
        let mut n = Note::new(text.clone()).unwrap();
        n.sign(&log).unwrap();
        let line = signature_line(&text, &n.signatures[0]).unwrap();
        assert_eq!(format!("{text}\n{line}"), n.format().unwrap());
        assert!(line.starts_with("\u{2014} bangfu.example/test ") && line.ends_with('\n'));
    }
}
