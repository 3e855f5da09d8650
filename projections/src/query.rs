//! Reading the read models: typed lookups and pages over any [`ViewStore`] — the live tables, or
//! an as-of replay in memory.

use crate::compliance::{self, QuarterCompliance};
use crate::docs::{
    AnyDoc, CadreRow, ContributionRow, Doc, FundRow, HouseholdRow, LOG_HEAD, LogRow, MovementRow,
    PairingRow, PairingStatus, ProgramRow, ReceiptRow, ReceiptSource, RequestRow, RequestState,
    TimelineRow, key,
};
use crate::views::{ViewError, ViewStore};
use bangfu_domain::date::Date;
use bangfu_domain::ids::{CadreId, FundId, HouseholdId, ProgramId, UnitId};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub type Result<T> = std::result::Result<T, ViewError>;

/// An open request older than this many days (from the day it was raised to "today") is overdue.
pub const OVERDUE_AFTER_DAYS: i64 = 30;

/// One page of a list, and the cursor for the next page (`None` on the last page).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// One row, typed.
pub async fn get<T: Doc, V: ViewStore>(views: &V, key: &str) -> Result<Option<T>> {
    let Some(json) = views.get(key).await? else {
        return Ok(None);
    };
    decode(key, &json).map(Some)
}

fn decode<T: Doc>(key: &str, json: &str) -> Result<T> {
    let doc = AnyDoc::from_json(key, json).map_err(ViewError::Corrupt)?;
    T::from_any(doc).ok_or_else(|| ViewError::Corrupt(format!("row {key} is of another kind")))
}

/// A page of rows under `prefix`, after the cursor `after` (`""` for the first page).
pub async fn page<T: Doc, V: ViewStore>(
    views: &V,
    prefix: &str,
    after: &str,
    limit: u32,
) -> Result<Page<T>> {
    let limit = limit.clamp(1, 10_000);
    let rows = views.scan(prefix, after, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows[rows.len() - 1].0.clone());
    let items = rows
        .iter()
        .map(|(k, v)| decode::<T>(k, v))
        .collect::<Result<Vec<T>>>()?;
    Ok(Page { items, next })
}

/// Every row under `prefix`, read page by page.
pub async fn all<T: Doc, V: ViewStore>(views: &V, prefix: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let rows = views.scan(prefix, &after, 5000).await?;
        let Some((last, _)) = rows.last() else {
            return Ok(out);
        };
        after = last.clone();
        for (k, v) in &rows {
            out.push(decode::<T>(k, v)?);
        }
        if rows.len() < 5000 {
            return Ok(out);
        }
    }
}

/// How far the read models have read; `None` before the first entry.
pub async fn head<V: ViewStore>(views: &V) -> Result<Option<LogRow>> {
    get(views, LOG_HEAD).await
}

/// "Today" for the read models: the China date of the last entry they reflect.
pub async fn today<V: ViewStore>(views: &V) -> Result<Date> {
    Ok(head(views)
        .await?
        .map(|h| h.today)
        .unwrap_or(Date::from_ymd(1970, 1, 1).expect("a valid date")))
}

pub async fn household<V: ViewStore>(views: &V, id: &HouseholdId) -> Result<Option<HouseholdRow>> {
    get(views, &key::<HouseholdRow>(&[id.as_str()])).await
}

pub async fn cadre<V: ViewStore>(views: &V, id: &CadreId) -> Result<Option<CadreRow>> {
    get(views, &key::<CadreRow>(&[id.as_str()])).await
}

pub async fn program<V: ViewStore>(views: &V, id: &ProgramId) -> Result<Option<ProgramRow>> {
    get(views, &key::<ProgramRow>(&[id.as_str()])).await
}

pub async fn pairing<V: ViewStore>(views: &V, id: &str) -> Result<Option<PairingRow>> {
    get(views, &key::<PairingRow>(&[id])).await
}

/// Every pairing of a household, one per program it was ever paired in.
pub async fn pairings_of_household<V: ViewStore>(
    views: &V,
    id: &HouseholdId,
) -> Result<Vec<PairingRow>> {
    let Some(h) = household(views, id).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pid in h.pairings.values() {
        if let Some(p) = pairing(views, pid).await? {
            out.push(p);
        }
    }
    Ok(out)
}

/// A household's pairing in one program as it stood on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairingOnDay {
    pub pairing: String,
    pub program: ProgramId,
    pub household: HouseholdId,
    pub day: Date,
    /// The cadres whose stint on the team covered the day.
    pub cadres: BTreeSet<CadreId>,
    /// The lead named by the last formation or handover dated on or before the day.
    pub lead: Option<CadreId>,
}

