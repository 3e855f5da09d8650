//! The pairing aggregate (结对): formation, handover (接力帮扶), visits (走访), personal donations,
//! requests for help (三单 / 办实事). Given-when-then tests with cqrs-es's `TestFramework` against a
//! registry built by the World fixture, and World-driven tests through signed statements.

mod common;

use bangfu_domain::aggregates::pairing::{
    AcceptHandover, AcknowledgeDonation, AcknowledgeVisit, CloseRequest, DispatchRequest,
    DisputeResolution, DonationAcknowledged, EndPairing, FormPairing, HandoverAccepted,
    HandoverCompleted, HandoverProposed, Pairing, PairingCommand, PairingEnded, PairingEvent,
    PairingFormed, PersonalDonationRecorded, ProposeHandover, RaiseRequest, RecordPersonalDonation,
    RecordVisit, RequestAccepted, RequestClosed, RequestDispatched, RequestKind, RequestRaised,
    RequestRef, RequestResolved, ResolutionConfirmed, ResolutionDisputed, ResolveRequest,
    RetractVisit, VisitAcknowledged, VisitKind, VisitRecorded, VisitRetracted,
};
use bangfu_domain::command::{Command, Ctx, Holder};
use bangfu_domain::date::Date;
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::error::DomainError;
use bangfu_domain::event::from_ledger;
use bangfu_domain::help::{Help, Item, Purpose};
use bangfu_domain::ids::{CadreId, DonationId, HouseholdId, ProgramId, RequestId, VisitId};
use bangfu_domain::money::{Fen, MAX_FEN};
use bangfu_domain::registry::Registry;
use bangfu_domain::sealed::Sealed;
use bangfu_ledger::Hash;
use bangfu_ledger::entry::Event as LedgerEvent;
use bangfu_ledger::signature::Signature;
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use common::{World, at, ctx, holder, key, pk, sealed};
use cqrs_es::test::{AggregateResultValidator, TestFramework};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use PairingCommand as C;
use PairingEvent as E;

const PID: &str = "gulou2016:h1";
const TARGET: &str = "pairing/gulou2016:h1";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn c(s: &str) -> CadreId {
    CadreId::new(s).unwrap()
}

fn team(ids: &[&str]) -> BTreeSet<CadreId> {
    ids.iter().map(|s| c(s)).collect()
}

fn vid(s: &str) -> VisitId {
    VisitId::new(s).unwrap()
}

fn rid(s: &str) -> RequestId {
    RequestId::new(s).unwrap()
}

fn did(s: &str) -> DonationId {
    DonationId::new(s).unwrap()
}

fn fen(n: i64) -> Fen {
    Fen::new(n).unwrap()
}

fn diary() -> Sealed {
    serde_json::from_value(sealed("送米送油，询问透析费用")).unwrap()
}

/// A well-formed photo reference: base64 of a 32-byte SHA-256.
fn photo(n: u8) -> String {
    Hash([n; 32]).to_base64()
}

/// The fixture's registry (units, program gulou2016, cadres wang/li/zhao/chen, households h1..h3
/// registered on 2016-01-04 with contact cards card-h1.., a fund).
fn registry() -> Registry {
    World::district().registry
}

/// Runs one command against an aggregate rebuilt from `given`, signed by `signer` on `date`.
fn when(
    r: &Registry,
    given: Vec<PairingEvent>,
    signer: &str,
    date: &str,
    body: PairingCommand,
) -> AggregateResultValidator<Pairing> {
    when_ctx(r, given, ctx(r, signer, PID, date, 1000), body)
}

fn when_ctx(
    r: &Registry,
    given: Vec<PairingEvent>,
    ctx: Ctx,
    body: PairingCommand,
) -> AggregateResultValidator<Pairing> {
    TestFramework::<Pairing>::with(r.clone())
        .given(given)
        .when(Command { ctx, body })
}

fn not_yours(what: &str) -> DomainError {
    DomainError::NotYours { what: what.into() }
}

fn wrong_state(command: &str, state: &str) -> DomainError {
    DomainError::WrongState {
        command: command.into(),
        state: state.into(),
    }
}

fn out_of_range(field: &'static str, reason: &str) -> DomainError {
    DomainError::OutOfRange {
        field,
        reason: reason.into(),
    }
}

fn text_error(field: &'static str, max: usize) -> DomainError {
    out_of_range(
        field,
        &format!("需要 1–{max} 个字符 / must be 1–{max} characters"),
    )
}

fn not_paired(cadre: &str) -> DomainError {
    DomainError::NotPaired {
        cadre: cadre.into(),
    }
}

fn inactive(cadre: &str, status: &'static str) -> DomainError {
    DomainError::CadreInactive {
        cadre: cadre.into(),
        status,
    }
}

fn not_found(what: &'static str, id: &str) -> DomainError {
    DomainError::NotFound {
        what,
        id: id.into(),
    }
}

fn in_future(date: &str, today: &str) -> DomainError {
    DomainError::DateInFuture {
        date: d(date),
        today: d(today),
    }
}

const NOT_ACTIVE: &str = "the pairing is not active";
const CARD_ONLY: &str = "only this household's own contact card may acknowledge or confirm";
const TEAM_SIZE: &str = "结对干部 1–5 人 / a pairing has 1–5 cadres";
const LEAD_AMONG: &str = "牵头干部须在结对干部中 / the lead must be one of the cadres";
const OUTGOING: &str = "交出的干部须是当前结对干部 / outgoing cadres must be currently paired";
const INCOMING: &str = "接手的干部须是新人 / incoming cadres must not be paired already";
const NOT_DISPATCHED_TO_YOU: &str =
    "a request is accepted by the cadre it was dispatched to, or by a paired cadre";
const NOT_ACCEPTED_BY_YOU: &str = "a request is resolved by the cadre who accepted it";

// --- commands ---

fn form_cmd(program: &str, household: &str, cadres: &[&str], lead: &str, date: &str) -> C {
    C::FormPairing(FormPairing {
        program: ProgramId::new(program).unwrap(),
        household: HouseholdId::new(household).unwrap(),
        cadres: team(cadres),
        lead: c(lead),
        date: d(date),
    })
}

fn form(cadres: &[&str], lead: &str, date: &str) -> C {
    form_cmd("gulou2016", "h1", cadres, lead, date)
}

fn formed(cadres: &[&str], lead: &str, date: &str) -> E {
    E::PairingFormed(PairingFormed {
        program: ProgramId::new("gulou2016").unwrap(),
        household: HouseholdId::new("h1").unwrap(),
        cadres: team(cadres),
        lead: c(lead),
        date: d(date),
    })
}

fn propose(outgoing: &[&str], incoming: &[&str], lead: &str, date: &str) -> C {
    C::ProposeHandover(ProposeHandover {
        outgoing: team(outgoing),
        incoming: team(incoming),
        lead: c(lead),
        date: d(date),
        reason: "王法官退休 / retirement".into(),
    })
}

fn proposed(outgoing: &[&str], incoming: &[&str], lead: &str, date: &str) -> E {
    E::HandoverProposed(HandoverProposed {
        outgoing: team(outgoing),
        incoming: team(incoming),
        lead: c(lead),
        date: d(date),
        reason: "王法官退休 / retirement".into(),
    })
}

fn accept_handover() -> C {
    C::AcceptHandover(AcceptHandover {})
}

fn handover_accepted(cadre: &str) -> E {
    E::HandoverAccepted(HandoverAccepted { cadre: c(cadre) })
}

fn completed(cadres: &[&str], lead: &str, date: &str, carried: &[&str]) -> E {
    E::HandoverCompleted(HandoverCompleted {
        cadres: team(cadres),
        lead: c(lead),
        date: d(date),
        carried_requests: carried.iter().map(|r| rid(r)).collect(),
    })
}

fn end(date: &str) -> C {
    C::EndPairing(EndPairing {
        date: d(date),
        reason: "该户脱困 / the household left hardship".into(),
    })
}

fn ended(date: &str) -> E {
    E::PairingEnded(PairingEnded {
        date: d(date),
        reason: "该户脱困 / the household left hardship".into(),
    })
}

fn visit(id: &str, date: &str) -> RecordVisit {
    RecordVisit {
        visit_id: vid(id),
        date: d(date),
        kind: VisitKind::Routine,
        diary: diary(),
        problems: vec![],
        photos: vec![],
        location: None,
    }
}

fn recorded(v: &RecordVisit, cadre: &str) -> E {
    E::VisitRecorded(VisitRecorded {
        visit_id: v.visit_id.clone(),
        cadre: c(cadre),
        date: v.date,
        kind: v.kind,
        diary: v.diary,
        problems: v.problems.clone(),
        photos: v.photos.clone(),
        location: v.location.clone(),
    })
}

fn retract(id: &str) -> C {
    C::RetractVisit(RetractVisit {
        visit_id: vid(id),
        reason: "日期填错 / wrong date".into(),
    })
}

fn retracted(id: &str) -> E {
    E::VisitRetracted(VisitRetracted {
        visit_id: vid(id),
        reason: "日期填错 / wrong date".into(),
    })
}

fn ack_visit(id: &str) -> C {
    C::AcknowledgeVisit(AcknowledgeVisit { visit_id: vid(id) })
}

fn cash(amount: i64) -> Help {
    Help::Cash {
        amount: fen(amount),
    }
}

fn donate(id: &str, date: &str, help: Help) -> RecordPersonalDonation {
    RecordPersonalDonation {
        donation_id: did(id),
        date: d(date),
        help,
        purpose: Purpose::Festival,
    }
}

fn donated(x: &RecordPersonalDonation, cadre: &str, value: i64) -> E {
    E::PersonalDonationRecorded(PersonalDonationRecorded {
        donation_id: x.donation_id.clone(),
        cadre: c(cadre),
        date: x.date,
        help: x.help.clone(),
        value: fen(value),
        purpose: x.purpose,
    })
}

fn ack_donation(id: &str) -> C {
    C::AcknowledgeDonation(AcknowledgeDonation {
        donation_id: did(id),
    })
}

fn raise(id: &str, date: &str) -> C {
    C::RaiseRequest(RaiseRequest {
        request_id: rid(id),
        kind: RequestKind::ConcreteHelp,
        summary: "房屋漏雨维修".into(),
        date: d(date),
    })
}

fn raised(id: &str, by: &str, date: &str) -> E {
    E::RequestRaised(RequestRaised {
        request_id: rid(id),
        by: holder(by),
        kind: RequestKind::ConcreteHelp,
        summary: "房屋漏雨维修".into(),
        date: d(date),
    })
}

fn dispatch(id: &str, to: &str) -> C {
    C::DispatchRequest(DispatchRequest {
        request_id: rid(id),
        to: c(to),
    })
}

fn dispatched(id: &str, to: &str) -> E {
    E::RequestDispatched(RequestDispatched {
        request_id: rid(id),
        to: c(to),
    })
}

fn accept(id: &str) -> C {
    C::AcceptRequest(RequestRef {
        request_id: rid(id),
    })
}

fn accepted(id: &str, cadre: &str) -> E {
    E::RequestAccepted(RequestAccepted {
        request_id: rid(id),
        cadre: c(cadre),
    })
}

fn resolve(id: &str, date: &str) -> C {
    C::ResolveRequest(ResolveRequest {
        request_id: rid(id),
        outcome: "屋顶已修好".into(),
        date: d(date),
    })
}

fn resolved(id: &str, cadre: &str, date: &str) -> E {
    E::RequestResolved(RequestResolved {
        request_id: rid(id),
        cadre: c(cadre),
        outcome: "屋顶已修好".into(),
        date: d(date),
    })
}

fn confirm(id: &str) -> C {
    C::ConfirmResolution(RequestRef {
        request_id: rid(id),
    })
}

fn confirmed(id: &str) -> E {
    E::ResolutionConfirmed(ResolutionConfirmed {
        request_id: rid(id),
    })
}

fn dispute(id: &str) -> C {
    C::DisputeResolution(DisputeResolution {
        request_id: rid(id),
        reason: "还在漏雨".into(),
    })
}

fn disputed(id: &str) -> E {
    E::ResolutionDisputed(ResolutionDisputed {
        request_id: rid(id),
        reason: "还在漏雨".into(),
    })
}

