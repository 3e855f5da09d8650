//! C2SP signed notes (<https://c2sp.org/signed-note>): a text followed by one or more signatures.
//!
//! A note carries the log's checkpoints and the witnesses' cosignatures. The model is Go's
//! `golang.org/x/mod/sumdb/note`, with these deliberate differences:
//! - parsing is separate from verifying, bounded ([`MAX_NOTE_BYTES`], [`MAX_SIGNATURES`]) and
//!   strict: every accepted note formats back to exactly the bytes it was parsed from;
//! - Ed25519 is checked with `verify_strict` and small-order keys are refused, because plain
//!   `verify` accepts a known forgery under such a key;
//! - [`Note::verify`] verifies *every* signature line by a known key, not only the first one per
//!   key, so no bad line can hide behind a good one.
//!
//! ```text
//! <text, one or more lines, each ending in "\n">
//! <empty line>
//! — <key name> <base64(4-byte key ID || signature)>
//! ```

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Signature type byte of plain Ed25519 note signatures (the log's key).
pub const KEY_TYPE_ED25519: u8 = 0x01;

/// The largest note read or written: room for dozens of signatures, even post-quantum ones of
/// nearly 5 kB, while hostile input cannot make a parser allocate much.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// The most signature lines in a note. The spec requires at least 16 to be accepted; Go allows 100.
pub const MAX_SIGNATURES: usize = 100;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note, a signature line or a verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    TooLarge {
        size: usize,
    },
    NotUtf8,
    /// An ASCII control character other than newline, at this byte offset.
    ControlCharacter {
        offset: usize,
    },
    TextNotNewlineTerminated,
    NoSignatures,
    /// Signature line `line` (1-based, counted after the empty line) is malformed.
    MalformedSignatureLine {
        line: usize,
        reason: &'static str,
    },
    InvalidKeyName(String),
    TooManySignatures,
    MalformedVerifierKey(&'static str),
    WrongKeyType {
        expected: u8,
        got: u8,
    },
    KeyIdMismatch {
        name: String,
        stated: [u8; 4],
        computed: [u8; 4],
    },
    WeakKey,
    AmbiguousKey {
        name: String,
        key_id: [u8; 4],
    },
    InvalidSignature {
        name: String,
        key_id: [u8; 4],
    },
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NoteError::*;
        match self {
            TooLarge { size } => write!(
                f,
                "note is {size} bytes, over the limit of {MAX_NOTE_BYTES}; a checkpoint note is far smaller"
            ),
            NotUtf8 => write!(f, "note is not valid UTF-8; a signed note is UTF-8 text"),
            ControlCharacter { offset } => write!(
                f,
                "control character at byte {offset}; a signed note may contain no ASCII control \
                 character but newline (look for \\r\\n line endings or tabs)"
            ),
            TextNotNewlineTerminated => {
                write!(f, "note text must be non-empty and end in a newline")
            }
            NoSignatures => write!(
                f,
                "no signatures: a signed note is its text, an empty line, then one or more lines \
                 \"— <key name> <base64 signature>\", each ending in a newline"
            ),
            MalformedSignatureLine { line, reason } => write!(f, "signature line {line}: {reason}"),
            InvalidKeyName(name) => write!(
                f,
                "invalid key name {name:?}: a key name must be non-empty, with no spaces and no '+'"
            ),
            TooManySignatures => write!(
                f,
                "more than {MAX_SIGNATURES} signature lines; refusing a note this large"
            ),
            MalformedVerifierKey(reason) => write!(
                f,
                "malformed verifier key: {reason}; the form is <name>+<key ID as 8 lowercase hex \
                 digits>+<base64 of the key type byte and the public key>"
            ),
            WrongKeyType { expected, got } => write!(
                f,
                "verifier key has type 0x{got:02x} where 0x{expected:02x} is needed (0x01: a \
                 signed-note Ed25519 key such as the log's; 0x04: a witness's cosignature key)"
            ),
            KeyIdMismatch {
                name,
                stated,
                computed,
            } => write!(
                f,
                "verifier key {name}: key ID {} does not match {} computed from its name and \
                 public key; the key was altered or copied wrongly",
                hex(stated),
                hex(computed)
            ),
            WeakKey => write!(
                f,
                "the public key is a small-order point, under which signatures can be forged; \
                 it cannot be a real key"
            ),
            AmbiguousKey { name, key_id } => write!(
                f,
                "two trusted keys share the name {name} and key ID {}; remove the duplicate",
                hex(key_id)
            ),
            InvalidSignature { name, key_id } => write!(
                f,
                "the signature by trusted key {name}+{} does not verify: the note was altered \
                 after it was signed, or the trusted key is not the one that signed",
                hex(key_id)
            ),
        }
    }
}

