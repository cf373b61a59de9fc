//! Exercise `daemon/detach`: become a daemon by hand, the daemon(7) way, and tell the launcher
//! when you are ready.
//!
//! Scenario: a program started from a shell must turn itself into a daemon: a process with no
//! terminal, no session of the shell, no inherited fds or signal settings, that the launching
//! command does not wait for, but that reports back before the launching command returns, so
//! that `prog start && use-it` works, and so that a failed start-up is an error the user sees.
//!
//! Goal: `detach(umask)` returns `Ok(Ready)` only in the daemon. The launcher (the original
//! process) never returns from it: it exits 0 once the daemon calls [`Ready::ready`], or prints
//! the daemon's own message to stderr and exits 1 when the daemon calls [`Ready::fail`] or dies
//! before saying anything. Any process in between exits at once.
//!
//! The tests look at the running daemon from outside, through `/proc`: its parent, session,
//! controlling terminal, umask, working directory, open fds, blocked and ignored signals. They
//! start it from a terminal, with an inherited fd, a blocked and an ignored signal.
//!
//! Read: docs/src/10-daemon.md#detach. Check: `cargo xtask check daemon/detach`.

use std::fs::File;
use std::io;

use nix::sys::stat::Mode;

/// The daemon's end of the channel back to the launcher: say "ready" once, or fail.
#[derive(Debug)]
pub struct Ready {
    #[allow(dead_code)] // used once solved
    pipe: File,
}

impl Ready {
    /// Tells the launcher that start-up succeeded; the launcher then exits 0.
    pub fn ready(self) -> io::Result<()> {
        // TODO: tell the launcher.
        todo!("report readiness")
    }

    /// Tells the launcher that start-up failed with `message` (the launcher prints it and exits
    /// 1), then exits the daemon with status 1, as a forked child must: without running the
    /// launcher's exit handlers.
    pub fn fail(self, message: &str) -> ! {
        // TODO: tell the launcher why, then exit.
        todo!("report the failure: {message}")
    }
}

/// Detaches the calling process into a daemon with `mask` as its umask.
///
/// Call it while the process has a single thread, and while no live value owns an fd above 2:
/// the daemon closes every fd from 3 up but its own end of the readiness pipe (a `File` still
/// alive would later close whatever else got its number). It returns `Err` only in the launcher,
/// before anything was forked.
///
/// # References
/// daemon(7) "SysV daemons", fork(2), setsid(2), close_range(2), umask(2).
pub fn detach(mask: Mode) -> io::Result<Ready> {
    // TODO: the launcher, the process in between and the daemon each have their part.
    todo!("detach with umask {mask:?}")
}
