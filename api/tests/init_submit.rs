//! `bangfu init` and `bangfu submit` through the real binary on a `--data` directory: a new
//! ledger with its keys, statements signed with key files and appended, refusals that change
//! nothing (exit 2), clear errors for bad input (exit 1), and the HTTP contract of `--to`.

use bangfu_api::keyfile;
use bangfu_store::backend::Backend;
use bangfu_store::sqlite::SqliteBackend;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;
mod common;

use common::{bangfu_in as bangfu, text};

/// Runs and expects success; returns stdout parsed as JSON.
fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = bangfu(dir, args);
    assert!(
        out.status.success(),
        "bangfu {args:?} failed: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bangfu {args:?}: not JSON ({e}): {}", text(&out.stdout)))
}

/// The stored entries (their JSON) of the embedded ledger in `data`.
fn entries(data: &Path) -> Vec<Value> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let backend = SqliteBackend::open(&data.join("log.sqlite")).await.unwrap();
        let size = backend.size().await.unwrap();
        let rows = backend.entries(0, size as u32).await.unwrap();
        rows.iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    })
}

fn public_key(path: &Path) -> String {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["public_key"].as_str().unwrap().to_owned()
}

fn secret_key(path: &Path) -> String {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["secret_key"].as_str().unwrap().to_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

const INIT: &[&str] = &[
    "init",
    "--origin",
    "bangfu.example/qinghe",
    "--name",
    "清河区委组织部",
    "--holder",
    "person/org-dept",
    "--data",
    "data",
];

#[test]
fn init_then_submit_register_key_and_unit_and_refusals_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");

    // init: genesis at index 0, keys owner-only, no secret printed, ledger.json written.
    let out = bangfu(dir, &[INIT, &["--new-keys", "keys", "--json"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let authority_key = dir.join("keys/authority.key");
    let log_key = dir.join("keys/log.key");
    assert_eq!(summary["origin"], "bangfu.example/qinghe");
    assert_eq!(summary["index"], 0);
    assert_eq!(summary["authority"], "authority/qinghe");
    assert_eq!(summary["authority_public_key"], public_key(&authority_key));
    assert_eq!(summary["log_public_key"], public_key(&log_key));
    let vkey = summary["log_vkey"].as_str().unwrap();
    assert!(vkey.starts_with("bangfu.example/qinghe+"), "{vkey}");
    let printed = text(&out.stdout) + &text(&out.stderr);
    for k in [&authority_key, &log_key] {
        assert!(!printed.contains(&secret_key(k)), "a secret was printed");
        #[cfg(unix)]
        assert_eq!(mode(k), 0o600);
    }
    let genesis = entries(&data);
    assert_eq!(genesis.len(), 1);
    assert_eq!(genesis[0]["statement"]["body"]["type"], "genesis");
    assert_eq!(
        genesis[0]["statement"]["body"]["args"],
        json!({"origin": "bangfu.example/qinghe", "name": "清河区委组织部",
               "holder": "person/org-dept", "roles": ["coordinator"]})
    );
    assert_eq!(
        genesis[0]["events"][0]["event_type"], "LogCreated",
        "{genesis:?}"
    );
    let config_path = data.join("ledger.json");
    let config = keyfile::LedgerConfig::read(&config_path).unwrap();
    assert_eq!(config.origin, "bangfu.example/qinghe");
    assert_eq!(config.log_vkey, vkey);
    assert_eq!(config.authority_key, public_key(&authority_key));
    // The config leads back to a log key that signs checkpoints under the origin.
    let signer = config.log_signer(&config_path).unwrap();
    assert_eq!(signer.verifier_key().to_string(), vkey);

    // init again without --force: refused, ledger and config untouched, no new keys.
    let config_text = std::fs::read_to_string(&config_path).unwrap();
    let again = bangfu(dir, &[INIT, &["--new-keys", "keys2"]].concat());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(entries(&data).len(), 1);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), config_text);
    assert!(!dir.join("keys2").exists());

    // A coordinator's key, registered by the authority.
    ok_json(
        dir,
        &["keygen", "--out", "coord.key", "--name", "李协调", "--json"],
    );
    let coord = public_key(&dir.join("coord.key"));
    let register = json!({"key": coord, "holder": "person/li", "roles": ["coordinator"]});
    let receipt = ok_json(
        dir,
        &[
            "submit",
            "--key",
            "keys/authority.key",
            "--command",
            "register_key",
            "--target",
            "authority/qinghe",
            "--args",
            &register.to_string(),
            "--data",
            "data",
            "--json",
        ],
    );
    assert_eq!(receipt["index"], 1);
    assert_eq!(receipt["events"][0]["event_type"], "KeyRegistered");

    // The coordinator registers a unit; --args-file - reads standard input; a fixed id and time
    // give the identical statement twice, and the second answer is the original receipt.
    let unit = |stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bangfu"))
            .current_dir(dir)
            .args([
                "submit",
                "--key",
                "coord.key",
                "--command",
                "register_unit",
                "--target",
                "unit/qinghe",
                "--args-file",
                "-",
                "--id",
                "0F8FAD5B-D9CB-469F-A165-70867728950E",
                "--signed-at",
                summary["recorded_at"].as_str().unwrap(),
                "--data",
                "data",
                "--json",
            ])
            .env_remove("BANGFU_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = unit(r#"{"name": "清河区", "kind": "bureau"}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["index"], 2);
    assert_eq!(first["id"], "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_eq!(first["replayed"], false);
    assert_eq!(first["events"][0]["event_type"], "UnitRegistered");
    let out = unit(r#"{"kind": "bureau", "name": "清河区"}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["replayed"], true);
    assert_eq!(second["index"], 2);
    assert_eq!(second["leaf"], first["leaf"]);

    let log = entries(&data);
    assert_eq!(log.len(), 3);
    assert_eq!(log[1]["statement"]["body"]["type"], "register_key");
    assert_eq!(log[1]["statement"]["body"]["args"]["key"], coord);
    assert_eq!(log[2]["statement"]["body"]["type"], "register_unit");
    assert_eq!(log[2]["statement"]["body"]["key"], coord);
    assert_eq!(log[2]["statement"]["body"]["target"], "unit/qinghe");

    // Refused by the domain: a parent unit that does not exist. Exit 2, its message, no entry.
    let submit = |key: &str, target: &str, args: &str, json: bool| {
        let mut a = vec![
            "submit",
            "--key",
            key,
            "--command",
            "register_unit",
            "--target",
            target,
            "--args",
            args,
            "--data",
            "data",
        ];
        if json {
            a.push("--json");
        }
        bangfu(dir, &a)
    };
    let out = submit(
        "coord.key",
        "unit/street-1",
        r#"{"name": "一街道", "kind": "street_office", "parent": "nope"}"#,
        false,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("parent unit nope is not registered") && err.contains("[refused]"),
        "{err}"
    );
    assert_eq!(entries(&data).len(), 3);

    // A key nobody registered: refused with its code, as JSON.
    ok_json(dir, &["keygen", "--out", "stranger.key", "--json"]);
    let out = submit(
        "stranger.key",
        "unit/street-2",
        r#"{"name": "二街道", "kind": "street_office"}"#,
        true,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let refusal: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(refusal["code"], "key_unknown");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("not registered")
    );
    assert_eq!(entries(&data).len(), 3);

    // Arguments of the wrong shape are refused before anything is appended.
    let out = submit(
        "coord.key",
        "unit/x",
        r#"{"name": "x", "kind": "planet"}"#,
        true,
    );
    assert_eq!(out.status.code(), Some(2));
    let refusal: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(refusal["code"], "bad_schema");

    // Not JSON, and JSON the ledger cannot sign: exit 1 with the place named.
    let out = submit(
        "coord.key",
        "unit/x",
        "{\"name\": \"x\",\n \"kind\": bureau}",
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("--args") && err.contains("line 2, column 10"),
        "{err}"
    );
    let out = submit(
        "coord.key",
        "unit/x",
        r#"{"name": "x", "amount": 1.5}"#,
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("integer fen") && err.contains("column"),
        "{err}"
    );
    let out = submit("coord.key", "unit/x", "[1, 2]", false);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("JSON object"));
    assert_eq!(entries(&data).len(), 3);

    // A key file others can read is refused, saying how to fix it, and its secret is not shown.
    #[cfg(unix)]
    {
        set_mode(&dir.join("coord.key"), 0o644);
        let out = submit(
            "coord.key",
            "unit/x",
            r#"{"name": "x", "kind": "bureau"}"#,
            false,
        );
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains(&secret_key(&dir.join("coord.key"))));
        set_mode(&dir.join("coord.key"), 0o600);
    }

    // --force replaces the embedded ledger with a new genesis.
    let out = bangfu(
        dir,
        &[
            INIT,
            &[
                "--authority-key",
                "coord.key",
                "--log-key",
                "keys/log.key",
                "--force",
                "--json",
            ],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = entries(&data);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["statement"]["body"]["key"], coord);
}

#[test]
fn init_checks_its_arguments_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // INIT with the flags in `extra` given instead of (or besides) its own.
    let run = |extra: &[&str]| {
        let mut args = vec![INIT[0]];
        for pair in INIT[1..].chunks(2) {
            if !extra.contains(&pair[0]) {
                args.extend(pair);
            }
        }
        args.extend(extra);
        bangfu(dir, &args)
    };
    let cases: &[(&[&str], &str)] = &[
        (&["--new-keys", "k", "--origin", "bad origin"], "no spaces"),
        (&["--new-keys", "k", "--origin", "a+b"], "'+'"),
        (&["--new-keys", "k", "--holder", "cadre/c1"], "person/<id>"),
        (&["--new-keys", "k", "--roles", "inspector"], "coordinator"),
        (
            &["--new-keys", "k", "--roles", "coordinator,household"],
            "registered cadre",
        ),
        (
            &["--new-keys", "k", "--roles", "coordinator,king"],
            "unknown role",
        ),
        (&[], "--new-keys DIR"),
    ];
    for (extra, expect) in cases {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let err = text(&out.stderr);
        assert!(err.contains(expect), "{extra:?}: {err}");
        assert!(
            !dir.join("data/log.sqlite").exists(),
            "{extra:?} left a ledger"
        );
        assert!(!dir.join("k").exists(), "{extra:?} left keys");
    }
    // The log key must not be the authority key.
    ok_json(dir, &["keygen", "--out", "a.key", "--json"]);
    let out = run(&["--authority-key", "a.key", "--log-key", "a.key"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("must not be the authority key"));
    assert!(!dir.join("data/log.sqlite").exists());
    // Human output is bilingual and names the config file.
    let out = run(&["--new-keys", "k"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("新账本已建立 / New ledger created"),
        "{shown}"
    );
    assert!(shown.contains("ledger.json"), "{shown}");
    assert!(!shown.contains(&secret_key(&dir.join("k/authority.key"))));
}

#[test]
fn key_files_are_read_strictly_and_never_leak_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.key");
    let key = keyfile::generate().unwrap();
    keyfile::write(&path, "张三", &key).unwrap();
    let read = keyfile::read(&path).unwrap();
    assert_eq!(read.name, "张三");
    assert_eq!(read.key.to_bytes(), key.to_bytes());
    let secret = secret_key(&path);
    assert!(!format!("{read:?}").contains(&secret));

    let write = |name: &str, v: &Value| {
        let p = tmp.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        #[cfg(unix)]
        set_mode(&p, 0o600);
        p
    };
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut v2 = good.clone();
    v2["format"] = json!("bangfu-key-v2");
    let mut other = good.clone();
    other["format"] = json!("ssh-ed25519");
    let mut damaged = good.clone();
    let stranger = keyfile::generate().unwrap();
    damaged["public_key"] = json!(bangfu_ledger::signature::PublicKey::from(&stranger).to_base64());
    let mut short = good.clone();
    short["secret_key"] = json!("AAAA");
    let cases = [
        (write("v2.key", &v2), "does not read"),
        (write("other.key", &other), "not bangfu-key-v1"),
        (write("damaged.key", &damaged), "does not belong"),
        (write("short.key", &short), "not base64 of 32 bytes"),
        (write("array.key", &json!([secret])), "not a JSON object"),
    ];
    for (p, expect) in &cases {
        let e = format!("{:#}", keyfile::read(p).unwrap_err());
        assert!(e.contains(expect), "{}: {e}", p.display());
        assert!(
            !e.contains(&secret),
            "{}: the secret is in {e}",
            p.display()
        );
    }
    let p = tmp.path().join("garbage.key");
    std::fs::write(&p, format!("{{\"secret_key\": \"{secret}\",")).unwrap();
    #[cfg(unix)]
    set_mode(&p, 0o600);
    let e = format!("{:#}", keyfile::read(&p).unwrap_err());
    assert!(e.contains("not JSON") && !e.contains(&secret), "{e}");

    #[cfg(unix)]
    for mode in [0o644, 0o640, 0o604, 0o660] {
        set_mode(&path, mode);
        let e = format!("{:#}", keyfile::read(&path).unwrap_err());
        assert!(e.contains(&format!("chmod 600 {}", path.display())), "{e}");
        assert!(!e.contains(&secret));
    }
}

/// A one-request HTTP server on loopback: returns what it was sent and answers `status`/`body`.
fn serve_once(status: u16, body: Value) -> (String, std::thread::JoinHandle<(String, Vec<u8>)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut sent = vec![0u8; length];
        reader.read_exact(&mut sent).unwrap();
        let answer = body.to_string();
        let mut stream = reader.into_inner();
        write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        )
        .unwrap();
        (request_line, sent)
    });
    (url, handle)
}

