//! Spot checks (督导抽查: campaign, sample, revisits, close) and year-end assessments (考核), as
//! given-when-then tests on the aggregates and through signed statements.

mod common;

use bangfu_domain::aggregates::assessment::{
    Assessment, AssessmentCommand, AssessmentEvent, AssessmentPublished, CadreScore,
    PublishAssessment, UnitScore,
};
use bangfu_domain::aggregates::spot_check::{
    CampaignClosed, CampaignOpened, CloseCampaign, Finding, FindingResult, Method, OpenCampaign,
    RecordDraw, RecordRevisit, RevisitRecorded, SampleDrawn, SpotCheck, SpotCheckCommand,
    SpotCheckEvent,
};
use bangfu_domain::command::{Command, Ctx};
use bangfu_domain::date::Date;
use bangfu_domain::error::DomainError;
use bangfu_domain::ids::{CadreId, HouseholdId, ProgramId, UnitId};
use bangfu_domain::registry::Registry;
use bangfu_domain::role::Role;
use bangfu_domain::sealed::Sealed;
use bangfu_ledger::seal::Commitment;
use bangfu_ledger::time::Timestamp;
use common::{World, ctx, sealed};
use cqrs_es::test::TestFramework;
use serde_json::{Value, json};

const TODAY: &str = "2016-12-20";
const CHECKPOINT: &str =
    "bangfu.example/gulou\n120\nq0PQ0fKxGz8V3sF0mZ1TnQ6o3lJ7m9W5y2aXbCdEeFg=\n\n— inspector sig\n";

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn hh(s: &str) -> HouseholdId {
    HouseholdId::new(s).unwrap()
}

fn program(s: &str) -> ProgramId {
    ProgramId::new(s).unwrap()
}

fn cadre(s: &str) -> CadreId {
    CadreId::new(s).unwrap()
}

fn unit(s: &str) -> UnitId {
    UnitId::new(s).unwrap()
}

fn district() -> World {
    let mut w = World::district();
    w.today = TODAY.into();
    w
}

fn out_of_range_field(e: &DomainError) -> &'static str {
    match e {
        DomainError::OutOfRange { field, .. } => field,
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

fn not_found(what: &'static str, id: &str) -> DomainError {
    DomainError::NotFound {
        what,
        id: id.into(),
    }
}

// =============================================================================================
// Spot checks

fn spot(w: &World) -> TestFramework<SpotCheck> {
    TestFramework::with(w.registry.clone())
}

fn sc(w: &World, signer: &str, body: SpotCheckCommand) -> Command<SpotCheckCommand> {
    Command {
        ctx: ctx(&w.registry, signer, "gulou2016-check", TODAY, 200),
        body,
    }
}

fn open(year: i64) -> SpotCheckCommand {
    SpotCheckCommand::OpenCampaign(OpenCampaign {
        program: program("gulou2016"),
        year,
    })
}

fn opened() -> SpotCheckEvent {
    SpotCheckEvent::CampaignOpened(CampaignOpened {
        program: program("gulou2016"),
        year: 2016,
    })
}

fn draw(sample: &[&str]) -> SpotCheckCommand {
    SpotCheckCommand::RecordDraw(RecordDraw {
        checkpoint: CHECKPOINT.into(),
        sample: sample.iter().map(|h| hh(h)).collect(),
    })
}

fn drawn(sample: &[&str]) -> SpotCheckEvent {
    SpotCheckEvent::SampleDrawn(SampleDrawn {
        checkpoint: CHECKPOINT.into(),
        sample: sample.iter().map(|h| hh(h)).collect(),
    })
}

fn finding(subject: &str, result: FindingResult) -> Finding {
    Finding {
        subject: subject.into(),
        result,
    }
}

fn notes() -> Sealed {
    Sealed(Commitment::from_json(&sealed("说干部每季度都来，送过米和油")).unwrap())
}

fn revisit(household: &str, findings: Vec<Finding>, satisfaction: Option<u8>) -> RecordRevisit {
    RecordRevisit {
        household: hh(household),
        method: Method::OnSite,
        date: date("2016-12-18"),
        findings,
        satisfaction,
        notes: Some(notes()),
    }
}

fn revisited(r: RecordRevisit) -> SpotCheckEvent {
    SpotCheckEvent::RevisitRecorded(RevisitRecorded {
        household: r.household,
        method: r.method,
        date: r.date,
        findings: r.findings,
        satisfaction: r.satisfaction,
        notes: r.notes,
    })
}

fn closed() -> DomainError {
    DomainError::WrongState {
        command: "spot check".into(),
        state: "the campaign is closed".into(),
    }
}

#[test]
fn open_campaign_for_a_registered_program_and_a_past_or_current_year() {
    let w = district();
    for year in [2016, 2000] {
        spot(&w)
            .given_no_previous_events()
            .when(sc(&w, "inspector", open(year)))
            .then_expect_events(vec![SpotCheckEvent::CampaignOpened(CampaignOpened {
                program: program("gulou2016"),
                year,
            })]);
    }
    spot(&w)
        .given_no_previous_events()
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::OpenCampaign(OpenCampaign {
                program: program("nope2016"),
                year: 2016,
            }),
        ))
        .then_expect_error(not_found("program", "nope2016"));
    for year in [2017, 1999, -2016] {
        let err = spot(&w)
            .given_no_previous_events()
            .when(sc(&w, "inspector", open(year)))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "year", "{year}");
    }
    spot(&w)
        .given(vec![opened()])
        .when(sc(&w, "inspector", open(2016)))
        .then_expect_error(DomainError::AlreadyExists {
            what: "campaign",
            id: "gulou2016-check".into(),
        });
}

