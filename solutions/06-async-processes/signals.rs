//! Ctrl-C and SIGTERM in an async program that supervises a child.
//!
//! Scenario: a small supervisor runs a service (a shell script and all it starts) in the
//! foreground. Ctrl-C in the terminal or `systemctl stop` (SIGTERM) must stop the service
//! cleanly and then the supervisor, with the exit status a shell expects. Left to the default
//! action, the signal kills the supervisor on the spot and the service's processes run on.
//!
//! Goal: wait at once for the child's exit, SIGINT and SIGTERM; on a signal, stop the child's
//! whole process group (SIGTERM, a grace, SIGKILL) and say which signal it was.
//!
//! Chapter: `docs/src/06-async-processes.md#signals`.
//! Check: `cargo xtask check async-processes/signals`.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::signal::unix::{SignalKind, signal};

/// How [`supervise`] ended, with the child's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The child ended by itself.
    Exited(ExitStatus),
    /// SIGINT (Ctrl-C) arrived; the child's group was stopped.
    Interrupted(ExitStatus),
    /// SIGTERM arrived; the child's group was stopped.
    Terminated(ExitStatus),
}

/// Runs `cmd` in a process group of its own and waits for whichever comes first: the child's
/// exit, SIGINT or SIGTERM to this process. On a signal, sends SIGTERM to the child's group,
/// and SIGKILL to it if the child is still running after `grace`; returns once the child was
/// reaped.
///
/// Calls `ready(child_pid)` once: after the child was spawned AND this process is ready for
/// both signals, so that a signal sent as soon as `ready` ran is handled, never fatal.
///
/// # References
/// `signal(7)`, `sigaction(2)`, `killpg(3)`
pub async fn supervise(
    mut cmd: Command,
    grace: Duration,
    ready: impl FnOnce(u32),
) -> io::Result<Ending> {
    // Installing the listeners replaces the default action (terminate) with tokio's handler,
    // which only records the signal and wakes the runtime. That must happen before anyone may
    // send the signal, hence before `ready`.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    cmd.process_group(0).kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let pgid = child.id().expect("a child not yet waited for has a pid");
    ready(pgid);
    let interrupted = tokio::select! {
        status = child.wait() => return Ok(Ending::Exited(status?)),
        _ = interrupt.recv() => true,
        _ = terminate.recv() => false,
    };
    // Stop the whole group: the signal may have reached only this process. `kill PID` reaches
    // only us, and so does a terminal's Ctrl-C, which goes to the terminal's foreground
    // process group: the child, in a group of its own, is not in it. (systemd's default
    // `KillMode=control-group` does signal every process of the unit, but a supervisor cannot
    // count on how it was started.)
    // The stop is group_stop's `stop_group` (the exercise that teaches it), written out again
    // so that this exercise stands alone.
    signal_group(pgid, Signal::SIGTERM)?;
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status?,
        Err(_elapsed) => {
            signal_group(pgid, Signal::SIGKILL)?;
            child.wait().await?
        }
    };
    // Whatever of the group ignored SIGTERM and outlived the leader.
    signal_group(pgid, Signal::SIGKILL)?;
    Ok(if interrupted {
        Ending::Interrupted(status)
    } else {
        Ending::Terminated(status)
    })
}

/// `killpg(pgid, sig)`, where a group that no longer exists is not an error.
fn signal_group(pgid: u32, sig: Signal) -> io::Result<()> {
    let pgid = i32::try_from(pgid).map_err(io::Error::other)?;
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