fn close(id: &str) -> C {
    C::CloseRequest(CloseRequest {
        request_id: rid(id),
        reason: "转民政部门办理".into(),
    })
}

fn closed(id: &str) -> E {
    E::RequestClosed(RequestClosed {
        request_id: rid(id),
        reason: "转民政部门办理".into(),
    })
}

// --- World ---

/// The district on 2016-06-01.
fn district() -> World {
    let mut w = World::district();
    w.today = "2016-06-01".into();
    w
}

/// Ledger events of the pairing back in the domain's type.
fn typed(events: &[LedgerEvent]) -> Vec<PairingEvent> {
    events
        .iter()
        .map(|e| {
            assert_eq!(e.aggregate_type, "pairing");
            assert_eq!(e.aggregate_id, PID);
            from_ledger::<PairingEvent>(e, &[]).unwrap()
        })
        .collect()
}

fn w_form(w: &mut World, cadres: &[&str], lead: &str, date: &str) {
    w.ok(
        "coord",
        "form_pairing",
        TARGET,
        json!({"program": "gulou2016", "household": "h1", "cadres": cadres, "lead": lead, "date": date}),
    );
}

fn visit_args(id: &str, date: &str) -> Value {
    json!({"visit_id": id, "date": date, "kind": "routine", "diary": sealed("送米送油")})
}

fn donation_args(id: &str, help: Value) -> Value {
    json!({"donation_id": id, "date": "2016-06-01", "help": help, "purpose": "living"})
}

fn w_retire(w: &mut World, cadre: &str, date: &str) {
    w.ok(
        "coord",
        "retire_cadre",
        &format!("cadre/{cadre}"),
        json!({ "date": date }),
    );
}

fn w_transfer_away(w: &mut World, cadre: &str, date: &str) {
    w.ok(
        "coord",
        "transfer_cadre",
        &format!("cadre/{cadre}"),
        json!({ "date": date }),
    );
}

fn w_register_cadre(w: &mut World, cadre: &str) {
    w.ok(
        "coord",
        "register_cadre",
        &format!("cadre/{cadre}"),
        json!({"name": cadre, "unit": "court", "rank": "section", "party_member": true, "date": "2016-01-04"}),
    );
    w.register_key(cadre, &format!("cadre/{cadre}"), &["cadre"]);
}

fn w_propose(w: &mut World, outgoing: &[&str], incoming: &[&str], lead: &str) -> Vec<LedgerEvent> {
    let date = w.today.clone();
    w.ok(
        "coord",
        "propose_handover",
        TARGET,
        json!({"outgoing": outgoing, "incoming": incoming, "lead": lead, "date": date, "reason": "退休"}),
    )
}

/// Pushes a statement through `authorize` and the aggregate exactly as `World::submit` does, but
/// without signing it: for arguments the ledger's JCS rules would not even let anyone sign
/// (integers beyond ±(2^53 − 1)), to show the domain refuses them too. Changes nothing.
fn submit_unsignable(
    w: &World,
    signer: &str,
    command: &str,
    target: &str,
    args: Value,
) -> Result<Vec<LedgerEvent>, DomainError> {
    let body = Body {
        id: StatementId::from_random_bytes([0xee; 16]),
        command: CommandName::parse(command).unwrap(),
        target: Target::parse(target).unwrap(),
        args: args.as_object().cloned().unwrap(),
        signed_at: at(&w.today),
        key: pk(signer),
    };
    assert!(
        Statement::sign(body.clone(), &key(signer)).is_err(),
        "the ledger itself refuses to sign such arguments"
    );
    let statement = Statement {
        body,
        sig: Signature::from_bytes(&[0u8; 64]),
    };
    let ctx = authorize(&statement, w.index, at(&w.today), &w.registry)?;
    let mut aggregate = w
        .aggregates
        .get(target)
        .cloned()
        .unwrap_or_else(|| AnyAggregate::new("pairing").unwrap());
    aggregate.handle(ctx, &statement, &w.registry)
}

// =============================================================================================
// form_pairing
// =============================================================================================

#[test]
fn form_pairing_records_the_team_and_its_lead() {
    let r = registry();
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang", "li"], "wang", "2016-01-10"),
    )
    .then_expect_events(vec![formed(&["wang", "li"], "wang", "2016-01-10")]);
}

#[test]
fn form_pairing_target_must_be_program_colon_household() {
    let r = registry();
    // The statement targets h2's stream but names h1.
    when_ctx(
        &r,
        vec![],
        ctx(&r, "coord", "gulou2016:h2", "2016-02-01", 1000),
        form(&["wang"], "wang", "2016-01-10"),
    )
    .then_expect_error(DomainError::TargetMismatch {
        target: "pairing/gulou2016:h2".into(),
        expected: "pairing/gulou2016:h1".into(),
    });
    // A target without the program part.
    when_ctx(
        &r,
        vec![],
        ctx(&r, "coord", "h1", "2016-02-01", 1000),
        form(&["wang"], "wang", "2016-01-10"),
    )
    .then_expect_error(DomainError::TargetMismatch {
        target: "pairing/h1".into(),
        expected: "pairing/gulou2016:h1".into(),
    });

    let mut w = district();
    let err = w
        .submit(
            "coord",
            "form_pairing",
            "pairing/gulou2016:h2",
            json!({"program": "gulou2016", "household": "h1", "cadres": ["wang"], "lead": "wang", "date": "2016-01-10"}),
        )
        .unwrap_err();
    assert_eq!(
        err,
        DomainError::TargetMismatch {
            target: "pairing/gulou2016:h2".into(),
            expected: "pairing/gulou2016:h1".into(),
        }
    );
}

#[test]
fn a_second_active_pairing_for_the_household_and_program_is_refused() {
    let r = registry();
    let active = DomainError::ActivePairingExists {
        household: "h1".into(),
        program: "gulou2016".into(),
    };
    when(
        &r,
        vec![formed(&["wang"], "wang", "2016-01-10")],
        "coord",
        "2016-02-01",
        form(&["li"], "li", "2016-02-01"),
    )
    .then_expect_error(active.clone());
    // Also after a handover: the pairing is still active.
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            proposed(&["wang"], &["li"], "li", "2016-03-01"),
            handover_accepted("li"),
            completed(&["li"], "li", "2016-03-02", &[]),
        ],
        "coord",
        "2016-04-01",
        form(&["zhao"], "zhao", "2016-04-01"),
    )
    .then_expect_error(active.clone());

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let err = w
        .submit(
            "coord",
            "form_pairing",
            TARGET,
            json!({"program": "gulou2016", "household": "h1", "cadres": ["li", "zhao"], "lead": "li", "date": "2016-05-01"}),
        )
        .unwrap_err();
    assert_eq!(err, active);
    // The same household may be paired in another program's stream; here the program does not
    // exist, which is the refusal one gets, not ActivePairingExists.
    let err = w
        .submit(
            "coord",
            "form_pairing",
            "pairing/other2016:h1",
            json!({"program": "other2016", "household": "h1", "cadres": ["li"], "lead": "li", "date": "2016-05-01"}),
        )
        .unwrap_err();
    assert_eq!(err, not_found("program", "other2016"));
}

#[test]
fn form_pairing_refuses_an_unknown_program_or_household() {
    let r = registry();
    when_ctx(
        &r,
        vec![],
        ctx(&r, "coord", "nope2016:h1", "2016-02-01", 1000),
        form_cmd("nope2016", "h1", &["wang"], "wang", "2016-01-10"),
    )
    .then_expect_error(not_found("program", "nope2016"));
    when_ctx(
        &r,
        vec![],
        ctx(&r, "coord", "gulou2016:h9", "2016-02-01", 1000),
        form_cmd("gulou2016", "h9", &["wang"], "wang", "2016-01-10"),
    )
    .then_expect_error(not_found("household", "h9"));
}

#[test]
fn form_pairing_refuses_a_household_that_exited_hardship_until_it_returns() {
    let mut w = district();
    w.ok(
        "coord",
        "exit_hardship",
        "household/h1",
        json!({"date": "2016-05-01", "reason": "女儿就业，收入稳定"}),
    );
    let args = json!({"program": "gulou2016", "household": "h1", "cadres": ["wang"], "lead": "wang", "date": "2016-05-20"});
    assert_eq!(
        w.submit("coord", "form_pairing", TARGET, args.clone())
            .unwrap_err(),
        DomainError::HouseholdExited {
            household: "h1".into()
        }
    );
    when(
        &w.registry,
        vec![],
        "coord",
        "2016-06-01",
        form(&["wang"], "wang", "2016-05-20"),
    )
    .then_expect_error(DomainError::HouseholdExited {
        household: "h1".into(),
    });
    w.ok(
        "coord",
        "return_to_hardship",
        "household/h1",
        json!({"date": "2016-05-15", "reason": "再次患病"}),
    );
    let ev = w.ok("coord", "form_pairing", TARGET, args);
    assert_eq!(typed(&ev), vec![formed(&["wang"], "wang", "2016-05-20")]);
}

#[test]
fn form_pairing_takes_one_to_five_cadres_with_the_lead_among_them() {
    let r = registry();
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&[], "wang", "2016-01-10"),
    )
    .then_expect_error(out_of_range("cadres", TEAM_SIZE));
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["a1", "a2", "a3", "a4", "a5", "a6"], "a1", "2016-01-10"),
    )
    .then_expect_error(out_of_range("cadres", TEAM_SIZE));
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang", "li"], "zhao", "2016-01-10"),
    )
    .then_expect_error(out_of_range("lead", LEAD_AMONG));
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang", "ghost"], "wang", "2016-01-10"),
    )
    .then_expect_error(not_found("cadre", "ghost"));

    // Five registered cadres are fine, six are not.
    let mut w = district();
    w_register_cadre(&mut w, "sun");
    w_register_cadre(&mut w, "zhou");
    let five = ["chen", "li", "sun", "wang", "zhao"];
    when(
        &w.registry,
        vec![],
        "coord",
        "2016-02-01",
        form(&five, "sun", "2016-01-10"),
    )
    .then_expect_events(vec![formed(&five, "sun", "2016-01-10")]);
    let err = w
        .submit(
            "coord",
            "form_pairing",
            TARGET,
            json!({"program": "gulou2016", "household": "h1", "cadres": ["wang", "li", "zhao", "chen", "sun", "zhou"], "lead": "wang", "date": "2016-01-10"}),
        )
        .unwrap_err();
    assert_eq!(err, out_of_range("cadres", TEAM_SIZE));
    let ev = w.ok(
        "coord",
        "form_pairing",
        TARGET,
        json!({"program": "gulou2016", "household": "h1", "cadres": five, "lead": "sun", "date": "2016-01-10"}),
    );
    assert_eq!(typed(&ev), vec![formed(&five, "sun", "2016-01-10")]);
}

#[test]
fn form_pairing_refuses_a_retired_or_transferred_away_cadre() {
    let mut w = district();
    w_retire(&mut w, "li", "2016-05-01");
    w_transfer_away(&mut w, "zhao", "2016-05-01");
    let err = w
        .submit(
            "coord",
            "form_pairing",
            TARGET,
            json!({"program": "gulou2016", "household": "h1", "cadres": ["wang", "li"], "lead": "wang", "date": "2016-05-20"}),
        )
        .unwrap_err();
    assert_eq!(err, inactive("li", "retired"));
    when(
        &w.registry,
        vec![],
        "coord",
        "2016-06-01",
        form(&["zhao"], "zhao", "2016-05-20"),
    )
    .then_expect_error(inactive("zhao", "transferred away"));
    // A transfer to another unit of this log keeps the cadre active.
    w.ok(
        "coord",
        "transfer_cadre",
        "cadre/chen",
        json!({"to_unit": "gulou", "date": "2016-05-01"}),
    );
    when(
        &w.registry,
        vec![],
        "coord",
        "2016-06-01",
        form(&["chen"], "chen", "2016-05-20"),
    )
    .then_expect_events(vec![formed(&["chen"], "chen", "2016-05-20")]);
}

