//! The verifiable spot-check draw on a small real log, appended through the real log writer with
//! its clock driven across the year's end, on SQLite and on PostgreSQL (the same statements, so
//! the same bytes, roots and sample on both).

#[path = "../../store/src/bin/fault_appender/district.rs"]
mod district;

use bangfu_domain::ids::{CampaignId, HouseholdId, ProgramId};
use bangfu_inspect::draw::{self, DrawError, Mismatch};
use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::{Checkpoint, CheckpointError};
use bangfu_ledger::note::Signer;
use bangfu_ledger::statement::{StatementId, VerifiedStatement};
use bangfu_ledger::time::Timestamp;
use bangfu_store::backend::Backend;
use bangfu_store::log::{Log, tree_head};
use bangfu_store::postgres::{PgBackend, TestDatabase};
use bangfu_store::sqlite::SqliteBackend;
use district::{b64key, sign_with_id};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const ORIGIN: &str = "bangfu.example/gulou";
const PROGRAM: &str = "p2016";
const HOUSEHOLDS: usize = 60;
/// Paired 2016-01-04, ended 2016-06-30: eligible for 2016 only.
const ENDED: &str = "h59";
/// Paired 2017-01-01: eligible for 2017 only.
const LATE: &str = "h60";

fn ms(t: &str) -> i64 {
    Timestamp::parse(t).unwrap().unix_millis()
}

/// Statement ids of our own, so the same statement has the same bytes in both stores.
fn id(n: u64) -> StatementId {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(b"draw");
    b[9..16].copy_from_slice(&n.to_be_bytes()[1..]);
    StatementId::from_random_bytes(b)
}

fn signed(n: u64, signer: &str, command: &str, target: &str, args: Value) -> VerifiedStatement {
    sign_with_id(id(n), signer, command, target, args)
}

fn log_signer() -> Signer {
    Signer::new(ORIGIN, SigningKey::from_bytes(&[42; 32])).unwrap()
}

fn pid() -> ProgramId {
    ProgramId::new(PROGRAM).unwrap()
}

fn hid(s: &str) -> HouseholdId {
    HouseholdId::new(s).unwrap()
}

fn note(size: u64, root: Hash) -> String {
    Checkpoint::new(ORIGIN, size, root)
        .sign(&log_signer())
        .unwrap()
        .format()
        .unwrap()
}

/// The story, as timed groups of statements. Times are UTC; China is 8 hours ahead.
fn story() -> Vec<(&'static str, Vec<VerifiedStatement>)> {
    let mut setup = district::district(3, HOUSEHOLDS);
    setup.push(signed(
        1,
        "authority",
        "register_key",
        "authority/gulou",
        json!({"key": b64key("insp"), "holder": "person/insp", "roles": ["inspector"]}),
    ));
    vec![
        ("2016-01-04T01:00:00.000Z", setup),
        (
            "2016-06-30T02:00:00.000Z",
            vec![signed(
                2,
                "authority",
                "end_pairing",
                &format!("pairing/{PROGRAM}:{ENDED}"),
                json!({"date": "2016-06-30", "reason": "迁出本区"}),
            )],
        ),
        // 23:59 on 31 December in Beijing: still 2016.
        ("2016-12-31T15:59:00.000Z", vec![district::visit(0, 3, 1)]),
        // 00:00 on 1 January 2017 in Beijing: the year has closed.
        (
            "2016-12-31T16:00:00.000Z",
            vec![
                signed(
                    3,
                    "authority",
                    "register_household",
                    &format!("household/{LATE}"),
                    json!({"address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
                           "category": "illness", "members": 2,
                           "sensitive": {"hardship": district::sealed("透析"), "id_number": district::sealed("350102")},
                           "date": "2017-01-01"}),
                ),
                signed(
                    4,
                    "authority",
                    "form_pairing",
                    &format!("pairing/{PROGRAM}:{LATE}"),
                    json!({"program": PROGRAM, "household": LATE, "cadres": ["c0"], "lead": "c0", "date": "2017-01-01"}),
                ),
            ],
        ),
        (
            "2017-01-09T01:00:00.000Z",
            [
                "c2016",
                "c2016-swapped",
                "c2016-reordered",
                "c2016-early",
                "c2016-undrawn",
            ]
            .iter()
            .enumerate()
            .map(|(k, c)| {
                signed(
                    10 + k as u64,
                    "insp",
                    "open_campaign",
                    &format!("spot_check/{c}"),
                    json!({"program": PROGRAM, "year": 2016}),
                )
            })
            .collect(),
        ),
    ]
}

struct Clock(Arc<AtomicI64>);

