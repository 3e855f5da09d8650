//! Signed checkpoints in the service: a [`Checkpointer`] signs the log's tree head with the log
//! key (only when the log grew, never inconsistently: `bangfu_store::checkpoints`) and gathers
//! cosignatures from the configured witnesses; a background task runs it every interval, and
//! `POST /v1/checkpoints` on demand. `GET /v1/checkpoint` serves the latest cosigned note and
//! `GET /v1/checkpoints` lists them all.
//!
//! A witness that is down or refuses is logged and asked again next round; it never holds up
//! appends, which do not wait for checkpoints at all.

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::params::{Q, at_least};
use super::{App, List, Options};
use crate::witness::{ClientError, WitnessEndpoint};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bangfu_domain::role::Role;
use bangfu_ledger::note::Signer;
use bangfu_ledger::time::Timestamp;
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::{Backend, StoredCheckpoint};
use bangfu_store::checkpoints::{CheckpointingError, sign_checkpoint};
use bangfu_store::log::consistency_proof;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use utoipa::{IntoParams, ToSchema};

type S<B, V> = State<Arc<App<B, V>>>;

/// The most checkpoints one page lists.
pub const MAX_CHECKPOINTS: u32 = 100;

/// Signs checkpoints with the log key and asks witnesses to cosign them.
pub struct Checkpointer {
    signer: Signer,
    every: Duration,
    witnesses: Vec<WitnessEndpoint>,
    /// One round at a time (the timer's and `POST /v1/checkpoints`'), so two rounds never ask a
    /// witness from the same old size. Holds, per witness name, the size it last cosigned as far
    /// as this process knows; an unknown one is asked from 0 and names its size in a 409.
    turn: Mutex<HashMap<String, u64>>,
}

/// What a witness did with a checkpoint in one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessOutcome {
    /// It cosigned in this round; the cosignature verified and is stored.
    Cosigned,
    /// Its cosignature was stored before.
    Already,
    /// It gave none; asked again next round.
    Failed(String),
}

/// One round: the checkpoint as stored (with its cosignatures), and each witness's outcome.
#[derive(Clone, Debug)]
pub struct Round {
    pub checkpoint: StoredCheckpoint,
    pub witnesses: Vec<(WitnessEndpoint, WitnessOutcome)>,
}

