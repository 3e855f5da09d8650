//! A realistic program (4 units, 42 cadres, 300 households, 2016–2018, handovers, festival
//! visits, refused overdrafts, reversals; see `common/scenario.rs`) appended through the real log
//! on SQLite and on PostgreSQL, followed as it grows by a projector in memory and one on the
//! persisted read models of the same store (`SqliteViews` in a file beside the log, `PgViews` in
//! the log's database), and every read model checked against the test's own tallies. Then:
//! incremental == rebuilt == as of the last size, row for row; as of the end of 2016 and 2017 the
//! funds hold what they held then; the published assessment rechecks; a projector dropped and
//! reopened on the same persisted rows counts nothing twice.

mod common;

use bangfu_domain::date::{Date, Quarter};
use bangfu_domain::ids::{CadreId, FundId, HouseholdId, ProgramId};
use bangfu_projections::compliance::QuarterStatus;
use bangfu_projections::docs::{
    AssessmentRow, CadreStatus, HouseholdStatus, MovementRow, PairingStatus, ReceiptRow,
    ReceiptSource, RequestState, SpotCheckRow, TimelineRow, key,
};
use bangfu_projections::projector::{self, Projector};
use bangfu_projections::query::{self, RequestFilter};
use bangfu_projections::scores;
use bangfu_projections::views::{MemViews, ViewStore};
use bangfu_projections::views_postgres::PgViews;
use bangfu_projections::views_sqlite::SqliteViews;
use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use common::scenario::{
    self, ASSESSED_YEAR, CAMPAIGN, ENDED_HOUSEHOLD, FUNDS, LATE_AFTER_DAYS, LEAVING, MOVING,
    NEW_CADRES, PROGRAM, RETIRING, Scenario, Tallies, d, final_day,
};
use common::{SEED, assert_same_rows, rows};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

fn fid(s: &str) -> FundId {
    FundId::new(s).expect("fund id")
}

fn hid(s: &str) -> HouseholdId {
    HouseholdId::new(s).expect("household id")
}

fn cid(s: &str) -> CadreId {
    CadreId::new(s).expect("cadre id")
}

fn program() -> ProgramId {
    ProgramId::new(PROGRAM).expect("program id")
}

/// The days after which the projectors catch up: every quarter's end, and the last day.
fn checkpoints() -> Vec<Date> {
    let mut out = Vec::new();
    let mut q = Quarter { year: 2016, q: 1 };
    while q.year <= 2018 {
        out.push(q.last_day());
        q = q.next();
    }
    out.push(final_day());
    out
}

async fn check_funds<V: ViewStore>(v: &V, t: &Tallies) {
    for (id, ft) in &t.funds {
        let f = query::fund(v, &fid(id)).await.unwrap().expect("fund row");
        assert_eq!(
            (f.balance, f.contributed, f.disbursed, f.reversed),
            (ft.balance, ft.contributed, ft.disbursed, ft.reversed),
            "fund {id}: balance, contributed, disbursed, reversed"
        );
        assert_eq!(
            (f.contributions, f.disbursements),
            (ft.contributions, ft.disbursements),
            "fund {id}: counts"
        );
        assert_eq!(f.unit.as_str(), ft.unit, "fund {id}: unit");
        let per_year: BTreeMap<i64, (i64, i64, i64)> = f
            .per_year
            .iter()
            .map(|(y, t)| (*y, (t.contributed, t.disbursed, t.reversed)))
            .collect();
        assert_eq!(per_year, ft.per_year, "fund {id}: totals per year");
        // The trail, page by page.
        let mut trail: Vec<MovementRow> = Vec::new();
        let mut after = String::new();
        loop {
            let page = query::movements(v, &fid(id), &after, 37).await.unwrap();
            trail.extend(page.items);
            match page.next {
                Some(n) => after = n,
                None => break,
            }
        }
        let got: Vec<(Date, i64, i64)> = trail
            .iter()
            .map(|m| (m.date, m.amount, m.balance))
            .collect();
        assert_eq!(
            got, ft.trail,
            "fund {id}: the trail (date, amount, balance after)"
        );
    }
    let rec = query::reconcile(v).await.unwrap();
    assert_eq!(rec.len(), FUNDS.len());
    for r in &rec {
        assert!(r.ok, "fund {} does not reconcile: {r:?}", r.fund);
    }

    // First in, first out, worked out by hand in the scenario.
    for fifo in &t.fifo {
        let c = query::contribution(v, &fid(&fifo.fund), &fifo.contribution)
            .await
            .unwrap()
            .expect("contribution row");
        assert_eq!(c.amount, fifo.amount, "{}", fifo.contribution);
        assert_eq!(
            c.remaining, fifo.remaining,
            "{} remaining",
            fifo.contribution
        );
        let got: Vec<(String, String, i64, bool)> = c
            .allocations
            .iter()
            .map(|a| {
                (
                    a.disbursement.as_str().to_owned(),
                    a.household.as_str().to_owned(),
                    a.amount,
                    a.reversed,
                )
            })
            .collect();
        assert_eq!(got, fifo.allocations, "where {} went", fifo.contribution);
    }
    let named = query::fund(v, &fid("gmy-fund"))
        .await
        .unwrap()
        .expect("named fund");
    let queue: Vec<(String, u64, i64)> = named
        .queue
        .iter()
        .map(|u| (u.contribution.as_str().to_owned(), u.seq, u.remaining))
        .collect();
    assert_eq!(
        queue, t.named_queue,
        "the named fund's unspent money, oldest first"
    );
}

