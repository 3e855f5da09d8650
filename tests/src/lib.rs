//! # bangfu-tests: end-to-end tests
//!
//! The tests in `tests/tests/` start the real `bangfu` binary (`bangfu serve`) against a fresh
//! PostgreSQL database each, and talk to it over HTTP as a client would: statements signed with
//! Ed25519 keys, reads signed as requests.
//!
//! **How the binary is found.** Cargo does not build another package's binaries for a test, and
//! `CARGO_BIN_EXE_*` exists only inside the package that owns the binary. `cargo test --workspace`
//! does build `<target dir>/debug/bangfu` (bangfu-api has integration tests), before any test
//! runs; [`bangfu`] uses it when it is newer than every source file, and otherwise (say,
//! `cargo test -p bangfu-tests` alone after an edit) runs `cargo build -p bangfu-api --bin bangfu`
//! once per test process.
//!
//! PostgreSQL: `BANGFU_TEST_DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`
//! (see `bangfu_store::postgres::TestDatabase`); a test fails, never skips, without it.

#[path = "../../store/src/bin/fault_appender/district.rs"]
pub mod district;
pub mod tamper;

use bangfu_ledger::jcs;
use bangfu_ledger::signature::PublicKey;
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use bangfu_store::postgres::TestDatabase;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use district::{b64key, fresh_id, key, sealed};

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    bangfu_api::service::system_clock()
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The newest modification time of the sources the binary is built from.
fn newest_source() -> std::time::SystemTime {
    fn walk(path: &std::path::Path, newest: &mut std::time::SystemTime) {
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                walk(&e.path(), newest);
            }
        } else if let Ok(m) = std::fs::metadata(path).and_then(|m| m.modified()) {
            *newest = (*newest).max(m);
        }
    }
    let root = workspace();
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for krate in ["ledger", "domain", "store", "projections", "inspect", "api"] {
        walk(&root.join(krate).join("src"), &mut newest);
        walk(&root.join(krate).join("Cargo.toml"), &mut newest);
    }
    walk(&root.join("Cargo.toml"), &mut newest);
    walk(&root.join("Cargo.lock"), &mut newest);
    newest
}

/// The `bangfu` binary (see the crate documentation): the one `cargo test --workspace` has just
/// built when it is newer than every source, else built now, once per test process. Building it
/// here only when needed matters: a nested `cargo build` unifies features differently from the
/// outer `cargo test` and would rebuild the whole dependency tree.
pub fn bangfu() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace().join("target"));
            let binary = target.join("debug").join("bangfu");
            let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
            if built.is_some_and(|b| b >= newest_source()) {
                return binary;
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "--quiet", "-p", "bangfu-api", "--bin", "bangfu"])
                .current_dir(workspace())
                .status()
                .expect("could not run cargo to build the bangfu binary");
            assert!(status.success(), "cargo build -p bangfu-api failed");
            binary
        })
        .clone()
}

/// A statement signed now by the named test key (`district::key`), as the bytes a client sends.
pub fn statement(signer: &str, command: &str, target: &str, args: Value) -> Vec<u8> {
    statement_with(fresh_id(), now_ms(), signer, command, target, args)
}

/// A statement with a chosen id and `signed_at`.
pub fn statement_with(
    id: StatementId,
    signed_at_ms: i64,
    signer: &str,
    command: &str,
    target: &str,
    args: Value,
) -> Vec<u8> {
    let sk = key(signer);
    let body = Body {
        id,
        command: CommandName::parse(command).expect("a command name"),
        target: Target::parse(target).expect("a target"),
        args: args.as_object().cloned().expect("args are an object"),
        signed_at: Timestamp::from_unix_millis(signed_at_ms).expect("a time"),
        key: PublicKey::from(&sk),
    };
    let st = Statement::sign(body, &sk).expect("signable");
    jcs::to_vec(&st.to_json()).expect("canonical")
}

/// A running `bangfu serve` over its own fresh PostgreSQL database.
pub struct Service {
    child: Child,
    pub base: String,
    pub db: TestDatabase,
    http: reqwest::Client,
}

/// An answer: the status and the JSON body (`Null` when the body is not JSON).
pub type Answer = (u16, Value);

