//! A realistic pairing-assistance program, generated deterministically and appended through the
//! real log: 4 units, 42 cadres, 300 households, one program with two festivals a year,
//! 2016–2018 (and the first days of 2019, so that every quarter up to 2018-Q4 has ended).
//!
//! The story: leaders pair first, then every cadre (some households with two cadres); quarterly
//! visits, some quarters deliberately left without one, festival visits, visits recorded weeks
//! late, one visit retracted and recorded again, one retracted for good; personal donations, some
//! acknowledged; two unit pools and a named fund with contributions and disbursements in cash and
//! in kind, two overdraft attempts the log refuses, two reversals (one in the next year); a
//! retirement handed over (one household to two cadres jointly), a transfer out of the
//! jurisdiction handed over, a transfer between units, a pairing ended; requests through every
//! state, one carried by a handover; a spot-check campaign with revisits and findings; the
//! year's assessment published by an evaluator.
//!
//! Everything is planned first, from a seeded xorshift (no other randomness), together with the
//! test's own tallies: plain maps computed here, independently of the projections crate. Then
//! [`Scenario::run_until`] appends the plan in the order of the story's days, driving the log's
//! clock so that `recorded_at` is the day each statement was recorded. Statements recorded on the
//! same day are sent together, in order, so the log's writer commits them as one group.

use super::district::{b64key, key, sealed};
use bangfu_domain::date::{Date, Quarter};
use bangfu_domain::error::DomainError;
use bangfu_domain::ids::ProgramId;
use bangfu_ledger::merkle::leaf_hash;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{
    Body, CommandName, Statement, StatementId, Target, VerifiedStatement,
};
use bangfu_ledger::time::{Timestamp, days_from_civil};
use bangfu_projections::{projector, scores};
use bangfu_store::backend::Backend;
use bangfu_store::log::{AppendError, Clock, Log, Receipt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::Poll;

pub const PROGRAM: &str = "gulou";
pub const CAMPAIGN: &str = "gulou-2017";
pub const ASSESSED_YEAR: i64 = 2017;
/// The program's rule: a visit recorded more than this many days after its date is late.
pub const LATE_AFTER_DAYS: i64 = 7;
pub const HOUSEHOLDS: usize = 300;
/// Retires on [`RETIRE_DAY`]; their households are handed over first.
pub const RETIRING: &str = "c05";
/// Transferred out of the jurisdiction on [`LEAVE_DAY`]; handed over first.
pub const LEAVING: &str = "c09";
/// Transferred from edu to finance on [`MOVE_DAY`]; keeps their households.
pub const MOVING: &str = "c20";
/// Registered in 2017; take over the retiring cadre's households.
pub const NEW_CADRES: [&str; 2] = ["c40", "c41"];
/// Moves away: the pairing ends and the household leaves hardship on [`END_DAY`].
pub const ENDED_HOUSEHOLD: &str = "h299";

pub const FUNDS: [&str; 3] = ["court-pool", "finance-pool", "gmy-fund"];

/// The festival periods of the program's rules.
const FESTIVALS: [(&str, &str, &str); 6] = [
    ("春节", "2016-02-01", "2016-02-14"),
    ("中秋", "2016-09-10", "2016-09-17"),
    ("春节", "2017-01-20", "2017-02-05"),
    ("中秋", "2017-09-28", "2017-10-06"),
    ("春节", "2018-02-09", "2018-02-23"),
    ("中秋", "2018-09-17", "2018-09-25"),
];

const STREETS: [&str; 4] = ["华林街道", "东街街道", "温泉街道", "水部街道"];
const COMMUNITIES: [&str; 5] = ["乌山社区", "凤湖社区", "庆城社区", "温泉社区", "汤边社区"];
const CATEGORIES: [&str; 6] = [
    "minimum_living_allowance",
    "extreme_hardship",
    "illness",
    "disability",
    "laid_off",
    "other",
];
const PURPOSES: [&str; 6] = [
    "living",
    "medical",
    "schooling",
    "housing",
    "employment",
    "festival",
];
const GOODS: [(&str, i64); 4] = [
    ("大米 (10 kg)", 5500),
    ("食用油 (5 L)", 8900),
    ("棉衣", 12000),
    ("药品", 6800),
];
const SUMMARIES: [&str; 5] = [
    "孩子学费",
    "房屋漏雨维修",
    "低保申请",
    "就业推荐",
    "医疗报销咨询",
];

pub fn d(s: &str) -> Date {
    Date::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// The day of the last entry: every quarter up to 2018-Q4 has ended, 2019-Q1 is open.
pub fn final_day() -> Date {
    d("2019-01-20")
}

fn retire_day() -> Date {
    d("2017-05-16")
}

fn leave_day() -> Date {
    d("2017-08-21")
}

fn move_day() -> Date {
    d("2017-07-01")
}

fn end_day() -> Date {
    d("2018-05-20")
}

/// The festival a day falls in, by the program's rules.
pub fn festival_on(day: Date) -> Option<&'static str> {
    FESTIVALS
        .iter()
        .find(|(_, from, to)| d(from) <= day && day <= d(to))
        .map(|(name, _, _)| *name)
}

pub fn cadre_id(n: usize) -> String {
    format!("c{n:02}")
}

pub fn household_id(n: usize) -> String {
    format!("h{n:03}")
}

pub fn pairing_id(household: &str) -> String {
    format!("{PROGRAM}:{household}")
}

/// Every third household holds a contact card and can acknowledge and confirm.
pub fn has_card(household: &str) -> bool {
    household[1..].parse::<usize>().is_ok_and(|n| n % 3 == 0)
}

fn card(household: &str) -> String {
    format!("card-{household}")
}

/// xorshift64*: small, seeded, deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        (self.next_u64() >> 11) % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A day in `from..=to`.
    pub fn day(&mut self, from: Date, to: Date) -> Date {
        from.add_days(self.range(0, from.days_until(to).max(0)))
    }
}

// ---------------------------------------------------------------------------------------------
// What the test expects: its own tallies.

/// A period with the same team, from `from` (inclusive) until the next spell or the end.
#[derive(Clone, Debug)]
pub struct Spell {
    pub from: Date,
    pub cadres: BTreeSet<String>,
    pub lead: String,
}

#[derive(Clone, Debug)]
pub struct VisitPlan {
    pub id: String,
    pub cadre: String,
    pub date: Date,
    pub recorded: Date,
    pub retracted: bool,
}

#[derive(Clone, Debug)]
pub struct PairingPlan {
    pub id: String,
    pub household: String,
    pub formed: Date,
    pub spells: Vec<Spell>,
    pub ended: Option<Date>,
    /// No handover and never ended: late records and requests are planned only on these.
    pub stable: bool,
    /// The steps of the pairing's history, in order.
    pub steps: Vec<&'static str>,
    pub visits: Vec<VisitPlan>,
    /// Quarters (`2016-Q2`) deliberately left without a counting visit: the missed ones.
    pub missed: BTreeSet<String>,
    /// Counting visits dated in a festival period, per quarter.
    pub festival_visits: BTreeMap<String, usize>,
    /// Visits recorded more than [`LATE_AFTER_DAYS`] after their date.
    pub late_visits: usize,
    /// Personal donations: id and date.
    pub donations: Vec<(String, Date)>,
}

impl PairingPlan {
    /// The team on `day`, if the pairing was active then.
    pub fn team_on(&self, day: Date) -> Option<&Spell> {
        if day < self.formed || self.ended.is_some_and(|e| day >= e) {
            return None;
        }
        self.spells.iter().rev().find(|s| s.from <= day)
    }

    /// The team now (the last one).
    pub fn current(&self) -> &Spell {
        self.spells.last().expect("a pairing has a team")
    }

    /// Every cadre who was ever on the team.
    pub fn everyone(&self) -> BTreeSet<String> {
        self.spells
            .iter()
            .flat_map(|s| s.cadres.iter().cloned())
            .collect()
    }

    /// The quarters its compliance lists, as of `today`, with the status each must have.
    pub fn expected_quarters(&self, today: Date) -> Vec<(String, &'static str)> {
        let last = self
            .ended
            .map(|e| e.add_days(-1))
            .unwrap_or(today)
            .min(today);
        let mut out = Vec::new();
        let mut q = self.formed.quarter();
        while q.first_day() <= last {
            let name = q.to_string();
            let status = if q.last_day() >= today {
                "open"
            } else if self.missed.contains(&name) {
                "missed"
            } else {
                "met"
            };
            out.push((name, status));
            q = q.next();
        }
        out
    }
}

#[derive(Clone, Debug, Default)]
pub struct FundTally {
    pub kind: &'static str,
    pub unit: String,
    pub balance: i64,
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
    pub contributions: u64,
    pub disbursements: u64,
    /// The trail: (date, signed amount, balance after), in log order.
    pub trail: Vec<(Date, i64, i64)>,
    /// Per calendar year: (contributed, disbursed, reversed), a reversal in the year it was
    /// recorded.
    pub per_year: BTreeMap<i64, (i64, i64, i64)>,
    /// Disbursement id → (household, value, date).
    disbursed_to: BTreeMap<String, (String, i64, Date)>,
}

