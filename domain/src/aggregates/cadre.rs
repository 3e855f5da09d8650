//! Cadres: officials with a unit, a rank and party membership; they transfer and retire.
//! Target: `cadre/<id>`.

use super::{aggregate, not_in_future, text};
use crate::command::Ctx;
use crate::date::Date;
use crate::error::DomainError;
use crate::events;
use crate::ids::{CadreId, UnitId};
use crate::registry::Registry;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    /// 科员
    Staff,
    /// 副科级
    DeputySection,
    /// 正科级
    Section,
    /// 副处级
    DeputyDivision,
    /// 正处级
    Division,
    /// 副厅级及以上
    Bureau,
}

/// Whether a cadre can take duties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CadreStatus {
    Active,
    Retired {
        date: Date,
    },
    /// Moved out of this log's jurisdiction.
    TransferredAway {
        date: Date,
    },
}

impl CadreStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, CadreStatus::Active)
    }

    pub fn name(&self) -> &'static str {
        match self {
            CadreStatus::Active => "active",
            CadreStatus::Retired { .. } => "retired",
            CadreStatus::TransferredAway { .. } => "transferred away",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cadre {
    pub id: Option<CadreId>,
    pub name: String,
    pub unit: Option<UnitId>,
    pub rank: Option<Rank>,
    pub party_member: bool,
    pub since: Option<Date>,
    /// The date of the last registration or transfer: later changes cannot predate it.
    pub changed_on: Option<Date>,
    pub status: CadreStatus,
}

impl Default for Cadre {
    fn default() -> Self {
        Cadre {
            id: None,
            name: String::new(),
            unit: None,
            rank: None,
            party_member: false,
            since: None,
            changed_on: None,
            status: CadreStatus::Active,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum CadreCommand {
    RegisterCadre(RegisterCadre),
    TransferCadre(TransferCadre),
    RetireCadre(RetireCadre),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterCadre {
    pub name: String,
    pub unit: UnitId,
    pub rank: Rank,
    pub party_member: bool,
    pub date: Date,
}

/// To another unit of this log, or (`to_unit` absent) out of its jurisdiction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferCadre {
    #[serde(default)]
    pub to_unit: Option<UnitId>,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireCadre {
    pub date: Date,
}

events! {
    pub enum CadreEvent {
        CadreRegistered = "1.0",
        CadreTransferred = "1.0",
        CadreRetired = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CadreRegistered {
    pub id: CadreId,
    pub name: String,
    pub unit: UnitId,
    pub rank: Rank,
    pub party_member: bool,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CadreTransferred {
    pub from_unit: UnitId,
    pub to_unit: Option<UnitId>,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CadreRetired {
    pub date: Date,
}

aggregate!(Cadre, "cadre", CadreCommand, CadreEvent);

impl Cadre {
    fn decide(
        &self,
        ctx: &Ctx,
        command: CadreCommand,
        registry: &Registry,
    ) -> Result<Vec<CadreEvent>, DomainError> {
        use CadreCommand as C;
        let (Some(id), Some(since), Some(unit)) = (&self.id, self.since, &self.unit) else {
            let C::RegisterCadre(r) = command else {
                return Err(DomainError::WrongState {
                    command: "transfer_cadre / retire_cadre".into(),
                    state: "the cadre is not registered".into(),
                });
            };
            text("name", &r.name, 50)?;
            not_in_future(r.date, ctx)?;
            if registry.unit(&r.unit).is_none() {
                return Err(DomainError::NotFound {
                    what: "unit",
                    id: r.unit.to_string(),
                });
            }
            return Ok(vec![CadreEvent::CadreRegistered(CadreRegistered {
                id: ctx.id()?,
                name: r.name,
                unit: r.unit,
                rank: r.rank,
                party_member: r.party_member,
                date: r.date,
            })]);
        };
        if !self.status.is_active() {
            return Err(DomainError::CadreInactive {
                cadre: id.to_string(),
                status: self.status.name(),
            });
        }
        let check_date = |date: Date| -> Result<(), DomainError> {
            not_in_future(date, ctx)?;
            let earliest = self.changed_on.unwrap_or(since);
            if date < earliest {
                return Err(DomainError::DateTooEarly {
                    date,
                    earliest,
                    what: if earliest == since {
                        "registration"
                    } else {
                        "last transfer"
                    },
                });
            }
            Ok(())
        };
        match command {
            C::RegisterCadre(_) => Err(DomainError::AlreadyExists {
                what: "cadre",
                id: id.to_string(),
            }),
            C::TransferCadre(t) => {
                check_date(t.date)?;
                if let Some(to) = &t.to_unit {
                    if registry.unit(to).is_none() {
                        return Err(DomainError::NotFound {
                            what: "unit",
                            id: to.to_string(),
                        });
                    }
                    if to == unit {
                        return Err(DomainError::WrongState {
                            command: "transfer_cadre".into(),
                            state: format!("the cadre is already in unit {to}"),
                        });
                    }
                }
                Ok(vec![CadreEvent::CadreTransferred(CadreTransferred {
                    from_unit: unit.clone(),
                    to_unit: t.to_unit,
                    date: t.date,
                })])
            }
            C::RetireCadre(r) => {
                check_date(r.date)?;
                Ok(vec![CadreEvent::CadreRetired(CadreRetired {
                    date: r.date,
                })])
            }
        }
    }

    fn evolve(&mut self, event: CadreEvent) {
        match event {
            CadreEvent::CadreRegistered(e) => {
                self.id = Some(e.id);
                self.name = e.name;
                self.unit = Some(e.unit);
                self.rank = Some(e.rank);
                self.party_member = e.party_member;
                self.since = Some(e.date);
                self.changed_on = Some(e.date);
            }
            CadreEvent::CadreTransferred(e) => {
                self.changed_on = Some(e.date);
                match e.to_unit {
                    Some(to) => self.unit = Some(to),
                    None => self.status = CadreStatus::TransferredAway { date: e.date },
                }
            }
            CadreEvent::CadreRetired(e) => self.status = CadreStatus::Retired { date: e.date },
        }
    }
}
