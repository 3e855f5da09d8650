//! Anomaly detection (`bangfu anomalies`): the paperwork problems discipline inspectors hunt for,
//! each named by the log entries behind it so that it can be shown (`bangfu show`) and proved
//! (`bangfu prove`). The kinds, their rules and thresholds are in `docs/anomalies.md`.
//!
//! One pass over the log ([`Backend::entries`], page by page) keeps small per-key summaries —
//! each visit's dates and diary commitment, each help record's value, each cadre's departure, each
//! pairing's stints, the spot-check findings — never whole entries. The read models answer what
//! they already compute: the programs' rules and visit compliance per quarter. Diaries are sealed
//! in the log, so their texts are compared from the vault ([`Backend::openings`], read twice page
//! by page): MinHash signatures over character shingles, bucketed (LSH) so that only diaries that
//! share a bucket are ever compared, then the exact Jaccard similarity of those candidates.
//!
//! The answer is computed as of the log size the read models reflect, so a past size replayed into
//! memory (`--at-size`, `--as-of`) gives the anomalies as they stood then.

use bangfu_domain::aggregates::cadre::CadreEvent;
use bangfu_domain::aggregates::fund::FundEvent;
use bangfu_domain::aggregates::pairing::PairingEvent;
use bangfu_domain::aggregates::spot_check::{FindingResult, Method, SpotCheckEvent};
use bangfu_domain::date::{Date, Quarter};
use bangfu_domain::event::from_ledger;
use bangfu_domain::help::Help;
use bangfu_domain::ids::{
    CadreId, CampaignId, DisbursementId, DonationId, FundId, HouseholdId, ProgramId, VisitId,
};
use bangfu_domain::money::yuan;
use bangfu_domain::upcasters;
use bangfu_ledger::Hash;
use bangfu_ledger::entry::{Entry, Event};
use bangfu_ledger::seal::{Commitment, Opening};
use bangfu_projections::compliance::{self, QuarterCompliance, QuarterStatus};
use bangfu_projections::docs::{PairingRow, ProgramRow};
use bangfu_projections::query;
use bangfu_projections::table::{Cell, Column, Table};
use bangfu_projections::views::{ViewError, ViewStore};
use bangfu_store::backend::{Backend, StoreError, check_contiguous};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use unicode_normalization::UnicodeNormalization;

/// The late-record threshold when neither the options nor the program's rules give one.
pub const DEFAULT_LATE_AFTER_DAYS: u32 = 7;

/// Entries read per page of the log.
const LOG_PAGE: u64 = 1000;
/// Vault rows read per page.
const VAULT_PAGE: u32 = 1000;
/// Characters per shingle. Three characters are about one and a half Chinese words: a changed
/// name or date disturbs few shingles, while unrelated diaries share almost none.
const SHINGLE: usize = 3;
/// MinHash bands × rows. With 16 bands of 5 rows, two diaries 80 % alike share a bucket with
/// probability 1 − (1 − 0.8⁵)¹⁶ ≈ 0.998; 30 % alike, ≈ 0.04 (then the exact check says no).
const BANDS: usize = 16;
const ROWS: usize = 5;
const HASHES: usize = BANDS * ROWS;
/// Within one bucket a diary is compared with at most this many group heads: a bucket crowded by
/// one template stays linear instead of quadratic.
const MAX_HEADS: usize = 256;

/// What kind of irregularity a finding is. The codes (snake_case) are stable: reports, scripts
/// and `--kind` use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    LateRecord,
    EndOfQuarterBurst,
    CopiedDiary,
    VisitAfterHandover,
    UnacknowledgedDisbursement,
    DuplicateClaim,
    MissedQuarters,
    ContradictedFinding,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::LateRecord,
        Kind::EndOfQuarterBurst,
        Kind::CopiedDiary,
        Kind::VisitAfterHandover,
        Kind::UnacknowledgedDisbursement,
        Kind::DuplicateClaim,
        Kind::MissedQuarters,
        Kind::ContradictedFinding,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::LateRecord => "late_record",
            Kind::EndOfQuarterBurst => "end_of_quarter_burst",
            Kind::CopiedDiary => "copied_diary",
            Kind::VisitAfterHandover => "visit_after_handover",
            Kind::UnacknowledgedDisbursement => "unacknowledged_disbursement",
            Kind::DuplicateClaim => "duplicate_claim",
            Kind::MissedQuarters => "missed_quarters",
            Kind::ContradictedFinding => "contradicted_finding",
        }
    }

    /// What people read: `补录逾期 / late record`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::LateRecord => "补录逾期 / late record",
            Kind::EndOfQuarterBurst => "突击走访 / burst before a deadline",
            Kind::CopiedDiary => "日记雷同 / copied diary",
            Kind::VisitAfterHandover => "离任后走访 / visit after leaving",
            Kind::UnacknowledgedDisbursement => "发放未确认 / unacknowledged disbursement",
            Kind::DuplicateClaim => "重复登记 / duplicate claim",
            Kind::MissedQuarters => "季度未走访 / missed quarter",
            Kind::ContradictedFinding => "回访不符 / contradicted by a revisit",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| {
                let codes: Vec<&str> = Kind::ALL.iter().map(|k| k.code()).collect();
                format!(
                    "没有这种异常类型 / no such kind of anomaly: {:?}; choose one of {}",
                    s.chars().take(40).collect::<String>(),
                    codes.join(", ")
                )
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Low => "低 / low",
            Severity::Medium => "中 / medium",
            Severity::High => "高 / high",
        }
    }
}

/// One irregularity, with the entries an inspector should look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// The household concerned, when there is one.
    pub household: Option<HouseholdId>,
    /// The cadres concerned, sorted.
    pub cadres: Vec<CadreId>,
    /// The day the finding is about (the visit's date, the quarter's last day, …).
    pub date: Option<Date>,
    /// One line, `中文 / English`, with the concrete facts.
    pub description: String,
    /// The log entries behind it, ascending: `bangfu show`, `bangfu prove` each of them.
    pub entries: Vec<u64>,
}

/// Thresholds. Every one has a default an inspector would find sensible (`docs/anomalies.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Options {
    /// Which kinds to look for; empty means all.
    pub kinds: BTreeSet<Kind>,
    /// Overrides the program's `late_after_days` rule for every program.
    pub late_after_days: Option<u32>,
    /// The last days of a quarter (or before a spot check opens) a burst is counted in.
    pub burst_window_days: u32,
    /// A burst is at least this many of one cadre's visits inside the window …
    pub burst_min_visits: u32,
    /// … and at least this share (percent) of the cadre's visits in the quarter (or, before a spot
    /// check, in the `burst_lookback_days` before it opened).
    pub burst_min_percent: u32,
    /// Before a spot check: the period the window's share is measured against.
    pub burst_lookback_days: u32,
    /// Diaries at least this similar (Jaccard similarity of their character 3-shingles, percent)
    /// are near-copies.
    pub diary_similarity_percent: u32,
    /// Diaries shorter than this (after normalisation) are too short to call copies.
    pub diary_min_chars: u32,
    /// A disbursement still unacknowledged this many days after its date is flagged.
    pub unacknowledged_after_days: u32,
    /// Two identical help records for one household at most this many days apart are duplicates.
    pub duplicate_window_days: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            kinds: BTreeSet::new(),
            late_after_days: None,
            burst_window_days: 5,
            burst_min_visits: 3,
            burst_min_percent: 60,
            burst_lookback_days: 90,
            diary_similarity_percent: 80,
            diary_min_chars: 20,
            unacknowledged_after_days: 30,
            duplicate_window_days: 3,
        }
    }
}

impl Options {
    /// Whether this kind is looked for.
    pub fn wants(&self, kind: Kind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Refuses thresholds that would make the statistics meaningless.
    pub fn check(&self) -> Result<()> {
        let range = |name: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(AnomalyError::BadOption(format!(
                    "{name} 应在 {lo}–{hi} 之间 / {name} must be {lo}–{hi} (got {v})"
                )))
            }
        };
        if let Some(days) = self.late_after_days {
            range("late_after_days", days, 0, 366)?;
        }
        range("burst_window_days", self.burst_window_days, 1, 31)?;
        range("burst_min_visits", self.burst_min_visits, 1, 1000)?;
        range("burst_min_percent", self.burst_min_percent, 1, 100)?;
        range(
            "burst_lookback_days",
            self.burst_lookback_days,
            self.burst_window_days,
            366,
        )?;
        // Below one half the bucketing is not tuned to find the pairs (see BANDS).
        range(
            "diary_similarity_percent",
            self.diary_similarity_percent,
            50,
            100,
        )?;
        range(
            "diary_min_chars",
            self.diary_min_chars,
            SHINGLE as u32,
            100_000,
        )?;
        range(
            "unacknowledged_after_days",
            self.unacknowledged_after_days,
            0,
            3660,
        )?;
        range("duplicate_window_days", self.duplicate_window_days, 0, 31)?;
        Ok(())
    }
}

