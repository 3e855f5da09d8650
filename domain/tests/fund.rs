//! Funds: creation, contributions in, disbursements out, acknowledgements and compensating
//! reversals. Given-when-then tests on the aggregate (cqrs-es `TestFramework`, with the registry of
//! a real district log as its service) and end-to-end tests through signed statements (`World`).

mod common;

use bangfu_domain::aggregates::fund::{
    AcknowledgeDisbursement, ContributionRecorded, CreateFund, Disburse, Disbursed,
    DisbursementAcknowledged, DisbursementReversed, Fund, FundCommand, FundCreated, FundEvent,
    FundKind, RecordContribution, ReverseDisbursement, Source,
};
use bangfu_domain::command::Command;
use bangfu_domain::date::Date;
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::error::DomainError;
use bangfu_domain::event::from_ledger;
use bangfu_domain::help::{Help, Item, Purpose};
use bangfu_domain::ids::{CadreId, ContributionId, DisbursementId, FundId, HouseholdId, UnitId};
use bangfu_domain::money::{Fen, MAX_FEN};
use bangfu_domain::role::Role;
use bangfu_ledger::entry::Event;
use bangfu_ledger::jcs::{JcsError, JcsErrorKind};
use bangfu_ledger::signature::Signature;
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementError, StatementId, Target};
use common::{World, at, ctx, holder, key, pk};
use cqrs_es::Aggregate;
use cqrs_es::test::TestFramework;
use serde_json::{Value, json};

/// "Today" for the given-when-then tests and the World tests.
const TODAY: &str = "2016-02-01";

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn fen(n: i64) -> Fen {
    Fen::new(n).unwrap()
}

fn hh(s: &str) -> HouseholdId {
    HouseholdId::new(s).unwrap()
}

fn cadre(s: &str) -> CadreId {
    CadreId::new(s).unwrap()
}

fn unit(s: &str) -> UnitId {
    UnitId::new(s).unwrap()
}

fn did(s: &str) -> DisbursementId {
    DisbursementId::new(s).unwrap()
}

fn cid(s: &str) -> ContributionId {
    ContributionId::new(s).unwrap()
}

fn cash(n: i64) -> Help {
    Help::Cash { amount: fen(n) }
}

/// The district with a second fund-manager key (someone else's) and today = [`TODAY`].
fn district() -> World {
    let mut w = World::district();
    w.register_key("fm2", "person/treasurer", &["fund_manager"]);
    w.today = TODAY.into();
    w
}

fn framework(w: &World) -> TestFramework<Fund> {
    TestFramework::with(w.registry.clone())
}

/// A command on `fund/court-pool` signed by `signer` today.
fn cmd(w: &World, signer: &str, body: FundCommand) -> Command<FundCommand> {
    Command {
        ctx: ctx(&w.registry, signer, "court-pool", TODAY, 100),
        body,
    }
}

/// The court pool as `World::district()` creates it.
fn created() -> FundEvent {
    FundEvent::FundCreated(FundCreated {
        id: FundId::new("court-pool").unwrap(),
        name: "区法院帮扶资金".into(),
        kind: FundKind::UnitPool,
        unit: unit("court"),
        manager: holder("cadre/chen"),
    })
}

fn contributed(id: &str, amount: i64) -> FundEvent {
    FundEvent::ContributionRecorded(ContributionRecorded {
        contribution_id: cid(id),
        source: Source::Society {
            donor: "鼓楼商会".into(),
        },
        amount: fen(amount),
        date: date("2016-01-20"),
    })
}

fn disbursed(id: &str, household: &str, amount: i64) -> FundEvent {
    FundEvent::Disbursed(Disbursed {
        disbursement_id: did(id),
        household: hh(household),
        through: cadre("wang"),
        help: cash(amount),
        value: fen(amount),
        purpose: Purpose::Living,
        date: date("2016-01-25"),
    })
}

fn reversed(id: &str, amount: i64) -> FundEvent {
    FundEvent::DisbursementReversed(DisbursementReversed {
        disbursement_id: did(id),
        value: fen(amount),
        reason: "重复拨付".into(),
    })
}

fn contribute(id: &str, source: Source, amount: i64) -> FundCommand {
    FundCommand::RecordContribution(RecordContribution {
        contribution_id: cid(id),
        source,
        amount: fen(amount),
        date: date("2016-01-30"),
    })
}

fn society() -> Source {
    Source::Society {
        donor: "鼓楼商会".into(),
    }
}

fn disburse(id: &str, household: &str, through: &str, help: Help) -> FundCommand {
    FundCommand::Disburse(Disburse {
        disbursement_id: did(id),
        household: hh(household),
        through: cadre(through),
        help,
        purpose: Purpose::Festival,
        date: date("2016-01-31"),
    })
}

fn acknowledge(id: &str) -> FundCommand {
    FundCommand::AcknowledgeDisbursement(AcknowledgeDisbursement {
        disbursement_id: did(id),
    })
}

fn reverse(id: &str) -> FundCommand {
    FundCommand::ReverseDisbursement(ReverseDisbursement {
        disbursement_id: did(id),
        reason: "重复拨付".into(),
    })
}

fn not_yours(command: &str) -> DomainError {
    DomainError::NotYours {
        what: format!("{command} is signed by the fund's own manager"),
    }
}

