//! Running the real `bangfu` binary from the CLI tests, never against a PostgreSQL server the
//! environment happens to name. Each test file uses only some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `bangfu ARGS` run in `dir`.
pub fn bangfu_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .current_dir(dir)
        .args(args)
        .env_remove("BANGFU_DATABASE_URL")
        .output()
        .expect("the bangfu binary runs")
}

/// `bangfu ARGS --data DATA`.
pub fn bangfu_data(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("BANGFU_DATABASE_URL")
        .output()
        .expect("the bangfu binary runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `bangfu ARGS` in `dir`, which must succeed; its standard output.
pub fn ok_in(dir: &Path, args: &[&str]) -> String {
    let out = bangfu_in(dir, args);
    assert!(
        out.status.success(),
        "bangfu {args:?} failed ({:?}): {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
