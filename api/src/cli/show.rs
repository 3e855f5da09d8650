//! `bangfu show …`: the read models, now or as of a past day or log size, as aligned tables or
//! (`--json`) as JSON.

use super::readmodels::{AtArgs, views_at};
use super::store::{StoreArgs, runtime, with_store};
use bangfu_domain::ids::{CadreId, FundId, HouseholdId, ProgramId};
use bangfu_projections::query::{self, RequestFilter};
use bangfu_projections::scores;
use bangfu_projections::table::{Cell, Column, Table};
use bangfu_projections::views::ViewStore;
use bangfu_store::backend::Backend;
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
    #[command(flatten)]
    at: AtArgs,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Who is responsible for a household, a cadre's households, or a program's pairings / 结对关系
    Pairings {
        #[arg(long, conflicts_with_all = ["cadre", "program"])]
        household: Option<String>,
        #[arg(long, conflicts_with = "program")]
        cadre: Option<String>,
        /// With --cadre: include pairings the cadre has left.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        program: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One pairing with its full history / 结对详情
    Pairing { id: String },
    /// Visit compliance of a pairing, quarter by quarter / 走访达标
    Compliance { pairing: String },
    /// Every fund's balance, reconciled / 资金余额与对账
    Funds,
    /// A fund's trail / 资金流水
    Fund {
        id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Where a contribution's money went (first in, first out) / 捐款去向
    Contribution { fund: String, id: String },
    /// Everything a household received / 受助明细
    Receipts {
        household: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// A program's requests (三单) / 诉求
    Requests {
        #[arg(long)]
        program: String,
        #[arg(long, value_enum, default_value = "all")]
        filter: Filter,
    },
    /// The year's assessment scores / 年度考核
    Scores {
        #[arg(long)]
        program: String,
        #[arg(long)]
        year: i64,
    },
    /// Everything that happened to a household, with who signed it / 户史
    Timeline {
        household: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Money per unit and year / 单位年度资金合计
    Totals,
}

#[derive(clap::Args, Debug)]
struct PageArgs {
    /// Continue after this key (printed as `next` by the previous page).
    #[arg(long, default_value = "")]
    after: String,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(clap::ValueEnum, Clone, Debug)]
enum Filter {
    All,
    Open,
    Overdue,
    Resolved,
    Confirmed,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, views| show(&backend, views, &args).await)
    })
}