#[test]
fn the_current_year_is_the_year_in_beijing() {
    let w = district();
    let mut c = sc(&w, "inspector", open(2017));
    // 2016-12-31 16:30 UTC is 2017-01-01 00:30 in Beijing: 2017 has begun.
    let new_year = Timestamp::parse("2016-12-31T16:30:00.000Z").unwrap();
    c.ctx = Ctx {
        recorded_at: new_year,
        signed_at: new_year,
        ..c.ctx
    };
    spot(&w)
        .given_no_previous_events()
        .when(c.clone())
        .then_expect_events(vec![SpotCheckEvent::CampaignOpened(CampaignOpened {
            program: program("gulou2016"),
            year: 2017,
        })]);
    // Half an hour earlier it was still 2016.
    let eve = Timestamp::parse("2016-12-31T15:30:00.000Z").unwrap();
    c.ctx.recorded_at = eve;
    let err = spot(&w)
        .given_no_previous_events()
        .when(c)
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "year");
}

#[test]
fn nothing_before_the_campaign_is_opened() {
    let w = district();
    for body in [
        draw(&["h1"]),
        SpotCheckCommand::RecordRevisit(revisit("h1", vec![], None)),
        SpotCheckCommand::CloseCampaign(CloseCampaign {}),
    ] {
        spot(&w)
            .given_no_previous_events()
            .when(sc(&w, "inspector", body))
            .then_expect_error(not_found("campaign", "gulou2016-check"));
    }
}

#[test]
fn the_sample_is_drawn_once_from_distinct_households() {
    let w = district();
    spot(&w)
        .given(vec![opened()])
        .when(sc(&w, "inspector", draw(&["h2", "h1"])))
        .then_expect_events(vec![drawn(&["h2", "h1"])]);
    spot(&w)
        .given(vec![opened(), drawn(&["h1"])])
        .when(sc(&w, "inspector", draw(&["h2"])))
        .then_expect_error(DomainError::WrongState {
            command: "record_draw".into(),
            state: "the sample is drawn already".into(),
        });
    for sample in [&["h1", "h2", "h1"][..], &[][..]] {
        let err = spot(&w)
            .given(vec![opened()])
            .when(sc(&w, "inspector", draw(sample)))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "sample", "{sample:?}");
    }
    for checkpoint in [String::new(), "x".repeat(8193)] {
        let err = spot(&w)
            .given(vec![opened()])
            .when(sc(
                &w,
                "inspector",
                SpotCheckCommand::RecordDraw(RecordDraw {
                    checkpoint,
                    sample: vec![hh("h1")],
                }),
            ))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "checkpoint");
    }
}

