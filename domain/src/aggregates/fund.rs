//! Funds: a unit's pooled assistance fund (帮扶资金统一管理) or a named fund (郭明义基金), with a
//! manager. Contributions in, disbursements out to registered households through a cadre; a fund
//! never goes below zero; reversals are compensating events. Target: `fund/<id>`.

use super::{aggregate, not_in_future, text};
use crate::command::{Ctx, Holder};
use crate::date::Date;
use crate::error::DomainError;
use crate::events;
use crate::help::{Help, Purpose};
use crate::ids::{CadreId, ContributionId, DisbursementId, FundId, HouseholdId, UnitId};
use crate::money::{Fen, MAX_FEN};
use crate::registry::Registry;
use crate::role::Role;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundKind {
    UnitPool,
    Named,
}

/// Where a contribution came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// From a cadre's salary.
    Salary { cadre: CadreId },
    /// From a unit's budget.
    Unit { unit: UnitId },
    /// From society: a company, an association, a citizen who agreed to be named.
    Society { donor: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisbursementState {
    pub household: HouseholdId,
    pub value: Fen,
    pub acknowledged: bool,
    pub reversed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fund {
    pub id: Option<FundId>,
    pub name: String,
    pub kind: Option<FundKind>,
    pub unit: Option<UnitId>,
    pub manager: Option<Holder>,
    /// Fen held now: contributions − disbursements + reversals. Never negative.
    pub balance: i64,
    pub contributions: BTreeSet<ContributionId>,
    pub disbursements: BTreeMap<DisbursementId, DisbursementState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum FundCommand {
    CreateFund(CreateFund),
    RecordContribution(RecordContribution),
    Disburse(Disburse),
    AcknowledgeDisbursement(AcknowledgeDisbursement),
    ReverseDisbursement(ReverseDisbursement),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFund {
    pub name: String,
    pub kind: FundKind,
    pub unit: UnitId,
    /// Whose key manages the fund: only its manager records money in and out.
    pub manager: Holder,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordContribution {
    pub contribution_id: ContributionId,
    pub source: Source,
    pub amount: Fen,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disburse {
    pub disbursement_id: DisbursementId,
    pub household: HouseholdId,
    /// The cadre who delivers it.
    pub through: CadreId,
    pub help: Help,
    pub purpose: Purpose,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeDisbursement {
    pub disbursement_id: DisbursementId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseDisbursement {
    pub disbursement_id: DisbursementId,
    pub reason: String,
}

events! {
    pub enum FundEvent {
        FundCreated = "1.0",
        ContributionRecorded = "1.0",
        Disbursed = "1.0",
        DisbursementAcknowledged = "1.0",
        DisbursementReversed = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FundCreated {
    pub id: FundId,
    pub name: String,
    pub kind: FundKind,
    pub unit: UnitId,
    pub manager: Holder,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContributionRecorded {
    pub contribution_id: ContributionId,
    pub source: Source,
    pub amount: Fen,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disbursed {
    pub disbursement_id: DisbursementId,
    pub household: HouseholdId,
    pub through: CadreId,
    pub help: Help,
    /// The cash, or the goods' total value.
    pub value: Fen,
    pub purpose: Purpose,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisbursementAcknowledged {
    pub disbursement_id: DisbursementId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisbursementReversed {
    pub disbursement_id: DisbursementId,
    pub value: Fen,
    pub reason: String,
}

aggregate!(Fund, "fund", FundCommand, FundEvent);

impl Fund {
    fn manager_signed(&self, ctx: &Ctx, command: &str) -> Result<(), DomainError> {
        if ctx.holder.is_none() || ctx.holder != self.manager {
            return Err(DomainError::NotYours {
                what: format!("{command} is signed by the fund's own manager"),
            });
        }
        Ok(())
    }

    fn disbursement(&self, id: &DisbursementId) -> Result<&DisbursementState, DomainError> {
        self.disbursements
            .get(id)
            .ok_or_else(|| DomainError::NotFound {
                what: "disbursement",
                id: id.to_string(),
            })
    }

    fn decide(
        &self,
        ctx: &Ctx,
        command: FundCommand,
        registry: &Registry,
    ) -> Result<Vec<FundEvent>, DomainError> {
        use FundCommand as C;
        use FundEvent as E;
        let Some(id) = &self.id else {
            let C::CreateFund(c) = command else {
                return Err(DomainError::NotFound {
                    what: "fund",
                    id: ctx.aggregate_id.clone(),
                });
            };
            text("name", &c.name, 100)?;
            if registry.unit(&c.unit).is_none() {
                return Err(DomainError::NotFound {
                    what: "unit",
                    id: c.unit.to_string(),
                });
            }
            if let Holder::Household(_) = c.manager {
                return Err(DomainError::OutOfRange {
                    field: "manager",
                    reason: "基金管理人须是干部或工作人员 / a fund is managed by a cadre or a person, not a household".into(),
                });
            }
            let has_key = registry.authority.keys.values().any(|k| {
                k.holder == c.manager && k.revoked.is_none() && k.roles.contains(&Role::FundManager)
            });
            if !has_key {
                return Err(DomainError::NotFound {
                    what: "fund manager key for",
                    id: c.manager.to_string(),
                });
            }
            return Ok(vec![E::FundCreated(FundCreated {
                id: ctx.id()?,
                name: c.name,
                kind: c.kind,
                unit: c.unit,
                manager: c.manager,
            })]);
        };
        match command {
            C::CreateFund(_) => Err(DomainError::AlreadyExists {
                what: "fund",
                id: id.to_string(),
            }),
            C::RecordContribution(c) => {
                self.manager_signed(ctx, "record_contribution")?;
                if self.contributions.contains(&c.contribution_id) {
                    return Err(DomainError::AlreadyExists {
                        what: "contribution",
                        id: c.contribution_id.to_string(),
                    });
                }
                not_in_future(c.date, ctx)?;
                match &c.source {
                    Source::Salary { cadre } if registry.cadre(cadre).is_none() => {
                        return Err(DomainError::NotFound {
                            what: "cadre",
                            id: cadre.to_string(),
                        });
                    }
                    Source::Unit { unit } if registry.unit(unit).is_none() => {
                        return Err(DomainError::NotFound {
                            what: "unit",
                            id: unit.to_string(),
                        });
                    }
                    Source::Society { donor } => text("source.donor", donor, 100)?,
                    _ => {}
                }
                if self.balance > MAX_FEN - c.amount.get() {
                    return Err(DomainError::OutOfRange {
                        field: "amount",
                        reason: "基金余额将超过上限 / the balance would exceed 2^53 − 1 fen".into(),
                    });
                }
                Ok(vec![E::ContributionRecorded(ContributionRecorded {
                    contribution_id: c.contribution_id,
                    source: c.source,
                    amount: c.amount,
                    date: c.date,
                })])
            }
            C::Disburse(d) => {
                self.manager_signed(ctx, "disburse")?;
                if self.disbursements.contains_key(&d.disbursement_id) {
                    return Err(DomainError::AlreadyExists {
                        what: "disbursement",
                        id: d.disbursement_id.to_string(),
                    });
                }
                let household =
                    registry
                        .household(&d.household)
                        .ok_or_else(|| DomainError::NotFound {
                            what: "household",
                            id: d.household.to_string(),
                        })?;
                if !household.in_hardship() {
                    return Err(DomainError::HouseholdExited {
                        household: d.household.to_string(),
                    });
                }
                super::active_cadre(registry, &d.through)?;
                not_in_future(d.date, ctx)?;
                let value = d.help.value()?;
                if value.get() > self.balance {
                    return Err(DomainError::Overdraft {
                        fund: id.to_string(),
                        balance: self.balance,
                        requested: value.get(),
                    });
                }
                Ok(vec![E::Disbursed(Disbursed {
                    disbursement_id: d.disbursement_id,
                    household: d.household,
                    through: d.through,
                    help: d.help,
                    value,
                    purpose: d.purpose,
                    date: d.date,
                })])
            }
            C::AcknowledgeDisbursement(a) => {
                let d = self.disbursement(&a.disbursement_id)?;
                // The receiving household's current card (the registry follows key rotations).
                let card = registry.household(&d.household).and_then(|h| h.contact_key);
                if card != Some(ctx.signer) {
                    return Err(DomainError::NotYours {
                        what: "only the receiving household's own contact card may acknowledge"
                            .into(),
                    });
                }
                if d.acknowledged || d.reversed {
                    return Err(DomainError::WrongState {
                        command: "acknowledge_disbursement".into(),
                        state: "the disbursement is already acknowledged or reversed".into(),
                    });
                }
                Ok(vec![E::DisbursementAcknowledged(
                    DisbursementAcknowledged {
                        disbursement_id: a.disbursement_id,
                    },
                )])
            }
            C::ReverseDisbursement(r) => {
                self.manager_signed(ctx, "reverse_disbursement")?;
                text("reason", &r.reason, 200)?;
                let d = self.disbursement(&r.disbursement_id)?;
                if d.reversed {
                    return Err(DomainError::WrongState {
                        command: "reverse_disbursement".into(),
                        state: "the disbursement is already reversed".into(),
                    });
                }
                Ok(vec![E::DisbursementReversed(DisbursementReversed {
                    disbursement_id: r.disbursement_id,
                    value: d.value,
                    reason: r.reason,
                })])
            }
        }
    }

    fn evolve(&mut self, event: FundEvent) {
        match event {
            FundEvent::FundCreated(e) => {
                self.id = Some(e.id);
                self.name = e.name;
                self.kind = Some(e.kind);
                self.unit = Some(e.unit);
                self.manager = Some(e.manager);
            }
            FundEvent::ContributionRecorded(e) => {
                self.contributions.insert(e.contribution_id);
                self.balance += e.amount.get();
            }
            FundEvent::Disbursed(e) => {
                self.balance -= e.value.get();
                self.disbursements.insert(
                    e.disbursement_id,
                    DisbursementState {
                        household: e.household,
                        value: e.value,
                        acknowledged: false,
                        reversed: false,
                    },
                );
            }
            FundEvent::DisbursementAcknowledged(e) => {
                if let Some(d) = self.disbursements.get_mut(&e.disbursement_id) {
                    d.acknowledged = true;
                }
            }
            FundEvent::DisbursementReversed(e) => {
                self.balance += e.value.get();
                if let Some(d) = self.disbursements.get_mut(&e.disbursement_id) {
                    d.reversed = true;
                }
            }
        }
    }
}
