//! The discipline inspector's toolkit. Everything here works the same on a live store (PostgreSQL
//! or SQLite, through [`bangfu_store::backend::Backend`]) and on an export bundle
//! (`docs/ledger-format.md` §10), which [`bundle`] loads into a throwaway embedded store so every
//! other module needs only one code path.

pub mod anomalies;
pub mod bundle;
pub mod draw;
pub mod verify;