fn not_found(what: &'static str, id: &str) -> DomainError {
    DomainError::NotFound {
        what,
        id: id.into(),
    }
}

fn out_of_range_field(e: &DomainError) -> &'static str {
    match e {
        DomainError::OutOfRange { field, .. } => field,
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

/// The fund's state after `World::district()` and the given entries' events.
fn fund_after(entries: &[&[Event]]) -> Fund {
    let mut f = Fund::default();
    f.apply(created());
    for e in entries.iter().copied().flatten() {
        assert_eq!(e.aggregate_type, "fund");
        f.apply(from_ledger::<FundEvent>(e, &[]).unwrap());
    }
    f
}

/// The court pool's balance as the log sees it: a disbursement of every fen the format can carry
/// is refused with the balance (and changes nothing).
fn balance(w: &mut World) -> i64 {
    match w.submit(
        "fm",
        "disburse",
        "fund/court-pool",
        json!({"disbursement_id": "probe", "household": "h1", "through": "wang",
               "help": {"form": "cash", "amount": MAX_FEN}, "purpose": "living", "date": TODAY}),
    ) {
        Err(DomainError::Overdraft {
            fund,
            balance,
            requested,
        }) => {
            assert_eq!((fund.as_str(), requested), ("court-pool", MAX_FEN));
            balance
        }
        other => panic!("the probe should overdraw: {other:?}"),
    }
}

fn contribution_args(id: &str, amount: Value) -> Value {
    json!({"contribution_id": id, "source": {"kind": "society", "donor": "鼓楼商会"},
           "amount": amount, "date": "2016-01-30"})
}

fn cash_args(id: &str, household: &str, through: &str, amount: Value) -> Value {
    json!({"disbursement_id": id, "household": household, "through": through,
           "help": {"form": "cash", "amount": amount}, "purpose": "festival", "date": "2016-01-31"})
}

// ---------------------------------------------------------------------------------------------
// create_fund

#[test]
fn create_fund_records_name_kind_unit_and_manager() {
    let w = district();
    framework(&w)
        .given_no_previous_events()
        .when(Command {
            ctx: ctx(&w.registry, "coord", "guo-fund", TODAY, 100),
            body: FundCommand::CreateFund(CreateFund {
                name: "郭明义基金".into(),
                kind: FundKind::Named,
                unit: unit("gulou"),
                manager: holder("person/treasurer"),
            }),
        })
        .then_expect_events(vec![FundEvent::FundCreated(FundCreated {
            id: FundId::new("guo-fund").unwrap(),
            name: "郭明义基金".into(),
            kind: FundKind::Named,
            unit: unit("gulou"),
            manager: holder("person/treasurer"),
        })]);
}

#[test]
fn create_fund_refuses_an_unknown_unit() {
    let w = district();
    framework(&w)
        .given_no_previous_events()
        .when(Command {
            ctx: ctx(&w.registry, "coord", "guo-fund", TODAY, 100),
            body: FundCommand::CreateFund(CreateFund {
                name: "郭明义基金".into(),
                kind: FundKind::Named,
                unit: unit("nowhere"),
                manager: holder("person/treasurer"),
            }),
        })
        .then_expect_error(not_found("unit", "nowhere"));
}

#[test]
fn create_fund_refuses_a_household_as_manager() {
    let w = district();
    let err = framework(&w)
        .given_no_previous_events()
        .when(Command {
            ctx: ctx(&w.registry, "coord", "guo-fund", TODAY, 100),
            body: FundCommand::CreateFund(CreateFund {
                name: "郭明义基金".into(),
                kind: FundKind::Named,
                unit: unit("gulou"),
                manager: holder("household/h1"),
            }),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "manager");

    // The same through a signed statement: nothing is created.
    let mut w = district();
    let err = w
        .submit(
            "coord",
            "create_fund",
            "fund/h1-fund",
            json!({"name": "某户基金", "kind": "named", "unit": "gulou", "manager": "household/h1"}),
        )
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "manager");
    assert!(!w.aggregates.contains_key("fund/h1-fund"));
}

#[test]
fn create_fund_refuses_an_empty_name_and_a_second_creation() {
    let w = district();
    let err = framework(&w)
        .given_no_previous_events()
        .when(Command {
            ctx: ctx(&w.registry, "coord", "guo-fund", TODAY, 100),
            body: FundCommand::CreateFund(CreateFund {
                name: String::new(),
                kind: FundKind::Named,
                unit: unit("gulou"),
                manager: holder("person/treasurer"),
            }),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "name");

    let mut w = district();
    assert_eq!(
        w.submit(
            "coord",
            "create_fund",
            "fund/court-pool",
            json!({"name": "再建一次", "kind": "unit_pool", "unit": "court", "manager": "cadre/chen"}),
        ),
        Err(DomainError::AlreadyExists {
            what: "fund",
            id: "court-pool".into()
        })
    );
}

#[test]
fn only_a_coordinator_creates_a_fund() {
    let mut w = district();
    assert_eq!(
        w.submit(
            "fm",
            "create_fund",
            "fund/my-own",
            json!({"name": "自建基金", "kind": "named", "unit": "court", "manager": "cadre/chen"}),
        ),
        Err(DomainError::RoleNotAllowed {
            command: "create_fund".into(),
            roles: vec![Role::FundManager],
        })
    );
}

#[test]
fn nothing_happens_to_a_fund_that_was_never_created() {
    let w = district();
    framework(&w)
        .given_no_previous_events()
        .when(cmd(&w, "fm", contribute("c1", society(), 100)))
        .then_expect_error(not_found("fund", "court-pool"));
    framework(&w)
        .given_no_previous_events()
        .when(cmd(&w, "fm", disburse("d1", "h1", "wang", cash(100))))
        .then_expect_error(not_found("fund", "court-pool"));
}

// ---------------------------------------------------------------------------------------------
// record_contribution

#[test]
fn contributions_from_salary_unit_and_society_are_recorded() {
    let w = district();
    for source in [
        Source::Salary {
            cadre: cadre("wang"),
        },
        Source::Unit {
            unit: unit("court"),
        },
        society(),
    ] {
        framework(&w)
            .given(vec![created()])
            .when(cmd(&w, "fm", contribute("c1", source.clone(), 270_000)))
            .then_expect_events(vec![FundEvent::ContributionRecorded(
                ContributionRecorded {
                    contribution_id: cid("c1"),
                    source,
                    amount: fen(270_000),
                    date: date("2016-01-30"),
                },
            )]);
    }
}

#[test]
fn only_the_funds_own_manager_records_a_contribution() {
    let w = district();
    // fm2 holds the fund_manager role too, but manages no fund of the court.
    framework(&w)
        .given(vec![created()])
        .when(cmd(&w, "fm2", contribute("c1", society(), 100)))
        .then_expect_error(not_yours("record_contribution"));

    let mut w = district();
    assert_eq!(
        w.submit(
            "fm2",
            "record_contribution",
            "fund/court-pool",
            contribution_args("c1", json!(100))
        ),
        Err(not_yours("record_contribution"))
    );
    // chen's cadre key is chen's, but a cadre key may not move fund money.
    assert_eq!(
        w.submit(
            "chen",
            "record_contribution",
            "fund/court-pool",
            contribution_args("c1", json!(100))
        ),
        Err(DomainError::RoleNotAllowed {
            command: "record_contribution".into(),
            roles: vec![Role::Cadre],
        })
    );
    assert_eq!(
        w.submit(
            "coord",
            "record_contribution",
            "fund/court-pool",
            contribution_args("c1", json!(100))
        ),
        Err(DomainError::RoleNotAllowed {
            command: "record_contribution".into(),
            roles: vec![Role::Coordinator],
        })
    );
    assert_eq!(balance(&mut w), 0);
    let ev = w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(100)),
    );
    assert_eq!(
        (ev[0].event_type.as_str(), ev[0].sequence),
        ("ContributionRecorded", 2)
    );
    assert_eq!(balance(&mut w), 100);
}

