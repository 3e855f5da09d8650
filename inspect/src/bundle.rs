//! The export bundle of `docs/ledger-format.md` §10: writing one from a store, reading its files,
//! and loading one into a throwaway embedded store so that every other tool (the spot-check draw,
//! report re-computation, anomalies) runs on a bundle exactly as on a live ledger.
//!
//! Loading does not verify: run [`crate::verify`] on the bundle first. It only refuses what it
//! cannot store (an entry that does not parse, an index out of order).

use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::CosignerKey;
use bangfu_ledger::entry::Entry;
use bangfu_ledger::merkle::{CompactRange, leaf_hash};
use bangfu_ledger::note::{Note, NoteSignature, Verifier as _, VerifierKey};
use bangfu_ledger::seal::Opening;
use bangfu_store::backend::{Backend, Batch, StoreError, StoredCheckpoint};
use bangfu_store::log::new_entry;
use bangfu_store::sqlite::SqliteBackend;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};

pub const ENTRIES: &str = "entries.jsonl";
pub const CHECKPOINT: &str = "checkpoint";
pub const LOG_VKEY: &str = "log.vkey";
pub const WITNESSES: &str = "witnesses.vkeys";
pub const VAULT: &str = "vault.jsonl";

/// Entries read or written per page.
const PAGE: u32 = 1000;
/// The longest entry line a reader accepts: far above any statement the intake takes (256 KiB)
/// with its events, small enough that a hostile bundle cannot exhaust memory.
pub const MAX_LINE: usize = 4 << 20;

