//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the log's signed tree head.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <base64 RFC 6962 root hash>
//! [extension lines, each non-empty]
//! ```
//!
//! The body is the text of a signed note ([`crate::note`]) signed by the log's Ed25519 key, whose
//! name is the origin. Parsing is strict so that a checkpoint has exactly one text: what a witness
//! cosigns is byte for byte what the log signed. The ledger writes no extension lines (they are
//! not auditable), but reads them.

use crate::merkle::Hash;
use crate::note::{Note, NoteError, Signer, Verifier, VerifierKey};
use std::fmt;

/// The most extension lines read; bounds memory, as the ledger itself writes none.
pub const MAX_EXTENSIONS: usize = 64;

/// A tree head: the log's identity, its size and the Merkle root at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The signed note around the checkpoint is malformed or carries a bad signature.
    Note(NoteError),
    /// Line `line` (1-based) of the body is wrong.
    Malformed {
        line: usize,
        reason: &'static str,
    },
    TooManyExtensions,
    /// The log's key is named differently from the checkpoint's origin.
    OriginMismatch {
        origin: String,
        key_name: String,
    },
    /// The note has no signature by the log's key.
    NotSignedByLog {
        key: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Note(e) => write!(f, "checkpoint note: {e}"),
            CheckpointError::Malformed { line, reason } => write!(
                f,
                "checkpoint line {line}: {reason} (a checkpoint is origin, tree size and base64 \
                 root hash, one per line, each ending in a newline)"
            ),
            CheckpointError::TooManyExtensions => write!(
                f,
                "more than {MAX_EXTENSIONS} extension lines; refusing a checkpoint this large"
            ),
            CheckpointError::OriginMismatch { origin, key_name } => write!(
                f,
                "checkpoint origin {origin:?} is not the log key's name {key_name:?}; use the \
                 verifier key of the log that issued this checkpoint"
            ),
            CheckpointError::NotSignedByLog { key } => write!(
                f,
                "the checkpoint carries no signature by the log key {key}; it was issued by \
                 another log or key, or the log key given is wrong"
            ),
        }
    }
}

impl std::error::Error for CheckpointError {}

impl From<NoteError> for CheckpointError {
    fn from(e: NoteError) -> Self {
        CheckpointError::Note(e)
    }
}

fn malformed(line: usize, reason: &'static str) -> CheckpointError {
    CheckpointError::Malformed { line, reason }
}

