//! Cross-checks of `bangfu_ledger::merkle` against independent RFC 6962 implementations, property
//! tests of the RFC 9162 verifiers, and published known-answer vectors.
//!
//! The independent implementations (dev-dependencies only):
//!
//! - `tlog_tiles` 0.2, Cloudflare's Rust port of Go's `golang.org/x/mod/sumdb/tlog`. It uses the
//!   same stored-hash layout as ours, so stored positions, stored hashes, the positions a proof
//!   reads, tree hashes and proofs can all be compared one to one. It hashes record *data* itself
//!   in `stored_hashes` (`record_hash` = SHA-256(0x00 || data)); its verifiers take record hashes.
//! - `ct-merkle` 0.3, a separate array-based design (RFC 9420 tree math, not the RFC 6962
//!   recursion). Its tree and its inclusion verifier take raw leaf *data* and hash it themselves.
//!
//! Every implementation is fed the same leaf data, and every hash is compared as bytes, so a
//! wrong leaf/node prefix, split point, proof order or stored position shows up as a mismatch.

use std::cell::RefCell;
use std::sync::OnceLock;

use bangfu_ledger::merkle::{
    self, CompactRange, Hash, HashReader, ProofError, consistency_proof, inclusion_proof,
    leaf_hash, node_hash, stored_hash_count, stored_hash_index, tree_hash, verify_consistency,
    verify_inclusion,
};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------------------
// Harness

/// Every tree size from 0 to `MAX` is cross-checked exhaustively.
const MAX: u64 = 300;
/// Largest tree size handed to ct-merkle, whose index math asserts sizes stay below 2^63.
const CT_LIMIT: u64 = 1 << 40;

/// ct-merkle 0.3 is generic over a `digest` 0.11 hash, and this workspace has only `sha2` 0.10.
/// This adapter implements the digest 0.11 traits as plain SHA-256 of everything fed in, so
/// ct-merkle still does all of its own prefixing, leaf/node hashing and tree math.
///
/// Speed: generic hashing code is compiled at opt-level 0 in this test crate, which makes SHA-256
/// several times slower than in the optimised dependencies. So the two inputs ct-merkle hashes
/// most — 0x00 || data and 0x01 || 64 bytes — go through tlog_tiles' non-generic (optimised)
/// SHA-256 of exactly those bytes. `ct_adapter_is_plain_sha256` checks that the result is SHA-256
/// of the buffer, whatever it holds.
mod ct_sha256 {
    use ct_merkle::digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update, consts::U32};

    #[derive(Clone, Default)]
    pub struct Sha256(Vec<u8>);

    /// SHA-256 of `buf`.
    pub fn sha256(buf: &[u8]) -> [u8; 32] {
        match buf {
            [0x00, data @ ..] => tlog_tiles::record_hash(data).0,
            [0x01, children @ ..] if children.len() == 64 => {
                let (l, r) = children.split_at(32);
                tlog_tiles::node_hash(
                    tlog_tiles::Hash(l.try_into().expect("32 bytes")),
                    tlog_tiles::Hash(r.try_into().expect("32 bytes")),
                )
                .0
            }
            _ => <sha2::Sha256 as sha2::Digest>::digest(buf).into(),
        }
    }

    impl HashMarker for Sha256 {}

    impl OutputSizeUser for Sha256 {
        type OutputSize = U32;
    }

    impl Update for Sha256 {
        fn update(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }
    }

    impl FixedOutput for Sha256 {
        fn finalize_into(self, out: &mut Output<Self>) {
            out.copy_from_slice(&sha256(&self.0));
        }
    }
}

type CtSha256 = ct_sha256::Sha256;
type CtTree = MemoryBackedTree<CtSha256, Vec<u8>>;
type CtOut = ct_merkle::digest::Output<CtSha256>;

fn ct_root(root: &Hash, size: u64) -> RootHash<CtSha256> {
    RootHash::new(CtOut::from(root.0), size)
}

fn ct_outs(proof: &[Hash]) -> Vec<CtOut> {
    proof.iter().map(|h| CtOut::from(h.0)).collect()
}

fn bytes(proof: &[Hash]) -> Vec<u8> {
    proof.iter().flat_map(|h| h.0).collect()
}

fn tl(h: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h.0)
}

fn tl_proof(proof: &[Hash]) -> Vec<tlog_tiles::Hash> {
    proof.iter().map(tl).collect()
}

fn from_tl(proof: &[tlog_tiles::Hash]) -> Vec<Hash> {
    proof.iter().map(|h| Hash(h.0)).collect()
}

/// tlog_tiles' view of a hash store, filled only by `tlog_tiles::stored_hashes`.
struct TlogStore(Vec<tlog_tiles::Hash>);

impl tlog_tiles::HashReader for TlogStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Records the positions tlog_tiles asks for.
struct TlogRecorder<'a> {
    inner: &'a TlogStore,
    asked: RefCell<Vec<u64>>,
}

impl tlog_tiles::HashReader for TlogRecorder<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        self.asked.borrow_mut().extend_from_slice(indexes);
        self.inner.read_hashes(indexes)
    }
}

/// Records the positions our code asks for, call by call.
struct Recorder<'a> {
    inner: &'a [Hash],
    calls: RefCell<Vec<Vec<u64>>>,
}

impl<'a> Recorder<'a> {
    fn new(inner: &'a [Hash]) -> Self {
        Recorder {
            inner,
            calls: RefCell::new(Vec::new()),
        }
    }

    /// All positions asked for, sorted; and asserts they were asked in at most one query.
    fn asked(&self) -> Vec<u64> {
        let calls = self.calls.borrow();
        assert!(calls.len() <= 1, "one query per operation, got {calls:?}");
        let mut all = calls.concat();
        all.sort_unstable();
        all
    }
}

impl HashReader for Recorder<'_> {
    fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, ProofError> {
        self.calls.borrow_mut().push(positions.to_vec());
        self.inner.read_hashes(positions)
    }
}

/// Distinct leaf data of varying length; leaf 0 is empty.
fn leaf_data(i: u64) -> Vec<u8> {
    if i == 0 {
        return Vec::new();
    }
    let mut d = format!("bangfu crosscheck leaf {i}").into_bytes();
    d.resize(d.len() + (i % 7) as usize, (i % 251) as u8);
    d
}

struct Fixture {
    data: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    /// Our stored hashes, written at the positions `CompactRange::append` returned.
    store: Vec<Hash>,
    /// tlog_tiles' stored hashes, written by `tlog_tiles::stored_hashes` from the raw data.
    tlog: TlogStore,
    /// `roots[n]`: tlog_tiles' tree hash of the first n leaves.
    roots: Vec<Hash>,
}

impl Fixture {
    /// Exactly the hashes stored once `n` leaves were appended: a proof for a tree of size n that
    /// needs more than these reads hashes the tree did not have yet.
    fn prefix(&self, n: u64) -> &[Hash] {
        &self.store[..stored_hash_count(n) as usize]
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let data: Vec<Vec<u8>> = (0..MAX).map(leaf_data).collect();
        let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let mut cr = CompactRange::new();
        let mut store: Vec<Hash> = Vec::new();
        for l in &leaves {
            for s in cr.append(*l) {
                let pos = s.position as usize;
                if store.len() <= pos {
                    store.resize(pos + 1, Hash([0xee; 32]));
                }
                store[pos] = s.hash;
            }
        }
        let mut tlog = TlogStore(Vec::new());
        for (i, d) in data.iter().enumerate() {
            let hashes = tlog_tiles::stored_hashes(i as u64, d, &tlog).expect("tlog stored_hashes");
            tlog.0.extend(hashes);
        }
        let roots = (0..=MAX)
            .map(|n| Hash(tlog_tiles::tree_hash(n, &tlog).expect("tlog tree_hash").0))
            .collect();
        Fixture {
            data,
            leaves,
            store,
            tlog,
            roots,
        }
    })
}

/// Runs our, tlog_tiles' and (for sizes it supports) ct-merkle's inclusion verifier on one claim
/// about raw leaf `data`, asserts that they agree, and returns the verdict.
fn inclusion_verdict(index: u64, size: u64, data: &[u8], proof: &[Hash], root: &Hash) -> bool {
    let leaf = leaf_hash(data);
    let ours = verify_inclusion(index, size, &leaf, proof, root).is_ok();
    // tlog_tiles hashes the leaf itself, too.
    let tlog_leaf = tlog_tiles::record_hash(data);
    let tlog = tlog_tiles::check_record(&tl_proof(proof), size, tl(root), index, tlog_leaf).is_ok();
    assert_eq!(
        ours,
        tlog,
        "ours and tlog_tiles disagree: inclusion of {index} in {size}, proof of {}",
        proof.len()
    );
    if size <= CT_LIMIT {
        let outs = ct_outs(proof);
        let ct = ct_root(root, size)
            .verify_inclusion(&data, index, &InclusionProof::from_digests(outs.iter()))
            .is_ok();
        assert_eq!(
            ours,
            ct,
            "ours and ct-merkle disagree: inclusion of {index} in {size}, proof of {}",
            proof.len()
        );
    }
    ours
}

