//! Statements: what a person signs.
//!
//! ```text
//! statement = { "body": BODY, "sig": base64(Ed25519(signer, "bangfu/statement/v1\n" || JCS(BODY))) }
//! BODY      = { "id", "type", "target", "args", "signed_at", "key" }
//! ```
//!
//! Parsing is strict: exactly these fields, each in its one spelling, so that the bytes a verifier
//! rebuilds are the bytes the signer signed.

use crate::jcs::{self, JcsError};
use crate::signature::{BadSignature, KeyError, PublicKey, Signature, SigningKey};
use crate::time::{Timestamp, TimestampError};
use serde_json::{Map, Value, json};
use std::fmt;

/// Domain separation: a statement signature can never be mistaken for any other signed message.
pub const STATEMENT_CONTEXT: &[u8] = b"bangfu/statement/v1\n";

/// A statement id: a UUID in lowercase canonical text form (8-4-4-4-12 hex digits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct StatementId(String);

impl StatementId {
    pub fn parse(s: &str) -> Result<StatementId, StatementError> {
        let ok = s.len() == 36
            && s.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
            });
        if ok {
            Ok(StatementId(s.to_owned()))
        } else {
            Err(StatementError::BadId(truncate(s)))
        }
    }

    /// A version-4 (random) UUID from 16 random bytes the caller supplies.
    pub fn from_random_bytes(mut b: [u8; 16]) -> StatementId {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        StatementId(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UUID's 128 bits: equal exactly when the ids are equal, in a fifth of the memory (for
    /// remembering every id of a long log).
    pub fn as_u128(&self) -> u128 {
        self.0
            .bytes()
            .filter(|b| *b != b'-')
            .fold(0, |n, b| (n << 4) | u128::from(hex_value(b)))
    }
}

/// The value of a lowercase hex digit (the only kind a parsed id holds).
fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        _ => b - b'a' + 10,
    }
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lowercase name: `[a-z][a-z0-9_]*`, at most 64 bytes. Command names, aggregate and event types.
fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// An aggregate id: 1–128 bytes of `[A-Za-z0-9._:-]`, so it can stand in a path or a file name.
pub fn is_aggregate_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
}

/// The name of a command (a statement's `type`), e.g. `record_visit`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CommandName(String);

