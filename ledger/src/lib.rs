//! # bangfu-ledger: the ledger format v1, pure
//!
//! Everything an inspector needs to check a bangfu log without trusting its operator, and nothing
//! else: no I/O, no database, no async. Read in this order:
//!
//! 1. [`jcs`] — the one byte form of every JSON value that is hashed or signed (RFC 8785);
//! 2. [`signature`] — Ed25519, strict, with a batch fast path that always agrees with it;
//! 3. [`statement`] — what a person signs;
//! 4. [`entry`] — what the log holds, and its Merkle leaf;
//! 5. [`merkle`] — the RFC 6962 tree, proofs and their RFC 9162 verification;
//! 6. [`note`], [`checkpoint`], [`cosignature`], [`tlog_proof`] — the C2SP formats that carry tree
//!    heads, witness cosignatures and inclusion proofs to other tools;
//! 7. [`seal`] — commitments to personal data that can later be erased;
//! 8. [`verify`] — the streaming verifier that finds the first bad entry and says why.
//!
//! The normative description is `docs/ledger-format.md` at the repository root.

pub mod b64;
pub mod jcs;
pub mod merkle;

pub use merkle::Hash;
pub mod checkpoint;
pub mod cosignature;
pub mod entry;
pub mod note;
pub mod seal;
pub mod signature;
pub mod statement;
pub mod time;
pub mod tlog_proof;
pub mod verify;
