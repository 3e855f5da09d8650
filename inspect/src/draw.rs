//! The verifiable spot-check draw (督导抽查的可验证抽样), specified in `docs/spot-checks.md`.
//!
//! A campaign for program P and year Y draws its sample from a checkpoint the log signed after
//! the year closed. Anyone holding the log (or its export bundle) and the log's verifier key
//! recomputes the same sample; nobody could know it before the checkpoint existed, because the
//! root commits to entries recorded after the year ended.
//!
//! 1. **The checkpoint** must be a note signed by the log key whose origin is the key's name; its
//!    size `S` must be 1 or more and at most the log's size; its root must be the root of the
//!    log's first `S` entries; and entry `S − 1` must have been recorded on or after 1 January of
//!    Y + 1, China time (UTC+8). The bundle holds no signing time, so the log's own clock is what
//!    proves the year had closed.
//! 2. **Eligible households**, from the read models as of `S` entries: every household with a
//!    pairing in P that had a cadre on its team on at least one day of Y. A cadre's time on a
//!    team is a stint `[from, to)`; the pairing qualifies when, for some stint,
//!    `max(from, Y-01-01) < min(to or never, (Y+1)-01-01)`.
//! 3. **The sample size** is `n = ceil(eligible × r / 1000)`, at least 1, where `r` is the
//!    program's `spot_check_per_mille` in its latest rules as of `S` entries.
//! 4. **The order**: each eligible household `h` is ranked by `SHA-256(root || h)`, the root as
//!    its 32 raw bytes and `h` as UTF-8, compared as unsigned bytes (ties, which SHA-256 makes
//!    unheard of, by the id's bytes). The sample is the first `n`, in that order.

use bangfu_domain::aggregates::spot_check::SpotCheckEvent;
use bangfu_domain::date::Date;
use bangfu_domain::event::from_ledger;
use bangfu_domain::ids::{CampaignId, HouseholdId, ProgramId};
use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::{Checkpoint, CheckpointError};
use bangfu_ledger::entry::Entry;
use bangfu_ledger::note::VerifierKey;
use bangfu_ledger::time::Timestamp;
use bangfu_projections::docs::PairingRow;
use bangfu_projections::projector;
use bangfu_projections::query;
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::Backend;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;

/// The years a campaign may name (the domain's lower bound; the upper leaves room for Y + 1).
const YEARS: std::ops::RangeInclusive<i64> = 2000..=9998;

/// How many spot-check events are read per page when looking for a campaign's draw.
const PAGE: u32 = 1000;

/// A checkpoint accepted for a year's draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedCheckpoint {
    /// The note exactly as given (and as recorded in the draw).
    pub note: String,
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// When the log recorded entry `size − 1`: on or after 1 January of the year after.
    pub last_recorded_at: Timestamp,
}

/// One household of the sample and the rank that put it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drawn {
    pub household: HouseholdId,
    /// `SHA-256(root || household id)`.
    pub rank: Hash,
}

/// A draw: the sample of a program's year, derived from one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    pub program: ProgramId,
    pub year: i64,
    pub checkpoint: AcceptedCheckpoint,
    /// The program's rate as of the checkpoint, per mille.
    pub per_mille: u32,
    /// How many households were eligible.
    pub eligible: u64,
    /// The sample, in rank order.
    pub sample: Vec<Drawn>,
}

impl Draw {
    /// The sample's household ids, in rank order: what `record_draw` records.
    pub fn households(&self) -> Vec<HouseholdId> {
        self.sample.iter().map(|d| d.household.clone()).collect()
    }

