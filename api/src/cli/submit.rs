//! `bangfu submit`: sign one command with a key file and send it to a running service
//! (`--to URL`) or append it to a local store directly, through the same intake either way.

use super::init::{now, system_clock};
use super::store::{StoreArgs, runtime, with_store};
use anyhow::{Context, bail};
use bangfu_api::intake::{Accepted, Intake, MAX_BODY, Refusal, Window};
use bangfu_api::keyfile;
use bangfu_domain::decide::check_args;
use bangfu_ledger::jcs::{self, JcsError};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use bangfu_store::backend::Backend;
use bangfu_store::log::Log;
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The exit status when the ledger refused the statement (the log is unchanged).
pub const EXIT_REFUSED: i32 = 2;

/// The path a service takes statements at; the request body is exactly the statement JSON
/// `{"body": …, "sig": …}`.
pub const STATEMENTS_PATH: &str = "/v1/statements";

/// Printed after the options by `bangfu submit --help` (the one-line summary is in `cli/mod.rs`).
const AFTER_HELP: &str = "\
Without --to, the statement is appended to the local store (--data DIR or --database-url) by the
same intake the service uses. With --to URL it is POSTed to URL/v1/statements, the request body
being exactly the statement {\"body\": ..., \"sig\": ...}.

Exit status:
  0  recorded (or already recorded: its original receipt is printed)
  2  the ledger refused the statement: its code and message are printed, the log is unchanged
     (clap also exits 2 when the command line itself is wrong)
  1  anything else: unreadable key or arguments, store or service unreachable, the ledger
     unavailable for now (sending the same statement again, same --id and --signed-at, is safe)

用密钥文件签名一条指令并提交：不加 --to 时直接写入本地账本，加 --to 时发往服务的 /v1/statements。
退出码：0 已记录；2 被账本拒绝（账本未改变）；1 其他错误。";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The signer's key file (from `bangfu keygen` or `bangfu init --new-keys`) / 签名密钥文件
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The command's name, e.g. record_visit (see `bangfu commands`) / 指令名称
    #[arg(long, value_name = "NAME")]
    command: String,
    /// The aggregate addressed, <type>/<id>, e.g. pairing/gulou-2016:h1 / 指令对象
    #[arg(long, value_name = "TYPE/ID")]
    target: String,
    /// The command's arguments as a JSON object [default: {}] / 指令参数（JSON 对象）
    #[arg(long, value_name = "JSON", conflicts_with = "args_file")]
    args: Option<String>,
    /// Read the arguments from FILE, or standard input with - / 从文件读取参数
    #[arg(long, value_name = "FILE")]
    args_file: Option<PathBuf>,
    /// The statement id, a UUID [default: a fresh random v4] / 指令编号
    #[arg(long, value_name = "UUID")]
    id: Option<String>,
    /// When it was signed, e.g. 2016-03-01T08:30:00.000Z [default: now] / 签名时间
    #[arg(long, value_name = "TIME")]
    signed_at: Option<String>,
    /// Send to the service at URL (POST URL/v1/statements) instead of the local store / 发往服务
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Print machine-readable JSON / 输出 JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// How a submission ended, when it reached a ledger.
pub(super) enum Outcome {
    Accepted(Accepted),
    Refused { code: String, message: String },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let statement = sign(&args)?;
    let id = statement.body.id.to_string();
    let signed_at = statement.body.signed_at.to_string();
    let bytes = jcs::to_vec(&statement.to_json()).context("encoding the statement")?;
    // The shape check needs no ledger, so a typo is caught before anything is sent.
    let outcome = match check_args(&statement.body) {
        Err(e) => refused(&Refusal::BadSchema(e.to_string())),
        Ok(()) => match &args.to {
            Some(url) => send(url, &bytes, &id, &signed_at)?,
            None => runtime()?.block_on(async {
                let store = args.store.open_existing().await?;
                with_store!(store, |backend, _views| append(backend, &bytes).await)
            })?,
        },
    };
    match outcome {
        Outcome::Accepted(a) => {
            print_receipt(&a, &id, args.json);
            Ok(())
        }
        Outcome::Refused { code, message } => {
            if args.json {
                println!(
                    "{}",
                    json!({"refused": true, "id": id, "code": code, "message": message})
                );
            } else {
                eprintln!("被拒绝 / refused [{code}]: {message}");
                eprintln!("账本未改变 / the ledger is unchanged.");
            }
            let _ = std::io::stdout().flush();
            std::process::exit(EXIT_REFUSED);
        }
    }
}

fn sign(args: &Args) -> anyhow::Result<Statement> {
    let key = keyfile::read(&args.key)?;
    let command =
        CommandName::parse(&args.command).map_err(|e| anyhow::anyhow!("--command: {e}"))?;
    let target = Target::parse(&args.target).map_err(|e| anyhow::anyhow!("--target: {e}"))?;
    let args_map = read_args(args)?;
    let id = match &args.id {
        // One UUID has one spelling in the log; accept the caller's capitals and write lowercase.
        Some(s) => StatementId::parse(&s.trim().to_ascii_lowercase())
            .map_err(|e| anyhow::anyhow!("--id: {e}"))?,
        None => {
            let mut b = [0u8; 16];
            getrandom::getrandom(&mut b)
                .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes: {e}"))?;
            StatementId::from_random_bytes(b)
        }
    };
    let signed_at = match &args.signed_at {
        Some(s) => Timestamp::parse(s.trim()).map_err(|e| anyhow::anyhow!("--signed-at: {e}"))?,
        None => now()?,
    };
    let body = Body {
        id,
        command,
        target,
        args: args_map,
        signed_at,
        key: key.public_key(),
    };
    Statement::sign(body, &key.key).map_err(|e| {
        anyhow::anyhow!("无法签名 / cannot sign: {e}; check that --args holds only integers, NFC text and no repeated keys")
    })
}

/// The arguments: a JSON object in the strict form the ledger signs (integers only, NFC strings,
/// no repeated keys). Errors say where, by line and column.
fn read_args(args: &Args) -> anyhow::Result<Map<String, Value>> {
    let (text, source) = match (&args.args, &args.args_file) {
        (Some(s), _) => (s.clone().into_bytes(), "--args".to_owned()),
        (None, Some(p)) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut buf)
                .context("reading the arguments from standard input")?;
            (buf, "--args-file - (standard input)".to_owned())
        }
        (None, Some(p)) => {
            let meta = std::fs::metadata(p)
                .with_context(|| format!("--args-file: cannot read {}", p.display()))?;
            if meta.len() > MAX_BODY as u64 {
                bail!(
                    "--args-file {}: {} bytes is more than a statement may hold ({MAX_BODY})",
                    p.display(),
                    meta.len()
                );
            }
            let buf = std::fs::read(p)
                .with_context(|| format!("--args-file: cannot read {}", p.display()))?;
            (buf, format!("--args-file {}", p.display()))
        }
        (None, None) => return Ok(Map::new()),
    };
    if text.len() > MAX_BODY {
        bail!("{source}: more than a statement may hold ({MAX_BODY} bytes)");
    }
    let value = jcs::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "{source}: 参数不是可签名的 JSON / the arguments are not JSON the ledger can sign: {}",
            at(&e, &text)
        )
    })?;
    match value {
        Value::Object(m) => Ok(m),
        other => bail!(
            "{source}: 参数须为 JSON 对象 / the arguments must be a JSON object {{…}}, not {}",
            kind(&other)
        ),
    }
}

