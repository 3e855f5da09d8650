//! # bangfu-projections: what the log means, as tables people can read
//!
//! Read models rebuilt from the log and kept current by following it by entry index:
//! pairings and their history, funds and where every fen went, visit compliance per quarter,
//! requests, assessment scores and household timelines. Each answers as of any past log size or
//! date by replaying into memory, never touching the live tables.

pub mod apply;
pub mod compliance;
pub mod docs;
pub mod projector;
pub mod query;
pub mod report;
pub mod scores;
pub mod table;
pub mod views;
pub mod views_postgres;
pub mod views_sqlite;
pub mod watch;
