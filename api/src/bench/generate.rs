//! The synthetic program `bangfu bench` measures: a city's pairing-assistance program over six
//! years, deterministic (the same scale writes the same statements, byte for byte, every run) and
//! streamed (an iterator of statements planned a month at a time; the log is never held in memory).
//!
//! Its shape follows the demo (`crate::demo`) at a larger scale: in December 2015 the authority
//! registers its staff, the units and their pooled funds, the program and its rules, every cadre
//! and their key, every household (most with a contact card) and pairs each with a cadre of one
//! unit. Then every month: quarterly visits with sealed diaries (a few written up late), festival
//! visits at the Spring and Mid-Autumn festivals, the units' budgets and the cadres' salary gifts
//! into the pools, the pools' cash and goods handed out through the lead cadres, personal donations,
//! requests for help raised, dispatched, accepted, resolved and confirmed, each acknowledged by the
//! household's card where it has one; each December a few pairings are handed over to a colleague
//! and a few households leave hardship.
//!
//! Before all of that, right after the funds, comes the benchmark's own corner of the program: one
//! cadre per append client and the households paired with them ([`Shape::clients`] ×
//! [`Shape::per_client`]). The generated months never touch them, so any prefix of the program
//! longer than the setup ([`Shape::setup_len`]) can take the append workload ([`workload`]).
//!
//! Two ways in: [`load_fast`] runs the real domain in-process (the same `authorize` and
//! `AnyAggregate::handle` as the log's writer and the verifier's replay), builds each entry and its
//! Merkle hashes, and writes pre-built batches with `Backend::append`, signing on every core; the
//! append figures instead submit [`workload`] statements through the real intake.

use anyhow::Context;
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::registry::Registry;
use bangfu_ledger::entry::Entry;
use bangfu_ledger::jcs;
use bangfu_ledger::merkle::{CompactRange, leaf_hash};
use bangfu_ledger::seal::{Opening, SALT_LEN};
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::{Timestamp, civil_from_days, days_from_civil, days_in_month};
use bangfu_store::backend::{Backend, Batch};
use bangfu_store::log::new_entry;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The program's id: pairings are `pairing/<PROGRAM>:<household>`.
pub const PROGRAM: &str = "bench-program";
/// The first year of activity (the setup is in the December before).
pub const FIRST_YEAR: i64 = 2016;
/// The log's origin, as its checkpoints name it.
pub const ORIGIN: &str = "bangfu.example/bench";
const DISTRICT: &str = "示范市";

/// How big a program to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// About 20,000 entries: for tests and CI, seconds.
    Tiny,
    /// Panjin-sized: 16,000 households, 10,000 cadres, 6 years, about a million entries.
    City,
    /// Ten times the city: about ten million entries; on demand.
    Province,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::City => "city",
            Scale::Province => "province",
        }
    }

    pub fn shape(self) -> Shape {
        let (households, cadres, units, per_client) = match self {
            Scale::Tiny => (300, 200, 5, 4),
            Scale::City => (16_000, 10_000, 200, 16),
            Scale::Province => (160_000, 100_000, 2_000, 16),
        };
        Shape {
            households,
            cadres,
            units,
            years: 6,
            clients: 64,
            per_client,
        }
    }
}

/// The sizes of a program. `cadres` is a multiple of `units`, so stepping a cadre number by
/// `units` stays in the same unit (cadre `c` works in unit `c % units`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub households: u32,
    pub cadres: u32,
    pub units: u32,
    pub years: i64,
    /// Append clients, each with its own cadre.
    pub clients: u32,
    /// Households paired with each client's cadre.
    pub per_client: u32,
}

impl Shape {
    /// Entries before the generated cadres: genesis, staff keys, units, program, fund managers and
    /// funds, and the benchmark's cadres, households and pairings. Any prefix at least this long
    /// takes the append workload.
    pub fn setup_len(&self) -> u64 {
        let reserved = u64::from(self.clients * self.per_client);
        1 + 3
            + u64::from(self.units)
            + 1
            + 2 * u64::from(self.units)
            + 2 * u64::from(self.clients)
            + 4 * reserved
    }

    fn reserved(&self) -> u32 {
        self.clients * self.per_client
    }

    fn slot(&self, who: Who) -> usize {
        let units = self.units as usize;
        let clients = self.clients as usize;
        let cadres = self.cadres as usize;
        let reserved = self.reserved() as usize;
        match who {
            Who::Authority => 0,
            Who::Coordinator => 1,
            Who::Inspector => 2,
            Who::Evaluator => 3,
            Who::Manager(u) => 4 + u as usize,
            Who::BenchCadre(k) => 4 + units + k as usize,
            Who::Cadre(c) => 4 + units + clients + c as usize,
            Who::BenchCard(i) => 4 + units + clients + cadres + i as usize,
            Who::Card(h) => 4 + units + clients + cadres + reserved + h as usize,
        }
    }

    fn slots(&self) -> usize {
        self.slot(Who::Card(self.households))
    }
}

/// Whose key signs a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The genesis key (also a coordinator).
    Authority,
    Coordinator,
    Inspector,
    Evaluator,
    /// The manager of unit `u`'s pooled fund.
    Manager(u32),
    Cadre(u32),
    /// The cadre of append client `k`.
    BenchCadre(u32),
    /// The contact card of household `h`.
    Card(u32),
    /// The contact card of the benchmark's household `i`.
    BenchCard(u32),
}

/// Every key of the program, derived from its slot number on first use and kept (deriving one
/// costs a scalar multiplication, as much as a signature).
pub struct Keys {
    shape: Shape,
    slots: Vec<OnceLock<SigningKey>>,
}

