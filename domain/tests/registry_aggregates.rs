//! The registry's aggregates — authority (keys), unit, cadre, household, program — command by
//! command and rule by rule, given-when-then with cqrs-es's `TestFramework`; the role table,
//! enumerated against `authorize`; the `CadreRegistered` 0.9 upcaster; and argument parsing
//! (sealed fields, ids, amounts) through real signed statements in the `World` fixture.

mod common;

use bangfu_domain::aggregates::authority::{
    self as auth, Authority, AuthorityCommand, AuthorityEvent,
};
use bangfu_domain::aggregates::cadre::{
    self as cadre, Cadre, CadreCommand, CadreEvent, CadreStatus, Rank,
};
use bangfu_domain::aggregates::household::{
    self as hh, Address, Category, Household, HouseholdCommand, HouseholdEvent, Sensitive,
};
use bangfu_domain::aggregates::program::{
    self as prog, Program, ProgramCommand, ProgramEvent, Rules,
};
use bangfu_domain::aggregates::unit::{self as unit, Unit, UnitCommand, UnitEvent, UnitKind};
use bangfu_domain::command::{Command, Ctx, Key};
use bangfu_domain::date::Date;
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::error::DomainError;
use bangfu_domain::ids::{CadreId, HouseholdId, ProgramId, UnitId};
use bangfu_domain::registry::Registry;
use bangfu_domain::role::{COMMANDS, Issuer, Role, roles_allow, rule_for};
use bangfu_domain::sealed::Sealed;
use bangfu_ledger::entry::Event;
use bangfu_ledger::signature::PublicKey;
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use common::{World, at, b64key, ctx, holder, key, pk, roles, rules, sealed};
use cqrs_es::test::TestFramework;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn k(name: &str) -> Key {
    Key(pk(name))
}

fn unit_id(s: &str) -> UnitId {
    UnitId::new(s).unwrap()
}

fn cadre_id(s: &str) -> CadreId {
    CadreId::new(s).unwrap()
}

fn household_id(s: &str) -> HouseholdId {
    HouseholdId::new(s).unwrap()
}

fn sealed_value(text: &str) -> Sealed {
    serde_json::from_value(sealed(text)).unwrap()
}

fn cmd<C>(ctx: Ctx, body: C) -> Command<C> {
    Command { ctx, body }
}

/// A statement signed by the deterministic key `signer`, as `World::submit` builds it, for tests
/// that call `authorize` or `AnyAggregate` directly.
fn signed(signer: &str, command: &str, target: &str, args: Value, date: &str) -> Statement {
    static COUNTER: AtomicU64 = AtomicU64::new(1 << 32);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let sk = key(signer);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    Statement::sign(
        Body {
            id: StatementId::from_random_bytes(id),
            command: CommandName::parse(command).unwrap(),
            target: Target::parse(target).unwrap(),
            args: args.as_object().cloned().expect("args are an object"),
            signed_at: at(date),
            key: PublicKey::from(&sk),
        },
        &sk,
    )
    .unwrap()
}

fn expect_err<T: std::fmt::Debug>(r: Result<T, DomainError>) -> DomainError {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e,
    }
}

/// The refusal texts the authority gives for roles that do not fit their holder.
const ROLES_EMPTY: &str = "至少一个角色 / a key needs at least one role";
const ROLES_HOUSEHOLD_CARD: &str =
    "户的联系卡只能持有 household 角色 / a household's card holds the household role only";
const ROLES_CADRE_NO_HOUSEHOLD: &str =
    "干部不能持有 household 角色 / a cadre cannot hold the household role";
const ROLES_PERSON: &str = "household 与 cadre 角色须登记给对应的户或干部 / the household and cadre roles belong to registered households and cadres";
const BAD_ORIGIN: &str = "1–128 bytes, no spaces and no '+' (it names the log's checkpoints)";
const GENESIS_ONCE: &str = "only entry 0 may be the genesis, and only once";
const GENESIS_ENTRY_0: &str = "entry 0 must be the genesis, and the genesis must be entry 0";
const NO_GENESIS_YET: &str = "the log has no genesis yet; entry 0 must be the genesis";
const GENESIS_COORDINATOR: &str =
    "the authority key must hold the coordinator role, or nobody could register keys";

fn text_range(max: usize) -> String {
    format!("需要 1–{max} 个字符 / must be 1–{max} characters")
}

// ---------------------------------------------------------------------------------------------
// Authority: genesis
// ---------------------------------------------------------------------------------------------

fn genesis(origin: &str, roles_: &[Role]) -> AuthorityCommand {
    AuthorityCommand::Genesis(auth::Genesis {
        origin: origin.into(),
        name: "鼓楼区委组织部".into(),
        holder: holder("person/org-dept"),
        roles: roles(roles_),
    })
}

fn log_created() -> AuthorityEvent {
    AuthorityEvent::LogCreated(auth::LogCreated {
        origin: "bangfu.example/gulou".into(),
        name: "鼓楼区委组织部".into(),
        authority_key: k("authority"),
        holder: holder("person/org-dept"),
        roles: roles(&[Role::Coordinator]),
    })
}

fn key_registered(name: &str, holder_: &str, roles_: &[Role]) -> AuthorityEvent {
    AuthorityEvent::KeyRegistered(auth::KeyRegistered {
        key: k(name),
        holder: holder(holder_),
        roles: roles(roles_),
    })
}

fn genesis_ctx(index: u64) -> Ctx {
    ctx(
        &Registry::default(),
        "authority",
        "gulou",
        "2016-01-04",
        index,
    )
}

#[test]
fn genesis_at_entry_0_creates_the_log_with_the_signer_as_authority_key() {
    TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(
            genesis_ctx(0),
            genesis("bangfu.example/gulou", &[Role::Coordinator]),
        ))
        .then_expect_events(vec![log_created()]);
}

#[test]
fn genesis_may_also_hold_other_person_roles_besides_coordinator() {
    TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(
            genesis_ctx(0),
            genesis("g", &[Role::Coordinator, Role::Inspector]),
        ))
        .then_expect_events(vec![AuthorityEvent::LogCreated(auth::LogCreated {
            origin: "g".into(),
            name: "鼓楼区委组织部".into(),
            authority_key: k("authority"),
            holder: holder("person/org-dept"),
            roles: roles(&[Role::Coordinator, Role::Inspector]),
        })]);
}

#[test]
fn genesis_is_refused_a_second_time() {
    TestFramework::<Authority>::with(Registry::default())
        .given(vec![log_created()])
        .when(cmd(
            genesis_ctx(0),
            genesis("bangfu.example/gulou", &[Role::Coordinator]),
        ))
        .then_expect_error(DomainError::Genesis {
            reason: GENESIS_ONCE,
        });
}

#[test]
fn genesis_is_refused_at_any_index_but_0_by_the_aggregate() {
    TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(
            genesis_ctx(3),
            genesis("bangfu.example/gulou", &[Role::Coordinator]),
        ))
        .then_expect_error(DomainError::Genesis {
            reason: GENESIS_ONCE,
        });
}

#[test]
fn authorize_refuses_a_genesis_after_entry_0_and_anything_else_at_entry_0() {
    // A second genesis in a running log.
    let mut w = World::new();
    let err = expect_err(w.submit(
        "authority",
        "genesis",
        "authority/gulou",
        json!({"origin": "again", "name": "x", "holder": "person/org-dept", "roles": ["coordinator"]}),
    ));
    assert_eq!(
        err,
        DomainError::Genesis {
            reason: GENESIS_ENTRY_0
        }
    );
    assert_eq!(w.index, 1, "a refusal leaves the log as it was");

    // Entry 0 of an empty log that is not the genesis, even by a would-be coordinator.
    let st = signed(
        "authority",
        "register_unit",
        "unit/gulou",
        json!({"name": "鼓楼区", "kind": "bureau"}),
        "2016-01-04",
    );
    let err = expect_err(authorize(&st, 0, at("2016-01-04"), &Registry::default()));
    assert_eq!(
        err,
        DomainError::Genesis {
            reason: GENESIS_ENTRY_0
        }
    );

    // A genesis at entry 0 is accepted from a key nobody registered: it registers itself.
    let st = signed(
        "anyone",
        "genesis",
        "authority/gulou",
        json!({}),
        "2016-01-04",
    );
    let c = authorize(&st, 0, at("2016-01-04"), &Registry::default()).unwrap();
    assert_eq!(c.signer, k("anyone"));
    assert_eq!(c.holder, None);
    assert!(c.roles.is_empty());
}

#[test]
fn other_authority_commands_wait_for_the_genesis() {
    TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(
            genesis_ctx(1),
            AuthorityCommand::RegisterKey(auth::RegisterKey {
                key: k("coord"),
                holder: holder("person/coord-1"),
                roles: roles(&[Role::Coordinator]),
            }),
        ))
        .then_expect_error(DomainError::Genesis {
            reason: NO_GENESIS_YET,
        });
}

#[test]
fn genesis_origin_must_name_a_checkpoint() {
    let long = "a".repeat(129);
    for bad in [
        "",
        "gulou log",
        "gulou+2016",
        "tab\there",
        "new\nline",
        long.as_str(),
    ] {
        TestFramework::<Authority>::with(Registry::default())
            .given_no_previous_events()
            .when(cmd(genesis_ctx(0), genesis(bad, &[Role::Coordinator])))
            .then_expect_error(DomainError::OutOfRange {
                field: "origin",
                reason: BAD_ORIGIN.into(),
            });
    }
    // 128 bytes is the limit, and it is allowed.
    let limit = "a".repeat(128);
    let events = TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(genesis_ctx(0), genesis(&limit, &[Role::Coordinator])))
        .inspect_result()
        .unwrap();
    assert!(matches!(&events[..], [AuthorityEvent::LogCreated(e)] if e.origin == limit));
}

#[test]
fn genesis_needs_a_name() {
    let mut g = genesis("g", &[Role::Coordinator]);
    if let AuthorityCommand::Genesis(x) = &mut g {
        x.name = String::new();
    }
    TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(genesis_ctx(0), g))
        .then_expect_error(DomainError::OutOfRange {
            field: "name",
            reason: text_range(100),
        });
}

#[test]
fn genesis_key_must_hold_the_coordinator_role() {
    for rs in [
        &[][..],
        &[Role::Inspector][..],
        &[Role::Evaluator, Role::Witness][..],
    ] {
        TestFramework::<Authority>::with(Registry::default())
            .given_no_previous_events()
            .when(cmd(genesis_ctx(0), genesis("g", rs)))
            .then_expect_error(DomainError::Genesis {
                reason: GENESIS_COORDINATOR,
            });
    }
}