#[test]
fn a_revisit_is_of_a_sampled_household_with_well_formed_findings() {
    let w = district();
    let good = revisit(
        "h1",
        vec![
            finding("visit/gulou2016:h1/v1", FindingResult::Confirmed),
            finding("disbursement/court-pool/d1", FindingResult::NotConfirmed),
            finding("donation/gulou2016:h1/don-1", FindingResult::Unreachable),
        ],
        Some(4),
    );
    spot(&w)
        .given(vec![opened(), drawn(&["h1", "h3"])])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::RecordRevisit(good.clone()),
        ))
        .then_expect_events(vec![revisited(good)]);
    // No findings, no answer, no notes: still a revisit (the household could not be reached).
    let bare = RecordRevisit {
        method: Method::Phone,
        notes: None,
        ..revisit("h3", vec![], None)
    };
    spot(&w)
        .given(vec![opened(), drawn(&["h1", "h3"])])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::RecordRevisit(bare.clone()),
        ))
        .then_expect_events(vec![revisited(bare)]);

    spot(&w)
        .given(vec![opened()])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::RecordRevisit(revisit("h1", vec![], None)),
        ))
        .then_expect_error(DomainError::WrongState {
            command: "record_revisit".into(),
            state: "no sample is drawn yet".into(),
        });
    // h2 is registered and paired, but not in the sample.
    let err = spot(&w)
        .given(vec![opened(), drawn(&["h1", "h3"])])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::RecordRevisit(revisit("h2", vec![], Some(5))),
        ))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "household");

    for subject in [
        "visit/gulou2016:h1",
        "visit/gulou2016:h1/v1/extra",
        "visit//v1",
        "visit/gulou2016:h1/",
        "payment/court-pool/d1",
        "Visit/gulou2016:h1/v1",
        "visit/gulou 2016/v1",
        "",
    ] {
        let err = spot(&w)
            .given(vec![opened(), drawn(&["h1"])])
            .when(sc(
                &w,
                "inspector",
                SpotCheckCommand::RecordRevisit(revisit(
                    "h1",
                    vec![
                        finding("visit/gulou2016:h1/v1", FindingResult::Confirmed),
                        finding(subject, FindingResult::Confirmed),
                    ],
                    None,
                )),
            ))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "findings", "{subject:?}");
    }
    let err = spot(&w)
        .given(vec![opened(), drawn(&["h1"])])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::RecordRevisit(revisit(
                "h1",
                vec![finding("visit/gulou2016:h1/v1", FindingResult::Confirmed); 201],
                None,
            )),
        ))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "findings");
}

#[test]
fn satisfaction_is_1_to_5() {
    let w = district();
    for s in [1u8, 3, 5] {
        let r = revisit("h1", vec![], Some(s));
        spot(&w)
            .given(vec![opened(), drawn(&["h1"])])
            .when(sc(
                &w,
                "inspector",
                SpotCheckCommand::RecordRevisit(r.clone()),
            ))
            .then_expect_events(vec![revisited(r)]);
    }
    for s in [0u8, 6, 255] {
        let err = spot(&w)
            .given(vec![opened(), drawn(&["h1"])])
            .when(sc(
                &w,
                "inspector",
                SpotCheckCommand::RecordRevisit(revisit("h1", vec![], Some(s))),
            ))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "satisfaction", "{s}");
    }
}

#[test]
fn a_revisit_is_dated_today_or_before() {
    let w = district();
    spot(&w)
        .given(vec![opened(), drawn(&["h1"])])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::RecordRevisit(RecordRevisit {
                date: date("2016-12-21"),
                ..revisit("h1", vec![], None)
            }),
        ))
        .then_expect_error(DomainError::DateInFuture {
            date: date("2016-12-21"),
            today: date(TODAY),
        });
}

