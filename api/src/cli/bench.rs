//! `bangfu bench`: generate a synthetic program at a scale, run it through the real code paths and
//! print every figure beside a baseline measured in the same run (see `bangfu_api::bench`).

use super::store::runtime;
use anyhow::Context;
use bangfu_api::bench::{self, generate::Scale};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ScaleArg {
    /// About 20,000 entries: seconds (for tests and CI)
    Tiny,
    /// 16,000 households, 10,000 cadres, 6 years: about a million entries, minutes
    City,
    /// About ten million entries: on demand, an hour or more
    Province,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How big a program to generate / 规模
    #[arg(long, value_enum, default_value = "city")]
    scale: ScaleArg,
    /// PostgreSQL server for the PostgreSQL figures and the cqrs-es baseline; its user must be
    /// allowed to CREATE DATABASE (two scratch databases, dropped afterwards) / PostgreSQL 服务器
    #[arg(
        long,
        env = "BANGFU_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Skip PostgreSQL: no PostgreSQL figures and no baseline / 不测 PostgreSQL
    #[arg(long)]
    no_postgres: bool,
    /// Print the report as JSON instead of a table / 输出 JSON
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file / 另存 JSON 报告
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Keep the generated embedded stores in this new or empty folder / 保留生成的账本
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let options = bench::Options {
        scale: match args.scale {
            ScaleArg::Tiny => Scale::Tiny,
            ScaleArg::City => Scale::City,
            ScaleArg::Province => Scale::Province,
        },
        admin_url: (!args.no_postgres).then_some(args.database_url),
        keep: args.keep,
        bangfu: std::env::current_exe()
            .context("找不到 bangfu 程序 / cannot find the running bangfu program")?,
        progress: true,
    };
    let report = runtime()?.block_on(bench::run(&options))?;
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{json}\n")).with_context(|| {
            format!(
                "写入报告失败 / could not write the report to {}",
                path.display()
            )
        })?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", bench::table(&report));
    }
    Ok(())
}
