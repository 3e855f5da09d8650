//! Tools for the tamper suite (`tests/tests/tamper.rs`): a small, fully deterministic ledger on
//! either store, and an administrator's hand on its tables.
//!
//! **Deterministic.** Statement ids, salts, `signed_at`, `recorded_at`, checkpoint times and the
//! witness's timestamp are all fixed, and Ed25519 signatures are deterministic, so two ledgers
//! built from plans that agree on their first `j` statements hold byte-identical entries `0..j`,
//! identical checkpoints and identical cosignatures up to there. That is what a forger who
//! rewrites history from entry `j` produces; the fork case builds such a second ledger.
//!
//! **The administrator.** [`Ledger::admin`] edits the tables with plain SQL the way someone with
//! the database's superuser or the SQLite file would: on PostgreSQL it disables every trigger of
//! the log's tables (`ALTER TABLE … DISABLE TRIGGER ALL`), edits, and enables them again; on
//! SQLite it drops the append-only triggers, edits, and recreates them from their stored SQL. Both
//! in one transaction, so afterwards the schema looks untouched and only the data tells.

use crate::district::{b64key, key, sign_with_id};
use bangfu_ledger::Hash;
use bangfu_ledger::cosignature::Cosigner;
use bangfu_ledger::entry::Entry;
use bangfu_ledger::merkle::{CompactRange, leaf_hash};
use bangfu_ledger::note::{Note, Signer};
use bangfu_ledger::seal::{Opening, SALT_LEN};
use bangfu_ledger::statement::{StatementId, VerifiedStatement};
use bangfu_store::backend::{Backend, StoredCheckpoint};
use bangfu_store::checkpoints::sign_checkpoint;
use bangfu_store::log::Log;
use bangfu_store::postgres::{PgBackend, TestDatabase};
use bangfu_store::sqlite::SqliteBackend;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The log's origin, as in the genesis (`district::district` uses the same).
pub const ORIGIN: &str = "bangfu.example/gulou";
/// The witness's key name.
pub const WITNESS: &str = "witness.example/w1";
/// Every entry's `recorded_at`: 2016-01-06T02:00:00Z, after the statements' `signed_at`
/// (2016-01-04) and the visits' date (2016-01-05), as the domain requires.
pub const RECORDED_AT_MS: i64 = 1_452_045_600_000;
/// When the witness cosigns (POSIX seconds): fixed, so a copied prefix carries the same line.
pub const WITNESS_TIME: u64 = 1_452_045_600;
/// Entries before the first visit: genesis, unit, program, 3 cadres with keys, 4 households with
/// pairings.
pub const SETUP: usize = 17;
/// The entry registering cadre c0's key (`register_key`, signed by the authority).
pub const C0_KEY_ENTRY: u64 = 4;
/// The first household's registration: its args hold `"members":3` and sealed values.
pub const H0_ENTRY: u64 = 9;

/// The log key (signs checkpoints). Derived from a public name: for tests only.
pub fn log_signer() -> Signer {
    Signer::new(ORIGIN, key("log")).unwrap_or_else(|e| panic!("log signer: {e}"))
}

/// The witness.
pub fn witness() -> Cosigner {
    Cosigner::new(WITNESS, key("witness")).unwrap_or_else(|e| panic!("witness: {e}"))
}

/// The witness's vkey, for `bangfu verify --witness`.
pub fn witness_vkey() -> String {
    witness().cosigner_key().to_string()
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Visits after the setup, cycling over the four households.
    pub visits: usize,
    /// From this entry index on, the statements are a forger's: other ids, other diaries.
    pub fork_from: Option<usize>,
    /// After which sizes the log signs a checkpoint, and whether the witness cosigns it.
    pub checkpoints: Vec<(u64, bool)>,
}

impl Plan {
    /// 33 entries: the setup (17) and 16 visits, a cosigned checkpoint after the setup and one
    /// at the end.
    pub fn standard() -> Plan {
        Plan {
            visits: 16,
            fork_from: None,
            checkpoints: vec![(SETUP as u64, true), ((SETUP + 16) as u64, true)],
        }
    }

    pub fn size(&self) -> u64 {
        (SETUP + self.visits) as u64
    }
}

/// 16 bytes that look random and are fixed by `what`.
fn salt(what: &str) -> [u8; SALT_LEN] {
    let h = leaf_hash(what.as_bytes());
    let mut s = [0u8; SALT_LEN];
    s.copy_from_slice(&h.0[..SALT_LEN]);
    s
}

