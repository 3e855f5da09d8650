//! Roles, and the one table that says which role may issue which command. Intake, the verifier and
//! the documentation all read [`COMMANDS`]; nothing else decides "who may issue what".

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Organisation department / party working committee: registers people, forms pairings, sets rules.
    Coordinator,
    /// An official paired with households: records visits, help and personal donations.
    Cadre,
    /// Receives contributions and pays out from assistance funds.
    FundManager,
    /// Discipline inspector (纪检监察): spot checks and revisits.
    Inspector,
    /// Evaluation committee: publishes year-end assessment scores.
    Evaluator,
    /// A household's contact card (干群联系卡): acknowledges what it received, raises requests.
    Household,
    /// Cosigns checkpoints; issues no commands.
    Witness,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Coordinator,
        Role::Cadre,
        Role::FundManager,
        Role::Inspector,
        Role::Evaluator,
        Role::Household,
        Role::Witness,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Cadre => "cadre",
            Role::FundManager => "fund_manager",
            Role::Inspector => "inspector",
            Role::Evaluator => "evaluator",
            Role::Household => "household",
            Role::Witness => "witness",
        }
    }

    pub fn chinese(self) -> &'static str {
        match self {
            Role::Coordinator => "组织协调",
            Role::Cadre => "帮扶干部",
            Role::FundManager => "资金管理",
            Role::Inspector => "纪检监察",
            Role::Evaluator => "考核评价",
            Role::Household => "帮扶对象",
            Role::Witness => "见证方",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who may issue a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issuer {
    /// Only as entry 0, self-signed by the key it registers.
    Genesis,
    /// Any registered key, for itself only (the aggregate checks "itself").
    AnyKeyForItself,
    /// A key holding one of these roles.
    Roles(&'static [Role]),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct CommandRule {
    pub command: &'static str,
    /// The aggregate type the command must target.
    pub aggregate: &'static str,
    pub issuer: Issuer,
}

use Role::*;

const fn rule(
    command: &'static str,
    aggregate: &'static str,
    roles: &'static [Role],
) -> CommandRule {
    CommandRule {
        command,
        aggregate,
        issuer: Issuer::Roles(roles),
    }
}

/// Every command bangfu accepts, the aggregate it targets, and who may issue it.
pub const COMMANDS: &[CommandRule] = &[
    CommandRule {
        command: "genesis",
        aggregate: "authority",
        issuer: Issuer::Genesis,
    },
    rule("register_key", "authority", &[Coordinator]),
    CommandRule {
        command: "rotate_key",
        aggregate: "authority",
        issuer: Issuer::AnyKeyForItself,
    },
    rule("revoke_key", "authority", &[Coordinator]),
    rule("register_unit", "unit", &[Coordinator]),
    rule("register_cadre", "cadre", &[Coordinator]),
    rule("transfer_cadre", "cadre", &[Coordinator]),
    rule("retire_cadre", "cadre", &[Coordinator]),
    rule("register_household", "household", &[Coordinator]),
    rule("correct_household", "household", &[Coordinator]),
    rule("set_contact_key", "household", &[Coordinator]),
    rule("exit_hardship", "household", &[Coordinator]),
    rule("return_to_hardship", "household", &[Coordinator]),
    rule("create_program", "program", &[Coordinator]),
    rule("update_program_rules", "program", &[Coordinator]),
    rule("form_pairing", "pairing", &[Coordinator]),
    rule("propose_handover", "pairing", &[Coordinator]),
    rule("accept_handover", "pairing", &[Cadre]),
    rule("end_pairing", "pairing", &[Coordinator]),
    rule("record_visit", "pairing", &[Cadre]),
    rule("retract_visit", "pairing", &[Cadre]),
    rule("acknowledge_visit", "pairing", &[Household]),
    rule("record_personal_donation", "pairing", &[Cadre]),
    rule("acknowledge_donation", "pairing", &[Household]),
    rule("create_fund", "fund", &[Coordinator]),
    rule("record_contribution", "fund", &[FundManager]),
    rule("disburse", "fund", &[FundManager]),
    rule("acknowledge_disbursement", "fund", &[Household]),
    rule("reverse_disbursement", "fund", &[FundManager]),
    rule("raise_request", "pairing", &[Household, Cadre, Coordinator]),
    rule("dispatch_request", "pairing", &[Coordinator]),
    rule("accept_request", "pairing", &[Cadre]),
    rule("resolve_request", "pairing", &[Cadre]),
    rule("confirm_resolution", "pairing", &[Household]),
    rule("dispute_resolution", "pairing", &[Household]),
    rule("close_request", "pairing", &[Coordinator]),
    rule("open_campaign", "spot_check", &[Inspector]),
    rule("record_draw", "spot_check", &[Inspector]),
    rule("record_revisit", "spot_check", &[Inspector]),
    rule("close_campaign", "spot_check", &[Inspector]),
    rule("publish_assessment", "assessment", &[Evaluator]),
];

/// The row for a command, if bangfu knows it.
pub fn rule_for(command: &str) -> Option<&'static CommandRule> {
    COMMANDS.iter().find(|r| r.command == command)
}

/// True when a key holding `roles` may issue `command` (for [`Issuer::Roles`] rows), or when the
/// row's special rule leaves the decision to the aggregate.
pub fn roles_allow(rule: &CommandRule, roles: &BTreeSet<Role>) -> bool {
    match rule.issuer {
        Issuer::Genesis | Issuer::AnyKeyForItself => true,
        Issuer::Roles(allowed) => allowed.iter().any(|r| roles.contains(r)),
    }
}