#[test]
fn a_fund_managed_by_someone_else_refuses_chens_fund_manager_key() {
    let mut w = district();
    w.ok(
        "coord",
        "create_fund",
        "fund/guo-fund",
        json!({"name": "郭明义基金", "kind": "named", "unit": "gulou", "manager": "person/treasurer"}),
    );
    assert_eq!(
        w.submit(
            "fm",
            "record_contribution",
            "fund/guo-fund",
            contribution_args("c1", json!(100))
        ),
        Err(not_yours("record_contribution"))
    );
    w.ok(
        "fm2",
        "record_contribution",
        "fund/guo-fund",
        contribution_args("c1", json!(100)),
    );
}

#[test]
fn a_contribution_from_an_unknown_cadre_or_unit_or_unnamed_donor_is_refused() {
    let w = district();
    framework(&w)
        .given(vec![created()])
        .when(cmd(
            &w,
            "fm",
            contribute(
                "c1",
                Source::Salary {
                    cadre: cadre("ghost"),
                },
                100,
            ),
        ))
        .then_expect_error(not_found("cadre", "ghost"));
    framework(&w)
        .given(vec![created()])
        .when(cmd(
            &w,
            "fm",
            contribute(
                "c1",
                Source::Unit {
                    unit: unit("nowhere"),
                },
                100,
            ),
        ))
        .then_expect_error(not_found("unit", "nowhere"));
    let err = framework(&w)
        .given(vec![created()])
        .when(cmd(
            &w,
            "fm",
            contribute(
                "c1",
                Source::Society {
                    donor: String::new(),
                },
                100,
            ),
        ))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "source.donor");

    // Through statements: a household is not a unit, and an unknown kind of source is not read.
    let mut w = district();
    assert_eq!(
        w.submit(
            "fm",
            "record_contribution",
            "fund/court-pool",
            json!({"contribution_id": "c1", "source": {"kind": "salary", "cadre": "h1"},
                   "amount": 100, "date": "2016-01-30"}),
        ),
        Err(not_found("cadre", "h1"))
    );
    assert!(matches!(
        w.submit(
            "fm",
            "record_contribution",
            "fund/court-pool",
            json!({"contribution_id": "c1", "source": {"kind": "bank", "name": "农商行"},
                   "amount": 100, "date": "2016-01-30"}),
        ),
        Err(DomainError::BadArgs { command, .. }) if command == "record_contribution"
    ));
    assert_eq!(balance(&mut w), 0);
}

