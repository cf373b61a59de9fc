//! Running a command with tokio, and not leaving it behind when the caller gives up.
//!
//! Scenario: a web handler runs a converter for each request and awaits its output. When the
//! client hangs up, the framework drops the handler's future in the middle of the await. With
//! std's or tokio's default, the converter keeps running, unseen, and keeps its pid and its
//! memory until it ends by itself, if it ever does.
//!
//! Goal: run the command, capture its output without blocking the runtime's thread, and make
//! sure a dropped future takes its child down with it.
//!
//! Chapter: `docs/src/06-async-processes.md#kill_on_drop`.
//! Check: `cargo xtask check async-processes/kill_on_drop`.

use std::io;
use std::process::Output;

use tokio::process::Command;

/// Runs `cmd` to completion and returns its exit status, stdout and stderr.
///
/// The wait is asynchronous: many calls can wait at once on one thread. If the returned future
/// is dropped before the child ended, the child is killed (it does not keep running). A
/// program that cannot start is an error returned at once.
///
/// # References
/// `waitpid(2)`, `pidfd_open(2)`
pub async fn output_of(cmd: Command) -> io::Result<Output> {
    // TODO: run `cmd`, capturing both streams, and keep the contract above also when the
    // future is dropped half-way.
    todo!("run the command and capture its output")
}