async fn check_receipts<V: ViewStore>(v: &V, t: &Tallies) {
    let mut total = 0;
    for (h, rt) in &t.receipts {
        let mut items: Vec<ReceiptRow> = Vec::new();
        let mut after = String::new();
        loop {
            let page = query::receipts(v, &hid(h), &after, 4).await.unwrap();
            items.extend(page.items);
            match page.next {
                Some(n) => after = n,
                None => break,
            }
        }
        let got = scenario::ReceiptTally {
            count: items.len(),
            value: items.iter().map(|r| r.value).sum(),
            acknowledged: items.iter().filter(|r| r.acknowledged).count(),
            reversed: items.iter().filter(|r| r.reversed).count(),
            from_funds: items
                .iter()
                .filter(|r| matches!(r.source, ReceiptSource::Fund { .. }))
                .count(),
            from_cadres: items
                .iter()
                .filter(|r| matches!(r.source, ReceiptSource::Cadre { .. }))
                .count(),
        };
        assert_eq!(&got, rt, "receipts of {h}");
        assert!(
            items.iter().all(|r| r.household.as_str() == h),
            "receipts of {h} are {h}'s"
        );
        total += items.len();
    }
    assert!(total > 500, "the scenario hands over plenty ({total})");
}

async fn check_pairings<V: ViewStore>(v: &V, t: &Tallies) {
    for p in t.pairings.values() {
        let rows = query::pairings_of_household(v, &hid(&p.household))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{} is paired in one program", p.household);
        let row = &rows[0];
        assert_eq!(row.id, p.id);
        let now = p.current();
        let cadres: BTreeSet<String> = row
            .team
            .cadres
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        assert_eq!(cadres, now.cadres, "{}: the team", p.id);
        assert_eq!(row.team.lead.as_str(), now.lead, "{}: the lead", p.id);
        assert_eq!(row.team.since, now.from, "{}: the team since", p.id);
        assert_eq!(row.formed, p.formed, "{}: formed", p.id);
        assert_eq!(row.ended, p.ended, "{}: ended", p.id);
        assert_eq!(
            row.status,
            if p.ended.is_some() {
                PairingStatus::Ended
            } else {
                PairingStatus::Active
            },
            "{}: status",
            p.id
        );
        let steps: Vec<&str> = row.history.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(steps, p.steps, "{}: history", p.id);
        assert_eq!(row.visits.len(), p.visits.len(), "{}: visits", p.id);
        for (got, want) in row.visits.iter().zip(&p.visits) {
            assert_eq!(
                (
                    got.visit_id.as_str(),
                    got.cadre.as_str(),
                    got.date,
                    got.recorded_on,
                    got.retracted
                ),
                (
                    want.id.as_str(),
                    want.cadre.as_str(),
                    want.date,
                    want.recorded,
                    want.retracted
                ),
                "{}: visit",
                p.id
            );
        }
        let late = row
            .visits
            .iter()
            .filter(|v| v.date.days_until(v.recorded_on) > LATE_AFTER_DAYS)
            .count();
        assert_eq!(late, p.late_visits, "{}: late records", p.id);
        assert_eq!(
            row.donations.len(),
            p.donations.len(),
            "{}: donations",
            p.id
        );
        // Who was responsible on each team's days.
        for (k, s) in p.spells.iter().enumerate() {
            let day = p.spells.get(k + 1).map_or(s.from, |n| n.from.add_days(-1));
            let team: BTreeSet<String> = row
                .team_on(day)
                .into_iter()
                .map(|c| c.as_str().to_owned())
                .collect();
            assert_eq!(team, s.cadres, "{}: the team on {day}", p.id);
        }
    }
    // The retirement and the transfer each handed households over, one to two cadres jointly.
    let handed: Vec<_> = t.pairings.values().filter(|p| p.spells.len() > 1).collect();
    assert!(
        handed
            .iter()
            .any(|p| p.spells[1].cadres.len() == 2 && p.spells[0].cadres.contains(RETIRING))
    );
    assert!(handed.iter().any(|p| p.spells[0].cadres.contains(LEAVING)));

    let mut cadres: BTreeSet<String> = (0..40).map(scenario::cadre_id).collect();
    cadres.extend(NEW_CADRES.map(String::from));
    for c in &cadres {
        let current: BTreeSet<String> = query::pairings_of_cadre(v, &cid(c), true)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(current, t.current_pairings_of(c), "{c}'s households now");
        let ever: BTreeSet<String> = query::pairings_of_cadre(v, &cid(c), false)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ever, t.all_pairings_of(c), "{c}'s households ever");
        let row = query::cadre(v, &cid(c)).await.unwrap().expect("cadre row");
        let status = match row.status {
            CadreStatus::Active => "active",
            CadreStatus::Retired => "retired",
            CadreStatus::Transferred => "transferred",
        };
        assert_eq!(status, t.cadres[c].status, "{c}'s status");
        let units: Vec<(Date, String)> = row
            .units
            .iter()
            .map(|s| (s.from, s.unit.as_str().to_owned()))
            .collect();
        assert_eq!(units, t.cadres[c].units, "{c}'s units");
    }
    assert!(t.current_pairings_of(RETIRING).is_empty());
    assert!(t.current_pairings_of(LEAVING).is_empty());
    assert!(!t.current_pairings_of(NEW_CADRES[0]).is_empty());
    assert!(!t.current_pairings_of(MOVING).is_empty());

    for h in &t.households {
        let row = query::household(v, &hid(h))
            .await
            .unwrap()
            .expect("household row");
        let exited = t.exited.contains(h);
        assert_eq!(
            row.status,
            if exited {
                HouseholdStatus::Exited
            } else {
                HouseholdStatus::InHardship
            },
            "{h}'s status"
        );
    }
}