fn seal(text: &str, what: &str) -> Opening {
    Opening::new(json!(text), salt(what)).unwrap_or_else(|e| panic!("sealing {text:?}: {e}"))
}

/// The plan's statements in log order, each with the openings of its sealed values.
pub fn statements(plan: &Plan) -> Vec<(VerifiedStatement, Vec<Opening>)> {
    struct Out {
        plan: Plan,
        all: Vec<(VerifiedStatement, Vec<Opening>)>,
    }
    impl Out {
        fn forged(&self) -> bool {
            self.plan.fork_from.is_some_and(|f| self.all.len() >= f)
        }
        fn push(
            &mut self,
            signer: &str,
            command: &str,
            target: &str,
            args: Value,
            o: Vec<Opening>,
        ) {
            let n = self.all.len() as u64;
            // Ids clear of the UUID version and variant bits (bytes 6 and 8).
            let mut b = [0u8; 16];
            b[0] = b'T';
            b[1] = u8::from(self.forged());
            b[9..16].copy_from_slice(&n.to_be_bytes()[1..]);
            let id = StatementId::from_random_bytes(b);
            self.all
                .push((sign_with_id(id, signer, command, target, args), o));
        }
    }
    let mut out = Out {
        plan: plan.clone(),
        all: Vec::new(),
    };
    let a = "authority";
    out.push(
        a,
        "genesis",
        "authority/gulou",
        json!({"origin": ORIGIN, "name": "鼓楼区委组织部", "holder": "person/org", "roles": ["coordinator"]}),
        vec![],
    );
    out.push(
        a,
        "register_unit",
        "unit/gulou",
        json!({"name": "鼓楼区", "kind": "bureau"}),
        vec![],
    );
    out.push(
        a,
        "create_program",
        "program/p2016",
        json!({"name": "结对帮扶 2016", "rules": crate::rules()}),
        vec![],
    );
    for c in 0..3 {
        out.push(
            a,
            "register_cadre",
            &format!("cadre/c{c}"),
            json!({"name": format!("干部{c}"), "unit": "gulou", "rank": "section", "party_member": true, "date": "2016-01-04"}),
            vec![],
        );
        out.push(
            a,
            "register_key",
            "authority/gulou",
            json!({"key": b64key(&format!("c{c}")), "holder": format!("cadre/c{c}"), "roles": ["cadre"]}),
            vec![],
        );
    }
    for h in 0..4 {
        let hardship = seal("透析", &format!("h{h}/hardship"));
        let id_number = seal(&format!("35010219800101{h:04}"), &format!("h{h}/id"));
        out.push(
            a,
            "register_household",
            &format!("household/h{h}"),
            json!({"address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
                   "category": "illness", "members": 3,
                   "sensitive": {"hardship": hardship.commitment.to_json(), "id_number": id_number.commitment.to_json()},
                   "date": "2016-01-04"}),
            vec![hardship, id_number],
        );
        let c = h % 3;
        out.push(
            a,
            "form_pairing",
            &format!("pairing/p2016:h{h}"),
            json!({"program": "p2016", "household": format!("h{h}"), "cadres": [format!("c{c}")], "lead": format!("c{c}"), "date": "2016-01-04"}),
            vec![],
        );
    }
    for v in 0..plan.visits {
        let h = v % 4;
        let c = h % 3;
        let (visit_id, text) = if out.forged() {
            (format!("x{v}"), format!("补记：第{v}次走访，送去米油"))
        } else {
            (format!("v{v}"), format!("第{v}次走访，了解病情"))
        };
        let diary = seal(&text, &format!("{visit_id}/diary"));
        out.push(
            &format!("c{c}"),
            "record_visit",
            &format!("pairing/p2016:h{h}"),
            json!({"visit_id": visit_id, "date": "2016-01-05", "kind": "routine", "diary": diary.commitment.to_json()}),
            vec![diary],
        );
    }
    out.all
}

