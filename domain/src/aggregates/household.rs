//! Households in hardship: registration with address, category, members and sealed sensitive
//! facts; corrections; a contact-card key; exit from hardship and return. Target: `household/<id>`.

use super::{aggregate, not_in_future, text};
use crate::command::{Ctx, Holder, Key};
use crate::date::Date;
use crate::error::DomainError;
use crate::events;
use crate::ids::HouseholdId;
use crate::registry::Registry;
use crate::role::Role;
use crate::sealed::Sealed;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 低保户: minimum-living-allowance household
    MinimumLivingAllowance,
    /// 特困户: extreme hardship
    ExtremeHardship,
    /// 因病致贫: poverty through illness
    Illness,
    /// 因残致贫: poverty through disability
    Disability,
    /// 下岗职工户: laid-off worker household
    LaidOff,
    Other,
}

impl Category {
    pub fn chinese(self) -> &'static str {
        match self {
            Category::MinimumLivingAllowance => "低保户",
            Category::ExtremeHardship => "特困户",
            Category::Illness => "因病致贫",
            Category::Disability => "因残致贫",
            Category::LaidOff => "下岗职工户",
            Category::Other => "其他",
        }
    }
}

/// Where the household lives; coarse enough to publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// 区 / 县
    pub district: String,
    /// 街道 / 乡镇
    pub street: String,
    /// 社区 / 村
    pub community: String,
}

/// Facts that identify or expose the household: sealed, never in clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensitive {
    /// The story of the hardship (困难情况).
    pub hardship: Sealed,
    /// Illness or disability, if any.
    #[serde(default)]
    pub health: Option<Sealed>,
    /// The head of household's ID number.
    pub id_number: Sealed,
    #[serde(default)]
    pub phone: Option<Sealed>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub id: Option<HouseholdId>,
    pub address: Option<Address>,
    pub category: Option<Category>,
    pub members: u32,
    pub sensitive: Option<Sensitive>,
    pub registered_on: Option<Date>,
    pub contact_key: Option<Key>,
    /// The date it exited hardship, while it is out.
    pub exited_on: Option<Date>,
    /// The date of its last registration, exit or return: later changes cannot predate it.
    pub status_since: Option<Date>,
}