impl std::error::Error for NoteError {}

fn hex(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key name is non-empty and holds no Unicode white space and no '+' (the vkey separator), nor
/// a control character, which no note may contain.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '+' || c < ' ')
}

/// The key ID the spec recommends: `SHA-256(name || "\n" || key type || public key)[:4]`. The type
/// byte keeps one key used for two signature types from having one ID.
pub fn key_id(name: &str, key_type: u8, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([key_type])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Control characters are only legal as bytes below 0x20 (UTF-8 continuation bytes are ≥ 0x80),
/// so a byte scan finds them all.
fn check_no_control(s: &str) -> Result<(), NoteError> {
    match s.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter { offset }),
        None => Ok(()),
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotNewlineTerminated);
    }
    check_no_control(text)
}

/// One signature line: who signed (name and key ID) and the signature bytes after the key ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    pub sig: Vec<u8>,
}

impl NoteSignature {
    fn parse_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
        let bad = |reason| NoteError::MalformedSignatureLine {
            line: number,
            reason,
        };
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(bad("must start with an em dash (U+2014) and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(bad("must be \"— <key name> <base64 signature>\""))?;
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        // Strict base64 also refuses a second space, so a line has a single spelling.
        let raw = crate::b64::decode(b64)
            .map_err(|_| bad("the signature is not standard base64 with padding"))?;
        // Like Go, require at least one signature byte after the 4-byte key ID.
        if raw.len() < 5 {
            return Err(bad(
                "the signature must hold a 4-byte key ID and a signature",
            ));
        }
        let (id, sig) = raw.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: [id[0], id[1], id[2], id[3]],
            sig: sig.to_vec(),
        })
    }

    /// Checks a signature built in code; `line` is its 1-based position, for the message.
    fn validate(&self, line: usize) -> Result<(), NoteError> {
        if !is_valid_key_name(&self.name) {
            return Err(NoteError::InvalidKeyName(self.name.clone()));
        }
        if self.sig.is_empty() {
            return Err(NoteError::MalformedSignatureLine {
                line,
                reason: "the signature after the key ID is empty",
            });
        }
        Ok(())
    }

    fn write_line(&self, out: &mut String) {
        let mut raw = self.key_id.to_vec();
        raw.extend_from_slice(&self.sig);
        out.push_str(SIGNATURE_PREFIX);
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&crate::b64::encode(raw));
        out.push('\n');
    }
}

/// A signed note. Its text includes the final newline but not the empty line that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note, to be signed with [`Note::sign`].
    pub fn new(text: impl Into<String>) -> Result<Note, NoteError> {
        let text = text.into();
        check_text(&text)?;
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note. Checks only its form: call [`Note::verify`] before trusting the text.
    pub fn parse(input: &[u8]) -> Result<Note, NoteError> {
        if input.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge { size: input.len() });
        }
        let s = std::str::from_utf8(input).map_err(|_| NoteError::NotUtf8)?;
        check_no_control(s)?;
        // The text may hold empty lines itself; the *last* empty line starts the signatures.
        let split = s.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let (text, block) = (&s[..split + 1], &s[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine {
                line: block.split('\n').count(),
                reason: "must end in a newline",
            });
        };
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            if i == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line, i + 1)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Checks what [`Note::parse`] checks, for a note built in code.
    pub fn validate(&self) -> Result<(), NoteError> {
        check_text(&self.text)?;
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let mut lines = self.signatures.iter().zip(1..);
        lines.try_for_each(|(s, line)| s.validate(line))
    }

    /// The note's bytes. A note needs at least one signature to be written.
    pub fn format(&self) -> Result<String, NoteError> {
        self.validate()?;
        if self.signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            s.write_line(&mut out);
        }
        // Never write what we would refuse to read back.
        if out.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge { size: out.len() });
        }
        Ok(out)
    }

    /// Adds a signature, replacing any earlier one by the same key (same name and key ID), so
    /// signing again does not pile up lines.
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
    }

    /// Signs the text with an Ed25519 note key and adds the signature.
    pub fn sign(&mut self, signer: &Signer) -> Result<(), NoteError> {
        check_text(&self.text)?;
        let sig = signer.key.sign(self.text.as_bytes());
        self.add_signature(NoteSignature {
            name: signer.name.clone(),
            key_id: signer.key_id,
            sig: sig.to_bytes().to_vec(),
        });
        Ok(())
    }

    /// The known keys that signed this note, each once, in order of their first signature.
    ///
    /// Per the spec a signature whose (name, key ID) matches no known key is ignored (it may be a
    /// witness or a rotated key); a signature by a known key that does not verify is an error.
    /// An empty answer means no known key signed: the caller must then reject the note (the log's
    /// checkpoint) or count the witness as missing (a cosignature).
    pub fn verify<'k, V: Verifier>(&self, known: &'k [V]) -> Result<Vec<&'k V>, NoteError> {
        self.validate()?;
        let mut signed: Vec<&'k V> = Vec::new();
        for s in &self.signatures {
            let mut matching = known
                .iter()
                .filter(|k| k.name() == s.name && k.key_id() == s.key_id);
            let Some(key) = matching.next() else {
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteError::AmbiguousKey {
                    name: s.name.clone(),
                    key_id: s.key_id,
                });
            }
            if !key.verify(&self.text, &s.sig) {
                return Err(NoteError::InvalidSignature {
                    name: s.name.clone(),
                    key_id: s.key_id,
                });
            }
            if !signed.iter().any(|k| std::ptr::eq(*k, key)) {
                signed.push(key);
            }
        }
        Ok(signed)
    }
}