#[test]
fn a_contribution_id_is_used_once_and_a_date_may_not_be_in_the_future() {
    let w = district();
    framework(&w)
        .given(vec![created(), contributed("c1", 100)])
        .when(cmd(&w, "fm", contribute("c1", society(), 100)))
        .then_expect_error(DomainError::AlreadyExists {
            what: "contribution",
            id: "c1".into(),
        });
    framework(&w)
        .given(vec![created()])
        .when(cmd(
            &w,
            "fm",
            FundCommand::RecordContribution(RecordContribution {
                contribution_id: cid("c1"),
                source: society(),
                amount: fen(100),
                date: date("2016-02-02"),
            }),
        ))
        .then_expect_error(DomainError::DateInFuture {
            date: date("2016-02-02"),
            today: date(TODAY),
        });
}

#[test]
fn the_balance_is_capped_at_2_pow_53_minus_1_fen() {
    let w = district();
    // Up to the cap exactly: accepted.
    framework(&w)
        .given(vec![created(), contributed("c1", MAX_FEN - 1)])
        .when(cmd(&w, "fm", contribute("c2", society(), 1)))
        .then_expect_events(vec![FundEvent::ContributionRecorded(
            ContributionRecorded {
                contribution_id: cid("c2"),
                source: society(),
                amount: fen(1),
                date: date("2016-01-30"),
            },
        )]);
    // One fen beyond: refused.
    let err = framework(&w)
        .given(vec![created(), contributed("c1", MAX_FEN - 1)])
        .when(cmd(&w, "fm", contribute("c2", society(), 2)))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "amount");
    let err = framework(&w)
        .given(vec![created(), contributed("c1", MAX_FEN)])
        .when(cmd(&w, "fm", contribute("c2", society(), MAX_FEN)))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "amount");
    // Money paid out makes room again.
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", MAX_FEN),
            disbursed("d1", "h1", 5),
        ])
        .when(cmd(&w, "fm", contribute("c2", society(), 5)))
        .then_expect_events(vec![FundEvent::ContributionRecorded(
            ContributionRecorded {
                contribution_id: cid("c2"),
                source: society(),
                amount: fen(5),
                date: date("2016-01-30"),
            },
        )]);

    // Through statements: the largest amount fills the fund; one more fen is refused.
    let mut w = district();
    let c1 = w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(MAX_FEN)),
    );
    assert_eq!(fund_after(&[&c1]).balance, MAX_FEN);
    let err = w
        .submit(
            "fm",
            "record_contribution",
            "fund/court-pool",
            contribution_args("c2", json!(1)),
        )
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "amount");
    // The refusal changed nothing: the whole of it, and not a fen more, can be paid out.
    let d1 = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h1", "wang", json!(MAX_FEN)),
    );
    assert_eq!(balance(&mut w), 0);
    assert_eq!(fund_after(&[&c1, &d1]).balance, 0);
}

// ---------------------------------------------------------------------------------------------
// Amounts: integers of fen, 1 ..= 2^53 − 1

/// Pushes a statement through authorization and the domain without signing it: the ledger would
/// not let anyone sign these arguments (they are not JCS input), and the domain never looks at
/// signatures (the verifier does), so this shows the domain's own refusal.
fn submit_unsignable(
    w: &World,
    signer: &str,
    command: &str,
    target: &str,
    args: Value,
) -> (StatementError, Result<Vec<Event>, DomainError>) {
    let body = Body {
        id: StatementId::from_random_bytes([0xee; 16]),
        command: CommandName::parse(command).unwrap(),
        target: Target::parse(target).unwrap(),
        args: args.as_object().cloned().unwrap(),
        signed_at: at(&w.today),
        key: pk(signer),
    };
    let signing = Statement::sign(body.clone(), &key(signer)).unwrap_err();
    let statement = Statement {
        body,
        sig: Signature::from_bytes(&[0u8; 64]),
    };
    let decided = authorize(&statement, w.index, at(&w.today), &w.registry).and_then(|ctx| {
        let mut aggregate = match w.aggregates.get(target) {
            Some(a) => a.clone(),
            None => AnyAggregate::new(statement.body.target.aggregate_type())?,
        };
        aggregate.handle(ctx, &statement, &w.registry)
    });
    (signing, decided)
}

fn bad_args_reason(r: Result<Vec<Event>, DomainError>, command: &str) -> String {
    match r {
        Err(DomainError::BadArgs { command: c, reason }) => {
            assert_eq!(c, command);
            reason
        }
        other => panic!("expected BadArgs for {command}, got {other:?}"),
    }
}

#[test]
fn zero_and_negative_amounts_are_refused_as_bad_arguments() {
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c0", json!(10_000)),
    );
    for (amount, got) in [(json!(0), "(got 0)"), (json!(-1), "(got -1)")] {
        let reason = bad_args_reason(
            w.submit(
                "fm",
                "record_contribution",
                "fund/court-pool",
                contribution_args("c1", amount.clone()),
            ),
            "record_contribution",
        );
        assert!(
            reason.contains("an amount must be more than zero fen") && reason.contains(got),
            "{reason}"
        );
        let reason = bad_args_reason(
            w.submit(
                "fm",
                "disburse",
                "fund/court-pool",
                cash_args("d1", "h1", "wang", amount.clone()),
            ),
            "disburse",
        );
        assert!(reason.contains(got), "{reason}");
        // A good with no value is not a good.
        let reason = bad_args_reason(
            w.submit(
                "fm",
                "disburse",
                "fund/court-pool",
                json!({"disbursement_id": "d1", "household": "h1", "through": "wang",
                       "help": {"form": "in_kind", "items": [{"name": "大米", "quantity": 1, "unit_value": amount}]},
                       "purpose": "living", "date": "2016-01-31"}),
            ),
            "disburse",
        );
        assert!(reason.contains(got), "{reason}");
    }
    assert_eq!(balance(&mut w), 10_000);
}

