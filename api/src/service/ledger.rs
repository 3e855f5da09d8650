//! Public routes: health, readiness, and the log itself — tree head, entries, proofs. Entries hold
//! personal facts only as salted commitments, and anyone must be able to check that the log was
//! only ever extended, so none of these asks who is calling.

use super::error::{ApiError, ApiResult};
use super::params::{P, Q, at_least};
use super::{App, List, One};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::merkle::leaf_hash;
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::Backend;
use bangfu_store::log::tree_head;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, ToSchema};

type S<B, V> = State<Arc<App<B, V>>>;

/// The most entries one page returns (a statement may be 256 KiB).
pub const MAX_ENTRIES: u32 = 100;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: String,
}

/// Process up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub ready: bool,
    /// Entries in the log.
    pub log_size: u64,
    /// Entries the read models reflect.
    pub read_models: u64,
}

/// Database reachable and read models caught up.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: the database answers and the read models are within the configured lag", body = Ready),
        (status = 503, description = "Not ready (`not_ready`): the database does not answer, the read models lag, or their follower stopped", body = super::error::ErrorBody),
    ))]
pub async fn readyz<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
) -> ApiResult<Json<Ready>> {
    let not_ready = |why: String| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("尚未就绪 / not ready: {why}"),
        )
    };
    let size = app
        .backend
        .size()
        .await
        .map_err(|e| not_ready(format!("the log's database does not answer ({e})")))?;
    let applied = app
        .views
        .applied()
        .await
        .map_err(|e| not_ready(format!("the read models' database does not answer ({e})")))?;
    if !app.follower_alive.load(Ordering::Relaxed) {
        return Err(not_ready(
            "the read models stopped following the log; see the service's log and run `bangfu verify`".into(),
        ));
    }
    let lag = size.saturating_sub(applied);
    if lag > app.options.ready_lag {
        return Err(not_ready(format!(
            "the read models are {lag} entries behind the log (at most {} allowed)",
            app.options.ready_lag
        )));
    }
    Ok(Json(Ready {
        ready: true,
        log_size: size,
        read_models: applied,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SizeQuery {
    /// The tree head at this size (at most the log's size); the current one when omitted.
    #[param(minimum = 0)]
    pub size: Option<i64>,
}

/// The unsigned tree head of any size: origin, size and root. The signed checkpoints are at
/// `GET /v1/checkpoint` (the latest) and `GET /v1/checkpoints`.
#[derive(Serialize, ToSchema)]
pub struct TreeHead {
    /// The log's origin line, from its genesis; `null` while the log is empty.
    pub origin: Option<String>,
    pub size: u64,
    /// RFC 6962 root hash of the first `size` entries, base64.
    pub root: String,
    /// The C2SP checkpoint body (`origin\nsize\nroot\n`) a log key signs for this size; `null`
    /// while the log is empty.
    pub checkpoint: Option<String>,
}

async fn size_or_current<B: Backend>(backend: &B, at: Option<u64>, what: &str) -> ApiResult<u64> {
    let have = backend.size().await?;
    match at {
        None => Ok(have),
        Some(n) if n <= have => Ok(n),
        Some(n) => Err(ApiError::bad_parameter(format!(
            "{what} {n}: 账本只有 {have} 条 / the ledger has only {have} entries; choose at most {have}"
        ))),
    }
}

/// The log's unsigned tree head at any size (public).
#[utoipa::path(get, path = "/v1/tree-head", tag = "log", params(SizeQuery),
    responses(
        (status = 200, description = "The tree head", body = TreeHead),
        (status = 400, description = "`bad_parameter`", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn tree_head_at<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    Q(q): Q<SizeQuery>,
) -> ApiResult<Json<TreeHead>> {
    let at = q.size.map(|n| at_least("size", n, 0)).transpose()?;
    let size = size_or_current(&app.backend, at, "size").await?;
    let root = tree_head(&app.backend, size).await?;
    let origin = if size == 0 {
        None
    } else {
        app.directory.refresh(&app.backend).await?;
        app.directory.origin()
    };
    let checkpoint = origin
        .as_ref()
        .and_then(|o| Checkpoint::new(o.clone(), size, root).format().ok());
    Ok(Json(TreeHead {
        origin,
        size,
        root: root.to_base64(),
        checkpoint,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// Continue after this entry index (the `next` of the previous page); from entry 0 when omitted.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many entries (default and maximum 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// One entry of the log.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub index: u64,
    /// The entry's Merkle leaf hash, base64.
    pub leaf: String,
    /// The entry as stored: its RFC 8785 form is exactly the bytes the leaf hashes.
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
}

fn entry_view(index: u64, body: &[u8]) -> ApiResult<EntryView> {
    let entry = serde_json::from_slice(body)
        .map_err(|e| ApiError::internal(format!("entry {index} is not JSON: {e}")))?;
    Ok(EntryView {
        index,
        leaf: leaf_hash(body).to_base64(),
        entry,
    })
}

/// The log's entries in order (public).
#[utoipa::path(get, path = "/v1/entries", tag = "log", params(EntriesQuery),
    responses(
        (status = 200, description = "A page of entries; `next` is the index to pass as `after`", body = EntryList),
        (status = 400, description = "`bad_parameter`", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn entries<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    Q(q): Q<EntriesQuery>,
) -> ApiResult<Json<List<EntryView>>> {
    let limit = q.limit.unwrap_or(MAX_ENTRIES);
    if !(1..=MAX_ENTRIES).contains(&limit) {
        return Err(ApiError::bad_parameter(format!(
            "limit 应在 1 到 {MAX_ENTRIES} 之间 / limit must be from 1 to {MAX_ENTRIES}, not {limit}"
        )));
    }
    let size = app.backend.size().await?;
    let from = match q.after {
        None => 0,
        Some(a) => at_least("after", a, 0)?.saturating_add(1),
    };
    let mut data = Vec::new();
    if from < size {
        let want = (size - from).min(u64::from(limit)) as u32;
        for stored in app.backend.entries(from, want).await? {
            data.push(entry_view(stored.index, &stored.body)?);
        }
    }
    let next = match data.last() {
        Some(last) if last.index + 1 < size => Some(last.index.to_string()),
        _ => None,
    };
    Ok(Json(List {
        log_size: size,
        data,
        next,
    }))
}

/// One entry (public).
#[utoipa::path(get, path = "/v1/entries/{index}", tag = "log",
    params(("index" = i64, Path, minimum = 0, description = "The entry's index")),
    responses(
        (status = 200, description = "The entry", body = EntryOne),
        (status = 400, description = "`bad_parameter`", body = super::error::ErrorBody),
        (status = 404, description = "`not_found`: the log is not that long", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn entry<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    P(index): P<i64>,
) -> ApiResult<Json<One<EntryView>>> {
    let index = at_least("index", index, 0)?;
    let size = app.backend.size().await?;
    if index >= size {
        return Err(ApiError::not_found("entry", &index.to_string()));
    }
    let stored = app.backend.entries(index, 1).await?;
    let stored = stored
        .first()
        .ok_or_else(|| ApiError::internal(format!("entry {index} is missing")))?;
    Ok(Json(One {
        log_size: size,
        data: entry_view(index, &stored.body)?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry's index.
    #[param(minimum = 0)]
    pub index: i64,
    /// The tree size to prove inclusion in; the current size when omitted.
    #[param(minimum = 1)]
    pub size: Option<i64>,
}

/// An RFC 9162 inclusion proof.
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    /// The entry's leaf hash, base64.
    pub leaf: String,
    /// The root of the tree of `size` entries, base64.
    pub root: String,
    /// The audit path, base64 hashes from the leaf up.
    pub path: Vec<String>,
}

fn shutting_down() -> ApiError {
    ApiError::unavailable("the service is shutting down")
}

/// Proof that an entry is in the log (public).
#[utoipa::path(get, path = "/v1/proofs/inclusion", tag = "log", params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 400, description = "`bad_parameter`: index must be below size, size at most the log's", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn inclusion<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    Q(q): Q<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    let index = at_least("index", q.index, 0)?;
    let at = q.size.map(|n| at_least("size", n, 1)).transpose()?;
    let size = size_or_current(&app.backend, at, "size").await?;
    if index >= size {
        return Err(ApiError::bad_parameter(format!(
            "index {index} 不在前 {size} 条中 / entry {index} is not among the first {size}: the index must be below the size"
        )));
    }
    let path = {
        let intake = app.intake.read().await;
        let log = intake.as_ref().ok_or_else(shutting_down)?.log();
        log.inclusion_proof(size, index).await?
    };
    let root = tree_head(&app.backend, size).await?;
    let stored = app.backend.entries(index, 1).await?;
    let stored = stored
        .first()
        .ok_or_else(|| ApiError::internal(format!("entry {index} is missing")))?;
    Ok(Json(InclusionProof {
        index,
        size,
        leaf: leaf_hash(&stored.body).to_base64(),
        root: root.to_base64(),
        path: path.iter().map(|h| h.to_base64()).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size (at least 1).
    #[param(minimum = 1)]
    pub old_size: i64,
    /// The newer tree size; the current size when omitted.
    #[param(minimum = 1)]
    pub new_size: Option<i64>,
}

/// An RFC 9162 consistency proof: the tree of `new_size` extends the tree of `old_size`.
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    /// Base64 hashes.
    pub path: Vec<String>,
}

/// Proof that the log was only extended between two sizes (public).
#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "log", params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "`bad_parameter`: 1 ≤ old_size ≤ new_size ≤ the log's size", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn consistency<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    Q(q): Q<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let old_size = at_least("old_size", q.old_size, 1)?;
    let at = q.new_size.map(|n| at_least("new_size", n, 1)).transpose()?;
    let new_size = size_or_current(&app.backend, at, "new_size").await?;
    if old_size > new_size {
        return Err(ApiError::bad_parameter(format!(
            "old_size {old_size} 须在 1 与 {new_size} 之间 / old_size must be from 1 to new_size ({new_size})"
        )));
    }
    let path = {
        let intake = app.intake.read().await;
        let log = intake.as_ref().ok_or_else(shutting_down)?.log();
        log.consistency_proof(old_size, new_size).await?
    };
    let old_root = tree_head(&app.backend, old_size).await?;
    let new_root = tree_head(&app.backend, new_size).await?;
    Ok(Json(ConsistencyProof {
        old_size,
        new_size,
        old_root: old_root.to_base64(),
        new_root: new_root.to_base64(),
        path: path.iter().map(|h| h.to_base64()).collect(),
    }))
}

/// For the OpenAPI description: a page of entries.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EntryList {
    pub log_size: u64,
    pub data: Vec<EntryView>,
    /// The cursor of the next page, or `null` on the last.
    pub next: Option<String>,
}

/// For the OpenAPI description: one entry.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EntryOne {
    pub log_size: u64,
    pub data: EntryView,
}
