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

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
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
    mut cmd: Command,
    limit: Duration,
    grace: Duration,
    cancel: CancellationToken,
) -> io::Result<Outcome> {
    // A process group of its own: the child's pid becomes the group id, and everything it
    // starts inherits the group (unless it makes its own, as interactive shells do per job).
    // kill_on_drop stays as a last resort if this future is dropped: it reaches the leader.
    cmd.process_group(0).kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let pgid = child.id().expect("a child not yet waited for has a pid");
    let stop_as_cancel = tokio::select! {
        status = child.wait() => {
            let status = status?;
            // The command ended by itself, but a job it started in the background may run on
            // in its group: nothing the command started may outlive this call. (The group id
            // cannot have been reused while a member lives, as in `stop_group`.)
            signal_group(pgid, Signal::SIGKILL)?;
            return Ok(Outcome::Exited(status));
        }
        () = tokio::time::sleep(limit) => false,
        () = cancel.cancelled() => true,
    };
    let status = stop_group(&mut child, pgid, grace).await?;
    Ok(if stop_as_cancel {
        Outcome::Cancelled(status)
    } else {
        Outcome::TimedOut(status)
    })
}

/// SIGTERM to the group `pgid` led by `child`; SIGKILL to the group if `child` is still running
/// after `grace`; then returns its status (it is reaped).
async fn stop_group(child: &mut Child, pgid: u32, grace: Duration) -> io::Result<ExitStatus> {
    signal_group(pgid, Signal::SIGTERM)?;
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status?,
        Err(_elapsed) => {
            signal_group(pgid, Signal::SIGKILL)?;
            child.wait().await?
        }
    };
    // The leader is gone, but a member that ignores SIGTERM may still run: SIGKILL for the
    // rest of the group. The group id cannot have been given to another group while a member
    // lives; if none lives, the call fails with ESRCH (and Linux hands out pids in a cycle,
    // so the number is not reused within this instant).
    signal_group(pgid, Signal::SIGKILL)?;
    Ok(status)
}

/// `killpg(pgid, sig)`, where a group that no longer exists is not an error.
fn signal_group(pgid: u32, sig: Signal) -> io::Result<()> {
    let pgid = i32::try_from(pgid).map_err(io::Error::other)?;
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