#[test]
fn amounts_beyond_2_pow_53_and_fractions_cannot_be_signed_and_the_domain_refuses_them_too() {
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c0", json!(10_000)),
    );
    let cases = [
        (
            json!(9_007_199_254_740_992_i64),
            JcsErrorKind::IntegerOutOfRange,
        ),
        (
            json!(-9_007_199_254_740_992_i64),
            JcsErrorKind::IntegerOutOfRange,
        ),
        (json!(100.5), JcsErrorKind::Float),
    ];
    for (amount, kind) in cases {
        for (command, args) in [
            (
                "record_contribution",
                contribution_args("c1", amount.clone()),
            ),
            ("disburse", cash_args("d1", "h1", "wang", amount.clone())),
        ] {
            let (signing, decided) = submit_unsignable(&w, "fm", command, "fund/court-pool", args);
            assert_eq!(
                signing,
                StatementError::Json(JcsError {
                    kind: kind.clone(),
                    offset: 0
                }),
                "{command} {amount}"
            );
            let reason = bad_args_reason(decided, command);
            if amount.is_f64() {
                assert!(reason.contains("floating point"), "{reason}");
            } else if amount.as_i64().unwrap() > 0 {
                assert!(
                    reason.contains("an amount must be at most 9007199254740991 fen"),
                    "{reason}"
                );
            } else {
                assert!(reason.contains("more than zero"), "{reason}");
            }
        }
    }
    assert_eq!(balance(&mut w), 10_000);
}

// ---------------------------------------------------------------------------------------------
// disburse

#[test]
fn a_cash_disbursement_records_its_value() {
    let w = district();
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm", disburse("d1", "h1", "wang", cash(20_000))))
        .then_expect_events(vec![FundEvent::Disbursed(Disbursed {
            disbursement_id: did("d1"),
            household: hh("h1"),
            through: cadre("wang"),
            help: cash(20_000),
            value: fen(20_000),
            purpose: Purpose::Festival,
            date: date("2016-01-31"),
        })]);
}

#[test]
fn an_overdraft_is_refused_with_the_balance_and_the_amount_requested() {
    let w = district();
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm", disburse("d1", "h1", "wang", cash(50_001))))
        .then_expect_error(DomainError::Overdraft {
            fund: "court-pool".into(),
            balance: 50_000,
            requested: 50_001,
        });
    // Earlier disbursements count; reversed ones do not.
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
        ])
        .when(cmd(&w, "fm", disburse("d2", "h2", "wang", cash(20_001))))
        .then_expect_error(DomainError::Overdraft {
            fund: "court-pool".into(),
            balance: 20_000,
            requested: 20_001,
        });
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
            reversed("d1", 30_000),
        ])
        .when(cmd(&w, "fm", disburse("d2", "h2", "wang", cash(50_000))))
        .then_expect_events(vec![FundEvent::Disbursed(Disbursed {
            disbursement_id: did("d2"),
            household: hh("h2"),
            through: cadre("wang"),
            help: cash(50_000),
            value: fen(50_000),
            purpose: Purpose::Festival,
            date: date("2016-01-31"),
        })]);
    // An empty fund pays nothing.
    framework(&w)
        .given(vec![created()])
        .when(cmd(&w, "fm", disburse("d1", "h1", "wang", cash(1))))
        .then_expect_error(DomainError::Overdraft {
            fund: "court-pool".into(),
            balance: 0,
            requested: 1,
        });
}

#[test]
fn the_balance_is_exact_after_every_movement_and_an_overdraft_changes_nothing() {
    let mut w = district();
    let c1 = w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        json!({"contribution_id": "c1", "source": {"kind": "salary", "cadre": "wang"},
               "amount": 100_000, "date": "2016-01-30"}),
    );
    let c2 = w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        json!({"contribution_id": "c2", "source": {"kind": "unit", "unit": "court"},
               "amount": 2_700_000, "date": "2016-01-30"}),
    );
    let d1 = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h1", "wang", json!(150_050)),
    );
    assert_eq!(balance(&mut w), 2_649_950);
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d2", "h2", "li", json!(2_649_951))
        ),
        Err(DomainError::Overdraft {
            fund: "court-pool".into(),
            balance: 2_649_950,
            requested: 2_649_951,
        })
    );
    // Exactly the balance may go out, leaving zero.
    let d2 = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d2", "h2", "li", json!(2_649_950)),
    );
    assert_eq!(
        (d2[0].event_type.as_str(), d2[0].sequence),
        ("Disbursed", 5)
    );
    assert_eq!(d2[0].payload["value"], json!(2_649_950));
    assert_eq!(balance(&mut w), 0);
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d3", "h3", "li", json!(1))
        ),
        Err(DomainError::Overdraft {
            fund: "court-pool".into(),
            balance: 0,
            requested: 1,
        })
    );
    let f = fund_after(&[&c1, &c2, &d1, &d2]);
    assert_eq!(f.balance, 0);
    assert_eq!(f.contributions.len(), 2);
    assert_eq!(f.disbursements.len(), 2);
    assert_eq!(f.disbursements[&did("d1")].value, fen(150_050));
}

