//! Asking a witness to cosign: a small blocking client of C2SP tlog-witness `add-checkpoint`
//! (async callers wrap it in `spawn_blocking`). A cosignature is kept only after it verifies under
//! the witness's configured vkey, so a witness (or whatever answers at its address) can add
//! nothing false.

use super::cosign::{format_request, signature_line};
use super::http::TLOG_SIZE;
use bangfu_ledger::Hash;
use bangfu_ledger::cosignature::{self, CosignerKey};
use bangfu_ledger::note::{Note, NoteSignature, Verifier};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How long one request may take, connection included: a witness that is down must not hold a
/// round of checkpointing for long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes read of an answer: a few signature lines, or one error line.
const MAX_ANSWER: u64 = 64 * 1024;

/// Why a witness gave no usable cosignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The witness holds another size for this log; a proof from this size is needed.
    Conflict(u64),
    /// No answer: the address is wrong, the witness is down, or it took too long.
    Unreachable(String),
    /// The witness refused (its status and its one-line explanation).
    Refused { status: u16, message: String },
    /// An answer that is not what the protocol says, or a cosignature that does not verify.
    BadAnswer(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Conflict(size) => write!(
                f,
                "见证人已在大小 {size} / the witness last cosigned size {size}; a consistency proof from there is needed"
            ),
            ClientError::Unreachable(why) => write!(
                f,
                "无法连接见证人 / could not reach the witness: {why}; it will be asked again next round"
            ),
            ClientError::Refused { status, message } => {
                write!(
                    f,
                    "见证人拒绝 / the witness refused (HTTP {status}): {message}"
                )
            }
            ClientError::BadAnswer(why) => write!(
                f,
                "见证人回答无效 / the witness's answer is not usable: {why}; check its URL and vkey"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends one `add-checkpoint` request to the witness whose submission prefix is `url`; returns
/// the signature lines it answered with, unverified (see [`WitnessEndpoint::cosign`]).
pub fn add_checkpoint(
    url: &str,
    old_size: u64,
    proof: &[Hash],
    note: &str,
) -> Result<Vec<NoteSignature>, ClientError> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    let mut response = agent
        .post(&endpoint)
        .header("content-type", "text/plain; charset=utf-8")
        .send(format_request(old_size, proof, note).as_bytes())
        .map_err(|e| ClientError::Unreachable(format!("{endpoint}: {e}")))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| ClientError::Unreachable(format!("reading the answer of {endpoint}: {e}")))?;
    let body = String::from_utf8_lossy(&body).into_owned();
    match status {
        200 => parse_lines(note, &body),
        409 if content_type.starts_with(TLOG_SIZE) => body
            .strip_suffix('\n')
            .and_then(|s| s.parse::<u64>().ok())
            .map(ClientError::Conflict)
            .map(Err)
            .unwrap_or_else(|| {
                Err(ClientError::BadAnswer(format!(
                    "a 409 whose body is not a size: {:?}",
                    clip(&body)
                )))
            }),
        _ => Err(ClientError::Refused {
            status,
            message: clip(body.trim_end()).to_owned(),
        }),
    }
}

/// At most 300 characters of an answer, for messages.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(300) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The answer's signature lines, read as the signatures of `note`.
fn parse_lines(note: &str, body: &str) -> Result<Vec<NoteSignature>, ClientError> {
    if body.is_empty() {
        return Err(ClientError::BadAnswer("200 with no signature line".into()));
    }
    let base = Note::parse(note.as_bytes())
        .map_err(|e| ClientError::BadAnswer(format!("the note sent is not a signed note: {e}")))?;
    let combined = format!("{note}{body}");
    let parsed = Note::parse(combined.as_bytes())
        .map_err(|e| ClientError::BadAnswer(format!("the answer is not signature lines: {e}")))?;
    if parsed.text != base.text {
        return Err(ClientError::BadAnswer(
            "the answer is not signature lines".into(),
        ));
    }
    Ok(parsed.signatures[base.signatures.len()..].to_vec())
}

