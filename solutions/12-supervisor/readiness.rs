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

use std::io::{self, IoSliceMut};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::unistd::Pid;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// The receiving end of a service's notify socket.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
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
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the message says `READY=1`.
    pub fn is_ready(&self) -> bool {
        self.get("READY") == Some("1")
    }

    /// Whether the sender is a process of group `pgid` (read from `/proc/PID/stat` now: a
    /// sender that has already exited cannot be checked and does not count).
    pub fn from_group(&self, pgid: Pid) -> bool {
        // A zombie is still in /proc with its group: a service that said READY=1 and exited
        // at once still counts until it is reaped.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        let Some(end) = stat.rfind(')') else {
            return false;
        };
        // After the command: state, ppid, pgrp (proc(5) fields 3, 4, 5).
        stat[end + 1..]
            .split_whitespace()
            .nth(2)
            .and_then(|f| f.parse::<i32>().ok())
            == Some(pgid.as_raw())
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
        let path = dir.join(format!("{name}.notify"));
        // A file left by a supervisor that was killed would make bind fail with EADDRINUSE.
        // This directory is ours, so whatever has this name is a leftover of ours.
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let socket = UnixDatagram::bind(&path)?;
        let me = NotifySocket { socket, path };
        // Without SO_PASSCRED the datagrams arrive without credentials, and any process of
        // the same user could make any service look ready.
        setsockopt(&me.socket, sockopt::PassCred, &true)?;
        // recv drains what is there; the caller's poll says when there is something.
        me.socket.set_nonblocking(true)?;
        Ok(me)
    }

    /// The socket's path: the value of `NOTIFY_SOCKET` for the service.
    pub fn path(&self) -> &Path {
        &self.path
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
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // Room for the credentials and for as many fds as one message can carry
            // (SCM_MAX_FD): a sender may attach fds, and a control buffer too small for them
            // sets MSG_CTRUNC, which nix reports as ENOBUFS.
            let mut cmsg = nix::cmsg_space!(libc::ucred, [std::os::fd::RawFd; 253]);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => msg,
                Err(Errno::EAGAIN) => return Ok(out),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            // One datagram that cannot be read whole is skipped, never the batch: an error here
            // would drop a READY=1 read before it, and any process of the user could send one.
            let Ok(cmsgs) = msg.cmsgs() else { continue };
            let mut sender = None;
            for c in cmsgs {
                match c {
                    ControlMessageOwned::ScmCredentials(cred) => {
                        sender = Some((Pid::from_raw(cred.pid()), cred.uid()));
                    }
                    // fds nobody asked for: the kernel installed them in our table; close them.
                    ControlMessageOwned::ScmRights(fds) => {
                        for fd in fds {
                            // SAFETY: the kernel just installed `fd` for us; nothing else owns it.
                            drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
                        }
                    }
                    _ => {}
                }
            }
            if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
                continue;
            }
            let len = msg.bytes;
            // A datagram without credentials cannot be trusted: SO_PASSCRED was set before
            // any service knew the path, so this does not happen, but do not guess.
            let Some((pid, uid)) = sender else { continue };
            let text = String::from_utf8_lossy(&buf[..len]);
            let fields = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            out.push(Notice { pid, uid, fields });
        }
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
        let mut status = None;
        loop {
            // Read what is there before looking at the pidfd: a service that said READY=1
            // and then exited was ready (its exit is the next event, not this one).
            for notice in self.recv()? {
                if !notice.from_group(pgid) {
                    continue;
                }
                if let Some(s) = notice.get("STATUS") {
                    status = Some(s.to_string());
                }
                if notice.is_ready() {
                    return Ok(Started::Ready {
                        by: notice.pid,
                        status,
                    });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = [
                PollFd::new(&self.socket, PollFlags::IN),
                PollFd::new(&pidfd, PollFlags::IN),
            ];
            if left.is_zero() {
                return Ok(Started::TimedOut);
            }
            let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            });
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            if !fds[1].revents().is_empty() && fds[0].revents().is_empty() {
                return Ok(Started::Exited);
            }
        }
    }
}

impl AsFd for NotifySocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        // The socket file outlives the socket: remove it, or the directory fills with them.
        let _ = std::fs::remove_file(&self.path);
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
    let tcp = if target.starts_with('/') {
        None
    } else {
        let addrs: Vec<_> = target
            .to_socket_addrs()
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{target}` is neither HOST:PORT nor a socket path: {e}"),
                )
            })?
            .collect();
        Some(addrs)
    };
    let mut pause = Duration::from_millis(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = match &tcp {
            None => UnixStream::connect(target).map(drop),
            Some(addrs) => {
                let mut last = Err(io::Error::from(io::ErrorKind::AddrNotAvailable));
                for addr in addrs {
                    // A connect to a host that drops packets would block for minutes.
                    last = TcpStream::connect_timeout(addr, left.max(Duration::from_millis(1)))
                        .map(drop);
                    if last.is_ok() {
                        break;
                    }
                }
                last
            }
        };
        let err = match attempt {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{target} did not accept a connection before the deadline: {err}"),
            ));
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
