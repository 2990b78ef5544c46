//! The `sluice` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    match sluice::cli::main() {
        Ok(code) => code,
        Err(error) => {
            sluice::cli::report(&error);
            ExitCode::FAILURE
        }
    }
}
