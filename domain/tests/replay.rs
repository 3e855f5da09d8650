//! The verifier replaying the domain: a small, realistic log built as real ledger entries (signed
//! statements, the events the domain produced, `prev_root` from the growing tree) is checked by
//! `bangfu_ledger::verify::Verifier` with `bangfu_domain::replay::Replayer`. An honest log
//! verifies; a log whose operator altered events, recorded a statement the domain refuses, or
//! replayed a statement is reported at the first bad index, with the reason.

mod common;

use bangfu_domain::aggregates::fund::{Disbursed, FundEvent};
use bangfu_domain::command::Key;
use bangfu_domain::date::Date;
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::error::DomainError;
use bangfu_domain::event::to_ledger;
use bangfu_domain::help::{Help, Purpose};
use bangfu_domain::ids::{CadreId, DisbursementId, HouseholdId};
use bangfu_domain::money::Fen;
use bangfu_domain::registry::Registry;
use bangfu_domain::replay::Replayer;
use bangfu_domain::role::Role;
use bangfu_ledger::Hash;
use bangfu_ledger::entry::{Entry, Event};
use bangfu_ledger::merkle::{CompactRange, leaf_hash};
use bangfu_ledger::signature::PublicKey;
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::verify::{Failure, Verifier, VerifyError};
use common::{at, b64key, key, pk, rules, sealed};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A log under construction: statements are decided by the domain exactly as intake does, and each
/// becomes an entry chained to the root of everything before it.
struct Log {
    registry: Registry,
    aggregates: HashMap<String, AnyAggregate>,
    range: CompactRange,
    entries: Vec<Entry>,
    today: String,
    counter: u64,
}

impl Log {
    fn new() -> Log {
        let mut log = Log {
            registry: Registry::default(),
            aggregates: HashMap::new(),
            range: CompactRange::new(),
            entries: Vec::new(),
            today: "2016-01-04".into(),
            counter: 0,
        };
        log.ok(
            "authority",
            "genesis",
            "authority/gulou",
            json!({"origin": "bangfu.example/gulou", "name": "鼓楼区委组织部",
                   "holder": "person/org-dept", "roles": ["coordinator"]}),
        );
        log
    }

    fn next_id(&mut self) -> StatementId {
        self.counter += 1;
        let mut id = [0x5au8; 16];
        id[8..].copy_from_slice(&self.counter.to_be_bytes());
        StatementId::from_random_bytes(id)
    }

    /// A statement signed by `signer` today, with the given id.
    fn sign_with_id(
        &self,
        id: StatementId,
        signer: &str,
        command: &str,
        target: &str,
        args: Value,
    ) -> Statement {
        let sk = key(signer);
        Statement::sign(
            Body {
                id,
                command: CommandName::parse(command).unwrap(),
                target: Target::parse(target).unwrap(),
                args: args.as_object().cloned().expect("args are an object"),
                signed_at: at(&self.today),
                key: PublicKey::from(&sk),
            },
            &sk,
        )
        .unwrap()
    }

    fn sign(&mut self, signer: &str, command: &str, target: &str, args: Value) -> Statement {
        let id = self.next_id();
        self.sign_with_id(id, signer, command, target, args)
    }

    /// Appends an entry with whatever events the operator claims, without asking the domain.
    fn append_raw(&mut self, statement: Statement, events: Vec<Event>) -> u64 {
        let entry = Entry {
            index: self.range.size(),
            prev_root: self.range.root(),
            recorded_at: at(&self.today),
            statement,
            events,
        };
        self.range.append(entry.leaf_hash().unwrap());
        self.entries.push(entry);
        self.range.size() - 1
    }

    /// Decides the statement and appends it with the events the domain produced.
    fn append(&mut self, statement: Statement) -> Result<Vec<Event>, DomainError> {
        let index = self.range.size();
        let ctx = authorize(&statement, index, at(&self.today), &self.registry)?;
        let target = statement.body.target.to_string();
        let mut aggregate = match self.aggregates.get(&target) {
            Some(a) => a.clone(),
            None => AnyAggregate::new(statement.body.target.aggregate_type())?,
        };
        let events = aggregate.handle(ctx, &statement, &self.registry)?;
        for e in &events {
            self.registry.apply(e).unwrap();
        }
        self.aggregates.insert(target, aggregate);
        self.append_raw(statement, events.clone());
        Ok(events)
    }

