//! `cargo xtask explain` (being written).

use std::process::ExitCode;

/// Runs the `explain` verb with the arguments that follow it.
pub fn run(_args: &[String]) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`explain` is not available yet")
}
