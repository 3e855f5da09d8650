//! Visit compliance: for each pairing and quarter, which visits count, whether the program's
//! minimum was met, and who was responsible for which days (`docs/assessment.md` §1).
//!
//! A quarter is cut into *segments*: maximal runs of days with the same team. A handover on
//! 10 February splits Q1 into 1 Jan–9 Feb (the old team) and 10 Feb–31 Mar (the new one); days
//! before the pairing formed or after it ended belong to nobody. Each segment is judged on its
//! own:
//!
//! - `required = round_half_up(min_visits_per_quarter × segment_days / quarter_days)`, so a stint
//!   shorter than half a quarter owes no visit when the minimum is one (visits made still count);
//! - a visit counts for the segment it is dated in when it is not retracted and was made by a
//!   cadre on the team that day;
//! - the segment is met when its counted visits reach `required`.
//!
//! The quarter is *met* when every segment is, *missed* otherwise, and *open* while it has not
//! ended by the date of the last entry the read models reflect ("today"). Rules are those in force
//! on the quarter's last day.

use crate::docs::{PairingRow, ProgramRow, VisitRow};
use bangfu_domain::date::{Date, Quarter};
use bangfu_domain::ids::{CadreId, VisitId};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarterStatus {
    Met,
    Missed,
    Open,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub from: Date,
    /// The segment's last day (inclusive).
    pub to: Date,
    pub days: i64,
    pub cadres: BTreeSet<CadreId>,
    pub required: u32,
    pub visits: Vec<VisitId>,
    pub met: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FestivalVisit {
    pub visit_id: VisitId,
    pub cadre: CadreId,
    pub date: Date,
    pub festival: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuarterCompliance {
    pub pairing: String,
    pub quarter: String,
    pub status: QuarterStatus,
    pub min_visits: u32,
    pub segments: Vec<Segment>,
    pub festival_visits: Vec<FestivalVisit>,
}

/// Every quarter the pairing was active in, from its first to the one holding `today` (or its
/// end).
pub fn pairing_quarters(
    p: &PairingRow,
    program: &ProgramRow,
    today: Date,
) -> Vec<QuarterCompliance> {
    let mut out = Vec::new();
    let last_day = p.ended.map(|e| e.add_days(-1)).unwrap_or(today).min(today);
    let mut q = p.formed.quarter();
    while q.first_day() <= last_day {
        if let Some(c) = quarter(p, program, q, today) {
            out.push(c);
        }
        q = q.next();
    }
    out
}

/// One quarter of one pairing, or `None` if nobody was on its team in that quarter.
pub fn quarter(
    p: &PairingRow,
    program: &ProgramRow,
    q: Quarter,
    today: Date,
) -> Option<QuarterCompliance> {
    let (first, end) = (q.first_day(), q.next().first_day());
    let quarter_days = first.days_until(end);
    let min = program
        .rules_on(q.last_day())
        .map_or(0, |r| r.min_visits_per_quarter);
    let mut cuts: Vec<Date> = vec![first, end];
    for s in &p.stints {
        for d in std::iter::once(s.from).chain(s.to) {
            if first < d && d < end {
                cuts.push(d);
            }
        }
    }
    cuts.sort();
    cuts.dedup();
    let mut segments: Vec<Segment> = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let team: BTreeSet<CadreId> = p.team_on(a).into_iter().cloned().collect();
        if team.is_empty() {
            continue;
        }
        // Neighbouring cuts with the same team (a stint ending and another beginning for the same
        // people) are one segment.
        if let Some(last) = segments.last_mut()
            && last.cadres == team
            && last.to.add_days(1) == a
        {
            last.to = b.add_days(-1);
            last.days += a.days_until(b);
            continue;
        }
        segments.push(Segment {
            from: a,
            to: b.add_days(-1),
            days: a.days_until(b),
            cadres: team,
            required: 0,
            visits: Vec::new(),
            met: false,
        });
    }
    if segments.is_empty() {
        return None;
    }
    for s in &mut segments {
        let days = s.days;
        s.required = u32::try_from((2 * i64::from(min) * days + quarter_days) / (2 * quarter_days))
            .unwrap_or(u32::MAX);
        s.visits = p
            .visits
            .iter()
            .filter(|v| {
                counts(v) && s.from <= v.date && v.date <= s.to && s.cadres.contains(&v.cadre)
            })
            .map(|v| v.visit_id.clone())
            .collect();
        s.met = s.visits.len() >= s.required as usize;
    }
    let status = if q.last_day() >= today {
        QuarterStatus::Open
    } else if segments.iter().all(|s| s.met) {
        QuarterStatus::Met
    } else {
        QuarterStatus::Missed
    };
    let festival_visits = p
        .visits
        .iter()
        .filter(|v| counts(v) && first <= v.date && v.date < end)
        .filter_map(|v| {
            let f = program.rules_on(v.date)?.festival_on(v.date)?;
            Some(FestivalVisit {
                visit_id: v.visit_id.clone(),
                cadre: v.cadre.clone(),
                date: v.date,
                festival: f.name.clone(),
            })
        })
        .collect();
    Some(QuarterCompliance {
        pairing: p.id.clone(),
        quarter: q.to_string(),
        status,
        min_visits: min,
        segments,
        festival_visits,
    })
}

/// Retracted visits never count.
fn counts(v: &VisitRow) -> bool {
    !v.retracted
}

/// The four quarters of a year.
pub fn quarters_of(year: i64) -> [Quarter; 4] {
    [1, 2, 3, 4].map(|q| Quarter { year, q })
}
