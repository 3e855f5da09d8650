//! Turning entries into rows: the one place that says what each event does to the read models.
//!
//! [`Projection`] holds the registry (keys, cadres, households, programs: who signed what) and a
//! cache of rows. [`Projection::apply`] takes one entry; [`Projection::take_dirty`] hands the
//! changed rows to whoever commits them with the new cursor, and [`Projection::shrink`] drops the
//! least recently used clean rows once the cache is over its bound. Rows missing from the cache
//! are loaded from the view store. When the projection started from nothing (a rebuild or an
//! as-of replay) it knows every row there is: a miss on a key it never evicted is simply "no such
//! row", without asking the store.

use crate::docs::{
    Allocation, AnyDoc, AssessmentRow, CadreRow, CadreStatus, ContributionRow, DisbursementRow,
    Doc, FundRow, HouseholdRow, HouseholdStatus, LOG_HEAD, LogRow, Movement, MovementRow,
    PairingRow, PairingStatus, PairingStep, ProgramRow, ReceiptRow, ReceiptSource, RequestRow,
    RequestState, Revisit, RulesVersion, Signed, SpotCheckRow, Stint, Team, TimelineRow, UnitRow,
    UnitSpell, Unspent, VisitRow, key, position,
};
use crate::views::{ViewError, ViewStore};
use bangfu_domain::aggregates::assessment::AssessmentEvent;
use bangfu_domain::aggregates::cadre::CadreEvent;
use bangfu_domain::aggregates::fund::FundEvent;
use bangfu_domain::aggregates::household::HouseholdEvent;
use bangfu_domain::aggregates::pairing::PairingEvent;
use bangfu_domain::aggregates::program::ProgramEvent;
use bangfu_domain::aggregates::spot_check::SpotCheckEvent;
use bangfu_domain::aggregates::unit::UnitEvent;
use bangfu_domain::command::Key;
use bangfu_domain::date::Date;
use bangfu_domain::event::from_ledger;
use bangfu_domain::ids::{CadreId, HouseholdId, RequestId};
use bangfu_domain::registry::Registry;
use bangfu_domain::upcasters;
use bangfu_ledger::entry::{Entry, Event};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The cache's bound, in estimated heap bytes (see [`Cached::weight`]): past it,
/// [`Projection::shrink`] drops the least recently used clean rows until about half is left. Rows
/// are reloaded from the store when next needed, so this trades memory for point queries, never
/// correctness.
const MAX_CACHED_BYTES: usize = 384 << 20;
/// The bound in rows, which also bounds the map's table (it keeps its largest capacity).
const MAX_CACHED_ROWS: usize = 500_000;
/// A cached row's heap estimate is this, its key, and twice its JSON: the boxed document's inline
/// size (the largest kind of row, a few hundred bytes), the map's slot, and the key again in the
/// dirty set. Heaptrack on the tiny bench's rebuild put the typed rows' own allocations (strings,
/// maps, vectors of small structs) at one to two times their JSON.
const ROW_OVERHEAD: usize = std::mem::size_of::<AnyDoc>() + 96;
/// Kinds of rows the projector writes and never reads back: their keys are not remembered when
/// evicted (timeline and movement rows are most of a long log's rows). A miss on one of them
/// still asks the store, so this list only saves memory and can never make a row disappear.
const NEVER_READ_BACK: [&str; 3] = [TimelineRow::KIND, MovementRow::KIND, LogRow::KIND];

#[derive(Debug)]
pub enum ProjectError {
    Views(ViewError),
    Store(bangfu_store::backend::StoreError),
    /// An entry the projector cannot read. The log verified it at append, so this is damage or a
    /// program older than the log: `bangfu verify` names the entry.
    BadEntry {
        index: u64,
        reason: String,
    },
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectError::Views(e) => e.fmt(f),
            ProjectError::Store(e) => e.fmt(f),
            ProjectError::BadEntry { index, reason } => write!(
                f,
                "第 {index} 条记录无法投影，请运行 `bangfu verify` / entry {index} cannot be projected ({reason}); run `bangfu verify`"
            ),
        }
    }
}

impl std::error::Error for ProjectError {}

impl From<ViewError> for ProjectError {
    fn from(e: ViewError) -> Self {
        ProjectError::Views(e)
    }
}

impl From<bangfu_store::backend::StoreError> for ProjectError {
    fn from(e: bangfu_store::backend::StoreError) -> Self {
        ProjectError::Store(e)
    }
}

pub type Result<T> = std::result::Result<T, ProjectError>;

/// The projector's working state for one view store.
pub struct Projection {
    pub registry: Registry,
    rows: HashMap<String, Cached>,
    dirty: BTreeSet<String>,
    /// Batches handed out by [`Projection::take_dirty`] so far: rows put now are in batch
    /// `batch`, the one the next `take_dirty` hands out.
    batch: u64,
    /// The sum of the cached rows' weights: the cache's estimated heap bytes.
    bytes: usize,
    /// `Some` when the projection started from an empty store: the hashes of the keys of rows it
    /// evicted (except [`NEVER_READ_BACK`] kinds). Every other row it ever wrote is in the cache,
    /// so only a miss on a key in here (or a false positive: equal hashes) needs the store.
    /// `None` when resuming over stored rows: any miss may be a stored row.
    ///
    /// Grows by about 10–20 bytes per distinct evicted row of a kind that is read back
    /// (households, pairings, funds, contributions, disbursements, receipts, requests…): the
    /// city bench has ≈ 0.5 such rows per entry (525,000 of its 1.75M rows), so at most ≈ 10 MiB
    /// at city scale and ≈ 100 MiB at province scale. The cached rows themselves stay within
    /// [`MAX_CACHED_BYTES`].
    evicted: Option<HashSet<u64, BuildHasherDefault<KeyHashHasher>>>,
    /// The cache's bound: accounted bytes, rows.
    bound: (usize, usize),
}

