//! `bangfu demo`: a whole district program played into a fresh ledger through the real intake,
//! then verified and summarised for an inspector.
//!
//! The story follows the seed articles with fictional names (see `/shared/DOMAIN.md`): a city
//! district of 21 units, 480 cadres and 500 households in hardship. Leaders are paired first (in
//! January 2016, with the hardest cases), then every section-level cadre (February–March); they
//! visit every quarter, most around the Spring Festival, Dragon Boat and Mid-Autumn festivals, a
//! few quarters are missed and a few visits written up weeks late; cadres give a day's salary to
//! the district's unified fund (the court keeps its own pool) and society gives to a named fund;
//! the funds pay out in cash and in kind through the cadres and the households acknowledge with
//! their contact cards; about 500 requests are raised, dispatched, resolved and confirmed (a few
//! disputed); a transfer and a retirement are handed over (the latter to two cadres jointly,
//! carrying an open request); an overdraft is refused; in January 2017 the log signs a checkpoint,
//! the inspectors draw 10% of the households from it (`bangfu_inspect::draw`) and revisit them,
//! and in February the 2016 scores are published; a last checkpoint is signed at the end.
//!
//! Every statement is signed with its person's Ed25519 key and goes through
//! [`crate::intake::Intake::submit`], the path the HTTP service uses, under a simulated clock so
//! `recorded_at` follows the story; the opening of every sealed value goes into the vault once its
//! statement is accepted. Keys (the log key too), salts and statement ids are derived from names,
//! so every run writes the same log, with the same root and the same checkpoints.

mod names;
mod plan;
mod play;
mod rng;
mod summary;

pub use plan::Scale;
pub use summary::Summary;

use crate::intake::{Intake, Refusal, Window};
use crate::keyfile::{LEDGER_CONFIG_FORMAT, LedgerConfig};
use anyhow::Context;
use bangfu_domain::error::DomainError;
use bangfu_domain::ids::ProgramId;
use bangfu_domain::replay::Replayer;
use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::note::{Signer, VerifierKey};
use bangfu_ledger::signature::SigningKey;
use bangfu_ledger::verify::Verifier;
use bangfu_projections::docs::{
    CadreRow, FundRow, HouseholdRow, PairingRow, PairingStatus, ReceiptRow, ReceiptSource,
    RequestState, SpotCheckRow, UnitRow,
};
use bangfu_projections::projector::Projector;
use bangfu_projections::query::{self, RequestFilter, all};
use bangfu_projections::scores;
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::{Backend, StoredCheckpoint};
use bangfu_store::checkpoints::sign_checkpoint;
use bangfu_store::log::{Log, tree_head};
use plan::{Action, Expect, Story};
use play::{Player, StoryClock};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What a progress report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Statements submitted so far, of those planned.
    Appending,
    /// Entries verified so far, of the log's size.
    Verifying,
}

/// Called with the stage, the work done and the work to do.
pub type Progress<'a> = &'a (dyn Fn(Stage, u64, u64) + Sync);

/// How many statements are submitted together (the log's writer commits up to 512 at a time).
const GROUP: usize = 1024;

/// Where the ledger is, for the "what next" lines.
pub struct Location {
    /// The flags that name the store, e.g. `--data ./bangfu-data`.
    pub flags: String,
    /// The flag that names ledger.json where it is not the default (`<--data>/ledger.json`),
    /// e.g. `--config ./bangfu-data/ledger.json` for a PostgreSQL ledger; else empty.
    pub config_flag: String,
}

/// The log key of the demo's ledger: derived from its name like every key of the story, so the
/// same story signs the same checkpoints. (It protects nothing: a real log key comes from
/// `bangfu keygen` or `bangfu init --new-keys`.)
pub fn log_key() -> SigningKey {
    play::signing_key("log")
}

/// The key of the story's inspector (`person/jiwei-inspector`, role inspector), derived like the
/// others.
pub fn inspector_key() -> SigningKey {
    play::signing_key("insp")
}

/// The log key as the signer of the demo's checkpoints, named by the log's origin.
pub fn log_signer() -> anyhow::Result<Signer> {
    Signer::new(names::ORIGIN, log_key()).map_err(|e| anyhow::anyhow!("the demo's origin: {e}"))
}

/// What `bangfu init` would write to `ledger.json` for the demo's ledger, its log key kept in
/// `log_key_file` (an absolute path).
pub fn ledger_config(log_key_file: PathBuf) -> anyhow::Result<LedgerConfig> {
    Ok(LedgerConfig {
        format: LEDGER_CONFIG_FORMAT.into(),
        origin: names::ORIGIN.into(),
        name: names::AUTHORITY_NAME.into(),
        authority: format!("authority/{}", plan::AUTHORITY),
        authority_key: play::public_key("authority"),
        log_vkey: log_signer()?.verifier_key().to_string(),
        log_key_file,
    })
}