/// A key that can check note signatures: plain Ed25519 ([`VerifierKey`]) or a witness's
/// cosignature key (`cosignature::CosignerKey`).
pub trait Verifier {
    fn name(&self) -> &str;
    fn key_id(&self) -> [u8; 4];
    /// Whether `sig` (the bytes after the key ID) is this key's valid signature on `text`.
    fn verify(&self, text: &str, sig: &[u8]) -> bool;
}

/// So that `&[&dyn Verifier]` can mix key types.
impl<T: Verifier + ?Sized> Verifier for &T {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn key_id(&self) -> [u8; 4] {
        (**self).key_id()
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        (**self).verify(text, sig)
    }
}

/// Strict Ed25519: RFC 8032 plus rejection of small-order keys and non-canonical encodings.
pub(crate) fn verify_ed25519(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        return false;
    };
    key.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok()
}

/// Checks a public key that is to be trusted: one spelling, and not of small order.
pub(crate) fn check_public_key(key: &VerifyingKey) -> Result<(), NoteError> {
    if key.is_weak() {
        return Err(NoteError::WeakKey);
    }
    // A point has one canonical encoding; refuse the others so a key ID has one preimage.
    let canonical = CompressedEdwardsY(key.to_bytes())
        .decompress()
        .map(|p| p.compress().to_bytes() == key.to_bytes());
    if canonical != Some(true) {
        return Err(NoteError::MalformedVerifierKey(
            "the public key is not a canonically encoded Ed25519 point",
        ));
    }
    Ok(())
}

/// Parses `<name>+<8 hex digits of key ID>+<base64(key type || 32-byte Ed25519 key)>`, checking
/// the type and that the stated key ID is the one computed from name and key.
pub(crate) fn parse_vkey(
    vkey: &str,
    key_type: u8,
) -> Result<(String, [u8; 4], VerifyingKey), NoteError> {
    use NoteError::MalformedVerifierKey as Bad;
    // A name holds no '+', so the first two '+' are the separators; the base64 may hold more.
    let (name, rest) = vkey.split_once('+').ok_or(Bad("no '+' after the name"))?;
    let (id_hex, key_b64) = rest.split_once('+').ok_or(Bad("no '+' after the key ID"))?;
    if !is_valid_key_name(name) {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    let stated = parse_key_id_hex(id_hex).ok_or(Bad("the key ID is not 8 lowercase hex digits"))?;
    let raw = crate::b64::decode(key_b64).map_err(|_| Bad("the key is not standard base64"))?;
    let (&got, key) = raw.split_first().ok_or(Bad("the key is empty"))?;
    if got != key_type {
        return Err(NoteError::WrongKeyType {
            expected: key_type,
            got,
        });
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| Bad("an Ed25519 key is 32 bytes after the type byte"))?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| Bad("the key is not an Ed25519 point"))?;
    check_public_key(&key)?;
    let computed = key_id(name, key_type, &key);
    if computed != stated {
        return Err(NoteError::KeyIdMismatch {
            name: name.to_owned(),
            stated,
            computed,
        });
    }
    Ok((name.to_owned(), computed, key))
}