/// BUG (see report): the genesis registers a key without the holder/role checks `register_key`
/// applies. Nothing is registered at entry 0, so a genesis key cannot be a registered household's
/// card or a registered cadre's key; yet `Authority::decide` accepts e.g. a coordinator key held by
/// `household/h1` with the household role — which a coordinator could later make h1's contact card
/// and use to "acknowledge" visits on the household's behalf.
#[test]
fn genesis_key_obeys_the_same_holder_and_role_rules_as_any_key() {
    let g = |holder_: &str, rs: &[Role]| {
        AuthorityCommand::Genesis(auth::Genesis {
            origin: "g".into(),
            name: "鼓楼区委组织部".into(),
            holder: holder(holder_),
            roles: roles(rs),
        })
    };
    let household_card = TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(
            genesis_ctx(0),
            g("household/h1", &[Role::Coordinator, Role::Household]),
        ))
        .inspect_result();
    assert!(
        matches!(
            household_card,
            Err(DomainError::NotFound {
                what: "household",
                ..
            } | DomainError::OutOfRange { field: "roles", .. }
                | DomainError::Genesis { .. })
        ),
        "a genesis key held by an unregistered household with the household role must be refused, got {household_card:?}"
    );
    let person_as_cadre = TestFramework::<Authority>::with(Registry::default())
        .given_no_previous_events()
        .when(cmd(
            genesis_ctx(0),
            g("person/org-dept", &[Role::Coordinator, Role::Cadre]),
        ))
        .inspect_result();
    assert!(
        matches!(
            person_as_cadre,
            Err(DomainError::OutOfRange { field: "roles", .. } | DomainError::Genesis { .. })
        ),
        "the cadre role belongs to a registered cadre, not to the genesis person, got {person_as_cadre:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Authority: register_key
// ---------------------------------------------------------------------------------------------

fn register_key(name: &str, holder_: &str, roles_: &[Role]) -> AuthorityCommand {
    AuthorityCommand::RegisterKey(auth::RegisterKey {
        key: k(name),
        holder: holder(holder_),
        roles: roles(roles_),
    })
}

/// The district's registry (households h1–h3, cadres wang, li, zhao, chen) and a ctx for the
/// authority key at entry `w.index`.
fn district_authority() -> (Registry, Ctx) {
    let w = World::district();
    let c = ctx(&w.registry, "authority", "gulou", "2016-01-04", w.index);
    (w.registry, c)
}

#[test]
fn register_key_registers_people_cadres_and_household_cards() {
    let cases: [(&str, &str, &[Role]); 5] = [
        ("insp-2", "person/insp-2", &[Role::Inspector]),
        (
            "multi",
            "person/multi",
            &[Role::Coordinator, Role::FundManager, Role::Witness],
        ),
        ("wang-2", "cadre/wang", &[Role::Cadre, Role::FundManager]),
        ("wang-fm", "cadre/wang", &[Role::FundManager]),
        ("card-h1-b", "household/h1", &[Role::Household]),
    ];
    for (name, holder_, rs) in cases {
        let (registry, c) = district_authority();
        TestFramework::<Authority>::with(registry)
            .given(vec![log_created()])
            .when(cmd(c, register_key(name, holder_, rs)))
            .then_expect_events(vec![key_registered(name, holder_, rs)]);
    }
}

#[test]
fn register_key_refuses_a_key_registered_already_even_if_revoked() {
    let (registry, c) = district_authority();
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![
            log_created(),
            key_registered("insp-2", "person/insp-2", &[Role::Inspector]),
        ])
        .when(cmd(
            c.clone(),
            register_key("insp-2", "person/other", &[Role::Evaluator]),
        ))
        .then_expect_error(DomainError::AlreadyExists {
            what: "key",
            id: b64key("insp-2"),
        });
    // The authority's own key.
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![log_created()])
        .when(cmd(
            c.clone(),
            register_key("authority", "person/x", &[Role::Inspector]),
        ))
        .then_expect_error(DomainError::AlreadyExists {
            what: "key",
            id: b64key("authority"),
        });
    // A revoked key stays taken: it cannot be brought back under another holder.
    TestFramework::<Authority>::with(registry)
        .given(vec![
            log_created(),
            key_registered("insp-2", "person/insp-2", &[Role::Inspector]),
            AuthorityEvent::KeyRevoked(auth::KeyRevoked {
                key: k("insp-2"),
                reason: "lost".into(),
            }),
        ])
        .when(cmd(
            c,
            register_key("insp-2", "person/insp-2", &[Role::Inspector]),
        ))
        .then_expect_error(DomainError::AlreadyExists {
            what: "key",
            id: b64key("insp-2"),
        });
}

#[test]
fn register_key_refuses_a_key_without_roles() {
    for holder_ in ["person/p", "cadre/wang", "household/h1"] {
        let (registry, c) = district_authority();
        TestFramework::<Authority>::with(registry)
            .given(vec![log_created()])
            .when(cmd(c, register_key("new", holder_, &[])))
            .then_expect_error(DomainError::OutOfRange {
                field: "roles",
                reason: ROLES_EMPTY.into(),
            });
    }
}

#[test]
fn household_role_only_for_a_registered_household_holder() {
    // A person may not hold the household role…
    let (registry, c) = district_authority();
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![log_created()])
        .when(cmd(
            c.clone(),
            register_key("new", "person/p", &[Role::Household]),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "roles",
            reason: ROLES_PERSON.into(),
        });
    // …nor a cadre…
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![log_created()])
        .when(cmd(
            c.clone(),
            register_key("new", "cadre/wang", &[Role::Cadre, Role::Household]),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "roles",
            reason: ROLES_CADRE_NO_HOUSEHOLD.into(),
        });
    // …and a household must be registered before it gets a card.
    TestFramework::<Authority>::with(registry)
        .given(vec![log_created()])
        .when(cmd(
            c,
            register_key("new", "household/ghost", &[Role::Household]),
        ))
        .then_expect_error(DomainError::NotFound {
            what: "household",
            id: "ghost".into(),
        });
}

#[test]
fn a_household_card_holds_the_household_role_only() {
    for rs in [
        &[Role::Household, Role::Inspector][..],
        &[Role::Household, Role::Coordinator][..],
        &[Role::Household, Role::Cadre][..],
        &[Role::Witness][..],
        &[Role::Coordinator][..],
    ] {
        let (registry, c) = district_authority();
        TestFramework::<Authority>::with(registry)
            .given(vec![log_created()])
            .when(cmd(c, register_key("new", "household/h1", rs)))
            .then_expect_error(DomainError::OutOfRange {
                field: "roles",
                reason: ROLES_HOUSEHOLD_CARD.into(),
            });
    }
}

#[test]
fn cadre_role_only_for_a_registered_cadre() {
    let (registry, c) = district_authority();
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![log_created()])
        .when(cmd(
            c.clone(),
            register_key("new", "person/p", &[Role::Cadre]),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "roles",
            reason: ROLES_PERSON.into(),
        });
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![log_created()])
        .when(cmd(
            c.clone(),
            register_key("new", "person/p", &[Role::Coordinator, Role::Cadre]),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "roles",
            reason: ROLES_PERSON.into(),
        });
    // Any key for a cadre holder needs the cadre registered, whatever its roles.
    for rs in [&[Role::Cadre][..], &[Role::FundManager][..]] {
        TestFramework::<Authority>::with(registry.clone())
            .given(vec![log_created()])
            .when(cmd(c.clone(), register_key("new", "cadre/ghost", rs)))
            .then_expect_error(DomainError::NotFound {
                what: "cadre",
                id: "ghost".into(),
            });
    }
}

#[test]
fn register_key_through_the_log_gives_the_key_its_holder_and_roles() {
    let mut w = World::district();
    w.register_key("insp-2", "person/insp-2", &["inspector", "witness"]);
    let state = w.registry.key(&k("insp-2")).unwrap();
    assert_eq!(state.holder, holder("person/insp-2"));
    assert_eq!(state.roles, roles(&[Role::Inspector, Role::Witness]));
    assert_eq!(state.revoked, None);
    // Only a coordinator may register keys.
    let err = expect_err(w.submit(
        "insp-2",
        "register_key",
        "authority/gulou",
        json!({"key": b64key("x"), "holder": "person/x", "roles": ["inspector"]}),
    ));
    assert_eq!(
        err,
        DomainError::RoleNotAllowed {
            command: "register_key".into(),
            roles: vec![Role::Inspector, Role::Witness],
        }
    );
    assert!(w.registry.key(&k("x")).is_none());
}

// ---------------------------------------------------------------------------------------------
// Authority: rotate_key
// ---------------------------------------------------------------------------------------------

fn rotate(new: &str) -> AuthorityCommand {
    AuthorityCommand::RotateKey(auth::RotateKey { new_key: k(new) })
}

#[test]
fn rotate_key_replaces_the_signers_own_key() {
    let (registry, _) = district_authority();
    let c = ctx(&registry, "insp", "gulou", "2016-01-04", 40);
    TestFramework::<Authority>::with(registry)
        .given(vec![
            log_created(),
            key_registered("insp", "person/insp", &[Role::Inspector]),
        ])
        .when(cmd(c, rotate("insp-new")))
        .then_expect_events(vec![AuthorityEvent::KeyRotated(auth::KeyRotated {
            old_key: k("insp"),
            new_key: k("insp-new"),
        })]);
}

#[test]
fn rotate_key_refuses_an_unknown_or_revoked_signer() {
    let (registry, _) = district_authority();
    let stranger = ctx(&registry, "stranger", "gulou", "2016-01-04", 40);
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![log_created()])
        .when(cmd(stranger, rotate("stranger-new")))
        .then_expect_error(DomainError::KeyUnknown);

    // A key already rotated away cannot rotate again (to fork its identity).
    let old = ctx(&registry, "insp", "gulou", "2016-01-04", 40);
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![
            log_created(),
            key_registered("insp", "person/insp", &[Role::Inspector]),
            AuthorityEvent::KeyRotated(auth::KeyRotated {
                old_key: k("insp"),
                new_key: k("insp-new"),
            }),
        ])
        .when(cmd(old.clone(), rotate("insp-fork")))
        .then_expect_error(DomainError::KeyUnknown);

    // Nor can a revoked key.
    TestFramework::<Authority>::with(registry)
        .given(vec![
            log_created(),
            key_registered("insp", "person/insp", &[Role::Inspector]),
            AuthorityEvent::KeyRevoked(auth::KeyRevoked {
                key: k("insp"),
                reason: "stolen".into(),
            }),
        ])
        .when(cmd(old, rotate("insp-thief")))
        .then_expect_error(DomainError::KeyUnknown);
}