#[test]
fn nothing_after_the_campaign_is_closed() {
    let w = district();
    spot(&w)
        .given(vec![opened(), drawn(&["h1"])])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::CloseCampaign(CloseCampaign {}),
        ))
        .then_expect_events(vec![SpotCheckEvent::CampaignClosed(CampaignClosed {})]);
    let closed_events = || {
        vec![
            opened(),
            drawn(&["h1"]),
            SpotCheckEvent::CampaignClosed(CampaignClosed {}),
        ]
    };
    for body in [
        open(2016),
        draw(&["h2"]),
        SpotCheckCommand::RecordRevisit(revisit("h1", vec![], Some(5))),
        SpotCheckCommand::CloseCampaign(CloseCampaign {}),
    ] {
        spot(&w)
            .given(closed_events())
            .when(sc(&w, "inspector", body))
            .then_expect_error(closed());
    }
    // A campaign may be closed before any draw (called off); then nothing more either.
    spot(&w)
        .given(vec![opened()])
        .when(sc(
            &w,
            "inspector",
            SpotCheckCommand::CloseCampaign(CloseCampaign {}),
        ))
        .then_expect_events(vec![SpotCheckEvent::CampaignClosed(CampaignClosed {})]);
}

#[test]
fn a_campaign_through_signed_statements() {
    let mut w = district();
    let target = "spot_check/gulou2016-q4";
    assert_eq!(
        w.submit(
            "wang",
            "open_campaign",
            target,
            json!({"program": "gulou2016", "year": 2016})
        ),
        Err(DomainError::RoleNotAllowed {
            command: "open_campaign".into(),
            roles: vec![Role::Cadre],
        })
    );
    assert_eq!(
        w.submit(
            "inspector",
            "open_campaign",
            target,
            json!({"program": "gulou2017", "year": 2016})
        ),
        Err(not_found("program", "gulou2017"))
    );
    let ev = w.ok(
        "inspector",
        "open_campaign",
        target,
        json!({"program": "gulou2016", "year": 2016}),
    );
    assert_eq!(
        (ev[0].event_type.as_str(), ev[0].sequence),
        ("CampaignOpened", 1)
    );
    assert_eq!(
        w.submit(
            "inspector",
            "record_draw",
            target,
            json!({"checkpoint": CHECKPOINT, "sample": ["h1", "h1"]})
        )
        .map_err(|e| out_of_range_field(&e)),
        Err("sample")
    );
    w.ok(
        "inspector",
        "record_draw",
        target,
        json!({"checkpoint": CHECKPOINT, "sample": ["h1"]}),
    );
    // Notes hold what the household said: sealed, never in clear.
    assert!(matches!(
        w.submit("inspector", "record_revisit", target,
            json!({"household": "h1", "method": "phone", "date": "2016-12-19", "findings": [],
                   "notes": "她说干部从没来过"})),
        Err(DomainError::BadArgs { command, .. }) if command == "record_revisit"
    ));
    // Satisfaction beyond a byte is not read at all.
    assert!(matches!(
        w.submit("inspector", "record_revisit", target,
            json!({"household": "h1", "method": "phone", "date": "2016-12-19", "findings": [],
                   "satisfaction": 256})),
        Err(DomainError::BadArgs { command, .. }) if command == "record_revisit"
    ));
    assert_eq!(
        w.submit(
            "card-h1",
            "record_revisit",
            target,
            json!({"household": "h1", "method": "phone", "date": "2016-12-19", "findings": []})
        ),
        Err(DomainError::RoleNotAllowed {
            command: "record_revisit".into(),
            roles: vec![Role::Household],
        })
    );
    let ev = w.ok(
        "inspector",
        "record_revisit",
        target,
        json!({"household": "h1", "method": "on_site", "date": "2016-12-19",
               "findings": [{"subject": "visit/gulou2016:h1/v1", "result": "not_confirmed"}],
               "satisfaction": 2, "notes": sealed("她说干部只来过一次")}),
    );
    assert_eq!(
        (ev[0].event_type.as_str(), ev[0].sequence),
        ("RevisitRecorded", 3)
    );
    assert_eq!(ev[0].payload["satisfaction"], json!(2));
    assert_eq!(
        ev[0].payload["findings"],
        json!([{"subject": "visit/gulou2016:h1/v1", "result": "not_confirmed"}])
    );
    w.ok("inspector", "close_campaign", target, json!({}));
    assert_eq!(
        w.submit(
            "inspector",
            "record_revisit",
            target,
            json!({"household": "h1", "method": "phone", "date": "2016-12-20", "findings": []})
        ),
        Err(closed())
    );
}

