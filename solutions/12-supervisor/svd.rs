//! Practice: svd and svctl, a service supervisor.
//!
//! Scenario: a machine runs a handful of long-lived programs (a database, a web server, a worker)
//! that must start in order, come back when they crash (but not in a tight loop), stop cleanly,
//! and be visible to the people and tools that watch them. `svd` is the supervisor that does
//! it; `svctl` is how a person or a script talks to it.
//!
//! Goal: implement [`svd_main`] and [`svctl_main`]. The contract, which the tests check from
//! outside through the two binaries:
//!
//! - `svd --config FILE [--socket S] [--metrics 127.0.0.1:PORT] [--log-dir D] [--allow-uid U]`
//!   loads the `[service.NAME]` tables of FILE (the keys are in the chapter). A bad config is
//!   refused before anything starts: one line `svd: FILE:LINE: reason` on stderr, exit 2.
//! - Every service runs in its own process group, with `SVD_SERVICE=NAME` and, for
//!   `ready = "notify"`, `NOTIFY_SOCKET` in its environment; its stdout and stderr go, one
//!   timestamped line at a time, to `D/NAME.log`, rotated by size (`NAME.log.1`, ...).
//! - A service starts once everything in its `depends_on` is started (or ready, as asked);
//!   `READY=1` from one of the service's own processes, or a successful connect probe, makes it
//!   ready. A service that dies is restarted as its `restart` policy says, after an exponential
//!   backoff with jitter and a cap, and marked failed when it died `burst` times within
//!   `interval_s`. A failing health check (`threshold` failures in a row) restarts it.
//! - svd is a child subreaper: a service that daemonizes is still tracked and stopped, and
//!   every process re-parented to it is reaped.
//! - Events are printed on stdout, one line each, beginning `svd: ` (`svd: NAME started pid P`,
//!   `svd: NAME ready`, `svd: NAME exited exit=1`, `svd: NAME backoff 100ms`, `svd: NAME failed`,
//!   `svd: NAME stopping`, `svd: NAME stopped`, `svd: listening on S`, ...).
//! - SIGTERM or SIGINT: every service stopped (its stop signal to the group, the stop timeout,
//!   SIGKILL) in reverse dependency order, then exit 0, leaving no socket file. SIGHUP reloads
//!   the config: new services start, removed ones stop, changed ones restart, the rest are left
//!   alone; a bad new config is refused with its reason and the old one kept.
//! - The control socket (mode 0600; a connection from any uid other than the allowed one, by
//!   default svd's own, is refused) speaks one request line per connection: `status`,
//!   `start NAME`, `stop NAME`, `restart NAME`, `logs NAME [-f]`, `reload`, answered as
//!   `crate::control` says (`ok` and lines, or `error: REASON`); start, stop and restart answer
//!   once the service got there (`ok` and `NAME STATE`).
//! - `--metrics ADDR` serves the Prometheus text format on `http://ADDR/metrics`: per service
//!   `svd_service_up`, `svd_service_restarts_total`, `svd_service_state{state=...}`,
//!   `svd_service_backoff_seconds` and the histogram `svd_service_start_to_ready_seconds`.
//! - `svctl [--socket S] status|start|stop|restart|logs|reload ...` prints the answer (`status`:
//!   one line per service, `NAME STATE PID UPTIME RESTARTS LAST_EXIT`); exit 0 on `ok`, 1 when
//!   svd answered an error, 2 on a usage error or when svd cannot be reached, or when the
//!   socket is served by another uid than ours or root's (`SO_PEERCRED`).
//! - Others may wish svd harm. Its directories (the runtime one, `$TMPDIR/svd-UID` without
//!   `XDG_RUNTIME_DIR`; the socket's; the logs') are created 0700 and refused (exit 1, one line)
//!   when another uid owns them or group or others may write into them; logs are 0600 and never
//!   opened through a symlink. Nothing a client or a service does may stop supervision: no
//!   read of or write to a client in the loop (a deadline for the whole request), a log line
//!   capped at `logs::MAX_LINE` and a bounded read per wake-up, EMFILE at `accept` handled,
//!   metrics connections bounded and dropped when idle. A stop sends each process its signal
//!   once, and services start with every signal at its default action and an empty mask.
//!
//! The pieces are the week's exercises: the config, the reaper, readiness, the backoff, the
//! logs and the control socket. What is new here is the loop that ties them together: one
//! `poll` that sleeps until something happens (a signal, a connection, a notification, a line of
//! output, a timer), and never wakes up just to look.
//!
//! Chapter: `docs/src/12-supervisor.md#svd`. Check it with `cargo xtask check supervisor/svd`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal, kill, killpg};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::backoff::{Backoff, Decision, wants_restart};
use crate::config::{Condition, HealthCheck, Ready, Restart, Service};
use crate::control::{Conn, ControlSocket, Request};
use crate::logs::{MAX_LINE, RotatingLog, SPLIT_MARK, Stream};
use crate::readiness::NotifySocket;
use crate::reaper;

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

type Labels = Vec<(String, String)>;

struct Metrics {
    up: Family<Labels, Gauge>,
    restarts: Family<Labels, Counter>,
    state: Family<Labels, Gauge>,
    backoff: Family<Labels, Gauge<f64, AtomicU64>>,
    ready_time: Family<Labels, Histogram, fn() -> Histogram>,
}

const STATES: [&str; 7] = [
    "starting", "ready", "running", "backoff", "stopping", "stopped", "failed",
];

impl Metrics {
    fn new() -> (Metrics, Registry) {
        let m = Metrics {
            up: Family::default(),
            restarts: Family::default(),
            state: Family::default(),
            backoff: Family::default(),
            ready_time: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 4.0, 9))
            }),
        };
        let mut r = Registry::with_prefix("svd");
        r.register(
            "service_up",
            "1 when the service's process is running",
            m.up.clone(),
        );
        r.register(
            "service_restarts",
            "Times the service was started again",
            m.restarts.clone(),
        );
        r.register(
            "service_state",
            "1 for the state the service is in",
            m.state.clone(),
        );
        r.register(
            "service_backoff_seconds",
            "The delay before the next restart",
            m.backoff.clone(),
        );
        r.register(
            "service_start_to_ready_seconds",
            "Time from a start to readiness",
            m.ready_time.clone(),
        );
        (m, r)
    }

    fn labels(name: &str) -> Labels {
        vec![("service".to_string(), name.to_string())]
    }

    fn set_state(&self, name: &str, state: State) {
        let l = Self::labels(name);
        let up = matches!(
            state,
            State::Starting | State::Ready | State::Running | State::Stopping
        );
        self.up.get_or_create(&l).set(i64::from(up));
        for s in STATES {
            let mut ls = l.clone();
            ls.push(("state".to_string(), s.to_string()));
            self.state
                .get_or_create(&ls)
                .set(i64::from(s == state.as_str()));
        }
    }

    fn remove(&self, name: &str) {
        let l = Self::labels(name);
        self.up.remove(&l);
        self.restarts.remove(&l);
        self.backoff.remove(&l);
        self.ready_time.remove(&l);
        for s in STATES {
            let mut ls = l.clone();
            ls.push(("state".to_string(), s.to_string()));
            self.state.remove(&ls);
        }
    }
}

/// Connections the metrics thread holds at most; one more closes the oldest.
const METRICS_CONNS: usize = 64;

/// How long a metrics client has to send its request, from its connect.
const METRICS_DEADLINE: Duration = Duration::from_secs(5);

/// The longest HTTP request head read.
const METRICS_MAX_REQUEST: usize = 8192;

