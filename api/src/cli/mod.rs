//! Command-line parsing and dispatch; each subcommand lives in its own file.

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
    /// Create a new Ed25519 key file (owner-only permissions) / 生成密钥文件
    Keygen(keygen::Args),
    /// Print the ledger format's worked test vectors, for other implementations / 打印格式测试向量
    Vectors(vectors::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Vectors(args) => vectors::run(args),
    }
}