impl Service {
    /// Starts the service over a fresh, empty ledger and waits until it listens.
    pub async fn start(name: &str) -> Service {
        let db = TestDatabase::create(name)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(bangfu())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--shutdown-grace",
                "5",
            ])
            .env("BANGFU_DATABASE_URL", &db.url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("bangfu serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    eprintln!("serve: {line}");
                    continue;
                };
                if v["message"] == "serving" {
                    return v["address"].as_str().map(str::to_owned);
                }
                eprintln!("serve: {line}");
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("bangfu serve said where it listens within a minute");
        // Keep draining its log, or the pipe fills and the service blocks.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if std::env::var_os("BANGFU_TEST_SERVE_LOG").is_some() {
                    eprintln!("serve: {line}");
                }
            }
        });
        Service {
            child,
            base: format!("http://{address}"),
            db,
            http: reqwest::Client::new(),
        }
    }

    async fn answer(r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// POSTs a statement's bytes.
    pub async fn post(&self, body: Vec<u8>) -> Answer {
        let r = self
            .http
            .post(format!("{}/v1/statements", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the service answers");
        Self::answer(r).await
    }

    /// POSTs a statement that must be accepted; returns its receipt.
    pub async fn append(&self, body: Vec<u8>) -> Value {
        let (status, v) = self.post(body).await;
        assert_eq!(status, 201, "not appended: {v}");
        v
    }

    /// GETs with an optional `Authorization` header, as given.
    pub async fn get_with(&self, path_and_query: &str, authorization: Option<String>) -> Answer {
        let mut req = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        Self::answer(req.send().await.expect("the service answers")).await
    }

    /// GETs unsigned.
    pub async fn get(&self, path_and_query: &str) -> Answer {
        self.get_with(path_and_query, None).await
    }

    /// GETs signed now by the named test key.
    pub async fn get_as(&self, signer: &str, path_and_query: &str) -> Answer {
        let auth =
            bangfu_api::service::auth::authorization(&key(signer), "GET", path_and_query, now_ms());
        self.get_with(path_and_query, Some(auth)).await
    }

    /// The log's size, from the public tree head.
    pub async fn size(&self) -> u64 {
        let (status, v) = self.get("/v1/tree-head").await;
        assert_eq!(status, 200, "{v}");
        v["size"].as_u64().expect("a size")
    }

    /// Waits until the read models reflect the whole log (they follow within about a second).
    pub async fn caught_up(&self) {
        let size = self.size().await;
        for _ in 0..200 {
            let (status, v) = self.get("/readyz").await;
            if status == 200 && v["read_models"].as_u64() == Some(size) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the read models did not reach {size} entries within 10 s");
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling our own child by its id.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the service exits within 30 s of SIGTERM")
            .expect("wait");
        status.code()
    }
}

/// The program's rules used throughout (Gulou's: one visit a quarter).
pub fn rules() -> Value {
    json!({
        "min_visits_per_quarter": 1, "festivals": [], "spot_check_per_mille": 100,
        "late_after_days": 7,
        "weights": {"visits": 40, "acknowledged_help": 20, "requests": 20, "funds": 10,
                    "spot_checks": 10, "late_penalty": 2, "dispute_penalty": 5}
    })
}

/// Sets up a small district over HTTP and returns the log's size: the authority (coordinator,
/// key `authority`), unit `gulou`, program `p2016`, cadres `c0`/`c1` (keys `c0`/`c1`), households
/// `h0`/`h1` (cards `card-h0`/`card-h1`) paired `h0–c0` and `h1–c1`, an inspector (`inspector`),
/// an evaluator (`evaluator`), a fund manager (`manager`) with fund `f1`, and a revoked
/// coordinator key (`revoked`).
pub async fn setup_district(s: &Service) -> u64 {
    let a = "authority";
    let reg_key = |k: &str, holder: &str, role: &str| {
        statement(
            a,
            "register_key",
            "authority/gulou",
            json!({"key": b64key(k), "holder": holder, "roles": [role]}),
        )
    };
    let mut all = vec![
        statement(
            a,
            "genesis",
            "authority/gulou",
            json!({"origin": "bangfu.example/gulou", "name": "鼓楼区委组织部", "holder": "person/org", "roles": ["coordinator"]}),
        ),
        statement(
            a,
            "register_unit",
            "unit/gulou",
            json!({"name": "鼓楼区", "kind": "bureau"}),
        ),
        statement(
            a,
            "create_program",
            "program/p2016",
            json!({"name": "结对帮扶 2016", "rules": rules()}),
        ),
    ];
    for c in ["c0", "c1"] {
        all.push(statement(
            a,
            "register_cadre",
            &format!("cadre/{c}"),
            json!({"name": format!("干部{c}"), "unit": "gulou", "rank": "section", "party_member": true, "date": "2016-01-04"}),
        ));
        all.push(reg_key(c, &format!("cadre/{c}"), "cadre"));
    }
    for (h, c) in [("h0", "c0"), ("h1", "c1")] {
        all.push(statement(
            a,
            "register_household",
            &format!("household/{h}"),
            json!({"address": {"district": "鼓楼区", "street": "华林街道", "community": "乌山社区"},
                   "category": "illness", "members": 3,
                   "sensitive": {"hardship": sealed("透析"), "id_number": sealed("350102")},
                   "date": "2016-01-04"}),
        ));
        all.push(statement(
            a,
            "form_pairing",
            &format!("pairing/p2016:{h}"),
            json!({"program": "p2016", "household": h, "cadres": [c], "lead": c, "date": "2016-01-04"}),
        ));
        all.push(reg_key(
            &format!("card-{h}"),
            &format!("household/{h}"),
            "household",
        ));
    }
    all.push(reg_key("inspector", "person/insp", "inspector"));
    all.push(reg_key("evaluator", "person/eval", "evaluator"));
    all.push(reg_key("manager", "person/mgr", "fund_manager"));
    all.push(statement(
        a,
        "create_fund",
        "fund/f1",
        json!({"name": "鼓楼区帮扶基金", "kind": "unit_pool", "unit": "gulou", "manager": "person/mgr"}),
    ));
    all.push(reg_key("revoked", "person/rev", "coordinator"));
    all.push(statement(
        a,
        "revoke_key",
        "authority/gulou",
        json!({"key": b64key("revoked"), "reason": "调离 / left the post"}),
    ));
    for st in all {
        s.append(st).await;
    }
    s.size().await
}
