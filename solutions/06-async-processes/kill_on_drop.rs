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
pub async fn output_of(mut cmd: Command) -> io::Result<Output> {
    // A dropped `tokio::process::Child` does not kill its process, like std's: without this
    // line a cancelled future leaves the child running. With it, dropping the future (and so
    // the `Child` inside `output()`) sends SIGKILL; tokio then reaps the dead child from its
    // orphan queue, one for the whole process, when a runtime next sees a SIGCHLD (best
    // effort: prefer `child.kill().await` where you can await). `output()` spawns synchronously (the fork/exec happens here) and only the
    // wait is asynchronous: tokio watches a pidfd, so no thread blocks in `waitpid`.
    cmd.kill_on_drop(true);
    cmd.output().await
}
