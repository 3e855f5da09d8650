//! The witness and the service's checkpoints, through the real `bangfu` binary over real HTTP:
//! `bangfu witness serve` cosigns from 0, then only from the size it holds with a consistency
//! proof that verifies, refuses (409, 422, 403, 404, 400) as C2SP tlog-witness says, keeps its
//! state across a restart, and lets only one of two racing requests advance; `bangfu serve` with a
//! ledger config signs checkpoints as the log grows and has the witness cosign them, and
//! `bangfu checkpoint` does the same on demand, on SQLite and PostgreSQL.

use bangfu_api::keyfile::{self, LedgerConfig};
use bangfu_api::witness::{ClientError, WitnessEndpoint, add_checkpoint};
use bangfu_ledger::Hash;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::{self, CosignerKey};
use bangfu_ledger::merkle::{CompactRange, consistency_proof, leaf_hash};
use bangfu_ledger::note::{Note, Signer, VerifierKey};
use bangfu_ledger::tlog_proof::format_consistency_proof;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
mod common;

use common::{bangfu_in as bangfu, ok_in as ok, text};

/// A `bangfu` server running in the background (`serve` or `witness serve` with JSON log lines),
/// killed when dropped.
struct Running {
    child: Child,
    /// `http://<address>`.
    url: String,
    /// The "serving" log line.
    serving: Value,
}

impl Running {
    fn start(dir: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bangfu"))
            .current_dir(dir)
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .env_remove("BANGFU_DATABASE_URL")
            .env("BANGFU_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let name = args.first().copied().unwrap_or_default().to_owned();
        // Read its log for the "serving" line, then keep draining so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("BANGFU_TEST_SERVE_LOG").is_some() {
                    eprintln!("{name}: {line}");
                }
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["message"] == "serving" {
                        let _ = tx.send(Ok(v));
                    }
                } else {
                    let _ = tx.send(Err(line));
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Ok(serving)) => {
                    let url = format!("http://{}", serving["address"].as_str().unwrap());
                    return Running {
                        child,
                        url,
                        serving,
                    };
                }
                Ok(Err(line)) => eprintln!("{line}"),
                Err(_) => {
                    let _ = child.kill();
                    panic!("bangfu {args:?} did not start serving within a minute");
                }
            }
        }
    }

    /// SIGTERM, as a service manager stops it; returns whether it exited cleanly within 30 s.
    fn stop(mut self) -> bool {
        // SAFETY: signals our own child, whose pid we hold.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends only the head of a POST that announces a `length`-byte body, and reads the answer. A
/// server that refuses the size without reading the body answers at once; sending the body too
/// would race its closing the connection (a broken pipe instead of the answer).
fn post_announcing(url: &str, length: usize) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).expect("connect to the witness");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// POSTs a raw body; returns status, content type and body.
fn post(url: &str, body: &[u8]) -> (u16, String, String) {
    let mut r = agent().post(url).send(body).unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        r.status().as_u16(),
        ct,
        r.body_mut().read_to_string().unwrap(),
    )
}

fn get(url: &str) -> (u16, String, String) {
    let mut r = agent().get(url).call().unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        r.status().as_u16(),
        ct,
        r.body_mut().read_to_string().unwrap(),
    )
}

/// A tree of leaves `<salt>0`, `<salt>1`, … with every stored hash (for proofs) and every root.
struct Tree {
    hashes: Vec<Hash>,
    roots: Vec<Hash>,
}

fn tree(n: u64, salt: &str) -> Tree {
    let mut range = CompactRange::new();
    let mut t = Tree {
        hashes: Vec::new(),
        roots: vec![Hash::empty_root()],
    };
    for i in 0..n {
        t.hashes.extend(
            range
                .append(leaf_hash(format!("{salt}{i}").as_bytes()))
                .iter()
                .map(|h| h.hash),
        );
        t.roots.push(range.root());
    }
    t
}

/// The same first `common` leaves as `tree(n, salt)`, then other ones.
fn fork(n: u64, salt: &str, common: u64) -> Tree {
    let mut range = CompactRange::new();
    let mut t = Tree {
        hashes: Vec::new(),
        roots: vec![Hash::empty_root()],
    };
    for i in 0..n {
        let leaf = if i < common {
            format!("{salt}{i}")
        } else {
            format!("fork{i}")
        };
        t.hashes.extend(
            range
                .append(leaf_hash(leaf.as_bytes()))
                .iter()
                .map(|h| h.hash),
        );
        t.roots.push(range.root());
    }
    t
}

