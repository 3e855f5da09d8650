//! Programs: a named campaign and its rules (minimum visits per quarter, festivals, the spot-check
//! rate, score weights). Rules are data, versioned by events. Target: `program/<id>`.

use super::{aggregate, text};
use crate::command::Ctx;
use crate::date::Date;
use crate::error::DomainError;
use crate::events;
use crate::ids::ProgramId;
use crate::registry::Registry;
use serde::{Deserialize, Serialize};

/// A festival period: visits dated inside it count as festival visits (春节, 端午, 中秋, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Festival {
    pub name: String,
    pub from: Date,
    pub to: Date,
}

/// Weights of the assessment formula (`docs/assessment.md`), in points; integers only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub visits: u32,
    pub acknowledged_help: u32,
    pub requests: u32,
    pub funds: u32,
    pub spot_checks: u32,
    /// Points lost per visit recorded later than `late_after_days`.
    pub late_penalty: u32,
    /// Points lost per disputed or unconfirmed item.
    pub dispute_penalty: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Gulou: 1.
    pub min_visits_per_quarter: u32,
    #[serde(default)]
    pub festivals: Vec<Festival>,
    /// Share of households re-contacted each year, in per mille (Panjin: 100 = 10%).
    pub spot_check_per_mille: u32,
    /// A visit recorded more than this many days after its date counts as late.
    pub late_after_days: u32,
    pub weights: Weights,
}

impl Rules {
    fn check(&self) -> Result<(), DomainError> {
        let range = |field: &'static str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(DomainError::OutOfRange {
                    field,
                    reason: format!("应在 {lo}–{hi} 之间 / must be {lo}–{hi} (got {v})"),
                })
            }
        };
        range("min_visits_per_quarter", self.min_visits_per_quarter, 0, 31)?;
        range("spot_check_per_mille", self.spot_check_per_mille, 1, 1000)?;
        range("late_after_days", self.late_after_days, 0, 366)?;
        let w = &self.weights;
        for (field, v) in [
            ("weights.visits", w.visits),
            ("weights.acknowledged_help", w.acknowledged_help),
            ("weights.requests", w.requests),
            ("weights.funds", w.funds),
            ("weights.spot_checks", w.spot_checks),
            ("weights.late_penalty", w.late_penalty),
            ("weights.dispute_penalty", w.dispute_penalty),
        ] {
            range(field, v, 0, 1000)?;
        }
        if self.festivals.len() > 50 {
            return Err(DomainError::OutOfRange {
                field: "festivals",
                reason: "at most 50 festival periods".into(),
            });
        }
        for f in &self.festivals {
            text("festivals.name", &f.name, 30)?;
            if f.to < f.from || f.from.days_until(f.to) > 60 {
                return Err(DomainError::OutOfRange {
                    field: "festivals",
                    reason: format!(
                        "{}: 结束日期须不早于开始日期，且不超过 60 天 / must end on or after it starts, within 60 days",
                        f.name
                    ),
                });
            }
        }
        Ok(())
    }

    /// The festival a date falls in, if any.
    pub fn festival_on(&self, date: Date) -> Option<&Festival> {
        self.festivals
            .iter()
            .find(|f| f.from <= date && date <= f.to)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub id: Option<ProgramId>,
    pub name: String,
    pub rules: Option<Rules>,
    /// 1 at creation, +1 per rules update.
    pub rules_version: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum ProgramCommand {
    CreateProgram(CreateProgram),
    UpdateProgramRules(UpdateProgramRules),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProgram {
    pub name: String,
    pub rules: Rules,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateProgramRules {
    pub rules: Rules,
    pub reason: String,
}

events! {
    pub enum ProgramEvent {
        ProgramCreated = "1.0",
        ProgramRulesUpdated = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramCreated {
    pub id: ProgramId,
    pub name: String,
    pub rules: Rules,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramRulesUpdated {
    pub rules: Rules,
    pub version: u32,
    pub reason: String,
}

aggregate!(Program, "program", ProgramCommand, ProgramEvent);

impl Program {
    fn decide(
        &self,
        ctx: &Ctx,
        command: ProgramCommand,
        _registry: &Registry,
    ) -> Result<Vec<ProgramEvent>, DomainError> {
        match (command, &self.id) {
            (ProgramCommand::CreateProgram(c), None) => {
                text("name", &c.name, 100)?;
                c.rules.check()?;
                Ok(vec![ProgramEvent::ProgramCreated(ProgramCreated {
                    id: ctx.id()?,
                    name: c.name,
                    rules: c.rules,
                })])
            }
            (ProgramCommand::CreateProgram(_), Some(id)) => Err(DomainError::AlreadyExists {
                what: "program",
                id: id.to_string(),
            }),
            (ProgramCommand::UpdateProgramRules(u), Some(_)) => {
                text("reason", &u.reason, 200)?;
                u.rules.check()?;
                Ok(vec![ProgramEvent::ProgramRulesUpdated(
                    ProgramRulesUpdated {
                        rules: u.rules,
                        version: self.rules_version + 1,
                        reason: u.reason,
                    },
                )])
            }
            (ProgramCommand::UpdateProgramRules(_), None) => Err(DomainError::NotFound {
                what: "program",
                id: ctx.aggregate_id.clone(),
            }),
        }
    }

    fn evolve(&mut self, event: ProgramEvent) {
        match event {
            ProgramEvent::ProgramCreated(e) => {
                self.id = Some(e.id);
                self.name = e.name;
                self.rules = Some(e.rules);
                self.rules_version = 1;
            }
            ProgramEvent::ProgramRulesUpdated(e) => {
                self.rules = Some(e.rules);
                self.rules_version = e.version;
            }
        }
    }
}
