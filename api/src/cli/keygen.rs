use bangfu_api::keyfile;
use bangfu_ledger::signature::PublicKey;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write the key file; it must not exist yet.
    #[arg(long)]
    out: PathBuf,
    /// The key holder's name, kept in the file to tell keys apart (not signed).
    #[arg(long, default_value = "")]
    name: String,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let key = keyfile::generate()?;
    keyfile::write(&args.out, &args.name, &key)?;
    let public = PublicKey::from(&key).to_base64();
    if args.json {
        println!("{}", json!({"path": args.out, "public_key": public}));
    } else {
        println!(
            "Key written to {} (readable by you only)",
            args.out.display()
        );
        println!("密钥已写入 {}（仅本人可读）", args.out.display());
        println!("public key / 公钥: {public}");
    }
    Ok(())
}
