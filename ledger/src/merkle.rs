//! The RFC 6962 / RFC 9162 Merkle tree over the log's entries.
//!
//! Three parts:
//! - hashing ([`leaf_hash`], [`node_hash`], [`root`]) exactly as RFC 6962 §2.1;
//! - proofs built from *stored* hashes: every complete subtree hash is kept once, at a fixed
//!   position given by [`stored_hash_index`] (the layout of Go's `golang.org/x/mod/sumdb/tlog`), so
//!   a store can answer a tree head or a proof with O(log n) reads through a [`HashReader`];
//! - verification by the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, written from the
//!   RFC rather than derived from the generator, so a bug in one is not mirrored in the other;
//! - [`CompactRange`]: the right edge of the tree, so appending a leaf costs O(log n) hashes.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The root of the empty tree: SHA-256 of no bytes.
    pub fn empty_root() -> Hash {
        Hash(Sha256::digest([]).into())
    }

    pub fn to_base64(&self) -> String {
        crate::b64::encode(self.0)
    }

    /// Decodes standard padded base64 of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Option<Hash> {
        crate::b64::decode(s).ok()?.try_into().ok().map(Hash)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The largest power of two strictly smaller than `n` (n ≥ 2), the split point `k` of RFC 6962.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[0:n]) of RFC 6962 over leaf hashes, by the definition (recursive, O(n)). The reference the
/// faster paths are tested against.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Why a proof could not be produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Sizes or indexes out of range (index ≥ size, old size > new size, …).
    BadRange { what: &'static str },
    /// The proof has the wrong number of hashes for these sizes.
    WrongLength { expected: usize, got: usize },
    /// The proof's hashes do not lead to the claimed root(s).
    Mismatch,
    /// The hash store could not supply a hash it should hold.
    Storage(String),
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::BadRange { what } => write!(f, "proof sizes out of range: {what}"),
            ProofError::WrongLength { expected, got } => {
                write!(f, "proof has {got} hashes where {expected} are needed")
            }
            ProofError::Mismatch => write!(f, "proof does not match the root hash"),
            ProofError::Storage(e) => write!(f, "hash storage: {e}"),
        }
    }
}

impl std::error::Error for ProofError {}

// ---------------------------------------------------------------------------------------------
// Stored hashes

/// The largest tree whose stored-hash positions fit in a `u64` (about 2n of them); far beyond any
/// real log, and checked so that a hostile size is an error rather than an overflow.
pub const MAX_STORED_TREE_SIZE: u64 = 1 << 63;

/// An inclusion proof has at most one hash per level (64); a consistency proof one more.
const MAX_PROOF_LEN: usize = 64;

fn check_size(size: u64) -> Result<(), ProofError> {
    if size > MAX_STORED_TREE_SIZE {
        return Err(ProofError::BadRange {
            what: "tree size beyond 2^63 leaves",
        });
    }
    Ok(())
}

/// Position of the hash of the complete subtree at `level` covering leaves
/// `[n·2^level, (n+1)·2^level)` in the append-only sequence of stored hashes. Appending leaf `i`
/// writes the leaf hash, then the hashes of the subtrees it completes, so positions are dense.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // Level L's n-th hash is written right after level L+1's 2n+1-th hash; walk down to level 0.
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    // Level 0's n-th hash is written at n + n/2 + n/4 + ...
    let mut i = 0;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + level as u64
}

/// How many hashes are stored for a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let mut count = stored_hash_index(0, size - 1) + 1;
    let mut i = size - 1;
    while i & 1 == 1 {
        count += 1;
        i >>= 1;
    }
    count
}

/// Reads stored hashes by position (see [`stored_hash_index`]). A store implements this with one
/// query for all positions; the answer must be in the order asked.
pub trait HashReader {
    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, ProofError>;
}