/// A cached row and what the cache's bound needs to know about it.
struct Cached {
    /// Boxed: the kinds of rows differ a lot in inline size, and the map's table (which keeps
    /// its largest capacity) should not hold the largest for every slot.
    doc: Box<AnyDoc>,
    /// The batch that last put it (see [`Projection::batch`]).
    touched: u64,
    /// Its estimated heap bytes when last serialized (see [`ROW_OVERHEAD`]); 0 until then.
    weight: usize,
}

/// The set of evicted keys holds their 64-bit SipHash already: hashing that hash again would
/// only cost time.
#[derive(Default)]
struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64s are hashed with this; fold anything else in rather than panic.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A key's hash for the evicted set: SipHash with fixed keys, so it needs no state.
fn key_hash(key: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

fn read_back(key: &str) -> bool {
    let kind = key.split('/').next().unwrap_or("");
    !NEVER_READ_BACK.contains(&kind)
}

impl Projection {
    /// A projection starting from an empty view store: nothing is loaded unless it was evicted.
    pub fn empty() -> Projection {
        Projection {
            registry: Registry::default(),
            rows: HashMap::new(),
            dirty: BTreeSet::new(),
            batch: 0,
            bytes: 0,
            evicted: Some(HashSet::default()),
            bound: (MAX_CACHED_BYTES, MAX_CACHED_ROWS),
        }
    }

    /// A projection resuming over a store that already holds rows; `registry` must be the
    /// registry as of the store's cursor.
    pub fn resume(registry: Registry) -> Projection {
        Projection {
            registry,
            rows: HashMap::new(),
            dirty: BTreeSet::new(),
            batch: 0,
            bytes: 0,
            evicted: None,
            bound: (MAX_CACHED_BYTES, MAX_CACHED_ROWS),
        }
    }

    /// The changed rows, serialized, in key order; they are now clean, and rows put from now on
    /// belong to the next batch.
    pub fn take_dirty(&mut self) -> Vec<(String, String)> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut out = Vec::with_capacity(dirty.len());
        for k in dirty {
            if let Some(c) = self.rows.get_mut(&k) {
                let json = c.doc.to_json();
                let weight = 2 * (k.len() + json.len()) + ROW_OVERHEAD;
                self.bytes = self.bytes - c.weight + weight;
                c.weight = weight;
                out.push((k, json));
            }
        }
        self.batch += 1;
        out
    }

    /// When the cache is over its bound, drops clean rows, least recently put first, until about
    /// half the bound is left. The rows of the last `unconfirmed` batches handed out by
    /// [`Projection::take_dirty`] stay whatever the cost: their commit may not have happened yet,
    /// so the store may not have them. Rows put since the last `take_dirty` (dirty) stay too.
    pub fn shrink(&mut self, unconfirmed: u64) {
        let (max_bytes, max_rows) = self.bound;
        if self.bytes <= max_bytes && self.rows.len() <= max_rows {
            return;
        }
        let keep_from = self.batch.saturating_sub(unconfirmed);
        // Bytes and rows per batch, oldest first: drop whole batches until what is left fits in
        // half the bound (or only the batches that must stay are left).
        let mut per_batch: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        for c in self.rows.values() {
            let e = per_batch.entry(c.touched).or_default();
            e.0 += c.weight;
            e.1 += 1;
        }
        let (mut bytes, mut rows) = (self.bytes, self.rows.len());
        let mut cut = 0;
        for (&batch, &(b, n)) in &per_batch {
            if batch >= keep_from || (bytes <= max_bytes / 2 && rows <= max_rows / 2) {
                break;
            }
            bytes -= b;
            rows -= n;
            cut = batch + 1;
        }
        let evicted = &mut self.evicted;
        self.rows.retain(|k, c| {
            if c.touched >= cut {
                return true;
            }
            if let Some(set) = evicted.as_mut()
                && read_back(k)
            {
                set.insert(key_hash(k));
            }
            false
        });
        self.bytes = bytes;
    }

    /// Bounds the cache at `bytes` accounted bytes and `rows` rows instead of
    /// [`MAX_CACHED_BYTES`] and [`MAX_CACHED_ROWS`]. 0 evicts every committed row after each
    /// batch (tests use it to exercise reloading).
    pub fn set_cache_bound(&mut self, bytes: usize, rows: usize) {
        self.bound = (bytes, rows);
    }

    /// Forgets every cached row (after another writer moved the store on); the bound stays.
    pub fn forget(&mut self, registry: Registry) {
        let bound = self.bound;
        *self = Projection::resume(registry);
        self.bound = bound;
    }

    /// Takes a row out of the cache (loading it on a miss) for the caller to change and
    /// [`Projection::put`] back; taking rather than copying keeps big rows cheap to update.
    async fn take<T: Doc, V: ViewStore>(&mut self, views: &V, key: &str) -> Result<Option<T>> {
        if let Some(c) = self.rows.remove(key) {
            self.bytes -= c.weight;
            return Ok(T::from_any(*c.doc));
        }
        if let Some(evicted) = &self.evicted
            && read_back(key)
            && !evicted.contains(&key_hash(key))
        {
            return Ok(None);
        }
        let Some(json) = views.get(key).await? else {
            return Ok(None);
        };
        let doc = AnyDoc::from_json(key, &json).map_err(ViewError::Corrupt)?;
        Ok(T::from_any(doc))
    }

    fn put<T: Doc>(&mut self, key: String, row: T) {
        let cached = Cached {
            doc: Box::new(row.into_any()),
            touched: self.batch,
            weight: 0,
        };
        if let Some(old) = self.rows.insert(key.clone(), cached) {
            self.bytes -= old.weight;
        }
        self.dirty.insert(key);
    }

    /// Takes one entry into account.
    pub async fn apply<V: ViewStore>(&mut self, views: &V, entry: &Entry) -> Result<()> {
        let index = entry.index;
        let bad = |reason: String| ProjectError::BadEntry { index, reason };
        let signer_key = Key(entry.statement.body.key);
        let mut signed = Signed {
            index,
            statement_id: entry.statement.body.id.as_str().to_owned(),
            signer: self.holder_of(&signer_key),
            key: entry.statement.body.key.to_base64(),
            recorded_at: entry.recorded_at.to_string(),
        };
        let recorded_on = Date::in_china(entry.recorded_at);
        for e in &entry.events {
            self.registry.apply(e).map_err(|err| bad(err.to_string()))?;
        }
        if signed.signer == "unknown" {
            // The genesis registers its own key in the same entry.
            signed.signer = self.holder_of(&signer_key);
        }
        self.put(
            LOG_HEAD.to_owned(),
            LogRow {
                size: index + 1,
                last_recorded_at: signed.recorded_at.clone(),
                today: recorded_on,
            },
        );
        let ctx = EntryCtx {
            signed,
            recorded_on,
        };
        for (n, e) in entry.events.iter().enumerate() {
            self.apply_event(views, &ctx, n, e)
                .await
                .map_err(|err| match err {
                    ProjectError::BadEntry { reason, .. } => bad(reason),
                    other => other,
                })?;
        }
        Ok(())
    }

    fn holder_of(&self, key: &Key) -> String {
        self.registry
            .key(key)
            .map(|k| k.holder.to_string())
            .unwrap_or_else(|| "unknown".to_owned())
    }

    async fn apply_event<V: ViewStore>(
        &mut self,
        views: &V,
        ctx: &EntryCtx,
        n: usize,
        e: &Event,
    ) -> Result<()> {
        match e.aggregate_type.as_str() {
            "unit" => {
                let UnitEvent::UnitRegistered(u) = decode(e)?;
                let k = key::<UnitRow>(&[u.id.as_str()]);
                self.put(
                    k,
                    UnitRow {
                        id: u.id,
                        name: u.name,
                        kind: u.kind,
                        parent: u.parent,
                    },
                );
            }
            "cadre" => self.cadre(views, e).await?,
            "household" => self.household(views, ctx, n, e).await?,
            "program" => self.program(views, ctx, e).await?,
            "pairing" => self.pairing(views, ctx, n, e).await?,
            "fund" => self.fund(views, ctx, n, e).await?,
            "spot_check" => self.spot_check(views, ctx, n, e).await?,
            "assessment" => {
                let AssessmentEvent::AssessmentPublished(a) = decode(e)?;
                let k = key::<AssessmentRow>(&[&format!("{}:{}", a.program, a.year)]);
                self.put(
                    k,
                    AssessmentRow {
                        program: a.program,
                        year: a.year,
                        log_size: a.log_size,
                        formula: a.formula,
                        cadres: a.cadres.into_iter().map(|s| (s.cadre, s.points)).collect(),
                        units: a.units.into_iter().map(|s| (s.unit, s.points)).collect(),
                        signed: ctx.signed.clone(),
                    },
                );
            }
            // Keys and roles live in the registry; nothing else reads them as rows.
            _ => {}
        }
        Ok(())
    }

    async fn required<T: Doc, V: ViewStore>(&mut self, views: &V, key: &str) -> Result<T> {
        self.take(views, key)
            .await?
            .ok_or_else(|| ProjectError::BadEntry {
                index: 0,
                reason: format!("{key} does not exist in the read models"),
            })
    }

    fn timeline(&mut self, ctx: &EntryCtx, n: usize, household: &HouseholdId, e: &Event) {
        let k = key::<TimelineRow>(&[household.as_str(), &position(ctx.signed.index, n)]);
        self.put(
            k,
            TimelineRow {
                household: household.clone(),
                aggregate: format!("{}/{}", e.aggregate_type, e.aggregate_id),
                event_type: e.event_type.clone(),
                payload: e.payload.clone(),
                signed: ctx.signed.clone(),
            },
        );
    }

    async fn cadre<V: ViewStore>(&mut self, views: &V, e: &Event) -> Result<()> {
        let k = key::<CadreRow>(&[&e.aggregate_id]);
        match from_ledger::<CadreEvent>(e, &upcasters::for_aggregate("cadre")).map_err(bad_event)? {
            CadreEvent::CadreRegistered(r) => self.put(
                k,
                CadreRow {
                    id: r.id,
                    name: r.name,
                    rank: r.rank,
                    party_member: r.party_member,
                    status: CadreStatus::Active,
                    registered: r.date,
                    units: vec![UnitSpell {
                        unit: r.unit,
                        from: r.date,
                        to: None,
                    }],
                    pairings: BTreeMap::new(),
                },
            ),
            CadreEvent::CadreTransferred(t) => {
                let mut c: CadreRow = self.required(views, &k).await?;
                close_spell(&mut c, t.date);
                match t.to_unit {
                    Some(unit) => c.units.push(UnitSpell {
                        unit,
                        from: t.date,
                        to: None,
                    }),
                    None => c.status = CadreStatus::Transferred,
                }
                self.put(k, c);
            }
            CadreEvent::CadreRetired(r) => {
                let mut c: CadreRow = self.required(views, &k).await?;
                close_spell(&mut c, r.date);
                c.status = CadreStatus::Retired;
                self.put(k, c);
            }
        }
        Ok(())
    }

    async fn household<V: ViewStore>(
        &mut self,
        views: &V,
        ctx: &EntryCtx,
        n: usize,
        e: &Event,
    ) -> Result<()> {
        let k = key::<HouseholdRow>(&[&e.aggregate_id]);
        let event: HouseholdEvent = decode(e)?;
        if let HouseholdEvent::HouseholdRegistered(r) = &event {
            self.put(
                k.clone(),
                HouseholdRow {
                    id: r.id.clone(),
                    address: r.address.clone(),
                    category: r.category,
                    members: r.members,
                    status: HouseholdStatus::InHardship,
                    registered: r.date,
                    pairings: BTreeMap::new(),
                },
            );
        } else {
            let mut h: HouseholdRow = self.required(views, &k).await?;
            match event {
                HouseholdEvent::HouseholdCorrected(c) => {
                    if let Some(a) = c.address {
                        h.address = a;
                    }
                    if let Some(cat) = c.category {
                        h.category = cat;
                    }
                    if let Some(m) = c.members {
                        h.members = m;
                    }
                }
                HouseholdEvent::HardshipExited(_) => h.status = HouseholdStatus::Exited,
                HouseholdEvent::HardshipReturned(_) => h.status = HouseholdStatus::InHardship,
                HouseholdEvent::ContactKeySet(_) | HouseholdEvent::HouseholdRegistered(_) => {}
            }
            self.put(k, h);
        }
        let id = household_id(&e.aggregate_id)?;
        self.timeline(ctx, n, &id, e);
        Ok(())
    }

    async fn program<V: ViewStore>(&mut self, views: &V, ctx: &EntryCtx, e: &Event) -> Result<()> {
        let k = key::<ProgramRow>(&[&e.aggregate_id]);
        match decode::<ProgramEvent>(e)? {
            ProgramEvent::ProgramCreated(p) => self.put(
                k,
                ProgramRow {
                    id: p.id,
                    name: p.name,
                    rules: vec![RulesVersion {
                        version: 1,
                        rules: p.rules,
                        since: ctx.recorded_on,
                        index: ctx.signed.index,
                    }],
                },
            ),
            ProgramEvent::ProgramRulesUpdated(u) => {
                let mut p: ProgramRow = self.required(views, &k).await?;
                p.rules.push(RulesVersion {
                    version: u.version,
                    rules: u.rules,
                    since: ctx.recorded_on,
                    index: ctx.signed.index,
                });
                self.put(k, p);
            }
        }
        Ok(())
    }

    async fn pairing<V: ViewStore>(
        &mut self,
        views: &V,
        ctx: &EntryCtx,
        n: usize,
        e: &Event,
    ) -> Result<()> {
        use PairingEvent as P;
        let id = e.aggregate_id.clone();
        let k = key::<PairingRow>(&[&id]);
        let event: PairingEvent = decode(e)?;
        let step = |step: &str, date, cadres: BTreeSet<CadreId>, lead, reason| PairingStep {
            step: step.to_owned(),
            date,
            cadres,
            lead,
            reason,
            signed: ctx.signed.clone(),
        };
        let mut p: PairingRow = match &event {
            P::PairingFormed(f) => {
                let existing: Option<PairingRow> = self.take(views, &k).await?;
                let mut p = existing.unwrap_or_else(|| PairingRow {
                    id: id.clone(),
                    program: f.program.clone(),
                    household: f.household.clone(),
                    status: PairingStatus::Active,
                    team: Team {
                        cadres: f.cadres.clone(),
                        lead: f.lead.clone(),
                        since: f.date,
                    },
                    formed: f.date,
                    ended: None,
                    stints: Vec::new(),
                    history: Vec::new(),
                    visits: Vec::new(),
                    donations: BTreeMap::new(),
                    requests: Vec::new(),
                });
                p.status = PairingStatus::Active;
                p.ended = None;
                p.team = Team {
                    cadres: f.cadres.clone(),
                    lead: f.lead.clone(),
                    since: f.date,
                };
                p.history.push(step(
                    "formed",
                    Some(f.date),
                    f.cadres.clone(),
                    Some(f.lead.clone()),
                    None,
                ));
                for c in &f.cadres {
                    p.stints.push(Stint {
                        cadre: c.clone(),
                        from: f.date,
                        to: None,
                    });
                    self.cadre_stint(views, c, &id, f.date, None).await?;
                }
                let hk = key::<HouseholdRow>(&[f.household.as_str()]);
                let mut h: HouseholdRow = self.required(views, &hk).await?;
                h.pairings.insert(f.program.clone(), id.clone());
                self.put(hk, h);
                p
            }
            _ => self.required(views, &k).await?,
        };
        let household = p.household.clone();
        match event {
            P::PairingFormed(_) => {}
            P::HandoverProposed(h) => {
                let mut s = step(
                    "handover_proposed",
                    Some(h.date),
                    h.incoming,
                    Some(h.lead),
                    Some(h.reason),
                );
                s.cadres.extend(h.outgoing.iter().cloned());
                p.history.push(s);
            }
            P::HandoverAccepted(a) => p.history.push(step(
                "handover_accepted",
                None,
                BTreeSet::from([a.cadre]),
                None,
                None,
            )),
            P::HandoverCompleted(h) => {
                let leaving: Vec<CadreId> = p
                    .team
                    .cadres
                    .iter()
                    .filter(|c| !h.cadres.contains(*c))
                    .cloned()
                    .collect();
                let joining: Vec<CadreId> = h
                    .cadres
                    .iter()
                    .filter(|c| !p.team.cadres.contains(*c))
                    .cloned()
                    .collect();
                for c in &leaving {
                    close_stint(&mut p.stints, c, h.date);
                    self.cadre_stint(views, c, &id, h.date, Some(h.date))
                        .await?;
                }
                for c in &joining {
                    p.stints.push(Stint {
                        cadre: c.clone(),
                        from: h.date,
                        to: None,
                    });
                    self.cadre_stint(views, c, &id, h.date, None).await?;
                }
                for rid in &h.carried_requests {
                    let lead = h.lead.clone();
                    self.request(views, ctx, &id, rid, "carried", |q| q.responsible = lead)
                        .await?;
                }
                p.team = Team {
                    cadres: h.cadres.clone(),
                    lead: h.lead.clone(),
                    since: h.date,
                };
                p.history.push(step(
                    "handed_over",
                    Some(h.date),
                    h.cadres,
                    Some(h.lead),
                    None,
                ));
            }
            P::PairingEnded(x) => {
                let team: Vec<CadreId> = p.team.cadres.iter().cloned().collect();
                for c in &team {
                    close_stint(&mut p.stints, c, x.date);
                    self.cadre_stint(views, c, &id, x.date, Some(x.date))
                        .await?;
                }
                p.status = PairingStatus::Ended;
                p.ended = Some(x.date);
                p.history.push(step(
                    "ended",
                    Some(x.date),
                    BTreeSet::new(),
                    None,
                    Some(x.reason),
                ));
            }
            P::VisitRecorded(v) => p.visits.push(VisitRow {
                visit_id: v.visit_id,
                cadre: v.cadre,
                date: v.date,
                kind: v.kind,
                recorded_on: ctx.recorded_on,
                problems: v.problems,
                photos: v.photos.len(),
                retracted: false,
                acknowledged: false,
                index: ctx.signed.index,
            }),
            P::VisitRetracted(v) => {
                if let Some(row) = p.visits.iter_mut().find(|r| r.visit_id == v.visit_id) {
                    row.retracted = true;
                }
            }
            P::VisitAcknowledged(v) => {
                if let Some(row) = p.visits.iter_mut().find(|r| r.visit_id == v.visit_id) {
                    row.acknowledged = true;
                }
            }
            P::PersonalDonationRecorded(d) => {
                let rk = key::<ReceiptRow>(&[household.as_str(), &position(ctx.signed.index, n)]);
                p.donations.insert(d.donation_id.clone(), rk.clone());
                self.put(
                    rk,
                    ReceiptRow {
                        household: household.clone(),
                        date: d.date,
                        source: ReceiptSource::Cadre {
                            cadre: d.cadre,
                            pairing: id.clone(),
                            donation: d.donation_id,
                        },
                        help: d.help,
                        value: d.value.get(),
                        purpose: d.purpose,
                        acknowledged: false,
                        reversed: false,
                        signed: ctx.signed.clone(),
                    },
                );
            }
            P::DonationAcknowledged(d) => {
                if let Some(rk) = p.donations.get(&d.donation_id).cloned() {
                    let mut r: ReceiptRow = self.required(views, &rk).await?;
                    r.acknowledged = true;
                    self.put(rk, r);
                }
            }
            P::RequestRaised(r) => {
                p.requests.push(r.request_id.clone());
                self.put(
                    key::<RequestRow>(&[&id, r.request_id.as_str()]),
                    RequestRow {
                        id: r.request_id,
                        pairing: id.clone(),
                        household: household.clone(),
                        kind: r.kind,
                        summary: r.summary,
                        raised_by: r.by,
                        raised_on: r.date,
                        state: RequestState::Raised,
                        responsible: p.team.lead.clone(),
                        resolved_by: None,
                        resolved_on: None,
                        outcome: None,
                        note: None,
                        history: vec![("raised".into(), ctx.signed.clone())],
                    },
                );
            }
            P::RequestDispatched(r) => {
                self.request(views, ctx, &id, &r.request_id, "dispatched", move |q| {
                    q.state = RequestState::Dispatched;
                    q.responsible = r.to;
                })
                .await?
            }
            P::RequestAccepted(r) => {
                self.request(views, ctx, &id, &r.request_id, "accepted", move |q| {
                    q.state = RequestState::Accepted;
                    q.responsible = r.cadre;
                })
                .await?
            }
            P::RequestResolved(r) => {
                self.request(views, ctx, &id, &r.request_id, "resolved", move |q| {
                    q.state = RequestState::Resolved;
                    q.resolved_by = Some(r.cadre);
                    q.resolved_on = Some(r.date);
                    q.outcome = Some(r.outcome);
                })
                .await?
            }
            P::ResolutionConfirmed(r) => {
                self.request(views, ctx, &id, &r.request_id, "confirmed", |q| {
                    q.state = RequestState::Confirmed;
                })
                .await?
            }
            P::ResolutionDisputed(r) => {
                self.request(views, ctx, &id, &r.request_id, "disputed", move |q| {
                    q.state = RequestState::Disputed;
                    q.note = Some(r.reason);
                })
                .await?
            }
            P::RequestClosed(r) => {
                self.request(views, ctx, &id, &r.request_id, "closed", move |q| {
                    q.state = RequestState::Closed;
                    q.note = Some(r.reason);
                })
                .await?
            }
        }
        self.put(k, p);
        self.timeline(ctx, n, &household, e);
        Ok(())
    }

    /// One step in a request's life: the change, and who signed it in the request's history.
    async fn request<V: ViewStore>(
        &mut self,
        views: &V,
        ctx: &EntryCtx,
        pairing: &str,
        request: &RequestId,
        what: &str,
        change: impl FnOnce(&mut RequestRow),
    ) -> Result<()> {
        let k = key::<RequestRow>(&[pairing, request.as_str()]);
        let mut r: RequestRow = self.required(views, &k).await?;
        change(&mut r);
        r.history.push((what.to_owned(), ctx.signed.clone()));
        self.put(k, r);
        Ok(())
    }

    /// Opens (`to == None`) or closes a cadre's stint on a pairing in the cadre's own row.
    async fn cadre_stint<V: ViewStore>(
        &mut self,
        views: &V,
        cadre: &CadreId,
        pairing: &str,
        date: Date,
        to: Option<Date>,
    ) -> Result<()> {
        let k = key::<CadreRow>(&[cadre.as_str()]);
        let mut c: CadreRow = self.required(views, &k).await?;
        let stints = c.pairings.entry(pairing.to_owned()).or_default();
        match to {
            None => stints.push(Stint {
                cadre: cadre.clone(),
                from: date,
                to: None,
            }),
            Some(end) => close_stint(stints, cadre, end),
        }
        self.put(k, c);
        Ok(())
    }

    async fn fund<V: ViewStore>(
        &mut self,
        views: &V,
        ctx: &EntryCtx,
        n: usize,
        e: &Event,
    ) -> Result<()> {
        use FundEvent as F;
        let fk = key::<FundRow>(&[&e.aggregate_id]);
        let event: FundEvent = decode(e)?;
        if let F::FundCreated(c) = event {
            self.put(
                fk,
                FundRow {
                    id: c.id,
                    name: c.name,
                    kind: c.kind,
                    unit: c.unit,
                    manager: c.manager,
                    balance: 0,
                    contributed: 0,
                    disbursed: 0,
                    reversed: 0,
                    contributions: 0,
                    disbursements: 0,
                    per_year: BTreeMap::new(),
                    queue: Vec::new(),
                },
            );
            return Ok(());
        }
        let mut f: FundRow = self.required(views, &fk).await?;
        let movement_key = key::<MovementRow>(&[f.id.as_str(), &position(ctx.signed.index, n)]);
        let disbursement_key = |id: &str| key::<DisbursementRow>(&[f.id.as_str(), id]);
        let contribution_key = |id: &str| key::<ContributionRow>(&[f.id.as_str(), id]);
        match event {
            F::FundCreated(_) => {}
            F::ContributionRecorded(c) => {
                let amount = c.amount.get();
                f.balance += amount;
                f.contributed += amount;
                f.contributions += 1;
                f.per_year.entry(c.date.year()).or_default().contributed += amount;
                f.queue.push(Unspent {
                    contribution: c.contribution_id.clone(),
                    seq: f.contributions,
                    remaining: amount,
                });
                self.put(
                    contribution_key(c.contribution_id.as_str()),
                    ContributionRow {
                        fund: f.id.clone(),
                        id: c.contribution_id.clone(),
                        seq: f.contributions,
                        source: c.source.clone(),
                        amount,
                        date: c.date,
                        remaining: amount,
                        allocations: Vec::new(),
                        signed: ctx.signed.clone(),
                    },
                );
                self.put(
                    movement_key,
                    MovementRow {
                        fund: f.id.clone(),
                        date: c.date,
                        amount,
                        balance: f.balance,
                        movement: Movement::Contribution {
                            contribution: c.contribution_id,
                            source: c.source,
                        },
                        signed: ctx.signed.clone(),
                    },
                );
            }
            F::Disbursed(d) => {
                let value = d.value.get();
                f.balance -= value;
                f.disbursed += value;
                f.disbursements += 1;
                f.per_year.entry(d.date.year()).or_default().disbursed += value;
                // First in, first out: the oldest unspent contributions pay first.
                let mut allocations = Vec::new();
                let mut due = value;
                while due > 0 {
                    let Some(front) = f.queue.first_mut() else {
                        return Err(bad(format!(
                            "disbursement {} overdraws fund {} in the read model",
                            d.disbursement_id, f.id
                        )));
                    };
                    let take = due.min(front.remaining);
                    front.remaining -= take;
                    due -= take;
                    allocations.push(Allocation {
                        contribution: front.contribution.clone(),
                        disbursement: d.disbursement_id.clone(),
                        household: d.household.clone(),
                        amount: take,
                        reversed: false,
                    });
                    if front.remaining == 0 {
                        f.queue.remove(0);
                    }
                }
                for a in &allocations {
                    let ck = contribution_key(a.contribution.as_str());
                    let mut c: ContributionRow = self.required(views, &ck).await?;
                    c.remaining -= a.amount;
                    c.allocations.push(a.clone());
                    self.put(ck, c);
                }
                let receipt_key =
                    key::<ReceiptRow>(&[d.household.as_str(), &position(ctx.signed.index, n)]);
                self.put(
                    receipt_key.clone(),
                    ReceiptRow {
                        household: d.household.clone(),
                        date: d.date,
                        source: ReceiptSource::Fund {
                            fund: f.id.clone(),
                            disbursement: d.disbursement_id.clone(),
                            through: d.through.clone(),
                        },
                        help: d.help.clone(),
                        value,
                        purpose: d.purpose,
                        acknowledged: false,
                        reversed: false,
                        signed: ctx.signed.clone(),
                    },
                );
                self.put(
                    disbursement_key(d.disbursement_id.as_str()),
                    DisbursementRow {
                        fund: f.id.clone(),
                        id: d.disbursement_id.clone(),
                        household: d.household.clone(),
                        through: d.through.clone(),
                        value,
                        date: d.date,
                        acknowledged: false,
                        reversed: false,
                        allocations: allocations.clone(),
                        movement: movement_key.clone(),
                        receipt: receipt_key,
                    },
                );
                self.put(
                    movement_key,
                    MovementRow {
                        fund: f.id.clone(),
                        date: d.date,
                        amount: -value,
                        balance: f.balance,
                        movement: Movement::Disbursement {
                            disbursement: d.disbursement_id,
                            household: d.household.clone(),
                            through: d.through,
                            purpose: d.purpose,
                            help: d.help,
                            allocations,
                        },
                        signed: ctx.signed.clone(),
                    },
                );
                self.timeline(ctx, n, &d.household, e);
            }
            F::DisbursementAcknowledged(a) => {
                let dk = disbursement_key(a.disbursement_id.as_str());
                let mut d: DisbursementRow = self.required(views, &dk).await?;
                d.acknowledged = true;
                let mut r: ReceiptRow = self.required(views, &d.receipt).await?;
                r.acknowledged = true;
                self.put(d.receipt.clone(), r);
                self.timeline(ctx, n, &d.household, e);
                self.put(dk, d);
            }
            F::DisbursementReversed(x) => {
                let dk = disbursement_key(x.disbursement_id.as_str());
                let mut d: DisbursementRow = self.required(views, &dk).await?;
                let value = x.value.get();
                f.balance += value;
                f.reversed += value;
                // A reversal names no date of its own: it happens the day it is recorded, in the
                // trail and in the year's totals alike.
                f.per_year
                    .entry(ctx.recorded_on.year())
                    .or_default()
                    .reversed += value;
                // The money goes back to the contributions it came from, which rejoin the queue
                // in their original order.
                for a in d.allocations.iter_mut() {
                    a.reversed = true;
                    let ck = contribution_key(a.contribution.as_str());
                    let mut c: ContributionRow = self.required(views, &ck).await?;
                    c.remaining += a.amount;
                    for ca in c.allocations.iter_mut() {
                        if ca.disbursement == d.id {
                            ca.reversed = true;
                        }
                    }
                    match f.queue.iter_mut().find(|u| u.contribution == c.id) {
                        Some(u) => u.remaining += a.amount,
                        None => {
                            let at = f.queue.partition_point(|u| u.seq < c.seq);
                            f.queue.insert(
                                at,
                                Unspent {
                                    contribution: c.id.clone(),
                                    seq: c.seq,
                                    remaining: a.amount,
                                },
                            );
                        }
                    }
                    self.put(ck, c);
                }
                d.reversed = true;
                let mut r: ReceiptRow = self.required(views, &d.receipt).await?;
                r.reversed = true;
                self.put(d.receipt.clone(), r);
                self.put(
                    movement_key,
                    MovementRow {
                        fund: f.id.clone(),
                        date: ctx.recorded_on,
                        amount: value,
                        balance: f.balance,
                        movement: Movement::Reversal {
                            disbursement: d.id.clone(),
                            household: d.household.clone(),
                            reason: x.reason,
                        },
                        signed: ctx.signed.clone(),
                    },
                );
                self.timeline(ctx, n, &d.household, e);
                self.put(dk, d);
            }
        }
        self.put(fk, f);
        Ok(())
    }

    async fn spot_check<V: ViewStore>(
        &mut self,
        views: &V,
        ctx: &EntryCtx,
        n: usize,
        e: &Event,
    ) -> Result<()> {
        let k = key::<SpotCheckRow>(&[&e.aggregate_id]);
        let event: SpotCheckEvent = decode(e)?;
        if let SpotCheckEvent::CampaignOpened(o) = event {
            let id = bangfu_domain::ids::CampaignId::new(&e.aggregate_id).map_err(bad)?;
            self.put(
                k,
                SpotCheckRow {
                    id,
                    program: o.program,
                    year: o.year,
                    checkpoint: None,
                    sample: Vec::new(),
                    revisits: Vec::new(),
                    closed: false,
                },
            );
            return Ok(());
        }
        let mut s: SpotCheckRow = self.required(views, &k).await?;
        match event {
            SpotCheckEvent::CampaignOpened(_) => {}
            SpotCheckEvent::SampleDrawn(d) => {
                s.checkpoint = Some(d.checkpoint);
                s.sample = d.sample;
            }
            SpotCheckEvent::RevisitRecorded(r) => {
                self.timeline(ctx, n, &r.household, e);
                s.revisits.push(Revisit {
                    household: r.household,
                    method: r.method,
                    date: r.date,
                    findings: r.findings,
                    satisfaction: r.satisfaction,
                    index: ctx.signed.index,
                });
            }
            SpotCheckEvent::CampaignClosed(_) => s.closed = true,
        }
        self.put(k, s);
        Ok(())
    }
}