#[test]
fn rotate_key_refuses_a_new_key_registered_already() {
    let (registry, _) = district_authority();
    let c = ctx(&registry, "insp", "gulou", "2016-01-04", 40);
    for taken in ["authority", "other", "insp"] {
        TestFramework::<Authority>::with(registry.clone())
            .given(vec![
                log_created(),
                key_registered("insp", "person/insp", &[Role::Inspector]),
                key_registered("other", "person/other", &[Role::Evaluator]),
            ])
            .when(cmd(c.clone(), rotate(taken)))
            .then_expect_error(DomainError::AlreadyExists {
                what: "key",
                id: b64key(taken),
            });
    }
}

#[test]
fn after_rotation_the_old_key_is_refused_and_the_new_one_inherits_holder_and_roles() {
    let mut w = World::district();
    w.register_key("coord-old", "person/coord-2", &["coordinator", "inspector"]);
    let before = w.registry.key(&k("coord-old")).unwrap().clone();

    let ev = w.ok(
        "coord-old",
        "rotate_key",
        "authority/gulou",
        json!({"new_key": b64key("coord-new")}),
    );
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event_type, "KeyRotated");
    assert_eq!(ev[0].payload["old_key"], json!(b64key("coord-old")));
    assert_eq!(ev[0].payload["new_key"], json!(b64key("coord-new")));

    let new = w.registry.key(&k("coord-new")).unwrap();
    assert_eq!(new.holder, before.holder);
    assert_eq!(new.roles, before.roles);
    assert_eq!(new.revoked, None);
    assert_eq!(
        w.registry.key(&k("coord-old")).unwrap().revoked,
        Some(format!("rotated to {}", b64key("coord-new")))
    );

    // The old key's next statement is refused…
    let err = expect_err(w.submit(
        "coord-old",
        "register_unit",
        "unit/cangshan",
        json!({"name": "仓山区", "kind": "bureau"}),
    ));
    assert_eq!(
        err,
        DomainError::KeyRevoked {
            reason: format!("rotated to {}", b64key("coord-new")),
        }
    );
    // …and the new one does what the old one could.
    let ev = w.ok(
        "coord-new",
        "register_unit",
        "unit/cangshan",
        json!({"name": "仓山区", "kind": "bureau"}),
    );
    assert_eq!(ev[0].event_type, "UnitRegistered");
    assert!(w.registry.unit(&unit_id("cangshan")).is_some());
}

#[test]
fn rotate_key_names_only_the_new_key_so_nobody_rotates_someone_elses() {
    let mut w = World::district();
    let err = expect_err(w.submit(
        "coord",
        "rotate_key",
        "authority/gulou",
        json!({"old_key": b64key("wang"), "new_key": b64key("wang-stolen")}),
    ));
    assert!(
        matches!(&err, DomainError::BadArgs { command, reason } if command == "rotate_key" && reason.contains("old_key")),
        "{err:?}"
    );
    assert!(w.registry.key(&k("wang-stolen")).is_none());
    assert_eq!(w.registry.key(&k("wang")).unwrap().revoked, None);
}

// ---------------------------------------------------------------------------------------------
// Authority: revoke_key
// ---------------------------------------------------------------------------------------------

fn revoke(name: &str, reason: &str) -> AuthorityCommand {
    AuthorityCommand::RevokeKey(auth::RevokeKey {
        key: k(name),
        reason: reason.into(),
    })
}

#[test]
fn revoke_key_revokes_a_registered_key() {
    let (registry, c) = district_authority();
    TestFramework::<Authority>::with(registry)
        .given(vec![
            log_created(),
            key_registered("insp", "person/insp", &[Role::Inspector]),
        ])
        .when(cmd(c, revoke("insp", "手机丢失 / phone lost")))
        .then_expect_events(vec![AuthorityEvent::KeyRevoked(auth::KeyRevoked {
            key: k("insp"),
            reason: "手机丢失 / phone lost".into(),
        })]);
}

#[test]
fn revoke_key_refuses_an_unknown_key() {
    let (registry, c) = district_authority();
    TestFramework::<Authority>::with(registry)
        .given(vec![log_created()])
        .when(cmd(c, revoke("nobody", "lost")))
        .then_expect_error(DomainError::NotFound {
            what: "key",
            id: b64key("nobody"),
        });
}

#[test]
fn revoke_key_refuses_a_key_already_revoked_or_rotated_away() {
    let (registry, c) = district_authority();
    let already = DomainError::WrongState {
        command: "revoke_key".into(),
        state: "the key is already revoked".into(),
    };
    TestFramework::<Authority>::with(registry.clone())
        .given(vec![
            log_created(),
            key_registered("insp", "person/insp", &[Role::Inspector]),
            AuthorityEvent::KeyRevoked(auth::KeyRevoked {
                key: k("insp"),
                reason: "lost".into(),
            }),
        ])
        .when(cmd(c.clone(), revoke("insp", "again")))
        .then_expect_error(already.clone());
    TestFramework::<Authority>::with(registry)
        .given(vec![
            log_created(),
            key_registered("insp", "person/insp", &[Role::Inspector]),
            AuthorityEvent::KeyRotated(auth::KeyRotated {
                old_key: k("insp"),
                new_key: k("insp-new"),
            }),
        ])
        .when(cmd(c, revoke("insp", "again")))
        .then_expect_error(already);
}

#[test]
fn revoke_key_needs_a_reason() {
    let (registry, c) = district_authority();
    for reason in [String::new(), "长".repeat(201)] {
        TestFramework::<Authority>::with(registry.clone())
            .given(vec![
                log_created(),
                key_registered("insp", "person/insp", &[Role::Inspector]),
            ])
            .when(cmd(c.clone(), revoke("insp", &reason)))
            .then_expect_error(DomainError::OutOfRange {
                field: "reason",
                reason: text_range(200),
            });
    }
}