/// Appends the plan through the store's one append path (with a fixed clock), keeps the openings
/// in the vault, and signs (and has the witness cosign) the planned checkpoints.
async fn build_on<B: Backend>(backend: B, plan: &Plan) {
    let log = Log::open_with_clock(backend, Box::new(|| RECORDED_AT_MS))
        .await
        .unwrap_or_else(|e| panic!("opening the log: {e}"));
    let signer = log_signer();
    for (n, (statement, openings)) in statements(plan).into_iter().enumerate() {
        let receipt = log
            .append(statement)
            .await
            .unwrap_or_else(|e| panic!("appending statement {n}: {e:?}"));
        assert_eq!(receipt.index, n as u64, "appended at the wrong index");
        log.backend()
            .put_openings(&openings)
            .await
            .unwrap_or_else(|e| panic!("keeping the openings of statement {n}: {e}"));
        if let Some((size, cosigned)) = plan.checkpoints.iter().find(|c| c.0 == n as u64 + 1) {
            let c = sign_checkpoint(log.backend(), &signer, RECORDED_AT_MS)
                .await
                .unwrap_or_else(|e| panic!("signing the checkpoint of size {size}: {e}"));
            if *cosigned {
                let line = cosignature_line(&c);
                log.backend()
                    .add_cosignature(c.size, WITNESS, &line, RECORDED_AT_MS)
                    .await
                    .unwrap_or_else(|e| panic!("storing the cosignature: {e}"));
            }
        }
    }
    log.close().await;
}

/// The witness's signature line on a checkpoint the log signed. The witness here is played by
/// the library's `Cosigner` directly: what is under test is the verifier's side.
pub fn cosignature_line(c: &StoredCheckpoint) -> String {
    let mut note =
        Note::parse(c.note.as_bytes()).unwrap_or_else(|e| panic!("the stored note: {e}"));
    witness()
        .cosign_note(&mut note, WITNESS_TIME)
        .unwrap_or_else(|e| panic!("cosigning: {e}"));
    let text = note
        .format()
        .unwrap_or_else(|e| panic!("the cosigned note: {e}"));
    text.strip_prefix(c.note.as_str())
        .unwrap_or_else(|| panic!("the cosigned note does not start with the log's note"))
        .to_owned()
}

/// Rewrites entries from `from` on through `edit` and recomputes every `prev_root` from there, so
/// the chain is internally consistent again: what a forger with write access does after changing
/// an entry. Returns the new bytes of every entry from `from` on.
pub fn rewrite(
    bodies: &[Vec<u8>],
    from: u64,
    mut edit: impl FnMut(&mut Entry),
) -> Vec<(u64, Vec<u8>)> {
    let from = from as usize;
    let mut range = CompactRange::new();
    for b in &bodies[..from] {
        range.append(leaf_hash(b));
    }
    let mut out = Vec::new();
    for (i, b) in bodies.iter().enumerate().skip(from) {
        let mut entry =
            Entry::from_bytes(b).unwrap_or_else(|e| panic!("entry {i} does not parse: {e}"));
        edit(&mut entry);
        entry.prev_root = range.root();
        let bytes = entry
            .to_bytes()
            .unwrap_or_else(|e| panic!("entry {i} has no canonical form: {e}"));
        range.append(leaf_hash(&bytes));
        out.push((i as u64, bytes));
    }
    out
}

/// Replaces every string equal to `old` anywhere inside `v`.
pub fn replace_strings(v: &mut Value, old: &str, new: &str) {
    match v {
        Value::String(s) if s == old => *s = new.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|i| replace_strings(i, old, new)),
        Value::Object(o) => o.values_mut().for_each(|i| replace_strings(i, old, new)),
        _ => {}
    }
}

/// Which store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A ledger in a store of its own, with its `ledger.json` and log key file in `dir/data`.
pub struct Ledger {
    pub engine: Engine,
    pub dir: PathBuf,
    pub db: Option<TestDatabase>,
}

/// One change an administrator makes by hand, triggers off.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Overwrites an entry's bytes (and its `leaf` column to match, as a careful forger would).
    SetBody { index: u64, body: Vec<u8> },
    /// Deletes an entry with its events and household links.
    Delete { index: u64 },
    /// Deletes every entry from `size` on, with their events and household links.
    TruncateFrom { size: u64 },
    /// Renumbers the entries after `index` down by one (closing the gap a deletion left).
    CloseGap { index: u64 },
    /// Deletes the checkpoints of at least this size and their cosignatures.
    DropCheckpointsFrom { size: u64 },
    /// Overwrites a vault row's value (JCS text).
    SetVaultValue { commitment: Hash, value: String },
}

/// A bound SQL parameter, for either engine.
enum Param {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
}

