//! The worked example of `docs/assessment.md`, played through the real append path on SQLite and
//! scored: every figure asserted here is computed by hand in the document.

#[path = "../../store/src/bin/fault_appender/district.rs"]
mod district;

use bangfu_domain::ids::{CadreId, ProgramId, UnitId};
use bangfu_ledger::signature::PublicKey;
use bangfu_ledger::statement::{Body, CommandName, Statement, Target};
use bangfu_ledger::time::Timestamp;
use bangfu_projections::compliance::QuarterStatus;
use bangfu_projections::projector::{self, Projector};
use bangfu_projections::query;
use bangfu_projections::scores::{self, FORMULA};
use bangfu_projections::views::MemViews;
use bangfu_store::log::Log;
use bangfu_store::sqlite::SqliteBackend;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A log whose clock the story sets: `recorded_at` is the day each thing is written down.
struct Story {
    log: Log<SqliteBackend>,
    now: Arc<AtomicI64>,
}

impl Story {
    fn on(&self, day: &str) {
        let t = Timestamp::parse(&format!("{day}T02:00:00.000Z")).unwrap();
        self.now.store(t.unix_millis(), Ordering::SeqCst);
    }

    async fn ok(&self, signer: &str, command: &str, target: &str, args: Value) -> u64 {
        let sk = district::key(signer);
        let statement = Statement::sign(
            Body {
                id: district::fresh_id(),
                command: CommandName::parse(command).unwrap(),
                target: Target::parse(target).unwrap(),
                args: args.as_object().cloned().unwrap(),
                signed_at: Timestamp::from_unix_millis(self.now.load(Ordering::SeqCst)).unwrap(),
                key: PublicKey::from(&sk),
            },
            &sk,
        )
        .unwrap()
        .verified()
        .unwrap();
        match self.log.append(statement).await {
            Ok(r) => r.index,
            Err(e) => panic!("{command} on {target} refused: {e}"),
        }
    }

    async fn key(&self, name: &str, holder: &str, roles: &[&str]) {
        let args = json!({"key": district::b64key(name), "holder": holder, "roles": roles});
        self.ok("authority", "register_key", "authority/gulou", args)
            .await;
    }

    async fn visit(&self, cadre: &str, household: &str, id: &str, date: &str, kind: &str) {
        let args =
            json!({"visit_id": id, "date": date, "kind": kind, "diary": district::sealed("走访")});
        self.ok(cadre, "record_visit", &pairing(household), args)
            .await;
    }
}

fn pairing(household: &str) -> String {
    format!("pairing/gulou2016:{household}")
}

