//! Key files: a person's Ed25519 secret key on disk, readable by its owner only, never printed.
//!
//! Format (JSON): `{"format": "bangfu-key-v1", "name": …, "public_key": base64, "secret_key": base64}`
//! where `secret_key` is the 32-byte Ed25519 seed of RFC 8032.

use anyhow::{Result, bail};
use bangfu_ledger::note;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

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

/// Key files larger than this are not key files; reading stops there so a wrong path (a log, an
/// image) costs nothing.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// A key read from a key file. `Debug` shows the path, name and public key, never the secret.
pub struct KeyFile {
    pub path: PathBuf,
    /// The holder's name kept in the file (not signed, only to tell keys apart).
    pub name: String,
    pub key: SigningKey,
}

impl KeyFile {
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from(&self.key)
    }
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("public_key", &self.public_key().to_base64())
            .finish_non_exhaustive()
    }
}

/// Reads a key file written by [`write`] (`bangfu keygen`, `bangfu init --new-keys`).
///
/// Refuses, each with what to do: a file that group or others may access (on Unix; fix with
/// `chmod 600`), a file that is not a key file, a format version this program does not read, and
/// a public key that does not belong to the secret. No error ever contains the secret.
pub fn read(path: &Path) -> Result<KeyFile> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| {
        anyhow::anyhow!("无法打开密钥文件 {shown} / cannot open the key file {shown}: {e}")
    })?;
    let meta = file
        .metadata()
        .map_err(|e| anyhow::anyhow!("cannot read the key file {shown}: {e}"))?;
    if !meta.is_file() {
        bail!("{shown} 不是文件 / {shown} is not a file; give the path of a key file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        // Like ssh: a secret others could read may already be someone else's, so refuse to sign.
        if mode & 0o077 != 0 {
            bail!(
                "密钥文件 {shown} 可被他人访问（权限 {mode:04o}）/ the key file {shown} is accessible to group or others (mode {mode:04o}); \
                 make it yours only with `chmod 600 {shown}`, and if anyone else may have read it, rotate the key (rotate_key)"
            );
        }
    }
    if meta.len() > MAX_KEY_FILE {
        bail!(
            "{shown} 不是密钥文件 / {shown} is not a bangfu key file ({} bytes; a key file is under 1 KiB)",
            meta.len()
        );
    }
    let mut text = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut text)
        .map_err(|e| anyhow::anyhow!("cannot read the key file {shown}: {e}"))?;
    let parsed = parse(&text);
    // Best effort: do not leave the secret's text lying in freed memory.
    text.fill(0);
    let (name, key) = parsed.map_err(|why| {
        anyhow::anyhow!(
            "{shown} 不是可用的密钥文件 / {shown} is not a usable bangfu key file: {why}"
        )
    })?;
    Ok(KeyFile {
        path: path.to_owned(),
        name,
        key,
    })
}

/// The fields of a key file. Errors name fields, never their values (the secret among them).
fn parse(text: &[u8]) -> std::result::Result<(String, SigningKey), String> {
    // serde_json's syntax errors give a position and never quote the input.
    let v: Value = serde_json::from_slice(text).map_err(|e| {
        format!("not JSON ({e}); key files are made by `bangfu keygen` and look like {{\"format\": \"{FORMAT}\", …}}")
    })?;
    let Value::Object(o) = &v else {
        return Err("not a JSON object".into());
    };
    match o.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(f) if f.starts_with("bangfu-key-") => {
            let f: String = f.chars().take(40).collect();
            return Err(format!(
                "its format is {f:?}, which this version of bangfu does not read (it reads {FORMAT}); use a newer bangfu"
            ));
        }
        Some(f) => {
            let f: String = f.chars().take(40).collect();
            return Err(format!("its format is {f:?}, not {FORMAT}"));
        }
        None => return Err(format!("it has no \"format\": \"{FORMAT}\" field")),
    }
    let secret = o
        .get("secret_key")
        .and_then(Value::as_str)
        .ok_or("it has no \"secret_key\" string")?;
    let mut seed = bangfu_ledger::b64::decode_array::<32>(secret)
        .ok_or("its secret_key is not base64 of 32 bytes (the file is damaged)")?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    match o.get("public_key") {
        None => {}
        Some(Value::String(p)) if *p == PublicKey::from(&key).to_base64() => {}
        Some(_) => {
            return Err(
                "its public_key does not belong to its secret_key (the file is damaged or was edited)"
                    .into(),
            );
        }
    }
    let name = match o.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err("its name is not a string".into()),
    };
    Ok((name, key))
}