impl Keys {
    pub fn new(shape: Shape) -> Keys {
        Keys {
            shape,
            slots: (0..shape.slots()).map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn signing(&self, who: Who) -> &SigningKey {
        let slot = self.shape.slot(who);
        let derive = || {
            SigningKey::from_bytes(&sha256(&[
                b"bangfu bench key",
                &(slot as u64).to_be_bytes(),
            ]))
        };
        match self.slots.get(slot) {
            Some(cell) => cell.get_or_init(derive),
            // Every `Who` the generator makes is within `slots()`; this arm only keeps a slip in
            // the layout from indexing out of bounds.
            None => Box::leak(Box::new(derive())),
        }
    }

    pub fn public(&self, who: Who) -> PublicKey {
        PublicKey::from(self.signing(who))
    }
}

/// One statement of the program, not yet signed.
#[derive(Clone, Debug)]
pub struct Action {
    /// Its number in the program, from 0: the entry index it gets when loaded from empty.
    pub seq: u64,
    /// When the log records it (milliseconds since the epoch); `signed_at` is 20 s earlier.
    pub recorded_ms: i64,
    pub signer: Who,
    pub command: &'static str,
    pub target: String,
    pub args: Map<String, Value>,
}

impl Action {
    /// The signed statement, with an id derived from `seq` under `prefix` (4 bytes).
    pub fn sign(&self, keys: &Keys, prefix: &[u8; 4]) -> anyhow::Result<Statement> {
        let key = keys.signing(self.signer);
        let signed_at = Timestamp::from_unix_millis(self.recorded_ms - 20_000)
            .context("a generated time is out of range")?;
        let body = Body {
            id: statement_id(prefix, self.seq),
            command: CommandName::parse(self.command)
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.command))?,
            target: Target::parse(&self.target)
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.target))?,
            args: self.args.clone(),
            signed_at,
            key: PublicKey::from(key),
        };
        Statement::sign(body, key)
            .map_err(|e| anyhow::anyhow!("signing {} on {}: {e}", self.command, self.target))
    }
}

/// A statement id: 4 bytes naming the stream, the counter in the last 7 (bytes 6 and 8 carry the
/// UUID version and variant).
fn statement_id(prefix: &[u8; 4], n: u64) -> StatementId {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(prefix);
    id[9..16].copy_from_slice(&n.to_be_bytes()[1..]);
    StatementId::from_random_bytes(id)
}

/// The ids the program's statements carry.
pub const PROGRAM_IDS: &[u8; 4] = b"bnch";
/// The ids the append workload's statements carry.
pub const WORKLOAD_IDS: &[u8; 4] = b"bwld";

pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// SplitMix64: small, fast and seeded, so every run plans the same program (and the read-side
/// figures ask the same questions at one size).
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(parts: &[u64]) -> Rng {
        let mut r = Rng(0x6261_6e67_6675_6265);
        for p in parts {
            r.0 ^= *p;
            r.next();
        }
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `0..n`.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// `recorded_at` for each statement: 09:00 China time on its day, 50 ms apart, never past 23:00,
/// so the day the domain sees ("today") is the planned one.
struct DayClock {
    day: i64,
    k: i64,
}

impl DayClock {
    fn stamp(&mut self, (y, m, d): (i64, i64, i64)) -> i64 {
        // The generator plans in day order; a later day never comes back (max keeps it so).
        let day = days_from_civil(y, m, d).max(self.day);
        if day != self.day {
            self.day = day;
            self.k = 0;
        }
        let ms = day * 86_400_000 + 3_600_000 + (self.k * 50).min(14 * 3_600_000);
        self.k += 1;
        ms
    }
}

fn ymd_string((y, m, d): (i64, i64, i64)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平",
];
const CATEGORIES: [&str; 6] = [
    "minimum_living_allowance",
    "illness",
    "disability",
    "laid_off",
    "extreme_hardship",
    "other",
];
const HARDSHIP: [&str; 4] = [
    "户主长期患病，丧失劳动能力",
    "家庭成员残疾，无稳定收入",
    "夫妻双方下岗，子女在读",
    "孤寡老人，无人照料",
];
const ASKS: [(&str, &str); 6] = [
    ("房屋漏雨维修", "已联系施工队修缮屋顶"),
    ("低保复核申请", "已协助提交低保复核材料并获批"),
    ("就业推荐", "已推荐到社区公益性岗位"),
    ("医疗费用报销", "已协助办理大病医疗报销"),
    ("冬季取暖", "已送去取暖器和棉被"),
    ("子女入学", "已协调就近入学"),
];
const PROBLEMS: [&str; 5] = ["医疗", "住房", "就业", "就学", "低保"];

fn cadre_id(c: u32) -> String {
    format!("c{c:06}")
}

fn bench_cadre_id(k: u32) -> String {
    format!("bc{k:03}")
}

fn household_id(h: u32) -> String {
    format!("h{h:06}")
}

fn bench_household_id(i: u32) -> String {
    format!("hb{i:05}")
}

fn unit_id(u: u32) -> String {
    format!("u{u:04}")
}

fn fund_id(u: u32) -> String {
    format!("pool-u{u:04}")
}

fn pairing_target(household: &str) -> String {
    format!("pairing/{PROGRAM}:{household}")
}

fn street(u: u32) -> String {
    format!("第{}街道", u + 1)
}

fn community(h: u32) -> String {
    format!("第{}社区", h % 40 + 1)
}

/// What never changes about household `h`: (has a contact card, category, members).
fn household_traits(h: u32) -> (bool, &'static str, i64) {
    let mut r = Rng::new(&[1, u64::from(h)]);
    let card = r.chance(850);
    let category = CATEGORIES[r.below(CATEGORIES.len() as u64) as usize];
    (card, category, r.range(1, 6))
}

/// One statement of a month, planned compactly (a month of the province is ~500,000 of these);
/// its JSON is made only when it is its turn.
#[derive(Clone, Copy, Debug)]
struct Planned {
    day: u8,
    phase: u8,
    kind: Kind,
    /// The event's own date (a visit's, a resolution's), day of the month.
    date: u8,
    /// Distinguishes two statements of the same kind for one household in one month.
    n: u8,
    /// The household (or unit for budgets, cadre for salaries).
    who: u32,
    /// The cadre acting or named (the lead, or the incoming cadre of a handover).
    cadre: u32,
    /// The outgoing lead of a handover.
    other: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Budget,
    Salary,
    Visit { festival: bool },
    AckVisit,
    Disburse { goods: bool },
    AckDisbursement,
    Donation,
    AckDonation,
    Raise { by_card: bool },
    Dispatch,
    AcceptRequest,
    Resolve,
    Confirm,
    Propose,
    AcceptHandover,
    EndPairing,
    ExitHardship,
}

/// Where the program is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Genesis,
    Staff,
    Units,
    Program,
    Funds,
    BenchCadres,
    BenchHouseholds,
    BenchPairings,
    Cadres,
    Households,
    Pairings,
    Months,
    Done,
}

/// The program as a stream of unsigned statements, in log order.
pub struct Program {
    shape: Shape,
    keys: Arc<Keys>,
    seq: u64,
    clock: DayClock,
    stage: Stage,
    i: u32,
    pending: VecDeque<Action>,
    plan: Vec<Planned>,
    plan_at: usize,
    /// The month being played: (year, month).
    month: (i64, i64),
    lead: Vec<u32>,
    /// The second cadre of a joint pairing, or `NONE`.
    second: Vec<u32>,
    exited: Vec<bool>,
    salts: u64,
}