/// Stored hashes in memory, for tests and small tools.
impl HashReader for [Hash] {
    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, ProofError> {
        positions
            .iter()
            .map(|&p| {
                self.get(p as usize)
                    .copied()
                    .ok_or_else(|| ProofError::Storage(format!("no stored hash at position {p}")))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, ProofError> {
        self.as_slice().read_hashes(positions)
    }
}

/// Stored hashes fetched ahead of time, keyed by position: lets an asynchronous store read every
/// hash a proof needs in one query (see the `*_positions` functions) and then build it here.
impl HashReader for std::collections::HashMap<u64, Hash> {
    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, ProofError> {
        positions
            .iter()
            .map(|p| {
                self.get(p)
                    .copied()
                    .ok_or_else(|| ProofError::Storage(format!("no stored hash at position {p}")))
            })
            .collect()
    }
}

/// Positions [`tree_hash`] and [`CompactRange::resume`] read for a tree of `size` leaves.
pub fn tree_hash_positions(size: u64) -> Result<Vec<u64>, ProofError> {
    check_size(size)?;
    let mut need = Vec::new();
    subtree_positions(0, size, &mut need);
    Ok(need)
}

/// Positions [`inclusion_proof`] reads.
pub fn inclusion_proof_positions(size: u64, index: u64) -> Result<Vec<u64>, ProofError> {
    if index >= size {
        return Err(ProofError::BadRange {
            what: "leaf index must be below the tree size",
        });
    }
    check_size(size)?;
    let mut need = Vec::new();
    inclusion_positions(0, size, index, &mut need);
    Ok(need)
}

/// Positions [`consistency_proof`] reads.
pub fn consistency_proof_positions(old_size: u64, new_size: u64) -> Result<Vec<u64>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::BadRange {
            what: "old size must not exceed new size",
        });
    }
    check_size(new_size)?;
    let mut need = Vec::new();
    if old_size > 0 && old_size < new_size {
        consistency_positions(0, new_size, old_size, &mut need);
    }
    Ok(need)
}

/// The positions of complete subtrees whose hashes combine into the hash of leaves `[lo, hi)`.
fn subtree_positions(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        // The largest aligned power-of-two block starting at lo that fits.
        let k = largest_pow2_at_most(hi - lo);
        let level = k.trailing_zeros();
        debug_assert_eq!(lo & (k - 1), 0);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

fn largest_pow2_at_most(n: u64) -> u64 {
    1 << (63 - n.leading_zeros())
}

/// Combines the hashes named by [`subtree_positions`] (taken from the front of `hashes`).
fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut std::slice::Iter<'_, Hash>) -> Hash {
    let mut parts = Vec::new();
    while lo < hi {
        let k = largest_pow2_at_most(hi - lo);
        parts.push(*hashes.next().expect("positions and hashes agree"));
        lo += k;
    }
    let mut h = parts.pop().expect("non-empty range");
    while let Some(left) = parts.pop() {
        h = node_hash(&left, &h);
    }
    h
}

fn read_exact(r: &(impl HashReader + ?Sized), positions: &[u64]) -> Result<Vec<Hash>, ProofError> {
    let hashes = r.read_hashes(positions)?;
    if hashes.len() != positions.len() {
        return Err(ProofError::Storage(format!(
            "asked for {} hashes, got {}",
            positions.len(),
            hashes.len()
        )));
    }
    Ok(hashes)
}

/// The root of the first `size` leaves, from stored hashes (at most log₂(size)+1 reads).
pub fn tree_hash(size: u64, r: &(impl HashReader + ?Sized)) -> Result<Hash, ProofError> {
    check_size(size)?;
    if size == 0 {
        return Ok(Hash::empty_root());
    }
    let mut need = Vec::new();
    subtree_positions(0, size, &mut need);
    let hashes = read_exact(r, &need)?;
    Ok(subtree_hash(0, size, &mut hashes.iter()))
}

/// The audit path (RFC 9162 §2.1.3.1) for leaf `index` in the tree of `size` leaves, bottom first.
pub fn inclusion_proof(
    size: u64,
    index: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::BadRange {
            what: "leaf index must be below the tree size",
        });
    }
    check_size(size)?;
    let mut need = Vec::new();
    inclusion_positions(0, size, index, &mut need);
    let hashes = read_exact(r, &need)?;
    let mut it = hashes.iter();
    let mut proof = Vec::new();
    inclusion_build(0, size, index, &mut it, &mut proof);
    Ok(proof)
}

fn inclusion_positions(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let k = split(hi - lo);
    if n < lo + k {
        inclusion_positions(lo, lo + k, n, need);
        subtree_positions(lo + k, hi, need);
    } else {
        subtree_positions(lo, lo + k, need);
        inclusion_positions(lo + k, hi, n, need);
    }
}