#[test]
fn form_pairing_date_is_not_in_the_future_nor_before_the_households_registration() {
    let r = registry();
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang"], "wang", "2016-02-02"),
    )
    .then_expect_error(in_future("2016-02-02", "2016-02-01"));
    // Today itself is fine.
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang"], "wang", "2016-02-01"),
    )
    .then_expect_events(vec![formed(&["wang"], "wang", "2016-02-01")]);
    // h1 was registered on 2016-01-04.
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang"], "wang", "2016-01-03"),
    )
    .then_expect_error(DomainError::DateTooEarly {
        date: d("2016-01-03"),
        earliest: d("2016-01-04"),
        what: "household's registration",
    });
    when(
        &r,
        vec![],
        "coord",
        "2016-02-01",
        form(&["wang"], "wang", "2016-01-04"),
    )
    .then_expect_events(vec![formed(&["wang"], "wang", "2016-01-04")]);
}

#[test]
fn form_pairing_is_for_coordinators_only() {
    let mut w = district();
    let err = w
        .submit(
            "wang",
            "form_pairing",
            TARGET,
            json!({"program": "gulou2016", "household": "h1", "cadres": ["wang"], "lead": "wang", "date": "2016-01-10"}),
        )
        .unwrap_err();
    assert_eq!(
        err,
        DomainError::RoleNotAllowed {
            command: "form_pairing".into(),
            roles: vec![bangfu_domain::role::Role::Cadre],
        }
    );
}

#[test]
fn end_pairing_then_a_new_pairing_can_be_formed() {
    let r = registry();
    when(
        &r,
        vec![formed(&["wang"], "wang", "2016-01-10")],
        "coord",
        "2016-03-01",
        end("2016-03-01"),
    )
    .then_expect_events(vec![ended("2016-03-01")]);
    when(
        &r,
        vec![formed(&["wang"], "wang", "2016-01-10"), ended("2016-03-01")],
        "coord",
        "2016-04-01",
        form(&["li", "zhao"], "zhao", "2016-04-01"),
    )
    .then_expect_events(vec![formed(&["li", "zhao"], "zhao", "2016-04-01")]);

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let ev = w.ok(
        "coord",
        "end_pairing",
        TARGET,
        json!({"date": "2016-03-01", "reason": "该户脱困 / the household left hardship"}),
    );
    assert_eq!(typed(&ev), vec![ended("2016-03-01")]);
    assert_eq!(ev[0].sequence, 2);
    // The ended team can no longer record.
    assert_eq!(
        w.submit(
            "wang",
            "record_visit",
            TARGET,
            visit_args("v1", "2016-05-01")
        )
        .unwrap_err(),
        wrong_state("record_visit", NOT_ACTIVE)
    );
    w_form(&mut w, &["li"], "li", "2016-05-01");
    let ev = w.ok("li", "record_visit", TARGET, visit_args("v1", "2016-05-02"));
    assert_eq!(ev[0].event_type, "VisitRecorded");
    assert_eq!(ev[0].sequence, 4);
}

#[test]
fn end_pairing_rules() {
    let r = registry();
    let given = || vec![formed(&["wang"], "wang", "2016-01-10")];
    when(&r, vec![], "coord", "2016-03-01", end("2016-03-01"))
        .then_expect_error(wrong_state("end_pairing", NOT_ACTIVE));
    let mut g = given();
    g.push(ended("2016-03-01"));
    when(&r, g, "coord", "2016-03-02", end("2016-03-02"))
        .then_expect_error(wrong_state("end_pairing", NOT_ACTIVE));
    when(&r, given(), "coord", "2016-03-01", end("2016-03-02"))
        .then_expect_error(in_future("2016-03-02", "2016-03-01"));
    when(&r, given(), "coord", "2016-03-01", end("2016-01-09")).then_expect_error(
        DomainError::DateTooEarly {
            date: d("2016-01-09"),
            earliest: d("2016-01-10"),
            what: "start of the current pairing",
        },
    );
    when(
        &r,
        given(),
        "coord",
        "2016-03-01",
        C::EndPairing(EndPairing {
            date: d("2016-03-01"),
            reason: String::new(),
        }),
    )
    .then_expect_error(text_error("reason", 200));
}

#[test]
fn ending_a_pairing_drops_its_pending_handover() {
    let r = registry();
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            proposed(&["wang"], &["zhao"], "zhao", "2016-02-01"),
            ended("2016-02-02"),
            formed(&["li"], "li", "2016-02-03"),
        ],
        "zhao",
        "2016-02-04",
        accept_handover(),
    )
    .then_expect_error(wrong_state("accept_handover", "no handover is proposed"));
}

// =============================================================================================
// Handover (接力帮扶)
// =============================================================================================

fn paired_wang() -> Vec<E> {
    vec![formed(&["wang"], "wang", "2016-01-10")]
}

#[test]
fn propose_handover_records_the_proposal() {
    let r = registry();
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "zhao", "2016-05-01"),
    )
    .then_expect_events(vec![proposed(&["wang"], &["zhao"], "zhao", "2016-05-01")]);
}

#[test]
fn propose_handover_outgoing_must_be_currently_paired() {
    let r = registry();
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["li"], &["zhao"], "zhao", "2016-05-01"),
    )
    .then_expect_error(out_of_range("outgoing", OUTGOING));
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["wang", "li"], &["zhao"], "zhao", "2016-05-01"),
    )
    .then_expect_error(out_of_range("outgoing", OUTGOING));
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&[], &["zhao"], "zhao", "2016-05-01"),
    )
    .then_expect_error(out_of_range("outgoing", OUTGOING));
}

#[test]
fn propose_handover_incoming_must_be_new_registered_and_active() {
    let r = registry();
    let pair = || vec![formed(&["wang", "li"], "wang", "2016-01-10")];
    when(
        &r,
        pair(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["li"], "li", "2016-05-01"),
    )
    .then_expect_error(out_of_range("incoming", INCOMING));
    when(
        &r,
        pair(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &[], "li", "2016-05-01"),
    )
    .then_expect_error(out_of_range("incoming", INCOMING));
    when(
        &r,
        pair(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["ghost"], "ghost", "2016-05-01"),
    )
    .then_expect_error(not_found("cadre", "ghost"));
}

#[test]
fn handover_to_a_retired_cadre_is_refused() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w_retire(&mut w, "zhao", "2016-05-01");
    let err = w
        .submit(
            "coord",
            "propose_handover",
            TARGET,
            json!({"outgoing": ["wang"], "incoming": ["zhao"], "lead": "zhao", "date": "2016-06-01", "reason": "退休"}),
        )
        .unwrap_err();
    assert_eq!(err, inactive("zhao", "retired"));
    // Also when the retired cadre is not the lead and joins an active one.
    when(
        &w.registry,
        paired_wang(),
        "coord",
        "2016-06-01",
        propose(&["wang"], &["li", "zhao"], "li", "2016-06-01"),
    )
    .then_expect_error(inactive("zhao", "retired"));
}

#[test]
fn handover_to_a_transferred_away_cadre_is_refused() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w_transfer_away(&mut w, "chen", "2016-05-01");
    let err = w
        .submit(
            "coord",
            "propose_handover",
            TARGET,
            json!({"outgoing": ["wang"], "incoming": ["chen"], "lead": "chen", "date": "2016-06-01", "reason": "调离"}),
        )
        .unwrap_err();
    assert_eq!(err, inactive("chen", "transferred away"));
}

#[test]
fn propose_handover_lead_must_be_in_the_resulting_team() {
    let r = registry();
    // The outgoing cadre cannot stay lead.
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "wang", "2016-05-01"),
    )
    .then_expect_error(out_of_range("lead", LEAD_AMONG));
    // A remaining cadre may be the lead.
    when(
        &r,
        vec![formed(&["wang", "li"], "wang", "2016-01-10")],
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "li", "2016-05-01"),
    )
    .then_expect_events(vec![proposed(&["wang"], &["zhao"], "li", "2016-05-01")]);
    // A cadre outside the team cannot be the lead.
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "chen", "2016-05-01"),
    )
    .then_expect_error(out_of_range("lead", LEAD_AMONG));
}

#[test]
fn propose_handover_keeps_the_team_within_five() {
    let mut w = district();
    for x in ["sun", "zhou", "qian"] {
        w_register_cadre(&mut w, x);
    }
    let four = ["wang", "li", "zhao", "chen"];
    // 4 − 1 + 2 = 5: fine.
    when(
        &w.registry,
        vec![formed(&four, "wang", "2016-01-10")],
        "coord",
        "2016-05-01",
        propose(&["chen"], &["sun", "zhou"], "wang", "2016-05-01"),
    )
    .then_expect_events(vec![proposed(
        &["chen"],
        &["sun", "zhou"],
        "wang",
        "2016-05-01",
    )]);
    // 4 − 1 + 3 = 6: too many.
    when(
        &w.registry,
        vec![formed(&four, "wang", "2016-01-10")],
        "coord",
        "2016-05-01",
        propose(&["chen"], &["sun", "zhou", "qian"], "wang", "2016-05-01"),
    )
    .then_expect_error(out_of_range("cadres", TEAM_SIZE));
}

#[test]
fn only_one_handover_may_be_pending() {
    let r = registry();
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            proposed(&["wang"], &["zhao"], "zhao", "2016-05-01"),
        ],
        "coord",
        "2016-05-02",
        propose(&["wang"], &["li"], "li", "2016-05-02"),
    )
    .then_expect_error(wrong_state(
        "propose_handover",
        "another handover awaits acceptance",
    ));
}

#[test]
fn propose_handover_needs_an_active_pairing_and_a_sound_date_and_reason() {
    let r = registry();
    when(
        &r,
        vec![],
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "zhao", "2016-05-01"),
    )
    .then_expect_error(wrong_state("propose_handover", NOT_ACTIVE));
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "zhao", "2016-05-02"),
    )
    .then_expect_error(in_future("2016-05-02", "2016-05-01"));
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        propose(&["wang"], &["zhao"], "zhao", "2016-01-09"),
    )
    .then_expect_error(DomainError::DateTooEarly {
        date: d("2016-01-09"),
        earliest: d("2016-01-10"),
        what: "start of the current pairing",
    });
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-05-01",
        C::ProposeHandover(ProposeHandover {
            outgoing: team(&["wang"]),
            incoming: team(&["zhao"]),
            lead: c("zhao"),
            date: d("2016-05-01"),
            reason: "长".repeat(201),
        }),
    )
    .then_expect_error(text_error("reason", 200));
}

#[test]
fn the_last_incoming_acceptance_completes_the_handover_today() {
    let r = registry();
    when(
        &r,
        vec![
            formed(&["wang", "li"], "wang", "2016-01-10"),
            proposed(&["wang"], &["zhao"], "zhao", "2016-05-01"),
        ],
        "zhao",
        "2016-05-03",
        accept_handover(),
    )
    .then_expect_events(vec![
        handover_accepted("zhao"),
        // Effective the day of the acceptance, not the proposal's date.
        completed(&["li", "zhao"], "zhao", "2016-05-03", &[]),
    ]);
}

#[test]
fn accept_handover_only_by_an_incoming_cadre() {
    let r = registry();
    let given = || {
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            proposed(&["wang"], &["zhao"], "zhao", "2016-05-01"),
        ]
    };
    // The outgoing cadre cannot accept for the incoming one.
    when(&r, given(), "wang", "2016-05-02", accept_handover()).then_expect_error(not_yours(
        "cadre wang is not an incoming cadre awaiting acceptance",
    ));
    // Nor can an unrelated cadre.
    when(&r, given(), "chen", "2016-05-02", accept_handover()).then_expect_error(not_yours(
        "cadre chen is not an incoming cadre awaiting acceptance",
    ));
    // Nor a coordinator's key (not a cadre at all).
    when(&r, given(), "coord", "2016-05-02", accept_handover()).then_expect_error(not_yours(
        "accept_handover is signed by an incoming cadre's own key",
    ));
    // Nothing proposed.
    when(&r, paired_wang(), "zhao", "2016-05-02", accept_handover())
        .then_expect_error(wrong_state("accept_handover", "no handover is proposed"));
    // No pairing.
    when(&r, vec![], "zhao", "2016-05-02", accept_handover())
        .then_expect_error(wrong_state("accept_handover", NOT_ACTIVE));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w_propose(&mut w, &["wang"], &["zhao"], "zhao");
    assert_eq!(
        w.submit("li", "accept_handover", TARGET, json!({}))
            .unwrap_err(),
        not_yours("cadre li is not an incoming cadre awaiting acceptance")
    );
    assert_eq!(
        w.submit("coord", "accept_handover", TARGET, json!({}))
            .unwrap_err(),
        DomainError::RoleNotAllowed {
            command: "accept_handover".into(),
            roles: vec![bangfu_domain::role::Role::Coordinator],
        }
    );
}

