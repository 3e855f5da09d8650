//! The witness (`bangfu witness`): a cosigner with its own key and state file that vouches that a
//! log only ever grew, per C2SP tlog-witness (<https://c2sp.org/tlog-witness>) and
//! `docs/ledger-format.md` §7. See `docs/witness.md`.
//!
//! - [`cosign`]: the decision — parse an `add-checkpoint` request, check the log's signature, the
//!   old size and the consistency proof, persist, then cosign — with its typed refusals;
//! - [`state`]: the state file (per origin the last cosigned size and root), written atomically
//!   before any cosignature leaves the witness;
//! - [`http`]: the axum server around [`cosign::Witness`];
//! - [`client`]: what a log (the service, `bangfu checkpoint`) uses to ask a witness.

pub mod client;
pub mod cosign;
pub mod http;
pub mod state;

pub use client::{ClientError, WitnessEndpoint, add_checkpoint};
pub use cosign::{Refusal, Witness};