async fn check_compliance<V: ViewStore>(v: &V, t: &Tallies) {
    let today = query::today(v).await.unwrap();
    assert_eq!(today, final_day());
    let (mut missed, mut met, mut festival) = (0, 0, 0);
    for p in t.pairings.values() {
        let quarters = query::compliance_of_pairing(v, &p.id)
            .await
            .unwrap()
            .expect("pairing");
        let got: Vec<(String, &str)> = quarters
            .iter()
            .map(|q| {
                let status = match q.status {
                    QuarterStatus::Met => "met",
                    QuarterStatus::Missed => "missed",
                    QuarterStatus::Open => "open",
                };
                (q.quarter.clone(), status)
            })
            .collect();
        let want = p.expected_quarters(today);
        assert_eq!(
            got.iter()
                .map(|(q, s)| (q.as_str(), *s))
                .collect::<Vec<_>>(),
            want.iter()
                .map(|(q, s)| (q.as_str(), *s))
                .collect::<Vec<_>>(),
            "{}: quarters (missed by construction: {:?})",
            p.id,
            p.missed
        );
        for q in &quarters {
            let want = p.festival_visits.get(&q.quarter).copied().unwrap_or(0);
            assert_eq!(
                q.festival_visits.len(),
                want,
                "{} {}: festival visits",
                p.id,
                q.quarter
            );
            festival += want;
        }
        missed += want.iter().filter(|(_, s)| *s == "missed").count();
        met += want.iter().filter(|(_, s)| *s == "met").count();
    }
    assert!(
        missed > 50 && met > 3000 && festival > 300,
        "{missed} missed, {met} met, {festival} festival visits"
    );
}