// =============================================================================================
// Assessments

fn assess(w: &World) -> TestFramework<Assessment> {
    TestFramework::with(w.registry.clone())
}

fn ac(
    registry: &Registry,
    target_id: &str,
    index: u64,
    body: PublishAssessment,
) -> Command<AssessmentCommand> {
    Command {
        ctx: ctx(registry, "evaluator", target_id, TODAY, index),
        body: AssessmentCommand::PublishAssessment(body),
    }
}

fn scores(log_size: u64) -> PublishAssessment {
    PublishAssessment {
        program: program("gulou2016"),
        year: 2016,
        log_size,
        formula: "bangfu-assessment/1".into(),
        cadres: vec![
            CadreScore {
                cadre: cadre("wang"),
                points: 9_250,
            },
            CadreScore {
                cadre: cadre("li"),
                points: -300,
            },
        ],
        units: vec![UnitScore {
            unit: unit("court"),
            points: 8_875,
        }],
    }
}

fn published(p: PublishAssessment) -> AssessmentEvent {
    AssessmentEvent::AssessmentPublished(AssessmentPublished {
        program: p.program,
        year: p.year,
        log_size: p.log_size,
        formula: p.formula,
        cadres: p.cadres,
        units: p.units,
    })
}

#[test]
fn an_assessment_is_published_with_the_log_size_it_was_computed_at() {
    let w = district();
    for log_size in [1, 150, 200] {
        assess(&w)
            .given_no_previous_events()
            .when(ac(&w.registry, "gulou2016:2016", 200, scores(log_size)))
            .then_expect_events(vec![published(scores(log_size))]);
    }
    for log_size in [0, 201, u64::MAX] {
        let err = assess(&w)
            .given_no_previous_events()
            .when(ac(&w.registry, "gulou2016:2016", 200, scores(log_size)))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "log_size", "{log_size}");
    }
}

#[test]
fn the_target_names_the_program_and_year() {
    let w = district();
    for target in [
        "gulou2016:2015",
        "gulou2016",
        "gulou2016-2016",
        "other:2016",
    ] {
        assess(&w)
            .given_no_previous_events()
            .when(ac(&w.registry, target, 200, scores(100)))
            .then_expect_error(DomainError::TargetMismatch {
                target: format!("assessment/{target}"),
                expected: "assessment/gulou2016:2016".into(),
            });
    }
    assess(&w)
        .given_no_previous_events()
        .when(ac(
            &w.registry,
            "nope:2016",
            200,
            PublishAssessment {
                program: program("nope"),
                ..scores(100)
            },
        ))
        .then_expect_error(not_found("program", "nope"));
}

#[test]
fn an_assessment_is_published_once() {
    let w = district();
    assess(&w)
        .given(vec![published(scores(100))])
        .when(ac(&w.registry, "gulou2016:2016", 300, scores(250)))
        .then_expect_error(DomainError::AlreadyExists {
            what: "assessment",
            id: "gulou2016:2016".into(),
        });
}

