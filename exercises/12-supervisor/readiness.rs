//! Ready means READY=1 from the service itself, or a connect that succeeds, before a deadline.
//!
//! Scenario: `web` depends on `db` being ready, not merely started: a database that is still
//! replaying its journal refuses connections, and `web` crashes on its first query. A process
//! existing says nothing about it being ready. Two ways to know: the service says so (the
//! sd_notify protocol: it sends `READY=1` in a datagram to the Unix socket named in its
//! `NOTIFY_SOCKET` environment variable), or the supervisor tries what clients will do (connect
//! to its address). Either may never come: a deadline bounds the wait, and a service that dies
//! while starting has failed at once, not at the deadline.
//!
//! Anyone who can write to the socket can send `READY=1`. The kernel can say who sent a
//! datagram: with `SO_PASSCRED` on the receiving socket, every message arrives with the
//! sender's pid, uid and gid in an `SCM_CREDENTIALS` control message, checked by the kernel.
//! Only a process of the service's own process group counts.
//!
//! Goal:
//! - [`NotifySocket::bind`] creates `DIR/NAME.notify`, an `AF_UNIX` datagram socket with
//!   `SO_PASSCRED` on, non-blocking; [`NotifySocket::path`] is the value for `NOTIFY_SOCKET`;
//!   dropping it removes the file. It implements `AsFd`, for a supervisor's `poll`.
//! - [`NotifySocket::recv`] returns every datagram waiting, without blocking, as [`Notice`]s
//!   (the sender's pid and uid, and the message's `KEY=VALUE` lines).
//! - [`Notice::from_group`] says whether the sender is (still) in a given process group.
//! - [`NotifySocket::wait_ready`] sleeps (in `poll`, on the socket and the service's pidfd)
//!   until a `READY=1` from the service's group, the service's exit, or the deadline, and
//!   returns which, with the last `STATUS=` it received from the service.
//! - [`probe_connect`] tries to connect to `HOST:PORT` (TCP) or a Unix socket path until it
//!   succeeds or the deadline passes.
//!
//! Chapter: `docs/src/12-supervisor.md#readiness`. Check it with `cargo xtask check supervisor/readiness`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::unistd::Pid;

/// The receiving end of a service's notify socket.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
    #[allow(dead_code)] // read once the methods are written
    path: PathBuf,
}

/// One datagram received on a notify socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The sending process, as the kernel vouches for it (`SCM_CREDENTIALS`).
    pub pid: Pid,
    /// The sender's real user id.
    pub uid: u32,
    /// The message's `KEY=VALUE` lines, in order (lines without `=` are dropped).
    pub fields: Vec<(String, String)>,
}

/// How a [`NotifySocket::wait_ready`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A process of the service's group sent `READY=1`.
    Ready {
        /// Who sent it.
        by: Pid,
        /// The last `STATUS=` the service sent, if any.
        status: Option<String>,
    },
    /// The service's main process exited first.
    Exited,
    /// The deadline passed first.
    TimedOut,
}

impl Notice {
    /// The value of the last `KEY=` line, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        // TODO: the value of the last line with this key.
        todo!("find a key")
    }

    /// Whether the message says `READY=1`.
    pub fn is_ready(&self) -> bool {
        // TODO: READY=1?
        todo!("is it READY=1")
    }

    /// Whether the sender is a process of group `pgid` (read from `/proc/PID/stat` now: a
    /// sender that has already exited cannot be checked and does not count).
    pub fn from_group(&self, pgid: Pid) -> bool {
        // TODO: is the sender in that process group now?
        todo!("check the sender's group")
    }
}

impl NotifySocket {
    /// Binds `DIR/NAME.notify` (a stale file of that name is replaced).
    ///
    /// # Errors
    /// The bind or the socket options failing.
    ///
    /// # References
    /// `unix(7)` (`SO_PASSCRED`), `sd_notify(3)`.
    pub fn bind(dir: &Path, name: &str) -> io::Result<NotifySocket> {
        // TODO: bind DIR/NAME.notify so that every datagram comes with its sender.
        todo!("bind the notify socket")
    }

    /// The socket's path: the value of `NOTIFY_SOCKET` for the service.
    pub fn path(&self) -> &Path {
        // TODO: the path to put in NOTIFY_SOCKET.
        todo!("the socket's path")
    }

    /// Every datagram waiting, without blocking (an empty `Vec` when there is none). A datagram
    /// that cannot be read whole (a sender attached fds: they are closed, not kept; a control
    /// buffer truncated, `MSG_CTRUNC`) is skipped, never the batch: one process must not be
    /// able to make the others' `READY=1` disappear.
    ///
    /// # Errors
    /// `recvmsg` failing (not `EAGAIN` or `EINTR`).
    ///
    /// # References
    /// `recvmsg(2)`, `unix(7)` (`SCM_CREDENTIALS`).
    pub fn recv(&self) -> io::Result<Vec<Notice>> {
        // TODO: every datagram waiting, with its sender, without blocking.
        todo!("receive the notices")
    }

    /// Waits until a process of group `pgid` sends `READY=1`, the process behind `pidfd` (the
    /// service's main process) exits, or `deadline` passes. Notices from other processes are
    /// ignored. Sleeps in `poll`; a signal (EINTR) does not end the wait.
    ///
    /// # Errors
    /// `poll` or [`recv`](Self::recv) failing.
    pub fn wait_ready(
        &self,
        pgid: Pid,
        pidfd: BorrowedFd<'_>,
        deadline: Instant,
    ) -> io::Result<Started> {
        // TODO: sleep until READY=1 from the service's group, its exit, or the deadline.
        todo!("wait for readiness")
    }
}

impl AsFd for NotifySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        // TODO: what does the socket leave behind when it closes?
    }
}

/// Tries to connect to `target` until it works or `deadline` passes: `HOST:PORT` over TCP,
/// anything starting with `/` as a Unix stream socket path. The connection is closed at once.
///
/// A refused connection gives nothing to wait on, so this retries after a pause that grows
/// from 10 ms to 200 ms: the one place where a supervisor polls, bounded by the deadline.
///
/// # Errors
/// `InvalidInput` for a target that is neither; `TimedOut` naming the target and the last
/// error when the deadline passes.
pub fn probe_connect(target: &str, deadline: Instant) -> io::Result<()> {
    // TODO: connect until it works or the deadline passes.
    todo!("probe the address")
}