/// The error with its place as line and column (1-based, columns in characters).
fn at(e: &JcsError, text: &[u8]) -> String {
    let what = JcsError {
        kind: e.kind.clone(),
        offset: 0,
    };
    let upto = &text[..e.offset.min(text.len())];
    let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
    let start = upto.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&upto[start..]).chars().count() + 1;
    format!("{what} at line {line}, column {column} (byte {})", e.offset)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn refused(r: &Refusal) -> Outcome {
    Outcome::Refused {
        code: r.code().to_owned(),
        message: r.to_string(),
    }
}

pub(super) async fn append<B: Backend>(backend: B, bytes: &[u8]) -> anyhow::Result<Outcome> {
    let log = Log::open(backend)
        .await
        .context("打开账本失败 / could not open the ledger")?;
    let intake = Intake::new(log, system_clock(), Window::default());
    let result = intake.submit(bytes).await;
    intake.close().await;
    match result {
        Ok(a) => Ok(Outcome::Accepted(a)),
        // Not the statement's fault: exit 1, and the same statement may be sent again.
        Err(r @ (Refusal::Unavailable(_) | Refusal::Corrupt(_))) => {
            bail!("{r} [{}]", r.code())
        }
        Err(r) => Ok(refused(&r)),
    }
}

/// POSTs the statement to `<url>/v1/statements`. A 2xx answer is the receipt (the intake's
/// `Accepted` as JSON); any other carries `{"code", "message"}` (at the top level or under
/// `"error"`). 5xx and unreachable services are errors (exit 1), not refusals.
pub(super) fn send(url: &str, bytes: &[u8], id: &str, signed_at: &str) -> anyhow::Result<Outcome> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!(
            "--to {url}: 须为 http:// 或 https:// 地址 / give the service's address as http://HOST:PORT or https://HOST"
        );
    }
    let endpoint = format!("{}{STATEMENTS_PATH}", url.trim_end_matches('/'));
    let again = format!(
        "sending the identical statement again is safe: add --id {id} --signed-at {signed_at} / 可用相同 --id 与 --signed-at 重发"
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .post(&endpoint)
        .header("content-type", "application/json")
        .send(bytes)
        .map_err(|e| {
            anyhow::anyhow!(
                "无法连接服务 / could not reach the service at {endpoint}: {e}; is `bangfu serve` running there? The statement may not have been recorded; {again}"
            )
        })?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| {
            anyhow::anyhow!("reading the answer of {endpoint} (HTTP {status}): {e}; {again}")
        })?;
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if (200..300).contains(&status) {
        let accepted = parsed
            .as_ref()
            .and_then(receipt_from_json)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "服务的回答无法识别 / {endpoint} answered HTTP {status} but not with a receipt ({}); is it a bangfu service?",
                    snippet(&body)
                )
            })?;
        return Ok(Outcome::Accepted(accepted));
    }
    let problem = parsed.as_ref().map(|v| v.get("error").unwrap_or(v));
    let field = |name: &str| {
        problem
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (status, field("code"), field("message")) {
        (400..=499, Some(code), message) => Ok(Outcome::Refused {
            message: message.unwrap_or_else(|| format!("HTTP {status}")),
            code,
        }),
        (_, code, message) => bail!(
            "服务未记录该指令 / {endpoint} answered HTTP {status}{}: {}; {again}",
            code.map(|c| format!(" [{c}]")).unwrap_or_default(),
            message.unwrap_or_else(|| snippet(&body))
        ),
    }
}

