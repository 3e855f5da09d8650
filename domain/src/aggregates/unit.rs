//! Units: bureaus, street offices, townships, communities, party branches. Target: `unit/<id>`.

use super::{aggregate, text};
use crate::command::Ctx;
use crate::error::DomainError;
use crate::events;
use crate::ids::UnitId;
use crate::registry::Registry;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 区直部门 / 局
    Bureau,
    /// 街道办事处
    StreetOffice,
    /// 乡镇
    Township,
    /// 社区
    Community,
    /// 村
    Village,
    /// 党支部
    PartyBranch,
    Other,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub id: Option<UnitId>,
    pub name: String,
    pub kind: Option<UnitKind>,
    pub parent: Option<UnitId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum UnitCommand {
    RegisterUnit(RegisterUnit),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterUnit {
    pub name: String,
    pub kind: UnitKind,
    #[serde(default)]
    pub parent: Option<UnitId>,
}

events! {
    pub enum UnitEvent {
        UnitRegistered = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRegistered {
    pub id: UnitId,
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
}

aggregate!(Unit, "unit", UnitCommand, UnitEvent);

impl Unit {
    fn decide(
        &self,
        ctx: &Ctx,
        command: UnitCommand,
        registry: &Registry,
    ) -> Result<Vec<UnitEvent>, DomainError> {
        let UnitCommand::RegisterUnit(r) = command;
        let id: UnitId = ctx.id()?;
        if self.id.is_some() {
            return Err(DomainError::AlreadyExists {
                what: "unit",
                id: id.to_string(),
            });
        }
        text("name", &r.name, 100)?;
        if let Some(parent) = &r.parent {
            if *parent == id || registry.unit(parent).is_none() {
                return Err(DomainError::NotFound {
                    what: "parent unit",
                    id: parent.to_string(),
                });
            }
        }
        Ok(vec![UnitEvent::UnitRegistered(UnitRegistered {
            id,
            name: r.name,
            kind: r.kind,
            parent: r.parent,
        })])
    }

    fn evolve(&mut self, event: UnitEvent) {
        let UnitEvent::UnitRegistered(e) = event;
        self.id = Some(e.id);
        self.name = e.name;
        self.kind = Some(e.kind);
        self.parent = e.parent;
    }
}