impl CommandName {
    pub fn parse(s: &str) -> Result<CommandName, StatementError> {
        if is_name(s) {
            Ok(CommandName(s.to_owned()))
        } else {
            Err(StatementError::BadCommand(truncate(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<aggregate_type>/<aggregate_id>`: the aggregate a command is addressed to.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Target {
    aggregate_type: String,
    aggregate_id: String,
}

impl Target {
    pub fn new(aggregate_type: &str, aggregate_id: &str) -> Result<Target, StatementError> {
        if is_name(aggregate_type) && is_aggregate_id(aggregate_id) {
            Ok(Target {
                aggregate_type: aggregate_type.to_owned(),
                aggregate_id: aggregate_id.to_owned(),
            })
        } else {
            Err(StatementError::BadTarget(truncate(&format!(
                "{aggregate_type}/{aggregate_id}"
            ))))
        }
    }

    pub fn parse(s: &str) -> Result<Target, StatementError> {
        match s.split_once('/') {
            Some((t, id)) => Target::new(t, id),
            None => Err(StatementError::BadTarget(truncate(s))),
        }
    }

    pub fn aggregate_type(&self) -> &str {
        &self.aggregate_type
    }

    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.aggregate_type, self.aggregate_id)
    }
}

/// What the signer signs.
#[derive(Clone, PartialEq, Debug)]
pub struct Body {
    pub id: StatementId,
    pub command: CommandName,
    pub target: Target,
    pub args: Map<String, Value>,
    pub signed_at: Timestamp,
    pub key: PublicKey,
}

impl Body {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "type": self.command.as_str(),
            "target": self.target.to_string(),
            "args": Value::Object(self.args.clone()),
            "signed_at": self.signed_at.to_string(),
            "key": self.key.to_base64(),
        })
    }

    pub fn from_json(v: &Value) -> Result<Body, StatementError> {
        let o = exact_fields(
            v,
            "body",
            &["id", "type", "target", "args", "signed_at", "key"],
        )?;
        Ok(Body {
            id: StatementId::parse(str_field(o, "body", "id")?)?,
            command: CommandName::parse(str_field(o, "body", "type")?)?,
            target: Target::parse(str_field(o, "body", "target")?)?,
            args: match &o["args"] {
                Value::Object(m) => m.clone(),
                _ => return Err(StatementError::WrongType("body.args".into(), "an object")),
            },
            signed_at: Timestamp::parse(str_field(o, "body", "signed_at")?)
                .map_err(StatementError::BadTimestamp)?,
            key: PublicKey::from_base64(str_field(o, "body", "key")?)
                .map_err(StatementError::BadKey)?,
        })
    }

    /// The exact bytes the signature covers: the context string, then JCS(body).
    pub fn signing_message(&self) -> Result<Vec<u8>, StatementError> {
        let mut m = STATEMENT_CONTEXT.to_vec();
        m.extend(jcs::to_vec(&self.to_json()).map_err(StatementError::Json)?);
        Ok(m)
    }
}

/// A signed statement. Holding one means its fields are well-formed and its body is valid JCS
/// input; whether the signature verifies is a separate question ([`Statement::verify`]).
#[derive(Clone, PartialEq, Debug)]
pub struct Statement {
    pub body: Body,
    pub sig: Signature,
}

impl Statement {
    /// Signs a body. The signing key must be the body's `key`.
    pub fn sign(body: Body, signer: &SigningKey) -> Result<Statement, StatementError> {
        if PublicKey::from(signer) != body.key {
            return Err(StatementError::KeyMismatch);
        }
        let msg = body.signing_message()?;
        let sig = ed25519_dalek::Signer::sign(signer, &msg);
        Ok(Statement { body, sig })
    }

    pub fn from_json(v: &Value) -> Result<Statement, StatementError> {
        Statement::from_value(v, true)
    }

    /// [`Statement::from_json`] for a value that came out of [`jcs::parse`], which has already
    /// checked every string, key and number against the JCS input rules.
    pub(crate) fn from_jcs_input(v: &Value) -> Result<Statement, StatementError> {
        Statement::from_value(v, false)
    }

    fn from_value(v: &Value, check_input: bool) -> Result<Statement, StatementError> {
        let o = exact_fields(v, "statement", &["body", "sig"])?;
        let body = Body::from_json(&o["body"])?;
        if check_input {
            // Every string, key and number in args must be allowed JCS input, or nobody could
            // sign it.
            jcs::to_vec(&o["body"]).map_err(StatementError::Json)?;
        }
        let sig = crate::signature::signature_from_base64(str_field(o, "statement", "sig")?)
            .ok_or(StatementError::SignatureEncoding)?;
        Ok(Statement { body, sig })
    }

    /// Parses a statement from JSON text under the strict JCS input rules.
    pub fn from_slice(bytes: &[u8]) -> Result<Statement, StatementError> {
        let v = jcs::parse(bytes).map_err(StatementError::Json)?;
        Statement::from_jcs_input(&v)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "body": self.body.to_json(),
            "sig": crate::b64::encode(self.sig.to_bytes()),
        })
    }

    /// Strict Ed25519 verification of the signature against the body's key.
    pub fn verify(&self) -> Result<(), BadSignature> {
        let msg = self.body.signing_message().map_err(|_| BadSignature)?;
        self.body.key.verify_strict(&msg, &self.sig)
    }
}

/// A statement whose signature has been verified strictly. Only [`Statement::verified`] makes one,
/// so code that takes a `VerifiedStatement` cannot be handed an unchecked signature.
#[derive(Clone, PartialEq, Debug)]
pub struct VerifiedStatement(Statement);

impl VerifiedStatement {
    pub fn statement(&self) -> &Statement {
        &self.0
    }

    pub fn into_statement(self) -> Statement {
        self.0
    }
}

impl Statement {
    /// Verifies the signature strictly and wraps the statement as verified.
    pub fn verified(self) -> Result<VerifiedStatement, BadSignature> {
        self.verify()?;
        Ok(VerifiedStatement(self))
    }
}

/// Why a statement (or an entry, whose fields are checked the same way) is malformed.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementError {
    Json(JcsError),
    WrongType(String, &'static str),
    MissingField(String),
    UnknownField(String),
    BadId(String),
    BadCommand(String),
    BadTarget(String),
    BadTimestamp(TimestampError),
    BadKey(KeyError),
    SignatureEncoding,
    KeyMismatch,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementError::Json(e) => write!(f, "{e}"),
            StatementError::WrongType(field, want) => write!(f, "{field} must be {want}"),
            StatementError::MissingField(field) => write!(f, "{field} is missing"),
            StatementError::UnknownField(field) => write!(
                f,
                "{field} is not a field of format v1; remove it (new fields need a new format version)"
            ),
            StatementError::BadId(s) => write!(
                f,
                "id {s:?} is not a UUID in lowercase canonical form (8-4-4-4-12 hex digits)"
            ),
            StatementError::BadCommand(s) => write!(
                f,
                "type {s:?} is not a command name (lowercase letters, digits and _, starting with a letter)"
            ),
            StatementError::BadTarget(s) => write!(
                f,
                "target {s:?} is not <aggregate_type>/<aggregate_id> (type: lowercase name; id: 1–128 of A-Z a-z 0-9 . _ : -)"
            ),
            StatementError::BadTimestamp(e) => write!(f, "{e}"),
            StatementError::BadKey(e) => write!(f, "{e}"),
            StatementError::SignatureEncoding => {
                write!(f, "sig must be standard base64 of exactly 64 bytes")
            }
            StatementError::KeyMismatch => {
                write!(f, "the signing key is not the key named in the body")
            }
        }
    }
}

impl std::error::Error for StatementError {}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The object's fields must be exactly `names`: none missing, none extra.
pub(crate) fn exact_fields<'a>(
    v: &'a Value,
    what: &'static str,
    names: &[&str],
) -> Result<&'a Map<String, Value>, StatementError> {
    let Value::Object(o) = v else {
        return Err(StatementError::WrongType(what.into(), "an object"));
    };
    if let Some(extra) = o.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(StatementError::UnknownField(format!(
            "{what}.{}",
            truncate(extra)
        )));
    }
    if let Some(missing) = names.iter().find(|n| !o.contains_key(**n)) {
        return Err(StatementError::MissingField(format!("{what}.{missing}")));
    }
    Ok(o)
}

pub(crate) fn str_field<'a>(
    o: &'a Map<String, Value>,
    what: &'static str,
    name: &'static str,
) -> Result<&'a str, StatementError> {
    o[name]
        .as_str()
        .ok_or_else(|| StatementError::WrongType(format!("{what}.{name}"), "a string"))
}

/// True for `[a-z][a-z0-9_]*` up to 64 bytes (used for event and aggregate type names).
pub fn is_type_name(s: &str) -> bool {
    is_name(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_as_u128_is_its_uuid_bits() {
        let id = StatementId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        assert_eq!(id.as_u128(), 0x0f8fad5b_d9cb_469f_a165_70867728950e);
        let other = StatementId::parse("0f8fad5b-d9cb-469f-a165-70867728950f").unwrap();
        assert_ne!(id.as_u128(), other.as_u128());
    }

    fn body(key: &SigningKey) -> Body {
        Body {
            id: StatementId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap(),
            command: CommandName::parse("record_visit").unwrap(),
            target: Target::parse("pairing/gulou-2016-0007").unwrap(),
            args: json!({"date": "2016-03-01", "kind": "routine"})
                .as_object()
                .unwrap()
                .clone(),
            signed_at: Timestamp::parse("2016-03-01T08:30:00.000Z").unwrap(),
            key: PublicKey::from(key),
        }
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let st = Statement::sign(body(&sk), &sk).unwrap();
        st.verify().unwrap();
        let bytes = jcs::to_vec(&st.to_json()).unwrap();
        let back = Statement::from_slice(&bytes).unwrap();
        assert_eq!(back, st);
        back.verify().unwrap();
    }

    #[test]
    fn any_change_to_the_body_breaks_the_signature() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let st = Statement::sign(body(&sk), &sk).unwrap();
        let mut changed = st.clone();
        changed
            .body
            .args
            .insert("kind".into(), Value::String("festival".into()));
        assert_eq!(changed.verify(), Err(BadSignature));
        let mut other_key = st.clone();
        other_key.body.key = PublicKey::from(&SigningKey::from_bytes(&[8; 32]));
        assert_eq!(other_key.verify(), Err(BadSignature));
    }

    #[test]
    fn refuses_malformed_statements() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let good = Statement::sign(body(&sk), &sk).unwrap().to_json();
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("extra field", Box::new(|v| v["body"]["extra"] = json!(1))),
            (
                "missing field",
                Box::new(|v| {
                    v["body"].as_object_mut().unwrap().remove("signed_at");
                }),
            ),
            (
                "upper-case id",
                Box::new(|v| v["body"]["id"] = json!("0F8FAD5B-D9CB-469F-A165-70867728950E")),
            ),
            (
                "braced id",
                Box::new(|v| v["body"]["id"] = json!("{0f8fad5b-d9cb-469f-a165-70867728950e}")),
            ),
            (
                "bad target",
                Box::new(|v| v["body"]["target"] = json!("pairing")),
            ),
            (
                "bad command",
                Box::new(|v| v["body"]["type"] = json!("Record-Visit")),
            ),
            (
                "bad time",
                Box::new(|v| v["body"]["signed_at"] = json!("2016-03-01T08:30:00Z")),
            ),
            ("short key", Box::new(|v| v["body"]["key"] = json!("AAAA"))),
            (
                "args not object",
                Box::new(|v| v["body"]["args"] = json!([])),
            ),
            ("short sig", Box::new(|v| v["sig"] = json!("AAAA"))),
            (
                "float arg",
                Box::new(|v| v["body"]["args"]["amount"] = json!(1.5)),
            ),
            (
                "non-NFC arg",
                Box::new(|v| v["body"]["args"]["note"] = json!("e\u{301}")),
            ),
        ];
        for (name, mutate) in cases {
            let mut v = good.clone();
            mutate(&mut v);
            assert!(Statement::from_json(&v).is_err(), "{name} accepted");
        }
    }

    #[test]
    fn random_v4_ids_are_canonical() {
        let id = StatementId::from_random_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "abababab-abab-4bab-abab-abababababab");
        assert!(StatementId::parse(id.as_str()).is_ok());
    }
}