/// Lowercase only, as every implementation writes it, so that a key has one spelling.
fn parse_key_id_hex(s: &str) -> Option<[u8; 4]> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(s, 16).ok().map(u32::to_be_bytes)
}

pub(crate) fn format_vkey(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    key_id: &[u8; 4],
    key_type: u8,
    key: &VerifyingKey,
) -> fmt::Result {
    let mut raw = vec![key_type];
    raw.extend_from_slice(key.as_bytes());
    write!(f, "{name}+{}+{}", hex(key_id), crate::b64::encode(raw))
}

/// A trusted plain Ed25519 note key (type 0x01), such as the log's key. Its `Display` is the
/// verifier key string (vkey).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<VerifierKey, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName(name.to_owned()));
        }
        check_public_key(&key)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, KEY_TYPE_ED25519, &key),
            key,
        })
    }

    /// Parses a vkey string of type 0x01 and checks its key ID.
    pub fn parse(vkey: &str) -> Result<VerifierKey, NoteError> {
        let (name, key_id, key) = parse_vkey(vkey, KEY_TYPE_ED25519)?;
        Ok(VerifierKey { name, key_id, key })
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl Verifier for VerifierKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> [u8; 4] {
        self.key_id
    }
    fn verify(&self, text: &str, sig: &[u8]) -> bool {
        verify_ed25519(&self.key, text.as_bytes(), sig)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_vkey(f, &self.name, &self.key_id, KEY_TYPE_ED25519, &self.key)
    }
}