fn parse<T>(what: &str, s: &str, f: impl Fn(&str) -> Result<T, String>) -> anyhow::Result<T> {
    f(s).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

async fn show<B: Backend, V: ViewStore>(backend: &B, live: V, args: &Args) -> anyhow::Result<()> {
    let (views, size) = views_at(backend, live, &args.at).await?;
    let v = &views;
    let out = Out {
        json: args.json,
        size,
    };
    match &args.what {
        What::Pairings {
            household,
            cadre,
            all,
            program,
            page,
        } => {
            let (rows, next) = if let Some(h) = household {
                let h = parse("household", h, HouseholdId::new)?;
                (query::pairings_of_household(v, &h).await?, None)
            } else if let Some(c) = cadre {
                let c = parse("cadre", c, CadreId::new)?;
                (query::pairings_of_cadre(v, &c, !all).await?, None)
            } else if let Some(p) = program {
                let p = parse("program", p, ProgramId::new)?;
                let pg = query::pairings_of_program(v, &p, &page.after, page.limit).await?;
                (pg.items, pg.next)
            } else {
                anyhow::bail!("say whose pairings: --household H, --cadre C or --program P");
            };
            out.print(&rows, next.as_deref(), || Table {
                title: "结对关系 / pairings".into(),
                columns: cols(&[
                    ("pairing", "结对 / Pairing"),
                    ("status", "状态 / Status"),
                    ("lead", "牵头干部 / Lead"),
                    ("team", "帮扶干部 / Team"),
                    ("since", "起始 / Since"),
                    ("visits", "走访 / Visits"),
                ]),
                rows: rows
                    .iter()
                    .map(|p| {
                        vec![
                            text(&p.id),
                            text(&format!("{:?}", p.status).to_lowercase()),
                            text(&p.team.lead),
                            text(&join(&p.team.cadres)),
                            text(&p.team.since),
                            Cell::Int(p.visits.iter().filter(|x| !x.retracted).count() as i64),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Pairing { id } => {
            let p = query::pairing(v, id)
                .await?
                .ok_or_else(|| not_found("pairing", id))?;
            out.print(&p, None, || Table {
                title: format!("结对 {} / pairing {}", p.id, p.id),
                columns: cols(&[
                    ("step", "事项 / Step"),
                    ("date", "日期 / Date"),
                    ("cadres", "干部 / Cadres"),
                    ("lead", "牵头 / Lead"),
                    ("reason", "原因 / Reason"),
                    ("signer", "签名人 / Signed by"),
                    ("index", "序号 / Entry"),
                ]),
                rows: p
                    .history
                    .iter()
                    .map(|s| {
                        vec![
                            text(&s.step),
                            s.date.map_or(Cell::Empty, |d| text(&d)),
                            text(&join(&s.cadres)),
                            s.lead.as_ref().map_or(Cell::Empty, text),
                            s.reason.as_ref().map_or(Cell::Empty, text),
                            text(&s.signed.signer),
                            Cell::Int(s.signed.index as i64),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Compliance { pairing } => {
            let qs = query::compliance_of_pairing(v, pairing)
                .await?
                .ok_or_else(|| not_found("pairing", pairing))?;
            out.print(&qs, None, || Table {
                title: format!("走访达标 / visit compliance {pairing}"),
                columns: cols(&[
                    ("quarter", "季度 / Quarter"),
                    ("status", "结果 / Status"),
                    (
                        "segments",
                        "分段（天数·应访·实访·干部）/ Segments (days·due·made·team)",
                    ),
                    ("festival", "节日走访 / Festival visits"),
                ]),
                rows: qs
                    .iter()
                    .map(|q| {
                        vec![
                            text(&q.quarter),
                            text(&format!("{:?}", q.status).to_lowercase()),
                            text(
                                &q.segments
                                    .iter()
                                    .map(|s| {
                                        format!(
                                            "{}..{} {}d·{}·{}·{}",
                                            s.from,
                                            s.to,
                                            s.days,
                                            s.required,
                                            s.visits.len(),
                                            join(&s.cadres)
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            ),
                            text(
                                &q.festival_visits
                                    .iter()
                                    .map(|f| format!("{} {}", f.festival, f.date))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            ),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Funds => {
            let rec = query::reconcile(v).await?;
            out.print(&rec, None, || Table {
                title: "资金余额与对账 / fund balances, reconciled".into(),
                columns: cols(&[
                    ("fund", "资金 / Fund"),
                    ("contributed", "收入 / In"),
                    ("disbursed", "支出 / Out"),
                    ("reversed", "冲回 / Reversed"),
                    ("balance", "余额 / Balance"),
                    ("ok", "账实相符 / Reconciled"),
                ]),
                rows: rec
                    .iter()
                    .map(|r| {
                        vec![
                            text(&r.fund),
                            Cell::Fen(r.contributed),
                            Cell::Fen(r.disbursed),
                            Cell::Fen(r.reversed),
                            Cell::Fen(r.balance),
                            text(if r.ok { "是 / yes" } else { "否 / NO" }),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Fund { id, page } => {
            let f = parse("fund", id, FundId::new)?;
            let row = query::fund(v, &f)
                .await?
                .ok_or_else(|| not_found("fund", id))?;
            let pg = query::movements(v, &f, &page.after, page.limit).await?;
            let t = bangfu_projections::report::fund_trail_rows(&pg.items);
            out.print(
                &serde_json::json!({"fund": row, "movements": pg.items}),
                pg.next.as_deref(),
                || Table {
                    title: format!(
                        "{} 余额 {} / balance {}",
                        row.name,
                        yuan(row.balance),
                        yuan(row.balance)
                    ),
                    ..t
                },
            )
        }
        What::Contribution { fund, id } => {
            let f = parse("fund", fund, FundId::new)?;
            let c = query::contribution(v, &f, id)
                .await?
                .ok_or_else(|| not_found("contribution", id))?;
            out.print(&c, None, || Table {
                title: format!(
                    "捐款 {} 去向（先进先出）/ where contribution {} went (FIFO): {} of {} left",
                    c.id,
                    c.id,
                    yuan(c.remaining),
                    yuan(c.amount)
                ),
                columns: cols(&[
                    ("disbursement", "支出 / Disbursement"),
                    ("household", "对象 / Household"),
                    ("amount", "金额 / Amount"),
                    ("reversed", "已冲回 / Reversed"),
                ]),
                rows: c
                    .allocations
                    .iter()
                    .map(|a| {
                        vec![
                            text(&a.disbursement),
                            text(&a.household),
                            Cell::Fen(a.amount),
                            text(if a.reversed { "是 / yes" } else { "" }),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Receipts { household, page } => {
            let h = parse("household", household, HouseholdId::new)?;
            let pg = query::receipts(v, &h, &page.after, page.limit).await?;
            out.print(&pg.items, pg.next.as_deref(), || Table {
                title: format!("受助明细 / help received by {household}"),
                columns: cols(&[
                    ("date", "日期 / Date"),
                    ("from", "来源 / From"),
                    ("cadre", "经手干部 / Cadre"),
                    ("value", "价值 / Value"),
                    ("purpose", "用途 / Purpose"),
                    ("acknowledged", "已确认 / Acknowledged"),
                    ("reversed", "已冲回 / Reversed"),
                ]),
                rows: pg
                    .items
                    .iter()
                    .map(|r| {
                        let from = match &r.source {
                            bangfu_projections::docs::ReceiptSource::Fund { fund, .. } => {
                                format!("fund/{fund}")
                            }
                            bangfu_projections::docs::ReceiptSource::Cadre { .. } => {
                                "个人捐助 / own pocket".into()
                            }
                        };
                        vec![
                            text(&r.date),
                            text(&from),
                            text(r.source.cadre()),
                            Cell::Fen(r.value),
                            text(&format!("{:?}", r.purpose).to_lowercase()),
                            text(if r.acknowledged {
                                "是 / yes"
                            } else {
                                "否 / no"
                            }),
                            text(if r.reversed { "是 / yes" } else { "" }),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Requests { program, filter } => {
            let p = parse("program", program, ProgramId::new)?;
            let f = match filter {
                Filter::All => RequestFilter::All,
                Filter::Open => RequestFilter::Open,
                Filter::Overdue => RequestFilter::Overdue,
                Filter::Resolved => RequestFilter::Resolved,
                Filter::Confirmed => RequestFilter::Confirmed,
            };
            let rs = query::requests(v, &p, f).await?;
            out.print(&rs, None, || Table {
                title: format!("诉求 / requests of {program}"),
                columns: cols(&[
                    ("request", "诉求 / Request"),
                    ("pairing", "结对 / Pairing"),
                    ("summary", "内容 / Summary"),
                    ("raised", "提出 / Raised"),
                    ("state", "状态 / State"),
                    ("responsible", "责任人 / Responsible"),
                    ("overdue", "逾期 / Overdue"),
                    ("days", "办结天数 / Days to resolve"),
                ]),
                rows: rs
                    .iter()
                    .map(|r| {
                        vec![
                            text(&r.request.id),
                            text(&r.request.pairing),
                            text(&r.request.summary),
                            text(&r.request.raised_on),
                            text(&format!("{:?}", r.request.state).to_lowercase()),
                            text(&r.request.responsible),
                            text(if r.overdue { "是 / yes" } else { "" }),
                            r.days_to_resolve.map_or(Cell::Empty, Cell::Int),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Scores { program, year } => {
            let p = parse("program", program, ProgramId::new)?;
            let a = scores::assess(v, &p, *year).await?;
            if out.json {
                return out.print(&a, None, Table::default);
            }
            let t = bangfu_projections::report::assessment_table(&a, Vec::new());
            out.print(&a, None, || t)
        }
        What::Timeline { household, page } => {
            let h = parse("household", household, HouseholdId::new)?;
            let pg = query::timeline(v, &h, &page.after, page.limit).await?;
            out.print(&pg.items, pg.next.as_deref(), || Table {
                title: format!("户史 / timeline of {household}"),
                columns: cols(&[
                    ("index", "序号 / Entry"),
                    ("recorded_at", "记录时间 / Recorded"),
                    ("event", "事件 / Event"),
                    ("aggregate", "对象 / On"),
                    ("signer", "签名人 / Signed by"),
                ]),
                rows: pg
                    .items
                    .iter()
                    .map(|t| {
                        vec![
                            Cell::Int(t.signed.index as i64),
                            text(&t.signed.recorded_at),
                            text(&t.event_type),
                            text(&t.aggregate),
                            text(&t.signed.signer),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
        What::Totals => {
            let totals = query::totals_per_unit_year(v).await?;
            let list: Vec<_> = totals
                .iter()
                .map(|((u, y), t)| serde_json::json!({"unit": u, "year": y, "totals": t}))
                .collect();
            out.print(&list, None, || Table {
                title: "单位年度资金合计 / money per unit and year".into(),
                columns: cols(&[
                    ("unit", "单位 / Unit"),
                    ("year", "年度 / Year"),
                    ("contributed", "收入 / In"),
                    ("disbursed", "支出 / Out"),
                    ("reversed", "冲回 / Reversed"),
                    ("donated", "个人捐助 / Donated"),
                ]),
                rows: totals
                    .iter()
                    .map(|((u, y), t)| {
                        vec![
                            text(u),
                            Cell::Int(*y),
                            Cell::Fen(t.contributed),
                            Cell::Fen(t.disbursed),
                            Cell::Fen(t.reversed),
                            Cell::Fen(t.donated),
                        ]
                    })
                    .collect(),
                ..Default::default()
            })
        }
    }
}

struct Out {
    json: bool,
    size: u64,
}

impl Out {
    /// JSON (with the log size and the next page's cursor) or an aligned table.
    fn print<T: Serialize>(
        &self,
        data: &T,
        next: Option<&str>,
        table: impl FnOnce() -> Table,
    ) -> anyhow::Result<()> {
        if self.json {
            let doc = serde_json::json!({"log_size": self.size, "data": data, "next": next});
            println!("{}", serde_json::to_string_pretty(&doc)?);
            return Ok(());
        }
        let mut t = table();
        t.stamp
            .insert(0, ("log size / 账本条目数".into(), self.size.to_string()));
        print!("{}", t.to_text());
        if let Some(n) = next {
            println!("\n更多 / more: --after '{n}'");
        }
        Ok(())
    }
}

fn cols(spec: &[(&'static str, &str)]) -> Vec<Column> {
    spec.iter()
        .map(|(key, header)| Column {
            key,
            header: (*header).to_owned(),
        })
        .collect()
}

fn text(s: &(impl std::fmt::Display + ?Sized)) -> Cell {
    Cell::Text(s.to_string())
}

fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn yuan(fen: i64) -> String {
    format!("¥{}", bangfu_projections::table::hundredths(fen))
}

fn not_found(what: &str, id: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "没有 {what} {id} / there is no {what} {id} in the read models at this point; check the id (ids are case-sensitive)"
    )
}