#[test]
fn submit_to_posts_the_statement_to_v1_statements() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok_json(dir, &["keygen", "--out", "c.key", "--json"]);
    let key = public_key(&dir.join("c.key"));
    let send = |url: &str| {
        bangfu(
            dir,
            &[
                "submit",
                "--key",
                "c.key",
                "--command",
                "register_unit",
                "--target",
                "unit/u1",
                "--args",
                r#"{"name": "一号", "kind": "bureau"}"#,
                "--to",
                url,
                "--json",
            ],
        )
    };

    // Accepted: the body sent is exactly a statement {body, sig} that verifies.
    let receipt = json!({"index": 7, "leaf": "xg3cEcXZLuVoG13rxrDJHo5QF1Cyu9uiQyXGw2ANAA8=",
        "recorded_at": "2016-03-01T08:30:00.000Z", "events": [], "replayed": false});
    let (url, server) = serve_once(201, receipt);
    let out = send(&format!("{url}/"));
    let (request_line, sent) = server.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        request_line.starts_with("POST /v1/statements HTTP/1.1"),
        "{request_line}"
    );
    let statement = bangfu_ledger::statement::Statement::from_slice(&sent).unwrap();
    statement.verify().unwrap();
    assert_eq!(statement.body.key.to_base64(), key);
    assert_eq!(statement.body.command.as_str(), "register_unit");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["index"], 7);
    assert_eq!(printed["id"], statement.body.id.as_str());

    // Refused by the service (its error shape, `{"error": {"code", "message"}}`): exit 2 with
    // the code and message.
    let (url, server) = serve_once(
        409,
        json!({"error": {"code": "refused", "message": "unit u1 已存在 / unit u1 exists already"}}),
    );
    let out = send(&url);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let refusal: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(refusal["code"], "refused");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("exists already")
    );

    // Unavailable: not a refusal (exit 1), and it says how to resend the same statement.
    let (url, server) = serve_once(503, json!({"code": "unavailable", "message": "try again"}));
    let out = send(&url);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--signed-at"));

    // Nobody listening: a clear error, exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = send(&format!("http://127.0.0.1:{port}"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("could not reach the service"), "{err}");
}
