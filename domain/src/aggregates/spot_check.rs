//! Spot checks (督导抽查): an inspection campaign for a program and year; the sample drawn from a
//! checkpoint; revisits by inspectors with findings per visit and per disbursement.
//! Target: `spot_check/<campaign id>`.

use super::{aggregate, not_in_future};
use crate::command::Ctx;
use crate::date::Date;
use crate::error::DomainError;
use crate::events;
use crate::ids::{HouseholdId, ProgramId};
use crate::registry::Registry;
use crate::sealed::Sealed;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Phone,
    OnSite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingResult {
    Confirmed,
    NotConfirmed,
    Unreachable,
}

/// A finding about one recorded fact: `visit/<pairing id>/<visit id>` or
/// `disbursement/<fund id>/<disbursement id>` or `donation/<pairing id>/<donation id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub subject: String,
    pub result: FindingResult,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpotCheck {
    pub program: Option<ProgramId>,
    pub year: i64,
    pub sample: Option<BTreeSet<HouseholdId>>,
    pub revisited: BTreeMap<HouseholdId, u32>,
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum SpotCheckCommand {
    OpenCampaign(OpenCampaign),
    RecordDraw(RecordDraw),
    RecordRevisit(RecordRevisit),
    CloseCampaign(CloseCampaign),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCampaign {
    pub program: ProgramId,
    pub year: i64,
}

/// The sample and the signed checkpoint it was derived from (see `bangfu spot-check draw`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordDraw {
    pub checkpoint: String,
    pub sample: Vec<HouseholdId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRevisit {
    pub household: HouseholdId,
    pub method: Method,
    pub date: Date,
    pub findings: Vec<Finding>,
    /// 1 (very dissatisfied) – 5 (very satisfied), if the household answered.
    #[serde(default)]
    pub satisfaction: Option<u8>,
    /// What the household said, sealed.
    #[serde(default)]
    pub notes: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseCampaign {}

events! {
    pub enum SpotCheckEvent {
        CampaignOpened = "1.0",
        SampleDrawn = "1.0",
        RevisitRecorded = "1.0",
        CampaignClosed = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignOpened {
    pub program: ProgramId,
    pub year: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleDrawn {
    pub checkpoint: String,
    pub sample: Vec<HouseholdId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisitRecorded {
    pub household: HouseholdId,
    pub method: Method,
    pub date: Date,
    pub findings: Vec<Finding>,
    pub satisfaction: Option<u8>,
    pub notes: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignClosed {}

aggregate!(SpotCheck, "spot_check", SpotCheckCommand, SpotCheckEvent);

fn subject_ok(s: &str) -> bool {
    let mut parts = s.splitn(3, '/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("visit" | "disbursement" | "donation"), Some(a), Some(b))
            if bangfu_ledger::statement::is_aggregate_id(a) && bangfu_ledger::statement::is_aggregate_id(b)
    )
}

impl SpotCheck {
    fn decide(
        &self,
        ctx: &Ctx,
        command: SpotCheckCommand,
        registry: &Registry,
    ) -> Result<Vec<SpotCheckEvent>, DomainError> {
        use SpotCheckCommand as C;
        use SpotCheckEvent as E;
        let state = |command: &str, state: &str| DomainError::WrongState {
            command: command.into(),
            state: state.into(),
        };
        if self.closed {
            return Err(state("spot check", "the campaign is closed"));
        }
        match command {
            C::OpenCampaign(o) => {
                if self.program.is_some() {
                    return Err(DomainError::AlreadyExists {
                        what: "campaign",
                        id: ctx.aggregate_id.clone(),
                    });
                }
                if registry.program(&o.program).is_none() {
                    return Err(DomainError::NotFound {
                        what: "program",
                        id: o.program.to_string(),
                    });
                }
                if o.year < 2000 || o.year > ctx.today().year() {
                    return Err(DomainError::OutOfRange {
                        field: "year",
                        reason: "a past or current year from 2000".into(),
                    });
                }
                Ok(vec![E::CampaignOpened(CampaignOpened {
                    program: o.program,
                    year: o.year,
                })])
            }
            _ if self.program.is_none() => Err(DomainError::NotFound {
                what: "campaign",
                id: ctx.aggregate_id.clone(),
            }),
            C::RecordDraw(d) => {
                if self.sample.is_some() {
                    return Err(state("record_draw", "the sample is drawn already"));
                }
                let unique: BTreeSet<&HouseholdId> = d.sample.iter().collect();
                if d.sample.is_empty() || unique.len() != d.sample.len() || d.sample.len() > 100_000
                {
                    return Err(DomainError::OutOfRange {
                        field: "sample",
                        reason: "1–100000 distinct households".into(),
                    });
                }
                if let Some(h) = d.sample.iter().find(|h| registry.household(h).is_none()) {
                    return Err(DomainError::NotFound {
                        what: "household",
                        id: h.to_string(),
                    });
                }
                if d.checkpoint.is_empty() || d.checkpoint.len() > 8192 {
                    return Err(DomainError::OutOfRange {
                        field: "checkpoint",
                        reason: "the signed checkpoint note the sample was drawn from".into(),
                    });
                }
                Ok(vec![E::SampleDrawn(SampleDrawn {
                    checkpoint: d.checkpoint,
                    sample: d.sample,
                })])
            }
            C::RecordRevisit(r) => {
                let Some(sample) = &self.sample else {
                    return Err(state("record_revisit", "no sample is drawn yet"));
                };
                if !sample.contains(&r.household) {
                    return Err(DomainError::OutOfRange {
                        field: "household",
                        reason: format!(
                            "{} 不在抽查样本中 / {} is not in the sample",
                            r.household, r.household
                        ),
                    });
                }
                not_in_future(r.date, ctx)?;
                if r.findings.len() > 200 || r.findings.iter().any(|f| !subject_ok(&f.subject)) {
                    return Err(DomainError::OutOfRange {
                        field: "findings",
                        reason: "at most 200, each about visit/<pairing>/<visit>, disbursement/<fund>/<id> or donation/<pairing>/<id>".into(),
                    });
                }
                if r.satisfaction.is_some_and(|s| !(1..=5).contains(&s)) {
                    return Err(DomainError::OutOfRange {
                        field: "satisfaction",
                        reason: "满意度 1–5 / 1 to 5".into(),
                    });
                }
                Ok(vec![E::RevisitRecorded(RevisitRecorded {
                    household: r.household,
                    method: r.method,
                    date: r.date,
                    findings: r.findings,
                    satisfaction: r.satisfaction,
                    notes: r.notes,
                })])
            }
            C::CloseCampaign(CloseCampaign {}) => Ok(vec![E::CampaignClosed(CampaignClosed {})]),
        }
    }

    fn evolve(&mut self, event: SpotCheckEvent) {
        match event {
            SpotCheckEvent::CampaignOpened(e) => {
                self.program = Some(e.program);
                self.year = e.year;
            }
            SpotCheckEvent::SampleDrawn(e) => self.sample = Some(e.sample.into_iter().collect()),
            SpotCheckEvent::RevisitRecorded(e) => {
                *self.revisited.entry(e.household).or_default() += 1
            }
            SpotCheckEvent::CampaignClosed(_) => self.closed = true,
        }
    }
}
