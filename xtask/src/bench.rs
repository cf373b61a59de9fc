//! `cargo xtask bench [GROUP] [--quick] [--report-only]`: runs the benchmark report of
//! `crates/bench` (its `bench-report` binary, which runs the criterion benches and writes the
//! tables, the chart and the machine description). The runner keeps only the verb.

use std::process::{Command, ExitCode};

use anyhow::Context;

/// Runs `bench`: `cargo run -p proclings-bench --bin bench-report -- ARGS` in the root.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let root = crate::manifest::root();
    let status = Command::new(crate::cargo::cargo_program())
        .args([
            "run",
            "--quiet",
            "-p",
            "proclings-bench",
            "--bin",
            "bench-report",
            "--",
        ])
        .args(args)
        .current_dir(&root)
        .env("PROCLINGS_ROOT", &root)
        .status()
        .context("cannot run cargo")?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
