//! The story, planned before anything is signed: every statement of the district's year with the
//! day it is recorded on. Drawn from a seeded generator, so it is the same every run.
//!
//! The plan keeps what later steps need to know (each pairing's teams and visits, who received
//! what), because three statements can only be written while the log is being played: the
//! spot-check draw names the checkpoint the log signs at that moment, its revisits depend on the
//! sample, and the assessment publishes scores computed from the log. Those are [`Expect::Draw`] and
//! [`Expect::Publish`]; the overdraft the log must refuse is [`Expect::Overdraft`].

use super::names::{self, DISTRICT, DONORS, STREETS, UNITS};
use super::rng::{Rng, sha256};
use bangfu_domain::date::Date;
use bangfu_ledger::Hash;
use bangfu_ledger::seal::{Opening, SALT_LEN, commitments_in};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The genesis target is `authority/<AUTHORITY>`.
pub const AUTHORITY: &str = "qinghe";
pub const PROGRAM: &str = "qinghe2016";
pub const CAMPAIGN: &str = "qinghe2016-2016";
/// The year that is inspected and assessed.
pub const YEAR: i64 = 2016;
/// The program's rule: a visit recorded more than this many days after its date is late.
pub const LATE_AFTER_DAYS: i64 = 7;
pub const SPOT_CHECK_PER_MILLE: usize = 100;

/// The district's unified pool, the court's own pool, and the named fund.
pub const POOL: &str = "qinghe-pool";
pub const COURT_POOL: &str = "court-pool";
pub const NAMED_FUND: &str = "aixin-fund";
const COURT: &str = "court";

/// The festival periods of the program's rules: visits dated inside count as festival visits.
pub const FESTIVALS: [(&str, &str, &str); 4] = [
    ("春节", "2016-01-31", "2016-02-14"),
    ("端午", "2016-06-06", "2016-06-12"),
    ("中秋", "2016-09-10", "2016-09-18"),
    ("春节", "2017-01-20", "2017-02-05"),
];

/// The story's first and last days.
pub const FIRST_DAY: &str = "2016-01-04";
pub const LAST_DAY: &str = "2017-02-20";

/// A date written in the plan's own constants. They are all valid; a typo would be caught by the
/// demo's test on the first run, and falls back to the first day rather than panicking.
pub fn d(s: &str) -> Date {
    Date::parse(s).unwrap_or_else(|_| {
        Date::from_ymd(2016, 1, 4).unwrap_or_else(|_| unreachable!("2016-01-04 is a date"))
    })
}

/// How big the district is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// About Gulou's size: 480 cadres, 500 households.
    Full,
    /// A tenth, for tests of the unoptimised build.
    Small,
}

#[derive(Clone, Copy, Debug)]
struct Sizes {
    cadres: usize,
    leaders: usize,
    households: usize,
}

impl Scale {
    fn sizes(self) -> Sizes {
        match self {
            Scale::Full => Sizes {
                cadres: 480,
                leaders: 40,
                households: 500,
            },
            Scale::Small => Sizes {
                cadres: 48,
                leaders: 4,
                households: 50,
            },
        }
    }
}

/// What the log must do with a planned statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Accepted,
    /// A disbursement larger than the fund holds: the log must refuse it.
    Overdraft,
    /// `record_draw`: the checkpoint and sample are filled in from the log at that moment.
    Draw,
    /// `publish_assessment`: the scores are computed from the log at that moment.
    Publish,
}

#[derive(Clone, Debug)]
pub struct Action {
    pub day: Date,
    /// Order within a day: directory 0, pairings 1, handovers proposed 2, accepted 3, records 4,
    /// cadre changes 5, money 6, acknowledgements 7, inspection 8, assessment 9.
    pub phase: u8,
    pub seq: usize,
    /// The key's name (see [`Story::holder`]).
    pub signer: String,
    pub command: &'static str,
    pub target: String,
    pub args: Value,
    pub expect: Expect,
}

impl Action {
    pub fn order(&self) -> (Date, u8, usize) {
        (self.day, self.phase, self.seq)
    }
}

pub struct Cadre {
    pub id: String,
    pub unit: &'static str,
    pub leader: bool,
}

pub struct Household {
    pub id: String,
    pub card: bool,
    pub community: &'static str,
}

/// A period with the same team, from `from` until the next spell or the end.
#[derive(Clone, Debug)]
pub struct Spell {
    pub from: Date,
    pub cadres: BTreeSet<String>,
    pub lead: String,
}

#[derive(Clone, Debug)]
pub struct Visit {
    pub id: String,
    pub date: Date,
    pub recorded: Date,
    pub retracted: bool,
}

#[derive(Clone, Debug)]
pub struct Pairing {
    pub id: String,
    pub household: usize,
    pub formed: Date,
    pub spells: Vec<Spell>,
    pub ended: Option<Date>,
    /// Never handed over nor ended: requests and late records are planned only on these.
    pub stable: bool,
    pub visits: Vec<Visit>,
    /// Personal donations: id and date.
    pub donations: Vec<(String, Date)>,
}

impl Pairing {
    /// The team on `day`, if the pairing was active then.
    pub fn team_on(&self, day: Date) -> Option<&Spell> {
        if day < self.formed || self.ended.is_some_and(|e| day >= e) {
            return None;
        }
        self.spells.iter().rev().find(|s| s.from <= day)
    }
}

/// The refused overdraft, for the summary.
#[derive(Clone, Debug, Default)]
pub struct Refusal {
    pub fund: String,
    pub balance: i64,
    pub requested: i64,
}

pub struct Story {
    rng: Rng,
    pub actions: Vec<Action>,
    pub cadres: Vec<Cadre>,
    pub leaders: usize,
    pub households: Vec<Household>,
    pub pairings: Vec<Pairing>,
    /// Key name → holder (`cadre/c001`, `household/h001`, `person/…`).
    holders: HashMap<String, String>,
    /// Per household index: (fund, disbursement id, date), for the spot check's findings.
    disbursed_to: BTreeMap<usize, Vec<(String, String, Date)>>,
    pub refusal: Refusal,
    /// Handovers: (pairing, reason).
    pub handovers: Vec<(String, String)>,
    /// Every sealed value's opening, by commitment: the vault rows, stored as their statements
    /// are accepted.
    openings: HashMap<Hash, Opening>,
    counters: HashMap<&'static str, u64>,
    salts: u64,
    /// The next action's `seq` (actions planned later, the revisits, keep counting).
    seq: usize,
}