/// Serves `/metrics` over HTTP/1.1 on one thread of its own, whatever the number of clients: a
/// poll over the listener and at most `METRICS_CONNS` connections, each with a deadline, so
/// that idle or slow connections cost a slot for a few seconds, never a thread each. It ends
/// when `stop` (the read end of a pair whose other end svd drops at exit) reports EOF.
fn serve_metrics(
    listener: std::net::TcpListener,
    registry: Arc<Registry>,
    stop: UnixStream,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut conns: Vec<(std::net::TcpStream, Vec<u8>, Instant)> = Vec::new();
        let mut paused: Option<Instant> = None;
        loop {
            let now = Instant::now();
            conns.retain(|c| c.2 > now);
            if paused.is_some_and(|t| t <= now) {
                paused = None;
            }
            let next = conns.iter().map(|c| c.2).chain(paused).min();
            let timeout = next.map_or(PollTimeout::NONE, |t| {
                let ms = t.saturating_duration_since(now).as_micros().div_ceil(1000);
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            });
            let (stopping, accepting, readable) = {
                let mut fds = vec![PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
                let listening = paused.is_none();
                if listening {
                    fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
                }
                let first = fds.len();
                fds.extend(
                    conns
                        .iter()
                        .map(|c| PollFd::new(c.0.as_fd(), PollFlags::POLLIN)),
                );
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => return,
                }
                let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
                let readable: Vec<usize> = (first..fds.len())
                    .filter(|&i| ready(&fds[i]))
                    .map(|i| i - first)
                    .collect();
                (ready(&fds[0]), listening && ready(&fds[1]), readable)
            };
            if stopping {
                return;
            }
            // Requests first (highest index first: a finished one is removed), then new ones.
            for &i in readable.iter().rev() {
                let (stream, head, _) = &mut conns[i];
                let mut buf = [0u8; 2048];
                let done = match (&*stream).read(&mut buf) {
                    Ok(0) => true,
                    Ok(n) => {
                        head.extend_from_slice(&buf[..n]);
                        let complete = head.windows(4).any(|w| w == b"\r\n\r\n")
                            || head.windows(2).any(|w| w == b"\n\n");
                        if complete || head.len() >= METRICS_MAX_REQUEST {
                            respond(stream, head, &registry);
                            true
                        } else {
                            false
                        }
                    }
                    Err(e) => {
                        e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::Interrupted
                    }
                };
                if done {
                    conns.remove(i);
                }
            }
            if accepting {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if stream.set_nonblocking(true).is_err() {
                                continue;
                            }
                            if conns.len() >= METRICS_CONNS {
                                conns.remove(0); // the oldest, the likeliest to be idle
                            }
                            conns.push((stream, Vec::new(), Instant::now() + METRICS_DEADLINE));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => {
                            // EMFILE and the like: the connection stays in the backlog, so
                            // polling the listener again at once would spin. Free a slot and
                            // look again a little later.
                            if !conns.is_empty() {
                                conns.remove(0);
                            }
                            paused = Some(Instant::now() + Duration::from_millis(100));
                            break;
                        }
                    }
                }
            }
        }
    })
}

/// Answers one HTTP request head: the metrics for `GET /metrics`, 404 or 405 otherwise.
fn respond(stream: &std::net::TcpStream, head: &[u8], registry: &Registry) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, content_type, body) = match (method, target) {
        ("GET" | "HEAD", "/metrics") => {
            let mut body = String::new();
            match prometheus_client::encoding::prometheus_text::encode(&mut body, registry) {
                Ok(()) => (
                    "200 OK",
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    body,
                ),
                Err(_) => (
                    "500 Internal Server Error",
                    "text/plain",
                    "encoding failed\n".into(),
                ),
            }
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "try /metrics\n".into()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n".into(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    // A few kilobytes into an empty socket buffer; a client that reads nothing of it loses
    // its answer rather than holding the thread: one second at most.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&*stream).write_all(&out);
}

// ---------------------------------------------------------------------------------------------
// Control clients: a thread each, so that no client can hold the loop
// ---------------------------------------------------------------------------------------------

/// Client threads at most; one more connection is answered `error: busy` at once.
const MAX_CLIENTS: usize = 64;

/// How long a client has to take an answer (a log's history: all of it).
const REPLY_DEADLINE: Duration = Duration::from_secs(30);

/// New lines queued for one `logs -f` client; a client that falls this far behind is dropped.
const FOLLOW_QUEUE: usize = 4096;

/// The loop's answer to one request, written by the client's own thread.
enum Reply {
    Ok(Vec<String>),
    Error(String),
    /// `logs`: the files so far, then (with `-f`) each new line until either side leaves.
    Log {
        history: Vec<u8>,
        follow: Option<mpsc::Receiver<Vec<u8>>>,
    },
}

/// The way back to a client: the loop answers through it and never writes to a socket itself.
struct Client(mpsc::Sender<Reply>);

impl Client {
    fn reply_ok(self, lines: &[String]) -> io::Result<()> {
        let _ = self.0.send(Reply::Ok(lines.to_vec()));
        Ok(())
    }
    fn reply_error(self, reason: &str) -> io::Result<()> {
        let _ = self.0.send(Reply::Error(reason.to_string()));
        Ok(())
    }
}

/// One slot of `MAX_CLIENTS`, given back when the client's thread ends.
struct ClientSlot(Arc<AtomicUsize>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How often a `logs -f` client's thread looks whether its client is still there.
const FOLLOWER_CHECK: Duration = Duration::from_secs(2);

/// Whether the client closed its end (or the connection broke): a peek that reads EOF.
fn peer_gone(stream: &UnixStream) -> bool {
    use nix::sys::socket::{MsgFlags, recv};
    let mut byte = [0u8; 1];
    match recv(
        stream.as_raw_fd(),
        &mut byte,
        MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(0) => true,
        Ok(_) | Err(Errno::EAGAIN | Errno::EINTR) => false,
        Err(_) => true,
    }
}

/// Writes all of `bytes` by `deadline`; false when the client left or did not take them.
fn write_within(mut stream: &UnixStream, bytes: &[u8], deadline: Instant) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_write_timeout(Some(left)).is_err() {
            return false;
        }
        match stream.write(rest) {
            Ok(0) => return false,
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// A client's thread: reads its request (the control socket's deadline bounds it), hands it
/// to the loop, waits for the answer and writes it. Whatever the client does, slowly or not at
/// all, it does to this thread, never to the loop.
fn serve_client(
    mut conn: Conn,
    to_loop: mpsc::Sender<(Request, Client)>,
    wake: Arc<UnixStream>,
    _slot: ClientSlot,
) {
    let request = match conn.read_request() {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::InvalidData => {
            let _ = conn.reply_error(&e.to_string());
            return;
        }
        Err(_) => return, // silent past the deadline, or gone
    };
    let (tx, rx) = mpsc::channel();
    if to_loop.send((request, Client(tx))).is_err() {
        return;
    }
    let _ = (&*wake).write(&[1]); // a full wake pipe already wakes the loop
    // The loop drops the sender without an answer only when it exits.
    let Ok(reply) = rx.recv() else { return };
    match reply {
        Reply::Error(reason) => {
            let _ = conn.reply_error(&reason);
        }
        Reply::Ok(lines) => {
            let mut text = String::new();
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
            if let Ok(stream) = conn.into_stream() {
                write_within(&stream, text.as_bytes(), Instant::now() + REPLY_DEADLINE);
            }
        }
        Reply::Log { history, follow } => {
            let Ok(stream) = conn.into_stream() else {
                return;
            };
            if !write_within(&stream, &history, Instant::now() + REPLY_DEADLINE) {
                return;
            }
            let Some(lines) = follow else { return };
            // Dropping the receiver tells the loop. A follower that leaves while its service is
            // quiet is seen here, by a look at the socket now and then: a thread and a client
            // slot are not kept for a client that is gone.
            loop {
                match lines.recv_timeout(FOLLOWER_CHECK) {
                    Ok(line) => {
                        if !write_within(&stream, &line, Instant::now() + REPLY_DEADLINE) {
                            return;
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) if !peer_gone(&stream) => {}
                    Err(_) => return,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The supervisor's state
// ---------------------------------------------------------------------------------------------

/// Where a service is. `Stopped` covers "not started yet" too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Spawned, not ready yet.
    Starting,
    /// Said it is ready.
    Ready,
    /// Running (no readiness to wait for).
    Running,
    /// Dead, waiting to be restarted.
    Backoff,
    /// Asked to stop, not gone yet.
    Stopping,
    /// Not running.
    Stopped,
    /// Hit its start limit; stays down until started by hand.
    Failed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
    fn active(self) -> bool {
        matches!(
            self,
            State::Starting | State::Ready | State::Running | State::Stopping
        )
    }
}

/// What happens once a stopping service is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    Nothing,
    Start,
    Remove,
}

struct Svc {
    def: Service,
    state: State,
    /// Wanted up (false after `svctl stop`, during shutdown, or once failed).
    wanted: bool,
    main: Option<Pid>,
    pgid: Option<Pid>,
    started_at: Option<Instant>,
    restarts: u64,
    starts: u64,
    last_exit: Option<String>,
    backoff: Backoff,
    restart_at: Option<Instant>,
    stop_deadline: Option<Instant>,
    after_stop: AfterStop,
    ready_deadline: Option<Instant>,
    next_probe: Option<Instant>,
    /// A readiness probe's connect in progress (non-blocking, in the poll set for POLLOUT),
    /// and when to give it up.
    probe_conn: Option<(OwnedFd, Instant)>,
    health_next: Option<Instant>,
    health_run: Option<(Pid, Instant)>,
    /// A connect check in flight: a non-blocking socket whose connect has not completed yet,
    /// in the poll set for POLLOUT, and the check's deadline.
    health_conn: Option<(OwnedFd, Instant)>,
    health_failures: u32,
    notify: Option<NotifySocket>,
    /// A pidfd of the main process: readable once it has ended.
    pidfd: Option<OwnedFd>,
    status_text: String,
    pipes: Vec<(OwnedFd, Stream, Vec<u8>)>,
    log: Option<RotatingLog>,
    followers: Vec<mpsc::SyncSender<Vec<u8>>>,
}

enum Token {
    Signal,
    Listener,
    Requests,
    Notify(String),
    Pipe(String, usize),
    Pidfd,
    HealthConn(String),
    ProbeConn(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Start,
    Stop,
    Restart,
}

struct Supervisor {
    config_path: PathBuf,
    socket: PathBuf,
    notify_dir: PathBuf,
    log_dir: PathBuf,
    services: BTreeMap<String, Svc>,
    order: Vec<String>,
    /// Clients of start, stop and restart, answered once the service got there.
    waiting: Vec<(Client, String, Verb)>,
    /// Requests read by the clients' threads, each with the way back to its client.
    requests: mpsc::Receiver<(Request, Client)>,
    to_loop: mpsc::Sender<(Request, Client)>,
    /// A client thread writes a byte here after each request it hands over: the read end is
    /// in the poll set, so a request wakes the loop like any other event.
    wake_r: UnixStream,
    wake_w: Arc<UnixStream>,
    /// Client threads alive, at most `MAX_CLIENTS`.
    clients: Arc<AtomicUsize>,
    /// An fd kept in reserve: at EMFILE it is closed to accept (and close) the connection that
    /// keeps the listener readable, or the loop would spin on it.
    spare_fd: Option<OwnedFd>,
    /// The listener left out of the poll set until then (out of fds, no spare to free).
    accept_paused: Option<Instant>,
    /// Health checks killed because their service left the up states (stopped, died, removed),
    /// not yet reaped: svd does not exit while one is left, or it would leave a zombie.
    cancelled_checks: Vec<Pid>,
    shutting_down: bool,
    metrics: Metrics,
    signals: SignalFd,
    listener: ControlSocket,
}

/// Prints one event line on stdout (flushed: tests and people follow it live).
fn event(msg: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "svd: {msg}");
    let _ = out.flush();
}

macro_rules! event {
    ($($t:tt)*) => { event(format_args!($($t)*)) };
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit={code}"),
        WaitStatus::Signaled(_, sig, _) => {
            format!("signal={}", sig.as_str().trim_start_matches("SIG"))
        }
        other => format!("{other:?}"),
    }
}

fn failed_exit(status: WaitStatus) -> bool {
    !matches!(status, WaitStatus::Exited(_, 0))
}

/// Starts a connect to `target` (a numeric `IP:PORT` or a Unix socket path, as the config
/// allows) on a non-blocking socket: `Ok(None)` when it completed at once (a Unix socket, or a
/// loopback port that accepts), `Ok(Some(fd))` when it is in progress (POLLOUT on `fd` tells
/// when it is done, `SO_ERROR` how), an error when it failed at once (refused, no such file, a
/// full Unix backlog). No name is resolved here: `getaddrinfo(3)` would block the loop.
fn start_connect(target: &str) -> io::Result<Option<OwnedFd>> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let pending = |r: rustix::io::Result<()>, fd: OwnedFd| match r {
        Ok(()) => Ok(None),
        Err(rustix::io::Errno::INPROGRESS) => Ok(Some(fd)),
        Err(e) => Err(io::Error::from(e)),
    };
    if target.starts_with('/') {
        let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
        let addr = SocketAddrUnix::new(target)?;
        return pending(rustix::net::connect(&fd, &addr), fd);
    }
    let addr: std::net::SocketAddr = target.parse().map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("{target:?} is not a numeric IP:PORT"),
        )
    })?;
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    pending(rustix::net::connect(&fd, &addr), fd)
}

/// `sig` to the living processes of a service found by `reaper::group_members`, through a
/// pidfd each, opened first and the membership checked again after it (a process that died
/// after the scan, its pid reused, is not signalled). Members still in the group are skipped
/// unless `group_too`: the caller's killpg reached them, and a second SIGTERM often means
/// "now, not gracefully" to a service.
fn signal_members(pgid: Pid, tag: &str, sig: Signal, group_too: bool) {
    use rustix::process::{PidfdFlags, pidfd_open, pidfd_send_signal};
    let Some(rsig) = rustix::process::Signal::from_named_raw(sig as i32) else {
        return;
    };
    let marker = format!("{}={tag}", reaper::SERVICE_ENV);
    for pid in reaper::group_members(pgid, tag) {
        let Some(fd) = rustix::process::Pid::from_raw(pid.as_raw())
            .and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok())
        else {
            continue;
        };
        let Some(in_group) = member_now(pid, pgid, &marker) else {
            continue;
        };
        if group_too || !in_group {
            let _ = pidfd_send_signal(&fd, rsig);
        }
    }
}

/// `(state, ppid, pgid)` from /proc/PID/stat (after the command name, which may hold `)`).
fn stat_of(pid: i32) -> Option<(char, i32, i32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = text[text.rfind(')')? + 1..].split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// Whether `pid` is now a living process of the service (in group `pgid` or tagged, and
/// descending from svd): `Some(in_group)` if so.
fn member_now(pid: Pid, pgid: Pid, marker: &str) -> Option<bool> {
    let (state, mut parent, group) = stat_of(pid.as_raw())?;
    let in_group = group == pgid.as_raw();
    let tagged = || {
        fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == marker.as_bytes()))
    };
    if state == 'Z' || !(in_group || tagged()) {
        return None;
    }
    let me = std::process::id() as i32;
    for _ in 0..128 {
        if parent == me {
            return Some(in_group);
        }
        if parent <= 1 {
            return None;
        }
        parent = stat_of(parent)?.1;
    }
    None
}

