//! The `fleetsim` binary: parse the command line, run, report errors.
//! Exit codes: 0 success, 1 runtime failure, 2 bad input (nothing written).

mod app;
mod cli;

use clap::Parser;

use app::{Failure, main_with};
use cli::Cli;

fn main() {
    let cli = Cli::parse();
    match main_with(cli) {
        Ok(()) => {}
        Err(Failure::Input(msg)) => {
            eprintln!("Error: {msg}");
            std::process::exit(2);
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("Error: {e:#}");
            std::process::exit(1);
        }
    }
}
