//! Shared by the projections' integration tests: the statement helpers of the store's fault
//! appender (deterministic keys, sealed values), and a realistic, seeded program appended through
//! the real log ([`scenario`]).
#![allow(dead_code)]

#[path = "../../../store/src/bin/fault_appender/district.rs"]
pub mod district;
pub mod scenario;