impl FundTally {
    /// The balance at the end of `day`.
    pub fn balance_at_end_of(&self, day: Date) -> i64 {
        self.trail
            .iter()
            .take_while(|(date, _, _)| *date <= day)
            .last()
            .map_or(0, |(_, _, b)| *b)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptTally {
    pub count: usize,
    pub value: i64,
    pub acknowledged: usize,
    pub reversed: usize,
    pub from_funds: usize,
    pub from_cadres: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitYearTally {
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
    pub donated: i64,
}

#[derive(Clone, Debug)]
pub struct RequestTally {
    pub pairing: String,
    pub state: &'static str,
    pub responsible: String,
    pub resolved_by: Option<String>,
    pub raised_on: Date,
    pub steps: Vec<&'static str>,
}

impl RequestTally {
    pub fn is_open(&self) -> bool {
        matches!(self.state, "raised" | "dispatched" | "accepted")
    }
}

#[derive(Clone, Debug)]
pub struct CadreTally {
    /// (from, unit), in order.
    pub units: Vec<(Date, String)>,
    pub status: &'static str,
}

#[derive(Clone, Debug, Default)]
pub struct SpotTally {
    pub sample: Vec<String>,
    pub revisits: usize,
    pub confirmed: usize,
    pub not_confirmed: usize,
    pub unreachable: usize,
}

/// A contribution whose first-in-first-out allocation is worked out by hand.
#[derive(Clone, Debug)]
pub struct FifoTally {
    pub fund: String,
    pub contribution: String,
    pub amount: i64,
    /// (disbursement, household, amount, reversed).
    pub allocations: Vec<(String, String, i64, bool)>,
    pub remaining: i64,
}

#[derive(Clone, Debug)]
pub struct Published {
    pub year: i64,
    pub log_size: u64,
    pub index: u64,
    pub cadres: BTreeMap<String, i64>,
    pub units: BTreeMap<String, i64>,
}

#[derive(Debug, Default)]
pub struct Tallies {
    pub funds: BTreeMap<String, FundTally>,
    /// The named fund's queue of unspent money at the end: (contribution, seq, remaining).
    pub named_queue: Vec<(String, u64, i64)>,
    pub fifo: Vec<FifoTally>,
    pub receipts: BTreeMap<String, ReceiptTally>,
    pub pairings: BTreeMap<String, PairingPlan>,
    pub households: Vec<String>,
    pub exited: BTreeSet<String>,
    pub cadres: BTreeMap<String, CadreTally>,
    pub unit_year: BTreeMap<(String, i64), UnitYearTally>,
    pub requests: BTreeMap<String, RequestTally>,
    /// The request an accepting cadre's retirement carried to the new lead.
    pub carried_request: String,
    pub spot: SpotTally,
    /// Cadres with a stint on the program's pairings during the assessed year.
    pub scored: BTreeSet<String>,
    /// Disbursements and donations per household: (fund or pairing, id, date).
    pub disbursements_of: BTreeMap<String, Vec<(String, String, Date)>>,
    /// Overdraft attempts the log refused (checked as they happen).
    pub refused: usize,
    // Filled in while appending:
    pub published: Option<Published>,
    /// Per household, the entries its timeline must show: (index, rows, signer).
    pub timeline: BTreeMap<String, Vec<(u64, usize, String)>>,
    /// The China day each appended entry was recorded on, by index.
    pub days: Vec<Date>,
}

impl Tallies {
    /// Entries recorded on or before `day`.
    pub fn size_at_end_of(&self, day: Date) -> u64 {
        self.days.iter().filter(|x| **x <= day).count() as u64
    }

    /// Pairing ids a cadre is on now (active pairings only).
    pub fn current_pairings_of(&self, cadre: &str) -> BTreeSet<String> {
        self.pairings
            .values()
            .filter(|p| p.ended.is_none() && p.current().cadres.contains(cadre))
            .map(|p| p.id.clone())
            .collect()
    }

    /// Pairing ids a cadre was ever on.
    pub fn all_pairings_of(&self, cadre: &str) -> BTreeSet<String> {
        self.pairings
            .values()
            .filter(|p| p.everyone().contains(cadre))
            .map(|p| p.id.clone())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The plan.

#[derive(Clone, Debug)]
enum Expect {
    Accepted,
    /// The log must refuse it, naming the fund's balance and the amount asked.
    Overdraft {
        fund: String,
        balance: i64,
        requested: i64,
    },
    /// Scores computed by `scores::assess` on the log as it stands, then published.
    Publish {
        year: i64,
    },
}

#[derive(Clone, Debug)]
struct Action {
    day: Date,
    /// Order within a day: directory, pairings, handovers proposed, accepted, records, cadre
    /// changes, money, acknowledgements, inspection, assessment.
    phase: u8,
    seq: usize,
    signer: String,
    command: &'static str,
    target: String,
    args: Value,
    expect: Expect,
    /// The household whose timeline shows this entry, and how many rows (events) it adds.
    timeline: Option<(String, usize)>,
}

struct Planner {
    rng: Rng,
    actions: Vec<Action>,
    t: Tallies,
    holders: HashMap<String, String>,
    counters: HashMap<&'static str, u64>,
}

impl Planner {
    fn next_id(&mut self, prefix: &'static str) -> String {
        let n = self.counters.entry(prefix).or_insert(0);
        *n += 1;
        format!("{prefix}{n:04}")
    }

    fn push(
        &mut self,
        (day, phase): (Date, u8),
        signer: &str,
        command: &'static str,
        target: String,
        args: Value,
        timeline: Option<(&str, usize)>,
    ) {
        self.push_expecting(
            (day, phase),
            signer,
            command,
            target,
            args,
            timeline,
            Expect::Accepted,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn push_expecting(
        &mut self,
        (day, phase): (Date, u8),
        signer: &str,
        command: &'static str,
        target: String,
        args: Value,
        timeline: Option<(&str, usize)>,
        expect: Expect,
    ) {
        assert!(
            day <= final_day(),
            "{command} on {target} planned after the end"
        );
        let seq = self.actions.len();
        self.actions.push(Action {
            day,
            phase,
            seq,
            signer: signer.to_owned(),
            command,
            target,
            args,
            expect,
            timeline: timeline.map(|(h, n)| (h.to_owned(), n)),
        });
    }

    fn pairing(&self, pid: &str) -> &PairingPlan {
        &self.t.pairings[pid]
    }

    fn unit_of(&self, cadre: &str, day: Date) -> String {
        let units = &self.t.cadres[cadre].units;
        units
            .iter()
            .rev()
            .find(|(from, _)| *from <= day)
            .or(units.first())
            .map(|(_, u)| u.clone())
            .expect("a cadre has a unit")
    }

    /// Cadres who stay active throughout (never retired nor transferred out), registered in 2016.
    fn steady_cadres(&self) -> Vec<String> {
        (0..40)
            .map(cadre_id)
            .filter(|c| c != RETIRING && c != LEAVING)
            .collect()
    }

    fn stable_pairings(&self) -> Vec<String> {
        self.t
            .pairings
            .values()
            .filter(|p| p.stable)
            .map(|p| p.id.clone())
            .collect()
    }

    // --- the directory -----------------------------------------------------------------------

    fn register_key(&mut self, day: Date, name: &str, holder: &str, role: &str) {
        let signer = if self.holders.contains_key("coord") {
            "coord"
        } else {
            "authority"
        };
        self.push(
            (day, 0),
            signer,
            "register_key",
            "authority/gulou".into(),
            json!({"key": b64key(name), "holder": holder, "roles": [role]}),
            None,
        );
        self.holders.insert(name.to_owned(), holder.to_owned());
    }

    fn register_cadre(&mut self, day: Date, id: &str, unit: &str, rank: &str, n: usize) {
        self.push(
            (day, 0),
            "coord",
            "register_cadre",
            format!("cadre/{id}"),
            json!({"name": format!("干部{n:02}"), "unit": unit, "rank": rank,
                   "party_member": n % 5 != 4, "date": day}),
            None,
        );
        self.register_key(day, id, &format!("cadre/{id}"), "cadre");
        self.t.cadres.insert(
            id.to_owned(),
            CadreTally {
                units: vec![(day, unit.to_owned())],
                status: "active",
            },
        );
    }

    fn setup(&mut self) {
        let day = d("2016-01-04");
        self.push(
            (day, 0),
            "authority",
            "genesis",
            "authority/gulou".into(),
            json!({"origin": "bangfu.example/gulou", "name": "鼓楼区委组织部",
                   "holder": "person/org-dept", "roles": ["coordinator"]}),
            None,
        );
        self.holders
            .insert("authority".into(), "person/org-dept".into());
        for (name, holder, role) in [
            ("coord", "person/coord-1", "coordinator"),
            ("insp", "person/insp-1", "inspector"),
            ("eval", "person/eval-1", "evaluator"),
            ("fm-court", "person/fm-court", "fund_manager"),
            ("fm-named", "person/fm-named", "fund_manager"),
        ] {
            self.register_key(day, name, holder, role);
        }
        for (id, name, parent) in [
            ("gulou", "鼓楼区", None),
            ("court", "区法院", Some("gulou")),
            ("finance", "区财政局", Some("gulou")),
            ("edu", "区教育局", Some("gulou")),
        ] {
            let mut args = json!({"name": name, "kind": "bureau"});
            if let Some(p) = parent {
                args["parent"] = json!(p);
            }
            self.push(
                (day, 0),
                "coord",
                "register_unit",
                format!("unit/{id}"),
                args,
                None,
            );
        }
        let festivals: Vec<Value> = FESTIVALS
            .iter()
            .map(|(name, from, to)| json!({"name": name, "from": from, "to": to}))
            .collect();
        self.push(
            (day, 0),
            "coord",
            "create_program",
            format!("program/{PROGRAM}"),
            json!({"name": "鼓楼区干部结对帮扶", "rules": {
                "min_visits_per_quarter": 1, "festivals": festivals, "spot_check_per_mille": 100,
                "late_after_days": LATE_AFTER_DAYS,
                "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                            "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}}}),
            None,
        );
        // Leaders: the district secretary and the heads of the three bureaus.
        self.register_cadre(day, "c00", "gulou", "bureau", 0);
        for (n, unit) in [(1, "court"), (2, "finance"), (3, "edu")] {
            self.register_cadre(day, &cadre_id(n), unit, "division", n);
        }
        for n in 4..40 {
            let unit = ["court", "finance", "edu"][n % 3];
            let rank = ["section", "deputy_section", "staff"][n % 3];
            self.register_cadre(day, &cadre_id(n), unit, rank, n);
        }
        // The finance director also manages the finance bureau's pool, with a separate key.
        self.register_key(day, "c02-fm", "cadre/c02", "fund_manager");
        for (id, name, kind, unit, manager) in [
            (
                "court-pool",
                "区法院帮扶资金",
                "unit_pool",
                "court",
                "person/fm-court",
            ),
            (
                "finance-pool",
                "区财政局帮扶资金",
                "unit_pool",
                "finance",
                "cadre/c02",
            ),
            (
                "gmy-fund",
                "郭明义爱心基金",
                "named",
                "gulou",
                "person/fm-named",
            ),
        ] {
            self.push(
                (day, 0),
                "coord",
                "create_fund",
                format!("fund/{id}"),
                json!({"name": name, "kind": kind, "unit": unit, "manager": manager}),
                None,
            );
            self.t.funds.insert(
                id.to_owned(),
                FundTally {
                    kind: if kind == "named" {
                        "named"
                    } else {
                        "unit_pool"
                    },
                    unit: unit.to_owned(),
                    ..FundTally::default()
                },
            );
        }
        for n in 0..HOUSEHOLDS {
            let h = household_id(n);
            let category = if n < 8 {
                "extreme_hardship"
            } else {
                CATEGORIES[n % CATEGORIES.len()]
            };
            self.push(
                (day, 0),
                "coord",
                "register_household",
                format!("household/{h}"),
                json!({"address": {"district": "鼓楼区", "street": STREETS[n % 4],
                                   "community": COMMUNITIES[n % 5]},
                       "category": category, "members": 1 + n % 6,
                       "sensitive": {"hardship": sealed("困难情况"), "id_number": sealed("350102")},
                       "date": day}),
                Some((&h, 1)),
            );
            if has_card(&h) {
                self.register_key(day, &card(&h), &format!("household/{h}"), "household");
                self.push(
                    (day, 0),
                    "coord",
                    "set_contact_key",
                    format!("household/{h}"),
                    json!({"key": b64key(&card(&h))}),
                    Some((&h, 1)),
                );
            }
            self.t.households.push(h.clone());
            self.t.receipts.insert(h, ReceiptTally::default());
        }
        // New cadres join in 2017.
        let joined = d("2017-03-01");
        self.register_cadre(joined, NEW_CADRES[0], "court", "staff", 40);
        self.register_cadre(joined, NEW_CADRES[1], "edu", "staff", 41);
    }

    // --- pairings and handovers --------------------------------------------------------------

    fn pairings(&mut self) {
        for n in 0..HOUSEHOLDS {
            let h = household_id(n);
            let (day, cadres, lead) = if n < 8 {
                // Leaders go first, with the hardest cases.
                let c = cadre_id(n % 4);
                (d("2016-01-05"), BTreeSet::from([c.clone()]), c)
            } else {
                let lead = cadre_id(4 + (n - 8) % 36);
                let mut cadres = BTreeSet::from([lead.clone()]);
                if n % 25 == 12 {
                    // Two cadres share this household.
                    cadres.insert(cadre_id(4 + (n - 7) % 36));
                }
                (d("2016-01-11"), cadres, lead)
            };
            let pid = pairing_id(&h);
            self.push(
                (day, 1),
                "coord",
                "form_pairing",
                format!("pairing/{pid}"),
                json!({"program": PROGRAM, "household": h, "cadres": cadres, "lead": lead,
                       "date": day}),
                Some((&h, 1)),
            );
            self.t.pairings.insert(
                pid.clone(),
                PairingPlan {
                    id: pid,
                    household: h,
                    formed: day,
                    spells: vec![Spell {
                        from: day,
                        cadres,
                        lead,
                    }],
                    ended: None,
                    stable: true,
                    steps: vec!["formed"],
                    visits: Vec::new(),
                    missed: BTreeSet::new(),
                    festival_visits: BTreeMap::new(),
                    late_visits: 0,
                    donations: Vec::new(),
                },
            );
        }
    }

    /// `outgoing` hands the household over to `incoming`, who accept on `accepts` (one day each,
    /// the last one is when the handover takes effect).
    fn handover(
        &mut self,
        pid: &str,
        outgoing: &str,
        incoming: &[String],
        (proposed, accepts): (Date, &[Date]),
        reason: &str,
    ) {
        let p = self.pairing(pid).clone();
        let now = p.current();
        let mut after = now.cadres.clone();
        after.remove(outgoing);
        after.extend(incoming.iter().cloned());
        let lead = if now.lead == outgoing {
            incoming[0].clone()
        } else {
            now.lead.clone()
        };
        let target = format!("pairing/{pid}");
        self.push(
            (proposed, 2),
            "coord",
            "propose_handover",
            target.clone(),
            json!({"outgoing": [outgoing], "incoming": incoming, "lead": lead,
                   "date": proposed, "reason": reason}),
            Some((&p.household, 1)),
        );
        for (k, (c, day)) in incoming.iter().zip(accepts).enumerate() {
            // The last acceptance also completes the handover: two events.
            let rows = if k + 1 == incoming.len() { 2 } else { 1 };
            self.push(
                (*day, 3),
                c,
                "accept_handover",
                target.clone(),
                json!({}),
                Some((&p.household, rows)),
            );
        }
        let effective = *accepts.last().expect("someone accepts");
        let p = self.t.pairings.get_mut(pid).expect("planned pairing");
        p.spells.push(Spell {
            from: effective,
            cadres: after,
            lead,
        });
        p.steps.push("handover_proposed");
        p.steps.extend(incoming.iter().map(|_| "handover_accepted"));
        p.steps.push("handed_over");
        p.stable = false;
    }

    fn cadre_changes(&mut self) {
        // A retirement: every household handed over first, one of them to two cadres jointly.
        let [c40, c41] = NEW_CADRES.map(String::from);
        let of_retiring: Vec<String> = self
            .t
            .pairings
            .values()
            .filter(|p| p.current().cadres.contains(RETIRING))
            .map(|p| p.id.clone())
            .collect();
        assert!(of_retiring.len() >= 3, "the retiring cadre has households");
        for (k, pid) in of_retiring.iter().enumerate() {
            if k == 0 {
                self.handover(
                    pid,
                    RETIRING,
                    &[c40.clone(), c41.clone()],
                    (d("2017-05-10"), &[d("2017-05-12"), retire_day()]),
                    "原帮扶干部退休，两名干部共同接力",
                );
            } else {
                self.handover(
                    pid,
                    RETIRING,
                    std::slice::from_ref(&c40),
                    (d("2017-05-10"), &[retire_day()]),
                    "原帮扶干部退休，接力帮扶",
                );
            }
        }
        self.push(
            (retire_day(), 5),
            "coord",
            "retire_cadre",
            format!("cadre/{RETIRING}"),
            json!({"date": retire_day()}),
            None,
        );
        self.t.cadres.get_mut(RETIRING).expect("cadre").status = "retired";

        // A transfer out of the jurisdiction, handed over first.
        let of_leaving: Vec<String> = self
            .t
            .pairings
            .values()
            .filter(|p| p.current().cadres.contains(LEAVING))
            .map(|p| p.id.clone())
            .collect();
        assert!(
            of_leaving
                .iter()
                .any(|p| self.pairing(p).current().cadres.len() > 1),
            "the leaving cadre shares a household"
        );
        for (k, pid) in of_leaving.iter().enumerate() {
            let team = self.pairing(pid).current().cadres.clone();
            let mut incoming = if k % 2 == 0 {
                c41.clone()
            } else {
                "c13".to_owned()
            };
            if team.contains(&incoming) {
                incoming = if incoming == c41 {
                    "c13".into()
                } else {
                    c41.clone()
                };
            }
            self.handover(
                pid,
                LEAVING,
                &[incoming],
                (d("2017-08-15"), &[leave_day()]),
                "原帮扶干部调离本区，接力帮扶",
            );
        }
        self.push(
            (leave_day(), 5),
            "coord",
            "transfer_cadre",
            format!("cadre/{LEAVING}"),
            json!({"date": leave_day()}),
            None,
        );
        self.t.cadres.get_mut(LEAVING).expect("cadre").status = "transferred";

        // A transfer between units: the cadre keeps their households.
        self.push(
            (move_day(), 5),
            "coord",
            "transfer_cadre",
            format!("cadre/{MOVING}"),
            json!({"to_unit": "finance", "date": move_day()}),
            None,
        );
        self.t
            .cadres
            .get_mut(MOVING)
            .expect("cadre")
            .units
            .push((move_day(), "finance".into()));

        // A household moves away: its pairing ends and it leaves hardship.
        let pid = pairing_id(ENDED_HOUSEHOLD);
        self.push(
            (end_day(), 5),
            "coord",
            "end_pairing",
            format!("pairing/{pid}"),
            json!({"date": end_day(), "reason": "户籍迁出本区"}),
            Some((ENDED_HOUSEHOLD, 1)),
        );
        self.push(
            (end_day(), 5),
            "coord",
            "exit_hardship",
            format!("household/{ENDED_HOUSEHOLD}"),
            json!({"date": end_day(), "reason": "迁出本区"}),
            Some((ENDED_HOUSEHOLD, 1)),
        );
        let p = self.t.pairings.get_mut(&pid).expect("pairing");
        p.ended = Some(end_day());
        p.steps.push("ended");
        p.stable = false;
        self.t.exited.insert(ENDED_HOUSEHOLD.into());
    }

    // --- visits ------------------------------------------------------------------------------

    /// When a visit dated `date` is written up: the same day or up to three days later, or
    /// (1 in 20, stable pairings only) weeks later. Pairings whose team changes record on the
    /// day, so no record comes after its cadre left.
    fn record_day(&mut self, stable: bool, date: Date) -> Date {
        let day = if !stable {
            date
        } else if self.rng.chance(50) {
            date.add_days(self.rng.range(LATE_AFTER_DAYS + 1, 40))
        } else {
            date.add_days(self.rng.range(0, 3))
        };
        day.min(final_day())
    }

    fn visit(
        &mut self,
        pid: &str,
        cadre: &str,
        (date, recorded): (Date, Date),
        kind: &str,
        may_acknowledge: bool,
    ) -> String {
        let id = self.next_id("v");
        let h = self.pairing(pid).household.clone();
        let n: usize = h[1..].parse().expect("household number");
        let mut args = json!({"visit_id": id, "date": date, "kind": kind,
                              "diary": sealed(&format!("走访记录 {id}")),
                              "location": COMMUNITIES[n % 5]});
        if self.rng.chance(150) {
            args["problems"] = json!(["医疗", "住房漏雨"]);
        }
        if self.rng.chance(250) {
            args["photos"] = json!([leaf_hash(id.as_bytes()).to_base64()]);
        }
        self.push(
            (recorded, 4),
            cadre,
            "record_visit",
            format!("pairing/{pid}"),
            args,
            Some((&h, 1)),
        );
        if may_acknowledge && has_card(&h) && self.rng.chance(120) {
            let day = recorded.add_days(self.rng.range(1, 5)).min(final_day());
            self.push(
                (day, 7),
                &card(&h),
                "acknowledge_visit",
                format!("pairing/{pid}"),
                json!({"visit_id": id}),
                Some((&h, 1)),
            );
        }
        self.t
            .pairings
            .get_mut(pid)
            .expect("pairing")
            .visits
            .push(VisitPlan {
                id: id.clone(),
                cadre: cadre.to_owned(),
                date,
                recorded,
                retracted: false,
            });
        id
    }

    fn retract(&mut self, pid: &str, id: &str, cadre: &str, day: Date, reason: &str) {
        let h = self.pairing(pid).household.clone();
        self.push(
            (day, 4),
            cadre,
            "retract_visit",
            format!("pairing/{pid}"),
            json!({"visit_id": id, "reason": reason}),
            Some((&h, 1)),
        );
        let p = self.t.pairings.get_mut(pid).expect("pairing");
        p.visits
            .iter_mut()
            .find(|v| v.id == id)
            .expect("visit")
            .retracted = true;
    }

    fn visits(&mut self) {
        let stable = self.stable_pairings();
        // Recorded on a wrong date, retracted, recorded again: the quarter is met.
        let corrected = stable[3].clone();
        // Retracted for good and nothing else that quarter: the quarter is missed.
        let withdrawn = stable[100].clone();
        let pids: Vec<String> = self.t.pairings.keys().cloned().collect();
        let mut q = Quarter { year: 2016, q: 1 };
        while q.year <= 2018 {
            for pid in &pids {
                let name = q.to_string();
                if *pid == corrected && name == "2016-Q2" {
                    let lead = self.pairing(pid).current().lead.clone();
                    let v = self.visit(
                        pid,
                        &lead,
                        (d("2016-05-10"), d("2016-05-10")),
                        "routine",
                        false,
                    );
                    self.retract(pid, &v, &lead, d("2016-05-12"), "日期记错，重新录入");
                    self.visit(
                        pid,
                        &lead,
                        (d("2016-05-11"), d("2016-05-12")),
                        "routine",
                        false,
                    );
                } else if *pid == withdrawn && name == "2017-Q4" {
                    let lead = self.pairing(pid).current().lead.clone();
                    let v = self.visit(
                        pid,
                        &lead,
                        (d("2017-11-20"), d("2017-11-20")),
                        "routine",
                        false,
                    );
                    self.retract(pid, &v, &lead, d("2017-11-23"), "未实际走访，撤回记录");
                    self.t
                        .pairings
                        .get_mut(pid)
                        .expect("pairing")
                        .missed
                        .insert(name);
                } else {
                    self.quarter_visits(pid, q);
                }
            }
            q = q.next();
        }
    }

    fn quarter_visits(&mut self, pid: &str, q: Quarter) {
        let p = self.pairing(pid).clone();
        let (first, last) = (q.first_day(), q.last_day());
        let start = first.max(p.formed);
        let end = p.ended.map_or(last, |e| last.min(e.add_days(-1)));
        if start > end {
            return;
        }
        // A handover inside the quarter: the outgoing team visits before it, the incoming after.
        if let Some(change) = p
            .spells
            .iter()
            .skip(1)
            .find(|s| s.from > first && s.from <= last)
        {
            let before = p.team_on(change.from.add_days(-1)).expect("team").clone();
            let d1 = self
                .rng
                .day(start, change.from.add_days(-1).min(start.add_days(29)));
            self.visit(pid, &before.lead, (d1, d1), "routine", true);
            let d2 = self.rng.day(change.from, end);
            self.visit(pid, &change.lead, (d2, d2), "routine", true);
            return;
        }
        if self.rng.chance(60) {
            self.t
                .pairings
                .get_mut(pid)
                .expect("pairing")
                .missed
                .insert(q.to_string());
            return;
        }
        let team = p.team_on(start).expect("team").clone();
        let members: Vec<String> = team.cadres.iter().cloned().collect();
        let cadre = if members.len() > 1 && self.rng.chance(300) {
            members[self.rng.below(members.len() as u64) as usize].clone()
        } else {
            team.lead.clone()
        };
        let windows: Vec<(Date, Date)> = FESTIVALS
            .iter()
            .map(|(_, f, t)| (d(f).max(start), d(t).min(end)))
            .filter(|(f, t)| f <= t)
            .collect();
        let (date, kind) = if !windows.is_empty() && self.rng.chance(500) {
            let (f, t) = windows[self.rng.below(windows.len() as u64) as usize];
            (self.rng.day(f, t), "festival")
        } else {
            (self.rng.day(start, end), "routine")
        };
        let recorded = self.record_day(p.stable, date);
        self.visit(pid, &cadre, (date, recorded), kind, true);
        if !windows.is_empty() && self.rng.chance(120) {
            let (f, t) = windows[self.rng.below(windows.len() as u64) as usize];
            let date = self.rng.day(f, t);
            let cadre = members[self.rng.below(members.len() as u64) as usize].clone();
            let recorded = self.record_day(p.stable, date);
            self.visit(pid, &cadre, (date, recorded), "festival", true);
        }
    }

    // --- personal donations ------------------------------------------------------------------

    fn donation(&mut self, pid: &str, cadre: &str, date: Date, help: (Value, i64), purpose: &str) {
        let (help, value) = help;
        let id = self.next_id("d");
        let h = self.pairing(pid).household.clone();
        self.push(
            (date, 4),
            cadre,
            "record_personal_donation",
            format!("pairing/{pid}"),
            json!({"donation_id": id, "date": date, "help": help, "purpose": purpose}),
            Some((&h, 1)),
        );
        let r = self.t.receipts.get_mut(&h).expect("household");
        r.count += 1;
        r.value += value;
        r.from_cadres += 1;
        if has_card(&h) && self.rng.chance(600) {
            let day = date.add_days(self.rng.range(1, 10)).min(final_day());
            self.push(
                (day, 7),
                &card(&h),
                "acknowledge_donation",
                format!("pairing/{pid}"),
                json!({"donation_id": id}),
                Some((&h, 1)),
            );
            self.t.receipts.get_mut(&h).expect("household").acknowledged += 1;
        }
        let unit = self.unit_of(cadre, date);
        self.t
            .unit_year
            .entry((unit, date.year()))
            .or_default()
            .donated += value;
        self.t
            .pairings
            .get_mut(pid)
            .expect("pairing")
            .donations
            .push((id, date));
    }

    fn goods(&mut self) -> (Value, i64) {
        let n = self.rng.range(1, 2) as usize;
        let first = self.rng.below(GOODS.len() as u64) as usize;
        let mut items = Vec::new();
        let mut value = 0;
        for k in 0..n {
            let (name, unit_value) = GOODS[(first + k) % GOODS.len()];
            let quantity = self.rng.range(1, 5);
            value += quantity * unit_value;
            items.push(json!({"name": name, "quantity": quantity, "unit_value": unit_value}));
        }
        (json!({"form": "in_kind", "items": items}), value)
    }

    fn cash(&mut self, lo: i64, hi: i64) -> (Value, i64) {
        let amount = 100 * self.rng.range(lo, hi);
        (json!({"form": "cash", "amount": amount}), amount)
    }

    fn donations(&mut self) {
        let pids: Vec<String> = self.t.pairings.keys().cloned().collect();
        for (name, from, to) in FESTIVALS {
            for pid in &pids {
                let spring = name == "春节";
                if !self.rng.chance(if spring { 250 } else { 120 }) {
                    continue;
                }
                let date = self.rng.day(d(from), d(to));
                let Some(team) = self.pairing(pid).team_on(date).cloned() else {
                    continue;
                };
                let help = if !spring {
                    let quantity = self.rng.range(2, 6);
                    (
                        json!({"form": "in_kind", "items": [
                            {"name": "月饼", "quantity": quantity, "unit_value": 3800}]}),
                        quantity * 3800,
                    )
                } else if self.rng.chance(500) {
                    self.cash(200, 800)
                } else {
                    self.goods()
                };
                self.donation(pid, &team.lead, date, help, "festival");
            }
        }
        for year in 2016..=2018 {
            for pid in &pids {
                if !self.rng.chance(40) {
                    continue;
                }
                let date = self.rng.day(
                    Date::from_ymd(year, 1, 1).expect("date"),
                    Date::from_ymd(year, 12, 31).expect("date"),
                );
                let Some(team) = self.pairing(pid).team_on(date).cloned() else {
                    continue;
                };
                let members: Vec<String> = team.cadres.iter().cloned().collect();
                let cadre = members[self.rng.below(members.len() as u64) as usize].clone();
                let help = self.cash(300, 2000);
                self.donation(pid, &cadre, date, help, "medical");
            }
        }
    }

    // --- funds -------------------------------------------------------------------------------

    fn contribute(
        &mut self,
        (fund, manager): (&str, &str),
        source: Value,
        amount: i64,
        day: Date,
    ) -> String {
        let id = self.next_id(if fund == "gmy-fund" { "n" } else { "k" });
        self.push(
            (day, 6),
            manager,
            "record_contribution",
            format!("fund/{fund}"),
            json!({"contribution_id": id, "source": source, "amount": amount, "date": day}),
            None,
        );
        let f = self.t.funds.get_mut(fund).expect("fund");
        f.balance += amount;
        f.contributed += amount;
        f.contributions += 1;
        f.trail.push((day, amount, f.balance));
        f.per_year.entry(day.year()).or_default().0 += amount;
        let unit = f.unit.clone();
        self.t
            .unit_year
            .entry((unit, day.year()))
            .or_default()
            .contributed += amount;
        id
    }

    fn disburse(
        &mut self,
        (fund, manager): (&str, &str),
        pid: &str,
        (help, value): (Value, i64),
        purpose: &str,
        day: Date,
    ) -> String {
        let p = self.pairing(pid);
        let h = p.household.clone();
        let through = p.team_on(day).expect("paired that day").lead.clone();
        let id = self.next_id(if fund == "gmy-fund" { "nd" } else { "kd" });
        self.push(
            (day, 6),
            manager,
            "disburse",
            format!("fund/{fund}"),
            json!({"disbursement_id": id, "household": h, "through": through, "help": help,
                   "purpose": purpose, "date": day}),
            Some((&h, 1)),
        );
        let f = self.t.funds.get_mut(fund).expect("fund");
        assert!(value <= f.balance, "the plan never overdraws {fund}");
        f.balance -= value;
        f.disbursed += value;
        f.disbursements += 1;
        f.trail.push((day, -value, f.balance));
        f.per_year.entry(day.year()).or_default().1 += value;
        f.disbursed_to.insert(id.clone(), (h.clone(), value, day));
        let unit = f.unit.clone();
        self.t
            .unit_year
            .entry((unit, day.year()))
            .or_default()
            .disbursed += value;
        let r = self.t.receipts.get_mut(&h).expect("household");
        r.count += 1;
        r.value += value;
        r.from_funds += 1;
        self.t
            .disbursements_of
            .entry(h)
            .or_default()
            .push((fund.to_owned(), id.clone(), day));
        id
    }

    fn acknowledge_disbursement(&mut self, fund: &str, id: &str, day: Date) {
        let (h, _, _) = self.t.funds[fund].disbursed_to[id].clone();
        assert!(has_card(&h));
        self.push(
            (day.min(final_day()), 7),
            &card(&h),
            "acknowledge_disbursement",
            format!("fund/{fund}"),
            json!({"disbursement_id": id}),
            Some((&h, 1)),
        );
        self.t.receipts.get_mut(&h).expect("household").acknowledged += 1;
    }

    fn reverse(&mut self, (fund, manager): (&str, &str), id: &str, day: Date, reason: &str) {
        let (h, value, _) = self.t.funds[fund].disbursed_to[id].clone();
        self.push(
            (day, 6),
            manager,
            "reverse_disbursement",
            format!("fund/{fund}"),
            json!({"disbursement_id": id, "reason": reason}),
            Some((&h, 1)),
        );
        let f = self.t.funds.get_mut(fund).expect("fund");
        f.balance += value;
        f.reversed += value;
        // A reversal names no date of its own: it is dated the day it is recorded, in the trail
        // and in the year's totals alike (docs/projections.md).
        f.trail.push((day, value, f.balance));
        f.per_year.entry(day.year()).or_default().2 += value;
        let unit = f.unit.clone();
        self.t
            .unit_year
            .entry((unit, day.year()))
            .or_default()
            .reversed += value;
        self.t.receipts.get_mut(&h).expect("household").reversed += 1;
    }

    /// A disbursement of more than the balance: the log must refuse it and stay as it was.
    fn overdraft(&mut self, (fund, manager): (&str, &str), pid: &str, requested: i64, day: Date) {
        let p = self.pairing(pid);
        let h = p.household.clone();
        let through = p.team_on(day).expect("paired that day").lead.clone();
        let balance = self.t.funds[fund].balance;
        assert!(requested > balance);
        let id = self.next_id("over");
        self.push_expecting(
            (day, 6),
            manager,
            "disburse",
            format!("fund/{fund}"),
            json!({"disbursement_id": id, "household": h, "through": through,
                   "help": {"form": "cash", "amount": requested}, "purpose": "medical",
                   "date": day}),
            None,
            Expect::Overdraft {
                fund: fund.to_owned(),
                balance,
                requested,
            },
        );
        self.t.refused += 1;
    }

    /// A pairing paired on `day`, preferably one whose lead is in `unit` then.
    fn recipient(&mut self, unit: &str, day: Date) -> Option<String> {
        let n = HOUSEHOLDS as u64;
        let mut fallback = None;
        for _ in 0..12 {
            let pid = pairing_id(&household_id(self.rng.below(n) as usize));
            let Some(team) = self.pairing(&pid).team_on(day) else {
                continue;
            };
            if self.unit_of(&team.lead.clone(), day) == unit {
                return Some(pid);
            }
            fallback.get_or_insert(pid);
        }
        fallback
    }

    /// A unit's pool: each quarter the unit's budget and three salaries in, then six to nine
    /// disbursements out.
    fn pool(
        &mut self,
        fund: &str,
        manager: &str,
        reverse_in: Option<&str>,
        overdraft_in: Option<&str>,
    ) {
        let unit = self.t.funds[fund].unit.clone();
        let staff: Vec<String> = self
            .steady_cadres()
            .into_iter()
            .filter(|c| self.t.cadres[c].units[0].1 == unit && c != MOVING)
            .collect();
        let mut pending_reversal: Option<String> = None;
        let mut q = Quarter { year: 2016, q: 1 };
        while q.year <= 2018 {
            let day0 = q.first_day().add_days(9);
            if let Some(id) = pending_reversal.take() {
                self.reverse(
                    (fund, manager),
                    &id,
                    day0.add_days(-1),
                    "发放对象有误，款项退回",
                );
            }
            let amount = 10_000 * self.rng.range(50, 100);
            self.contribute(
                (fund, manager),
                json!({"kind": "unit", "unit": unit}),
                amount,
                day0,
            );
            for k in 0..3 {
                let cadre = staff[self.rng.below(staff.len() as u64) as usize].clone();
                let amount = 100 * self.rng.range(100, 500);
                self.contribute(
                    (fund, manager),
                    json!({"kind": "salary", "cadre": cadre}),
                    amount,
                    day0.add_days(1 + k),
                );
            }
            let n = self.rng.range(6, 9);
            let mut days: Vec<Date> = (0..n)
                .map(|_| self.rng.day(day0.add_days(6), q.last_day().add_days(-3)))
                .collect();
            days.sort();
            let mut paid = Vec::new();
            for day in days {
                let Some(pid) = self.recipient(&unit, day) else {
                    continue;
                };
                let help = if self.rng.chance(500) {
                    self.cash(200, 2000)
                } else {
                    self.goods()
                };
                if help.1 > self.t.funds[fund].balance {
                    continue;
                }
                let purpose = PURPOSES[self.rng.below(PURPOSES.len() as u64) as usize];
                let id = self.disburse((fund, manager), &pid, help, purpose, day);
                paid.push((id, day));
            }
            if reverse_in == Some(q.to_string().as_str()) {
                pending_reversal = paid.pop().map(|(id, _)| id);
                assert!(pending_reversal.is_some());
            }
            for (id, day) in paid {
                let h = self.t.funds[fund].disbursed_to[&id].0.clone();
                if has_card(&h) && self.rng.chance(500) {
                    let ack = day.add_days(self.rng.range(2, 10));
                    self.acknowledge_disbursement(fund, &id, ack);
                }
            }
            if overdraft_in == Some(q.to_string().as_str()) {
                let day = q.last_day().add_days(-1);
                let pid = self.recipient(&unit, day).expect("a recipient");
                let requested = self.t.funds[fund].balance + 50_000;
                self.overdraft((fund, manager), &pid, requested, day);
            }
            q = q.next();
        }
    }

    /// The named fund, by hand, so that its first-in-first-out allocation can be worked out on
    /// paper (amounts in fen):
    ///
    /// | date | movement | balance | queue after (contribution: unspent) |
    /// |---|---|---|---|
    /// | 2016-03-01 | n0001 society +1,000,000 | 1,000,000 | n0001: 1,000,000 |
    /// | 2016-03-05 | n0002 salary c00 +500,000 | 1,500,000 | n0001: 1,000,000, n0002: 500,000 |
    /// | 2016-04-10 | nd0001 h020 cash −300,000 | 1,200,000 | n0001: 700,000 (300,000 from n0001) |
    /// | 2016-06-01 | nd0002 h021 rice 10×12,000 + oil 5×8,000 = −160,000 | 1,040,000 | n0001: 540,000 |
    /// | 2016-09-12 | nd0003 h022 cash −800,000 | 240,000 | n0001 gives 540,000 and is spent; n0002 gives 260,000 → n0002: 240,000 |
    /// | 2016-10-08 | nd0002 reversed +160,000 | 400,000 | n0001 rejoins in front: n0001: 160,000, n0002: 240,000 |
    /// | 2016-11-01 | n0003 unit gulou +300,000 | 700,000 | n0001: 160,000, n0002: 240,000, n0003: 300,000 |
    /// | 2016-12-01 | 800,000 to h023: REFUSED, balance 700,000 | 700,000 | unchanged |
    /// | 2016-12-02 | nd0004 h023 cash −700,000 | 0 | n0001 160,000 + n0002 240,000 + n0003 300,000: empty |
    /// | 2017-03-01 | n0004 society +2,000,000 | 2,000,000 | n0004: 2,000,000 |
    /// | 2017-03-15 | nd0005 h024 cash −450,000 (acknowledged 03-20) | 1,550,000 | n0004: 1,550,000 |
    /// | 2017-09-20 | nd0006 h025 mooncakes 20×3,800 = −76,000 | 1,474,000 | n0004: 1,474,000 |
    /// | 2018-03-01 | n0005 salary c01 +600,000 | 2,074,000 | n0004: 1,474,000, n0005: 600,000 |
    /// | 2018-06-01 | nd0007 h026 cash −1,000,000 | 1,074,000 | n0004: 474,000, n0005: 600,000 |
    /// | 2019-01-20 | n0006 unit gulou +100,000 | 1,174,000 | n0004: 474,000, n0005: 600,000, n0006: 100,000 |
    ///
    /// So n0002 (500,000 from c00's salary) went 260,000 to h022 (nd0003) and 240,000 to h023
    /// (nd0004), none of it reversed, nothing left; n0001 went 300,000 to h020, 160,000 to h021
    /// (reversed), 540,000 to h022 and 160,000 to h023.
    fn named_fund(&mut self) {
        let fm = ("gmy-fund", "fm-named");
        let pid = |n: usize| pairing_id(&household_id(n));
        let n1 = self.contribute(
            fm,
            json!({"kind": "society", "donor": "鼓楼爱心企业"}),
            1_000_000,
            d("2016-03-01"),
        );
        let n2 = self.contribute(
            fm,
            json!({"kind": "salary", "cadre": "c00"}),
            500_000,
            d("2016-03-05"),
        );
        let nd1 = self.disburse(
            fm,
            &pid(20),
            (json!({"form": "cash", "amount": 300_000}), 300_000),
            "medical",
            d("2016-04-10"),
        );
        let nd2 = self.disburse(
            fm,
            &pid(21),
            (
                json!({"form": "in_kind", "items": [
                    {"name": "大米 (25 kg)", "quantity": 10, "unit_value": 12_000},
                    {"name": "食用油 (5 L)", "quantity": 5, "unit_value": 8_000}]}),
                160_000,
            ),
            "living",
            d("2016-06-01"),
        );
        let nd3 = self.disburse(
            fm,
            &pid(22),
            (json!({"form": "cash", "amount": 800_000}), 800_000),
            "schooling",
            d("2016-09-12"),
        );
        self.reverse(fm, &nd2, d("2016-10-08"), "发放对象有误");
        let n3 = self.contribute(
            fm,
            json!({"kind": "unit", "unit": "gulou"}),
            300_000,
            d("2016-11-01"),
        );
        self.overdraft(fm, &pid(23), 800_000, d("2016-12-01"));
        let nd4 = self.disburse(
            fm,
            &pid(23),
            (json!({"form": "cash", "amount": 700_000}), 700_000),
            "housing",
            d("2016-12-02"),
        );
        assert_eq!(self.t.funds["gmy-fund"].balance, 0);
        let n4 = self.contribute(
            fm,
            json!({"kind": "society", "donor": "郭明义爱心团队"}),
            2_000_000,
            d("2017-03-01"),
        );
        let nd5 = self.disburse(
            fm,
            &pid(24),
            (json!({"form": "cash", "amount": 450_000}), 450_000),
            "medical",
            d("2017-03-15"),
        );
        self.acknowledge_disbursement("gmy-fund", &nd5, d("2017-03-20"));
        self.disburse(
            fm,
            &pid(25),
            (
                json!({"form": "in_kind", "items": [{"name": "月饼", "quantity": 20, "unit_value": 3_800}]}),
                76_000,
            ),
            "festival",
            d("2017-09-20"),
        );
        let n5 = self.contribute(
            fm,
            json!({"kind": "salary", "cadre": "c01"}),
            600_000,
            d("2018-03-01"),
        );
        self.disburse(
            fm,
            &pid(26),
            (json!({"form": "cash", "amount": 1_000_000}), 1_000_000),
            "housing",
            d("2018-06-01"),
        );
        let n6 = self.contribute(
            fm,
            json!({"kind": "unit", "unit": "gulou"}),
            100_000,
            final_day(),
        );
        let h = household_id;
        self.t.fifo = vec![
            FifoTally {
                fund: "gmy-fund".into(),
                contribution: n2,
                amount: 500_000,
                allocations: vec![
                    (nd3.clone(), h(22), 260_000, false),
                    (nd4.clone(), h(23), 240_000, false),
                ],
                remaining: 0,
            },
            FifoTally {
                fund: "gmy-fund".into(),
                contribution: n1,
                amount: 1_000_000,
                allocations: vec![
                    (nd1, h(20), 300_000, false),
                    (nd2, h(21), 160_000, true),
                    (nd3, h(22), 540_000, false),
                    (nd4.clone(), h(23), 160_000, false),
                ],
                remaining: 0,
            },
            FifoTally {
                fund: "gmy-fund".into(),
                contribution: n3,
                amount: 300_000,
                allocations: vec![(nd4.clone(), h(23), 300_000, false)],
                remaining: 0,
            },
        ];
        self.t.named_queue = vec![(n4, 4, 474_000), (n5, 5, 600_000), (n6, 6, 100_000)];
    }

    fn funds(&mut self) {
        self.named_fund();
        self.pool("court-pool", "fm-court", Some("2016-Q4"), Some("2017-Q4"));
        self.pool("finance-pool", "c02-fm", None, None);
    }

    // --- requests (三单 / 办实事) ----------------------------------------------------------------

    fn request_step(
        &mut self,
        (pid, rid): (&str, &str),
        day: Date,
        signer: &str,
        command: &'static str,
        mut args: Value,
    ) {
        let h = self.pairing(pid).household.clone();
        args["request_id"] = json!(rid);
        self.push(
            (day, 4),
            signer,
            command,
            format!("pairing/{pid}"),
            args,
            Some((&h, 1)),
        );
    }

    fn requests(&mut self) {
        let stable = self.stable_pairings();
        let steady = self.steady_cadres();
        for k in 0..40usize {
            let pid = stable[self.rng.below(stable.len() as u64) as usize].clone();
            let p = self.pairing(&pid).clone();
            let h = p.household.clone();
            let lead = p.current().lead.clone();
            let rid = self.next_id("r");
            let day = self.rng.day(d("2016-03-01"), d("2018-11-30"));
            let card_holder = has_card(&h);
            let (signer, kind) = if card_holder && k % 2 == 0 {
                (card(&h), "order")
            } else if k % 3 == 0 {
                ("coord".to_owned(), "concrete_help")
            } else {
                (lead.clone(), "concrete_help")
            };
            let summary = SUMMARIES[k % SUMMARIES.len()];
            let key = (pid.as_str(), rid.as_str());
            self.request_step(
                key,
                day,
                &signer,
                "raise_request",
                json!({"kind": kind, "summary": summary, "date": day}),
            );
            let mut r = RequestTally {
                pairing: pid.clone(),
                state: "raised",
                responsible: lead.clone(),
                resolved_by: None,
                raised_on: day,
                steps: vec!["raised"],
            };
            let outcome = k % 8;
            let to = if k % 3 == 0 {
                steady[self.rng.below(steady.len() as u64) as usize].clone()
            } else {
                lead.clone()
            };
            let dispatch = |this: &mut Planner, r: &mut RequestTally| {
                this.request_step(
                    key,
                    day.add_days(2),
                    "coord",
                    "dispatch_request",
                    json!({"to": to}),
                );
                r.state = "dispatched";
                r.responsible = to.clone();
                r.steps.push("dispatched");
            };
            let accept = |this: &mut Planner, r: &mut RequestTally, by: &str| {
                this.request_step(key, day.add_days(4), by, "accept_request", json!({}));
                r.state = "accepted";
                r.responsible = by.to_owned();
                r.steps.push("accepted");
            };
            let resolve = |this: &mut Planner, r: &mut RequestTally, by: &str, after: i64| {
                this.request_step(
                    key,
                    day.add_days(after),
                    by,
                    "resolve_request",
                    json!({"outcome": "已协调解决", "date": day.add_days(after)}),
                );
                r.state = "resolved";
                r.resolved_by = Some(by.to_owned());
                r.steps.push("resolved");
            };
            match outcome {
                // Through the three orders to the household's confirmation (or, without a card,
                // resolved and left unconfirmed).
                0 | 1 | 7 => {
                    dispatch(self, &mut r);
                    accept(self, &mut r, &to);
                    resolve(self, &mut r, &to, 10);
                    if card_holder {
                        if outcome == 0 {
                            self.request_step(
                                key,
                                day.add_days(14),
                                &card(&h),
                                "confirm_resolution",
                                json!({}),
                            );
                            r.state = "confirmed";
                            r.steps.push("confirmed");
                        } else {
                            self.request_step(
                                key,
                                day.add_days(14),
                                &card(&h),
                                "dispute_resolution",
                                json!({"reason": "问题仍未解决"}),
                            );
                            r.state = "disputed";
                            r.steps.push("disputed");
                            if outcome == 7 {
                                // A paired cadre tries again, and the household confirms.
                                resolve(self, &mut r, &lead, 20);
                                self.request_step(
                                    key,
                                    day.add_days(24),
                                    &card(&h),
                                    "confirm_resolution",
                                    json!({}),
                                );
                                r.state = "confirmed";
                                r.steps.push("confirmed");
                            }
                        }
                    }
                }
                // Accepted by a paired cadre without dispatch, resolved, not confirmed.
                2 => {
                    accept(self, &mut r, &lead);
                    resolve(self, &mut r, &lead, 9);
                }
                3 => {
                    dispatch(self, &mut r);
                    accept(self, &mut r, &to);
                }
                4 => dispatch(self, &mut r),
                5 => {}
                _ => {
                    self.request_step(
                        key,
                        day.add_days(3),
                        "coord",
                        "close_request",
                        json!({"reason": "重复提交"}),
                    );
                    r.state = "closed";
                    r.steps.push("closed");
                }
            }
            self.t.requests.insert(format!("{pid}/{rid}"), r);
        }

        // Accepted by the retiring cadre, carried by the handover to the new lead, who resolves.
        let pid = self
            .t
            .pairings
            .values()
            .filter(|p| {
                p.spells[0].cadres.contains(RETIRING)
                    && p.spells.len() == 2
                    && p.spells[1].cadres.len() == 1
            })
            .map(|p| p.id.clone())
            .find(|pid| has_card(&self.pairing(pid).household))
            .expect("a card household handed over by the retiring cadre");
        let rid = self.next_id("r");
        let key = (pid.as_str(), rid.as_str());
        let new_lead = self.pairing(&pid).spells[1].lead.clone();
        let h = self.pairing(&pid).household.clone();
        let day = d("2017-04-20");
        self.request_step(
            key,
            day,
            "coord",
            "raise_request",
            json!({"kind": "concrete_help", "summary": "房屋漏雨维修", "date": day}),
        );
        self.request_step(
            key,
            d("2017-04-22"),
            "coord",
            "dispatch_request",
            json!({"to": RETIRING}),
        );
        self.request_step(key, d("2017-04-25"), RETIRING, "accept_request", json!({}));
        self.request_step(
            key,
            d("2017-06-10"),
            &new_lead,
            "resolve_request",
            json!({"outcome": "已维修", "date": "2017-06-10"}),
        );
        self.request_step(
            key,
            d("2017-06-15"),
            &card(&h),
            "confirm_resolution",
            json!({}),
        );
        self.t.carried_request = format!("{pid}/{rid}");
        self.t.requests.insert(
            format!("{pid}/{rid}"),
            RequestTally {
                pairing: pid.clone(),
                state: "confirmed",
                responsible: new_lead.clone(),
                resolved_by: Some(new_lead),
                raised_on: day,
                steps: vec![
                    "raised",
                    "dispatched",
                    "accepted",
                    "carried",
                    "resolved",
                    "confirmed",
                ],
            },
        );
    }

    // --- inspection and evaluation -----------------------------------------------------------

    fn spot_check(&mut self) {
        let stable = self.stable_pairings();
        let target = format!("spot_check/{CAMPAIGN}");
        let mut sample: Vec<String> = Vec::new();
        // 10% of the households.
        while sample.len() < HOUSEHOLDS / 10 {
            let pid = &stable[self.rng.below(stable.len() as u64) as usize];
            let h = self.pairing(pid).household.clone();
            if !sample.contains(&h) {
                sample.push(h);
            }
        }
        self.push(
            (d("2018-01-15"), 8),
            "insp",
            "open_campaign",
            target.clone(),
            json!({"program": PROGRAM, "year": ASSESSED_YEAR}),
            None,
        );
        self.push(
            (d("2018-01-16"), 8),
            "insp",
            "record_draw",
            target.clone(),
            json!({"checkpoint": "bangfu.example/gulou\n抽查检查点 2018-01-16", "sample": sample}),
            None,
        );
        let year = |date: Date| date.year() == ASSESSED_YEAR;
        for (k, h) in sample.iter().take(12).enumerate() {
            let day = d("2018-01-20").add_days(2 * k as i64);
            let pid = pairing_id(h);
            let p = self.pairing(&pid).clone();
            let unreachable = k == 5;
            let mut findings = Vec::new();
            let visits = p
                .visits
                .iter()
                .filter(|v| !v.retracted && year(v.date) && v.recorded < day)
                .take(3);
            for (n, v) in visits.enumerate() {
                let result = if unreachable {
                    self.t.spot.unreachable += 1;
                    "unreachable"
                } else if n == 0 && (k == 3 || k == 7) {
                    self.t.spot.not_confirmed += 1;
                    "not_confirmed"
                } else {
                    self.t.spot.confirmed += 1;
                    "confirmed"
                };
                findings
                    .push(json!({"subject": format!("visit/{pid}/{}", v.id), "result": result}));
            }
            if !unreachable {
                if let Some((id, _)) = p.donations.iter().find(|(_, date)| year(*date)) {
                    findings.push(
                        json!({"subject": format!("donation/{pid}/{id}"), "result": "confirmed"}),
                    );
                    self.t.spot.confirmed += 1;
                }
                if let Some((fund, id, _)) = self
                    .t
                    .disbursements_of
                    .get(h)
                    .and_then(|ds| ds.iter().find(|(_, _, date)| year(*date)).cloned())
                {
                    findings.push(json!({"subject": format!("disbursement/{fund}/{id}"), "result": "confirmed"}));
                    self.t.spot.confirmed += 1;
                }
            }
            let mut args = json!({"household": h, "method": if k % 2 == 0 && !unreachable { "on_site" } else { "phone" },
                                  "date": day, "findings": findings});
            if !unreachable {
                args["satisfaction"] = json!(3 + k % 3);
                args["notes"] = sealed("住户反映帮扶干部常来看望");
            }
            self.push(
                (day, 8),
                "insp",
                "record_revisit",
                target.clone(),
                args,
                Some((h, 1)),
            );
            self.t.spot.revisits += 1;
        }
        self.push(
            (d("2018-02-12"), 8),
            "insp",
            "close_campaign",
            target,
            json!({}),
            None,
        );
        self.t.spot.sample = sample;
    }

    fn assessment(&mut self) {
        self.push_expecting(
            (d("2018-02-20"), 9),
            "eval",
            "publish_assessment",
            format!("assessment/{PROGRAM}:{ASSESSED_YEAR}"),
            json!({}),
            None,
            Expect::Publish {
                year: ASSESSED_YEAR,
            },
        );
        // Everyone with a stint on the program's pairings during the year is scored.
        let (from, to) = (
            Date::from_ymd(ASSESSED_YEAR, 1, 1).expect("date"),
            Date::from_ymd(ASSESSED_YEAR, 12, 31).expect("date"),
        );
        for p in self.t.pairings.values() {
            for (k, s) in p.spells.iter().enumerate() {
                let until = p.spells.get(k + 1).map(|n| n.from).or(p.ended);
                if s.from <= to && until.is_none_or(|u| u > from) {
                    self.t.scored.extend(s.cadres.iter().cloned());
                }
            }
        }
    }

    fn finish(&mut self) {
        for p in self.t.pairings.values_mut() {
            // In log order: by the day recorded, then as planned.
            p.visits.sort_by_key(|v| v.recorded);
            for v in &p.visits {
                if v.date.days_until(v.recorded) > LATE_AFTER_DAYS {
                    p.late_visits += 1;
                }
                if !v.retracted && festival_on(v.date).is_some() {
                    *p.festival_visits
                        .entry(v.date.quarter().to_string())
                        .or_default() += 1;
                }
            }
        }
        self.actions.sort_by_key(|a| (a.day, a.phase, a.seq));
    }
}

// ---------------------------------------------------------------------------------------------
// Appending.

pub struct Scenario {
    pub t: Tallies,
    actions: Vec<Action>,
    next: usize,
    holders: HashMap<String, String>,
    keys: HashMap<String, SigningKey>,
    clock: Arc<AtomicI64>,
    /// The day the clock was last set to, and how many groups were recorded that day.
    clock_day: Option<(Date, i64)>,
    statements: u64,
}

impl Scenario {
    /// Plans the whole story and the tallies; nothing is appended yet.
    pub fn new(seed: u64) -> Scenario {
        let mut p = Planner {
            rng: Rng::new(seed),
            actions: Vec::new(),
            t: Tallies::default(),
            holders: HashMap::new(),
            counters: HashMap::new(),
        };
        p.setup();
        p.pairings();
        p.cadre_changes();
        p.visits();
        p.donations();
        p.funds();
        p.requests();
        p.spot_check();
        p.assessment();
        p.finish();
        Scenario {
            t: p.t,
            actions: p.actions,
            next: 0,
            holders: p.holders,
            keys: HashMap::new(),
            clock: Arc::new(AtomicI64::new(0)),
            clock_day: None,
            statements: 0,
        }
    }

    /// The log's clock: the moment the story is at.
    pub fn clock(&self) -> Clock {
        let now = self.clock.clone();
        Box::new(move || now.load(Ordering::SeqCst))
    }

    /// Statements planned (including the ones the log must refuse).
    pub fn planned(&self) -> usize {
        self.actions.len()
    }

    pub fn finished(&self) -> bool {
        self.next == self.actions.len()
    }

    /// The key holder behind a signer's key name (`cadre/c05`, `household/h003`, …).
    pub fn holder(&self, signer: &str) -> &str {
        &self.holders[signer]
    }

    /// Sets the clock to `day` (China time), a minute later for each group recorded that day.
    fn set_clock(&mut self, day: Date) {
        let minute = match self.clock_day {
            Some((d, m)) if d == day => m + 1,
            _ => 0,
        };
        self.clock_day = Some((day, minute));
        let (y, m, dd) = day.ymd();
        // 10:00 in Beijing, plus a minute per group; the same China day until late evening.
        let ms = days_from_civil(y, m, dd) * 86_400_000 + 2 * 3_600_000 + minute.min(600) * 60_000;
        self.clock.store(ms, Ordering::SeqCst);
    }

    fn sign(&mut self, at: usize) -> VerifiedStatement {
        let a = &self.actions[at];
        let sk = self
            .keys
            .entry(a.signer.clone())
            .or_insert_with(|| key(&a.signer))
            .clone();
        self.statements += 1;
        // Clear of bytes 6 and 8 (UUID version and variant).
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(b"bfps");
        id[9..16].copy_from_slice(&self.statements.to_be_bytes()[1..]);
        let signed_at = Timestamp::from_unix_millis(self.clock.load(Ordering::SeqCst) - 30_000)
            .expect("a valid instant");
        Statement::sign(
            Body {
                id: StatementId::from_random_bytes(id),
                command: CommandName::parse(a.command).expect("command"),
                target: Target::parse(&a.target).expect("target"),
                args: a.args.as_object().cloned().expect("args are an object"),
                signed_at,
                key: PublicKey::from(&sk),
            },
            &sk,
        )
        .expect("signs")
        .verified()
        .expect("verifies")
    }

    fn label(&self, at: usize) -> String {
        let a = &self.actions[at];
        format!("{} {} on {} by {}", a.day, a.command, a.target, a.signer)
    }

    fn accepted(&mut self, at: usize, receipt: &Receipt) {
        let a = &self.actions[at];
        assert_eq!(
            receipt.index,
            self.t.days.len() as u64,
            "only the scenario appends to this log"
        );
        self.t.days.push(a.day);
        if let Some((h, rows)) = &a.timeline {
            let signer = self.holders[&a.signer].clone();
            self.t
                .timeline
                .entry(h.clone())
                .or_default()
                .push((receipt.index, *rows, signer));
        }
    }

    /// Appends every planned statement recorded on or before `until`, in the story's order.
    pub async fn run_until<B: Backend>(&mut self, log: &Log<B>, until: Date) {
        while self.next < self.actions.len() && self.actions[self.next].day <= until {
            let day = self.actions[self.next].day;
            let mut end = self.next;
            while end < self.actions.len()
                && end - self.next < 256
                && self.actions[end].day == day
                && matches!(self.actions[end].expect, Expect::Accepted)
            {
                end += 1;
            }
            self.set_clock(day);
            if end == self.next {
                self.special(log).await;
                self.next += 1;
                continue;
            }
            let statements: Vec<VerifiedStatement> =
                (self.next..end).map(|k| self.sign(k)).collect();
            let results = append_in_order(log, statements).await;
            for (k, result) in (self.next..end).zip(results) {
                match result {
                    Ok(receipt) => self.accepted(k, &receipt),
                    Err(e) => panic!("{} refused: {e}", self.label(k)),
                }
            }
            self.next = end;
        }
    }

    /// An overdraft attempt or the assessment: one statement on its own.
    async fn special<B: Backend>(&mut self, log: &Log<B>) {
        let at = self.next;
        match self.actions[at].expect.clone() {
            Expect::Accepted => unreachable!("grouped"),
            Expect::Overdraft {
                fund,
                balance,
                requested,
            } => {
                let before = log.size().await.expect("size");
                let statement = self.sign(at);
                match log.append(statement).await {
                    Err(AppendError::Refused(DomainError::Overdraft {
                        fund: f,
                        balance: b,
                        requested: r,
                    })) => {
                        assert_eq!((f, b, r), (fund, balance, requested), "{}", self.label(at));
                    }
                    other => panic!(
                        "{}: expected an overdraft refusal, got {other:?}",
                        self.label(at)
                    ),
                }
                assert_eq!(
                    log.size().await.expect("size"),
                    before,
                    "a refused statement leaves the log as it was"
                );
            }
            Expect::Publish { year } => {
                let size = log.size().await.expect("size");
                let program = ProgramId::new(PROGRAM).expect("program id");
                let past = projector::as_of(log.backend(), size).await.expect("as of");
                let a = scores::assess(&past, &program, year).await.expect("assess");
                let cadres: BTreeMap<String, i64> = a
                    .cadres
                    .iter()
                    .map(|c| (c.cadre.as_str().to_owned(), c.total))
                    .collect();
                let units: BTreeMap<String, i64> = a
                    .units
                    .iter()
                    .map(|u| (u.unit.as_str().to_owned(), u.total))
                    .collect();
                self.actions[at].args = json!({
                    "program": PROGRAM, "year": year, "log_size": size, "formula": a.formula,
                    "cadres": cadres.iter().map(|(c, p)| json!({"cadre": c, "points": p})).collect::<Vec<_>>(),
                    "units": units.iter().map(|(u, p)| json!({"unit": u, "points": p})).collect::<Vec<_>>(),
                });
                let statement = self.sign(at);
                let receipt = log
                    .append(statement)
                    .await
                    .unwrap_or_else(|e| panic!("{} refused: {e}", self.label(at)));
                self.accepted(at, &receipt);
                self.t.published = Some(Published {
                    year,
                    log_size: size,
                    index: receipt.index,
                    cadres,
                    units,
                });
            }
        }
    }
}

/// Sends the statements to the log's writer in order, all at once, so it can commit them as one
/// group, and waits for every answer. The first poll of each append enqueues it, in index order.
async fn append_in_order<B: Backend>(
    log: &Log<B>,
    statements: Vec<VerifiedStatement>,
) -> Vec<Result<Receipt, AppendError>> {
    type Append<'a> = Pin<Box<dyn Future<Output = Result<Receipt, AppendError>> + 'a>>;
    let mut pending: Vec<Append<'_>> = statements
        .into_iter()
        .map(|s| Box::pin(log.append(s)) as Append<'_>)
        .collect();
    let mut out: Vec<Option<Result<Receipt, AppendError>>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (f, o) in pending.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(r) => *o = Some(r),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every append answered"))
        .collect()
}
