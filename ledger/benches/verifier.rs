//! The streaming verifier over a pre-built log with an authorizer that accepts everything: the
//! ledger's own cost per entry (parse, canonical check, chain, signature batch, leaf, compact
//! range), apart from the domain replay `bangfu verify` adds. Also the same entries through the
//! steps one at a time, to show where the time goes.
//! Run with `cargo bench -p bangfu-ledger --bench verifier`.

#[allow(dead_code)] // each bench file uses its own part of the shared inputs
mod common;

use bangfu_ledger::entry::Entry;
use bangfu_ledger::merkle::leaf_hash;
use bangfu_ledger::signature::{Item, verify_many};
use bangfu_ledger::verify::{Authorizer, Verifier};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// Entries in the benchmarked log: 64 full signature batches, about half a second per pass.
const ENTRIES: u64 = 4_096;

/// Accepts every entry: no key registry, no domain replay.
struct AcceptAll;

impl Authorizer for AcceptAll {
    fn authorize(&mut self, _: &Entry) -> Result<(), String> {
        Ok(())
    }
}

fn verifier(c: &mut Criterion) {
    // As at city scale, consecutive entries are signed by different cadres (10,000 of them).
    let log = common::log(ENTRIES, 10_000);
    let mut g = c.benchmark_group("verifier");
    g.throughput(Throughput::Elements(ENTRIES));
    g.sample_size(10);
    g.bench_with_input(
        BenchmarkId::new("push_all_accept_all", ENTRIES),
        &log,
        |b, log| {
            b.iter(|| {
                let mut v = Verifier::new(AcceptAll);
                for bytes in log {
                    v.push(black_box(bytes)).expect("the log is valid");
                }
                let (size, _, _) = v.finish().expect("the log is valid");
                assert_eq!(size, ENTRIES);
            })
        },
    );
    // The parts on their own, over the same entries.
    g.bench_with_input(BenchmarkId::new("parse_only", ENTRIES), &log, |b, log| {
        b.iter(|| {
            for bytes in log {
                black_box(Entry::from_bytes(black_box(bytes)).expect("valid"));
            }
        })
    });
    g.bench_with_input(
        BenchmarkId::new("leaf_hash_only", ENTRIES),
        &log,
        |b, log| {
            b.iter(|| {
                for bytes in log {
                    black_box(leaf_hash(black_box(bytes)));
                }
            })
        },
    );
    let signed: Vec<_> = log
        .iter()
        .map(|bytes| {
            let st = Entry::from_bytes(bytes).expect("valid").statement;
            let message = st.body.signing_message().expect("JCS input");
            (st.body.key, message, st.sig)
        })
        .collect();
    g.bench_with_input(
        BenchmarkId::new("signatures_only_batches_of_64", ENTRIES),
        &signed,
        |b, signed| {
            b.iter(|| {
                for chunk in signed.chunks(64) {
                    let items: Vec<Item> = chunk
                        .iter()
                        .map(|(key, message, signature)| Item {
                            key,
                            message,
                            signature,
                        })
                        .collect();
                    assert!(verify_many(black_box(&items)).iter().all(|ok| *ok));
                }
            })
        },
    );
    // Strict verification one by one, the alternative the signature module leaves to the benches.
    g.bench_with_input(
        BenchmarkId::new("signatures_only_strict", ENTRIES),
        &signed,
        |b, signed| {
            b.iter(|| {
                for (key, message, sig) in signed {
                    key.verify_strict(black_box(message), sig)
                        .expect("a good signature");
                }
            })
        },
    );
    g.finish();
}

fn config() -> Criterion {
    // Short runs: the whole suite in a few minutes on two cores; pass --measurement-time for more.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = verifier
}
criterion_main!(benches);
