//! The tamper suite (issue 7): an administrator edits a ledger by hand with the triggers off —
//! one byte of an entry, a deleted entry, two entries swapped, the tail cut off after a checkpoint
//! covered it, history rewritten after a witness cosigned, a key replaced, a signature forged, a
//! vault value altered — and the real `bangfu verify` names the first bad index and the reason.
//! Every case runs on SQLite and on PostgreSQL, and starts by showing that the same ledger,
//! untouched, verifies (with its witness's cosignature as the quorum). A few cases run on an
//! exported bundle too.
//!
//! The ledger (`bangfu_tests::tamper`): 33 entries — genesis 0, unit 1, program 2, cadres and
//! their keys 3–8 (c0's `register_key` is 4), households and pairings 9–16 (h0's registration is
//! 9), visits 17–32 — with a cosigned checkpoint at 17 and at 33 and 24 vault rows.

use bangfu_ledger::entry::Entry;
use bangfu_ledger::merkle::leaf_hash;
use bangfu_ledger::seal::{Opening, commitments_in};
use bangfu_ledger::signature::{PublicKey, Signature};
use bangfu_ledger::statement::Statement;
use bangfu_tests::district::{b64key, key};
use bangfu_tests::tamper::*;
use serde_json::{Value, json};
use std::path::Path;
use tempfile::TempDir;

/// The entries of `Plan::standard()`.
const SIZE: u64 = 33;
/// A visit by cadre c0 (visit 4, household h0).
const C0_VISIT: u64 = 21;

/// Runs a case on each store, as `<case>::sqlite` and `<case>::postgres`.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use bangfu_tests::tamper::Engine;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$case(Engine::Postgres).await
            }
        }
    )*};
}

on_both_stores!(
    one_byte,
    deleted_entry,
    swapped_entries,
    truncated_tail,
    fork_after_witness_cosigned,
    key_replaced,
    forged_signature,
    vault_altered,
);

/// The standard ledger, shown to verify untouched with its witness as the quorum.
async fn untouched(engine: Engine, case: &str) -> (TempDir, Ledger) {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let ledger = Ledger::build(
        engine,
        tmp.path(),
        &format!("tamper_{case}"),
        &Plan::standard(),
    )
    .await;
    let witness = witness_vkey();
    let verdict = ledger
        .verify(&["--witness", &witness, "--quorum", "1"])
        .await;
    let report = verdict.verified();
    assert_eq!(report["entries"], SIZE, "{}", verdict.stdout);
    assert_eq!(report["checkpoints"], 2, "{}", verdict.stdout);
    assert_eq!(report["latest_checkpoint"], SIZE, "{}", verdict.stdout);
    assert_eq!(
        report["cosigned_by"],
        json!([witness_vkey()]),
        "{}",
        verdict.stdout
    );
    assert_eq!(report["vault_rows"], 24, "{}", verdict.stdout);
    assert_eq!(report["warnings"], json!([]), "{}", verdict.stdout);
    (tmp, ledger)
}

/// Sets entry `index` back to its original bytes and checks the ledger verifies again: each
/// failure was the edit's, nothing else's.
async fn restore(ledger: &Ledger, original: &[Vec<u8>], index: u64) {
    ledger
        .admin(&[Edit::SetBody {
            index,
            body: original[index as usize].clone(),
        }])
        .await;
    ledger.verify(&[]).await.verified();
}

fn with_byte(body: &[u8], at: usize, byte: u8) -> Vec<u8> {
    assert_ne!(body[at], byte, "the edit must change the byte");
    let mut b = body.to_vec();
    b[at] = byte;
    b
}

