//! Shared by the projections' integration tests: the statement helpers of the store's fault
//! appender (deterministic keys, sealed values), and a realistic, seeded program appended through
//! the real log ([`scenario`]).
#![allow(dead_code)]

#[path = "../../../store/src/bin/fault_appender/district.rs"]
pub mod district;
pub mod scenario;

use bangfu_projections::views::ViewStore;
use std::collections::BTreeSet;

/// The seed of the realistic program the tests share.
pub const SEED: u64 = 0x2016_1231_b0a7_f00d;

/// Every row of a view store, in key order, read page by page.
pub async fn rows<V: ViewStore>(views: &V) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone()).unwrap_or_default();
        let page = views.scan("", &after, 5000).await.expect("scan");
        let done = page.len() < 5000;
        out.extend(page);
        if done {
            return out;
        }
    }
}

/// Two sets of rows are identical; on failure, names the first difference rather than dumping
/// thousands of rows.
pub fn assert_same_rows(what: &str, a: &[(String, String)], b: &[(String, String)]) {
    if a == b {
        return;
    }
    let ka: BTreeSet<&String> = a.iter().map(|(k, _)| k).collect();
    let kb: BTreeSet<&String> = b.iter().map(|(k, _)| k).collect();
    if let Some(k) = ka.symmetric_difference(&kb).next() {
        panic!(
            "{what}: {} rows vs {}; row {k} is only in the {}",
            a.len(),
            b.len(),
            if ka.contains(k) { "first" } else { "second" }
        );
    }
    for ((k, va), (_, vb)) in a.iter().zip(b) {
        assert_eq!(va, vb, "{what}: row {k} differs");
    }
}
