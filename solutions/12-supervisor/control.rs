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

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, sockopt};

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
        match self {
            Request::Status => "status".into(),
            Request::Start(n) => format!("start {n}"),
            Request::Stop(n) => format!("stop {n}"),
            Request::Restart(n) => format!("restart {n}"),
            Request::Logs { name, follow: true } => format!("logs {name} -f"),
            Request::Logs {
                name,
                follow: false,
            } => format!("logs {name}"),
            Request::Reload => "reload".into(),
        }
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
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    allowed_uid: u32,
    request_timeout: Duration,
}

/// An accepted client of the allowed uid.
#[derive(Debug)]
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
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&cmd, args)) = words.split_first() else {
        return Err("empty request (expected status, start, stop, restart, logs or reload)".into());
    };
    let name = |args: &[&str]| -> Result<String, String> {
        match args {
            [n] if valid_name(n) => Ok((*n).to_string()),
            [n] => Err(format!(
                "`{n}` is not a service name (letters, digits, `-` and `_`)"
            )),
            [] => Err(format!("`{cmd}` needs a service name")),
            _ => Err(format!(
                "`{cmd}` takes one service name, got {}",
                args.len()
            )),
        }
    };
    let none = |args: &[&str]| -> Result<(), String> {
        if args.is_empty() {
            Ok(())
        } else {
            Err(format!("`{cmd}` takes no argument"))
        }
    };
    match cmd {
        "status" => none(args).map(|()| Request::Status),
        "reload" => none(args).map(|()| Request::Reload),
        "start" => name(args).map(Request::Start),
        "stop" => name(args).map(Request::Stop),
        "restart" => name(args).map(Request::Restart),
        "logs" => match args {
            [n, "-f"] => name(&[n]).map(|name| Request::Logs { name, follow: true }),
            _ => name(args).map(|name| Request::Logs {
                name,
                follow: false,
            }),
        },
        other => Err(format!(
            "unknown command `{other}` (expected status, start, stop, restart, logs or reload)"
        )),
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not a socket: not touching it",
                        path.display()
                    ),
                ));
            }
            Ok(_) => match UnixStream::connect(path) {
                // Someone answers: another supervisor runs. Its socket is not ours to remove.
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("another process listens on {}", path.display()),
                    ));
                }
                // ECONNREFUSED: a file without a listener, left by a supervisor that died.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path)?;
                }
                Err(e) => return Err(e),
            },
        }
        let listener = UnixListener::bind(path)?;
        let me = ControlSocket {
            listener,
            path: path.to_path_buf(),
            allowed_uid,
            request_timeout: Duration::from_secs(5),
        };
        // Connecting needs write permission on the file (unix(7)): 0600 keeps other users out
        // before they reach the uid check. Changing the umask around bind would do it without
        // a window, but the umask is per process and would race with other threads' files.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(me)
    }

    /// Replaces the time a client has to send its request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> ControlSocket {
        self.request_timeout = timeout;
        self
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for the next client; refuses (and answers) one of another uid.
    ///
    /// # Errors
    /// `accept` or `getsockopt` failing.
    ///
    /// # References
    /// `accept(2)`, `unix(7)` (`SO_PEERCRED`).
    pub fn accept(&self) -> io::Result<Result<Conn, Refused>> {
        let (mut stream, _) = self.listener.accept()?;
        // The kernel recorded the client's credentials at connect(2): they cannot be forged
        // by what the client sends, nor changed by a setuid after connecting.
        let cred = getsockopt(&stream, sockopt::PeerCredentials)?;
        if cred.uid() != self.allowed_uid {
            let refused = Refused {
                uid: cred.uid(),
                pid: cred.pid(),
            };
            // A client that does not read must not block us: best effort, then close.
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = writeln!(
                stream,
                "error: permission denied: uid {} may not control this supervisor",
                refused.uid
            );
            return Ok(Err(refused));
        }
        Ok(Ok(Conn {
            stream,
            pid: cred.pid(),
            uid: cred.uid(),
            deadline: Instant::now() + self.request_timeout,
        }))
    }
}

impl AsFd for ControlSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        // Closing the listener leaves the file: remove it, or the next start finds it stale.
        let _ = std::fs::remove_file(&self.path);
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
        let mut line = Vec::new();
        // take() bounds what one client can make us buffer; the deadline, how long it can make
        // us wait: before each read the socket's timeout is set to what is left of it.
        let mut reader = (&self.stream).take(MAX_REQUEST as u64);
        let mut buf = [0u8; 512];
        while line.last() != Some(&b'\n') {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no whole request line within the request timeout",
                ));
            }
            reader.get_ref().set_read_timeout(Some(left))?;
            // One byte at a time up to the newline would cost a system call per byte; a client
            // sends its line and waits for the answer, so nothing after the newline is lost.
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            line.extend_from_slice(&buf[..n]);
            if let Some(pos) = line.iter().position(|&b| b == b'\n') {
                line.truncate(pos + 1);
            }
        }
        if line.last() != Some(&b'\n') {
            if line.len() >= MAX_REQUEST {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("request longer than {MAX_REQUEST} bytes"),
                ));
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed before a whole request line",
            ));
        }
        line.pop();
        let text = String::from_utf8(line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "request is not UTF-8"))?;
        parse_request(text.trim_end_matches('\r'))
            .map_err(|reason| io::Error::new(io::ErrorKind::InvalidData, reason))
    }

    /// Answers `ok` and `lines`, then closes.
    ///
    /// # Errors
    /// Writing failing (the client went away).
    pub fn reply_ok(mut self, lines: &[String]) -> io::Result<()> {
        let mut out = String::from("ok\n");
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        self.stream.write_all(out.as_bytes())
    }

    /// Answers `error: REASON` (one line: newlines in `reason` become spaces), then closes.
    ///
    /// # Errors
    /// Writing failing (the client went away).
    pub fn reply_error(mut self, reason: &str) -> io::Result<()> {
        let reason = reason.replace(['\n', '\r'], " ");
        writeln!(self.stream, "error: {reason}")
    }

    /// Answers `ok` and hands over the stream, for a reply that goes on (`logs -f`).
    ///
    /// # Errors
    /// Writing failing.
    pub fn into_stream(mut self) -> io::Result<UnixStream> {
        self.stream.write_all(b"ok\n")?;
        Ok(self.stream)
    }
}