/// Same for consistency. tlog_tiles and ct-merkle refuse an old size of 0 outright, where ours
/// accepts the empty tree's root with an empty proof, so only ours is asked about old size 0.
fn consistency_verdict(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    let ours = verify_consistency(old, new, old_root, new_root, proof).is_ok();
    if old == 0 {
        return ours;
    }
    let tlog =
        tlog_tiles::check_tree(&tl_proof(proof), new, tl(new_root), old, tl(old_root)).is_ok();
    assert_eq!(
        ours,
        tlog,
        "ours and tlog_tiles disagree: consistency {old} -> {new}, proof of {}",
        proof.len()
    );
    if new <= CT_LIMIT {
        let outs = ct_outs(proof);
        let ct = ct_root(new_root, new)
            .verify_consistency(
                &ct_root(old_root, old),
                &ConsistencyProof::from_digests(outs.iter()),
            )
            .is_ok();
        assert_eq!(
            ours,
            ct,
            "ours and ct-merkle disagree: consistency {old} -> {new}, proof of {}",
            proof.len()
        );
    }
    ours
}

/// A corrupted inclusion claim: (what, index, size, leaf data, proof, root).
type DataProbe = (String, u64, u64, Vec<u8>, Vec<Hash>, Hash);
/// The same with the leaf hash instead of the data.
type HashProbe = (String, u64, u64, Hash, Vec<Hash>, Hash);
/// A corrupted consistency claim: (what, old size, new size, old root, new root, proof).
type ConsistencyProbe = (String, u64, u64, Hash, Hash, Vec<Hash>);

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[bit / 8] ^= 1 << (bit % 8);
    Hash(b)
}

fn is_wrong_length(r: Result<(), ProofError>) -> bool {
    matches!(r, Err(ProofError::WrongLength { .. }))
}

fn is_mismatch(r: Result<(), ProofError>) -> bool {
    matches!(r, Err(ProofError::Mismatch))
}

// ---------------------------------------------------------------------------------------------
// A reference written from the RFC 6962 §2.1 definitions (recursive, top-down), used to build
// valid proofs for trees far too large to materialise. Deliberately not the RFC 9162 iteration.

/// The largest power of two strictly below `n` (n ≥ 2), by doubling.
fn ref_split(n: u64) -> u64 {
    assert!(n >= 2);
    let mut k = 1u64;
    while k.checked_mul(2).is_some_and(|d| d < n) {
        k *= 2;
    }
    k
}

