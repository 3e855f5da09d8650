//! The registry: who and what is registered, as of a point in the log — keys and roles, units,
//! cadres, households and programs. It is the state of those aggregates, kept together so other
//! aggregates can consult it (cqrs-es "services"). Built only from events, so replaying the log
//! rebuilds it exactly.

use crate::aggregates::authority::{Authority, AuthorityEvent, KeyState};
use crate::aggregates::cadre::{Cadre, CadreEvent};
use crate::aggregates::household::{Household, HouseholdEvent};
use crate::aggregates::program::{Program, ProgramEvent};
use crate::aggregates::unit::{Unit, UnitEvent};
use crate::command::Key;
use crate::error::DomainError;
use crate::event::from_ledger;
use crate::ids::{CadreId, HouseholdId, ProgramId, UnitId};
use bangfu_ledger::entry::Event as LedgerEvent;
use cqrs_es::Aggregate;
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct Registry {
    pub authority: Authority,
    units: HashMap<UnitId, Unit>,
    cadres: HashMap<CadreId, Cadre>,
    households: HashMap<HouseholdId, Household>,
    programs: HashMap<ProgramId, Program>,
}

impl Registry {
    pub fn key(&self, key: &Key) -> Option<&KeyState> {
        self.authority.key(key)
    }

    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.units.get(id).filter(|u| u.id.is_some())
    }

    pub fn cadre(&self, id: &CadreId) -> Option<&Cadre> {
        self.cadres.get(id).filter(|c| c.id.is_some())
    }

    pub fn household(&self, id: &HouseholdId) -> Option<&Household> {
        self.households.get(id).filter(|h| h.id.is_some())
    }

    pub fn program(&self, id: &ProgramId) -> Option<&Program> {
        self.programs.get(id).filter(|p| p.id.is_some())
    }

    pub fn cadres(&self) -> impl Iterator<Item = &Cadre> {
        self.cadres.values().filter(|c| c.id.is_some())
    }

    pub fn households(&self) -> impl Iterator<Item = &Household> {
        self.households.values().filter(|h| h.id.is_some())
    }

    /// Takes one event into account; events of other aggregates are ignored.
    pub fn apply(&mut self, event: &LedgerEvent) -> Result<(), DomainError> {
        let id = &event.aggregate_id;
        let typed = |what| {
            move |reason: String| DomainError::BadArgs {
                command: format!("{what} id"),
                reason,
            }
        };
        match event.aggregate_type.as_str() {
            "authority" => {
                let e = from_ledger::<AuthorityEvent>(event, &[])?;
                // A household's card follows its key when the key is rotated.
                if let AuthorityEvent::KeyRotated(r) = &e {
                    for h in self.households.values_mut() {
                        if h.contact_key == Some(r.old_key) {
                            h.contact_key = Some(r.new_key);
                        }
                    }
                }
                self.authority.apply(e);
            }
            "unit" => {
                let e = from_ledger::<UnitEvent>(event, &[])?;
                let id = UnitId::new(id).map_err(typed("unit"))?;
                self.units.entry(id).or_default().apply(e);
            }
            "cadre" => {
                let e = from_ledger::<CadreEvent>(event, &crate::upcasters::cadre())?;
                let id = CadreId::new(id).map_err(typed("cadre"))?;
                self.cadres.entry(id).or_default().apply(e);
            }
            "household" => {
                let e = from_ledger::<HouseholdEvent>(event, &[])?;
                let id = HouseholdId::new(id).map_err(typed("household"))?;
                self.households.entry(id).or_default().apply(e);
            }
            "program" => {
                let e = from_ledger::<ProgramEvent>(event, &[])?;
                let id = ProgramId::new(id).map_err(typed("program"))?;
                self.programs.entry(id).or_default().apply(e);
            }
            _ => {}
        }
        Ok(())
    }
}