struct EntryCtx {
    signed: Signed,
    recorded_on: Date,
}

fn bad(reason: String) -> ProjectError {
    ProjectError::BadEntry { index: 0, reason }
}

fn bad_event(e: bangfu_domain::error::DomainError) -> ProjectError {
    bad(e.to_string())
}

fn decode<T: DeserializeOwned>(e: &Event) -> Result<T> {
    from_ledger(e, &upcasters::for_aggregate(&e.aggregate_type)).map_err(bad_event)
}

fn household_id(s: &str) -> Result<HouseholdId> {
    HouseholdId::new(s).map_err(bad)
}

fn close_spell(c: &mut CadreRow, date: Date) {
    if let Some(s) = c.units.iter_mut().rev().find(|s| s.to.is_none()) {
        s.to = Some(date);
    }
}

fn close_stint(stints: &mut [Stint], cadre: &CadreId, date: Date) {
    if let Some(s) = stints
        .iter_mut()
        .rev()
        .find(|s| &s.cadre == cadre && s.to.is_none())
    {
        s.to = Some(date);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::MemViews;
    use bangfu_domain::aggregates::unit::UnitKind;
    use bangfu_domain::ids::UnitId;

    fn unit(id: &str) -> UnitRow {
        UnitRow {
            id: UnitId::new(id).unwrap(),
            name: format!("unit {id}"),
            kind: UnitKind::Bureau,
            parent: None,
        }
    }

    fn head(size: u64) -> LogRow {
        LogRow {
            size,
            last_recorded_at: String::new(),
            today: Date::from_ymd(2020, 1, 1).unwrap(),
        }
    }

    /// Rows of batches whose commit is unconfirmed, and dirty rows, survive any bound; older rows
    /// go, and only they are asked of the store afterwards.
    #[tokio::test]
    async fn shrink_keeps_unconfirmed_rows_and_asks_only_for_evicted_ones() {
        // The store holds a row the projection never wrote: asking for it would find it.
        let views = MemViews::new();
        views
            .commit(0, 1, &[("unit/u9".into(), unit("u9").into_any().to_json())])
            .await
            .unwrap();
        let mut p = Projection::empty();
        p.set_cache_bound(0, 0);
        p.put("unit/u1".into(), unit("u1"));
        p.put(LOG_HEAD.into(), head(1));
        assert_eq!(p.take_dirty().len(), 2);
        p.shrink(1);
        assert_eq!(p.rows.len(), 2, "batch 0 is not confirmed yet");
        p.put("unit/u2".into(), unit("u2"));
        assert_eq!(p.take_dirty().len(), 1);
        p.put("unit/u3".into(), unit("u3"));
        p.shrink(1);
        let mut left: Vec<&String> = p.rows.keys().collect();
        left.sort();
        assert_eq!(
            left,
            ["unit/u2", "unit/u3"],
            "batch 1 unconfirmed, u3 dirty"
        );
        assert!(p.bytes > 0);
        // Never written, never evicted: "no such row" without asking, though the store has one.
        assert_eq!(p.take::<UnitRow, _>(&views, "unit/u9").await.unwrap(), None);
        // Evicted: asked for (this store never got it, so it is not found).
        assert_eq!(p.take::<UnitRow, _>(&views, "unit/u1").await.unwrap(), None);
        p.shrink(0);
        assert_eq!(p.rows.keys().collect::<Vec<_>>(), ["unit/u3"]);
        // Only read-back kinds are remembered; the log head is never taken.
        let evicted = p.evicted.as_ref().unwrap();
        assert!(evicted.contains(&key_hash("unit/u1")) && evicted.contains(&key_hash("unit/u2")));
        assert!(!evicted.contains(&key_hash(LOG_HEAD)));
        assert_eq!(evicted.len(), 2);

        // Resuming over stored rows, every miss asks the store.
        let mut r = Projection::resume(Registry::default());
        assert_eq!(
            r.take::<UnitRow, _>(&views, "unit/u9").await.unwrap(),
            Some(unit("u9"))
        );
    }
}