#[derive(Debug)]
pub enum BundleError {
    /// A file is missing, unreadable or unwritable.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file is there but not what §10 says it holds.
    Format {
        file: &'static str,
        why: String,
    },
    Store(StoreError),
    /// Export refused: the store disagrees with the checkpoint it signed.
    Mismatch(String),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Io { path, error } => write!(
                f,
                "无法读写 {} / cannot read or write {}: {error}",
                path.display(),
                path.display()
            ),
            BundleError::Format { file, why } => {
                write!(
                    f,
                    "导出包文件 {file} 格式错误 / the bundle's {file} is malformed: {why}"
                )
            }
            BundleError::Store(e) => write!(f, "{e}"),
            BundleError::Mismatch(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for BundleError {}

impl From<StoreError> for BundleError {
    fn from(e: StoreError) -> Self {
        BundleError::Store(e)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |error| BundleError::Io {
        path: path.to_owned(),
        error,
    }
}

fn format_err(file: &'static str, why: impl Into<String>) -> BundleError {
    BundleError::Format {
        file,
        why: why.into(),
    }
}

/// What `export` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    pub root: Hash,
    pub cosignatures: usize,
    pub vault_rows: u64,
    pub witnesses: usize,
}

/// Writes the bundle of `checkpoint` (which must be one the store signed: its note is checked with
/// `log_vkey`) into `out`, a folder that must not exist yet. Files go into a temporary sibling
/// folder first, renamed into place when complete, so an interrupted export leaves no bundle that
/// looks whole. The entries' root is recomputed on the way and must be the checkpoint's root.
pub async fn export<B: Backend>(
    backend: &B,
    checkpoint: &StoredCheckpoint,
    log_vkey: &VerifierKey,
    witnesses: &[CosignerKey],
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary, BundleError> {
    let note = Note::parse(checkpoint.note.as_bytes())
        .map_err(|e| BundleError::Mismatch(format!("the stored checkpoint is malformed: {e}")))?;
    Checkpoint::open_note(&note, log_vkey).map_err(|e| {
        BundleError::Mismatch(format!(
            "存储的检查点不是此日志密钥签署的 / the stored checkpoint of size {} does not verify with the log key {log_vkey}: {e}; is this the ledger's ledger.json?",
            checkpoint.size
        ))
    })?;
    if out.exists() {
        return Err(BundleError::Mismatch(format!(
            "{} 已存在 / {} already exists: choose a new folder for the bundle",
            out.display(),
            out.display()
        )));
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let partial = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = write_bundle(backend, checkpoint, log_vkey, witnesses, &partial, progress).await;
    match result {
        Ok(summary) => {
            std::fs::rename(&partial, out).map_err(io(out))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

async fn write_bundle<B: Backend>(
    backend: &B,
    checkpoint: &StoredCheckpoint,
    log_vkey: &VerifierKey,
    witnesses: &[CosignerKey],
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportSummary, BundleError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(ENTRIES);
    let mut w = BufWriter::new(File::create(&path).map_err(io(&path))?);
    let mut range = CompactRange::new();
    while range.size() < checkpoint.size {
        let want = (checkpoint.size - range.size()).min(PAGE as u64) as u32;
        let page = backend.entries(range.size(), want).await?;
        if page.is_empty() {
            return Err(BundleError::Mismatch(format!(
                "the store holds {} entries, fewer than its checkpoint's {}; run `bangfu verify`",
                range.size(),
                checkpoint.size
            )));
        }
        for e in page {
            w.write_all(&e.body).map_err(io(&path))?;
            w.write_all(b"\n").map_err(io(&path))?;
            range.append(leaf_hash(&e.body));
        }
        progress(range.size(), checkpoint.size);
    }
    if range.root() != checkpoint.root {
        return Err(BundleError::Mismatch(format!(
            "账本与其检查点不符 / the store's first {} entries hash to {}, not to the root {} its checkpoint signed: the store was altered; run `bangfu verify`",
            checkpoint.size,
            range.root(),
            checkpoint.root
        )));
    }
    finish(w, &path)?;

    write_file(dir, CHECKPOINT, checkpoint.cosigned_note().as_bytes())?;
    write_file(dir, LOG_VKEY, format!("{log_vkey}\n").as_bytes())?;
    if !witnesses.is_empty() {
        let lines: String = witnesses.iter().map(|k| format!("{k}\n")).collect();
        write_file(dir, WITNESSES, lines.as_bytes())?;
    }

    let path = dir.join(VAULT);
    let mut w = BufWriter::new(File::create(&path).map_err(io(&path))?);
    let mut rows = 0u64;
    let mut after = None;
    loop {
        let page = backend.openings(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.commitment.0);
        for o in &page {
            let line = bangfu_ledger::jcs::to_vec(&o.to_json())
                .map_err(|e| BundleError::Mismatch(format!("a vault row: {e}")))?;
            w.write_all(&line).map_err(io(&path))?;
            w.write_all(b"\n").map_err(io(&path))?;
        }
        rows += page.len() as u64;
    }
    finish(w, &path)?;
    Ok(ExportSummary {
        entries: checkpoint.size,
        root: checkpoint.root,
        cosignatures: checkpoint.cosignatures.len(),
        vault_rows: rows,
        witnesses: witnesses.len(),
    })
}

fn finish(w: BufWriter<File>, path: &Path) -> Result<(), BundleError> {
    let f = w.into_inner().map_err(|e| BundleError::Io {
        path: path.to_owned(),
        error: e.into_error(),
    })?;
    f.sync_all().map_err(io(path))
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
    let path = dir.join(name);
    let mut f = File::create(&path).map_err(io(&path))?;
    f.write_all(bytes).map_err(io(&path))?;
    f.sync_all().map_err(io(&path))
}

/// A bundle's small files, read and parsed (not yet verified).
#[derive(Clone, Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub log_vkey: VerifierKey,
    /// The checkpoint note with every signature line, as in the file.
    pub checkpoint: Note,
    pub witnesses: Vec<CosignerKey>,
    pub has_vault: bool,
}

impl Bundle {
    pub fn open(dir: &Path) -> Result<Bundle, BundleError> {
        if !dir.is_dir() {
            return Err(BundleError::Mismatch(format!(
                "{} 不是导出包目录 / {} is not a bundle folder (`bangfu export --out DIR` writes one)",
                dir.display(),
                dir.display()
            )));
        }
        let read = |name: &str| -> Result<String, BundleError> {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(io(&path))
        };
        let vkey_text = read(LOG_VKEY)?;
        let log_vkey = VerifierKey::parse(vkey_text.trim_end_matches('\n'))
            .map_err(|e| format_err(LOG_VKEY, e.to_string()))?;
        let checkpoint = Note::parse(read(CHECKPOINT)?.as_bytes())
            .map_err(|e| format_err(CHECKPOINT, e.to_string()))?;
        let witnesses = if dir.join(WITNESSES).exists() {
            read(WITNESSES)?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    CosignerKey::parse(l.trim())
                        .map_err(|e| format_err(WITNESSES, format!("{l:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let entries = dir.join(ENTRIES);
        if !entries.is_file() {
            return Err(BundleError::Io {
                path: entries,
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "missing"),
            });
        }
        Ok(Bundle {
            dir: dir.to_owned(),
            log_vkey,
            checkpoint,
            witnesses,
            has_vault: dir.join(VAULT).is_file(),
        })
    }

    /// The entries' lines in order, without their `\n`.
    pub fn entries(&self) -> Result<Lines, BundleError> {
        Lines::open(&self.dir.join(ENTRIES), ENTRIES)
    }

    /// The vault rows, if the bundle has a vault.
    pub fn vault(&self) -> Result<Option<Lines>, BundleError> {
        if !self.has_vault {
            return Ok(None);
        }
        Lines::open(&self.dir.join(VAULT), VAULT).map(Some)
    }

    /// The number of entry lines, for progress bars (a quick count of newlines).
    pub fn count_entries(&self) -> Result<u64, BundleError> {
        let path = self.dir.join(ENTRIES);
        let mut r = BufReader::with_capacity(1 << 20, File::open(&path).map_err(io(&path))?);
        let mut n = 0u64;
        loop {
            let buf = r.fill_buf().map_err(io(&path))?;
            if buf.is_empty() {
                return Ok(n);
            }
            n += buf.iter().filter(|b| **b == b'\n').count() as u64;
            let len = buf.len();
            r.consume(len);
        }
    }
}

/// Splits the bundle's checkpoint into the note as the log signed it (its text and the log's
/// signature) and the other signature lines (cosignatures), as the store keeps them.
pub fn split_checkpoint(
    note: &Note,
    log_vkey: &VerifierKey,
) -> Result<(String, Vec<(String, String)>), BundleError> {
    let is_log = |s: &NoteSignature| s.name == log_vkey.name() && s.key_id == log_vkey.key_id();
    let bad = |e: bangfu_ledger::note::NoteError| format_err(CHECKPOINT, e.to_string());
    let signed = Note {
        text: note.text.clone(),
        signatures: note
            .signatures
            .iter()
            .filter(|s| is_log(s))
            .cloned()
            .collect(),
    };
    let mut others = Vec::new();
    for s in note.signatures.iter().filter(|s| !is_log(s)) {
        let one = Note {
            text: note.text.clone(),
            signatures: vec![s.clone()],
        }
        .format()
        .map_err(bad)?;
        // The formatted note is text, an empty line, then the one signature line.
        let line = one[note.text.len() + 1..].to_owned();
        others.push((s.name.clone(), line));
    }
    Ok((signed.format().map_err(bad)?, others))
}

/// Reads a bundle file line by line, refusing a last line without its `\n` and lines over
/// [`MAX_LINE`].
pub struct Lines {
    reader: BufReader<File>,
    file: &'static str,
    number: u64,
}

impl Lines {
    fn open(path: &Path, file: &'static str) -> Result<Lines, BundleError> {
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 20, File::open(path).map_err(io(path))?),
            file,
            number: 0,
        })
    }

    /// The next line without its `\n`, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, BundleError> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|error| BundleError::Io {
                path: PathBuf::from(self.file),
                error,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        if line.last() != Some(&b'\n') {
            let why = if line.len() > MAX_LINE {
                format!("line {} is longer than {MAX_LINE} bytes", self.number)
            } else {
                format!(
                    "line {} does not end in a newline (a truncated file?)",
                    self.number
                )
            };
            return Err(format_err(self.file, why));
        }
        line.pop();
        Ok(Some(line))
    }

    /// 1-based number of the last line read.
    pub fn number(&self) -> u64 {
        self.number
    }
}

/// A bundle loaded into a temporary embedded store, removed when this is dropped.
pub struct LoadedBundle {
    pub backend: SqliteBackend,
    pub bundle: Bundle,
    _dir: tempfile::TempDir,
}

/// Loads a bundle's entries, checkpoint and vault into a fresh SQLite store in a temporary folder.
pub async fn load(
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LoadedBundle, BundleError> {
    let bundle = Bundle::open(dir)?;
    let total = bundle.count_entries()?;
    let tmp = tempfile::Builder::new()
        .prefix("bangfu-bundle-")
        .tempdir()
        .map_err(io(Path::new("a temporary folder")))?;
    let backend = SqliteBackend::open(&tmp.path().join("log.sqlite")).await?;
    let mut lines = bundle.entries()?;
    let mut range = CompactRange::new();
    let mut batch = Batch::default();
    while let Some(line) = lines.next_line()? {
        let index = range.size();
        let entry = Entry::from_bytes(&line)
            .map_err(|e| format_err(ENTRIES, format!("entry {index}: {e}")))?;
        if entry.index != index {
            return Err(format_err(
                ENTRIES,
                format!(
                    "line {} holds index {} (run `bangfu verify --bundle`)",
                    index + 1,
                    entry.index
                ),
            ));
        }
        let leaf = leaf_hash(&line);
        batch.hashes.extend(range.append(leaf));
        batch.entries.push(new_entry(&entry, leaf, line));
        if batch.entries.len() >= PAGE as usize {
            flush(&backend, &mut batch, range.size()).await?;
            progress(range.size(), total);
        }
    }
    flush(&backend, &mut batch, range.size()).await?;
    progress(range.size(), total);

    let checkpoint = Checkpoint::parse(&bundle.checkpoint.text)
        .map_err(|e| format_err(CHECKPOINT, e.to_string()))?;
    if checkpoint.size == range.size() && checkpoint.root == range.root() {
        let (note, cosignatures) = split_checkpoint(&bundle.checkpoint, &bundle.log_vkey)?;
        backend
            .save_checkpoint(&StoredCheckpoint {
                size: checkpoint.size,
                root: checkpoint.root,
                note,
                signed_at_ms: 0,
                cosignatures: Vec::new(),
            })
            .await?;
        for (witness, line) in cosignatures {
            backend
                .add_cosignature(checkpoint.size, &witness, &line, 0)
                .await?;
        }
    }
    if let Some(mut vault) = bundle.vault()? {
        let mut rows = Vec::new();
        while let Some(line) = vault.next_line()? {
            let n = vault.number();
            let value = bangfu_ledger::jcs::parse_canonical(&line)
                .map_err(|e| format_err(VAULT, format!("line {n}: {e}")))?;
            let opening = Opening::from_json(&value).ok_or_else(|| {
                format_err(
                    VAULT,
                    format!("line {n} is not {{\"commitment\", \"salt\", \"value\"}}"),
                )
            })?;
            rows.push(opening);
            if rows.len() >= PAGE as usize {
                backend.put_openings(&rows).await?;
                rows.clear();
            }
        }
        backend.put_openings(&rows).await?;
    }
    Ok(LoadedBundle {
        backend,
        bundle,
        _dir: tmp,
    })
}

async fn flush(backend: &SqliteBackend, batch: &mut Batch, size: u64) -> Result<(), BundleError> {
    if batch.entries.is_empty() {
        return Ok(());
    }
    let mut full = std::mem::take(batch);
    full.first_index = size - full.entries.len() as u64;
    backend.append(&full).await?;
    Ok(())
}