const NONE: u32 = u32::MAX;

impl Program {
    pub fn new(keys: Arc<Keys>) -> Program {
        let shape = *keys.shape();
        let lead: Vec<u32> = (0..shape.households).map(|h| h % shape.cadres).collect();
        let second = (0..shape.households)
            .map(|h| {
                // One pairing in twenty has two cadres of the same unit.
                if Rng::new(&[2, u64::from(h)]).chance(50) && shape.cadres > shape.units {
                    (h % shape.cadres + shape.units) % shape.cadres
                } else {
                    NONE
                }
            })
            .collect();
        Program {
            shape,
            keys,
            seq: 0,
            clock: DayClock { day: 0, k: 0 },
            stage: Stage::Genesis,
            i: 0,
            pending: VecDeque::new(),
            plan: Vec::new(),
            plan_at: 0,
            month: (FIRST_YEAR - 1, 12),
            lead,
            second,
            exited: vec![false; shape.households as usize],
            salts: 0,
        }
    }

    fn push(
        &mut self,
        day: (i64, i64, i64),
        signer: Who,
        command: &'static str,
        target: String,
        args: Value,
    ) {
        let a = self.action(day, signer, command, target, args);
        self.pending.push_back(a);
    }

    fn action(
        &mut self,
        day: (i64, i64, i64),
        signer: Who,
        command: &'static str,
        target: String,
        args: Value,
    ) -> Action {
        let seq = self.seq;
        self.seq += 1;
        Action {
            seq,
            recorded_ms: self.clock.stamp(day),
            signer,
            command,
            target,
            args: match args {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    /// A sealed value; its salt derived from a counter (a real client draws 16 random bytes).
    fn sealed(&mut self, text: &str) -> Value {
        self.salts += 1;
        let digest = sha256(&[b"bangfu bench salt", &self.salts.to_be_bytes()]);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&digest[..SALT_LEN]);
        match Opening::new(json!(text), salt) {
            Ok(o) => o.commitment.to_json(),
            Err(_) => Value::Null,
        }
    }

    fn public(&self, who: Who) -> String {
        self.keys.public(who).to_base64()
    }

    fn register_key(&mut self, day: (i64, i64, i64), key: Who, holder: String, role: &str) {
        let args = json!({"key": self.public(key), "holder": holder, "roles": [role]});
        self.push(
            day,
            Who::Coordinator,
            "register_key",
            "authority/bench".into(),
            args,
        );
    }

    fn register_household(&mut self, day: (i64, i64, i64), id: &str, h: u32, card: Option<Who>) {
        let (_, category, members) = household_traits(h);
        let mut r = Rng::new(&[3, u64::from(h)]);
        let hardship = HARDSHIP[r.below(HARDSHIP.len() as u64) as usize];
        let id_number = format!("2111{:014}", r.below(100_000_000_000_000));
        let mut sensitive =
            json!({"hardship": self.sealed(hardship), "id_number": self.sealed(&id_number)});
        if card.is_some() {
            let phone = format!("13{:09}", r.below(1_000_000_000));
            sensitive["phone"] = self.sealed(&phone);
        }
        let unit = self
            .lead
            .get(h as usize)
            .map_or(0, |l| l % self.shape.units);
        self.push(
            day,
            Who::Coordinator,
            "register_household",
            format!("household/{id}"),
            json!({"address": {"district": DISTRICT, "street": street(unit),
                               "community": community(h)},
                   "category": category, "members": members, "sensitive": sensitive,
                   "date": ymd_string(day)}),
        );
        if let Some(card) = card {
            self.register_key(day, card, format!("household/{id}"), "household");
            let key = self.public(card);
            self.push(
                day,
                Who::Coordinator,
                "set_contact_key",
                format!("household/{id}"),
                json!({"key": key}),
            );
        }
    }

    fn register_cadre(&mut self, day: (i64, i64, i64), id: &str, n: u32, unit: u32, key: Who) {
        let name = format!(
            "{}{}{}",
            SURNAMES[n as usize % SURNAMES.len()],
            GIVEN[(n as usize / SURNAMES.len()) % GIVEN.len()],
            GIVEN[(n as usize / 7) % GIVEN.len()]
        );
        let rank = if n % 25 == 0 {
            "division"
        } else if n % 2 == 0 {
            "section"
        } else {
            "deputy_section"
        };
        self.push(
            day,
            Who::Coordinator,
            "register_cadre",
            format!("cadre/{id}"),
            json!({"name": name, "unit": unit_id(unit), "rank": rank,
                   "party_member": n % 5 != 0, "date": ymd_string(day)}),
        );
        self.register_key(day, key, format!("cadre/{id}"), "cadre");
    }

    fn form_pairing(&mut self, day: (i64, i64, i64), household: &str, cadres: &[String]) {
        self.push(
            day,
            Who::Coordinator,
            "form_pairing",
            pairing_target(household),
            json!({"program": PROGRAM, "household": household, "cadres": cadres,
                   "lead": cadres.first(), "date": ymd_string(day)}),
        );
    }

    /// One step of the setup (December of the year before), or the next month's plan. False when
    /// the program is over.
    fn advance(&mut self) -> bool {
        let y = FIRST_YEAR - 1;
        let s = self.shape;
        let i = self.i;
        self.i += 1;
        let next = |this: &mut Program, count: u32, then: Stage| {
            if this.i >= count {
                this.stage = then;
                this.i = 0;
            }
        };
        match self.stage {
            Stage::Genesis => {
                self.push(
                    (y, 12, 1),
                    Who::Authority,
                    "genesis",
                    "authority/bench".into(),
                    json!({"origin": ORIGIN, "name": "示范市委组织部",
                           "holder": "person/zzb-office", "roles": ["coordinator"]}),
                );
                next(self, 1, Stage::Staff);
            }
            Stage::Staff => {
                let (who, holder, role) = [
                    (Who::Coordinator, "person/zzb-coordinator", "coordinator"),
                    (Who::Inspector, "person/jiwei-inspector", "inspector"),
                    (Who::Evaluator, "person/kaohe-committee", "evaluator"),
                ][i as usize % 3];
                let args = json!({"key": self.public(who), "holder": holder, "roles": [role]});
                self.push(
                    (y, 12, 1),
                    Who::Authority,
                    "register_key",
                    "authority/bench".into(),
                    args,
                );
                next(self, 3, Stage::Units);
            }
            Stage::Units => {
                let mut args = if i == 0 {
                    json!({"name": "示范市委", "kind": "bureau"})
                } else if i % 3 == 0 {
                    json!({"name": format!("第{}街道办事处", i + 1), "kind": "street_office"})
                } else {
                    json!({"name": format!("市直第{}局", i + 1), "kind": "bureau"})
                };
                if i > 0 {
                    args["parent"] = json!(unit_id(0));
                }
                self.push(
                    (y, 12, 1),
                    Who::Coordinator,
                    "register_unit",
                    format!("unit/{}", unit_id(i)),
                    args,
                );
                next(self, s.units, Stage::Program);
            }
            Stage::Program => {
                let festivals: Vec<Value> = (FIRST_YEAR..FIRST_YEAR + s.years)
                    .flat_map(|y| {
                        [
                            json!({"name": "春节", "from": format!("{y}-01-20"), "to": format!("{y}-02-10")}),
                            json!({"name": "中秋", "from": format!("{y}-09-10"), "to": format!("{y}-09-25")}),
                        ]
                    })
                    .collect();
                self.push(
                    (y, 12, 1),
                    Who::Coordinator,
                    "create_program",
                    format!("program/{PROGRAM}"),
                    json!({"name": "示范市干部结对帮扶困难家庭", "rules": {
                        "min_visits_per_quarter": 1, "festivals": festivals,
                        "spot_check_per_mille": 100, "late_after_days": 7,
                        "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20,
                                    "funds": 10, "spot_checks": 10, "late_penalty": 2,
                                    "dispute_penalty": 5}}}),
                );
                next(self, 1, Stage::Funds);
            }
            Stage::Funds => {
                let holder = format!("person/fm-{}", unit_id(i));
                self.register_key((y, 12, 1), Who::Manager(i), holder.clone(), "fund_manager");
                self.push(
                    (y, 12, 1),
                    Who::Coordinator,
                    "create_fund",
                    format!("fund/{}", fund_id(i)),
                    json!({"name": format!("{}帮扶资金统一账户", street(i)), "kind": "unit_pool",
                           "unit": unit_id(i), "manager": holder}),
                );
                next(self, s.units, Stage::BenchCadres);
            }
            Stage::BenchCadres => {
                let id = bench_cadre_id(i);
                self.register_cadre((y, 12, 1), &id, i, 0, Who::BenchCadre(i));
                next(self, s.clients, Stage::BenchHouseholds);
            }
            Stage::BenchHouseholds => {
                let id = bench_household_id(i);
                self.register_household((y, 12, 1), &id, i, Some(Who::BenchCard(i)));
                next(self, s.reserved(), Stage::BenchPairings);
            }
            Stage::BenchPairings => {
                let household = bench_household_id(i);
                let cadre = bench_cadre_id(i / s.per_client.max(1));
                self.form_pairing((y, 12, 1), &household, &[cadre]);
                next(self, s.reserved(), Stage::Cadres);
            }
            Stage::Cadres => {
                let day = (y, 12, 2 + i64::from(i) * 10 / i64::from(s.cadres.max(1)));
                self.register_cadre(day, &cadre_id(i), i, i % s.units, Who::Cadre(i));
                next(self, s.cadres, Stage::Households);
            }
            Stage::Households => {
                let day = (
                    y,
                    12,
                    12 + i64::from(i) * 10 / i64::from(s.households.max(1)),
                );
                let card = household_traits(i).0.then_some(Who::Card(i));
                self.register_household(day, &household_id(i), i, card);
                next(self, s.households, Stage::Pairings);
            }
            Stage::Pairings => {
                let day = (
                    y,
                    12,
                    22 + i64::from(i) * 9 / i64::from(s.households.max(1)),
                );
                let h = i as usize;
                let mut team = vec![cadre_id(self.lead[h])];
                if self.second[h] != NONE {
                    team.push(cadre_id(self.second[h]));
                }
                self.form_pairing(day, &household_id(i), &team);
                next(self, s.households, Stage::Months);
            }
            Stage::Months => {
                let (y, m) = self.month;
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                if y >= FIRST_YEAR + s.years {
                    self.stage = Stage::Done;
                    return false;
                }
                self.month = (y, m);
                self.plan_month(y, m);
            }
            Stage::Done => return false,
        }
        true
    }

    /// Plans every statement of one month, sorted into the order the log records them.
    fn plan_month(&mut self, y: i64, m: i64) {
        let s = self.shape;
        let days = days_in_month(y, m) as u8;
        let mut plan = std::mem::take(&mut self.plan);
        plan.clear();
        self.plan_at = 0;
        let p = |day: u8, phase: u8, kind: Kind, who: u32, cadre: u32| Planned {
            day,
            phase,
            kind,
            date: day,
            n: 0,
            who,
            cadre,
            other: NONE,
        };
        if m == 1 {
            for u in 0..s.units {
                plan.push(p(2, 0, Kind::Budget, u, 0));
            }
        }
        if m == 3 {
            for c in 0..s.cadres {
                let day = 20 + Rng::new(&[4, y as u64, u64::from(c)]).below(9) as u8;
                plan.push(p(day, 1, Kind::Salary, c, c));
            }
        }
        let mut handovers = Vec::new();
        let mut exits = Vec::new();
        for h in 0..s.households {
            let hx = h as usize;
            if self.exited[hx] {
                continue;
            }
            let mut r = Rng::new(&[5, y as u64, m as u64, u64::from(h)]);
            let card = household_traits(h).0;
            let lead = self.lead[hx];
            let second = self.second[hx];
            let visitor = |r: &mut Rng| {
                if second != NONE && r.chance(300) {
                    second
                } else {
                    lead
                }
            };
            let visit =
                |plan: &mut Vec<Planned>, r: &mut Rng, date: u8, rec: u8, n: u8, festival| {
                    plan.push(Planned {
                        date,
                        n,
                        ..p(rec, 5, Kind::Visit { festival }, h, visitor(r))
                    });
                    if card && r.chance(200) {
                        let ack = (rec + r.range(1, 3) as u8).min(days);
                        plan.push(Planned {
                            n,
                            ..p(ack, 9, Kind::AckVisit, h, lead)
                        });
                    }
                };
            // The quarter's visit, in one of its three months; a few quarters are missed.
            let quarter_month =
                Rng::new(&[6, y as u64, ((m - 1) / 3) as u64, u64::from(h)]).below(3);
            if (m - 1) % 3 == quarter_month as i64 && r.chance(900) {
                let date = r.range(1, 24) as u8;
                let roll = r.below(1000);
                let rec = if roll < 50 && date <= 12 {
                    // Written up more than a week late: the program counts it late.
                    date + r.range(8, 14) as u8
                } else if roll < 300 {
                    date + r.range(1, 2) as u8
                } else {
                    date
                };
                visit(&mut plan, &mut r, date, rec, 0, false);
            }
            // Festival visits: the Spring Festival (January) and Mid-Autumn (September).
            if m == 1 && r.chance(400) {
                let date = r.range(20, 27) as u8;
                visit(&mut plan, &mut r, date, date, 1, true);
            }
            if m == 9 && r.chance(300) {
                let date = r.range(10, 22) as u8;
                visit(&mut plan, &mut r, date, date, 1, true);
            }
            // The unit's pool: a red envelope for the Spring Festival, goods for Mid-Autumn.
            if m == 1 || m == 9 {
                let day = if m == 1 {
                    r.range(10, 18)
                } else {
                    r.range(8, 14)
                } as u8;
                plan.push(p(day, 6, Kind::Disburse { goods: m == 9 }, h, lead));
                if card && r.chance(850) {
                    let ack = day + r.range(1, 5) as u8;
                    plan.push(p(ack, 9, Kind::AckDisbursement, h, lead));
                }
            }
            // From the cadre's own pocket, now and then.
            if r.chance(17) {
                let day = r.range(5, 20) as u8;
                plan.push(p(day, 5, Kind::Donation, h, lead));
                if card && r.chance(600) {
                    let ack = day + r.range(1, 4) as u8;
                    plan.push(p(ack, 9, Kind::AckDonation, h, lead));
                }
            }
            // A request for help: raised, sometimes dispatched, accepted, resolved, confirmed.
            if r.chance(21) {
                let by_card = card && r.chance(500);
                let mut day = r.range(1, 8) as u8;
                plan.push(p(day, 2, Kind::Raise { by_card }, h, lead));
                if r.chance(300) {
                    day += 1;
                    plan.push(p(day, 3, Kind::Dispatch, h, lead));
                }
                day += r.range(0, 2) as u8;
                plan.push(p(day, 4, Kind::AcceptRequest, h, lead));
                day += r.range(3, 10) as u8;
                plan.push(p(day, 7, Kind::Resolve, h, lead));
                if card && r.chance(900) {
                    day += r.range(1, 3) as u8;
                    plan.push(p(day, 8, Kind::Confirm, h, lead));
                }
            }
            // December: a few pairings handed over to a colleague of the same unit, a few
            // households out of hardship.
            if m == 12 {
                let roll = r.below(1000);
                if roll < 20 && s.cadres > 2 * s.units {
                    let step = s.units * r.range(1, 3) as u32;
                    let mut incoming = (lead + step) % s.cadres;
                    if incoming == second || incoming == lead {
                        incoming = (incoming + s.units) % s.cadres;
                    }
                    if incoming != second && incoming != lead {
                        plan.push(Planned {
                            other: lead,
                            ..p(27, 10, Kind::Propose, h, incoming)
                        });
                        plan.push(p(28, 11, Kind::AcceptHandover, h, incoming));
                        handovers.push((hx, incoming));
                    }
                } else if roll < 28 {
                    plan.push(p(30, 12, Kind::EndPairing, h, lead));
                    plan.push(p(30, 13, Kind::ExitHardship, h, lead));
                    exits.push(hx);
                }
            }
        }
        plan.sort_by_key(|p| (p.day, p.phase, p.who, p.n));
        // The plan holds the cadres as they were this month; the changes count from next month.
        for (h, incoming) in handovers {
            self.lead[h] = incoming;
        }
        for h in exits {
            self.exited[h] = true;
        }
        self.plan = plan;
    }

    /// The statement of a planned step.
    fn materialize(&mut self, p: Planned) -> Action {
        let (y, m) = self.month;
        let s = self.shape;
        let day = (y, m, i64::from(p.day));
        let date = ymd_string((y, m, i64::from(p.date)));
        let hid = household_id(p.who);
        let pairing = pairing_target(&hid);
        let lead = cadre_id(p.cadre);
        let unit = p.cadre % s.units;
        let mut r = Rng::new(&[7, y as u64, m as u64, u64::from(p.who), u64::from(p.n)]);
        let rid = format!("r{y}{m:02}");
        let (signer, command, target, args) = match p.kind {
            Kind::Budget => {
                let per_unit = i64::from(s.households / s.units.max(1) + 1);
                (
                    Who::Manager(p.who),
                    "record_contribution",
                    format!("fund/{}", fund_id(p.who)),
                    json!({"contribution_id": format!("budget-{y}"),
                           "source": {"kind": "unit", "unit": unit_id(p.who)},
                           "amount": per_unit * 150_000, "date": date}),
                )
            }
            Kind::Salary => (
                Who::Manager(unit),
                "record_contribution",
                format!("fund/{}", fund_id(unit)),
                json!({"contribution_id": format!("salary-{y}-{lead}"),
                       "source": {"kind": "salary", "cadre": lead},
                       "amount": 100 * 10 * r.range(15, 60), "date": date}),
            ),
            Kind::Visit { festival } => {
                let visit_id = format!("v{y}{m:02}{}", p.n);
                let diary = self.sealed(&format!("走访记录 {hid} {date}：了解家庭近况"));
                let mut args = json!({"visit_id": visit_id, "date": date,
                                      "kind": if festival { "festival" } else { "routine" },
                                      "diary": diary, "location": community(p.who)});
                if r.chance(150) {
                    args["problems"] = json!([PROBLEMS[r.below(PROBLEMS.len() as u64) as usize]]);
                }
                if r.chance(300) {
                    let photo = sha256(&[b"photo", visit_id.as_bytes(), hid.as_bytes()]);
                    args["photos"] = json!([bangfu_ledger::Hash(photo).to_base64()]);
                }
                (Who::Cadre(p.cadre), "record_visit", pairing, args)
            }
            Kind::AckVisit => (
                Who::Card(p.who),
                "acknowledge_visit",
                pairing,
                json!({"visit_id": format!("v{y}{m:02}{}", p.n)}),
            ),
            Kind::Disburse { goods } => {
                let (help, purpose) = if goods {
                    (
                        json!({"form": "in_kind", "items": [
                            {"name": "月饼", "quantity": 1, "unit_value": 8800},
                            {"name": "大米 (10 kg)", "quantity": 1, "unit_value": 5500},
                            {"name": "食用油 (5 L)", "quantity": 1, "unit_value": 8900}]}),
                        "festival",
                    )
                } else {
                    (
                        json!({"form": "cash", "amount": 100 * 100 * r.range(2, 5)}),
                        "festival",
                    )
                };
                (
                    Who::Manager(unit),
                    "disburse",
                    format!("fund/{}", fund_id(unit)),
                    json!({"disbursement_id": format!("p{y}{m:02}-{hid}"), "household": hid,
                           "through": lead, "help": help, "purpose": purpose, "date": date}),
                )
            }
            Kind::AckDisbursement => (
                Who::Card(p.who),
                "acknowledge_disbursement",
                format!("fund/{}", fund_id(unit)),
                json!({"disbursement_id": format!("p{y}{m:02}-{hid}")}),
            ),
            Kind::Donation => {
                let purpose = ["living", "medical", "schooling"][r.below(3) as usize];
                (
                    Who::Cadre(p.cadre),
                    "record_personal_donation",
                    pairing,
                    json!({"donation_id": format!("g{y}{m:02}"), "date": date,
                           "help": {"form": "cash", "amount": 100 * 100 * r.range(2, 10)},
                           "purpose": purpose}),
                )
            }
            Kind::AckDonation => (
                Who::Card(p.who),
                "acknowledge_donation",
                pairing,
                json!({"donation_id": format!("g{y}{m:02}")}),
            ),
            Kind::Raise { by_card } => {
                let (ask, _) = ASKS[(p.who as usize + m as usize) % ASKS.len()];
                let (signer, kind) = if by_card {
                    (Who::Card(p.who), "order")
                } else {
                    (Who::Cadre(p.cadre), "concrete_help")
                };
                (
                    signer,
                    "raise_request",
                    pairing,
                    json!({"request_id": rid, "kind": kind, "summary": ask, "date": date}),
                )
            }
            Kind::Dispatch => (
                Who::Coordinator,
                "dispatch_request",
                pairing,
                json!({"request_id": rid, "to": lead}),
            ),
            Kind::AcceptRequest => (
                Who::Cadre(p.cadre),
                "accept_request",
                pairing,
                json!({"request_id": rid}),
            ),
            Kind::Resolve => {
                let (_, outcome) = ASKS[(p.who as usize + m as usize) % ASKS.len()];
                (
                    Who::Cadre(p.cadre),
                    "resolve_request",
                    pairing,
                    json!({"request_id": rid, "outcome": outcome, "date": date}),
                )
            }
            Kind::Confirm => (
                Who::Card(p.who),
                "confirm_resolution",
                pairing,
                json!({"request_id": rid}),
            ),
            Kind::Propose => (
                Who::Coordinator,
                "propose_handover",
                pairing,
                json!({"outgoing": [cadre_id(p.other)], "incoming": [lead], "lead": lead,
                       "date": date, "reason": "原帮扶干部工作调整，由同单位干部接力帮扶"}),
            ),
            Kind::AcceptHandover => (Who::Cadre(p.cadre), "accept_handover", pairing, json!({})),
            Kind::EndPairing => (
                Who::Coordinator,
                "end_pairing",
                pairing,
                json!({"date": date, "reason": "家庭成员稳定就业，收入超过低保标准"}),
            ),
            Kind::ExitHardship => (
                Who::Coordinator,
                "exit_hardship",
                format!("household/{hid}"),
                json!({"date": date, "reason": "稳定就业，脱离困难"}),
            ),
        };
        self.action(day, signer, command, target, args)
    }
}

impl Iterator for Program {
    type Item = Action;

