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
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
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
    out: ChildStdout,
    /// Bytes read but not yet ending in a newline.
    partial: Vec<u8>,
    /// Complete lines read but not yet consumed (by `wait_ready` or `check`).
    lines: Vec<String>,
    eof: bool,
    last_beat: Instant,
    status: Option<ExitStatus>,
}

/// Spawns `cmd` with its stdout piped to the monitor.
pub fn start(cmd: &mut Command) -> io::Result<Monitored> {
    // Stdio::piped: std keeps only the read end in this process, so end of file arrives as soon
    // as the child (and whatever inherited its stdout) is gone. A pipe made by hand and handed
    // over would need the parent's copy of the write end dropped for the same effect.
    let mut child = cmd.stdout(Stdio::piped()).spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("stdout was not piped"))?;
    Ok(Monitored {
        child,
        out,
        partial: Vec::new(),
        lines: Vec::new(),
        eof: false,
        last_beat: Instant::now(),
        status: None,
    })
}

impl Monitored {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the child says `ready`, at most `deadline`. `Ok(false)` when the deadline
    /// passes first or the child ends without saying it; beats meanwhile are kept for `check`.
    pub fn wait_ready(&mut self, deadline: Duration) -> io::Result<bool> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(i) = self.lines.iter().position(|l| l == "ready") {
                self.lines.remove(i);
                return Ok(true);
            }
            if self.eof || !self.read_some(until)? {
                return Ok(false);
            }
        }
    }

    /// Waits at most `deadline` for a beat and says what it found. End of file on the pipe is
    /// not death by itself (a child can close its stdout and run on): `Dead` once it has exited,
    /// `Hung` if it is still running when the deadline passes.
    pub fn check(&mut self, deadline: Duration) -> io::Result<Health> {
        if let Some(status) = self.status {
            return Ok(Health::Dead(status));
        }
        let until = Instant::now() + deadline;
        loop {
            let beats = self.take_beats();
            if beats > 0 {
                self.last_beat = Instant::now();
                return Ok(Health::Alive { beats });
            }
            if self.eof {
                // Every write end is closed: the child is gone, about to be, or it closed its
                // stdout and runs on. Wait for its exit, but only until the deadline.
                if let Some(status) = self.wait_exit(until)? {
                    self.status = Some(status);
                    return Ok(Health::Dead(status));
                }
                break;
            }
            if !self.read_some(until)? {
                break;
            }
        }
        // The deadline passed without a beat. A child that exited while keeping the pipe
        // open elsewhere (a grandchild inherited it) is dead, not hung.
        if let Some(status) = self.child.try_wait()? {
            self.status = Some(status);
            return Ok(Health::Dead(status));
        }
        Ok(Health::Hung {
            silent_for: self.last_beat.elapsed(),
        })
    }

    /// Waits for the child to exit until `until` passes, through a pidfd (readable once the
    /// process has exited), and reaps it. `None` if it is still running at the deadline.
    fn wait_exit(&mut self, until: Instant) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(Some(status));
        }
        let pid = libc::pid_t::try_from(self.child.id()).map_err(io::Error::other)?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; the pid is our
        // unreaped child, so it cannot name another process.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let raw = i32::try_from(raw).map_err(io::Error::other)?;
        // SAFETY: pidfd_open just returned this fd, and nothing else owns it.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) if left.as_millis() <= u128::from(u16::MAX) => return Ok(None),
                Ok(0) | Err(Errno::EINTR) => {}
                Ok(_) => return self.child.try_wait(),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes the complete `beat` lines read so far and returns how many there were.
    fn take_beats(&mut self) -> u64 {
        let before = self.lines.len();
        self.lines.retain(|l| l != "beat");
        (before - self.lines.len()) as u64
    }

    /// Waits until the pipe is readable or `until` passes, then reads what is there. Returns
    /// false when the deadline passed with nothing to read.
    fn read_some(&mut self, until: Instant) -> io::Result<bool> {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.out.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            // Nothing yet, or a signal interrupted the wait: the caller asks again, and the next
            // call finds the deadline passed or waits for what is left of it (poll's timeout is
            // capped at u16::MAX ms, and rounded down to whole ms).
            Ok(0) | Err(Errno::EINTR) => return Ok(true),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        // poll said readable (data or end of file): this read returns at once, so no signal can
        // interrupt it.
        let mut buf = [0u8; 4096];
        let n = self.out.read(&mut buf)?;
        if n == 0 {
            self.eof = true;
            return Ok(true);
        }
        self.partial.extend_from_slice(&buf[..n]);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.lines
                .push(String::from_utf8_lossy(&line[..i]).trim().to_owned());
        }
        Ok(true)
    }
}

impl Drop for Monitored {
    fn drop(&mut self) {
        if self.status.is_none() {
            // A hung child does not go away by itself: kill and reap it.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
