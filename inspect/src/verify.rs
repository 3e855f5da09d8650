//! `bangfu verify`: everything `docs/ledger-format.md` §11 asks, on a live store or a bundle.
//!
//! The entries stream through [`bangfu_ledger::verify::Verifier`] with the domain's
//! [`Replayer`] as its authorizer (form, index, prev_root, signature, the key's registration,
//! revocation and role at that time, and that the events are exactly what the statement produces).
//! Around that stream this module checks what the ledger crate cannot see on its own:
//!
//! - every signed checkpoint against the root of the entries at its size (on a live store every
//!   checkpoint the log ever signed; in a bundle its one checkpoint, which must cover exactly the
//!   entries), with the log key and the trusted witnesses' cosignatures;
//! - a checkpoint saved earlier (`--since`): the log must be a consistent extension of it;
//! - the vault: each row opens its commitment, and each commitment appears in some entry.
//!
//! It stops at the first failure and names the index where one is known.

use crate::bundle::{Bundle, BundleError, Lines};
use bangfu_domain::replay::Replayer;
use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::{self, CosignerKey};
use bangfu_ledger::entry::Entry;
use bangfu_ledger::note::{Note, VerifierKey};
use bangfu_ledger::seal::{Commitment, Opening, commitments_in};
use bangfu_ledger::verify::{Authorizer, Failure as EntryFailure, Verifier, VerifyError};
use bangfu_store::backend::{Backend, StoreError, StoredCheckpoint};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// Entries read per page from a live store.
const PAGE: u32 = 1000;

/// Whom the verifier trusts: the log's key, the witnesses, and how many of them must have
/// cosigned the latest checkpoint.
#[derive(Clone, Debug)]
pub struct Trust {
    pub log_vkey: VerifierKey,
    pub witnesses: Vec<CosignerKey>,
    pub quorum: usize,
}

/// What was checked, on success (and as far as it got, on failure).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub entries: u64,
    /// Base64 root of all the entries read.
    pub root: String,
    /// Signed checkpoints checked against the entries.
    pub checkpoints: u64,
    /// The largest checkpoint checked: its size and the witnesses whose cosignature verified.
    pub latest_checkpoint: Option<u64>,
    pub cosigned_by: Vec<String>,
    pub vault_rows: u64,
    /// The size of the `--since` checkpoint the log was shown to extend.
    pub since: Option<u64>,
    pub warnings: Vec<String>,
}

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The first bad entry's index, where the failure is about one entry (or the first entry that
    /// may differ, for a checkpoint the log no longer matches).
    pub index: Option<u64>,
    /// A stable code: malformed, wrong_index, wrong_prev_root, bad_signature, refused, missing,
    /// truncated, checkpoint, cosignature, quorum, since, vault.
    pub kind: &'static str,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "entry {i}: {} ({})", self.reason, self.kind),
            None => write!(f, "{} ({})", self.reason, self.kind),
        }
    }
}

/// Why verification could not run at all (as opposed to finding the log bad).
#[derive(Debug)]
pub enum CannotVerify {
    Store(StoreError),
    Bundle(BundleError),
}

