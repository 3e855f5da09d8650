//! Checkpoints, cosignatures and the vault, the same suite on SQLite (a file in a temporary
//! folder) and on PostgreSQL (a fresh database per test): signing only what extends the last
//! checkpoint, reading back and paging, refusals that write nothing, the triggers, erasure, and a
//! tampered tree that must not be signed.

mod common;

use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::{self, Cosigner};
use bangfu_ledger::jcs;
use bangfu_ledger::merkle;
use bangfu_ledger::note::{Note, Signer, Verifier as _};
use bangfu_ledger::seal::Opening;
use bangfu_store::backend::{Backend, StoreError, StoredCheckpoint};
use bangfu_store::checkpoints::{CheckpointingError, sign_checkpoint};
use bangfu_store::log::{Log, consistency_proof};
use bangfu_store::postgres::{PgBackend, TestDatabase};
use bangfu_store::sqlite::SqliteBackend;
use common::*;
use serde_json::json;

const ORIGIN: &str = "bangfu.example/gulou";

fn log_signer() -> Signer {
    Signer::new(ORIGIN, key("log key")).unwrap()
}

fn witness(name: &str) -> Cosigner {
    Cosigner::new(name, key(name)).unwrap()
}

/// `w`'s cosignature line on `c`, exactly as a witness returns it.
fn cosignature_line(c: &StoredCheckpoint, w: &Cosigner, timestamp: u64) -> String {
    let mut note = Note::parse(c.note.as_bytes()).unwrap();
    w.cosign_note(&mut note, timestamp).unwrap();
    let text = note.format().unwrap();
    let last = text.trim_end_matches('\n').rsplit('\n').next().unwrap();
    format!("{last}\n")
}

/// A log holding a small district (13 entries).
async fn district_log<B: Backend>(backend: B) -> Log<B> {
    let log = Log::open(backend).await.unwrap();
    for st in district(2, 3) {
        log.append(st).await.unwrap_or_else(|e| panic!("{e}"));
    }
    log
}

async fn visits<B: Backend>(log: &Log<B>, from: u64, n: u64) {
    for i in from..from + n {
        log.append(visit((i % 3) as usize, 2, i))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn sizes(cs: &[StoredCheckpoint]) -> Vec<u64> {
    cs.iter().map(|c| c.size).collect()
}

/// Each store, with plain SQL beside it as an administrator would type it.
trait Env {
    type B: Backend;
    async fn backend(&self) -> Self::B;
    /// Runs `sql` with the triggers in place; an error carries the database's message.
    async fn sql(&self, sql: &str) -> Result<(), String>;
    /// The single integer `sql` (a `SELECT count(*) …`) answers.
    async fn count(&self, sql: &str) -> i64;
    /// Runs `sql` with `table`'s triggers out of the way, as an owner could.
    async fn tamper(&self, table: &str, sql: &str);
    /// A literal for `bytes` in this engine's SQL.
    fn blob(&self, bytes: &[u8]) -> String;
    /// Engine-specific statements that must be refused too (TRUNCATE, REPLACE).
    fn more_refused(&self) -> Vec<(&'static str, &'static str)>;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct SqliteEnv(tempfile::TempDir);

impl Env for SqliteEnv {
    type B = SqliteBackend;
    async fn backend(&self) -> SqliteBackend {
        fresh_sqlite(&self.0).await
    }
    async fn sql(&self, sql: &str) -> Result<(), String> {
        let c = rusqlite::Connection::open(self.0.path().join("log.sqlite")).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c.execute_batch(sql).map_err(|e| e.to_string())
    }
    async fn count(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(self.0.path().join("log.sqlite")).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }
    async fn tamper(&self, table: &str, sql: &str) {
        // SQLite cannot switch a trigger off; whoever can write the file can drop it.
        self.sql(&format!(
            "DROP TRIGGER IF EXISTS {table}_no_update; DROP TRIGGER IF EXISTS {table}_no_delete; {sql}"
        ))
        .await
        .unwrap();
    }
    fn blob(&self, bytes: &[u8]) -> String {
        format!("x'{}'", hex(bytes))
    }
    fn more_refused(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "INSERT OR REPLACE INTO checkpoints (size, root, note, signed_at_ms) \
                 SELECT size, root, note, 0 FROM checkpoints",
                "checkpoints are append-only",
            ),
            (
                "REPLACE INTO cosignatures (size, witness, line, added_at_ms) \
                 SELECT size, witness, line, 0 FROM cosignatures",
                "checkpoints are append-only",
            ),
            (
                "INSERT OR REPLACE INTO vault (commitment, salt, value) \
                 SELECT commitment, salt, '\"forged\"' FROM vault",
                "vault row is never changed",
            ),
        ]
    }
}

struct PgEnv {
    db: TestDatabase,
    client: tokio_postgres::Client,
}

impl PgEnv {
    async fn new() -> PgEnv {
        let db = TestDatabase::create("bangfu_ckpt")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test database: {e}"));
        tokio::spawn(connection);
        PgEnv { db, client }
    }
}

impl Env for PgEnv {
    type B = PgBackend;
    async fn backend(&self) -> PgBackend {
        PgBackend::connect(&self.db.url)
            .await
            .expect("connect to the test database")
    }
    async fn sql(&self, sql: &str) -> Result<(), String> {
        self.client.batch_execute(sql).await.map_err(|e| {
            e.as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string())
        })
    }
    async fn count(&self, sql: &str) -> i64 {
        self.client.query_one(sql, &[]).await.unwrap().get(0)
    }
    async fn tamper(&self, table: &str, sql: &str) {
        // The test server's user owns the tables, so it can do what a rogue owner would.
        self.sql(&format!(
            "ALTER TABLE {table} DISABLE TRIGGER USER; {sql}; ALTER TABLE {table} ENABLE TRIGGER USER"
        ))
        .await
        .unwrap();
    }
    fn blob(&self, bytes: &[u8]) -> String {
        format!("'\\x{}'::bytea", hex(bytes))
    }
    fn more_refused(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "TRUNCATE checkpoints CASCADE",
                "checkpoints are append-only",
            ),
            ("TRUNCATE cosignatures", "checkpoints are append-only"),
        ]
    }
}