#[test]
fn an_incoming_cadre_who_retires_before_accepting_cannot_accept() {
    let mut w = district();
    w.today = "2016-04-01".into();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.today = "2016-05-01".into();
    w_propose(&mut w, &["wang"], &["zhao"], "zhao");
    w.today = "2016-05-02".into();
    w_retire(&mut w, "zhao", "2016-05-02");
    w.today = "2016-05-03".into();
    assert_eq!(
        w.submit("zhao", "accept_handover", TARGET, json!({}))
            .unwrap_err(),
        inactive("zhao", "retired")
    );
}

#[test]
fn handover_from_one_cadre_to_two_jointly() {
    // Two judges take one family over together: both must accept.
    let r = registry();
    let mut given = vec![
        formed(&["wang"], "wang", "2016-01-10"),
        proposed(&["wang"], &["zhao", "chen"], "chen", "2016-05-01"),
    ];
    when(&r, given.clone(), "zhao", "2016-05-02", accept_handover())
        .then_expect_events(vec![handover_accepted("zhao")]);
    given.push(handover_accepted("zhao"));
    // zhao cannot accept twice to complete it alone.
    when(&r, given.clone(), "zhao", "2016-05-03", accept_handover()).then_expect_error(not_yours(
        "cadre zhao is not an incoming cadre awaiting acceptance",
    ));
    when(&r, given.clone(), "chen", "2016-05-03", accept_handover()).then_expect_events(vec![
        handover_accepted("chen"),
        completed(&["chen", "zhao"], "chen", "2016-05-03", &[]),
    ]);

    // Through signed statements.
    let mut w = district();
    w.today = "2016-04-01".into();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.today = "2016-05-01".into();
    assert_eq!(
        typed(&w_propose(&mut w, &["wang"], &["zhao", "chen"], "chen")),
        vec![E::HandoverProposed(HandoverProposed {
            outgoing: team(&["wang"]),
            incoming: team(&["zhao", "chen"]),
            lead: c("chen"),
            date: d("2016-05-01"),
            reason: "退休".into(),
        })]
    );
    w.today = "2016-05-02".into();
    let ev = w.ok("zhao", "accept_handover", TARGET, json!({}));
    assert_eq!(typed(&ev), vec![handover_accepted("zhao")]);
    // Until the handover completes, wang stays responsible and the incoming may not record.
    assert_eq!(
        w.submit(
            "zhao",
            "record_visit",
            TARGET,
            visit_args("v0", "2016-05-02")
        )
        .unwrap_err(),
        not_paired("zhao")
    );
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-05-02"),
    );
    w.today = "2016-05-04".into();
    let ev = w.ok("chen", "accept_handover", TARGET, json!({}));
    assert_eq!(
        typed(&ev),
        vec![
            handover_accepted("chen"),
            completed(&["chen", "zhao"], "chen", "2016-05-04", &[]),
        ]
    );
    // Now both incoming record, and the outgoing cannot.
    w.ok(
        "zhao",
        "record_visit",
        TARGET,
        visit_args("v2", "2016-05-04"),
    );
    w.ok(
        "chen",
        "record_visit",
        TARGET,
        visit_args("v3", "2016-05-04"),
    );
    assert_eq!(
        w.submit(
            "wang",
            "record_visit",
            TARGET,
            visit_args("v4", "2016-05-04")
        )
        .unwrap_err(),
        not_paired("wang")
    );
    // A new handover may be proposed once this one completed.
    w_propose(&mut w, &["zhao"], &["li"], "chen");
}

#[test]
fn a_retired_cadre_is_handed_over_so_the_help_does_not_lapse() {
    let mut w = district();
    w.today = "2016-04-01".into();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w_retire(&mut w, "wang", "2016-04-01");
    w.today = "2016-04-05".into();
    let ev = w_propose(&mut w, &["wang"], &["zhao"], "zhao");
    assert_eq!(ev[0].event_type, "HandoverProposed");
    // The retired cadre is not asked to accept anything, and cannot.
    assert_eq!(
        w.submit("wang", "accept_handover", TARGET, json!({}))
            .unwrap_err(),
        not_yours("cadre wang is not an incoming cadre awaiting acceptance")
    );
    w.today = "2016-04-06".into();
    let ev = w.ok("zhao", "accept_handover", TARGET, json!({}));
    assert_eq!(
        typed(&ev),
        vec![
            handover_accepted("zhao"),
            completed(&["zhao"], "zhao", "2016-04-06", &[]),
        ]
    );
    w.ok(
        "zhao",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-04-06"),
    );
}

#[test]
fn handover_carries_open_requests_of_outgoing_cadres_to_the_new_lead() {
    let r = registry();
    let mut given = vec![
        formed(&["wang", "li"], "wang", "2016-01-10"),
        // r1: dispatched to wang (outgoing) — carried.
        raised("r1", "household/h1", "2016-02-01"),
        dispatched("r1", "wang"),
        // r2: accepted by wang (outgoing) — carried.
        raised("r2", "household/h1", "2016-02-01"),
        accepted("r2", "wang"),
        // r3: accepted by li, who stays — not carried.
        raised("r3", "household/h1", "2016-02-01"),
        accepted("r3", "li"),
        // r4: raised only — not carried.
        raised("r4", "household/h1", "2016-02-01"),
        // r5: resolved by wang, awaiting the household — not carried (no longer open for him).
        raised("r5", "household/h1", "2016-02-01"),
        accepted("r5", "wang"),
        resolved("r5", "wang", "2016-03-01"),
        // r6: dispatched to chen, not part of the pairing — not carried.
        raised("r6", "person/coord-1", "2016-02-01"),
        dispatched("r6", "chen"),
        // r7: accepted by wang, then closed — not carried.
        raised("r7", "household/h1", "2016-02-01"),
        accepted("r7", "wang"),
        closed("r7"),
        proposed(&["wang"], &["zhao"], "zhao", "2016-05-01"),
    ];
    when(&r, given.clone(), "zhao", "2016-05-02", accept_handover()).then_expect_events(vec![
        handover_accepted("zhao"),
        completed(&["li", "zhao"], "zhao", "2016-05-02", &["r1", "r2"]),
    ]);
    given.push(handover_accepted("zhao"));
    given.push(completed(
        &["li", "zhao"],
        "zhao",
        "2016-05-02",
        &["r1", "r2"],
    ));
    // The new lead now holds r1 and r2 and may resolve them; the outgoing cadre may not.
    when(
        &r,
        given.clone(),
        "zhao",
        "2016-05-10",
        resolve("r1", "2016-05-10"),
    )
    .then_expect_events(vec![resolved("r1", "zhao", "2016-05-10")]);
    when(
        &r,
        given.clone(),
        "zhao",
        "2016-05-10",
        resolve("r2", "2016-05-10"),
    )
    .then_expect_events(vec![resolved("r2", "zhao", "2016-05-10")]);
    when(
        &r,
        given.clone(),
        "wang",
        "2016-05-10",
        resolve("r2", "2016-05-10"),
    )
    .then_expect_error(not_yours(NOT_ACCEPTED_BY_YOU));
    // r3 still belongs to li.
    when(
        &r,
        given.clone(),
        "zhao",
        "2016-05-10",
        resolve("r3", "2016-05-10"),
    )
    .then_expect_error(not_yours(NOT_ACCEPTED_BY_YOU));
    when(
        &r,
        given.clone(),
        "li",
        "2016-05-10",
        resolve("r3", "2016-05-10"),
    )
    .then_expect_events(vec![resolved("r3", "li", "2016-05-10")]);
    // r1, carried as accepted, cannot be accepted again.
    when(&r, given.clone(), "zhao", "2016-05-10", accept("r1"))
        .then_expect_error(wrong_state("accept_request", "accepted"));
    // r6 is still chen's to accept.
    when(&r, given, "chen", "2016-05-10", accept("r6"))
        .then_expect_events(vec![accepted("r6", "chen")]);
}

#[test]
fn handover_carries_requests_through_signed_statements() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "card-h1",
        "raise_request",
        TARGET,
        json!({"request_id": "roof", "kind": "concrete_help", "summary": "房屋漏雨维修", "date": "2016-06-01"}),
    );
    w.ok(
        "card-h1",
        "raise_request",
        TARGET,
        json!({"request_id": "fees", "kind": "order", "summary": "孩子学费", "date": "2016-06-01"}),
    );
    w.ok(
        "coord",
        "dispatch_request",
        TARGET,
        json!({"request_id": "roof", "to": "wang"}),
    );
    w.ok(
        "wang",
        "accept_request",
        TARGET,
        json!({"request_id": "fees"}),
    );
    w_propose(&mut w, &["wang"], &["li"], "li");
    w.today = "2016-06-02".into();
    let ev = w.ok("li", "accept_handover", TARGET, json!({}));
    assert_eq!(
        typed(&ev),
        vec![
            handover_accepted("li"),
            completed(&["li"], "li", "2016-06-02", &["fees", "roof"]),
        ]
    );
    let resolve_args =
        |id: &str| json!({"request_id": id, "outcome": "已办结", "date": "2016-06-02"});
    assert_eq!(
        w.submit("wang", "resolve_request", TARGET, resolve_args("roof"))
            .unwrap_err(),
        not_yours(NOT_ACCEPTED_BY_YOU)
    );
    for id in ["roof", "fees"] {
        let ev = w.ok("li", "resolve_request", TARGET, resolve_args(id));
        assert_eq!(
            typed(&ev),
            vec![E::RequestResolved(RequestResolved {
                request_id: rid(id),
                cadre: c("li"),
                outcome: "已办结".into(),
                date: d("2016-06-02"),
            })]
        );
    }
}

// =============================================================================================
// record_visit (走访)
// =============================================================================================

fn paired_wang_li() -> Vec<E> {
    vec![formed(&["wang", "li"], "wang", "2016-01-10")]
}

#[test]
fn a_paired_cadre_records_a_visit() {
    let r = registry();
    let mut v = visit("v1", "2016-02-05");
    v.kind = VisitKind::Festival;
    v.problems = vec!["医疗".into(), "住房漏雨".into()];
    v.photos = vec![photo(1), photo(2)];
    v.location = Some("乌山社区".into());
    when(
        &r,
        paired_wang_li(),
        "li",
        "2016-02-06",
        C::RecordVisit(v.clone()),
    )
    .then_expect_events(vec![recorded(&v, "li")]);
}

#[test]
fn a_visit_by_an_unpaired_cadre_is_refused() {
    let r = registry();
    when(
        &r,
        paired_wang_li(),
        "zhao",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-02-05")),
    )
    .then_expect_error(not_paired("zhao"));
    // A key that is not a cadre's.
    when(
        &r,
        paired_wang_li(),
        "card-h1",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-02-05")),
    )
    .then_expect_error(not_yours(
        "record_visit is signed by a paired cadre's own key",
    ));
    // No pairing at all.
    when(
        &r,
        vec![],
        "wang",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-02-05")),
    )
    .then_expect_error(wrong_state("record_visit", NOT_ACTIVE));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    assert_eq!(
        w.submit(
            "chen",
            "record_visit",
            TARGET,
            visit_args("v1", "2016-05-01")
        )
        .unwrap_err(),
        not_paired("chen")
    );
    // Another pairing's cadre cannot record here either.
    w.ok(
        "coord",
        "form_pairing",
        "pairing/gulou2016:h2",
        json!({"program": "gulou2016", "household": "h2", "cadres": ["zhao"], "lead": "zhao", "date": "2016-01-10"}),
    );
    assert_eq!(
        w.submit(
            "zhao",
            "record_visit",
            TARGET,
            visit_args("v1", "2016-05-01")
        )
        .unwrap_err(),
        not_paired("zhao")
    );
}