/// The pairings of a household on a past `day`, and who was on each team that day.
///
/// Answered from the live rows, not by replay ([`crate::projector::as_of`] takes seconds on a
/// large log): each pairing row keeps every cadre's stint with its dates, so a household row and
/// one row per program it was ever paired in suffice. It reads the dates the statements carry, as
/// the log knows them now; a replay up to the end of `day` differs only for facts recorded after
/// that day with an earlier date (a late record), which this answer includes.
pub async fn pairings_of_household_on<V: ViewStore>(
    views: &V,
    id: &HouseholdId,
    day: Date,
) -> Result<Vec<PairingOnDay>> {
    let mut out = Vec::new();
    for p in pairings_of_household(views, id).await? {
        let cadres: BTreeSet<CadreId> = p.team_on(day).into_iter().cloned().collect();
        if cadres.is_empty() {
            continue;
        }
        // `max_by_key` keeps the last of equal dates: the later step in log order wins.
        let lead = p
            .history
            .iter()
            .filter(|s| matches!(s.step.as_str(), "formed" | "handed_over"))
            .filter_map(|s| Some((s.date.filter(|d| *d <= day)?, s.lead.as_ref()?)))
            .max_by_key(|(d, _)| *d)
            .map(|(_, lead)| lead.clone());
        out.push(PairingOnDay {
            pairing: p.id,
            program: p.program,
            household: p.household,
            day,
            cadres,
            lead,
        });
    }
    Ok(out)
}

