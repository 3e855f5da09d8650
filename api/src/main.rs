//! `bangfu`: the command-line program.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Behave like other Unix tools when output goes to `head`: end quietly, never panic.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