#[test]
fn a_visit_by_a_retired_cadre_is_refused() {
    let mut w = district();
    w_form(&mut w, &["wang", "li"], "wang", "2016-01-10");
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-04-01"),
    );
    w_retire(&mut w, "wang", "2016-05-01");
    assert_eq!(
        w.submit(
            "wang",
            "record_visit",
            TARGET,
            visit_args("v2", "2016-05-20")
        )
        .unwrap_err(),
        inactive("wang", "retired")
    );
    // Even a visit dated before the retirement.
    assert_eq!(
        w.submit(
            "wang",
            "record_visit",
            TARGET,
            visit_args("v2", "2016-04-20")
        )
        .unwrap_err(),
        inactive("wang", "retired")
    );
    // li, still active, records as usual.
    w.ok("li", "record_visit", TARGET, visit_args("v2", "2016-05-20"));
    // And a transferred-away cadre likewise.
    w_transfer_away(&mut w, "li", "2016-05-25");
    assert_eq!(
        w.submit("li", "record_visit", TARGET, visit_args("v3", "2016-05-26"))
            .unwrap_err(),
        inactive("li", "transferred away")
    );
}

#[test]
fn a_cadre_who_handed_the_household_over_can_no_longer_record() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w_propose(&mut w, &["wang"], &["zhao"], "zhao");
    w.ok("zhao", "accept_handover", TARGET, json!({}));
    assert_eq!(
        w.submit(
            "wang",
            "record_visit",
            TARGET,
            visit_args("v1", "2016-06-01")
        )
        .unwrap_err(),
        not_paired("wang")
    );
    let ev = w.ok(
        "zhao",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-06-01"),
    );
    assert_eq!(ev[0].event_type, "VisitRecorded");
    assert_eq!(ev[0].payload["cadre"], json!("zhao"));

    let r = registry();
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            proposed(&["wang"], &["zhao"], "zhao", "2016-05-01"),
            handover_accepted("zhao"),
            completed(&["zhao"], "zhao", "2016-05-01", &[]),
        ],
        "wang",
        "2016-05-02",
        C::RecordVisit(visit("v9", "2016-05-02")),
    )
    .then_expect_error(not_paired("wang"));
}

#[test]
fn a_visit_dated_in_the_future_is_refused() {
    let r = registry();
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-02-07")),
    )
    .then_expect_error(in_future("2016-02-07", "2016-02-06"));
    let v = visit("v1", "2016-02-06");
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-06",
        C::RecordVisit(v.clone()),
    )
    .then_expect_events(vec![recorded(&v, "wang")]);

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    assert_eq!(
        w.submit(
            "wang",
            "record_visit",
            TARGET,
            visit_args("v1", "2016-06-02")
        )
        .unwrap_err(),
        in_future("2016-06-02", "2016-06-01")
    );
}

/// A ctx for wang recorded at an exact instant.
fn ctx_at(r: &Registry, signer: &str, instant: &str) -> Ctx {
    let mut x = ctx(r, signer, PID, "2016-01-01", 1000);
    x.recorded_at = Timestamp::parse(instant).unwrap();
    x.signed_at = x.recorded_at;
    x
}

#[test]
fn today_is_the_date_in_beijing_of_the_recording() {
    let r = registry();
    // 2016-03-31T16:30Z is 2016-04-01 00:30 in Beijing: a visit dated 04-01 is accepted.
    let v = visit("v1", "2016-04-01");
    when_ctx(
        &r,
        paired_wang(),
        ctx_at(&r, "wang", "2016-03-31T16:30:00.000Z"),
        C::RecordVisit(v.clone()),
    )
    .then_expect_events(vec![recorded(&v, "wang")]);
    // Midnight in Beijing exactly.
    when_ctx(
        &r,
        paired_wang(),
        ctx_at(&r, "wang", "2016-03-31T16:00:00.000Z"),
        C::RecordVisit(v.clone()),
    )
    .then_expect_events(vec![recorded(&v, "wang")]);
    // One millisecond earlier it is still 03-31 in Beijing.
    when_ctx(
        &r,
        paired_wang(),
        ctx_at(&r, "wang", "2016-03-31T15:59:59.999Z"),
        C::RecordVisit(v.clone()),
    )
    .then_expect_error(in_future("2016-04-01", "2016-03-31"));
    // Not the signer's clock: a statement signed "tomorrow" but recorded today is judged by today.
    let mut x = ctx_at(&r, "wang", "2016-03-31T15:00:00.000Z");
    x.signed_at = Timestamp::parse("2016-04-02T04:00:00.000Z").unwrap();
    when_ctx(&r, paired_wang(), x, C::RecordVisit(v))
        .then_expect_error(in_future("2016-04-01", "2016-03-31"));
}

#[test]
fn a_visit_dated_before_the_pairing_started_is_refused() {
    let r = registry();
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-01-09")),
    )
    .then_expect_error(DomainError::DateTooEarly {
        date: d("2016-01-09"),
        earliest: d("2016-01-10"),
        what: "start of the pairing",
    });
    let v = visit("v1", "2016-01-10");
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-06",
        C::RecordVisit(v.clone()),
    )
    .then_expect_events(vec![recorded(&v, "wang")]);
    // An incoming cadre cannot record a visit from before they took the household over.
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            proposed(&["wang"], &["zhao"], "zhao", "2016-05-01"),
            handover_accepted("zhao"),
            completed(&["zhao"], "zhao", "2016-05-02", &[]),
        ],
        "zhao",
        "2016-05-03",
        C::RecordVisit(visit("v2", "2016-05-01")),
    )
    .then_expect_error(DomainError::DateTooEarly {
        date: d("2016-05-01"),
        earliest: d("2016-05-02"),
        what: "handover that made this cadre responsible",
    });
}

/// A cadre who stays in the team through a handover was paired all along: a visit made before the
/// handover and written up a few days later (late, but the program's rules penalise lateness, they
/// do not forbid it) is after the start of the pairing and must be accepted.
#[test]
fn a_remaining_cadre_may_still_record_a_visit_from_before_a_handover() {
    let r = registry();
    let given = vec![
        formed(&["wang", "li"], "wang", "2016-01-10"),
        proposed(&["li"], &["zhao"], "wang", "2016-05-01"),
        handover_accepted("zhao"),
        completed(&["wang", "zhao"], "wang", "2016-05-02", &[]),
    ];
    let v = visit("v1", "2016-04-28");
    when(&r, given, "wang", "2016-05-03", C::RecordVisit(v.clone()))
        .then_expect_events(vec![recorded(&v, "wang")]);
}

#[test]
fn a_visit_id_is_used_once() {
    let r = registry();
    let v = visit("v1", "2016-02-01");
    when(
        &r,
        vec![
            formed(&["wang", "li"], "wang", "2016-01-10"),
            recorded(&v, "wang"),
        ],
        "li",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-02-06")),
    )
    .then_expect_error(DomainError::AlreadyExists {
        what: "visit",
        id: "v1".into(),
    });
    // Even after retraction the id stays taken.
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            recorded(&v, "wang"),
            retracted("v1"),
        ],
        "wang",
        "2016-02-06",
        C::RecordVisit(visit("v1", "2016-02-06")),
    )
    .then_expect_error(DomainError::AlreadyExists {
        what: "visit",
        id: "v1".into(),
    });
}

#[test]
fn a_clear_text_diary_is_refused() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let err = w
        .submit(
            "wang",
            "record_visit",
            TARGET,
            json!({"visit_id": "v1", "date": "2016-05-01", "kind": "routine", "diary": "母亲失明，女儿白血病"}),
        )
        .unwrap_err();
    match err {
        DomainError::BadArgs { command, reason } => {
            assert_eq!(command, "record_visit");
            assert!(reason.contains("must be sealed"), "{reason}");
            assert!(reason.contains("密封"), "{reason}");
        }
        other => panic!("expected BadArgs, got {other:?}"),
    }
    // An object that merely looks like a seal is refused as well.
    let err = w
        .submit(
            "wang",
            "record_visit",
            TARGET,
            json!({"visit_id": "v1", "date": "2016-05-01", "kind": "routine", "diary": {"sealed": "not base64 of 32 bytes"}}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, DomainError::BadArgs { reason, .. } if reason.contains("must be sealed")),
        "{err:?}"
    );
    // A missing diary is refused.
    let err = w
        .submit(
            "wang",
            "record_visit",
            TARGET,
            json!({"visit_id": "v1", "date": "2016-05-01", "kind": "routine"}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, DomainError::BadArgs { reason, .. } if reason.contains("diary")),
        "{err:?}"
    );
    // Nothing was recorded: v1 is still free.
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-05-01"),
    );
}

#[test]
fn photos_are_base64_sha256_hashes() {
    let r = registry();
    let bad = |p: String| {
        let mut v = visit("v1", "2016-02-05");
        v.photos = vec![photo(3), p];
        when(&r, paired_wang(), "wang", "2016-02-06", C::RecordVisit(v)).then_expect_error(
            out_of_range(
                "photos",
                "each photo is the base64 SHA-256 of the image file",
            ),
        );
    };
    bad("IMG_0001.jpg".into());
    // Hex is not the format.
    bad(Hash([9; 32]).to_hex());
    // base64 of 16 bytes is not a SHA-256.
    bad("AAAAAAAAAAAAAAAAAAAAAA==".into());
    // Unpadded base64 of 32 bytes.
    bad(photo(4).trim_end_matches('=').to_owned());
    bad(String::new());

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let mut args = visit_args("v1", "2016-05-01");
    args["photos"] = json!([photo(1), photo(2)]);
    let ev = w.ok("wang", "record_visit", TARGET, args);
    assert_eq!(ev[0].payload["photos"], json!([photo(1), photo(2)]));
}

#[test]
fn problems_photos_and_location_are_limited() {
    let r = registry();
    let run = |problems: Vec<String>, photos: Vec<String>, location: Option<String>| {
        let mut v = visit("v1", "2016-02-05");
        v.problems = problems;
        v.photos = photos;
        v.location = location;
        (
            v.clone(),
            when(&r, paired_wang(), "wang", "2016-02-06", C::RecordVisit(v)),
        )
    };
    let limits = out_of_range(
        "problems / photos",
        "至多 10 个问题、9 张照片 / at most 10 problems and 9 photos",
    );
    let ten: Vec<String> = (0..10).map(|i| format!("问题{i}")).collect();
    let nine: Vec<String> = (0..9).map(photo).collect();
    let (v, res) = run(ten.clone(), nine.clone(), Some("乌山社区".into()));
    res.then_expect_events(vec![recorded(&v, "wang")]);
    let mut eleven = ten.clone();
    eleven.push("问题10".into());
    run(eleven, vec![], None)
        .1
        .then_expect_error(limits.clone());
    let ten_photos: Vec<String> = (0..10).map(photo).collect();
    run(vec![], ten_photos, None)
        .1
        .then_expect_error(limits.clone());
    run(vec![String::new()], vec![], None)
        .1
        .then_expect_error(text_error("problems", 50));
    run(vec!["病".repeat(51)], vec![], None)
        .1
        .then_expect_error(text_error("problems", 50));
    let (v, res) = run(vec!["病".repeat(50)], vec![], None);
    res.then_expect_events(vec![recorded(&v, "wang")]);
    run(vec![], vec![], Some("乌".repeat(51)))
        .1
        .then_expect_error(text_error("location", 50));
    run(vec![], vec![], Some(String::new()))
        .1
        .then_expect_error(text_error("location", 50));
}

#[test]
fn record_visit_is_for_cadres_only() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    assert_eq!(
        w.submit(
            "coord",
            "record_visit",
            TARGET,
            visit_args("v1", "2016-05-01")
        )
        .unwrap_err(),
        DomainError::RoleNotAllowed {
            command: "record_visit".into(),
            roles: vec![bangfu_domain::role::Role::Coordinator],
        }
    );
    // chen's fund-manager key is chen's, but holds no cadre role.
    assert_eq!(
        w.submit("fm", "record_visit", TARGET, visit_args("v1", "2016-05-01"))
            .unwrap_err(),
        DomainError::RoleNotAllowed {
            command: "record_visit".into(),
            roles: vec![bangfu_domain::role::Role::FundManager],
        }
    );
}

