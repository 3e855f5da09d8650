//! The streaming verifier: takes entry bytes in log order, in constant memory, and reports the first
//! index where anything is wrong and why.
//!
//! For each entry it checks, in this order: canonical JCS form and the v1 fields, the index, the
//! `prev_root` against the root of everything before it, the statement's signature (strict), and
//! finally the [`Authorizer`] — the hook through which the domain decides whether the key was
//! registered, not revoked and held a role allowed to issue the command at that point, and may
//! replay the domain.
//!
//! Signatures are the bulk of the work, so they are checked strictly on worker threads, one per
//! core, in chunks, while this thread goes on parsing and authorizing. (Strict one at a time beats
//! [`crate::signature::verify_many`]'s guarded batch on a real log, where almost every entry has a
//! different signer: see docs/performance.md.) A failure is still always reported at the lowest
//! bad index: every chunk before it is settled, in log order, before any later failure is reported.

use crate::Hash;
use crate::entry::Entry;
use crate::merkle::{CompactRange, leaf_hash};
use crate::signature::{PublicKey, Signature};
use crate::statement::StatementError;
use std::collections::VecDeque;
use std::fmt;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

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

/// How many signatures a worker checks per chunk: enough to make handing over cheap.
const CHUNK: usize = 64;

/// A chunk of signatures for a worker, and where to send the lowest bad index (if any).
type Job = (Vec<Pending>, Sender<Option<u64>>);

/// Threads that check signatures strictly, chunk by chunk. Started on first use, so a verifier
/// of a handful of entries costs no threads; stopped when the verifier is dropped.
struct Pool {
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn start() -> Pool {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    loop {
                        // The lock is held only to take the next job, never while verifying.
                        let next = queue.lock().map(|q| q.recv());
                        let Ok(Ok((chunk, reply))) = next else { return };
                        let _ = reply.send(first_bad(&chunk));
                    }
                })
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            workers,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None; // closes the queue: each worker returns after its current chunk
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// The lowest index in the chunk whose signature does not verify strictly.
fn first_bad(chunk: &[Pending]) -> Option<u64> {
    chunk
        .iter()
        .find(|p| p.key.verify_strict(&p.message, &p.sig).is_err())
        .map(|p| p.index)
}

pub struct Verifier<A: Authorizer> {
    range: CompactRange,
    authorizer: A,
    /// Signatures not yet handed to a worker.
    pending: Vec<Pending>,
    /// Chunks handed over, oldest first, each with where its verdict will arrive.
    in_flight: VecDeque<Receiver<Option<u64>>>,
    pool: Option<Pool>,
}

impl<A: Authorizer> Verifier<A> {
    pub fn new(authorizer: A) -> Self {
        Verifier {
            range: CompactRange::new(),
            authorizer,
            pending: Vec::with_capacity(CHUNK),
            in_flight: VecDeque::new(),
            pool: None,
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
        if self.pending.len() >= CHUNK {
            self.hand_over()?;
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

    /// Hands the pending signatures to the workers. Keeps at most a few chunks per worker in
    /// flight (memory stays bounded), reporting a bad one as soon as it is the oldest.
    fn hand_over(&mut self) -> Result<(), VerifyError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        let pool = self.pool.get_or_insert_with(Pool::start);
        let limit = 4 * pool.workers.len();
        let (reply, verdict) = channel();
        let sent = pool
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send((chunk, reply)).is_ok());
        if !sent {
            // Only if a worker thread died, which first_bad cannot make happen.
            return Err(self.lost());
        }
        self.in_flight.push_back(verdict);
        while self.in_flight.len() > limit {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest chunk in flight; its lowest bad index is the error.
    fn wait_oldest(&mut self) -> Result<(), VerifyError> {
        let Some(verdict) = self.in_flight.pop_front() else {
            return Ok(());
        };
        match verdict.recv() {
            Ok(None) => Ok(()),
            Ok(Some(index)) => Err(VerifyError {
                index,
                failure: Failure::BadSignature,
            }),
            Err(_) => Err(self.lost()),
        }
    }

    /// Verifies every signature taken so far; the lowest bad index is the error.
    fn settle(&mut self) -> Result<(), VerifyError> {
        self.hand_over()?;
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// A worker is gone, so a verdict is missing: report it rather than pass anything unchecked.
    fn lost(&self) -> VerifyError {
        VerifyError {
            index: self.range.size(),
            failure: Failure::Refused(
                "a signature-checking thread stopped; verification cannot go on".into(),
            ),
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