// ---------------------------------------------------------------------------------------------

async fn signs_reads_back_and_pages<E: Env>(env: E) {
    let signer = log_signer();
    let backend = env.backend().await;
    // An empty log has nothing to sign.
    let err = sign_checkpoint(&backend, &signer, 1).await.unwrap_err();
    assert!(
        matches!(&err, CheckpointingError::Sign(m) if m.contains("empty")),
        "{err}"
    );
    assert!(err.to_string().contains(" / "), "bilingual: {err}");
    assert_eq!(backend.latest_checkpoint().await.unwrap(), None);

    let log = district_log(backend).await;
    let b = log.backend();
    let size = log.size().await.unwrap();
    assert_eq!(size, 13);
    let first = sign_checkpoint(b, &signer, 1_000).await.unwrap();
    assert_eq!(first.size, size);
    assert_eq!(first.root, log.tree_head(size).await.unwrap());
    assert_eq!(first.signed_at_ms, 1_000);
    assert!(first.cosignatures.is_empty());
    assert_eq!(first.cosigned_note(), first.note);
    // The note is what the log signed: it opens with the log's verifier key and says size and root.
    let (opened, note) = Checkpoint::open(first.note.as_bytes(), &signer.verifier_key()).unwrap();
    assert_eq!(
        (opened.origin.as_str(), opened.size, opened.root),
        (ORIGIN, size, first.root)
    );
    assert_eq!(note.signatures.len(), 1);
    assert_eq!(note.format().unwrap(), first.note);
    // And no other key opens it.
    let stranger = Signer::new(ORIGIN, key("someone else")).unwrap();
    assert!(Checkpoint::open(first.note.as_bytes(), &stranger.verifier_key()).is_err());

    assert_eq!(b.checkpoint(size).await.unwrap().as_ref(), Some(&first));
    assert_eq!(b.checkpoint(size - 1).await.unwrap(), None);
    assert_eq!(b.checkpoint(u64::MAX).await.unwrap(), None);
    assert_eq!(b.latest_checkpoint().await.unwrap().as_ref(), Some(&first));

    // Three more, each after the log grew.
    let mut all = vec![first];
    for (round, grow) in [(1u64, 1u64), (2, 3), (3, 8)] {
        visits(&log, 100 * round, grow).await;
        all.push(
            sign_checkpoint(b, &signer, 1_000 + round as i64)
                .await
                .unwrap(),
        );
    }
    assert_eq!(sizes(&all), [13, 14, 17, 25]);
    assert_eq!(b.checkpoints(0, 100).await.unwrap(), all);
    assert_eq!(b.checkpoints(0, 2).await.unwrap(), all[..2]);
    assert_eq!(b.checkpoints(14, 2).await.unwrap(), all[1..3]);
    assert_eq!(b.checkpoints(15, 2).await.unwrap(), all[2..4]);
    assert_eq!(b.checkpoints(26, 10).await.unwrap(), []);
    assert_eq!(b.checkpoints(0, 0).await.unwrap(), []);
    assert_eq!(b.checkpoints(u64::MAX, 5).await.unwrap(), []);
    assert_eq!(b.latest_checkpoint().await.unwrap().as_ref(), all.last());
    // A second connection to the same store reads the same.
    let other = env.backend().await;
    assert_eq!(other.checkpoints(0, 100).await.unwrap(), all);
    log.close().await;
}

