//! Intake: the one path every signed statement takes into the log — from the HTTP service,
//! `bangfu submit` and `bangfu demo` alike.
//!
//! The checks run in this order, and the first that fails answers with a precise refusal and
//! changes nothing:
//!
//! 1. body size (at most [`MAX_BODY`] bytes);
//! 2. well-formed JSON;
//! 3. schema: the statement's envelope, a known command for its target's kind, and `args` of that
//!    command's shape;
//! 4. canonical form: NFC strings, no duplicate keys, integers only (strict RFC 8785 input);
//!    then the openings of sealed values that travel beside the statement, if any: each must open
//!    its commitment, and the commitment must be in the statement's `args`;
//! 5. the Ed25519 signature (strict);
//! 6. `signed_at` within the window around the intake's clock ([`Window`]);
//! 7. the key is registered and not revoked; 8. its roles allow the command;
//! 9. the statement id is not used by another statement; 10. the domain's decision.
//!
//! Steps 7–10 are decided by the log's single writer against the registry as of the moment the
//! entry is made, so two racing statements can never both pass on stale state. The same statement
//! sent twice gets the same answer: its original receipt.
//!
//! The request is the statement `{"body": …, "sig": …}`, optionally with a third field
//! `"openings": [{"commitment", "salt", "value"}, …]`: the cleartext of its sealed values, for the
//! erasable vault (docs/ledger-format.md §9). Openings are outside the signed bytes; they are kept
//! once the statement is in the log (again when the same statement is sent again), and the
//! receipt is sent only after both are durable.

use bangfu_domain::decide::check_args;
use bangfu_domain::error::DomainError;
use bangfu_ledger::jcs;
use bangfu_ledger::seal::{Commitment, Opening, commitments_in};
use bangfu_ledger::statement::{Body, Statement, StatementError};
use bangfu_ledger::time::Timestamp;
use bangfu_store::backend::Backend;
use bangfu_store::log::{AppendError, Log, Receipt};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// The largest statement accepted, in bytes. A visit with its diary sealed is well under 4 KiB;
/// an assessment listing 500 cadres is about 40 KiB.
pub const MAX_BODY: usize = 256 * 1024;

/// How far `signed_at` may be from the intake's clock. Cadres in villages without a signal sign
/// on their phones and send later, so the past is generous; the future only allows clock drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub past_ms: i64,
    pub future_ms: i64,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            past_ms: 72 * 3600 * 1000,
            future_ms: 5 * 60 * 1000,
        }
    }
}

/// Milliseconds since the epoch: the system clock, or a simulated one (the demo).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Why a statement was refused. Each says what was wrong and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    TooLarge {
        size: usize,
        limit: usize,
    },
    BadJson(String),
    BadSchema(String),
    NotCanonical(String),
    /// An opening beside the statement is malformed, does not open its commitment, or is for a
    /// commitment the statement does not hold.
    BadOpening(String),
    BadSignature,
    SignedAtOutOfWindow {
        signed_at: String,
        now: String,
    },
    KeyUnknown,
    KeyRevoked(String),
    RoleNotAllowed(String),
    IdReused {
        id: String,
        index: u64,
    },
    /// The domain refused: the rule and the state it met.
    Domain(DomainError),
    /// The store could not take it now; nothing was written and sending it again is safe.
    Unavailable(String),
    /// The stored log is damaged.
    Corrupt(String),
}