fn signed(log: &Signer, size: u64, root: Hash) -> String {
    Checkpoint::new(log.name(), size, root)
        .sign(log)
        .unwrap()
        .format()
        .unwrap()
}

fn request(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    format!("old {old}\n{}\n{note}", format_consistency_proof(proof)).into_bytes()
}

/// The witness's cosignature on `note` verifies under its vkey.
fn assert_cosigned(note: &str, line: &str, witness: &CosignerKey) {
    let cosigned = Note::parse(format!("{note}{line}").as_bytes()).unwrap();
    let got = cosignature::verify(&cosigned, std::slice::from_ref(witness)).unwrap();
    assert_eq!(got.len(), 1, "{line}");
}

/// One bilingual line: Chinese, " / ", English.
fn assert_explained(body: &str) {
    assert!(
        body.ends_with('\n') && body.matches('\n').count() == 1 && body.contains(" / "),
        "not one bilingual line: {body:?}"
    );
}

fn witness_init(dir: &Path, name: &str) -> CosignerKey {
    let out: Value = serde_json::from_str(&ok(
        dir,
        &[
            "witness", "init", "--key", "w.key", "--name", name, "--json",
        ],
    ))
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("w.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let vkey = CosignerKey::parse(out["vkey"].as_str().unwrap()).unwrap();
    // `vkey` prints the same key from the file.
    assert_eq!(
        ok(dir, &["witness", "vkey", "--key", "w.key"]).trim(),
        vkey.to_string()
    );
    vkey
}

#[test]
fn the_witness_cosigns_only_consistent_growth_and_remembers_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let witness_key = witness_init(dir, "witness.test/w1");
    let log = Signer::new("bangfu.example/w", keyfile::generate().unwrap()).unwrap();
    let log_vkey = log.verifier_key().to_string();
    let serve = [
        "witness",
        "serve",
        "--key",
        "w.key",
        "--state",
        "state.json",
        "--log",
        &log_vkey,
    ];
    let w = Running::start(dir, &serve);
    let add = format!("{}/add-checkpoint", w.url);
    let endpoint = WitnessEndpoint {
        url: w.url.clone(),
        key: witness_key.clone(),
    };

    // GET / names the witness's vkey and the log it follows.
    let (status, _, about) = get(&format!("{}/", w.url));
    assert_eq!(status, 200);
    assert_eq!(
        about,
        format!("{witness_key}\nlog bangfu.example/w\n"),
        "{about}"
    );

    // First cosignature: from 0, empty proof.
    let t = tree(20, "a");
    let n3 = signed(&log, 3, t.roots[3]);
    let line = endpoint.cosign(0, &[], &n3).unwrap();
    assert_cosigned(&n3, &line, &witness_key);

    // Next from the cosigned size, with a real consistency proof.
    let n7 = signed(&log, 7, t.roots[7]);
    let p37 = consistency_proof(3, 7, &t.hashes).unwrap();
    let (status, ct, body) = post(&add, &request(3, &p37, &n7));
    assert_eq!(status, 200, "{body}");
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert_cosigned(&n7, &body, &witness_key);

    // A stale old size: 409 with the size the witness holds, as text/x.tlog.size.
    let n9 = signed(&log, 9, t.roots[9]);
    let (status, ct, body) = post(&add, &request(3, &p37, &n9));
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "7\n")
    );
    assert_eq!(
        add_checkpoint(&w.url, 0, &[], &n9),
        Err(ClientError::Conflict(7))
    );

    // A tampered proof: 422, and nothing moves.
    let mut bad = consistency_proof(7, 9, &t.hashes).unwrap();
    bad[0].0[0] ^= 1;
    let (status, _, body) = post(&add, &request(7, &bad, &n9));
    assert_eq!(status, 422, "{body}");
    assert_explained(&body);
    // Too short a proof is no better.
    let (status, _, _) = post(&add, &request(7, &[], &n9));
    assert_eq!(status, 422);

    // Signed by another key with the log's origin: 403.
    let impostor = Signer::new("bangfu.example/w", keyfile::generate().unwrap()).unwrap();
    let forged = signed(&impostor, 9, t.roots[9]);
    let p79 = consistency_proof(7, 9, &t.hashes).unwrap();
    let (status, _, body) = post(&add, &request(7, &p79, &forged));
    assert_eq!(status, 403, "{body}");
    assert_explained(&body);

    // A log the witness does not follow: 404. Old after new, and garbage: 400.
    let stranger = Signer::new("elsewhere.example", keyfile::generate().unwrap()).unwrap();
    let (status, _, body) = post(&add, &request(0, &[], &signed(&stranger, 1, t.roots[1])));
    assert_eq!(status, 404, "{body}");
    assert_explained(&body);
    for (body, want) in [
        (request(10, &[], &n9), 400),
        (b"old 7\n".to_vec(), 400),
        (b"hello".to_vec(), 400),
        (vec![0xff; 100], 400),
    ] {
        let (status, _, answer) = post(&add, &body);
        assert_eq!(status, want, "{answer}");
        assert_explained(&answer);
    }
    // An oversized body is refused before it is read: announced, never sent.
    let (status, answer) = post_announcing(&add, 2 << 20);
    assert_eq!(status, 413, "{answer}");
    assert_explained(&answer);
    // Other routes and methods say what exists.
    assert_eq!(get(&format!("{}/nothing", w.url)).0, 404);
    assert_eq!(get(&add).0, 405);

    // The real extension still works after all those refusals.
    let (status, _, body) = post(&add, &request(7, &p79, &n9));
    assert_eq!(status, 200, "{body}");
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["logs"]["bangfu.example/w"]["size"], 9);
    assert_eq!(
        state["logs"]["bangfu.example/w"]["root"],
        t.roots[9].to_base64()
    );

    // Kill the witness outright (no graceful stop): the state on disk is what it answered from.
    drop(w);
    let w = Running::start(dir, &serve);
    let add = format!("{}/add-checkpoint", w.url);
    // Still at 9.
    assert_eq!(
        add_checkpoint(&w.url, 0, &[], &n3),
        Err(ClientError::Conflict(9))
    );
    // A fork: the same first 8 leaves, then others; its proof from 9 cannot reach the cosigned
    // root, so it is refused however well it is signed.
    let f = fork(12, "a", 8);
    let forked = signed(&log, 12, f.roots[12]);
    let p = consistency_proof(9, 12, &f.hashes).unwrap();
    let (status, _, body) = post(&add, &request(9, &p, &forked));
    assert_eq!(status, 422, "{body}");
    // The fork at the cosigned size itself: 409 (same size, another root).
    let (status, ct, body) = post(&add, &request(9, &[], &signed(&log, 9, f.roots[9])));
    assert_eq!(
        (status, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "9\n")
    );
    // Asking again for the cosigned checkpoint is fine (a log that lost the answer retries).
    let (status, _, body) = post(&add, &request(9, &[], &n9));
    assert_eq!(status, 200, "{body}");
    assert_cosigned(&n9, &body, &witness_key);

    // Two requests race from size 9 to different (both honest) sizes: one wins, the other is told
    // the new size; they can never both advance from 9.
    let racers: Vec<_> = [14u64, 16]
        .into_iter()
        .map(|n| {
            let note = signed(&log, n, t.roots[n as usize]);
            let proof = consistency_proof(9, n, &t.hashes).unwrap();
            let add = add.clone();
            std::thread::spawn(move || post(&add, &request(9, &proof, &note)))
        })
        .collect();
    let answers: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let won: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
    let lost: Vec<_> = answers.iter().filter(|a| a.0 == 409).collect();
    assert_eq!((won.len(), lost.len()), (1, 1), "{answers:?}");
    assert!(
        ["14\n", "16\n"].contains(&lost[0].2.as_str()),
        "{answers:?}"
    );

    // A second witness process on the same state file is refused.
    let second = bangfu(dir, &[&serve[..], &["--listen", "127.0.0.1:0"]].concat());
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("another process"),
        "{}",
        text(&second.stderr)
    );
    assert!(w.stop(), "the witness stops cleanly on SIGTERM");

    // Offline: `bangfu witness cosign` decides with the same rules and the same state.
    let held: u64 = state_size(dir);
    let n20 = signed(&log, 20, t.roots[20]);
    let p = consistency_proof(held, 20, &t.hashes).unwrap();
    std::fs::write(dir.join("req"), request(held, &p, &n20)).unwrap();
    let cosign = [
        "witness",
        "cosign",
        "--key",
        "w.key",
        "--state",
        "state.json",
        "--log",
        &log_vkey,
        "--request",
        "req",
    ];
    let line = ok(dir, &cosign);
    assert_cosigned(&n20, &line, &witness_key);
    let again = bangfu(dir, &cosign);
    // The request's old size is now stale.
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("HTTP 409"),
        "{}",
        text(&again.stderr)
    );
}

