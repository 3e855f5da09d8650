//! `bangfu report …`: the year's assessment table and fund statements as text, JSON, CSV or Excel,
//! stamped with the log size and the checkpoint (origin, size, root) they were computed from.

use super::readmodels::{AtArgs, views_at};
use super::store::{StoreArgs, runtime, with_store};
use anyhow::Context;
use bangfu_domain::ids::{FundId, ProgramId};
use bangfu_projections::table::Table;
use bangfu_projections::views::ViewStore;
use bangfu_projections::{projector, report, scores};
use bangfu_store::backend::Backend;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
    #[command(flatten)]
    at: AtArgs,
    /// Output format / 输出格式
    #[arg(long, value_enum, default_value = "text", global = true)]
    format: Format,
    /// Write to this file (required for xlsx) / 输出文件
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// The year's assessment scores of a program / 年度考核表
    Assessment {
        #[arg(long)]
        program: String,
        #[arg(long)]
        year: i64,
    },
    /// Every fund's year: opening, in, out, closing, reconciled / 年度资金报表
    Funds {
        #[arg(long)]
        year: i64,
    },
    /// One fund's trail, with every statement and signer / 资金流水
    Trail {
        #[arg(long)]
        fund: String,
        #[arg(long)]
        year: Option<i64>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    Text,
    Json,
    Csv,
    Xlsx,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if matches!(args.format, Format::Xlsx) && args.out.is_none() {
        anyhow::bail!("--format xlsx writes a file: add --out report.xlsx");
    }
    runtime()?.block_on(async {
        let store = args.store.open_existing().await?;
        with_store!(store, |backend, views| make(&backend, views, &args).await)
    })
}

async fn make<B: Backend, V: ViewStore>(backend: &B, live: V, args: &Args) -> anyhow::Result<()> {
    let (views, size) = views_at(backend, live, &args.at).await?;
    let stamp = stamp(backend, size).await?;
    let table = match &args.what {
        What::Assessment { program, year } => {
            let p = ProgramId::new(program).map_err(|e| anyhow::anyhow!("--program: {e}"))?;
            let a = scores::assess(&views, &p, *year).await?;
            report::assessment_table(&a, stamp)
        }
        What::Funds { year } => report::fund_statement(&views, *year, stamp).await?,
        What::Trail { fund, year } => {
            let f = FundId::new(fund).map_err(|e| anyhow::anyhow!("--fund: {e}"))?;
            report::fund_trail(&views, &f, *year, stamp).await?
        }
    };
    write(&table, args.format, args.out.as_ref())
}

/// Provenance: the log size and the checkpoint body (origin, size, root hash, as in a C2SP
/// checkpoint) of the log the report was computed from.
async fn stamp<B: Backend>(backend: &B, size: u64) -> anyhow::Result<Vec<(String, String)>> {
    let root = bangfu_store::log::tree_head(backend, size).await?;
    let registry = projector::registry_at(backend, size).await?;
    let origin = registry.authority.origin.clone().unwrap_or_default();
    Ok(vec![
        ("log size / 账本条目数".into(), size.to_string()),
        (
            "checkpoint / 检查点".into(),
            format!("{origin}\n{size}\n{}", root.to_base64()),
        ),
    ])
}

fn write(table: &Table, format: Format, out: Option<&PathBuf>) -> anyhow::Result<()> {
    let text = match format {
        Format::Xlsx => {
            let path = out.context("--out is required for xlsx")?;
            table
                .write_xlsx(path)
                .map_err(|e| anyhow::anyhow!("writing {}: {e:?}", path.display()))?;
            eprintln!("已写入 / written: {}", path.display());
            return Ok(());
        }
        Format::Text => table.to_text(),
        Format::Json => serde_json::to_string_pretty(&table.to_json())? + "\n",
        Format::Csv => table.to_csv(),
    };
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("已写入 / written: {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
