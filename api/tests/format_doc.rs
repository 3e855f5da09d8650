//! `docs/ledger-format.md` §13 must hold exactly what `bangfu vectors` prints, so the worked vectors
//! other implementations check themselves against are the ones our code produces.

use std::process::Command;

const BEGIN: &str = "<!-- VECTORS-BEGIN";
const END: &str = "```\n<!-- VECTORS-END -->";

#[test]
fn the_format_document_holds_the_vectors_the_code_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .arg("vectors")
        .output()
        .expect("run bangfu vectors");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ledger-format.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let start = doc.find(BEGIN).expect("vectors begin marker");
    let block = &doc[start..];
    let body_start = block.find("```text\n").expect("text fence") + "```text\n".len();
    let body_end = block.find(END).expect("vectors end marker");
    let in_doc = &block[body_start..body_end];
    assert!(
        in_doc == printed,
        "docs/ledger-format.md §13 differs from `bangfu vectors`; if the format changed on purpose, \
         regenerate the block with scripts/update-format-vectors.sh"
    );
}

#[test]
fn json_vectors_carry_the_same_values() {
    let out = Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .args(["vectors", "--json"])
        .output()
        .expect("run bangfu vectors --json");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["root of size 2"].as_str().unwrap().len(),
        44,
        "a base64 SHA-256 root"
    );
    assert!(
        v["checkpoint (signed and cosigned note)"]
            .as_str()
            .unwrap()
            .starts_with("bangfu.example/gulou\n2\n")
    );
}

#[test]
fn the_vector_log_verifies_under_the_full_domain_replay() {
    use bangfu_domain::replay::Replayer;
    use bangfu_ledger::verify::Verifier;
    let out = Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .args(["vectors", "--json"])
        .output()
        .expect("run bangfu vectors --json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut verifier = Verifier::new(Replayer::new());
    for label in [
        "entry 0, JCS (one line of entries.jsonl)",
        "entry 1, JCS (two lines of entries.jsonl)",
    ] {
        verifier
            .push(v[label].as_str().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    let (size, root, _) = verifier.finish().unwrap();
    assert_eq!(size, 2);
    assert_eq!(root.to_base64(), v["root of size 2"].as_str().unwrap());
}