/// What the vault allowed for the diary comparison: every sealed diary of a visit not retracted
/// falls in exactly one of `compared`, `without_cleartext`, `too_short`, `unreadable`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiaryNote {
    /// Diaries of visits not retracted.
    pub sealed: u64,
    /// Compared with each other.
    pub compared: u64,
    /// The vault holds no text for them (erased, or never deposited): not compared.
    pub without_cleartext: u64,
    /// Shorter than `diary_min_chars`: not compared.
    pub too_short: u64,
    /// The vault row holds no text, or does not open its commitment (run `bangfu verify`).
    pub unreadable: u64,
    /// Visits whose sealed diary is the very same sealed value as another visit's (same salt, same
    /// text): copies whatever the vault holds.
    pub reused_seals: u64,
}

impl DiaryNote {
    /// One line for the report's header.
    pub fn summary(&self) -> String {
        format!(
            "共 {} 篇，比对 {} 篇，无明文 {} 篇（已删除或未存入），过短 {} 篇，无法读取 {} 篇 / {} sealed diaries: {} compared, {} without cleartext in the vault (erased or never deposited), {} too short, {} unreadable",
            self.sealed,
            self.compared,
            self.without_cleartext,
            self.too_short,
            self.unreadable,
            self.sealed,
            self.compared,
            self.without_cleartext,
            self.too_short,
            self.unreadable
        )
    }
}

/// The anomalies of a log at one size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The log size the report was computed at (the entries the read models reflect).
    pub log_size: u64,
    /// The China date of the last entry: "today" for ages such as "unacknowledged after 30 days".
    pub today: Option<Date>,
    pub options: Options,
    /// Findings per kind looked for (zero included).
    pub counts: BTreeMap<Kind, u64>,
    /// Sorted by kind, then first entry.
    pub findings: Vec<Finding>,
    /// The diary comparison's coverage, when copied diaries were looked for.
    pub diaries: Option<DiaryNote>,
    /// What the findings cannot show, `中文 / English` (e.g. disbursements to households without
    /// a contact card, which cannot acknowledge).
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub enum AnomalyError {
    Store(StoreError),
    Views(ViewError),
    /// An entry that cannot be read: the log verified it at append, so this is damage.
    BadEntry {
        index: u64,
        reason: String,
    },
    /// The read models reflect more entries than the log holds: they belong to another log.
    ViewsAhead {
        views: u64,
        log: u64,
    },
    BadOption(String),
}

