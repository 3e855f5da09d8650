//! The per-entry costs of the format: canonical JSON, parsing an entry, and Ed25519 (strict, and the
//! guarded batch the verifier uses). Run with `cargo bench -p bangfu-ledger --bench format`.

#[allow(dead_code)] // each bench file uses its own part of the shared inputs
mod common;

use bangfu_ledger::entry::Entry;
use bangfu_ledger::jcs;
use bangfu_ledger::signature::{Item, PublicKey, Signature, VerifyingKey, verify_many};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn jcs_benches(c: &mut Criterion) {
    let (typical, large) = common::sample_entries();
    let mut g = c.benchmark_group("jcs");
    for (name, bytes) in [("typical", &typical), ("large", &large)] {
        let value = jcs::parse_canonical(bytes).expect("the sample is canonical");
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("parse_canonical", format!("{name}_{}B", bytes.len())),
            bytes,
            |b, bytes| b.iter(|| jcs::parse_canonical(black_box(bytes)).expect("canonical")),
        );
        g.bench_with_input(
            BenchmarkId::new("to_vec", format!("{name}_{}B", bytes.len())),
            &value,
            |b, value| b.iter(|| jcs::to_vec(black_box(value)).expect("serializable")),
        );
    }
    g.finish();
}

fn entry_benches(c: &mut Criterion) {
    let (typical, large) = common::sample_entries();
    let mut g = c.benchmark_group("entry");
    for (name, bytes) in [("typical", &typical), ("large", &large)] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        // The verifier's per-entry parse: canonical check plus the v1 fields.
        g.bench_with_input(
            BenchmarkId::new("from_bytes", format!("{name}_{}B", bytes.len())),
            bytes,
            |b, bytes| b.iter(|| Entry::from_bytes(black_box(bytes)).expect("a valid entry")),
        );
    }
    // The bytes the signature covers, rebuilt from the parsed body for every entry.
    let entry = Entry::from_bytes(&typical).expect("a valid entry");
    g.throughput(Throughput::Elements(1));
    g.bench_function("signing_message/typical", |b| {
        b.iter(|| {
            black_box(&entry)
                .statement
                .body
                .signing_message()
                .expect("JCS input")
        })
    });
    g.finish();
}

/// `n` signed statements by `keys` distinct cadres: (public keys, messages, signatures).
fn signed(n: u64, keys: u64) -> (Vec<PublicKey>, Vec<Vec<u8>>, Vec<Signature>) {
    let root = bangfu_ledger::Hash([7; 32]);
    let signers: Vec<_> = (0..keys).map(common::cadre_key).collect();
    let mut pubs = Vec::new();
    let mut msgs = Vec::new();
    let mut sigs = Vec::new();
    for i in 0..n {
        let entry = common::visit_entry(i, root, &signers[(i % keys) as usize]);
        pubs.push(entry.statement.body.key);
        msgs.push(entry.statement.body.signing_message().expect("JCS input"));
        sigs.push(entry.statement.sig);
    }
    (pubs, msgs, sigs)
}

fn signature_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("signature");
    let (pubs, msgs, sigs) = signed(1, 1);
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_strict", |b| {
        b.iter(|| {
            pubs[0]
                .verify_strict(black_box(&msgs[0]), black_box(&sigs[0]))
                .expect("a good signature")
        })
    });
    for (label, n, keys) in [
        ("verify_many", 64, 64),
        ("verify_many", 256, 256),
        // Consecutive statements by one cadre: the key's torsion check is paid once per batch.
        ("verify_many_one_key", 64, 1),
    ] {
        let (pubs, msgs, sigs) = signed(n, keys);
        let items: Vec<Item> = (0..n as usize)
            .map(|i| Item {
                key: &pubs[i],
                message: &msgs[i],
                signature: &sigs[i],
            })
            .collect();
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::new(label, n), &items, |b, items| {
            b.iter(|| {
                let ok = verify_many(black_box(items));
                assert!(ok.iter().all(|v| *v), "every sample signature is good");
            })
        });
        if label == "verify_many" && n == 64 {
            // dalek's bare batch, without the torsion guard that keeps it agreeing with strict:
            // what the guard costs, and the figure `bangfu bench` compares the verifier with.
            let keys: Vec<VerifyingKey> = pubs.iter().map(|k| *k.verifying_key()).collect();
            let messages: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            g.bench_function(BenchmarkId::new("dalek_verify_batch_unguarded", n), |b| {
                b.iter(|| {
                    ed25519_dalek::verify_batch(black_box(&messages), &sigs, &keys)
                        .expect("a good batch")
                })
            });
        }
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
    targets = jcs_benches, entry_benches, signature_benches
}
criterion_main!(benches);