/// How long a readiness probe's connect may stay in progress before it is tried again.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The pause after a probe that failed at once (refused, no such socket).
const PROBE_RETRY: Duration = Duration::from_millis(50);

/// The bytes read from one pipe in one turn of the loop.
const PIPE_BUDGET: usize = 64 * 1024;

/// Adds `new` (just read) to the line in progress, `partial`, and moves every complete line to
/// `lines`. Only the new bytes are searched for a newline, never the whole partial line again
/// (that would be quadratic in a line's length), and a line is held up to `MAX_LINE` bytes: a
/// longer one goes out in pieces, each but the last ending with `SPLIT_MARK`.
fn split_lines(
    stream: Stream,
    partial: &mut Vec<u8>,
    mut new: &[u8],
    lines: &mut Vec<(Stream, Vec<u8>)>,
) {
    while !new.is_empty() {
        // A full piece is let go once the next byte shows the line goes on.
        if partial.len() >= MAX_LINE && new[0] != b'\n' {
            let mut piece = std::mem::take(partial);
            piece.extend_from_slice(SPLIT_MARK.as_bytes());
            lines.push((stream, piece));
        }
        let room = MAX_LINE - partial.len();
        match new.iter().position(|&b| b == b'\n') {
            Some(pos) if pos <= room => {
                partial.extend_from_slice(&new[..pos]);
                lines.push((stream, std::mem::take(partial)));
                new = &new[pos + 1..];
            }
            _ => {
                let k = room.min(new.len());
                partial.extend_from_slice(&new[..k]);
                new = &new[k..];
            }
        }
    }
}

/// svd's living children whose environment carries `SVD_SERVICE=name`: from
/// `/proc/self/task/*/children` (each thread's children), then each one's environ, except
/// those in `known` (the main processes and health checks svd started itself: none of them is
/// an escapee, and reading another process's environ is the expensive part of a restart).
fn own_children_tagged(name: &str, known: &[Pid]) -> Vec<Pid> {
    let marker = format!("{}={name}", reaper::SERVICE_ENV);
    let mut found = Vec::new();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return found;
    };
    for task in tasks.flatten() {
        let Ok(list) = fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        for pid in list
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .filter(|&p| !known.contains(&Pid::from_raw(p)))
        {
            let tagged = fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == marker.as_bytes()));
            if tagged {
                found.push(Pid::from_raw(pid));
            }
        }
    }
    found.sort();
    found
}

impl Svc {
    fn new(def: Service) -> Svc {
        let backoff = Backoff::new(def.backoff, def.start_limit);
        Svc {
            def,
            state: State::Stopped,
            wanted: true,
            main: None,
            pgid: None,
            started_at: None,
            restarts: 0,
            starts: 0,
            last_exit: None,
            backoff,
            restart_at: None,
            stop_deadline: None,
            after_stop: AfterStop::Nothing,
            ready_deadline: None,
            next_probe: None,
            probe_conn: None,
            health_next: None,
            health_run: None,
            health_conn: None,
            health_failures: 0,
            notify: None,
            pidfd: None,
            status_text: String::new(),
            pipes: Vec::new(),
            log: None,
            followers: Vec::new(),
        }
    }

    /// Every live process of the service: its process group, and the descendants of svd that
    /// carry its tag (a daemon that left the group, re-parented to svd, the subreaper).
    fn processes(&self) -> Vec<Pid> {
        self.pgid
            .map_or_else(Vec::new, |g| reaper::group_members(g, &self.def.name))
    }

    /// `sig` to every process of the service, each once. Not `reaper::stop_group`: that one
    /// waits for the group to die, and svd's one loop must keep serving while a service stops.
    fn signal_all(&self, sig: Signal) {
        let Some(pgid) = self.pgid else { return };
        // While the leader is an unreaped child of ours its pid, and with it the group's
        // number, cannot be reused: one killpg reaches the group, members forked a moment ago
        // included. Once the leader is reaped the number may belong to a new group of strangers
        // as soon as the last member is gone: then every member goes through a pidfd.
        let leader_held = self.main == Some(pgid);
        if leader_held {
            let _ = killpg(pgid, sig);
        }
        signal_members(pgid, &self.def.name, sig, !leader_held);
    }
}

