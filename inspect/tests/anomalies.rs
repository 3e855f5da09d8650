//! `anomalies::detect` on a small real log: signed statements through the real append path (a
//! SQLite file in a temp dir, and once on PostgreSQL), diaries deposited in the real vault, read
//! models projected by the real projector. Each kind of anomaly is planted next to a clean control,
//! and every finding must name exactly the planted entries.

use bangfu_domain::date::Date;
use bangfu_inspect::anomalies::{self, Finding, Kind, Options, Report, Severity};
use bangfu_ledger::Hash;
use bangfu_ledger::seal::{Commitment, Opening, SALT_LEN};
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::{Timestamp, days_from_civil};
use bangfu_projections::projector;
use bangfu_store::backend::Backend;
use bangfu_store::log::{Clock, Log};
use bangfu_store::postgres::{PgBackend, TestDatabase};
use bangfu_store::sqlite::SqliteBackend;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

// ---------------------------------------------------------------------------------------------
// A small builder: keys from names, a clock the test sets, a vault kept beside the log.

fn key(name: &str) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(format!("anomalies test key {name}")).into();
    SigningKey::from_bytes(&seed)
}

fn public(name: &str) -> String {
    PublicKey::from(&key(name)).to_base64()
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

struct Ledger<B: Backend> {
    log: Log<B>,
    clock: Arc<AtomicI64>,
    statements: u64,
    openings: Vec<Opening>,
}

impl<B: Backend> Ledger<B> {
    async fn open(backend: B) -> Ledger<B> {
        let clock = Arc::new(AtomicI64::new(0));
        let now = clock.clone();
        let source: Clock = Box::new(move || now.load(Ordering::SeqCst));
        Ledger {
            log: Log::open_with_clock(backend, source).await.unwrap(),
            clock,
            statements: 0,
            openings: Vec::new(),
        }
    }

    /// The log records what follows on `day` (10:00 in Beijing, a minute per statement).
    fn on(&mut self, day: &str) {
        let (y, m, dd) = d(day).ymd();
        self.clock.store(
            days_from_civil(y, m, dd) * 86_400_000 + 2 * 3_600_000,
            Ordering::SeqCst,
        );
    }

    /// A sealed value whose opening goes to the vault at the end.
    fn seal(&mut self, text: &str) -> Value {
        let salt: [u8; 32] = Sha256::digest(format!("salt {}", self.openings.len())).into();
        let mut s = [0u8; SALT_LEN];
        s.copy_from_slice(&salt[..SALT_LEN]);
        let o = Opening::new(json!(text), s).unwrap();
        let c = o.commitment.to_json();
        self.openings.push(o);
        c
    }

    /// Signs and appends; returns the entry index. A refusal fails the test with the log's words.
    async fn submit(&mut self, signer: &str, command: &str, target: &str, args: Value) -> u64 {
        self.statements += 1;
        let now = self.clock.fetch_add(60_000, Ordering::SeqCst);
        let sk = key(signer);
        // Clear of bytes 6 and 8 (the UUID version and variant).
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(b"anom");
        id[9..16].copy_from_slice(&self.statements.to_be_bytes()[1..]);
        let statement = Statement::sign(
            Body {
                id: StatementId::from_random_bytes(id),
                command: CommandName::parse(command).unwrap(),
                target: Target::parse(target).unwrap(),
                args: args.as_object().cloned().unwrap(),
                signed_at: Timestamp::from_unix_millis(now - 30_000).unwrap(),
                key: PublicKey::from(&sk),
            },
            &sk,
        )
        .unwrap()
        .verified()
        .unwrap();
        match self.log.append(statement).await {
            Ok(receipt) => receipt.index,
            Err(e) => panic!("{command} on {target} by {signer} refused: {e}"),
        }
    }

    fn backend(&self) -> &B {
        self.log.backend()
    }
}

// ---------------------------------------------------------------------------------------------
// The story: a program of eight households, January to July 2016, with one of each anomaly.

const A: &str = "今天上门走访王大爷家，老人腿脚不便，屋顶漏雨严重，已联系社区安排维修，并送去大米和食用油，叮嘱按时服药。";
/// Another surname: 87 % alike (41 of 47 distinct 3-character shingles shared).
const A_NEAR: &str = "今天上门走访李大爷家，老人腿脚不便，屋顶漏雨严重，已联系社区安排维修，并送去大米和食用油，叮嘱按时服药。";
/// The same words, other spacing and punctuation.
const A_SAME: &str = "今天 上门走访王大爷家。老人腿脚不便；屋顶漏雨严重！已联系社区安排维修 并送去大米和食用油、叮嘱按时服药";
const B: &str =
    "孩子学费已协调学校减免，下学期开学前再回访一次，确认助学金按时到账，家长表示感谢。";
const C: &str =
    "户主因病住院，已协助办理大病医疗报销手续，预计下月到账，家属情绪稳定，需持续关注。";
const D: &str =
    "社区公益性岗位已落实，户主下周一上岗，收入将超过低保线，三个月后回访了解适应情况。";
const SHORT: &str = "走访，了解近况";

/// The entries the story planted, by name.
#[derive(Default)]
struct Planted(BTreeMap<&'static str, u64>);

impl Planted {
    fn at(&self, name: &str) -> u64 {
        *self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("{name} was not planted"))
    }
}

async fn visit<B: Backend>(
    l: &mut Ledger<B>,
    cadre: &str,
    household: &str,
    id: &str,
    date: &str,
    diary: Value,
) -> u64 {
    l.submit(
        cadre,
        "record_visit",
        &format!("pairing/p:{household}"),
        json!({"visit_id": id, "date": date, "kind": "routine", "diary": diary}),
    )
    .await
}

async fn disburse<B: Backend>(
    l: &mut Ledger<B>,
    id: &str,
    household: &str,
    through: &str,
    help: Value,
    date: &str,
) -> u64 {
    l.submit(
        "fm",
        "disburse",
        "fund/f1",
        json!({"disbursement_id": id, "household": household, "through": through,
               "help": help, "purpose": "living", "date": date}),
    )
    .await
}

async fn acknowledge<B: Backend>(l: &mut Ledger<B>, household: &str, id: &str) -> u64 {
    l.submit(
        &format!("card-{household}"),
        "acknowledge_disbursement",
        "fund/f1",
        json!({"disbursement_id": id}),
    )
    .await
}

fn cash(fen: i64) -> Value {
    json!({"form": "cash", "amount": fen})
}

async fn story<B: Backend>(l: &mut Ledger<B>) -> Planted {
    let mut p = Planted::default();
    let coord = "authority";

    l.on("2016-01-04");
    l.submit(
        coord,
        "genesis",
        "authority/test",
        json!({"origin": "bangfu.example/anomalies", "name": "测试区委组织部",
               "holder": "person/org", "roles": ["coordinator"]}),
    )
    .await;
    l.submit(
        coord,
        "register_unit",
        "unit/u1",
        json!({"name": "测试区民政局", "kind": "bureau"}),
    )
    .await;
    l.submit(
        coord,
        "create_program",
        "program/p",
        json!({"name": "结对帮扶 2016", "rules": {
            "min_visits_per_quarter": 1, "festivals": [], "spot_check_per_mille": 100,
            "late_after_days": 7,
            "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                        "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}}}),
    )
    .await;
    for (name, holder, role) in [
        ("insp", "person/insp", "inspector"),
        ("fm", "person/fm", "fund_manager"),
    ] {
        l.submit(
            coord,
            "register_key",
            "authority/test",
            json!({"key": public(name), "holder": holder, "roles": [role]}),
        )
        .await;
    }
    for c in 1..=6 {
        let id = format!("c{c}");
        l.submit(
            coord,
            "register_cadre",
            &format!("cadre/{id}"),
            json!({"name": format!("干部{c}"), "unit": "u1", "rank": "section",
                   "party_member": true, "date": "2016-01-04"}),
        )
        .await;
        l.submit(
            coord,
            "register_key",
            "authority/test",
            json!({"key": public(&id), "holder": format!("cadre/{id}"), "roles": ["cadre"]}),
        )
        .await;
    }
    for h in 1..=8 {
        let id = format!("h{h}");
        let id_number = l.seal(&format!("35010219600101{h:04}"));
        let sensitive = json!({"hardship": l.seal("因病致贫"), "id_number": id_number});
        l.submit(
            coord,
            "register_household",
            &format!("household/{id}"),
            json!({"address": {"district": "测试区", "street": "华林街道", "community": "乌山社区"},
                   "category": "illness", "members": 3, "sensitive": sensitive,
                   "date": "2016-01-04"}),
        )
        .await;
        // Contact cards for h1, h2 and h4 only.
        if [1, 2, 4].contains(&h) {
            let card = format!("card-{id}");
            l.submit(
                coord,
                "register_key",
                "authority/test",
                json!({"key": public(&card), "holder": format!("household/{id}"),
                       "roles": ["household"]}),
            )
            .await;
            l.submit(
                coord,
                "set_contact_key",
                &format!("household/{id}"),
                json!({"key": public(&card)}),
            )
            .await;
        }
    }
    for (h, c) in [
        ("h1", "c1"),
        ("h2", "c2"),
        ("h3", "c3"),
        ("h4", "c3"),
        ("h5", "c3"),
        ("h6", "c6"),
        ("h7", "c4"),
        ("h8", "c2"),
    ] {
        let i = l
            .submit(
                coord,
                "form_pairing",
                &format!("pairing/p:{h}"),
                json!({"program": "p", "household": h, "cadres": [c], "lead": c,
                       "date": "2016-01-04"}),
            )
            .await;
        if h == "h5" {
            p.0.insert("formed h5", i);
        }
    }
    l.submit(
        coord,
        "create_fund",
        "fund/f1",
        json!({"name": "测试区帮扶资金", "kind": "unit_pool", "unit": "u1", "manager": "person/fm"}),
    )
    .await;

    l.on("2016-01-05");
    l.submit(
        "fm",
        "record_contribution",
        "fund/f1",
        json!({"contribution_id": "k1", "source": {"kind": "unit", "unit": "u1"},
               "amount": 10_000_000, "date": "2016-01-05"}),
    )
    .await;

    // Duplicate claim: ¥800 from the fund on 3 February and ¥800 from c2's pocket on the 5th.
    l.on("2016-02-03");
    let i = disburse(l, "D2", "h2", "c2", cash(80_000), "2016-02-03").await;
    p.0.insert("D2", i);
    l.on("2016-02-05");
    acknowledge(l, "h2", "D2").await;
    let i = l
        .submit(
            "c2",
            "record_personal_donation",
            "pairing/p:h2",
            json!({"donation_id": "d1", "date": "2016-02-05", "help": cash(80_000),
                   "purpose": "festival"}),
        )
        .await;
    p.0.insert("d1", i);

    // Control: recorded two days after the visit, within the rule's seven.
    l.on("2016-02-12");
    let diary = l.seal(B);
    p.0.insert(
        "V1b",
        visit(l, "c1", "h1", "V1b", "2016-02-10", diary).await,
    );
    l.on("2016-02-15");
    let diary = l.seal(SHORT);
    visit(l, "c3", "h3", "V3a", "2016-02-15", diary).await;
    l.on("2016-02-16");
    let diary = l.seal(SHORT);
    visit(l, "c3", "h4", "V4a", "2016-02-16", diary).await;
    // Late record: the visit of 1 February written up on the 20th.
    l.on("2016-02-20");
    let diary = l.seal(A);
    p.0.insert(
        "V1a",
        visit(l, "c1", "h1", "V1a", "2016-02-01", diary).await,
    );

    // Never acknowledged, though h1 holds a card.
    l.on("2016-03-01");
    p.0.insert(
        "D1",
        disburse(l, "D1", "h1", "c1", cash(50_000), "2016-03-01").await,
    );
    let diary = l.seal(SHORT);
    visit(l, "c4", "h7", "V7a", "2016-03-01", diary).await;
    // Copied diary: a near copy for another household …
    l.on("2016-03-03");
    let diary = l.seal(A_NEAR);
    p.0.insert(
        "V2a",
        visit(l, "c2", "h2", "V2a", "2016-03-03", diary).await,
    );
    l.on("2016-03-05");
    let diary = l.seal(SHORT);
    visit(l, "c2", "h8", "V8a", "2016-03-05", diary).await;
    // … and the same text again for a third.
    l.on("2016-03-10");
    let diary = l.seal(A_SAME);
    p.0.insert(
        "V6a",
        visit(l, "c6", "h6", "V6a", "2016-03-10", diary).await,
    );
    // A late personal donation (goods).
    l.on("2016-03-20");
    let i = l
        .submit(
            "c1",
            "record_personal_donation",
            "pairing/p:h1",
            json!({"donation_id": "d2", "date": "2016-03-01",
                   "help": {"form": "in_kind",
                            "items": [{"name": "棉衣", "quantity": 2, "unit_value": 12_000}]},
                   "purpose": "living"}),
        )
        .await;
    p.0.insert("d2", i);

    // A handover of h8 from c2 to c5, effective 1 April; c2's visit before it is clean.
    l.on("2016-03-25");
    l.submit(
        coord,
        "propose_handover",
        "pairing/p:h8",
        json!({"outgoing": ["c2"], "incoming": ["c5"], "lead": "c5", "date": "2016-03-25",
               "reason": "工作调整"}),
    )
    .await;
    l.on("2016-03-28");
    let diary = l.seal(SHORT);
    p.0.insert(
        "V8b",
        visit(l, "c2", "h8", "V8b", "2016-03-28", diary).await,
    );
    l.on("2016-04-01");
    l.submit("c5", "accept_handover", "pairing/p:h8", json!({}))
        .await;

    // Duplicate claim in kind: the same goods on two days, listed in another order.
    let goods = |first: bool| {
        let cakes = json!({"name": "月饼", "quantity": 1, "unit_value": 8_800});
        let rice = json!({"name": if first { "大米 (10 kg)" } else { "大米（10kg）" },
                          "quantity": 1, "unit_value": 5_500});
        let items = if first {
            vec![cakes, rice]
        } else {
            vec![rice, cakes]
        };
        json!({"form": "in_kind", "items": items})
    };
    l.on("2016-04-12");
    p.0.insert(
        "D4",
        disburse(l, "D4", "h4", "c3", goods(true), "2016-04-12").await,
    );
    l.on("2016-04-13");
    p.0.insert(
        "D5",
        disburse(l, "D5", "h4", "c3", goods(false), "2016-04-13").await,
    );
    l.on("2016-04-14");
    acknowledge(l, "h4", "D4").await;
    acknowledge(l, "h4", "D5").await;
    l.on("2016-04-15");
    let diary = l.seal(SHORT);
    visit(l, "c3", "h3", "V3b", "2016-04-15", diary).await;
    // Control: ¥800 again for h2, but weeks later.
    l.on("2016-04-20");
    disburse(l, "D3", "h2", "c2", cash(80_000), "2016-04-20").await;
    l.on("2016-04-21");
    acknowledge(l, "h2", "D3").await;
    // Control: a reversed payment and its correct replacement are not a duplicate. h5 holds no
    // card, so D7 is a note, not a finding.
    l.on("2016-05-01");
    disburse(l, "D6", "h5", "c3", cash(30_000), "2016-05-01").await;
    l.on("2016-05-02");
    disburse(l, "D7", "h5", "c3", cash(30_000), "2016-05-02").await;
    l.on("2016-05-03");
    l.submit(
        "fm",
        "reverse_disbursement",
        "fund/f1",
        json!({"disbursement_id": "D6", "reason": "金额录入有误"}),
    )
    .await;
    l.on("2016-05-05");
    let diary = l.seal(SHORT);
    visit(l, "c1", "h1", "V1c", "2016-05-05", diary).await;
    // A diary whose text is erased from the vault later.
    l.on("2016-05-06");
    let erased = l.seal(C);
    p.0.insert(
        "V2b",
        visit(l, "c2", "h2", "V2b", "2016-05-06", erased.clone()).await,
    );
    l.on("2016-05-12");
    let diary = l.seal(SHORT);
    p.0.insert(
        "V6b",
        visit(l, "c6", "h6", "V6b", "2016-05-10", diary).await,
    );
    l.on("2016-05-15");
    let diary = l.seal(SHORT);
    visit(l, "c5", "h8", "V8c", "2016-05-15", diary).await;
    // c6's retirement is recorded on 20 May but dated 1 May: the visit of 10 May came after it.
    l.on("2016-05-20");
    let i = l
        .submit(
            coord,
            "retire_cadre",
            "cadre/c6",
            json!({"date": "2016-05-01"}),
        )
        .await;
    p.0.insert("retire c6", i);
    let diary = l.seal(SHORT);
    p.0.insert(
        "V7b",
        visit(l, "c4", "h7", "V7b", "2016-05-20", diary).await,
    );
    l.on("2016-06-10");
    let diary = l.seal(SHORT);
    p.0.insert(
        "V7c",
        visit(l, "c4", "h7", "V7c", "2016-06-10", diary).await,
    );
    // h7's pairing ended on 1 June, recorded on the 20th: the visit of 10 June came after it.
    l.on("2016-06-20");
    let i = l
        .submit(
            coord,
            "end_pairing",
            "pairing/p:h7",
            json!({"date": "2016-06-01", "reason": "迁出本区"}),
        )
        .await;
    p.0.insert("end h7", i);

    // End-of-quarter burst: c3 dates four of five Q2 visits in its last five days. V4c reuses
    // V4b's very sealed value.
    l.on("2016-06-26");
    let diary = l.seal(D);
    p.0.insert(
        "V3c",
        visit(l, "c3", "h3", "V3c", "2016-06-26", diary).await,
    );
    l.on("2016-06-27");
    let reused = l.seal(SHORT);
    p.0.insert(
        "V4b",
        visit(l, "c3", "h4", "V4b", "2016-06-27", reused.clone()).await,
    );
    l.on("2016-06-28");
    let diary = l.seal(SHORT);
    p.0.insert(
        "V5a",
        visit(l, "c3", "h5", "V5a", "2016-06-28", diary).await,
    );
    l.on("2016-06-30");
    p.0.insert(
        "V4c",
        visit(l, "c3", "h4", "V4c", "2016-06-30", reused).await,
    );

    // Control: eleven days old at the end, not yet due for acknowledgement.
    l.on("2016-07-01");
    disburse(l, "D8", "h1", "c1", cash(10_000), "2016-07-01").await;
    // Burst before an inspection: c5 enters three of four visits in the five days before the
    // spot check opens.
    for (day, id) in [
        ("2016-07-05", "V8d"),
        ("2016-07-06", "V8e"),
        ("2016-07-08", "V8f"),
    ] {
        l.on(day);
        let diary = l.seal(SHORT);
        p.0.insert(id, visit(l, "c5", "h8", id, day, diary).await);
    }
    l.on("2016-07-10");
    let i = l
        .submit(
            "insp",
            "open_campaign",
            "spot_check/camp",
            json!({"program": "p", "year": 2016}),
        )
        .await;
    p.0.insert("open camp", i);
    l.on("2016-07-11");
    l.submit(
        "insp",
        "record_draw",
        "spot_check/camp",
        json!({"checkpoint": "bangfu.example/anomalies\n80\nAAAA", "sample": ["h1", "h2"]}),
    )
    .await;
    // The revisit contradicts V2b; the findings about V1b (confirmed), D1 (unreachable) and a
    // visit the log does not hold are not contradictions of the log.
    l.on("2016-07-12");
    let i = l
        .submit(
            "insp",
            "record_revisit",
            "spot_check/camp",
            json!({"household": "h2", "method": "phone", "date": "2016-07-12", "satisfaction": 3,
                   "findings": [
                       {"subject": "visit/p:h2/V2b", "result": "not_confirmed"},
                       {"subject": "disbursement/f1/D2", "result": "confirmed"},
                       {"subject": "visit/p:h2/V9", "result": "not_confirmed"}]}),
        )
        .await;
    p.0.insert("revisit h2", i);
    l.submit(
        "insp",
        "record_revisit",
        "spot_check/camp",
        json!({"household": "h1", "method": "on_site", "date": "2016-07-12", "satisfaction": 5,
               "findings": [
                   {"subject": "visit/p:h1/V1b", "result": "confirmed"},
                   {"subject": "disbursement/f1/D1", "result": "unreachable"}]}),
    )
    .await;

    // The vault: every opening deposited, then V2b's diary erased (lawful erasure).
    let openings = std::mem::take(&mut l.openings);
    l.backend().put_openings(&openings).await.unwrap();
    let c = Commitment::from_json(&erased).unwrap();
    assert!(l.backend().erase_opening(&c.0).await.unwrap());
    p
}