#[test]
fn a_disbursement_to_an_unregistered_household_is_refused() {
    let w = district();
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm", disburse("d1", "h9", "wang", cash(100))))
        .then_expect_error(not_found("household", "h9"));

    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "ghost-family", "wang", json!(100))
        ),
        Err(not_found("household", "ghost-family"))
    );
    // A cadre's id is not a household.
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "wang", "wang", json!(100))
        ),
        Err(not_found("household", "wang"))
    );
    assert_eq!(balance(&mut w), 50_000);
}

#[test]
fn a_household_that_exited_hardship_receives_nothing_until_it_returns() {
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    w.ok(
        "coord",
        "exit_hardship",
        "household/h2",
        json!({"date": "2016-01-20", "reason": "女儿就业，收入稳定"}),
    );
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h2", "wang", json!(100))
        ),
        Err(DomainError::HouseholdExited {
            household: "h2".into()
        })
    );
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm", disburse("d1", "h2", "wang", cash(100))))
        .then_expect_error(DomainError::HouseholdExited {
            household: "h2".into(),
        });
    assert_eq!(balance(&mut w), 50_000);
    w.ok(
        "coord",
        "return_to_hardship",
        "household/h2",
        json!({"date": "2016-01-28", "reason": "再次患病"}),
    );
    w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h2", "wang", json!(100)),
    );
    assert_eq!(balance(&mut w), 49_900);
}

#[test]
fn a_disbursement_through_an_inactive_or_unknown_cadre_is_refused() {
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    w.ok(
        "coord",
        "retire_cadre",
        "cadre/zhao",
        json!({"date": "2016-01-15"}),
    );
    w.ok(
        "coord",
        "transfer_cadre",
        "cadre/li",
        json!({"date": "2016-01-15"}),
    );
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h1", "zhao", json!(100))
        ),
        Err(DomainError::CadreInactive {
            cadre: "zhao".into(),
            status: "retired"
        })
    );
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h1", "li", json!(100))
        ),
        Err(DomainError::CadreInactive {
            cadre: "li".into(),
            status: "transferred away"
        })
    );
    assert_eq!(
        w.submit(
            "fm",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h1", "ghost", json!(100))
        ),
        Err(not_found("cadre", "ghost"))
    );
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm", disburse("d1", "h1", "zhao", cash(100))))
        .then_expect_error(DomainError::CadreInactive {
            cadre: "zhao".into(),
            status: "retired",
        });
    assert_eq!(balance(&mut w), 50_000);
    w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h1", "wang", json!(100)),
    );
}

#[test]
fn only_the_funds_manager_disburses_once_per_id_and_not_in_the_future() {
    let w = district();
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm2", disburse("d1", "h1", "wang", cash(100))))
        .then_expect_error(not_yours("disburse"));
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 100),
        ])
        .when(cmd(&w, "fm", disburse("d1", "h2", "wang", cash(100))))
        .then_expect_error(DomainError::AlreadyExists {
            what: "disbursement",
            id: "d1".into(),
        });
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(
            &w,
            "fm",
            FundCommand::Disburse(Disburse {
                disbursement_id: did("d1"),
                household: hh("h1"),
                through: cadre("wang"),
                help: cash(100),
                purpose: Purpose::Medical,
                date: date("2016-02-02"),
            }),
        ))
        .then_expect_error(DomainError::DateInFuture {
            date: date("2016-02-02"),
            today: date(TODAY),
        });

    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    assert_eq!(
        w.submit(
            "fm2",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h1", "wang", json!(100))
        ),
        Err(not_yours("disburse"))
    );
    assert_eq!(
        w.submit(
            "wang",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h1", "wang", json!(100))
        ),
        Err(DomainError::RoleNotAllowed {
            command: "disburse".into(),
            roles: vec![Role::Cadre],
        })
    );
    assert_eq!(
        w.submit(
            "card-h1",
            "disburse",
            "fund/court-pool",
            cash_args("d1", "h1", "wang", json!(100))
        ),
        Err(DomainError::RoleNotAllowed {
            command: "disburse".into(),
            roles: vec![Role::Household],
        })
    );
    assert_eq!(balance(&mut w), 50_000);
}

