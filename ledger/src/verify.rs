//! The streaming verifier: takes entry bytes in log order, in constant memory, and reports the first
//! index where anything is wrong and why.
//!
//! For each entry it checks, in this order: canonical JCS form and the v1 fields, the index, the
//! `prev_root` against the root of everything before it, the statement's signature (strict; batched
//! through [`crate::signature::verify_many`], which always agrees with strict), and finally the
//! [`Authorizer`] — the hook through which the domain decides whether the key was registered, not
//! revoked and held a role allowed to issue the command at that point, and may replay the domain.
//! Signatures are checked in batches, but a failure is always reported at the lowest bad index:
//! pending signatures are settled before any later failure is reported.

use crate::Hash;
use crate::entry::Entry;
use crate::merkle::{CompactRange, leaf_hash};
use crate::signature::{Item, PublicKey, Signature, verify_many};
use crate::statement::StatementError;
use std::fmt;

/// Decides whether an entry's signer may issue its command, given every entry before it, and then
/// takes the entry into account. Called once per entry, in order, after the format checks.
pub trait Authorizer {
    fn authorize(&mut self, entry: &Entry) -> Result<(), String>;
}

/// What was wrong with an entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Not canonical JCS, or not the fields of a v1 entry.
    Malformed(StatementError),
    WrongIndex {
        expected: u64,
        found: u64,
    },
    WrongPrevRoot {
        expected: Hash,
        found: Hash,
    },
    BadSignature,
    /// The authorizer's reason: unknown, revoked or unprivileged key, events that the statement
    /// would not produce, …
    Refused(String),
}

/// The first bad entry and why.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyError {
    pub index: u64,
    pub failure: Failure,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: ", self.index)?;
        match &self.failure {
            Failure::Malformed(e) => write!(f, "malformed: {e}"),
            Failure::WrongIndex { expected, found } => {
                write!(
                    f,
                    "holds index {found} where {expected} was expected (an entry is missing, repeated or moved)"
                )
            }
            Failure::WrongPrevRoot { expected, found } => write!(
                f,
                "prev_root is {found} but the entries before it hash to {expected} (an earlier entry was changed, removed or reordered)"
            ),
            Failure::BadSignature => write!(
                f,
                "the statement's signature does not verify (the statement was altered or forged)"
            ),
            Failure::Refused(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

struct Pending {
    index: u64,
    key: PublicKey,
    message: Vec<u8>,
    sig: Signature,
}

/// How many signatures are checked together.
const BATCH: usize = 64;

pub struct Verifier<A: Authorizer> {
    range: CompactRange,
    authorizer: A,
    pending: Vec<Pending>,
}

impl<A: Authorizer> Verifier<A> {
    pub fn new(authorizer: A) -> Self {
        Verifier {
            range: CompactRange::new(),
            authorizer,
            pending: Vec::with_capacity(BATCH),
        }
    }

    /// Entries taken so far.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Checks the next entry. Returns its leaf hash. After an error the verifier must not be used.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Hash, VerifyError> {
        let index = self.range.size();
        let entry = match Entry::from_bytes(bytes) {
            Ok(entry) => entry,
            Err(e) => return self.fail(index, Failure::Malformed(e)),
        };
        if entry.index != index {
            let found = entry.index;
            return self.fail(
                index,
                Failure::WrongIndex {
                    expected: index,
                    found,
                },
            );
        }
        let root = self.range.root();
        if entry.prev_root != root {
            let found = entry.prev_root;
            return self.fail(
                index,
                Failure::WrongPrevRoot {
                    expected: root,
                    found,
                },
            );
        }
        let message = match entry.statement.body.signing_message() {
            Ok(m) => m,
            Err(e) => return self.fail(index, Failure::Malformed(e)),
        };
        self.pending.push(Pending {
            index,
            key: entry.statement.body.key,
            message,
            sig: entry.statement.sig,
        });
        if self.pending.len() >= BATCH {
            self.settle()?;
        }
        if let Err(why) = self.authorizer.authorize(&entry) {
            return self.fail(index, Failure::Refused(why));
        }
        let leaf = leaf_hash(bytes);
        self.range.append(leaf);
        Ok(leaf)
    }

    /// Reports `failure` at `index`, unless a pending signature before it is bad: that comes first.
    fn fail(&mut self, index: u64, failure: Failure) -> Result<Hash, VerifyError> {
        self.settle()?;
        Err(VerifyError { index, failure })
    }

    /// Verifies every pending signature; the lowest bad index is the error.
    fn settle(&mut self) -> Result<(), VerifyError> {
        let items: Vec<Item> = self
            .pending
            .iter()
            .map(|p| Item {
                key: &p.key,
                message: &p.message,
                signature: &p.sig,
            })
            .collect();
        let verdicts = verify_many(&items);
        let first_bad = self
            .pending
            .iter()
            .zip(verdicts)
            .find(|(_, ok)| !ok)
            .map(|(p, _)| p.index);
        self.pending.clear();
        match first_bad {
            Some(index) => Err(VerifyError {
                index,
                failure: Failure::BadSignature,
            }),
            None => Ok(()),
        }
    }

    /// The root of the entries taken so far, once every signature among them has verified: for
    /// comparing with a checkpoint of this size without reporting a mismatch before an earlier
    /// bad signature.
    pub fn settled_root(&mut self) -> Result<Hash, VerifyError> {
        self.settle()?;
        Ok(self.range.root())
    }

    /// Settles the last signatures and returns the size, root and authorizer.
    pub fn finish(mut self) -> Result<(u64, Hash, A), VerifyError> {
        self.settle()?;
        Ok((self.range.size(), self.range.root(), self.authorizer))
    }
}