/// Plays the story into `backend` (which must hold an empty log), keeps `views` up to date,
/// verifies the whole log and returns the summary.
pub async fn run<B: Backend, V: ViewStore>(
    backend: B,
    views: V,
    scale: Scale,
    location: &Location,
    progress: Progress<'_>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let signer = log_signer()?;
    let vkey = signer.verifier_key();
    let have = backend
        .size()
        .await
        .context("reading the new ledger's size")?;
    if have > 0 {
        anyhow::bail!(
            "账本非空（{have} 条）/ the ledger already holds {have} entries; the demo needs an empty one"
        );
    }
    let mut story = Story::plan(scale);
    let clock = StoryClock::default();
    let log_clock = clock.clone();
    let log = Log::open_with_clock(backend, Box::new(move || log_clock.now()))
        .await
        .context("opening the new ledger")?;
    let intake_clock = clock.clone();
    let intake = Intake::new(log, Arc::new(move || intake_clock.now()), Window::default());
    let mut player = Player::new(intake, clock);
    let mut projector = Projector::open(player.intake.log().backend(), views)
        .await
        .context("opening the read models")?;

    let mut actions = std::mem::take(&mut story.actions);
    let mut refused = None;
    let mut published = None;
    let mut drawn = None;
    let mut vault = 0u64;
    let mut next = 0;
    while next < actions.len() {
        let day = actions[next].day;
        let mut end = next;
        while end < actions.len()
            && end - next < GROUP
            && actions[end].day == day
            && actions[end].expect == Expect::Accepted
        {
            end += 1;
        }
        player.set_clock(day);
        if end > next {
            let mut bodies = Vec::with_capacity(end - next);
            let mut openings = 0;
            for a in &actions[next..end] {
                // The intake keeps them in the vault once the statement is in the log.
                let sealed = story.openings_of(a);
                openings += sealed.len() as u64;
                bodies.push(player.sign(a, &sealed)?);
            }
            let results = player.submit_in_order(&bodies).await;
            for (a, r) in actions[next..end].iter().zip(results) {
                r.map_err(|e| unexpected(&story, a, &e))?;
            }
            vault += openings;
            next = end;
        } else {
            let a = &mut actions[next];
            match a.expect {
                Expect::Overdraft => refused = Some(overdraft(&mut player, &story, a).await?),
                Expect::Draw => {
                    let (checkpoint, sample) = draw(&mut player, &story, a, &signer).await?;
                    drawn = Some(checkpoint);
                    let mut revisits = story.revisits(&sample);
                    actions.append(&mut revisits);
                    actions[next + 1..].sort_by_key(Action::order);
                }
                Expect::Publish => {
                    published = Some(publish(&mut player, &mut projector, &story, a).await?);
                }
                Expect::Accepted => {}
            }
            next += 1;
        }
        progress(Stage::Appending, next as u64, actions.len() as u64);
    }

    let backend = player.intake.log().backend();
    // The last checkpoint, of the whole story: what `bangfu export` hands an inspector.
    let last = sign_checkpoint(backend, &signer, player.now())
        .await
        .context("signing the final checkpoint")?;
    projector
        .catch_up(backend, None, None)
        .await
        .context("bringing the read models up to date")?;
    let (entries, root) = verify(backend, &vkey, &last, progress).await?;
    let published = published.context("the story ended without publishing its scores")?;
    let drawn = drawn.context("the story ended without its spot-check draw")?;
    let mut summary = summarise(projector.views(), &story, published, location).await?;
    summary.entries = entries;
    summary.root = root.to_base64();
    summary.verified = true;
    summary.refused = refused;
    summary.log_vkey = vkey.to_string();
    summary.checkpoint = summary::CheckpointLine::of(&last);
    summary.vault = vault;
    summary.spot_check.checkpoint_size = drawn.size;
    summary.spot_check.checkpoint_root = drawn.root.to_base64();
    summary.spot_check.checkpoint_signed_at = summary::CheckpointLine::of(&drawn).signed_at;
    player.intake.close().await;
    summary.millis = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// A planned statement the ledger refused: a fault in the demo, reported with what was refused.
fn unexpected(story: &Story, a: &Action, e: &Refusal) -> anyhow::Error {
    anyhow::anyhow!(
        "演示脚本的指令被拒绝 / the demo's statement was refused: {} on {} by {} ({}), dated {}: {e}",
        a.command,
        a.target,
        story.holder(&a.signer),
        e.code(),
        a.day
    )
}

/// The overdraft: the ledger must refuse it and name the balance; nothing is written.
async fn overdraft<B: Backend>(
    player: &mut Player<B>,
    story: &Story,
    a: &Action,
) -> anyhow::Result<summary::Refused> {
    let before = player.intake.log().size().await?;
    let body = player.sign(a, &[])?;
    let result = player.submit_in_order(&[body]).await.pop();
    let after = player.intake.log().size().await?;
    match result {
        Some(Err(e @ Refusal::Domain(DomainError::Overdraft { .. }))) if after == before => {
            Ok(summary::Refused {
                command: a.command.to_owned(),
                target: a.target.clone(),
                signer: story.holder(&a.signer).to_owned(),
                code: e.code().to_owned(),
                message: e.to_string(),
            })
        }
        Some(Err(e)) => Err(unexpected(story, a, &e)),
        _ => anyhow::bail!(
            "账本接受了透支 / the ledger accepted a payment of {} from {}, which holds only {}: the overdraft rule did not hold",
            story.refusal.requested,
            story.refusal.fund,
            story.refusal.balance
        ),
    }
}

/// The spot-check draw: the log signs a checkpoint now (after the year closed), the sample is
/// drawn from it as any inspector would redraw it (`bangfu_inspect::draw`), and the statement
/// records both. Returns the checkpoint and the sample.
async fn draw<B: Backend>(
    player: &mut Player<B>,
    story: &Story,
    a: &mut Action,
    signer: &Signer,
) -> anyhow::Result<(StoredCheckpoint, Vec<String>)> {
    let backend = player.intake.log().backend();
    let checkpoint = sign_checkpoint(backend, signer, player.now())
        .await
        .context("signing the checkpoint to draw from")?;
    let note = checkpoint.cosigned_note();
    let program = ProgramId::new(plan::PROGRAM).map_err(anyhow::Error::msg)?;
    let drawn =
        bangfu_inspect::draw::draw(backend, &signer.verifier_key(), &program, plan::YEAR, &note)
            .await?;
    let sample: Vec<String> = drawn.households().into_iter().map(String::from).collect();
    a.args = json!({"checkpoint": note, "sample": sample});
    let body = player.sign(a, &[])?;
    if let Some(Err(e)) = player.submit_in_order(&[body]).await.pop() {
        return Err(unexpected(story, a, &e));
    }
    Ok((checkpoint, sample))
}

/// The evaluator's statement: the 2016 scores computed from the read models at the log's current
/// size, published with that size so anyone can recompute them.
async fn publish<B: Backend, V: ViewStore>(
    player: &mut Player<B>,
    projector: &mut Projector<V>,
    story: &Story,
    a: &mut Action,
) -> anyhow::Result<(scores::Assessment, u64)> {
    projector
        .catch_up(player.intake.log().backend(), None, None)
        .await
        .context("bringing the read models up to date")?;
    let program = ProgramId::new(plan::PROGRAM).map_err(anyhow::Error::msg)?;
    let assessment = scores::assess(projector.views(), &program, plan::YEAR)
        .await
        .context("computing the year's scores")?;
    let cadres: Vec<_> = assessment
        .cadres
        .iter()
        .map(|s| json!({"cadre": s.cadre, "points": s.total}))
        .collect();
    let units: Vec<_> = assessment
        .units
        .iter()
        .map(|u| json!({"unit": u.unit, "points": u.total}))
        .collect();
    a.args = json!({"program": plan::PROGRAM, "year": plan::YEAR,
                    "log_size": assessment.log_size, "formula": assessment.formula,
                    "cadres": cadres, "units": units});
    let body = player.sign(a, &[])?;
    match player.submit_in_order(&[body]).await.pop() {
        Some(Ok(accepted)) => Ok((assessment, accepted.index)),
        Some(Err(e)) => Err(unexpected(story, a, &e)),
        None => anyhow::bail!("no answer to the assessment"),
    }
}

/// Verifies the whole log as an inspector would: every entry's form, index, `prev_root` and
/// signature, the domain replayed entry by entry (keys, roles, and exactly the events each
/// statement produces), and the final root against the stored tree head and the last checkpoint,
/// opened with the log key.
async fn verify<B: Backend>(
    backend: &B,
    log_key: &VerifierKey,
    last: &StoredCheckpoint,
    progress: Progress<'_>,
) -> anyhow::Result<(u64, Hash)> {
    let size = backend.size().await?;
    let mut verifier = Verifier::new(Replayer::new());
    let mut from = 0;
    while from < size {
        let page = backend.entries(from, 1000).await?;
        if page.is_empty() {
            anyhow::bail!("entry {from} of {size} could not be read");
        }
        for e in &page {
            verifier
                .push(&e.body)
                .map_err(|e| anyhow::anyhow!("核验失败 / verification failed at {e}"))?;
            from += 1;
        }
        progress(Stage::Verifying, from, size);
    }
    let (n, root, _) = verifier
        .finish()
        .map_err(|e| anyhow::anyhow!("核验失败 / verification failed at {e}"))?;
    let stored = tree_head(backend, n).await?;
    if stored != root {
        anyhow::bail!(
            "核验失败 / the entries hash to {} but the stored tree head of size {n} is {}",
            root.to_base64(),
            stored.to_base64()
        );
    }
    let (signed, _) = Checkpoint::open(last.cosigned_note().as_bytes(), log_key)
        .map_err(|e| anyhow::anyhow!("核验失败 / the last checkpoint: {e}"))?;
    if (signed.size, signed.root) != (n, root) {
        anyhow::bail!(
            "核验失败 / the last checkpoint is of size {} with root {}, but the log has {n} entries with root {root}",
            signed.size,
            signed.root
        );
    }
    Ok((n, root))
}

/// The summary, read back from the read models.
async fn summarise<V: ViewStore>(
    v: &V,
    story: &Story,
    (assessment, index): (scores::Assessment, u64),
    location: &Location,
) -> anyhow::Result<Summary> {
    let mut t = summary::Totals {
        units: all::<UnitRow, V>(v, "unit/").await?.len() as u64,
        leaders: story.leaders as u64,
        ..summary::Totals::default()
    };
    let cadres: Vec<CadreRow> = all(v, "cadre/").await?;
    t.cadres = cadres.len() as u64;
    let households: Vec<HouseholdRow> = all(v, "household/").await?;
    t.households = households.len() as u64;
    t.contact_cards = story.households.iter().filter(|h| h.card).count() as u64;
    let pairings: Vec<PairingRow> = all(v, &format!("pairing/{}:", plan::PROGRAM)).await?;
    t.pairings = pairings.len() as u64;
    t.pairings_active = pairings
        .iter()
        .filter(|p| p.status == PairingStatus::Active)
        .count() as u64;
    for visit in pairings.iter().flat_map(|p| &p.visits) {
        if visit.retracted {
            continue;
        }
        t.visits += 1;
        let festival = plan::FESTIVALS
            .iter()
            .any(|(_, from, to)| plan::d(from) <= visit.date && visit.date <= plan::d(to));
        t.festival_visits += u64::from(festival);
        t.late_visits +=
            u64::from(visit.date.days_until(visit.recorded_on) > plan::LATE_AFTER_DAYS);
        t.visits_acknowledged += u64::from(visit.acknowledged);
    }
    let program = ProgramId::new(plan::PROGRAM).map_err(anyhow::Error::msg)?;
    for r in query::requests(v, &program, RequestFilter::All).await? {
        t.requests_raised += 1;
        t.requests_resolved += u64::from(r.request.resolved_on.is_some());
        match r.request.state {
            RequestState::Confirmed => t.requests_confirmed += 1,
            RequestState::Disputed => t.requests_disputed += 1,
            RequestState::Raised | RequestState::Dispatched | RequestState::Accepted => {
                t.requests_open += 1
            }
            _ => {}
        }
    }
    for r in all::<ReceiptRow, V>(v, "receipt/").await? {
        if r.reversed {
            continue;
        }
        t.help_items += 1;
        t.help_acknowledged += u64::from(r.acknowledged);
        if let ReceiptSource::Cadre { .. } = r.source {
            t.donations += 1;
            t.donated_fen += r.value;
        }
    }
    let mut funds = Vec::new();
    let rows: Vec<FundRow> = all(v, "fund/").await?;
    for rec in query::reconcile(v).await? {
        let row = rows.iter().find(|f| f.id == rec.fund);
        t.contributed_fen += rec.contributed;
        t.disbursed_fen += rec.disbursed - rec.reversed;
        t.disbursements += row.map_or(0, |f| f.disbursements);
        funds.push(summary::FundLine {
            fund: rec.fund.to_string(),
            name: row.map(|f| f.name.clone()).unwrap_or_default(),
            kind: row
                .and_then(|f| serde_json::to_value(f.kind).ok())
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default(),
            contributed_fen: rec.contributed,
            disbursed_fen: rec.disbursed,
            reversed_fen: rec.reversed,
            balance_fen: rec.balance,
            reconciled: rec.ok,
        });
    }
    t.delivered_fen = t.disbursed_fen + t.donated_fen;

    let mut spot = summary::SpotCheck {
        campaign: plan::CAMPAIGN.to_owned(),
        households: t.households,
        ..summary::SpotCheck::default()
    };
    if let Some(row) =
        query::get::<SpotCheckRow, V>(v, &format!("spot_check/{}", plan::CAMPAIGN)).await?
    {
        use bangfu_domain::aggregates::spot_check::{FindingResult, Method};
        spot.sample = row.sample.len() as u64;
        spot.revisits = row.revisits.len() as u64;
        for r in &row.revisits {
            spot.on_site += u64::from(r.method == Method::OnSite);
            for f in &r.findings {
                match f.result {
                    FindingResult::Confirmed => spot.confirmed += 1,
                    FindingResult::NotConfirmed => spot.not_confirmed += 1,
                    FindingResult::Unreachable => spot.unreachable += 1,
                }
            }
        }
    }

    let score = |rank: usize, s: &scores::CadreScore| summary::Score {
        rank: rank as u64 + 1,
        cadre: s.cadre.to_string(),
        name: s.name.clone(),
        unit: s
            .unit
            .as_ref()
            .map(|u| unit_name(u.as_str()))
            .unwrap_or_default(),
        points: s.total,
    };
    let n = assessment.cadres.len();
    let best = assessment
        .cadres
        .iter()
        .enumerate()
        .take(5)
        .map(|(k, s)| score(k, s))
        .collect();
    let worst = assessment
        .cadres
        .iter()
        .enumerate()
        .skip(n.saturating_sub(5))
        .rev()
        .map(|(k, s)| score(k, s))
        .collect();

    let first_household = households
        .first()
        .map_or_else(|| "h001".to_owned(), |h| h.id.to_string());
    let flags = &location.flags;
    let config = if location.config_flag.is_empty() {
        String::new()
    } else {
        format!(" {}", location.config_flag)
    };
    let next = vec![
        summary::Next {
            command: format!("bangfu show pairings --household {first_household} {flags}"),
            what: "谁在帮扶这户 / who is responsible for this household".into(),
        },
        summary::Next {
            command: format!(
                "bangfu report assessment --program {} --year {} {flags}",
                plan::PROGRAM,
                plan::YEAR
            ),
            what: "年度考核表 / the year's assessment table".into(),
        },
        summary::Next {
            command: format!("bangfu show funds {flags}"),
            what: "资金余额与对账 / fund balances, reconciled".into(),
        },
        summary::Next {
            command: format!("bangfu serve {flags}"),
            what: "启动服务 / serve this ledger over HTTP".into(),
        },
        summary::Next {
            command: format!("bangfu verify {flags}{config}"),
            what: "独立核验整本账 / verify the whole log: signatures, roles, replay, checkpoints, vault".into(),
        },
        summary::Next {
            command: format!(
                "bangfu spot-check verify --campaign {} {flags}{config}",
                plan::CAMPAIGN
            ),
            what: "由检查点重算抽查样本 / redraw the spot-check sample from its signed checkpoint".into(),
        },
        summary::Next {
            command: format!("bangfu export --out bangfu-bundle {flags}{config}"),
            what: "导出核验包 / the bundle an inspector verifies offline".into(),
        },
    ];
    Ok(Summary {
        district: names::DISTRICT.into(),
        origin: names::ORIGIN.into(),
        program: plan::PROGRAM.into(),
        from: plan::FIRST_DAY.into(),
        to: plan::LAST_DAY.into(),
        entries: 0,
        root: String::new(),
        log_vkey: String::new(),
        checkpoint: summary::CheckpointLine::default(),
        vault: 0,
        verified: false,
        totals: t,
        funds,
        spot_check: spot,
        assessment: summary::Assessment {
            program: plan::PROGRAM.into(),
            year: plan::YEAR,
            formula: assessment.formula.into(),
            log_size: assessment.log_size,
            index,
            cadres_scored: n as u64,
            best,
            worst,
        },
        handovers: story
            .handovers
            .iter()
            .map(|(pairing, reason)| summary::Handover {
                pairing: pairing.clone(),
                reason: reason.clone(),
            })
            .collect(),
        refused: None,
        millis: 0,
        next,
    })
}

/// A unit's name with its id, for the score tables.
fn unit_name(id: &str) -> String {
    names::UNITS
        .iter()
        .find(|u| u.0 == id)
        .map_or_else(|| id.to_owned(), |u| u.1.to_owned())
}