    fn ok(&mut self, signer: &str, command: &str, target: &str, args: Value) -> Vec<Event> {
        let statement = self.sign(signer, command, target, args);
        self.append(statement)
            .unwrap_or_else(|e| panic!("{command} on {target} refused: {e}"))
    }

    fn register_key(&mut self, name: &str, holder: &str, roles: &[&str]) {
        self.ok(
            "authority",
            "register_key",
            "authority/gulou",
            json!({"key": b64key(name), "holder": holder, "roles": roles}),
        );
    }

    /// The index of the only entry whose statement is `command`.
    fn index_of(&self, command: &str) -> usize {
        let found: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.statement.body.command.as_str() == command)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(found.len(), 1, "{command}");
        found[0]
    }

    fn bytes(&self) -> Vec<Vec<u8>> {
        self.entries.iter().map(|e| e.to_bytes().unwrap()).collect()
    }
}

/// Gulou in January–February 2016: the authority registers a coordinator, the court, a program,
/// two cadres (one also the fund manager), a household with its contact card; a pairing with a
/// festival visit the household acknowledges; a fund that receives a contribution and pays the
/// household ¥200 through its cadre, which the household acknowledges.
fn gulou() -> Log {
    let mut log = Log::new();
    log.register_key("coord", "person/coord-1", &["coordinator"]);
    log.ok(
        "coord",
        "register_unit",
        "unit/court",
        json!({"name": "区法院", "kind": "bureau"}),
    );
    log.ok(
        "coord",
        "create_program",
        "program/gulou2016",
        json!({"name": "鼓楼区干部结对帮扶 2016", "rules": rules()}),
    );
    for c in ["wang", "chen"] {
        log.ok(
            "coord",
            "register_cadre",
            &format!("cadre/{c}"),
            json!({"name": c, "unit": "court", "rank": "section", "party_member": true, "date": "2016-01-04"}),
        );
        log.register_key(c, &format!("cadre/{c}"), &["cadre"]);
    }
    log.register_key("fm", "cadre/chen", &["fund_manager"]);
    log.ok(
        "coord",
        "register_household",
        "household/h1",
        json!({
            "address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
            "category": "illness",
            "members": 3,
            "sensitive": {"hardship": sealed("尿毒症，每周透析"), "id_number": sealed("350102196001011234")},
            "date": "2016-01-04",
        }),
    );
    log.register_key("card-h1", "household/h1", &["household"]);
    log.ok(
        "coord",
        "set_contact_key",
        "household/h1",
        json!({"key": b64key("card-h1")}),
    );
    log.today = "2016-01-10".into();
    log.ok("coord", "form_pairing", "pairing/gulou2016:h1",
        json!({"program": "gulou2016", "household": "h1", "cadres": ["wang"], "lead": "wang", "date": "2016-01-10"}));
    log.ok(
        "coord",
        "create_fund",
        "fund/court-pool",
        json!({"name": "区法院帮扶资金", "kind": "unit_pool", "unit": "court", "manager": "cadre/chen"}),
    );
    log.today = "2016-02-01".into();
    log.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        json!({"contribution_id": "c1", "source": {"kind": "salary", "cadre": "wang"},
               "amount": 50_000, "date": "2016-01-30"}),
    );
    log.ok(
        "wang",
        "record_visit",
        "pairing/gulou2016:h1",
        json!({"visit_id": "v1", "date": "2016-02-01", "kind": "festival", "diary": sealed("送米送油，询问透析费用")}),
    );
    log.ok(
        "fm",
        "disburse",
        "fund/court-pool",
        json!({"disbursement_id": "d1", "household": "h1", "through": "wang",
               "help": {"form": "cash", "amount": 20_000}, "purpose": "festival", "date": "2016-02-01"}),
    );
    log.today = "2016-02-03".into();
    log.ok(
        "card-h1",
        "acknowledge_visit",
        "pairing/gulou2016:h1",
        json!({"visit_id": "v1"}),
    );
    log.ok(
        "card-h1",
        "acknowledge_disbursement",
        "fund/court-pool",
        json!({"disbursement_id": "d1"}),
    );
    log
}

fn verify(entries: &[Vec<u8>]) -> Result<(u64, Hash, Replayer), VerifyError> {
    let mut v = Verifier::new(Replayer::new());
    for bytes in entries {
        v.push(bytes)?;
    }
    v.finish()
}

