//! `cargo xtask bench` (being written).

use std::process::ExitCode;

/// Runs the `bench` verb with the arguments that follow it.
pub fn run(_args: &[String]) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`bench` is not available yet")
}