/// |PATH(i, D[lo:hi])|.
fn ref_inclusion_len(mut lo: u64, mut hi: u64, i: u64) -> usize {
    let mut len = 0;
    while hi - lo > 1 {
        let k = ref_split(hi - lo);
        if i < lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
    len
}

/// The root of D[lo:hi] implied by `proof` = PATH(i, D[lo:hi]) (bottom-up) and the leaf hash.
fn ref_inclusion_root(lo: u64, hi: u64, i: u64, leaf: Hash, proof: &[Hash]) -> Option<Hash> {
    if hi - lo == 1 {
        return proof.is_empty().then_some(leaf);
    }
    let (top, rest) = proof.split_last()?;
    let k = ref_split(hi - lo);
    if i < lo + k {
        Some(node_hash(
            &ref_inclusion_root(lo, lo + k, i, leaf, rest)?,
            top,
        ))
    } else {
        Some(node_hash(
            top,
            &ref_inclusion_root(lo + k, hi, i, leaf, rest)?,
        ))
    }
}

/// |SUBPROOF(m, D[lo:hi], lo == 0)|, for 0 < m < hi.
fn ref_consistency_len(lo: u64, hi: u64, m: u64) -> usize {
    if m == hi {
        return usize::from(lo != 0);
    }
    let k = ref_split(hi - lo);
    1 + if m <= lo + k {
        ref_consistency_len(lo, lo + k, m)
    } else {
        ref_consistency_len(lo + k, hi, m)
    }
}

/// The (old, new) subtree hashes implied by `proof` = SUBPROOF(m, D[lo:hi], lo == 0), where
/// `old_root` stands for MTH(D[0:m]) when the old tree is a complete left subtree.
fn ref_consistency_roots(
    lo: u64,
    hi: u64,
    m: u64,
    old_root: Hash,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    if m == hi {
        if lo == 0 {
            return proof.is_empty().then_some((old_root, old_root));
        }
        return (proof.len() == 1).then(|| (proof[0], proof[0]));
    }
    let (top, rest) = proof.split_last()?;
    let k = ref_split(hi - lo);
    if m <= lo + k {
        let (o, n) = ref_consistency_roots(lo, lo + k, m, old_root, rest)?;
        Some((o, node_hash(&n, top)))
    } else {
        let (o, n) = ref_consistency_roots(lo + k, hi, m, old_root, rest)?;
        Some((node_hash(top, &o), node_hash(top, &n)))
    }
}

fn pseudo_proof(seed: &[u8; 32], len: usize) -> Vec<Hash> {
    (0..len as u64)
        .map(|k| leaf_hash(&[&seed[..], &k.to_be_bytes()].concat()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Cross-checks against tlog_tiles and ct-merkle, exhaustive for small trees

#[test]
fn leaf_and_node_hashes_match_tlog() {
    let f = fixture();
    for (d, l) in f.data.iter().zip(&f.leaves) {
        assert_eq!(l.0, tlog_tiles::record_hash(d).0);
    }
    for w in f.leaves.windows(2) {
        assert_eq!(
            node_hash(&w[0], &w[1]).0,
            tlog_tiles::node_hash(tl(&w[0]), tl(&w[1])).0
        );
    }
    assert_eq!(Hash::empty_root().0, tlog_tiles::EMPTY_HASH.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The ct-merkle hash adapter is SHA-256 of whatever it is fed, in any number of pieces.
    #[test]
    fn ct_adapter_is_plain_sha256(
        first in prop_oneof![Just(0u8), Just(1u8), any::<u8>()],
        rest in prop_oneof![
            proptest::collection::vec(any::<u8>(), 64),
            proptest::collection::vec(any::<u8>(), 0..200),
        ],
        cut in any::<Index>(),
    ) {
        use ct_merkle::digest::Digest;
        let buf = [&[first][..], &rest[..]].concat();
        let plain: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&buf).into();
        let cut = cut.index(buf.len() + 1);
        let mut h = CtSha256::new();
        Digest::update(&mut h, &buf[..cut]);
        Digest::update(&mut h, &buf[cut..]);
        let streamed: [u8; 32] = h.finalize().into();
        prop_assert_eq!(streamed, plain);
        prop_assert_eq!(ct_sha256::sha256(&buf), plain);
        let empty: [u8; 32] = CtSha256::digest(b"").into();
        prop_assert_eq!(empty, Hash::empty_root().0);
    }
}

#[test]
fn appends_store_exactly_what_tlog_stores() {
    let f = fixture();
    assert_eq!(f.store.len(), f.tlog.0.len());
    for (p, (ours, theirs)) in f.store.iter().zip(&f.tlog.0).enumerate() {
        assert_eq!(ours.0, theirs.0, "stored hash at position {p}");
    }
    let mut cr = CompactRange::new();
    let mut written = 0u64;
    for i in 0..MAX {
        let stored = cr.append(f.leaves[i as usize]);
        // The leaf, then one hash per subtree the leaf completes (one per trailing 1 bit of i).
        assert_eq!(stored.len(), 1 + i.trailing_ones() as usize, "append #{i}");
        for (level, s) in stored.iter().enumerate() {
            let level = level as u8;
            let n = i >> level;
            assert_eq!(s.position, written, "positions are dense and in order");
            written += 1;
            assert_eq!(s.position, tlog_tiles::stored_hash_index(level, n));
            assert_eq!(s.position, stored_hash_index(level.into(), n));
            assert_eq!(tlog_tiles::split_stored_hash_index(s.position), (level, n));
            let lo = (n << level) as usize;
            assert_eq!(
                s.hash,
                merkle::root(&f.leaves[lo..lo + (1 << level)]),
                "stored ({level}, {n}) is the hash of its subtree"
            );
        }
        assert_eq!(written, stored_hash_count(i + 1));
    }
}

#[test]
fn stored_hash_layout_matches_tlog() {
    for level in 0..=24u8 {
        for n in 0..2048u64 {
            assert_eq!(
                stored_hash_index(level.into(), n),
                tlog_tiles::stored_hash_index(level, n),
                "stored_hash_index({level}, {n})"
            );
        }
    }
    for p in 0..50_000u64 {
        let (level, n) = tlog_tiles::split_stored_hash_index(p);
        assert_eq!(stored_hash_index(level.into(), n), p, "position {p}");
    }
    for n in 0..=50_000u64 {
        assert_eq!(
            stored_hash_count(n),
            tlog_tiles::stored_hash_count(n),
            "{n}"
        );
    }
    // The largest tree whose stored hashes can all be numbered in a u64.
    assert_eq!(stored_hash_count(1 << 63), u64::MAX);
    assert_eq!(
        stored_hash_count(1 << 63),
        tlog_tiles::stored_hash_count(1 << 63)
    );
    assert_eq!(stored_hash_index(63, 0), u64::MAX - 1);
}

#[test]
fn roots_agree_for_every_size() {
    let f = fixture();
    let mut cr = CompactRange::new();
    let mut ct = CtTree::new();
    for n in 0..=MAX {
        let prefix = f.prefix(n);
        let expected = f.roots[n as usize];
        let ct_root = ct.root();
        assert_eq!(ct_root.num_leaves(), n);
        assert_eq!(
            ct_root.as_bytes().as_slice(),
            &expected.0,
            "ct-merkle and tlog_tiles disagree on the root at {n}"
        );
        assert_eq!(cr.size(), n);
        assert_eq!(cr.root(), expected, "CompactRange::root at {n}");
        let rec = Recorder::new(prefix);
        assert_eq!(tree_hash(n, &rec).unwrap(), expected, "tree_hash at {n}");
        let mut tlog_needs = tlog_tiles::sub_tree_index(0, n, Vec::new());
        tlog_needs.sort_unstable();
        assert_eq!(
            rec.asked(),
            tlog_needs,
            "tree_hash reads tlog's positions at {n}"
        );
        assert_eq!(
            merkle::root(&f.leaves[..n as usize]),
            expected,
            "root at {n}"
        );
        let resumed = CompactRange::resume(n, prefix).unwrap();
        assert_eq!(resumed.size(), n);
        assert_eq!(resumed.root(), expected, "resumed root at {n}");
        assert_eq!(resumed, cr, "resume({n}) rebuilds the same compact range");
        if n < MAX {
            cr.append(f.leaves[n as usize]);
            ct.push(f.data[n as usize].clone());
        }
    }
}

#[test]
fn resumed_ranges_keep_appending_correctly() {
    let f = fixture();
    for n in 0..MAX {
        let mut cr = CompactRange::resume(n, f.prefix(n)).unwrap();
        for i in n..MAX.min(n + 40) {
            for s in cr.append(f.leaves[i as usize]) {
                assert_eq!(
                    s.hash, f.store[s.position as usize],
                    "resumed at {n}, appending {i}"
                );
            }
            assert_eq!(cr.root(), f.roots[i as usize + 1]);
        }
    }
}

#[test]
fn inclusion_proofs_agree_for_every_leaf_of_every_size() {
    let f = fixture();
    let mut ct = CtTree::new();
    for n in 1..=MAX {
        ct.push(f.data[n as usize - 1].clone());
        let prefix = f.prefix(n);
        let root = f.roots[n as usize];
        let ct_root = ct.root();
        for i in 0..n {
            let rec = Recorder::new(prefix);
            let ours = inclusion_proof(n, i, &rec).unwrap();
            let trec = TlogRecorder {
                inner: &f.tlog,
                asked: RefCell::new(Vec::new()),
            };
            let theirs = from_tl(&tlog_tiles::prove_record(n, i, &trec).unwrap());
            assert_eq!(ours, theirs, "inclusion proof of {i} in {n} vs tlog_tiles");
            let mut tlog_asked = trec.asked.into_inner();
            tlog_asked.sort_unstable();
            assert_eq!(rec.asked(), tlog_asked, "positions read for {i} in {n}");
            assert_eq!(
                ct.prove_inclusion(i as usize).as_bytes(),
                bytes(&ours).as_slice(),
                "inclusion proof of {i} in {n} vs ct-merkle"
            );
            assert_eq!(ours.len(), ref_inclusion_len(0, n, i));

            let leaf = &f.leaves[i as usize];
            verify_inclusion(i, n, leaf, &ours, &root)
                .unwrap_or_else(|e| panic!("ours rejects {i} in {n}: {e}"));
            tlog_tiles::check_record(&tl_proof(&ours), n, tl(&root), i, tl(leaf))
                .unwrap_or_else(|e| panic!("tlog_tiles rejects our proof of {i} in {n}: {e}"));
            let outs = ct_outs(&ours);
            ct_root
                .verify_inclusion(
                    &f.data[i as usize],
                    i,
                    &InclusionProof::from_digests(outs.iter()),
                )
                .unwrap_or_else(|e| panic!("ct-merkle rejects our proof of {i} in {n}: {e}"));
        }
        assert!(matches!(
            inclusion_proof(n, n, prefix),
            Err(ProofError::BadRange { .. })
        ));
        assert!(matches!(
            inclusion_proof(n, u64::MAX, prefix),
            Err(ProofError::BadRange { .. })
        ));
    }
    assert!(matches!(
        inclusion_proof(0, 0, &f.store),
        Err(ProofError::BadRange { .. })
    ));
}

/// Every old size for `new`: all of them up to 64, then a sample with every power of two and its
/// neighbours, both ends, and a stride.
fn old_sizes(new: u64) -> Vec<u64> {
    if new <= 64 {
        return (0..=new).collect();
    }
    (0..=new)
        .filter(|&m| {
            m <= 9
                || m + 9 >= new
                || m % 17 == 0
                || (m + 1).is_power_of_two()
                || m.is_power_of_two()
                || (m - 1).is_power_of_two()
        })
        .collect()
}

#[test]
fn consistency_proofs_agree_for_all_small_pairs_and_a_sample_of_larger_ones() {
    let f = fixture();
    let mut ct = CtTree::new();
    let mut pairs = 0;
    for n in 1..=MAX {
        ct.push(f.data[n as usize - 1].clone());
        let prefix = f.prefix(n);
        let new_root = f.roots[n as usize];
        let ct_new = ct.root();
        for m in old_sizes(n) {
            let old_root = f.roots[m as usize];
            let rec = Recorder::new(prefix);
            let ours = consistency_proof(m, n, &rec).unwrap();
            verify_consistency(m, n, &old_root, &new_root, &ours)
                .unwrap_or_else(|e| panic!("ours rejects {m} -> {n}: {e}"));
            if m == 0 {
                assert!(ours.is_empty(), "0 -> {n} needs no hashes");
                continue;
            }
            pairs += 1;
            let trec = TlogRecorder {
                inner: &f.tlog,
                asked: RefCell::new(Vec::new()),
            };
            let theirs = from_tl(&tlog_tiles::prove_tree(n, m, &trec).unwrap());
            assert_eq!(ours, theirs, "consistency proof {m} -> {n} vs tlog_tiles");
            let mut tlog_asked = trec.asked.into_inner();
            tlog_asked.sort_unstable();
            assert_eq!(rec.asked(), tlog_asked, "positions read for {m} -> {n}");
            assert_eq!(
                ct.prove_consistency((n - m) as usize).as_bytes(),
                bytes(&ours).as_slice(),
                "consistency proof {m} -> {n} vs ct-merkle"
            );
            if m < n {
                assert_eq!(ours.len(), ref_consistency_len(0, n, m));
            } else {
                assert!(ours.is_empty());
            }

            tlog_tiles::check_tree(&tl_proof(&ours), n, tl(&new_root), m, tl(&old_root))
                .unwrap_or_else(|e| panic!("tlog_tiles rejects our proof {m} -> {n}: {e}"));
            let outs = ct_outs(&ours);
            ct_new
                .verify_consistency(
                    &ct_root(&old_root, m),
                    &ConsistencyProof::from_digests(outs.iter()),
                )
                .unwrap_or_else(|e| panic!("ct-merkle rejects our proof {m} -> {n}: {e}"));
        }
        assert!(matches!(
            consistency_proof(n + 1, n, prefix),
            Err(ProofError::BadRange { .. })
        ));
    }
    assert!(pairs > 64 * 65 / 2 + 3000, "{pairs} pairs checked");
}

/// Trees whose proofs are all corrupted: every size up to 40, then these.
const CORRUPTION_SIZES: [u64; 14] = [
    48, 63, 64, 65, 97, 127, 128, 129, 200, 255, 256, 257, 299, 300,
];

/// Indexes (or old sizes) below `n` to corrupt proofs for: all of them for small trees, else the
/// ends, the middle, powers of two and their neighbours, and a stride.
fn corruption_sample(n: u64) -> Vec<u64> {
    if n <= 40 {
        return (0..n).collect();
    }
    if !CORRUPTION_SIZES.contains(&n) {
        return Vec::new();
    }
    (0..n)
        .filter(|&i| {
            i <= 2
                || i + 3 >= n
                || i.abs_diff(n / 2) <= 1
                || i % 37 == 0
                || i.is_power_of_two()
                || (i + 1).is_power_of_two()
                || (i - 1).is_power_of_two()
        })
        .collect()
}

/// The corruptions of Go's transparency-dev/merkle `proof/verify_test.go` (corruptInclusionProof),
/// applied to every leaf of every tree up to 40 leaves and to a sample of leaves of larger trees
/// up to `MAX`. Corrupted leaf, root or hashes and wrong
/// indexes must be rejected; for wrong sizes, where a proof can legitimately fit another size of
/// the same shape, our verdict must equal tlog_tiles' and ct-merkle's.
#[test]
fn corrupted_inclusion_proofs_are_rejected_for_every_leaf() {
    let f = fixture();
    let some = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut wrong_size_accepted = 0;
    for n in 1..=MAX {
        let root = f.roots[n as usize];
        for i in corruption_sample(n) {
            let d = &f.data[i as usize];
            let p = inclusion_proof(n, i, f.prefix(n)).unwrap();
            let len = p.len();
            let mut must_fail: Vec<DataProbe> = vec![
                (
                    "index - 1".into(),
                    i.wrapping_sub(1),
                    n,
                    d.clone(),
                    p.clone(),
                    root,
                ),
                ("index + 1".into(), i + 1, n, d.clone(), p.clone(), root),
                ("index ^ 2".into(), i ^ 2, n, d.clone(), p.clone(), root),
                ("size * 2".into(), i, n * 2, d.clone(), p.clone(), root),
                (
                    "wrong leaf".into(),
                    i,
                    n,
                    b"WrongLeaf".to_vec(),
                    p.clone(),
                    root,
                ),
                (
                    "empty root".into(),
                    i,
                    n,
                    d.clone(),
                    p.clone(),
                    Hash::empty_root(),
                ),
                ("random root".into(), i, n, d.clone(), p.clone(), some),
                (
                    "trailing zero".into(),
                    i,
                    n,
                    d.clone(),
                    [&p[..], &[Hash([0; 32])]].concat(),
                    root,
                ),
                (
                    "trailing root".into(),
                    i,
                    n,
                    d.clone(),
                    [&p[..], &[root]].concat(),
                    root,
                ),
                (
                    "preceding zero".into(),
                    i,
                    n,
                    d.clone(),
                    [&[Hash([0; 32])], &p[..]].concat(),
                    root,
                ),
                (
                    "preceding root".into(),
                    i,
                    n,
                    d.clone(),
                    [&[root], &p[..]].concat(),
                    root,
                ),
            ];
            for k in 0..len {
                let mut q = p.clone();
                q[k].0[0] ^= 8;
                must_fail.push((format!("proof[{k}] bit 3"), i, n, d.clone(), q, root));
            }
            if len > 0 {
                must_fail.push((
                    "removed".into(),
                    i,
                    n,
                    d.clone(),
                    p[..len - 1].to_vec(),
                    root,
                ));
            }
            if len > 1 {
                let q = [&[p[0], some], &p[1..]].concat();
                must_fail.push(("inserted".into(), i, n, d.clone(), q, root));
            }
            if i + 1 < n {
                // The proof of the next leaf, for this leaf.
                let q = inclusion_proof(n, i + 1, f.prefix(n)).unwrap();
                must_fail.push(("next leaf's proof".into(), i, n, d.clone(), q, root));
            }
            if n < MAX {
                must_fail.push((
                    "next root".into(),
                    i,
                    n,
                    d.clone(),
                    p.clone(),
                    f.roots[n as usize + 1],
                ));
            }
            for (what, i2, n2, d2, q, r) in &must_fail {
                assert!(
                    !inclusion_verdict(*i2, *n2, d2, q, r),
                    "accepted {what}: leaf {i} of {n}"
                );
            }
            for n2 in [n / 2, n - 1, n + 1, n + 2, (n + 1).next_power_of_two()] {
                if n2 != n && inclusion_verdict(i, n2, d, &p, &root) {
                    // Only possible when leaf i's path has the same shape in both sizes.
                    assert_eq!(ref_inclusion_len(0, n2, i), len);
                    wrong_size_accepted += 1;
                }
            }
        }
    }
    // Sanity: the shape argument above is not vacuous (e.g. leaf 0 of 5 and of 6).
    assert!(wrong_size_accepted > 0);
}

/// The corruptions of Go's `corruptConsistencyProof`, applied to every (m, n) with 1 ≤ m < n ≤ 40
/// and to a sample of larger pairs up to `MAX`.
#[test]
fn corrupted_consistency_proofs_are_rejected_for_every_pair() {
    let f = fixture();
    let wrong = leaf_hash(b"WrongRoot");
    for n in 2..=MAX {
        let r2 = f.roots[n as usize];
        for m in corruption_sample(n).into_iter().filter(|&m| m >= 1) {
            let r1 = f.roots[m as usize];
            let p = consistency_proof(m, n, f.prefix(n)).unwrap();
            let len = p.len();
            let mut must_fail: Vec<ConsistencyProbe> = vec![
                ("size2 * 2".into(), m, n * 2, r1, r2, p.clone()),
                ("wrong root1".into(), m, n, wrong, r2, p.clone()),
                ("wrong root2".into(), m, n, r1, wrong, p.clone()),
                ("swapped roots".into(), m, n, r2, r1, p.clone()),
                ("empty proof".into(), m, n, r1, r2, Vec::new()),
                (
                    "trailing zero".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&p[..], &[Hash([0; 32])]].concat(),
                ),
                (
                    "trailing root1".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&p[..], &[r1]].concat(),
                ),
                (
                    "trailing root2".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&p[..], &[r2]].concat(),
                ),
                (
                    "preceding zero".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&[Hash([0; 32])], &p[..]].concat(),
                ),
                (
                    "preceding root1".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&[r1], &p[..]].concat(),
                ),
                (
                    "preceding root2".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&[r2], &p[..]].concat(),
                ),
                (
                    "preceding proof[0]".into(),
                    m,
                    n,
                    r1,
                    r2,
                    [&[p[0]], &p[..]].concat(),
                ),
                ("truncated".into(), m, n, r1, r2, p[..len - 1].to_vec()),
                ("old size 0".into(), 0, n, r1, r2, p.clone()),
                (
                    "old size 0, empty root".into(),
                    0,
                    n,
                    Hash::empty_root(),
                    r2,
                    p.clone(),
                ),
                ("old size = new size".into(), n, n, r1, r2, p.clone()),
                ("old size > new size".into(), n + 1, n, r1, r2, p.clone()),
            ];
            for k in 0..len {
                let mut q = p.clone();
                q[k].0[0] ^= 16;
                must_fail.push((format!("proof[{k}] bit 4"), m, n, r1, r2, q));
            }
            if n < MAX {
                must_fail.push((
                    "next new root".into(),
                    m,
                    n,
                    r1,
                    f.roots[n as usize + 1],
                    p.clone(),
                ));
            }
            must_fail.push((
                "previous old root".into(),
                m,
                n,
                f.roots[m as usize - 1],
                r2,
                p.clone(),
            ));
            for (what, m2, n2, o, nr, q) in &must_fail {
                assert!(
                    !consistency_verdict(*m2, *n2, o, nr, q),
                    "accepted {what}: {m} -> {n}"
                );
            }
            // Wrong sizes with the right roots: must agree with the other verifiers.
            for m2 in [m - 1, m + 1, m ^ 2, m / 2, m * 2] {
                if m2 != m {
                    consistency_verdict(m2, n, &r1, &r2, &p);
                }
            }
            for n2 in [n / 2, n - 1, n + 1, n + 2, (n + 1).next_power_of_two()] {
                if n2 != n {
                    consistency_verdict(m, n2, &r1, &r2, &p);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Property tests

fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1..=MAX).prop_flat_map(|n| (Just(n), 0..n))
}

fn old_and_new() -> impl Strategy<Value = (u64, u64)> {
    (2..=MAX).prop_flat_map(|n| (1..n, Just(n)))
}

fn any_hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

/// Sizes and indexes where arithmetic goes wrong: 0, 1, powers of two and their neighbours, the
/// top of the u64 range, and anything at all.
fn edgy_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(2),
        Just(3),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(1 << 63),
        Just((1 << 63) - 1),
        Just((1 << 63) + 1),
        (0u32..64).prop_map(|k| 1u64 << k),
        (1u32..64).prop_map(|k| (1u64 << k) - 1),
        (1u32..63).prop_map(|k| (1u64 << k) + 1),
        0u64..1024,
        any::<u64>(),
    ]
}

