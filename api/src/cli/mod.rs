//! Command-line parsing and dispatch; each subcommand lives in its own file.

mod commands;
mod keygen;
mod readmodels;
mod rebuild;
mod report;
mod show;
mod store;
mod vectors;

use clap::{Parser, Subcommand};

/// bangfu (帮扶): a tamper-evident ledger for pairing-assistance programs.
#[derive(Parser, Debug)]
#[command(name = "bangfu", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every command, its target and who may issue it / 列出全部指令及签发角色
    Commands(commands::Args),
    /// Create a new Ed25519 key file (owner-only permissions) / 生成密钥文件
    Keygen(keygen::Args),
    /// Rebuild the read models from the whole log / 重建读模型
    Rebuild(rebuild::Args),
    /// The year's assessment table and fund statements: text, JSON, CSV, Excel / 年度报表
    Report(report::Args),
    /// Show the read models, now or --as-of a day / --at-size a log size / 查询读模型
    Show(show::Args),
    /// Print the ledger format's worked test vectors, for other implementations / 打印格式测试向量
    Vectors(vectors::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Commands(args) => commands::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Rebuild(args) => rebuild::run(args),
        Command::Report(args) => report::run(args),
        Command::Show(args) => show::run(args),
        Command::Vectors(args) => vectors::run(args),
    }
}
