//! Exercise `daemon/control`: stop, reload and ask about a daemon through its pid file.
//!
//! Scenario: an init script or an operator controls a daemon it did not start and is not the
//! parent of: it cannot `wait` for it. It has a pid file (see `daemon/pidfile`, whose
//! `status` this exercise builds on) and signals. A pid file can be stale, and a stale pid can
//! name an unrelated process that must never be signalled.
//!
//! Goal: [`stop`] sends SIGTERM, waits for the daemon to exit up to `grace`, then sends SIGKILL
//! and waits again; it sleeps in the kernel while it waits (no loop of sleeps and checks), and it
//! signals nobody when the pid file is stale or absent. [`reload`] sends SIGHUP. [`lsb_status`]
//! answers with the exit code of an LSB init script's `status` action.
//!
//! Read: docs/src/10-daemon.md#control. Check: `cargo xtask check daemon/control`.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

/// How [`stop`] ended the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It exited within the grace period after SIGTERM, or had already exited by itself when the
    /// signal was sent (a daemon already gone is stopped, not a failure).
    Terminated(u32),
    /// It was still running after the grace period and was killed with SIGKILL.
    Killed(u32),
}

/// Why a control action did nothing.
#[derive(Debug)]
pub enum ControlError {
    /// There is no pid file: the daemon is not running.
    NotRunning,
    /// The pid file is stale (no live holder): nothing was signalled, whatever its pid names.
    Stale(Option<u32>),
    /// The daemon did not exit even after SIGKILL within the deadline.
    StillRunning(u32),
    /// Reading the pid file or signalling failed.
    Io(io::Error),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NotRunning => write!(f, "not running (no pid file)"),
            ControlError::Stale(Some(pid)) => write!(
                f,
                "not running: stale pid file (pid {pid} is not ours); nothing was signalled"
            ),
            ControlError::Stale(None) => {
                write!(f, "not running: stale pid file; nothing was signalled")
            }
            ControlError::StillRunning(pid) => {
                write!(f, "pid {pid} is still running after SIGKILL")
            }
            ControlError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ControlError {}

impl From<io::Error> for ControlError {
    fn from(e: io::Error) -> Self {
        ControlError::Io(e)
    }
}

/// Stops the daemon: SIGTERM, up to `grace` for it to exit, then SIGKILL (and wait again).
///
/// # References
/// pidfd_open(2), pidfd_send_signal(2), poll(2).
pub fn stop(pidfile: &Path, grace: Duration) -> Result<Stopped, ControlError> {
    // TODO: find the daemon, signal it, wait for it; never touch a process the file does not
    // vouch for.
    todo!("stop the daemon of {}", pidfile.display())
}

/// Asks the daemon to reload (SIGHUP); returns its pid.
pub fn reload(pidfile: &Path) -> Result<u32, ControlError> {
    // TODO
    todo!("reload the daemon of {}", pidfile.display())
}

/// The LSB `status` exit code and a one-line message: `0` and `NAME is running (pid N)`, `1`
/// and `NAME is dead but its pid file P remains (pid N)`, `3` and `NAME is stopped`, `4` when
/// the pid file cannot be read.
pub fn lsb_status(name: &str, pidfile: &Path) -> (u8, String) {
    // TODO
    todo!("status of {name}")
}
