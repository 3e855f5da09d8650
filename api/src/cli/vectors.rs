//! `bangfu vectors`: the worked vectors of `docs/ledger-format.md` §13, computed by the real code.
//! Everything is derived from fixed seeds, so the output never changes unless the format does; a
//! test checks that the document holds exactly this output.

use anyhow::Result;
use bangfu_domain::decide::{AnyAggregate, authorize};
use bangfu_domain::registry::Registry;
use bangfu_ledger::checkpoint::Checkpoint;
use bangfu_ledger::cosignature::Cosigner;
use bangfu_ledger::entry::{Entry, Event};
use bangfu_ledger::merkle::{CompactRange, Hash, consistency_proof, inclusion_proof, leaf_hash};
use bangfu_ledger::note::Signer;
use bangfu_ledger::seal::Opening;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::Timestamp;
use bangfu_ledger::tlog_proof::{TlogProof, format_consistency_proof};
use bangfu_ledger::{b64, jcs};
use serde_json::{Value, json};
use std::fmt::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    json: bool,
}

const ORIGIN: &str = "bangfu.example/gulou";
const COSIGNED_AT: u64 = 1_456_790_400;

fn seed(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("fixed timestamp")
}

/// The domain, applied to the vector log exactly as intake applies it.
#[derive(Default)]
struct Domain {
    registry: Registry,
    authority: Option<AnyAggregate>,
}

impl Domain {
    fn decide(&mut self, st: &Statement, index: u64, at: Timestamp) -> Result<Vec<Event>> {
        let ctx = authorize(st, index, at, &self.registry)?;
        let aggregate = match &mut self.authority {
            Some(a) => a,
            None => self.authority.insert(AnyAggregate::new("authority")?),
        };
        let events = aggregate.handle(ctx, st, &self.registry)?;
        for e in &events {
            self.registry.apply(e)?;
        }
        Ok(events)
    }
}