// =============================================================================================
// retract_visit, acknowledge_visit
// =============================================================================================

fn with_visit() -> Vec<E> {
    vec![
        formed(&["wang", "li"], "wang", "2016-01-10"),
        recorded(&visit("v1", "2016-02-01"), "wang"),
    ]
}

#[test]
fn retract_visit_only_by_the_recording_cadre_and_only_once() {
    let r = registry();
    when(&r, with_visit(), "wang", "2016-02-02", retract("v1"))
        .then_expect_events(vec![retracted("v1")]);
    // li shares the household but did not record v1.
    when(&r, with_visit(), "li", "2016-02-02", retract("v1")).then_expect_error(not_yours(
        "a visit is retracted only by the cadre who recorded it",
    ));
    when(&r, with_visit(), "zhao", "2016-02-02", retract("v1")).then_expect_error(not_yours(
        "a visit is retracted only by the cadre who recorded it",
    ));
    let mut g = with_visit();
    g.push(retracted("v1"));
    when(&r, g, "wang", "2016-02-03", retract("v1")).then_expect_error(wrong_state(
        "retract_visit",
        "the visit is already retracted",
    ));
    when(&r, with_visit(), "wang", "2016-02-02", retract("v2"))
        .then_expect_error(not_found("visit", "v2"));
    when(
        &r,
        with_visit(),
        "wang",
        "2016-02-02",
        C::RetractVisit(RetractVisit {
            visit_id: vid("v1"),
            reason: String::new(),
        }),
    )
    .then_expect_error(text_error("reason", 200));

    let mut w = district();
    w_form(&mut w, &["wang", "li"], "wang", "2016-01-10");
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-05-01"),
    );
    let args = json!({"visit_id": "v1", "reason": "日期填错 / wrong date"});
    assert_eq!(
        w.submit("li", "retract_visit", TARGET, args.clone())
            .unwrap_err(),
        not_yours("a visit is retracted only by the cadre who recorded it")
    );
    let ev = w.ok("wang", "retract_visit", TARGET, args.clone());
    assert_eq!(typed(&ev), vec![retracted("v1")]);
    assert_eq!(
        w.submit("wang", "retract_visit", TARGET, args).unwrap_err(),
        wrong_state("retract_visit", "the visit is already retracted")
    );
}

#[test]
fn acknowledge_visit_only_with_the_households_own_card() {
    let r = registry();
    when(&r, with_visit(), "card-h1", "2016-02-02", ack_visit("v1")).then_expect_events(vec![
        E::VisitAcknowledged(VisitAcknowledged {
            visit_id: vid("v1"),
        }),
    ]);
    when(&r, with_visit(), "card-h2", "2016-02-02", ack_visit("v1"))
        .then_expect_error(not_yours(CARD_ONLY));
    // The cadre cannot acknowledge their own visit.
    when(&r, with_visit(), "wang", "2016-02-02", ack_visit("v1"))
        .then_expect_error(not_yours(CARD_ONLY));
    when(&r, with_visit(), "card-h1", "2016-02-02", ack_visit("v2"))
        .then_expect_error(not_found("visit", "v2"));
    let mut g = with_visit();
    g.push(retracted("v1"));
    when(&r, g, "card-h1", "2016-02-02", ack_visit("v1")).then_expect_error(wrong_state(
        "acknowledge_visit",
        "the visit is retracted or already acknowledged",
    ));
    let mut g = with_visit();
    g.push(E::VisitAcknowledged(VisitAcknowledged {
        visit_id: vid("v1"),
    }));
    when(&r, g, "card-h1", "2016-02-03", ack_visit("v1")).then_expect_error(wrong_state(
        "acknowledge_visit",
        "the visit is retracted or already acknowledged",
    ));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-05-01"),
    );
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v2", "2016-05-02"),
    );
    let args = |v: &str| json!({ "visit_id": v });
    assert_eq!(
        w.submit("card-h2", "acknowledge_visit", TARGET, args("v1"))
            .unwrap_err(),
        not_yours(CARD_ONLY)
    );
    assert_eq!(
        w.submit("wang", "acknowledge_visit", TARGET, args("v1"))
            .unwrap_err(),
        DomainError::RoleNotAllowed {
            command: "acknowledge_visit".into(),
            roles: vec![bangfu_domain::role::Role::Cadre],
        }
    );
    let ev = w.ok("card-h1", "acknowledge_visit", TARGET, args("v1"));
    assert_eq!(
        typed(&ev),
        vec![E::VisitAcknowledged(VisitAcknowledged {
            visit_id: vid("v1")
        })]
    );
    w.ok(
        "wang",
        "retract_visit",
        TARGET,
        json!({"visit_id": "v2", "reason": "重复录入"}),
    );
    assert_eq!(
        w.submit("card-h1", "acknowledge_visit", TARGET, args("v2"))
            .unwrap_err(),
        wrong_state(
            "acknowledge_visit",
            "the visit is retracted or already acknowledged"
        )
    );
}

#[test]
fn a_replaced_contact_card_can_no_longer_acknowledge() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "wang",
        "record_visit",
        TARGET,
        visit_args("v1", "2016-05-01"),
    );
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
            "acknowledge_visit",
            TARGET,
            json!({"visit_id": "v1"})
        )
        .unwrap_err(),
        not_yours(CARD_ONLY)
    );
    let ev = w.ok(
        "card-h1-new",
        "acknowledge_visit",
        TARGET,
        json!({"visit_id": "v1"}),
    );
    assert_eq!(
        typed(&ev),
        vec![E::VisitAcknowledged(VisitAcknowledged {
            visit_id: vid("v1")
        })]
    );
}

// =============================================================================================
// record_personal_donation, acknowledge_donation
// =============================================================================================

#[test]
fn a_paired_cadre_records_a_cash_donation() {
    let r = registry();
    let x = donate("d1", "2016-02-05", cash(50_000));
    when(
        &r,
        paired_wang_li(),
        "li",
        "2016-02-06",
        C::RecordPersonalDonation(x.clone()),
    )
    .then_expect_events(vec![donated(&x, "li", 50_000)]);
    // The largest amount the format carries.
    let x = donate("d1", "2016-02-05", cash(MAX_FEN));
    when(
        &r,
        paired_wang_li(),
        "li",
        "2016-02-06",
        C::RecordPersonalDonation(x.clone()),
    )
    .then_expect_events(vec![donated(&x, "li", MAX_FEN)]);
}

#[test]
fn an_in_kind_donation_is_valued_at_quantity_times_unit_value() {
    let r = registry();
    let x = donate(
        "d1",
        "2016-02-05",
        Help::InKind {
            items: vec![
                Item {
                    name: "大米 (10 kg)".into(),
                    quantity: 2,
                    unit_value: fen(6_000),
                },
                Item {
                    name: "食用油".into(),
                    quantity: 3,
                    unit_value: fen(4_550),
                },
                Item {
                    name: "棉衣".into(),
                    quantity: 1,
                    unit_value: fen(19_900),
                },
            ],
        },
    );
    // 2×60.00 + 3×45.50 + 1×199.00 = ¥455.50
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-06",
        C::RecordPersonalDonation(x.clone()),
    )
    .then_expect_events(vec![donated(&x, "wang", 45_550)]);

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let ev = w.ok(
        "wang",
        "record_personal_donation",
        TARGET,
        donation_args(
            "d1",
            json!({"form": "in_kind", "items": [
                {"name": "药品", "quantity": 4, "unit_value": 2_575},
                {"name": "牛奶", "quantity": 10, "unit_value": 350},
            ]}),
        ),
    );
    assert_eq!(ev[0].event_type, "PersonalDonationRecorded");
    assert_eq!(ev[0].payload["value"], json!(13_800));
    assert_eq!(ev[0].payload["cadre"], json!("wang"));
}

#[test]
fn donation_amounts_must_be_positive_and_within_two_to_the_53_fen() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let cash_args = |amount: Value| donation_args("d1", json!({"form": "cash", "amount": amount}));
    for (amount, says) in [
        (json!(0), "more than zero"),
        (json!(-5), "more than zero"),
        (json!(-9_007_199_254_740_991_i64), "more than zero"),
    ] {
        let err = w
            .submit(
                "wang",
                "record_personal_donation",
                TARGET,
                cash_args(amount.clone()),
            )
            .unwrap_err();
        match err {
            DomainError::BadArgs { command, reason } => {
                assert_eq!(command, "record_personal_donation");
                assert!(reason.contains(says), "{amount}: {reason}");
            }
            other => panic!("{amount}: expected BadArgs, got {other:?}"),
        }
    }
    // Fractions of a fen are not money (the ledger will not sign a float; nor does the domain take one).
    let err = submit_unsignable(
        &w,
        "wang",
        "record_personal_donation",
        TARGET,
        cash_args(json!(1.5)),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DomainError::BadArgs { command, .. } if command == "record_personal_donation"),
        "{err:?}"
    );
    // 2^53 and beyond: the ledger will not even sign it, and the domain refuses it as well.
    for amount in [
        json!(9_007_199_254_740_992_i64),
        json!(-9_007_199_254_740_992_i64),
    ] {
        let err = submit_unsignable(
            &w,
            "wang",
            "record_personal_donation",
            TARGET,
            cash_args(amount.clone()),
        )
        .unwrap_err();
        match err {
            DomainError::BadArgs { command, reason } => {
                assert_eq!(command, "record_personal_donation");
                assert!(
                    reason.contains("9007199254740991") || reason.contains("more than zero"),
                    "{amount}: {reason}"
                );
            }
            other => panic!("{amount}: expected BadArgs, got {other:?}"),
        }
    }
    // 2^53 − 1 itself is carried.
    let ev = w.ok(
        "wang",
        "record_personal_donation",
        TARGET,
        cash_args(json!(MAX_FEN)),
    );
    assert_eq!(ev[0].payload["value"], json!(MAX_FEN));
}

#[test]
fn in_kind_totals_beyond_two_to_the_53_fen_and_bad_items_are_refused() {
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let in_kind = |items: Value| donation_args("d1", json!({"form": "in_kind", "items": items}));
    let too_much = out_of_range(
        "items",
        "总价值过大 / the total value is beyond 2^53 − 1 fen",
    );
    // 2 × 2^52 = 2^53: each number is allowed, the total is not.
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            in_kind(
                json!([{"name": "金条", "quantity": 2, "unit_value": 4_503_599_627_370_496_i64}])
            ),
        )
        .unwrap_err(),
        too_much
    );
    // The sum of two items that fit crosses the limit.
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            in_kind(json!([
                {"name": "甲", "quantity": 1, "unit_value": MAX_FEN},
                {"name": "乙", "quantity": 1, "unit_value": 1},
            ])),
        )
        .unwrap_err(),
        too_much
    );
    // quantity × unit value overflows i64 itself.
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            in_kind(json!([{"name": "甲", "quantity": 10_000, "unit_value": MAX_FEN}])),
        )
        .unwrap_err(),
        too_much
    );
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            in_kind(json!([]))
        )
        .unwrap_err(),
        out_of_range("items", "列出 1–50 件物品 / list 1–50 items")
    );
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            in_kind(json!([{"name": "米", "quantity": 0, "unit_value": 100}])),
        )
        .unwrap_err(),
        out_of_range(
            "items.quantity",
            "数量应为 1–10000 / a quantity is 1–10000 (got 0)"
        )
    );
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            in_kind(json!([{"name": "", "quantity": 1, "unit_value": 100}])),
        )
        .unwrap_err(),
        text_error("items.name", 50)
    );
    for unit_value in [json!(0), json!(-100)] {
        let err = w
            .submit(
                "wang",
                "record_personal_donation",
                TARGET,
                in_kind(json!([{"name": "米", "quantity": 1, "unit_value": unit_value}])),
            )
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::BadArgs { reason, .. } if reason.contains("more than zero")),
            "{err:?}"
        );
    }
    // Exactly 2^53 − 1 in kind is carried.
    let ev = w.ok(
        "wang",
        "record_personal_donation",
        TARGET,
        in_kind(json!([
            {"name": "甲", "quantity": 1, "unit_value": MAX_FEN - 1},
            {"name": "乙", "quantity": 1, "unit_value": 1},
        ])),
    );
    assert_eq!(ev[0].payload["value"], json!(MAX_FEN));
}

