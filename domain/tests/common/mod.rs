//! A small in-memory log for domain tests: real keys, real signed statements, pushed through
//! `authorize` and the aggregates exactly as intake and replay do, so the registry a test sees is
//! the one a real log would have. Also helpers to build a `Ctx` for cqrs-es's `TestFramework`.
#![allow(dead_code)]

use bangfu_domain::command::{Ctx, Holder, Key};
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::error::DomainError;
use bangfu_domain::registry::Registry;
use bangfu_domain::role::Role;
use bangfu_ledger::entry::Event;
use bangfu_ledger::seal::{Opening, SALT_LEN};
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// A deterministic key per name.
pub fn key(name: &str) -> SigningKey {
    let mut seed = [0u8; 32];
    for (i, b) in name.bytes().enumerate() {
        seed[i % 32] = seed[i % 32].wrapping_mul(31).wrapping_add(b);
    }
    seed[31] ^= name.len() as u8;
    SigningKey::from_bytes(&seed)
}

pub fn pk(name: &str) -> PublicKey {
    PublicKey::from(&key(name))
}

pub fn b64key(name: &str) -> String {
    pk(name).to_base64()
}

/// Noon in Beijing on the given date, as the log's recorded_at.
pub fn at(date: &str) -> Timestamp {
    Timestamp::parse(&format!("{date}T04:00:00.000Z")).unwrap()
}

/// A sealed value standing in for personal data.
pub fn sealed(text: &str) -> Value {
    Opening::new(json!(text), [7u8; SALT_LEN])
        .unwrap()
        .commitment
        .to_json()
}

pub struct World {
    pub registry: Registry,
    pub aggregates: HashMap<String, AnyAggregate>,
    pub index: u64,
    pub today: String,
    counter: u64,
}

impl World {
    /// A log with its genesis: the authority key "authority" held by person/org-dept.
    pub fn new() -> World {
        let mut w = World {
            registry: Registry::default(),
            aggregates: HashMap::new(),
            index: 0,
            today: "2016-01-04".into(),
            counter: 0,
        };
        w.submit(
            "authority",
            "genesis",
            "authority/gulou",
            json!({
                "origin": "bangfu.example/gulou",
                "name": "鼓楼区委组织部",
                "holder": "person/org-dept",
                "roles": ["coordinator"],
            }),
        )
        .expect("genesis");
        w
    }

    /// Signs and submits a statement at today's date; returns the events or the refusal. On a
    /// refusal nothing changes.
    pub fn submit(
        &mut self,
        signer: &str,
        command: &str,
        target: &str,
        args: Value,
    ) -> Result<Vec<Event>, DomainError> {
        self.counter += 1;
        let sk = key(signer);
        // Clear of bytes 6 and 8, which carry the UUID version and variant bits.
        let mut id = [0u8; 16];
        id[9..16].copy_from_slice(&self.counter.to_be_bytes()[1..]);
        let statement = Statement::sign(
            Body {
                id: StatementId::from_random_bytes(id),
                command: CommandName::parse(command).unwrap(),
                target: Target::parse(target).unwrap(),
                args: args.as_object().cloned().expect("args are an object"),
                signed_at: at(&self.today),
                key: PublicKey::from(&sk),
            },
            &sk,
        )
        .unwrap();
        let ctx = authorize(&statement, self.index, at(&self.today), &self.registry)?;
        let t = &statement.body.target;
        let mut aggregate = match self.aggregates.get(&t.to_string()) {
            Some(a) => a.clone(),
            None => AnyAggregate::new(t.aggregate_type())?,
        };
        let events = aggregate.handle(ctx, &statement, &self.registry)?;
        for e in &events {
            self.registry.apply(e).unwrap();
        }
        self.aggregates.insert(t.to_string(), aggregate);
        self.index += 1;
        Ok(events)
    }

