//! # bangfu-store: the log, kept
//!
//! - [`backend`] — what a storage engine must do, and the schema; implemented by [`postgres`]
//!   (production) and [`sqlite`] (the embedded default);
//! - [`log`] — the one append path: verified statements in, group commit, each caller told its own
//!   entry index or its own refusal;
//! - [`checkpoints`] — signing a checkpoint of the stored log, only when it extends the last one.

pub mod backend;
pub mod checkpoints;
pub mod cqrs;
pub mod log;
pub mod postgres;
pub mod sqlite;
