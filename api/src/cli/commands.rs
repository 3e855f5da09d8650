//! `bangfu commands`: every command bangfu accepts, the aggregate it targets and who may issue it —
//! printed from the one role table the service and the verifier use.

use bangfu_domain::role::{COMMANDS, Issuer};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

fn who(issuer: Issuer) -> Vec<String> {
    match issuer {
        Issuer::Genesis => vec!["the authority, as entry 0 (self-signed)".into()],
        Issuer::AnyKeyForItself => vec!["any registered key, for itself".into()],
        Issuer::Roles(roles) => roles
            .iter()
            .map(|r| format!("{} ({})", r.name(), r.chinese()))
            .collect(),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.json {
        let rows: Vec<_> = COMMANDS
            .iter()
            .map(|r| json!({"command": r.command, "target": format!("{}/<id>", r.aggregate), "issued_by": who(r.issuer)}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let width = COMMANDS.iter().map(|r| r.command.len()).max().unwrap_or(0);
    let twidth = COMMANDS
        .iter()
        .map(|r| r.aggregate.len() + 5)
        .max()
        .unwrap_or(0);
    println!("# 指令 / 目标 / 签发角色");
    println!("{:width$}  {:twidth$}  issued by", "command", "target");
    for r in COMMANDS {
        println!(
            "{:width$}  {:twidth$}  {}",
            r.command,
            format!("{}/<id>", r.aggregate),
            who(r.issuer).join(", ")
        );
    }
    Ok(())
}
