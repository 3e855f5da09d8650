//! Assessments (考核): an evaluator publishes a year's scores with the log size they were computed
//! at, so anyone can recompute them from the log. Target: `assessment/<program>:<year>`.

use super::aggregate;
use crate::command::Ctx;
use crate::error::DomainError;
use crate::events;
use crate::ids::{CadreId, ProgramId, UnitId};
use crate::registry::Registry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Points are integers (hundredths of a point where the formula needs them; see docs/assessment.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CadreScore {
    pub cadre: CadreId,
    pub points: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitScore {
    pub unit: UnitId,
    pub points: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub published: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum AssessmentCommand {
    PublishAssessment(PublishAssessment),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishAssessment {
    pub program: ProgramId,
    pub year: i64,
    /// The log size the scores were computed from.
    pub log_size: u64,
    /// The formula's name and version, e.g. "bangfu-assessment/1".
    pub formula: String,
    pub cadres: Vec<CadreScore>,
    pub units: Vec<UnitScore>,
}

events! {
    pub enum AssessmentEvent {
        AssessmentPublished = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssessmentPublished {
    pub program: ProgramId,
    pub year: i64,
    pub log_size: u64,
    pub formula: String,
    pub cadres: Vec<CadreScore>,
    pub units: Vec<UnitScore>,
}

aggregate!(Assessment, "assessment", AssessmentCommand, AssessmentEvent);

impl Assessment {
    fn decide(
        &self,
        ctx: &Ctx,
        command: AssessmentCommand,
        registry: &Registry,
    ) -> Result<Vec<AssessmentEvent>, DomainError> {
        let AssessmentCommand::PublishAssessment(p) = command;
        let expected = format!("{}:{}", p.program, p.year);
        if ctx.aggregate_id != expected {
            return Err(DomainError::TargetMismatch {
                target: format!("assessment/{}", ctx.aggregate_id),
                expected: format!("assessment/{expected}"),
            });
        }
        if self.published.is_some() {
            return Err(DomainError::AlreadyExists {
                what: "assessment",
                id: expected,
            });
        }
        if p.year > ctx.today().year() {
            return Err(DomainError::OutOfRange {
                field: "year",
                reason: "不能为未来年份评分 / a year that has not begun cannot be assessed".into(),
            });
        }
        if registry.program(&p.program).is_none() {
            return Err(DomainError::NotFound {
                what: "program",
                id: p.program.to_string(),
            });
        }
        if p.log_size == 0 || p.log_size > ctx.index {
            return Err(DomainError::OutOfRange {
                field: "log_size",
                reason: format!(
                    "评分所依据的日志规模须在 1–{} 之间 / the scores must come from a log size the log has reached (1–{})",
                    ctx.index, ctx.index
                ),
            });
        }
        super::text("formula", &p.formula, 64)?;
        let cadres: BTreeSet<&CadreId> = p.cadres.iter().map(|s| &s.cadre).collect();
        let units: BTreeSet<&UnitId> = p.units.iter().map(|s| &s.unit).collect();
        if cadres.len() != p.cadres.len() || units.len() != p.units.len() {
            return Err(DomainError::OutOfRange {
                field: "cadres / units",
                reason: "每人每单位只能有一个分数 / one score per cadre and per unit".into(),
            });
        }
        for c in cadres {
            if registry.cadre(c).is_none() {
                return Err(DomainError::NotFound {
                    what: "cadre",
                    id: c.to_string(),
                });
            }
        }
        for u in units {
            if registry.unit(u).is_none() {
                return Err(DomainError::NotFound {
                    what: "unit",
                    id: u.to_string(),
                });
            }
        }
        Ok(vec![AssessmentEvent::AssessmentPublished(
            AssessmentPublished {
                program: p.program,
                year: p.year,
                log_size: p.log_size,
                formula: p.formula,
                cadres: p.cadres,
                units: p.units,
            },
        )])
    }

    fn evolve(&mut self, event: AssessmentEvent) {
        let AssessmentEvent::AssessmentPublished(e) = event;
        self.published = Some(e.log_size);
    }
}
