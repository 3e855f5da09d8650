//! Reads of the read models, each authorised for the signer of the request:
//!
//! - coordinators, inspectors and evaluators ("overseers") read everything;
//! - a cadre reads the households they are or were paired with — those pairings, the households'
//!   records, receipts, timelines, requests and compliance — and their own list of pairings;
//! - a household's card reads its own record and what hangs on it;
//! - a fund's manager reads that fund's trail and contributions;
//! - any registered key reads fund balances and the per-unit totals (no household appears there);
//! - nobody unsigned reads any of it.
//!
//! Who may read is decided on the live read models (a cadre paired yesterday may read the
//! household's past too); what is answered comes from the snapshot asked for (`as_of`/`at_size`).

use super::auth::{Caller, Signer};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::params::{self, AtQuery, P, PageQuery, Q, page_of};
use super::{App, List, One, with_views};
use axum::Json;
use axum::extract::State;
use bangfu_domain::command::Holder;
use bangfu_domain::ids::{CadreId, HouseholdId};
use bangfu_domain::role::Role;
use bangfu_projections::compliance::QuarterCompliance;
use bangfu_projections::docs::{
    ContributionRow, FundRow, HouseholdRow, MovementRow, PairingRow, ReceiptRow, RequestRow,
    TimelineRow,
};
use bangfu_projections::query::{self, Reconciliation, RequestFilter, RequestView, UnitYear};
use bangfu_projections::scores;
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::Backend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

type S<B, V> = State<Arc<App<B, V>>>;

/// For the OpenAPI description: one read-model document (its fields: docs/projections.md).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReadOne {
    /// The log size the answer reflects.
    pub log_size: u64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// For the OpenAPI description: a page of read-model documents.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReadList {
    /// The log size the answer reflects.
    pub log_size: u64,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<serde_json::Value>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

fn household_rule() -> ApiError {
    ApiError::forbidden(
        "a cadre reads only households they are or were paired with, a household card only its own record / 干部只能查看本人结对（含曾结对）的帮扶对象，联系卡只能查看本户",
    )
}

impl<B: Backend + Clone, V: ViewStore + Clone> App<B, V> {
    /// The households a cadre is or was paired with, from the live read models.
    async fn households_of_cadre(&self, c: &CadreId) -> ApiResult<BTreeSet<String>> {
        let Some(row) = query::cadre(&self.views, c).await? else {
            return Ok(BTreeSet::new());
        };
        Ok(row
            .pairings
            .keys()
            .filter_map(|pid| pid.split_once(':').map(|(_, h)| h.to_owned()))
            .collect())
    }

    async fn may_read_household<'c>(
        &self,
        caller: &'c Caller,
        h: &HouseholdId,
    ) -> ApiResult<&'c Signer> {
        let s = caller.signer()?;
        if s.oversees() {
            return Ok(s);
        }
        match &s.holder {
            Holder::Household(own) if own == h => Ok(s),
            Holder::Cadre(c)
                if s.roles.contains(&Role::Cadre)
                    && self.households_of_cadre(c).await?.contains(h.as_str()) =>
            {
                Ok(s)
            }
            _ => Err(household_rule()),
        }
    }

    fn may_read_cadre(&self, caller: &Caller, c: &CadreId) -> ApiResult<()> {
        let s = caller.signer()?;
        match &s.holder {
            _ if s.oversees() => Ok(()),
            Holder::Cadre(own) if own == c => Ok(()),
            _ => Err(ApiError::forbidden(
                "a cadre reads only their own pairings / 干部只能查看本人的结对",
            )),
        }
    }

    /// The fund (live), if the caller may read its books: overseers and its own manager.
    async fn fund_books(&self, caller: &Caller, id: &str) -> ApiResult<FundRow> {
        let s = caller.signer()?;
        let f = params::fund(id)?;
        let row = query::fund(&self.views, &f)
            .await?
            .ok_or_else(|| ApiError::not_found("fund", id))?;
        if s.oversees() || (s.roles.contains(&Role::FundManager) && s.holder == row.manager) {
            Ok(row)
        } else {
            Err(ApiError::forbidden(
                "a fund's trail and contributions name households: only overseers and the fund's manager read them / 资金流水涉及帮扶对象，仅监督人员与本基金管理人可查看",
            ))
        }
    }
}