#[test]
fn after_revocation_authorize_refuses_the_key() {
    let mut w = World::district();
    // Before: the inspector's statement is authorized.
    let st = signed(
        "inspector",
        "open_campaign",
        "spot_check/c2016",
        json!({}),
        "2016-01-04",
    );
    assert!(authorize(&st, w.index, at("2016-01-04"), &w.registry).is_ok());

    w.ok(
        "coord",
        "revoke_key",
        "authority/gulou",
        json!({"key": b64key("inspector"), "reason": "调离纪委 / left the commission"}),
    );
    let err = expect_err(authorize(&st, w.index, at("2016-01-04"), &w.registry));
    assert_eq!(
        err,
        DomainError::KeyRevoked {
            reason: "调离纪委 / left the commission".into(),
        }
    );
    // A revoked key cannot rotate itself back to life either.
    let err = expect_err(w.submit(
        "inspector",
        "rotate_key",
        "authority/gulou",
        json!({"new_key": b64key("inspector-2")}),
    ));
    assert_eq!(
        err,
        DomainError::KeyRevoked {
            reason: "调离纪委 / left the commission".into(),
        }
    );
    // Revoking it again through the log is refused.
    let err = expect_err(w.submit(
        "coord",
        "revoke_key",
        "authority/gulou",
        json!({"key": b64key("inspector"), "reason": "again"}),
    ));
    assert_eq!(
        err,
        DomainError::WrongState {
            command: "revoke_key".into(),
            state: "the key is already revoked".into(),
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Unit
// ---------------------------------------------------------------------------------------------

fn register_unit(name: &str, kind: UnitKind, parent: Option<&str>) -> UnitCommand {
    UnitCommand::RegisterUnit(unit::RegisterUnit {
        name: name.into(),
        kind,
        parent: parent.map(unit_id),
    })
}

fn unit_ctx(registry: &Registry, id: &str) -> Ctx {
    ctx(registry, "coord", id, "2016-01-04", 50)
}

#[test]
fn register_unit_with_and_without_a_parent() {
    let w = World::district();
    TestFramework::<Unit>::with(w.registry.clone())
        .given_no_previous_events()
        .when(cmd(
            unit_ctx(&w.registry, "cangshan"),
            register_unit("仓山区", UnitKind::Bureau, None),
        ))
        .then_expect_events(vec![UnitEvent::UnitRegistered(unit::UnitRegistered {
            id: unit_id("cangshan"),
            name: "仓山区".into(),
            kind: UnitKind::Bureau,
            parent: None,
        })]);
    TestFramework::<Unit>::with(w.registry.clone())
        .given_no_previous_events()
        .when(cmd(
            unit_ctx(&w.registry, "court-branch"),
            register_unit("法院党支部", UnitKind::PartyBranch, Some("court")),
        ))
        .then_expect_events(vec![UnitEvent::UnitRegistered(unit::UnitRegistered {
            id: unit_id("court-branch"),
            name: "法院党支部".into(),
            kind: UnitKind::PartyBranch,
            parent: Some(unit_id("court")),
        })]);
}

#[test]
fn register_unit_refuses_a_duplicate() {
    let w = World::district();
    TestFramework::<Unit>::with(w.registry.clone())
        .given(vec![UnitEvent::UnitRegistered(unit::UnitRegistered {
            id: unit_id("cangshan"),
            name: "仓山区".into(),
            kind: UnitKind::Bureau,
            parent: None,
        })])
        .when(cmd(
            unit_ctx(&w.registry, "cangshan"),
            register_unit("仓山区 2", UnitKind::Township, None),
        ))
        .then_expect_error(DomainError::AlreadyExists {
            what: "unit",
            id: "cangshan".into(),
        });
}

#[test]
fn register_unit_refuses_an_unknown_parent_or_itself_as_parent() {
    let w = World::district();
    TestFramework::<Unit>::with(w.registry.clone())
        .given_no_previous_events()
        .when(cmd(
            unit_ctx(&w.registry, "branch"),
            register_unit("支部", UnitKind::PartyBranch, Some("nowhere")),
        ))
        .then_expect_error(DomainError::NotFound {
            what: "parent unit",
            id: "nowhere".into(),
        });
    TestFramework::<Unit>::with(w.registry.clone())
        .given_no_previous_events()
        .when(cmd(
            unit_ctx(&w.registry, "loop"),
            register_unit("自己", UnitKind::Other, Some("loop")),
        ))
        .then_expect_error(DomainError::NotFound {
            what: "parent unit",
            id: "loop".into(),
        });
}

#[test]
fn register_unit_needs_a_name() {
    let w = World::district();
    for name in [String::new(), "名".repeat(101)] {
        TestFramework::<Unit>::with(w.registry.clone())
            .given_no_previous_events()
            .when(cmd(
                unit_ctx(&w.registry, "x"),
                register_unit(&name, UnitKind::Other, None),
            ))
            .then_expect_error(DomainError::OutOfRange {
                field: "name",
                reason: text_range(100),
            });
    }
}

#[test]
fn register_unit_through_the_log_refuses_the_duplicate_and_self_parent() {
    let mut w = World::district();
    let err = expect_err(w.submit(
        "coord",
        "register_unit",
        "unit/court",
        json!({"name": "区法院", "kind": "bureau"}),
    ));
    assert_eq!(
        err,
        DomainError::AlreadyExists {
            what: "unit",
            id: "court".into()
        }
    );
    let err = expect_err(w.submit(
        "coord",
        "register_unit",
        "unit/loop",
        json!({"name": "自己", "kind": "other", "parent": "loop"}),
    ));
    assert_eq!(
        err,
        DomainError::NotFound {
            what: "parent unit",
            id: "loop".into()
        }
    );
    assert!(w.registry.unit(&unit_id("loop")).is_none());
    let u = w.registry.unit(&unit_id("court")).unwrap();
    assert_eq!(u.parent, Some(unit_id("gulou")));
    assert_eq!(u.kind, Some(UnitKind::Bureau));
}

// ---------------------------------------------------------------------------------------------
// Cadre
// ---------------------------------------------------------------------------------------------

fn register_cadre(unit_: &str, date: &str) -> CadreCommand {
    CadreCommand::RegisterCadre(cadre::RegisterCadre {
        name: "王法官".into(),
        unit: unit_id(unit_),
        rank: Rank::Section,
        party_member: true,
        date: d(date),
    })
}

fn cadre_registered(id: &str, unit_: &str, date: &str) -> CadreEvent {
    CadreEvent::CadreRegistered(cadre::CadreRegistered {
        id: cadre_id(id),
        name: "王法官".into(),
        unit: unit_id(unit_),
        rank: Rank::Section,
        party_member: true,
        date: d(date),
    })
}

fn transfer(to: Option<&str>, date: &str) -> CadreCommand {
    CadreCommand::TransferCadre(cadre::TransferCadre {
        to_unit: to.map(unit_id),
        date: d(date),
    })
}

fn retire(date: &str) -> CadreCommand {
    CadreCommand::RetireCadre(cadre::RetireCadre { date: d(date) })
}

fn transferred(from: &str, to: Option<&str>, date: &str) -> CadreEvent {
    CadreEvent::CadreTransferred(cadre::CadreTransferred {
        from_unit: unit_id(from),
        to_unit: to.map(unit_id),
        date: d(date),
    })
}

fn cadre_fw(today: &str) -> (TestFramework<Cadre>, Ctx) {
    let w = World::district();
    let c = ctx(&w.registry, "coord", "wu", today, w.index);
    (TestFramework::<Cadre>::with(w.registry), c)
}

#[test]
fn register_cadre_in_a_registered_unit() {
    let (fw, c) = cadre_fw("2016-01-04");
    fw.given_no_previous_events()
        .when(cmd(c, register_cadre("court", "2016-01-04")))
        .then_expect_events(vec![cadre_registered("wu", "court", "2016-01-04")]);
}

#[test]
fn register_cadre_refuses_an_unknown_unit() {
    let (fw, c) = cadre_fw("2016-01-04");
    fw.given_no_previous_events()
        .when(cmd(c, register_cadre("nowhere", "2016-01-04")))
        .then_expect_error(DomainError::NotFound {
            what: "unit",
            id: "nowhere".into(),
        });
}

#[test]
fn register_cadre_refuses_a_date_after_today_in_china() {
    let (fw, c) = cadre_fw("2016-01-04");
    fw.given_no_previous_events()
        .when(cmd(c, register_cadre("court", "2016-01-05")))
        .then_expect_error(DomainError::DateInFuture {
            date: d("2016-01-05"),
            today: d("2016-01-04"),
        });
}

#[test]
fn register_cadre_refuses_a_duplicate_and_an_empty_name() {
    let (fw, c) = cadre_fw("2016-01-04");
    fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
        .when(cmd(c, register_cadre("gulou", "2016-01-04")))
        .then_expect_error(DomainError::AlreadyExists {
            what: "cadre",
            id: "wu".into(),
        });
    let (fw, c) = cadre_fw("2016-01-04");
    fw.given_no_previous_events()
        .when(cmd(
            c,
            CadreCommand::RegisterCadre(cadre::RegisterCadre {
                name: String::new(),
                unit: unit_id("court"),
                rank: Rank::Staff,
                party_member: false,
                date: d("2016-01-04"),
            }),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "name",
            reason: text_range(50),
        });
}

#[test]
fn transfer_to_another_unit() {
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
        .when(cmd(c, transfer(Some("gulou"), "2016-05-01")))
        .then_expect_events(vec![transferred("court", Some("gulou"), "2016-05-01")]);
}

#[test]
fn transfer_away_from_the_jurisdiction() {
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
        .when(cmd(c, transfer(None, "2016-05-01")))
        .then_expect_events(vec![transferred("court", None, "2016-05-01")]);
}

#[test]
fn transfers_through_the_log_move_the_unit_or_end_the_cadres_duties() {
    let mut w = World::district();
    w.today = "2016-06-01".into();
    w.ok(
        "coord",
        "transfer_cadre",
        "cadre/wang",
        json!({"to_unit": "gulou", "date": "2016-03-01"}),
    );
    let wang = w.registry.cadre(&cadre_id("wang")).unwrap();
    assert_eq!(wang.unit, Some(unit_id("gulou")));
    assert_eq!(wang.status, CadreStatus::Active);

    w.ok(
        "coord",
        "transfer_cadre",
        "cadre/li",
        json!({"date": "2016-05-01"}),
    );
    let li = w.registry.cadre(&cadre_id("li")).unwrap();
    assert_eq!(
        li.status,
        CadreStatus::TransferredAway {
            date: d("2016-05-01")
        }
    );
    assert_eq!(li.unit, Some(unit_id("court")), "the last unit is kept");
    assert!(!li.status.is_active());

    // Once away, neither transferred nor retired again.
    for (command, args) in [
        (
            "transfer_cadre",
            json!({"to_unit": "gulou", "date": "2016-05-20"}),
        ),
        ("retire_cadre", json!({"date": "2016-05-20"})),
    ] {
        let err = expect_err(w.submit("coord", command, "cadre/li", args));
        assert_eq!(
            err,
            DomainError::CadreInactive {
                cadre: "li".into(),
                status: "transferred away",
            }
        );
    }
}

#[test]
fn transfer_to_the_same_unit_is_refused() {
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
        .when(cmd(c, transfer(Some("court"), "2016-05-01")))
        .then_expect_error(DomainError::WrongState {
            command: "transfer_cadre".into(),
            state: "the cadre is already in unit court".into(),
        });
    // Also the unit the cadre was transferred to last.
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![
        cadre_registered("wu", "court", "2016-01-04"),
        transferred("court", Some("gulou"), "2016-02-01"),
    ])
    .when(cmd(c, transfer(Some("gulou"), "2016-05-01")))
    .then_expect_error(DomainError::WrongState {
        command: "transfer_cadre".into(),
        state: "the cadre is already in unit gulou".into(),
    });
}

#[test]
fn transfer_to_an_unknown_unit_is_refused() {
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
        .when(cmd(c, transfer(Some("nowhere"), "2016-05-01")))
        .then_expect_error(DomainError::NotFound {
            what: "unit",
            id: "nowhere".into(),
        });
}

#[test]
fn transfer_and_retirement_cannot_predate_registration_or_follow_today() {
    for command in [transfer(Some("gulou"), "2016-01-03"), retire("2016-01-03")] {
        let (fw, c) = cadre_fw("2016-06-01");
        fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
            .when(cmd(c, command))
            .then_expect_error(DomainError::DateTooEarly {
                date: d("2016-01-03"),
                earliest: d("2016-01-04"),
                what: "registration",
            });
    }
    for command in [transfer(None, "2016-06-02"), retire("2016-06-02")] {
        let (fw, c) = cadre_fw("2016-06-01");
        fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
            .when(cmd(c, command))
            .then_expect_error(DomainError::DateInFuture {
                date: d("2016-06-02"),
                today: d("2016-06-01"),
            });
    }
    // The registration day itself is fine.
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![cadre_registered("wu", "court", "2016-01-04")])
        .when(cmd(c, retire("2016-01-04")))
        .then_expect_events(vec![CadreEvent::CadreRetired(cadre::CadreRetired {
            date: d("2016-01-04"),
        })]);
}

#[test]
fn retire_an_active_cadre() {
    let (fw, c) = cadre_fw("2016-06-01");
    fw.given(vec![
        cadre_registered("wu", "court", "2016-01-04"),
        transferred("court", Some("gulou"), "2016-02-01"),
    ])
    .when(cmd(c, retire("2016-05-31")))
    .then_expect_events(vec![CadreEvent::CadreRetired(cadre::CadreRetired {
        date: d("2016-05-31"),
    })]);
}

#[test]
fn an_inactive_cadre_is_neither_transferred_nor_retired_again() {
    let retired = CadreEvent::CadreRetired(cadre::CadreRetired {
        date: d("2016-03-01"),
    });
    let away = transferred("court", None, "2016-03-01");
    for (history, status) in [(retired, "retired"), (away, "transferred away")] {
        for command in [
            transfer(Some("gulou"), "2016-05-01"),
            transfer(None, "2016-05-01"),
            retire("2016-05-01"),
        ] {
            let (fw, c) = cadre_fw("2016-06-01");
            fw.given(vec![
                cadre_registered("wu", "court", "2016-01-04"),
                history.clone(),
            ])
            .when(cmd(c, command))
            .then_expect_error(DomainError::CadreInactive {
                cadre: "wu".into(),
                status,
            });
        }
    }
}

#[test]
fn an_unregistered_cadre_is_neither_transferred_nor_retired() {
    for command in [transfer(Some("gulou"), "2016-05-01"), retire("2016-05-01")] {
        let (fw, c) = cadre_fw("2016-06-01");
        fw.given_no_previous_events()
            .when(cmd(c, command))
            .then_expect_error(DomainError::WrongState {
                command: "transfer_cadre / retire_cadre".into(),
                state: "the cadre is not registered".into(),
            });
    }
}

/// BUG (see report): a transfer or retirement may be dated before the cadre's last transfer, so the
/// stream says "moved to gulou on 1 March, retired on 1 February" and replaying "who was where as
/// of a date" gives nonsense. Only the registration date is checked.
#[test]
fn transfer_and_retirement_cannot_predate_the_last_transfer() {
    for command in [retire("2016-02-01"), transfer(Some("court"), "2016-02-01")] {
        let (fw, c) = cadre_fw("2016-06-01");
        let result = fw
            .given(vec![
                cadre_registered("wu", "court", "2016-01-04"),
                transferred("court", Some("gulou"), "2016-03-01"),
            ])
            .when(cmd(c, command.clone()))
            .inspect_result();
        assert!(
            matches!(
                result,
                Err(DomainError::DateTooEarly { date, earliest, .. })
                    if date == d("2016-02-01") && earliest == d("2016-03-01")
            ),
            "{command:?} dated before the transfer of 2016-03-01 must be refused, got {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Household
// ---------------------------------------------------------------------------------------------

fn address() -> Address {
    Address {
        district: "鼓楼区".into(),
        street: "华林街道".into(),
        community: "乌山社区".into(),
    }
}

fn sensitive() -> Sensitive {
    Sensitive {
        hardship: sealed_value("尿毒症，每周透析"),
        health: None,
        id_number: sealed_value("350102196001011234"),
        phone: None,
    }
}

fn register_household(members: u32, date: &str) -> HouseholdCommand {
    HouseholdCommand::RegisterHousehold(hh::RegisterHousehold {
        address: address(),
        category: Category::Illness,
        members,
        sensitive: sensitive(),
        date: d(date),
    })
}

fn household_registered(id: &str, date: &str) -> HouseholdEvent {
    HouseholdEvent::HouseholdRegistered(hh::HouseholdRegistered {
        id: household_id(id),
        address: address(),
        category: Category::Illness,
        members: 3,
        sensitive: sensitive(),
        date: d(date),
    })
}

fn status(date: &str, reason: &str) -> hh::ChangeStatus {
    hh::ChangeStatus {
        date: d(date),
        reason: reason.into(),
    }
}

fn exited(date: &str) -> HouseholdEvent {
    HouseholdEvent::HardshipExited(hh::HardshipExited {
        date: d(date),
        reason: "女儿就业 / the daughter found a job".into(),
    })
}

fn returned(date: &str) -> HouseholdEvent {
    HouseholdEvent::HardshipReturned(hh::HardshipReturned {
        date: d(date),
        reason: "病情复发 / relapse".into(),
    })
}

/// The district's registry and a coordinator ctx targeting `household/<id>` on `today`.
fn household_fw(id: &str, today: &str) -> (TestFramework<Household>, Ctx) {
    let w = World::district();
    let c = ctx(&w.registry, "coord", id, today, w.index);
    (TestFramework::<Household>::with(w.registry), c)
}

#[test]
fn register_household_with_sealed_sensitive_facts() {
    let (fw, c) = household_fw("h9", "2016-01-04");
    fw.given_no_previous_events()
        .when(cmd(c, register_household(3, "2016-01-04")))
        .then_expect_events(vec![household_registered("h9", "2016-01-04")]);
}

#[test]
fn register_household_members_must_be_1_to_50() {
    for members in [0u32, 51, 1000] {
        let (fw, c) = household_fw("h9", "2016-01-04");
        fw.given_no_previous_events()
            .when(cmd(c, register_household(members, "2016-01-04")))
            .then_expect_error(DomainError::OutOfRange {
                field: "members",
                reason: format!("家庭人口应为 1–50 / a household has 1–50 members (got {members})"),
            });
    }
    for members in [1u32, 50] {
        let (fw, c) = household_fw("h9", "2016-01-04");
        let events = fw
            .given_no_previous_events()
            .when(cmd(c, register_household(members, "2016-01-04")))
            .inspect_result()
            .unwrap();
        assert!(
            matches!(&events[..], [HouseholdEvent::HouseholdRegistered(e)] if e.members == members)
        );
    }
}

#[test]
fn register_household_refuses_a_future_date_an_empty_address_and_a_duplicate() {
    let (fw, c) = household_fw("h9", "2016-01-04");
    fw.given_no_previous_events()
        .when(cmd(c, register_household(3, "2016-02-01")))
        .then_expect_error(DomainError::DateInFuture {
            date: d("2016-02-01"),
            today: d("2016-01-04"),
        });

    let (fw, c) = household_fw("h9", "2016-01-04");
    let mut bad = address();
    bad.community = String::new();
    fw.given_no_previous_events()
        .when(cmd(
            c,
            HouseholdCommand::RegisterHousehold(hh::RegisterHousehold {
                address: bad,
                category: Category::Other,
                members: 2,
                sensitive: sensitive(),
                date: d("2016-01-04"),
            }),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "address.community",
            reason: text_range(50),
        });

    let (fw, c) = household_fw("h9", "2016-01-04");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(c, register_household(3, "2016-01-04")))
        .then_expect_error(DomainError::AlreadyExists {
            what: "household",
            id: "h9".into(),
        });
}

fn household_args(sensitive: Value) -> Value {
    json!({
        "address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
        "category": "illness",
        "members": 3,
        "sensitive": sensitive,
        "date": "2016-01-04",
    })
}

fn assert_refused_as_unsealed(err: DomainError, command: &str) {
    match &err {
        DomainError::BadArgs { command: c, reason } => {
            assert_eq!(c, command);
            assert!(
                reason.contains("must be sealed") && reason.contains("never sent in clear"),
                "the refusal must say the field has to be sealed: {reason}"
            );
        }
        other => panic!("expected BadArgs about sealing, got {other:?}"),
    }
}

#[test]
fn a_sealed_field_sent_in_clear_is_refused_and_never_reaches_the_log() {
    let mut w = World::district();
    let index = w.index;
    let clear_id = household_args(json!({
        "hardship": sealed("尿毒症，每周透析"),
        "id_number": "350102196001011234",
    }));
    let err = expect_err(w.submit("coord", "register_household", "household/h9", clear_id));
    assert_refused_as_unsealed(err, "register_household");

    // An optional sealed field in clear, or a field dressed up as sealed but holding cleartext.
    for sensitive in [
        json!({"hardship": sealed("x"), "id_number": sealed("y"), "phone": "13800000000"}),
        json!({"hardship": {"sealed": "白血病"}, "id_number": sealed("y")}),
        json!({"hardship": sealed("x"), "id_number": sealed("y"), "health": {"illness": "leukaemia"}}),
    ] {
        let err = expect_err(w.submit(
            "coord",
            "register_household",
            "household/h9",
            household_args(sensitive),
        ));
        assert_refused_as_unsealed(err, "register_household");
    }
    assert!(w.registry.household(&household_id("h9")).is_none());
    assert_eq!(w.index, index, "nothing was appended");

    // A correction cannot smuggle cleartext in either.
    let err = expect_err(w.submit(
        "coord",
        "correct_household",
        "household/h1",
        json!({"sensitive": {"hardship": "患白血病", "id_number": sealed("y")}, "reason": "更正"}),
    ));
    assert_refused_as_unsealed(err, "correct_household");

    // The same registration, sealed, goes through.
    let ev = w.ok(
        "coord",
        "register_household",
        "household/h9",
        household_args(json!({"hardship": sealed("x"), "id_number": sealed("350102196001011234")})),
    );
    assert_eq!(ev[0].event_type, "HouseholdRegistered");
    assert_eq!(
        ev[0].payload["sensitive"]["id_number"],
        sealed("350102196001011234")
    );
}

#[test]
fn commands_before_registration_find_no_household() {
    for command in [
        HouseholdCommand::CorrectHousehold(hh::CorrectHousehold {
            address: None,
            category: None,
            members: Some(4),
            sensitive: None,
            reason: "x".into(),
        }),
        HouseholdCommand::SetContactKey(hh::SetContactKey { key: k("card-h1") }),
        HouseholdCommand::ExitHardship(status("2016-01-04", "x")),
        HouseholdCommand::ReturnToHardship(status("2016-01-04", "x")),
    ] {
        let (fw, c) = household_fw("h9", "2016-01-04");
        fw.given_no_previous_events()
            .when(cmd(c, command))
            .then_expect_error(DomainError::NotFound {
                what: "household",
                id: "h9".into(),
            });
    }
}

#[test]
fn correct_household_changes_what_it_names() {
    let (fw, c) = household_fw("h9", "2016-03-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::CorrectHousehold(hh::CorrectHousehold {
                address: None,
                category: Some(Category::Disability),
                members: Some(4),
                sensitive: None,
                reason: "新生儿 / a baby was born".into(),
            }),
        ))
        .then_expect_events(vec![HouseholdEvent::HouseholdCorrected(
            hh::HouseholdCorrected {
                address: None,
                category: Some(Category::Disability),
                members: Some(4),
                sensitive: None,
                reason: "新生儿 / a baby was born".into(),
            },
        )]);
}