/// One byte changed, in four places: the signed args, the events, `prev_root`, and the
/// unsigned `recorded_at`.
async fn one_byte(engine: Engine) {
    let (_tmp, ledger) = untouched(engine, "byte").await;
    let original = ledger.bodies().await;
    let h0 = &original[H0_ENTRY as usize];

    // In the statement's args: the household's size 3 → 4. Its signature no longer verifies.
    let at = in_statement(h0, "\"members\":3") + "\"members\":".len();
    ledger
        .admin(&[Edit::SetBody {
            index: H0_ENTRY,
            body: with_byte(h0, at, b'4'),
        }])
        .await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("bad_signature", Some(H0_ENTRY));
    assert!(reason.contains("signature does not verify"), "{reason}");
    restore(&ledger, &original, H0_ENTRY).await;

    // In the events: the signature holds, but replaying the statement gives other events.
    let at = in_events(h0, "\"members\":3") + "\"members\":".len();
    ledger
        .admin(&[Edit::SetBody {
            index: H0_ENTRY,
            body: with_byte(h0, at, b'4'),
        }])
        .await;
    ledger.verify(&[]).await.failed("refused", Some(H0_ENTRY));
    restore(&ledger, &original, H0_ENTRY).await;

    // In prev_root: its first base64 character (every bit of it counts, so the spelling stays
    // canonical).
    let i = 20;
    let body = &original[i as usize];
    let at = find_after(body, "\"prev_root\":\"");
    let other = if body[at] == b'A' { b'B' } else { b'A' };
    ledger
        .admin(&[Edit::SetBody {
            index: i,
            body: with_byte(body, at, other),
        }])
        .await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("wrong_prev_root", Some(i));
    assert!(reason.contains("prev_root"), "{reason}");
    restore(&ledger, &original, i).await;

    // In recorded_at, which no signature covers: entry i itself still checks out on its own (its
    // events do not depend on the hour), so the change shows at the next entry, whose prev_root
    // no longer matches the entries before it. The first index the verifier can name is i + 1.
    let at = find_after(body, "\"recorded_at\":\"2016-01-06T0");
    ledger
        .admin(&[Edit::SetBody {
            index: i,
            body: with_byte(body, at, b'3'),
        }])
        .await;
    ledger
        .verify(&[])
        .await
        .failed("wrong_prev_root", Some(i + 1));
    restore(&ledger, &original, i).await;

    // The same in the last entry: no later entry holds its leaf, the checkpoint of 33 does. The
    // checkpoint of 17 still matched, so the first entry that may differ is 17.
    let last = SIZE - 1;
    let body = &original[last as usize];
    let at = find_after(body, "\"recorded_at\":\"2016-01-06T0");
    ledger
        .admin(&[Edit::SetBody {
            index: last,
            body: with_byte(body, at, b'3'),
        }])
        .await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("checkpoint", Some(SETUP as u64));
    assert!(reason.contains("between entries 17 and 32"), "{reason}");
    restore(&ledger, &original, last).await;
}

/// The offset just after the first `needle` in `body`.
fn find_after(body: &[u8], needle: &str) -> usize {
    body.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|p| p + needle.len())
        .unwrap_or_else(|| panic!("{needle:?} not found"))
}

/// An entry deleted: first the row alone (a gap in the indexes), then with the later entries
/// renumbered to close the gap.
async fn deleted_entry(engine: Engine) {
    let (_tmp, ledger) = untouched(engine, "delete").await;
    let i = 12;
    ledger.admin(&[Edit::Delete { index: i }]).await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("missing", Some(i));
    assert!(reason.contains("deleted"), "{reason}");

    // The gap closed, and the checkpoint of 33 (which would show the log one entry short)
    // deleted with it: entry 13 now sits at index 12 and says so.
    ledger
        .admin(&[
            Edit::CloseGap { index: i },
            Edit::DropCheckpointsFrom {
                size: SETUP as u64 + 1,
            },
        ])
        .await;
    assert_eq!(ledger.bodies().await.len() as u64, SIZE - 1);
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("wrong_index", Some(i));
    assert!(reason.contains("holds index 13"), "{reason}");
}

/// An entry deleted and the gap closed, with the checkpoint of 33 left in place (and saved by an
/// inspector): the log is now one entry short of that checkpoint, but the first bad entry is 12,
/// and that is what must be named — not "entry 32 was removed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_is_named_even_when_a_checkpoint_is_past_the_end() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let (tmp, ledger) = untouched(engine, "delete_past").await;
        let saved = tmp.path().join("checkpoint-33");
        std::fs::write(&saved, ledger.cosigned_checkpoint(SIZE).await).expect("saving");
        let saved = saved.display().to_string();
        let i = 12;
        ledger
            .admin(&[Edit::Delete { index: i }, Edit::CloseGap { index: i }])
            .await;
        ledger.verify(&[]).await.failed("wrong_index", Some(i));
        ledger
            .admin(&[Edit::DropCheckpointsFrom {
                size: SETUP as u64 + 1,
            }])
            .await;
        ledger
            .verify(&["--since", &saved])
            .await
            .failed("wrong_index", Some(i));
    }
}

