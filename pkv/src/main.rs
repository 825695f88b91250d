//! `pkv`: the command-line tool of pobj-kv.
//!
//! Every command opens the pool named by its first argument. Errors are one line on stderr,
//! `pkv: ...`, with exit status 2; a missing key (`get`, `remove`) and a failed `check` exit
//! with status 1. See `pkv --help`.
#![deny(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    match cli::commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(msg) = e.message() {
                eprintln!("pkv: {msg}");
            }
            ExitCode::from(e.code())
        }
    }
}
