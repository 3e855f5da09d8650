//! Command-line parsing and dispatch; each subcommand lives in its own file.

mod anomalies;
mod bench;
mod checkpoint;
mod commands;
mod demo;
mod export;
mod init;
mod keygen;
mod prove;
mod readmodels;
mod rebuild;
mod report;
mod serve;
mod show;
mod spot_check;
mod store;
mod submit;
mod vectors;
mod verify;
mod witness;

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
    /// Look for irregularities, each with the entries behind it: late records, bursts, copied
    /// diaries, … / 异常线索
    Anomalies(anomalies::Args),
    /// Benchmark a synthetic program at a scale against baselines measured in the same run / 性能基准
    Bench(bench::Args),
    /// Check a proof offline against the log's vkey / 离线核验证明
    CheckProof(prove::CheckArgs),
    /// Sign a checkpoint of the local store now and gather cosignatures / 立即签署检查点
    Checkpoint(checkpoint::Args),
    /// List every command, its target and who may issue it / 列出全部指令及签发角色
    Commands(commands::Args),
    /// Play a whole district program into a fresh embedded ledger, verify it, summarise / 演示
    Demo(demo::Args),
    /// Write the export bundle an inspector verifies offline / 导出核验包
    Export(export::Args),
    /// Start a new ledger: the authority's genesis, the log key and origin / 新建账本
    Init(init::Args),
    /// Create a new Ed25519 key file (owner-only permissions) / 生成密钥文件
    Keygen(keygen::Args),
    /// Write an inclusion or consistency proof / 生成包含或一致性证明
    Prove(prove::ProveArgs),
    /// Rebuild the read models from the whole log / 重建读模型
    Rebuild(rebuild::Args),
    /// The year's assessment table and fund statements: text, JSON, CSV, Excel / 年度报表
    Report(report::Args),
    /// Run the HTTP service / 启动服务
    Serve(serve::Args),
    /// Show the read models, now or --as-of a day / --at-size a log size / 查询读模型
    Show(show::Args),
    /// The verifiable spot-check draw: draw, verify, sample / 可验证抽查抽样
    SpotCheck(spot_check::Args),
    /// Sign a command with a key file and send it (to a service or a local store) / 签名并提交指令
    Submit(submit::Args),
    /// Verify a ledger or an export bundle end to end / 核验账本或导出包
    Verify(verify::Args),
    /// Print the ledger format's worked test vectors, for other implementations / 打印格式测试向量
    Vectors(vectors::Args),
    /// Run a witness that cosigns a log's checkpoints (C2SP tlog-witness) / 见证人
    Witness(witness::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Anomalies(args) => anomalies::run(args),
        Command::Bench(args) => bench::run(args),
        Command::CheckProof(args) => prove::check(args),
        Command::Commands(args) => commands::run(args),
        Command::Export(args) => export::run(args),
        Command::Prove(args) => prove::prove(args),
        Command::Verify(args) => verify::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Init(args) => init::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Rebuild(args) => rebuild::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Report(args) => report::run(args),
        Command::Show(args) => show::run(args),
        Command::SpotCheck(args) => spot_check::run(args),
        Command::Vectors(args) => vectors::run(args),
        Command::Witness(args) => witness::run(args),
        Command::Checkpoint(args) => checkpoint::run(args),
    }
}