fn inclusion_build(
    lo: u64,
    hi: u64,
    n: u64,
    hashes: &mut std::slice::Iter<'_, Hash>,
    proof: &mut Vec<Hash>,
) {
    if lo + 1 == hi {
        return;
    }
    let k = split(hi - lo);
    if n < lo + k {
        inclusion_build(lo, lo + k, n, hashes, proof);
        proof.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let sibling = subtree_hash(lo, lo + k, hashes);
        inclusion_build(lo + k, hi, n, hashes, proof);
        proof.push(sibling);
    }
}

/// The consistency proof (RFC 9162 §2.1.4.1) from `old_size` to `new_size`. Empty when
/// `old_size` is 0 or equal to `new_size`.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    r: &(impl HashReader + ?Sized),
) -> Result<Vec<Hash>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::BadRange {
            what: "old size must not exceed new size",
        });
    }
    check_size(new_size)?;
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    let mut need = Vec::new();
    consistency_positions(0, new_size, old_size, &mut need);
    let hashes = read_exact(r, &need)?;
    let mut it = hashes.iter();
    let mut proof = Vec::new();
    consistency_build(0, new_size, old_size, &mut it, &mut proof);
    Ok(proof)
}

fn consistency_positions(lo: u64, hi: u64, m: u64, need: &mut Vec<u64>) {
    if m == hi {
        if lo != 0 {
            subtree_positions(lo, hi, need);
        }
        return;
    }
    let k = split(hi - lo);
    if m <= lo + k {
        consistency_positions(lo, lo + k, m, need);
        subtree_positions(lo + k, hi, need);
    } else {
        subtree_positions(lo, lo + k, need);
        consistency_positions(lo + k, hi, m, need);
    }
}

fn consistency_build(
    lo: u64,
    hi: u64,
    m: u64,
    hashes: &mut std::slice::Iter<'_, Hash>,
    proof: &mut Vec<Hash>,
) {
    if m == hi {
        // The old tree is exactly this subtree: the verifier knows its hash when lo == 0.
        if lo != 0 {
            proof.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let k = split(hi - lo);
    if m <= lo + k {
        consistency_build(lo, lo + k, m, hashes, proof);
        proof.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        consistency_build(lo + k, hi, m, hashes, proof);
        proof.push(left);
    }
}

// ---------------------------------------------------------------------------------------------
// Verification, RFC 9162

/// RFC 9162 §2.1.3.2: checks that `leaf` is leaf `index` of the tree of `size` leaves with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::BadRange {
            what: "leaf index must be below the tree size",
        });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::WrongLength {
            expected: inclusion_proof_len(index, size),
            got: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected: inclusion_proof_len(index, size),
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected: inclusion_proof_len(index, size),
            got: proof.len(),
        });
    }
    if r != *root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// The number of hashes in an inclusion proof, for error messages.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (mut lo, mut hi, mut len) = (0u64, size, 0usize);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
    len
}

/// RFC 9162 §2.1.4.2: checks that the tree of `old_size` leaves with `old_root` is a prefix of the
/// tree of `new_size` leaves with `new_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::BadRange {
            what: "old size must not exceed new size",
        });
    }
    if old_size == new_size || old_size == 0 {
        // Nothing to prove beyond the trivial: equal trees, or the empty tree as a prefix.
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == 0 && *old_root != Hash::empty_root() {
            return Err(ProofError::Mismatch);
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::Mismatch);
        }
        return Ok(());
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN + 1 {
        return Err(ProofError::WrongLength {
            expected: consistency_proof_len(old_size, new_size),
            got: proof.len(),
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected: consistency_proof_len(old_size, new_size),
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected: consistency_proof_len(old_size, new_size),
            got: proof.len(),
        });
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    // Each step of the walk contributes one hash; count steps rather than stored positions.
    let (mut lo, mut hi, mut len) = (0u64, new_size, 0usize);
    while old_size != hi {
        let k = split(hi - lo);
        if old_size <= lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
    len + usize::from(lo != 0)
}

// ---------------------------------------------------------------------------------------------
// Compact range

/// The right edge of a growing tree: the roots of its complete subtrees, largest first. Appending a
/// leaf costs O(log n) hashes; the root costs O(log n) more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// Roots of the perfect subtrees whose sizes are the set bits of `size`, high bit first.
    peaks: Vec<Hash>,
}

/// A hash to store when appending: its position (see [`stored_hash_index`]) and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredHash {
    pub position: u64,
    pub hash: Hash,
}

impl Default for CompactRange {
    fn default() -> Self {
        Self::new()
    }
}