async fn no_growth_same_checkpoint_growth_extends<E: Env>(env: E) {
    let signer = log_signer();
    let log = district_log(env.backend().await).await;
    let b = log.backend();
    let first = sign_checkpoint(b, &signer, 10).await.unwrap();
    // Nothing appended: the same checkpoint, with its original time, and no new row.
    let again = sign_checkpoint(b, &signer, 20).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        b.checkpoints(0, 100).await.unwrap(),
        std::slice::from_ref(&first)
    );

    visits(&log, 0, 6).await;
    let second = sign_checkpoint(b, &signer, 30).await.unwrap();
    assert_eq!(second.size, first.size + 6);
    assert_eq!(second.signed_at_ms, 30);
    // The new checkpoint extends the old one: the stored hashes prove it, the same proof as the
    // log's own.
    let proof = consistency_proof(b, first.size, second.size).await.unwrap();
    assert!(!proof.is_empty());
    merkle::verify_consistency(first.size, second.size, &first.root, &second.root, &proof).unwrap();
    assert_eq!(
        proof,
        log.consistency_proof(first.size, second.size)
            .await
            .unwrap()
    );
    assert!(matches!(
        consistency_proof(b, first.size, second.size + 1).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.checkpoints(0, 100).await.unwrap(),
        [first.clone(), second.clone()]
    );

    // A key that is not the one the log signed with is refused, and nothing is signed.
    visits(&log, 10, 1).await;
    let stranger = Signer::new(ORIGIN, key("someone else")).unwrap();
    let err = sign_checkpoint(b, &stranger, 40).await.unwrap_err();
    assert!(
        matches!(&err, CheckpointingError::Sign(m) if m.contains("does not verify")),
        "{err}"
    );
    let renamed = Signer::new("other.example/log", key("log key")).unwrap();
    assert!(matches!(
        sign_checkpoint(b, &renamed, 40).await,
        Err(CheckpointingError::Sign(_))
    ));
    assert_eq!(b.latest_checkpoint().await.unwrap(), Some(second));
    log.close().await;
}

