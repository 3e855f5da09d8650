//! The inspector's summary of the demo ledger: what the log holds, read back from the read models
//! (not from the plan), as bilingual aligned tables or as JSON for machines.

use bangfu_ledger::time::Timestamp;
use bangfu_projections::table::{Cell, Column, Table, hundredths};
use bangfu_store::backend::StoredCheckpoint;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub district: String,
    /// The log's origin, the first line of its checkpoints.
    pub origin: String,
    pub program: String,
    /// The story's first and last days.
    pub from: String,
    pub to: String,
    pub entries: u64,
    /// The Merkle root of the whole log, base64.
    pub root: String,
    /// The log's verifier key, which opens its checkpoints (also in ledger.json).
    pub log_vkey: String,
    /// The last checkpoint the log signed: of the whole story.
    pub checkpoint: CheckpointLine,
    /// Sealed values whose openings the vault holds.
    pub vault: u64,
    /// The streaming verifier replayed every entry, its root matches the stored tree head, and the
    /// last checkpoint opens with the log key over that root.
    pub verified: bool,
    pub totals: Totals,
    pub funds: Vec<FundLine>,
    pub spot_check: SpotCheck,
    pub assessment: Assessment,
    pub handovers: Vec<Handover>,
    /// The statement the log refused, as an example of a refusal.
    pub refused: Option<Refused>,
    pub millis: u64,
    /// What to run next, with this ledger's location filled in.
    pub next: Vec<Next>,
}

/// Counts and money; money in integer fen (1 yuan = 100 fen).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub units: u64,
    pub cadres: u64,
    pub leaders: u64,
    pub households: u64,
    pub contact_cards: u64,
    pub pairings: u64,
    pub pairings_active: u64,
    pub visits: u64,
    pub festival_visits: u64,
    pub late_visits: u64,
    pub visits_acknowledged: u64,
    pub requests_raised: u64,
    pub requests_resolved: u64,
    pub requests_confirmed: u64,
    pub requests_disputed: u64,
    pub requests_open: u64,
    pub contributed_fen: i64,
    pub disbursements: u64,
    /// Paid out of the funds, net of reversals.
    pub disbursed_fen: i64,
    pub donations: u64,
    /// From the cadres' own pockets.
    pub donated_fen: i64,
    /// Disbursed and donated: what reached the households.
    pub delivered_fen: i64,
    pub help_acknowledged: u64,
    pub help_items: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FundLine {
    pub fund: String,
    pub name: String,
    pub kind: String,
    pub contributed_fen: i64,
    pub disbursed_fen: i64,
    pub reversed_fen: i64,
    pub balance_fen: i64,
    /// contributed − disbursed + reversed = balance = trail = unspent contributions, never < 0.
    pub reconciled: bool,
}

/// A checkpoint the log signed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckpointLine {
    pub size: u64,
    /// Base64.
    pub root: String,
    /// When the log signed it (the story's clock).
    pub signed_at: String,
    /// The signed note, as the log signed it.
    pub note: String,
}

