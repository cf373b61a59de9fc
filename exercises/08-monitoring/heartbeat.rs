//! A health check: a heartbeat over a pipe, with a deadline.
//!
//! Scenario: a process can be alive and useless: stuck on a lock, in an endless loop, stopped
//! by SIGSTOP. Its pid exists and `kill(pid, 0)` succeeds, so "is it running?" says yes. A
//! heartbeat asks a better question: the child writes `beat` on its stdout at a steady pace, and
//! the monitor expects a beat within a deadline. No beat in time while the process still exists
//! means hung; end of file on the pipe means every write end is closed: the child is gone (its
//! exit status tells how it ended), or it closed its stdout and runs on, which is no better. Readiness is a different question from liveness: the
//! child says `ready` once, when it can serve; a process may be alive long before it is ready.
//!
//! Goal: start a child with its stdout as the heartbeat pipe, wait for its readiness with a
//! deadline, and tell alive, hung and dead apart, never blocking past the deadline.
//! Chapter: `docs/src/08-monitoring.md#heartbeat`. Check: `cargo xtask check monitoring/heartbeat`.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// At least one beat arrived within the deadline (`beats` of them, this check).
    Alive {
        /// Beats read during this check.
        beats: u64,
    },
    /// No beat within the deadline, yet the process has not exited.
    Hung {
        /// Time since the last beat (or since the start, if it never beat).
        silent_for: Duration,
    },
    /// The process exited (and was reaped).
    Dead(ExitStatus),
}

/// A child whose stdout is its heartbeat. Dropping it kills and reaps the child.
#[derive(Debug)]
pub struct Monitored {
    child: Child,
    // TODO: whatever else the checks need to remember between calls.
}

/// Spawns `cmd` with its stdout piped to the monitor.
pub fn start(cmd: &mut Command) -> io::Result<Monitored> {
    // TODO
    todo!("start {cmd:?} with a heartbeat pipe")
}

impl Monitored {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the child says `ready`, at most `deadline`. `Ok(false)` when the deadline
    /// passes first or the child ends without saying it; beats meanwhile are kept for `check`.
    pub fn wait_ready(&mut self, deadline: Duration) -> io::Result<bool> {
        // TODO
        todo!("wait for `ready`")
    }

    /// Waits at most `deadline` for a beat and says what it found. End of file on the pipe is
    /// not death by itself (a child can close its stdout and run on): `Dead` once it has exited,
    /// `Hung` if it is still running when the deadline passes.
    pub fn check(&mut self, deadline: Duration) -> io::Result<Health> {
        // TODO: a beat, end of file, or the deadline: which one came first, and what it means.
        todo!("check the heartbeat")
    }
}

impl Drop for Monitored {
    fn drop(&mut self) {
        // A hung child does not go away by itself.
        // TODO: make sure nothing is left running or unreaped.
    }
}
