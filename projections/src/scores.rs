//! Assessment scores (考核), exactly as `docs/assessment.md` defines them: formula
//! `bangfu-assessment/1`. Points are integers in hundredths of a point; every division rounds
//! down; nothing passes through floating point.

use crate::compliance;
use crate::docs::{
    AssessmentRow, CadreRow, DisbursementRow, PairingRow, ProgramRow, ReceiptRow, RequestRow,
    RequestState, SpotCheckRow, key,
};
use crate::query::{self, Result, all, get};
use crate::views::{ViewError, ViewStore};
use bangfu_domain::aggregates::program::Weights;
use bangfu_domain::aggregates::spot_check::FindingResult;
use bangfu_domain::date::Date;
use bangfu_domain::ids::{CadreId, ProgramId, UnitId};
use serde::Serialize;
use std::collections::BTreeMap;

pub const FORMULA: &str = "bangfu-assessment/1";

/// What one cadre's score is made of: the counts behind each component, and the points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CadreScore {
    pub cadre: CadreId,
    pub name: String,
    pub unit: Option<UnitId>,
    /// §1 visit compliance: days on teams whose segment owed visits, and of those, days met.
    pub due_days: i64,
    pub met_days: i64,
    /// §2 help handed over (not reversed) and acknowledged by the household.
    pub help_items: i64,
    pub help_acknowledged: i64,
    /// Fen of acknowledged help.
    pub delivered: i64,
    /// §3 requests the cadre answered for, and how many the household confirmed.
    pub requests_assigned: i64,
    pub requests_confirmed: i64,
    /// §5 spot-check findings about the cadre's records.
    pub findings_confirmed: i64,
    pub findings_not_confirmed: i64,
    /// §6 penalties.
    pub late_visits: i64,
    pub disputed_or_unconfirmed: i64,
    pub visit_points: i64,
    pub help_points: i64,
    pub request_points: i64,
    pub fund_points: i64,
    pub spot_check_points: i64,
    pub penalty_points: i64,
    pub total: i64,
}

