//! Command-line parsing and dispatch; each subcommand lives in its own file.

mod commands;
mod keygen;
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
    /// Print the ledger format's worked test vectors, for other implementations / 打印格式测试向量
    Vectors(vectors::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Commands(args) => commands::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Vectors(args) => vectors::run(args),
    }
}