impl Edit {
    /// The edit as SQL with `$n` placeholders (PostgreSQL's; SQLite reads them as `?n`).
    fn sql(&self) -> Vec<(&'static str, Vec<Param>)> {
        let int = |i: u64| Param::Int(i64::try_from(i).expect("an index within i64"));
        match self {
            Edit::SetBody { index, body } => vec![(
                "UPDATE entries SET body = $1, leaf = $2 WHERE idx = $3",
                vec![
                    Param::Bytes(body.clone()),
                    Param::Bytes(leaf_hash(body).0.to_vec()),
                    int(*index),
                ],
            )],
            Edit::Delete { index } => vec![
                ("DELETE FROM events WHERE idx = $1", vec![int(*index)]),
                (
                    "DELETE FROM entry_households WHERE idx = $1",
                    vec![int(*index)],
                ),
                ("DELETE FROM entries WHERE idx = $1", vec![int(*index)]),
            ],
            Edit::TruncateFrom { size } => vec![
                ("DELETE FROM events WHERE idx >= $1", vec![int(*size)]),
                (
                    "DELETE FROM entry_households WHERE idx >= $1",
                    vec![int(*size)],
                ),
                ("DELETE FROM entries WHERE idx >= $1", vec![int(*size)]),
            ],
            // In two steps, so no row ever lands on an index another still holds.
            Edit::CloseGap { index } => vec![
                (
                    "UPDATE entries SET idx = idx + 1000000 WHERE idx > $1",
                    vec![int(*index)],
                ),
                (
                    "UPDATE entries SET idx = idx - 1000001 WHERE idx >= 1000000",
                    vec![],
                ),
            ],
            Edit::DropCheckpointsFrom { size } => vec![
                (
                    "DELETE FROM cosignatures WHERE size >= $1",
                    vec![int(*size)],
                ),
                ("DELETE FROM checkpoints WHERE size >= $1", vec![int(*size)]),
            ],
            Edit::SetVaultValue { commitment, value } => vec![(
                "UPDATE vault SET value = $1 WHERE commitment = $2",
                vec![
                    Param::Text(value.clone()),
                    Param::Bytes(commitment.0.to_vec()),
                ],
            )],
        }
    }
}

/// The tables whose triggers an administrator turns off.
const TABLES: &[&str] = &[
    "entries",
    "events",
    "entry_households",
    "tree_hashes",
    "checkpoints",
    "cosignatures",
    "vault",
];

/// What `bangfu verify --json` said.
#[derive(Debug)]
pub struct Verdict {
    pub code: Option<i32>,
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
}

