//! wish, the week-1 command executor (being written).

use std::process::ExitCode;

/// Runs the shell with the given command-line arguments (program name excluded).
pub fn main(args: Vec<String>) -> ExitCode {
    // TODO: everything
    todo!("the shell")
}