/// Findings of one kind, as their entry lists.
fn entries_of(r: &Report, kind: Kind) -> Vec<Vec<u64>> {
    r.findings
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.entries.clone())
        .collect()
}

fn one<'a>(r: &'a Report, kind: Kind, entries: &[u64]) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.kind == kind && f.entries == entries)
        .unwrap_or_else(|| panic!("no {kind} finding with entries {entries:?}: {r:#?}"))
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

async fn report_now<B: Backend>(backend: &B, options: &Options) -> Report {
    let size = backend.size().await.unwrap();
    let views = projector::as_of(backend, size).await.unwrap();
    let mut calls = Vec::new();
    let r = anomalies::detect(backend, &views, options, |done, total| {
        calls.push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(
        calls.last(),
        Some(&(size, size)),
        "progress reaches the end"
    );
    assert_eq!(r.log_size, size);
    r
}

/// Every planted anomaly, found with exactly its entries, and nothing else.
fn check_story(r: &Report, p: &Planted) {
    assert_eq!(r.today, Some(d("2016-07-12")));

    // late_record: V1a (19 days) and the donation d2 (19 days); V1b and V6b (2 days) are clean.
    assert_eq!(
        entries_of(r, Kind::LateRecord),
        vec![vec![p.at("V1a")], vec![p.at("d2")]]
    );
    let late = one(r, Kind::LateRecord, &[p.at("V1a")]);
    assert_eq!(late.severity, Severity::Low);
    assert_eq!(late.household.as_ref().unwrap().as_str(), "h1");
    assert!(
        late.description.contains("19 days later") && late.description.contains("干部1 (c1)"),
        "{}",
        late.description
    );
    let donation = one(r, Kind::LateRecord, &[p.at("d2")]);
    assert!(
        donation.description.contains("¥240.00"),
        "{}",
        donation.description
    );

    // end_of_quarter_burst: c3's last five days of Q2, and c5 before the spot check.
    assert_eq!(
        entries_of(r, Kind::EndOfQuarterBurst),
        vec![
            vec![p.at("V3c"), p.at("V4b"), p.at("V5a"), p.at("V4c")],
            vec![p.at("V8d"), p.at("V8e"), p.at("V8f"), p.at("open camp")],
        ]
    );
    let quarter = one(
        r,
        Kind::EndOfQuarterBurst,
        &[p.at("V3c"), p.at("V4b"), p.at("V5a"), p.at("V4c")],
    );
    assert!(
        quarter
            .description
            .contains("4 of their 5 visits in 2016-Q2 (80%)"),
        "{}",
        quarter.description
    );
    assert_eq!(quarter.cadres[0].as_str(), "c3");

    // copied_diary: A, its near copy and its re-punctuated copy across three households; and
    // V4b/V4c sharing one sealed value.
    assert_eq!(
        entries_of(r, Kind::CopiedDiary),
        vec![
            vec![p.at("V1a"), p.at("V2a"), p.at("V6a")],
            vec![p.at("V4b"), p.at("V4c")],
        ]
    );
    let copied = one(
        r,
        Kind::CopiedDiary,
        &[p.at("V1a"), p.at("V2a"), p.at("V6a")],
    );
    assert_eq!(copied.severity, Severity::High);
    assert_eq!(copied.household, None);
    let reused = one(r, Kind::CopiedDiary, &[p.at("V4b"), p.at("V4c")]);
    assert_eq!(reused.severity, Severity::Medium);
    let note = r.diaries.as_ref().expect("diaries were compared");
    assert_eq!(note.sealed, 23);
    assert_eq!(note.without_cleartext, 1, "V2b's text was erased");
    assert_eq!(note.compared, 5, "A, A_NEAR, A_SAME, B, D");
    assert_eq!(note.too_short, 17);
    assert_eq!(note.unreadable, 0);
    assert_eq!(note.reused_seals, 2);

    // visit_after_handover: after c6's backdated retirement, after h7's backdated end. c2's visit
    // to h8 before the handover is clean.
    assert_eq!(
        entries_of(r, Kind::VisitAfterHandover),
        vec![
            sorted(vec![p.at("V6b"), p.at("retire c6")]),
            sorted(vec![p.at("V7c"), p.at("end h7")]),
        ]
    );
    let after = one(
        r,
        Kind::VisitAfterHandover,
        &sorted(vec![p.at("V6b"), p.at("retire c6")]),
    );
    assert!(
        after.description.contains("left on 2016-05-01 (retired)"),
        "{}",
        after.description
    );

    // unacknowledged_disbursement: D1 only; D7 (no card) is a note.
    assert_eq!(
        entries_of(r, Kind::UnacknowledgedDisbursement),
        vec![vec![p.at("D1")]]
    );
    let unack = one(r, Kind::UnacknowledgedDisbursement, &[p.at("D1")]);
    assert_eq!(unack.severity, Severity::High, "133 days");
    assert!(
        unack.description.contains("¥500.00") && unack.description.contains("133 days"),
        "{}",
        unack.description
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("1 more disbursements (¥300.00 in all)")),
        "{:?}",
        r.notes
    );

    // duplicate_claim: ¥800 twice for h2 within two days; the same goods twice for h4.
    assert_eq!(
        entries_of(r, Kind::DuplicateClaim),
        vec![vec![p.at("D2"), p.at("d1")], vec![p.at("D4"), p.at("D5")]]
    );
    let dup = one(r, Kind::DuplicateClaim, &[p.at("D2"), p.at("d1")]);
    assert!(
        dup.description.contains("cash ¥800.00 2 times"),
        "{}",
        dup.description
    );

    // missed_quarters: h5 had no visit in Q1.
    assert_eq!(
        entries_of(r, Kind::MissedQuarters),
        vec![vec![p.at("formed h5")]]
    );
    let missed = one(r, Kind::MissedQuarters, &[p.at("formed h5")]);
    assert!(
        missed.description.contains("missed 2016-Q1")
            && missed.description.contains("owed 1 visit(s) and made 0"),
        "{}",
        missed.description
    );

    // contradicted_finding: V2b, not confirmed by the revisit; the unknown visit is a note.
    assert_eq!(
        entries_of(r, Kind::ContradictedFinding),
        vec![vec![p.at("V2b"), p.at("revisit h2")]]
    );
    assert!(r.notes.iter().any(|n| n.contains("1 more not-confirmed")));

    // Counts agree with the findings; findings are sorted by kind, then first entry.
    for (kind, n) in &r.counts {
        assert_eq!(*n as usize, entries_of(r, *kind).len(), "{kind}");
    }
    assert_eq!(r.counts.len(), 8);
    let order: Vec<(Kind, u64)> = r.findings.iter().map(|f| (f.kind, f.entries[0])).collect();
    let mut want = order.clone();
    want.sort();
    assert_eq!(order, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_anomaly_is_found_on_sqlite_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let backend = SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .unwrap();
    let mut l = Ledger::open(backend).await;
    let p = story(&mut l).await;
    let r = report_now(l.backend(), &Options::default()).await;
    check_story(&r, &p);

    // The table carries every finding and the header the counts and the vault's coverage.
    let t = anomalies::table(
        &r,
        vec![("log size / 账本条目数".into(), r.log_size.to_string())],
    );
    t.check().unwrap();
    assert_eq!(t.rows.len(), r.findings.len());
    let text = t.to_text();
    assert!(text.contains("1 without cleartext"), "{text}");
    assert!(text.contains("copied_diary"), "{text}");

    // Only the kinds asked for.
    let only = Options {
        kinds: [Kind::LateRecord, Kind::MissedQuarters].into(),
        ..Options::default()
    };
    let r2 = report_now(l.backend(), &only).await;
    assert!(
        r2.findings
            .iter()
            .all(|f| matches!(f.kind, Kind::LateRecord | Kind::MissedQuarters))
    );
    assert_eq!(r2.counts.len(), 2);
    assert_eq!(r2.counts[&Kind::LateRecord], 2);
    assert_eq!(
        r2.diaries, None,
        "the vault is not read when diaries are not asked for"
    );

    // Thresholds are options: 30 days allowed makes the 19-day records timely; a 100 % burst
    // share drops c3 (80 %) and c5 (75 %).
    let lenient = Options {
        late_after_days: Some(30),
        burst_min_percent: 100,
        ..Options::default()
    };
    let r3 = report_now(l.backend(), &lenient).await;
    assert_eq!(r3.counts[&Kind::LateRecord], 0);
    assert_eq!(r3.counts[&Kind::EndOfQuarterBurst], 0);

    // As of the end of 31 March (the last entry then is of the 28th): D1 is 27 days old, not yet
    // overdue; the late records are already there; the retirement is not yet recorded.
    let size = projector::size_at_end_of(l.backend(), d("2016-03-31"))
        .await
        .unwrap();
    let past = projector::as_of(l.backend(), size).await.unwrap();
    let r4 = anomalies::detect(l.backend(), &past, &Options::default(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(r4.log_size, size);
    assert_eq!(r4.today, Some(d("2016-03-28")));
    assert_eq!(r4.counts[&Kind::UnacknowledgedDisbursement], 0);
    assert_eq!(r4.counts[&Kind::VisitAfterHandover], 0);
    assert_eq!(
        entries_of(&r4, Kind::LateRecord),
        vec![vec![p.at("V1a")], vec![p.at("d2")]]
    );

    // Bad thresholds are refused with the reason, before anything is read.
    let bad = Options {
        diary_similarity_percent: 20,
        ..Options::default()
    };
    let e = anomalies::detect(l.backend(), &past, &bad, |_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("diary_similarity_percent"), "{e}");

    // With the whole vault erased, copies are only found where one sealed value was reused, and
    // the header says how many diaries had no cleartext.
    let mut after: Option<Hash> = None;
    loop {
        let page = l.backend().openings(after, 100).await.unwrap();
        for o in &page {
            l.backend().erase_opening(&o.commitment.0).await.unwrap();
        }
        match page.last() {
            Some(o) => after = Some(o.commitment.0),
            None => break,
        }
    }
    let r5 = report_now(l.backend(), &Options::default()).await;
    assert_eq!(
        entries_of(&r5, Kind::CopiedDiary),
        vec![vec![p.at("V4b"), p.at("V4c")]]
    );
    let note = r5.diaries.unwrap();
    assert_eq!(
        (note.sealed, note.without_cleartext, note.compared),
        (23, 23, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gives_the_same_report() {
    let db = TestDatabase::create("bangfu_anomalies").await.unwrap();
    let backend = PgBackend::connect(&db.url).await.unwrap();
    let mut l = Ledger::open(backend).await;
    let p = story(&mut l).await;
    let r = report_now(l.backend(), &Options::default()).await;
    check_story(&r, &p);

    let dir = tempfile::tempdir().unwrap();
    let lite = SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .unwrap();
    let mut l2 = Ledger::open(lite).await;
    story(&mut l2).await;
    let r2 = report_now(l2.backend(), &Options::default()).await;
    assert_eq!(
        r, r2,
        "both stores hold the same log, so the same anomalies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_log_has_no_anomalies_and_ahead_views_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let backend = SqliteBackend::open(&dir.path().join("log.sqlite"))
        .await
        .unwrap();
    let views = projector::as_of(&backend, 0).await.unwrap();
    let r = anomalies::detect(&backend, &views, &Options::default(), |_, _| {})
        .await
        .unwrap();
    assert_eq!((r.log_size, r.today, r.findings.len()), (0, None, 0));

    // Read models of a longer log over this empty one: refused, with what to do.
    let mut l = Ledger::open(
        SqliteBackend::open(&dir.path().join("other.sqlite"))
            .await
            .unwrap(),
    )
    .await;
    l.on("2016-01-04");
    l.submit(
        "authority",
        "genesis",
        "authority/test",
        json!({"origin": "bangfu.example/anomalies", "name": "测试", "holder": "person/org",
               "roles": ["coordinator"]}),
    )
    .await;
    let longer = projector::as_of(l.backend(), 1).await.unwrap();
    let e = anomalies::detect(&backend, &longer, &Options::default(), |_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("bangfu rebuild"), "{e}");
}