/// The vectors as (label, value) pairs, in document order.
fn compute() -> Result<Vec<(String, String)>> {
    let authority = SigningKey::from_bytes(&seed(0x11));
    let inspector = SigningKey::from_bytes(&seed(0x22));
    let log = Signer::new(ORIGIN, SigningKey::from_bytes(&seed(0x33)))?;
    let witness = Cosigner::new("witness.example/jiwei", SigningKey::from_bytes(&seed(0x44)))?;
    let (a_pub, c_pub) = (PublicKey::from(&authority), PublicKey::from(&inspector));
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_owned(), v));

    put("authority seed (hex)", hex(&seed(0x11)));
    put("authority public key", a_pub.to_base64());
    put("inspector seed (hex)", hex(&seed(0x22)));
    put("inspector public key", c_pub.to_base64());
    put("log key seed (hex)", hex(&seed(0x33)));
    put("log vkey", log.verifier_key().to_string());
    put("witness seed (hex)", hex(&seed(0x44)));
    put("witness vkey", witness.cosigner_key().to_string());

    // Entry 0: the genesis, self-signed by the authority.
    let genesis = Statement::sign(
        Body {
            id: StatementId::parse("00000000-0000-4000-8000-000000000000")?,
            command: CommandName::parse("genesis")?,
            target: Target::parse("authority/gulou")?,
            args: json!({
                "origin": ORIGIN,
                "name": "鼓楼区委组织部 (fictional)",
                "holder": "person/org-dept",
                "roles": ["coordinator"],
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            signed_at: ts("2016-01-04T01:00:00.000Z"),
            key: a_pub,
        },
        &authority,
    )?;
    let body0 = jcs::to_vec(&genesis.body.to_json())?;
    put("entry 0 statement body, JCS", String::from_utf8(body0)?);
    put(
        "entry 0 signed message, hex",
        hex(&genesis.body.signing_message()?),
    );
    put("entry 0 signature", b64::encode(genesis.sig.to_bytes()));
    let mut range = CompactRange::new();
    let mut replay = Domain::default();
    let recorded0 = ts("2016-01-04T01:00:00.120Z");
    let entry0 = Entry {
        index: 0,
        prev_root: range.root(),
        recorded_at: recorded0,
        events: replay.decide(&genesis, 0, recorded0)?,
        statement: genesis,
    };
    let bytes0 = entry0.to_bytes()?;
    let leaf0 = leaf_hash(&bytes0);
    put(
        "entry 0, JCS (one line of entries.jsonl)",
        String::from_utf8(bytes0)?,
    );
    put("entry 0 leaf hash", leaf0.to_base64());
    let mut stored: Vec<Hash> = range.append(leaf0).into_iter().map(|s| s.hash).collect();

    // A sealed diary text, and entry 1: a visit that carries it.
    let diary = Opening::new(
        json!("春节前走访，送米一袋、油一桶，了解孩子上学困难。"),
        [0x55; 16],
    )?;
    put(
        "sealed value, JCS",
        String::from_utf8(jcs::to_vec(&diary.value)?)?,
    );
    put("sealed value salt (hex)", hex(&diary.salt));
    put(
        "sealed value commitment",
        jcs::to_vec(&diary.commitment.to_json()).map(String::from_utf8)??,
    );
    put(
        "vault line",
        String::from_utf8(jcs::to_vec(&diary.to_json())?)?,
    );
    // Entry 1: the authority registers an inspector's key.
    let register = Statement::sign(
        Body {
            id: StatementId::parse("6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f")?,
            command: CommandName::parse("register_key")?,
            target: Target::parse("authority/gulou")?,
            args: json!({"key": c_pub.to_base64(), "holder": "person/zhang-san", "roles": ["inspector"]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            signed_at: ts("2016-01-05T02:15:00.000Z"),
            key: a_pub,
        },
        &authority,
    )?;
    let recorded1 = ts("2016-01-05T02:15:02.345Z");
    let entry1 = Entry {
        index: 1,
        prev_root: range.root(),
        recorded_at: recorded1,
        events: replay.decide(&register, 1, recorded1)?,
        statement: register,
    };
    let bytes1 = entry1.to_bytes()?;
    let leaf1 = leaf_hash(&bytes1);
    put(
        "entry 1, JCS (two lines of entries.jsonl)",
        String::from_utf8(bytes1)?,
    );
    put("entry 1 leaf hash", leaf1.to_base64());
    stored.extend(range.append(leaf1).into_iter().map(|s| s.hash));
    put("root of size 1", leaf0.to_base64());
    put("root of size 2", range.root().to_base64());

    // The checkpoint at size 2, signed by the log and cosigned by the witness.
    let checkpoint = Checkpoint::new(ORIGIN, 2, range.root());
    let mut note = checkpoint.sign(&log)?;
    witness.cosign_note(&mut note, COSIGNED_AT)?;
    let note_text = note.format()?;
    put("checkpoint (signed and cosigned note)", note_text);
    let proof = TlogProof {
        extra: None,
        index: 1,
        path: inclusion_proof(2, 1, &stored)?,
        checkpoint: note,
    };
    put("inclusion proof of entry 1 (tlog-proof)", proof.format()?);
    put(
        "consistency proof from size 1 to size 2",
        format_consistency_proof(&consistency_proof(1, 2, &stored)?),
    );
    Ok(out)
}

/// The text form, as §13 of the format document holds it.
pub fn render() -> Result<String> {
    let mut s = String::new();
    for (label, value) in compute()? {
        if value.contains('\n') {
            writeln!(s, "{label}:")?;
            for line in value.lines() {
                if line.is_empty() {
                    writeln!(s)?;
                } else {
                    writeln!(s, "    {line}")?;
                }
            }
            if value.is_empty() || !value.ends_with('\n') {
                writeln!(s, "    (no final newline)")?;
            }
        } else {
            writeln!(s, "{label}: {value}")?;
        }
    }
    Ok(s)
}

pub fn run(args: Args) -> Result<()> {
    if args.json {
        let map: serde_json::Map<String, Value> = compute()?
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        println!("{}", serde_json::to_string_pretty(&Value::Object(map))?);
    } else {
        print!("{}", render()?);
    }
    Ok(())
}