/// A cadre's households: the pairings the cadre is on now (`current`) or was ever on.
pub async fn pairings_of_cadre<V: ViewStore>(
    views: &V,
    id: &CadreId,
    current_only: bool,
) -> Result<Vec<PairingRow>> {
    let Some(c) = cadre(views, id).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (pid, stints) in &c.pairings {
        if current_only && !stints.iter().any(|s| s.to.is_none()) {
            continue;
        }
        if let Some(p) = pairing(views, pid).await? {
            if current_only && p.status != PairingStatus::Active {
                continue;
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// The pairings of one program, page by page.
pub async fn pairings_of_program<V: ViewStore>(
    views: &V,
    program: &ProgramId,
    after: &str,
    limit: u32,
) -> Result<Page<PairingRow>> {
    page(views, &format!("pairing/{program}:"), after, limit).await
}

/// Visit compliance of one pairing, quarter by quarter.
pub async fn compliance_of_pairing<V: ViewStore>(
    views: &V,
    id: &str,
) -> Result<Option<Vec<QuarterCompliance>>> {
    let Some(p) = pairing(views, id).await? else {
        return Ok(None);
    };
    let Some(prog) = program(views, &p.program).await? else {
        return Err(ViewError::Corrupt(format!(
            "pairing {id} names program {} which has no row",
            p.program
        )));
    };
    let today = today(views).await?;
    Ok(Some(compliance::pairing_quarters(&p, &prog, today)))
}

/// Everything a household received, in log order, page by page.
pub async fn receipts<V: ViewStore>(
    views: &V,
    household: &HouseholdId,
    after: &str,
    limit: u32,
) -> Result<Page<ReceiptRow>> {
    page(views, &format!("receipt/{household}/"), after, limit).await
}

/// A household's timeline, in log order, page by page.
pub async fn timeline<V: ViewStore>(
    views: &V,
    household: &HouseholdId,
    after: &str,
    limit: u32,
) -> Result<Page<TimelineRow>> {
    page(views, &format!("timeline/{household}/"), after, limit).await
}

pub async fn fund<V: ViewStore>(views: &V, id: &FundId) -> Result<Option<FundRow>> {
    get(views, &key::<FundRow>(&[id.as_str()])).await
}

/// A fund's trail, in log order, page by page.
pub async fn movements<V: ViewStore>(
    views: &V,
    fund: &FundId,
    after: &str,
    limit: u32,
) -> Result<Page<MovementRow>> {
    page(views, &format!("movement/{fund}/"), after, limit).await
}

/// Where a contribution's money went.
pub async fn contribution<V: ViewStore>(
    views: &V,
    fund: &FundId,
    id: &str,
) -> Result<Option<ContributionRow>> {
    get(views, &key::<ContributionRow>(&[fund.as_str(), id])).await
}

/// One fund's books, checked three ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub fund: FundId,
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
    pub balance: i64,
    /// The sum of every movement in the trail.
    pub trail_sum: i64,
    /// The money still unspent in the contributions, by FIFO allocation.
    pub unspent_sum: i64,
    /// contributed − disbursed + reversed = balance = trail sum = unspent sum, and never negative.
    pub ok: bool,
}

/// Proves contributions − disbursements (+ reversals) = balance for every fund, from the trail
/// rows and from the contributions, independently of the running totals.
pub async fn reconcile<V: ViewStore>(views: &V) -> Result<Vec<Reconciliation>> {
    let mut out = Vec::new();
    for f in all::<FundRow, V>(views, "fund/").await? {
        out.push(reconcile_fund(views, f).await?);
    }
    Ok(out)
}

/// [`reconcile`] for one fund (the HTTP service answers one fund at a time).
pub async fn reconcile_fund<V: ViewStore>(views: &V, f: FundRow) -> Result<Reconciliation> {
    let trail: Vec<MovementRow> = all(views, &format!("movement/{}/", f.id)).await?;
    let contributions: Vec<ContributionRow> =
        all(views, &format!("contribution/{}/", f.id)).await?;
    let trail_sum = trail.iter().map(|m| m.amount).sum();
    let unspent_sum = contributions.iter().map(|c| c.remaining).sum();
    let ok = f.contributed - f.disbursed + f.reversed == f.balance
        && trail_sum == f.balance
        && unspent_sum == f.balance
        && f.balance >= 0;
    Ok(Reconciliation {
        fund: f.id,
        contributed: f.contributed,
        disbursed: f.disbursed,
        reversed: f.reversed,
        balance: f.balance,
        trail_sum,
        unspent_sum,
        ok,
    })
}

/// Money per unit and year: through the unit's funds, and from its cadres' own pockets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitYear {
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
    /// Personal donations by the unit's cadres (by the unit they were in on the day).
    pub donated: i64,
}

pub async fn totals_per_unit_year<V: ViewStore>(
    views: &V,
) -> Result<BTreeMap<(UnitId, i64), UnitYear>> {
    let mut out: BTreeMap<(UnitId, i64), UnitYear> = BTreeMap::new();
    for f in all::<FundRow, V>(views, "fund/").await? {
        for (year, t) in &f.per_year {
            let u = out.entry((f.unit.clone(), *year)).or_default();
            u.contributed += t.contributed;
            u.disbursed += t.disbursed;
            u.reversed += t.reversed;
        }
    }
    let mut cadres: BTreeMap<CadreId, Option<CadreRow>> = BTreeMap::new();
    for r in all::<ReceiptRow, V>(views, "receipt/").await? {
        let ReceiptSource::Cadre { cadre: c, .. } = &r.source else {
            continue;
        };
        if !cadres.contains_key(c) {
            cadres.insert(c.clone(), cadre(views, c).await?);
        }
        if let Some(Some(row)) = cadres.get(c)
            && let Some(unit) = row.unit_on(r.date)
        {
            out.entry((unit.clone(), r.date.year()))
                .or_default()
                .donated += r.value;
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestFilter {
    All,
    Open,
    Overdue,
    Resolved,
    Confirmed,
}

/// A request with what "today" makes of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: RequestRow,
    pub overdue: bool,
    /// Days from raising to resolution, once resolved.
    pub days_to_resolve: Option<i64>,
}

pub fn request_view(r: RequestRow, today: Date) -> RequestView {
    let open = matches!(
        r.state,
        RequestState::Raised | RequestState::Dispatched | RequestState::Accepted
    );
    let overdue = open && r.raised_on.days_until(today) > OVERDUE_AFTER_DAYS;
    let days_to_resolve = r.resolved_on.map(|d| r.raised_on.days_until(d));
    RequestView {
        request: r,
        overdue,
        days_to_resolve,
    }
}

/// The requests of a program, filtered.
pub async fn requests<V: ViewStore>(
    views: &V,
    program: &ProgramId,
    filter: RequestFilter,
) -> Result<Vec<RequestView>> {
    let today = today(views).await?;
    let rows: Vec<RequestRow> = all(views, &format!("request/{program}:")).await?;
    Ok(rows
        .into_iter()
        .map(|r| request_view(r, today))
        .filter(|v| match filter {
            RequestFilter::All => true,
            RequestFilter::Open => matches!(
                v.request.state,
                RequestState::Raised | RequestState::Dispatched | RequestState::Accepted
            ),
            RequestFilter::Overdue => v.overdue,
            RequestFilter::Resolved => v.request.resolved_on.is_some(),
            RequestFilter::Confirmed => v.request.state == RequestState::Confirmed,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::{HouseholdStatus, PairingStep, Signed, Stint, Team};
    use crate::views::MemViews;
    use bangfu_domain::aggregates::household::{Address, Category};

    fn day(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn cadre(s: &str) -> CadreId {
        CadreId::new(s).unwrap()
    }

    fn step(name: &str, on: &str, lead: Option<&str>) -> PairingStep {
        PairingStep {
            step: name.into(),
            date: Some(day(on)),
            cadres: BTreeSet::new(),
            lead: lead.map(cadre),
            reason: None,
            signed: Signed {
                index: 0,
                statement_id: "s".into(),
                signer: "unknown".into(),
                key: "k".into(),
                recorded_at: "2016-01-01T00:00:00.000Z".into(),
            },
        }
    }

    fn stint(c: &str, from: &str, to: Option<&str>) -> Stint {
        Stint {
            cadre: cadre(c),
            from: day(from),
            to: to.map(day),
        }
    }

    /// Formed 2016-01-10 with a and b (lead a); handed over 2016-06-01 to b and c (lead c); ended
    /// 2017-01-01; formed again 2017-03-01 with d.
    async fn views() -> (MemViews, HouseholdId) {
        let program = ProgramId::new("p1").unwrap();
        let household = HouseholdId::new("h1").unwrap();
        let id = "p1:h1".to_owned();
        let p = PairingRow {
            id: id.clone(),
            program: program.clone(),
            household: household.clone(),
            status: PairingStatus::Active,
            team: Team {
                cadres: BTreeSet::from([cadre("d")]),
                lead: cadre("d"),
                since: day("2017-03-01"),
            },
            formed: day("2017-03-01"),
            ended: None,
            stints: vec![
                stint("a", "2016-01-10", Some("2016-06-01")),
                stint("b", "2016-01-10", Some("2017-01-01")),
                stint("c", "2016-06-01", Some("2017-01-01")),
                stint("d", "2017-03-01", None),
            ],
            history: vec![
                step("formed", "2016-01-10", Some("a")),
                step("handover_proposed", "2016-05-20", Some("c")),
                step("handed_over", "2016-06-01", Some("c")),
                step("ended", "2017-01-01", None),
                step("formed", "2017-03-01", Some("d")),
            ],
            visits: Vec::new(),
            donations: BTreeMap::new(),
            requests: Vec::new(),
        };
        let h = HouseholdRow {
            id: household.clone(),
            address: Address {
                district: "d".into(),
                street: "s".into(),
                community: "c".into(),
            },
            category: Category::Illness,
            members: 3,
            status: HouseholdStatus::InHardship,
            registered: day("2015-12-01"),
            pairings: BTreeMap::from([(program, id.clone())]),
        };
        let rows = [
            (key::<PairingRow>(&[&id]), p.into_any().to_json()),
            (
                key::<HouseholdRow>(&[household.as_str()]),
                h.into_any().to_json(),
            ),
        ];
        let v = MemViews::new();
        v.commit(0, 1, &rows).await.unwrap();
        (v, household)
    }

    async fn team(v: &MemViews, h: &HouseholdId, on: &str) -> Option<(Vec<String>, String)> {
        let found = pairings_of_household_on(v, h, day(on)).await.unwrap();
        assert!(found.len() <= 1, "one program, at most one pairing");
        found.into_iter().next().map(|p| {
            assert_eq!(p.day, day(on));
            (
                p.cadres.iter().map(|c| c.as_str().to_owned()).collect(),
                p.lead.map(|l| l.as_str().to_owned()).unwrap_or_default(),
            )
        })
    }

    #[tokio::test]
    async fn pairings_on_a_day_follow_the_stints_and_the_lead() {
        let (v, h) = views().await;
        let t =
            |c: &[&str], lead: &str| Some((c.iter().map(|s| s.to_string()).collect(), lead.into()));
        assert_eq!(
            team(&v, &h, "2016-01-09").await,
            None,
            "before it was formed"
        );
        assert_eq!(team(&v, &h, "2016-01-10").await, t(&["a", "b"], "a"));
        // A proposal changes nobody; the handover's date is the first day of the new team.
        assert_eq!(team(&v, &h, "2016-05-31").await, t(&["a", "b"], "a"));
        assert_eq!(team(&v, &h, "2016-06-01").await, t(&["b", "c"], "c"));
        assert_eq!(team(&v, &h, "2016-12-31").await, t(&["b", "c"], "c"));
        assert_eq!(team(&v, &h, "2017-01-01").await, None, "ended that day");
        assert_eq!(
            team(&v, &h, "2017-02-15").await,
            None,
            "between two pairings"
        );
        assert_eq!(team(&v, &h, "2017-03-01").await, t(&["d"], "d"));
        assert_eq!(team(&v, &h, "2030-01-01").await, t(&["d"], "d"));
        let nobody = HouseholdId::new("h2").unwrap();
        assert!(
            pairings_of_household_on(&v, &nobody, day("2016-03-01"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