#[test]
fn correct_household_refuses_nothing_to_correct_and_bad_values() {
    let (fw, c) = household_fw("h9", "2016-03-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::CorrectHousehold(hh::CorrectHousehold {
                address: None,
                category: None,
                members: None,
                sensitive: None,
                reason: "核对 / checked".into(),
            }),
        ))
        .then_expect_error(DomainError::BadArgs {
            command: "correct_household".into(),
            reason: "nothing to correct: give address, category, members or sensitive".into(),
        });

    let (fw, c) = household_fw("h9", "2016-03-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::CorrectHousehold(hh::CorrectHousehold {
                address: None,
                category: None,
                members: Some(0),
                sensitive: None,
                reason: "x".into(),
            }),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "members",
            reason: "家庭人口应为 1–50 / a household has 1–50 members (got 0)".into(),
        });

    let (fw, c) = household_fw("h9", "2016-03-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::CorrectHousehold(hh::CorrectHousehold {
                address: None,
                category: Some(Category::LaidOff),
                members: None,
                sensitive: None,
                reason: String::new(),
            }),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "reason",
            reason: text_range(200),
        });
}

#[test]
fn correct_household_through_the_log_keeps_what_it_does_not_name() {
    let mut w = World::district();
    w.ok(
        "coord",
        "correct_household",
        "household/h1",
        json!({"members": 4, "reason": "新生儿"}),
    );
    let h = w.registry.household(&household_id("h1")).unwrap();
    assert_eq!(h.members, 4);
    assert_eq!(h.category, Some(Category::Illness));
    assert_eq!(h.address, Some(address()));
}

fn set_contact(name: &str) -> HouseholdCommand {
    HouseholdCommand::SetContactKey(hh::SetContactKey { key: k(name) })
}

#[test]
fn set_contact_key_takes_a_household_key_registered_to_this_household() {
    // card-h1 is registered to household/h1 with the household role in the district.
    let (fw, c) = household_fw("h1", "2016-01-04");
    fw.given(vec![household_registered("h1", "2016-01-04")])
        .when(cmd(c, set_contact("card-h1")))
        .then_expect_events(vec![HouseholdEvent::ContactKeySet(hh::ContactKeySet {
            key: k("card-h1"),
        })]);
}