impl Checkpointer {
    /// Checks that no two witnesses share a name (cosignatures are stored by witness name).
    pub fn new(
        signer: Signer,
        every: Duration,
        witnesses: Vec<WitnessEndpoint>,
    ) -> Result<Checkpointer, String> {
        for (i, w) in witnesses.iter().enumerate() {
            if witnesses[..i].iter().any(|o| o.name() == w.name()) {
                return Err(format!(
                    "见证人名称重复 / two witnesses are named {}; each --witness needs its own name",
                    w.name()
                ));
            }
        }
        Ok(Checkpointer {
            signer,
            every,
            witnesses,
            turn: Mutex::new(HashMap::new()),
        })
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn witnesses(&self) -> &[WitnessEndpoint] {
        &self.witnesses
    }

    /// The interval of the background task; zero means on demand only.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// Refuses a log key whose origin is not the log's (from its genesis): its checkpoints would
    /// name another log. An empty log is checked at its first checkpoint by the witnesses' and
    /// verifiers' own origin checks.
    pub async fn check_origin<B: Backend>(&self, backend: &B) -> anyhow::Result<()> {
        if backend.size().await? == 0 {
            return Ok(());
        }
        let registry = bangfu_projections::projector::registry_at(backend, 1).await?;
        match registry.authority.origin {
            Some(origin) if origin != self.signer.name() => anyhow::bail!(
                "日志标识不符 / the log key is named {:?} but this log's origin (its genesis) is \
                 {origin:?}; use the ledger.json `bangfu init` wrote for this log",
                self.signer.name()
            ),
            _ => Ok(()),
        }
    }

    /// Signs a checkpoint of the current size if the log grew (else takes the latest), then asks
    /// every witness that has not cosigned it yet.
    pub async fn round<B: Backend + Clone>(
        &self,
        backend: &B,
        now_ms: i64,
    ) -> Result<Round, CheckpointingError> {
        let mut known = self.turn.lock().await;
        // Who cosigned the latest checkpoint before this round is known to hold its size.
        if let Some(before) = backend.latest_checkpoint().await? {
            for (name, _) in &before.cosignatures {
                let k = known.entry(name.clone()).or_default();
                *k = (*k).max(before.size);
            }
        }
        let checkpoint = sign_checkpoint(backend, &self.signer, now_ms).await?;
        let mut asked = Vec::new();
        for w in &self.witnesses {
            if checkpoint.cosignatures.iter().any(|(n, _)| n == w.name()) {
                continue;
            }
            let hint = known.get(w.name()).copied().unwrap_or(0);
            let (backend, w, c) = (backend.clone(), w.clone(), checkpoint.clone());
            // Witnesses are asked at once: one that times out does not delay the others.
            asked.push((
                w.clone(),
                tokio::spawn(async move { ask(&backend, &w, &c, hint).await }),
            ));
        }
        let mut outcomes: HashMap<String, WitnessOutcome> = HashMap::new();
        for (w, task) in asked {
            let answer = task
                .await
                .unwrap_or_else(|e| Err(format!("the request task failed: {e}")));
            let outcome = match answer {
                Ok(line) => {
                    match backend
                        .add_cosignature(checkpoint.size, w.name(), &line, now_ms)
                        .await
                    {
                        Ok(()) => {
                            known.insert(w.name().to_owned(), checkpoint.size);
                            tracing::info!(witness = %w.name(), size = checkpoint.size, "cosigned");
                            WitnessOutcome::Cosigned
                        }
                        Err(e) => WitnessOutcome::Failed(format!("storing its cosignature: {e}")),
                    }
                }
                Err(why) => WitnessOutcome::Failed(why),
            };
            if let WitnessOutcome::Failed(why) = &outcome {
                tracing::warn!(witness = %w.name(), url = %w.url, size = checkpoint.size, error = %why, "no cosignature this round");
            }
            outcomes.insert(w.name().to_owned(), outcome);
        }
        let stored = backend
            .checkpoint(checkpoint.size)
            .await?
            .unwrap_or(checkpoint);
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| {
                let outcome = outcomes.remove(w.name()).unwrap_or(WitnessOutcome::Already);
                (w.clone(), outcome)
            })
            .collect();
        Ok(Round {
            checkpoint: stored,
            witnesses,
        })
    }
}

/// Asks one witness to cosign `c`, from the size it is believed to hold; on a 409 asks once more
/// from the size it names. Returns the verified cosignature line.
async fn ask<B: Backend>(
    backend: &B,
    w: &WitnessEndpoint,
    c: &StoredCheckpoint,
    hint: u64,
) -> Result<String, String> {
    let mut old = hint.min(c.size);
    for attempt in 0..2 {
        let proof = if old == 0 || old == c.size {
            Vec::new()
        } else {
            consistency_proof(backend, old, c.size)
                .await
                .map_err(|e| format!("the consistency proof from size {old}: {e}"))?
        };
        let (endpoint, note) = (w.clone(), c.note.clone());
        let answer = tokio::task::spawn_blocking(move || endpoint.cosign(old, &proof, &note))
            .await
            .map_err(|e| format!("the request task failed: {e}"))?;
        match answer {
            Ok(line) => return Ok(line),
            Err(ClientError::Conflict(k)) if k > c.size => {
                return Err(format!(
                    "见证人持有更大的检查点 / the witness last cosigned size {k}, larger than this \
                     checkpoint's {}: it has seen a longer tree under this origin (the log was \
                     rolled back, or another log uses its origin); investigate before anything else",
                    c.size
                ));
            }
            Err(ClientError::Conflict(k)) if attempt == 0 => old = k,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!(
        "the witness answered 409 twice; its size changed while it was asked (size {old})"
    ))
}

/// The options' checkpointing, for the start log line.
pub fn describe(options: &Options) -> String {
    match &options.checkpoints {
        None => "none: no ledger config (--config), so this service signs no checkpoints".into(),
        Some(c) => {
            let when = if c.every.is_zero() {
                "on demand (POST /v1/checkpoints)".to_owned()
            } else {
                format!("every {} s", c.every.as_secs())
            };
            let witnesses: Vec<&str> = c.witnesses.iter().map(|w| w.name()).collect();
            format!(
                "signed {when} as {}; witnesses: {}",
                c.signer.verifier_key(),
                if witnesses.is_empty() {
                    "none".to_owned()
                } else {
                    witnesses.join(", ")
                }
            )
        }
    }
}

/// Runs a round every interval until `stopped` changes; `None` when the service signs no
/// checkpoints or only on demand.
pub fn spawn<B: Backend + Clone, V: ViewStore + Clone>(
    app: Arc<App<B, V>>,
    mut stopped: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let checkpointer = app.options.checkpoints.clone()?;
    if checkpointer.every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            let round = async {
                // An empty log has nothing to sign; say nothing until it has.
                match app.backend.size().await {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "checkpoint round skipped: cannot read the log's size");
                        return;
                    }
                }
                match checkpointer.round(&app.backend, app.now()).await {
                    Ok(r) => tracing::debug!(size = r.checkpoint.size, "checkpoint round done"),
                    Err(e @ CheckpointingError::Inconsistent(_)) => {
                        tracing::error!(error = %e, "no checkpoint signed")
                    }
                    Err(e) => tracing::warn!(error = %e, "no checkpoint signed this round"),
                }
            };
            // Stopping abandons a round in flight; what it stored stays stored.
            tokio::select! {
                _ = round => {}
                _ = stopped.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(checkpointer.every) => {}
                _ = stopped.changed() => return,
            }
        }
    }))
}

