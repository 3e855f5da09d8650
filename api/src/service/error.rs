//! Every error the service answers is JSON `{"error": {"code", "message"}}`: a stable code for
//! programs and a bilingual message for people that says what to fix. Statement refusals keep the
//! codes and statuses of [`Refusal`]; reads add their own codes below.

use crate::intake::Refusal;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bangfu_projections::apply::ProjectError;
use bangfu_projections::views::ViewError;
use bangfu_store::backend::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, as answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable, e.g. `bad_signature`, `forbidden`, `not_found`.
    pub code: String,
    /// For people, in Chinese and English: what was wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A query or path parameter that cannot be used as given.
    pub fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message)
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "没有 {what} {id} / there is no {what} {id} in the read models at this point; check the id (ids are case-sensitive) or the as_of / at_size asked for"
            ),
        )
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "需要签名请求 / this read needs a signed request: send `Authorization: Bangfu key=<base64 public key>,ts=<unix ms>,sig=<base64 signature>` (see docs/api.md)",
        )
    }

    pub fn forbidden(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("无权查看 / your key may not read this: {why}"),
        )
    }

    pub fn unavailable(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!(
                "服务暂不可用，请稍后重试 / the service cannot answer right now ({why}); try again shortly"
            ),
        )
    }

    pub fn internal(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt",
            format!(
                "账本或读模型已损坏 / the stored ledger or read models are damaged ({why}); run `bangfu verify` and `bangfu rebuild`, and call the operator"
            ),
        )
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(r.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: r.code(),
            message: r.to_string(),
        }
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> ApiError {
        match e {
            // A conflict is the follower moving on under a read: asking again answers.
            ViewError::Conflict { .. } | ViewError::Unavailable(_) => ApiError::unavailable(e),
            ViewError::Corrupt(_) => ApiError::internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Corrupt(_) => ApiError::internal(e),
            _ => ApiError::unavailable(e),
        }
    }
}

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> ApiError {
        match e {
            ProjectError::Views(v) => v.into(),
            ProjectError::Store(s) => s.into(),
            ProjectError::BadEntry { .. } => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
