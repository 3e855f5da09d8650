//! The year's reports as [`Table`]s: the assessment table and the fund statements. Each carries
//! the provenance it was computed from (log size and checkpoint), which the caller supplies as
//! the stamp because only the caller holds the log.

use crate::docs::{FundRow, MovementRow};
use crate::query::{self, Result, all};
use crate::scores::Assessment;
use crate::table::{Cell, Column, Table};
use crate::views::ViewStore;
use bangfu_domain::date::Date;
use bangfu_domain::ids::UnitId;
use std::collections::BTreeMap;

fn col(key: &'static str, header: &str) -> Column {
    Column {
        key,
        header: header.to_owned(),
    }
}

/// The assessment table: one row per cadre, best first, then one row per unit.
pub fn assessment_table(a: &Assessment, stamp: Vec<(String, String)>) -> Table {
    let mut stamp = stamp;
    stamp.push(("formula / 公式".into(), a.formula.into()));
    stamp.push((
        "weights / 权重".into(),
        format!(
            "visits {} · acknowledged_help {} · requests {} · funds {} · spot_checks {} · late_penalty {} · dispute_penalty {}",
            a.weights.visits,
            a.weights.acknowledged_help,
            a.weights.requests,
            a.weights.funds,
            a.weights.spot_checks,
            a.weights.late_penalty,
            a.weights.dispute_penalty
        ),
    ));
    let columns = vec![
        col("rank", "名次 / Rank"),
        col("cadre", "干部 / Cadre"),
        col("name", "姓名 / Name"),
        col("unit", "单位 / Unit"),
        col("visits", "走访 / Visits"),
        col("help", "受助确认 / Acknowledged help"),
        col("requests", "诉求 / Requests"),
        col("funds", "资金 / Funds"),
        col("spot_checks", "抽查 / Spot checks"),
        col("penalty", "扣分 / Penalty"),
        col("total", "总分 / Total"),
        col("met_days", "达标天数 / Days met"),
        col("due_days", "应访天数 / Days due"),
        col("late_visits", "迟报 / Late records"),
        col("disputed", "争议或未确认 / Disputed or unconfirmed"),
    ];
    let mut rows: Vec<Vec<Cell>> = a
        .cadres
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                Cell::Int(i as i64 + 1),
                Cell::Text(s.cadre.to_string()),
                Cell::Text(s.name.clone()),
                s.unit
                    .as_ref()
                    .map_or(Cell::Empty, |u| Cell::Text(u.to_string())),
                Cell::Points(s.visit_points),
                Cell::Points(s.help_points),
                Cell::Points(s.request_points),
                Cell::Points(s.fund_points),
                Cell::Points(s.spot_check_points),
                Cell::Points(-s.penalty_points),
                Cell::Points(s.total),
                Cell::Int(s.met_days),
                Cell::Int(s.due_days),
                Cell::Int(s.late_visits),
                Cell::Int(s.disputed_or_unconfirmed),
            ]
        })
        .collect();
    for (i, u) in a.units.iter().enumerate() {
        let mut row = vec![
            Cell::Int(i as i64 + 1),
            Cell::Empty,
            Cell::Text(format!(
                "单位平均（{} 人）/ unit average of {}",
                u.cadres, u.cadres
            )),
            Cell::Text(u.unit.to_string()),
        ];
        row.extend(std::iter::repeat_n(Cell::Empty, 6));
        row.push(Cell::Points(u.total));
        row.extend(std::iter::repeat_n(Cell::Empty, 4));
        rows.push(row);
    }
    Table {
        title: format!("{} 年度考核 / assessment {} {}", a.year, a.program, a.year),
        stamp,
        columns,
        rows,
    }
}

/// One fund's year: what it held at the start, what came in and went out, what it held at the
/// end (by the movements' own dates).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FundYear {
    pub fund: FundRow,
    pub opening: i64,
    pub contributed: i64,
    pub disbursed: i64,
    pub reversed: i64,
    pub closing: i64,
}

pub async fn fund_years<V: ViewStore>(views: &V, year: i64) -> Result<Vec<FundYear>> {
    let start = Date::from_ymd(year, 1, 1).map_err(crate::views::ViewError::Corrupt)?;
    let end = Date::from_ymd(year, 12, 31).map_err(crate::views::ViewError::Corrupt)?;
    let mut out = Vec::new();
    for f in all::<FundRow, V>(views, "fund/").await? {
        let trail: Vec<MovementRow> = all(views, &format!("movement/{}/", f.id)).await?;
        let mut y = FundYear {
            fund: f,
            opening: 0,
            contributed: 0,
            disbursed: 0,
            reversed: 0,
            closing: 0,
        };
        for m in &trail {
            if m.date < start {
                y.opening += m.amount;
            } else if m.date <= end {
                match &m.movement {
                    crate::docs::Movement::Contribution { .. } => y.contributed += m.amount,
                    crate::docs::Movement::Disbursement { .. } => y.disbursed -= m.amount,
                    crate::docs::Movement::Reversal { .. } => y.reversed += m.amount,
                }
            }
        }
        y.closing = y.opening + y.contributed - y.disbursed + y.reversed;
        out.push(y);
    }
    Ok(out)
}