async fn check_requests<V: ViewStore>(v: &V, t: &Tallies) {
    let all = query::requests(v, &program(), RequestFilter::All)
        .await
        .unwrap();
    assert_eq!(all.len(), t.requests.len());
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for r in t.requests.values() {
        *by_state.entry(r.state).or_default() += 1;
    }
    let mut got_by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for view in &all {
        let r = &view.request;
        let state = match r.state {
            RequestState::Raised => "raised",
            RequestState::Dispatched => "dispatched",
            RequestState::Accepted => "accepted",
            RequestState::Resolved => "resolved",
            RequestState::Confirmed => "confirmed",
            RequestState::Disputed => "disputed",
            RequestState::Closed => "closed",
        };
        *got_by_state.entry(state).or_default() += 1;
        let k = format!("{}/{}", r.pairing, r.id);
        let want = &t.requests[&k];
        assert_eq!(state, want.state, "request {k}: state");
        assert_eq!(
            r.responsible.as_str(),
            want.responsible,
            "request {k}: responsible"
        );
        assert_eq!(
            r.resolved_by.as_ref().map(|c| c.as_str().to_owned()),
            want.resolved_by,
            "request {k}: resolved by"
        );
        assert_eq!(r.raised_on, want.raised_on, "request {k}: raised on");
        let steps: Vec<&str> = r.history.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(steps, want.steps, "request {k}: history");
    }
    assert_eq!(got_by_state, by_state, "requests per state");
    for state in [
        "raised",
        "dispatched",
        "accepted",
        "resolved",
        "confirmed",
        "disputed",
        "closed",
    ] {
        assert!(
            by_state.get(state).is_some_and(|n| *n > 0),
            "some requests end {state}"
        );
    }
    let count =
        |f: fn(&scenario::RequestTally) -> bool| t.requests.values().filter(|r| f(r)).count();
    let open = query::requests(v, &program(), RequestFilter::Open)
        .await
        .unwrap();
    assert_eq!(open.len(), count(|r| r.is_open()));
    let resolved = query::requests(v, &program(), RequestFilter::Resolved)
        .await
        .unwrap();
    assert_eq!(resolved.len(), count(|r| r.resolved_by.is_some()));
    let confirmed = query::requests(v, &program(), RequestFilter::Confirmed)
        .await
        .unwrap();
    assert_eq!(confirmed.len(), count(|r| r.state == "confirmed"));
    let overdue = query::requests(v, &program(), RequestFilter::Overdue)
        .await
        .unwrap();
    let want_overdue = t
        .requests
        .values()
        .filter(|r| r.is_open() && r.raised_on.days_until(final_day()) > query::OVERDUE_AFTER_DAYS)
        .count();
    assert_eq!(overdue.len(), want_overdue, "overdue requests");
    // The request the retirement carried to the new lead.
    let carried = &t.requests[&t.carried_request];
    assert_eq!(carried.responsible, NEW_CADRES[0]);
}

async fn check_timelines<V: ViewStore>(v: &V, t: &Tallies) {
    for h in &t.households {
        let mut items: Vec<TimelineRow> = Vec::new();
        let mut after = String::new();
        loop {
            let page = query::timeline(v, &hid(h), &after, 25).await.unwrap();
            items.extend(page.items);
            match page.next {
                Some(n) => after = n,
                None => break,
            }
        }
        assert!(!items.is_empty(), "{h} has a timeline");
        assert!(
            items
                .windows(2)
                .all(|w| w[0].signed.index <= w[1].signed.index),
            "{h}'s timeline is in log order"
        );
        assert_eq!(items[0].event_type, "HouseholdRegistered");
        // Entries as (index, rows, signer), in order.
        let mut got: Vec<(u64, usize, String)> = Vec::new();
        for row in &items {
            assert_eq!(row.household.as_str(), h);
            match got.last_mut() {
                Some(last) if last.0 == row.signed.index => {
                    assert_eq!(last.2, row.signed.signer, "{h}: one signer per entry");
                    last.1 += 1;
                }
                _ => got.push((row.signed.index, 1, row.signed.signer.clone())),
            }
        }
        assert_eq!(
            &got, &t.timeline[h],
            "{h}'s timeline: (entry, events, signer)"
        );
    }
}

