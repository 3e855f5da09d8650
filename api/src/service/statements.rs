//! `POST /v1/statements`: a signed statement into the log through [`crate::intake`], the one path
//! every statement takes. The statement authenticates itself (its signature and key), so this
//! route needs no `Authorization` header.

use super::App;
use super::error::{ApiError, ErrorBody};
use crate::intake::{MAX_BODY, Refusal};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::Backend;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// For the OpenAPI description: a signed statement (ledger format v1, docs/ledger-format.md).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StatementDoc {
    pub body: StatementBodyDoc,
    /// Ed25519 signature, base64, over `bangfu/statement/v1\n` and the body's RFC 8785 form.
    pub sig: String,
    /// Optional, outside the signed bytes: the cleartext of the statement's sealed values, kept in
    /// the erasable vault. Each must open a commitment in `body.args`.
    pub openings: Option<Vec<OpeningDoc>>,
}

/// For the OpenAPI description: the opening of one sealed value (docs/ledger-format.md §9).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OpeningDoc {
    /// The commitment in the statement, base64 of 32 bytes.
    pub commitment: String,
    /// The 16-byte salt, base64.
    pub salt: String,
    /// The sealed value.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// For the OpenAPI description: what the signer signs.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StatementBodyDoc {
    /// A fresh UUID for every statement.
    pub id: String,
    /// The command, e.g. `record_visit` (`bangfu commands` lists them).
    #[schema(rename = "type")]
    pub r#type: String,
    /// `<aggregate type>/<id>`, e.g. `pairing/p2016:h1`.
    pub target: String,
    /// The command's arguments.
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    /// When it was signed, RFC 3339 UTC with milliseconds.
    pub signed_at: String,
    /// The signer's Ed25519 public key, base64.
    pub key: String,
}

/// What an accepted statement became (the intake's receipt).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AcceptedDoc {
    /// The entry's index in the log.
    pub index: u64,
    /// The entry's Merkle leaf hash, base64.
    pub leaf: String,
    /// When the log recorded it.
    pub recorded_at: String,
    /// The domain events the statement produced.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
    /// True when the statement was already in the log: this is its original receipt.
    pub replayed: bool,
}

/// Appends a signed statement.
///
/// The checks run in order and the first that fails answers, changing nothing: body size,
/// JSON, schema, canonical form (NFC, integers), openings of sealed values, signature, `signed_at` window, key registered
/// and not revoked, role, statement id not reused, then the domain's decision. Sending the same
/// statement again returns its original receipt with `replayed: true` and status 200.
#[utoipa::path(post, path = "/v1/statements", tag = "statements",
    request_body(content = StatementDoc, content_type = "application/json"),
    responses(
        (status = 201, description = "Appended: the entry's index, leaf hash and events", body = AcceptedDoc),
        (status = 200, description = "Already in the log: its original receipt, `replayed: true`", body = AcceptedDoc),
        (status = 400, description = "`bad_json`", body = ErrorBody),
        (status = 401, description = "`bad_signature`, `key_unknown`, `key_revoked`", body = ErrorBody),
        (status = 403, description = "`role_not_allowed`", body = ErrorBody),
        (status = 409, description = "`id_reused`, `refused` (the domain's rule, e.g. a fund below zero)", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 422, description = "`bad_schema`, `not_canonical`, `bad_opening`, `signed_at_out_of_window`", body = ErrorBody),
        (status = 503, description = "`unavailable`: nothing was written, send the same statement again", body = ErrorBody),
    ))]
pub async fn submit<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): State<Arc<App<B, V>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large(&headers).into_response();
        }
        Err(rejection) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                format!(
                    "无法读取请求体 / the request body could not be read ({}); send the statement again",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    match app.submit(&body).await {
        Ok(accepted) => {
            tracing::info!(
                index = accepted.index,
                replayed = accepted.replayed,
                "statement accepted"
            );
            let status = if accepted.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            (status, Json(accepted)).into_response()
        }
        Err(refusal) => {
            tracing::info!(code = refusal.code(), "statement refused");
            ApiError::from(refusal).into_response()
        }
    }
}

/// The body was over the limit before it was all read: the intake's `too_large`, with the size
/// when the client declared it.
fn too_large(headers: &HeaderMap) -> ApiError {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > MAX_BODY);
    match declared {
        Some(size) => Refusal::TooLarge {
            size,
            limit: MAX_BODY,
        }
        .into(),
        None => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "指令过大 / the statement is more than the {MAX_BODY} bytes accepted; split the work into several statements"
            ),
        ),
    }
}