/// The fund statement: every fund's year, a reconciliation column, and per-unit totals.
pub async fn fund_statement<V: ViewStore>(
    views: &V,
    year: i64,
    stamp: Vec<(String, String)>,
) -> Result<Table> {
    let years = fund_years(views, year).await?;
    let reconciled: BTreeMap<String, bool> = query::reconcile(views)
        .await?
        .into_iter()
        .map(|r| (r.fund.to_string(), r.ok))
        .collect();
    let columns = vec![
        col("fund", "资金 / Fund"),
        col("name", "名称 / Name"),
        col("unit", "单位 / Unit"),
        col("opening", "年初余额 / Opening"),
        col("contributed", "收入 / Contributed"),
        col("disbursed", "支出 / Disbursed"),
        col("reversed", "冲回 / Reversed"),
        col("closing", "年末余额 / Closing"),
        col("balance_now", "当前余额 / Balance now"),
        col("reconciled", "账实相符 / Reconciled"),
    ];
    let mut rows = Vec::new();
    let mut per_unit: BTreeMap<UnitId, [i64; 4]> = BTreeMap::new();
    for y in &years {
        let ok = reconciled.get(y.fund.id.as_str()).copied().unwrap_or(false);
        rows.push(vec![
            Cell::Text(y.fund.id.to_string()),
            Cell::Text(y.fund.name.clone()),
            Cell::Text(y.fund.unit.to_string()),
            Cell::Fen(y.opening),
            Cell::Fen(y.contributed),
            Cell::Fen(y.disbursed),
            Cell::Fen(y.reversed),
            Cell::Fen(y.closing),
            Cell::Fen(y.fund.balance),
            Cell::Text(if ok { "是 / yes" } else { "否 / NO" }.into()),
        ]);
        let u = per_unit.entry(y.fund.unit.clone()).or_default();
        u[0] += y.opening;
        u[1] += y.contributed;
        u[2] += y.disbursed;
        u[3] += y.reversed;
    }
    for (unit, [opening, contributed, disbursed, reversed]) in per_unit {
        rows.push(vec![
            Cell::Empty,
            Cell::Text("单位合计 / unit total".into()),
            Cell::Text(unit.to_string()),
            Cell::Fen(opening),
            Cell::Fen(contributed),
            Cell::Fen(disbursed),
            Cell::Fen(reversed),
            Cell::Fen(opening + contributed - disbursed + reversed),
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    Ok(Table {
        title: format!("{year} 年度资金报表 / fund statement {year}"),
        stamp,
        columns,
        rows,
    })
}

/// One fund's trail for a year: every movement with its statement and signer.
pub async fn fund_trail<V: ViewStore>(
    views: &V,
    fund: &bangfu_domain::ids::FundId,
    year: Option<i64>,
    stamp: Vec<(String, String)>,
) -> Result<Table> {
    let trail: Vec<MovementRow> = all(views, &format!("movement/{fund}/")).await?;
    let trail: Vec<MovementRow> = trail
        .into_iter()
        .filter(|m| year.is_none_or(|y| m.date.year() == y))
        .collect();
    Ok(Table {
        title: format!("资金流水 / fund trail {fund}"),
        stamp,
        ..fund_trail_rows(&trail)
    })
}

/// The columns and rows of a fund trail (no title or stamp).
pub fn fund_trail_rows(trail: &[MovementRow]) -> Table {
    let columns = vec![
        col("date", "日期 / Date"),
        col("kind", "类别 / Kind"),
        col("id", "编号 / Id"),
        col("counterpart", "对象 / Counterpart"),
        col("amount", "金额 / Amount"),
        col("balance", "余额 / Balance"),
        col("index", "账本序号 / Entry"),
        col("signer", "签名人 / Signed by"),
        col("statement", "指令编号 / Statement"),
    ];
    let rows = trail
        .iter()
        .map(|m| {
            use crate::docs::Movement as M;
            let (kind, id, counterpart) = match &m.movement {
                M::Contribution {
                    contribution,
                    source,
                } => (
                    "收入 / contribution",
                    contribution.to_string(),
                    serde_json::to_string(source).unwrap_or_default(),
                ),
                M::Disbursement {
                    disbursement,
                    household,
                    through,
                    ..
                } => (
                    "支出 / disbursement",
                    disbursement.to_string(),
                    format!("household/{household} via cadre/{through}"),
                ),
                M::Reversal {
                    disbursement,
                    household,
                    reason,
                } => (
                    "冲回 / reversal",
                    disbursement.to_string(),
                    format!("household/{household}: {reason}"),
                ),
            };
            vec![
                Cell::Text(m.date.to_string()),
                Cell::Text(kind.into()),
                Cell::Text(id),
                Cell::Text(counterpart),
                Cell::Fen(m.amount),
                Cell::Fen(m.balance),
                Cell::Int(m.signed.index as i64),
                Cell::Text(m.signed.signer.clone()),
                Cell::Text(m.signed.statement_id.clone()),
            ]
        })
        .collect();
    Table {
        columns,
        rows,
        ..Table::default()
    }
}
