//! The inspector's routes: a C2SP tlog-proof for one entry (public, like the log itself), and the
//! anomaly report (overseers), the same as `bangfu prove` and `bangfu anomalies` on the command
//! line.

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::params::{AtQuery, Q};
use super::{App, with_views};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bangfu_inspect::anomalies::{self, Kind, Options};
use bangfu_ledger::note::Note;
use bangfu_ledger::tlog_proof::TlogProof;
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::Backend;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

type S<B, V> = State<Arc<App<B, V>>>;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TlogQuery {
    /// The entry's index.
    #[param(minimum = 0)]
    pub index: i64,
    /// Prove against the signed checkpoint of this size; the latest when omitted.
    #[param(minimum = 1)]
    pub size: Option<i64>,
}

/// A C2SP tlog-proof that an entry is in the log, against a signed checkpoint (public).
///
/// The answer is the proof text of docs/ledger-format.md §8: the audit path and the signed,
/// cosigned checkpoint. Check it offline with `bangfu check-proof` and the log's vkey.
#[utoipa::path(get, path = "/v1/proofs/tlog", tag = "log", params(TlogQuery),
    responses(
        (status = 200, description = "The proof (c2sp.org/tlog-proof@v1)", content_type = "text/plain; charset=utf-8", body = String),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 404, description = "`no_checkpoint`: no signed checkpoint of that size, or none covering the entry yet", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn tlog_proof<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    Q(q): Q<TlogQuery>,
) -> ApiResult<Response> {
    if q.index < 0 || q.size.is_some_and(|s| s < 1) {
        return Err(ApiError::bad_parameter(
            "index 须 ≥ 0，size 须 ≥ 1 / index must be at least 0 and size at least 1",
        ));
    }
    let index = q.index as u64;
    let checkpoint = match q.size {
        Some(n) => app.backend.checkpoint(n as u64).await?,
        None => app.backend.latest_checkpoint().await?,
    };
    let no_checkpoint = |why: String| ApiError::new(StatusCode::NOT_FOUND, "no_checkpoint", why);
    let Some(checkpoint) = checkpoint else {
        return Err(no_checkpoint(match q.size {
            Some(n) => format!(
                "没有大小为 {n} 的签名检查点 / the log signed no checkpoint of size {n}; GET /v1/checkpoints lists the sizes it did sign"
            ),
            None => {
                "尚未签署检查点 / no checkpoint has been signed yet; POST /v1/checkpoints signs one"
                    .into()
            }
        }));
    };
    if index >= checkpoint.size {
        return Err(no_checkpoint(format!(
            "条目 {index} 不在大小为 {} 的检查点内 / entry {index} is not covered by the checkpoint of size {}: wait for the next checkpoint, or ask for one (POST /v1/checkpoints)",
            checkpoint.size, checkpoint.size
        )));
    }
    let path = bangfu_store::log::inclusion_proof(&app.backend, checkpoint.size, index).await?;
    let note = Note::parse(checkpoint.cosigned_note().as_bytes())
        .map_err(|e| ApiError::internal(format!("the stored checkpoint: {e}")))?;
    let text = TlogProof {
        extra: None,
        index,
        path,
        checkpoint: note,
    }
    .format()
    .map_err(|e| ApiError::internal(format!("formatting the proof: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomaliesQuery {
    /// Only these kinds, comma-separated (late_record, end_of_quarter_burst, copied_diary,
    /// visit_after_handover, unacknowledged_disbursement, duplicate_claim, missed_quarters,
    /// contradicted_finding); all when omitted.
    pub kind: Option<String>,
    /// At most this many findings (default 1000).
    #[param(minimum = 1, maximum = 100000)]
    pub limit: Option<u32>,
}

/// The anomaly report with the default thresholds (overseers): each finding names the entries
/// behind it (docs/anomalies.md). It reads the whole log, so it takes seconds on a large one.
#[utoipa::path(get, path = "/v1/anomalies", tag = "inspection", params(AnomaliesQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "The report: log size, counts per kind, findings (docs/anomalies.md)", body = Object),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn anomalies<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    Q(q): Q<AnomaliesQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.overseer()?;
    let mut options = Options::default();
    for k in q
        .kind
        .iter()
        .flat_map(|k| k.split(','))
        .filter(|k| !k.is_empty())
    {
        let kind: Kind = k.trim().parse().map_err(ApiError::bad_parameter)?;
        options.kinds.insert(kind);
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::bad_parameter(
            "limit 须在 1 到 100000 之间 / limit must be from 1 to 100000",
        ));
    }
    let at = app.at(&at).await?;
    let mut report = with_views!(app, at, |v| {
        anomalies::detect(&app.backend, v, &options, |_, _| {})
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
    });
    report.findings.truncate(limit as usize);
    Ok(Json(serde_json::to_value(&report).map_err(|e| {
        ApiError::internal(format!("the report: {e}"))
    })?))
}