impl CadreScore {
    fn new(cadre: CadreId) -> CadreScore {
        CadreScore {
            cadre,
            name: String::new(),
            unit: None,
            due_days: 0,
            met_days: 0,
            help_items: 0,
            help_acknowledged: 0,
            delivered: 0,
            requests_assigned: 0,
            requests_confirmed: 0,
            findings_confirmed: 0,
            findings_not_confirmed: 0,
            late_visits: 0,
            disputed_or_unconfirmed: 0,
            visit_points: 0,
            help_points: 0,
            request_points: 0,
            fund_points: 0,
            spot_check_points: 0,
            penalty_points: 0,
            total: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnitScore {
    pub unit: UnitId,
    pub cadres: i64,
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub program: ProgramId,
    pub year: i64,
    pub formula: &'static str,
    /// The log size the scores reflect.
    pub log_size: u64,
    pub weights: Weights,
    /// Sorted by total, best first (ties by cadre id).
    pub cadres: Vec<CadreScore>,
    pub units: Vec<UnitScore>,
}

/// `w × 100 × part / whole`, rounded down; 0 when `whole` is 0.
fn share(weight: u32, part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let v = i128::from(weight) * 100 * i128::from(part) / i128::from(whole);
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Computes the year's scores for a program from the read models.
pub async fn assess<V: ViewStore>(
    views: &V,
    program_id: &ProgramId,
    year: i64,
) -> Result<Assessment> {
    let program: ProgramRow = query::program(views, program_id).await?.ok_or_else(|| {
        ViewError::Corrupt(format!(
            "program {program_id} has no row: is the name right?"
        ))
    })?;
    let year_start = Date::from_ymd(year, 1, 1).map_err(ViewError::Corrupt)?;
    let year_end = Date::from_ymd(year, 12, 31).map_err(ViewError::Corrupt)?;
    let in_year = |d: Date| year_start <= d && d <= year_end;
    let rules = program
        .rules_on(year_end)
        .cloned()
        .ok_or_else(|| ViewError::Corrupt(format!("program {program_id} has no rules")))?;
    let w = rules.weights.clone();
    let head = query::head(views).await?;
    let (log_size, today) = head.map_or((0, year_start), |h| (h.size, h.today));

    let pairings: Vec<PairingRow> = all(views, &format!("pairing/{program_id}:")).await?;
    let mut scores: BTreeMap<CadreId, CadreScore> = BTreeMap::new();
    // Scored: every cadre with a stint on one of the program's pairings during the year.
    for p in &pairings {
        for s in &p.stints {
            if s.from <= year_end && s.to.is_none_or(|to| to > year_start) {
                scores
                    .entry(s.cadre.clone())
                    .or_insert_with(|| CadreScore::new(s.cadre.clone()));
            }
        }
    }

    // §1 visit compliance, and §6 late records.
    for p in &pairings {
        for q in compliance::quarters_of(year) {
            let Some(c) = compliance::quarter(p, &program, q, today) else {
                continue;
            };
            if c.status == compliance::QuarterStatus::Open {
                continue;
            }
            for seg in c.segments.iter().filter(|s| s.required > 0) {
                for cadre in &seg.cadres {
                    let s = scores
                        .entry(cadre.clone())
                        .or_insert_with(|| CadreScore::new(cadre.clone()));
                    s.due_days += seg.days;
                    if seg.met {
                        s.met_days += seg.days;
                    }
                }
            }
        }
        for v in p.visits.iter().filter(|v| !v.retracted && in_year(v.date)) {
            if v.date.days_until(v.recorded_on) > i64::from(rules.late_after_days)
                && let Some(s) = scores.get_mut(&v.cadre)
            {
                s.late_visits += 1;
            }
        }
    }

    // §2 help and §4 funds: what reached the program's households through its paired cadres.
    for p in &pairings {
        let receipts: Vec<ReceiptRow> = all(views, &format!("receipt/{}/", p.household)).await?;
        for r in receipts.iter().filter(|r| in_year(r.date) && !r.reversed) {
            let cadre = r.source.cadre();
            if !p
                .stints
                .iter()
                .any(|s| &s.cadre == cadre && s.covers(r.date))
            {
                continue;
            }
            if let Some(s) = scores.get_mut(cadre) {
                s.help_items += 1;
                if r.acknowledged {
                    s.help_acknowledged += 1;
                    s.delivered += r.value;
                }
            }
        }
    }

    // §3 requests, and §6 disputed or unconfirmed resolutions.
    let requests: Vec<RequestRow> = all(views, &format!("request/{program_id}:")).await?;
    for r in requests.iter().filter(|r| in_year(r.raised_on)) {
        if r.state == RequestState::Closed && r.resolved_by.is_none() {
            continue;
        }
        let answerable = r.resolved_by.as_ref().unwrap_or(&r.responsible);
        let Some(s) = scores.get_mut(answerable) else {
            continue;
        };
        s.requests_assigned += 1;
        match r.state {
            RequestState::Confirmed => s.requests_confirmed += 1,
            RequestState::Disputed | RequestState::Resolved => s.disputed_or_unconfirmed += 1,
            _ => {}
        }
    }

    // §5 spot-check findings, attributed to the cadre who made the record.
    let by_pairing: BTreeMap<&str, &PairingRow> =
        pairings.iter().map(|p| (p.id.as_str(), p)).collect();
    let campaigns: Vec<SpotCheckRow> = all(views, "spot_check/").await?;
    for c in campaigns
        .iter()
        .filter(|c| &c.program == program_id && c.year == year)
    {
        for rv in &c.revisits {
            for f in &rv.findings {
                let confirmed = match f.result {
                    FindingResult::Confirmed => true,
                    FindingResult::NotConfirmed => false,
                    FindingResult::Unreachable => continue,
                };
                let Some(cadre) = finding_cadre(views, &by_pairing, &f.subject).await? else {
                    continue;
                };
                if let Some(s) = scores.get_mut(&cadre) {
                    if confirmed {
                        s.findings_confirmed += 1;
                    } else {
                        s.findings_not_confirmed += 1;
                    }
                }
            }
        }
    }

    let max_delivered = scores.values().map(|s| s.delivered).max().unwrap_or(0);
    let mut units: BTreeMap<UnitId, (i64, i64)> = BTreeMap::new();
    for s in scores.values_mut() {
        if let Some(row) = get::<CadreRow, V>(views, &key::<CadreRow>(&[s.cadre.as_str()])).await? {
            s.name = row.name.clone();
            s.unit = row.unit_on(year_end).cloned();
        }
        s.visit_points = share(w.visits, s.met_days, s.due_days);
        s.help_points = share(w.acknowledged_help, s.help_acknowledged, s.help_items);
        s.request_points = share(w.requests, s.requests_confirmed, s.requests_assigned);
        s.fund_points = share(w.funds, s.delivered, max_delivered);
        let judged = s.findings_confirmed + s.findings_not_confirmed;
        s.spot_check_points = if judged == 0 {
            i64::from(w.spot_checks) * 100
        } else {
            share(w.spot_checks, s.findings_confirmed, judged)
        };
        s.penalty_points = 100
            * (s.late_visits * i64::from(w.late_penalty)
                + s.disputed_or_unconfirmed * i64::from(w.dispute_penalty));
        s.total =
            s.visit_points + s.help_points + s.request_points + s.fund_points + s.spot_check_points
                - s.penalty_points;
        if let Some(u) = &s.unit {
            let e = units.entry(u.clone()).or_default();
            e.0 += 1;
            e.1 += s.total;
        }
    }
    let mut cadres: Vec<CadreScore> = scores.into_values().collect();
    cadres.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.cadre.cmp(&b.cadre)));
    let mut units: Vec<UnitScore> = units
        .into_iter()
        .map(|(unit, (n, sum))| UnitScore {
            unit,
            cadres: n,
            total: sum.div_euclid(n),
        })
        .collect();
    units.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.unit.cmp(&b.unit)));
    Ok(Assessment {
        program: program_id.clone(),
        year,
        formula: FORMULA,
        log_size,
        weights: w,
        cadres,
        units,
    })
}