#[test]
fn set_contact_key_refuses_any_other_key() {
    let not_ours = |name: &str| DomainError::NotFound {
        what: "household key registered to this household",
        id: b64key(name),
    };
    // Another household's card, a cadre's key, a coordinator's key, a key nobody registered.
    for name in ["card-h2", "wang", "coord", "authority", "nobody"] {
        let (fw, c) = household_fw("h1", "2016-01-04");
        fw.given(vec![household_registered("h1", "2016-01-04")])
            .when(cmd(c, set_contact(name)))
            .then_expect_error(not_ours(name));
    }
    // h1's own card once it is revoked.
    let mut w = World::district();
    w.ok(
        "coord",
        "revoke_key",
        "authority/gulou",
        json!({"key": b64key("card-h1"), "reason": "卡片遗失 / card lost"}),
    );
    let c = ctx(&w.registry, "coord", "h1", "2016-01-04", w.index);
    TestFramework::<Household>::with(w.registry.clone())
        .given(vec![household_registered("h1", "2016-01-04")])
        .when(cmd(c, set_contact("card-h1")))
        .then_expect_error(not_ours("card-h1"));
}

#[test]
fn set_contact_key_through_the_log_records_the_card() {
    let mut w = World::district();
    w.register_key("card-h1-new", "household/h1", &["household"]);
    w.ok(
        "coord",
        "set_contact_key",
        "household/h1",
        json!({"key": b64key("card-h1-new")}),
    );
    assert_eq!(
        w.registry
            .household(&household_id("h1"))
            .unwrap()
            .contact_key,
        Some(k("card-h1-new"))
    );
    let err = expect_err(w.submit(
        "coord",
        "set_contact_key",
        "household/h2",
        json!({"key": b64key("card-h1-new")}),
    ));
    assert_eq!(
        err,
        DomainError::NotFound {
            what: "household key registered to this household",
            id: b64key("card-h1-new"),
        }
    );
    assert_eq!(
        w.registry
            .household(&household_id("h2"))
            .unwrap()
            .contact_key,
        Some(k("card-h2"))
    );
}

#[test]
fn exit_hardship_then_return() {
    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::ExitHardship(status(
                "2016-03-01",
                "女儿就业 / the daughter found a job",
            )),
        ))
        .then_expect_events(vec![exited("2016-03-01")]);

    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![
        household_registered("h9", "2016-01-04"),
        exited("2016-03-01"),
    ])
    .when(cmd(
        c,
        HouseholdCommand::ReturnToHardship(status("2016-03-01", "病情复发 / relapse")),
    ))
    .then_expect_events(vec![returned("2016-03-01")]);

    // After a return it may exit again.
    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![
        household_registered("h9", "2016-01-04"),
        exited("2016-03-01"),
        returned("2016-04-01"),
    ])
    .when(cmd(
        c,
        HouseholdCommand::ExitHardship(status("2016-05-01", "女儿就业 / the daughter found a job")),
    ))
    .then_expect_events(vec![exited("2016-05-01")]);
}

#[test]
fn exit_hardship_refuses_an_exited_household_and_a_future_date() {
    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![
        household_registered("h9", "2016-01-04"),
        exited("2016-03-01"),
    ])
    .when(cmd(
        c,
        HouseholdCommand::ExitHardship(status("2016-04-01", "x")),
    ))
    .then_expect_error(DomainError::HouseholdExited {
        household: "h9".into(),
    });

    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::ExitHardship(status("2016-06-02", "x")),
        ))
        .then_expect_error(DomainError::DateInFuture {
            date: d("2016-06-02"),
            today: d("2016-06-01"),
        });

    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::ExitHardship(status("2016-05-01", "")),
        ))
        .then_expect_error(DomainError::OutOfRange {
            field: "reason",
            reason: text_range(200),
        });
}

#[test]
fn return_to_hardship_needs_an_exit_before_it() {
    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::ReturnToHardship(status("2016-04-01", "x")),
        ))
        .then_expect_error(DomainError::WrongState {
            command: "return_to_hardship".into(),
            state: "the household is still in hardship".into(),
        });

    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![
        household_registered("h9", "2016-01-04"),
        exited("2016-03-01"),
        returned("2016-04-01"),
    ])
    .when(cmd(
        c,
        HouseholdCommand::ReturnToHardship(status("2016-05-01", "x")),
    ))
    .then_expect_error(DomainError::WrongState {
        command: "return_to_hardship".into(),
        state: "the household is still in hardship".into(),
    });

    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![
        household_registered("h9", "2016-01-04"),
        exited("2016-03-01"),
    ])
    .when(cmd(
        c,
        HouseholdCommand::ReturnToHardship(status("2016-02-28", "x")),
    ))
    .then_expect_error(DomainError::DateTooEarly {
        date: d("2016-02-28"),
        earliest: d("2016-03-01"),
        what: "exit from hardship",
    });

    let (fw, c) = household_fw("h9", "2016-06-01");
    fw.given(vec![
        household_registered("h9", "2016-01-04"),
        exited("2016-03-01"),
    ])
    .when(cmd(
        c,
        HouseholdCommand::ReturnToHardship(status("2016-06-02", "x")),
    ))
    .then_expect_error(DomainError::DateInFuture {
        date: d("2016-06-02"),
        today: d("2016-06-01"),
    });
}

#[test]
fn exit_and_return_through_the_log_move_the_household_in_and_out_of_hardship() {
    let mut w = World::district();
    w.today = "2016-06-01".into();
    w.ok(
        "coord",
        "exit_hardship",
        "household/h1",
        json!({"date": "2016-03-01", "reason": "女儿就业"}),
    );
    let h = w.registry.household(&household_id("h1")).unwrap();
    assert_eq!(h.exited_on, Some(d("2016-03-01")));
    assert!(!h.in_hardship());
    w.ok(
        "coord",
        "return_to_hardship",
        "household/h1",
        json!({"date": "2016-04-01", "reason": "病情复发"}),
    );
    let h = w.registry.household(&household_id("h1")).unwrap();
    assert_eq!(h.exited_on, None);
    assert!(h.in_hardship());
}

/// BUG (see report): `exit_hardship` checks only "not in the future", so a household registered
/// on 2016-01-04 can be recorded as having left hardship on 2015-12-01, before the ledger knew it.
#[test]
fn exit_hardship_cannot_predate_registration() {
    let (fw, c) = household_fw("h9", "2016-06-01");
    let result = fw
        .given(vec![household_registered("h9", "2016-01-04")])
        .when(cmd(
            c,
            HouseholdCommand::ExitHardship(status("2015-12-01", "x")),
        ))
        .inspect_result();
    assert!(
        matches!(
            result,
            Err(DomainError::DateTooEarly { date, earliest, .. })
                if date == d("2015-12-01") && earliest == d("2016-01-04")
        ),
        "an exit dated before the registration must be refused, got {result:?}"
    );
}

