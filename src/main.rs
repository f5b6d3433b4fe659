//! The `fleetsim` binary: parse the command line, run, report errors.
//! Exit codes: 0 success, 1 runtime failure, 2 bad input (nothing written).

mod app;
mod cli;

use clap::Parser;

use app::{Failure, main_with};
use cli::Cli;

/// Standard output that cannot be written (a closed pipe, a full disk)
/// ends the program with exit 1: silently for a closed pipe (`| head`),
/// with one line otherwise, never with a panic's backtrace.
fn exit_on_stdout_failure() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(reason) = msg.strip_prefix("failed printing to stdout: ") {
            if !reason.contains("Broken pipe") {
                eprintln!("Error: cannot write to standard output: {reason}");
            }
            std::process::exit(1);
        }
        default(info);
    }));
}

/// An error message as the terminal may show it: control characters from
/// the user's input (a name, a path) escaped, line breaks kept, numbers of
/// hundreds of digits in scientific form.
fn safe(msg: &str) -> String {
    msg.split('\n')
        .map(fleetsim::units::readable_numbers)
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    exit_on_stdout_failure();
    let cli = Cli::parse();
    match main_with(cli) {
        Ok(()) => {}
        Err(Failure::Input(msg)) => {
            eprintln!("Error: {}", safe(&msg));
            std::process::exit(2);
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("Error: {}", safe(&format!("{e:#}")));
            std::process::exit(1);
        }
        Err(Failure::Interrupted(msg)) => {
            eprintln!("{}", safe(&msg));
            std::process::exit(130);
        }
    }
}
