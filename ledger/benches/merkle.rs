//! The RFC 6962 tree: leaf hashing, the compact range an append extends, proofs built from stored
//! hashes at 10^4, 10^6 and 10^7 leaves (O(log n) reads each), and their verification.
//! Run with `cargo bench -p bangfu-ledger --bench merkle`; the 10^7 tree holds about 640 MiB of
//! hashes while its benchmarks run.

#[allow(dead_code)] // each bench file uses its own part of the shared inputs
mod common;

use bangfu_ledger::Hash;
use bangfu_ledger::merkle::{
    CompactRange, consistency_proof, inclusion_proof, leaf_hash, stored_hash_index, tree_hash,
    verify_consistency, verify_inclusion,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [u64; 3] = [10_000, 1_000_000, 10_000_000];

/// How many distinct proofs each verification benchmark cycles through.
const PROOFS: u64 = 1024;

fn hashing(c: &mut Criterion) {
    let (typical, large) = common::sample_entries();
    let mut g = c.benchmark_group("merkle");
    for (name, bytes) in [("typical", &typical), ("large", &large)] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("leaf_hash", format!("{name}_{}B", bytes.len())),
            bytes,
            |b, bytes| b.iter(|| leaf_hash(black_box(bytes))),
        );
    }
    // Appending to a range already a million leaves long; it keeps growing while measured, so the
    // figure is the amortized cost (about two node hashes and the stored-hash list per leaf).
    let mut range = CompactRange::new();
    for i in 0..1_000_000u64 {
        range.append(leaf_hash(&i.to_be_bytes()));
    }
    let leaf = leaf_hash(&typical);
    g.throughput(Throughput::Elements(1));
    g.bench_function("compact_range_append/from_1e6", |b| {
        b.iter(|| range.append(black_box(leaf)))
    });
    g.bench_function("compact_range_root/1e6", |b| {
        b.iter(|| black_box(&range).root())
    });
    g.finish();
}

/// A tree of `n` leaves as a store holds it, its root, and proofs made ahead of time for the
/// verification benchmarks.
struct Tree {
    stored: Vec<Hash>,
    root: Hash,
    /// (index, leaf hash, inclusion proof) for [`PROOFS`] spread-out leaves.
    inclusions: Vec<(u64, Hash, Vec<Hash>)>,
    /// (old size, old root, consistency proof to `n`) for [`PROOFS`] spread-out old sizes.
    consistencies: Vec<(u64, Hash, Vec<Hash>)>,
}

impl Tree {
    fn build(n: u64) -> Tree {
        let stored = common::stored_hashes(n);
        let root = tree_hash(n, &stored).expect("stored hashes of a full tree");
        let inclusions = (0..PROOFS)
            .map(|k| {
                let index = common::spread(k, n);
                let leaf = stored[stored_hash_index(0, index) as usize];
                let proof = inclusion_proof(n, index, &stored).expect("in range");
                (index, leaf, proof)
            })
            .collect();
        let consistencies = (0..PROOFS)
            .map(|k| {
                let old = 1 + common::spread(k, n - 1);
                let old_root = tree_hash(old, &stored).expect("stored");
                let proof = consistency_proof(old, n, &stored).expect("in range");
                (old, old_root, proof)
            })
            .collect();
        Tree {
            stored,
            root,
            inclusions,
            consistencies,
        }
    }
}

fn proofs(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle_proofs");
    g.throughput(Throughput::Elements(1));
    for n in SIZES {
        // Built on first use, so a filter that skips a size never builds its tree, and dropped
        // before the next size, so at most one big tree is in memory.
        let cell = OnceCell::new();
        let tree = || cell.get_or_init(|| Tree::build(n));

        g.bench_with_input(BenchmarkId::new("tree_hash", n), &n, |b, &n| {
            let stored = &tree().stored;
            b.iter(|| tree_hash(black_box(n), stored).expect("stored"))
        });
        let mut i = 0u64;
        g.bench_with_input(BenchmarkId::new("inclusion_proof", n), &n, |b, &n| {
            let stored = &tree().stored;
            b.iter(|| {
                i += 1;
                inclusion_proof(n, common::spread(i, n), stored).expect("in range")
            })
        });
        let mut i = 0u64;
        g.bench_with_input(BenchmarkId::new("consistency_proof", n), &n, |b, &n| {
            let stored = &tree().stored;
            b.iter(|| {
                i += 1;
                let old = 1 + common::spread(i, n - 1);
                consistency_proof(old, n, stored).expect("in range")
            })
        });
        // Verification as a client does it: a proof received, checked against the tree head.
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("verify_inclusion", n), &n, |b, &n| {
            let t = tree();
            b.iter(|| {
                k = (k + 1) % t.inclusions.len();
                let (index, leaf, proof) = &t.inclusions[k];
                verify_inclusion(*index, n, leaf, black_box(proof), &t.root).expect("a good proof")
            })
        });
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("verify_consistency", n), &n, |b, &n| {
            let t = tree();
            b.iter(|| {
                k = (k + 1) % t.consistencies.len();
                let (old, old_root, proof) = &t.consistencies[k];
                verify_consistency(*old, n, old_root, &t.root, black_box(proof))
                    .expect("a good proof")
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    // Short runs: the whole suite in a few minutes on two cores; pass --measurement-time for more.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = hashing, proofs
}
criterion_main!(benches);