/// Two entries' bodies swapped: the lower position holds the higher index.
async fn swapped_entries(engine: Engine) {
    let (_tmp, ledger) = untouched(engine, "swap").await;
    let original = ledger.bodies().await;
    let (a, b) = (14u64, 22u64);
    ledger
        .admin(&[
            Edit::SetBody {
                index: a,
                body: original[b as usize].clone(),
            },
            Edit::SetBody {
                index: b,
                body: original[a as usize].clone(),
            },
        ])
        .await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("wrong_index", Some(a));
    assert!(reason.contains("holds index 22"), "{reason}");
    // Swapped back, it verifies again.
    ledger
        .admin(&[
            Edit::SetBody {
                index: a,
                body: original[a as usize].clone(),
            },
            Edit::SetBody {
                index: b,
                body: original[b as usize].clone(),
            },
        ])
        .await;
    ledger.verify(&[]).await.verified();
}

/// The tail cut off after the log signed (and the witness cosigned) a checkpoint covering it.
/// Then the forger also deletes that checkpoint: the store alone can no longer tell, and the
/// checkpoint an inspector saved (`--since`) still can.
async fn truncated_tail(engine: Engine) {
    let (tmp, ledger) = untouched(engine, "truncate").await;
    let saved = tmp.path().join("checkpoint-33");
    std::fs::write(&saved, ledger.cosigned_checkpoint(SIZE).await).expect("saving the checkpoint");
    let saved = saved.display().to_string();

    let original = ledger.bodies().await;
    let k = 28;
    ledger.admin(&[Edit::TruncateFrom { size: k }]).await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("truncated", Some(k));
    assert!(reason.contains("28..32"), "{reason}");

    // The forger deletes the checkpoint that betrays the cut. The vault still holds the openings
    // of the cut entries' sealed values: a clue.
    ledger.admin(&[Edit::DropCheckpointsFrom { size: k }]).await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("vault", None);
    assert!(reason.contains("no entry contains"), "{reason}");
    // Erasing them is lawful, so nothing stops the forger. What is left is a valid log of 28
    // entries: without a saved checkpoint nothing shows.
    let mut sealed = Vec::new();
    for body in &original[k as usize..] {
        let entry = Entry::from_bytes(body).expect("the entry parses");
        commitments_in(
            &Value::Object(entry.statement.body.args.clone()),
            &mut sealed,
        );
    }
    assert_eq!(sealed.len(), 5, "the cut visits' diaries");
    for c in &sealed {
        assert!(ledger.erase_opening(&c.0).await);
    }
    let verdict = ledger.verify(&[]).await;
    let report = verdict.verified();
    assert_eq!(report["entries"], k);
    assert_eq!(report["latest_checkpoint"], SETUP as u64);
    let verdict = ledger.verify(&["--since", &saved]).await;
    let reason = verdict.failed("since", Some(k));
    assert!(reason.contains("rolled back"), "{reason}");
}

/// The second ledger of the fork cases: the same first `fork_from` entries (and so the same
/// cosigned checkpoint at 17), other entries from there on, its own checkpoint at `size`, signed
/// with the same log key but not cosigned (the witness would refuse it).
async fn forged_history(
    engine: Engine,
    dir: &Path,
    name: &str,
    fork_from: usize,
    size: u64,
) -> Ledger {
    let plan = Plan {
        visits: size as usize - SETUP,
        fork_from: Some(fork_from),
        checkpoints: vec![(SETUP as u64, true), (size, false)],
    };
    Ledger::build(engine, dir, name, &plan).await
}

/// History rewritten from entry 25 after the witness cosigned the checkpoint of size 33: the
/// forger builds another ledger with the same genesis and keys, identical up to entry 24, and
/// signs its checkpoints with the log key. On its own it verifies; against the checkpoint the
/// inspector saved it fails, naming 17: the checkpoint at 17 (cosigned by the witness, kept
/// unchanged) is the last size at which the two are known to agree, so entry 17 is the first
/// that may differ. Nothing the verifier holds pins entry 25 itself: the saved checkpoint is one
/// root over 33 entries.
async fn fork_after_witness_cosigned(engine: Engine) {
    let (tmp, honest) = untouched(engine, "fork_a").await;
    let saved = tmp.path().join("checkpoint-33");
    std::fs::write(&saved, honest.cosigned_checkpoint(SIZE).await).expect("saving the checkpoint");
    let saved = saved.display().to_string();
    let report = honest.verify(&["--since", &saved]).await.verified().clone();
    assert_eq!(report["since"], SIZE);

    let j = 25;
    let tmp_b = tempfile::tempdir().expect("a temporary folder");
    let forged = forged_history(engine, tmp_b.path(), "tamper_fork_b", j, SIZE + 1).await;
    let (a, b) = (honest.bodies().await, forged.bodies().await);
    assert_eq!(
        a[..j],
        b[..j],
        "the two ledgers share their first {j} entries"
    );
    assert_ne!(a[j], b[j], "and differ from entry {j} on");

    // On its own the forged ledger is a valid log, but its latest checkpoint has no cosignature.
    forged.verify(&[]).await.verified();
    let witness = witness_vkey();
    forged
        .verify(&["--witness", &witness, "--quorum", "1"])
        .await
        .failed("quorum", None);

    // Trusting the witness, its cosigned checkpoint of 17 (which the forged log still matches)
    // bounds the rewrite; without a trusted witness nothing but the saved checkpoint counts, so
    // the rewrite can only be placed somewhere from entry 0 on.
    let verdict = forged
        .verify(&["--since", &saved, "--witness", &witness])
        .await;
    let reason = verdict.failed("since", Some(SETUP as u64));
    assert!(reason.contains("between entries 17 and 32"), "{reason}");
    let verdict = forged.verify(&["--since", &saved]).await;
    let reason = verdict.failed("since", Some(0));
    assert!(reason.contains("between entries 0 and 32"), "{reason}");
}