/// An Ed25519 note signing key (type 0x01) with its name.
pub struct Signer {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl Signer {
    pub fn new(name: &str, key: SigningKey) -> Result<Signer, NoteError> {
        let vkey = VerifierKey::new(name, key.verifying_key())?;
        Ok(Signer {
            name: vkey.name,
            key_id: vkey.key_id,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Random edits for fuzzing parsers: (position, operation, byte). Bytes that matter to the
    /// formats are drawn often so that edits reach past the first check.
    pub(crate) fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
        let byte = prop_oneof![
            any::<u8>(),
            Just(b'\n'),
            Just(b' '),
            Just(b'+'),
            Just(b'='),
            Just(b'0'),
            Just(b'A'),
        ];
        proptest::collection::vec((any::<usize>(), any::<u8>(), byte), 1..4)
    }

    pub(crate) fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
        for &(at, op, value) in edits {
            let i = at % (bytes.len() + 1);
            match op % 8 {
                0..=2 if i < bytes.len() => bytes[i] = value,
                3 | 4 => bytes.insert(i, value),
                5 | 6 if i < bytes.len() => {
                    bytes.remove(i);
                }
                7 => bytes.truncate(i),
                _ => {}
            }
        }
        bytes
    }

    pub(crate) fn signer(seed: u8, name: &str) -> Signer {
        Signer::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    // golang.org/x/mod/sumdb/note's test vectors (also in the signed_note crate's tests).
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn signed_note_spec_example_parses() {
        // The example at the top of c2sp.org/signed-note: its text holds an empty line.
        let msg = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\
                   — quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
        let note = Note::parse(msg.as_bytes()).unwrap();
        assert_eq!(
            note.text,
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        );
        assert_eq!(note.signatures.len(), 1);
        assert_eq!(note.signatures[0].name, "quasimodo.example/salvatore");
        assert_eq!(note.format().unwrap(), msg);
    }

    #[test]
    fn signed_note_spec_key_and_signature_verify() {
        // The worked example of the current c2sp.org/signed-note, with its key.
        let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        let msg = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        let key = VerifierKey::parse(vkey).unwrap();
        assert_eq!(key.to_string(), vkey);
        assert_eq!(key.key_id(), [0x53, 0x0d, 0x90, 0x3a]);
        let note = Note::parse(msg.as_bytes()).unwrap();
        assert_eq!(note.verify(std::slice::from_ref(&key)).unwrap(), vec![&key]);
        let forged =
            Note::parse(msg.replace("example message", "forged message").as_bytes()).unwrap();
        assert!(matches!(
            forged.verify(&[key]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn go_vectors_verify_and_signing_reproduces_them() {
        let peter = VerifierKey::parse(PETER_VKEY).unwrap();
        let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
        let msg = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let note = Note::parse(msg.as_bytes()).unwrap();
        assert_eq!(note.text, GO_TEXT);
        assert_eq!(
            note.verify(std::slice::from_ref(&peter)).unwrap(),
            vec![&peter]
        );
        let both = [enoch.clone(), peter.clone()];
        assert_eq!(note.verify(&both).unwrap(), vec![&peter, &enoch]);
        assert!(note.verify::<VerifierKey>(&[]).unwrap().is_empty());
        assert!(matches!(
            note.verify(&[peter.clone(), peter.clone()]),
            Err(NoteError::AmbiguousKey { .. })
        ));

        // Ed25519 is deterministic: Go's private key signs to Go's exact bytes.
        let seed = crate::b64::decode(PETER_SKEY_B64).unwrap();
        assert_eq!(seed[0], KEY_TYPE_ED25519);
        let s = Signer::new(
            "PeterNeumann",
            SigningKey::from_bytes(&seed[1..].try_into().unwrap()),
        );
        let s = s.unwrap();
        assert_eq!(s.verifier_key(), peter);
        let mut fresh = Note::new(GO_TEXT).unwrap();
        fresh.sign(&s).unwrap();
        assert_eq!(fresh.format().unwrap(), format!("{GO_TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn unknown_keys_are_ignored_and_bad_known_signatures_fail() {
        let log = signer(1, "example.com/log");
        let mut note = Note::new("hello\n").unwrap();
        note.sign(&log).unwrap();
        note.sign(&signer(2, "witness.example")).unwrap();
        // Same name, other key: not the known key, so ignored (spec: "share a name or ID").
        let impostor = signer(3, "example.com/log").verifier_key();
        assert!(note.verify(&[impostor]).unwrap().is_empty());
        let known = log.verifier_key();
        assert_eq!(
            note.verify(std::slice::from_ref(&known)).unwrap(),
            vec![&known]
        );
        // Signing again replaces, not duplicates.
        note.sign(&log).unwrap();
        assert_eq!(note.signatures.len(), 2);
        // A second, bad line by a known key is caught even after a good one.
        let mut bad = note
            .signatures
            .iter()
            .find(|s| s.name == "example.com/log")
            .unwrap()
            .clone();
        bad.sig[0] ^= 1;
        note.signatures.push(bad);
        assert!(matches!(
            note.verify(&[known]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn refuses_malformed_notes() {
        let good = format!("{GO_TEXT}\n{PETER_SIG}");
        let sig_body = PETER_SIG.trim_start_matches("— PeterNeumann ");
        let bad: Vec<(String, &str)> = vec![
            (GO_TEXT.to_string(), "no signature block"),
            (format!("\n{GO_TEXT}"), "no empty line before signatures"),
            (good.trim_end().to_string(), "last line without newline"),
            (format!("\x01{good}"), "control character"),
            (good.replace('\n', "\r\n"), "CRLF"),
            (format!("{GO_TEXT}\n— Bad Name {sig_body}"), "space in name"),
            (format!("{GO_TEXT}\n— a+b {sig_body}"), "plus in name"),
            (format!("{GO_TEXT}\n— {sig_body}"), "no name"),
            (
                format!("{GO_TEXT}\n-- PeterNeumann {sig_body}"),
                "ASCII dashes",
            ),
            (
                format!("{GO_TEXT}\n—PeterNeumann {sig_body}"),
                "no space after dash",
            ),
            (
                format!("{GO_TEXT}\n— PeterNeumann  {sig_body}"),
                "two spaces",
            ),
            (
                format!("{GO_TEXT}\n— PeterNeumann x08go/9=\n"),
                "non-zero trailing bits",
            ),
            (
                format!("{GO_TEXT}\n— PeterNeumann x08go/8\n"),
                "missing padding",
            ),
            (
                format!("{GO_TEXT}\n— PeterNeumann AAAAAA==\n"),
                "4 bytes: no signature",
            ),
            (format!("{GO_TEXT}\n{PETER_SIG}\n"), "trailing empty line"),
            (format!("{GO_TEXT}\n\n"), "empty signature block"),
            (format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101)), "too many"),
        ];
        for (msg, why) in bad {
            assert!(Note::parse(msg.as_bytes()).is_err(), "{why}: {msg:?}");
        }
        let mut invalid_utf8 = good.clone().into_bytes();
        invalid_utf8.insert(0, 0xff);
        assert_eq!(Note::parse(&invalid_utf8), Err(NoteError::NotUtf8));
        let huge = vec![b'a'; MAX_NOTE_BYTES + 1];
        assert!(matches!(
            Note::parse(&huge),
            Err(NoteError::TooLarge { .. })
        ));
        // 100 signatures are fine.
        let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(100));
        assert_eq!(Note::parse(many.as_bytes()).unwrap().signatures.len(), 100);
        // Notes built in code are checked before they are written.
        assert!(Note::new("no newline").is_err());
        assert!(Note::new("tab\there\n").is_err());
        let unsigned = Note::new("x\n").unwrap();
        assert_eq!(unsigned.format(), Err(NoteError::NoSignatures));
    }

    #[test]
    fn refuses_malformed_verifier_keys() {
        // A vkey whose base64 holds '+' (transparency-dev/formats tests) splits correctly.
        VerifierKey::parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6").unwrap();
        let bad = [
            "PeterNeumann",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",
            "PeterNeumann+c74f20a3+",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            // A witness's cosignature key (type 0x04) is not a note key.
            "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        ];
        for vkey in bad {
            assert!(VerifierKey::parse(vkey).is_err(), "{vkey}");
        }
        assert!(matches!(
            VerifierKey::parse(
                "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
            ),
            Err(NoteError::WrongKeyType {
                expected: 1,
                got: 4
            })
        ));
    }

    #[test]
    fn refuses_small_order_keys() {
        // The identity point: every "signature" (R = identity, s = 0) verifies under plain
        // RFC 8032 verification, so it must never be trusted.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(VerifierKey::new("weak", weak), Err(NoteError::WeakKey));
        let id = key_id("weak", KEY_TYPE_ED25519, &weak);
        let mut raw = vec![KEY_TYPE_ED25519];
        raw.extend_from_slice(&identity);
        let vkey = format!("weak+{}+{}", hex(&id), crate::b64::encode(raw));
        assert_eq!(VerifierKey::parse(&vkey), Err(NoteError::WeakKey));
    }

    #[test]
    fn refuses_non_canonical_key_encodings() {
        // y = p + k for small k: ed25519-dalek decodes some of these as the point with y = k,
        // a second spelling of a real key, which would give one key two key IDs.
        let mut refused_only_by_us = 0;
        for k in 3u8..19 {
            let mut bytes = [0xff; 32];
            bytes[0] = 0xed + k;
            bytes[31] = 0x7f;
            if let Ok(key) = VerifyingKey::from_bytes(&bytes) {
                refused_only_by_us += usize::from(!key.is_weak());
                assert!(VerifierKey::new("n", key).is_err(), "y = p + {k}");
            }
        }
        assert!(refused_only_by_us > 0);
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let e = Note::parse(b"text\n").unwrap_err().to_string();
        assert!(e.contains("empty line"), "{e}");
        let e = VerifierKey::parse("x+zz+AA==").unwrap_err().to_string();
        assert!(e.contains("8 lowercase hex"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_never_panics_and_round_trips(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(note) = Note::parse(&input) {
                prop_assert!(note.format().unwrap().as_bytes() == input.as_slice());
            }
        }

        #[test]
        fn mutated_notes_never_verify_other_text(edits in edits()) {
            let log = signer(7, "example.com/log");
            let mut note = Note::new("example.com/log\n3\nroot\n").unwrap();
            note.sign(&log).unwrap();
            note.sign(&signer(8, "w")).unwrap();
            let bytes = mutate(note.format().unwrap().into_bytes(), &edits);
            if let Ok(parsed) = Note::parse(&bytes) {
                prop_assert!(parsed.format().unwrap().as_bytes() == bytes.as_slice());
                let known = [log.verifier_key()];
                if let Ok(signed) = parsed.verify(&known) {
                    prop_assert!(signed.is_empty() || parsed.text == note.text);
                }
            }
        }

        #[test]
        fn notes_built_in_code_are_written_only_if_they_read_back(
            text in "(?s).{0,40}\\n",
            name in "(?s).{0,12}",
            sig in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let note = Note {
                text,
                signatures: vec![NoteSignature { name, key_id: [1, 2, 3, 4], sig }],
            };
            if let Ok(bytes) = note.format() {
                prop_assert_eq!(Note::parse(bytes.as_bytes()).unwrap(), note);
            }
        }

        #[test]
        fn vkey_parse_never_panics(s in "\\PC{0,80}", edits in edits()) {
            let _ = VerifierKey::parse(&s);
            let mutated = mutate(PETER_VKEY.as_bytes().to_vec(), &edits);
            if let Ok(s) = std::str::from_utf8(&mutated) {
                if let Ok(k) = VerifierKey::parse(s) {
                    prop_assert_eq!(k.to_string(), s);
                }
            }
        }
    }
}