impl Supervisor {
    fn set_state(&mut self, name: &str, state: State) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        svc.state = state;
        self.metrics.set_state(name, state);
        self.answer_waiters(name);
    }

    /// The dependencies of `name` allow it to start.
    fn deps_met(&self, name: &str) -> bool {
        self.services[name]
            .def
            .depends_on
            .iter()
            .all(|(dep, cond)| {
                self.services.get(dep).is_some_and(|d| match cond {
                    Condition::Started => {
                        matches!(d.state, State::Starting | State::Ready | State::Running)
                    }
                    Condition::Ready => matches!(d.state, State::Ready | State::Running),
                })
            })
    }

    fn dependents_active(&self, name: &str) -> bool {
        self.services.values().any(|s| {
            s.def.depends_on.contains_key(name)
                && s.state != State::Stopped
                && s.state != State::Failed
        })
    }

    /// Moves every service one step towards what is wanted; called after every event.
    fn advance(&mut self, now: Instant) {
        loop {
            let mut changed = false;
            let order = self.order.clone();
            if self.shutting_down {
                for name in order.iter().rev() {
                    let Some(svc) = self.services.get(name) else {
                        continue;
                    };
                    if matches!(
                        svc.state,
                        State::Starting | State::Ready | State::Running | State::Backoff
                    ) && !self.dependents_active(name)
                    {
                        self.begin_stop(name, now);
                        changed = true;
                    }
                }
            } else {
                for name in &order {
                    let Some(svc) = self.services.get(name) else {
                        continue;
                    };
                    if svc.wanted && svc.state == State::Stopped && self.deps_met(name) {
                        self.spawn(name, now);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn spawn(&mut self, name: &str, now: Instant) {
        let notify_dir = self.notify_dir.clone();
        let svc = self.services.get_mut(name).expect("known service");
        let def = svc.def.clone();
        let mut cmd = Command::new(&def.command[0]);
        cmd.args(&def.command[1..])
            .envs(&def.env)
            .stdin(Stdio::null());
        if let Some(cwd) = &def.cwd {
            cmd.current_dir(cwd);
        }
        if def.ready == Ready::Notify && svc.notify.is_none() {
            match NotifySocket::bind(&notify_dir, name) {
                Ok(s) => svc.notify = Some(s),
                Err(e) => event!("{name} cannot bind its notify socket: {e}"),
            }
        }
        if let Some(n) = &svc.notify {
            cmd.env("NOTIFY_SOCKET", n.path());
        } else {
            cmd.env_remove("NOTIFY_SOCKET");
        }
        let (out_r, out_w) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => return self.spawn_failed(name, now, e),
        };
        let (err_r, err_w) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => return self.spawn_failed(name, now, e),
        };
        cmd.stdout(out_w).stderr(err_w);
        unblock_signals_in_child(&mut cmd);
        reaper::set_rlimits(&mut cmd, &def.rlimits);
        // Its own process group and its tag: one killpg reaches the service and its helpers,
        // the tag finds those that leave the group.
        let child = reaper::spawn_in_group(&mut cmd, name);
        drop(cmd); // closes our copies of the pipes' write ends: EOF comes when the service's do
        let svc = self.services.get_mut(name).expect("known service");
        let (child, pidfd) = match child {
            Ok(c) => c,
            Err(e) => return self.spawn_failed(name, now, e),
        };
        let pid = Pid::from_raw(child.id() as i32);
        drop(child); // reaped with every other child by reaper::reap_children
        svc.pidfd = Some(pidfd);
        for (r, stream) in [
            (OwnedFd::from(out_r), Stream::Stdout),
            (OwnedFd::from(err_r), Stream::Stderr),
        ] {
            let _ = nix::fcntl::fcntl(
                &r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
            svc.pipes.push((r, stream, Vec::new()));
        }
        svc.main = Some(pid);
        svc.pgid = Some(pid);
        svc.started_at = Some(now);
        svc.starts += 1;
        if svc.starts > 1 {
            svc.restarts += 1;
            self.metrics
                .restarts
                .get_or_create(&Metrics::labels(name))
                .inc();
        }
        svc.restart_at = None;
        svc.health_failures = 0;
        let state = match def.ready {
            Ready::None => State::Running,
            Ready::Notify => State::Starting,
            Ready::Connect(_) => {
                svc.next_probe = Some(now);
                State::Starting
            }
        };
        svc.ready_deadline = (state == State::Starting).then(|| now + def.ready_timeout);
        // A liveness check asks whether a service that is up still works: it starts with the
        // service when there is no readiness to wait for, otherwise once it is ready.
        svc.health_next = def
            .health
            .as_ref()
            .filter(|_| state == State::Running)
            .map(|h| now + h.interval);
        if state == State::Running {
            self.metrics
                .ready_time
                .get_or_create(&Metrics::labels(name))
                .observe(0.0);
        }
        self.set_state(name, state);
        event!("{name} started pid {pid}");
    }

    fn spawn_failed(&mut self, name: &str, now: Instant, e: io::Error) {
        event!("{name} cannot start: {e}");
        if let Some(svc) = self.services.get_mut(name) {
            svc.last_exit = Some("spawn-error".into());
            svc.started_at = Some(now);
        }
        self.after_death(name, now, None);
    }

    fn mark_ready(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        if svc.state != State::Starting {
            return;
        }
        svc.ready_deadline = None;
        svc.next_probe = None;
        svc.probe_conn = None;
        svc.health_next = svc.def.health.as_ref().map(|h| now + h.interval);
        let took = svc
            .started_at
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.metrics
            .ready_time
            .get_or_create(&Metrics::labels(name))
            .observe(took);
        self.set_state(name, State::Ready);
        event!("{name} ready");
    }

    fn begin_stop(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        match svc.state {
            State::Backoff | State::Failed | State::Stopped => {
                svc.restart_at = None;
                if svc.state == State::Backoff {
                    event!("{name} stopped");
                    self.set_state(name, State::Stopped);
                }
                self.finish_stop(name, now);
            }
            State::Stopping => {}
            State::Starting | State::Ready | State::Running => {
                event!("{name} stopping");
                svc.signal_all(svc.def.stop_signal);
                svc.stop_deadline = Some(now + svc.def.stop_timeout);
                svc.ready_deadline = None;
                svc.next_probe = None;
                svc.probe_conn = None;
                self.cancel_health(name);
                self.set_state(name, State::Stopping);
                self.check_stopped(name, now);
            }
        }
    }

    /// A stopping service is down once its main process is reaped and none of its processes
    /// is left.
    fn check_stopped(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        if svc.state != State::Stopping || svc.main.is_some() || !svc.processes().is_empty() {
            return;
        }
        svc.stop_deadline = None;
        svc.pgid = None;
        event!("{name} stopped");
        self.set_state(name, State::Stopped);
        self.finish_stop(name, now);
    }

    fn finish_stop(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let after = std::mem::replace(&mut svc.after_stop, AfterStop::Nothing);
        match after {
            AfterStop::Nothing => {}
            AfterStop::Start => {
                svc.wanted = true;
                if svc.state == State::Failed {
                    svc.state = State::Stopped;
                }
            }
            AfterStop::Remove => {
                // Dropping the service drops its notify socket, which removes the file.
                self.services.remove(name);
                self.metrics.remove(name);
                self.order.retain(|n| n != name);
                event!("{name} removed");
                // A client still waiting for it (a start or a restart) is told, not left hanging.
                self.answer_waiters(name);
            }
        }
        self.advance(now);
    }

    /// The main process of `name` ended with `status`.
    fn on_main_exit(&mut self, name: &str, status: WaitStatus, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        svc.main = None;
        svc.pidfd = None;
        svc.last_exit = Some(describe(status));
        // A service that daemonized: its main process exited 0, but a process of it lives on,
        // re-parented to us. Track that one as the service. Only svd's own children are read
        // here, not all of /proc: this is the path of every restart, and its cost is latency.
        let tagged_children = if svc.state == State::Stopping {
            Vec::new()
        } else {
            let known: Vec<Pid> = self
                .services
                .values()
                .flat_map(|s| [s.main, s.health_run.map(|h| h.0)])
                .flatten()
                .chain(self.cancelled_checks.iter().copied())
                .collect();
            own_children_tagged(name, &known)
        };
        let svc = self.services.get_mut(name).expect("known service");
        if svc.state != State::Stopping
            && !failed_exit(status)
            && let Some(&adopted) = tagged_children.first()
        {
            svc.main = Some(adopted);
            // A pidfd for the adopted process too: its end wakes the loop like the first one's.
            svc.pidfd = rustix::process::Pid::from_raw(adopted.as_raw()).and_then(|p| {
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
            });
            event!(
                "{name} main process exited {}; tracking pid {adopted}",
                describe(status)
            );
            return;
        }
        if svc.state == State::Stopping {
            event!("{name} exited {}", describe(status));
            return self.check_stopped(name, now);
        }
        event!("{name} exited {}", describe(status));
        // What the main process left in its group, or re-parented to us, goes with it. Not
        // killpg: the leader is reaped, and the group's number may already name strangers.
        if let Some(pgid) = svc.pgid.take() {
            signal_members(pgid, name, Signal::SIGKILL, true);
        }
        for pid in tagged_children {
            let _ = kill(pid, Signal::SIGKILL);
        }
        self.after_death(name, now, Some(status));
    }

    /// The service is down on its own (`status` is `None` when it could not even be spawned).
    fn after_death(&mut self, name: &str, now: Instant, status: Option<WaitStatus>) {
        self.cancel_health(name);
        let svc = self.services.get_mut(name).expect("known service");
        svc.ready_deadline = None;
        svc.next_probe = None;
        svc.probe_conn = None;
        let ran_for = svc
            .started_at
            .map_or(Duration::ZERO, |t| now.duration_since(t));
        let restart = svc.wanted
            && !self.shutting_down
            && match status {
                Some(status) => wants_restart(svc.def.restart, &status),
                None => svc.def.restart != Restart::Never,
            };
        if !restart {
            let restart_after = svc.after_stop == AfterStop::Start;
            svc.wanted = restart_after;
            self.set_state(name, State::Stopped);
            return self.finish_stop(name, now);
        }
        match svc.backoff.on_exit(now, ran_for) {
            Decision::Failed => {
                let (burst, interval) = (svc.def.start_limit.burst, svc.def.start_limit.interval);
                svc.wanted = false;
                // The metrics first: whoever reads the event line and then scrapes sees them.
                self.metrics
                    .backoff
                    .get_or_create(&Metrics::labels(name))
                    .set(0.0);
                self.set_state(name, State::Failed);
                event!(
                    "{name} failed: {burst} deaths within {}s",
                    interval.as_secs_f64()
                );
                self.advance(now);
            }
            Decision::RestartAfter(delay) => {
                self.metrics
                    .backoff
                    .get_or_create(&Metrics::labels(name))
                    .set(delay.as_secs_f64());
                if delay.is_zero() {
                    // Zero backoff: straight back up, in this same turn of the loop.
                    self.set_state(name, State::Stopped);
                    self.advance(now);
                } else {
                    event!("{name} backoff {}ms", delay.as_millis());
                    svc.restart_at = Some(now + delay);
                    self.set_state(name, State::Backoff);
                }
            }
        }
    }

    fn on_health_exit(&mut self, name: &str, status: WaitStatus, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        svc.health_run = None;
        let healthy = !failed_exit(status);
        self.health_result(name, healthy, now);
    }

    fn health_result(&mut self, name: &str, healthy: bool, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        let Some(h) = svc.def.health.clone() else {
            return;
        };
        // A check runs only while the service is up, and a service that leaves the up states
        // takes its check with it (`cancel_health`), so this is a result that lost a race with
        // a state change: it says nothing about the service now. The next check is scheduled
        // when the service is up again (`spawn`, `mark_ready`), so nothing is lost.
        if !matches!(svc.state, State::Ready | State::Running) {
            return;
        }
        svc.health_next = Some(now + h.interval);
        if healthy {
            svc.health_failures = 0;
            return;
        }
        svc.health_failures += 1;
        event!(
            "{name} health check failed ({}/{})",
            svc.health_failures,
            h.threshold
        );
        if svc.health_failures >= h.threshold {
            event!("{name} unhealthy: restarting");
            svc.after_stop = AfterStop::Start;
            self.begin_stop(name, now);
        }
    }

    /// The readiness probe's connect of `name` is done (its socket polled writable).
    fn probe_connected(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let Some((fd, _)) = svc.probe_conn.take() else {
            return;
        };
        if matches!(rustix::net::sockopt::socket_error(&fd), Ok(Ok(()))) {
            self.mark_ready(name, now);
        } else {
            svc.next_probe = Some(now + PROBE_RETRY);
        }
    }

    /// The connect check of `name` is done (its socket polled writable): `SO_ERROR` says how.
    fn health_connected(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let Some((fd, _)) = svc.health_conn.take() else {
            return;
        };
        let ok = matches!(rustix::net::sockopt::socket_error(&fd), Ok(Ok(())));
        drop(fd);
        self.health_result(name, ok, now);
    }

    /// Ends the health checking of `name`: no next check, and the one in flight, if any, is
    /// killed with its whole process group (a shell check's children too) and left for `reap`,
    /// which collects it like any child. Without this a check that hangs outlives its service,
    /// and svd itself.
    fn cancel_health(&mut self, name: &str) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        svc.health_next = None;
        svc.health_conn = None;
        if let Some((pid, _)) = svc.health_run.take() {
            let _ = killpg(pid, Signal::SIGKILL);
            self.cancelled_checks.push(pid);
        }
    }

    fn run_health(&mut self, name: &str, now: Instant) {
        let svc = self.services.get_mut(name).expect("known service");
        let Some(h) = svc.def.health.clone() else {
            return;
        };
        svc.health_next = None;
        match &h.check {
            HealthCheck::Exec(argv) => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0);
                unblock_signals_in_child(&mut cmd);
                let child = cmd.spawn();
                match child {
                    Ok(c) => svc.health_run = Some((Pid::from_raw(c.id() as i32), now + h.timeout)),
                    Err(e) => {
                        event!("{name} health check cannot run: {e}");
                        self.health_result(name, false, now);
                    }
                }
            }
            HealthCheck::Connect(addr) => match start_connect(addr) {
                // Never a wait in svd's loop: a connect still in progress joins the poll set,
                // and its deadline the timers (`health_connected`, `fire_timers`).
                Ok(Some(fd)) => svc.health_conn = Some((fd, now + h.timeout)),
                Ok(None) => self.health_result(name, true, now),
                Err(_) => self.health_result(name, false, now),
            },
        }
    }

    /// The next moment a timer is due.
    fn next_deadline(&self) -> Option<Instant> {
        self.services
            .values()
            .flat_map(|s| {
                [
                    s.restart_at,
                    s.stop_deadline,
                    s.ready_deadline,
                    s.next_probe,
                    s.probe_conn.as_ref().map(|p| p.1),
                    s.health_next,
                    s.health_run.map(|h| h.1),
                    s.health_conn.as_ref().map(|h| h.1),
                ]
            })
            .flatten()
            .min()
    }

    fn fire_timers(&mut self, now: Instant) {
        let names: Vec<String> = self.services.keys().cloned().collect();
        for name in names {
            let Some(svc) = self.services.get_mut(&name) else {
                continue;
            };
            if svc.restart_at.is_some_and(|t| t <= now) {
                svc.restart_at = None;
                self.metrics
                    .backoff
                    .get_or_create(&Metrics::labels(&name))
                    .set(0.0);
                self.set_state(&name, State::Stopped);
                self.advance(now);
                continue;
            }
            if svc.stop_deadline.is_some_and(|t| t <= now) {
                svc.stop_deadline = None;
                event!(
                    "{name} did not stop within {}s: SIGKILL",
                    svc.def.stop_timeout.as_secs_f64()
                );
                svc.signal_all(Signal::SIGKILL);
                continue;
            }
            if svc.ready_deadline.is_some_and(|t| t <= now) {
                svc.ready_deadline = None;
                event!(
                    "{name} not ready within {}s: restarting",
                    svc.def.ready_timeout.as_secs_f64()
                );
                svc.after_stop = AfterStop::Start;
                self.begin_stop(&name, now);
                continue;
            }
            if svc.next_probe.is_some_and(|t| t <= now) {
                let Ready::Connect(addr) = svc.def.ready.clone() else {
                    continue;
                };
                // One attempt, never a wait: a connect still in progress joins the poll set
                // (`probe_connected`); one refused at once is tried again in 50 ms.
                svc.next_probe = None;
                match start_connect(&addr) {
                    Ok(None) => self.mark_ready(&name, now),
                    Ok(Some(fd)) => svc.probe_conn = Some((fd, now + PROBE_TIMEOUT)),
                    Err(_) => svc.next_probe = Some(now + PROBE_RETRY),
                }
                continue;
            }
            if svc.probe_conn.as_ref().is_some_and(|p| p.1 <= now) {
                // No answer (a full backlog, a host that drops packets): try again.
                svc.probe_conn = None;
                svc.next_probe = Some(now);
                continue;
            }
            if let Some((pid, deadline)) = svc.health_run
                && deadline <= now
            {
                // A check that hangs fails; killing it makes waitpid report it.
                let _ = killpg(pid, Signal::SIGKILL);
                svc.health_run = Some((pid, now + Duration::from_secs(3600)));
                continue;
            }
            if svc.health_conn.as_ref().is_some_and(|h| h.1 <= now) {
                // Unanswered within `timeout_s` (a full backlog, a host that drops packets).
                svc.health_conn = None;
                self.health_result(&name, false, now);
                continue;
            }
            if svc.health_next.is_some_and(|t| t <= now)
                && svc.health_run.is_none()
                && svc.health_conn.is_none()
                && matches!(svc.state, State::Ready | State::Running)
            {
                self.run_health(&name, now);
            }
        }
    }

    /// Reaps every child that ended: service main processes, health checks, and orphans that
    /// the kernel re-parented to us.
    fn reap(&mut self, now: Instant) {
        for (pid, status) in reaper::reap_children() {
            let main = self
                .services
                .iter()
                .find(|(_, s)| s.main == Some(pid))
                .map(|(n, _)| n.clone());
            let health = self
                .services
                .iter()
                .find(|(_, s)| s.health_run.is_some_and(|h| h.0 == pid))
                .map(|(n, _)| n.clone());
            if let Some(name) = main {
                self.on_main_exit(&name, status, now);
            } else if let Some(name) = health {
                self.on_health_exit(&name, status, now);
            } else if let Some(i) = self.cancelled_checks.iter().position(|&c| c == pid) {
                self.cancelled_checks.swap_remove(i);
            } else {
                // An orphan: a process of some service whose parent died before it.
                let stopping: Vec<String> = self
                    .services
                    .iter()
                    .filter(|(_, s)| s.state == State::Stopping)
                    .map(|(n, _)| n.clone())
                    .collect();
                for name in stopping {
                    self.check_stopped(&name, now);
                }
            }
        }
    }

    fn read_notify(&mut self, name: &str, now: Instant) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let Some(sock) = &svc.notify else { return };
        let notices = sock.recv().unwrap_or_default();
        let mut ready = false;
        for notice in notices {
            // Only the service's own processes may speak for it: the sender's pid, which the
            // kernel attached, must be one of them.
            let ours = svc.pgid.is_some_and(|g| notice.from_group(g))
                || svc.processes().contains(&notice.pid);
            if !ours {
                event!(
                    "{name}: ignored a notification from pid {}, not one of the service's processes",
                    notice.pid
                );
                continue;
            }
            if let Some(status) = notice.get("STATUS") {
                svc.status_text = status.to_string();
                event!("{name} status: {status}");
            }
            if notice.get("STOPPING") == Some("1") {
                event!("{name} says it is stopping");
            }
            ready |= notice.is_ready();
        }
        if ready {
            self.mark_ready(name, now);
        }
    }

    fn read_pipe(&mut self, name: &str, idx: usize) {
        let Some(svc) = self.services.get_mut(name) else {
            return;
        };
        let mut closed = false;
        let mut lines: Vec<(Stream, Vec<u8>)> = Vec::new();
        {
            let (fd, stream, partial) = &mut svc.pipes[idx];
            let mut buf = [0u8; 8192];
            // At most PIPE_BUDGET bytes per wake-up: a service that writes without pause
            // must not keep the loop here while the others wait. What is left in the pipe
            // keeps it readable, and the next poll comes back at once.
            let mut budget = PIPE_BUDGET;
            while budget > 0 {
                let want = budget.min(buf.len());
                match nix::unistd::read(&*fd, &mut buf[..want]) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        budget -= n;
                        split_lines(*stream, partial, &buf[..n], &mut lines);
                    }
                    Err(Errno::EINTR) => continue,
                    Err(_) => break, // EAGAIN: all read
                }
            }
            if closed && !partial.is_empty() {
                lines.push((*stream, std::mem::take(partial)));
            }
        }
        if svc.log.is_none() {
            match RotatingLog::open(
                &self.log_dir,
                name,
                svc.def.log.max_bytes,
                svc.def.log.files,
            ) {
                Ok(l) => svc.log = Some(l),
                Err(e) => event!(
                    "{name} cannot open its log in {}: {e}",
                    self.log_dir.display()
                ),
            }
        }
        for (stream, line) in lines {
            if let Some(log) = &mut svc.log
                && let Err(e) = log.write_line(stream, &line)
            {
                event!("{name} log write failed: {e}");
            }
            // A follower's thread writes; a queue that is full (a client that does not keep
            // up) or closed (one that left) drops the follower. The loop never waits for one.
            svc.followers.retain(|f| {
                let mut l = line.clone();
                l.push(b'\n');
                f.try_send(l).is_ok()
            });
        }
        if closed {
            svc.pipes.remove(idx);
        }
    }

    /// Takes the waiting connections (a bounded number per wake-up) and gives each a thread.
    fn accept(&mut self, now: Instant) {
        for _ in 0..16 {
            match self.listener.accept() {
                Ok(Ok(conn)) => self.spawn_client(conn),
                Ok(Err(refused)) => {
                    // The kernel's word (SO_PEERCRED), already answered by the control socket.
                    event!(
                        "refused a control connection from uid {} (pid {})",
                        refused.uid,
                        refused.pid
                    );
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    return self.shed_connection(now);
                }
                Err(_) => {} // the client left before we took it (ECONNABORTED): the next one
            }
        }
    }

    /// Out of file descriptors: the connection stays in the backlog, and poll reports the
    /// listener readable again at once, a busy loop that starves everything else. Close the
    /// spare fd, accept the connection with it and close it (the client sees an error and EOF),
    /// then take the spare back. Without a spare, stop polling the listener for a while.
    fn shed_connection(&mut self, now: Instant) {
        self.spare_fd = None;
        match rustix::net::accept(&self.listener) {
            Ok(fd) => {
                let _ = rustix::io::write(&fd, b"error: svd is out of file descriptors\n");
                event!("out of file descriptors: closed a control connection unanswered");
            }
            Err(_) => self.accept_paused = Some(now + Duration::from_millis(200)),
        }
        self.spare_fd = fs::File::open("/dev/null").ok().map(OwnedFd::from);
    }

    fn spawn_client(&mut self, conn: Conn) {
        if self.clients.load(Ordering::Relaxed) >= MAX_CLIENTS {
            let _ = conn.reply_error("busy: too many clients, try again");
            return;
        }
        self.clients.fetch_add(1, Ordering::Relaxed);
        let slot = ClientSlot(Arc::clone(&self.clients));
        let (to_loop, wake) = (self.to_loop.clone(), Arc::clone(&self.wake_w));
        if let Err(e) = std::thread::Builder::new()
            .name("svd-client".into())
            .spawn(move || serve_client(conn, to_loop, wake, slot))
        {
            // The closure, and the connection in it, are dropped: the client sees EOF.
            event!("cannot start a thread for a control client: {e}");
        }
    }

    /// Serves the requests the clients' threads have read.
    fn take_requests(&mut self, now: Instant) {
        let mut buf = [0u8; 256];
        while matches!((&self.wake_r).read(&mut buf), Ok(n) if n > 0) {}
        while let Ok((request, client)) = self.requests.try_recv() {
            self.request(client, request, now);
        }
    }

    fn status_lines(&self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        for name in &self.order {
            let s = &self.services[name];
            let pid = s
                .main
                .filter(|_| s.state.active())
                .map_or("-".to_string(), |p| p.to_string());
            let uptime = match (s.state.active(), s.started_at) {
                (true, Some(t)) => format!("{}s", now.duration_since(t).as_secs()),
                _ => "-".to_string(),
            };
            let last = s.last_exit.clone().unwrap_or_else(|| "-".to_string());
            out.push(format!(
                "{name} {} {pid} {uptime} {} {last}",
                s.state.as_str(),
                s.restarts
            ));
        }
        out
    }

    fn request(&mut self, conn: Client, request: Request, now: Instant) {
        if self.shutting_down && request != Request::Status {
            let _ = conn.reply_error("svd is shutting down");
            return;
        }
        let (verb, name) = match request {
            Request::Status => {
                let _ = conn.reply_ok(&self.status_lines(now));
                return;
            }
            Request::Reload => {
                let _ = match self.reload(now) {
                    Ok(summary) => conn.reply_ok(&[summary]),
                    Err(e) => conn.reply_error(&e),
                };
                return;
            }
            Request::Logs { name, follow } => return self.logs(conn, &name, follow),
            Request::Start(name) => (Verb::Start, name),
            Request::Stop(name) => (Verb::Stop, name),
            Request::Restart(name) => (Verb::Restart, name),
        };
        let Some(svc) = self.services.get_mut(&name) else {
            let _ = conn.reply_error(&format!("no service named {name}"));
            return;
        };
        match verb {
            Verb::Start => {
                // A start by hand forgives the past deaths, also those of a failed service.
                svc.wanted = true;
                svc.backoff.reset();
                if matches!(svc.state, State::Failed | State::Backoff) {
                    svc.restart_at = None;
                    svc.state = State::Stopped;
                }
                if svc.state == State::Stopping {
                    svc.after_stop = AfterStop::Start;
                }
            }
            Verb::Stop => {
                svc.wanted = false;
                svc.after_stop = AfterStop::Nothing;
            }
            Verb::Restart => {
                svc.backoff.reset();
                svc.after_stop = AfterStop::Start;
                if matches!(svc.state, State::Failed | State::Backoff | State::Stopped) {
                    svc.wanted = true;
                    svc.restart_at = None;
                    svc.state = State::Stopped;
                    svc.after_stop = AfterStop::Nothing;
                }
            }
        }
        // The answer waits until the service got there (or failed): a script that runs
        // `svctl stop db` and then removes db's files knows db is down.
        self.waiting.push((conn, name.clone(), verb));
        if verb != Verb::Start {
            self.begin_stop(&name, now);
        }
        self.advance(now);
        self.answer_waiters(&name);
    }

    /// `logs NAME [-f]`: every file of the log, oldest first, then (with `-f`) each new line.
    /// The files are read here, and the follower registered in the same turn, so that no line
    /// is lost or sent twice in between; the client's thread writes them.
    fn logs(&mut self, conn: Client, name: &str, follow: bool) {
        let Some(svc) = self.services.get_mut(name) else {
            let _ = conn.reply_error(&format!("no service named {name}"));
            return;
        };
        let current = self.log_dir.join(format!("{name}.log"));
        let mut files: Vec<PathBuf> = (1..=svc.def.log.files)
            .rev()
            .map(|n| PathBuf::from(format!("{}.{n}", current.display())))
            .filter(|p| p.exists())
            .collect();
        files.push(current);
        let mut history = Vec::new();
        for f in files {
            if let Ok(text) = fs::read(&f) {
                history.extend_from_slice(&text);
            }
        }
        let follow = follow.then(|| {
            let (tx, rx) = mpsc::sync_channel(FOLLOW_QUEUE);
            svc.followers.push(tx);
            rx
        });
        let _ = conn.0.send(Reply::Log { history, follow });
    }

    /// Answers the clients waiting for `name` if it got where they asked.
    fn answer_waiters(&mut self, name: &str) {
        let state = self
            .services
            .get(name)
            .map(|s| (s.state, s.after_stop == AfterStop::Start));
        let waiting = std::mem::take(&mut self.waiting);
        for (conn, n, verb) in waiting {
            if n != name {
                self.waiting.push((conn, n, verb));
                continue;
            }
            let answer = match (verb, state) {
                (_, None) => Some(Err(format!("{name} was removed"))),
                (Verb::Stop, Some((State::Stopped, _))) => Some(Ok(format!("{name} stopped"))),
                (
                    Verb::Start | Verb::Restart,
                    Some((s @ (State::Ready | State::Running), false)),
                ) => Some(Ok(format!("{name} {}", s.as_str()))),
                (_, Some((State::Failed, _))) => Some(Err(format!("{name} failed"))),
                _ => None,
            };
            let _ = match answer {
                Some(Ok(line)) => conn.reply_ok(&[line]),
                Some(Err(reason)) => conn.reply_error(&reason),
                None => {
                    self.waiting.push((conn, n, verb));
                    Ok(())
                }
            };
        }
    }

    fn reload(&mut self, now: Instant) -> Result<String, String> {
        let new = crate::config::load(&self.config_path).map_err(|e| {
            event!("reload refused, keeping the old config: {e}");
            format!("reload refused: {e}")
        })?;
        let mut started = Vec::new();
        let mut removed = Vec::new();
        let mut changed = Vec::new();
        for name in self.services.keys().cloned().collect::<Vec<_>>() {
            if !new.services.contains_key(&name) {
                let svc = self.services.get_mut(&name).expect("listed");
                svc.wanted = false;
                svc.after_stop = AfterStop::Remove;
                removed.push(name);
            }
        }
        for (name, def) in &new.services {
            match self.services.get_mut(name) {
                None => {
                    self.services.insert(name.clone(), Svc::new(def.clone()));
                    self.metrics.set_state(name, State::Stopped);
                    started.push(name.clone());
                }
                Some(svc) if svc.def != *def => {
                    svc.def = def.clone();
                    svc.backoff = Backoff::new(def.backoff, def.start_limit);
                    svc.log = None; // reopened with the new rotation policy
                    if def.ready != Ready::Notify {
                        svc.notify = None;
                    }
                    svc.after_stop = AfterStop::Start;
                    changed.push(name.clone());
                }
                Some(_) => {}
            }
        }
        // The new order: every service after its dependencies; services being removed last.
        let mut order = new.start_order();
        order.extend(removed.iter().cloned());
        self.order = order;
        let summary = format!(
            "reloaded: new [{}], removed [{}], restarted [{}]",
            started.join(" "),
            removed.join(" "),
            changed.join(" ")
        );
        event!("{summary}");
        for name in removed.iter().chain(&changed) {
            self.begin_stop(name, now);
        }
        self.advance(now);
        Ok(summary)
    }

    fn poll_once(&mut self) -> io::Result<()> {
        let now = Instant::now();
        if self.accept_paused.is_some_and(|t| t <= now) {
            self.accept_paused = None;
        }
        let timeout = match self
            .next_deadline()
            .into_iter()
            .chain(self.accept_paused)
            .min()
        {
            None => PollTimeout::NONE,
            Some(t) => {
                // Round up: waking a millisecond early would spin until the deadline.
                let ms = t.saturating_duration_since(now).as_micros().div_ceil(1000);
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut tokens = Vec::new();
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = Vec::new();
            fds.push(PollFd::new(self.signals.as_fd(), PollFlags::POLLIN));
            tokens.push(Token::Signal);
            if self.accept_paused.is_none_or(|t| t <= now) {
                fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
                tokens.push(Token::Listener);
            }
            fds.push(PollFd::new(self.wake_r.as_fd(), PollFlags::POLLIN));
            tokens.push(Token::Requests);
            for (name, s) in &self.services {
                if let Some(n) = &s.notify {
                    fds.push(PollFd::new(n.as_fd(), PollFlags::POLLIN));
                    tokens.push(Token::Notify(name.clone()));
                }
                if let Some(fd) = &s.pidfd {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    tokens.push(Token::Pidfd);
                }
                if let Some((fd, _)) = &s.probe_conn {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
                    tokens.push(Token::ProbeConn(name.clone()));
                }
                if let Some((fd, _)) = &s.health_conn {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
                    tokens.push(Token::HealthConn(name.clone()));
                }
                for (i, (fd, _, _)) in s.pipes.iter().enumerate() {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    tokens.push(Token::Pipe(name.clone(), i));
                }
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            fds.iter()
                .enumerate()
                .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| i)
                .collect()
        };
        let now = Instant::now();
        // Pipes are handled from the highest index down, so that a closed pipe removed from a
        // service's list does not shift the ones still to read.
        for &i in ready.iter().rev() {
            match &tokens[i] {
                // Handled below, once every pipe is drained.
                Token::Signal | Token::Pidfd => {}
                Token::Listener => self.accept(now),
                Token::Requests => self.take_requests(now),
                Token::ProbeConn(name) => {
                    let name = name.clone();
                    self.probe_connected(&name, now);
                }
                Token::HealthConn(name) => {
                    let name = name.clone();
                    self.health_connected(&name, now);
                }
                Token::Notify(name) => {
                    let name = name.clone();
                    self.read_notify(&name, now);
                }
                Token::Pipe(name, idx) => {
                    let (name, idx) = (name.clone(), *idx);
                    self.read_pipe(&name, idx);
                }
            }
        }
        // Signals last: a service's last output is logged before its death is handled.
        if ready.contains(&0) {
            while let Ok(Some(info)) = self.signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => self.reap(now),
                    Ok(Signal::SIGHUP) => {
                        let _ = self.reload(now);
                    }
                    // A second SIGTERM during the shutdown changes nothing: the stop timeouts
                    // already bound it.
                    Ok(sig @ (Signal::SIGTERM | Signal::SIGINT)) if !self.shutting_down => {
                        event!("{} received: stopping every service", sig.as_str());
                        self.shutting_down = true;
                        for s in self.services.values_mut() {
                            s.wanted = false;
                        }
                        for (conn, _, _) in std::mem::take(&mut self.waiting) {
                            let _ = conn.reply_error("svd is shutting down");
                        }
                    }
                    _ => {}
                }
            }
            // SIGCHLD coalesces; reaping again is cheap and never misses a death.
            self.reap(now);
        }
        // A readable pidfd: a service's main process ended (its SIGCHLD may still be queued).
        if ready.iter().any(|&i| matches!(tokens[i], Token::Pidfd)) {
            self.reap(now);
        }
        self.fire_timers(Instant::now());
        self.advance(Instant::now());
        Ok(())
    }

    fn done(&self) -> bool {
        self.shutting_down
            && self.cancelled_checks.is_empty()
            && self
                .services
                .values()
                .all(|s| matches!(s.state, State::Stopped | State::Failed))
    }
}