    pub fn ok(&mut self, signer: &str, command: &str, target: &str, args: Value) -> Vec<Event> {
        self.submit(signer, command, target, args)
            .unwrap_or_else(|e| panic!("{command} on {target} refused: {e}"))
    }

    /// Registers a key for a holder with roles (signed by the authority).
    pub fn register_key(&mut self, name: &str, holder: &str, roles: &[&str]) {
        self.ok(
            "authority",
            "register_key",
            "authority/gulou",
            json!({"key": b64key(name), "holder": holder, "roles": roles}),
        );
    }

    /// A small district: a unit tree, a program, cadres with keys, households with cards, a fund.
    pub fn district() -> World {
        let mut w = World::new();
        w.register_key("coord", "person/coord-1", &["coordinator"]);
        w.register_key("inspector", "person/insp-1", &["inspector"]);
        w.register_key("evaluator", "person/eval-1", &["evaluator"]);
        w.ok(
            "coord",
            "register_unit",
            "unit/gulou",
            json!({"name": "鼓楼区", "kind": "bureau"}),
        );
        w.ok(
            "coord",
            "register_unit",
            "unit/court",
            json!({"name": "区法院", "kind": "bureau", "parent": "gulou"}),
        );
        w.ok(
            "coord",
            "create_program",
            "program/gulou2016",
            json!({"name": "鼓楼区干部结对帮扶 2016", "rules": rules()}),
        );
        for c in ["wang", "li", "zhao", "chen"] {
            w.ok(
                "coord",
                "register_cadre",
                &format!("cadre/{c}"),
                json!({"name": c, "unit": "court", "rank": "section", "party_member": true, "date": "2016-01-04"}),
            );
            w.register_key(c, &format!("cadre/{c}"), &["cadre"]);
        }
        w.register_key("fm", "cadre/chen", &["fund_manager"]);
        for h in ["h1", "h2", "h3"] {
            w.ok(
                "coord",
                "register_household",
                &format!("household/{h}"),
                json!({
                    "address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
                    "category": "illness",
                    "members": 3,
                    "sensitive": {"hardship": sealed("尿毒症，每周透析"), "id_number": sealed("350102196001011234")},
                    "date": "2016-01-04",
                }),
            );
            w.register_key(
                &format!("card-{h}"),
                &format!("household/{h}"),
                &["household"],
            );
            w.ok(
                "coord",
                "set_contact_key",
                &format!("household/{h}"),
                json!({"key": b64key(&format!("card-{h}"))}),
            );
        }
        w.ok(
            "coord",
            "create_fund",
            "fund/court-pool",
            json!({"name": "区法院帮扶资金", "kind": "unit_pool", "unit": "court", "manager": "cadre/chen"}),
        );
        w
    }
}

pub fn rules() -> Value {
    json!({
        "min_visits_per_quarter": 1,
        "festivals": [
            {"name": "春节", "from": "2016-01-31", "to": "2016-02-14"},
            {"name": "中秋", "from": "2016-09-10", "to": "2016-09-17"},
        ],
        "spot_check_per_mille": 100,
        "late_after_days": 7,
        "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                    "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5},
    })
}

/// A `Ctx` for `TestFramework` tests: the registered key `name` signing at `date` (entry `index`).
pub fn ctx(registry: &Registry, name: &str, target_id: &str, date: &str, index: u64) -> Ctx {
    let signer = Key(pk(name));
    let (holder, roles) = match registry.key(&signer) {
        Some(k) => (Some(k.holder.clone()), k.roles.clone()),
        None => (None, BTreeSet::new()),
    };
    Ctx {
        index,
        aggregate_id: target_id.into(),
        signer,
        holder,
        roles,
        recorded_at: at(date),
        signed_at: at(date),
    }
}

pub fn holder(s: &str) -> Holder {
    Holder::try_from(s.to_owned()).unwrap()
}

pub fn roles(rs: &[Role]) -> BTreeSet<Role> {
    rs.iter().copied().collect()
}
