//! The witness's memory: for each log (by origin) the size and root of the last checkpoint it
//! cosigned. Everything a witness promises rests on this file, so it is written whole or not at
//! all (a temporary file in the same folder, fsync, rename, fsync of the folder) and always before
//! the cosignature it backs leaves the process.
//!
//! ```json
//! {"format": "bangfu-witness-state-v1",
//!  "logs": {"bangfu.example/qinghe": {"size": 12, "root": "<base64>", "cosigned_at": 1700000000}}}
//! ```
//!
//! A missing file means "never cosigned anything". A file that cannot be read back is refused, never
//! treated as empty: a witness that forgot what it cosigned could cosign a fork.

use anyhow::{Context, bail};
use bangfu_ledger::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const FORMAT: &str = "bangfu-witness-state-v1";

/// Larger than any real state file (one short line per log); a wrong path costs nothing.
const MAX_STATE_FILE: u64 = 16 * 1024 * 1024;

/// The last checkpoint cosigned for one log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
    /// When it was cosigned: seconds since the Unix epoch (the cosignature's timestamp).
    pub at: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    format: String,
    logs: BTreeMap<String, LogForm>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogForm {
    size: u64,
    root: String,
    cosigned_at: u64,
}

/// The state file, open: its contents in memory and an exclusive lock that keeps a second witness
/// process from using the same file (two processes could each advance from the same size).
pub struct StateFile {
    path: PathBuf,
    logs: Mutex<BTreeMap<String, Cosigned>>,
    /// Held for as long as the state is open; the lock goes with the descriptor.
    _lock: File,
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StateFile {
    /// Opens (or, if missing, starts) the state at `path`. Refuses a damaged file, and a file that
    /// another process holds open as its state.
    pub fn open(path: &Path) -> anyhow::Result<StateFile> {
        let shown = path.display();
        let lock = lock(path)?;
        let logs = match File::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                bail!("无法读取见证状态 {shown} / cannot read the witness state {shown}: {e}")
            }
            Ok(f) => {
                let mut text = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_STATE_FILE), &mut text)
                    .with_context(|| format!("cannot read the witness state {shown}"))?;
                parse(&text).map_err(|why| {
                    anyhow::anyhow!(
                        "见证状态文件已损坏 / the witness state {shown} is damaged: {why}. A witness \
                         that forgot what it cosigned could cosign a fork: restore the file from a \
                         backup, or retire this witness key and start a new one with a new state"
                    )
                })?
            }
        };
        Ok(StateFile {
            path: path.to_owned(),
            logs: Mutex::new(logs),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last checkpoint cosigned for `origin`, if any.
    pub fn get(&self, origin: &str) -> Option<Cosigned> {
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(origin)
            .copied()
    }

    /// Every log's last cosigned checkpoint.
    pub fn all(&self) -> BTreeMap<String, Cosigned> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a new last cosigned checkpoint for `origin` and makes it durable. On any error the
    /// state, in memory and on disk, is what it was: the caller must then not cosign.
    pub fn record(&self, origin: &str, cosigned: Cosigned) -> std::io::Result<()> {
        // One writer at a time, so each write holds every other log's latest state too.
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = logs.clone();
        next.insert(origin.to_owned(), cosigned);
        write_atomically(&self.path, &format(&next))?;
        *logs = next;
        Ok(())
    }
}

fn parse(text: &[u8]) -> Result<BTreeMap<String, Cosigned>, String> {
    let form: FileForm = serde_json::from_slice(text).map_err(|e| format!("not its JSON ({e})"))?;
    if form.format != FORMAT {
        return Err(format!("its format is {:?}, not {FORMAT}", form.format));
    }
    let mut logs = BTreeMap::new();
    for (origin, log) in form.logs {
        let root = Hash::from_base64(&log.root)
            .ok_or_else(|| format!("the root of {origin:?} is not a base64 SHA-256 hash"))?;
        logs.insert(
            origin,
            Cosigned {
                size: log.size,
                root,
                at: log.cosigned_at,
            },
        );
    }
    Ok(logs)
}

fn format(logs: &BTreeMap<String, Cosigned>) -> Vec<u8> {
    let form = FileForm {
        format: FORMAT.into(),
        logs: logs
            .iter()
            .map(|(origin, c)| {
                let log = LogForm {
                    size: c.size,
                    root: c.root.to_base64(),
                    cosigned_at: c.at,
                };
                (origin.clone(), log)
            })
            .collect(),
    };
    // Serializing plain strings and numbers cannot fail.
    let mut text = serde_json::to_vec_pretty(&form).unwrap_or_default();
    text.push(b'\n');
    text
}

fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Temporary file in the same folder (so the rename is atomic), fsync, rename over the old file,
/// fsync the folder (so the rename itself survives a crash).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = folder(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "witness-state".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Takes an exclusive lock on `<state>.lock` beside the state file; also proves early that the
/// folder exists and is writable.
fn lock(path: &Path) -> anyhow::Result<File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| {
            anyhow::anyhow!(
                "无法在 {} 旁建立锁文件 / cannot create the lock file {}: {e}; does the folder exist and is it writable?",
                path.display(),
                lock_path.display()
            )
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if locked != 0 {
            bail!(
                "见证状态 {} 正被另一进程使用 / the witness state {} is in use by another process \
                 (lock {}); run one witness per state file",
                path.display(),
                path.display(),
                lock_path.display()
            );
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let root = bangfu_ledger::merkle::leaf_hash(b"x");
        {
            let s = StateFile::open(&path).unwrap();
            assert_eq!(s.get("o"), None);
            // A second process (here: a second open) may not use the same state.
            assert!(StateFile::open(&path).is_err());
            let c = Cosigned {
                size: 7,
                root,
                at: 1_700_000_000,
            };
            s.record("o", c).unwrap();
            assert_eq!(s.get("o"), Some(c));
        }
        let s = StateFile::open(&path).unwrap();
        assert_eq!(s.get("o").map(|c| (c.size, c.root)), Some((7, root)));
        drop(s);
        std::fs::write(
            &path,
            b"{\"format\": \"bangfu-witness-state-v1\", \"logs\": {\"o\": {}}}",
        )
        .unwrap();
        let e = StateFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("backup"), "{e}");
    }
}