impl CheckpointLine {
    pub fn of(c: &StoredCheckpoint) -> CheckpointLine {
        CheckpointLine {
            size: c.size,
            root: c.root.to_base64(),
            signed_at: Timestamp::from_unix_millis(c.signed_at_ms)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            note: c.note.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SpotCheck {
    pub campaign: String,
    /// The log size of the checkpoint the sample was drawn from.
    pub checkpoint_size: u64,
    /// That checkpoint's root (base64), whose hash with each household id ranks the households.
    pub checkpoint_root: String,
    /// When the log signed that checkpoint.
    pub checkpoint_signed_at: String,
    pub sample: u64,
    pub households: u64,
    pub revisits: u64,
    pub on_site: u64,
    pub confirmed: u64,
    pub not_confirmed: u64,
    pub unreachable: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Assessment {
    pub program: String,
    pub year: i64,
    pub formula: String,
    /// The log size the scores were computed from; anyone can recompute them there.
    pub log_size: u64,
    /// The entry that published them.
    pub index: u64,
    pub cadres_scored: u64,
    pub best: Vec<Score>,
    pub worst: Vec<Score>,
}

/// A cadre's total in hundredths of a point.
#[derive(Clone, Debug, Serialize)]
pub struct Score {
    pub rank: u64,
    pub cadre: String,
    pub name: String,
    pub unit: String,
    pub points: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Handover {
    pub pairing: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Refused {
    pub command: String,
    pub target: String,
    pub signer: String,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Next {
    pub command: String,
    pub what: String,
}

fn yuan(fen: i64) -> String {
    let s = hundredths(fen);
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    format!("{sign}¥{}.{frac}", group(digits))
}

fn count(n: u64) -> String {
    group(&n.to_string())
}

/// `1234567` → `1,234,567`.
fn group(digits: &str) -> String {
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn columns(spec: &[(&'static str, &str)]) -> Vec<Column> {
    spec.iter()
        .map(|(key, header)| Column {
            key,
            header: (*header).to_owned(),
        })
        .collect()
}

impl Summary {
    /// The summary for people: aligned tables, Chinese and English.
    pub fn to_text(&self) -> String {
        let t = &self.totals;
        let mut out = String::new();
        out.push_str(&format!(
            "演示账本已建成 / the demo ledger is ready: {} {} ({} – {})\n\n",
            self.district, self.program, self.from, self.to
        ));
        let verdict = if self.verified {
            "通过 / verified"
        } else {
            "未通过 / FAILED"
        };
        let ledger = Table {
            title: "账本 / the ledger".into(),
            stamp: vec![
                ("来源 / origin".into(), self.origin.clone()),
                (
                    "条目 / entries".into(),
                    format!("{} ({verdict})", count(self.entries)),
                ),
                ("根哈希 / root".into(), self.root.clone()),
                (
                    "检查点 / checkpoint".into(),
                    format!(
                        "size {}, signed {}",
                        count(self.checkpoint.size),
                        self.checkpoint.signed_at
                    ),
                ),
                ("日志公钥 / log vkey".into(), self.log_vkey.clone()),
                (
                    "保管库 / vault".into(),
                    format!("{} 项密封信息 / sealed values held", count(self.vault)),
                ),
                (
                    "用时 / took".into(),
                    format!("{}.{:01} s", self.millis / 1000, self.millis % 1000 / 100),
                ),
            ],
            ..Table::default()
        };
        out.push_str(&ledger.to_text());
        out.push('\n');

        let row = |what: &str, value: String, seed: &str| {
            vec![text(what), text(value), text(seed.to_owned())]
        };
        let totals = Table {
            title: "帮扶工作 / the program's year".into(),
            columns: columns(&[
                ("what", "项目 / What"),
                ("value", "本账本 / This ledger"),
                ("gulou", "鼓楼区报道 / Gulou (seed)"),
            ]),
            rows: vec![
                row("单位 / units", count(t.units), ""),
                row(
                    "结对干部（其中领导干部）/ cadres (leaders)",
                    format!("{} ({})", count(t.cadres), count(t.leaders)),
                    "480",
                ),
                row(
                    "困难家庭（持联系卡）/ households (with a contact card)",
                    format!("{} ({})", count(t.households), count(t.contact_cards)),
                    "",
                ),
                row(
                    "结对（在帮）/ pairings (active)",
                    format!("{} ({})", count(t.pairings), count(t.pairings_active)),
                    "",
                ),
                row(
                    "走访（节日·补录逾期）/ visits (festival · recorded late)",
                    format!(
                        "{} ({} · {})",
                        count(t.visits),
                        count(t.festival_visits),
                        count(t.late_visits)
                    ),
                    "2,000+",
                ),
                row("诉求：提出 / requests raised", count(t.requests_raised), ""),
                row(
                    "诉求：解决（群众确认·有异议·在办）/ resolved (confirmed · disputed · open)",
                    format!(
                        "{} ({} · {} · {})",
                        count(t.requests_resolved),
                        count(t.requests_confirmed),
                        count(t.requests_disputed),
                        count(t.requests_open)
                    ),
                    "~500",
                ),
                row(
                    "资金发放 / paid out of the funds",
                    format!(
                        "{} ({} 笔 / payments)",
                        yuan(t.disbursed_fen),
                        count(t.disbursements)
                    ),
                    "",
                ),
                row(
                    "干部个人捐助 / from the cadres' own pockets",
                    format!(
                        "{} ({} 笔 / gifts)",
                        yuan(t.donated_fen),
                        count(t.donations)
                    ),
                    "",
                ),
                row(
                    "合计送达 / delivered in all",
                    yuan(t.delivered_fen),
                    "¥500,000+",
                ),
                row(
                    "群众签收 / acknowledged by the household's card",
                    format!("{} / {}", count(t.help_acknowledged), count(t.help_items)),
                    "",
                ),
            ],
            ..Table::default()
        };
        out.push_str(&totals.to_text());
        out.push('\n');

        let funds = Table {
            title: "资金余额与对账 / fund balances, reconciled".into(),
            columns: columns(&[
                ("fund", "资金 / Fund"),
                ("name", "名称 / Name"),
                ("in", "收入 / In"),
                ("out", "支出 / Out"),
                ("reversed", "冲回 / Reversed"),
                ("balance", "余额 / Balance"),
                ("ok", "账实相符 / Reconciled"),
            ]),
            rows: self
                .funds
                .iter()
                .map(|f| {
                    vec![
                        text(f.fund.clone()),
                        text(f.name.clone()),
                        Cell::Fen(f.contributed_fen),
                        Cell::Fen(f.disbursed_fen),
                        Cell::Fen(f.reversed_fen),
                        Cell::Fen(f.balance_fen),
                        text(if f.reconciled {
                            "是 / yes"
                        } else {
                            "否 / NO"
                        }),
                    ]
                })
                .collect(),
            ..Table::default()
        };
        out.push_str(&funds.to_text());
        out.push('\n');

        let s = &self.spot_check;
        out.push_str(&format!(
            "年终抽查 / year-end spot check {}: {} of {} households drawn from the checkpoint of size {} (root {}, signed {}); {} revisits ({} on site), findings {} confirmed · {} not confirmed · {} unreachable\n\n",
            s.campaign,
            s.sample,
            s.households,
            s.checkpoint_size,
            s.checkpoint_root,
            s.checkpoint_signed_at,
            s.revisits,
            s.on_site,
            s.confirmed,
            s.not_confirmed,
            s.unreachable
        ));

        let a = &self.assessment;
        let scores = |title: String, rows: &[Score]| Table {
            title,
            columns: columns(&[
                ("rank", "名次 / Rank"),
                ("cadre", "干部 / Cadre"),
                ("name", "姓名 / Name"),
                ("unit", "单位 / Unit"),
                ("points", "得分 / Points"),
            ]),
            rows: rows
                .iter()
                .map(|s| {
                    vec![
                        Cell::Int(s.rank as i64),
                        text(s.cadre.clone()),
                        text(s.name.clone()),
                        text(s.unit.clone()),
                        Cell::Points(s.points),
                    ]
                })
                .collect(),
            ..Table::default()
        };
        out.push_str(
            &scores(
                format!(
                    "{} 年度考核最高 5 名 / best 5 of {} cadres, {} (published in entry {}, computed at log size {})",
                    a.year,
                    a.cadres_scored,
                    a.formula,
                    a.index,
                    a.log_size
                ),
                &a.best,
            )
            .to_text(),
        );
        out.push('\n');
        out.push_str(
            &scores(format!("{} 年度考核最低 5 名 / worst 5", a.year), &a.worst).to_text(),
        );
        out.push('\n');

        if !self.handovers.is_empty() {
            out.push_str("接力帮扶 / handovers:\n");
            for h in &self.handovers {
                out.push_str(&format!("  {}: {}\n", h.pairing, h.reason));
            }
            out.push('\n');
        }
        if let Some(r) = &self.refused {
            out.push_str(&format!(
                "被拒绝的指令 / a statement the ledger refused ({} on {}, signed by {}):\n  {} [{}]\n  账本未作任何改动 / nothing was written.\n\n",
                r.command, r.target, r.signer, r.message, r.code
            ));
        }
        out.push_str("下一步 / what to run next:\n");
        let width = self
            .next
            .iter()
            .map(|n| n.command.chars().count())
            .max()
            .unwrap_or(0);
        for n in &self.next {
            let pad = width - n.command.chars().count();
            out.push_str(&format!(
                "  {}{}  # {}\n",
                n.command,
                " ".repeat(pad),
                n.what
            ));
        }
        out
    }
}
