//! # bangfu-domain: what the ledger's facts mean
//!
//! The programs of `../shared/DOMAIN.md` as cqrs-es aggregates, pure and without I/O. A command is
//! what a person signs (a statement's `type`, `target` and `args`); the aggregate it targets decides
//! events or a typed refusal ([`error::DomainError`]) that a cadre can read.
//!
//! - [`role`] — the one table of who may issue which command;
//! - [`decide`] — statement → authorization → aggregate → ledger events;
//! - [`registry`] — registered keys, units, cadres, households and programs (the aggregates'
//!   shared "services"), rebuilt from events;
//! - [`aggregates`] — authority (keys), unit, cadre, household, program, pairing (visits, donations,
//!   requests, handovers), fund, spot_check, assessment;
//! - [`replay`] — the verifier's hook that replays the domain over a log.
//!
//! Values carry their invariants: [`money::Fen`], the ids in [`ids`], [`date::Date`] and
//! [`date::Quarter`], [`sealed::Sealed`]. No floats anywhere.

pub mod aggregates;
pub mod command;
pub mod date;
pub mod decide;
pub mod error;
pub mod event;
pub mod help;
pub mod ids;
pub mod money;
pub mod registry;
pub mod replay;
pub mod role;
pub mod sealed;
pub mod upcasters;