impl CompactRange {
    pub fn new() -> Self {
        CompactRange {
            size: 0,
            peaks: Vec::new(),
        }
    }

    /// Resumes a tree of `size` leaves from stored hashes (O(log n) reads).
    pub fn resume(size: u64, r: &(impl HashReader + ?Sized)) -> Result<Self, ProofError> {
        check_size(size)?;
        let mut need = Vec::new();
        subtree_positions(0, size, &mut need);
        let peaks = read_exact(r, &need)?;
        Ok(CompactRange { size, peaks })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash; returns the hashes to store: the leaf, then every subtree it completes.
    pub fn append(&mut self, leaf: Hash) -> Vec<StoredHash> {
        let index = self.size;
        let mut stored = vec![StoredHash {
            position: stored_hash_index(0, index),
            hash: leaf,
        }];
        let mut h = leaf;
        let mut level = 0;
        // Each trailing 1 bit of the old size is a peak of equal height that the new leaf completes.
        while (index >> level) & 1 == 1 {
            let left = self.peaks.pop().expect("a peak per set bit");
            h = node_hash(&left, &h);
            level += 1;
            stored.push(StoredHash {
                position: stored_hash_index(level, index >> level),
                hash: h,
            });
        }
        self.peaks.push(h);
        self.size += 1;
        stored
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        let Some(mut h) = it.next().copied() else {
            return Hash::empty_root();
        };
        for left in it {
            h = node_hash(left, &h);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn stored(n: u64) -> (CompactRange, Vec<Hash>) {
        let mut cr = CompactRange::new();
        let mut store = Vec::new();
        for l in leaves(n) {
            for s in cr.append(l) {
                assert_eq!(s.position, store.len() as u64, "stored hashes are dense");
                store.push(s.hash);
            }
        }
        assert_eq!(store.len() as u64, stored_hash_count(n));
        (cr, store)
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            Hash::empty_root().to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn compact_range_and_stored_hashes_agree_with_the_definition() {
        let all = leaves(70);
        let (_, store) = stored(70);
        let mut cr = CompactRange::new();
        for n in 0..=70u64 {
            let expected = root(&all[..n as usize]);
            assert_eq!(cr.root(), expected, "compact range root at {n}");
            assert_eq!(tree_hash(n, &store).unwrap(), expected, "tree_hash at {n}");
            let resumed = CompactRange::resume(n, &store).unwrap();
            assert_eq!(resumed.root(), expected);
            if n < 70 {
                cr.append(all[n as usize]);
            }
        }
    }

    #[test]
    fn proofs_round_trip_for_small_trees() {
        let (_, store) = stored(40);
        let all = leaves(40);
        for size in 1..=40u64 {
            let r = tree_hash(size, &store).unwrap();
            for i in 0..size {
                let p = inclusion_proof(size, i, &store).unwrap();
                assert_eq!(p.len(), inclusion_proof_len(i, size));
                verify_inclusion(i, size, &all[i as usize], &p, &r).unwrap();
            }
            for old in 0..=size {
                let p = consistency_proof(old, size, &store).unwrap();
                if old > 0 && old < size {
                    assert_eq!(p.len(), consistency_proof_len(old, size), "({old},{size})");
                }
                let or = tree_hash(old, &store).unwrap();
                verify_consistency(old, size, &or, &r, &p).unwrap();
            }
        }
    }

    #[test]
    fn hostile_sizes_and_proof_lengths_are_errors_not_overflows() {
        let (_, store) = stored(4);
        let huge = MAX_STORED_TREE_SIZE + 1;
        assert!(matches!(
            tree_hash(huge, &store),
            Err(ProofError::BadRange { .. })
        ));
        assert!(matches!(
            inclusion_proof(u64::MAX, 0, &store),
            Err(ProofError::BadRange { .. })
        ));
        assert!(matches!(
            consistency_proof(1, u64::MAX, &store),
            Err(ProofError::BadRange { .. })
        ));
        assert!(matches!(
            CompactRange::resume(huge, &store),
            Err(ProofError::BadRange { .. })
        ));
        let long = vec![Hash::empty_root(); 100_000];
        let r = Hash::empty_root();
        assert!(matches!(
            verify_inclusion(0, 5, &r, &long, &r),
            Err(ProofError::WrongLength { .. })
        ));
        assert!(matches!(
            verify_consistency(3, 5, &r, &r, &long),
            Err(ProofError::WrongLength { .. })
        ));
    }
}