fn one<T: Serialize>(log_size: u64, data: T) -> Json<One<T>> {
    Json(One { log_size, data })
}

fn list<T: Serialize>(log_size: u64, data: Vec<T>, next: Option<String>) -> Json<List<T>> {
    Json(List {
        log_size,
        data,
        next,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgramQuery {
    /// The program whose pairings to list.
    pub program: String,
}

/// A program's pairings (overseers).
#[utoipa::path(get, path = "/v1/pairings", tag = "pairings",
    params(ProgramQuery, PageQuery, AtQuery), security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of pairings", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such program", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn pairings_of_program<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    Q(q): Q<ProgramQuery>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<PairingRow>>> {
    caller.overseer()?;
    let p = params::program(&q.program)?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let pg = with_views!(app, at, |v| {
        if query::program(v, &p).await?.is_none() {
            return Err(ApiError::not_found("program", &q.program));
        }
        query::pairings_of_program(v, &p, &after, limit).await?
    });
    Ok(list(at.size, pg.items, pg.next))
}

/// One pairing with its history.
#[utoipa::path(get, path = "/v1/pairings/{id}", tag = "pairings",
    params(("id" = String, Path, description = "`<program>:<household>`", example = "p2016:h0"), AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "The pairing", body = ReadOne),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn pairing<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<One<PairingRow>>> {
    let (_, h) = params::pairing(&id)?;
    app.may_read_household(&caller, &h).await?;
    let at = app.at(&at).await?;
    let row = with_views!(app, at, |v| query::pairing(v, &id).await)?
        .ok_or_else(|| ApiError::not_found("pairing", &id))?;
    Ok(one(at.size, row))
}

/// Visit compliance of a pairing, quarter by quarter.
#[utoipa::path(get, path = "/v1/pairings/{id}/compliance", tag = "pairings",
    params(("id" = String, Path, description = "`<program>:<household>`", example = "p2016:h0"), PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of quarters; the cursor is the quarter", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn compliance<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<QuarterCompliance>>> {
    let (_, h) = params::pairing(&id)?;
    app.may_read_household(&caller, &h).await?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let quarters = with_views!(app, at, |v| query::compliance_of_pairing(v, &id).await)?
        .ok_or_else(|| ApiError::not_found("pairing", &id))?;
    let (items, next) = page_of(quarters, |q| q.quarter.clone(), &after, limit);
    Ok(list(at.size, items, next))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllQuery {
    /// Include pairings the cadre has left (default: only the current ones).
    pub all: Option<bool>,
}

/// A cadre's pairings (overseers, and the cadre).
#[utoipa::path(get, path = "/v1/cadres/{id}/pairings", tag = "pairings",
    params(("id" = String, Path, description = "The cadre's id", example = "c0"), AllQuery, PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of pairings; the cursor is the pairing id", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn pairings_of_cadre<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(all): Q<AllQuery>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<PairingRow>>> {
    let c = params::cadre(&id)?;
    app.may_read_cadre(&caller, &c)?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let rows = with_views!(app, at, |v| {
        if query::cadre(v, &c).await?.is_none() {
            return Err(ApiError::not_found("cadre", &id));
        }
        query::pairings_of_cadre(v, &c, !all.all.unwrap_or(false)).await?
    });
    let (items, next) = page_of(rows, |p| p.id.clone(), &after, limit);
    Ok(list(at.size, items, next))
}

/// Every household (overseers).
#[utoipa::path(get, path = "/v1/households", tag = "households",
    params(PageQuery, AtQuery), security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of households (public fields only: no sealed data is ever in a read model)", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn households<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<HouseholdRow>>> {
    caller.overseer()?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let pg = with_views!(app, at, |v| query::page::<HouseholdRow, _>(
        v,
        "household/",
        &after,
        limit
    )
    .await)?;
    Ok(list(at.size, pg.items, pg.next))
}

async fn existing_household<W: ViewStore>(
    v: &W,
    h: &HouseholdId,
    id: &str,
) -> ApiResult<HouseholdRow> {
    query::household(v, h)
        .await?
        .ok_or_else(|| ApiError::not_found("household", id))
}

/// One household's record.
#[utoipa::path(get, path = "/v1/households/{id}", tag = "households",
    params(("id" = String, Path, description = "The household's id", example = "h0"), AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "The household (address, category, size, status, pairings)", body = ReadOne),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn household<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<One<HouseholdRow>>> {
    let h = params::household(&id)?;
    app.may_read_household(&caller, &h).await?;
    let at = app.at(&at).await?;
    let row = with_views!(app, at, |v| existing_household(v, &h, &id).await)?;
    Ok(one(at.size, row))
}

/// Who is (and was) responsible for a household: its pairings, one per program.
#[utoipa::path(get, path = "/v1/households/{id}/pairings", tag = "households",
    params(("id" = String, Path, description = "The household's id", example = "h0"), PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of pairings; the cursor is the pairing id", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn pairings_of_household<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<PairingRow>>> {
    let h = params::household(&id)?;
    app.may_read_household(&caller, &h).await?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let rows = with_views!(app, at, |v| {
        existing_household(v, &h, &id).await?;
        query::pairings_of_household(v, &h).await?
    });
    let (items, next) = page_of(rows, |p| p.id.clone(), &after, limit);
    Ok(list(at.size, items, next))
}

/// Everything a household received, in log order.
#[utoipa::path(get, path = "/v1/households/{id}/receipts", tag = "households",
    params(("id" = String, Path, description = "The household's id", example = "h0"), PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of receipts", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn receipts<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<ReceiptRow>>> {
    let h = params::household(&id)?;
    app.may_read_household(&caller, &h).await?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let pg = with_views!(app, at, |v| {
        existing_household(v, &h, &id).await?;
        query::receipts(v, &h, &after, limit).await?
    });
    Ok(list(at.size, pg.items, pg.next))
}

/// Everything that happened to a household, with who signed it, in log order.
#[utoipa::path(get, path = "/v1/households/{id}/timeline", tag = "households",
    params(("id" = String, Path, description = "The household's id", example = "h0"), PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of the timeline (sealed values stay sealed)", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn timeline<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<TimelineRow>>> {
    let h = params::household(&id)?;
    app.may_read_household(&caller, &h).await?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let pg = with_views!(app, at, |v| {
        existing_household(v, &h, &id).await?;
        query::timeline(v, &h, &after, limit).await?
    });
    Ok(list(at.size, pg.items, pg.next))
}

fn request_cursor(r: &RequestView) -> String {
    format!("{}/{}", r.request.pairing, r.request.id)
}

/// A household's requests (三单), in every program.
#[utoipa::path(get, path = "/v1/households/{id}/requests", tag = "households",
    params(("id" = String, Path, description = "The household's id", example = "h0"), PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of requests, each with `overdue` and `days_to_resolve`", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn requests_of_household<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<RequestView>>> {
    let h = params::household(&id)?;
    app.may_read_household(&caller, &h).await?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let views = with_views!(app, at, |v| {
        let row = existing_household(v, &h, &id).await?;
        let today = query::today(v).await?;
        let mut out = Vec::new();
        for pid in row.pairings.values() {
            for r in query::all::<RequestRow, _>(v, &format!("request/{pid}/")).await? {
                out.push(query::request_view(r, today));
            }
        }
        out
    });
    let (items, next) = page_of(views, request_cursor, &after, limit);
    Ok(list(at.size, items, next))
}

/// Which of a program's requests to list.
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    #[default]
    All,
    Open,
    Overdue,
    Resolved,
    Confirmed,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// Which requests (default `all`).
    pub filter: Option<Filter>,
}

/// A program's requests (overseers).
#[utoipa::path(get, path = "/v1/programs/{id}/requests", tag = "programs",
    params(("id" = String, Path, description = "The program's id", example = "p2016"), FilterQuery, PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of requests; the cursor is `<pairing>/<request>`", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn requests_of_program<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(f): Q<FilterQuery>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<RequestView>>> {
    caller.overseer()?;
    let p = params::program(&id)?;
    let (after, limit) = page.checked()?;
    let filter = match f.filter.unwrap_or_default() {
        Filter::All => RequestFilter::All,
        Filter::Open => RequestFilter::Open,
        Filter::Overdue => RequestFilter::Overdue,
        Filter::Resolved => RequestFilter::Resolved,
        Filter::Confirmed => RequestFilter::Confirmed,
    };
    let at = app.at(&at).await?;
    let rows = with_views!(app, at, |v| {
        if query::program(v, &p).await?.is_none() {
            return Err(ApiError::not_found("program", &id));
        }
        query::requests(v, &p, filter).await?
    });
    let (items, next) = page_of(rows, request_cursor, &after, limit);
    Ok(list(at.size, items, next))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// The assessment year.
    #[param(minimum = 1900, maximum = 9999)]
    pub year: i64,
}

/// The year's assessment scores, formula `bangfu-assessment/1` (overseers). The cadres are
/// paged, best first; the cursor is a position.
#[utoipa::path(get, path = "/v1/programs/{id}/scores", tag = "programs",
    params(("id" = String, Path, description = "The program's id", example = "p2016"), YearQuery, PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "The assessment with a page of its cadres (docs/assessment.md)", body = ScoresDoc),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn scores<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(y): Q<YearQuery>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<ScoresPage>> {
    caller.overseer()?;
    let p = params::program(&id)?;
    if !(1900..=9999).contains(&y.year) {
        return Err(ApiError::bad_parameter(format!(
            "year {} 应在 1900 到 9999 之间 / year must be from 1900 to 9999",
            y.year
        )));
    }
    let (after, limit) = page.checked()?;
    let from = if after.is_empty() {
        0
    } else {
        after.parse::<usize>().map_err(|_| {
            ApiError::bad_parameter(
                "after 不是有效的游标 / after is not a cursor: pass the `next` of the previous page unchanged",
            )
        })?
    };
    let at = app.at(&at).await?;
    let mut assessment = with_views!(app, at, |v| {
        if query::program(v, &p).await?.is_none() {
            return Err(ApiError::not_found("program", &id));
        }
        scores::assess(v, &p, y.year).await?
    });
    let total = assessment.cadres.len();
    let to = from.saturating_add(limit as usize).min(total);
    let cadres = assessment
        .cadres
        .drain(..)
        .skip(from)
        .take(to.saturating_sub(from))
        .collect();
    let next = (to < total).then(|| to.to_string());
    Ok(Json(ScoresPage {
        log_size: at.size,
        data: ScoresData {
            assessment,
            cadres,
            cadres_total: total,
        },
        next,
    }))
}

/// For the OpenAPI description: the assessment with one page of its cadres.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ScoresDoc {
    pub log_size: u64,
    /// The assessment; `cadres` holds this page, `cadres_total` counts them all.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Pass as `after` for the next page of cadres; `null` on the last page.
    pub next: Option<String>,
}

/// The assessment with one page of its cadres.
#[derive(Serialize)]
pub struct ScoresPage {
    log_size: u64,
    data: ScoresData,
    next: Option<String>,
}

#[derive(Serialize)]
struct ScoresData {
    #[serde(flatten)]
    assessment: scores::Assessment,
    /// Replaces the assessment's own (emptied) list: this page of it.
    cadres: Vec<scores::CadreScore>,
    cadres_total: usize,
}

/// Every fund's books (any registered key): balances and totals name no household.
#[utoipa::path(get, path = "/v1/funds", tag = "funds",
    params(PageQuery, AtQuery), security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of funds", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn funds<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<FundRow>>> {
    caller.signer()?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let pg = with_views!(app, at, |v| query::page::<FundRow, _>(
        v, "fund/", &after, limit
    )
    .await)?;
    Ok(list(at.size, pg.items, pg.next))
}