async fn check_units<V: ViewStore>(v: &V, t: &Tallies) {
    let got: BTreeMap<(String, i64), scenario::UnitYearTally> = query::totals_per_unit_year(v)
        .await
        .unwrap()
        .into_iter()
        .map(|((u, y), x)| {
            (
                (u.as_str().to_owned(), y),
                scenario::UnitYearTally {
                    contributed: x.contributed,
                    disbursed: x.disbursed,
                    reversed: x.reversed,
                    donated: x.donated,
                },
            )
        })
        .collect();
    assert_eq!(got, t.unit_year, "money per unit and year");
}

async fn check_inspection<V: ViewStore>(v: &V, t: &Tallies) {
    let s: SpotCheckRow = query::get(v, &key::<SpotCheckRow>(&[CAMPAIGN]))
        .await
        .unwrap()
        .expect("campaign row");
    let sample: Vec<String> = s.sample.iter().map(|h| h.as_str().to_owned()).collect();
    assert_eq!(sample, t.spot.sample);
    assert_eq!(s.revisits.len(), t.spot.revisits);
    assert!(s.closed);
    let count = |r: &str| {
        s.revisits
            .iter()
            .flat_map(|rv| &rv.findings)
            .filter(|f| serde_json::to_value(f.result).unwrap() == r)
            .count()
    };
    assert_eq!(
        (
            count("confirmed"),
            count("not_confirmed"),
            count("unreachable")
        ),
        (t.spot.confirmed, t.spot.not_confirmed, t.spot.unreachable),
        "findings"
    );
    assert!(t.spot.confirmed > 10 && t.spot.not_confirmed > 0 && t.spot.unreachable > 0);

    let published = t.published.as_ref().expect("the assessment was published");
    let a: AssessmentRow = query::get(
        v,
        &key::<AssessmentRow>(&[&format!("{PROGRAM}:{ASSESSED_YEAR}")]),
    )
    .await
    .unwrap()
    .expect("assessment row");
    assert_eq!(a.log_size, published.log_size);
    assert_eq!(a.signed.index, published.index);
    assert_eq!(a.signed.signer, "person/eval-1");
    assert_eq!(a.formula, scores::FORMULA);
    let cadres: BTreeMap<String, i64> = a
        .cadres
        .iter()
        .map(|(c, p)| (c.as_str().to_owned(), *p))
        .collect();
    assert_eq!(cadres, published.cadres);
    let scored: BTreeSet<String> = cadres.keys().cloned().collect();
    assert_eq!(
        scored, t.scored,
        "everyone on a team during {ASSESSED_YEAR} is scored"
    );
}

/// Every read model against the tallies.
async fn check_all<V: ViewStore>(v: &V, t: &Tallies) {
    let head = query::head(v).await.unwrap().expect("log head");
    assert_eq!(head.size, t.days.len() as u64);
    assert_eq!(head.today, final_day());
    check_funds(v, t).await;
    check_receipts(v, t).await;
    check_pairings(v, t).await;
    check_compliance(v, t).await;
    check_requests(v, t).await;
    check_timelines(v, t).await;
    check_units(v, t).await;
    check_inspection(v, t).await;
}