fn state_size(dir: &Path) -> u64 {
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    state["logs"]["bangfu.example/w"]["size"].as_u64().unwrap()
}

const INIT: &[&str] = &[
    "init",
    "--origin",
    "bangfu.example/qinghe",
    "--name",
    "清河区委组织部",
    "--holder",
    "person/org-dept",
    "--new-keys",
    "keys",
    "--json",
];

/// Registers a fresh key through `bangfu submit` (to a service with `to`, else the local store).
fn register(dir: &Path, store: &[&str], n: u32) {
    let key = format!("k{n}.key");
    ok(dir, &["keygen", "--out", &key, "--json"]);
    let public: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(&key)).unwrap()).unwrap();
    let args = json!({"key": public["public_key"], "holder": format!("person/p{n}"), "roles": ["inspector"]});
    ok(
        dir,
        &[
            &[
                "submit",
                "--key",
                "keys/authority.key",
                "--command",
                "register_key",
                "--target",
                "authority/qinghe",
                "--args",
                &args.to_string(),
                "--json",
            ][..],
            store,
        ]
        .concat(),
    );
}

/// Opens a cosigned checkpoint note: the log's signature under its vkey, and the witnesses'.
fn open(note: &str, log: &VerifierKey, witnesses: &[CosignerKey]) -> (Checkpoint, usize) {
    let (checkpoint, note) = Checkpoint::open(note.as_bytes(), log).unwrap();
    let cosigned = cosignature::verify(&note, witnesses).unwrap();
    (checkpoint, cosigned.len())
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "{what}: not within a minute");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_service_signs_checkpoints_as_the_log_grows_and_witnesses_cosign_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &[INIT, &["--data", "data"]].concat());
    let config = LedgerConfig::read(&dir.join("data/ledger.json")).unwrap();
    let log_vkey = VerifierKey::parse(&config.log_vkey).unwrap();
    let witness_key = witness_init(dir, "witness.test/w1");
    let w = Running::start(
        dir,
        &[
            "witness",
            "serve",
            "--key",
            "w.key",
            "--state",
            "state.json",
            "--log",
            &config.log_vkey,
        ],
    );
    // A second witness that is down: logged each round, never in the way.
    let down = bangfu_ledger::cosignature::Cosigner::new(
        "witness.test/down",
        keyfile::generate().unwrap(),
    )
    .unwrap();
    let witness_arg = format!("{}={witness_key}", w.url);
    let down_arg = format!("http://127.0.0.1:9={}", down.cosigner_key());
    let s = Running::start(
        dir,
        &[
            "serve",
            "--data",
            "data",
            "--checkpoint-every",
            "1",
            "--witness",
            &witness_arg,
            "--witness",
            &down_arg,
        ],
    );
    let said = s.serving["checkpoints"].as_str().unwrap_or_default();
    assert!(
        said.contains("every 1 s") && said.contains("witness.test/w1"),
        "{}",
        s.serving
    );

    // The genesis alone is signed and cosigned within a round or two.
    let first = poll("a cosigned checkpoint of size 1", || {
        let (status, ct, note) = get(&format!("{}/v1/checkpoint", s.url));
        (status == 200 && note.contains("witness.test/w1")).then(|| {
            assert!(ct.starts_with("text/plain"), "{ct}");
            note
        })
    });
    let (c, n) = open(&first, &log_vkey, std::slice::from_ref(&witness_key));
    assert_eq!((c.size, n), (1, 1));

    // The log grows through the service; the next checkpoint extends the first, cosigned too.
    for n in 0..3 {
        register(dir, &["--to", &s.url], n);
    }
    let latest = poll("a cosigned checkpoint of size 4", || {
        let (status, _, note) = get(&format!("{}/v1/checkpoint", s.url));
        (status == 200
            && note.starts_with("bangfu.example/qinghe\n4\n")
            && note.contains("witness.test/w1"))
        .then_some(note)
    });
    let (c4, n) = open(&latest, &log_vkey, std::slice::from_ref(&witness_key));
    assert_eq!((c4.size, n), (4, 1));
    let (_, _, head) = get(&format!("{}/v1/tree-head?size=4", s.url));
    let head: Value = serde_json::from_str(&head).unwrap();
    assert_eq!(head["root"], c4.root.to_base64());

    // A tlog-proof of entry 2 against that checkpoint, served publicly, checks offline with
    // nothing but the log's vkey; past the checkpoint there is nothing signed to prove against.
    let (status, ct, proof) = get(&format!("{}/v1/proofs/tlog?index=2", s.url));
    assert_eq!(status, 200, "{proof}");
    assert!(ct.starts_with("text/plain"), "{ct}");
    let proof = bangfu_ledger::tlog_proof::TlogProof::parse(proof.as_bytes()).unwrap();
    let (_, _, entry) = get(&format!("{}/v1/entries/2", s.url));
    let entry: Value = serde_json::from_str(&entry).unwrap();
    let bytes = bangfu_ledger::jcs::to_vec(&entry["data"]["entry"]).unwrap();
    let leaf = bangfu_ledger::merkle::leaf_hash(&bytes);
    let proven = bangfu_ledger::tlog_proof::verify(&proof, &leaf, &log_vkey).unwrap();
    assert_eq!(proven.size, 4);
    let (status, _, body) = get(&format!("{}/v1/proofs/tlog?index=4&size=4", s.url));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not covered"), "{body}");

    // The list holds both, smallest first, with who cosigned; pages by `from`.
    let (status, _, list) = get(&format!("{}/v1/checkpoints?limit=1", s.url));
    assert_eq!(status, 200, "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["data"][0]["size"], 1);
    assert_eq!(list["data"][0]["witnesses"], json!(["witness.test/w1"]));
    assert_eq!(list["next"], "2");
    let (_, _, rest) = get(&format!("{}/v1/checkpoints?from=2", s.url));
    let rest: Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(rest["data"][0]["size"], 4);
    assert_eq!(rest["data"][0]["note"], latest);
    assert_eq!(rest["next"], Value::Null);
    let (status, _, bad) = get(&format!("{}/v1/checkpoints?limit=0", s.url));
    assert_eq!(status, 400, "{bad}");

    // On demand: only a coordinator (the authority's role) may ask.
    let (status, _, body) = post(&format!("{}/v1/checkpoints", s.url), b"");
    assert_eq!(status, 401, "{body}");
    let sign_as = |key: &str| {
        let k = keyfile::read(&dir.join(key)).unwrap();
        let ts = bangfu_api::service::system_clock();
        let auth = bangfu_api::service::auth::authorization(&k.key, "POST", "/v1/checkpoints", ts);
        let mut r = agent()
            .post(&format!("{}/v1/checkpoints", s.url))
            .header("authorization", &auth)
            .send_empty()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap())
    };
    let (status, body) = sign_as("k0.key");
    assert_eq!(status, 403, "{body}");
    let (status, body) = sign_as("keys/authority.key");
    assert_eq!(status, 200, "{body}");
    let round: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(round["checkpoint"]["size"], 4);
    let statuses: Vec<(&str, &str)> = round["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["witness"].as_str().unwrap(),
                w["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("witness.test/w1", "already"),
            ("witness.test/down", "failed")
        ]
    );
    assert!(s.stop(), "the service stops cleanly on SIGTERM");

    // `bangfu checkpoint` on the local store: the log grew by one; the witness extends to it.
    register(dir, &["--data", "data"], 3);
    let out: Value = serde_json::from_str(&ok(
        dir,
        &[
            "checkpoint",
            "--data",
            "data",
            "--witness",
            &witness_arg,
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(out["checkpoint"]["size"], 5);
    assert_eq!(out["witnesses"][0]["status"], "cosigned");
    let (c5, n) = open(
        out["checkpoint"]["note"].as_str().unwrap(),
        &log_vkey,
        std::slice::from_ref(&witness_key),
    );
    assert_eq!((c5.size, n), (5, 1));
    // Plain output is the cosigned note itself; nothing new to sign, nothing new to ask.
    let note = ok(dir, &["checkpoint", "--data", "data"]);
    assert_eq!(note, out["checkpoint"]["note"].as_str().unwrap());
    drop(w);
}

#[test]
fn without_a_config_the_service_signs_nothing_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The config goes elsewhere, so <data>/ledger.json does not exist.
    ok(
        dir,
        &[INIT, &["--data", "data", "--config", "cfg/ledger.json"]].concat(),
    );
    let s = Running::start(dir, &["serve", "--data", "data"]);
    let said = s.serving["checkpoints"].as_str().unwrap_or_default();
    assert!(said.contains("signs no checkpoints"), "{}", s.serving);
    let (status, _, body) = get(&format!("{}/v1/checkpoint", s.url));
    assert_eq!(status, 404, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "no_checkpoint");
    let k = keyfile::read(&dir.join("keys/authority.key")).unwrap();
    let auth = bangfu_api::service::auth::authorization(
        &k.key,
        "POST",
        "/v1/checkpoints",
        bangfu_api::service::system_clock(),
    );
    let mut r = agent()
        .post(&format!("{}/v1/checkpoints", s.url))
        .header("authorization", &auth)
        .send_empty()
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let body: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "no_log_key");
    drop(s);

    // --witness without a config is a mistake, said before anything starts.
    let out = bangfu(
        dir,
        &[
            "serve",
            "--data",
            "data",
            "--witness",
            &format!(
                "http://127.0.0.1:9={}",
                bangfu_ledger::cosignature::Cosigner::new("w", keyfile::generate().unwrap())
                    .unwrap()
                    .cosigner_key()
            ),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--config"),
        "{}",
        text(&out.stderr)
    );
    // With the config named, `bangfu checkpoint` signs.
    let note = ok(
        dir,
        &[
            "checkpoint",
            "--data",
            "data",
            "--config",
            "cfg/ledger.json",
        ],
    );
    assert!(note.starts_with("bangfu.example/qinghe\n1\n"), "{note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bangfu_checkpoint_on_postgresql_gathers_a_cosignature() {
    let db = bangfu_store::postgres::TestDatabase::create("witness_cp")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = db.url.clone();
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().to_owned();
    let blocking = tokio::task::spawn_blocking(move || {
        let dir = dir.as_path();
        ok(
            dir,
            &[INIT, &["--database-url", &url, "--config", "ledger.json"]].concat(),
        );
        let config = LedgerConfig::read(&dir.join("ledger.json")).unwrap();
        let witness_key = witness_init(dir, "witness.test/pg");
        let w = Running::start(
            dir,
            &[
                "witness",
                "serve",
                "--key",
                "w.key",
                "--state",
                "state.json",
                "--log",
                &config.log_vkey,
            ],
        );
        let witness_arg = format!("{}={witness_key}", w.url);
        let store = ["--database-url", url.as_str(), "--config", "ledger.json"];
        let mut sizes = Vec::new();
        for n in 0..2 {
            register(dir, &["--database-url", &url], n);
            let out: Value = serde_json::from_str(&ok(
                dir,
                &[
                    &["checkpoint", "--witness", &witness_arg, "--json"][..],
                    &store,
                ]
                .concat(),
            ))
            .unwrap();
            assert_eq!(out["witnesses"][0]["status"], "cosigned", "{out}");
            let (c, k) = open(
                out["checkpoint"]["note"].as_str().unwrap(),
                &VerifierKey::parse(&config.log_vkey).unwrap(),
                std::slice::from_ref(&witness_key),
            );
            assert_eq!(k, 1);
            sizes.push(c.size);
        }
        // The second was cosigned from the first's size: the witness holds the last.
        assert_eq!(sizes, [2, 3]);
        let state: Value =
            serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
        assert_eq!(state["logs"]["bangfu.example/qinghe"]["size"], 3);
        drop(w);
    });
    blocking.await.unwrap();
    drop(db);
}