/// What the checks need from one store: its log, its clock and the sizes the story reached.
struct Played<B: Backend> {
    log: Log<B>,
    clock: Clock,
    /// Size after the entry recorded at 23:59 on 2016-12-31 (Beijing).
    before_close: u64,
    /// Size after the first entries of 2017.
    after_close: u64,
}

async fn play<B: Backend>(backend: B, story: &[(&str, Vec<VerifiedStatement>)]) -> Played<B> {
    let now = Arc::new(AtomicI64::new(0));
    let read = now.clone();
    let log = Log::open_with_clock(backend, Box::new(move || read.load(Ordering::SeqCst)))
        .await
        .unwrap();
    let clock = Clock(now);
    let mut sizes = Vec::new();
    for (at, statements) in story {
        clock.0.store(ms(at), Ordering::SeqCst);
        for s in statements {
            log.append(s.clone())
                .await
                .unwrap_or_else(|e| panic!("{at}: {e}"));
        }
        sizes.push(log.size().await.unwrap());
    }
    Played {
        before_close: sizes[2],
        after_close: sizes[3],
        log,
        clock,
    }
}

impl<B: Backend> Played<B> {
    async fn checkpoint(&self, size: u64) -> String {
        note(size, tree_head(self.log.backend(), size).await.unwrap())
    }

    async fn append(&self, at: &str, statements: Vec<VerifiedStatement>) -> u64 {
        self.clock.0.store(ms(at), Ordering::SeqCst);
        for s in statements {
            self.log
                .append(s)
                .await
                .unwrap_or_else(|e| panic!("{at}: {e}"));
        }
        self.log.size().await.unwrap()
    }
}

/// The sample as the test computes it on its own: SHA-256(root || id), ascending, the first n.
fn expected_sample(root: &Hash, eligible: &[String], per_mille: u64) -> Vec<HouseholdId> {
    let mut ranked: Vec<([u8; 32], &String)> = eligible
        .iter()
        .map(|h| {
            let mut sha = Sha256::new();
            sha.update(root.0);
            sha.update(h.as_bytes());
            (sha.finalize().into(), h)
        })
        .collect();
    ranked.sort();
    let n = (eligible.len() as u64 * per_mille).div_ceil(1000).max(1) as usize;
    ranked.into_iter().take(n).map(|(_, h)| hid(h)).collect()
}

fn households(range: impl Iterator<Item = usize>) -> Vec<String> {
    range.map(|h| format!("h{h}")).collect()
}

fn record_draw(
    n: u64,
    campaign: &str,
    checkpoint: &str,
    sample: &[HouseholdId],
) -> VerifiedStatement {
    signed(
        n,
        "insp",
        "record_draw",
        &format!("spot_check/{campaign}"),
        json!({"checkpoint": checkpoint, "sample": sample}),
    )
}

