//! # bangfu-api: how people reach the ledger
//!
//! The library half of the `bangfu` program: [`intake`] (the one path signed statements take into
//! the log), [`keyfile`] (key files on disk). The command line lives in the binary (`src/cli/`).

pub mod bench;
pub mod demo;
pub mod intake;
pub mod keyfile;
pub mod service;
pub mod witness;
