//! Who is asking. Reads are authenticated by the same Ed25519 keys that sign statements, with a
//! signed request instead of a session, so any number of service instances can serve one log
//! without sharing state:
//!
//! ```text
//! Authorization: Bangfu key=<base64 public key>,ts=<unix ms>,sig=<base64 signature>
//! signature over the UTF-8 text  "bangfu-request-v1\n<METHOD>\n<path and query as sent>\n<ts>"
//! ```
//!
//! `ts` must be within [`REQUEST_WINDOW_MS`] of the server clock, and the key registered and not
//! revoked in the [`Directory`]: the registry as of the log's current size, refreshed as the log
//! grows. A signed request can be replayed within its window; that only repeats a read.

use super::error::ApiError;
use axum::http::StatusCode;
use bangfu_domain::aggregates::authority::KeyState;
use bangfu_domain::command::{Holder, Key};
use bangfu_domain::registry::Registry;
use bangfu_domain::role::Role;
use bangfu_ledger::b64;
use bangfu_ledger::signature::{PublicKey, SigningKey, signature_from_base64};
use bangfu_projections::apply::ProjectError;
use bangfu_projections::projector;
use bangfu_store::backend::{Backend, StoreError};
use ed25519_dalek::Signer as _;
use std::collections::BTreeSet;
use std::sync::RwLock;

/// The first line of every signed request: it keeps a request signature from ever being taken for
/// a statement signature or anything else signed with the same key.
pub const REQUEST_CONTEXT: &str = "bangfu-request-v1";

/// How far a request's `ts` may be from the server clock, either way.
pub const REQUEST_WINDOW_MS: i64 = 5 * 60 * 1000;

/// The aggregates whose events make the registry (as in the store's writer and the projector).
const DIRECTORY_TYPES: [&str; 5] = ["authority", "unit", "cadre", "household", "program"];

/// The exact bytes a request signature covers.
pub fn request_message(method: &str, path_and_query: &str, ts_ms: i64) -> String {
    format!("{REQUEST_CONTEXT}\n{method}\n{path_and_query}\n{ts_ms}")
}

/// The `Authorization` header value for a request: for clients, tests and tools.
pub fn authorization(key: &SigningKey, method: &str, path_and_query: &str, ts_ms: i64) -> String {
    let sig = key.sign(request_message(method, path_and_query, ts_ms).as_bytes());
    format!(
        "Bangfu key={},ts={ts_ms},sig={}",
        PublicKey::from(key).to_base64(),
        b64::encode(sig.to_bytes())
    )
}

/// The parts of an `Authorization: Bangfu …` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    pub key: String,
    pub ts_ms: i64,
    pub sig: String,
}

fn bad_authorization(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_authorization",
        format!(
            "Authorization 头格式不对 / the Authorization header is not understood: {why}; send `Bangfu key=<base64 public key>,ts=<unix ms>,sig=<base64 signature>`"
        ),
    )
}

/// Parses `Bangfu key=…,ts=…,sig=…` (parameters in any order, each exactly once).
pub fn parse_authorization(value: &str) -> Result<Credentials, ApiError> {
    let rest = value
        .strip_prefix("Bangfu ")
        .ok_or_else(|| bad_authorization("the scheme must be `Bangfu`"))?;
    let (mut key, mut ts, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (name, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| bad_authorization("each parameter is name=value"))?;
        let slot = match name {
            "key" => &mut key,
            "ts" => &mut ts,
            "sig" => &mut sig,
            _ => return Err(bad_authorization(&format!("unknown parameter {name:?}"))),
        };
        if slot.replace(v.to_owned()).is_some() {
            return Err(bad_authorization(&format!("{name} is given twice")));
        }
    }
    let (Some(key), Some(ts), Some(sig)) = (key, ts, sig) else {
        return Err(bad_authorization("key, ts and sig are all needed"));
    };
    let ts_ms = ts
        .parse::<i64>()
        .map_err(|_| bad_authorization("ts is milliseconds since 1970 as a whole number"))?;
    Ok(Credentials { key, ts_ms, sig })
}

/// Checks the signature and the clock; returns the key. The registry is asked afterwards.
pub fn verify_request(
    c: &Credentials,
    method: &str,
    path_and_query: &str,
    now_ms: i64,
) -> Result<Key, ApiError> {
    let key = PublicKey::from_base64(&c.key)
        .map_err(|_| bad_authorization("key is not a base64 Ed25519 public key"))?;
    let sig = signature_from_base64(&c.sig)
        .ok_or_else(|| bad_authorization("sig is not a base64 Ed25519 signature"))?;
    if key
        .verify_strict(
            request_message(method, path_and_query, c.ts_ms).as_bytes(),
            &sig,
        )
        .is_err()
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_request_signature",
            format!(
                "请求签名无效 / the request signature does not verify: sign the text \"{REQUEST_CONTEXT}\\n{method}\\n{path_and_query}\\n{}\" with the key named in `key`",
                c.ts_ms
            ),
        ));
    }
    if (c.ts_ms - now_ms).abs() > REQUEST_WINDOW_MS {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "request_expired",
            format!(
                "请求时间超出 ±5 分钟 / the request's ts {} is more than 5 minutes from the server's clock {now_ms}; check the device clock and sign the request again",
                c.ts_ms
            ),
        ));
    }
    Ok(Key(key))
}