/// A stored checkpoint, as listed.
#[derive(Serialize, ToSchema)]
pub struct CheckpointView {
    pub size: u64,
    /// RFC 6962 root hash of the first `size` entries, base64.
    pub root: String,
    /// When the log signed it (UTC, as every time in the ledger is written).
    pub signed_at: String,
    /// The witnesses whose cosignatures it carries, by key name.
    pub witnesses: Vec<String>,
    /// The C2SP signed note: the log's signature, then each witness's cosignature.
    pub note: String,
}

impl CheckpointView {
    pub fn of(c: &StoredCheckpoint) -> CheckpointView {
        CheckpointView {
            size: c.size,
            root: c.root.to_base64(),
            signed_at: Timestamp::from_unix_millis(c.signed_at_ms)
                .map(|t| t.to_string())
                .unwrap_or_else(|| c.signed_at_ms.to_string()),
            witnesses: c.cosignatures.iter().map(|(w, _)| w.clone()).collect(),
            note: c.cosigned_note(),
        }
    }
}

/// The latest signed checkpoint with its cosignatures (public).
#[utoipa::path(get, path = "/v1/checkpoint", tag = "log",
    responses(
        (status = 200, description = "The latest checkpoint the log signed, as a C2SP signed note with every witness cosignature (verify it with the log's vkey from ledger.json)", content_type = "text/plain; charset=utf-8", body = String),
        (status = 404, description = "`no_checkpoint`: none signed yet", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn latest<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
) -> ApiResult<Response> {
    let Some(c) = app.backend.latest_checkpoint().await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_checkpoint",
            "尚未签署检查点 / no checkpoint has been signed yet: a service started with the \
             ledger's config (--config) signs one within --checkpoint-every seconds once the log \
             has entries, and POST /v1/checkpoints or `bangfu checkpoint` signs one now; the \
             unsigned tree head is at GET /v1/tree-head",
        ));
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        c.cosigned_note(),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointsQuery {
    /// The smallest size to list (the `next` of the previous page); from the first when omitted.
    #[param(minimum = 0)]
    pub from: Option<i64>,
    /// At most this many checkpoints (default and maximum 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Every checkpoint the log signed, by size (public).
#[utoipa::path(get, path = "/v1/checkpoints", tag = "log", params(CheckpointsQuery),
    responses(
        (status = 200, description = "A page of checkpoints, smallest size first; `next` is the `from` of the next page", body = CheckpointList),
        (status = 400, description = "`bad_parameter`", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn list<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    Q(q): Q<CheckpointsQuery>,
) -> ApiResult<Json<List<CheckpointView>>> {
    let limit = q.limit.unwrap_or(MAX_CHECKPOINTS);
    if !(1..=MAX_CHECKPOINTS).contains(&limit) {
        return Err(ApiError::bad_parameter(format!(
            "limit 应在 1 到 {MAX_CHECKPOINTS} 之间 / limit must be from 1 to {MAX_CHECKPOINTS}, not {limit}"
        )));
    }
    let from = q.from.map(|f| at_least("from", f, 0)).transpose()?;
    let log_size = app.backend.size().await?;
    // One more than asked tells whether another page follows.
    let mut page = app
        .backend
        .checkpoints(from.unwrap_or(0), limit + 1)
        .await?;
    let next = if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(|c| (c.size + 1).to_string())
    } else {
        None
    };
    Ok(Json(List {
        log_size,
        data: page.iter().map(CheckpointView::of).collect(),
        next,
    }))
}

/// What a witness did in a round, as answered.
#[derive(Serialize, ToSchema)]
pub struct WitnessView {
    /// The witness's key name.
    pub witness: String,
    pub url: String,
    /// `cosigned` (in this round), `already` (before), or `failed` (asked again next round).
    pub status: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The answer to `POST /v1/checkpoints`.
#[derive(Serialize, ToSchema)]
pub struct RoundView {
    pub checkpoint: CheckpointView,
    pub witnesses: Vec<WitnessView>,
}

impl RoundView {
    pub fn of(r: &Round) -> RoundView {
        RoundView {
            checkpoint: CheckpointView::of(&r.checkpoint),
            witnesses: r
                .witnesses
                .iter()
                .map(|(w, o)| {
                    let (status, error) = match o {
                        WitnessOutcome::Cosigned => ("cosigned", None),
                        WitnessOutcome::Already => ("already", None),
                        WitnessOutcome::Failed(why) => ("failed", Some(why.clone())),
                    };
                    WitnessView {
                        witness: w.name().to_owned(),
                        url: w.url.clone(),
                        status: status.into(),
                        error,
                    }
                })
                .collect(),
        }
    }
}

impl From<CheckpointingError> for ApiError {
    fn from(e: CheckpointingError) -> ApiError {
        match e {
            CheckpointingError::Store(s) => s.into(),
            CheckpointingError::Inconsistent(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "inconsistent",
                e.to_string(),
            ),
            CheckpointingError::Sign(_) => {
                ApiError::new(StatusCode::CONFLICT, "cannot_sign", e.to_string())
            }
        }
    }
}

/// Signs a checkpoint now and gathers cosignatures (coordinators: the authority's role).
#[utoipa::path(post, path = "/v1/checkpoints", tag = "log", security(("bangfu" = [])),
    responses(
        (status = 200, description = "The checkpoint of the current size (the latest one if the log did not grow), and what each witness did", body = RoundView),
        (status = 401, description = "`unauthenticated` or a bad request signature", body = super::error::ErrorBody),
        (status = 403, description = "`forbidden`: only coordinators sign checkpoints on demand", body = super::error::ErrorBody),
        (status = 409, description = "`no_log_key`: the service was started without the ledger's config, so it signs nothing; `cannot_sign`: the log is empty, or the configured log key is not the one that signed before", body = super::error::ErrorBody),
        (status = 500, description = "`inconsistent`: the stored log no longer extends the last checkpoint; nothing signed", body = super::error::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::error::ErrorBody),
    ))]
pub async fn sign_now<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
) -> ApiResult<Json<RoundView>> {
    let signer = caller.signer()?;
    if !signer.roles.contains(&Role::Coordinator) {
        return Err(ApiError::forbidden(
            "only coordinators (the authority's role) sign checkpoints on demand / 仅组织协调人员可即时签署检查点",
        ));
    }
    // 409, not 5xx: the service is working as configured; what it was asked for needs a
    // configuration it was not started with.
    let Some(checkpointer) = app.options.checkpoints.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_log_key",
            "本服务未配置日志密钥 / this service holds no log key, so it signs no checkpoints: \
             start `bangfu serve` with --config <ledger.json> (written by `bangfu init`)",
        ));
    };
    let round = checkpointer.round(&app.backend, app.now()).await?;
    Ok(Json(RoundView::of(&round)))
}

/// For the OpenAPI description: a page of checkpoints.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CheckpointList {
    pub log_size: u64,
    pub data: Vec<CheckpointView>,
    /// The `from` of the next page, or `null` on the last.
    pub next: Option<String>,
}