// ---------------------------------------------------------------------------------------------
// The two programs
// ---------------------------------------------------------------------------------------------

/// Gives the child a clean signal state between fork and exec: an empty mask (svd blocks the
/// signals it reads from its signalfd, a mask survives fork and execve, and a service started
/// with SIGTERM blocked would never see its stop signal) and the default action for every
/// signal (execve resets handled signals, not ignored ones: an svd started with `nohup` or `&`
/// from a shell without job control ignores SIGHUP or SIGINT and SIGQUIT, and would pass that
/// on to every service).
fn unblock_signals_in_child(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls sigaction(2) and
    // sigprocmask(2), system calls that are async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            for sig in 1..=31 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            )
            .map_err(io::Error::from)
        });
    }
}

fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("svd"),
        _ => std::env::temp_dir().join(format!("svd-{}", nix::unistd::getuid())),
    }
}

/// Creates `dir` (and every missing parent) with mode 0700, then checks what is there: a
/// directory (not a symlink to one) that we own and that neither group nor others may write.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| e.to_string())?;
    let meta = fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() {
        return Err("not a directory (a symlink is not followed)".into());
    }
    if meta.uid() != me {
        return Err(format!(
            "owned by uid {}, not by us (uid {me}): refusing to use it",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "mode {:o} lets others write into it: refusing to use it",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

fn default_socket() -> PathBuf {
    std::env::var_os("SVD_SOCKET").map_or_else(|| runtime_dir().join("svd.sock"), PathBuf::from)
}

const SVD_USAGE: &str = "usage: svd --config FILE [--socket S] [--metrics 127.0.0.1:PORT] [--log-dir D] [--allow-uid UID]";

struct Args {
    config: PathBuf,
    socket: PathBuf,
    metrics: Option<String>,
    log_dir: PathBuf,
    allow_uid: u32,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut config = None;
    let mut socket = None;
    let mut metrics = None;
    let mut log_dir = None;
    let mut allow_uid = nix::unistd::getuid().as_raw();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--metrics" => metrics = Some(value()?),
            "--log-dir" => log_dir = Some(PathBuf::from(value()?)),
            "--allow-uid" => {
                let v = value()?;
                allow_uid = v
                    .parse()
                    .map_err(|_| format!("--allow-uid {v:?}: not a uid"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(Args {
        config,
        socket: socket.unwrap_or_else(default_socket),
        metrics,
        log_dir: log_dir.unwrap_or_else(|| runtime_dir().join("logs")),
        allow_uid,
    })
}

/// `svd`'s main: supervises until SIGTERM or SIGINT, then exits 0.
pub fn svd_main(args: Vec<String>) -> ExitCode {
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{SVD_USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("svd: {e}\n{SVD_USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("svd: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    // Nothing starts until the whole config is valid.
    let config = match crate::config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("svd: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // Block the signals we handle before any thread exists, so that every thread inherits the
    // mask and they are only ever read from the signalfd. The mask is inherited across fork
    // and execve (std does not reset it): `unblock_signals_in_child` empties it for every
    // service and health check.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;
    // A child subreaper: orphans of our services come back to us, not to init.
    reaper::become_subreaper().map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;

    // The directories svd writes into: made owner-only (every missing level, the runtime
    // directory too), and refused when someone else owns them or may write into them: whoever
    // can write there can plant a symlink at a log's name or a socket at the control path.
    let sock_dir = args
        .socket
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let runtime = runtime_dir();
    if args.log_dir.starts_with(&runtime) || args.socket.starts_with(&runtime) {
        private_dir(&runtime).map_err(|e| format!("runtime dir {}: {e}", runtime.display()))?;
    }
    for (what, dir) in [("log dir", &*args.log_dir), ("socket dir", sock_dir)] {
        private_dir(dir).map_err(|e| format!("{what} {}: {e}", dir.display()))?;
    }
    // Owner-only (0600, and SO_PEERCRED checked at each accept); a stale file is replaced, a
    // live svd's socket is not. A client has one second to send its request line.
    let listener = ControlSocket::bind(&args.socket, args.allow_uid)
        .map_err(|e| format!("control socket {}: {e}", args.socket.display()))?
        .with_request_timeout(Duration::from_secs(1));
    // Accepting must never wait: the loop accepts what poll announced, until EAGAIN.
    nix::fcntl::fcntl(
        &listener,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| format!("control socket: {e}"))?;
    let (wake_r, wake_w) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    for end in [&wake_r, &wake_w] {
        end.set_nonblocking(true)
            .map_err(|e| format!("socketpair: {e}"))?;
    }
    let (to_loop, requests) = mpsc::channel();
    let mut notify_dir = args.socket.clone().into_os_string();
    notify_dir.push(".notify");
    let notify_dir = PathBuf::from(notify_dir);
    let _ = fs::remove_dir_all(&notify_dir);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&notify_dir)
        .map_err(|e| format!("{}: {e}", notify_dir.display()))?;

    let (metrics, registry) = Metrics::new();
    let mut http = None;
    if let Some(addr) = &args.metrics {
        let listener = std::net::TcpListener::bind(addr.as_str())
            .map_err(|e| format!("metrics on {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("metrics on {addr}: {e}"))?;
        let bound = listener
            .local_addr()
            .map_or(addr.clone(), |a| a.to_string());
        let (stop_r, stop_w) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        let thread = serve_metrics(listener, Arc::new(registry), stop_r);
        event!("metrics on http://{bound}/metrics");
        http = Some((stop_w, thread));
    }

    let order = config.start_order();
    let mut sup = Supervisor {
        config_path: args.config.clone(),
        socket: args.socket.clone(),
        notify_dir,
        log_dir: args.log_dir.clone(),
        services: config
            .services
            .into_values()
            .map(|s| (s.name.clone(), Svc::new(s)))
            .collect(),
        order,
        waiting: Vec::new(),
        requests,
        to_loop,
        wake_r,
        wake_w: Arc::new(wake_w),
        clients: Arc::new(AtomicUsize::new(0)),
        spare_fd: fs::File::open("/dev/null").ok().map(OwnedFd::from),
        accept_paused: None,
        cancelled_checks: Vec::new(),
        shutting_down: false,
        metrics,
        signals,
        listener,
    };
    for name in sup.order.clone() {
        sup.metrics.set_state(&name, State::Stopped);
    }
    event!("listening on {}", sup.socket.display());
    sup.advance(Instant::now());
    let result = loop {
        if sup.done() {
            break Ok(());
        }
        if let Err(e) = sup.poll_once() {
            break Err(e);
        }
    };
    // Leave nothing: the socket files, the metrics thread. Every service is already down.
    let _ = fs::remove_file(&sup.socket);
    let _ = fs::remove_dir_all(&sup.notify_dir);
    if let Some((stop, thread)) = http {
        drop(stop); // EOF on the metrics thread's end: it returns
        let _ = thread.join();
    }
    match result {
        Ok(()) => {
            event!("every service stopped: exiting");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!("poll failed: {e}")),
    }
}

const SVCTL_USAGE: &str = "usage: svctl [--socket S] status | start NAME | stop NAME | restart NAME | logs NAME [-f] | reload";

/// `svctl`'s main: one request, its answer on stdout.
pub fn svctl_main(args: Vec<String>) -> ExitCode {
    let mut socket = default_socket();
    let mut rest: &[String] = &args;
    if rest.first().map(String::as_str) == Some("--socket") {
        let Some(s) = rest.get(1) else {
            eprintln!("svctl: --socket needs a value\n{SVCTL_USAGE}");
            return ExitCode::from(2);
        };
        socket = PathBuf::from(s);
        rest = &rest[2..];
    }
    // The same parser as svd's: a request svctl sends is one svd understands.
    let request = match crate::control::parse_request(&rest.join(" ")) {
        Ok(r) => r,
        Err(reason) => {
            eprintln!("svctl: {reason}\n{SVCTL_USAGE}");
            return ExitCode::from(2);
        }
    };
    let stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("svctl: cannot reach svd at {}: {e}", socket.display());
            return ExitCode::from(2);
        }
    };
    // Whatever listens at the path gets our request and is believed: it must be svd of our
    // own uid (or root's). The kernel says who bound the listening socket (SO_PEERCRED).
    let me = nix::unistd::geteuid().as_raw();
    match nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials) {
        Ok(cred) if cred.uid() == me || cred.uid() == 0 => {}
        Ok(cred) => {
            eprintln!(
                "svctl: {} is served by uid {} (pid {}), not by us (uid {me}) or root: not talking to it",
                socket.display(),
                cred.uid(),
                cred.pid()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("svctl: cannot tell who serves {}: {e}", socket.display());
            return ExitCode::from(2);
        }
    }
    let mut w = &stream;
    // A write error is not the end: svd may have answered and closed without reading, as it
    // does for a refused uid. The answer, if any, is what counts.
    let _ = writeln!(w, "{}", request.to_line());
    let mut reader = BufReader::new(&stream);
    let mut first = String::new();
    match reader.read_line(&mut first) {
        Ok(0) | Err(_) => {
            eprintln!("svctl: svd closed the connection without an answer");
            return ExitCode::from(2);
        }
        Ok(_) => {}
    }
    let first = first.trim_end();
    if let Some(reason) = first.strip_prefix("error: ") {
        eprintln!("svctl: {reason}");
        return ExitCode::from(1);
    }
    if first != "ok" {
        eprintln!("svctl: unexpected answer from svd: {first:?}");
        return ExitCode::from(2);
    }
    let mut out = io::stdout().lock();
    let _ = out.flush();
    // Copy the rest as it comes (logs -f: until svd goes away or we are interrupted).
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break; // a closed stdout (svctl logs -f | head) is a normal end
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    ExitCode::SUCCESS
}
