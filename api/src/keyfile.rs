//! Key files: a person's Ed25519 secret key on disk, readable by its owner only, never printed.
//!
//! Format (JSON): `{"format": "bangfu-key-v1", "name": …, "public_key": base64, "secret_key": base64}`
//! where `secret_key` is the 32-byte Ed25519 seed of RFC 8032.

use anyhow::Result;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use serde_json::json;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

pub const FORMAT: &str = "bangfu-key-v1";

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a key file with owner-only permissions; refuses to replace an existing file.
pub fn write(path: &Path, name: &str, key: &SigningKey) -> Result<()> {
    let text = serde_json::to_string_pretty(&json!({
        "format": FORMAT,
        "name": name,
        "public_key": PublicKey::from(key).to_base64(),
        "secret_key": bangfu_ledger::b64::encode(key.to_bytes()),
    }))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; choose another path or remove the old key first / 文件已存在，请换一个路径",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}
