//! Command-line parsing and dispatch; each subcommand lives in its own file.

mod commands;
mod demo;
mod init;
mod keygen;
mod readmodels;
mod rebuild;
mod report;
mod serve;
mod show;
mod store;
mod submit;
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
    /// Play a whole district program into a fresh embedded ledger, verify it, summarise / 演示
    Demo(demo::Args),
    /// Start a new ledger: the authority's genesis, the log key and origin / 新建账本
    Init(init::Args),
    /// Create a new Ed25519 key file (owner-only permissions) / 生成密钥文件
    Keygen(keygen::Args),
    /// Rebuild the read models from the whole log / 重建读模型
    Rebuild(rebuild::Args),
    /// The year's assessment table and fund statements: text, JSON, CSV, Excel / 年度报表
    Report(report::Args),
    /// Run the HTTP service / 启动服务
    Serve(serve::Args),
    /// Show the read models, now or --as-of a day / --at-size a log size / 查询读模型
    Show(show::Args),
    /// Sign a command with a key file and send it (to a service or a local store) / 签名并提交指令
    Submit(submit::Args),
    /// Print the ledger format's worked test vectors, for other implementations / 打印格式测试向量
    Vectors(vectors::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Commands(args) => commands::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => init::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Rebuild(args) => rebuild::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Report(args) => report::run(args),
        Command::Show(args) => show::run(args),
        Command::Vectors(args) => vectors::run(args),
    }
}