impl Refusal {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } => "too_large",
            Refusal::BadJson(_) => "bad_json",
            Refusal::BadSchema(_) => "bad_schema",
            Refusal::NotCanonical(_) => "not_canonical",
            Refusal::BadOpening(_) => "bad_opening",
            Refusal::BadSignature => "bad_signature",
            Refusal::SignedAtOutOfWindow { .. } => "signed_at_out_of_window",
            Refusal::KeyUnknown => "key_unknown",
            Refusal::KeyRevoked(_) => "key_revoked",
            Refusal::RoleNotAllowed(_) => "role_not_allowed",
            Refusal::IdReused { .. } => "id_reused",
            Refusal::Domain(_) => "refused",
            Refusal::Unavailable(_) => "unavailable",
            Refusal::Corrupt(_) => "corrupt",
        }
    }

    /// The HTTP status that goes with it.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooLarge { .. } => 413,
            Refusal::BadJson(_) => 400,
            Refusal::BadSchema(_) | Refusal::NotCanonical(_) | Refusal::BadOpening(_) => 422,
            Refusal::BadSignature | Refusal::KeyUnknown | Refusal::KeyRevoked(_) => 401,
            Refusal::SignedAtOutOfWindow { .. } => 422,
            Refusal::RoleNotAllowed(_) => 403,
            Refusal::IdReused { .. } | Refusal::Domain(_) => 409,
            Refusal::Unavailable(_) => 503,
            Refusal::Corrupt(_) => 500,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooLarge { size, limit } => write!(
                f,
                "指令过大 / the statement is {size} bytes, more than the {limit} accepted; split the work into several statements"
            ),
            Refusal::BadJson(why) => write!(
                f,
                "不是合法的 JSON / the body is not well-formed JSON: {why}"
            ),
            Refusal::BadSchema(why) => write!(
                f,
                "指令格式不符 / the statement does not have the expected shape: {why}; see `bangfu commands` and docs/domain.md"
            ),
            Refusal::NotCanonical(why) => write!(
                f,
                "指令不是规范 JSON / the statement is not in canonical form: {why}; sign the RFC 8785 form with NFC strings and integer numbers"
            ),
            Refusal::BadOpening(why) => write!(
                f,
                "密文明文不符 / an opening sent with the statement is not valid: {why}; send each sealed value's {{\"commitment\", \"salt\", \"value\"}} exactly as sealed, and only for commitments in this statement's args"
            ),
            Refusal::BadSignature => write!(
                f,
                "签名无效 / the signature does not verify against body.key; sign the exact canonical body with that key"
            ),
            Refusal::SignedAtOutOfWindow { signed_at, now } => write!(
                f,
                "签名时间超出允许范围 / signed_at {signed_at} is too far from the server's time {now}; check the device clock and sign again"
            ),
            Refusal::KeyUnknown => write!(
                f,
                "密钥未登记 / the signing key is not registered; ask a coordinator to register it (register_key)"
            ),
            Refusal::KeyRevoked(why) => write!(
                f,
                "密钥已吊销 / the signing key was revoked ({why}); sign with your current key"
            ),
            Refusal::RoleNotAllowed(why) => write!(f, "{why}"),
            Refusal::IdReused { id, index } => write!(
                f,
                "指令编号 {id} 已被第 {index} 条记录使用 / statement id {id} is already used by entry {index} for a different statement; give every statement a fresh id"
            ),
            Refusal::Domain(e) => write!(f, "{e}"),
            Refusal::Unavailable(why) => write!(
                f,
                "暂时无法记录，请稍后重发 / the ledger cannot take statements right now ({why}); nothing was written, send the same statement again"
            ),
            Refusal::Corrupt(why) => write!(
                f,
                "账本数据损坏 / the stored ledger is damaged ({why}); run `bangfu verify` and call the operator"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// What an accepted statement became.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Accepted {
    pub index: u64,
    /// The entry's leaf hash, base64.
    pub leaf: String,
    pub recorded_at: String,
    pub events: Vec<serde_json::Value>,
    /// True when this statement was already in the log: this is its original receipt.
    pub replayed: bool,
}

impl From<Receipt> for Accepted {
    fn from(r: Receipt) -> Accepted {
        Accepted {
            index: r.index,
            leaf: r.leaf.to_base64(),
            recorded_at: r.recorded_at.to_string(),
            events: r.events.iter().map(|e| e.to_json()).collect(),
            replayed: r.replayed,
        }
    }
}

/// The intake in front of one log.
pub struct Intake<B: Backend> {
    log: Log<B>,
    clock: Clock,
    window: Window,
}

impl<B: Backend> Intake<B> {
    pub fn new(log: Log<B>, clock: Clock, window: Window) -> Intake<B> {
        Intake { log, clock, window }
    }

    pub fn log(&self) -> &Log<B> {
        &self.log
    }

    /// Stops taking statements and lets the writer finish the ones it holds.
    pub async fn close(self) {
        self.log.close().await
    }