/// A fund and its reconciliation.
#[derive(Serialize)]
pub struct FundView {
    fund: FundRow,
    /// contributed − disbursed + reversed = balance = the trail's sum = the money left in the
    /// contributions, and never negative.
    reconciliation: Reconciliation,
}

/// One fund, reconciled three ways (any registered key).
#[utoipa::path(get, path = "/v1/funds/{id}", tag = "funds",
    params(("id" = String, Path, description = "The fund's id"), AtQuery), security(("bangfu" = [])),
    responses(
        (status = 200, description = "The fund and its reconciliation", body = ReadOne),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn fund<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<One<FundView>>> {
    caller.signer()?;
    let f = params::fund(&id)?;
    let at = app.at(&at).await?;
    let view = with_views!(app, at, |v| {
        let row = query::fund(v, &f)
            .await?
            .ok_or_else(|| ApiError::not_found("fund", &id))?;
        FundView {
            reconciliation: query::reconcile_fund(v, row.clone()).await?,
            fund: row,
        }
    });
    Ok(one(at.size, view))
}

/// A fund's trail: every movement with its signer and the balance after it (overseers and the
/// fund's manager).
#[utoipa::path(get, path = "/v1/funds/{id}/trail", tag = "funds",
    params(("id" = String, Path, description = "The fund's id"), PageQuery, AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of movements, in log order", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn trail<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P(id): P<String>,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<MovementRow>>> {
    let row = app.fund_books(&caller, &id).await?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let pg = with_views!(app, at, |v| query::movements(v, &row.id, &after, limit)
        .await)?;
    Ok(list(at.size, pg.items, pg.next))
}

/// Where a contribution's money went, first in, first out (overseers and the fund's manager).
#[utoipa::path(get, path = "/v1/funds/{id}/contributions/{contribution}", tag = "funds",
    params(
        ("id" = String, Path, description = "The fund's id"),
        ("contribution" = String, Path, description = "The contribution's id"),
        AtQuery),
    security(("bangfu" = [])),
    responses(
        (status = 200, description = "The contribution and its allocations", body = ReadOne),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn contribution<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    P((id, contribution)): P<(String, String)>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<One<ContributionRow>>> {
    let row = app.fund_books(&caller, &id).await?;
    let at = app.at(&at).await?;
    let c = with_views!(app, at, |v| query::contribution(v, &row.id, &contribution)
        .await)?
    .ok_or_else(|| ApiError::not_found("contribution", &contribution))?;
    Ok(one(at.size, c))
}

/// Money per unit and year.
#[derive(Serialize)]
pub struct UnitYearView {
    unit: String,
    year: i64,
    totals: UnitYear,
}

/// Money per unit and year: through the unit's funds and from its cadres' pockets (any
/// registered key).
#[utoipa::path(get, path = "/v1/totals", tag = "funds",
    params(PageQuery, AtQuery), security(("bangfu" = [])),
    responses(
        (status = 200, description = "A page of unit-years; the cursor is `<unit>/<year>`", body = ReadList),
        (status = 400, description = "`bad_parameter`", body = ErrorBody),
        (status = 401, description = "Unsigned or badly signed request", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ))]
pub async fn totals<B: Backend + Clone, V: ViewStore + Clone>(
    State(app): S<B, V>,
    caller: Caller,
    Q(page): Q<PageQuery>,
    Q(at): Q<AtQuery>,
) -> ApiResult<Json<List<UnitYearView>>> {
    caller.signer()?;
    let (after, limit) = page.checked()?;
    let at = app.at(&at).await?;
    let totals = with_views!(app, at, |v| query::totals_per_unit_year(v).await)?;
    let rows = totals
        .into_iter()
        .map(|((unit, year), totals)| UnitYearView {
            unit: unit.to_string(),
            year,
            totals,
        })
        .collect();
    let (items, next) = page_of(rows, |r| format!("{}/{:04}", r.unit, r.year), &after, limit);
    Ok(list(at.size, items, next))
}