async fn play(dir: &std::path::Path) -> (Story, u64) {
    let backend = SqliteBackend::open(&dir.join("log.sqlite")).await.unwrap();
    let now = Arc::new(AtomicI64::new(0));
    let clock = now.clone();
    let log = Log::open_with_clock(backend, Box::new(move || clock.load(Ordering::SeqCst)))
        .await
        .unwrap();
    let s = Story { log, now };

    s.on("2016-01-04");
    s.ok(
        "authority",
        "genesis",
        "authority/gulou",
        json!({"origin": "bangfu.example/gulou", "name": "鼓楼区委组织部",
               "holder": "person/org-dept", "roles": ["coordinator"]}),
    )
    .await;
    s.key("coord", "person/coord-1", &["coordinator"]).await;
    s.key("fm", "person/fm-1", &["fund_manager"]).await;
    s.key("inspector", "person/insp-1", &["inspector"]).await;
    s.key("evaluator", "person/eval-1", &["evaluator"]).await;
    for (unit, name, parent) in [
        ("gulou", "鼓楼区", None),
        ("court", "区法院", Some("gulou")),
    ] {
        let mut args = json!({"name": name, "kind": "bureau"});
        if let Some(p) = parent {
            args["parent"] = json!(p);
        }
        s.ok("coord", "register_unit", &format!("unit/{unit}"), args)
            .await;
    }
    s.ok(
        "coord",
        "create_program",
        "program/gulou2016",
        json!({"name": "鼓楼区干部结对帮扶", "rules": {
            "min_visits_per_quarter": 1,
            "festivals": [{"name": "春节", "from": "2016-01-31", "to": "2016-02-14"}],
            "spot_check_per_mille": 100,
            "late_after_days": 7,
            "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                        "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}}}),
    )
    .await;
    for (cadre, unit) in [("wang", "court"), ("li", "gulou"), ("zhao", "court")] {
        s.ok(
            "coord",
            "register_cadre",
            &format!("cadre/{cadre}"),
            json!({"name": cadre, "unit": unit, "rank": "section", "party_member": true,
                   "date": "2016-01-04"}),
        )
        .await;
        s.key(cadre, &format!("cadre/{cadre}"), &["cadre"]).await;
    }
    for h in ["h1", "h2"] {
        s.ok(
            "coord",
            "register_household",
            &format!("household/{h}"),
            json!({"address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
                   "category": "illness", "members": 3,
                   "sensitive": {"hardship": district::sealed("透析"), "id_number": district::sealed("350102")},
                   "date": "2016-01-04"}),
        )
        .await;
        let card = format!("card-{h}");
        s.key(&card, &format!("household/{h}"), &["household"])
            .await;
        s.ok(
            "coord",
            "set_contact_key",
            &format!("household/{h}"),
            json!({"key": district::b64key(&card)}),
        )
        .await;
    }
    for (h, cadre) in [("h1", "wang"), ("h2", "zhao")] {
        s.ok(
            "coord",
            "form_pairing",
            &pairing(h),
            json!({"program": "gulou2016", "household": h, "cadres": [cadre], "lead": cadre,
                   "date": "2016-01-04"}),
        )
        .await;
    }
    s.ok(
        "coord",
        "create_fund",
        "fund/court-pool",
        json!({"name": "区法院帮扶资金", "kind": "unit_pool", "unit": "court",
               "manager": "person/fm-1"}),
    )
    .await;
    s.on("2016-01-10");
    s.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        json!({"contribution_id": "c1", "source": {"kind": "salary", "cadre": "wang"},
               "amount": 100000, "date": "2016-01-10"}),
    )
    .await;

    // Q1
    s.on("2016-02-10");
    s.visit("wang", "h1", "v1", "2016-02-10", "festival").await;
    s.ok(
        "wang",
        "record_personal_donation",
        &pairing("h1"),
        json!({"donation_id": "d-wang-1", "date": "2016-02-10",
               "help": {"form": "cash", "amount": 50000}, "purpose": "festival"}),
    )
    .await;
    s.ok(
        "card-h1",
        "acknowledge_donation",
        &pairing("h1"),
        json!({"donation_id": "d-wang-1"}),
    )
    .await;
    s.on("2016-03-01");
    s.visit("zhao", "h2", "v2", "2016-03-01", "routine").await;
    s.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        json!({"contribution_id": "c2", "source": {"kind": "unit", "unit": "court"},
               "amount": 200000, "date": "2016-03-01"}),
    )
    .await;
    s.on("2016-03-05");
    s.ok(
        "card-h1",
        "raise_request",
        &pairing("h1"),
        json!({"request_id": "r1", "kind": "concrete_help", "summary": "房屋漏雨维修",
               "date": "2016-03-05"}),
    )
    .await;
    s.ok(
        "wang",
        "accept_request",
        &pairing("h1"),
        json!({"request_id": "r1"}),
    )
    .await;
    s.on("2016-03-20");
    s.ok(
        "wang",
        "resolve_request",
        &pairing("h1"),
        json!({"request_id": "r1", "outcome": "已修好屋顶", "date": "2016-03-20"}),
    )
    .await;
    s.ok(
        "card-h1",
        "confirm_resolution",
        &pairing("h1"),
        json!({"request_id": "r1"}),
    )
    .await;

    // Q2: wang visits on 10 May but records it on 30 May (late); h2 is not visited.
    s.on("2016-05-30");
    s.visit("wang", "h1", "v3", "2016-05-10", "routine").await;
    s.on("2016-06-01");
    s.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        json!({"disbursement_id": "d1", "household": "h1", "through": "wang",
               "help": {"form": "cash", "amount": 100000}, "purpose": "medical",
               "date": "2016-06-01"}),
    )
    .await;
    s.ok(
        "card-h1",
        "acknowledge_disbursement",
        "fund/court-pool",
        json!({"disbursement_id": "d1"}),
    )
    .await;

    // Q3: wang visits, then retires; h1 passes to li and zhao jointly, li leading.
    s.on("2016-07-20");
    s.visit("wang", "h1", "v4", "2016-07-20", "routine").await;
    s.on("2016-08-10");
    s.ok(
        "coord",
        "propose_handover",
        &pairing("h1"),
        json!({"outgoing": ["wang"], "incoming": ["li", "zhao"], "lead": "li",
               "date": "2016-08-10", "reason": "退休"}),
    )
    .await;
    s.on("2016-08-12");
    s.ok("li", "accept_handover", &pairing("h1"), json!({}))
        .await;
    s.on("2016-08-16");
    s.ok("zhao", "accept_handover", &pairing("h1"), json!({}))
        .await;
    s.ok(
        "coord",
        "retire_cadre",
        "cadre/wang",
        json!({"date": "2016-08-16"}),
    )
    .await;
    s.on("2016-08-20");
    s.visit("zhao", "h2", "v5", "2016-08-20", "routine").await;
    s.on("2016-09-01");
    s.visit("li", "h1", "v6", "2016-09-01", "routine").await;
    s.on("2016-09-10");
    s.ok(
        "card-h1",
        "raise_request",
        &pairing("h1"),
        json!({"request_id": "r2", "kind": "order", "summary": "孩子学费",
               "date": "2016-09-10"}),
    )
    .await;
    s.ok(
        "li",
        "accept_request",
        &pairing("h1"),
        json!({"request_id": "r2"}),
    )
    .await;
    s.on("2016-09-25");
    s.ok(
        "li",
        "resolve_request",
        &pairing("h1"),
        json!({"request_id": "r2", "outcome": "已联系学校", "date": "2016-09-25"}),
    )
    .await;
    s.ok(
        "card-h1",
        "dispute_resolution",
        &pairing("h1"),
        json!({"request_id": "r2", "reason": "学费仍未解决"}),
    )
    .await;

    // Q4
    s.on("2016-10-10");
    s.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        json!({"disbursement_id": "d2", "household": "h1", "through": "li",
               "help": {"form": "cash", "amount": 30000}, "purpose": "schooling",
               "date": "2016-10-10"}),
    )
    .await;
    s.on("2016-11-03");
    s.visit("li", "h1", "v7", "2016-11-03", "routine").await;
    s.on("2016-12-01");
    s.visit("zhao", "h2", "v8", "2016-12-01", "routine").await;
    s.ok(
        "zhao",
        "record_personal_donation",
        &pairing("h2"),
        json!({"donation_id": "d-zhao-1", "date": "2016-12-01",
               "help": {"form": "in_kind", "items": [{"name": "大米 (10 kg)", "quantity": 2, "unit_value": 8000}]},
               "purpose": "living"}),
    )
    .await;
    s.ok(
        "card-h2",
        "acknowledge_donation",
        &pairing("h2"),
        json!({"donation_id": "d-zhao-1"}),
    )
    .await;

    // The year's spot check: h1 is revisited in January.
    s.on("2017-01-05");
    let campaign = "spot_check/gulou2016-2016";
    s.ok(
        "inspector",
        "open_campaign",
        campaign,
        json!({"program": "gulou2016", "year": 2016}),
    )
    .await;
    s.ok(
        "inspector",
        "record_draw",
        campaign,
        json!({"checkpoint": "bangfu.example/gulou\n40\nq0PQ0fKxGz8V3sF0mZ1TnQ6o3lJ7m9W5y2aXbCdEeFg=\n\n— inspector sig\n",
               "sample": ["h1"]}),
    )
    .await;
    let last = s
        .ok(
            "inspector",
            "record_revisit",
            campaign,
            json!({"household": "h1", "method": "on_site", "date": "2017-01-05", "findings": [
                {"subject": "visit/gulou2016:h1/v1", "result": "confirmed"},
                {"subject": "disbursement/court-pool/d1", "result": "confirmed"},
                {"subject": "visit/gulou2016:h1/v6", "result": "not_confirmed"},
            ]}),
        )
        .await;
    (s, last + 1)
}

