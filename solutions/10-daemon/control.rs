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
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use crate::pidfile::{Status, status};

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

/// How long [`stop`] waits after SIGKILL: the kernel frees a killed process promptly, but a
/// loaded machine may take a moment.
const AFTER_KILL: Duration = Duration::from_secs(10);

/// Opens a pidfd for the daemon named by the pid file at `pidfile`, checking that the file is
/// still held after the pidfd exists (so the pidfd cannot name a process that reused the pid).
fn open_daemon(pidfile: &Path) -> Result<(u32, OwnedFd), ControlError> {
    let pid = match status(pidfile)? {
        Status::Running(pid) => pid,
        Status::Stale(pid) => return Err(ControlError::Stale(pid)),
        Status::Stopped => return Err(ControlError::NotRunning),
    };
    let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let Some(raw) = raw else {
        return Err(ControlError::Stale(Some(pid)));
    };
    let pidfd = match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => fd,
        // It died between the lock check and the open.
        Err(rustix::io::Errno::SRCH) => return Err(ControlError::NotRunning),
        Err(e) => return Err(io::Error::from(e).into()),
    };
    // The pid could have been freed and reused between `status` and `pidfd_open`. If the lock
    // is still held under the same pid now, the pidfd names the holder.
    match status(pidfile)? {
        Status::Running(again) if again == pid => Ok((pid, pidfd)),
        Status::Running(_) | Status::Stale(_) | Status::Stopped => {
            Err(ControlError::Stale(Some(pid)))
        }
    }
}

/// Waits until the process behind `pidfd` exits or `deadline` passes; true when it exited.
/// A pidfd becomes readable when its process exits: the wait is one `poll(2)`.
fn exited_within(pidfd: &OwnedFd, deadline: Duration) -> io::Result<bool> {
    let timeout =
        Timespec::try_from(deadline).map_err(|_| io::Error::other("deadline too long"))?;
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(n) => return Ok(n > 0),
            // A signal interrupted the wait; a shorter deadline would be more precise, but
            // waiting the full time again is never wrong for a stop.
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Stops the daemon: SIGTERM, up to `grace` for it to exit, then SIGKILL.
///
/// # References
/// pidfd_open(2), pidfd_send_signal(2), poll(2).
pub fn stop(pidfile: &Path, grace: Duration) -> Result<Stopped, ControlError> {
    let (pid, pidfd) = open_daemon(pidfile)?;
    // Signalling through the pidfd reaches exactly the process it was opened for. ESRCH: it
    // exited (and was reaped) since the check; a daemon already gone is what `stop` wants.
    match pidfd_send_signal(&pidfd, Signal::TERM) {
        Ok(()) => {}
        Err(rustix::io::Errno::SRCH) => return Ok(Stopped::Terminated(pid)),
        Err(e) => return Err(io::Error::from(e).into()),
    }
    if exited_within(&pidfd, grace)? {
        return Ok(Stopped::Terminated(pid));
    }
    match pidfd_send_signal(&pidfd, Signal::KILL) {
        Ok(()) => {}
        // It exited between the end of the grace period and SIGKILL.
        Err(rustix::io::Errno::SRCH) => return Ok(Stopped::Terminated(pid)),
        Err(e) => return Err(io::Error::from(e).into()),
    }
    if exited_within(&pidfd, AFTER_KILL)? {
        Ok(Stopped::Killed(pid))
    } else {
        Err(ControlError::StillRunning(pid))
    }
}

/// Asks the daemon to reload (SIGHUP); returns its pid.
pub fn reload(pidfile: &Path) -> Result<u32, ControlError> {
    let (pid, pidfd) = open_daemon(pidfile)?;
    match pidfd_send_signal(&pidfd, Signal::HUP) {
        Ok(()) => Ok(pid),
        // It exited since the check: there is nothing left to reload.
        Err(rustix::io::Errno::SRCH) => Err(ControlError::NotRunning),
        Err(e) => Err(io::Error::from(e).into()),
    }
}

/// The LSB `status` exit code and a one-line message: 0 running, 1 dead with a pid file left,
/// 3 stopped, 4 unknown (the pid file could not be read).
pub fn lsb_status(name: &str, pidfile: &Path) -> (u8, String) {
    match status(pidfile) {
        Ok(Status::Running(pid)) => (0, format!("{name} is running (pid {pid})")),
        Ok(Status::Stale(pid)) => (
            1,
            format!(
                "{name} is dead but its pid file {} remains (pid {})",
                pidfile.display(),
                pid.map_or("unknown".to_string(), |p| p.to_string())
            ),
        ),
        Ok(Status::Stopped) => (3, format!("{name} is stopped")),
        Err(e) => (4, format!("{name}: cannot read {}: {e}", pidfile.display())),
    }
}