/// Runs the scenario on `backend`, followed by a projector on memory and one on the persisted
/// views `open` opens (again after each simulated year, as after a restart).
async fn realistic<B, V, F, Fut>(backend: B, open: F)
where
    B: Backend,
    V: ViewStore,
    F: Fn() -> Fut,
    Fut: Future<Output = V>,
{
    let mut sc = Scenario::new(SEED);
    let log = Log::open_with_clock(backend, sc.clock())
        .await
        .expect("open log");
    let b = log.backend();
    // In memory, catching up after every quarter of the story.
    let mut follower = Projector::open(b, MemViews::new()).await.unwrap();
    // Persisted, catching up in small steps after every quarter; dropped at the end of each year
    // and opened again on the same rows.
    let mut persisted = Some(Projector::open(b, open().await).await.unwrap());
    let mut restarts = 0;
    for day in checkpoints() {
        sc.run_until(&log, day).await;
        let size = log.size().await.unwrap();
        assert_eq!(size, sc.t.days.len() as u64);
        assert_eq!(follower.catch_up(b, None, None).await.unwrap(), size);
        let p = persisted.as_mut().expect("projector");
        while p.applied() < size {
            let next = p.applied() + 97;
            assert_eq!(
                p.catch_up(b, Some(next), None).await.unwrap(),
                next.min(size)
            );
        }
        if day.ymd().1 == 12 {
            drop(persisted.take());
            let reopened = Projector::open(b, open().await).await.unwrap();
            assert_eq!(
                reopened.applied(),
                size,
                "the cursor was stored with the rows"
            );
            persisted = Some(reopened);
            restarts += 1;
        }
    }
    assert!(sc.finished());
    assert_eq!(restarts, 3);
    let t = &sc.t;
    let size = log.size().await.unwrap();
    assert_eq!(size, t.days.len() as u64);
    assert_eq!(t.refused, 2, "two overdrafts were refused");
    let persisted = persisted.expect("projector");
    assert_eq!(persisted.applied(), size);

    // Every read model against the hand tallies, in memory and in the database.
    check_all(follower.views(), t).await;
    check_all(persisted.views(), t).await;

    // Incremental (in memory, and persisted across restarts), rebuilt, as of the last size: the
    // same rows.
    let incremental = rows(follower.views()).await;
    assert!(incremental.len() > 5_000, "{} rows", incremental.len());
    eprintln!(
        "scenario: {size} entries ({} statements planned, {} refused), {} read-model rows",
        sc.planned(),
        t.refused,
        incremental.len()
    );
    assert_same_rows(
        "persisted, restarted",
        &incremental,
        &rows(persisted.views()).await,
    );
    let at_last = projector::as_of(b, size).await.unwrap();
    assert_same_rows("as of the last size", &incremental, &rows(&at_last).await);
    assert_eq!(
        projector::rebuild(b, persisted.views(), None)
            .await
            .unwrap(),
        size
    );
    assert_eq!(persisted.views().applied().await.unwrap(), size);
    assert_same_rows("rebuilt", &incremental, &rows(persisted.views()).await);

    // As of the end of each year, the funds hold what the tallies say they held.
    for year in [2016, 2017] {
        let end = Date::from_ymd(year, 12, 31).unwrap();
        let at = projector::size_at_end_of(b, end).await.unwrap();
        assert_eq!(
            at,
            t.size_at_end_of(end),
            "entries recorded by the end of {year}"
        );
        let past = projector::as_of(b, at).await.unwrap();
        for (id, ft) in &t.funds {
            let f = query::fund(&past, &fid(id)).await.unwrap().expect("fund");
            assert_eq!(
                f.balance,
                ft.balance_at_end_of(end),
                "{id} at the end of {year}"
            );
        }
        let head = query::head(&past).await.unwrap().expect("head");
        assert_eq!(head.size, at);
        assert!(head.today <= end);
    }
    assert_eq!(t.funds["gmy-fund"].balance_at_end_of(d("2016-12-31")), 0);

    // The published assessment recomputes from the log as it stood.
    let recheck = scores::recheck_published(b, follower.views(), &program(), ASSESSED_YEAR)
        .await
        .unwrap()
        .expect("published");
    assert!(recheck.matches, "{recheck:?}");

    // The household that moved away.
    let ended = query::pairings_of_household(follower.views(), &hid(ENDED_HOUSEHOLD))
        .await
        .unwrap();
    assert_eq!(ended[0].status, PairingStatus::Ended);
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_program_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let backend = bangfu_store::sqlite::SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .expect("open SQLite store");
    let path = dir.path().join("readmodels.sqlite");
    realistic(backend, move || {
        let path = path.clone();
        async move {
            SqliteViews::open(&path)
                .await
                .expect("open the read models")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_program_on_postgres() {
    let db = bangfu_store::postgres::TestDatabase::create("bangfu_proj")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let backend = bangfu_store::postgres::PgBackend::connect(&db.url)
        .await
        .expect("connect to the test database");
    let url = db.url.clone();
    realistic(backend, move || {
        let url = url.clone();
        async move {
            PgViews::connect(&url)
                .await
                .expect("connect the read models")
        }
    })
    .await;
}