/// A witness the log asks: where it listens and the key its cosignatures must verify under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessEndpoint {
    /// The submission prefix: `<url>/add-checkpoint` is asked.
    pub url: String,
    pub key: CosignerKey,
}

impl WitnessEndpoint {
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// Asks the witness to cosign `note` (the checkpoint as the log signed it), given a proof from
    /// `old_size`; returns the witness's cosignature line (`— <name> <base64>\n`) once it verifies.
    pub fn cosign(&self, old_size: u64, proof: &[Hash], note: &str) -> Result<String, ClientError> {
        let lines = add_checkpoint(&self.url, old_size, proof, note)?;
        let base = Note::parse(note.as_bytes())
            .map_err(|e| ClientError::BadAnswer(format!("the note is not a signed note: {e}")))?;
        // Lines by other keys are ignored, as the spec says; this witness's must verify.
        for sig in lines
            .iter()
            .filter(|s| s.name == self.key.name() && s.key_id == self.key.key_id())
        {
            let alone = Note {
                text: base.text.clone(),
                signatures: vec![sig.clone()],
            };
            let verified = cosignature::verify(&alone, std::slice::from_ref(&self.key))
                .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
            if !verified.is_empty() {
                return signature_line(&base.text, sig)
                    .ok_or_else(|| ClientError::BadAnswer("an unprintable signature".into()));
            }
        }
        Err(ClientError::BadAnswer(format!(
            "no cosignature by {} among the {} line(s) answered",
            self.key,
            lines.len()
        )))
    }
}

impl fmt::Display for WitnessEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.url, self.key)
    }
}

impl FromStr for WitnessEndpoint {
    type Err = String;

    /// `URL=VKEY`. A URL may hold '=' (a query) and a key name may too, so every '=' is tried and
    /// the split where the right side is a witness vkey wins.
    fn from_str(s: &str) -> Result<WitnessEndpoint, String> {
        let mut last_error = None;
        for (i, _) in s.match_indices('=') {
            let (url, vkey) = (&s[..i], &s[i + 1..]);
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                continue;
            }
            match CosignerKey::parse(vkey) {
                Ok(key) => {
                    return Ok(WitnessEndpoint {
                        url: url.to_owned(),
                        key,
                    });
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        Err(format!(
            "见证人格式应为 URL=VKEY / a witness is given as URL=VKEY, e.g. \
             http://witness.example:8090=witness.example/w1+1a2b3c4d+BB…{}",
            last_error.map(|e| format!(" ({e})")).unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bangfu_ledger::cosignature::Cosigner;
    use ed25519_dalek::SigningKey;

    #[test]
    fn witness_endpoints_parse_with_equals_signs_in_the_url() {
        let w = Cosigner::new("w.example/1", SigningKey::from_bytes(&[7; 32])).unwrap();
        let vkey = w.cosigner_key().to_string();
        let e: WitnessEndpoint = format!("http://127.0.0.1:9/x?a=b={vkey}").parse().unwrap();
        assert_eq!(e.url, "http://127.0.0.1:9/x?a=b");
        assert_eq!(e.key.to_string(), vkey);
        assert_eq!(e.to_string(), format!("http://127.0.0.1:9/x?a=b={vkey}"));
        for bad in [
            vkey.clone(),
            format!("ftp://x={vkey}"),
            "http://x=nokey".into(),
        ] {
            let err = bad.parse::<WitnessEndpoint>().unwrap_err();
            assert!(err.contains("URL=VKEY"), "{err}");
        }
    }

    #[test]
    fn an_unreachable_witness_is_reported_not_panicked() {
        let w = Cosigner::new("w", SigningKey::from_bytes(&[7; 32])).unwrap();
        // Port 9 (discard) on localhost is closed on any test machine.
        let e = WitnessEndpoint {
            url: "http://127.0.0.1:9".into(),
            key: w.cosigner_key().clone(),
        };
        let got = e.cosign(0, &[], "o\n1\nAAAA\n\n— o AAAAAAA=\n");
        assert!(matches!(got, Err(ClientError::Unreachable(_))), "{got:?}");
    }
}