impl Verdict {
    /// Asserts exit 0 and `"ok": true`; returns the report.
    pub fn verified(&self) -> &Value {
        assert_eq!(
            self.code,
            Some(0),
            "expected the log to verify:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        assert_eq!(self.json["ok"], true, "{}", self.stdout);
        &self.json["report"]
    }

    /// Asserts exit 1 with this failure kind at this index; returns the reason.
    pub fn failed(&self, kind: &str, index: Option<u64>) -> &str {
        assert_eq!(
            self.code,
            Some(1),
            "expected verification to fail ({kind} at {index:?}):\n{}\n{}",
            self.stdout,
            self.stderr
        );
        let f = &self.json["failure"];
        assert_eq!(self.json["ok"], false, "{}", self.stdout);
        assert_eq!(f["kind"], kind, "the failure's kind: {}", self.stdout);
        assert_eq!(
            f["index"].as_u64(),
            index,
            "the first bad index: {}",
            self.stdout
        );
        let reason = f["reason"].as_str().unwrap_or_default();
        assert!(
            !reason.is_empty(),
            "a failure without a reason: {}",
            self.stdout
        );
        reason
    }
}

/// Runs `bangfu verify --json` with these arguments.
pub async fn run_verify(args: &[String]) -> Verdict {
    let out = tokio::process::Command::new(crate::bangfu())
        .arg("verify")
        .arg("--json")
        .args(args)
        .env_remove("BANGFU_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("running bangfu verify: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    Verdict {
        code: out.status.code(),
        json,
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Ledger {
    /// An empty store (a fresh PostgreSQL database, or `dir/data/log.sqlite`) with its
    /// `ledger.json` and log key in `dir/data`.
    pub async fn create(engine: Engine, dir: &Path, name: &str) -> Ledger {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("creating {data:?}: {e}"));
        let key_file = data.join("log.key");
        bangfu_api::keyfile::write(&key_file, "log", &key("log"))
            .unwrap_or_else(|e| panic!("writing the log key: {e}"));
        let config = bangfu_api::keyfile::LedgerConfig {
            format: bangfu_api::keyfile::LEDGER_CONFIG_FORMAT.into(),
            origin: ORIGIN.into(),
            name: "鼓楼区委组织部".into(),
            authority: "authority/gulou".into(),
            authority_key: b64key("authority"),
            log_vkey: log_signer().verifier_key().to_string(),
            log_key_file: key_file,
        };
        config
            .write(&data.join(bangfu_api::keyfile::LEDGER_CONFIG_FILE))
            .unwrap_or_else(|e| panic!("writing ledger.json: {e}"));
        let db = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(
                TestDatabase::create(name)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
        };
        Ledger {
            engine,
            dir: dir.to_owned(),
            db,
        }
    }

    /// `dir/data`: the embedded store and `ledger.json`.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self) -> &str {
        &self
            .db
            .as_ref()
            .expect("a PostgreSQL ledger has a database")
            .url
    }

    /// Creates the store and builds the plan into it.
    pub async fn build(engine: Engine, dir: &Path, name: &str, plan: &Plan) -> Ledger {
        let ledger = Ledger::create(engine, dir, name).await;
        match engine {
            Engine::Sqlite => build_on(ledger.sqlite().await, plan).await,
            Engine::Postgres => build_on(ledger.postgres().await, plan).await,
        }
        ledger
    }

    async fn sqlite(&self) -> SqliteBackend {
        SqliteBackend::open(&self.data().join("log.sqlite"))
            .await
            .unwrap_or_else(|e| panic!("opening log.sqlite: {e}"))
    }

    async fn postgres(&self) -> PgBackend {
        PgBackend::connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("connecting to PostgreSQL: {e}"))
    }

    /// The arguments that name this store to `bangfu`. SQLite relies on the default config path
    /// (`<data>/ledger.json`); PostgreSQL names it.
    pub fn store_args(&self) -> Vec<String> {
        let data = self.data().display().to_string();
        match self.engine {
            Engine::Sqlite => vec!["--data".into(), data],
            Engine::Postgres => vec![
                "--database-url".into(),
                self.url().to_owned(),
                "--config".into(),
                self.data().join("ledger.json").display().to_string(),
            ],
        }
    }

    /// Runs `bangfu verify --json` on this store, with `extra` arguments.
    pub async fn verify(&self, extra: &[&str]) -> Verdict {
        let mut args = self.store_args();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        run_verify(&args).await
    }

    /// Every entry's stored bytes, in order, read through the store as `bangfu` reads them.
    pub async fn bodies(&self) -> Vec<Vec<u8>> {
        async fn read<B: Backend>(b: B) -> Vec<Vec<u8>> {
            let size = b.size().await.unwrap_or_else(|e| panic!("size: {e}"));
            b.entries(0, size as u32)
                .await
                .unwrap_or_else(|e| panic!("entries: {e}"))
                .into_iter()
                .map(|e| e.body)
                .collect()
        }
        match self.engine {
            Engine::Sqlite => read(self.sqlite().await).await,
            Engine::Postgres => read(self.postgres().await).await,
        }
    }

    /// The stored checkpoint of `size` with its cosignatures: what an inspector saves.
    pub async fn cosigned_checkpoint(&self, size: u64) -> String {
        async fn read<B: Backend>(b: B, size: u64) -> String {
            b.checkpoint(size)
                .await
                .unwrap_or_else(|e| panic!("checkpoint: {e}"))
                .unwrap_or_else(|| panic!("no checkpoint of size {size}"))
                .cosigned_note()
        }
        match self.engine {
            Engine::Sqlite => read(self.sqlite().await, size).await,
            Engine::Postgres => read(self.postgres().await, size).await,
        }
    }

    /// The vault's rows.
    pub async fn vault(&self) -> Vec<Opening> {
        async fn read<B: Backend>(b: B) -> Vec<Opening> {
            b.openings(None, 10_000)
                .await
                .unwrap_or_else(|e| panic!("openings: {e}"))
        }
        match self.engine {
            Engine::Sqlite => read(self.sqlite().await).await,
            Engine::Postgres => read(self.postgres().await).await,
        }
    }

    /// Stores openings the ordinary way (the vault takes inserts; no trigger stands in the way).
    pub async fn put_openings(&self, openings: &[Opening]) {
        match self.engine {
            Engine::Sqlite => self.sqlite().await.put_openings(openings).await,
            Engine::Postgres => self.postgres().await.put_openings(openings).await,
        }
        .unwrap_or_else(|e| panic!("put_openings: {e}"));
    }

    /// Lawful erasure of one vault row.
    pub async fn erase_opening(&self, commitment: &Hash) -> bool {
        match self.engine {
            Engine::Sqlite => self.sqlite().await.erase_opening(commitment).await,
            Engine::Postgres => self.postgres().await.erase_opening(commitment).await,
        }
        .unwrap_or_else(|e| panic!("erase_opening: {e}"))
    }

    /// Makes the edits by hand with the triggers off, in one transaction (see the module docs).
    pub async fn admin(&self, edits: &[Edit]) {
        let steps: Vec<(&str, Vec<Param>)> = edits.iter().flat_map(Edit::sql).collect();
        match self.engine {
            Engine::Sqlite => {
                let path = self.data().join("log.sqlite");
                tokio::task::spawn_blocking(move || sqlite_admin(&path, &steps))
                    .await
                    .unwrap_or_else(|e| panic!("the SQLite edit panicked: {e}"));
            }
            Engine::Postgres => postgres_admin(self.url(), &steps).await,
        }
    }
}

fn sqlite_admin(path: &Path, steps: &[(&str, Vec<Param>)]) {
    let fail = |what: &str, e: rusqlite::Error| -> ! { panic!("SQLite, {what}: {e}") };
    let mut conn = rusqlite::Connection::open(path).unwrap_or_else(|e| fail("open", e));
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_else(|e| fail("busy_timeout", e));
    // As `DISABLE TRIGGER ALL` does on PostgreSQL: the events' references to their entries are
    // not enforced while the entries are edited.
    conn.pragma_update(None, "foreign_keys", false)
        .unwrap_or_else(|e| fail("foreign_keys", e));
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap_or_else(|e| fail("begin", e));
    let triggers: Vec<(String, String)> = {
        let mut q = tx
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            .unwrap_or_else(|e| fail("listing triggers", e));
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| fail("listing triggers", e))
    };
    assert!(!triggers.is_empty(), "the store has no triggers to drop");
    for (name, _) in &triggers {
        tx.execute_batch(&format!("DROP TRIGGER \"{name}\""))
            .unwrap_or_else(|e| fail("dropping a trigger", e));
    }
    for (sql, params) in steps {
        let sql = sql.replace('$', "?");
        let bound: Vec<&dyn rusqlite::ToSql> = params
            .iter()
            .map(|p| match p {
                Param::Int(i) => i as &dyn rusqlite::ToSql,
                Param::Bytes(b) => b,
                Param::Text(t) => t,
            })
            .collect();
        tx.execute(&sql, bound.as_slice())
            .unwrap_or_else(|e| fail(&sql, e));
    }
    for (_, sql) in &triggers {
        tx.execute_batch(sql)
            .unwrap_or_else(|e| fail("recreating a trigger", e));
    }
    tx.commit().unwrap_or_else(|e| fail("commit", e));
}

