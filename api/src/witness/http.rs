//! The witness over HTTP: `POST /add-checkpoint` (C2SP tlog-witness) and `GET /` (the witness's
//! verifier key and the logs it follows).
//!
//! Answers: 200 with the cosignature line; 409 with `Content-Type: text/x.tlog.size` and the size
//! the witness holds (the spec fixes that body, so the explanation goes to the witness's log); every
//! other refusal is one bilingual line of `text/plain`.

use super::cosign::{MAX_REQUEST_BYTES, Witness};
use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::future::Future;
use std::sync::Arc;

/// The media type of a 409's body, per the spec.
pub const TLOG_SIZE: &str = "text/x.tlog.size";
const TEXT: &str = "text/plain; charset=utf-8";

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}

/// One line: the message with any newline flattened, so the body stays a single line.
fn line(message: impl std::fmt::Display) -> String {
    let mut s = message.to_string().replace('\n', " ");
    s.push('\n');
    s
}

/// The witness's routes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/", get(about))
        .route(
            "/add-checkpoint",
            post(add_checkpoint).layer(middleware::from_fn(refuse_announced_oversize)),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(witness)
}

/// The witness's vkey on the first line, then one `log <origin>` line per log it follows.
async fn about(State(witness): State<Arc<Witness>>) -> Response {
    let mut body = format!("{}\n", witness.key());
    for origin in witness.origins() {
        body.push_str(&format!("log {origin}\n"));
    }
    text(StatusCode::OK, body)
}

/// Refuses a request whose announced length is over the limit before reading any of it, so the
/// client hears why rather than meeting a closed connection half-way through sending.
async fn refuse_announced_oversize(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        return too_large();
    }
    next.run(request).await
}

fn too_large() -> Response {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        line(format_args!(
            "请求过大 / the request is over {MAX_REQUEST_BYTES} bytes; a checkpoint request is far smaller"
        )),
    )
}

async fn add_checkpoint(
    State(witness): State<Arc<Witness>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                line(format_args!(
                    "无法读取请求 / the request body could not be read: {}",
                    e.body_text()
                )),
            );
        }
    };
    // The state is fsynced: keep that off the async threads.
    let decided = {
        let witness = witness.clone();
        tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await
    };
    match decided {
        Ok(Ok(lines)) => {
            tracing::info!(status = 200, "cosigned");
            text(StatusCode::OK, lines)
        }
        Ok(Err(refusal)) => {
            let status =
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::error!(status = status.as_u16(), reason = %refusal, "refused");
            } else {
                tracing::warn!(status = status.as_u16(), reason = %refusal, "refused");
            }
            match refusal.known_size() {
                Some(size) => (
                    status,
                    [(header::CONTENT_TYPE, TLOG_SIZE)],
                    format!("{size}\n"),
                )
                    .into_response(),
                None => text(status, line(&refusal)),
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "the cosigning task failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                line(
                    "见证内部错误 / the witness failed internally; nothing was cosigned, try again",
                ),
            )
        }
    }
}

async fn no_route() -> Response {
    text(
        StatusCode::NOT_FOUND,
        line("没有这个地址 / no such route: a witness answers POST /add-checkpoint and GET /"),
    )
}

async fn method_not_allowed() -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        line(
            "该地址不支持此方法 / this route does not take that method: POST /add-checkpoint, GET /",
        ),
    )
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    witness: Arc<Witness>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(
        address = %listener.local_addr()?,
        vkey = %witness.key(),
        logs = witness.origins().collect::<Vec<_>>().join(","),
        state = %witness.state().path().display(),
        "serving"
    );
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped");
    Ok(())
}