async fn cosignatures_are_kept_in_order<E: Env>(env: E) {
    let signer = log_signer();
    let log = district_log(env.backend().await).await;
    let b = log.backend();
    let c = sign_checkpoint(b, &signer, 1).await.unwrap();
    let (one, two) = (witness("witness.one"), witness("witness.two"));
    let keys = [one.cosigner_key().clone(), two.cosigner_key().clone()];

    let line_one = cosignature_line(&c, &one, 1_700_000_000);
    b.add_cosignature(c.size, "witness.one", &line_one, 100)
        .await
        .unwrap();
    // A second cosignature by the same witness is ignored: the first stands.
    let later_one = cosignature_line(&c, &one, 1_700_000_999);
    assert_ne!(later_one, line_one);
    b.add_cosignature(c.size, "witness.one", &later_one, 150)
        .await
        .unwrap();
    let line_two = cosignature_line(&c, &two, 1_700_000_100);
    b.add_cosignature(c.size, "witness.two", &line_two, 200)
        .await
        .unwrap();

    let stored = b.checkpoint(c.size).await.unwrap().unwrap();
    assert_eq!(
        stored.cosignatures,
        [
            ("witness.one".to_owned(), line_one.clone()),
            ("witness.two".to_owned(), line_two.clone())
        ]
    );
    assert_eq!(stored.note, c.note, "the log's note is kept apart");
    let cosigned = stored.cosigned_note();
    assert_eq!(cosigned, format!("{}{line_one}{line_two}", c.note));
    // The cosigned note opens with the log key, and both witnesses' cosignatures verify.
    let (_, note) = Checkpoint::open(cosigned.as_bytes(), &signer.verifier_key()).unwrap();
    let verified = cosignature::verify(&note, &keys).unwrap();
    let mut names: Vec<&str> = verified.iter().map(|v| v.witness.name()).collect();
    names.sort();
    assert_eq!(names, ["witness.one", "witness.two"]);
    assert_eq!(b.latest_checkpoint().await.unwrap().as_ref(), Some(&stored));
    assert_eq!(
        b.checkpoints(0, 10).await.unwrap(),
        std::slice::from_ref(&stored)
    );

    // Refused, and nothing written: a line under another name, a line with no newline, two
    // lines, not a signature line at all, a checkpoint that does not exist.
    let three = witness("witness.three");
    let line_three = cosignature_line(&c, &three, 1_700_000_200);
    for (name, line) in [
        ("witness.four", line_three.clone()),
        ("witness.three", line_three.trim_end().to_owned()),
        ("witness.three", format!("{line_three}{line_three}")),
        ("witness.three", "— witness.three AAAA\n".to_owned()),
        ("witness.three", "hello\n".to_owned()),
        ("witness.three", String::new()),
    ] {
        let err = b
            .add_cosignature(c.size, name, &line, 300)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("refused")),
            "{name} {line:?}: {err}"
        );
    }
    let err = b
        .add_cosignature(c.size + 1, "witness.three", &line_three, 300)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("no checkpoint")),
        "{err}"
    );
    let err = b
        .add_cosignature(u64::MAX, "witness.three", &line_three, 300)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(b.checkpoint(c.size).await.unwrap(), Some(stored.clone()));

    // A new checkpoint starts with none, and signing again when nothing grew keeps them.
    assert_eq!(sign_checkpoint(b, &signer, 2).await.unwrap(), stored);
    visits(&log, 0, 2).await;
    let next = sign_checkpoint(b, &signer, 3).await.unwrap();
    assert!(next.cosignatures.is_empty());
    log.close().await;
}

async fn one_root_per_size<E: Env>(env: E) {
    let signer = log_signer();
    let log = district_log(env.backend().await).await;
    let b = log.backend();
    let c = sign_checkpoint(b, &signer, 5).await.unwrap();

    // The same size and root again, even re-signed later: accepted, the original row kept.
    let again = StoredCheckpoint {
        signed_at_ms: 99,
        cosignatures: vec![("ignored".into(), "ignored\n".into())],
        ..c.clone()
    };
    b.save_checkpoint(&again).await.unwrap();
    assert_eq!(
        b.checkpoints(0, 10).await.unwrap(),
        std::slice::from_ref(&c)
    );

    // Another root at the same size, validly signed: never two checkpoints for one size.
    let forked_root = Hash([7; 32]);
    let forked = StoredCheckpoint {
        root: forked_root,
        note: Checkpoint::new(ORIGIN, c.size, forked_root)
            .sign(&signer)
            .unwrap()
            .format()
            .unwrap(),
        ..c.clone()
    };
    let err = b.save_checkpoint(&forked).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("never signs a second")),
        "{err}"
    );

    // Notes that are not a checkpoint of this size and root, signed by the log alone.
    let next_size = c.size + 1;
    let bad_notes = [
        // the note says another size
        StoredCheckpoint {
            size: next_size,
            ..c.clone()
        },
        // the note says another root
        StoredCheckpoint {
            size: next_size,
            note: Checkpoint::new(ORIGIN, next_size, forked_root)
                .sign(&signer)
                .unwrap()
                .format()
                .unwrap(),
            ..c.clone()
        },
        // not a signed note
        StoredCheckpoint {
            size: next_size,
            note: format!("{ORIGIN}\n{next_size}\n{}\n", c.root),
            ..c.clone()
        },
        // cosignatures belong apart
        StoredCheckpoint {
            size: c.size,
            note: {
                let mut n = Note::parse(c.note.as_bytes()).unwrap();
                witness("witness.one").cosign_note(&mut n, 1).unwrap();
                n.format().unwrap()
            },
            ..c.clone()
        },
    ];
    for bad in bad_notes {
        let err = b.save_checkpoint(&bad).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("refused to store")),
            "{err}"
        );
    }
    assert_eq!(b.checkpoints(0, 10).await.unwrap(), [c]);
    log.close().await;
}