impl fmt::Display for AnomalyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnomalyError::Store(e) => e.fmt(f),
            AnomalyError::Views(e) => e.fmt(f),
            AnomalyError::BadEntry { index, reason } => write!(
                f,
                "第 {index} 条记录无法读取，请运行 `bangfu verify` / entry {index} cannot be read ({reason}); run `bangfu verify`"
            ),
            AnomalyError::ViewsAhead { views, log } => write!(
                f,
                "读模型（{views} 条）超前于账本（{log} 条），请运行 `bangfu rebuild` / the read models reflect {views} entries but the log holds {log}; run `bangfu rebuild`"
            ),
            AnomalyError::BadOption(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for AnomalyError {}

impl From<StoreError> for AnomalyError {
    fn from(e: StoreError) -> Self {
        AnomalyError::Store(e)
    }
}

impl From<ViewError> for AnomalyError {
    fn from(e: ViewError) -> Self {
        AnomalyError::Views(e)
    }
}

pub type Result<T> = std::result::Result<T, AnomalyError>;

/// Finds the anomalies of the log as of the size `views` reflect (bring them up to date first,
/// or pass an as-of replay). `progress(done, total)` is called after each page of entries.
pub async fn detect<B: Backend, V: ViewStore>(
    backend: &B,
    views: &V,
    options: &Options,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report> {
    options.check()?;
    let size = views.applied().await?;
    let log = backend.size().await?;
    if size > log {
        return Err(AnomalyError::ViewsAhead { views: size, log });
    }
    let mut facts = Facts {
        keep_diaries: options.wants(Kind::CopiedDiary),
        ..Facts::default()
    };
    let mut next = 0u64;
    while next < size {
        let want = (size - next).min(LOG_PAGE) as u32;
        let page = backend.entries(next, want).await?;
        if page.is_empty() {
            return Err(StoreError::Corrupt(format!("entry {next} is missing")).into());
        }
        for stored in page.iter().take(want as usize) {
            check_contiguous(next, stored.index)?;
            let entry = Entry::from_bytes(&stored.body).map_err(|e| AnomalyError::BadEntry {
                index: stored.index,
                reason: e.to_string(),
            })?;
            facts
                .take(&entry)
                .map_err(|reason| AnomalyError::BadEntry {
                    index: stored.index,
                    reason,
                })?;
            next += 1;
        }
        progress(next, size);
    }

    let today = query::head(views).await?.map(|h| h.today);
    let programs: BTreeMap<ProgramId, ProgramRow> = query::all::<ProgramRow, V>(views, "program/")
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let mut diaries = None;
    if let Some(today) = today {
        let o = options;
        if o.wants(Kind::LateRecord) {
            facts.late_records(&programs, o, &mut findings);
        }
        if o.wants(Kind::EndOfQuarterBurst) {
            facts.quarter_bursts(o, &mut findings);
            facts.inspection_bursts(o, &mut findings);
        }
        if o.wants(Kind::CopiedDiary) {
            diaries = Some(copied_diaries(backend, &facts, o, &mut findings).await?);
        }
        if o.wants(Kind::VisitAfterHandover) {
            facts.visits_after_leaving(&mut findings);
        }
        if o.wants(Kind::UnacknowledgedDisbursement) {
            facts.unacknowledged(o, today, &mut findings, &mut notes);
        }
        if o.wants(Kind::DuplicateClaim) {
            facts.duplicate_claims(o, &mut findings);
        }
        if o.wants(Kind::MissedQuarters) {
            missed_quarters(views, &programs, today, &facts, &mut findings).await?;
        }
        if o.wants(Kind::ContradictedFinding) {
            facts.contradicted(&mut findings, &mut notes);
        }
    }
    findings.sort_by(|a, b| {
        (a.kind, a.entries.first(), &a.description).cmp(&(
            b.kind,
            b.entries.first(),
            &b.description,
        ))
    });
    let mut counts: BTreeMap<Kind, u64> = Kind::ALL
        .into_iter()
        .filter(|k| options.wants(*k))
        .map(|k| (k, 0))
        .collect();
    for f in &findings {
        *counts.entry(f.kind).or_default() += 1;
    }
    Ok(Report {
        log_size: size,
        today,
        options: options.clone(),
        counts,
        findings,
        diaries,
        notes,
    })
}

/// The report as a table (text, JSON, CSV, Excel), `stamp` first (log size, checkpoint), then the
/// counts, the diary coverage and the notes.
pub fn table(report: &Report, mut stamp: Vec<(String, String)>) -> Table {
    if let Some(today) = report.today {
        stamp.push(("截至 / as of".into(), today.to_string()));
    }
    for (kind, n) in &report.counts {
        stamp.push((format!("{} ({})", kind.title(), kind.code()), n.to_string()));
    }
    if let Some(d) = &report.diaries {
        stamp.push(("走访日记 / visit diaries".into(), d.summary()));
    }
    for (i, note) in report.notes.iter().enumerate() {
        stamp.push((format!("说明 {} / note {}", i + 1, i + 1), note.clone()));
    }
    let column = |key: &'static str, header: &str| Column {
        key,
        header: header.to_owned(),
    };
    let text = |s: String| {
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    };
    Table {
        title: "异常线索 / Anomalies".into(),
        stamp,
        columns: vec![
            column("kind", "类型 / Kind"),
            column("severity", "严重程度 / Severity"),
            column("date", "日期 / Date"),
            column("household", "帮扶户 / Household"),
            column("cadres", "干部 / Cadres"),
            column("entries", "条目 / Entries"),
            column("description", "说明 / Description"),
        ],
        rows: report
            .findings
            .iter()
            .map(|f| {
                vec![
                    Cell::Text(f.kind.code().into()),
                    Cell::Text(f.severity.label().into()),
                    text(f.date.map(|d| d.to_string()).unwrap_or_default()),
                    text(
                        f.household
                            .as_ref()
                            .map(|h| h.to_string())
                            .unwrap_or_default(),
                    ),
                    text(
                        f.cadres
                            .iter()
                            .map(CadreId::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    text(
                        f.entries
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    Cell::Text(f.description.clone()),
                ]
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// What the pass over the log keeps.

/// Small integers for ids seen many times, so per-visit summaries stay a few dozen bytes.
struct Interner<T> {
    ids: HashMap<T, u32>,
    items: Vec<T>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            ids: HashMap::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Clone + Eq + std::hash::Hash> Interner<T> {
    fn id(&mut self, t: &T) -> u32 {
        if let Some(&i) = self.ids.get(t) {
            return i;
        }
        let i = self.items.len() as u32;
        self.items.push(t.clone());
        self.ids.insert(t.clone(), i);
        i
    }

    fn get(&self, t: &T) -> Option<u32> {
        self.ids.get(t).copied()
    }

    fn of(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LeftBy {
    Handover,
    Ended,
    Retired,
    TransferredAway,
}

impl LeftBy {
    fn words(self) -> (&'static str, &'static str) {
        match self {
            LeftBy::Handover => ("交接给他人", "handed the household over"),
            LeftBy::Ended => ("结对结束", "the pairing ended"),
            LeftBy::Retired => ("退休", "retired"),
            LeftBy::TransferredAway => ("调离", "transferred away"),
        }
    }
}

/// A cadre leaving: a pairing (handover, end) or office (retirement, transfer away).
#[derive(Clone, Copy, Debug)]
struct Leave {
    date: Date,
    index: u64,
    by: LeftBy,
}

struct StintFact {
    cadre: u32,
    from: Date,
    to: Option<Leave>,
}

struct PairingFact {
    program: ProgramId,
    household: u32,
    team: BTreeSet<u32>,
    stints: Vec<StintFact>,
}

struct VisitFact {
    index: u64,
    pairing: u32,
    cadre: u32,
    id: VisitId,
    date: Date,
    recorded: Date,
    /// The entry that retracted it.
    retracted: Option<u64>,
    /// Its diary's place in [`Facts::diary_docs`].
    diary: u32,
}

enum HelpSource {
    Fund {
        fund: u32,
        id: DisbursementId,
        through: u32,
    },
    Donation {
        pairing: u32,
        cadre: u32,
        id: DonationId,
    },
}

struct HelpFact {
    index: u64,
    household: u32,
    date: Date,
    recorded: Date,
    value: i64,
    help: Help,
    source: HelpSource,
    acknowledged: bool,
    /// The entry that reversed it (fund disbursements only).
    reversed: Option<u64>,
}

impl HelpFact {
    fn cadre(&self) -> u32 {
        match self.source {
            HelpSource::Fund { through, .. } => through,
            HelpSource::Donation { cadre, .. } => cadre,
        }
    }
}

struct CampaignFact {
    id: CampaignId,
    program: ProgramId,
    year: i64,
    opened: Date,
    index: u64,
}

struct RevisitFact {
    index: u64,
    campaign: CampaignId,
    household: HouseholdId,
    date: Date,
    method: Method,
    /// Subjects the household did not confirm.
    not_confirmed: Vec<String>,
}

#[derive(Default)]
struct Facts {
    keep_diaries: bool,
    cadres: Interner<CadreId>,
    cadre_names: HashMap<u32, String>,
    households: Interner<HouseholdId>,
    funds: Interner<FundId>,
    pairings: Vec<PairingFact>,
    pairing_ids: HashMap<String, u32>,
    visits: Vec<VisitFact>,
    visit_slots: HashMap<(u32, VisitId), u32>,
    helps: Vec<HelpFact>,
    disbursement_slots: HashMap<(u32, DisbursementId), u32>,
    donation_slots: HashMap<(u32, DonationId), u32>,
    /// Retirements and transfers out of the jurisdiction.
    departures: HashMap<u32, Leave>,
    /// Households that ever held a contact card (and so could acknowledge).
    cards: HashSet<u32>,
    campaigns: Vec<CampaignFact>,
    revisits: Vec<RevisitFact>,
    /// Each distinct diary commitment, and where it is in `diary_docs`.
    diaries: HashMap<Commitment, u32>,
    diary_docs: Vec<Commitment>,
}

fn decode<T: DeserializeOwned>(e: &Event) -> std::result::Result<T, String> {
    from_ledger(e, &upcasters::for_aggregate(&e.aggregate_type)).map_err(|e| e.to_string())
}

impl Facts {
    /// Takes one entry's events into account.
    fn take(&mut self, entry: &Entry) -> std::result::Result<(), String> {
        let index = entry.index;
        let recorded = Date::in_china(entry.recorded_at);
        for e in &entry.events {
            // Only the events the detector reads are decoded: the pass stays cheap.
            match (e.aggregate_type.as_str(), e.event_type.as_str()) {
                ("cadre", "CadreRegistered" | "CadreTransferred" | "CadreRetired") => {
                    self.cadre(e, index)?
                }
                ("household", "ContactKeySet") => {
                    let h = HouseholdId::new(&e.aggregate_id)?;
                    let h = self.households.id(&h);
                    self.cards.insert(h);
                }
                (
                    "pairing",
                    "PairingFormed"
                    | "HandoverCompleted"
                    | "PairingEnded"
                    | "VisitRecorded"
                    | "VisitRetracted"
                    | "PersonalDonationRecorded"
                    | "DonationAcknowledged",
                ) => self.pairing(e, index, recorded)?,
                ("fund", "Disbursed" | "DisbursementAcknowledged" | "DisbursementReversed") => {
                    self.fund(e, index, recorded)?
                }
                ("spot_check", "CampaignOpened" | "RevisitRecorded") => {
                    self.spot_check(e, index, recorded)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn cadre(&mut self, e: &Event, index: u64) -> std::result::Result<(), String> {
        let c = self.cadres.id(&CadreId::new(&e.aggregate_id)?);
        match decode::<CadreEvent>(e)? {
            CadreEvent::CadreRegistered(r) => {
                self.cadre_names.insert(c, r.name);
            }
            CadreEvent::CadreTransferred(t) => {
                if t.to_unit.is_none() {
                    self.departures.insert(
                        c,
                        Leave {
                            date: t.date,
                            index,
                            by: LeftBy::TransferredAway,
                        },
                    );
                }
            }
            CadreEvent::CadreRetired(r) => {
                self.departures.insert(
                    c,
                    Leave {
                        date: r.date,
                        index,
                        by: LeftBy::Retired,
                    },
                );
            }
        }
        Ok(())
    }

    fn pairing_slot(&mut self, id: &str) -> std::result::Result<u32, String> {
        if let Some(&p) = self.pairing_ids.get(id) {
            return Ok(p);
        }
        let (program, household) = id
            .split_once(':')
            .ok_or_else(|| format!("pairing id {id:?} is not <program>:<household>"))?;
        let program = ProgramId::new(program)?;
        let household = self.households.id(&HouseholdId::new(household)?);
        let p = self.pairings.len() as u32;
        self.pairings.push(PairingFact {
            program,
            household,
            team: BTreeSet::new(),
            stints: Vec::new(),
        });
        self.pairing_ids.insert(id.to_owned(), p);
        Ok(p)
    }

    /// Closes the open stint of `cadre` on pairing `p`.
    fn leave(&mut self, p: u32, cadre: u32, leave: Leave) {
        if let Some(s) = self.pairings[p as usize]
            .stints
            .iter_mut()
            .rev()
            .find(|s| s.cadre == cadre && s.to.is_none())
        {
            s.to = Some(leave);
        }
    }

    fn pairing(
        &mut self,
        e: &Event,
        index: u64,
        recorded: Date,
    ) -> std::result::Result<(), String> {
        let p = self.pairing_slot(&e.aggregate_id)?;
        match decode::<PairingEvent>(e)? {
            PairingEvent::PairingFormed(f) => {
                for c in &f.cadres {
                    let c = self.cadres.id(c);
                    let pf = &mut self.pairings[p as usize];
                    pf.team.insert(c);
                    pf.stints.push(StintFact {
                        cadre: c,
                        from: f.date,
                        to: None,
                    });
                }
            }
            PairingEvent::HandoverCompleted(h) => {
                let new: BTreeSet<u32> = h.cadres.iter().map(|c| self.cadres.id(c)).collect();
                let old = std::mem::take(&mut self.pairings[p as usize].team);
                for &c in old.difference(&new) {
                    let by = LeftBy::Handover;
                    self.leave(
                        p,
                        c,
                        Leave {
                            date: h.date,
                            index,
                            by,
                        },
                    );
                }
                let pf = &mut self.pairings[p as usize];
                for &c in new.difference(&old) {
                    pf.stints.push(StintFact {
                        cadre: c,
                        from: h.date,
                        to: None,
                    });
                }
                pf.team = new;
            }
            PairingEvent::PairingEnded(x) => {
                let old = std::mem::take(&mut self.pairings[p as usize].team);
                for c in old {
                    let by = LeftBy::Ended;
                    self.leave(
                        p,
                        c,
                        Leave {
                            date: x.date,
                            index,
                            by,
                        },
                    );
                }
            }
            PairingEvent::VisitRecorded(v) => {
                let slot = self.visits.len() as u32;
                let diary = if self.keep_diaries {
                    let next = self.diary_docs.len() as u32;
                    let doc = *self.diaries.entry(v.diary.0).or_insert(next);
                    if doc == next {
                        self.diary_docs.push(v.diary.0);
                    }
                    doc
                } else {
                    u32::MAX
                };
                let cadre = self.cadres.id(&v.cadre);
                self.visit_slots.insert((p, v.visit_id.clone()), slot);
                self.visits.push(VisitFact {
                    index,
                    pairing: p,
                    cadre,
                    id: v.visit_id,
                    date: v.date,
                    recorded,
                    retracted: None,
                    diary,
                });
            }
            PairingEvent::VisitRetracted(v) => {
                if let Some(&slot) = self.visit_slots.get(&(p, v.visit_id)) {
                    self.visits[slot as usize].retracted = Some(index);
                }
            }
            PairingEvent::PersonalDonationRecorded(d) => {
                let slot = self.helps.len() as u32;
                let cadre = self.cadres.id(&d.cadre);
                self.donation_slots.insert((p, d.donation_id.clone()), slot);
                self.helps.push(HelpFact {
                    index,
                    household: self.pairings[p as usize].household,
                    date: d.date,
                    recorded,
                    value: d.value.get(),
                    help: d.help,
                    source: HelpSource::Donation {
                        pairing: p,
                        cadre,
                        id: d.donation_id,
                    },
                    acknowledged: false,
                    reversed: None,
                });
            }
            PairingEvent::DonationAcknowledged(d) => {
                if let Some(&slot) = self.donation_slots.get(&(p, d.donation_id)) {
                    self.helps[slot as usize].acknowledged = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn fund(&mut self, e: &Event, index: u64, recorded: Date) -> std::result::Result<(), String> {
        let fund = self.funds.id(&FundId::new(&e.aggregate_id)?);
        match decode::<FundEvent>(e)? {
            FundEvent::Disbursed(d) => {
                let slot = self.helps.len() as u32;
                let household = self.households.id(&d.household);
                let through = self.cadres.id(&d.through);
                self.disbursement_slots
                    .insert((fund, d.disbursement_id.clone()), slot);
                self.helps.push(HelpFact {
                    index,
                    household,
                    date: d.date,
                    recorded,
                    value: d.value.get(),
                    help: d.help,
                    source: HelpSource::Fund {
                        fund,
                        id: d.disbursement_id,
                        through,
                    },
                    acknowledged: false,
                    reversed: None,
                });
            }
            FundEvent::DisbursementAcknowledged(a) => {
                if let Some(&slot) = self.disbursement_slots.get(&(fund, a.disbursement_id)) {
                    self.helps[slot as usize].acknowledged = true;
                }
            }
            FundEvent::DisbursementReversed(r) => {
                if let Some(&slot) = self.disbursement_slots.get(&(fund, r.disbursement_id)) {
                    self.helps[slot as usize].reversed = Some(index);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn spot_check(
        &mut self,
        e: &Event,
        index: u64,
        recorded: Date,
    ) -> std::result::Result<(), String> {
        let campaign = CampaignId::new(&e.aggregate_id)?;
        match decode::<SpotCheckEvent>(e)? {
            SpotCheckEvent::CampaignOpened(o) => self.campaigns.push(CampaignFact {
                id: campaign,
                program: o.program,
                year: o.year,
                opened: recorded,
                index,
            }),
            SpotCheckEvent::RevisitRecorded(r) => {
                let not_confirmed: Vec<String> = r
                    .findings
                    .into_iter()
                    .filter(|f| f.result == FindingResult::NotConfirmed)
                    .map(|f| f.subject)
                    .collect();
                if !not_confirmed.is_empty() {
                    self.revisits.push(RevisitFact {
                        index,
                        campaign,
                        household: r.household,
                        date: r.date,
                        method: r.method,
                        not_confirmed,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    // --- words ---------------------------------------------------------------------------------

    /// `王建国 (c001)`, or the id alone for a cadre whose registration the log does not hold.
    fn who(&self, c: u32) -> String {
        let id = self.cadres.of(c);
        match self.cadre_names.get(&c) {
            Some(name) => format!("{name} ({id})"),
            None => id.to_string(),
        }
    }

    fn who_id(&self, id: &CadreId) -> String {
        self.cadres
            .get(id)
            .map_or_else(|| id.to_string(), |c| self.who(c))
    }

    fn household(&self, h: u32) -> &HouseholdId {
        self.households.of(h)
    }

    fn live_visits(&self) -> impl Iterator<Item = (u32, &VisitFact)> {
        self.visits
            .iter()
            .enumerate()
            .filter(|(_, v)| v.retracted.is_none())
            .map(|(i, v)| (i as u32, v))
    }

    // --- the kinds -----------------------------------------------------------------------------

    /// `late_record`: visits and personal donations recorded more than the allowed days after the
    /// day they claim.
    fn late_records(
        &self,
        programs: &BTreeMap<ProgramId, ProgramRow>,
        o: &Options,
        out: &mut Vec<Finding>,
    ) {
        let allowed = |pairing: u32, recorded: Date| -> i64 {
            let program = &self.pairings[pairing as usize].program;
            i64::from(o.late_after_days.unwrap_or_else(|| {
                programs
                    .get(program)
                    .and_then(|p| p.rules_on(recorded))
                    .map_or(DEFAULT_LATE_AFTER_DAYS, |r| r.late_after_days)
            }))
        };
        let severity = |late: i64| match late {
            ..=30 => Severity::Low,
            31..=90 => Severity::Medium,
            _ => Severity::High,
        };
        for (_, v) in self.live_visits() {
            let late = v.date.days_until(v.recorded);
            let limit = allowed(v.pairing, v.recorded);
            if late <= limit {
                continue;
            }
            let h = self.household(self.pairings[v.pairing as usize].household);
            let who = self.who(v.cadre);
            out.push(Finding {
                kind: Kind::LateRecord,
                severity: severity(late),
                household: Some(h.clone()),
                cadres: vec![self.cadres.of(v.cadre).clone()],
                date: Some(v.date),
                description: format!(
                    "{who} 于 {rec} 才录入 {date} 对 {h} 的走访（{id}），晚 {late} 天，规定 {limit} 天内 / {who} recorded the visit of {date} to household {h} ({id}) on {rec}, {late} days later; the rule allows {limit}",
                    rec = v.recorded,
                    date = v.date,
                    id = v.id,
                ),
                entries: vec![v.index],
            });
        }
        for d in &self.helps {
            let HelpSource::Donation { pairing, cadre, id } = &d.source else {
                continue;
            };
            let late = d.date.days_until(d.recorded);
            let limit = allowed(*pairing, d.recorded);
            if late <= limit {
                continue;
            }
            let h = self.household(d.household);
            let who = self.who(*cadre);
            let (zh, en) = help_words(&d.help, d.value);
            out.push(Finding {
                kind: Kind::LateRecord,
                severity: severity(late),
                household: Some(h.clone()),
                cadres: vec![self.cadres.of(*cadre).clone()],
                date: Some(d.date),
                description: format!(
                    "{who} 于 {rec} 才录入 {date} 给 {h} 的个人捐助 {zh}（{id}），晚 {late} 天，规定 {limit} 天内 / {who} recorded the personal donation of {en} to household {h} dated {date} ({id}) on {rec}, {late} days later; the rule allows {limit}",
                    rec = d.recorded,
                    date = d.date,
                ),
                entries: vec![d.index],
            });
        }
    }

    /// `end_of_quarter_burst`, quarter ends: a cadre's visits dated in the last days of a quarter.
    fn quarter_bursts(&self, o: &Options, out: &mut Vec<Finding>) {
        let w = i64::from(o.burst_window_days);
        let mut per: HashMap<(u32, Quarter), (u64, Vec<u32>)> = HashMap::new();
        for (slot, v) in self.live_visits() {
            let q = v.date.quarter();
            let e = per.entry((v.cadre, q)).or_default();
            e.0 += 1;
            if v.date > q.last_day().add_days(-w) {
                e.1.push(slot);
            }
        }
        let mut keys: Vec<&(u32, Quarter)> = per.keys().collect();
        keys.sort();
        for key in keys {
            let (total, window) = &per[key];
            let (cadre, q) = *key;
            let n = window.len() as u64;
            if !is_burst(n, *total, o) {
                continue;
            }
            let (from, to) = (q.last_day().add_days(1 - w), q.last_day());
            let who = self.who(cadre);
            let pct = n * 100 / total;
            let households = self.households_of(window);
            out.push(Finding {
                kind: Kind::EndOfQuarterBurst,
                severity: Severity::Medium,
                household: single(&households),
                cadres: vec![self.cadres.of(cadre).clone()],
                date: Some(to),
                description: format!(
                    "{who} 在 {q} 的 {total} 次走访中有 {n} 次（{pct}%）集中在季度最后 {w} 天（{from}–{to}），涉及 {hh} / {who} dated {n} of their {total} visits in {q} ({pct}%) in its last {w} days ({from} to {to}), at {hh}",
                    hh = list(&households, 6),
                ),
                entries: window
                    .iter()
                    .map(|s| self.visits[*s as usize].index)
                    .collect(),
            });
        }
    }

    /// `end_of_quarter_burst`, before an inspection: visits a cadre entered into the log in the
    /// days before a spot-check campaign of the program opened.
    fn inspection_bursts(&self, o: &Options, out: &mut Vec<Finding>) {
        let w = i64::from(o.burst_window_days);
        let back = i64::from(o.burst_lookback_days);
        for c in &self.campaigns {
            let (start, window_start) = (c.opened.add_days(-back), c.opened.add_days(-w));
            let mut per: BTreeMap<u32, (u64, Vec<u32>)> = BTreeMap::new();
            for (slot, v) in self.live_visits() {
                if v.recorded < start
                    || v.recorded >= c.opened
                    || self.pairings[v.pairing as usize].program != c.program
                {
                    continue;
                }
                let e = per.entry(v.cadre).or_default();
                e.0 += 1;
                if v.recorded >= window_start {
                    e.1.push(slot);
                }
            }
            for (cadre, (total, window)) in per {
                let n = window.len() as u64;
                if !is_burst(n, total, o) {
                    continue;
                }
                let who = self.who(cadre);
                let pct = n * 100 / total;
                let households = self.households_of(&window);
                let mut entries: Vec<u64> = window
                    .iter()
                    .map(|s| self.visits[*s as usize].index)
                    .collect();
                entries.push(c.index);
                out.push(Finding {
                    kind: Kind::EndOfQuarterBurst,
                    severity: Severity::Medium,
                    household: single(&households),
                    cadres: vec![self.cadres.of(cadre).clone()],
                    date: Some(c.opened),
                    description: format!(
                        "{who} 在抽查 {id}（{p} {y} 年度）{opened} 开始前 {w} 天内录入 {n} 次走访，占前 {back} 天录入的 {total} 次的 {pct}%，涉及 {hh} / {who} entered {n} of their {total} visits of the last {back} days ({pct}%) in the {w} days before spot check {id} ({p}, {y}) opened on {opened}, at {hh}",
                        id = c.id,
                        p = c.program,
                        y = c.year,
                        opened = c.opened,
                        hh = list(&households, 6),
                    ),
                    entries,
                });
            }
        }
    }

    fn households_of(&self, visits: &[u32]) -> Vec<String> {
        let set: BTreeSet<&HouseholdId> = visits
            .iter()
            .map(|s| {
                let v = &self.visits[*s as usize];
                self.household(self.pairings[v.pairing as usize].household)
            })
            .collect();
        set.into_iter().map(|h| h.to_string()).collect()
    }

    /// `visit_after_handover`: a visit dated on or after the day its cadre left the pairing or
    /// office.
    fn visits_after_leaving(&self, out: &mut Vec<Finding>) {
        for (_, v) in self.live_visits() {
            let pf = &self.pairings[v.pairing as usize];
            let left = match self.departures.get(&v.cadre) {
                Some(d) if v.date >= d.date => Some(*d),
                _ => {
                    let mine: Vec<&StintFact> =
                        pf.stints.iter().filter(|s| s.cadre == v.cadre).collect();
                    let covered = mine
                        .iter()
                        .any(|s| s.from <= v.date && s.to.is_none_or(|t| v.date < t.date));
                    if covered {
                        None
                    } else {
                        mine.iter()
                            .filter_map(|s| s.to)
                            .filter(|t| t.date <= v.date)
                            .max_by_key(|t| (t.date, t.index))
                    }
                }
            };
            let Some(left) = left else {
                continue;
            };
            let h = self.household(pf.household);
            let who = self.who(v.cadre);
            let (zh, en) = left.by.words();
            let mut entries = vec![v.index, left.index];
            entries.sort_unstable();
            out.push(Finding {
                kind: Kind::VisitAfterHandover,
                severity: Severity::High,
                household: Some(h.clone()),
                cadres: vec![self.cadres.of(v.cadre).clone()],
                date: Some(v.date),
                description: format!(
                    "{who} 已于 {ld}（{zh}）离开，却记录了 {date} 对 {h} 的走访（{id}，{rec} 录入） / {who} left on {ld} ({en}) yet recorded a visit to household {h} dated {date} ({id}, entered on {rec})",
                    ld = left.date,
                    date = v.date,
                    id = v.id,
                    rec = v.recorded,
                ),
                entries,
            });
        }
    }

    /// `unacknowledged_disbursement`: fund disbursements, not reversed, that the household (with
    /// a contact card) has not acknowledged long after their date.
    fn unacknowledged(
        &self,
        o: &Options,
        today: Date,
        out: &mut Vec<Finding>,
        notes: &mut Vec<String>,
    ) {
        let after = i64::from(o.unacknowledged_after_days);
        let (mut no_card, mut no_card_fen) = (0u64, 0i64);
        for d in &self.helps {
            let HelpSource::Fund { fund, id, through } = &d.source else {
                continue;
            };
            let age = d.date.days_until(today);
            if d.acknowledged || d.reversed.is_some() || age <= after {
                continue;
            }
            if !self.cards.contains(&d.household) {
                no_card += 1;
                no_card_fen += d.value;
                continue;
            }
            let h = self.household(d.household);
            let who = self.who(*through);
            let f = self.funds.of(*fund);
            let (zh, en) = help_words(&d.help, d.value);
            out.push(Finding {
                kind: Kind::UnacknowledgedDisbursement,
                severity: if age > 3 * after.max(30) {
                    Severity::High
                } else {
                    Severity::Medium
                },
                household: Some(h.clone()),
                cadres: vec![self.cadres.of(*through).clone()],
                date: Some(d.date),
                description: format!(
                    "{f} 于 {date} 经 {who} 发放给 {h} 的 {zh}（{id}）已 {age} 天未获该户确认（该户持有联系卡） / {en} paid by fund {f} to household {h} through {who} on {date} ({id}) is still unacknowledged after {age} days, though the household holds a contact card",
                    date = d.date,
                ),
                entries: vec![d.index],
            });
        }
        if no_card > 0 {
            notes.push(format!(
                "另有 {no_card} 笔发放（共 {y}）超过 {after} 天未确认，但受助户没有联系卡、无法确认，请通过回访核实 / {no_card} more disbursements ({y} in all) are unacknowledged after {after} days, but their households hold no contact card to acknowledge with: confirm them by revisit",
                y = yuan(no_card_fen),
            ));
        }
    }

    /// `duplicate_claim`: the same cash amount, or the same goods, recorded twice or more for one
    /// household within a few days (fund disbursements not reversed, and personal donations).
    fn duplicate_claims(&self, o: &Options, out: &mut Vec<Finding>) {
        let w = i64::from(o.duplicate_window_days);
        let mut groups: BTreeMap<(u32, String), Vec<u32>> = BTreeMap::new();
        for (slot, d) in self.helps.iter().enumerate() {
            if d.reversed.is_none() {
                groups
                    .entry((d.household, help_key(&d.help)))
                    .or_default()
                    .push(slot as u32);
            }
        }
        for ((household, _), mut slots) in groups {
            if slots.len() < 2 {
                continue;
            }
            slots.sort_by_key(|s| {
                let d = &self.helps[*s as usize];
                (d.date, d.index)
            });
            // Chains of records each at most `w` days after the one before.
            let mut chain: Vec<u32> = Vec::new();
            for s in slots {
                if let Some(&last) = chain.last()
                    && self.helps[last as usize]
                        .date
                        .days_until(self.helps[s as usize].date)
                        > w
                {
                    self.duplicate(household, &chain, out);
                    chain.clear();
                }
                chain.push(s);
            }
            self.duplicate(household, &chain, out);
        }
    }

    fn duplicate(&self, household: u32, chain: &[u32], out: &mut Vec<Finding>) {
        if chain.len() < 2 {
            return;
        }
        let records: Vec<&HelpFact> = chain.iter().map(|s| &self.helps[*s as usize]).collect();
        let first = records[0];
        let (zh, en) = help_words(&first.help, first.value);
        let h = self.household(household);
        let (from, to) = (first.date, records[records.len() - 1].date);
        let mut zh_src = Vec::new();
        let mut en_src = Vec::new();
        for r in &records {
            let who = self.who(r.cadre());
            match &r.source {
                HelpSource::Fund { fund, id, .. } => {
                    let f = self.funds.of(*fund);
                    zh_src.push(format!("{} {f} 经 {who} 发放（{id}）", r.date));
                    en_src.push(format!("{} fund {f} through {who} ({id})", r.date));
                }
                HelpSource::Donation { id, .. } => {
                    zh_src.push(format!("{} {who} 个人捐助（{id}）", r.date));
                    en_src.push(format!("{} personal donation by {who} ({id})", r.date));
                }
            }
        }
        let cadres: BTreeSet<CadreId> = records
            .iter()
            .map(|r| self.cadres.of(r.cadre()).clone())
            .collect();
        out.push(Finding {
            kind: Kind::DuplicateClaim,
            severity: Severity::High,
            household: Some(h.clone()),
            cadres: cadres.into_iter().collect(),
            date: Some(from),
            description: format!(
                "{h} {zh_when} {n} 次登记了相同的 {zh}：{zs} / household {h} is recorded as receiving the same {en} {n} times {en_when}: {es}",
                n = records.len(),
                zh_when = if from == to {
                    format!("在 {from}")
                } else {
                    format!("在 {from}–{to} 间")
                },
                en_when = if from == to {
                    format!("on {from}")
                } else {
                    format!("between {from} and {to}")
                },
                zs = zh_src.join("；"),
                es = en_src.join("; "),
            ),
            entries: records.iter().map(|r| r.index).collect(),
        });
    }

    /// `contradicted_finding`: a spot-check revisit did not confirm a visit, disbursement or
    /// donation the log records.
    fn contradicted(&self, out: &mut Vec<Finding>, notes: &mut Vec<String>) {
        let mut unknown = 0u64;
        for r in &self.revisits {
            let (zh_m, en_m) = match r.method {
                Method::Phone => ("电话", "by phone"),
                Method::OnSite => ("实地", "on site"),
            };
            for subject in &r.not_confirmed {
                let Some(s) = self.subject(subject) else {
                    unknown += 1;
                    continue;
                };
                let who = self.who(s.cadre);
                let mut entries = vec![s.index, r.index];
                let (mut zh_w, mut en_w) = (String::new(), String::new());
                if let Some(w) = s.withdrawn {
                    entries.push(w);
                    zh_w = format!("（已于第 {w} 条撤回）");
                    en_w = format!(" (withdrawn at entry {w})");
                }
                entries.sort_unstable();
                out.push(Finding {
                    kind: Kind::ContradictedFinding,
                    severity: Severity::High,
                    household: Some(r.household.clone()),
                    cadres: vec![self.cadres.of(s.cadre).clone()],
                    date: Some(r.date),
                    description: format!(
                        "抽查 {c} 于 {d} {zh_m}回访 {h}，未能证实账本所记 {zh}{zh_w}（{who}） / spot check {c} revisited household {h} {en_m} on {d} and did not confirm the {en} the log records{en_w} ({who})",
                        c = r.campaign,
                        d = r.date,
                        h = r.household,
                        zh = s.zh,
                        en = s.en,
                    ),
                    entries,
                });
            }
        }
        if unknown > 0 {
            notes.push(format!(
                "另有 {unknown} 项回访“未证实”的对象在账本中不存在（编号有误？） / {unknown} more not-confirmed revisit findings name records the log does not hold (a mistyped id?)"
            ));
        }
    }

    /// What a finding's subject names in the log.
    fn subject(&self, subject: &str) -> Option<Subject> {
        let mut parts = subject.splitn(3, '/');
        let (kind, a, b) = (parts.next()?, parts.next()?, parts.next()?);
        match kind {
            "visit" => {
                let p = *self.pairing_ids.get(a)?;
                let id = VisitId::new(b).ok()?;
                let v = &self.visits[*self.visit_slots.get(&(p, id))? as usize];
                Some(Subject {
                    index: v.index,
                    cadre: v.cadre,
                    withdrawn: v.retracted,
                    zh: format!("{} 的走访（{}）", v.date, v.id),
                    en: format!("visit of {} ({})", v.date, v.id),
                })
            }
            "disbursement" | "donation" => {
                let slot = if kind == "disbursement" {
                    let f = self.funds.get(&FundId::new(a).ok()?)?;
                    *self
                        .disbursement_slots
                        .get(&(f, DisbursementId::new(b).ok()?))?
                } else {
                    let p = *self.pairing_ids.get(a)?;
                    *self.donation_slots.get(&(p, DonationId::new(b).ok()?))?
                };
                let d = &self.helps[slot as usize];
                let (zh, en) = help_words(&d.help, d.value);
                let (zh_k, en_k) = if kind == "disbursement" {
                    ("发放", "disbursement")
                } else {
                    ("个人捐助", "personal donation")
                };
                Some(Subject {
                    index: d.index,
                    cadre: d.cadre(),
                    withdrawn: d.reversed,
                    zh: format!("{} 的{zh_k} {zh}（{b}）", d.date),
                    en: format!("{en_k} of {en} on {} ({b})", d.date),
                })
            }
            _ => None,
        }
    }
}

struct Subject {
    index: u64,
    cadre: u32,
    withdrawn: Option<u64>,
    zh: String,
    en: String,
}

fn is_burst(n: u64, total: u64, o: &Options) -> bool {
    total > 0
        && n >= u64::from(o.burst_min_visits)
        && n * 100 >= u64::from(o.burst_min_percent) * total
}

fn single(households: &[String]) -> Option<HouseholdId> {
    match households {
        [h] => HouseholdId::new(h).ok(),
        _ => None,
    }
}

/// The first `n` items, then how many more.
fn list(items: &[String], n: usize) -> String {
    let mut s = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        s.push_str(&format!(" … (+{})", items.len() - n));
    }
    s
}

/// Help in words: `现金 ¥800.00` / `cash ¥800.00`, or the goods with their total value.
fn help_words(help: &Help, value: i64) -> (String, String) {
    match help {
        Help::Cash { amount } => (
            format!("现金 {}", yuan(amount.get())),
            format!("cash {}", yuan(amount.get())),
        ),
        Help::InKind { items } => {
            let goods = items
                .iter()
                .map(|i| format!("{} × {}", i.name, i.quantity))
                .collect::<Vec<_>>();
            (
                format!("物品 {}（共 {}）", goods.join("、"), yuan(value)),
                format!("goods {} (worth {})", goods.join(", "), yuan(value)),
            )
        }
    }
}

/// What makes two help records "the same": the cash amount, or the goods (name, quantity and
/// unit value, in any order; names compared after normalisation).
fn help_key(help: &Help) -> String {
    match help {
        Help::Cash { amount } => format!("cash {}", amount.get()),
        Help::InKind { items } => {
            let mut goods: Vec<String> = items
                .iter()
                .map(|i| {
                    let name: String = normalise(&i.name).into_iter().collect();
                    format!("{name}×{}@{}", i.quantity, i.unit_value.get())
                })
                .collect();
            goods.sort();
            format!("goods {}", goods.join(";"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// missed_quarters: from the read models' compliance.

async fn missed_quarters<V: ViewStore>(
    views: &V,
    programs: &BTreeMap<ProgramId, ProgramRow>,
    today: Date,
    facts: &Facts,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let mut after = String::new();
    loop {
        let page = query::page::<PairingRow, V>(views, "pairing/", &after, 500).await?;
        for p in &page.items {
            let program = programs.get(&p.program).ok_or_else(|| {
                ViewError::Corrupt(format!(
                    "pairing {} names program {} which has no row",
                    p.id, p.program
                ))
            })?;
            for q in compliance::pairing_quarters(p, program, today) {
                if q.status == QuarterStatus::Missed {
                    out.push(missed(p, &q, facts));
                }
            }
        }
        match page.next {
            Some(next) => after = next,
            None => return Ok(()),
        }
    }
}

fn missed(p: &PairingRow, q: &QuarterCompliance, facts: &Facts) -> Finding {
    let mut entries = BTreeSet::new();
    let mut cadres = BTreeSet::new();
    let (mut zh, mut en) = (Vec::new(), Vec::new());
    for s in q.segments.iter().filter(|s| !s.met) {
        // The step that made this team responsible: the formation or the handover.
        if let Some(step) = p.history.iter().rev().find(|h| {
            matches!(h.step.as_str(), "formed" | "handed_over")
                && h.date.is_some_and(|d| d <= s.from)
        }) {
            entries.insert(step.signed.index);
        }
        cadres.extend(s.cadres.iter().cloned());
        let team = s
            .cadres
            .iter()
            .map(|c| facts.who_id(c))
            .collect::<Vec<_>>()
            .join(", ");
        zh.push(format!(
            "{}–{} 由 {team} 负责，应走访 {} 次，实际 {} 次",
            s.from,
            s.to,
            s.required,
            s.visits.len()
        ));
        en.push(format!(
            "{} to {} {team} owed {} visit(s) and made {}",
            s.from,
            s.to,
            s.required,
            s.visits.len()
        ));
    }
    // The visits that did count, so the inspector sees what was there.
    for s in &q.segments {
        for id in &s.visits {
            if let Some(v) = p.visits.iter().find(|v| &v.visit_id == id) {
                entries.insert(v.index);
            }
        }
    }
    let date = q.segments.iter().find(|s| !s.met).map(|s| s.to);
    Finding {
        kind: Kind::MissedQuarters,
        severity: Severity::Medium,
        household: Some(p.household.clone()),
        cadres: cadres.into_iter().collect(),
        date,
        description: format!(
            "{h} 在 {q} 未达到每季度至少走访 {m} 次的要求：{zh} / household {h} ({p}) missed {q} (at least {m} visit(s) a quarter): {en}",
            h = p.household,
            q = q.quarter,
            m = q.min_visits,
            p = p.id,
            zh = zh.join("；"),
            en = en.join("; "),
        ),
        entries: entries.into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// copied_diary: the vault's texts, compared.

/// One diary text's summary from the first vault pass.
struct Sig {
    doc: u32,
    /// SHA-256 of the normalised text, cut to 16 bytes: equal means identical.
    exact: [u8; 16],
    bands: [u64; BANDS],
}

struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (big, small) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// NFKC (full-width letters and digits become ASCII), lower case, and only letters and digits:
/// whitespace and punctuation do not make a copy original.
fn normalise(text: &str) -> Vec<char> {
    text.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The text of a vault value: a string, or the strings inside an object or array.
fn text_of(v: &Value) -> Option<String> {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|i| strings(i, out)),
            Value::Object(o) => o.values().for_each(|i| strings(i, out)),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    strings(v, &mut parts);
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The normalised text of a vault row, if it is one and it opens its commitment.
fn readable(o: &Opening) -> Option<Vec<char>> {
    if !o.is_valid() {
        return None;
    }
    text_of(&o.value).map(|t| normalise(&t))
}

fn mix(mut z: u64) -> u64 {
    // SplitMix64's finaliser: every input bit moves every output bit.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn shingles(chars: &[char]) -> Vec<u64> {
    let mut out: Vec<u64> = chars
        .windows(SHINGLE)
        .map(|w| {
            // FNV-1a over the code points.
            w.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
                (h ^ u64::from(u32::from(*c))).wrapping_mul(0x0100_0000_01b3)
            })
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn seeds() -> [u64; HASHES] {
    let mut s = [0u64; HASHES];
    let mut x = 0x6261_6e67_6675_0007u64;
    for v in &mut s {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        *v = mix(x);
    }
    s
}

/// The MinHash signature of a shingle set, folded into one bucket key per band.
fn bands(shingles: &[u64], seeds: &[u64; HASHES]) -> [u64; BANDS] {
    let mut mins = [u64::MAX; HASHES];
    for &x in shingles {
        for (m, s) in mins.iter_mut().zip(seeds) {
            *m = (*m).min(mix(x ^ s));
        }
    }
    let mut out = [0u64; BANDS];
    for (b, o) in out.iter_mut().enumerate() {
        *o = mins[b * ROWS..(b + 1) * ROWS]
            .iter()
            .fold(mix(b as u64 + 1), |h, m| mix(h ^ m));
    }
    out
}

fn exact(chars: &[char]) -> [u8; 16] {
    let s: String = chars.iter().collect();
    let d = Sha256::digest(s.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// Jaccard similarity of two sorted shingle sets is at least `percent`.
fn similar(a: &[u64], b: &[u64], percent: u32) -> bool {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let either = a.len() + b.len() - both;
    either > 0 && both * 100 >= percent as usize * either
}

/// The bucket runs of one band: positions in `reps` sharing the band's key, two or more.
fn band_runs(sigs: &[Sig], reps: &[usize], band: usize) -> Vec<Vec<u32>> {
    let mut keyed: Vec<(u64, u32)> = reps
        .iter()
        .enumerate()
        .map(|(r, &s)| (sigs[s].bands[band], r as u32))
        .collect();
    keyed.sort_unstable();
    keyed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
        .map(|run| run.iter().map(|x| x.1).collect())
        .collect()
}

/// Every page of the vault, in commitment order.
async fn each_opening<B: Backend>(backend: &B, mut f: impl FnMut(&Opening)) -> Result<()> {
    let mut after: Option<Hash> = None;
    loop {
        let page = backend.openings(after, VAULT_PAGE).await?;
        page.iter().for_each(&mut f);
        match page.last() {
            Some(last) if page.len() == VAULT_PAGE as usize => after = Some(last.commitment.0),
            _ => return Ok(()),
        }
    }
}

async fn copied_diaries<B: Backend>(
    backend: &B,
    facts: &Facts,
    o: &Options,
    out: &mut Vec<Finding>,
) -> Result<DiaryNote> {
    let docs = facts.diary_docs.len();
    let mut visits_of: Vec<Vec<u32>> = vec![Vec::new(); docs];
    for (slot, v) in facts.live_visits() {
        visits_of[v.diary as usize].push(slot);
    }
    let mut note = DiaryNote {
        sealed: visits_of.iter().map(|v| v.len() as u64).sum(),
        reused_seals: visits_of
            .iter()
            .filter(|v| v.len() > 1)
            .map(|v| v.len() as u64)
            .sum(),
        ..DiaryNote::default()
    };
    let seeds = seeds();
    let min = o.diary_min_chars as usize;

    // First pass: a signature per readable diary text.
    let mut seen = vec![false; docs];
    let mut sigs: Vec<Sig> = Vec::new();
    each_opening(backend, |opening| {
        let Some(&doc) = facts.diaries.get(&opening.commitment) else {
            return;
        };
        seen[doc as usize] = true;
        let live = visits_of[doc as usize].len() as u64;
        if live == 0 {
            return;
        }
        match readable(opening) {
            None => note.unreadable += live,
            Some(chars) if chars.len() < min => note.too_short += live,
            Some(chars) => {
                note.compared += live;
                sigs.push(Sig {
                    doc,
                    exact: exact(&chars),
                    bands: bands(&shingles(&chars), &seeds),
                });
            }
        }
    })
    .await?;
    note.without_cleartext = (0..docs)
        .filter(|d| !seen[*d])
        .map(|d| visits_of[d].len() as u64)
        .sum();

    // Identical texts are one group at once; one representative of each goes on to the buckets.
    let mut uf = UnionFind::new(docs);
    sigs.sort_by(|a, b| a.exact.cmp(&b.exact).then(a.doc.cmp(&b.doc)));
    let mut reps: Vec<usize> = Vec::new();
    let mut start = 0;
    while start < sigs.len() {
        let mut end = start + 1;
        while end < sigs.len() && sigs[end].exact == sigs[start].exact {
            uf.union(sigs[start].doc, sigs[end].doc);
            end += 1;
        }
        reps.push(start);
        start = end;
    }

    // Candidates: representatives sharing a bucket in some band.
    let mut candidate: HashMap<u32, Option<Vec<u64>>> = HashMap::new();
    for b in 0..BANDS {
        for run in band_runs(&sigs, &reps, b) {
            for r in run {
                candidate.insert(sigs[reps[r as usize]].doc, None);
            }
        }
    }
    // Second pass: the shingle sets of the candidates only.
    if !candidate.is_empty() {
        each_opening(backend, |opening| {
            if let Some(&doc) = facts.diaries.get(&opening.commitment)
                && let Some(slot) = candidate.get_mut(&doc)
                && let Some(chars) = readable(opening)
            {
                *slot = Some(shingles(&chars));
            }
        })
        .await?;
    }
    // Exact comparisons inside each bucket: each diary against the heads of the groups found so
    // far in that bucket.
    for b in 0..BANDS {
        for run in band_runs(&sigs, &reps, b) {
            let mut heads: Vec<u32> = Vec::new();
            for r in run {
                let doc = sigs[reps[r as usize]].doc;
                let Some(Some(mine)) = candidate.get(&doc) else {
                    continue;
                };
                let mut joined = false;
                for &h in &heads {
                    if uf.find(h) == uf.find(doc) {
                        joined = true;
                        continue;
                    }
                    if let Some(Some(theirs)) = candidate.get(&h)
                        && similar(mine, theirs, o.diary_similarity_percent)
                    {
                        uf.union(h, doc);
                        joined = true;
                    }
                }
                if !joined && heads.len() < MAX_HEADS {
                    heads.push(doc);
                }
            }
        }
    }

    // Groups: docs joined with others, or one sealed value used by several visits.
    let exact_of: HashMap<u32, [u8; 16]> = sigs.iter().map(|s| (s.doc, s.exact)).collect();
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for doc in 0..docs as u32 {
        if visits_of[doc as usize].is_empty() {
            continue;
        }
        let root = uf.find(doc);
        if uf.size[root as usize] > 1 || visits_of[doc as usize].len() > 1 {
            groups.entry(root).or_default().push(doc);
        }
    }
    for docs in groups.values() {
        let mut slots: Vec<u32> = docs
            .iter()
            .flat_map(|d| visits_of[*d as usize].iter().copied())
            .collect();
        if slots.len() < 2 {
            continue;
        }
        slots.sort_by_key(|s| facts.visits[*s as usize].index);
        let identical = {
            let exacts: BTreeSet<Option<&[u8; 16]>> =
                docs.iter().map(|d| exact_of.get(d)).collect();
            docs.len() == 1 || (exacts.len() == 1 && !exacts.contains(&None))
        };
        out.push(copy_finding(facts, &slots, identical, o));
    }
    Ok(note)
}

fn copy_finding(facts: &Facts, slots: &[u32], identical: bool, o: &Options) -> Finding {
    let visits: Vec<&VisitFact> = slots.iter().map(|s| &facts.visits[*s as usize]).collect();
    let households: BTreeSet<&HouseholdId> = visits
        .iter()
        .map(|v| facts.household(facts.pairings[v.pairing as usize].household))
        .collect();
    let cadres: BTreeSet<&CadreId> = visits.iter().map(|v| facts.cadres.of(v.cadre)).collect();
    let shown: Vec<String> = visits
        .iter()
        .map(|v| {
            format!(
                "{} {} {} {}",
                facts.household(facts.pairings[v.pairing as usize].household),
                v.date,
                v.id,
                facts.who(v.cadre)
            )
        })
        .collect();
    let pct = o.diary_similarity_percent;
    let (zh_how, en_how) = if identical {
        ("内容相同".to_owned(), "identical".to_owned())
    } else {
        (
            format!("相同或高度雷同（相似度 ≥ {pct}%）"),
            format!("identical or near-copies (≥ {pct}% alike)"),
        )
    };
    let hh: Vec<String> = households.iter().map(|h| h.to_string()).collect();
    Finding {
        kind: Kind::CopiedDiary,
        severity: if households.len() > 1 {
            Severity::High
        } else {
            Severity::Medium
        },
        household: single(&hh),
        cadres: cadres.into_iter().cloned().collect(),
        date: visits.iter().map(|v| v.date).min(),
        description: format!(
            "{n} 篇走访日记{zh_how}，涉及 {k} 户（{hl}）：{vl} / {n} visit diaries are {en_how}, across {k} household(s) ({hl}): {vl}",
            n = visits.len(),
            k = households.len(),
            hl = list(&hh, 6),
            vl = list(&shown, 4),
        ),
        entries: visits.iter().map(|v| v.index).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_drops_spacing_punctuation_and_width() {
        let a: String = normalise("走访 王大爷，了解近况。ＡＢＣ１２３!")
            .into_iter()
            .collect();
        assert_eq!(a, "走访王大爷了解近况abc123");
    }

    #[test]
    fn similarity_is_exact_jaccard_of_shingles() {
        let base = normalise(
            "今天上门走访，老人腿脚不便，家中漏雨，已联系社区安排维修，并送去大米和食用油。",
        );
        let mut near = base.clone();
        near[3] = '访';
        let other = normalise("孩子学费已协调学校减免，下学期开学前再回访一次确认落实情况。");
        let (a, b, c) = (shingles(&base), shingles(&near), shingles(&other));
        assert!(similar(&a, &b, 80), "one changed character keeps ≥ 80%");
        assert!(!similar(&a, &c, 50));
        // The threshold is the exact Jaccard: 王大爷 → 李大妈 shares 39 of 49 shingles (79.6 %).
        let x = shingles(&normalise(
            "今天上门走访王大爷家，老人腿脚不便，屋顶漏雨严重，已联系社区安排维修，并送去大米和食用油，叮嘱按时服药。",
        ));
        let y = shingles(&normalise(
            "今天上门走访李大妈家，老人腿脚不便，屋顶漏雨严重，已联系社区安排维修，并送去大米和食用油，叮嘱按时服药。",
        ));
        assert!(similar(&x, &y, 79) && !similar(&x, &y, 80));
        assert!(similar(&a, &a, 100));
        // Similar sets share at least one bucket; these bands are what the detector compares.
        let s = seeds();
        let (ba, bb, bc) = (bands(&a, &s), bands(&b, &s), bands(&c, &s));
        assert!(ba.iter().zip(&bb).any(|(x, y)| x == y));
        assert!(ba.iter().zip(&bc).all(|(x, y)| x != y));
    }

    #[test]
    fn kinds_parse_from_their_codes_and_refuse_others() {
        for k in Kind::ALL {
            assert_eq!(k.code().parse::<Kind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.code());
        }
        let e = "late".parse::<Kind>().unwrap_err();
        assert!(e.contains("late_record"), "{e}");
    }

    #[test]
    fn options_out_of_range_are_refused() {
        assert!(Options::default().check().is_ok());
        let o = Options {
            burst_min_percent: 0,
            ..Options::default()
        };
        let e = o.check().unwrap_err().to_string();
        assert!(e.contains("burst_min_percent"), "{e}");
        let o = Options {
            burst_window_days: 10,
            burst_lookback_days: 5,
            ..Options::default()
        };
        assert!(o.check().is_err());
    }

    #[test]
    fn help_keys_ignore_the_order_of_goods() {
        let a: Help = serde_json::from_value(serde_json::json!({"form": "in_kind", "items": [
            {"name": "月饼", "quantity": 1, "unit_value": 8800},
            {"name": "大米 (10 kg)", "quantity": 1, "unit_value": 5500}]}))
        .unwrap();
        let b: Help = serde_json::from_value(serde_json::json!({"form": "in_kind", "items": [
            {"name": "大米（10kg）", "quantity": 1, "unit_value": 5500},
            {"name": "月饼", "quantity": 1, "unit_value": 8800}]}))
        .unwrap();
        assert_eq!(help_key(&a), help_key(&b));
        let c: Help =
            serde_json::from_value(serde_json::json!({"form": "cash", "amount": 8800})).unwrap();
        assert_ne!(help_key(&a), help_key(&c));
    }
}
