//! Timeouts and cancellation that stop a command with everything it started.
//!
//! Scenario: a CI runner gives each job a time limit, and a "cancel" button stops a whole
//! pipeline of jobs. A job is `sh -c 'make test'`: the shell starts `make`, which starts
//! compilers and test binaries. Killing the shell when the limit passes (what `kill_on_drop`
//! or `Child::kill` do) leaves all of those running, reparented to init, still holding the
//! CPU, the files and the ports.
//!
//! Goal: run the command so that everything it starts can be reached at once, and when the
//! limit passes or the batch is cancelled, stop all of it: politely first, then for sure.
//!
//! Chapter: `docs/src/06-async-processes.md#group_stop`.
//! Check: `cargo xtask check async-processes/group_stop`.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// How a command run by [`run_stoppable`] ended, with its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ended by itself within the limit.
    Exited(ExitStatus),
    /// The limit passed and it was stopped.
    TimedOut(ExitStatus),
    /// The token was cancelled and it was stopped.
    Cancelled(ExitStatus),
}

/// Runs `cmd` (its stdio as the caller set it) until it exits, `limit` passes, or `cancel` is
/// cancelled, whichever comes first. When it has to stop the command, it stops every process
/// the command started, not just the first: SIGTERM to all of them, then, if the command is
/// still running after `grace`, SIGKILL to all of them. Nothing the command started is left
/// running when this returns. One token can cancel many runs at once.
///
/// # References
/// `setpgid(2)`, `killpg(3)`, `kill(2)`
pub async fn run_stoppable(
    cmd: Command,
    limit: Duration,
    grace: Duration,
    cancel: CancellationToken,
) -> io::Result<Outcome> {
    // TODO: start the command so that all it starts can be signalled at once; wait for the
    // first of: its exit, the limit, the token; stop everything when it did not exit.
    todo!("run the command and stop all of it on time")
}