/// A tree size of at least 2, biased towards the edges.
fn big_size() -> impl Strategy<Value = u64> {
    edgy_u64().prop_map(|n| n.max(2))
}

fn proof_for(n: u64, i: u64) -> (Vec<Hash>, Hash, Vec<u8>) {
    let f = fixture();
    (
        inclusion_proof(n, i, f.prefix(n)).unwrap(),
        f.roots[n as usize],
        f.data[i as usize].clone(),
    )
}

fn cproof_for(m: u64, n: u64) -> (Vec<Hash>, Hash, Hash) {
    let f = fixture();
    (
        consistency_proof(m, n, f.prefix(n)).unwrap(),
        f.roots[m as usize],
        f.roots[n as usize],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // --- inclusion -------------------------------------------------------------------------

    #[test]
    fn inclusion_rejects_a_changed_leaf(
        (n, i) in size_and_index(),
        other in proptest::collection::vec(any::<u8>(), 0..48),
        j in any::<Index>(),
    ) {
        let (p, root, d) = proof_for(n, i);
        prop_assert!(inclusion_verdict(i, n, &d, &p, &root));
        if other != d {
            prop_assert!(!inclusion_verdict(i, n, &other, &p, &root));
            prop_assert!(is_mismatch(verify_inclusion(i, n, &leaf_hash(&other), &p, &root)));
        }
        // Another leaf of the same tree.
        let j = j.index(n as usize) as u64;
        if j != i {
            prop_assert!(!inclusion_verdict(i, n, &fixture().data[j as usize], &p, &root));
        }
        // The leaf's hash as if it were data, and the raw leaf hash without the 0x00 prefix.
        prop_assert!(!inclusion_verdict(i, n, &leaf_hash(&d).0, &p, &root));
        let unprefixed = Hash(<sha2::Sha256 as sha2::Digest>::digest(&d).into());
        prop_assert!(verify_inclusion(i, n, &unprefixed, &p, &root).is_err());
    }

    #[test]
    fn inclusion_rejects_a_dropped_hash((n, i) in size_and_index(), k in any::<Index>()) {
        let (mut p, root, d) = proof_for(n, i);
        prop_assume!(!p.is_empty());
        let len = p.len();
        p.remove(k.index(len));
        prop_assert!(!inclusion_verdict(i, n, &d, &p, &root));
        prop_assert_eq!(
            verify_inclusion(i, n, &leaf_hash(&d), &p, &root),
            Err(ProofError::WrongLength { expected: len, got: len - 1 })
        );
    }

    #[test]
    fn inclusion_rejects_an_extra_hash(
        (n, i) in size_and_index(),
        k in any::<Index>(),
        extra in prop_oneof![any_hash(), Just(Hash([0; 32]))],
        copy in any::<bool>(),
    ) {
        let (mut p, root, d) = proof_for(n, i);
        let at = k.index(p.len() + 1);
        // Either random bytes or a copy of a hash that is really in the proof (or the root).
        let extra = if copy { p.get(at).copied().unwrap_or(root) } else { extra };
        p.insert(at, extra);
        prop_assert!(!inclusion_verdict(i, n, &d, &p, &root));
        prop_assert!(is_wrong_length(verify_inclusion(i, n, &leaf_hash(&d), &p, &root)));
    }

    #[test]
    fn inclusion_rejects_swapped_hashes((n, i) in size_and_index(), a in any::<Index>(), b in any::<Index>()) {
        let (mut p, root, d) = proof_for(n, i);
        prop_assume!(p.len() >= 2);
        let (a, b) = (a.index(p.len()), b.index(p.len()));
        prop_assume!(a != b && p[a] != p[b]);
        p.swap(a, b);
        prop_assert!(!inclusion_verdict(i, n, &d, &p, &root));
        prop_assert!(is_mismatch(verify_inclusion(i, n, &leaf_hash(&d), &p, &root)));
    }

    #[test]
    fn inclusion_rejects_a_flipped_bit((n, i) in size_and_index(), k in any::<Index>(), bit in 0usize..256) {
        let (mut p, root, d) = proof_for(n, i);
        prop_assume!(!p.is_empty());
        let k = k.index(p.len());
        p[k] = flip(&p[k], bit);
        prop_assert!(!inclusion_verdict(i, n, &d, &p, &root));
        prop_assert!(is_mismatch(verify_inclusion(i, n, &leaf_hash(&d), &p, &root)));
        // A flipped bit in the leaf or the root, too.
        prop_assert!(is_mismatch(verify_inclusion(i, n, &flip(&leaf_hash(&d), bit), &proof_for(n, i).0, &root)));
        prop_assert!(is_mismatch(verify_inclusion(i, n, &leaf_hash(&d), &proof_for(n, i).0, &flip(&root, bit))));
    }

    #[test]
    fn inclusion_rejects_a_wrong_index((n, i) in size_and_index(), j in prop_oneof![0..MAX * 2, edgy_u64()]) {
        prop_assume!(j != i);
        let (p, root, d) = proof_for(n, i);
        prop_assert!(!inclusion_verdict(j, n, &d, &p, &root));
        if j >= n {
            let bad_range = matches!(
                verify_inclusion(j, n, &leaf_hash(&d), &p, &root),
                Err(ProofError::BadRange { .. })
            );
            prop_assert!(bad_range);
        }
    }

    #[test]
    fn inclusion_with_a_wrong_size_fails_unless_the_path_has_the_same_shape(
        (n, i) in size_and_index(),
        n2 in prop_oneof![0..MAX * 2, edgy_u64()],
    ) {
        prop_assume!(n2 != n);
        let (p, root, d) = proof_for(n, i);
        let accepted = inclusion_verdict(i, n2, &d, &p, &root);
        if i >= n2 || ref_inclusion_len(0, n2, i) != p.len() {
            prop_assert!(!accepted);
        }
    }

    #[test]
    fn inclusion_rejects_a_wrong_root((n, i) in size_and_index(), r in any_hash(), other in 0..=MAX) {
        let (p, root, d) = proof_for(n, i);
        if r != root {
            prop_assert!(!inclusion_verdict(i, n, &d, &p, &r));
        }
        let other_root = fixture().roots[other as usize];
        if other_root != root {
            prop_assert!(!inclusion_verdict(i, n, &d, &p, &other_root));
        }
    }

    // --- consistency -----------------------------------------------------------------------

    #[test]
    fn consistency_rejects_wrong_roots((m, n) in old_and_new(), r in any_hash(), other in 0..=MAX) {
        let (p, r1, r2) = cproof_for(m, n);
        prop_assert!(consistency_verdict(m, n, &r1, &r2, &p));
        let other = fixture().roots[other as usize];
        for bad in [r, other] {
            if bad != r1 {
                prop_assert!(!consistency_verdict(m, n, &bad, &r2, &p));
                prop_assert!(is_mismatch(verify_consistency(m, n, &bad, &r2, &p)));
            }
            if bad != r2 {
                prop_assert!(!consistency_verdict(m, n, &r1, &bad, &p));
                prop_assert!(is_mismatch(verify_consistency(m, n, &r1, &bad, &p)));
            }
        }
        prop_assert!(!consistency_verdict(m, n, &r2, &r1, &p));
    }

    #[test]
    fn consistency_rejects_a_flipped_bit((m, n) in old_and_new(), k in any::<Index>(), bit in 0usize..256) {
        let (mut p, r1, r2) = cproof_for(m, n);
        let k = k.index(p.len());
        p[k] = flip(&p[k], bit);
        prop_assert!(!consistency_verdict(m, n, &r1, &r2, &p));
        prop_assert!(is_mismatch(verify_consistency(m, n, &r1, &r2, &p)));
        let p = cproof_for(m, n).0;
        prop_assert!(!consistency_verdict(m, n, &flip(&r1, bit), &r2, &p));
        prop_assert!(!consistency_verdict(m, n, &r1, &flip(&r2, bit), &p));
    }

    #[test]
    fn consistency_rejects_a_dropped_hash((m, n) in old_and_new(), k in any::<Index>()) {
        let (mut p, r1, r2) = cproof_for(m, n);
        let len = p.len();
        p.remove(k.index(len));
        prop_assert!(!consistency_verdict(m, n, &r1, &r2, &p));
        prop_assert_eq!(
            verify_consistency(m, n, &r1, &r2, &p),
            Err(ProofError::WrongLength { expected: len, got: len - 1 })
        );
    }

    #[test]
    fn consistency_rejects_an_extra_hash(
        (m, n) in old_and_new(),
        k in any::<Index>(),
        extra in any_hash(),
        which in 0u8..4,
    ) {
        let (mut p, r1, r2) = cproof_for(m, n);
        let at = k.index(p.len() + 1);
        let extra = match which {
            0 => extra,
            1 => r1,
            2 => r2,
            _ => p[at.min(p.len() - 1)],
        };
        p.insert(at, extra);
        prop_assert!(!consistency_verdict(m, n, &r1, &r2, &p));
        prop_assert!(is_wrong_length(verify_consistency(m, n, &r1, &r2, &p)));
    }

    #[test]
    fn consistency_rejects_swapped_hashes((m, n) in old_and_new(), a in any::<Index>(), b in any::<Index>()) {
        let (mut p, r1, r2) = cproof_for(m, n);
        prop_assume!(p.len() >= 2);
        let (a, b) = (a.index(p.len()), b.index(p.len()));
        prop_assume!(a != b && p[a] != p[b]);
        p.swap(a, b);
        prop_assert!(!consistency_verdict(m, n, &r1, &r2, &p));
        prop_assert!(is_mismatch(verify_consistency(m, n, &r1, &r2, &p)));
    }

    #[test]
    fn consistency_rejects_an_empty_proof((m, n) in old_and_new()) {
        let (_, r1, r2) = cproof_for(m, n);
        prop_assert!(!consistency_verdict(m, n, &r1, &r2, &[]));
        prop_assert!(is_wrong_length(verify_consistency(m, n, &r1, &r2, &[])));
    }

    #[test]
    fn consistency_with_wrong_sizes_agrees_with_the_other_verifiers(
        (m, n) in old_and_new(),
        m2 in prop_oneof![0..MAX * 2, edgy_u64()],
        n2 in prop_oneof![0..MAX * 2, edgy_u64()],
    ) {
        let (p, r1, r2) = cproof_for(m, n);
        if m2 != m {
            let accepted = consistency_verdict(m2, n, &r1, &r2, &p);
            if m2 == 0 || m2 >= n || ref_consistency_len(0, n, m2) != p.len() {
                prop_assert!(!accepted, "{} -> {} accepted as {} -> {}", m, n, m2, n);
            }
        }
        if n2 != n {
            let accepted = consistency_verdict(m, n2, &r1, &r2, &p);
            if n2 <= m || ref_consistency_len(0, n2, m) != p.len() {
                prop_assert!(!accepted, "{} -> {} accepted as {} -> {}", m, n, m, n2);
            }
        }
    }

    // --- huge trees, via the RFC 6962 reference -------------------------------------------

    #[test]
    fn inclusion_in_huge_trees_matches_the_reference(
        (n, i) in edgy_u64().prop_map(|n| n.max(1)).prop_flat_map(|n| (Just(n), 0..n)),
        seed in any::<[u8; 32]>(),
        leaf in any_hash(),
        bit in 0usize..256,
        k in any::<Index>(),
    ) {
        let p = pseudo_proof(&seed, ref_inclusion_len(0, n, i));
        let root = ref_inclusion_root(0, n, i, leaf, &p).unwrap();
        prop_assert!(verify_inclusion(i, n, &leaf, &p, &root).is_ok(), "{} of {}", i, n);
        prop_assert!(tlog_tiles::check_record(&tl_proof(&p), n, tl(&root), i, tl(&leaf)).is_ok());
        prop_assert!(is_mismatch(verify_inclusion(i, n, &flip(&leaf, bit), &p, &root)));
        prop_assert!(is_mismatch(verify_inclusion(i, n, &leaf, &p, &flip(&root, bit))));
        if !p.is_empty() {
            let k = k.index(p.len());
            let mut q = p.clone();
            q[k] = flip(&q[k], bit);
            prop_assert!(is_mismatch(verify_inclusion(i, n, &leaf, &q, &root)));
            q.remove(k);
            prop_assert!(is_wrong_length(verify_inclusion(i, n, &leaf, &q, &root)));
        }
        let mut q = p.clone();
        q.push(leaf);
        prop_assert!(is_wrong_length(verify_inclusion(i, n, &leaf, &q, &root)));
        // Neighbouring indexes and sizes: the same verdict as tlog_tiles (ct-merkle too, when small).
        for (i2, n2) in [
            (i ^ 1, n), (i.wrapping_add(1), n), (i.wrapping_sub(1), n),
            (i, n.wrapping_add(1)), (i, n - 1), (i, n / 2), (i, n.wrapping_mul(2)),
        ] {
            let ours = verify_inclusion(i2, n2, &leaf, &p, &root).is_ok();
            let tlog = tlog_tiles::check_record(&tl_proof(&p), n2, tl(&root), i2, tl(&leaf)).is_ok();
            prop_assert_eq!(ours, tlog, "{} of {} claimed as {} of {}", i, n, i2, n2);
        }
    }

    #[test]
    fn consistency_in_huge_trees_matches_the_reference(
        n in big_size(),
        pick in any::<u64>(),
        pow in 0u32..64,
        use_pow in any::<bool>(),
        seed in any::<[u8; 32]>(),
        old_seed in any_hash(),
        bit in 0usize..256,
        k in any::<Index>(),
    ) {
        // An old size in [1, n): often a power of two, where the proof omits the old root.
        let m = if use_pow && (1u64 << pow) < n { 1u64 << pow } else { 1 + pick % (n - 1) };
        let p = pseudo_proof(&seed, ref_consistency_len(0, n, m));
        let (r1, r2) = ref_consistency_roots(0, n, m, old_seed, &p).unwrap();
        prop_assert!(verify_consistency(m, n, &r1, &r2, &p).is_ok(), "{} -> {}", m, n);
        prop_assert!(tlog_tiles::check_tree(&tl_proof(&p), n, tl(&r2), m, tl(&r1)).is_ok());
        prop_assert!(is_mismatch(verify_consistency(m, n, &flip(&r1, bit), &r2, &p)));
        prop_assert!(is_mismatch(verify_consistency(m, n, &r1, &flip(&r2, bit), &p)));
        let k = k.index(p.len());
        let mut q = p.clone();
        q[k] = flip(&q[k], bit);
        prop_assert!(is_mismatch(verify_consistency(m, n, &r1, &r2, &q)));
        q.remove(k);
        prop_assert!(is_wrong_length(verify_consistency(m, n, &r1, &r2, &q)));
        let mut q = p.clone();
        q.push(r1);
        prop_assert!(is_wrong_length(verify_consistency(m, n, &r1, &r2, &q)));
        for (m2, n2) in [
            (m + 1, n), (m - 1, n), (m ^ 1, n), (m / 2, n), (m.wrapping_mul(2), n),
            (m, n.wrapping_add(1)), (m, n - 1), (m, n / 2), (m, n.wrapping_mul(2)),
        ] {
            if m2 == 0 {
                prop_assert!(verify_consistency(m2, n2, &r1, &r2, &p).is_err());
                continue;
            }
            let ours = verify_consistency(m2, n2, &r1, &r2, &p).is_ok();
            let tlog = tlog_tiles::check_tree(&tl_proof(&p), n2, tl(&r2), m2, tl(&r1)).is_ok();
            prop_assert_eq!(ours, tlog, "{} -> {} claimed as {} -> {}", m, n, m2, n2);
        }
    }

    // --- no panics on arbitrary input ------------------------------------------------------

    #[test]
    fn verify_inclusion_never_panics(
        i in edgy_u64(),
        n in edgy_u64(),
        proof in proptest::collection::vec(any_hash(), 0..100),
        leaf in any_hash(),
        root in any_hash(),
    ) {
        // Random roots essentially never match, so anything but an error is suspicious.
        prop_assert!(verify_inclusion(i, n, &leaf, &proof, &root).is_err());
        if i >= n {
            let bad_range = matches!(
                verify_inclusion(i, n, &leaf, &proof, &root),
                Err(ProofError::BadRange { .. })
            );
            prop_assert!(bad_range);
        }
    }

    #[test]
    fn verify_consistency_never_panics(
        m in edgy_u64(),
        n in edgy_u64(),
        proof in proptest::collection::vec(any_hash(), 0..100),
        r1 in any_hash(),
        r2 in any_hash(),
    ) {
        prop_assert!(verify_consistency(m, n, &r1, &r2, &proof).is_err());
        if m > n {
            let bad_range = matches!(
                verify_consistency(m, n, &r1, &r2, &proof),
                Err(ProofError::BadRange { .. })
            );
            prop_assert!(bad_range);
        }
    }

    #[test]
    fn stored_hash_layout_matches_tlog_at_scale(level in 0u8..=60, n in any::<u64>()) {
        // Keep (n + 1)·2^level below 2^62 so every position is representable.
        let n = n >> (level + 2);
        let p = stored_hash_index(level.into(), n);
        prop_assert_eq!(p, tlog_tiles::stored_hash_index(level, n));
        prop_assert_eq!(tlog_tiles::split_stored_hash_index(p), (level, n));
        prop_assert_eq!(stored_hash_count(n), tlog_tiles::stored_hash_count(n));
    }
}

#[test]
fn verifiers_survive_edge_sizes_and_huge_proofs() {
    let edges = [
        0u64,
        1,
        2,
        3,
        (1 << 32) - 1,
        1 << 32,
        (1 << 63) - 1,
        1 << 63,
        (1 << 63) + 1,
        u64::MAX - 1,
        u64::MAX,
    ];
    let h = leaf_hash(b"x");
    let empty = Hash::empty_root();
    for len in [0usize, 1, 2, 63, 64, 65, 1000, 100_000] {
        let proof = vec![h; len];
        for &a in &edges {
            for &b in &edges {
                assert!(verify_inclusion(a, b, &h, &proof, &empty).is_err());
                let r = verify_consistency(a, b, &h, &empty, &proof);
                assert!(r.is_err(), "consistency {a} -> {b}, {len} hashes: {r:?}");
            }
        }
    }
}

#[test]
fn generators_report_missing_hashes_instead_of_panicking() {
    let f = fixture();
    let small = f.prefix(5);
    struct Liar;
    impl HashReader for Liar {
        fn read_hashes(&self, positions: &[u64]) -> Result<Vec<Hash>, ProofError> {
            // One hash short of what was asked for.
            Ok(vec![Hash([7; 32]); positions.len().saturating_sub(1)])
        }
    }
    // Up to 2^63 leaves every stored position fits in a u64.
    // Every size below needs hashes of leaves beyond the fifth.
    for n in [16, 17, 1000, (1 << 62) + 3, (1 << 63) - 1, 1 << 63] {
        assert!(matches!(tree_hash(n, small), Err(ProofError::Storage(_))));
        assert!(matches!(
            CompactRange::resume(n, small),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            inclusion_proof(n, n - 1, small),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            inclusion_proof(n, 0, small),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            consistency_proof(3, n, small),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            consistency_proof(n - 1, n, small),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(tree_hash(n, &Liar), Err(ProofError::Storage(_))));
        assert!(matches!(
            inclusion_proof(n, 1, &Liar),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            consistency_proof(3, n, &Liar),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            CompactRange::resume(n, &Liar),
            Err(ProofError::Storage(_))
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Known answers
//
// The RFC 6962 reference tree used by every Certificate Transparency implementation, taken from
// github.com/transparency-dev/merkle:
//   - testonly/constants.go (commit 582a6ad190b6848f1d26f8bf08ddef29955d9db1): LeafInputs,
//     NodeHashes, RootHashes, EmptyRootHash;
//   - testonly/reference_test.go (commit 141d627eab770a7e9a2514f46a8b6338e6d90874):
//     TestRefInclusionProof and TestRefConsistencyProof (0-based leaf indexes);
//   - proof/verify_test.go (commit 02194e9afb6c1d95b5381350007963aa70fff472): inclusionProofs,
//     consistencyProofs (adds 6 -> 7), corruptInclusionProof / corruptConsistencyProof, and the
//     edge probes of TestVerifyInclusion / TestVerifyConsistency.
// The same leaves and roots are kInputs / kSHA256Roots in google/certificate-transparency
// cpp/merkletree/merkle_tree_test.cc (commit 0e901cacd1388fa16f78b184612f6cd16e5ceec1).

const KAT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Indexed by tree size, 0 to 8.
const KAT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// NodeHashes()[level][n]: the hash of complete subtree n at each level.
const KAT_NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// (index, size, proof).
const KAT_INCLUSION: [(u64, u64, &[&str]); 7] = [
    (0, 1, &[]),
    (
        0,
        2,
        &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    ),
    (
        1,
        2,
        &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// (old size, new size, proof).
const KAT_CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hx(s: &str) -> Hash {
    Hash(unhex(s).try_into().expect("32 bytes"))
}

fn hxs(s: &[&str]) -> Vec<Hash> {
    s.iter().map(|h| hx(h)).collect()
}

/// The reference tree: raw leaves, and our stored hashes for them.
fn kat_tree() -> (Vec<Vec<u8>>, Vec<Hash>) {
    let data: Vec<Vec<u8>> = KAT_LEAVES.iter().map(|l| unhex(l)).collect();
    let mut cr = CompactRange::new();
    let mut store = Vec::new();
    for d in &data {
        for s in cr.append(leaf_hash(d)) {
            assert_eq!(s.position, store.len() as u64);
            store.push(s.hash);
        }
    }
    (data, store)
}

#[test]
fn kat_roots_for_every_size() {
    let (data, store) = kat_tree();
    let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    let mut cr = CompactRange::new();
    let mut ct = CtTree::new();
    let mut tlog = TlogStore(Vec::new());
    for n in 0..=8usize {
        let expected = hx(KAT_ROOTS[n]);
        assert_eq!(cr.root(), expected, "CompactRange root, size {n}");
        assert_eq!(
            tree_hash(n as u64, &store).unwrap(),
            expected,
            "tree_hash, size {n}"
        );
        assert_eq!(merkle::root(&leaves[..n]), expected, "root, size {n}");
        assert_eq!(
            CompactRange::resume(n as u64, &store).unwrap().root(),
            expected
        );
        // The harness itself: both independent implementations (and the SHA-256 adapter).
        assert_eq!(
            ct.root().as_bytes().as_slice(),
            &expected.0,
            "ct-merkle, size {n}"
        );
        assert_eq!(
            tlog_tiles::tree_hash(n as u64, &tlog).unwrap().0,
            expected.0
        );
        if n < 8 {
            cr.append(leaves[n]);
            ct.push(data[n].clone());
            let new = tlog_tiles::stored_hashes(n as u64, &data[n], &tlog).unwrap();
            tlog.0.extend(new);
        }
    }
    assert_eq!(Hash::empty_root(), hx(KAT_ROOTS[0]));
    // A one-leaf tree's root is its leaf hash: SHA-256(0x00 || "") and SHA-256(0x00 || 0x00).
    assert_eq!(leaf_hash(b""), hx(KAT_NODES[0][0]));
    assert_eq!(leaf_hash(&[0]), hx(KAT_NODES[0][1]));
    assert_eq!(node_hash(&leaves[0], &leaves[1]), hx(KAT_ROOTS[2]));
}

#[test]
fn kat_stored_hashes_are_the_published_node_hashes() {
    let (_, store) = kat_tree();
    assert_eq!(store.len() as u64, stored_hash_count(8));
    let mut seen = 0;
    for (level, hashes) in KAT_NODES.iter().enumerate() {
        for (n, h) in hashes.iter().enumerate() {
            let p = stored_hash_index(level as u32, n as u64);
            assert_eq!(
                store[p as usize],
                hx(h),
                "node ({level}, {n}) at position {p}"
            );
            seen += 1;
        }
    }
    assert_eq!(
        seen,
        store.len(),
        "every stored hash is a published node hash"
    );
}

#[test]
fn kat_inclusion_proofs_and_their_corruptions() {
    let (data, store) = kat_tree();
    let some = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (index, size, expected) in KAT_INCLUSION {
        let expected = hxs(expected);
        let proof = inclusion_proof(size, index, &store).unwrap();
        assert_eq!(proof, expected, "inclusion of {index} in {size}");
        let root = hx(KAT_ROOTS[size as usize]);
        let leaf = leaf_hash(&data[index as usize]);
        verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
        assert!(inclusion_verdict(
            index,
            size,
            &data[index as usize],
            &proof,
            &root
        ));

        // corruptInclusionProof, with Go's short garbage "hashes" made 32 bytes long.
        let mut probes: Vec<HashProbe> = vec![
            (
                "index - 1".into(),
                index.wrapping_sub(1),
                size,
                leaf,
                proof.clone(),
                root,
            ),
            (
                "index + 1".into(),
                index + 1,
                size,
                leaf,
                proof.clone(),
                root,
            ),
            (
                "index ^ 2".into(),
                index ^ 2,
                size,
                leaf,
                proof.clone(),
                root,
            ),
            (
                "size * 2".into(),
                index,
                size * 2,
                leaf,
                proof.clone(),
                root,
            ),
            (
                "size / 2".into(),
                index,
                size / 2,
                leaf,
                proof.clone(),
                root,
            ),
            (
                "wrong leaf".into(),
                index,
                size,
                leaf_hash(b"WrongLeaf"),
                proof.clone(),
                root,
            ),
            (
                "empty root".into(),
                index,
                size,
                leaf,
                proof.clone(),
                Hash::empty_root(),
            ),
            ("random root".into(), index, size, leaf, proof.clone(), some),
            (
                "trailing garbage".into(),
                index,
                size,
                leaf,
                [&proof[..], &[Hash([0; 32])]].concat(),
                root,
            ),
            (
                "trailing root".into(),
                index,
                size,
                leaf,
                [&proof[..], &[root]].concat(),
                root,
            ),
            (
                "preceding garbage".into(),
                index,
                size,
                leaf,
                [&[Hash([0; 32])], &proof[..]].concat(),
                root,
            ),
            (
                "preceding root".into(),
                index,
                size,
                leaf,
                [&[root], &proof[..]].concat(),
                root,
            ),
        ];
        for k in 0..proof.len() {
            let mut q = proof.clone();
            q[k].0[0] ^= 8;
            probes.push((
                format!("modified proof[{k}] bit 3"),
                index,
                size,
                leaf,
                q,
                root,
            ));
        }
        if !proof.is_empty() {
            let q = proof[..proof.len() - 1].to_vec();
            probes.push(("removed component".into(), index, size, leaf, q, root));
        }
        if proof.len() > 1 {
            let q = [&[proof[0], some], &proof[1..]].concat();
            probes.push(("inserted component".into(), index, size, leaf, q, root));
        }
        for (what, i, n, l, p, r) in probes {
            assert!(
                verify_inclusion(i, n, &l, &p, &r).is_err(),
                "{index} in {size}: accepted {what}"
            );
        }
    }
}

#[test]
fn kat_consistency_proofs_and_their_corruptions() {
    let (_, store) = kat_tree();
    let wrong = leaf_hash(b"WrongRoot");
    for (size1, size2, expected) in KAT_CONSISTENCY {
        let expected = hxs(expected);
        let proof = consistency_proof(size1, size2, &store).unwrap();
        assert_eq!(proof, expected, "consistency {size1} -> {size2}");
        let (root1, root2) = (hx(KAT_ROOTS[size1 as usize]), hx(KAT_ROOTS[size2 as usize]));
        verify_consistency(size1, size2, &root1, &root2, &proof).unwrap();
        assert!(consistency_verdict(size1, size2, &root1, &root2, &proof));
        if proof.is_empty() {
            continue; // Go's verifierConsistencyCheck only corrupts non-trivial proofs.
        }

        // corruptConsistencyProof.
        let mut probes: Vec<ConsistencyProbe> = vec![
            (
                "size1 - 1".into(),
                size1 - 1,
                size2,
                root1,
                root2,
                proof.clone(),
            ),
            (
                "size1 + 1".into(),
                size1 + 1,
                size2,
                root1,
                root2,
                proof.clone(),
            ),
            (
                "size1 ^ 2".into(),
                size1 ^ 2,
                size2,
                root1,
                root2,
                proof.clone(),
            ),
            (
                "size2 * 2".into(),
                size1,
                size2 * 2,
                root1,
                root2,
                proof.clone(),
            ),
            (
                "size2 / 2".into(),
                size1,
                size2 / 2,
                root1,
                root2,
                proof.clone(),
            ),
            (
                "wrong root1".into(),
                size1,
                size2,
                wrong,
                root2,
                proof.clone(),
            ),
            (
                "wrong root2".into(),
                size1,
                size2,
                root1,
                wrong,
                proof.clone(),
            ),
            (
                "swapped roots".into(),
                size1,
                size2,
                root2,
                root1,
                proof.clone(),
            ),
            ("empty proof".into(), size1, size2, root1, root2, Vec::new()),
            (
                "trailing garbage".into(),
                size1,
                size2,
                root1,
                root2,
                [&proof[..], &[Hash([0; 32])]].concat(),
            ),
            (
                "trailing root1".into(),
                size1,
                size2,
                root1,
                root2,
                [&proof[..], &[root1]].concat(),
            ),
            (
                "trailing root2".into(),
                size1,
                size2,
                root1,
                root2,
                [&proof[..], &[root2]].concat(),
            ),
            (
                "preceding garbage".into(),
                size1,
                size2,
                root1,
                root2,
                [&[Hash([0; 32])], &proof[..]].concat(),
            ),
            (
                "preceding root1".into(),
                size1,
                size2,
                root1,
                root2,
                [&[root1], &proof[..]].concat(),
            ),
            (
                "preceding root2".into(),
                size1,
                size2,
                root1,
                root2,
                [&[root2], &proof[..]].concat(),
            ),
            (
                "preceding proof[0]".into(),
                size1,
                size2,
                root1,
                root2,
                [&[proof[0]], &proof[..]].concat(),
            ),
            (
                "truncated proof".into(),
                size1,
                size2,
                root1,
                root2,
                proof[..proof.len() - 1].to_vec(),
            ),
        ];
        for k in 0..proof.len() {
            let mut q = proof.clone();
            q[k].0[0] ^= 16;
            probes.push((
                format!("modified proof[{k}] bit 4"),
                size1,
                size2,
                root1,
                root2,
                q,
            ));
        }
        for (what, m, n, r1, r2, p) in probes {
            assert!(
                verify_consistency(m, n, &r1, &r2, &p).is_err(),
                "{size1} -> {size2}: accepted {what}"
            );
        }
    }
}

/// TestVerifyInclusionSingleEntry, TestVerifyInclusion and TestVerifyConsistency's fixed probes.
#[test]
fn kat_edge_probes() {
    let some = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
    let empty = Hash::empty_root();
    // A one-entry tree: the root is the leaf hash and the proof is empty.
    let h = leaf_hash(b"data");
    verify_inclusion(0, 1, &h, &[], &h).unwrap();
    assert!(verify_inclusion(0, 1, &h, &[], &some).is_err());
    assert!(verify_inclusion(0, 1, &some, &[], &h).is_err());
    // Index/size pairs that cannot hold a leaf.
    for (i, n) in [(0, 0), (1, 0), (2, 1)] {
        assert!(
            verify_inclusion(i, n, &some, &[], &empty).is_err(),
            "({i}, {n})"
        );
        assert!(
            verify_inclusion(i, n, &empty, &[], &empty).is_err(),
            "({i}, {n})"
        );
    }

    let (r1, r2) = (leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2"));
    // Must fail.
    for (m, n, a, b, p) in [
        (0, 0, r1, r2, vec![]),
        (1, 1, r1, r2, vec![]),
        (1, 0, r1, r2, vec![]),
        (2, 1, r1, r2, vec![]),
        (1, 2, r1, r2, vec![]),
        (0, 0, empty, r2, vec![]),
        (1, 1, empty, r2, vec![]),
        (0, 0, empty, empty, vec![empty]),
        (0, 1, empty, empty, vec![empty]),
        (1, 1, empty, empty, vec![empty]),
    ] {
        assert!(
            verify_consistency(m, n, &a, &b, &p).is_err(),
            "{m} -> {n} accepted"
        );
    }
    // Always consistent.
    verify_consistency(1, 1, &r2, &r2, &[]).unwrap();
    verify_consistency(0, 0, &empty, &empty, &[]).unwrap();
    verify_consistency(0, 1, &empty, &r2, &[]).unwrap();
    verify_consistency(0, u64::MAX, &empty, &r2, &[]).unwrap();
    // Go accepts any "root" for size 0 ({0, 1, root1, root2} passes there); ours documents that
    // the empty tree's root is SHA-256 of nothing and holds the caller to it.
    assert!(matches!(
        verify_consistency(0, 1, &r1, &r2, &[]),
        Err(ProofError::Mismatch)
    ));
    assert!(matches!(
        verify_consistency(0, 0, &r1, &r1, &[]),
        Err(ProofError::Mismatch)
    ));
}
