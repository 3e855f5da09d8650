//! `bangfu anomalies`: the irregularities an inspector hunts for (late records, bursts before a
//! deadline, copied diaries, visits after leaving, unacknowledged disbursements, duplicate claims,
//! missed quarters, findings that contradict the log), each with the entries behind it, as a
//! table, JSON, CSV or Excel. The rules and thresholds are in `docs/anomalies.md`.

use super::readmodels::{AtArgs, bar, views_at};
use super::store::{StoreArgs, runtime, with_store};
use anyhow::Context;
use bangfu_inspect::anomalies::{self, Kind, Options};
use bangfu_inspect::bundle;
use bangfu_projections::projector;
use bangfu_projections::views::{MemViews, ViewStore};
use bangfu_store::backend::Backend;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this kind (repeat for several): late_record, end_of_quarter_burst, copied_diary,
    /// visit_after_handover, unacknowledged_disbursement, duplicate_claim, missed_quarters,
    /// contradicted_finding / 只查这一类（可重复）
    #[arg(long = "kind", value_name = "KIND", value_parser = parse_kind)]
    kinds: Vec<Kind>,
    /// Print the whole report as JSON (same as --format json) / 输出 JSON
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Output format / 输出格式
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write to this file (required for xlsx) / 输出文件
    #[arg(long)]
    out: Option<PathBuf>,
    /// Show at most this many findings (the counts still cover all) / 最多列出条数
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Look in an export bundle instead of the store (check it first with `bangfu verify
    /// --bundle`) / 使用导出包
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    thresholds: Thresholds,
    #[command(flatten)]
    at: AtArgs,
    #[command(flatten)]
    store: StoreArgs,
}

/// Thresholds; each defaults to `anomalies::Options::default()`, documented in
/// `docs/anomalies.md`.
#[derive(clap::Args, Debug)]
struct Thresholds {
    /// Days allowed between a visit or donation and its record, for every program (default: each
    /// program's own `late_after_days` rule) / 补录期限（天）
    #[arg(long, value_name = "DAYS")]
    late_after_days: Option<u32>,
    /// The last days of a quarter (or before a spot check opens) a burst is counted in [5] /
    /// 突击统计天数
    #[arg(long, value_name = "DAYS")]
    burst_days: Option<u32>,
    /// A burst is at least this many of one cadre's visits in those days [3] / 突击最少次数
    #[arg(long, value_name = "N")]
    burst_visits: Option<u32>,
    /// … and at least this percentage of the cadre's visits of the quarter [60] / 突击占比
    #[arg(long, value_name = "PERCENT")]
    burst_percent: Option<u32>,
    /// Diaries at least this similar (percent, Jaccard of 3-character shingles) are copies [80] /
    /// 日记相似度阈值
    #[arg(long, value_name = "PERCENT")]
    diary_similarity: Option<u32>,
    /// Diaries shorter than this many characters are not compared [20] / 日记最短字数
    #[arg(long, value_name = "N")]
    diary_min_chars: Option<u32>,
    /// A disbursement unacknowledged this many days after its date is flagged [30] / 未确认天数
    #[arg(long, value_name = "DAYS")]
    unacknowledged_days: Option<u32>,
    /// Identical help for one household at most this many days apart is a duplicate [3] /
    /// 重复登记间隔天数
    #[arg(long, value_name = "DAYS")]
    duplicate_days: Option<u32>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Csv,
    Xlsx,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

impl Args {
    fn options(&self) -> Options {
        let d = Options::default();
        let t = &self.thresholds;
        Options {
            kinds: self.kinds.iter().copied().collect(),
            late_after_days: t.late_after_days,
            burst_window_days: t.burst_days.unwrap_or(d.burst_window_days),
            burst_min_visits: t.burst_visits.unwrap_or(d.burst_min_visits),
            burst_min_percent: t.burst_percent.unwrap_or(d.burst_min_percent),
            burst_lookback_days: d.burst_lookback_days.max(t.burst_days.unwrap_or(0)),
            diary_similarity_percent: t.diary_similarity.unwrap_or(d.diary_similarity_percent),
            diary_min_chars: t.diary_min_chars.unwrap_or(d.diary_min_chars),
            unacknowledged_after_days: t.unacknowledged_days.unwrap_or(d.unacknowledged_after_days),
            duplicate_window_days: t.duplicate_days.unwrap_or(d.duplicate_window_days),
        }
    }

    fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.format() == Format::Xlsx && args.out.is_none() {
        anyhow::bail!(
            "--format xlsx 需要输出文件 / --format xlsx writes a file: add --out anomalies.xlsx"
        );
    }
    let options = args.options();
    // Refuse bad thresholds before opening anything.
    options.check()?;
    runtime()?.block_on(async {
        if let Some(dir) = &args.bundle {
            let b = bundle::Bundle::open(dir)?;
            let bar = bar(b.count_entries()?, "载入导出包 / loading the bundle");
            let loaded = bundle::load(dir, &mut |done, _| bar.set_position(done)).await?;
            bar.finish_and_clear();
            // The bundle's read models live in memory only, for as long as this command runs.
            return make(&loaded.backend, MemViews::new(), &args, &options).await;
        }
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, views| {
            make(&backend, views, &args, &options).await
        })
    })
}

async fn make<B: Backend, V: ViewStore>(
    backend: &B,
    live: V,
    args: &Args,
    options: &Options,
) -> anyhow::Result<()> {
    let (views, size) = views_at(backend, live, &args.at).await?;
    let progress = bar(size, "查找异常 / looking for anomalies");
    let mut report = anomalies::detect(backend, &views, options, |done, _| {
        progress.set_position(done)
    })
    .await?;
    progress.finish_and_clear();
    let stamp = stamp(backend, report.log_size).await?;
    let total = report.findings.len();
    if let Some(n) = args.limit {
        report.findings.truncate(n);
    }
    let shown = report.findings.len();
    let limited = (shown < total).then(|| {
        format!("列出 {shown} 条，共 {total} 条（--limit）/ showing {shown} of {total} findings (--limit)")
    });
    let text = match args.format() {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            v["stamp"] = stamp
                .iter()
                .map(|(k, s)| (k.clone(), serde_json::Value::from(s.as_str())))
                .collect::<serde_json::Map<_, _>>()
                .into();
            v["shown"] = shown.into();
            serde_json::to_string_pretty(&v)? + "\n"
        }
        format => {
            let mut stamp = stamp;
            if let Some(l) = &limited {
                stamp.push(("列出 / shown".into(), l.clone()));
            }
            let table = anomalies::table(&report, stamp);
            match format {
                Format::Xlsx => {
                    let path = args.out.as_ref().context("--out is required for xlsx")?;
                    table
                        .write_xlsx(path)
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                    eprintln!("已写入 / written: {}", path.display());
                    return Ok(());
                }
                Format::Csv => table.to_csv(),
                _ => table.to_text(),
            }
        }
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("已写入 / written: {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Provenance: the log size and the checkpoint (origin, size, root) the report was computed
/// from, and the log's signed checkpoint of that size when one is stored.
async fn stamp<B: Backend>(backend: &B, size: u64) -> anyhow::Result<Vec<(String, String)>> {
    let root = bangfu_store::log::tree_head(backend, size).await?;
    let registry = projector::registry_at(backend, size).await?;
    let origin = registry.authority.origin.clone().unwrap_or_default();
    let mut out = vec![
        ("log size / 账本条目数".to_owned(), size.to_string()),
        (
            "checkpoint / 检查点".to_owned(),
            format!("{origin}\n{size}\n{}", root.to_base64()),
        ),
    ];
    if let Some(signed) = backend.checkpoint(size).await? {
        out.push((
            "signed checkpoint / 已签名检查点".to_owned(),
            signed.cosigned_note(),
        ));
    }
    Ok(out)
}