impl Story {
    /// Plans the whole story; nothing is signed yet.
    pub fn plan(scale: Scale) -> Story {
        let sizes = scale.sizes();
        let mut s = Story {
            rng: Rng::new(0x6261_6e67_6675_2016),
            actions: Vec::new(),
            cadres: Vec::new(),
            leaders: sizes.leaders,
            households: Vec::new(),
            pairings: Vec::new(),
            holders: HashMap::new(),
            disbursed_to: BTreeMap::new(),
            refusal: Refusal::default(),
            handovers: Vec::new(),
            openings: HashMap::new(),
            counters: HashMap::new(),
            salts: 0,
            seq: 0,
        };
        s.directory(sizes);
        s.form_pairings();
        s.cadre_changes();
        s.visits();
        s.personal_donations();
        s.funds();
        s.requests();
        s.inspection();
        s.sort();
        s
    }

    /// The key holder behind a key name.
    pub fn holder(&self, key: &str) -> &str {
        self.holders.get(key).map_or("?", String::as_str)
    }

    fn sort(&mut self) {
        self.actions.sort_by_key(Action::order);
    }

    fn next_id(&mut self, prefix: &'static str) -> String {
        let n = self.counters.entry(prefix).or_insert(0);
        *n += 1;
        format!("{prefix}{n:04}")
    }