#[test]
fn record_personal_donation_rules() {
    let r = registry();
    let x = donate("d1", "2016-02-05", cash(10_000));
    when(
        &r,
        paired_wang(),
        "zhao",
        "2016-02-06",
        C::RecordPersonalDonation(x.clone()),
    )
    .then_expect_error(not_paired("zhao"));
    when(
        &r,
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            donated(&x, "wang", 10_000),
        ],
        "wang",
        "2016-02-06",
        C::RecordPersonalDonation(donate("d1", "2016-02-06", cash(500))),
    )
    .then_expect_error(DomainError::AlreadyExists {
        what: "donation",
        id: "d1".into(),
    });
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-04",
        C::RecordPersonalDonation(x.clone()),
    )
    .then_expect_error(in_future("2016-02-05", "2016-02-04"));
    when(
        &r,
        vec![],
        "wang",
        "2016-02-06",
        C::RecordPersonalDonation(x),
    )
    .then_expect_error(wrong_state("record_personal_donation", NOT_ACTIVE));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w_retire(&mut w, "wang", "2016-05-01");
    assert_eq!(
        w.submit(
            "wang",
            "record_personal_donation",
            TARGET,
            donation_args("d1", json!({"form": "cash", "amount": 10_000})),
        )
        .unwrap_err(),
        inactive("wang", "retired")
    );
}

#[test]
fn acknowledge_donation_only_with_the_households_card() {
    let r = registry();
    let x = donate("d1", "2016-02-05", cash(10_000));
    let given = || {
        vec![
            formed(&["wang"], "wang", "2016-01-10"),
            donated(&x, "wang", 10_000),
        ]
    };
    let acked = E::DonationAcknowledged(DonationAcknowledged {
        donation_id: did("d1"),
    });
    when(&r, given(), "card-h1", "2016-02-06", ack_donation("d1"))
        .then_expect_events(vec![acked.clone()]);
    when(&r, given(), "card-h3", "2016-02-06", ack_donation("d1"))
        .then_expect_error(not_yours(CARD_ONLY));
    when(&r, given(), "wang", "2016-02-06", ack_donation("d1"))
        .then_expect_error(not_yours(CARD_ONLY));
    when(&r, given(), "card-h1", "2016-02-06", ack_donation("d2"))
        .then_expect_error(not_found("donation", "d2"));
    let mut g = given();
    g.push(acked.clone());
    when(&r, g, "card-h1", "2016-02-07", ack_donation("d1")).then_expect_error(wrong_state(
        "acknowledge_donation",
        "the donation is already acknowledged",
    ));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "wang",
        "record_personal_donation",
        TARGET,
        donation_args("d1", json!({"form": "cash", "amount": 20_000})),
    );
    assert_eq!(
        w.submit(
            "card-h2",
            "acknowledge_donation",
            TARGET,
            json!({"donation_id": "d1"})
        )
        .unwrap_err(),
        not_yours(CARD_ONLY)
    );
    let ev = w.ok(
        "card-h1",
        "acknowledge_donation",
        TARGET,
        json!({"donation_id": "d1"}),
    );
    assert_eq!(typed(&ev), vec![acked]);
}

// =============================================================================================
// Requests (三单 / 办实事)
// =============================================================================================

#[test]
fn raise_request_by_the_households_card_a_cadre_or_a_coordinator() {
    let r = registry();
    when(
        &r,
        paired_wang(),
        "card-h1",
        "2016-02-06",
        raise("r1", "2016-02-06"),
    )
    .then_expect_events(vec![raised("r1", "household/h1", "2016-02-06")]);
    when(
        &r,
        paired_wang(),
        "wang",
        "2016-02-06",
        raise("r1", "2016-02-05"),
    )
    .then_expect_events(vec![raised("r1", "cadre/wang", "2016-02-05")]);
    when(
        &r,
        paired_wang(),
        "coord",
        "2016-02-06",
        raise("r1", "2016-02-06"),
    )
    .then_expect_events(vec![raised("r1", "person/coord-1", "2016-02-06")]);
    // Another household's card cannot raise a request for h1.
    when(
        &r,
        paired_wang(),
        "card-h2",
        "2016-02-06",
        raise("r1", "2016-02-06"),
    )
    .then_expect_error(not_yours("a household raises requests only for itself"));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    let args = |id: &str| json!({"request_id": id, "kind": "order", "summary": "孩子学费", "date": "2016-06-01"});
    assert_eq!(
        w.submit("card-h2", "raise_request", TARGET, args("r1"))
            .unwrap_err(),
        not_yours("a household raises requests only for itself")
    );
    let ev = w.ok("card-h1", "raise_request", TARGET, args("r1"));
    assert_eq!(
        typed(&ev),
        vec![E::RequestRaised(RequestRaised {
            request_id: rid("r1"),
            by: Holder::Household(HouseholdId::new("h1").unwrap()),
            kind: RequestKind::Order,
            summary: "孩子学费".into(),
            date: d("2016-06-01"),
        })]
    );
    assert_eq!(
        w.submit("inspector", "raise_request", TARGET, args("r2"))
            .unwrap_err(),
        DomainError::RoleNotAllowed {
            command: "raise_request".into(),
            roles: vec![bangfu_domain::role::Role::Inspector],
        }
    );
}

#[test]
fn raise_request_rules() {
    let r = registry();
    let mut g = paired_wang();
    g.push(raised("r1", "household/h1", "2016-02-01"));
    when(&r, g, "card-h1", "2016-02-06", raise("r1", "2016-02-06")).then_expect_error(
        DomainError::AlreadyExists {
            what: "request",
            id: "r1".into(),
        },
    );
    when(
        &r,
        paired_wang(),
        "card-h1",
        "2016-02-06",
        raise("r1", "2016-02-07"),
    )
    .then_expect_error(in_future("2016-02-07", "2016-02-06"));
    when(
        &r,
        paired_wang(),
        "card-h1",
        "2016-02-06",
        C::RaiseRequest(RaiseRequest {
            request_id: rid("r1"),
            kind: RequestKind::Order,
            summary: String::new(),
            date: d("2016-02-06"),
        }),
    )
    .then_expect_error(text_error("summary", 200));
    when(
        &r,
        vec![],
        "card-h1",
        "2016-02-06",
        raise("r1", "2016-02-06"),
    )
    .then_expect_error(wrong_state("raise_request", NOT_ACTIVE));
    let mut g = paired_wang();
    g.push(ended("2016-02-01"));
    when(&r, g, "card-h1", "2016-02-06", raise("r1", "2016-02-06"))
        .then_expect_error(wrong_state("raise_request", NOT_ACTIVE));
}

fn with_request() -> Vec<E> {
    vec![
        formed(&["wang", "li"], "wang", "2016-01-10"),
        raised("r1", "household/h1", "2016-02-01"),
    ]
}

fn plus(mut g: Vec<E>, more: Vec<E>) -> Vec<E> {
    g.extend(more);
    g
}

#[test]
fn dispatch_request_to_an_active_cadre() {
    let r = registry();
    when(
        &r,
        with_request(),
        "coord",
        "2016-02-02",
        dispatch("r1", "li"),
    )
    .then_expect_events(vec![dispatched("r1", "li")]);
    // To a party member outside the pairing (支部下单).
    when(
        &r,
        with_request(),
        "coord",
        "2016-02-02",
        dispatch("r1", "chen"),
    )
    .then_expect_events(vec![dispatched("r1", "chen")]);
    // Re-dispatching a dispatched request is allowed.
    when(
        &r,
        plus(with_request(), vec![dispatched("r1", "li")]),
        "coord",
        "2016-02-02",
        dispatch("r1", "wang"),
    )
    .then_expect_events(vec![dispatched("r1", "wang")]);
    when(
        &r,
        with_request(),
        "coord",
        "2016-02-02",
        dispatch("r1", "ghost"),
    )
    .then_expect_error(not_found("cadre", "ghost"));
    when(
        &r,
        with_request(),
        "coord",
        "2016-02-02",
        dispatch("r9", "li"),
    )
    .then_expect_error(not_found("request", "r9"));
    when(
        &r,
        plus(with_request(), vec![accepted("r1", "wang")]),
        "coord",
        "2016-02-02",
        dispatch("r1", "li"),
    )
    .then_expect_error(wrong_state("dispatch_request", "accepted"));
    when(
        &r,
        plus(with_request(), vec![closed("r1")]),
        "coord",
        "2016-02-02",
        dispatch("r1", "li"),
    )
    .then_expect_error(wrong_state("dispatch_request", "closed"));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "card-h1",
        "raise_request",
        TARGET,
        json!({"request_id": "r1", "kind": "order", "summary": "找工作", "date": "2016-06-01"}),
    );
    w_retire(&mut w, "zhao", "2016-05-01");
    w_transfer_away(&mut w, "chen", "2016-05-01");
    assert_eq!(
        w.submit(
            "coord",
            "dispatch_request",
            TARGET,
            json!({"request_id": "r1", "to": "zhao"})
        )
        .unwrap_err(),
        inactive("zhao", "retired")
    );
    assert_eq!(
        w.submit(
            "coord",
            "dispatch_request",
            TARGET,
            json!({"request_id": "r1", "to": "chen"})
        )
        .unwrap_err(),
        inactive("chen", "transferred away")
    );
    assert_eq!(
        w.submit(
            "wang",
            "dispatch_request",
            TARGET,
            json!({"request_id": "r1", "to": "wang"})
        )
        .unwrap_err(),
        DomainError::RoleNotAllowed {
            command: "dispatch_request".into(),
            roles: vec![bangfu_domain::role::Role::Cadre],
        }
    );
}

#[test]
fn accept_request_by_the_dispatched_cadre_or_a_paired_cadre() {
    let r = registry();
    let d_chen = || plus(with_request(), vec![dispatched("r1", "chen")]);
    // Dispatched: only the cadre it was dispatched to, paired or not.
    when(&r, d_chen(), "chen", "2016-02-02", accept("r1"))
        .then_expect_events(vec![accepted("r1", "chen")]);
    when(&r, d_chen(), "wang", "2016-02-02", accept("r1"))
        .then_expect_error(not_yours(NOT_DISPATCHED_TO_YOU));
    // Not dispatched: any paired cadre.
    when(&r, with_request(), "li", "2016-02-02", accept("r1"))
        .then_expect_events(vec![accepted("r1", "li")]);
    when(&r, with_request(), "zhao", "2016-02-02", accept("r1"))
        .then_expect_error(not_yours(NOT_DISPATCHED_TO_YOU));
    when(&r, with_request(), "card-h1", "2016-02-02", accept("r1"))
        .then_expect_error(not_yours("accept_request is signed by a cadre's own key"));
    when(&r, with_request(), "li", "2016-02-02", accept("r9"))
        .then_expect_error(not_found("request", "r9"));
    // Wrong states.
    for (more, state) in [
        (vec![accepted("r1", "wang")], "accepted"),
        (
            vec![accepted("r1", "li"), resolved("r1", "li", "2016-02-03")],
            "resolved",
        ),
        (
            vec![
                accepted("r1", "li"),
                resolved("r1", "li", "2016-02-03"),
                confirmed("r1"),
            ],
            "confirmed",
        ),
        (
            vec![
                accepted("r1", "li"),
                resolved("r1", "li", "2016-02-03"),
                disputed("r1"),
            ],
            "disputed",
        ),
        (vec![closed("r1")], "closed"),
    ] {
        when(
            &r,
            plus(with_request(), more),
            "li",
            "2016-02-05",
            accept("r1"),
        )
        .then_expect_error(wrong_state("accept_request", state));
    }

    // A dispatched cadre who retired cannot accept.
    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "card-h1",
        "raise_request",
        TARGET,
        json!({"request_id": "r1", "kind": "order", "summary": "找工作", "date": "2016-06-01"}),
    );
    w.ok(
        "coord",
        "dispatch_request",
        TARGET,
        json!({"request_id": "r1", "to": "zhao"}),
    );
    w_retire(&mut w, "zhao", "2016-06-01");
    assert_eq!(
        w.submit(
            "zhao",
            "accept_request",
            TARGET,
            json!({"request_id": "r1"})
        )
        .unwrap_err(),
        inactive("zhao", "retired")
    );
}