async fn triggers_refuse_edits<E: Env>(env: E) {
    let signer = log_signer();
    let log = district_log(env.backend().await).await;
    let b = log.backend();
    let c = sign_checkpoint(b, &signer, 5).await.unwrap();
    let w = witness("witness.one");
    b.add_cosignature(c.size, "witness.one", &cosignature_line(&c, &w, 1), 6)
        .await
        .unwrap();
    let kept = Opening::new(json!("350102199001011234"), [1; 16]).unwrap();
    let erased = Opening::new(json!({"illness": "透析"}), [2; 16]).unwrap();
    b.put_openings(&[kept.clone(), erased.clone()])
        .await
        .unwrap();

    let stored = b.checkpoint(c.size).await.unwrap();
    let mut attempts = vec![
        (
            "UPDATE checkpoints SET signed_at_ms = 0".to_owned(),
            "checkpoints are append-only",
        ),
        (
            format!("UPDATE checkpoints SET root = {}", env.blob(&[0; 32])),
            "checkpoints are append-only",
        ),
        (
            "DELETE FROM checkpoints".to_owned(),
            "checkpoints are append-only",
        ),
        (
            "UPDATE cosignatures SET line = 'x'".to_owned(),
            "checkpoints are append-only",
        ),
        (
            "DELETE FROM cosignatures WHERE witness = 'witness.one'".to_owned(),
            "checkpoints are append-only",
        ),
        (
            "UPDATE vault SET value = '\"forged\"'".to_owned(),
            "vault row is never changed",
        ),
        (
            format!("UPDATE vault SET salt = {}", env.blob(&[0; 16])),
            "vault row is never changed",
        ),
    ];
    attempts.extend(
        env.more_refused()
            .into_iter()
            .map(|(sql, why)| (sql.to_owned(), why)),
    );
    for (sql, why) in attempts {
        let err = env.sql(&sql).await.expect_err(&sql);
        assert!(
            err.starts_with("bangfu: ") || err.contains("bangfu: "),
            "{sql}: {err}"
        );
        assert!(err.contains(why), "{sql}: {err}");
    }
    assert_eq!(b.checkpoint(c.size).await.unwrap(), stored);
    assert_eq!(
        b.openings(None, 10).await.unwrap().len(),
        2,
        "nothing in the vault changed"
    );

    // Deleting a vault row is lawful erasure, by hand as by the store.
    env.sql(&format!(
        "DELETE FROM vault WHERE commitment = {}",
        env.blob(&erased.commitment.0.0)
    ))
    .await
    .unwrap();
    assert_eq!(b.opening(&erased.commitment.0).await.unwrap(), None);
    assert_eq!(b.opening(&kept.commitment.0).await.unwrap(), Some(kept));
    log.close().await;
}