    /// Runs every check, in order, and appends.
    pub async fn submit(&self, body: &[u8]) -> Result<Accepted, Refusal> {
        let (statement, openings) = self.check(body)?;
        let verified = statement.verified().map_err(|_| Refusal::BadSignature)?;
        let now = (self.clock)();
        let signed = verified.statement().body.signed_at.unix_millis();
        if signed < now - self.window.past_ms || signed > now + self.window.future_ms {
            return Err(Refusal::SignedAtOutOfWindow {
                signed_at: verified.statement().body.signed_at.to_string(),
                now: Timestamp::from_unix_millis(now)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| now.to_string()),
            });
        }
        match self.log.append(verified).await {
            Ok(receipt) => {
                if !openings.is_empty() {
                    self.log
                        .backend()
                        .put_openings(&openings)
                        .await
                        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
                }
                Ok(receipt.into())
            }
            Err(AppendError::Refused(e)) => Err(match e {
                DomainError::KeyUnknown => Refusal::KeyUnknown,
                DomainError::KeyRevoked { reason } => Refusal::KeyRevoked(reason),
                e @ DomainError::RoleNotAllowed { .. } => Refusal::RoleNotAllowed(e.to_string()),
                e => Refusal::Domain(e),
            }),
            Err(AppendError::IdReused { id, index }) => Err(Refusal::IdReused { id, index }),
            Err(AppendError::Retry(e)) => Err(Refusal::Unavailable(e.to_string())),
            Err(AppendError::Closed) => {
                Err(Refusal::Unavailable("the service is shutting down".into()))
            }
            Err(AppendError::Corrupt(why)) => Err(Refusal::Corrupt(why)),
        }
    }

    /// Steps 1–4: size, JSON, schema, canonical form, and the openings beside the statement.
    fn check(&self, body: &[u8]) -> Result<(Statement, Vec<Opening>), Refusal> {
        if body.len() > MAX_BODY {
            return Err(Refusal::TooLarge {
                size: body.len(),
                limit: MAX_BODY,
            });
        }
        let loose: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| Refusal::BadJson(e.to_string()))?;
        // Shape first, from the loose parse, so a shape error is named as such even when the text
        // is also not canonical.
        let shaped = loose
            .get("body")
            .ok_or_else(|| Refusal::BadSchema("the statement has no \"body\"".into()))
            .and_then(|b| Body::from_json(b).map_err(|e| Refusal::BadSchema(e.to_string())))?;
        check_args(&shaped).map_err(|e| Refusal::BadSchema(e.to_string()))?;
        let mut strict = jcs::parse(body).map_err(|e| Refusal::NotCanonical(e.to_string()))?;
        let openings = strict.as_object_mut().and_then(|o| o.remove("openings"));
        let statement = Statement::from_json(&strict).map_err(|e| match e {
            StatementError::Json(e) => Refusal::NotCanonical(e.to_string()),
            e => Refusal::BadSchema(e.to_string()),
        })?;
        let openings = match openings {
            Some(v) => check_openings(&statement, &v)?,
            None => Vec::new(),
        };
        Ok((statement, openings))
    }
}

/// The most openings one statement may carry (a visit seals a handful of values).
const MAX_OPENINGS: usize = 64;

/// Each opening must be a vault row that opens a commitment found in the statement's args.
fn check_openings(statement: &Statement, v: &serde_json::Value) -> Result<Vec<Opening>, Refusal> {
    let Some(rows) = v.as_array() else {
        return Err(Refusal::BadOpening("\"openings\" must be an array".into()));
    };
    if rows.len() > MAX_OPENINGS {
        return Err(Refusal::BadOpening(format!(
            "{} openings, more than the {MAX_OPENINGS} one statement may carry",
            rows.len()
        )));
    }
    let mut sealed: Vec<Commitment> = Vec::new();
    commitments_in(
        &serde_json::Value::Object(statement.body.args.clone()),
        &mut sealed,
    );
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let opening = Opening::from_json(row).ok_or_else(|| {
                Refusal::BadOpening(format!(
                    "openings[{i}] is not {{\"commitment\", \"salt\" (16 bytes), \"value\"}} in base64"
                ))
            })?;
            if !opening.is_valid() {
                return Err(Refusal::BadOpening(format!(
                    "openings[{i}]: its value and salt do not open commitment {}",
                    opening.commitment.0
                )));
            }
            if !sealed.contains(&opening.commitment) {
                return Err(Refusal::BadOpening(format!(
                    "openings[{i}]: commitment {} is not sealed in this statement's args",
                    opening.commitment.0
                )));
            }
            Ok(opening)
        })
        .collect()
}