/// Rebuilds the chain after entries were altered: every `prev_root` is the root of the (altered)
/// entries before it, as a dishonest operator would write it.
fn rechain(entries: &[Entry]) -> Vec<Vec<u8>> {
    let mut range = CompactRange::new();
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.prev_root = range.root();
            let bytes = e.to_bytes().unwrap();
            range.append(leaf_hash(&bytes));
            bytes
        })
        .collect()
}

fn refused_at(result: Result<(u64, Hash, Replayer), VerifyError>) -> (u64, String) {
    match result {
        Err(VerifyError {
            index,
            failure: Failure::Refused(why),
        }) => (index, why),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok((size, ..)) => panic!("the log of {size} entries verified"),
    }
}

fn not_produced(expected: &str) -> String {
    format!("the entry's events are not what its statement produces (expected {expected})")
}

// ---------------------------------------------------------------------------------------------

#[test]
fn an_honest_log_verifies_and_rebuilds_the_registry() {
    let log = gulou();
    let (size, root, replayer) = verify(&log.bytes()).unwrap();
    assert_eq!(size, log.entries.len() as u64);
    assert_eq!(size, 19);
    assert_eq!(root, log.range.root());
    let registry = replayer.registry;
    let h1 = registry
        .household(&HouseholdId::new("h1").unwrap())
        .unwrap();
    assert_eq!(h1.contact_key, Some(Key(pk("card-h1"))));
    let fm = registry.key(&Key(pk("fm"))).unwrap();
    assert_eq!(
        fm.roles.iter().copied().collect::<Vec<_>>(),
        vec![Role::FundManager]
    );
    assert!(
        registry
            .cadre(&CadreId::new("chen").unwrap())
            .unwrap()
            .status
            .is_active()
    );
    // Every prefix of an honest log is an honest log.
    let (size, root, _) = verify(&log.bytes()[..12]).unwrap();
    assert_eq!(size, 12);
    assert_ne!(root, log.range.root());
}

#[test]
fn a_changed_disbursed_value_is_reported_at_its_entry() {
    let log = gulou();
    let i = log.index_of("disburse");
    let mut entries = log.entries.clone();
    assert_eq!(entries[i].events[0].payload["value"], json!(20_000));
    // The statement pays ¥200.00; the events say ¥20.00 went out.
    entries[i].events[0]
        .payload
        .insert("value".into(), json!(2_000));
    assert_eq!(
        refused_at(verify(&rechain(&entries))),
        (i as u64, not_produced("1 event(s): Disbursed#3"))
    );
    // The help itself changed the same way.
    let mut entries = log.entries.clone();
    entries[i].events[0]
        .payload
        .insert("help".into(), json!({"form": "cash", "amount": 2_000}));
    assert_eq!(
        refused_at(verify(&rechain(&entries))),
        (i as u64, not_produced("1 event(s): Disbursed#3"))
    );
    // Or the cadre who delivered it.
    let mut entries = log.entries.clone();
    entries[i].events[0]
        .payload
        .insert("through".into(), json!("chen"));
    assert_eq!(
        refused_at(verify(&rechain(&entries))),
        (i as u64, not_produced("1 event(s): Disbursed#3"))
    );
}

/// A change an operator makes to an entry's events.
type Alteration = Box<dyn Fn(&mut Vec<Event>)>;

#[test]
fn a_dropped_added_or_renumbered_event_is_reported_at_its_entry() {
    let log = gulou();
    let i = log.index_of("disburse");
    let cases: Vec<(&str, Alteration)> = vec![
        ("dropped", Box::new(|ev| ev.clear())),
        ("sequence changed", Box::new(|ev| ev[0].sequence = 4)),
        (
            "duplicated",
            Box::new(|ev| {
                let mut again = ev[0].clone();
                again.sequence = 4;
                ev.push(again);
            }),
        ),
        (
            "retyped",
            Box::new(|ev| ev[0].event_type = "DisbursementReversed".into()),
        ),
        (
            "moved to another fund",
            Box::new(|ev| ev[0].aggregate_id = "other-pool".into()),
        ),
        (
            "version changed",
            Box::new(|ev| ev[0].event_version = "2.0".into()),
        ),
    ];
    for (what, alter) in cases {
        let mut entries = log.entries.clone();
        alter(&mut entries[i].events);
        assert_eq!(
            refused_at(verify(&rechain(&entries))),
            (i as u64, not_produced("1 event(s): Disbursed#3")),
            "{what}"
        );
    }
}