fn receipt_from_json(v: &Value) -> Option<Accepted> {
    Some(Accepted {
        index: v.get("index")?.as_u64()?,
        leaf: v.get("leaf")?.as_str()?.to_owned(),
        recorded_at: v.get("recorded_at")?.as_str()?.to_owned(),
        events: v
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        replayed: v.get("replayed").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The start of an answer, for error messages (never the whole of a large one).
fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s.chars().take(200).collect();
    if s.trim().is_empty() {
        "an empty answer".into()
    } else {
        format!("{:?}", s.trim())
    }
}

fn print_receipt(a: &Accepted, id: &str, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "id": id,
                "index": a.index,
                "leaf": a.leaf,
                "recorded_at": a.recorded_at,
                "events": a.events,
                "replayed": a.replayed,
            })
        );
        return;
    }
    if a.replayed {
        println!("此前已记录，以下为原回执 / already in the log: this is its original receipt");
    } else {
        println!("已记录 / Recorded");
    }
    println!("  statement id / 指令编号: {id}");
    println!("  index / 序号:            {}", a.index);
    println!("  leaf / 叶哈希:           {}", a.leaf);
    println!("  recorded at / 记录时间:  {}", a.recorded_at);
    println!("  events / 事件:           {}", a.events.len());
    for e in &a.events {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        let seq = e.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        println!(
            "    {}/{} #{seq}  {} v{}",
            s("aggregate_type"),
            s("aggregate_id"),
            s("event_type"),
            s("event_version")
        );
    }
}