    /// The draw as JSON: what `bangfu spot-check` prints with `--json`.
    pub fn to_json(&self) -> Value {
        json!({
            "program": self.program,
            "year": self.year,
            "checkpoint": {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": self.checkpoint.root.to_base64(),
                "last_recorded_at": self.checkpoint.last_recorded_at.to_string(),
                "note": self.checkpoint.note,
            },
            "per_mille": self.per_mille,
            "eligible": self.eligible,
            "sample_size": self.sample.len(),
            "sample": self.sample.iter().map(|d| json!({
                "household": d.household,
                "rank": d.rank.to_hex(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Why no draw could be made (or recomputed). Each says what was wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrawError {
    /// The year is outside what a campaign may name.
    Year(i64),
    /// The note is malformed, not signed by this log's key, or names another origin.
    NotSigned(CheckpointError),
    /// A checkpoint of the empty log commits to nothing after the year.
    EmptyCheckpoint,
    /// The checkpoint is of more entries than the log (or bundle) holds.
    BeyondLog { size: u64, log_size: u64 },
    /// The log's root at the checkpoint's size is not the checkpoint's root.
    RootMismatch {
        size: u64,
        checkpoint: Hash,
        log: Hash,
    },
    /// Entry `size − 1` was recorded before the year closed.
    TooEarly {
        size: u64,
        year: i64,
        last_recorded_at: Timestamp,
    },
    /// The program does not exist as of the checkpoint.
    NoProgram { program: ProgramId, size: u64 },
    /// No household of the program was paired during the year.
    NoneEligible {
        program: ProgramId,
        year: i64,
        size: u64,
    },
    /// The campaign was never opened.
    NoCampaign(CampaignId),
    /// The campaign has no recorded draw yet.
    NotDrawn(CampaignId),
    /// The log, bundle or read models could not be read, or hold something unreadable.
    Unreadable(String),
}

impl fmt::Display for DrawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrawError::Year(y) => write!(
                f,
                "年份 {y} 不可用 / year {y} cannot be drawn for: give a year from 2000 to 9998"
            ),
            DrawError::NotSigned(e) => write!(
                f,
                "检查点未经本账本日志密钥签名 / the checkpoint is not one signed by this log's key: {e}"
            ),
            DrawError::EmptyCheckpoint => write!(
                f,
                "检查点为空账本 / the checkpoint is of the empty log (size 0) and commits to nothing; sign one after the year closed with `bangfu checkpoint`"
            ),
            DrawError::BeyondLog { size, log_size } => write!(
                f,
                "检查点超出账本 / the checkpoint is of {size} entries but the log holds {log_size}; it belongs to another copy of the log, or this copy is truncated (run `bangfu verify`)"
            ),
            DrawError::RootMismatch {
                size,
                checkpoint,
                log,
            } => write!(
                f,
                "根哈希不符 / the log's root at size {size} is {log}, not the checkpoint's {checkpoint}: the log was altered or forked since it was signed; run `bangfu verify`"
            ),
            DrawError::TooEarly {
                size,
                year,
                last_recorded_at,
            } => write!(
                f,
                "检查点早于 {year} 年度结束 / the checkpoint of size {size} was signed before {year} closed: its last entry (index {}) was recorded at {last_recorded_at}, before {}-01-01 China time; sign a checkpoint now with `bangfu checkpoint` and draw from it",
                size - 1,
                year + 1
            ),
            DrawError::NoProgram { program, size } => write!(
                f,
                "项目 {program} 不存在 / program {program} did not exist when the log had {size} entries; check --program"
            ),
            DrawError::NoneEligible {
                program,
                year,
                size,
            } => write!(
                f,
                "无可抽查户 / no household of program {program} was paired during {year} (as of {size} entries); check --program and --year"
            ),
            DrawError::NoCampaign(c) => write!(
                f,
                "抽查活动 {c} 不存在 / spot-check campaign {c} was never opened: open it first (open_campaign on spot_check/{c}), or check --campaign"
            ),
            DrawError::NotDrawn(c) => write!(
                f,
                "抽查活动 {c} 尚未抽样 / campaign {c} has no recorded draw yet: run `bangfu spot-check draw --campaign {c} …`"
            ),
            DrawError::Unreadable(why) => {
                write!(f, "无法读取账本 / the log could not be read: {why}")
            }
        }
    }
}

impl std::error::Error for DrawError {}

fn unreadable(e: impl fmt::Display) -> DrawError {
    DrawError::Unreadable(e.to_string())
}

/// The rank of a household under a root: `SHA-256(root || household id)`.
pub fn rank(root: &Hash, household: &HouseholdId) -> Hash {
    let digest = Sha256::new()
        .chain_update(root.0)
        .chain_update(household.as_str().as_bytes())
        .finalize();
    Hash(digest.into())
}

/// `ceil(eligible × per_mille / 1000)`, at least 1 and at most `eligible` (0 when none are).
pub fn sample_size(eligible: u64, per_mille: u32) -> u64 {
    if eligible == 0 {
        return 0;
    }
    let per_mille = u64::from(per_mille.min(1000));
    (eligible * per_mille).div_ceil(1000).clamp(1, eligible)
}

/// The sample of `eligible` under `root` at `per_mille`, in rank order.
pub fn select(root: &Hash, eligible: &BTreeSet<HouseholdId>, per_mille: u32) -> Vec<Drawn> {
    let mut ranked: Vec<Drawn> = eligible
        .iter()
        .map(|h| Drawn {
            household: h.clone(),
            rank: rank(root, h),
        })
        .collect();
    ranked.sort_by(|a, b| {
        (a.rank.0, a.household.as_str().as_bytes())
            .cmp(&(b.rank.0, b.household.as_str().as_bytes()))
    });
    ranked.truncate(sample_size(ranked.len() as u64, per_mille) as usize);
    ranked
}

/// Whether a pairing had someone on its team on at least one day of `year`.
pub fn paired_during(pairing: &PairingRow, year: i64) -> bool {
    let (Ok(first), Ok(next)) = (Date::from_ymd(year, 1, 1), Date::from_ymd(year + 1, 1, 1)) else {
        return false;
    };
    pairing
        .stints
        .iter()
        .any(|s| s.from.max(first) < s.to.map_or(next, |to| to.min(next)))
}

/// The households of `program` paired during `year`, according to `views`.
pub async fn eligible<V: ViewStore>(
    views: &V,
    program: &ProgramId,
    year: i64,
) -> Result<BTreeSet<HouseholdId>, DrawError> {
    let pairings: Vec<PairingRow> = query::all(views, &format!("pairing/{program}:"))
        .await
        .map_err(unreadable)?;
    Ok(pairings
        .into_iter()
        // The prefix also matches programs whose id continues with ':'.
        .filter(|p| &p.program == program && paired_during(p, year))
        .map(|p| p.household)
        .collect())
}

/// Checks a checkpoint note for a draw of `year` against the log in `backend` (step 1).
pub async fn accept_checkpoint<B: Backend>(
    backend: &B,
    log_key: &VerifierKey,
    note: &str,
    year: i64,
) -> Result<AcceptedCheckpoint, DrawError> {
    if !YEARS.contains(&year) {
        return Err(DrawError::Year(year));
    }
    let (checkpoint, _) =
        Checkpoint::open(note.as_bytes(), log_key).map_err(DrawError::NotSigned)?;
    let size = checkpoint.size;
    if size == 0 {
        return Err(DrawError::EmptyCheckpoint);
    }
    let log_size = backend.size().await.map_err(unreadable)?;
    if size > log_size {
        return Err(DrawError::BeyondLog { size, log_size });
    }
    let root = bangfu_store::log::tree_head(backend, size)
        .await
        .map_err(unreadable)?;
    if root != checkpoint.root {
        return Err(DrawError::RootMismatch {
            size,
            checkpoint: checkpoint.root,
            log: root,
        });
    }
    let last = backend.entries(size - 1, 1).await.map_err(unreadable)?;
    let stored = last
        .first()
        .ok_or_else(|| DrawError::Unreadable(format!("entry {} is missing", size - 1)))?;
    bangfu_store::backend::check_contiguous(size - 1, stored.index).map_err(unreadable)?;
    let entry = Entry::from_bytes(&stored.body)
        .map_err(|e| DrawError::Unreadable(format!("entry {}: {e}", size - 1)))?;
    let closed = Date::from_ymd(year + 1, 1, 1).map_err(DrawError::Unreadable)?;
    if Date::in_china(entry.recorded_at) < closed {
        return Err(DrawError::TooEarly {
            size,
            year,
            last_recorded_at: entry.recorded_at,
        });
    }
    Ok(AcceptedCheckpoint {
        note: note.to_owned(),
        origin: checkpoint.origin,
        size,
        root,
        last_recorded_at: entry.recorded_at,
    })
}

/// Draws the sample of `program`'s `year` from the signed checkpoint `note` (steps 1–4).
pub async fn draw<B: Backend>(
    backend: &B,
    log_key: &VerifierKey,
    program: &ProgramId,
    year: i64,
    note: &str,
) -> Result<Draw, DrawError> {
    let checkpoint = accept_checkpoint(backend, log_key, note, year).await?;
    let size = checkpoint.size;
    let views = projector::as_of(backend, size).await.map_err(unreadable)?;
    let row = query::program(&views, program)
        .await
        .map_err(unreadable)?
        .ok_or_else(|| DrawError::NoProgram {
            program: program.clone(),
            size,
        })?;
    let per_mille = row
        .rules
        .last()
        .map(|r| r.rules.spot_check_per_mille)
        .ok_or_else(|| DrawError::Unreadable(format!("program {program} has no rules")))?;
    let eligible = eligible(&views, program, year).await?;
    if eligible.is_empty() {
        return Err(DrawError::NoneEligible {
            program: program.clone(),
            year,
            size,
        });
    }
    let sample = select(&checkpoint.root, &eligible, per_mille);
    Ok(Draw {
        program: program.clone(),
        year,
        checkpoint,
        per_mille,
        eligible: eligible.len() as u64,
        sample,
    })
}

/// A campaign and the draw recorded for it, as the log holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedDraw {
    pub campaign: CampaignId,
    pub program: ProgramId,
    pub year: i64,
    /// The entry that recorded the draw.
    pub index: u64,
    pub checkpoint: String,
    pub sample: Vec<HouseholdId>,
}

/// A spot-check campaign as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    pub id: CampaignId,
    pub program: ProgramId,
    pub year: i64,
    /// Its draw, once recorded.
    pub draw: Option<RecordedDraw>,
}

/// A campaign's opening and its draw, if any, read from the log.
pub async fn campaign<B: Backend>(backend: &B, id: &CampaignId) -> Result<Campaign, DrawError> {
    let mut found: Option<Campaign> = None;
    let mut from = 0;
    loop {
        let page = backend
            .events_of_types(&["spot_check"], from, PAGE)
            .await
            .map_err(unreadable)?;
        let Some(&(last, _)) = page.last() else {
            break;
        };
        for (index, e) in page.iter().filter(|(_, e)| e.aggregate_id == id.as_str()) {
            let event: SpotCheckEvent = from_ledger(e, &[])
                .map_err(|why| DrawError::Unreadable(format!("entry {index}: {why}")))?;
            match (event, &mut found) {
                (SpotCheckEvent::CampaignOpened(o), None) => {
                    found = Some(Campaign {
                        id: id.clone(),
                        program: o.program,
                        year: o.year,
                        draw: None,
                    })
                }
                (SpotCheckEvent::SampleDrawn(d), Some(c)) => {
                    // The domain records one draw per campaign, so the first is the draw.
                    c.draw = Some(RecordedDraw {
                        campaign: id.clone(),
                        program: c.program.clone(),
                        year: c.year,
                        index: *index,
                        checkpoint: d.checkpoint,
                        sample: d.sample,
                    });
                    return Ok(c.clone());
                }
                _ => {}
            }
        }
        from = last + 1;
    }
    found.ok_or_else(|| DrawError::NoCampaign(id.clone()))
}

/// The campaign's recorded draw.
pub async fn recorded_draw<B: Backend>(
    backend: &B,
    campaign_id: &CampaignId,
) -> Result<RecordedDraw, DrawError> {
    campaign(backend, campaign_id)
        .await?
        .draw
        .ok_or_else(|| DrawError::NotDrawn(campaign_id.clone()))
}

/// How a recorded draw differs from its recomputation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The recorded checkpoint does not allow a draw: not signed by the log key, not this log's
    /// root, signed before the year closed, or nothing to draw from.
    Checkpoint(DrawError),
    /// The recorded sample is not the one the checkpoint gives.
    Sample {
        /// The sample the checkpoint gives, in rank order.
        expected: Vec<HouseholdId>,
        /// Drawn by the recomputation but not recorded.
        missing: Vec<HouseholdId>,
        /// Recorded but not drawn by the recomputation.
        extra: Vec<HouseholdId>,
    },
    /// The same households, recorded in another order than their ranks.
    Order { expected: Vec<HouseholdId> },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[HouseholdId]| {
            v.iter()
                .map(HouseholdId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Mismatch::Checkpoint(e) => write!(
                f,
                "记录的抽样无法成立 / the recorded draw does not hold: {e}"
            ),
            Mismatch::Sample { missing, extra, .. } => {
                write!(
                    f,
                    "样本不符 / the recorded sample is not the one the checkpoint gives:"
                )?;
                if !missing.is_empty() {
                    write!(f, " drawn but not recorded / 应抽未录: {};", list(missing))?;
                }
                if !extra.is_empty() {
                    write!(f, " recorded but not drawn / 录而未抽: {};", list(extra))?;
                }
                Ok(())
            }
            Mismatch::Order { expected } => write!(
                f,
                "样本顺序不符 / the recorded sample holds the right households in another order; by rank it is: {}",
                list(expected)
            ),
        }
    }
}

/// A recorded draw and the verdict of recomputing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawCheck {
    pub recorded: RecordedDraw,
    /// The recomputed draw when it matches, else how it differs.
    pub outcome: Result<Draw, Mismatch>,
}

impl DrawCheck {
    pub fn matches(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Recomputes a campaign's recorded draw from its own checkpoint and compares the samples.
///
/// Errors are for what stops the check itself (no such campaign, no draw, an unreadable log);
/// a draw that does not hold up is an `Ok` with a [`Mismatch`].
pub async fn verify_draw<B: Backend>(
    backend: &B,
    log_key: &VerifierKey,
    campaign: &CampaignId,
) -> Result<DrawCheck, DrawError> {
    let recorded = recorded_draw(backend, campaign).await?;
    let outcome = match draw(
        backend,
        log_key,
        &recorded.program,
        recorded.year,
        &recorded.checkpoint,
    )
    .await
    {
        Err(e @ DrawError::Unreadable(_)) => return Err(e),
        Err(e) => Err(Mismatch::Checkpoint(e)),
        Ok(d) => compare(d, &recorded.sample),
    };
    Ok(DrawCheck { recorded, outcome })
}

/// The recomputed draw if `recorded` is its sample in order, else the difference.
pub fn compare(draw: Draw, recorded: &[HouseholdId]) -> Result<Draw, Mismatch> {
    let expected = draw.households();
    if expected == recorded {
        return Ok(draw);
    }
    let want: BTreeSet<&HouseholdId> = expected.iter().collect();
    let have: BTreeSet<&HouseholdId> = recorded.iter().collect();
    let missing: Vec<HouseholdId> = expected
        .iter()
        .filter(|h| !have.contains(h))
        .cloned()
        .collect();
    let extra: Vec<HouseholdId> = recorded
        .iter()
        .filter(|h| !want.contains(h))
        .cloned()
        .collect();
    if missing.is_empty() && extra.is_empty() && expected.len() == recorded.len() {
        return Err(Mismatch::Order { expected });
    }
    Err(Mismatch::Sample {
        expected,
        missing,
        extra,
    })
}
