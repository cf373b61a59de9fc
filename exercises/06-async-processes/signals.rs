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
    cmd: Command,
    grace: Duration,
    ready: impl FnOnce(u32),
) -> io::Result<Ending> {
    // TODO: run the child in a group of its own, call `ready`, then wait for the first of
    // the child's exit, SIGINT and SIGTERM; on a signal stop the group and say which it was.
    todo!("supervise the child until it exits or a signal comes")
}
