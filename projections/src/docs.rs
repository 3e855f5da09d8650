//! The rows of the read models, one typed struct per kind, and the keys they are stored under.
//!
//! | key | row | what it answers |
//! |---|---|---|
//! | `unit/<unit>` | [`UnitRow`] | a unit's name, kind and parent |
//! | `cadre/<cadre>` | [`CadreRow`] | a cadre, their unit history, every stint on every pairing |
//! | `household/<household>` | [`HouseholdRow`] | a household's category, status, and its pairing per program |
//! | `program/<program>` | [`ProgramRow`] | a program and every version of its rules |
//! | `pairing/<program>:<household>` | [`PairingRow`] | who is responsible now, the history, visits, donations |
//! | `request/<program>:<household>/<request>` | [`RequestRow`] | one request (三单) and its life |
//! | `fund/<fund>` | [`FundRow`] | a fund's balance, totals per year and the FIFO queue of unspent money |
//! | `contribution/<fund>/<contribution>` | [`ContributionRow`] | one contribution and where its money went |
//! | `movement/<fund>/<index>/<n>` | [`MovementRow`] | the fund's trail, in log order |
//! | `disbursement/<fund>/<disbursement>` | [`DisbursementRow`] | one disbursement's state and where it is recorded |
//! | `receipt/<household>/<index>/<n>` | [`ReceiptRow`] | everything a household received, from a fund or a cadre's pocket |
//! | `timeline/<household>/<index>/<n>` | [`TimelineRow`] | everything that happened to a household, with who signed it |
//! | `spot_check/<campaign>` | [`SpotCheckRow`] | a spot-check campaign, its sample and revisits |
//! | `assessment/<program>:<year>` | [`AssessmentRow`] | a published assessment |
//! | `log/head` | [`LogRow`] | how many entries the rows reflect, and the date of the last one |
//!
//! `<index>` is the entry index zero-padded to 20 digits so keys sort in log order; `<n>` is the
//! event's position in its entry. Ids use the ledger's alphabet (`[A-Za-z0-9._:-]`), so `/`
//! separates parts unambiguously and every key is ASCII.

use bangfu_domain::aggregates::cadre::Rank;
use bangfu_domain::aggregates::fund::{FundKind, Source};
use bangfu_domain::aggregates::household::{Address, Category};
use bangfu_domain::aggregates::pairing::{RequestKind, VisitKind};
use bangfu_domain::aggregates::program::Rules;
use bangfu_domain::aggregates::spot_check::{Finding, Method};
use bangfu_domain::aggregates::unit::UnitKind;
use bangfu_domain::command::Holder;
use bangfu_domain::date::Date;
use bangfu_domain::help::{Help, Purpose};
use bangfu_domain::ids::{
    CadreId, CampaignId, ContributionId, DisbursementId, DonationId, FundId, HouseholdId,
    ProgramId, RequestId, UnitId, VisitId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who signed an entry: the key's holder as registered at the time, and the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub index: u64,
    pub statement_id: String,
    /// `cadre/<id>`, `household/<id>`, `person/<id>`, or `unknown` for a key the registry does not
    /// know (only the genesis's own key before it is registered).
    pub signer: String,
    pub key: String,
    /// `recorded_at`, as the log stamped it.
    pub recorded_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRow {
    pub id: UnitId,
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CadreStatus {
    Active,
    Transferred,
    Retired,
}

/// A period a cadre served in a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSpell {
    pub unit: UnitId,
    pub from: Date,
    /// The day they left (exclusive), if they did.
    pub to: Option<Date>,
}

/// A period a cadre was on a pairing's team: from `from` (inclusive) to `to` (exclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stint {
    pub cadre: CadreId,
    pub from: Date,
    pub to: Option<Date>,
}