    fn next(&mut self) -> Option<Action> {
        loop {
            if let Some(a) = self.pending.pop_front() {
                return Some(a);
            }
            if let Some(p) = self.plan.get(self.plan_at).copied() {
                self.plan_at += 1;
                return Some(self.materialize(p));
            }
            if !self.advance() {
                return None;
            }
        }
    }
}

/// The domain, run in-process as the log's writer runs it, building entries for [`load_fast`].
struct Replay {
    registry: Registry,
    aggregates: HashMap<(String, String), AnyAggregate>,
    range: CompactRange,
    /// Set once the aggregate cache was emptied: from then on a missing aggregate may be in the
    /// store and is read back from it.
    evicted: bool,
    /// [`CACHE_LIMIT`], smaller in a test.
    cache_limit: usize,
}

/// Aggregates kept in memory while loading; past this the batch is written and the cache emptied
/// (as the log's writer does), so memory stays bounded at the province scale.
const CACHE_LIMIT: usize = 300_000;

/// Entries per `Backend::append` while loading.
const LOAD_BATCH: usize = 1_000;

/// Statements signed per task.
const SIGN_CHUNK: usize = 512;

impl Replay {
    /// Decides one statement and appends its entry and hashes to `batch`.
    async fn push<B: Backend + Clone>(
        &mut self,
        pipe: &mut Pipe<B>,
        batch: &mut Batch,
        statement: Statement,
        recorded_ms: i64,
    ) -> anyhow::Result<()> {
        let index = self.range.size();
        let recorded_at =
            Timestamp::from_unix_millis(recorded_ms).context("a generated time is out of range")?;
        let describe = |statement: &Statement| {
            format!(
                "the generated statement {} on {} (entry {index})",
                statement.body.command, statement.body.target
            )
        };
        let ctx = authorize(&statement, index, recorded_at, &self.registry).map_err(|e| {
            anyhow::anyhow!(
                "生成的指令被拒绝 / {} was refused: {e}",
                describe(&statement)
            )
        })?;
        let target = &statement.body.target;
        let key = (
            target.aggregate_type().to_owned(),
            target.aggregate_id().to_owned(),
        );
        if !self.aggregates.contains_key(&key) {
            if self.aggregates.len() >= self.cache_limit {
                // What is cached may be ahead of the store by the open batch: write it first.
                pipe.write(batch, index).await?;
                pipe.wait().await?;
                self.aggregates.clear();
                self.evicted = true;
            }
            let mut aggregate = AnyAggregate::new(&key.0)
                .map_err(|e| anyhow::anyhow!("{}: {e}", describe(&statement)))?;
            if self.evicted {
                for event in pipe.backend.aggregate_events(&key.0, &key.1).await? {
                    aggregate
                        .apply(&event)
                        .map_err(|e| anyhow::anyhow!("{}/{}: {e}", key.0, key.1))?;
                }
            }
            self.aggregates.insert(key.clone(), aggregate);
        }
        let aggregate = self
            .aggregates
            .get_mut(&key)
            .context("the aggregate cache lost an entry")?;
        let events = aggregate
            .handle(ctx, &statement, &self.registry)
            .map_err(|e| {
                anyhow::anyhow!(
                    "生成的指令被拒绝 / {} was refused: {e}",
                    describe(&statement)
                )
            })?;
        for e in &events {
            self.registry
                .apply(e)
                .map_err(|e| anyhow::anyhow!("{}: registry: {e}", describe(&statement)))?;
        }
        let entry = Entry {
            index,
            prev_root: self.range.root(),
            recorded_at,
            statement,
            events,
        };
        let body = entry
            .to_bytes()
            .map_err(|e| anyhow::anyhow!("entry {index} cannot be serialized: {e}"))?;
        let leaf = leaf_hash(&body);
        batch.hashes.extend(self.range.append(leaf));
        batch.entries.push(new_entry(&entry, leaf, body));
        Ok(())
    }
}

/// Writes batches one after another, each while the next is being built: a batch's append is
/// started only once the one before it is committed (the store checks each batch's first index).
struct Pipe<B: Backend + Clone> {
    backend: B,
    writing: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl<B: Backend + Clone> Pipe<B> {
    /// Starts writing the open batch (whose entries end just before `size`), leaving it empty.
    async fn write(&mut self, batch: &mut Batch, size: u64) -> anyhow::Result<()> {
        if batch.entries.is_empty() {
            return Ok(());
        }
        let mut full = std::mem::take(batch);
        full.first_index = size - full.entries.len() as u64;
        self.wait().await?;
        let backend = self.backend.clone();
        self.writing = Some(tokio::spawn(async move {
            backend
                .append(&full)
                .await
                .with_context(|| format!("writing entries {}..{size}", full.first_index))
        }));
        Ok(())
    }

    /// Waits until every batch started is committed.
    async fn wait(&mut self) -> anyhow::Result<()> {
        if let Some(w) = self.writing.take() {
            w.await.context("a writing task failed")??;
        }
        Ok(())
    }
}

/// A chunk of statements being signed, each with its `recorded_at`.
type Signing = tokio::task::JoinHandle<anyhow::Result<Vec<(Statement, i64)>>>;

/// What [`load_fast`] leaves behind.
pub struct Loaded {
    pub entries: u64,
    /// The registry after the last entry: who is registered, for the unsigned baseline.
    pub registry: Registry,
    pub seconds: f64,
}

/// Loads the program of `keys`'s shape (its first `limit` statements, or all) into `backend`,
/// which must be empty: signed on every core, decided by the real domain, written in batches of
/// [`LOAD_BATCH`]. `progress` is told the entries written so far.
pub async fn load_fast<B: Backend + Clone>(
    backend: &B,
    keys: Arc<Keys>,
    limit: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Loaded> {
    load_with(backend, keys, limit, progress, CACHE_LIMIT).await
}

async fn load_with<B: Backend + Clone>(
    backend: &B,
    keys: Arc<Keys>,
    limit: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
    cache_limit: usize,
) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let have = backend.size().await?;
    if have > 0 {
        anyhow::bail!(
            "基准测试需要空账本 / the benchmark loads into an empty store, but this one holds {have} entries"
        );
    }
    let limit = limit.unwrap_or(u64::MAX);
    // The generator on a thread of its own, a few chunks ahead.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Action>>(8);
    let program_keys = keys.clone();
    let generator = std::thread::spawn(move || {
        let mut program = Program::new(program_keys);
        let mut taken = 0u64;
        loop {
            let chunk: Vec<Action> = program
                .by_ref()
                .take(SIGN_CHUNK.min((limit - taken) as usize))
                .collect();
            if chunk.is_empty() {
                break;
            }
            taken += chunk.len() as u64;
            if tx.blocking_send(chunk).is_err() {
                break;
            }
        }
    });
    let mut replay = Replay {
        registry: Registry::default(),
        aggregates: HashMap::new(),
        range: CompactRange::new(),
        evicted: false,
        cache_limit,
    };
    let mut batch = Batch::default();
    let mut pipe = Pipe {
        backend: backend.clone(),
        writing: None,
    };
    // Three stages run at once: chunks are signed on the blocking pool, in order; the domain
    // decides the chunk before and builds its entries (sequential: each holds the root before it);
    // the batch before that is being written.
    let mut signing: VecDeque<Signing> = VecDeque::new();
    let mut open = true;
    loop {
        while open && signing.len() < 8 {
            match rx.recv().await {
                Some(chunk) => {
                    let keys = keys.clone();
                    signing.push_back(tokio::task::spawn_blocking(move || {
                        chunk
                            .iter()
                            .map(|a| Ok((a.sign(&keys, PROGRAM_IDS)?, a.recorded_ms)))
                            .collect()
                    }));
                }
                None => open = false,
            }
        }
        let Some(next) = signing.pop_front() else {
            break;
        };
        let signed = next.await.context("a signing task failed")??;
        for (statement, recorded_ms) in signed {
            replay
                .push(&mut pipe, &mut batch, statement, recorded_ms)
                .await?;
            if batch.entries.len() >= LOAD_BATCH {
                pipe.write(&mut batch, replay.range.size()).await?;
                progress(replay.range.size());
            }
        }
    }
    pipe.write(&mut batch, replay.range.size()).await?;
    pipe.wait().await?;
    progress(replay.range.size());
    drop(rx);
    let _ = generator.join();
    Ok(Loaded {
        entries: replay.range.size(),
        registry: replay.registry,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// How many statements the whole program of a shape holds (planned, not signed: a few seconds
/// for the city).
pub fn count(keys: Arc<Keys>) -> u64 {
    Program::new(keys).count() as u64
}

/// The append figures' statements: for each client, in the order it sends them, the request
/// bodies (canonical JSON of the signed statement) its cadre and its households' cards sign now:
/// visits with a sealed diary to the client's households, every fourth statement a card
/// acknowledging the visit before it. They touch only the benchmark's own pairings, so they go
/// into any prefix of the program longer than [`Shape::setup_len`], the same bodies into each.
pub struct Workload {
    pub clients: Vec<Vec<Vec<u8>>>,
    /// The same statements as actions (to run unsigned through the baseline).
    pub actions: Vec<Vec<Action>>,
}

impl Workload {
    pub fn len(&self) -> usize {
        self.clients.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Signs `per_client` statements for each client, dated today (China time) and signed at
/// `now_ms`, on every core.
pub fn workload(keys: &Keys, per_client: usize, now_ms: i64) -> anyhow::Result<Workload> {
    let s = *keys.shape();
    let (y, m, d) = civil_from_days((now_ms + 8 * 3_600_000).div_euclid(86_400_000));
    let today = ymd_string((y, m, d));
    let mut actions: Vec<Vec<Action>> = Vec::new();
    let mut seq = 0u64;
    for k in 0..s.clients {
        let mut list = Vec::with_capacity(per_client);
        for i in 0..per_client as u32 {
            let j = i % s.per_client.max(1);
            let round = i / s.per_client.max(1);
            let hb = k * s.per_client + j;
            let household = bench_household_id(hb);
            // recorded_ms only sets signed_at (20 s before) here: the log stamps its own time.
            let mut a = Action {
                seq,
                recorded_ms: now_ms,
                signer: Who::BenchCadre(k),
                command: "record_visit",
                target: pairing_target(&household),
                args: Map::new(),
            };
            seq += 1;
            if round % 4 == 3 {
                a.signer = Who::BenchCard(hb);
                a.command = "acknowledge_visit";
                a.args
                    .insert("visit_id".into(), json!(format!("w{}", round - 1)));
            } else {
                let mut salt = [0u8; SALT_LEN];
                salt.copy_from_slice(
                    &sha256(&[b"bangfu bench workload", &seq.to_be_bytes()])[..SALT_LEN],
                );
                let diary = Opening::new(json!(format!("走访记录 {household} {today}")), salt)
                    .map(|o| o.commitment.to_json())
                    .map_err(|e| anyhow::anyhow!("sealing a diary: {e}"))?;
                let args = json!({"visit_id": format!("w{round}"), "date": today,
                                  "kind": "routine", "diary": diary, "location": "第1社区"});
                if let Value::Object(o) = args {
                    a.args = o;
                }
            }
            list.push(a);
        }
        actions.push(list);
    }
    let clients = std::thread::scope(|scope| {
        let workers: Vec<_> = actions
            .chunks(actions.len().div_ceil(available_cores()).max(1))
            .map(|part| {
                scope.spawn(move || -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
                    part.iter()
                        .map(|list| {
                            list.iter()
                                .map(|a| {
                                    let statement = a.sign(keys, WORKLOAD_IDS)?;
                                    jcs::to_vec(&statement.to_json())
                                        .map_err(|e| anyhow::anyhow!("encoding a statement: {e}"))
                                })
                                .collect()
                        })
                        .collect()
                })
            })
            .collect();
        let mut out = Vec::new();
        for w in workers {
            out.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("a signing thread failed"))??,
            );
        }
        anyhow::Ok(out)
    })?;
    Ok(Workload { clients, actions })
}

/// The cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bangfu_domain::replay::Replayer;
    use bangfu_ledger::verify::Verifier;
    use bangfu_store::log::tree_head;
    use bangfu_store::sqlite::SqliteBackend;

    #[test]
    fn the_program_is_the_same_every_time_and_about_the_size_asked() {
        let keys = Arc::new(Keys::new(Scale::Tiny.shape()));
        let a: Vec<_> = Program::new(keys.clone()).take(3_000).collect();
        let b: Vec<_> = Program::new(keys.clone()).take(3_000).collect();
        assert!(a.iter().zip(&b).all(|(x, y)| x.args == y.args
            && x.target == y.target
            && x.recorded_ms == y.recorded_ms));
        let n = count(keys);
        assert!((15_000..30_000).contains(&n), "tiny has {n} statements");
        // recorded_at never goes back.
        let mut last = 0;
        for a in Program::new(Arc::new(Keys::new(Scale::Tiny.shape()))) {
            assert!(
                a.recorded_ms >= last,
                "{} at {} went back",
                a.command,
                a.seq
            );
            last = a.recorded_ms;
        }
    }

    /// The whole tiny program goes through the real domain into a real SQLite store, and the
    /// ledger's own verifier, replaying the domain, accepts every entry and the stored tree head.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_fast_writes_a_log_the_verifier_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("log.sqlite"))
            .await
            .unwrap();
        let keys = Arc::new(Keys::new(Scale::Tiny.shape()));
        let loaded = load_fast(&backend, keys.clone(), None, &|_| {})
            .await
            .unwrap();
        assert_eq!(loaded.entries, count(keys.clone()));
        assert_eq!(backend.size().await.unwrap(), loaded.entries);
        let mut verifier = Verifier::new(Replayer::new());
        let mut from = 0;
        while from < loaded.entries {
            for e in backend.entries(from, 1000).await.unwrap() {
                verifier.push(&e.body).unwrap();
                from += 1;
            }
        }
        let (n, root, _) = verifier.finish().unwrap();
        assert_eq!(n, loaded.entries);
        assert_eq!(tree_head(&backend, n).await.unwrap(), root);
        // A second store from a prefix: exactly that many entries.
        let dir2 = tempfile::tempdir().unwrap();
        let prefix = SqliteBackend::open(&dir2.path().join("log.sqlite"))
            .await
            .unwrap();
        let short = load_fast(
            &prefix,
            keys.clone(),
            Some(keys.shape().setup_len()),
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!(short.entries, keys.shape().setup_len());
        // ...and it refuses a store that is not empty.
        assert!(load_fast(&prefix, keys, Some(10), &|_| {}).await.is_err());
    }

    /// With a cache far smaller than the program's aggregates (as at the province scale), the
    /// loader writes what it holds, forgets it and reads aggregates back from the store: the log is
    /// the same, byte for byte, as with everything cached.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_aggregate_cache_writes_the_same_log() {
        let keys = Arc::new(Keys::new(Scale::Tiny.shape()));
        let limit = Some(6_000);
        let open = |name: &'static str| {
            let dir = tempfile::tempdir().unwrap();
            async move {
                let b = SqliteBackend::open(&dir.path().join(name)).await.unwrap();
                (dir, b)
            }
        };
        let (_a, cached) = open("a.sqlite").await;
        let (_b, small) = open("b.sqlite").await;
        load_with(&cached, keys.clone(), limit, &|_| {}, CACHE_LIMIT)
            .await
            .unwrap();
        load_with(&small, keys.clone(), limit, &|_| {}, 300)
            .await
            .unwrap();
        assert_eq!(small.size().await.unwrap(), 6_000);
        assert_eq!(
            tree_head(&small, 6_000).await.unwrap(),
            tree_head(&cached, 6_000).await.unwrap()
        );
    }
}