/// The cadre behind a finding's subject: `visit/<pairing>/<visit>`,
/// `donation/<pairing>/<donation>` or `disbursement/<fund>/<disbursement>`.
async fn finding_cadre<V: ViewStore>(
    views: &V,
    pairings: &BTreeMap<&str, &PairingRow>,
    subject: &str,
) -> Result<Option<CadreId>> {
    let mut parts = subject.splitn(3, '/');
    let (Some(kind), Some(a), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    Ok(match kind {
        "visit" => pairings.get(a).and_then(|p| {
            p.visits
                .iter()
                .find(|v| v.visit_id.as_str() == b)
                .map(|v| v.cadre.clone())
        }),
        "donation" => match pairings.get(a).and_then(|p| {
            p.donations
                .iter()
                .find(|(d, _)| d.as_str() == b)
                .map(|(_, k)| k.clone())
        }) {
            Some(receipt_key) => get::<ReceiptRow, V>(views, &receipt_key)
                .await?
                .map(|r| r.source.cadre().clone()),
            None => None,
        },
        "disbursement" => get::<DisbursementRow, V>(views, &key::<DisbursementRow>(&[a, b]))
            .await?
            .map(|d| d.through),
        _ => None,
    })
}

/// A published assessment compared with the same formula recomputed as of its log size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recheck {
    pub published: BTreeMap<CadreId, i64>,
    pub recomputed: BTreeMap<CadreId, i64>,
    pub published_units: BTreeMap<UnitId, i64>,
    pub recomputed_units: BTreeMap<UnitId, i64>,
    pub matches: bool,
}

/// Recomputes a published assessment from the log as it stood at the published log size.
pub async fn recheck_published<B: bangfu_store::backend::Backend, V: ViewStore>(
    backend: &B,
    live: &V,
    program: &ProgramId,
    year: i64,
) -> std::result::Result<Option<Recheck>, crate::apply::ProjectError> {
    let Some(published) =
        get::<AssessmentRow, V>(live, &key::<AssessmentRow>(&[&format!("{program}:{year}")]))
            .await?
    else {
        return Ok(None);
    };
    let past = crate::projector::as_of(backend, published.log_size).await?;
    let a = assess(&past, program, year).await?;
    let recomputed: BTreeMap<CadreId, i64> = a
        .cadres
        .iter()
        .map(|c| (c.cadre.clone(), c.total))
        .collect();
    let recomputed_units: BTreeMap<UnitId, i64> =
        a.units.iter().map(|u| (u.unit.clone(), u.total)).collect();
    let matches = published.formula == FORMULA
        && published.cadres == recomputed
        && published.units == recomputed_units;
    Ok(Some(Recheck {
        published: published.cadres,
        recomputed,
        published_units: published.units,
        recomputed_units,
        matches,
    }))
}