impl Stint {
    /// Whether the cadre was on the team on `day`.
    pub fn covers(&self, day: Date) -> bool {
        self.from <= day && self.to.is_none_or(|to| day < to)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CadreRow {
    pub id: CadreId,
    pub name: String,
    pub rank: Rank,
    pub party_member: bool,
    pub status: CadreStatus,
    pub registered: Date,
    pub units: Vec<UnitSpell>,
    /// Pairing id → this cadre's stints on it.
    pub pairings: BTreeMap<String, Vec<Stint>>,
}

impl CadreRow {
    /// The unit the cadre belonged to on `day`, or their last unit if they had left all by then.
    pub fn unit_on(&self, day: Date) -> Option<&UnitId> {
        self.units
            .iter()
            .rev()
            .find(|s| s.from <= day)
            .or(self.units.first())
            .map(|s| &s.unit)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdStatus {
    InHardship,
    Exited,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdRow {
    pub id: HouseholdId,
    /// The address is public; sealed fields never enter a read model.
    pub address: Address,
    pub category: Category,
    pub members: u32,
    pub status: HouseholdStatus,
    pub registered: Date,
    /// Program → pairing id, for every program the household was ever paired in.
    pub pairings: BTreeMap<ProgramId, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesVersion {
    pub version: u32,
    pub rules: Rules,
    /// The China date of the entry that set these rules: they apply from then on.
    pub since: Date,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRow {
    pub id: ProgramId,
    pub name: String,
    pub rules: Vec<RulesVersion>,
}

impl ProgramRow {
    /// The rules in force on `day`: the last version set on or before it (the first version for
    /// days before the program existed).
    pub fn rules_on(&self, day: Date) -> Option<&Rules> {
        self.rules
            .iter()
            .rev()
            .find(|r| r.since <= day)
            .or(self.rules.first())
            .map(|r| &r.rules)
    }
}

/// One step of a pairing's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingStep {
    /// `formed`, `handover_proposed`, `handover_accepted`, `handed_over`, `ended`.
    pub step: String,
    pub date: Option<Date>,
    pub cadres: BTreeSet<CadreId>,
    pub lead: Option<CadreId>,
    pub reason: Option<String>,
    pub signed: Signed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub cadres: BTreeSet<CadreId>,
    pub lead: CadreId,
    pub since: Date,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRow {
    pub visit_id: VisitId,
    pub cadre: CadreId,
    pub date: Date,
    pub kind: VisitKind,
    /// The China date the log recorded it: later than `date` + the program's `late_after_days`
    /// makes it a late record.
    pub recorded_on: Date,
    pub problems: Vec<String>,
    pub photos: usize,
    pub retracted: bool,
    pub acknowledged: bool,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingStatus {
    Active,
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingRow {
    pub id: String,
    pub program: ProgramId,
    pub household: HouseholdId,
    pub status: PairingStatus,
    /// The team now (the last team, for an ended pairing).
    pub team: Team,
    pub formed: Date,
    pub ended: Option<Date>,
    /// Every cadre's time on the team; a handover closes the leavers' stints on its date.
    pub stints: Vec<Stint>,
    pub history: Vec<PairingStep>,
    pub visits: Vec<VisitRow>,
    /// Personal donations: id → the receipt row that records it.
    pub donations: BTreeMap<DonationId, String>,
    pub requests: Vec<RequestId>,
}

impl PairingRow {
    /// The cadres on the team on `day`.
    pub fn team_on(&self, day: Date) -> BTreeSet<&CadreId> {
        self.stints
            .iter()
            .filter(|s| s.covers(day))
            .map(|s| &s.cadre)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Raised,
    Dispatched,
    Accepted,
    Resolved,
    Confirmed,
    Disputed,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: RequestId,
    pub pairing: String,
    pub household: HouseholdId,
    pub kind: RequestKind,
    pub summary: String,
    pub raised_by: Holder,
    pub raised_on: Date,
    pub state: RequestState,
    /// Who must act now: the pairing's lead when raised, then whoever it was dispatched to or
    /// accepted by, then the new lead after a handover carried it.
    pub responsible: CadreId,
    pub resolved_by: Option<CadreId>,
    pub resolved_on: Option<Date>,
    pub outcome: Option<String>,
    /// Why the household disputed the resolution, or why it was closed.
    pub note: Option<String>,
    pub history: Vec<(String, Signed)>,
}

/// Money in and out of a fund in one calendar year (by the movement's own date).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearTotals {
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
}

/// Unspent money of one contribution, waiting in the fund's first-in-first-out queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unspent {
    pub contribution: ContributionId,
    /// The contribution's place in the fund's order (1, 2, …): the queue stays sorted by it.
    pub seq: u64,
    pub remaining: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundRow {
    pub id: FundId,
    pub name: String,
    pub kind: FundKind,
    pub unit: UnitId,
    pub manager: Holder,
    /// Fen held now.
    pub balance: i64,
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
    pub contributions: u64,
    pub disbursements: u64,
    pub per_year: BTreeMap<i64, YearTotals>,
    /// Contributions with money left, oldest first: disbursements draw from the front.
    pub queue: Vec<Unspent>,
}

/// A slice of one contribution spent on one disbursement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub contribution: ContributionId,
    pub disbursement: DisbursementId,
    pub household: HouseholdId,
    pub amount: i64,
    /// The disbursement was reversed: the slice went back to the contribution.
    pub reversed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionRow {
    pub fund: FundId,
    pub id: ContributionId,
    pub seq: u64,
    pub source: Source,
    pub amount: i64,
    pub date: Date,
    pub remaining: i64,
    pub allocations: Vec<Allocation>,
    pub signed: Signed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Movement {
    Contribution {
        contribution: ContributionId,
        source: Source,
    },
    Disbursement {
        disbursement: DisbursementId,
        household: HouseholdId,
        through: CadreId,
        purpose: Purpose,
        help: Help,
        allocations: Vec<Allocation>,
    },
    Reversal {
        disbursement: DisbursementId,
        household: HouseholdId,
        reason: String,
    },
}

/// One line of a fund's trail. `amount` is signed: + into the fund, − out of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementRow {
    pub fund: FundId,
    pub date: Date,
    pub amount: i64,
    /// The balance right after this movement.
    pub balance: i64,
    pub movement: Movement,
    pub signed: Signed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisbursementRow {
    pub fund: FundId,
    pub id: DisbursementId,
    pub household: HouseholdId,
    pub through: CadreId,
    pub value: i64,
    pub date: Date,
    pub acknowledged: bool,
    pub reversed: bool,
    pub allocations: Vec<Allocation>,
    pub movement: String,
    pub receipt: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ReceiptSource {
    /// From a fund, delivered by a cadre.
    Fund {
        fund: FundId,
        disbursement: DisbursementId,
        through: CadreId,
    },
    /// From a cadre's own pocket (个人捐助).
    Cadre {
        cadre: CadreId,
        pairing: String,
        donation: DonationId,
    },
}

impl ReceiptSource {
    /// The cadre who handed it over.
    pub fn cadre(&self) -> &CadreId {
        match self {
            ReceiptSource::Fund { through, .. } => through,
            ReceiptSource::Cadre { cadre, .. } => cadre,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRow {
    pub household: HouseholdId,
    pub date: Date,
    pub source: ReceiptSource,
    pub help: Help,
    pub value: i64,
    pub purpose: Purpose,
    pub acknowledged: bool,
    pub reversed: bool,
    pub signed: Signed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineRow {
    pub household: HouseholdId,
    /// `<aggregate type>/<aggregate id>` the event belongs to.
    pub aggregate: String,
    pub event_type: String,
    /// The event's payload; sealed fields stay sealed.
    pub payload: serde_json::Map<String, serde_json::Value>,
    pub signed: Signed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revisit {
    pub household: HouseholdId,
    pub method: Method,
    pub date: Date,
    pub findings: Vec<Finding>,
    pub satisfaction: Option<u8>,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotCheckRow {
    pub id: CampaignId,
    pub program: ProgramId,
    pub year: i64,
    pub checkpoint: Option<String>,
    pub sample: Vec<HouseholdId>,
    pub revisits: Vec<Revisit>,
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentRow {
    pub program: ProgramId,
    pub year: i64,
    pub log_size: u64,
    pub formula: String,
    pub cadres: BTreeMap<CadreId, i64>,
    pub units: BTreeMap<UnitId, i64>,
    pub signed: Signed,
}

/// `log/head`: how far the read models have read, and the China date of the last entry —
/// "today" for questions such as "is this request overdue" or "is this quarter over".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRow {
    pub size: u64,
    pub last_recorded_at: String,
    pub today: Date,
}

/// The key of the one [`LogRow`].
pub const LOG_HEAD: &str = "log/head";

/// A row kind: where it is stored and how it is (de)serialized.
pub trait Doc: Serialize + DeserializeOwned + Clone + Send + 'static {
    /// The first part of its keys, without the slash.
    const KIND: &'static str;
    fn into_any(self) -> AnyDoc;
    fn from_any(doc: AnyDoc) -> Option<Self>;
}

macro_rules! docs {
    ($($variant:ident($row:ident) = $kind:literal),+ $(,)?) => {
        /// A row of any kind, as the projector's cache holds it.
        #[derive(Clone, Debug, PartialEq)]
        pub enum AnyDoc {
            $($variant($row)),+
        }

        $(impl Doc for $row {
            const KIND: &'static str = $kind;
            fn into_any(self) -> AnyDoc {
                AnyDoc::$variant(self)
            }
            fn from_any(doc: AnyDoc) -> Option<Self> {
                match doc {
                    AnyDoc::$variant(d) => Some(d),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        })+

        impl AnyDoc {
            /// The row's stored form: deterministic JSON (struct fields in declaration order,
            /// maps sorted), so equal rows are equal bytes.
            pub fn to_json(&self) -> String {
                match self {
                    $(AnyDoc::$variant(d) => serde_json::to_string(d),)+
                }
                .expect("rows serialize to JSON")
            }

            /// Reads a stored row, its kind taken from the key.
            pub fn from_json(key: &str, json: &str) -> Result<AnyDoc, String> {
                let kind = key.split('/').next().unwrap_or("");
                match kind {
                    $($kind => serde_json::from_str::<$row>(json)
                        .map(AnyDoc::$variant)
                        .map_err(|e| format!("row {key}: {e}")),)+
                    _ => Err(format!("row {key}: no read model has rows of kind {kind:?}")),
                }
            }
        }
    };
}

docs! {
    Unit(UnitRow) = "unit",
    Cadre(CadreRow) = "cadre",
    Household(HouseholdRow) = "household",
    Program(ProgramRow) = "program",
    Pairing(PairingRow) = "pairing",
    Request(RequestRow) = "request",
    Fund(FundRow) = "fund",
    Contribution(ContributionRow) = "contribution",
    Movement(MovementRow) = "movement",
    Disbursement(DisbursementRow) = "disbursement",
    Receipt(ReceiptRow) = "receipt",
    Timeline(TimelineRow) = "timeline",
    SpotCheck(SpotCheckRow) = "spot_check",
    Assessment(AssessmentRow) = "assessment",
    Log(LogRow) = "log",
}

/// `<kind>/<parts joined by />`.
pub fn key<T: Doc>(parts: &[&str]) -> String {
    let mut k = String::from(T::KIND);
    for p in parts {
        k.push('/');
        k.push_str(p);
    }
    k
}

/// The key part for an entry index and an event's position in it: sorts in log order.
pub fn position(index: u64, n: usize) -> String {
    format!("{index:020}/{n:03}")
}
