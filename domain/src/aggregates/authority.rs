//! The authority: the genesis of the log and the registry of keys and their roles.
//! Target: `authority/<id>`, one per log.

use super::{aggregate, text};
use crate::command::{Ctx, Holder, Key};
use crate::error::DomainError;
use crate::events;
use crate::registry::Registry;
use crate::role::Role;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A registered key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyState {
    pub holder: Holder,
    pub roles: BTreeSet<Role>,
    /// Why it was revoked (or "rotated to …"); `None` while valid.
    pub revoked: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Authority {
    pub origin: Option<String>,
    pub name: String,
    pub keys: BTreeMap<Key, KeyState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum AuthorityCommand {
    Genesis(Genesis),
    RegisterKey(RegisterKey),
    RotateKey(RotateKey),
    RevokeKey(RevokeKey),
}

/// Entry 0: the authority registers its own key and names the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The log's origin, as in its checkpoints: no spaces and no `+`.
    pub origin: String,
    /// The authority's name, e.g. "鼓楼区委组织部".
    pub name: String,
    /// Who holds the authority key (a coordinator).
    pub holder: Holder,
    pub roles: BTreeSet<Role>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterKey {
    pub key: Key,
    pub holder: Holder,
    pub roles: BTreeSet<Role>,
}

/// The signer replaces its own key; the new key inherits holder and roles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    pub new_key: Key,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeKey {
    pub key: Key,
    pub reason: String,
}

events! {
    pub enum AuthorityEvent {
        LogCreated = "1.0",
        KeyRegistered = "1.0",
        KeyRotated = "1.0",
        KeyRevoked = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogCreated {
    pub origin: String,
    pub name: String,
    pub authority_key: Key,
    pub holder: Holder,
    pub roles: BTreeSet<Role>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRegistered {
    pub key: Key,
    pub holder: Holder,
    pub roles: BTreeSet<Role>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRotated {
    pub old_key: Key,
    pub new_key: Key,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRevoked {
    pub key: Key,
    pub reason: String,
}

aggregate!(Authority, "authority", AuthorityCommand, AuthorityEvent);

impl Authority {
    /// The key's registration, if any (revoked keys included).
    pub fn key(&self, key: &Key) -> Option<&KeyState> {
        self.keys.get(key)
    }

    fn decide(
        &self,
        ctx: &Ctx,
        command: AuthorityCommand,
        registry: &Registry,
    ) -> Result<Vec<AuthorityEvent>, DomainError> {
        use AuthorityCommand as C;
        use AuthorityEvent as E;
        if self.origin.is_none() && !matches!(command, C::Genesis(_)) {
            return Err(DomainError::Genesis {
                reason: "the log has no genesis yet; entry 0 must be the genesis",
            });
        }
        match command {
            C::Genesis(g) => {
                if ctx.index != 0 || self.origin.is_some() {
                    return Err(DomainError::Genesis {
                        reason: "only entry 0 may be the genesis, and only once",
                    });
                }
                if g.origin.is_empty()
                    || g.origin.len() > 128
                    || !bangfu_ledger::note::is_valid_key_name(&g.origin)
                {
                    return Err(DomainError::OutOfRange {
                        field: "origin",
                        reason:
                            "1–128 bytes, no spaces and no '+' (it names the log's checkpoints)"
                                .into(),
                    });
                }
                text("name", &g.name, 100)?;
                if !g.roles.contains(&Role::Coordinator) {
                    return Err(DomainError::Genesis {
                        reason: "the authority key must hold the coordinator role, or nobody could register keys",
                    });
                }
                check_roles_fit_holder(&g.holder, &g.roles, registry)?;
                Ok(vec![E::LogCreated(LogCreated {
                    origin: g.origin,
                    name: g.name,
                    authority_key: ctx.signer,
                    holder: g.holder,
                    roles: g.roles,
                })])
            }
            C::RegisterKey(r) => {
                if self.keys.contains_key(&r.key) {
                    return Err(DomainError::AlreadyExists {
                        what: "key",
                        id: r.key.to_base64(),
                    });
                }
                check_roles_fit_holder(&r.holder, &r.roles, registry)?;
                Ok(vec![E::KeyRegistered(KeyRegistered {
                    key: r.key,
                    holder: r.holder,
                    roles: r.roles,
                })])
            }
            C::RotateKey(r) => {
                match self.keys.get(&ctx.signer) {
                    Some(k) if k.revoked.is_none() => {}
                    _ => return Err(DomainError::KeyUnknown),
                }
                if self.keys.contains_key(&r.new_key) {
                    return Err(DomainError::AlreadyExists {
                        what: "key",
                        id: r.new_key.to_base64(),
                    });
                }
                Ok(vec![E::KeyRotated(KeyRotated {
                    old_key: ctx.signer,
                    new_key: r.new_key,
                })])
            }
            C::RevokeKey(r) => {
                text("reason", &r.reason, 200)?;
                match self.keys.get(&r.key) {
                    None => Err(DomainError::NotFound {
                        what: "key",
                        id: r.key.to_base64(),
                    }),
                    Some(k) if k.revoked.is_some() => Err(DomainError::WrongState {
                        command: "revoke_key".into(),
                        state: "the key is already revoked".into(),
                    }),
                    Some(_) => Ok(vec![E::KeyRevoked(KeyRevoked {
                        key: r.key,
                        reason: r.reason,
                    })]),
                }
            }
        }
    }

    fn evolve(&mut self, event: AuthorityEvent) {
        match event {
            AuthorityEvent::LogCreated(e) => {
                self.origin = Some(e.origin);
                self.name = e.name;
                self.keys.insert(
                    e.authority_key,
                    KeyState {
                        holder: e.holder,
                        roles: e.roles,
                        revoked: None,
                    },
                );
            }
            AuthorityEvent::KeyRegistered(e) => {
                self.keys.insert(
                    e.key,
                    KeyState {
                        holder: e.holder,
                        roles: e.roles,
                        revoked: None,
                    },
                );
            }
            AuthorityEvent::KeyRotated(e) => {
                if let Some(old) = self.keys.get_mut(&e.old_key) {
                    old.revoked = Some(format!("rotated to {}", e.new_key));
                    let new = KeyState {
                        holder: old.holder.clone(),
                        roles: old.roles.clone(),
                        revoked: None,
                    };
                    self.keys.insert(e.new_key, new);
                }
            }
            AuthorityEvent::KeyRevoked(e) => {
                if let Some(k) = self.keys.get_mut(&e.key) {
                    k.revoked = Some(e.reason);
                }
            }
        }
    }
}

/// A household's key holds only the household role and belongs to a registered household; the
/// cadre role belongs to a registered cadre; every key has at least one role.
fn check_roles_fit_holder(
    holder: &Holder,
    roles: &BTreeSet<Role>,
    registry: &Registry,
) -> Result<(), DomainError> {
    if roles.is_empty() {
        return Err(DomainError::OutOfRange {
            field: "roles",
            reason: "至少一个角色 / a key needs at least one role".into(),
        });
    }
    let mismatch = |reason: &str| DomainError::OutOfRange {
        field: "roles",
        reason: reason.to_owned(),
    };
    match holder {
        Holder::Household(h) => {
            if registry.household(h).is_none() {
                return Err(DomainError::NotFound {
                    what: "household",
                    id: h.to_string(),
                });
            }
            if roles.iter().any(|r| *r != Role::Household) {
                return Err(mismatch(
                    "户的联系卡只能持有 household 角色 / a household's card holds the household role only",
                ));
            }
        }
        Holder::Cadre(c) => {
            if registry.cadre(c).is_none() {
                return Err(DomainError::NotFound {
                    what: "cadre",
                    id: c.to_string(),
                });
            }
            if roles.contains(&Role::Household) {
                return Err(mismatch(
                    "干部不能持有 household 角色 / a cadre cannot hold the household role",
                ));
            }
        }
        Holder::Person(_) => {
            if roles.contains(&Role::Household) || roles.contains(&Role::Cadre) {
                return Err(mismatch(
                    "household 与 cadre 角色须登记给对应的户或干部 / the household and cadre roles belong to registered households and cadres",
                ));
            }
        }
    }
    Ok(())
}
