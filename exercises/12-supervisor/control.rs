//! An owner-only control socket with a line protocol a script can rely on.
//!
//! Scenario: `svctl stop web` talks to the supervisor over a Unix socket. Whoever can send
//! `stop db` can stop the database, so only the owner may; a socket file's mode is a first
//! fence (and a root-run supervisor's files are reachable by root anyway), but the kernel can
//! say who connected: `SO_PEERCRED` gives the peer's pid, uid and gid as they were at
//! `connect`. And a script must be able to tell success from failure without parsing prose: a
//! fixed first line, `ok` or `error: REASON`.
//!
//! Goal:
//! - [`ControlSocket::bind`] listens on `path` (mode 0600) for clients of one uid. A stale
//!   socket file (nobody listening) is replaced; a live one is an `AddrInUse` error naming it
//!   (a second supervisor must not steal the first one's socket); a path that is not a socket
//!   is refused and left alone. Dropping it removes the file.
//! - [`ControlSocket::accept`] takes the next client: a [`Conn`] if its uid is allowed,
//!   otherwise [`Refused`] after writing `error: permission denied: uid U may not control this
//!   supervisor` to it and closing it.
//! - [`Conn::read_request`] reads one request line (at most [`MAX_REQUEST`] bytes) and parses
//!   it with [`parse_request`]; [`Conn::reply_ok`] and [`Conn::reply_error`] answer and close.
//!   The whole line must arrive within the socket's request timeout, counted from `accept`: a
//!   timeout per `read` is not enough, since a client that sends one byte now and then would
//!   restart it each time and hold the reader as long as it likes.
//!
//! The protocol, one request per connection:
//!
//! ```text
//! client: status | start NAME | stop NAME | restart NAME | logs NAME [-f] | reload
//! server: ok               then the reply's lines, then EOF
//!         error: REASON    then EOF
//! ```
//!
//! Chapter: `docs/src/12-supervisor.md#control`. Check it with `cargo xtask check supervisor/control`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest request line accepted, newline included.
pub const MAX_REQUEST: usize = 4096;

/// A request of the control protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `status`: one line per service.
    Status,
    /// `start NAME`.
    Start(String),
    /// `stop NAME`.
    Stop(String),
    /// `restart NAME`.
    Restart(String),
    /// `logs NAME [-f]`: the service's log, and with `-f` what follows.
    Logs {
        /// The service.
        name: String,
        /// Keep sending new lines until the client goes away.
        follow: bool,
    },
    /// `reload`: read the config again.
    Reload,
}

impl Request {
    /// The request as a client sends it, without the newline.
    pub fn to_line(&self) -> String {
        // TODO: the line a client sends.
        todo!("the request's line")
    }
}

/// A client of another uid, refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Its uid.
    pub uid: u32,
    /// Its pid.
    pub pid: i32,
}

/// The listening control socket.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read once the methods are written
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    allowed_uid: u32,
    request_timeout: Duration,
}

/// An accepted client of the allowed uid.
#[derive(Debug)]
#[allow(dead_code)] // read once the methods are written
pub struct Conn {
    stream: UnixStream,
    /// The client's pid, as of its `connect`.
    pub pid: i32,
    /// The client's uid.
    pub uid: u32,
    /// When the request line must be in: the accept's time plus the request timeout.
    deadline: Instant,
}

/// Parses one request line (without its newline).
///
/// # Errors
/// A one-line reason: an unknown command, a missing or extra argument, a bad service name.
pub fn parse_request(line: &str) -> Result<Request, String> {
    // TODO: one command and its arguments, or a one-line reason.
    todo!("parse a request")
}

impl ControlSocket {
    /// Listens on `path` for clients of `allowed_uid`; requests must arrive within 5 s.
    ///
    /// # Errors
    /// `AddrInUse` when a live socket is there, `AlreadyExists` when something else than a
    /// socket is, or the bind failing.
    ///
    /// # References
    /// `unix(7)`, `bind(2)`.
    pub fn bind(path: &Path, allowed_uid: u32) -> io::Result<ControlSocket> {
        // TODO: replace only a stale socket; listen; owner-only; request timeout 5 s.
        todo!("bind the control socket")
    }

    /// Replaces the time a client has to send its request.
    pub fn with_request_timeout(self, timeout: Duration) -> ControlSocket {
        // TODO: keep the timeout for the clients to come.
        todo!("set the request timeout")
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        // TODO: the socket's path.
        todo!("the path")
    }

    /// Waits for the next client; refuses (and answers) one of another uid.
    ///
    /// # Errors
    /// `accept` or `getsockopt` failing.
    ///
    /// # References
    /// `accept(2)`, `unix(7)` (`SO_PEERCRED`).
    pub fn accept(&self) -> io::Result<Result<Conn, Refused>> {
        // TODO: accept, ask the kernel who connected, refuse (and answer) a stranger.
        todo!("accept a client")
    }
}

impl AsFd for ControlSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        // TODO: what does a listening socket leave behind when it closes?
    }
}

impl Conn {
    /// Reads and parses the request line.
    ///
    /// # Errors
    /// `InvalidData` with the reason for a request that is too long, not UTF-8, or does not
    /// parse (answer it with [`reply_error`](Self::reply_error)); `WouldBlock` or `TimedOut`
    /// when the client sent no whole line in time; `UnexpectedEof` when it closed first.
    pub fn read_request(&mut self) -> io::Result<Request> {
        // TODO: one bounded line, within the timeout, parsed.
        todo!("read the request")
    }

    /// Answers `ok` and `lines`, then closes.
    ///
    /// # Errors
    /// Writing failing (the client went away).
    pub fn reply_ok(self, lines: &[String]) -> io::Result<()> {
        // TODO: `ok`, the lines, close.
        todo!("answer ok")
    }

    /// Answers `error: REASON` (one line: newlines in `reason` become spaces), then closes.
    ///
    /// # Errors
    /// Writing failing (the client went away).
    pub fn reply_error(self, reason: &str) -> io::Result<()> {
        // TODO: `error: REASON` on one line, close.
        todo!("answer an error")
    }

    /// Answers `ok` and hands over the stream, for a reply that goes on (`logs -f`).
    ///
    /// # Errors
    /// Writing failing.
    pub fn into_stream(self) -> io::Result<UnixStream> {
        // TODO: `ok`, then the stream.
        todo!("answer ok and go on")
    }
}