/// Everything about the draw on one store; returns the 2016 sample drawn just after the close.
async fn draws_on<B: Backend>(
    backend: B,
    story: &[(&str, Vec<VerifiedStatement>)],
) -> Vec<HouseholdId> {
    let played = play(backend, story).await;
    let b = played.log.backend();
    let vkey = log_signer().verifier_key();
    let program = pid();

    // Drawn from the first checkpoint of 2017: deterministic, the rate's share of the households
    // paired in 2016 (not the one paired on 1 January 2017), ranked as the test computes them.
    let k1 = played.checkpoint(played.after_close).await;
    let first = draw::draw(b, &vkey, &program, 2016, &k1).await.unwrap();
    let again = draw::draw(b, &vkey, &program, 2016, &k1).await.unwrap();
    assert_eq!(first, again, "the same checkpoint gives the same draw");
    let paired_2016 = households(0..HOUSEHOLDS);
    assert_eq!(first.eligible, HOUSEHOLDS as u64);
    assert_eq!(first.per_mille, 100);
    assert_eq!(first.sample.len(), 6, "ceil(60 × 100 / 1000)");
    let root = tree_head(b, played.after_close).await.unwrap();
    assert_eq!(first.checkpoint.root, root);
    assert_eq!(first.checkpoint.size, played.after_close);
    assert_eq!(
        first.households(),
        expected_sample(&root, &paired_2016, 100)
    );
    assert!(first.sample.windows(2).all(|w| w[0].rank.0 < w[1].rank.0));
    let views = bangfu_projections::projector::as_of(b, played.after_close)
        .await
        .unwrap();
    let eligible = draw::eligible(&views, &program, 2016).await.unwrap();
    assert!(eligible.contains(&hid(ENDED)) && !eligible.contains(&hid(LATE)));
    let eligible_2017 = draw::eligible(&views, &program, 2017).await.unwrap();
    assert!(!eligible_2017.contains(&hid(ENDED)) && eligible_2017.contains(&hid(LATE)));
    assert_eq!(eligible_2017.len(), HOUSEHOLDS);

    // A checkpoint whose last entry was recorded at 23:59 on 31 December (Beijing) is refused,
    // as is the year that has not closed yet at k1.
    let early = played.checkpoint(played.before_close).await;
    match draw::draw(b, &vkey, &program, 2016, &early).await {
        Err(DrawError::TooEarly { size, year, .. }) => {
            assert_eq!((size, year), (played.before_close, 2016))
        }
        other => panic!("a checkpoint from before the year closed: {other:?}"),
    }
    assert!(matches!(
        draw::draw(b, &vkey, &program, 2017, &k1).await,
        Err(DrawError::TooEarly { .. })
    ));
    // Signed by another key under the same name; a root that is not the log's; a size the log
    // does not reach; an altered note; a year out of range; a program that does not exist.
    let other = Signer::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap();
    let forged = Checkpoint::new(ORIGIN, played.after_close, root)
        .sign(&other)
        .unwrap()
        .format()
        .unwrap();
    assert!(matches!(
        draw::draw(b, &vkey, &program, 2016, &forged).await,
        Err(DrawError::NotSigned(CheckpointError::NotSignedByLog { .. }))
    ));
    let wrong_root = note(played.after_close, bangfu_ledger::merkle::leaf_hash(b"x"));
    assert!(matches!(
        draw::draw(b, &vkey, &program, 2016, &wrong_root).await,
        Err(DrawError::RootMismatch { .. })
    ));
    let beyond = note(played.log.size().await.unwrap() + 1, root);
    assert!(matches!(
        draw::draw(b, &vkey, &program, 2016, &beyond).await,
        Err(DrawError::BeyondLog { .. })
    ));
    let altered = k1.replacen(
        &format!("\n{}\n", played.after_close),
        &format!("\n{}\n", played.after_close - 1),
        1,
    );
    assert!(matches!(
        draw::draw(b, &vkey, &program, 2016, &altered).await,
        Err(DrawError::NotSigned(CheckpointError::Note(_)))
    ));
    assert!(matches!(
        draw::draw(b, &vkey, &program, 1999, &k1).await,
        Err(DrawError::Year(1999))
    ));
    assert!(matches!(
        draw::draw(b, &vkey, &ProgramId::new("nope").unwrap(), 2016, &k1).await,
        Err(DrawError::NoProgram { .. })
    ));
    for e in [
        draw::draw(b, &vkey, &program, 2016, &early)
            .await
            .unwrap_err(),
        draw::draw(b, &vkey, &program, 2016, &forged)
            .await
            .unwrap_err(),
    ] {
        let text = e.to_string();
        assert!(text.contains(" / "), "bilingual: {text}");
    }

    // Record the draw, a swapped one, a reordered one and one from the early checkpoint.
    let sample = first.households();
    let outsider = paired_2016
        .iter()
        .map(|h| hid(h))
        .find(|h| !sample.contains(h))
        .unwrap();
    let mut swapped = sample.clone();
    swapped[2] = outsider.clone();
    let mut reordered = sample.clone();
    reordered.reverse();
    let early_sample = vec![hid("h1")];
    let after_draws = played
        .append(
            "2017-01-10T01:00:00.000Z",
            vec![
                record_draw(20, "c2016", &k1, &sample),
                record_draw(21, "c2016-swapped", &k1, &swapped),
                record_draw(22, "c2016-reordered", &k1, &reordered),
                record_draw(23, "c2016-early", &early, &early_sample),
            ],
        )
        .await;

    let campaign = |c: &str| CampaignId::new(c).unwrap();
    let ok = draw::verify_draw(b, &vkey, &campaign("c2016"))
        .await
        .unwrap();
    assert!(ok.matches(), "{:?}", ok.outcome);
    assert_eq!(ok.recorded.index, after_draws - 4);
    assert_eq!(ok.recorded.year, 2016);
    let bad = draw::verify_draw(b, &vkey, &campaign("c2016-swapped"))
        .await
        .unwrap();
    match &bad.outcome {
        Err(Mismatch::Sample {
            missing,
            extra,
            expected,
        }) => {
            assert_eq!(missing, &vec![sample[2].clone()]);
            assert_eq!(extra, &vec![outsider.clone()]);
            assert_eq!(expected, &sample);
        }
        other => panic!("a swapped household: {other:?}"),
    }
    assert!(matches!(
        draw::verify_draw(b, &vkey, &campaign("c2016-reordered"))
            .await
            .unwrap()
            .outcome,
        Err(Mismatch::Order { .. })
    ));
    assert!(matches!(
        draw::verify_draw(b, &vkey, &campaign("c2016-early"))
            .await
            .unwrap()
            .outcome,
        Err(Mismatch::Checkpoint(DrawError::TooEarly { .. }))
    ));
    assert!(matches!(
        draw::verify_draw(b, &vkey, &campaign("c2016-undrawn")).await,
        Err(DrawError::NotDrawn(_))
    ));
    assert!(matches!(
        draw::verify_draw(b, &vkey, &campaign("never-opened")).await,
        Err(DrawError::NoCampaign(_))
    ));
    // Verified with another log's key, the recorded draw does not hold.
    let stranger = Signer::new(ORIGIN, SigningKey::from_bytes(&[9; 32]))
        .unwrap()
        .verifier_key();
    assert!(matches!(
        draw::verify_draw(b, &stranger, &campaign("c2016"))
            .await
            .unwrap()
            .outcome,
        Err(Mismatch::Checkpoint(DrawError::NotSigned(_)))
    ));

    // A later checkpoint has another root, so other ranks and (overwhelmingly likely, 6 of 60)
    // another sample; the rate in force at the checkpoint decides the size.
    let later = played
        .append(
            "2017-02-01T01:00:00.000Z",
            vec![signed(
                30,
                "authority",
                "update_program_rules",
                &format!("program/{PROGRAM}"),
                json!({"reason": "抽查比例提高到 25%", "rules": {
                    "min_visits_per_quarter": 1, "festivals": [], "spot_check_per_mille": 250,
                    "late_after_days": 7,
                    "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                                "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}}}),
            )],
        )
        .await;
    let k2 = played.checkpoint(after_draws).await;
    let second = draw::draw(b, &vkey, &program, 2016, &k2).await.unwrap();
    assert_eq!(second.sample.len(), 6, "the rate as of the checkpoint");
    assert_ne!(second.checkpoint.root, first.checkpoint.root);
    assert_ne!(second.households(), first.households());
    let k3 = played.checkpoint(later).await;
    let third = draw::draw(b, &vkey, &program, 2016, &k3).await.unwrap();
    assert_eq!(third.per_mille, 250);
    assert_eq!(third.sample.len(), 15, "ceil(60 × 250 / 1000)");
    assert_eq!(
        third.households(),
        expected_sample(&third.checkpoint.root, &paired_2016, 250)
    );

    // 2017 closes in 2018: the household paired on 1 January 2017 is eligible, the one whose
    // pairing ended in 2016 is not.
    let closed_2017 = played
        .append(
            "2018-01-02T01:00:00.000Z",
            vec![signed(
                31,
                "c1",
                "record_visit",
                &format!("pairing/{PROGRAM}:h1"),
                json!({"visit_id": "v2018", "date": "2018-01-02", "kind": "routine",
                       "diary": district::sealed("走访")}),
            )],
        )
        .await;
    let k4 = played.checkpoint(closed_2017).await;
    let of_2017 = draw::draw(b, &vkey, &program, 2017, &k4).await.unwrap();
    let mut paired_2017 = households(0..HOUSEHOLDS - 1);
    paired_2017.push(LATE.into());
    assert_eq!(of_2017.eligible, paired_2017.len() as u64);
    assert_eq!(
        of_2017.households(),
        expected_sample(&of_2017.checkpoint.root, &paired_2017, 250)
    );
    assert!(of_2017.to_json()["sample"].as_array().unwrap().len() == 15);

    played.log.close().await;
    first.households()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_is_recomputed_by_anyone_from_the_checkpoint_on_both_stores() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .unwrap();
    // Generated once: the district's statement ids are fresh per call.
    let story = story();
    let from_sqlite = draws_on(sqlite, &story).await;

    let db = TestDatabase::create("bangfu_draw").await.unwrap();
    let pg = PgBackend::connect(&db.url).await.unwrap();
    let from_pg = draws_on(pg, &story).await;
    assert_eq!(from_sqlite, from_pg, "the same log gives the same sample");
}

#[test]
fn sample_sizes_round_up_and_stay_within_the_eligible() {
    assert_eq!(draw::sample_size(0, 100), 0);
    assert_eq!(draw::sample_size(1, 1), 1);
    assert_eq!(draw::sample_size(500, 100), 50);
    assert_eq!(draw::sample_size(501, 100), 51);
    assert_eq!(draw::sample_size(7, 1000), 7);
    let eligible: BTreeSet<HouseholdId> = (0..9).map(|h| hid(&format!("h{h}"))).collect();
    let root = Hash([3; 32]);
    let all = draw::select(&root, &eligible, 1000);
    assert_eq!(all.len(), 9);
    let some = draw::select(&root, &eligible, 300);
    assert_eq!(some.len(), 3);
    assert_eq!(
        some[..],
        all[..3],
        "a smaller rate takes a prefix of the same order"
    );
}