#[test]
fn goods_are_valued_at_the_sum_of_quantity_times_unit_value() {
    let w = district();
    let goods = Help::InKind {
        items: vec![
            Item {
                name: "大米 (10 kg)".into(),
                quantity: 2,
                unit_value: fen(5_000),
            },
            Item {
                name: "食用油".into(),
                quantity: 3,
                unit_value: fen(2_550),
            },
            Item {
                name: "棉衣".into(),
                quantity: 1,
                unit_value: fen(12_001),
            },
        ],
    };
    // 2 × 50.00 + 3 × 25.50 + 1 × 120.01 = 296.51 yuan
    framework(&w)
        .given(vec![created(), contributed("c1", 29_651)])
        .when(cmd(&w, "fm", disburse("d1", "h3", "zhao", goods.clone())))
        .then_expect_events(vec![FundEvent::Disbursed(Disbursed {
            disbursement_id: did("d1"),
            household: hh("h3"),
            through: cadre("zhao"),
            help: goods.clone(),
            value: fen(29_651),
            purpose: Purpose::Festival,
            date: date("2016-01-31"),
        })]);
    // The total, not any one item, is what must be covered.
    framework(&w)
        .given(vec![created(), contributed("c1", 29_650)])
        .when(cmd(&w, "fm", disburse("d1", "h3", "zhao", goods)))
        .then_expect_error(DomainError::Overdraft {
            fund: "court-pool".into(),
            balance: 29_650,
            requested: 29_651,
        });

    // Through a statement, and the balance afterwards.
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(100_000)),
    );
    let ev = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        json!({"disbursement_id": "d1", "household": "h3", "through": "zhao",
               "help": {"form": "in_kind", "items": [
                   {"name": "大米 (10 kg)", "quantity": 2, "unit_value": 5_000},
                   {"name": "食用油", "quantity": 3, "unit_value": 2_550}]},
               "purpose": "festival", "date": "2016-01-31"}),
    );
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].payload["value"], json!(17_650));
    assert_eq!(balance(&mut w), 82_350);
}

#[test]
fn goods_lists_are_bounded() {
    let w = district();
    let item = |quantity: u32, unit_value: i64| Item {
        name: "大米".into(),
        quantity,
        unit_value: fen(unit_value),
    };
    let cases: Vec<(Vec<Item>, &str)> = vec![
        (vec![], "items"),
        (vec![item(1, 100); 51], "items"),
        (vec![item(0, 100)], "items.quantity"),
        (vec![item(10_001, 100)], "items.quantity"),
        // 10 000 × (2^53 − 1) overflows what the format carries.
        (vec![item(10_000, MAX_FEN)], "items"),
        // Two items that each fit but together do not.
        (vec![item(1, MAX_FEN), item(1, 1)], "items"),
        (
            vec![Item {
                name: String::new(),
                quantity: 1,
                unit_value: fen(100),
            }],
            "items.name",
        ),
    ];
    for (items, field) in cases {
        let err = framework(&w)
            .given(vec![created(), contributed("c1", MAX_FEN)])
            .when(cmd(
                &w,
                "fm",
                disburse("d1", "h1", "wang", Help::InKind { items }),
            ))
            .inspect_result()
            .unwrap_err();
        assert_eq!(out_of_range_field(&err), field);
    }
}

// ---------------------------------------------------------------------------------------------
// acknowledge_disbursement

#[test]
fn the_receiving_households_card_acknowledges() {
    let w = district();
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 100),
        ])
        .when(cmd(&w, "card-h1", acknowledge("d1")))
        .then_expect_events(vec![FundEvent::DisbursementAcknowledged(
            DisbursementAcknowledged {
                disbursement_id: did("d1"),
            },
        )]);
    let other_card = DomainError::NotYours {
        what: "only the receiving household's own contact card may acknowledge".into(),
    };
    for signer in ["card-h2", "fm", "wang"] {
        framework(&w)
            .given(vec![
                created(),
                contributed("c1", 50_000),
                disbursed("d1", "h1", 100),
            ])
            .when(cmd(&w, signer, acknowledge("d1")))
            .then_expect_error(other_card.clone());
    }
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 100),
            FundEvent::DisbursementAcknowledged(DisbursementAcknowledged {
                disbursement_id: did("d1"),
            }),
        ])
        .when(cmd(&w, "card-h1", acknowledge("d1")))
        .then_expect_error(DomainError::WrongState {
            command: "acknowledge_disbursement".into(),
            state: "the disbursement is already acknowledged or reversed".into(),
        });
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "card-h1", acknowledge("d1")))
        .then_expect_error(not_found("disbursement", "d1"));
}

#[test]
fn acknowledgement_through_statements_only_by_the_current_card() {
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h1", "wang", json!(20_000)),
    );
    let not_the_card = Err(DomainError::NotYours {
        what: "only the receiving household's own contact card may acknowledge".into(),
    });
    assert_eq!(
        w.submit(
            "card-h2",
            "acknowledge_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1"})
        ),
        not_the_card
    );
    assert_eq!(
        w.submit(
            "fm",
            "acknowledge_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1"})
        ),
        Err(DomainError::RoleNotAllowed {
            command: "acknowledge_disbursement".into(),
            roles: vec![Role::FundManager],
        })
    );
    // h1 gets a new card: the old one, though still registered to h1, no longer speaks for it.
    w.register_key("card-h1-new", "household/h1", &["household"]);
    w.ok(
        "coord",
        "set_contact_key",
        "household/h1",
        json!({"key": common::b64key("card-h1-new")}),
    );
    assert_eq!(
        w.submit(
            "card-h1",
            "acknowledge_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1"})
        ),
        not_the_card
    );
    let ev = w.ok(
        "card-h1-new",
        "acknowledge_disbursement",
        "fund/court-pool",
        json!({"disbursement_id": "d1"}),
    );
    assert_eq!(
        (ev[0].event_type.as_str(), ev[0].sequence),
        ("DisbursementAcknowledged", 4)
    );
    assert_eq!(
        w.submit(
            "card-h1-new",
            "acknowledge_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1"})
        ),
        Err(DomainError::WrongState {
            command: "acknowledge_disbursement".into(),
            state: "the disbursement is already acknowledged or reversed".into(),
        })
    );
    assert_eq!(balance(&mut w), 30_000);
}