impl Household {
    pub fn in_hardship(&self) -> bool {
        self.id.is_some() && self.exited_on.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum HouseholdCommand {
    RegisterHousehold(RegisterHousehold),
    CorrectHousehold(CorrectHousehold),
    SetContactKey(SetContactKey),
    ExitHardship(ChangeStatus),
    ReturnToHardship(ChangeStatus),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterHousehold {
    pub address: Address,
    pub category: Category,
    pub members: u32,
    pub sensitive: Sensitive,
    pub date: Date,
}

/// Corrects the profile; absent fields stay as they were. The reason is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectHousehold {
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub members: Option<u32>,
    #[serde(default)]
    pub sensitive: Option<Sensitive>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetContactKey {
    pub key: Key,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatus {
    pub date: Date,
    pub reason: String,
}

events! {
    pub enum HouseholdEvent {
        HouseholdRegistered = "1.0",
        HouseholdCorrected = "1.0",
        ContactKeySet = "1.0",
        HardshipExited = "1.0",
        HardshipReturned = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdRegistered {
    pub id: HouseholdId,
    pub address: Address,
    pub category: Category,
    pub members: u32,
    pub sensitive: Sensitive,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdCorrected {
    pub address: Option<Address>,
    pub category: Option<Category>,
    pub members: Option<u32>,
    pub sensitive: Option<Sensitive>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactKeySet {
    pub key: Key,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HardshipExited {
    pub date: Date,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HardshipReturned {
    pub date: Date,
    pub reason: String,
}

aggregate!(Household, "household", HouseholdCommand, HouseholdEvent);

fn members_in_range(n: u32) -> Result<(), DomainError> {
    if !(1..=50).contains(&n) {
        return Err(DomainError::OutOfRange {
            field: "members",
            reason: format!("家庭人口应为 1–50 / a household has 1–50 members (got {n})"),
        });
    }
    Ok(())
}

fn address_ok(a: &Address) -> Result<(), DomainError> {
    text("address.district", &a.district, 50)?;
    text("address.street", &a.street, 50)?;
    text("address.community", &a.community, 50)
}

impl Household {
    fn decide(
        &self,
        ctx: &Ctx,
        command: HouseholdCommand,
        registry: &Registry,
    ) -> Result<Vec<HouseholdEvent>, DomainError> {
        use HouseholdCommand as C;
        use HouseholdEvent as E;
        let Some(id) = &self.id else {
            let C::RegisterHousehold(r) = command else {
                return Err(DomainError::NotFound {
                    what: "household",
                    id: ctx.aggregate_id.clone(),
                });
            };
            address_ok(&r.address)?;
            members_in_range(r.members)?;
            not_in_future(r.date, ctx)?;
            return Ok(vec![E::HouseholdRegistered(HouseholdRegistered {
                id: ctx.id()?,
                address: r.address,
                category: r.category,
                members: r.members,
                sensitive: r.sensitive,
                date: r.date,
            })]);
        };
        match command {
            C::RegisterHousehold(_) => Err(DomainError::AlreadyExists {
                what: "household",
                id: id.to_string(),
            }),
            C::CorrectHousehold(c) => {
                text("reason", &c.reason, 200)?;
                if let Some(a) = &c.address {
                    address_ok(a)?;
                }
                if let Some(m) = c.members {
                    members_in_range(m)?;
                }
                if c.address.is_none()
                    && c.category.is_none()
                    && c.members.is_none()
                    && c.sensitive.is_none()
                {
                    return Err(DomainError::BadArgs {
                        command: "correct_household".into(),
                        reason: "nothing to correct: give address, category, members or sensitive"
                            .into(),
                    });
                }
                Ok(vec![E::HouseholdCorrected(HouseholdCorrected {
                    address: c.address,
                    category: c.category,
                    members: c.members,
                    sensitive: c.sensitive,
                    reason: c.reason,
                })])
            }
            C::SetContactKey(s) => {
                let registered = registry.key(&s.key);
                let fits = registered.is_some_and(|k| {
                    k.revoked.is_none()
                        && k.holder == Holder::Household(id.clone())
                        && k.roles.contains(&Role::Household)
                });
                if !fits {
                    return Err(DomainError::NotFound {
                        what: "household key registered to this household",
                        id: s.key.to_base64(),
                    });
                }
                Ok(vec![E::ContactKeySet(ContactKeySet { key: s.key })])
            }
            C::ExitHardship(s) => {
                text("reason", &s.reason, 200)?;
                not_in_future(s.date, ctx)?;
                if self.exited_on.is_some() {
                    return Err(DomainError::HouseholdExited {
                        household: id.to_string(),
                    });
                }
                if let Some(since) = self.status_since.filter(|since| s.date < *since) {
                    return Err(DomainError::DateTooEarly {
                        date: s.date,
                        earliest: since,
                        what: "registration or last return",
                    });
                }
                Ok(vec![E::HardshipExited(HardshipExited {
                    date: s.date,
                    reason: s.reason,
                })])
            }
            C::ReturnToHardship(s) => {
                text("reason", &s.reason, 200)?;
                not_in_future(s.date, ctx)?;
                match self.exited_on {
                    None => Err(DomainError::WrongState {
                        command: "return_to_hardship".into(),
                        state: "the household is still in hardship".into(),
                    }),
                    Some(exited) if s.date < exited => Err(DomainError::DateTooEarly {
                        date: s.date,
                        earliest: exited,
                        what: "exit from hardship",
                    }),
                    Some(_) => Ok(vec![E::HardshipReturned(HardshipReturned {
                        date: s.date,
                        reason: s.reason,
                    })]),
                }
            }
        }
    }

    fn evolve(&mut self, event: HouseholdEvent) {
        match event {
            HouseholdEvent::HouseholdRegistered(e) => {
                self.id = Some(e.id);
                self.address = Some(e.address);
                self.category = Some(e.category);
                self.members = e.members;
                self.sensitive = Some(e.sensitive);
                self.registered_on = Some(e.date);
                self.status_since = Some(e.date);
            }
            HouseholdEvent::HouseholdCorrected(e) => {
                if let Some(a) = e.address {
                    self.address = Some(a);
                }
                if let Some(c) = e.category {
                    self.category = Some(c);
                }
                if let Some(m) = e.members {
                    self.members = m;
                }
                if let Some(s) = e.sensitive {
                    self.sensitive = Some(s);
                }
            }
            HouseholdEvent::ContactKeySet(e) => self.contact_key = Some(e.key),
            HouseholdEvent::HardshipExited(e) => {
                self.exited_on = Some(e.date);
                self.status_since = Some(e.date);
            }
            HouseholdEvent::HardshipReturned(e) => {
                self.exited_on = None;
                self.status_since = Some(e.date);
            }
        }
    }
}