fn c(id: &str) -> CadreId {
    CadreId::new(id).unwrap()
}

#[tokio::test]
async fn the_worked_example_scores_as_the_document_says() {
    let dir = tempfile::tempdir().unwrap();
    let (story, size) = play(dir.path()).await;
    let backend = story.log.shared_backend();
    let views = MemViews::new();
    let mut p = Projector::open(backend.as_ref(), views).await.unwrap();
    assert_eq!(
        p.catch_up(backend.as_ref(), None, None).await.unwrap(),
        size
    );
    let program = ProgramId::new("gulou2016").unwrap();
    let a = scores::assess(p.views(), &program, 2016).await.unwrap();
    assert_eq!(a.log_size, size);
    let by = |id: &str| a.cadres.iter().find(|s| s.cadre == c(id)).unwrap().clone();

    let wang = by("wang");
    assert_eq!((wang.due_days, wang.met_days), (225, 225));
    assert_eq!(
        (wang.help_items, wang.help_acknowledged, wang.delivered),
        (2, 2, 150_000)
    );
    assert_eq!((wang.requests_assigned, wang.requests_confirmed), (1, 1));
    assert_eq!(
        (wang.findings_confirmed, wang.findings_not_confirmed),
        (2, 0)
    );
    assert_eq!((wang.late_visits, wang.disputed_or_unconfirmed), (1, 0));
    assert_eq!(
        [
            wang.visit_points,
            wang.help_points,
            wang.request_points,
            wang.fund_points,
            wang.spot_check_points,
            wang.penalty_points,
            wang.total
        ],
        [4000, 2000, 2000, 1000, 1000, 200, 9800]
    );

    let li = by("li");
    assert_eq!((li.due_days, li.met_days), (138, 138));
    assert_eq!(
        (li.help_items, li.help_acknowledged, li.delivered),
        (1, 0, 0)
    );
    assert_eq!((li.requests_assigned, li.requests_confirmed), (1, 0));
    assert_eq!((li.findings_confirmed, li.findings_not_confirmed), (0, 1));
    assert_eq!((li.late_visits, li.disputed_or_unconfirmed), (0, 1));
    assert_eq!(
        [
            li.visit_points,
            li.help_points,
            li.request_points,
            li.fund_points,
            li.spot_check_points,
            li.penalty_points,
            li.total
        ],
        [4000, 0, 0, 0, 0, 500, 3500]
    );

    let zhao = by("zhao");
    assert_eq!((zhao.due_days, zhao.met_days), (501, 410));
    assert_eq!(
        (zhao.help_items, zhao.help_acknowledged, zhao.delivered),
        (1, 1, 16_000)
    );
    assert_eq!(
        [
            zhao.visit_points,
            zhao.help_points,
            zhao.request_points,
            zhao.fund_points,
            zhao.spot_check_points,
            zhao.penalty_points,
            zhao.total
        ],
        [3273, 2000, 0, 106, 1000, 0, 6379]
    );
    let order: Vec<&str> = a.cadres.iter().map(|s| s.cadre.as_str()).collect();
    assert_eq!(order, ["wang", "zhao", "li"]);
    let units: Vec<(UnitId, i64, i64)> = a
        .units
        .iter()
        .map(|u| (u.unit.clone(), u.cadres, u.total))
        .collect();
    assert_eq!(
        units,
        [
            (UnitId::new("court").unwrap(), 2, 8089),
            (UnitId::new("gulou").unwrap(), 1, 3500)
        ]
    );

    // h2's second quarter is the one missed; h1's third is split at the handover.
    let h2 = query::compliance_of_pairing(p.views(), "gulou2016:h2")
        .await
        .unwrap()
        .unwrap();
    let statuses: Vec<(String, QuarterStatus)> =
        h2.iter().map(|q| (q.quarter.clone(), q.status)).collect();
    assert_eq!(
        statuses,
        [
            ("2016-Q1".to_owned(), QuarterStatus::Met),
            ("2016-Q2".to_owned(), QuarterStatus::Missed),
            ("2016-Q3".to_owned(), QuarterStatus::Met),
            ("2016-Q4".to_owned(), QuarterStatus::Met),
            ("2017-Q1".to_owned(), QuarterStatus::Open),
        ]
    );
    let h1 = query::compliance_of_pairing(p.views(), "gulou2016:h1")
        .await
        .unwrap()
        .unwrap();
    let q3 = &h1[2];
    assert_eq!(q3.segments.len(), 2);
    assert_eq!(
        (
            q3.segments[0].days,
            q3.segments[0].cadres.len(),
            q3.segments[1].days
        ),
        (46, 1, 46)
    );
    assert_eq!(h1[0].festival_visits.len(), 1);
    assert_eq!(h1[0].festival_visits[0].festival, "春节");

    // The evaluator publishes the scores with the log size they came from; anyone recomputes them.
    story.on("2017-01-10");
    let cadres: Vec<Value> = a
        .cadres
        .iter()
        .map(|s| json!({"cadre": s.cadre, "points": s.total}))
        .collect();
    let units: Vec<Value> = a
        .units
        .iter()
        .map(|u| json!({"unit": u.unit, "points": u.total}))
        .collect();
    story
        .ok(
            "evaluator",
            "publish_assessment",
            "assessment/gulou2016:2016",
            json!({"program": "gulou2016", "year": 2016, "log_size": size, "formula": FORMULA,
                   "cadres": cadres, "units": units}),
        )
        .await;
    p.catch_up(backend.as_ref(), None, None).await.unwrap();
    let recheck = scores::recheck_published(backend.as_ref(), p.views(), &program, 2016)
        .await
        .unwrap()
        .unwrap();
    assert!(recheck.matches, "{recheck:?}");
    assert_eq!(recheck.recomputed.get(&c("wang")), Some(&9800));

    // The fund: c1 paid d1 in full (FIFO), d2 came out of c2.
    let fund = bangfu_domain::ids::FundId::new("court-pool").unwrap();
    let c1 = query::contribution(p.views(), &fund, "c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c1.remaining, c1.allocations.len()), (0, 1));
    let c2 = query::contribution(p.views(), &fund, "c2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c2.remaining, c2.allocations[0].amount), (170_000, 30_000));
    let rec = query::reconcile(p.views()).await.unwrap();
    assert!(
        rec.iter().all(|r| r.ok) && rec[0].balance == 170_000,
        "{rec:?}"
    );

    // The same as of the published size, from scratch, without touching the live rows.
    let past = projector::as_of(backend.as_ref(), size).await.unwrap();
    let again = scores::assess(&past, &program, 2016).await.unwrap();
    assert_eq!(again, a);
    story.log.close().await;
}