/// A registered, unrevoked key that signed this request.
#[derive(Clone, Debug)]
pub struct Signer {
    pub key: String,
    pub holder: Holder,
    pub roles: BTreeSet<Role>,
}

impl Signer {
    /// Coordinators, inspectors and evaluators oversee the program: they read everything.
    pub fn oversees(&self) -> bool {
        self.roles
            .iter()
            .any(|r| matches!(r, Role::Coordinator | Role::Inspector | Role::Evaluator))
    }
}

/// Who sent a request.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Signed(Signer),
}

impl Caller {
    /// The signer, or 401 for an unsigned request.
    pub fn signer(&self) -> Result<&Signer, ApiError> {
        match self {
            Caller::Signed(s) => Ok(s),
            Caller::Anonymous => Err(ApiError::unauthenticated()),
        }
    }

    /// The signer if they oversee the program, else 401 or 403.
    pub fn overseer(&self) -> Result<&Signer, ApiError> {
        let s = self.signer()?;
        if s.oversees() {
            Ok(s)
        } else {
            Err(ApiError::forbidden(
                "only coordinators, inspectors and evaluators read this / 仅组织协调、纪检监察、考核评价人员可查看",
            ))
        }
    }
}

/// The registry as of the log's current size, for looking up request keys.
#[derive(Default)]
pub struct Directory {
    state: RwLock<DirState>,
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct DirState {
    registry: Registry,
    /// How many entries the registry reflects.
    applied: u64,
}

impl Directory {
    /// The registry as of the log's size now.
    pub async fn load<B: Backend>(backend: &B) -> Result<Directory, ProjectError> {
        let size = backend.size().await?;
        let registry = projector::registry_at(backend, size).await?;
        Ok(Directory {
            state: RwLock::new(DirState {
                registry,
                applied: size,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// How many entries the registry reflects.
    pub fn applied(&self) -> u64 {
        self.state.read().unwrap_or_else(|e| e.into_inner()).applied
    }

    /// The key's registration, if any (revoked keys included, with the reason).
    pub fn key(&self, key: &Key) -> Option<KeyState> {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        s.registry.key(key).cloned()
    }

    /// The log's origin, from its genesis.
    pub fn origin(&self) -> Option<String> {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        s.registry.authority.origin.clone()
    }

    /// Takes in the directory events the log gained since the last refresh.
    pub async fn refresh<B: Backend>(&self, backend: &B) -> Result<(), StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let start = self.applied();
        let size = backend.size().await?;
        if size <= start {
            return Ok(());
        }
        let mut events = Vec::new();
        let mut from = start;
        'pages: while from < size {
            let page = backend
                .events_of_types(&DIRECTORY_TYPES, from, 1000)
                .await?;
            let Some(&(last, _)) = page.last() else {
                break;
            };
            for (index, event) in page {
                if index >= size {
                    break 'pages;
                }
                events.push(event);
            }
            from = last + 1;
        }
        // Applied to a copy, so a damaged event leaves the directory as it was.
        let mut registry = {
            let s = self.state.read().unwrap_or_else(|e| e.into_inner());
            s.registry.clone()
        };
        for event in &events {
            registry
                .apply(event)
                .map_err(|e| StoreError::Corrupt(format!("a registry event: {e}")))?;
        }
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.registry = registry;
        s.applied = size;
        Ok(())
    }

    /// The signer of a verified request, or why they may not read at all.
    pub fn signer(&self, key: &Key) -> Result<Signer, ApiError> {
        match self.key(key) {
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "key_unknown",
                "密钥未登记 / the request's key is not registered in this ledger; ask a coordinator to register it (register_key)",
            )),
            Some(KeyState {
                revoked: Some(why), ..
            }) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "key_revoked",
                format!(
                    "密钥已吊销 / the request's key was revoked ({why}); sign with your current key"
                ),
            )),
            Some(state) => Ok(Signer {
                key: key.to_base64(),
                holder: state.holder,
                roles: state.roles,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let sk = SigningKey::from_bytes(&[9u8; 32]);
        let now = 1_700_000_000_000;
        let header = authorization(&sk, "GET", "/v1/households/h1?limit=5", now);
        let c = parse_authorization(&header).unwrap();
        assert!(verify_request(&c, "GET", "/v1/households/h1?limit=5", now + 1000).is_ok());
        let other = verify_request(&c, "GET", "/v1/households/h2?limit=5", now).unwrap_err();
        assert_eq!(other.code, "bad_request_signature");
        let late = verify_request(&c, "GET", "/v1/households/h1?limit=5", now + 301_000);
        assert_eq!(late.unwrap_err().code, "request_expired");
    }

    #[test]
    fn malformed_headers_are_refused_with_what_to_send() {
        for bad in [
            "Bearer abc",
            "Bangfu key=a,ts=1",
            "Bangfu key=a,ts=1,sig=b,sig=c",
            "Bangfu key=a,ts=x,sig=b",
            "Bangfu key=a,ts=1,sig=b,extra=1",
        ] {
            let e = parse_authorization(bad).unwrap_err();
            assert_eq!(e.code, "bad_authorization", "{bad}");
            assert!(e.message.contains("Bangfu key="), "{bad}");
        }
    }
}
