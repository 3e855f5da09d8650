//! Pairings (结对): one or more cadres with one household under a program. Everything that happens
//! between them lives here: visits, personal donations, requests for help, handovers.
//! Target: `pairing/<program>:<household>` — one stream per household and program, so a household
//! has at most one active pairing per program by construction.

use super::{active_cadre, aggregate, not_in_future, text};
use crate::command::{Ctx, Holder};
use crate::date::Date;
use crate::error::DomainError;
use crate::events;
use crate::help::{Help, Purpose};
use crate::ids::{
    CadreId, DonationId, HouseholdId, ProgramId, RequestId, VisitId, pairing_aggregate_id,
};
use crate::money::Fen;
use crate::registry::Registry;
use crate::sealed::Sealed;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most cadres who share one household (two judges took over one family together).
const MAX_CADRES: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub cadres: BTreeSet<CadreId>,
    pub lead: CadreId,
    /// When the pairing was formed.
    pub since: Date,
    /// When each cadre of the team became responsible: the formation, or the handover that
    /// brought them in. A cadre records nothing dated before it.
    pub joined: BTreeMap<CadreId, Date>,
}

impl Term {
    fn joined(&self, cadre: &CadreId) -> Date {
        self.joined.get(cadre).copied().unwrap_or(self.since)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingHandover {
    pub outgoing: BTreeSet<CadreId>,
    pub incoming: BTreeSet<CadreId>,
    pub lead: CadreId,
    pub date: Date,
    pub accepted: BTreeSet<CadreId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitState {
    pub cadre: CadreId,
    pub date: Date,
    pub retracted: bool,
    pub acknowledged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DonationState {
    pub cadre: CadreId,
    pub value: Fen,
    pub acknowledged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RequestStatus {
    Raised,
    Dispatched { to: CadreId },
    Accepted { by: CadreId },
    Resolved { by: CadreId },
    Confirmed,
    Disputed,
    Closed,
}

impl RequestStatus {
    fn name(&self) -> &'static str {
        match self {
            RequestStatus::Raised => "raised",
            RequestStatus::Dispatched { .. } => "dispatched",
            RequestStatus::Accepted { .. } => "accepted",
            RequestStatus::Resolved { .. } => "resolved",
            RequestStatus::Confirmed => "confirmed",
            RequestStatus::Disputed => "disputed",
            RequestStatus::Closed => "closed",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pairing {
    pub program: Option<ProgramId>,
    pub household: Option<HouseholdId>,
    pub active: Option<Term>,
    pub pending: Option<PendingHandover>,
    pub visits: BTreeMap<VisitId, VisitState>,
    pub donations: BTreeMap<DonationId, DonationState>,
    pub requests: BTreeMap<RequestId, RequestStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "args", rename_all = "snake_case")]
pub enum PairingCommand {
    FormPairing(FormPairing),
    ProposeHandover(ProposeHandover),
    AcceptHandover(AcceptHandover),
    EndPairing(EndPairing),
    RecordVisit(RecordVisit),
    RetractVisit(RetractVisit),
    AcknowledgeVisit(AcknowledgeVisit),
    RecordPersonalDonation(RecordPersonalDonation),
    AcknowledgeDonation(AcknowledgeDonation),
    RaiseRequest(RaiseRequest),
    DispatchRequest(DispatchRequest),
    AcceptRequest(RequestRef),
    ResolveRequest(ResolveRequest),
    ConfirmResolution(RequestRef),
    DisputeResolution(DisputeResolution),
    CloseRequest(CloseRequest),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormPairing {
    pub program: ProgramId,
    pub household: HouseholdId,
    pub cadres: BTreeSet<CadreId>,
    pub lead: CadreId,
    pub date: Date,
}

/// 接力帮扶: outgoing cadres hand the household to incoming ones; effective when all incoming accept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeHandover {
    pub outgoing: BTreeSet<CadreId>,
    pub incoming: BTreeSet<CadreId>,
    /// The lead cadre after the handover.
    pub lead: CadreId,
    pub date: Date,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptHandover {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndPairing {
    pub date: Date,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    Routine,
    Festival,
    Emergency,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordVisit {
    pub visit_id: VisitId,
    pub date: Date,
    pub kind: VisitKind,
    /// The visit diary (民情日记), sealed.
    pub diary: Sealed,
    /// Short tags of problems noted ("医疗", "住房漏雨"); details belong in the sealed diary.
    #[serde(default)]
    pub problems: Vec<String>,
    /// SHA-256 hashes (base64) of photos kept elsewhere.
    #[serde(default)]
    pub photos: Vec<String>,
    /// Coarse location, e.g. the community's name; never an exact address.
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractVisit {
    pub visit_id: VisitId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeVisit {
    pub visit_id: VisitId,
}

/// Help from the cadre's own pocket, not from a fund.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPersonalDonation {
    pub donation_id: DonationId,
    pub date: Date,
    pub help: Help,
    pub purpose: Purpose,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeDonation {
    pub donation_id: DonationId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// 居民点单: the resident orders.
    Order,
    /// 办实事: concrete help (a job, a repair, school fees).
    ConcreteHelp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseRequest {
    pub request_id: RequestId,
    pub kind: RequestKind,
    /// What is asked, without personal data ("孩子学费", "房屋漏雨维修").
    pub summary: String,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    pub request_id: RequestId,
    pub to: CadreId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRef {
    pub request_id: RequestId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub request_id: RequestId,
    pub outcome: String,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeResolution {
    pub request_id: RequestId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub request_id: RequestId,
    pub reason: String,
}

events! {
    pub enum PairingEvent {
        PairingFormed = "1.0",
        HandoverProposed = "1.0",
        HandoverAccepted = "1.0",
        HandoverCompleted = "1.0",
        PairingEnded = "1.0",
        VisitRecorded = "1.0",
        VisitRetracted = "1.0",
        VisitAcknowledged = "1.0",
        PersonalDonationRecorded = "1.0",
        DonationAcknowledged = "1.0",
        RequestRaised = "1.0",
        RequestDispatched = "1.0",
        RequestAccepted = "1.0",
        RequestResolved = "1.0",
        ResolutionConfirmed = "1.0",
        ResolutionDisputed = "1.0",
        RequestClosed = "1.0",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairingFormed {
    pub program: ProgramId,
    pub household: HouseholdId,
    pub cadres: BTreeSet<CadreId>,
    pub lead: CadreId,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoverProposed {
    pub outgoing: BTreeSet<CadreId>,
    pub incoming: BTreeSet<CadreId>,
    pub lead: CadreId,
    pub date: Date,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoverAccepted {
    pub cadre: CadreId,
}

/// The handover took effect: the new team, and the open requests it carried to the new lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandoverCompleted {
    pub cadres: BTreeSet<CadreId>,
    pub lead: CadreId,
    pub date: Date,
    pub carried_requests: Vec<RequestId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairingEnded {
    pub date: Date,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitRecorded {
    pub visit_id: VisitId,
    pub cadre: CadreId,
    pub date: Date,
    pub kind: VisitKind,
    pub diary: Sealed,
    pub problems: Vec<String>,
    pub photos: Vec<String>,
    pub location: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitRetracted {
    pub visit_id: VisitId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitAcknowledged {
    pub visit_id: VisitId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalDonationRecorded {
    pub donation_id: DonationId,
    pub cadre: CadreId,
    pub date: Date,
    pub help: Help,
    pub value: Fen,
    pub purpose: Purpose,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DonationAcknowledged {
    pub donation_id: DonationId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRaised {
    pub request_id: RequestId,
    pub by: Holder,
    pub kind: RequestKind,
    pub summary: String,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestDispatched {
    pub request_id: RequestId,
    pub to: CadreId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestAccepted {
    pub request_id: RequestId,
    pub cadre: CadreId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestResolved {
    pub request_id: RequestId,
    pub cadre: CadreId,
    pub outcome: String,
    pub date: Date,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolutionConfirmed {
    pub request_id: RequestId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolutionDisputed {
    pub request_id: RequestId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestClosed {
    pub request_id: RequestId,
    pub reason: String,
}

aggregate!(Pairing, "pairing", PairingCommand, PairingEvent);

fn wrong_state(command: &str, state: impl Into<String>) -> DomainError {
    DomainError::WrongState {
        command: command.into(),
        state: state.into(),
    }
}

impl Pairing {
    /// The term in force, or a refusal naming the command.
    fn term(&self, command: &str) -> Result<&Term, DomainError> {
        self.active
            .as_ref()
            .ok_or_else(|| wrong_state(command, "the pairing is not active"))
    }

    /// The signing cadre, who must be active and currently paired here.
    fn paired_signer(
        &self,
        ctx: &Ctx,
        registry: &Registry,
        command: &str,
    ) -> Result<CadreId, DomainError> {
        let term = self.term(command)?;
        let cadre = ctx.cadre().ok_or_else(|| DomainError::NotYours {
            what: format!("{command} is signed by a paired cadre's own key"),
        })?;
        active_cadre(registry, cadre)?;
        if !term.cadres.contains(cadre) {
            return Err(DomainError::NotPaired {
                cadre: cadre.to_string(),
            });
        }
        Ok(cadre.clone())
    }

    /// The signer must be this household's current contact card (the registry follows the card
    /// through key rotations).
    fn household_signer(&self, ctx: &Ctx, registry: &Registry) -> Result<(), DomainError> {
        let card = self
            .household
            .as_ref()
            .and_then(|h| registry.household(h))
            .and_then(|h| h.contact_key);
        if card != Some(ctx.signer) {
            return Err(DomainError::NotYours {
                what: "only this household's own contact card may acknowledge or confirm".into(),
            });
        }
        Ok(())
    }

    /// What recording a visit or a donation starts with: signed by an active cadre of the current
    /// team, under a new id, dated between the cadre joining and today. Returns the cadre.
    fn new_record(
        &self,
        ctx: &Ctx,
        registry: &Registry,
        command: &str,
        (what, id): (&'static str, &dyn std::fmt::Display),
        exists: bool,
        date: Date,
    ) -> Result<CadreId, DomainError> {
        let cadre = self.paired_signer(ctx, registry, command)?;
        if exists {
            return Err(DomainError::AlreadyExists {
                what,
                id: id.to_string(),
            });
        }
        not_in_future(date, ctx)?;
        self.not_before_joining(&cadre, date)?;
        Ok(cadre)
    }

    /// A cadre records nothing dated before they became responsible for the household.
    fn not_before_joining(&self, cadre: &CadreId, date: Date) -> Result<(), DomainError> {
        if let Some(term) = &self.active {
            let joined = term.joined(cadre);
            if date < joined {
                return Err(DomainError::DateTooEarly {
                    date,
                    earliest: joined,
                    what: if joined == term.since {
                        "start of the pairing"
                    } else {
                        "handover that made this cadre responsible"
                    },
                });
            }
        }
        Ok(())
    }

    fn request(&self, id: &RequestId) -> Result<&RequestStatus, DomainError> {
        self.requests.get(id).ok_or_else(|| DomainError::NotFound {
            what: "request",
            id: id.to_string(),
        })
    }

    fn decide(
        &self,
        ctx: &Ctx,
        command: PairingCommand,
        registry: &Registry,
    ) -> Result<Vec<PairingEvent>, DomainError> {
        use PairingCommand as C;
        use PairingEvent as E;
        match command {
            C::FormPairing(f) => {
                let expected = pairing_aggregate_id(&f.program, &f.household);
                if ctx.aggregate_id != expected {
                    return Err(DomainError::TargetMismatch {
                        target: format!("pairing/{}", ctx.aggregate_id),
                        expected: format!("pairing/{expected}"),
                    });
                }
                if self.active.is_some() {
                    return Err(DomainError::ActivePairingExists {
                        household: f.household.to_string(),
                        program: f.program.to_string(),
                    });
                }
                if registry.program(&f.program).is_none() {
                    return Err(DomainError::NotFound {
                        what: "program",
                        id: f.program.to_string(),
                    });
                }
                let household =
                    registry
                        .household(&f.household)
                        .ok_or_else(|| DomainError::NotFound {
                            what: "household",
                            id: f.household.to_string(),
                        })?;
                if !household.in_hardship() {
                    return Err(DomainError::HouseholdExited {
                        household: f.household.to_string(),
                    });
                }
                check_team(&f.cadres, &f.lead, registry)?;
                not_in_future(f.date, ctx)?;
                if let Some(registered) = household.registered_on {
                    if f.date < registered {
                        return Err(DomainError::DateTooEarly {
                            date: f.date,
                            earliest: registered,
                            what: "household's registration",
                        });
                    }
                }
                Ok(vec![E::PairingFormed(PairingFormed {
                    program: f.program,
                    household: f.household,
                    cadres: f.cadres,
                    lead: f.lead,
                    date: f.date,
                })])
            }
            C::ProposeHandover(h) => {
                let term = self.term("propose_handover")?;
                if self.pending.is_some() {
                    return Err(wrong_state(
                        "propose_handover",
                        "another handover awaits acceptance",
                    ));
                }
                text("reason", &h.reason, 200)?;
                if h.outgoing.is_empty() || !h.outgoing.is_subset(&term.cadres) {
                    return Err(DomainError::OutOfRange {
                        field: "outgoing",
                        reason:
                            "交出的干部须是当前结对干部 / outgoing cadres must be currently paired"
                                .into(),
                    });
                }
                if h.incoming.is_empty() || h.incoming.iter().any(|c| term.cadres.contains(c)) {
                    return Err(DomainError::OutOfRange {
                        field: "incoming",
                        reason: "接手的干部须是新人 / incoming cadres must not be paired already"
                            .into(),
                    });
                }
                let after: BTreeSet<CadreId> = term
                    .cadres
                    .difference(&h.outgoing)
                    .chain(h.incoming.iter())
                    .cloned()
                    .collect();
                for c in &h.incoming {
                    active_cadre(registry, c)?;
                }
                check_team(&after, &h.lead, registry)?;
                not_in_future(h.date, ctx)?;
                if h.date < term.since {
                    return Err(DomainError::DateTooEarly {
                        date: h.date,
                        earliest: term.since,
                        what: "start of the current pairing",
                    });
                }
                Ok(vec![E::HandoverProposed(HandoverProposed {
                    outgoing: h.outgoing,
                    incoming: h.incoming,
                    lead: h.lead,
                    date: h.date,
                    reason: h.reason,
                })])
            }
            C::AcceptHandover(AcceptHandover {}) => {
                let term = self.term("accept_handover")?;
                let pending = self
                    .pending
                    .as_ref()
                    .ok_or_else(|| wrong_state("accept_handover", "no handover is proposed"))?;
                let cadre = ctx.cadre().ok_or_else(|| DomainError::NotYours {
                    what: "accept_handover is signed by an incoming cadre's own key".into(),
                })?;
                if !pending.incoming.contains(cadre) || pending.accepted.contains(cadre) {
                    return Err(DomainError::NotYours {
                        what: format!("cadre {cadre} is not an incoming cadre awaiting acceptance"),
                    });
                }
                active_cadre(registry, cadre)?;
                let mut events = vec![E::HandoverAccepted(HandoverAccepted {
                    cadre: cadre.clone(),
                })];
                if pending.accepted.len() + 1 == pending.incoming.len() {
                    let cadres: BTreeSet<CadreId> = term
                        .cadres
                        .difference(&pending.outgoing)
                        .chain(pending.incoming.iter())
                        .cloned()
                        .collect();
                    // Open requests held by outgoing cadres go to the new lead; the help must not lapse.
                    let carried = self
                        .requests
                        .iter()
                        .filter(|(_, s)| match s {
                            RequestStatus::Dispatched { to: c }
                            | RequestStatus::Accepted { by: c } => pending.outgoing.contains(c),
                            _ => false,
                        })
                        .map(|(id, _)| id.clone())
                        .collect();
                    events.push(E::HandoverCompleted(HandoverCompleted {
                        cadres,
                        lead: pending.lead.clone(),
                        // Effective when the last incoming cadre accepts; until then the outgoing stay responsible.
                        date: ctx.today(),
                        carried_requests: carried,
                    }));
                }
                Ok(events)
            }
            C::EndPairing(e) => {
                let term = self.term("end_pairing")?;
                text("reason", &e.reason, 200)?;
                not_in_future(e.date, ctx)?;
                if e.date < term.since {
                    return Err(DomainError::DateTooEarly {
                        date: e.date,
                        earliest: term.since,
                        what: "start of the current pairing",
                    });
                }
                Ok(vec![E::PairingEnded(PairingEnded {
                    date: e.date,
                    reason: e.reason,
                })])
            }
            C::RecordVisit(v) => {
                let exists = self.visits.contains_key(&v.visit_id);
                let cadre = self.new_record(
                    ctx,
                    registry,
                    "record_visit",
                    ("visit", &v.visit_id),
                    exists,
                    v.date,
                )?;
                if v.problems.len() > 10 || v.photos.len() > 9 {
                    return Err(DomainError::OutOfRange {
                        field: "problems / photos",
                        reason: "至多 10 个问题、9 张照片 / at most 10 problems and 9 photos"
                            .into(),
                    });
                }
                for p in &v.problems {
                    text("problems", p, 50)?;
                }
                for p in &v.photos {
                    if bangfu_ledger::Hash::from_base64(p).is_none() {
                        return Err(DomainError::OutOfRange {
                            field: "photos",
                            reason: "each photo is the base64 SHA-256 of the image file".into(),
                        });
                    }
                }
                if let Some(l) = &v.location {
                    text("location", l, 50)?;
                }
                Ok(vec![E::VisitRecorded(VisitRecorded {
                    visit_id: v.visit_id,
                    cadre,
                    date: v.date,
                    kind: v.kind,
                    diary: v.diary,
                    problems: v.problems,
                    photos: v.photos,
                    location: v.location,
                })])
            }
            C::RetractVisit(r) => {
                text("reason", &r.reason, 200)?;
                let visit = self
                    .visits
                    .get(&r.visit_id)
                    .ok_or_else(|| DomainError::NotFound {
                        what: "visit",
                        id: r.visit_id.to_string(),
                    })?;
                if ctx.cadre() != Some(&visit.cadre) {
                    return Err(DomainError::NotYours {
                        what: "a visit is retracted only by the cadre who recorded it".into(),
                    });
                }
                if visit.retracted {
                    return Err(wrong_state(
                        "retract_visit",
                        "the visit is already retracted",
                    ));
                }
                Ok(vec![E::VisitRetracted(VisitRetracted {
                    visit_id: r.visit_id,
                    reason: r.reason,
                })])
            }
            C::AcknowledgeVisit(a) => {
                self.household_signer(ctx, registry)?;
                let visit = self
                    .visits
                    .get(&a.visit_id)
                    .ok_or_else(|| DomainError::NotFound {
                        what: "visit",
                        id: a.visit_id.to_string(),
                    })?;
                if visit.retracted || visit.acknowledged {
                    return Err(wrong_state(
                        "acknowledge_visit",
                        "the visit is retracted or already acknowledged",
                    ));
                }
                Ok(vec![E::VisitAcknowledged(VisitAcknowledged {
                    visit_id: a.visit_id,
                })])
            }
            C::RecordPersonalDonation(d) => {
                let exists = self.donations.contains_key(&d.donation_id);
                let cadre = self.new_record(
                    ctx,
                    registry,
                    "record_personal_donation",
                    ("donation", &d.donation_id),
                    exists,
                    d.date,
                )?;
                let value = d.help.value()?;
                Ok(vec![E::PersonalDonationRecorded(
                    PersonalDonationRecorded {
                        donation_id: d.donation_id,
                        cadre,
                        date: d.date,
                        help: d.help,
                        value,
                        purpose: d.purpose,
                    },
                )])
            }
            C::AcknowledgeDonation(a) => {
                self.household_signer(ctx, registry)?;
                match self.donations.get(&a.donation_id) {
                    None => Err(DomainError::NotFound {
                        what: "donation",
                        id: a.donation_id.to_string(),
                    }),
                    Some(d) if d.acknowledged => Err(wrong_state(
                        "acknowledge_donation",
                        "the donation is already acknowledged",
                    )),
                    Some(_) => Ok(vec![E::DonationAcknowledged(DonationAcknowledged {
                        donation_id: a.donation_id,
                    })]),
                }
            }
            C::RaiseRequest(r) => {
                self.term("raise_request")?;
                if self.requests.contains_key(&r.request_id) {
                    return Err(DomainError::AlreadyExists {
                        what: "request",
                        id: r.request_id.to_string(),
                    });
                }
                text("summary", &r.summary, 200)?;
                not_in_future(r.date, ctx)?;
                let by = ctx.holder.clone().ok_or(DomainError::KeyUnknown)?;
                if let Holder::Household(h) = &by {
                    if Some(h) != self.household.as_ref() {
                        return Err(DomainError::NotYours {
                            what: "a household raises requests only for itself".into(),
                        });
                    }
                }
                Ok(vec![E::RequestRaised(RequestRaised {
                    request_id: r.request_id,
                    by,
                    kind: r.kind,
                    summary: r.summary,
                    date: r.date,
                })])
            }
            C::DispatchRequest(d) => {
                match self.request(&d.request_id)? {
                    RequestStatus::Raised | RequestStatus::Dispatched { .. } => {}
                    s => return Err(wrong_state("dispatch_request", s.name())),
                }
                active_cadre(registry, &d.to)?;
                Ok(vec![E::RequestDispatched(RequestDispatched {
                    request_id: d.request_id,
                    to: d.to,
                })])
            }
            C::AcceptRequest(a) => {
                let cadre = ctx.cadre().ok_or_else(|| DomainError::NotYours {
                    what: "accept_request is signed by a cadre's own key".into(),
                })?;
                active_cadre(registry, cadre)?;
                match self.request(&a.request_id)? {
                    RequestStatus::Dispatched { to } if to == cadre => {}
                    RequestStatus::Raised
                        if self
                            .active
                            .as_ref()
                            .is_some_and(|t| t.cadres.contains(cadre)) => {}
                    RequestStatus::Dispatched { .. } | RequestStatus::Raised => {
                        return Err(DomainError::NotYours {
                            what: "a request is accepted by the cadre it was dispatched to, or by a paired cadre".into(),
                        });
                    }
                    s => return Err(wrong_state("accept_request", s.name())),
                }
                Ok(vec![E::RequestAccepted(RequestAccepted {
                    request_id: a.request_id,
                    cadre: cadre.clone(),
                })])
            }
            C::ResolveRequest(r) => {
                text("outcome", &r.outcome, 500)?;
                not_in_future(r.date, ctx)?;
                let cadre = ctx.cadre().cloned().ok_or_else(|| DomainError::NotYours {
                    what: "resolve_request is signed by a cadre's own key".into(),
                })?;
                active_cadre(registry, &cadre)?;
                let allowed = match self.request(&r.request_id)? {
                    RequestStatus::Accepted { by } => *by == cadre,
                    // After a dispute, the cadres now paired may try again.
                    RequestStatus::Disputed => self
                        .active
                        .as_ref()
                        .is_some_and(|t| t.cadres.contains(&cadre)),
                    s => return Err(wrong_state("resolve_request", s.name())),
                };
                if !allowed {
                    return Err(DomainError::NotYours {
                        what: "a request is resolved by the cadre who accepted it".into(),
                    });
                }
                Ok(vec![E::RequestResolved(RequestResolved {
                    request_id: r.request_id,
                    cadre,
                    outcome: r.outcome,
                    date: r.date,
                })])
            }
            C::ConfirmResolution(c) => {
                self.household_signer(ctx, registry)?;
                match self.request(&c.request_id)? {
                    RequestStatus::Resolved { .. } => {
                        Ok(vec![E::ResolutionConfirmed(ResolutionConfirmed {
                            request_id: c.request_id,
                        })])
                    }
                    s => Err(wrong_state("confirm_resolution", s.name())),
                }
            }
            C::DisputeResolution(d) => {
                self.household_signer(ctx, registry)?;
                text("reason", &d.reason, 200)?;
                match self.request(&d.request_id)? {
                    RequestStatus::Resolved { .. } => {
                        Ok(vec![E::ResolutionDisputed(ResolutionDisputed {
                            request_id: d.request_id,
                            reason: d.reason,
                        })])
                    }
                    s => Err(wrong_state("dispute_resolution", s.name())),
                }
            }
            C::CloseRequest(c) => {
                text("reason", &c.reason, 200)?;
                match self.request(&c.request_id)? {
                    RequestStatus::Closed => Err(wrong_state("close_request", "closed")),
                    _ => Ok(vec![E::RequestClosed(RequestClosed {
                        request_id: c.request_id,
                        reason: c.reason,
                    })]),
                }
            }
        }
    }

    fn evolve(&mut self, event: PairingEvent) {
        use PairingEvent as E;
        match event {
            E::PairingFormed(e) => {
                self.program = Some(e.program);
                self.household = Some(e.household);
                self.active = Some(Term {
                    joined: e.cadres.iter().map(|c| (c.clone(), e.date)).collect(),
                    cadres: e.cadres,
                    lead: e.lead,
                    since: e.date,
                });
            }
            E::HandoverProposed(e) => {
                self.pending = Some(PendingHandover {
                    outgoing: e.outgoing,
                    incoming: e.incoming,
                    lead: e.lead,
                    date: e.date,
                    accepted: BTreeSet::new(),
                });
            }
            E::HandoverAccepted(e) => {
                if let Some(p) = &mut self.pending {
                    p.accepted.insert(e.cadre);
                }
            }
            E::HandoverCompleted(e) => {
                self.pending = None;
                for id in &e.carried_requests {
                    if let Some(s) = self.requests.get_mut(id) {
                        *s = RequestStatus::Accepted { by: e.lead.clone() };
                    }
                }
                let (since, before) = match self.active.take() {
                    Some(t) => (t.since, t.joined),
                    None => (e.date, BTreeMap::new()),
                };
                self.active = Some(Term {
                    joined: e
                        .cadres
                        .iter()
                        .map(|c| (c.clone(), before.get(c).copied().unwrap_or(e.date)))
                        .collect(),
                    cadres: e.cadres,
                    lead: e.lead,
                    since,
                });
            }
            E::PairingEnded(_) => {
                self.active = None;
                self.pending = None;
            }
            E::VisitRecorded(e) => {
                self.visits.insert(
                    e.visit_id,
                    VisitState {
                        cadre: e.cadre,
                        date: e.date,
                        retracted: false,
                        acknowledged: false,
                    },
                );
            }
            E::VisitRetracted(e) => {
                if let Some(v) = self.visits.get_mut(&e.visit_id) {
                    v.retracted = true;
                }
            }
            E::VisitAcknowledged(e) => {
                if let Some(v) = self.visits.get_mut(&e.visit_id) {
                    v.acknowledged = true;
                }
            }
            E::PersonalDonationRecorded(e) => {
                self.donations.insert(
                    e.donation_id,
                    DonationState {
                        cadre: e.cadre,
                        value: e.value,
                        acknowledged: false,
                    },
                );
            }
            E::DonationAcknowledged(e) => {
                if let Some(d) = self.donations.get_mut(&e.donation_id) {
                    d.acknowledged = true;
                }
            }
            E::RequestRaised(e) => {
                self.requests.insert(e.request_id, RequestStatus::Raised);
            }
            E::RequestDispatched(e) => {
                self.requests
                    .insert(e.request_id, RequestStatus::Dispatched { to: e.to });
            }
            E::RequestAccepted(e) => {
                self.requests
                    .insert(e.request_id, RequestStatus::Accepted { by: e.cadre });
            }
            E::RequestResolved(e) => {
                self.requests
                    .insert(e.request_id, RequestStatus::Resolved { by: e.cadre });
            }
            E::ResolutionConfirmed(e) => {
                self.requests.insert(e.request_id, RequestStatus::Confirmed);
            }
            E::ResolutionDisputed(e) => {
                self.requests.insert(e.request_id, RequestStatus::Disputed);
            }
            E::RequestClosed(e) => {
                self.requests.insert(e.request_id, RequestStatus::Closed);
            }
        }
    }
}

/// A team is 1–5 active cadres with its lead among them.
fn check_team(
    cadres: &BTreeSet<CadreId>,
    lead: &CadreId,
    registry: &Registry,
) -> Result<(), DomainError> {
    if cadres.is_empty() || cadres.len() > MAX_CADRES {
        return Err(DomainError::OutOfRange {
            field: "cadres",
            reason: format!("结对干部 1–{MAX_CADRES} 人 / a pairing has 1–{MAX_CADRES} cadres"),
        });
    }
    if !cadres.contains(lead) {
        return Err(DomainError::OutOfRange {
            field: "lead",
            reason: "牵头干部须在结对干部中 / the lead must be one of the cadres".into(),
        });
    }
    for c in cadres {
        active_cadre(registry, c)?;
    }
    Ok(())
}