#[test]
fn a_key_registration_whose_roles_were_widened_is_reported_at_its_entry() {
    let log = gulou();
    // The entry registering wang's cadre key: quietly make it a coordinator key too.
    let i = log
        .entries
        .iter()
        .position(|e| {
            e.statement.body.command.as_str() == "register_key"
                && e.statement.body.args["holder"] == json!("cadre/wang")
        })
        .unwrap();
    let mut entries = log.entries.clone();
    let sequence = entries[i].events[0].sequence;
    assert_eq!(entries[i].events[0].payload["roles"], json!(["cadre"]));
    entries[i].events[0]
        .payload
        .insert("roles".into(), json!(["cadre", "coordinator"]));
    assert_eq!(
        refused_at(verify(&rechain(&entries))),
        (
            i as u64,
            not_produced(&format!("1 event(s): KeyRegistered#{sequence}"))
        )
    );
}

#[test]
fn an_entry_backdated_before_its_visit_is_refused() {
    let log = gulou();
    let i = log.index_of("record_visit");
    let mut entries = log.entries.clone();
    // The visit of 2016-02-01, written into the log as if recorded on 2016-01-20.
    entries[i].recorded_at = at("2016-01-20");
    assert_eq!(
        refused_at(verify(&rechain(&entries))),
        (
            i as u64,
            format!(
                "the domain refuses this statement: {}",
                DomainError::DateInFuture {
                    date: Date::parse("2016-02-01").unwrap(),
                    today: Date::parse("2016-01-20").unwrap(),
                }
            )
        )
    );
}

/// A Disbursed event the operator might write for a refused disbursement.
fn forged_disbursed(sequence: u64, amount: i64) -> Event {
    to_ledger(
        "fund",
        "court-pool",
        sequence,
        &FundEvent::Disbursed(Disbursed {
            disbursement_id: DisbursementId::new("d2").unwrap(),
            household: HouseholdId::new("h1").unwrap(),
            through: CadreId::new("wang").unwrap(),
            help: Help::Cash {
                amount: Fen::new(amount).unwrap(),
            },
            value: Fen::new(amount).unwrap(),
            purpose: Purpose::Living,
            date: Date::parse("2016-02-03").unwrap(),
        }),
    )
}

fn disburse_d2(amount: i64) -> Value {
    json!({"disbursement_id": "d2", "household": "h1", "through": "wang",
           "help": {"form": "cash", "amount": amount}, "purpose": "living", "date": "2016-02-03"})
}

#[test]
fn a_statement_by_an_unregistered_key_is_refused_at_its_index() {
    let mut log = gulou();
    let s = log.sign("stranger", "disburse", "fund/court-pool", disburse_d2(100));
    let i = log.append_raw(s, vec![forged_disbursed(4, 100)]);
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (i, format!("refused: {}", DomainError::KeyUnknown))
    );
}

#[test]
fn a_statement_by_a_revoked_key_is_refused_at_its_index() {
    let mut log = gulou();
    log.ok(
        "coord",
        "revoke_key",
        "authority/gulou",
        json!({"key": b64key("fm"), "reason": "陈某调岗，资金管理移交"}),
    );
    // The honest log up to the revocation verifies.
    assert_eq!(verify(&log.bytes()).unwrap().0, 20);
    // Intake refuses the revoked key …
    let s = log.sign("fm", "disburse", "fund/court-pool", disburse_d2(100));
    let refusal = DomainError::KeyRevoked {
        reason: "陈某调岗，资金管理移交".into(),
    };
    assert_eq!(log.append(s.clone()), Err(refusal.clone()));
    // … and so does the verifier when an operator writes it in anyway.
    let i = log.append_raw(s, vec![forged_disbursed(4, 100)]);
    assert_eq!(i, 20);
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (i, format!("refused: {refusal}"))
    );
}