impl fmt::Display for CannotVerify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CannotVerify::Store(e) => write!(f, "{e}"),
            CannotVerify::Bundle(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CannotVerify {}

/// The result: `Ok(Ok(report))` verified; `Ok(Err((failure, report so far)))` the log is bad;
/// `Err` could not verify.
pub type Outcome = Result<Result<Report, (Failure, Report)>, CannotVerify>;

fn fail<T>(
    index: Option<u64>,
    kind: &'static str,
    reason: impl Into<String>,
) -> Result<T, Failure> {
    Err(Failure {
        index,
        kind,
        reason: reason.into(),
    })
}

/// Where entries and checkpoints come from.
enum Source<'a, B: Backend> {
    Live(&'a B),
    Bundle(Lines),
}

/// Why a page could not be read: the log is bad there, or the store is unreachable.
enum Stop {
    Bad(Failure),
    Cannot(CannotVerify),
}

impl<B: Backend> Source<'_, B> {
    async fn page(&mut self, from: u64) -> Result<Vec<Vec<u8>>, Stop> {
        match self {
            Source::Live(backend) => match backend.entries(from, PAGE).await {
                Ok(page) => Ok(page.into_iter().map(|e| e.body).collect()),
                Err(StoreError::Corrupt(_)) => {
                    // A gap somewhere in the page: read one at a time to name the first.
                    let mut out = Vec::new();
                    for i in from..from + PAGE as u64 {
                        match backend.entries(i, 1).await {
                            Ok(mut one) if one.len() == 1 => out.push(one.remove(0).body),
                            Ok(_) => break,
                            Err(StoreError::Corrupt(why)) => {
                                if out.is_empty() {
                                    return Err(Stop::Bad(Failure {
                                        index: Some(i),
                                        kind: "missing",
                                        reason: format!(
                                            "条目缺失 / missing from the store ({why}): an entry was deleted"
                                        ),
                                    }));
                                }
                                break;
                            }
                            Err(e) => return Err(Stop::Cannot(CannotVerify::Store(e))),
                        }
                    }
                    Ok(out)
                }
                Err(e) => Err(Stop::Cannot(CannotVerify::Store(e))),
            },
            Source::Bundle(lines) => {
                let mut out = Vec::new();
                while out.len() < PAGE as usize {
                    match lines.next_line() {
                        Ok(Some(line)) => out.push(line),
                        Ok(None) => break,
                        Err(BundleError::Format { why, .. }) => {
                            if out.is_empty() {
                                return Err(Stop::Bad(Failure {
                                    index: Some(from),
                                    kind: "malformed",
                                    reason: format!("entries.jsonl: {why}"),
                                }));
                            }
                            break;
                        }
                        Err(e) => return Err(Stop::Cannot(CannotVerify::Bundle(e))),
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Where a checkpoint to check against the entries comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// One the log signed, kept in the store; `witnessed` when a trusted witness cosigned it (a
    /// witness cosigns only consistent extensions, so such a checkpoint is a prefix of every
    /// later one it cosigned).
    Store { witnessed: bool },
    /// The bundle's own checkpoint.
    Bundle,
    /// The checkpoint the inspector saved earlier (`--since`).
    Since,
}

/// A checkpoint to check once the stream reaches its size.
struct Expected {
    size: u64,
    root: Hash,
    origin: Origin,
}

impl Expected {
    /// What it is, for messages.
    fn what(&self) -> String {
        match self.origin {
            Origin::Store { .. } => format!("the checkpoint of size {} the log signed", self.size),
            Origin::Bundle => format!("the bundle's checkpoint (size {})", self.size),
            Origin::Since => format!("the checkpoint you saved (--since, size {})", self.size),
        }
    }
}

/// Vault commitments, each marked once an entry is seen to hold it.
struct Vault {
    rows: HashMap<Hash, bool>,
}

impl Vault {
    fn add(&mut self, opening: &Opening, row: u64) -> Result<(), Failure> {
        if !opening.is_valid() {
            return fail(
                None,
                "vault",
                format!(
                    "保管库第 {row} 行的内容或盐值被改动 / vault row {row} (commitment {}) does not open its commitment: its value or salt was altered",
                    opening.commitment.0
                ),
            );
        }
        self.rows.insert(opening.commitment.0, false);
        Ok(())
    }

    fn mark(&mut self, entry: &Entry) {
        if self.rows.is_empty() {
            return;
        }
        let mut found: Vec<Commitment> = Vec::new();
        commitments_in(
            &Value::Object(entry.statement.body.args.clone()),
            &mut found,
        );
        for e in &entry.events {
            commitments_in(&Value::Object(e.payload.clone()), &mut found);
        }
        for c in found {
            if let Some(seen) = self.rows.get_mut(&c.0) {
                *seen = true;
            }
        }
    }

    fn finish(&self) -> Result<(), Failure> {
        match self.rows.iter().find(|(_, seen)| !**seen) {
            Some((c, _)) => fail(
                None,
                "vault",
                format!(
                    "保管库中的承诺 {c} 不属于任何条目 / the vault holds an opening for commitment {c}, which no entry contains"
                ),
            ),
            None => Ok(()),
        }
    }
}

/// Opens a checkpoint note with the log key and checks the trusted witnesses' cosignatures.
/// Returns the checkpoint and the names of the witnesses whose cosignature verified.
fn open_checkpoint(
    note: &Note,
    trust: &Trust,
    what: &str,
) -> Result<(Checkpoint, Vec<String>), Failure> {
    let checkpoint = Checkpoint::open_note(note, &trust.log_vkey).map_err(|e| Failure {
        index: None,
        kind: "checkpoint",
        reason: format!("{what} 签名无效 / {what} does not verify with the log key: {e}"),
    })?;
    let cosigned = cosignature::verify(note, &trust.witnesses).map_err(|e| Failure {
        index: None,
        kind: "cosignature",
        reason: format!(
            "{what} 的见证副署无效 / a witness cosignature on {what} does not verify: {e}"
        ),
    })?;
    Ok((
        checkpoint,
        cosigned.iter().map(|c| c.witness.to_string()).collect(),
    ))
}

fn parse_note(text: &str, what: &str) -> Result<Note, Failure> {
    Note::parse(text.as_bytes()).map_err(|e| Failure {
        index: None,
        kind: "checkpoint",
        reason: format!("{what} is not a signed note: {e}"),
    })
}

/// Checks the quorum and reports witnesses that have not cosigned (a warning: witnesses may lag).
fn check_quorum(trust: &Trust, cosigned_by: &[String], report: &mut Report) -> Result<(), Failure> {
    for w in &trust.witnesses {
        let name = w.to_string();
        if !cosigned_by.contains(&name) {
            report.warnings.push(format!(
                "见证 {name} 尚未副署 / witness {name} has not cosigned the latest checkpoint"
            ));
        }
    }
    if cosigned_by.len() < trust.quorum {
        return fail(
            None,
            "quorum",
            format!(
                "最新检查点只有 {} 个可信见证副署，要求 {} 个 / the latest checkpoint has {} valid cosignature(s) from trusted witnesses, {} required",
                cosigned_by.len(),
                trust.quorum,
                cosigned_by.len(),
                trust.quorum
            ),
        );
    }
    Ok(())
}

/// Verifies a live store: every entry, every checkpoint it signed, its vault, and `since`.
pub async fn verify_store<B: Backend>(
    backend: &B,
    trust: &Trust,
    since: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Outcome {
    let total = backend.size().await.map_err(CannotVerify::Store)?;
    let mut report = Report::default();
    // Every checkpoint the log signed, smallest first. Sizes past the end are a truncated log.
    let mut expected = Vec::new();
    let mut notes: Vec<StoredCheckpoint> = Vec::new();
    let mut from = 0;
    loop {
        let page = match backend.checkpoints(from, PAGE).await {
            Ok(page) => page,
            // The store checks each row against its note as it reads: a hand-edited row.
            Err(StoreError::Corrupt(why)) => {
                return Ok(Err((
                    Failure {
                        index: None,
                        kind: "checkpoint",
                        reason: format!(
                            "存储的检查点被改动 / a stored checkpoint was altered: {why}"
                        ),
                    },
                    report,
                )));
            }
            Err(e) => return Err(CannotVerify::Store(e)),
        };
        let Some(last) = page.last() else { break };
        from = last.size + 1;
        notes.extend(page);
    }
    let mut vault = Vault {
        rows: HashMap::new(),
    };
    let prepared = (|| -> Result<(), Failure> {
        for c in &notes {
            let what = format!("the checkpoint of size {} the log signed", c.size);
            let note = parse_note(&c.cosigned_note(), &what)?;
            let (checkpoint, cosigned_by) = open_checkpoint(&note, trust, &what)?;
            if checkpoint.size != c.size || checkpoint.root != c.root {
                return fail(
                    None,
                    "checkpoint",
                    format!(
                        "存储的检查点被改动 / {what}: its stored size and root are not the ones its note signed"
                    ),
                );
            }
            report.latest_checkpoint = Some(c.size);
            expected.push(Expected {
                size: c.size,
                root: checkpoint.root,
                origin: Origin::Store {
                    witnessed: !cosigned_by.is_empty(),
                },
            });
            report.cosigned_by = cosigned_by;
        }
        Ok(())
    })();
    if let Err(f) = prepared {
        return Ok(Err((f, report)));
    }
    if let Some(text) = since {
        match since_checkpoint(text, trust) {
            Ok(e) => expected.push(e),
            Err(f) => return Ok(Err((f, report))),
        }
    }
    let mut after = None;
    loop {
        let page = match backend.openings(after, PAGE).await {
            Ok(page) => page,
            Err(StoreError::Corrupt(why)) => {
                return Ok(Err((
                    Failure {
                        index: None,
                        kind: "vault",
                        reason: format!("保管库的一行无法读取 / a vault row is unreadable: {why}"),
                    },
                    report,
                )));
            }
            Err(e) => return Err(CannotVerify::Store(e)),
        };
        let Some(last) = page.last() else { break };
        after = Some(last.commitment.0);
        for o in &page {
            report.vault_rows += 1;
            if let Err(f) = vault.add(o, report.vault_rows) {
                return Ok(Err((f, report)));
            }
        }
    }
    let outcome = stream(
        Source::Live(backend),
        total,
        expected,
        &mut vault,
        &mut report,
        progress,
    )
    .await?;
    if let Err(f) = outcome {
        return Ok(Err((f, report)));
    }
    if report.latest_checkpoint.is_none() {
        report.warnings.push(
            "账本尚未签署检查点 / the log has signed no checkpoint yet: nothing binds its root; run `bangfu checkpoint`".into(),
        );
    } else if let Some(size) = report.latest_checkpoint.filter(|s| *s < total) {
        report.warnings.push(format!(
            "最新检查点之后的 {} 条尚无签名检查点 / {} entries after the latest checkpoint (size {size}) are not yet covered by a signed checkpoint",
            total - size,
            total - size
        ));
    }
    let tail =
        check_quorum(trust, &report.cosigned_by.clone(), &mut report).and_then(|()| vault.finish());
    Ok(match tail {
        Ok(()) => Ok(report),
        Err(f) => Err((f, report)),
    })
}

/// Verifies a bundle: every entry, its checkpoint (which must cover exactly the entries), its
/// cosignatures, its vault, and `since`.
pub async fn verify_bundle(
    bundle: &Bundle,
    trust_witnesses: Option<Vec<CosignerKey>>,
    quorum: usize,
    since: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Outcome {
    let trust = Trust {
        log_vkey: bundle.log_vkey.clone(),
        witnesses: trust_witnesses.unwrap_or_else(|| bundle.witnesses.clone()),
        quorum,
    };
    let total = bundle.count_entries().map_err(CannotVerify::Bundle)?;
    let mut report = Report::default();
    let what = "the bundle's checkpoint".to_owned();
    let (checkpoint, cosigned_by) = match open_checkpoint(&bundle.checkpoint, &trust, &what) {
        Ok(c) => c,
        Err(f) => return Ok(Err((f, report))),
    };
    report.latest_checkpoint = Some(checkpoint.size);
    report.cosigned_by = cosigned_by;
    let mut expected = vec![Expected {
        size: checkpoint.size,
        root: checkpoint.root,
        origin: Origin::Bundle,
    }];
    if let Some(text) = since {
        match since_checkpoint(text, &trust) {
            Ok(e) => expected.push(e),
            Err(f) => return Ok(Err((f, report))),
        }
    }
    let mut vault = Vault {
        rows: HashMap::new(),
    };
    if let Some(mut lines) = bundle.vault().map_err(CannotVerify::Bundle)? {
        loop {
            let line = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(BundleError::Format { why, .. }) => {
                    return Ok(Err((
                        Failure {
                            index: None,
                            kind: "vault",
                            reason: format!("vault.jsonl: {why}"),
                        },
                        report,
                    )));
                }
                Err(e) => return Err(CannotVerify::Bundle(e)),
            };
            report.vault_rows += 1;
            let row = report.vault_rows;
            let opening = bangfu_ledger::jcs::parse_canonical(&line)
                .ok()
                .and_then(|v| Opening::from_json(&v));
            let checked = match opening {
                Some(o) => vault.add(&o, row),
                None => fail(
                    None,
                    "vault",
                    format!(
                        "vault.jsonl line {row} is not canonical {{\"commitment\", \"salt\", \"value\"}}"
                    ),
                ),
            };
            if let Err(f) = checked {
                return Ok(Err((f, report)));
            }
        }
    }
    let lines = bundle.entries().map_err(CannotVerify::Bundle)?;
    let source: Source<'_, bangfu_store::sqlite::SqliteBackend> = Source::Bundle(lines);
    if let Err(f) = stream(source, total, expected, &mut vault, &mut report, progress).await? {
        return Ok(Err((f, report)));
    }
    let covered = if report.entries > checkpoint.size {
        fail(
            Some(checkpoint.size),
            "checkpoint",
            format!(
                "entries from {} on are not covered by the bundle's checkpoint (size {}): an export holds exactly its checkpoint's entries",
                checkpoint.size, checkpoint.size
            ),
        )
    } else {
        Ok(())
    };
    let tail = covered
        .and_then(|()| check_quorum(&trust, &report.cosigned_by.clone(), &mut report))
        .and_then(|()| vault.finish());
    Ok(match tail {
        Ok(()) => Ok(report),
        Err(f) => Err((f, report)),
    })
}

fn since_checkpoint(text: &str, trust: &Trust) -> Result<Expected, Failure> {
    let what = "the checkpoint you saved (--since)".to_owned();
    let note = parse_note(text, &what)?;
    let (checkpoint, _) = open_checkpoint(&note, trust, &what)?;
    Ok(Expected {
        size: checkpoint.size,
        root: checkpoint.root,
        origin: Origin::Since,
    })
}

/// The domain's replay, plus marking the vault's commitments as entries go by (so each entry is
/// parsed once).
struct Authorize<'v> {
    replayer: Replayer,
    vault: &'v mut Vault,
}

impl Authorizer for Authorize<'_> {
    fn authorize(&mut self, entry: &Entry) -> Result<(), String> {
        self.replayer.authorize(entry)?;
        self.vault.mark(entry);
        Ok(())
    }
}

fn entry_failure(e: VerifyError) -> Failure {
    let kind = match e.failure {
        EntryFailure::Malformed(_) => "malformed",
        EntryFailure::WrongIndex { .. } => "wrong_index",
        EntryFailure::WrongPrevRoot { .. } => "wrong_prev_root",
        EntryFailure::BadSignature => "bad_signature",
        EntryFailure::Refused(_) => "refused",
    };
    let text = e.to_string();
    let reason = text
        .strip_prefix(&format!("entry {}: ", e.index))
        .unwrap_or(&text)
        .to_owned();
    Failure {
        index: Some(e.index),
        kind,
        reason,
    }
}

/// Checkpoints waiting for the stream to reach their size.
struct Pending {
    expected: Vec<Expected>,
    next: usize,
    /// The largest checkpoint size that matched so far: where a rewrite can begin.
    matched: u64,
    /// The same, counting only checkpoints a forger cannot make: witnessed ones and `--since`.
    matched_trusted: u64,
}

impl Pending {
    /// Checks every checkpoint of the verifier's current size.
    fn check(
        &mut self,
        verifier: &mut Verifier<Authorize<'_>>,
        report: &mut Report,
    ) -> Result<(), Failure> {
        while let Some(e) = self
            .expected
            .get(self.next)
            .filter(|e| e.size == verifier.size())
        {
            let root = verifier.settled_root().map_err(entry_failure)?;
            let since = e.origin == Origin::Since;
            if root != e.root {
                // A `--since` checkpoint is the inspector's own evidence: the log's checkpoints
                // that still match count only if a trusted witness cosigned them.
                let from = if since {
                    self.matched_trusted
                } else {
                    self.matched
                };
                let range = if from + 1 < e.size {
                    format!("between entries {from} and {}", e.size - 1)
                } else {
                    format!("at entry {from}")
                };
                return fail(
                    Some(from),
                    if since { "since" } else { "checkpoint" },
                    format!(
                        "账本与检查点不符 / the log does not extend {}: its first {} entries hash to {root}, not {}; it was rewritten {range}",
                        e.what(),
                        e.size,
                        e.root,
                    ),
                );
            }
            self.matched = e.size;
            if matches!(e.origin, Origin::Since | Origin::Store { witnessed: true }) {
                self.matched_trusted = e.size;
            }
            if since {
                report.since = Some(e.size);
            } else {
                report.checkpoints += 1;
            }
            self.next += 1;
        }
        Ok(())
    }

    /// After the last entry: a checkpoint past the end means entries were removed.
    fn past_the_end(&self, size: u64) -> Result<(), Failure> {
        let Some(e) = self.expected.get(self.next) else {
            return Ok(());
        };
        let (kind, who) = match e.origin {
            Origin::Since => ("since", "the checkpoint you saved"),
            Origin::Bundle => ("truncated", "the bundle's checkpoint"),
            Origin::Store { .. } => ("truncated", "a checkpoint the log signed"),
        };
        fail(
            Some(size),
            kind,
            format!(
                "账本被截断 / the log holds {size} entries but {who} is of size {}: entries {size}..{} were removed or the log was rolled back",
                e.size,
                e.size - 1
            ),
        )
    }
}

/// Streams every entry through the verifier, checking `expected` checkpoints as their sizes pass.
async fn stream<B: Backend>(
    mut source: Source<'_, B>,
    total: u64,
    mut expected: Vec<Expected>,
    vault: &mut Vault,
    report: &mut Report,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Result<(), Failure>, CannotVerify> {
    expected.sort_by_key(|e| e.size);
    let mut pending = Pending {
        expected,
        next: 0,
        matched: 0,
        matched_trusted: 0,
    };
    let mut verifier = Verifier::new(Authorize {
        replayer: Replayer::new(),
        vault,
    });
    if let Err(f) = pending.check(&mut verifier, report) {
        return Ok(Err(f));
    }
    loop {
        let page = match source.page(verifier.size()).await {
            Ok(p) => p,
            Err(Stop::Bad(f)) => return Ok(Err(f)),
            Err(Stop::Cannot(e)) => return Err(e),
        };
        if page.is_empty() {
            break;
        }
        for bytes in page {
            if let Err(e) = verifier.push(&bytes) {
                return Ok(Err(entry_failure(e)));
            }
            if let Err(f) = pending.check(&mut verifier, report) {
                return Ok(Err(f));
            }
        }
        progress(verifier.size(), total);
    }
    match verifier.finish() {
        Ok((size, root, _)) => {
            report.entries = size;
            report.root = root.to_base64();
            Ok(pending.past_the_end(size))
        }
        Err(e) => Ok(Err(entry_failure(e))),
    }
}