/// BUG (see report): after "exited 03-01, returned 04-01" an exit dated 03-15 is accepted, so the
/// household's history is out of order (as of 03-20 it would be both out and back in).
#[test]
fn exit_hardship_cannot_predate_the_last_return() {
    let (fw, c) = household_fw("h9", "2016-06-01");
    let result = fw
        .given(vec![
            household_registered("h9", "2016-01-04"),
            exited("2016-03-01"),
            returned("2016-04-01"),
        ])
        .when(cmd(
            c,
            HouseholdCommand::ExitHardship(status("2016-03-15", "x")),
        ))
        .inspect_result();
    assert!(
        matches!(
            result,
            Err(DomainError::DateTooEarly { date, earliest, .. })
                if date == d("2016-03-15") && earliest == d("2016-04-01")
        ),
        "an exit dated before the last return must be refused, got {result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Program
// ---------------------------------------------------------------------------------------------

fn the_rules() -> Rules {
    serde_json::from_value(rules()).unwrap()
}

fn create(rules_: Rules) -> ProgramCommand {
    ProgramCommand::CreateProgram(prog::CreateProgram {
        name: "鼓楼区干部结对帮扶 2017".into(),
        rules: rules_,
    })
}

fn program_created(id: &str) -> ProgramEvent {
    ProgramEvent::ProgramCreated(prog::ProgramCreated {
        id: ProgramId::new(id).unwrap(),
        name: "鼓楼区干部结对帮扶 2017".into(),
        rules: the_rules(),
    })
}

fn update(rules_: Rules, reason: &str) -> ProgramCommand {
    ProgramCommand::UpdateProgramRules(prog::UpdateProgramRules {
        rules: rules_,
        reason: reason.into(),
    })
}

fn program_fw() -> (TestFramework<Program>, Ctx) {
    let w = World::district();
    let c = ctx(&w.registry, "coord", "gulou2017", "2016-06-01", w.index);
    (TestFramework::<Program>::with(w.registry), c)
}

#[test]
fn create_program_with_valid_rules() {
    let (fw, c) = program_fw();
    fw.given_no_previous_events()
        .when(cmd(c, create(the_rules())))
        .then_expect_events(vec![program_created("gulou2017")]);
}

#[test]
fn create_program_refuses_a_spot_check_rate_of_0_or_above_1000_per_mille() {
    for per_mille in [0u32, 1001, 5000] {
        let mut r = the_rules();
        r.spot_check_per_mille = per_mille;
        let (fw, c) = program_fw();
        fw.given_no_previous_events()
            .when(cmd(c, create(r)))
            .then_expect_error(DomainError::OutOfRange {
                field: "spot_check_per_mille",
                reason: format!("应在 1–1000 之间 / must be 1–1000 (got {per_mille})"),
            });
    }
    for per_mille in [1u32, 1000] {
        let mut r = the_rules();
        r.spot_check_per_mille = per_mille;
        let (fw, c) = program_fw();
        let events = fw
            .given_no_previous_events()
            .when(cmd(c, create(r)))
            .inspect_result()
            .unwrap();
        assert!(matches!(
            &events[..],
            [ProgramEvent::ProgramCreated(e)] if e.rules.spot_check_per_mille == per_mille
        ));
    }
}

#[test]
fn create_program_refuses_a_festival_ending_before_it_starts_or_lasting_too_long() {
    let festival_error = |name: &str| DomainError::OutOfRange {
        field: "festivals",
        reason: format!(
            "{name}: 结束日期须不早于开始日期，且不超过 60 天 / must end on or after it starts, within 60 days"
        ),
    };
    let mut r = the_rules();
    r.festivals = vec![prog::Festival {
        name: "端午".into(),
        from: d("2016-06-10"),
        to: d("2016-06-08"),
    }];
    let (fw, c) = program_fw();
    fw.given_no_previous_events()
        .when(cmd(c, create(r)))
        .then_expect_error(festival_error("端午"));

    let mut r = the_rules();
    r.festivals.push(prog::Festival {
        name: "暑期".into(),
        from: d("2016-07-01"),
        to: d("2016-08-31"),
    });
    let (fw, c) = program_fw();
    fw.given_no_previous_events()
        .when(cmd(c, create(r)))
        .then_expect_error(festival_error("暑期"));

    // A one-day festival is fine.
    let mut r = the_rules();
    r.festivals = vec![prog::Festival {
        name: "端午".into(),
        from: d("2016-06-09"),
        to: d("2016-06-09"),
    }];
    let (fw, c) = program_fw();
    assert!(
        fw.given_no_previous_events()
            .when(cmd(c, create(r)))
            .inspect_result()
            .is_ok()
    );
}

#[test]
fn create_program_refuses_other_rules_out_of_range_and_a_duplicate() {
    let mut r = the_rules();
    r.min_visits_per_quarter = 32;
    let (fw, c) = program_fw();
    fw.given_no_previous_events()
        .when(cmd(c, create(r)))
        .then_expect_error(DomainError::OutOfRange {
            field: "min_visits_per_quarter",
            reason: "应在 0–31 之间 / must be 0–31 (got 32)".into(),
        });

    let mut r = the_rules();
    r.weights.dispute_penalty = 1001;
    let (fw, c) = program_fw();
    fw.given_no_previous_events()
        .when(cmd(c, create(r)))
        .then_expect_error(DomainError::OutOfRange {
            field: "weights.dispute_penalty",
            reason: "应在 0–1000 之间 / must be 0–1000 (got 1001)".into(),
        });

    let (fw, c) = program_fw();
    fw.given(vec![program_created("gulou2017")])
        .when(cmd(c, create(the_rules())))
        .then_expect_error(DomainError::AlreadyExists {
            what: "program",
            id: "gulou2017".into(),
        });
}

#[test]
fn update_program_rules_increments_the_version() {
    let mut r = the_rules();
    r.min_visits_per_quarter = 2;
    let (fw, c) = program_fw();
    fw.given(vec![program_created("gulou2017")])
        .when(cmd(c, update(r.clone(), "每季度两次 / twice a quarter")))
        .then_expect_events(vec![ProgramEvent::ProgramRulesUpdated(
            prog::ProgramRulesUpdated {
                rules: r.clone(),
                version: 2,
                reason: "每季度两次 / twice a quarter".into(),
            },
        )]);

    let (fw, c) = program_fw();
    fw.given(vec![
        program_created("gulou2017"),
        ProgramEvent::ProgramRulesUpdated(prog::ProgramRulesUpdated {
            rules: r.clone(),
            version: 2,
            reason: "x".into(),
        }),
    ])
    .when(cmd(c, update(the_rules(), "back")))
    .then_expect_events(vec![ProgramEvent::ProgramRulesUpdated(
        prog::ProgramRulesUpdated {
            rules: the_rules(),
            version: 3,
            reason: "back".into(),
        },
    )]);
}

#[test]
fn update_program_rules_refuses_an_unknown_program_bad_rules_and_no_reason() {
    let (fw, c) = program_fw();
    fw.given_no_previous_events()
        .when(cmd(c, update(the_rules(), "x")))
        .then_expect_error(DomainError::NotFound {
            what: "program",
            id: "gulou2017".into(),
        });

    let mut r = the_rules();
    r.spot_check_per_mille = 0;
    let (fw, c) = program_fw();
    fw.given(vec![program_created("gulou2017")])
        .when(cmd(c, update(r, "x")))
        .then_expect_error(DomainError::OutOfRange {
            field: "spot_check_per_mille",
            reason: "应在 1–1000 之间 / must be 1–1000 (got 0)".into(),
        });

    let (fw, c) = program_fw();
    fw.given(vec![program_created("gulou2017")])
        .when(cmd(c, update(the_rules(), "")))
        .then_expect_error(DomainError::OutOfRange {
            field: "reason",
            reason: text_range(200),
        });
}

#[test]
fn program_rules_versions_through_the_log() {
    let mut w = World::district();
    let id = ProgramId::new("gulou2016").unwrap();
    assert_eq!(w.registry.program(&id).unwrap().rules_version, 1);
    let mut r = rules();
    r["spot_check_per_mille"] = json!(150);
    let ev = w.ok(
        "coord",
        "update_program_rules",
        "program/gulou2016",
        json!({"rules": r, "reason": "抽查 15%"}),
    );
    assert_eq!(ev[0].event_type, "ProgramRulesUpdated");
    assert_eq!(ev[0].payload["version"], json!(2));
    let p = w.registry.program(&id).unwrap();
    assert_eq!(p.rules_version, 2);
    assert_eq!(p.rules.as_ref().unwrap().spot_check_per_mille, 150);
    w.ok(
        "coord",
        "update_program_rules",
        "program/gulou2016",
        json!({"rules": rules(), "reason": "恢复 10%"}),
    );
    assert_eq!(w.registry.program(&id).unwrap().rules_version, 3);
}

// ---------------------------------------------------------------------------------------------
// The role table
// ---------------------------------------------------------------------------------------------

/// The key that holds only `role` in `role_world`.
fn role_key(role: Role) -> String {
    format!("only-{}", role.name())
}

/// The district plus one key per role, each holding that role alone: household role keys belong to
/// a registered household, cadre role keys to a registered cadre, the rest to people.
fn role_world() -> World {
    let mut w = World::district();
    for role in Role::ALL {
        let holder_ = match role {
            Role::Household => "household/h2".to_owned(),
            Role::Cadre => "cadre/zhao".to_owned(),
            other => format!("person/only-{}", other.name().replace('_', "-")),
        };
        w.register_key(&role_key(role), &holder_, &[role.name()]);
    }
    w
}

#[test]
fn the_role_table_is_the_single_source_of_who_may_issue_what() {
    // (a) every command appears once.
    let mut names = BTreeSet::new();
    for rule in COMMANDS {
        assert!(
            names.insert(rule.command),
            "{} appears twice in the role table",
            rule.command
        );
        let found = rule_for(rule.command).unwrap();
        assert_eq!(
            (found.aggregate, found.issuer),
            (rule.aggregate, rule.issuer)
        );
    }

    // (b) every row targets an aggregate type bangfu has, and that aggregate understands the
    // command (an empty `args` fails on a missing field, never on an unknown command).
    let w = role_world();
    for rule in COMMANDS {
        let mut aggregate = AnyAggregate::new(rule.aggregate)
            .unwrap_or_else(|e| panic!("{} targets {:?}: {e}", rule.command, rule.aggregate));
        let target = format!("{}/x1", rule.aggregate);
        let st = signed(
            &role_key(Role::Coordinator),
            rule.command,
            &target,
            json!({}),
            "2016-01-04",
        );
        let c = ctx(
            &w.registry,
            &role_key(Role::Coordinator),
            "x1",
            "2016-01-04",
            w.index,
        );
        if let Err(DomainError::BadArgs { reason, .. }) = aggregate.handle(c, &st, &w.registry) {
            assert!(
                !reason.contains("unknown variant"),
                "the {} aggregate does not know {}: {reason}",
                rule.aggregate,
                rule.command
            );
        }
    }

    // (c) for every command and role, a key holding only that role is authorized iff the table
    // lets that role issue the command.
    let today = at("2016-01-04");
    for rule in COMMANDS {
        let target = format!("{}/x1", rule.aggregate);
        for role in Role::ALL {
            let signer = role_key(role);
            let st = signed(&signer, rule.command, &target, json!({}), "2016-01-04");
            let result = authorize(&st, w.index, today, &w.registry);
            let only = roles(&[role]);
            match rule.issuer {
                Issuer::Genesis => assert_eq!(
                    result,
                    Err(DomainError::Genesis {
                        reason: GENESIS_ENTRY_0
                    }),
                    "genesis by {role} after entry 0"
                ),
                Issuer::AnyKeyForItself => {
                    let c = result.unwrap_or_else(|e| {
                        panic!("{} by a {role} key refused: {e}", rule.command)
                    });
                    assert_eq!(c.signer, k(&signer));
                    assert_eq!(c.roles, only);
                    assert!(roles_allow(rule, &only));
                }
                Issuer::Roles(allowed) => {
                    let expected = allowed.contains(&role);
                    assert_eq!(
                        roles_allow(rule, &only),
                        expected,
                        "roles_allow disagrees with the table for {} by {role}",
                        rule.command
                    );
                    if expected {
                        let c = result.unwrap_or_else(|e| {
                            panic!("{} by a {role} key refused: {e}", rule.command)
                        });
                        assert_eq!(c.signer, k(&signer));
                        assert_eq!(c.roles, only);
                        assert_eq!(c.aggregate_id, "x1");
                        assert_eq!(c.index, w.index);
                        assert_eq!(
                            c.holder,
                            Some(w.registry.key(&k(&signer)).unwrap().holder.clone())
                        );
                    } else {
                        assert_eq!(
                            result,
                            Err(DomainError::RoleNotAllowed {
                                command: rule.command.into(),
                                roles: vec![role],
                            }),
                            "{} by a {role} key",
                            rule.command
                        );
                    }
                }
            }
        }

        // Genesis is the only command of entry 0, from any key.
        let st = signed("nobody-yet", rule.command, &target, json!({}), "2016-01-04");
        let at_zero = authorize(&st, 0, today, &Registry::default());
        if rule.issuer == Issuer::Genesis {
            assert!(at_zero.is_ok(), "genesis at entry 0: {at_zero:?}");
        } else {
            assert_eq!(
                at_zero,
                Err(DomainError::Genesis {
                    reason: GENESIS_ENTRY_0
                }),
                "{} at entry 0",
                rule.command
            );
            // After entry 0, an unregistered key may issue nothing.
            assert_eq!(
                authorize(&st, w.index, today, &w.registry),
                Err(DomainError::KeyUnknown),
                "{} by an unregistered key",
                rule.command
            );
        }

        // Sent to the wrong kind of aggregate.
        let wrong = if rule.aggregate == "unit" {
            "cadre/x1"
        } else {
            "unit/x1"
        };
        let st = signed(
            &role_key(Role::Coordinator),
            rule.command,
            wrong,
            json!({}),
            "2016-01-04",
        );
        assert_eq!(
            authorize(&st, w.index, today, &w.registry),
            Err(DomainError::WrongTarget {
                command: rule.command.into(),
                expected: rule.aggregate,
            })
        );
    }

    // A command the table does not hold.
    let st = signed(
        &role_key(Role::Coordinator),
        "delete_visit",
        "pairing/x1",
        json!({}),
        "2016-01-04",
    );
    assert_eq!(
        authorize(&st, w.index, today, &w.registry),
        Err(DomainError::UnknownCommand("delete_visit".into()))
    );
    assert!(AnyAggregate::new("visit").is_err());
}

/// What the table lets the least trusted keys do, pinned: a household's card only acknowledges,
/// confirms, disputes and raises requests; a witness only cosigns (it issues nothing but rotating
/// its own key); keys and people are registered by coordinators alone.
#[test]
fn the_role_table_keeps_households_and_witnesses_to_their_part() {
    let issuable = |role: Role| -> BTreeSet<&'static str> {
        COMMANDS
            .iter()
            .filter(|r| match r.issuer {
                Issuer::Genesis => false,
                Issuer::AnyKeyForItself => true,
                Issuer::Roles(rs) => rs.contains(&role),
            })
            .map(|r| r.command)
            .collect()
    };
    assert_eq!(
        issuable(Role::Household),
        BTreeSet::from([
            "rotate_key",
            "acknowledge_visit",
            "acknowledge_donation",
            "acknowledge_disbursement",
            "raise_request",
            "confirm_resolution",
            "dispute_resolution",
        ])
    );
    assert_eq!(issuable(Role::Witness), BTreeSet::from(["rotate_key"]));
    for command in [
        "register_key",
        "revoke_key",
        "register_unit",
        "register_cadre",
        "transfer_cadre",
        "retire_cadre",
        "register_household",
        "correct_household",
        "set_contact_key",
        "exit_hardship",
        "return_to_hardship",
        "create_program",
        "update_program_rules",
    ] {
        let rule = rule_for(command).unwrap();
        assert_eq!(
            rule.issuer,
            Issuer::Roles(&[Role::Coordinator]),
            "{command}"
        );
    }
    // Acknowledging is the household's word alone: no cadre or coordinator may do it for them.
    for command in [
        "acknowledge_visit",
        "acknowledge_donation",
        "acknowledge_disbursement",
        "confirm_resolution",
        "dispute_resolution",
    ] {
        assert_eq!(
            rule_for(command).unwrap().issuer,
            Issuer::Roles(&[Role::Household]),
            "{command}"
        );
    }
}

#[test]
fn a_key_with_several_roles_may_issue_what_any_of_them_allows() {
    let mut w = World::district();
    w.register_key("wang-fm", "cadre/wang", &["cadre", "fund_manager"]);
    let today = at("2016-01-04");
    for (command, target) in [("record_visit", "pairing/x1"), ("disburse", "fund/x1")] {
        let st = signed("wang-fm", command, target, json!({}), "2016-01-04");
        let c = authorize(&st, w.index, today, &w.registry).unwrap();
        assert_eq!(c.roles, roles(&[Role::Cadre, Role::FundManager]));
        assert_eq!(c.holder, Some(holder("cadre/wang")));
        assert_eq!(c.cadre(), Some(&cadre_id("wang")));
    }
    let st = signed(
        "wang-fm",
        "register_unit",
        "unit/x1",
        json!({}),
        "2016-01-04",
    );
    assert_eq!(
        authorize(&st, w.index, today, &w.registry),
        Err(DomainError::RoleNotAllowed {
            command: "register_unit".into(),
            roles: vec![Role::Cadre, Role::FundManager],
        })
    );
}

// ---------------------------------------------------------------------------------------------
// The upcaster
// ---------------------------------------------------------------------------------------------

fn ledger_event(id: &str, version: &str, payload: Value) -> Event {
    Event {
        aggregate_type: "cadre".into(),
        aggregate_id: id.into(),
        sequence: 1,
        event_type: "CadreRegistered".into(),
        event_version: version.into(),
        payload: payload.as_object().unwrap().clone(),
    }
}

#[test]
fn a_cadre_registered_in_the_0_9_shape_still_loads() {
    let mut w = World::district();
    w.today = "2016-06-01".into();
    // 0.9: `department` where 1.0 has `unit`, and no `party_member`.
    let old = ledger_event(
        "laozhang",
        "0.9",
        json!({"id": "laozhang", "name": "老张", "department": "court", "rank": "division", "date": "2010-03-01"}),
    );

    w.registry.apply(&old).unwrap();
    let c = w.registry.cadre(&cadre_id("laozhang")).unwrap();
    assert_eq!(c.id, Some(cadre_id("laozhang")));
    assert_eq!(c.name, "老张");
    assert_eq!(c.unit, Some(unit_id("court")));
    assert_eq!(c.rank, Some(Rank::Division));
    assert!(c.party_member, "0.9 registrations were of party members");
    assert_eq!(c.since, Some(d("2010-03-01")));
    assert_eq!(c.status, CadreStatus::Active);

    let mut aggregate = AnyAggregate::new("cadre").unwrap();
    aggregate.apply(&old).unwrap();
    assert_eq!(aggregate.version(), 1);
    w.aggregates.insert("cadre/laozhang".into(), aggregate);

    // The aggregate's own state took the upcast unit: it knows the cadre is in court…
    let err = expect_err(w.submit(
        "coord",
        "transfer_cadre",
        "cadre/laozhang",
        json!({"to_unit": "court", "date": "2016-05-01"}),
    ));
    assert_eq!(
        err,
        DomainError::WrongState {
            command: "transfer_cadre".into(),
            state: "the cadre is already in unit court".into(),
        }
    );
    // …and since when.
    let err = expect_err(w.submit(
        "coord",
        "retire_cadre",
        "cadre/laozhang",
        json!({"date": "2009-12-31"}),
    ));
    assert_eq!(
        err,
        DomainError::DateTooEarly {
            date: d("2009-12-31"),
            earliest: d("2010-03-01"),
            what: "registration",
        }
    );
    let ev = w.ok(
        "coord",
        "transfer_cadre",
        "cadre/laozhang",
        json!({"to_unit": "gulou", "date": "2016-05-01"}),
    );
    assert_eq!(ev[0].sequence, 2);
    assert_eq!(ev[0].payload["from_unit"], json!("court"));
    // Keys can be registered for the upcast cadre.
    w.register_key("laozhang", "cadre/laozhang", &["cadre"]);
}

#[test]
fn the_upcaster_leaves_current_events_alone() {
    let mut registry = Registry::default();
    // 1.0 with party_member false stays false: only pre-1.0 events default it.
    let current = ledger_event(
        "xiaoli",
        "1.0",
        json!({"id": "xiaoli", "name": "小李", "unit": "court", "rank": "staff", "party_member": false, "date": "2016-01-04"}),
    );
    registry.apply(&current).unwrap();
    assert!(!registry.cadre(&cadre_id("xiaoli")).unwrap().party_member);
    let mut aggregate = AnyAggregate::new("cadre").unwrap();
    aggregate.apply(&current).unwrap();

    // A 1.0 event in the old shape is not upcast, and is refused rather than misread.
    let wrong = ledger_event(
        "laozhang",
        "1.0",
        json!({"id": "laozhang", "name": "老张", "department": "court", "rank": "division", "date": "2010-03-01"}),
    );
    assert!(matches!(
        registry.apply(&wrong),
        Err(DomainError::BadArgs { command, .. }) if command == "event CadreRegistered v1.0"
    ));
    assert!(matches!(
        AnyAggregate::new("cadre").unwrap().apply(&wrong),
        Err(DomainError::BadArgs { .. })
    ));
    assert!(registry.cadre(&cadre_id("laozhang")).is_none());

    // Events must come in sequence.
    let mut second = current.clone();
    second.sequence = 3;
    assert!(matches!(
        aggregate.apply(&second),
        Err(DomainError::WrongState { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Ids and amounts in arguments
// ---------------------------------------------------------------------------------------------

fn assert_bad_args(err: DomainError, command: &str, mentions: &str) {
    match &err {
        DomainError::BadArgs { command: c, reason } => {
            assert_eq!(c, command, "{reason}");
            assert!(
                reason.contains(mentions),
                "the reason should mention {mentions:?}: {reason}"
            );
        }
        other => panic!("expected BadArgs for {command}, got {other:?}"),
    }
}

#[test]
fn ids_with_bad_characters_are_refused() {
    let mut w = World::district();
    w.today = "2016-06-01".into();
    let index = w.index;

    for bad in ["法院", "court/x", "court x", "", "c+1"] {
        let err = expect_err(w.submit(
            "coord",
            "register_cadre",
            "cadre/wu",
            json!({"name": "吴", "unit": bad, "rank": "section", "party_member": true, "date": "2016-01-04"}),
        ));
        assert_bad_args(err, "register_cadre", "is not a valid UnitId");
    }
    let long = "u".repeat(129);
    let err = expect_err(w.submit(
        "coord",
        "register_unit",
        "unit/x",
        json!({"name": "x", "kind": "other", "parent": long}),
    ));
    assert_bad_args(err, "register_unit", "is not a valid UnitId");

    // A program id may not hold ':', which separates program and household in a pairing's id.
    let err = expect_err(w.submit(
        "coord",
        "create_program",
        "program/a:b",
        json!({"name": "x", "rules": rules()}),
    ));
    assert_bad_args(err, "target", "is not a valid ProgramId");

    // Holders: a known kind and a valid id.
    for bad in ["person/张三", "person/", "boss/x", "cadre"] {
        let err = expect_err(w.submit(
            "coord",
            "register_key",
            "authority/gulou",
            json!({"key": b64key("x"), "holder": bad, "roles": ["inspector"]}),
        ));
        assert!(
            matches!(&err, DomainError::BadArgs { command, .. } if command == "register_key"),
            "{bad}: {err:?}"
        );
    }
    // Keys: base64 of 32 bytes.
    let err = expect_err(w.submit(
        "coord",
        "register_key",
        "authority/gulou",
        json!({"key": "not-a-key", "holder": "person/x", "roles": ["inspector"]}),
    ));
    assert!(matches!(&err, DomainError::BadArgs { command, .. } if command == "register_key"));

    // Dates: YYYY-MM-DD of a real day.
    for bad in ["2016-02-30", "2016/01/04", "20160104"] {
        let err = expect_err(w.submit("coord", "retire_cadre", "cadre/wang", json!({"date": bad})));
        assert_bad_args(err, "retire_cadre", "is not a date of the form 2016-03-01");
    }

    assert_eq!(w.index, index, "every refusal left the log as it was");
    assert!(w.registry.cadre(&cadre_id("wu")).is_none());
}

#[test]
fn amounts_are_whole_positive_fen() {
    let mut w = World::district();
    w.today = "2016-06-01".into();
    let contribution = |amount: Value| {
        json!({
            "contribution_id": "c1",
            "source": {"kind": "salary", "cadre": "chen"},
            "amount": amount,
            "date": "2016-05-01",
        })
    };
    // (A float, or an integer beyond 2^53 − 1, never gets this far: the ledger's canonical JSON
    // refuses to sign one.)
    for bad in [
        json!(0),
        json!(-100),
        json!("100"),
        json!(null),
        json!({"fen": 100}),
    ] {
        let err = expect_err(w.submit(
            "fm",
            "record_contribution",
            "fund/court-pool",
            contribution(bad.clone()),
        ));
        assert!(
            matches!(&err, DomainError::BadArgs { command, .. } if command == "record_contribution"),
            "amount {bad}: {err:?}"
        );
    }
    let ev = w.ok(
        "fm",
        "record_contribution",
        "fund/court-pool",
        contribution(json!(50_000)),
    );
    assert_eq!(ev[0].event_type, "ContributionRecorded");
    assert_eq!(ev[0].payload["amount"], json!(50_000));
}
