//! Checkpoints of the stored log: the log signs a tree head only when it extends the last one it
//! signed.
//!
//! The log must never sign two checkpoints that are inconsistent with each other
//! (`docs/ledger-format.md` §6): a witness would refuse the second, and an inspector holding the
//! first would rightly call the log forked. So before signing, [`sign_checkpoint`] recomputes,
//! from the stored subtree hashes, the root at the last checkpoint's size and a consistency proof
//! from there to the current size, and checks both against the root the log signed then. If the
//! stored hashes no longer agree — someone edited the tables with the triggers off, or the disk
//! damaged them — it signs nothing and says to run `bangfu verify`, which finds the first bad
//! entry.

use crate::backend::{Backend, StoreError, StoredCheckpoint};
use crate::log::{consistency_proof, tree_head};
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::merkle;
use bangfu_ledger::note::{Note, Signer};
use std::fmt;

/// Why no checkpoint was signed. Nothing was written in any case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointingError {
    /// The store could not be read or written.
    Store(StoreError),
    /// The stored log no longer extends the last checkpoint signed: never sign; tamper or
    /// corruption, run `bangfu verify`.
    Inconsistent(String),
    /// The checkpoint could not be signed (an empty log, a key that is not the log's, …).
    Sign(String),
}

impl fmt::Display for CheckpointingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointingError::Store(e) => write!(f, "{e}"),
            CheckpointingError::Inconsistent(why) => write!(
                f,
                "账本已不再延续上次签署的检查点，未签署 / the stored log no longer extends the \
                 last checkpoint it signed, so nothing was signed: {why}. The store was altered \
                 or damaged; run `bangfu verify` to find the first bad entry"
            ),
            CheckpointingError::Sign(why) => {
                write!(f, "无法签署检查点 / cannot sign a checkpoint: {why}")
            }
        }
    }
}

impl std::error::Error for CheckpointingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointingError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for CheckpointingError {
    fn from(e: StoreError) -> Self {
        CheckpointingError::Store(e)
    }
}

/// Signs a checkpoint of the log's current size with the log key and stores it, unless it would be
/// inconsistent with the latest stored checkpoint: it checks the root of the current tree at the
/// latest checkpoint's size equals that checkpoint's root (via a consistency proof built from the
/// stored hashes and verified with `bangfu_ledger::merkle::verify_consistency`). When the size has
/// not grown since the latest checkpoint, returns that one unchanged (no new signature).
/// Refuses an empty log.
///
/// Also refuses (`Sign`) a key whose signature the latest checkpoint does not carry: checkpoints
/// under another key or origin would not verify with the log's published vkey. Returns the
/// checkpoint as stored (with any cosignatures, should another signer have stored that size
/// first).
pub async fn sign_checkpoint<B: Backend>(
    backend: &B,
    signer: &Signer,
    now_ms: i64,
) -> Result<StoredCheckpoint, CheckpointingError> {
    let size = backend.size().await?;
    if size == 0 {
        return Err(CheckpointingError::Sign(
            "账本为空 / the log is empty, so there is nothing to sign yet; append a statement \
             first"
                .into(),
        ));
    }
    let latest = backend.latest_checkpoint().await?;
    if let Some(last) = &latest {
        check_signed_by(last, signer)?;
        if last.size > size {
            return Err(CheckpointingError::Inconsistent(format!(
                "the log has {size} entries, fewer than the {} of the checkpoint it signed last",
                last.size
            )));
        }
        let root_then = tree_head(backend, last.size).await?;
        if root_then != last.root {
            return Err(CheckpointingError::Inconsistent(format!(
                "the stored hashes give root {root_then} for the first {} entries, but the \
                 checkpoint signed at that size has root {}",
                last.size, last.root
            )));
        }
        if last.size == size {
            return Ok(last.clone());
        }
    }
    let root = tree_head(backend, size).await?;
    if let Some(last) = &latest {
        let proof = consistency_proof(backend, last.size, size).await?;
        merkle::verify_consistency(last.size, size, &last.root, &root, &proof).map_err(|e| {
            CheckpointingError::Inconsistent(format!(
                "the tree of {size} entries does not extend the checkpoint of size {}: {e}",
                last.size
            ))
        })?;
    }
    let note = Checkpoint::new(signer.name(), size, root)
        .sign(signer)
        .map_err(|e| CheckpointingError::Sign(e.to_string()))?
        .format()
        .map_err(|e| CheckpointingError::Sign(e.to_string()))?;
    let checkpoint = StoredCheckpoint {
        size,
        root,
        note,
        signed_at_ms: now_ms,
        cosignatures: Vec::new(),
    };
    match backend.save_checkpoint(&checkpoint).await {
        Ok(()) => {}
        // Another checkpoint of this size with another root: two trees, one log.
        Err(StoreError::Conflict(why)) => return Err(CheckpointingError::Inconsistent(why)),
        Err(e) => return Err(e.into()),
    }
    backend.checkpoint(size).await?.ok_or_else(|| {
        CheckpointingError::Store(StoreError::Corrupt(format!(
            "the checkpoint of size {size} was stored but cannot be read back"
        )))
    })
}

/// The latest checkpoint must carry a valid signature by `signer`'s key under its origin.
fn check_signed_by(last: &StoredCheckpoint, signer: &Signer) -> Result<(), CheckpointingError> {
    let vkey = signer.verifier_key();
    let note = Note::parse(last.note.as_bytes()).map_err(|e| {
        CheckpointingError::Store(StoreError::Corrupt(format!(
            "the checkpoint of size {}: {e}",
            last.size
        )))
    })?;
    Checkpoint::open_note(&note, &vkey).map(|_| ()).map_err(|e| {
        CheckpointingError::Sign(format!(
            "the last checkpoint (size {}) does not verify with this key {vkey}: {e}. Sign with \
             the log's own key; if it is the right one, the stored checkpoint was altered: run \
             `bangfu verify`",
            last.size
        ))
    })
}