/// The log key as a signed-note signer, named by the log's origin (checkpoints need this name).
pub fn read_log_signer(path: &Path, origin: &str) -> Result<note::Signer> {
    let key = read(path)?;
    note::Signer::new(origin, key.key).map_err(|e| anyhow::anyhow!("origin {origin:?}: {e}"))
}

/// The file `bangfu init` writes beside an embedded ledger (`<data>/ledger.json`), or where
/// `--config` says: what the service needs to sign checkpoints. It holds no secret: the log key
/// stays in its own owner-only key file, named here by path.
pub const LEDGER_CONFIG_FILE: &str = "ledger.json";
pub const LEDGER_CONFIG_FORMAT: &str = "bangfu-ledger-config-v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Always [`LEDGER_CONFIG_FORMAT`].
    pub format: String,
    /// The log's origin, as in the genesis and every checkpoint.
    pub origin: String,
    /// The authority's name, as in the genesis.
    pub name: String,
    /// The genesis target, `authority/<id>`: where keys are registered.
    pub authority: String,
    /// The authority key's public part, base64.
    pub authority_key: String,
    /// The log's verifier key (C2SP signed-note vkey: `<origin>+<key id>+<base64(0x01 || key)>`).
    pub log_vkey: String,
    /// The log key file. Relative paths are read from the config file's folder.
    pub log_key_file: PathBuf,
}

impl LedgerConfig {
    pub fn read(path: &Path) -> Result<LedgerConfig> {
        let shown = path.display();
        let text = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("无法读取 {shown} / cannot read {shown}: {e}"))?;
        let config: LedgerConfig = serde_json::from_slice(&text).map_err(|e| {
            anyhow::anyhow!(
                "{shown} 不是账本配置 / {shown} is not a bangfu ledger config ({e}); `bangfu init` writes it"
            )
        })?;
        if config.format != LEDGER_CONFIG_FORMAT {
            bail!(
                "{shown}: format {:?} is not {LEDGER_CONFIG_FORMAT}",
                config.format
            );
        }
        Ok(config)
    }

    /// Writes the config whole or not at all (a temporary file renamed over the old one).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        let tmp = path.with_extension("json.tmp");
        let result = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            anyhow::anyhow!(
                "无法写入 {} / cannot write {}: {e}",
                path.display(),
                path.display()
            )
        })
    }

    /// The log key file's path, relative paths taken from the folder of the config at `config`.
    pub fn log_key_path(&self, config: &Path) -> PathBuf {
        match config.parent() {
            Some(dir) if self.log_key_file.is_relative() => dir.join(&self.log_key_file),
            _ => self.log_key_file.clone(),
        }
    }

    /// Reads the log key and checks that it is the key this config names, so a swapped key file
    /// cannot sign checkpoints nobody can verify.
    pub fn log_signer(&self, config: &Path) -> Result<note::Signer> {
        let path = self.log_key_path(config);
        let signer = read_log_signer(&path, &self.origin)?;
        let vkey = signer.verifier_key().to_string();
        if vkey != self.log_vkey {
            bail!(
                "日志密钥不符 / the log key in {} ({vkey}) is not the log key of this ledger ({}); use the key file `bangfu init` named",
                path.display(),
                self.log_vkey
            );
        }
        Ok(signer)
    }
}