#[test]
fn scores_are_for_registered_cadres_one_each() {
    let w = district();
    let mut p = scores(100);
    p.cadres.push(CadreScore {
        cadre: cadre("ghost"),
        points: 10_000,
    });
    assess(&w)
        .given_no_previous_events()
        .when(ac(&w.registry, "gulou2016:2016", 200, p))
        .then_expect_error(not_found("cadre", "ghost"));

    let mut p = scores(100);
    p.cadres.push(CadreScore {
        cadre: cadre("wang"),
        points: 10_000,
    });
    let err = assess(&w)
        .given_no_previous_events()
        .when(ac(&w.registry, "gulou2016:2016", 200, p))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "cadres / units");

    let mut p = scores(100);
    p.units.push(UnitScore {
        unit: unit("court"),
        points: 0,
    });
    let err = assess(&w)
        .given_no_previous_events()
        .when(ac(&w.registry, "gulou2016:2016", 200, p))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "cadres / units");

    for formula in [String::new(), "f".repeat(65)] {
        let err = assess(&w)
            .given_no_previous_events()
            .when(ac(
                &w.registry,
                "gulou2016:2016",
                200,
                PublishAssessment {
                    formula,
                    ..scores(100)
                },
            ))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), "formula");
    }
}

/// A unit score is about a unit's leadership: like a cadre score, it must name a registered unit.
#[test]
fn scores_are_for_registered_units() {
    let w = district();
    let mut p = scores(100);
    p.units.push(UnitScore {
        unit: unit("nowhere"),
        points: 5_000,
    });
    assess(&w)
        .given_no_previous_events()
        .when(ac(&w.registry, "gulou2016:2016", 200, p))
        .then_expect_error(not_found("unit", "nowhere"));
}

#[test]
fn an_assessment_through_signed_statements() {
    let mut w = district();
    let args = |log_size: u64| -> Value {
        json!({"program": "gulou2016", "year": 2016, "log_size": log_size,
               "formula": "bangfu-assessment/1",
               "cadres": [{"cadre": "wang", "points": 9_250}, {"cadre": "chen", "points": 7_000}],
               "units": [{"unit": "court", "points": 8_875}]})
    };
    // The statement becomes entry `w.index`: the scores can come from at most that many entries.
    let size = w.index;
    assert_eq!(
        w.submit(
            "coord",
            "publish_assessment",
            "assessment/gulou2016:2016",
            args(size)
        ),
        Err(DomainError::RoleNotAllowed {
            command: "publish_assessment".into(),
            roles: vec![Role::Coordinator],
        })
    );
    let err = w
        .submit(
            "evaluator",
            "publish_assessment",
            "assessment/gulou2016:2016",
            args(size + 1),
        )
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "log_size");
    assert_eq!(
        w.submit(
            "evaluator",
            "publish_assessment",
            "assessment/gulou2016:2017",
            args(size)
        ),
        Err(DomainError::TargetMismatch {
            target: "assessment/gulou2016:2017".into(),
            expected: "assessment/gulou2016:2016".into(),
        })
    );
    assert_eq!(
        w.submit(
            "evaluator",
            "publish_assessment",
            "pairing/gulou2016:h1",
            args(size)
        ),
        Err(DomainError::WrongTarget {
            command: "publish_assessment".into(),
            expected: "assessment",
        })
    );
    let ev = w.ok(
        "evaluator",
        "publish_assessment",
        "assessment/gulou2016:2016",
        args(size),
    );
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (
            ev[0].aggregate_type.as_str(),
            ev[0].aggregate_id.as_str(),
            ev[0].sequence,
            ev[0].event_type.as_str()
        ),
        ("assessment", "gulou2016:2016", 1, "AssessmentPublished")
    );
    assert_eq!(
        Value::Object(ev[0].payload.clone()),
        args(size),
        "the event carries exactly the published scores"
    );
    assert_eq!(
        w.submit(
            "evaluator",
            "publish_assessment",
            "assessment/gulou2016:2016",
            args(size)
        ),
        Err(DomainError::AlreadyExists {
            what: "assessment",
            id: "gulou2016:2016".into(),
        })
    );
}