/// The honesty of the index named for a fork: it must never be past the first entry that really
/// differs. Here the forger also signs a checkpoint of the forged history at the saved size (or
/// between the fork and it); the verifier counts the forged log's own checkpoint as a match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_names_no_index_past_the_fork() {
    for (engine, size) in [(Engine::Sqlite, SIZE), (Engine::Sqlite, 30)] {
        let (tmp, honest) = untouched(engine, "fork_honest_a").await;
        let saved = tmp.path().join("checkpoint-33");
        std::fs::write(&saved, honest.cosigned_checkpoint(SIZE).await).expect("saving");
        let saved = saved.display().to_string();
        let j = 25;
        let tmp_b = tempfile::tempdir().expect("a temporary folder");
        let plan = Plan {
            visits: SIZE as usize - SETUP,
            fork_from: Some(j),
            checkpoints: vec![(SETUP as u64, true), (size, false), (SIZE, false)],
        };
        let forged = Ledger::build(engine, tmp_b.path(), "tamper_fork_honest_b", &plan).await;
        let verdict = forged.verify(&["--since", &saved]).await;
        assert_eq!(verdict.code, Some(1), "{}", verdict.stdout);
        assert_eq!(
            verdict.json["failure"]["kind"], "since",
            "{}",
            verdict.stdout
        );
        let named = verdict.json["failure"]["index"]
            .as_u64()
            .unwrap_or(u64::MAX);
        assert!(
            named <= j as u64,
            "the verifier names entry {named} as the first that may differ, but entry {j} already does:\n{}",
            verdict.stdout
        );
    }
}

/// A key replaced, in the strongest form: c0's `register_key` names the forger's key instead,
/// every later statement by c0 is re-signed with it, every event follows, and every prev_root is
/// recomputed. Only the authority's signature on the registration cannot be redone.
async fn key_replaced(engine: Engine) {
    let (_tmp, ledger) = untouched(engine, "key").await;
    let original = ledger.bodies().await;
    let (old, new) = (b64key("c0"), b64key("mallory"));
    let c0 = PublicKey::from(&key("c0"));
    let mut resigned = 0;
    let changed = rewrite(&original, C0_KEY_ENTRY, |e| {
        if e.index == C0_KEY_ENTRY {
            let mut args = Value::Object(e.statement.body.args.clone());
            replace_strings(&mut args, &old, &new);
            e.statement.body.args = args.as_object().cloned().unwrap_or_default();
        }
        for ev in &mut e.events {
            let mut payload = Value::Object(ev.payload.clone());
            replace_strings(&mut payload, &old, &new);
            ev.payload = payload.as_object().cloned().unwrap_or_default();
        }
        if e.statement.body.key == c0 {
            let mut body = e.statement.body.clone();
            body.key = PublicKey::from(&key("mallory"));
            e.statement = Statement::sign(body, &key("mallory")).expect("re-signing");
            resigned += 1;
        }
    });
    assert_eq!(resigned, 8, "c0's visits were re-signed");
    let registration = Entry::from_bytes(&changed[0].1).expect("the forged registration parses");
    assert_eq!(registration.statement.body.args["key"], new.as_str());
    assert!(
        registration
            .events
            .iter()
            .any(|e| e.payload.values().any(|v| v == new.as_str()))
    );
    let edits: Vec<Edit> = changed
        .into_iter()
        .map(|(index, body)| Edit::SetBody { index, body })
        .collect();
    ledger.admin(&edits).await;
    let verdict = ledger.verify(&[]).await;
    verdict.failed("bad_signature", Some(C0_KEY_ENTRY));

    // The weak form, on the untouched ledger: only the key in the registration's args.
    let weak = rewrite(&original, C0_KEY_ENTRY, |_| {});
    assert!(
        weak.iter().all(|(i, b)| *b == original[*i as usize]),
        "rewriting without an edit reproduces every entry byte for byte"
    );
    let body = &original[C0_KEY_ENTRY as usize];
    let at = in_statement(body, &old);
    let mut forged = body[..at].to_vec();
    forged.extend_from_slice(new.as_bytes());
    forged.extend_from_slice(&body[at + old.len()..]);
    let mut edits: Vec<Edit> = (C0_KEY_ENTRY..SIZE)
        .map(|index| Edit::SetBody {
            index,
            body: original[index as usize].clone(),
        })
        .collect();
    edits[0] = Edit::SetBody {
        index: C0_KEY_ENTRY,
        body: forged,
    };
    ledger.admin(&edits).await;
    ledger
        .verify(&[])
        .await
        .failed("bad_signature", Some(C0_KEY_ENTRY));
    restore(&ledger, &original, C0_KEY_ENTRY).await;
}