async fn postgres_admin(url: &str, steps: &[(&str, Vec<Param>)]) {
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL, connect: {e}"));
    let conn = tokio::spawn(connection);
    let tx = client
        .transaction()
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL, begin: {e}"));
    for t in TABLES {
        tx.batch_execute(&format!("ALTER TABLE {t} DISABLE TRIGGER ALL"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL, disabling the triggers of {t}: {e}"));
    }
    for (sql, params) in steps {
        let bound: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| match p {
                Param::Int(i) => i as &(dyn tokio_postgres::types::ToSql + Sync),
                Param::Bytes(b) => b,
                Param::Text(t) => t,
            })
            .collect();
        tx.execute(*sql, &bound)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL, {sql}: {e}"));
    }
    for t in TABLES {
        tx.batch_execute(&format!("ALTER TABLE {t} ENABLE TRIGGER ALL"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL, enabling the triggers of {t}: {e}"));
    }
    tx.commit()
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL, commit: {e}"));
    drop(client);
    let _ = conn.await;
}

/// The byte offset of `needle` in the entry's statement (entries' members are sorted, so
/// `statement` comes after `events`: a match after `"statement":` is in the signed part).
pub fn in_statement(body: &[u8], needle: &str) -> usize {
    let start = find(body, "\"statement\":", 0);
    find(body, needle, start)
}

/// The byte offset of `needle` in the entry's events (before `"statement":`).
pub fn in_events(body: &[u8], needle: &str) -> usize {
    let at = find(body, needle, find(body, "\"events\":", 0));
    assert!(
        at < find(body, "\"statement\":", 0),
        "{needle:?} is not in the events"
    );
    at
}

fn find(body: &[u8], needle: &str, from: usize) -> usize {
    body[from..]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|p| p + from)
        .unwrap_or_else(|| panic!("{needle:?} not found in {}", String::from_utf8_lossy(body)))
}
