//! `cargo xtask doctor` (being written).

use std::process::ExitCode;

/// Runs the `doctor` verb with the arguments that follow it.
pub fn run(_args: &[String]) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`doctor` is not available yet")
}