#[test]
fn a_statement_whose_role_may_not_issue_the_command_is_refused_at_its_index() {
    // wang is a cadre: he delivers fund money but may not pay it out.
    let mut log = gulou();
    let s = log.sign("wang", "disburse", "fund/court-pool", disburse_d2(100));
    let i = log.append_raw(s, vec![forged_disbursed(4, 100)]);
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (
            i,
            format!(
                "refused: {}",
                DomainError::RoleNotAllowed {
                    command: "disburse".into(),
                    roles: vec![Role::Cadre],
                }
            )
        )
    );
    // A household's card may not record a visit to itself.
    let mut log = gulou();
    let s = log.sign(
        "card-h1",
        "record_visit",
        "pairing/gulou2016:h1",
        json!({"visit_id": "v2", "date": "2016-02-03", "kind": "routine", "diary": sealed("自己写的")}),
    );
    let i = log.append_raw(s, vec![]);
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (
            i,
            format!(
                "refused: {}",
                DomainError::RoleNotAllowed {
                    command: "record_visit".into(),
                    roles: vec![Role::Household],
                }
            )
        )
    );
}

#[test]
fn a_replayed_statement_id_is_refused() {
    // The very same signed disbursement, written in a second time.
    let mut log = gulou();
    let j = log.index_of("disburse");
    let again = log.entries[j].statement.clone();
    let mut events = log.entries[j].events.clone();
    events[0].sequence = 5;
    let i = log.append_raw(again.clone(), events);
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (
            i,
            format!(
                "statement id {} was used by an earlier entry (a replayed statement)",
                again.body.id
            )
        )
    );
    // A new statement that reuses an earlier id, even with other content and a valid signature.
    let mut log = gulou();
    let old = log.entries[log.index_of("record_contribution")]
        .statement
        .body
        .id
        .clone();
    let s = log.sign_with_id(
        old.clone(),
        "fm",
        "record_contribution",
        "fund/court-pool",
        json!({"contribution_id": "c2", "source": {"kind": "society", "donor": "鼓楼商会"},
               "amount": 10_000, "date": "2016-02-03"}),
    );
    // The domain alone would take it; only the id gives it away.
    assert!(log.append(s).is_ok());
    let i = log.entries.len() as u64 - 1;
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (
            i,
            format!("statement id {old} was used by an earlier entry (a replayed statement)")
        )
    );
}

#[test]
fn an_overdraft_written_into_the_log_is_refused() {
    let mut log = gulou();
    let s = log.sign("fm", "disburse", "fund/court-pool", disburse_d2(1_000_000));
    let overdraft = DomainError::Overdraft {
        fund: "court-pool".into(),
        balance: 30_000,
        requested: 1_000_000,
    };
    assert_eq!(log.append(s.clone()), Err(overdraft.clone()));
    for events in [vec![forged_disbursed(4, 1_000_000)], vec![]] {
        let mut log = gulou();
        let i = log.append_raw(s.clone(), events);
        assert_eq!(
            refused_at(verify(&log.bytes())),
            (i, format!("the domain refuses this statement: {overdraft}"))
        );
    }
    // Exactly the balance is fine, and the log still verifies afterwards.
    let mut log = gulou();
    log.ok("fm", "disburse", "fund/court-pool", disburse_d2(30_000));
    assert_eq!(verify(&log.bytes()).unwrap().0, 20);
}

#[test]
fn a_disbursement_to_an_unregistered_household_written_into_the_log_is_refused() {
    let mut log = gulou();
    let s = log.sign(
        "fm",
        "disburse",
        "fund/court-pool",
        json!({"disbursement_id": "d2", "household": "h-ghost", "through": "wang",
               "help": {"form": "cash", "amount": 100}, "purpose": "living", "date": "2016-02-03"}),
    );
    let i = log.append_raw(s, vec![forged_disbursed(4, 100)]);
    assert_eq!(
        refused_at(verify(&log.bytes())),
        (
            i,
            format!(
                "the domain refuses this statement: {}",
                DomainError::NotFound {
                    what: "household",
                    id: "h-ghost".into()
                }
            )
        )
    );
}

#[test]
fn the_first_bad_entry_is_the_one_reported() {
    // Two tampered entries: the earlier one is reported.
    let log = gulou();
    let first = log.index_of("record_contribution");
    let second = log.index_of("disburse");
    assert!(first < second);
    let mut entries = log.entries.clone();
    entries[first].events[0]
        .payload
        .insert("amount".into(), json!(5_000_000));
    entries[second].events.clear();
    assert_eq!(
        refused_at(verify(&rechain(&entries))),
        (
            first as u64,
            not_produced("1 event(s): ContributionRecorded#2")
        )
    );
}