/// A signature forged three ways on a visit by c0: the same body signed by another key, 64 bytes
/// of noise, and the body re-signed by a key the log never registered (which verifies as a
/// signature, so the refusal comes from the registry).
async fn forged_signature(engine: Engine) {
    let (_tmp, ledger) = untouched(engine, "sig").await;
    let original = ledger.bodies().await;
    let i = C0_VISIT;
    let entry = Entry::from_bytes(&original[i as usize]).expect("the entry parses");
    assert_eq!(entry.statement.body.key, PublicKey::from(&key("c0")));
    let set_sig = |sig: Signature| {
        let mut e = entry.clone();
        e.statement.sig = sig;
        Edit::SetBody {
            index: i,
            body: e.to_bytes().expect("canonical"),
        }
    };

    let message = entry.statement.body.signing_message().expect("signable");
    let by_another = ed25519_dalek::Signer::sign(&key("mallory"), &message);
    ledger.admin(&[set_sig(by_another)]).await;
    ledger.verify(&[]).await.failed("bad_signature", Some(i));

    let mut noise = [0u8; 64];
    noise[..32].copy_from_slice(&leaf_hash(b"noise 1").0);
    noise[32..].copy_from_slice(&leaf_hash(b"noise 2").0);
    ledger
        .admin(&[set_sig(Signature::from_bytes(&noise))])
        .await;
    ledger.verify(&[]).await.failed("bad_signature", Some(i));

    let changed = rewrite(&original, i, |e| {
        if e.index == i {
            let mut body = e.statement.body.clone();
            body.key = PublicKey::from(&key("mallory"));
            e.statement = Statement::sign(body, &key("mallory")).expect("signing");
        }
    });
    let edits: Vec<Edit> = changed
        .into_iter()
        .map(|(index, body)| Edit::SetBody { index, body })
        .collect();
    ledger.admin(&edits).await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("refused", Some(i));
    assert!(reason.contains("key"), "{reason}");

    let edits: Vec<Edit> = (i..SIZE)
        .map(|index| Edit::SetBody {
            index,
            body: original[index as usize].clone(),
        })
        .collect();
    ledger.admin(&edits).await;
    ledger.verify(&[]).await.verified();
}

/// A vault value altered (no index: the vault is not an entry), a row added for a commitment no
/// entry holds, and — lawful, so not a failure — a row erased.
async fn vault_altered(engine: Engine) {
    let (_tmp, ledger) = untouched(engine, "vault").await;
    let rows = ledger.vault().await;
    let row = rows
        .iter()
        .find(|o| o.value == json!("透析"))
        .expect("a household's sealed hardship");
    ledger
        .admin(&[Edit::SetVaultValue {
            commitment: row.commitment.0,
            value: "\"感冒\"".into(),
        }])
        .await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("vault", None);
    assert!(reason.contains("altered"), "{reason}");
    ledger
        .admin(&[Edit::SetVaultValue {
            commitment: row.commitment.0,
            value: "\"透析\"".into(),
        }])
        .await;
    ledger.verify(&[]).await.verified();

    let stray = Opening::new(json!("无此人"), [3u8; 16]).expect("sealable");
    ledger.put_openings(std::slice::from_ref(&stray)).await;
    let verdict = ledger.verify(&[]).await;
    let reason = verdict.failed("vault", None);
    assert!(reason.contains("no entry contains"), "{reason}");
    assert!(ledger.erase_opening(&stray.commitment.0).await);

    assert!(ledger.erase_opening(&row.commitment.0).await);
    let verdict = ledger.verify(&[]).await;
    assert_eq!(verdict.verified()["vault_rows"], 23);
}

