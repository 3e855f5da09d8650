//! From a signed statement to events: who may issue it ([`authorize`]), then what the target
//! aggregate decides ([`AnyAggregate::handle`]). Intake and the verifier's replay both go through
//! here, so the two can never disagree about a rule.

use crate::aggregates::Decide;
use crate::aggregates::{
    assessment::Assessment, authority::Authority, cadre::Cadre, fund::Fund, household::Household,
    pairing::Pairing, program::Program, spot_check::SpotCheck, unit::Unit,
};
use crate::command::{Ctx, Key};
use crate::error::DomainError;
use crate::event::{from_ledger, to_ledger};
use crate::registry::Registry;
use crate::role::{Issuer, roles_allow, rule_for};
use bangfu_ledger::entry::Event as LedgerEvent;
use bangfu_ledger::statement::{Body, Statement};
use bangfu_ledger::time::Timestamp;
use cqrs_es::Aggregate;
use cqrs_es::persist::EventUpcaster;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeSet;

/// Checks that the statement's key may issue its command at log position `index`, and returns the
/// command's circumstances. Does not look at the arguments.
pub fn authorize(
    statement: &Statement,
    index: u64,
    recorded_at: Timestamp,
    registry: &Registry,
) -> Result<Ctx, DomainError> {
    let body = &statement.body;
    let command = body.command.as_str();
    let rule = rule_for(command).ok_or_else(|| DomainError::UnknownCommand(command.into()))?;
    if body.target.aggregate_type() != rule.aggregate {
        return Err(DomainError::WrongTarget {
            command: command.into(),
            expected: rule.aggregate,
        });
    }
    let signer = Key(body.key);
    let mut ctx = Ctx {
        index,
        aggregate_id: body.target.aggregate_id().to_owned(),
        signer,
        holder: None,
        roles: BTreeSet::new(),
        recorded_at,
        signed_at: body.signed_at,
    };
    if index == 0 || rule.issuer == Issuer::Genesis {
        if index != 0 || rule.issuer != Issuer::Genesis {
            return Err(DomainError::Genesis {
                reason: "entry 0 must be the genesis, and the genesis must be entry 0",
            });
        }
        return Ok(ctx);
    }
    let key = registry.key(&signer).ok_or(DomainError::KeyUnknown)?;
    if let Some(reason) = &key.revoked {
        return Err(DomainError::KeyRevoked {
            reason: reason.clone(),
        });
    }
    if !roles_allow(rule, &key.roles) {
        return Err(DomainError::RoleNotAllowed {
            command: command.into(),
            roles: key.roles.iter().copied().collect(),
        });
    }
    ctx.holder = Some(key.holder.clone());
    ctx.roles = key.roles.clone();
    Ok(ctx)
}

/// The state of any aggregate, with the number of events applied to it so far.
/// Checks, without any state, that a statement names a known command for its target's kind and
/// that its `args` have that command's shape: the "schema" step of intake, before signatures and
/// the registry are consulted.
pub fn check_args(body: &Body) -> Result<(), DomainError> {
    let command = body.command.as_str();
    let rule = rule_for(command).ok_or_else(|| DomainError::UnknownCommand(command.into()))?;
    if body.target.aggregate_type() != rule.aggregate {
        return Err(DomainError::WrongTarget {
            command: command.into(),
            expected: rule.aggregate,
        });
    }
    fn shape<A: Decide>(body: &Body) -> Result<(), DomainError>
    where
        A::Body: DeserializeOwned,
    {
        serde_json::from_value::<A::Body>(json!({
            "type": body.command.as_str(),
            "args": body.args,
        }))
        .map(|_| ())
        .map_err(|e| DomainError::BadArgs {
            command: body.command.to_string(),
            reason: e.to_string(),
        })
    }
    match rule.aggregate {
        "authority" => shape::<Authority>(body),
        "unit" => shape::<Unit>(body),
        "cadre" => shape::<Cadre>(body),
        "household" => shape::<Household>(body),
        "program" => shape::<Program>(body),
        "pairing" => shape::<Pairing>(body),
        "fund" => shape::<Fund>(body),
        "spot_check" => shape::<SpotCheck>(body),
        "assessment" => shape::<Assessment>(body),
        _ => Err(DomainError::UnknownCommand(command.into())),
    }
}

#[derive(Clone, Debug)]
pub struct AnyAggregate {
    state: State,
    version: u64,
}