#[test]
fn resolve_request_by_the_accepting_cadre() {
    let r = registry();
    let acc = || plus(with_request(), vec![accepted("r1", "li")]);
    when(&r, acc(), "li", "2016-02-05", resolve("r1", "2016-02-05"))
        .then_expect_events(vec![resolved("r1", "li", "2016-02-05")]);
    // Another paired cadre did not accept it.
    when(&r, acc(), "wang", "2016-02-05", resolve("r1", "2016-02-05"))
        .then_expect_error(not_yours(NOT_ACCEPTED_BY_YOU));
    when(
        &r,
        acc(),
        "coord",
        "2016-02-05",
        resolve("r1", "2016-02-05"),
    )
    .then_expect_error(not_yours("resolve_request is signed by a cadre's own key"));
    when(&r, acc(), "li", "2016-02-05", resolve("r1", "2016-02-06"))
        .then_expect_error(in_future("2016-02-06", "2016-02-05"));
    when(
        &r,
        acc(),
        "li",
        "2016-02-05",
        C::ResolveRequest(ResolveRequest {
            request_id: rid("r1"),
            outcome: String::new(),
            date: d("2016-02-05"),
        }),
    )
    .then_expect_error(text_error("outcome", 500));
    when(&r, acc(), "li", "2016-02-05", resolve("r9", "2016-02-05"))
        .then_expect_error(not_found("request", "r9"));
    // Wrong states.
    for (more, state) in [
        (vec![], "raised"),
        (vec![dispatched("r1", "li")], "dispatched"),
        (
            vec![accepted("r1", "li"), resolved("r1", "li", "2016-02-03")],
            "resolved",
        ),
        (
            vec![
                accepted("r1", "li"),
                resolved("r1", "li", "2016-02-03"),
                confirmed("r1"),
            ],
            "confirmed",
        ),
        (vec![closed("r1")], "closed"),
    ] {
        when(
            &r,
            plus(with_request(), more),
            "li",
            "2016-02-05",
            resolve("r1", "2016-02-05"),
        )
        .then_expect_error(wrong_state("resolve_request", state));
    }
}

#[test]
fn confirm_or_dispute_a_resolution_with_the_households_card() {
    let r = registry();
    let res = || {
        plus(
            with_request(),
            vec![accepted("r1", "li"), resolved("r1", "li", "2016-02-03")],
        )
    };
    when(&r, res(), "card-h1", "2016-02-04", confirm("r1"))
        .then_expect_events(vec![confirmed("r1")]);
    when(&r, res(), "card-h1", "2016-02-04", dispute("r1"))
        .then_expect_events(vec![disputed("r1")]);
    when(&r, res(), "card-h2", "2016-02-04", confirm("r1")).then_expect_error(not_yours(CARD_ONLY));
    when(&r, res(), "card-h2", "2016-02-04", dispute("r1")).then_expect_error(not_yours(CARD_ONLY));
    // The cadre cannot confirm their own work.
    when(&r, res(), "li", "2016-02-04", confirm("r1")).then_expect_error(not_yours(CARD_ONLY));
    when(
        &r,
        res(),
        "card-h1",
        "2016-02-04",
        C::DisputeResolution(DisputeResolution {
            request_id: rid("r1"),
            reason: String::new(),
        }),
    )
    .then_expect_error(text_error("reason", 200));
    when(&r, res(), "card-h1", "2016-02-04", confirm("r9"))
        .then_expect_error(not_found("request", "r9"));
    // Wrong states.
    for (more, state) in [
        (vec![], "raised"),
        (vec![dispatched("r1", "li")], "dispatched"),
        (vec![accepted("r1", "li")], "accepted"),
        (
            vec![
                accepted("r1", "li"),
                resolved("r1", "li", "2016-02-03"),
                confirmed("r1"),
            ],
            "confirmed",
        ),
        (
            vec![
                accepted("r1", "li"),
                resolved("r1", "li", "2016-02-03"),
                disputed("r1"),
            ],
            "disputed",
        ),
        (vec![closed("r1")], "closed"),
    ] {
        when(
            &r,
            plus(with_request(), more.clone()),
            "card-h1",
            "2016-02-05",
            confirm("r1"),
        )
        .then_expect_error(wrong_state("confirm_resolution", state));
        when(
            &r,
            plus(with_request(), more),
            "card-h1",
            "2016-02-05",
            dispute("r1"),
        )
        .then_expect_error(wrong_state("dispute_resolution", state));
    }
}

#[test]
fn after_a_dispute_a_paired_cadre_resolves_again() {
    let r = registry();
    let disp = || {
        plus(
            with_request(),
            vec![
                accepted("r1", "li"),
                resolved("r1", "li", "2016-02-03"),
                disputed("r1"),
            ],
        )
    };
    // The cadre who resolved it, or another paired cadre.
    when(&r, disp(), "li", "2016-02-05", resolve("r1", "2016-02-05"))
        .then_expect_events(vec![resolved("r1", "li", "2016-02-05")]);
    when(
        &r,
        disp(),
        "wang",
        "2016-02-05",
        resolve("r1", "2016-02-05"),
    )
    .then_expect_events(vec![resolved("r1", "wang", "2016-02-05")]);
    // Not a cadre outside the pairing.
    when(
        &r,
        disp(),
        "zhao",
        "2016-02-05",
        resolve("r1", "2016-02-05"),
    )
    .then_expect_error(not_yours(NOT_ACCEPTED_BY_YOU));
    // Nor one who has handed the household over.
    when(
        &r,
        plus(
            disp(),
            vec![
                proposed(&["li"], &["zhao"], "wang", "2016-02-04"),
                handover_accepted("zhao"),
                completed(&["wang", "zhao"], "wang", "2016-02-04", &[]),
            ],
        ),
        "li",
        "2016-02-05",
        resolve("r1", "2016-02-05"),
    )
    .then_expect_error(not_yours(NOT_ACCEPTED_BY_YOU));
    // Then the household may confirm the second resolution.
    when(
        &r,
        plus(disp(), vec![resolved("r1", "wang", "2016-02-05")]),
        "card-h1",
        "2016-02-06",
        confirm("r1"),
    )
    .then_expect_events(vec![confirmed("r1")]);
}

#[test]
fn close_request_by_a_coordinator() {
    let r = registry();
    for more in [
        vec![],
        vec![dispatched("r1", "li")],
        vec![accepted("r1", "li")],
        vec![accepted("r1", "li"), resolved("r1", "li", "2016-02-03")],
        vec![
            accepted("r1", "li"),
            resolved("r1", "li", "2016-02-03"),
            confirmed("r1"),
        ],
        vec![
            accepted("r1", "li"),
            resolved("r1", "li", "2016-02-03"),
            disputed("r1"),
        ],
    ] {
        when(
            &r,
            plus(with_request(), more),
            "coord",
            "2016-02-05",
            close("r1"),
        )
        .then_expect_events(vec![closed("r1")]);
    }
    when(
        &r,
        plus(with_request(), vec![closed("r1")]),
        "coord",
        "2016-02-05",
        close("r1"),
    )
    .then_expect_error(wrong_state("close_request", "closed"));
    when(&r, with_request(), "coord", "2016-02-05", close("r9"))
        .then_expect_error(not_found("request", "r9"));
    when(
        &r,
        with_request(),
        "coord",
        "2016-02-05",
        C::CloseRequest(CloseRequest {
            request_id: rid("r1"),
            reason: String::new(),
        }),
    )
    .then_expect_error(text_error("reason", 200));

    let mut w = district();
    w_form(&mut w, &["wang"], "wang", "2016-01-10");
    w.ok(
        "card-h1",
        "raise_request",
        TARGET,
        json!({"request_id": "r1", "kind": "order", "summary": "找工作", "date": "2016-06-01"}),
    );
    for signer in ["wang", "card-h1"] {
        let err = w
            .submit(
                signer,
                "close_request",
                TARGET,
                json!({"request_id": "r1", "reason": "不办了"}),
            )
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::RoleNotAllowed { command, .. } if command == "close_request"),
            "{signer}: {err:?}"
        );
    }
}

#[test]
fn the_three_order_workflow_through_signed_statements() {
    // 居民点单 → 支部下单 → 党员接单 → 办结 → 居民评价 (dispute) → 再办 → 确认 → 归档.
    let mut w = district();
    w_form(&mut w, &["wang", "li"], "wang", "2016-01-10");
    let rq = |extra: Value| {
        let mut a = json!({"request_id": "job"});
        a.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        a
    };
    let mut all = vec![];
    all.extend(typed(&w.ok(
        "card-h1",
        "raise_request",
        TARGET,
        rq(json!({"kind": "order", "summary": "女儿找工作", "date": "2016-06-01"})),
    )));
    all.extend(typed(&w.ok(
        "coord",
        "dispatch_request",
        TARGET,
        rq(json!({"to": "li"})),
    )));
    assert_eq!(
        w.submit("wang", "accept_request", TARGET, rq(json!({})))
            .unwrap_err(),
        not_yours(NOT_DISPATCHED_TO_YOU)
    );
    all.extend(typed(&w.ok("li", "accept_request", TARGET, rq(json!({})))));
    assert_eq!(
        w.submit("card-h1", "confirm_resolution", TARGET, rq(json!({})))
            .unwrap_err(),
        wrong_state("confirm_resolution", "accepted")
    );
    all.extend(typed(&w.ok(
        "li",
        "resolve_request",
        TARGET,
        rq(json!({"outcome": "推荐到社区超市", "date": "2016-06-01"})),
    )));
    all.extend(typed(&w.ok(
        "card-h1",
        "dispute_resolution",
        TARGET,
        rq(json!({"reason": "岗位离家太远"})),
    )));
    all.extend(typed(&w.ok(
        "wang",
        "resolve_request",
        TARGET,
        rq(json!({"outcome": "安排到街道图书馆", "date": "2016-06-01"})),
    )));
    all.extend(typed(&w.ok(
        "card-h1",
        "confirm_resolution",
        TARGET,
        rq(json!({})),
    )));
    all.extend(typed(&w.ok(
        "coord",
        "close_request",
        TARGET,
        rq(json!({"reason": "已办结"})),
    )));
    let job = || rid("job");
    assert_eq!(
        all,
        vec![
            E::RequestRaised(RequestRaised {
                request_id: job(),
                by: holder("household/h1"),
                kind: RequestKind::Order,
                summary: "女儿找工作".into(),
                date: d("2016-06-01"),
            }),
            E::RequestDispatched(RequestDispatched {
                request_id: job(),
                to: c("li"),
            }),
            E::RequestAccepted(RequestAccepted {
                request_id: job(),
                cadre: c("li"),
            }),
            E::RequestResolved(RequestResolved {
                request_id: job(),
                cadre: c("li"),
                outcome: "推荐到社区超市".into(),
                date: d("2016-06-01"),
            }),
            E::ResolutionDisputed(ResolutionDisputed {
                request_id: job(),
                reason: "岗位离家太远".into(),
            }),
            E::RequestResolved(RequestResolved {
                request_id: job(),
                cadre: c("wang"),
                outcome: "安排到街道图书馆".into(),
                date: d("2016-06-01"),
            }),
            E::ResolutionConfirmed(ResolutionConfirmed { request_id: job() }),
            E::RequestClosed(RequestClosed {
                request_id: job(),
                reason: "已办结".into(),
            }),
        ]
    );
    assert_eq!(
        w.submit(
            "coord",
            "close_request",
            TARGET,
            rq(json!({"reason": "再关"}))
        )
        .unwrap_err(),
        wrong_state("close_request", "closed")
    );
    // The pairing's stream numbered everything in order: formation was 1.
    assert_eq!(w.aggregates[TARGET].version(), 9);
}