// ---- Bundles ----------------------------------------------------------------------------------

fn copy_bundle(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for f in std::fs::read_dir(from).expect("the bundle").flatten() {
        std::fs::copy(f.path(), to.join(f.file_name())).expect("copying");
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("readable")
        .split_inclusive('\n')
        .map(str::to_owned)
        .collect()
}

async fn verify_bundle(dir: &Path) -> Verdict {
    run_verify(&[
        "--bundle".into(),
        dir.display().to_string(),
        "--quorum".into(),
        "1".into(),
    ])
    .await
}

/// `bangfu export`, then the bundle's files edited: two entry lines swapped, the last lines cut
/// off, a vault value changed, and the log key replaced by the forger's (which an inspector who
/// pins the key they were given catches).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_edited_after_export() {
    let (tmp, ledger) = untouched(Engine::Sqlite, "bundle").await;
    let bundle = tmp.path().join("bundle");
    let out = tokio::process::Command::new(bangfu_tests::bangfu())
        .args(["export", "--json", "--out"])
        .arg(&bundle)
        .args(["--witness", &witness_vkey()])
        .args(ledger.store_args())
        .env_remove("BANGFU_DATABASE_URL")
        .output()
        .await
        .expect("bangfu export runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = verify_bundle(&bundle).await.verified().clone();
    assert_eq!(report["entries"], SIZE);
    assert_eq!(report["cosigned_by"], json!([witness_vkey()]));

    let swapped = tmp.path().join("swapped");
    copy_bundle(&bundle, &swapped);
    let mut l = lines(&swapped.join("entries.jsonl"));
    l.swap(14, 22);
    std::fs::write(swapped.join("entries.jsonl"), l.concat()).expect("writing");
    verify_bundle(&swapped)
        .await
        .failed("wrong_index", Some(14));

    let cut = tmp.path().join("cut");
    copy_bundle(&bundle, &cut);
    let l = lines(&cut.join("entries.jsonl"));
    std::fs::write(cut.join("entries.jsonl"), l[..28].concat()).expect("writing");
    verify_bundle(&cut).await.failed("truncated", Some(28));

    let vault = tmp.path().join("vault");
    copy_bundle(&bundle, &vault);
    let text = std::fs::read_to_string(vault.join("vault.jsonl")).expect("a vault");
    assert!(text.contains("\"value\":\"透析\""), "{text}");
    std::fs::write(
        vault.join("vault.jsonl"),
        text.replacen("\"value\":\"透析\"", "\"value\":\"感冒\"", 1),
    )
    .expect("writing");
    verify_bundle(&vault).await.failed("vault", None);

    // The forger re-signs the checkpoint with a key of their own and ships its vkey: the bundle
    // is consistent in itself, and only the log key the inspector was given shows it.
    let rekeyed = tmp.path().join("rekeyed");
    copy_bundle(&bundle, &rekeyed);
    let forger = bangfu_ledger::note::Signer::new(ORIGIN, key("mallory")).expect("a signer");
    let text = std::fs::read_to_string(rekeyed.join("checkpoint")).expect("a checkpoint");
    let body = text.split("\n\n").next().expect("the note text").to_owned() + "\n";
    let mut note = bangfu_ledger::note::Note::new(body).expect("a note");
    note.sign(&forger).expect("signing");
    std::fs::write(
        rekeyed.join("checkpoint"),
        note.format().expect("formatting"),
    )
    .expect("writing");
    std::fs::write(
        rekeyed.join("log.vkey"),
        format!("{}\n", forger.verifier_key()),
    )
    .expect("writing");
    std::fs::write(rekeyed.join("witnesses.vkeys"), "").expect("writing");
    run_verify(&["--bundle".into(), rekeyed.display().to_string()])
        .await
        .verified();
    let log_vkey = log_signer().verifier_key().to_string();
    run_verify(&[
        "--bundle".into(),
        rekeyed.display().to_string(),
        "--log-vkey".into(),
        log_vkey,
    ])
    .await
    .failed("checkpoint", None);
}