    /// A sealed value, its opening kept for the vault. The salt is derived, not random, so the
    /// demo is reproducible; a real client draws 16 random bytes.
    fn sealed(&mut self, text: &str) -> Value {
        self.salts += 1;
        let digest = sha256(&[b"bangfu demo salt", &self.salts.to_be_bytes()]);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&digest[..SALT_LEN]);
        match Opening::new(json!(text), salt) {
            Ok(o) => {
                let sealed = o.commitment.to_json();
                self.openings.insert(o.commitment.0, o);
                sealed
            }
            Err(_) => Value::Null,
        }
    }

    /// The openings of the sealed values in an action's arguments: what the vault keeps once its
    /// statement is accepted.
    pub fn openings_of(&self, a: &Action) -> Vec<Opening> {
        let mut found = Vec::new();
        commitments_in(&a.args, &mut found);
        found
            .iter()
            .filter_map(|c| self.openings.get(&c.0).cloned())
            .collect()
    }

    fn push(
        &mut self,
        (day, phase): (Date, u8),
        signer: &str,
        command: &'static str,
        target: String,
        args: Value,
    ) {
        self.push_expecting(
            (day, phase),
            signer,
            command,
            target,
            args,
            Expect::Accepted,
        );
    }

    fn push_expecting(
        &mut self,
        (day, phase): (Date, u8),
        signer: &str,
        command: &'static str,
        target: String,
        args: Value,
        expect: Expect,
    ) {
        let seq = self.seq;
        self.seq += 1;
        self.actions.push(Action {
            day,
            phase,
            seq,
            signer: signer.to_owned(),
            command,
            target,
            args,
            expect,
        });
    }

    fn pairing_target(&self, p: usize) -> String {
        format!("pairing/{}", self.pairings[p].id)
    }

    fn card(&self, h: usize) -> Option<String> {
        let hh = &self.households[h];
        hh.card.then(|| format!("card-{}", hh.id))
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
            format!("authority/{AUTHORITY}"),
            json!({"key": super::play::public_key(name), "holder": holder, "roles": [role]}),
        );
        self.holders.insert(name.to_owned(), holder.to_owned());
    }

    fn directory(&mut self, sizes: Sizes) {
        let day = d(FIRST_DAY);
        self.push(
            (day, 0),
            "authority",
            "genesis",
            format!("authority/{AUTHORITY}"),
            json!({"origin": names::ORIGIN, "name": names::AUTHORITY_NAME,
                   "holder": "person/zzb-office", "roles": ["coordinator"]}),
        );
        self.holders
            .insert("authority".into(), "person/zzb-office".into());
        for (name, holder, role) in [
            ("coord", "person/zzb-coordinator", "coordinator"),
            ("fm-pool", "person/finance-fund-office", "fund_manager"),
            ("fm-aixin", "person/aixin-fund-office", "fund_manager"),
            ("insp", "person/jiwei-inspector", "inspector"),
            ("eval", "person/kaohe-committee", "evaluator"),
        ] {
            self.register_key(day, name, holder, role);
        }
        for (k, (id, name, kind)) in UNITS.iter().enumerate() {
            let mut args = json!({"name": name, "kind": kind.as_str()});
            if k > 0 {
                args["parent"] = json!(UNITS[0].0);
            }
            self.push(
                (day, 0),
                "coord",
                "register_unit",
                format!("unit/{id}"),
                args,
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
            json!({"name": names::PROGRAM_NAME, "rules": {
                "min_visits_per_quarter": 1, "festivals": festivals,
                "spot_check_per_mille": SPOT_CHECK_PER_MILLE, "late_after_days": LATE_AFTER_DAYS,
                "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                            "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}}}),
        );

        // Cadres: the district's secretary and head, the units' heads and deputies, then every
        // section-level cadre, spread over the units.
        let names = names::cadre_names(&mut self.rng, sizes.cadres);
        for (n, name) in names.into_iter().enumerate() {
            let leader = n < sizes.leaders;
            let (unit, rank) = if n < 2 {
                (UNITS[0].0, "bureau")
            } else if leader {
                let u = 1 + (n - 2) % (UNITS.len() - 1);
                let rank = if n - 2 < UNITS.len() - 1 {
                    "division"
                } else {
                    "deputy_division"
                };
                (UNITS[u].0, rank)
            } else {
                let u = 1 + (n - sizes.leaders) % (UNITS.len() - 1);
                let rank = if self.rng.chance(450) {
                    "section"
                } else {
                    "deputy_section"
                };
                (UNITS[u].0, rank)
            };
            let id = format!("c{:03}", n + 1);
            let party_member = leader || !self.rng.chance(70);
            self.push(
                (day, 0),
                "coord",
                "register_cadre",
                format!("cadre/{id}"),
                json!({"name": name, "unit": unit, "rank": rank, "party_member": party_member,
                       "date": day}),
            );
            self.register_key(day, &id, &format!("cadre/{id}"), "cadre");
            self.cadres.push(Cadre { id, unit, leader });
        }

        // The court manages its own pool: its first cadre holds a second key for it.
        let court_manager = self.court_manager();
        self.register_key(
            day,
            &format!("{court_manager}-fm"),
            &format!("cadre/{court_manager}"),
            "fund_manager",
        );
        for (id, name, kind, unit, manager) in [
            (
                POOL,
                "清河区帮扶资金统一账户",
                "unit_pool",
                UNITS[0].0,
                "person/finance-fund-office".to_owned(),
            ),
            (
                COURT_POOL,
                "区人民法院干部帮扶资金",
                "unit_pool",
                COURT,
                format!("cadre/{court_manager}"),
            ),
            (
                NAMED_FUND,
                "爱心助困基金",
                "named",
                UNITS[0].0,
                "person/aixin-fund-office".to_owned(),
            ),
        ] {
            self.push(
                (day, 0),
                "coord",
                "create_fund",
                format!("fund/{id}"),
                json!({"name": name, "kind": kind, "unit": unit, "manager": manager}),
            );
        }

        // Households: the hardest cases first (the leaders take them), then the archives of each
        // street, one street a week.
        const CATEGORIES: [(&str, u64); 6] = [
            ("minimum_living_allowance", 350),
            ("illness", 250),
            ("disability", 150),
            ("laid_off", 100),
            ("extreme_hardship", 50),
            ("other", 100),
        ];
        const HARDEST: [&str; 3] = ["extreme_hardship", "illness", "disability"];
        const HARDSHIP: [&str; 6] = [
            "户主长期患病，丧失劳动能力",
            "家中有重病患者，医疗负担重",
            "家庭成员残疾，无稳定收入",
            "夫妻双方下岗，子女在读",
            "孤寡老人，无人照料",
            "房屋老旧，收入低于低保线",
        ];
        for n in 0..sizes.households {
            let id = format!("h{:03}", n + 1);
            let street = n % STREETS.len();
            let community = STREETS[street].1[(n / STREETS.len()) % 3];
            let hardest = n < sizes.leaders;
            let registered = if hardest {
                d("2016-01-05")
            } else {
                d("2016-01-11").add_days(7 * street as i64)
            };
            let category = if hardest {
                HARDEST[n % HARDEST.len()]
            } else {
                let mut roll = self.rng.below(1000);
                let mut pick = CATEGORIES[0].0;
                for (c, weight) in CATEGORIES {
                    if roll < weight {
                        pick = c;
                        break;
                    }
                    roll -= weight;
                }
                pick
            };
            let members = if hardest {
                self.rng.range(2, 5)
            } else {
                self.rng.range(1, 6)
            };
            let card = self.rng.chance(if hardest { 900 } else { 850 });
            let hardship = HARDSHIP[self.rng.below(HARDSHIP.len() as u64) as usize];
            let id_number = format!("3501{:014}", self.rng.below(100_000_000_000_000));
            let mut sensitive = json!({"hardship": self.sealed(hardship),
                                       "id_number": self.sealed(&id_number)});
            if card {
                let phone = format!("13{:09}", self.rng.below(1_000_000_000));
                sensitive["phone"] = self.sealed(&phone);
            }
            self.push(
                (registered, 0),
                "coord",
                "register_household",
                format!("household/{id}"),
                json!({"address": {"district": DISTRICT, "street": STREETS[street].0,
                                   "community": community},
                       "category": category, "members": members, "sensitive": sensitive,
                       "date": registered}),
            );
            if card {
                // The contact card (干群联系卡): its own key, registered to the household.
                let key = format!("card-{id}");
                self.register_key(registered, &key, &format!("household/{id}"), "household");
                self.push(
                    (registered, 0),
                    "coord",
                    "set_contact_key",
                    format!("household/{id}"),
                    json!({"key": super::play::public_key(&key)}),
                );
            }
            self.households.push(Household {
                id,
                card,
                community,
            });
        }
    }

    fn court_manager(&self) -> String {
        self.cadres
            .iter()
            .find(|c| c.unit == COURT)
            .or(self.cadres.first())
            .map_or_else(|| "c001".to_owned(), |c| c.id.clone())
    }

    fn unit_of(&self, cadre: &str) -> &'static str {
        self.cadres
            .iter()
            .find(|c| c.id == cadre)
            .map_or(UNITS[0].0, |c| c.unit)
    }

    // --- pairings and handovers --------------------------------------------------------------

    fn form_pairing(&mut self, h: usize, cadres: BTreeSet<String>, lead: String, day: Date) {
        let id = format!("{PROGRAM}:{}", self.households[h].id);
        self.push(
            (day, 1),
            "coord",
            "form_pairing",
            format!("pairing/{id}"),
            json!({"program": PROGRAM, "household": self.households[h].id, "cadres": cadres,
                   "lead": lead, "date": day}),
        );
        self.pairings.push(Pairing {
            id,
            household: h,
            formed: day,
            spells: vec![Spell {
                from: day,
                cadres,
                lead,
            }],
            ended: None,
            stable: true,
            visits: Vec::new(),
            donations: Vec::new(),
        });
    }

    fn form_pairings(&mut self) {
        // Leaders go first, each with one of the hardest cases; the secretary takes the first.
        for n in 0..self.leaders.min(self.households.len()) {
            let lead = self.cadres[n].id.clone();
            self.form_pairing(n, BTreeSet::from([lead.clone()]), lead, d("2016-01-08"));
        }
        // Then every section-level cadre, unit by unit, over four weeks after the Spring
        // Festival; some households get two cadres, some cadres two households.
        let section: Vec<String> = self.cadres[self.leaders..]
            .iter()
            .map(|c| c.id.clone())
            .collect();
        if section.is_empty() {
            return;
        }
        for (j, h) in (self.leaders..self.households.len()).enumerate() {
            let lead = section[j % section.len()].clone();
            let mut cadres = BTreeSet::from([lead.clone()]);
            if j % 20 == 7 && section.len() > 1 {
                cadres.insert(section[(j + 1) % section.len()].clone());
            }
            let unit = UNITS
                .iter()
                .position(|u| u.0 == self.unit_of(&lead))
                .unwrap_or(1)
                .max(1);
            let day = d("2016-02-22").add_days(((unit - 1) * 25 / (UNITS.len() - 2)) as i64);
            self.form_pairing(h, cadres, lead, day);
        }
    }

    /// Cadres on exactly one pairing, alone, whose household holds a card: a handover of theirs
    /// is easy to follow in the read models.
    fn single_pairing_cadres(&self) -> Vec<(String, usize)> {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &self.pairings {
            for c in &p.spells[0].cadres {
                *count.entry(c.as_str()).or_default() += 1;
            }
        }
        self.pairings
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                let team = &p.spells[0].cadres;
                team.len() == 1
                    && count.get(p.spells[0].lead.as_str()) == Some(&1)
                    && self.households[p.household].card
                    && !self
                        .cadres
                        .iter()
                        .any(|c| c.id == p.spells[0].lead && c.leader)
            })
            .map(|(k, p)| (p.spells[0].lead.clone(), k))
            .collect()
    }

    /// `incoming` take over from `outgoing`: proposed on `proposed`, accepted one by one on
    /// `accepts` (the last acceptance makes it effective).
    fn handover(
        &mut self,
        p: usize,
        outgoing: &str,
        incoming: &[String],
        (proposed, accepts): (Date, &[Date]),
        reason: &str,
    ) {
        let lead = incoming[0].clone();
        let target = self.pairing_target(p);
        self.push(
            (proposed, 2),
            "coord",
            "propose_handover",
            target.clone(),
            json!({"outgoing": [outgoing], "incoming": incoming, "lead": lead,
                   "date": proposed, "reason": reason}),
        );
        for (c, day) in incoming.iter().zip(accepts) {
            self.push((*day, 3), c, "accept_handover", target.clone(), json!({}));
        }
        let effective = accepts.last().copied().unwrap_or(proposed);
        let pairing = &mut self.pairings[p];
        let mut after = pairing.spells[pairing.spells.len() - 1].cadres.clone();
        after.remove(outgoing);
        after.extend(incoming.iter().cloned());
        pairing.spells.push(Spell {
            from: effective,
            cadres: after,
            lead,
        });
        pairing.stable = false;
        self.handovers
            .push((self.pairings[p].id.clone(), reason.to_owned()));
    }

    /// Section-level cadres of `unit` other than `not`, falling back to any.
    fn colleagues(&self, unit: &str, not: &[&str], n: usize) -> Vec<String> {
        let free = |c: &&Cadre| !c.leader && !not.contains(&c.id.as_str());
        let mut out: Vec<String> = self
            .cadres
            .iter()
            .filter(free)
            .filter(|c| c.unit == unit)
            .map(|c| c.id.clone())
            .take(n)
            .collect();
        for c in self.cadres.iter().filter(free) {
            if out.len() >= n {
                break;
            }
            if !out.contains(&c.id) {
                out.push(c.id.clone());
            }
        }
        out
    }

    fn cadre_changes(&mut self) {
        let singles = self.single_pairing_cadres();
        if singles.len() < 8 {
            return;
        }
        let (leaving, pl) = singles[singles.len() / 4].clone();
        let (retiring, pr) = singles[singles.len() / 2].clone();
        let ended_p = singles[3 * singles.len() / 4].1;
        let staying = singles[1].0.clone();

        // A transfer out of the district in July: handed over to a colleague first.
        let incoming = self.colleagues(self.unit_of(&leaving), &[&leaving, &retiring], 1);
        if !incoming.is_empty() {
            self.handover(
                pl,
                &leaving,
                &incoming,
                (d("2016-07-05"), &[d("2016-07-08")]),
                "原帮扶干部调离本区，由同单位干部接力帮扶",
            );
            self.push(
                (d("2016-07-15"), 5),
                "coord",
                "transfer_cadre",
                format!("cadre/{leaving}"),
                json!({"date": "2016-07-15"}),
            );
        }

        // A move between units: the cadre keeps their household.
        let to_unit = if self.unit_of(&staying) == "civil" {
            "hrss"
        } else {
            "civil"
        };
        self.push(
            (d("2016-09-01"), 5),
            "coord",
            "transfer_cadre",
            format!("cadre/{staying}"),
            json!({"to_unit": to_unit, "date": "2016-09-01"}),
        );

        // A retirement in October: two cadres take the household over jointly. The household's
        // request, accepted by the retiring cadre, passes to the new lead with the handover.
        let mut not = vec![retiring.as_str(), leaving.as_str()];
        not.extend(incoming.iter().map(String::as_str));
        let joint = self.colleagues(self.unit_of(&retiring), &not, 2);
        let h = self.pairings[pr].household;
        let target = self.pairing_target(pr);
        if let (Some(card), false) = (self.card(h), joint.is_empty()) {
            let rid = self.next_id("r");
            let step = |this: &mut Story, day: &str, phase: u8, signer: &str, cmd, args: Value| {
                let mut args = args;
                args["request_id"] = json!(rid);
                this.push((d(day), phase), signer, cmd, target.clone(), args);
            };
            step(
                self,
                "2016-10-10",
                4,
                &card,
                "raise_request",
                json!({"kind": "order", "summary": "冬季取暖", "date": "2016-10-10"}),
            );
            step(
                self,
                "2016-10-11",
                4,
                "coord",
                "dispatch_request",
                json!({"to": retiring}),
            );
            step(
                self,
                "2016-10-12",
                4,
                &retiring,
                "accept_request",
                json!({}),
            );
            self.handover(
                pr,
                &retiring,
                &joint,
                (
                    d("2016-10-20"),
                    &[d("2016-10-22"), d("2016-10-25")][..joint.len()],
                ),
                "原帮扶干部退休，两名干部共同接力帮扶",
            );
            self.push(
                (d("2016-10-31"), 5),
                "coord",
                "retire_cadre",
                format!("cadre/{retiring}"),
                json!({"date": "2016-10-31"}),
            );
            step(
                self,
                "2016-11-05",
                4,
                &joint[0],
                "resolve_request",
                json!({"outcome": "已送去取暖器和棉被", "date": "2016-11-05"}),
            );
            step(
                self,
                "2016-11-08",
                7,
                &card,
                "confirm_resolution",
                json!({}),
            );
        }

        // A household leaves hardship in December: its pairing ends.
        let end = d("2016-12-20");
        let target = self.pairing_target(ended_p);
        self.push(
            (end, 5),
            "coord",
            "end_pairing",
            target,
            json!({"date": end, "reason": "家庭成员稳定就业，收入超过低保标准"}),
        );
        let hid = self.households[self.pairings[ended_p].household].id.clone();
        self.push(
            (end, 5),
            "coord",
            "exit_hardship",
            format!("household/{hid}"),
            json!({"date": end, "reason": "稳定就业，脱离困难"}),
        );
        self.pairings[ended_p].ended = Some(end);
        self.pairings[ended_p].stable = false;
    }

    // --- visits ------------------------------------------------------------------------------

    /// When a visit is written up: mostly the same day, sometimes a few days later, and (stable
    /// pairings only) now and then weeks later, which the program counts as late.
    fn record_day(&mut self, stable: bool, date: Date) -> Date {
        let day = if !stable {
            date
        } else if self.rng.chance(40) {
            date.add_days(self.rng.range(LATE_AFTER_DAYS + 1, 30))
        } else if self.rng.chance(60) {
            date.add_days(self.rng.range(1, 3))
        } else {
            date
        };
        day.min(d(LAST_DAY))
    }

    fn visit(&mut self, p: usize, cadre: &str, (date, recorded): (Date, Date), kind: &str) {
        const PROBLEMS: [&str; 5] = ["医疗", "住房", "就业", "就学", "低保"];
        let id = self.next_id("v");
        let h = self.pairings[p].household;
        let mut args = json!({"visit_id": id, "date": date, "kind": kind,
                              "diary": self.sealed(&format!("走访记录 {id}：了解家庭近况")),
                              "location": self.households[h].community});
        if self.rng.chance(150) {
            args["problems"] = json!([self.rng.pick(&PROBLEMS)]);
        }
        if self.rng.chance(300) {
            let photo = sha256(&[b"photo", id.as_bytes()]);
            args["photos"] = json!([bangfu_ledger::Hash(photo).to_base64()]);
        }
        let target = self.pairing_target(p);
        self.push((recorded, 4), cadre, "record_visit", target.clone(), args);
        if let Some(card) = self.card(h)
            && self.rng.chance(150)
        {
            let day = recorded.add_days(self.rng.range(1, 5)).min(d(LAST_DAY));
            self.push(
                (day, 7),
                &card,
                "acknowledge_visit",
                target,
                json!({"visit_id": id}),
            );
        }
        self.pairings[p].visits.push(Visit {
            id,
            date,
            recorded,
            retracted: false,
        });
    }

    /// One period's visit to pairing `p` between `from` and `to`: `festival` is the window where
    /// it is a festival visit with `festive` chances in a thousand; missed with `miss` chances.
    fn period_visit(
        &mut self,
        p: usize,
        (from, to): (Date, Date),
        festival: Option<(Date, Date, u64)>,
        miss: u64,
    ) {
        let pairing = self.pairings[p].clone();
        let start = from.max(pairing.formed);
        let end = pairing.ended.map_or(to, |e| to.min(e.add_days(-1)));
        if start > end {
            return;
        }
        // A handover inside the period: the outgoing team visits before it, the incoming after.
        if let Some(change) = pairing
            .spells
            .iter()
            .skip(1)
            .find(|s| s.from > start && s.from <= end)
        {
            if let Some(before) = pairing.team_on(change.from.add_days(-1)) {
                let day = self.rng.day(start, change.from.add_days(-1));
                let lead = before.lead.clone();
                self.visit(p, &lead, (day, day), "routine");
            }
            let day = self.rng.day(change.from, end);
            let lead = change.lead.clone();
            self.visit(p, &lead, (day, day), "routine");
            return;
        }
        if self.rng.chance(miss) {
            return;
        }
        let Some(team) = pairing.team_on(start).cloned() else {
            return;
        };
        let members: Vec<String> = team.cadres.iter().cloned().collect();
        let cadre = if members.len() > 1 && self.rng.chance(300) {
            self.rng.pick(&members).clone()
        } else {
            team.lead.clone()
        };
        let window = festival
            .map(|(f, t, chance)| (f.max(start), t.min(end), chance))
            .filter(|(f, t, _)| f <= t);
        let (date, kind) = match window {
            Some((f, t, chance)) if self.rng.chance(chance) => (self.rng.day(f, t), "festival"),
            _ => (self.rng.day(start, end), "routine"),
        };
        let recorded = self.record_day(pairing.stable, date);
        self.visit(p, &cadre, (date, recorded), kind);
    }

    fn visits(&mut self) {
        let festival = |k: usize| (d(FESTIVALS[k].1), d(FESTIVALS[k].2));
        let (spring, dragon, moon, spring17) = (festival(0), festival(1), festival(2), festival(3));
        for p in 0..self.pairings.len() {
            let leader_pairing = p < self.leaders;
            // Q1: the leaders visit for the Spring Festival; the others soon after pairing.
            if leader_pairing {
                self.period_visit(p, spring, Some((spring.0, spring.1, 1000)), 0);
                if self.rng.chance(300) {
                    self.period_visit(p, (d("2016-03-01"), d("2016-03-31")), None, 0);
                }
            } else {
                let formed = self.pairings[p].formed;
                self.period_visit(
                    p,
                    (formed.add_days(1), formed.add_days(20).min(d("2016-03-31"))),
                    None,
                    0,
                );
            }
            // Q2–Q4, with the Dragon Boat and Mid-Autumn peaks; a few quarters missed.
            self.period_visit(
                p,
                (d("2016-04-01"), d("2016-06-30")),
                Some((dragon.0, dragon.1, 150)),
                40,
            );
            self.period_visit(
                p,
                (d("2016-07-01"), d("2016-09-30")),
                Some((moon.0, moon.1, 720)),
                30,
            );
            if self.pairings[p].spells[0].cadres.len() > 1 {
                // Joint teams often visit twice around the Mid-Autumn Festival.
                self.period_visit(p, moon, Some((moon.0, moon.1, 1000)), 200);
            }
            self.period_visit(p, (d("2016-10-01"), d("2016-12-31")), None, 40);
            if self.rng.chance(30) {
                // An emergency: a burst pipe, a hospital admission.
                let pairing = self.pairings[p].clone();
                let day = self.rng.day(d("2016-11-01"), d("2016-12-15"));
                if let Some(team) = pairing.team_on(day) {
                    let lead = team.lead.clone();
                    self.visit(p, &lead, (day, day), "emergency");
                }
            }
            // The 2017 Spring Festival, before the assessment is published.
            self.period_visit(p, spring17, Some((spring17.0, spring17.1, 1000)), 150);
        }
        // A visit entered with the wrong date, retracted (nothing is edited) and entered again.
        if let Some(p) = (self.leaders..self.pairings.len()).find(|&p| self.pairings[p].stable) {
            let lead = self.pairings[p].spells[0].lead.clone();
            let target = self.pairing_target(p);
            let wrong = self.next_id("v");
            let diary = self.sealed("走访记录：了解家庭近况");
            self.push(
                (d("2016-05-10"), 4),
                &lead,
                "record_visit",
                target.clone(),
                json!({"visit_id": wrong, "date": "2016-05-10", "kind": "routine",
                       "diary": diary}),
            );
            self.push(
                (d("2016-05-12"), 4),
                &lead,
                "retract_visit",
                target,
                json!({"visit_id": wrong, "reason": "日期记错，重新录入"}),
            );
            self.pairings[p].visits.push(Visit {
                id: wrong,
                date: d("2016-05-10"),
                recorded: d("2016-05-10"),
                retracted: true,
            });
            self.visit(p, &lead, (d("2016-05-11"), d("2016-05-12")), "routine");
        }
    }

    // --- help from the cadres' own pockets ---------------------------------------------------

    fn donation(&mut self, p: usize, date: Date, (help, purpose): (Value, &str)) {
        let Some(team) = self.pairings[p].team_on(date).cloned() else {
            return;
        };
        let id = self.next_id("d");
        let target = self.pairing_target(p);
        self.push(
            (date, 4),
            &team.lead,
            "record_personal_donation",
            target.clone(),
            json!({"donation_id": id, "date": date, "help": help, "purpose": purpose}),
        );
        let h = self.pairings[p].household;
        if let Some(card) = self.card(h)
            && self.rng.chance(650)
        {
            let day = date.add_days(self.rng.range(1, 7));
            self.push(
                (day, 7),
                &card,
                "acknowledge_donation",
                target,
                json!({"donation_id": id}),
            );
        }
        self.pairings[p].donations.push((id, date));
    }

    fn personal_donations(&mut self) {
        for p in 0..self.pairings.len() {
            if p < self.leaders {
                // Leaders bring a red envelope for the Spring Festival.
                let date = self.rng.day(d("2016-02-01"), d("2016-02-06"));
                let amount = 100 * self.rng.range(5, 10) * 100;
                self.donation(
                    p,
                    date,
                    (json!({"form": "cash", "amount": amount}), "festival"),
                );
            }
            if self.rng.chance(300) {
                let date = self.rng.day(d("2016-09-10"), d("2016-09-15"));
                let boxes = self.rng.range(1, 3);
                self.donation(
                    p,
                    date,
                    (
                        json!({"form": "in_kind", "items": [
                            {"name": "月饼", "quantity": boxes, "unit_value": 8800},
                            {"name": "食用油 (5 L)", "quantity": 1, "unit_value": 8900}]}),
                        "festival",
                    ),
                );
            }
            if self.rng.chance(30) {
                let date = self.rng.day(d("2016-04-01"), d("2016-11-30"));
                let amount = 100 * 100 * self.rng.range(5, 20);
                self.donation(
                    p,
                    date,
                    (json!({"form": "cash", "amount": amount}), "medical"),
                );
            }
            if self.rng.chance(250) {
                let date = self.rng.day(d("2017-01-20"), d("2017-01-26"));
                let amount = 100 * 100 * self.rng.range(2, 5);
                self.donation(
                    p,
                    date,
                    (json!({"form": "cash", "amount": amount}), "festival"),
                );
            }
        }
    }

    // --- funds -------------------------------------------------------------------------------

    fn funds(&mut self) {
        let mut queue: BTreeMap<(Date, u64), FundOp> = BTreeMap::new();
        let mut n = 0u64;
        let mut add = |queue: &mut BTreeMap<(Date, u64), FundOp>, day: Date, op: FundOp| {
            n += 1;
            queue.insert((day, n), op);
        };
        let hh = self.households.len() as i64;
        let court_cadres: BTreeSet<String> = self
            .cadres
            .iter()
            .filter(|c| c.unit == COURT)
            .map(|c| c.id.clone())
            .collect();
        let pool_of = |this: &Story, p: usize, day: Date| {
            let lead = this.pairings[p].team_on(day).map(|t| t.lead.clone());
            if lead.is_some_and(|l| court_cadres.contains(&l)) {
                COURT_POOL
            } else {
                POOL
            }
        };

        // Money in: the units' budgets twice a year, a day's salary from every cadre in spring,
        // society's gifts to the named fund, and the leaders' salary gifts to it.
        for round in [d("2016-01-06"), d("2016-07-06")] {
            for (unit, _, _) in UNITS.iter().skip(1) {
                let fund = if *unit == COURT { COURT_POOL } else { POOL };
                let amount = hh * 100 * self.rng.range(10, 18);
                add(
                    &mut queue,
                    round,
                    FundOp::In(fund, json!({"kind": "unit", "unit": unit}), amount),
                );
            }
        }
        for c in 0..self.cadres.len() {
            let cadre = &self.cadres[c];
            let fund = if cadre.unit == COURT {
                COURT_POOL
            } else {
                POOL
            };
            let amount = if cadre.leader {
                100 * 100 * self.rng.range(8, 15)
            } else {
                100 * 10 * self.rng.range(15, 60)
            };
            let day = self.rng.day(d("2016-03-28"), d("2016-04-08"));
            let source = json!({"kind": "salary", "cadre": cadre.id});
            add(&mut queue, day, FundOp::In(fund, source, amount));
            if cadre.leader && c % 4 == 0 {
                let source = json!({"kind": "salary", "cadre": cadre.id});
                add(
                    &mut queue,
                    d("2016-05-04"),
                    FundOp::In(NAMED_FUND, source, 100 * 2000),
                );
            }
        }
        let donors = (self.households.len() / 45).clamp(3, DONORS.len());
        for donor in DONORS.iter().take(donors) {
            let day = self.rng.day(d("2016-01-15"), d("2016-06-30"));
            let amount = hh * 100 * self.rng.range(16, 60);
            let source = json!({"kind": "society", "donor": donor});
            add(&mut queue, day, FundOp::In(NAMED_FUND, source, amount));
        }

        // Money out.
        let cash = |amount: i64| (json!({"form": "cash", "amount": amount}), amount);
        for p in 0..self.pairings.len() {
            if p < self.leaders {
                let day = self.rng.day(d("2016-02-01"), d("2016-02-05"));
                let fund = pool_of(self, p, day);
                add(&mut queue, day, out(fund, p, cash(80_000), "festival"));
            }
            if self.rng.chance(20) {
                let day = self.rng.day(d("2016-05-03"), d("2016-08-31"));
                let fund = pool_of(self, p, day);
                let amount = 100 * 100 * self.rng.range(30, 80);
                add(&mut queue, day, out(fund, p, cash(amount), "housing"));
            }
            if self.rng.chance(50) {
                let day = self.rng.day(d("2016-08-20"), d("2016-09-05"));
                let fund = pool_of(self, p, day);
                let amount = 100 * 100 * self.rng.range(10, 25);
                add(&mut queue, day, out(fund, p, cash(amount), "schooling"));
            }
            if self.rng.chance(10) {
                let day = self.rng.day(d("2016-04-10"), d("2016-10-31"));
                let fund = pool_of(self, p, day);
                add(&mut queue, day, out(fund, p, cash(80_000), "employment"));
            }
            // Mid-Autumn: the same goods for every household, delivered by its lead cadre.
            let day = self.rng.day(d("2016-09-12"), d("2016-09-14"));
            let fund = pool_of(self, p, day);
            let goods = json!({"form": "in_kind", "items": [
                {"name": "月饼", "quantity": 1, "unit_value": 8800},
                {"name": "大米 (10 kg)", "quantity": 1, "unit_value": 5500},
                {"name": "食用油 (5 L)", "quantity": 1, "unit_value": 8900}]});
            add(&mut queue, day, out(fund, p, (goods, 23_200), "festival"));
            // Spring Festival 2017: a red envelope for every household still paired.
            let day = self.rng.day(d("2017-01-18"), d("2017-01-24"));
            let fund = pool_of(self, p, day);
            add(&mut queue, day, out(fund, p, cash(20_000), "festival"));
            // The named fund: serious illness and school fees.
            if self.rng.chance(50) {
                let day = self.rng.day(d("2016-03-15"), d("2016-12-10"));
                let amount = 100 * 100 * self.rng.range(20, 80);
                add(&mut queue, day, out(NAMED_FUND, p, cash(amount), "medical"));
            }
            if self.rng.chance(20) {
                let day = self.rng.day(d("2016-08-25"), d("2016-09-05"));
                add(
                    &mut queue,
                    day,
                    out(NAMED_FUND, p, cash(300_000), "schooling"),
                );
            }
        }
        // One payment went to the wrong household and comes back (a compensating event).
        let wrong = (self.pairings.len() / 3).min(self.pairings.len().saturating_sub(1));
        add(
            &mut queue,
            d("2016-06-14"),
            FundOp::Out(POOL, wrong, cash(150_000), "living", true),
        );
        // Late in the year the named fund is asked for more than it holds: refused, then a
        // smaller grant that fits.
        let sick = (2 * self.pairings.len() / 3).min(self.pairings.len().saturating_sub(1));
        add(
            &mut queue,
            d("2016-12-15"),
            FundOp::Overdraft(NAMED_FUND, sick),
        );

        // Play the queue in date order, so every balance is known when the next movement is
        // planned and the plan never overdraws a fund by accident.
        let mut balance: BTreeMap<&'static str, i64> = BTreeMap::new();
        while let Some(((day, _), op)) = queue.pop_first() {
            match op {
                FundOp::In(fund, source, amount) => {
                    let id = self.next_id(if fund == NAMED_FUND { "n" } else { "k" });
                    let signer = self.manager_key(fund);
                    self.push(
                        (day, 6),
                        &signer,
                        "record_contribution",
                        format!("fund/{fund}"),
                        json!({"contribution_id": id, "source": source, "amount": amount,
                               "date": day}),
                    );
                    *balance.entry(fund).or_default() += amount;
                }
                FundOp::Out(fund, p, (help, value), purpose, reverse) => {
                    let held = balance.get(fund).copied().unwrap_or(0);
                    let Some(team) = self.pairings[p].team_on(day).cloned() else {
                        continue;
                    };
                    if value > held {
                        continue;
                    }
                    let h = self.pairings[p].household;
                    let id = self.next_id("p");
                    let signer = self.manager_key(fund);
                    self.push(
                        (day, 6),
                        &signer,
                        "disburse",
                        format!("fund/{fund}"),
                        json!({"disbursement_id": id, "household": self.households[h].id,
                               "through": team.lead, "help": help, "purpose": purpose,
                               "date": day}),
                    );
                    *balance.entry(fund).or_default() -= value;
                    if reverse {
                        let back = day.add_days(5);
                        add(&mut queue, back, FundOp::Reverse(fund, id, value));
                        continue;
                    }
                    self.disbursed_to.entry(h).or_default().push((
                        fund.to_owned(),
                        id.clone(),
                        day,
                    ));
                    if let Some(card) = self.card(h)
                        && self.rng.chance(850)
                    {
                        let ack = day.add_days(self.rng.range(1, 8)).min(d(LAST_DAY));
                        self.push(
                            (ack, 7),
                            &card,
                            "acknowledge_disbursement",
                            format!("fund/{fund}"),
                            json!({"disbursement_id": id}),
                        );
                    }
                }
                FundOp::Reverse(fund, id, value) => {
                    let signer = self.manager_key(fund);
                    self.push(
                        (day, 6),
                        &signer,
                        "reverse_disbursement",
                        format!("fund/{fund}"),
                        json!({"disbursement_id": id, "reason": "发放对象有误，款项退回"}),
                    );
                    *balance.entry(fund).or_default() += value;
                }
                FundOp::Overdraft(fund, p) => {
                    let held = balance.get(fund).copied().unwrap_or(0);
                    let Some(team) = self.pairings[p].team_on(day).cloned() else {
                        continue;
                    };
                    let h = self.pairings[p].household;
                    let requested = held + 2_000_000;
                    let id = self.next_id("p");
                    let signer = self.manager_key(fund);
                    self.push_expecting(
                        (day, 6),
                        &signer,
                        "disburse",
                        format!("fund/{fund}"),
                        json!({"disbursement_id": id, "household": self.households[h].id,
                               "through": team.lead,
                               "help": {"form": "cash", "amount": requested},
                               "purpose": "medical", "date": day}),
                        Expect::Overdraft,
                    );
                    self.refusal = Refusal {
                        fund: fund.to_owned(),
                        balance: held,
                        requested,
                    };
                    let smaller = (held / 2).min(1_000_000);
                    if smaller > 0 {
                        add(
                            &mut queue,
                            day.add_days(1),
                            out(fund, p, cash(smaller), "medical"),
                        );
                    }
                }
            }
        }
    }

    fn manager_key(&self, fund: &str) -> String {
        match fund {
            POOL => "fm-pool".to_owned(),
            NAMED_FUND => "fm-aixin".to_owned(),
            _ => format!("{}-fm", self.court_manager()),
        }
    }

    // --- requests (三单 / 办实事) ----------------------------------------------------------------

    fn requests(&mut self) {
        const ASKS: [(&str, &str); 15] = [
            ("孩子学费减免", "已协调学校减免学费"),
            ("房屋漏雨维修", "已联系施工队修缮屋顶"),
            ("低保复核申请", "已协助提交低保复核材料并获批"),
            ("就业推荐", "已推荐到社区公益性岗位"),
            ("医疗费用报销", "已协助办理大病医疗报销"),
            ("廉租房申请", "已协助递交廉租房申请并获受理"),
            ("残疾证办理", "已陪同办理残疾证"),
            ("自来水管维修", "已联系物业修好水管"),
            ("冬季取暖", "已送去取暖器和棉被"),
            ("子女入学", "已协调就近入学"),
            ("小额创业贷款", "已协调银行办理小额贷款"),
            ("法律援助", "已联系法律援助中心"),
            ("门窗更换", "已更换破损门窗"),
            ("助听器申领", "已申领助听器"),
            ("轮椅申领", "已申领轮椅"),
        ];
        let stable: Vec<usize> = (0..self.pairings.len())
            .filter(|&p| self.pairings[p].stable)
            .collect();
        if stable.is_empty() {
            return;
        }
        let steady: Vec<String> = stable
            .iter()
            .flat_map(|&p| self.pairings[p].spells[0].cadres.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let n = self.households.len() * 108 / 100;
        for k in 0..n {
            let p = *self.rng.pick(&stable);
            let pairing = self.pairings[p].clone();
            let h = pairing.household;
            let card = self.card(h);
            let lead = pairing.spells[0].lead.clone();
            let rid = self.next_id("r");
            let target = self.pairing_target(p);
            let first = pairing.formed.add_days(3).max(d("2016-03-01"));
            let raised = self.rng.day(first, d("2016-12-10"));
            let (ask, outcome) = ASKS[k % ASKS.len()];
            let roll = self.rng.below(1000);
            let (signer, kind) = match &card {
                Some(c) if roll < 500 => (c.clone(), "order"),
                _ if roll < 700 => ("coord".to_owned(), "concrete_help"),
                _ => (lead.clone(), "concrete_help"),
            };
            let step = |this: &mut Story, day: Date, phase: u8, signer: &str, cmd, args: Value| {
                let mut args = args;
                args["request_id"] = json!(rid);
                this.push((day, phase), signer, cmd, target.clone(), args);
            };
            step(
                self,
                raised,
                4,
                &signer,
                "raise_request",
                json!({"kind": kind, "summary": ask, "date": raised}),
            );
            let fate = self.rng.below(1000);
            if fate < 25 {
                step(
                    self,
                    raised.add_days(3),
                    4,
                    "coord",
                    "close_request",
                    json!({"reason": "重复提交，已合并办理"}),
                );
                continue;
            }
            // The three orders: the branch dispatches (to the lead, or a colleague who knows the
            // trade), the cadre accepts; otherwise the lead takes it on directly.
            let by = if fate < 420 {
                let to = if self.rng.chance(300) {
                    self.rng.pick(&steady).clone()
                } else {
                    lead.clone()
                };
                step(
                    self,
                    raised.add_days(1),
                    4,
                    "coord",
                    "dispatch_request",
                    json!({"to": to}),
                );
                step(
                    self,
                    raised.add_days(2),
                    4,
                    &to,
                    "accept_request",
                    json!({}),
                );
                to
            } else {
                let day = raised.add_days(self.rng.range(0, 2));
                step(self, day, 4, &lead, "accept_request", json!({}));
                lead.clone()
            };
            // Requests raised in December are sometimes still being worked on at the end.
            if raised >= d("2016-12-01") && fate % 3 == 0 {
                continue;
            }
            let resolved = raised.add_days(self.rng.range(4, 35));
            step(
                self,
                resolved,
                4,
                &by,
                "resolve_request",
                json!({"outcome": outcome, "date": resolved}),
            );
            let Some(card) = card else {
                continue;
            };
            let answer = resolved.add_days(self.rng.range(1, 7));
            let verdict = self.rng.below(1000);
            if verdict < 900 {
                step(self, answer, 7, &card, "confirm_resolution", json!({}));
            } else if verdict < 960 {
                step(
                    self,
                    answer,
                    7,
                    &card,
                    "dispute_resolution",
                    json!({"reason": "问题仍未解决"}),
                );
                if verdict < 930 {
                    // The lead tries again and the household confirms.
                    let again = answer.add_days(self.rng.range(5, 15));
                    step(
                        self,
                        again,
                        4,
                        &lead,
                        "resolve_request",
                        json!({"outcome": format!("{outcome}（复办）"), "date": again}),
                    );
                    step(
                        self,
                        again.add_days(2),
                        7,
                        &card,
                        "confirm_resolution",
                        json!({}),
                    );
                }
            }
        }
    }

    // --- inspection and evaluation -----------------------------------------------------------

    fn inspection(&mut self) {
        let target = format!("spot_check/{CAMPAIGN}");
        self.push(
            (d("2017-01-09"), 8),
            "insp",
            "open_campaign",
            target.clone(),
            json!({"program": PROGRAM, "year": YEAR}),
        );
        self.push_expecting(
            (d("2017-01-10"), 8),
            "insp",
            "record_draw",
            target.clone(),
            json!({}),
            Expect::Draw,
        );
        self.push(
            (d("2017-01-25"), 8),
            "insp",
            "close_campaign",
            target,
            json!({}),
        );
        self.push_expecting(
            (d("2017-02-20"), 9),
            "eval",
            "publish_assessment",
            format!("assessment/{PROGRAM}:{YEAR}"),
            json!({}),
            Expect::Publish,
        );
    }

    /// The inspectors' revisits to the sampled households, by phone or on site, with findings
    /// about the year's visits, payments and donations. Planned once the sample is drawn.
    pub fn revisits(&mut self, sample: &[String]) -> Vec<Action> {
        let first = self.actions.len();
        let target = format!("spot_check/{CAMPAIGN}");
        let by_household: HashMap<&str, usize> = self
            .pairings
            .iter()
            .enumerate()
            .map(|(p, x)| (self.households[x.household].id.as_str(), p))
            .collect();
        let plans: Vec<(String, Option<usize>)> = sample
            .iter()
            .map(|h| (h.clone(), by_household.get(h.as_str()).copied()))
            .collect();
        let n = plans.len().max(1);
        for (k, (h, p)) in plans.into_iter().enumerate() {
            let day = d("2017-01-11").add_days((k * 14 / n) as i64);
            let unreachable = k % 25 == 12 || (n < 25 && k == 3);
            let mut findings = Vec::new();
            if let Some(p) = p {
                let pairing = self.pairings[p].clone();
                let visits: Vec<&Visit> = pairing
                    .visits
                    .iter()
                    .filter(|v| !v.retracted && v.date.year() == YEAR && v.recorded < day)
                    .collect();
                let mut subjects: Vec<String> = visits
                    .iter()
                    .rev()
                    .take(2)
                    .map(|v| format!("visit/{}/{}", pairing.id, v.id))
                    .collect();
                let hidx = pairing.household;
                if let Some((fund, id, _)) = self
                    .disbursed_to
                    .get(&hidx)
                    .and_then(|ds| ds.iter().find(|(_, _, date)| date.year() == YEAR))
                {
                    subjects.push(format!("disbursement/{fund}/{id}"));
                }
                if let Some((id, _)) = pairing.donations.iter().find(|(_, x)| x.year() == YEAR) {
                    subjects.push(format!("donation/{}/{id}", pairing.id));
                }
                for subject in subjects {
                    let result = if unreachable {
                        "unreachable"
                    } else if self.rng.chance(50) {
                        "not_confirmed"
                    } else {
                        "confirmed"
                    };
                    findings.push(json!({"subject": subject, "result": result}));
                }
            }
            let on_site = !unreachable && k % 10 < 3;
            let mut args = json!({"household": h,
                                  "method": if on_site { "on_site" } else { "phone" },
                                  "date": day, "findings": findings});
            if !unreachable {
                args["satisfaction"] = json!(self.rng.range(3, 5));
                args["notes"] = self.sealed("住户反映帮扶干部常来看望，慰问品已收到");
            }
            self.push((day, 8), "insp", "record_revisit", target.clone(), args);
        }
        self.actions.split_off(first)
    }
}

/// A planned movement of money, kept in a date-ordered queue while the funds are planned.
enum FundOp {
    In(&'static str, Value, i64),
    /// Fund, pairing, (help, value), purpose, and whether it is later reversed.
    Out(&'static str, usize, (Value, i64), &'static str, bool),
    Reverse(&'static str, String, i64),
    Overdraft(&'static str, usize),
}

/// A payment that stays paid.
fn out(fund: &'static str, p: usize, help: (Value, i64), purpose: &'static str) -> FundOp {
    FundOp::Out(fund, p, help, purpose, false)
}