/// ASCII digits only (no sign, no spaces), no leading zero unless the number is 0, at most
/// u64::MAX: one spelling per number.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// A line of the body: its newline is the separator, and the note forbids other control bytes.
fn check_line(s: &str, line: usize) -> Result<(), CheckpointError> {
    if s.is_empty() {
        return Err(malformed(line, "must not be empty"));
    }
    if s.bytes().any(|b| b < 0x20) {
        return Err(malformed(line, "contains a newline or control character"));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines, as the ledger writes them.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Checks what [`Checkpoint::parse`] checks, for a checkpoint built in code.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        check_line(&self.origin, 1)?;
        if self.extensions.len() > MAX_EXTENSIONS {
            return Err(CheckpointError::TooManyExtensions);
        }
        for (i, e) in self.extensions.iter().enumerate() {
            check_line(e, i + 4)?;
        }
        Ok(())
    }

    /// The note text (body) of the checkpoint.
    pub fn format(&self) -> Result<String, CheckpointError> {
        self.validate()?;
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        Ok(out)
    }

    /// Parses a checkpoint body (a note's text). It formats back to exactly `text`.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(malformed(text.split('\n').count(), "must end in a newline"));
        };
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines.next().ok_or(malformed(2, "missing tree size"))?;
        let root = lines.next().ok_or(malformed(3, "missing root hash"))?;
        let size = parse_decimal(size).ok_or(malformed(
            2,
            "the tree size must be decimal digits with no leading zero, at most 2^64 - 1",
        ))?;
        let root = Hash::from_base64(root).ok_or(malformed(
            3,
            "the root hash must be 32 bytes in padded base64",
        ))?;
        let mut extensions = Vec::new();
        for e in lines {
            if extensions.len() == MAX_EXTENSIONS {
                return Err(CheckpointError::TooManyExtensions);
            }
            extensions.push(e.to_owned());
        }
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        };
        checkpoint.validate()?;
        Ok(checkpoint)
    }

    /// Signs the checkpoint with the log key, whose name must be the origin (the ledger's rule
    /// and the spec's recommendation), and returns the signed note.
    pub fn sign(&self, log: &Signer) -> Result<Note, CheckpointError> {
        if log.name() != self.origin {
            return Err(CheckpointError::OriginMismatch {
                origin: self.origin.clone(),
                key_name: log.name().to_owned(),
            });
        }
        let mut note = Note::new(self.format()?)?;
        note.sign(log)?;
        Ok(note)
    }

    /// Parses a signed checkpoint note and opens it with the log's key: see [`Checkpoint::open_note`].
    /// Returns the note too, for its witness cosignatures.
    pub fn open(
        input: &[u8],
        log_key: &VerifierKey,
    ) -> Result<(Checkpoint, Note), CheckpointError> {
        let note = Note::parse(input)?;
        let checkpoint = Checkpoint::open_note(&note, log_key)?;
        Ok((checkpoint, note))
    }

    /// The checkpoint in `note`, if the log key signed it validly and its origin is the key's name.
    /// Other signatures (witnesses, other keys) are ignored here.
    pub fn open_note(note: &Note, log_key: &VerifierKey) -> Result<Checkpoint, CheckpointError> {
        // signed-note: the text must be ignored until a trusted signature on it has verified.
        if note.verify(std::slice::from_ref(log_key))?.is_empty() {
            return Err(CheckpointError::NotSignedByLog {
                key: log_key.to_string(),
            });
        }
        let checkpoint = Checkpoint::parse(&note.text)?;
        if checkpoint.origin != log_key.name() {
            return Err(CheckpointError::OriginMismatch {
                origin: checkpoint.origin,
                key_name: log_key.name().to_owned(),
            });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::tests::{edits, mutate, signer};
    use proptest::prelude::*;

    const SPEC_TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const SPEC_NOTE: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
        — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    #[test]
    fn spec_example_parses() {
        // c2sp.org/tlog-checkpoint gives no key for its example, so only its form is checked.
        let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(note.text, SPEC_TEXT);
        assert_eq!(note.signatures[0].name, "example.com/behind-the-sofa");
        let c = Checkpoint::parse(&note.text).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20852163);
        assert_eq!(
            c.root.to_base64(),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert!(c.extensions.is_empty());
        assert_eq!(c.format().unwrap(), SPEC_TEXT);
    }

    #[test]
    fn real_checkpoint_opens_with_its_log_key() {
        // A checkpoint of a Certificate Transparency test log (transparency.dev), also used as a
        // test vector by other implementations. Its first line is an RFC 6962 signature (type
        // 0x05) and the rest are witness cosignatures: all unknown to the log key, so ignored.
        let vkey = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
        let key = VerifierKey::parse(vkey).unwrap();
        let (c, note) =
            Checkpoint::open(crate::cosignature::tests::ARCHE.as_bytes(), &key).unwrap();
        assert_eq!(c.origin, "arche2025h1.staging.ct.transparency.dev");
        assert_eq!(c.size, 1432088532);
        assert_eq!(note.signatures.len(), 6);
        // The same note with another size in it does not open.
        let altered = crate::cosignature::tests::ARCHE.replace("1432088532", "1432088533");
        assert!(matches!(
            Checkpoint::open(altered.as_bytes(), &key),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
    }

    #[test]
    fn sign_and_open_round_trip() {
        let log = signer(1, "example.com/log");
        let c = Checkpoint::new("example.com/log", 5, crate::merkle::leaf_hash(b"x"));
        let bytes = c.sign(&log).unwrap().format().unwrap();
        let (opened, _) = Checkpoint::open(bytes.as_bytes(), &log.verifier_key()).unwrap();
        assert_eq!(opened, c);
        // Another log's key does not open it; a key named differently cannot sign it.
        let other = signer(2, "example.com/other");
        assert!(matches!(
            Checkpoint::open(bytes.as_bytes(), &other.verifier_key()),
            Err(CheckpointError::NotSignedByLog { .. })
        ));
        assert!(matches!(
            c.sign(&other),
            Err(CheckpointError::OriginMismatch { .. })
        ));
        // A note signed by the log key, whose origin is another name, does not open either.
        let mut note =
            Note::new(Checkpoint::new("elsewhere", 1, c.root).format().unwrap()).unwrap();
        note.sign(&log).unwrap();
        assert!(matches!(
            Checkpoint::open_note(&note, &log.verifier_key()),
            Err(CheckpointError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn extensions_round_trip() {
        let text = format!("{SPEC_TEXT}abc\ndef\n");
        let c = Checkpoint::parse(&text).unwrap();
        assert_eq!(c.extensions, ["abc", "def"]);
        assert_eq!(c.format().unwrap(), text);
    }

    #[test]
    fn refuses_malformed_checkpoints() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let bad = [
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n 1\n{root}\n"),
            format!("o\n0x10\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n1\n{}\n", &root[..43]),
            "o\n1\nQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBCg==\n".to_string(),
            format!("o\n1\n{root}"),
            format!("o\n1\n{root}\n\n"),
            format!("o\n1\n{root}\next\n\n"),
            format!("o\n1\n{root}\nab\rc\n"),
            format!("o\r\n1\n{root}\n"),
            "o\n1\n".to_string(),
            String::new(),
            format!("o\n1\n{root}\n{}", "x\n".repeat(MAX_EXTENSIONS + 1)),
        ];
        for text in bad {
            assert!(Checkpoint::parse(&text).is_err(), "{text:?}");
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size,
            0
        );
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
        // Checkpoints built in code are checked before they are written or signed.
        let mut c = Checkpoint::parse(SPEC_TEXT).unwrap();
        c.origin = "two\nlines".into();
        assert!(c.format().is_err());
        c.origin = "o".into();
        c.extensions = vec![String::new()];
        assert!(c.format().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_never_panics_and_round_trips(text in "[a-z0-9/+=\\n\\r]{0,80}") {
            if let Ok(c) = Checkpoint::parse(&text) {
                prop_assert_eq!(c.format().unwrap(), text);
            }
        }

        #[test]
        fn checkpoints_built_in_code_are_written_only_if_they_read_back(
            origin in "(?s).{0,12}",
            extensions in proptest::collection::vec("(?s).{0,6}", 0..3),
            size in any::<u64>(),
        ) {
            let c = Checkpoint { origin, size, root: Hash::empty_root(), extensions };
            if let Ok(text) = c.format() {
                prop_assert_eq!(Checkpoint::parse(&text).unwrap(), c);
            }
        }

        #[test]
        fn mutated_signed_checkpoints_open_only_unchanged(edits in edits()) {
            let log = signer(3, "example.com/log");
            let c = Checkpoint::new("example.com/log", 1234, crate::merkle::leaf_hash(b"y"));
            let bytes = mutate(c.sign(&log).unwrap().format().unwrap().into_bytes(), &edits);
            if let Ok((opened, _)) = Checkpoint::open(&bytes, &log.verifier_key()) {
                prop_assert_eq!(opened, c);
            }
        }
    }
}