#[test]
fn a_card_rotated_to_a_new_key_still_acknowledges_and_the_old_key_no_longer_does() {
    let mut w = district();
    w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h1", "wang", json!(20_000)),
    );
    w.ok(
        "card-h1",
        "rotate_key",
        "authority/gulou",
        json!({"new_key": common::b64key("card-h1-rotated")}),
    );
    assert_eq!(
        w.submit(
            "card-h1",
            "acknowledge_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1"})
        ),
        Err(DomainError::KeyRevoked {
            reason: format!("rotated to {}", common::b64key("card-h1-rotated")),
        })
    );
    let ev = w.ok(
        "card-h1-rotated",
        "acknowledge_disbursement",
        "fund/court-pool",
        json!({"disbursement_id": "d1"}),
    );
    assert_eq!(
        (ev[0].event_type.as_str(), ev[0].sequence),
        ("DisbursementAcknowledged", 4)
    );
}

// ---------------------------------------------------------------------------------------------
// reverse_disbursement

#[test]
fn a_reversal_is_a_compensating_event_carrying_the_value() {
    let w = district();
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
        ])
        .when(cmd(&w, "fm", reverse("d1")))
        .then_expect_events(vec![reversed("d1", 30_000)]);
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
            reversed("d1", 30_000),
        ])
        .when(cmd(&w, "fm", reverse("d1")))
        .then_expect_error(DomainError::WrongState {
            command: "reverse_disbursement".into(),
            state: "the disbursement is already reversed".into(),
        });
    framework(&w)
        .given(vec![created(), contributed("c1", 50_000)])
        .when(cmd(&w, "fm", reverse("d1")))
        .then_expect_error(not_found("disbursement", "d1"));
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
        ])
        .when(cmd(&w, "fm2", reverse("d1")))
        .then_expect_error(not_yours("reverse_disbursement"));
    let err = framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
        ])
        .when(cmd(
            &w,
            "fm",
            FundCommand::ReverseDisbursement(ReverseDisbursement {
                disbursement_id: did("d1"),
                reason: String::new(),
            }),
        ))
        .inspect_result()
        .unwrap_err();
    assert_eq!(out_of_range_field(&err), "reason");
    // A reversed disbursement cannot be acknowledged afterwards.
    framework(&w)
        .given(vec![
            created(),
            contributed("c1", 50_000),
            disbursed("d1", "h1", 30_000),
            reversed("d1", 30_000),
        ])
        .when(cmd(&w, "card-h1", acknowledge("d1")))
        .then_expect_error(DomainError::WrongState {
            command: "acknowledge_disbursement".into(),
            state: "the disbursement is already acknowledged or reversed".into(),
        });
}

#[test]
fn a_reversal_restores_the_balance_once() {
    let mut w = district();
    let c1 = w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution_args("c1", json!(50_000)),
    );
    let d1 = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d1", "h1", "wang", json!(30_000)),
    );
    let d2 = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d2", "h2", "wang", json!(5_000)),
    );
    assert_eq!(balance(&mut w), 15_000);
    assert_eq!(
        w.submit(
            "fm2",
            "reverse_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1", "reason": "重复拨付"})
        ),
        Err(not_yours("reverse_disbursement"))
    );
    let r1 = w.ok(
        "fm",
        "reverse_disbursement",
        "fund/court-pool",
        json!({"disbursement_id": "d1", "reason": "重复拨付"}),
    );
    assert_eq!(r1.len(), 1);
    assert_eq!(
        (r1[0].event_type.as_str(), r1[0].sequence),
        ("DisbursementReversed", 5)
    );
    assert_eq!(
        r1[0].payload,
        json!({"disbursement_id": "d1", "value": 30_000, "reason": "重复拨付"})
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(balance(&mut w), 45_000);
    assert_eq!(
        w.submit(
            "fm",
            "reverse_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1", "reason": "再冲一次"})
        ),
        Err(DomainError::WrongState {
            command: "reverse_disbursement".into(),
            state: "the disbursement is already reversed".into(),
        })
    );
    assert_eq!(balance(&mut w), 45_000);
    assert_eq!(
        w.submit(
            "card-h1",
            "acknowledge_disbursement",
            "fund/court-pool",
            json!({"disbursement_id": "d1"})
        ),
        Err(DomainError::WrongState {
            command: "acknowledge_disbursement".into(),
            state: "the disbursement is already acknowledged or reversed".into(),
        })
    );
    // The restored money can go out again, to the fen.
    let d3 = w.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        cash_args("d3", "h3", "wang", json!(45_000)),
    );
    assert_eq!(balance(&mut w), 0);
    let f = fund_after(&[&c1, &d1, &d2, &r1, &d3]);
    assert_eq!(f.balance, 0);
    assert!(f.disbursements[&did("d1")].reversed);
    assert!(!f.disbursements[&did("d2")].reversed);
    assert!(!f.disbursements[&did("d3")].acknowledged);
}