#[derive(Clone, Debug)]
enum State {
    Authority(Box<Authority>),
    Unit(Box<Unit>),
    Cadre(Box<Cadre>),
    Household(Box<Household>),
    Program(Box<Program>),
    Pairing(Box<Pairing>),
    Fund(Box<Fund>),
    SpotCheck(Box<SpotCheck>),
    Assessment(Box<Assessment>),
}

fn handle_typed<A>(
    aggregate: &mut A,
    version: u64,
    ctx: Ctx,
    statement: &Statement,
    registry: &Registry,
) -> Result<Vec<LedgerEvent>, DomainError>
where
    A: Decide,
    A::Body: DeserializeOwned,
{
    let body = &statement.body;
    let command: A::Body = serde_json::from_value(json!({
        "type": body.command.as_str(),
        "args": body.args,
    }))
    .map_err(|e| DomainError::BadArgs {
        command: body.command.to_string(),
        reason: e.to_string(),
    })?;
    let events = aggregate.decide(&ctx, command, registry)?;
    for e in &events {
        aggregate.evolve(e.clone());
    }
    Ok(events
        .iter()
        .enumerate()
        .map(|(i, e)| to_ledger(A::TYPE, &ctx.aggregate_id, version + 1 + i as u64, e))
        .collect())
}

fn apply_typed<A: Aggregate>(
    aggregate: &mut A,
    event: &LedgerEvent,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<(), DomainError>
where
    A::Event: DeserializeOwned,
{
    aggregate.apply(from_ledger::<A::Event>(event, upcasters)?);
    Ok(())
}

impl AnyAggregate {
    /// A fresh aggregate of the named type.
    pub fn new(aggregate_type: &str) -> Result<AnyAggregate, DomainError> {
        let state = match aggregate_type {
            "authority" => State::Authority(Box::default()),
            "unit" => State::Unit(Box::default()),
            "cadre" => State::Cadre(Box::default()),
            "household" => State::Household(Box::default()),
            "program" => State::Program(Box::default()),
            "pairing" => State::Pairing(Box::default()),
            "fund" => State::Fund(Box::default()),
            "spot_check" => State::SpotCheck(Box::default()),
            "assessment" => State::Assessment(Box::default()),
            other => {
                return Err(DomainError::WrongTarget {
                    command: format!("a command for {other}"),
                    expected: "one of authority, unit, cadre, household, program, pairing, fund, spot_check, assessment",
                });
            }
        };
        Ok(AnyAggregate { state, version: 0 })
    }

    /// Events applied so far: the sequence of the last one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Applies a stored event (upcast to the current shape). Its sequence must be the next one.
    pub fn apply(&mut self, event: &LedgerEvent) -> Result<(), DomainError> {
        if event.sequence != self.version + 1 {
            return Err(DomainError::WrongState {
                command: format!("event {} of {}", event.sequence, event.aggregate_id),
                state: format!("the aggregate is at sequence {}", self.version),
            });
        }
        match &mut self.state {
            State::Authority(a) => apply_typed(a.as_mut(), event, &[])?,
            State::Unit(a) => apply_typed(a.as_mut(), event, &[])?,
            State::Cadre(a) => apply_typed(a.as_mut(), event, &crate::upcasters::cadre())?,
            State::Household(a) => apply_typed(a.as_mut(), event, &[])?,
            State::Program(a) => apply_typed(a.as_mut(), event, &[])?,
            State::Pairing(a) => apply_typed(a.as_mut(), event, &[])?,
            State::Fund(a) => apply_typed(a.as_mut(), event, &[])?,
            State::SpotCheck(a) => apply_typed(a.as_mut(), event, &[])?,
            State::Assessment(a) => apply_typed(a.as_mut(), event, &[])?,
        }
        self.version += 1;
        Ok(())
    }

    /// Decides the statement against this aggregate. On success the state has moved on by the
    /// returned events (numbered from `version() + 1`); on a refusal it is unchanged. A caller that
    /// then fails to store the events must drop this state and reload it.
    pub fn handle(
        &mut self,
        ctx: Ctx,
        statement: &Statement,
        registry: &Registry,
    ) -> Result<Vec<LedgerEvent>, DomainError> {
        let v = self.version;
        let events = match &mut self.state {
            State::Authority(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Unit(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Cadre(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Household(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Program(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Pairing(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Fund(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::SpotCheck(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
            State::Assessment(a) => handle_typed(a.as_mut(), v, ctx, statement, registry),
        }?;
        self.version += events.len() as u64;
        Ok(events)
    }
}