async fn the_vault_keeps_pages_and_erases<E: Env>(env: E) {
    let b = env.backend().await;
    assert_eq!(b.openings(None, 10).await.unwrap(), []);
    let openings: Vec<Opening> = (0..7u8)
        .map(|i| {
            Opening::new(
                json!({"name": format!("张{i}"), "phone": format!("1380000000{i}"), "n": i}),
                [i; 16],
            )
            .unwrap()
        })
        .collect();
    b.put_openings(&openings[..4]).await.unwrap();
    // Again with some already held and one twice: each is kept once, as first stored.
    let mut more = openings[2..].to_vec();
    more.push(openings[6].clone());
    b.put_openings(&more).await.unwrap();
    b.put_openings(&[]).await.unwrap();

    let mut sorted = openings.clone();
    sorted.sort_by_key(|o| o.commitment.0.0);
    let all = b.openings(None, 100).await.unwrap();
    assert_eq!(all, sorted, "ordered by commitment bytes");
    assert!(all.iter().all(Opening::is_valid));
    // Pages of three, each strictly after the last commitment of the one before.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = b.openings(after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.commitment.0);
        paged.extend(page);
    }
    assert_eq!(paged, sorted);
    assert_eq!(b.openings(None, 0).await.unwrap(), []);
    assert_eq!(
        b.openings(Some(Hash([0xff; 32])), 10).await.unwrap(),
        [],
        "nothing after the largest commitment"
    );
    assert_eq!(
        b.opening(&openings[3].commitment.0).await.unwrap().as_ref(),
        Some(&openings[3])
    );
    assert_eq!(b.opening(&Hash([0; 32])).await.unwrap(), None);

    // Values are kept as their JCS text.
    let value = &openings[0].value;
    let jcs_text = String::from_utf8(jcs::to_vec(value).unwrap()).unwrap();
    let probe = format!(
        "SELECT count(*) FROM vault WHERE value = '{jcs_text}' AND commitment = {}",
        env.blob(&openings[0].commitment.0.0)
    );
    assert_eq!(env.count(&probe).await, 1, "{probe}");

    // An opening that does not open its commitment is refused, and with it the whole call.
    let fresh = Opening::new(json!("新的"), [9; 16]).unwrap();
    let mut wrong = Opening::new(json!("真的"), [8; 16]).unwrap();
    wrong.value = json!("假的");
    let err = b.put_openings(&[fresh.clone(), wrong]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("do not open its commitment")),
        "{err}"
    );
    assert_eq!(b.opening(&fresh.commitment.0).await.unwrap(), None);

    // Erasure: true once, then false; the rest stays.
    let gone = openings[5].commitment.0;
    assert!(b.erase_opening(&gone).await.unwrap());
    assert!(!b.erase_opening(&gone).await.unwrap());
    assert_eq!(b.opening(&gone).await.unwrap(), None);
    assert_eq!(b.openings(None, 100).await.unwrap().len(), 6);
    // Erased, it may be put back (the log still holds its commitment).
    b.put_openings(&openings[5..6]).await.unwrap();
    assert_eq!(b.openings(None, 100).await.unwrap(), sorted);

    // A row written by hand that is not canonical JSON is Corrupt on reading, never a panic.
    let odd = Hash([0xee; 32]);
    env.sql(&format!(
        "INSERT INTO vault (commitment, salt, value) VALUES ({}, {}, '{{\"b\": 1, \"a\": 2}}')",
        env.blob(&odd.0),
        env.blob(&[0; 16])
    ))
    .await
    .unwrap();
    let err = b.opening(&odd).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("canonical")),
        "{err}"
    );
    assert!(matches!(
        b.openings(None, 100).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(b.erase_opening(&odd).await.unwrap());
    assert_eq!(b.openings(None, 100).await.unwrap(), sorted);
}

async fn a_tampered_tree_is_never_signed<E: Env>(env: E) {
    let signer = log_signer();
    let log = district_log(env.backend().await).await;
    let b = log.backend();
    let first = sign_checkpoint(b, &signer, 1).await.unwrap();
    visits(&log, 0, 5).await;
    log.close().await;

    // Rewrite the smallest subtree hash the root at the old size is made of (13 = 8 + 4 + 1: the
    // hash of leaf 12).
    let positions = merkle::tree_hash_positions(first.size).unwrap();
    let target = *positions.last().unwrap();
    assert_eq!(target, merkle::stored_hash_index(0, 12));
    env.tamper(
        "tree_hashes",
        &format!(
            "UPDATE tree_hashes SET hash = {} WHERE pos = {target}",
            env.blob(&[0xab; 32])
        ),
    )
    .await;

    let b = env.backend().await;
    let err = sign_checkpoint(&b, &signer, 2).await.unwrap_err();
    assert!(matches!(err, CheckpointingError::Inconsistent(_)), "{err}");
    let shown = err.to_string();
    assert!(
        shown.contains("bangfu verify") && shown.contains(" / "),
        "{shown}"
    );
    // Nothing was written.
    assert_eq!(
        b.checkpoints(0, 10).await.unwrap(),
        std::slice::from_ref(&first)
    );

    // A stored checkpoint edited by hand reads back as Corrupt.
    env.tamper(
        "checkpoints",
        &format!(
            "UPDATE checkpoints SET root = {} WHERE size = {}",
            env.blob(&[0xcd; 32]),
            first.size
        ),
    )
    .await;
    let err = b.latest_checkpoint().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let err = sign_checkpoint(&b, &signer, 3).await.unwrap_err();
    assert!(
        matches!(err, CheckpointingError::Store(StoreError::Corrupt(_))),
        "{err}"
    );
}

macro_rules! suite {
    ($kind:ident, $env:expr) => {
        mod $kind {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn signs_reads_back_and_pages() {
                super::signs_reads_back_and_pages($env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn no_growth_same_checkpoint_growth_extends() {
                super::no_growth_same_checkpoint_growth_extends($env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cosignatures_are_kept_in_order() {
                super::cosignatures_are_kept_in_order($env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn one_root_per_size() {
                super::one_root_per_size($env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn triggers_refuse_edits() {
                super::triggers_refuse_edits($env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_vault_keeps_pages_and_erases() {
                super::the_vault_keeps_pages_and_erases($env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_tampered_tree_is_never_signed() {
                super::a_tampered_tree_is_never_signed($env).await;
            }
        }
    };
}

suite!(sqlite, SqliteEnv(tempfile::tempdir().unwrap()));
suite!(postgres, PgEnv::new().await);
