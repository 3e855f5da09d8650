//! Playing the plan through the real intake: each statement is signed with its person's Ed25519
//! key, serialized as canonical JSON and submitted to [`Intake::submit`], which runs every check
//! a statement from the HTTP service meets, then the log's single writer.

use super::plan::Action;
use super::rng::sha256;
use crate::intake::{Accepted, Intake, Refusal};
use anyhow::Context;
use bangfu_domain::date::Date;
use bangfu_ledger::jcs;
use bangfu_ledger::seal::Opening;
use bangfu_ledger::signature::{PublicKey, SigningKey};
use bangfu_ledger::statement::{Body, CommandName, Statement, StatementId, Target};
use bangfu_ledger::time::{Timestamp, days_from_civil};
use bangfu_store::backend::Backend;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::Poll;

/// The key a person of the story signs with, derived from their key name so every run signs
/// with the same keys. (Real keys come from `bangfu keygen`.)
pub fn signing_key(name: &str) -> SigningKey {
    SigningKey::from_bytes(&sha256(&[b"bangfu demo key", name.as_bytes()]))
}

/// The public half, as `register_key` and `set_contact_key` spell it.
pub fn public_key(name: &str) -> String {
    PublicKey::from(&signing_key(name)).to_base64()
}

/// The story's clock: shared by the log (for `recorded_at`) and the intake (for the `signed_at`
/// window), and moved forward by the player day by day.
#[derive(Clone, Default)]
pub struct StoryClock(Arc<AtomicI64>);

impl StoryClock {
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

pub struct Player<B: Backend> {
    pub intake: Intake<B>,
    clock: StoryClock,
    /// The day the clock was last set to, and how many groups were recorded that day.
    clock_day: Option<(Date, i64)>,
    keys: HashMap<String, SigningKey>,
    statements: u64,
}

impl<B: Backend> Player<B> {
    pub fn new(intake: Intake<B>, clock: StoryClock) -> Player<B> {
        Player {
            intake,
            clock,
            clock_day: None,
            keys: HashMap::new(),
            statements: 0,
        }
    }

    /// The story's time now, in milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Sets the clock to `day`, 09:00 China time, a minute later for each group that day, so
    /// `recorded_at` tells the story and never goes back.
    pub fn set_clock(&mut self, day: Date) {
        let minute = match self.clock_day {
            Some((d, m)) if d == day => m + 1,
            _ => 0,
        };
        self.clock_day = Some((day, minute));
        let (y, m, dd) = day.ymd();
        // 09:00 in Beijing is 01:00 UTC; at most ten hours of minutes keeps it the same day.
        let ms = days_from_civil(y, m, dd) * 86_400_000 + 3_600_000 + minute.min(600) * 60_000;
        self.clock.set(ms);
    }

    /// Signs an action as its person would on their phone: a fresh statement id, `signed_at` a
    /// little before the log's clock, the exact canonical bytes; the openings of its sealed values
    /// travel beside it (outside the signed bytes) for the vault.
    pub fn sign(&mut self, a: &Action, openings: &[Opening]) -> anyhow::Result<Vec<u8>> {
        let key = self
            .keys
            .entry(a.signer.clone())
            .or_insert_with(|| signing_key(&a.signer))
            .clone();
        self.statements += 1;
        // Bytes 6 and 8 carry the UUID version and variant, so the counter stays clear of them.
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(b"demo");
        id[9..16].copy_from_slice(&self.statements.to_be_bytes()[1..]);
        let args = a
            .args
            .as_object()
            .cloned()
            .context("the demo planned arguments that are not an object")?;
        let signed_at = Timestamp::from_unix_millis(self.clock.now() - 20_000)
            .context("the story's clock is out of range")?;
        let body = Body {
            id: StatementId::from_random_bytes(id),
            command: CommandName::parse(a.command)
                .map_err(|e| anyhow::anyhow!("{}: {e}", a.command))?,
            target: Target::parse(&a.target).map_err(|e| anyhow::anyhow!("{}: {e}", a.target))?,
            args,
            signed_at,
            key: PublicKey::from(&key),
        };
        let statement = Statement::sign(body, &key)
            .map_err(|e| anyhow::anyhow!("signing {} on {}: {e}", a.command, a.target))?;
        let mut request = statement.to_json();
        if !openings.is_empty() {
            request["openings"] = openings.iter().map(Opening::to_json).collect();
        }
        jcs::to_vec(&request)
            .map_err(|e| anyhow::anyhow!("encoding {} on {}: {e}", a.command, a.target))
    }

    /// Submits the statements all at once and waits for every answer. Each submit is polled for
    /// the first time in order, and its first poll runs the checks and queues it for the log's
    /// writer, so the writer takes them in this order (statements of one pairing stay in order)
    /// and commits as many together as it holds.
    pub async fn submit_in_order(&self, bodies: &[Vec<u8>]) -> Vec<Result<Accepted, Refusal>> {
        type Submit<'a> = Pin<Box<dyn Future<Output = Result<Accepted, Refusal>> + 'a>>;
        let mut pending: Vec<Submit<'_>> = bodies
            .iter()
            .map(|b| Box::pin(self.intake.submit(b)) as Submit<'_>)
            .collect();
        let mut out: Vec<Option<Result<Accepted, Refusal>>> = bodies.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut waiting = false;
            for (f, o) in pending.iter_mut().zip(out.iter_mut()) {
                if o.is_none() {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(r) => *o = Some(r),
                        Poll::Pending => waiting = true,
                    }
                }
            }
            if waiting {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Err(Refusal::Unavailable("no answer".into()))))
            .collect()
    }
}
