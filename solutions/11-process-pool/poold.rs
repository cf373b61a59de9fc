//! Practice: `poold`, a pre-forked pool server, and `poolc`, its client.
//!
//! Scenario: `poold --socket PATH [--workers N] [--max-workers M] [--task-timeout MS]
//! [--grace MS]` runs a `crate::pool::Pool` of `pool-worker` processes (found next to its own
//! executable) behind a Unix socket that only its owner may use (mode 0600 from the moment it
//! exists). It prints `ready` on stdout once it accepts connections. Workers are its children:
//! anyone may find them in /proc and kill them, and no task is lost.
//!
//! One poold per socket: a socket file left by a poold that was killed (nobody accepts on it,
//! `connect` fails with ECONNREFUSED) is replaced; while another poold serves the path, a second
//! one refuses with a one-line error and exit status 2 (an exclusive lock on `PATH.lock` says
//! which). poold removes the socket file it created and no other file.
//!
//! The protocol, one line each way per request: a client sends `N TASK` (N a number the client
//! chooses, TASK a line for `crate::task::run`) as many as it likes without waiting, and gets
//! `N ok RESULT` or `N error REASON` for each, in the order results come. `stats` answers
//! `workers W queued Q in_flight I done D failed F restarts R`; `workers N` changes the number
//! of workers (at most M: default four per CPU) and answers `ok workers N`; anything else is
//! answered `error ...`. Every line gets an answer: one that is not UTF-8, or longer than
//! 64 KiB (answered before its end arrives), gets `N error REASON` (or `error REASON` without a
//! number). A client that sends without reading its answers stops being read once 1024 answers
//! wait for it: what poold holds for one client is bounded.
//!
//! Signals: SIGHUP replaces every worker one at a time (`poold: rolling restart` on stderr).
//! SIGTERM or SIGINT drains: the socket file is removed and no connection accepted, tasks sent
//! afterwards are answered `N error shutting down`, every accepted task finishes (for at most
//! `--grace`, default 10 s; then its answer is `error pool shut down`), every worker is
//! stopped, and poold exits 0 (answers a client does not read are given up after at most
//! a second more). SIGTERM works whatever happened to the socket file. Running out of file
//! descriptors (EMFILE) turns clients away, it does not make poold spin.
//!
//! `poolc --socket PATH run [FILE]` sends every non-blank line of FILE (or stdin) as a task
//! numbered by its line, all at once, prints each answer line as it comes and exits 0 once every
//! task has one (1 if the connection ends first). `poolc --socket PATH stats` and
//! `poolc --socket PATH workers N` print the server's answer. Usage and connection errors are
//! one line on stderr and exit status 2.
//!
//! Goal: `server_main` and `client_main`.
//! Chapter: `docs/src/11-process-pool.md#poold`. Check: `cargo xtask check process-pool/poold`.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::stat::{Mode, umask};
use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd, poll};
use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::pool::{Config, Done, Outcome, Pool};

/// The longest request line read; a longer one is answered `error` and skipped, so that one
/// client cannot make the server buffer without bound.
pub const MAX_LINE: usize = 64 * 1024;
/// The most answers one connection may have coming (tasks running, lines not yet written):
/// past it the server stops reading that client until it reads its answers.
pub const MAX_PENDING: usize = 1024;
/// How long answers still owed to clients may take to be written once the pool has stopped
/// (at least; the rest of `--grace` if longer). A client that does not read is then cut off.
const WRITE_DEADLINE: Duration = Duration::from_secs(1);

struct ServerArgs {
    socket: PathBuf,
    workers: usize,
    max_workers: usize,
    task_timeout: Option<Duration>,
    grace: Duration,
}

/// The default `--max-workers`: a few workers per CPU is plenty for CPU-bound tasks, and a
/// request for a million of them is a mistake (or an attack), not a plan.
fn default_max_workers() -> usize {
    thread::available_parallelism().map_or(4, std::num::NonZero::get) * 4
}

fn parse_server(args: &[String]) -> Result<ServerArgs, String> {
    let mut socket = None;
    let mut workers = None;
    let mut max_workers = default_max_workers();
    let mut task_timeout = None;
    let mut grace = Duration::from_secs(10);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let millis = |v: &String| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{flag} expects milliseconds, got {v:?}"))
        };
        let count = |v: &String| {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or(format!("{flag} expects a number >= 1, got {v:?}"))
        };
        match flag.as_str() {
            "--socket" => socket = Some(PathBuf::from(value()?)),
            "--workers" => workers = Some(count(value()?)?),
            "--max-workers" => max_workers = count(value()?)?,
            "--task-timeout" => task_timeout = Some(millis(value()?)?),
            "--grace" => grace = millis(value()?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let workers = workers.unwrap_or(max_workers.min(4));
    if workers > max_workers {
        return Err(format!(
            "--workers {workers} is more than --max-workers {max_workers}"
        ));
    }
    Ok(ServerArgs {
        socket: socket.ok_or("--socket PATH is required")?,
        workers,
        max_workers,
        task_timeout,
        grace,
    })
}

/// `poold`'s main: serves until SIGTERM or SIGINT.
pub fn server_main(args: Vec<String>) -> ExitCode {
    const USAGE: &str = "usage: poold --socket PATH [--workers N] [--max-workers N] \
                         [--task-timeout MS] [--grace MS]";
    let args = match parse_server(&args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("poold: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poold: {e}");
            ExitCode::from(2)
        }
    }
}

fn with_path(path: &Path, e: impl std::fmt::Display, kind: ErrorKind) -> io::Error {
    io::Error::new(kind, format!("{}: {e}", path.display()))
}

/// `e`, its message prefixed with the path it is about.
fn at(path: &Path, e: io::Error) -> io::Error {
    with_path(path, &e, e.kind())
}

/// An exclusive `flock` on `SOCKET.lock`, held for the server's life: two servers of one socket
/// cannot run at once, whatever state the socket file is in. The kernel drops the lock when the
/// last descriptor of its open file closes, however the server ends. The file stays: removed,
/// a server starting later could create and lock a new one while another still holds the old.
struct LockFile {
    _file: File,
}

impl LockFile {
    fn acquire(socket: &Path) -> io::Result<LockFile> {
        let mut path = socket.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| at(&path, e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(LockFile { _file: file }),
            Err(Errno::WOULDBLOCK) => Err(io::Error::new(
                ErrorKind::AddrInUse,
                format!("another poold serves {}", socket.display()),
            )),
            Err(e) => Err(with_path(&path, e, ErrorKind::Other)),
        }
    }
}

/// The socket file this server created, identified by device and inode: it is removed only if
/// the file at the path is still that one, never another server's or an administrator's.
struct Bound {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Bound {
    fn remove(&self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.dev() == self.dev
            && meta.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Binds `path` owner-only. With the lock held no other poold can be listening; a socket file
/// left there by one that was killed is replaced, after checking that nobody answers on it.
fn bind(path: &Path) -> io::Result<(UnixListener, Bound)> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(at(path, e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(with_path(
                path,
                "exists and is not a socket: not touching it",
                ErrorKind::AlreadyExists,
            ));
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(with_path(
                    path,
                    "another server listens there",
                    ErrorKind::AddrInUse,
                ));
            }
            // ECONNREFUSED: a socket file without a listener, left by a server that died.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(|e| at(path, e))?;
            }
            Err(e) => return Err(at(path, e)),
        },
    }
    // Owner-only from the moment the file exists: `bind` creates it with 0777 minus the
    // umask. The umask is per process, so this runs before any other thread exists.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(|e| at(path, e))?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| at(path, e))?;
    Ok((
        listener,
        Bound {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

/// A descriptor kept open for one purpose: when `accept` fails with EMFILE, closing it frees a
/// slot to accept the waiting connection and close it at once. Without that, the connection
/// stays in the backlog, `poll` reports the listener ready again at once, and the loop spins.
fn spare_fd() -> Option<File> {
    File::open("/dev/null").ok()
}

fn serve(args: &ServerArgs) -> io::Result<()> {
    // Before any thread exists: the handlers are in place before a client can connect, and the
    // umask (process-wide) cannot race another thread's file creation.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let _lock = LockFile::acquire(&args.socket)?;
    let (listener, bound) = bind(&args.socket)?;
    listener.set_nonblocking(true)?;
    // The signal thread writes here to wake the accept loop: it needs no path, so a removed or
    // replaced socket file cannot make the server deaf to SIGTERM.
    let stop = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);

    let worker = std::env::current_exe()?.with_file_name("pool-worker");
    let mut config = Config::new(&worker, args.workers);
    config.task_timeout = args.task_timeout;
    let pool = Pool::start(config).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot start the workers ({}): {e}", worker.display()),
        )
    })?;
    let pool = Arc::new(pool);

    let handle = signals.handle();
    let signal_thread = {
        let pool = Arc::clone(&pool);
        let stop = Arc::clone(&stop);
        thread::Builder::new()
            .name("poold-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if signal == SIGHUP {
                        eprintln!("poold: rolling restart");
                        pool.rolling_restart();
                    } else {
                        let _ = rustix::io::write(&*stop, &1u64.to_ne_bytes());
                        return;
                    }
                }
            })?
    };

    println!("ready");
    io::stdout().flush()?;
    let mut connections: Vec<Connection> = Vec::new();
    // Each connection's thread says here, by its number, that it has written all it owes.
    let (finished_tx, finished_rx) = mpsc::channel::<u64>();
    let mut next_id = 0u64;
    let mut spare = spare_fd();
    let mut backoff = false;
    loop {
        let timeout = Timespec::try_from(Duration::from_millis(100)).ok();
        let mut fds = [
            PollFd::new(&listener, PollFlags::IN),
            PollFd::new(&*stop, PollFlags::IN),
        ];
        // While descriptors are exhausted and no spare is left, look at the listener only
        // every 100 ms.
        let watched = if backoff { &mut fds[1..] } else { &mut fds[..] };
        match poll(watched, if backoff { timeout.as_ref() } else { None }) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if !fds[1].revents().is_empty() {
            break;
        }
        backoff = false;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    connections.retain(|c| !c.handle.is_finished());
                    next_id += 1;
                    if let Some(c) =
                        Connection::start(next_id, stream, &pool, args.max_workers, &finished_tx)
                    {
                        connections.push(c);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error().is_some_and(is_fd_exhaustion) => {
                    if spare.take().is_some() {
                        // One slot free: take the waiting client and hang up on it at once.
                        if let Ok((stream, _)) = listener.accept() {
                            drop(stream);
                        }
                        spare = spare_fd();
                        eprintln!("poold: accept: {e}; a client was turned away");
                    } else {
                        spare = spare_fd();
                        backoff = true;
                    }
                    break;
                }
                Err(e) => {
                    // ENOBUFS, ENOMEM and the like: wait a little rather than spin.
                    eprintln!("poold: accept: {e}");
                    backoff = true;
                    break;
                }
            }
        }
    }
    // Stop accepting: nobody can connect once the socket is closed and its file gone.
    drop(listener);
    bound.remove();
    eprintln!("poold: draining");
    let end = Instant::now() + args.grace;
    // Tasks sent meanwhile are answered `error shutting down`; every accepted one finishes.
    let stats = pool.shutdown(args.grace);
    // Every task is answered now. Readers stop; writers get until the end of the grace (at
    // least WRITE_DEADLINE) to write what clients are owed, then clients that do not read
    // are cut off: a blocked write fails once its socket is shut down.
    for c in &connections {
        c.pending.close();
        let _ = c.stream.shutdown(Shutdown::Read);
    }
    drop(finished_tx);
    let deadline = end.max(Instant::now() + WRITE_DEADLINE);
    // Wait for these connections by number: the channel also holds the word of connections
    // that ended long ago, and counting words instead would cut off a writer still at work.
    let mut left: HashSet<u64> = connections
        .iter()
        .filter(|c| !c.handle.is_finished())
        .map(|c| c.id)
        .collect();
    while !left.is_empty() {
        match finished_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(id) => {
                left.remove(&id);
            }
            Err(_) => break,
        }
    }
    for c in connections {
        if !c.handle.is_finished() {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        let _ = c.handle.join();
    }
    handle.close();
    let _ = signal_thread.join();
    eprintln!(
        "poold: stopped: done {} failed {} restarts {}",
        stats.done, stats.failed, stats.restarts
    );
    Ok(())
}

/// EMFILE (this process) or ENFILE (the whole system): out of descriptors.
fn is_fd_exhaustion(errno: i32) -> bool {
    errno == Errno::MFILE.raw_os_error() || errno == Errno::NFILE.raw_os_error()
}

/// How many answers one connection has coming, and whether the server is closing: its reader
/// waits here while the client does not read.
struct Pending {
    state: Mutex<(usize, bool)>,
    room: Condvar,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for one more answer; `false` once the server is closing.
    fn take(&self) -> bool {
        let mut state = self.lock();
        while state.0 >= MAX_PENDING && !state.1 {
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.1 {
            return false;
        }
        state.0 += 1;
        true
    }

    fn give_back(&self) {
        self.lock().0 -= 1;
        self.room.notify_one();
    }

    fn close(&self) {
        self.lock().1 = true;
        self.room.notify_all();
    }
}

/// An accepted client, as the accept loop keeps it for shutdown.
struct Connection {
    /// Its number, as its thread reports it when it has finished.
    id: u64,
    /// A clone of the client's socket, to shut it down.
    stream: UnixStream,
    pending: Arc<Pending>,
    handle: JoinHandle<()>,
}

impl Connection {
    /// Starts the client's threads; `None` (the client is hung up on) if that fails.
    fn start(
        id: u64,
        stream: UnixStream,
        pool: &Arc<Pool>,
        max_workers: usize,
        finished: &Sender<u64>,
    ) -> Option<Connection> {
        // Accepted sockets do not inherit the listener's O_NONBLOCK on Linux; say so anyway.
        stream.set_nonblocking(false).ok()?;
        let control = stream.try_clone().ok()?;
        let pending = Arc::new(Pending {
            state: Mutex::new((0, false)),
            room: Condvar::new(),
        });
        let (pool, theirs, finished) = (Arc::clone(pool), Arc::clone(&pending), finished.clone());
        let spawned = thread::Builder::new()
            .name("poold-client".into())
            .spawn(move || {
                connection(stream, &pool, max_workers, &theirs);
                let _ = finished.send(id);
            });
        match spawned {
            Ok(handle) => Some(Connection {
                id,
                stream: control,
                pending,
                handle,
            }),
            Err(e) => {
                // Out of threads (or memory): this client is hung up on, the others go on.
                eprintln!("poold: cannot serve a client: {e}");
                None
            }
        }
    }
}

/// What a connection's writer thread writes.
enum Out {
    /// A task was accepted under pool id `id` for the client's number `n`.
    Submitted {
        id: u64,
        n: String,
    },
    Done(Done),
    Line(String),
}

fn connection(stream: UnixStream, pool: &Pool, max_workers: usize, pending: &Arc<Pending>) {
    let (out_tx, out_rx) = mpsc::channel::<Out>();
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let writes = Arc::clone(pending);
    let writer = thread::Builder::new()
        .name("poold-writer".into())
        .spawn(move || {
            let mut out = BufWriter::new(write_half);
            let mut numbers: HashMap<u64, String> = HashMap::new();
            let mut early: HashMap<u64, Done> = HashMap::new();
            // The channel ends when the reader and every pending task's reply sender are gone.
            for msg in out_rx {
                let line = match msg {
                    Out::Line(line) => line,
                    Out::Submitted { id, n } => match early.remove(&id) {
                        Some(done) => answer_line(&n, &done.outcome),
                        None => {
                            numbers.insert(id, n);
                            continue;
                        }
                    },
                    Out::Done(done) => match numbers.remove(&done.id) {
                        Some(n) => answer_line(&n, &done.outcome),
                        None => {
                            // The result beat the reader's note of its number.
                            early.insert(done.id, done);
                            continue;
                        }
                    },
                };
                // Written or failed (the client is gone): either way its place is free. Keep
                // draining, so the pool's sends never fail loudly.
                let _ = writeln!(out, "{line}").and_then(|()| out.flush());
                writes.give_back();
            }
            // Every answer is written: say so. Closing our descriptor is not enough, because the
            // server keeps a clone of this socket to unblock the reader at shutdown.
            let _ = out.flush();
            let _ = out.get_ref().shutdown(Shutdown::Write);
        });
    let Ok(writer) = writer else {
        return;
    };
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let forward_tx = out_tx.clone();
    let forwarder = thread::Builder::new()
        .name("poold-forward".into())
        .spawn(move || {
            for done in done_rx {
                let _ = forward_tx.send(Out::Done(done));
            }
        });
    if let Ok(forwarder) = forwarder {
        read_requests(stream, pool, max_workers, pending, &done_tx, &out_tx);
        drop(done_tx);
        let _ = forwarder.join();
    }
    drop(out_tx);
    let _ = writer.join();
}

/// One request line, as read.
enum Line {
    /// A whole line (its newline removed), at most MAX_LINE bytes.
    Whole,
    /// Longer than MAX_LINE: what was read so far; the rest is still to skip.
    TooLong,
    End,
}

/// Reads one line into `line`, never holding more than MAX_LINE bytes of it.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
    line.clear();
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            // The client's last line may lack its newline: it is a line all the same.
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Whole
            });
        }
        let (used, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let take = used - usize::from(newline);
        if line.len() + take > MAX_LINE {
            let room = MAX_LINE - line.len();
            line.extend_from_slice(&buf[..room]);
            input.consume(room);
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(&buf[..take]);
        input.consume(used);
        if newline {
            return Ok(Line::Whole);
        }
    }
}

/// Consumes input up to and including the next newline, keeping none of it.
fn skip_line(input: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(false);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(true);
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// The client's number at the start of a line that cannot be served, so that the error still
/// reaches the right task.
fn number_of(line: &[u8]) -> Option<&str> {
    let head = line.split(|&b| b == b' ').next()?;
    let head = std::str::from_utf8(head).ok()?;
    head.parse::<u64>().ok().map(|_| head)
}

fn refuse(line: &[u8], reason: &str) -> String {
    match number_of(line) {
        Some(n) => format!("{n} error {reason}"),
        None => format!("error {reason}"),
    }
}

fn read_requests(
    stream: UnixStream,
    pool: &Pool,
    max_workers: usize,
    pending: &Pending,
    done_tx: &Sender<Done>,
    out_tx: &Sender<Out>,
) {
    let mut input = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        let read = read_line(&mut input, &mut line);
        if matches!(read, Ok(Line::Whole)) && line.trim_ascii().is_empty() {
            continue;
        }
        // Every line gets an answer, and every answer a place: a client that does not read
        // stops being read (backpressure), and the server's memory for it stays bounded.
        if !matches!(read, Ok(Line::Whole | Line::TooLong)) || !pending.take() {
            return;
        }
        let reply = match read {
            Ok(Line::TooLong) => {
                let reply = refuse(&line, &format!("line longer than {MAX_LINE} bytes"));
                let _ = out_tx.send(Out::Line(reply));
                match skip_line(&mut input) {
                    Ok(true) => continue,
                    _ => return,
                }
            }
            _ => match std::str::from_utf8(&line) {
                Ok(text) => request(pool, max_workers, text.trim(), done_tx, out_tx),
                Err(_) => Some(refuse(&line, "request is not UTF-8")),
            },
        };
        // A task answers later: its place is given back when its answer is written.
        if let Some(reply) = reply {
            let _ = out_tx.send(Out::Line(reply));
        }
    }
}

/// Handles one request line; returns a line to answer at once, if any.
fn request(
    pool: &Pool,
    max_workers: usize,
    line: &str,
    done_tx: &Sender<Done>,
    out_tx: &Sender<Out>,
) -> Option<String> {
    if line == "stats" {
        let s = pool.stats();
        return Some(format!(
            "workers {} queued {} in_flight {} done {} failed {} restarts {}",
            s.workers, s.queued, s.in_flight, s.done, s.failed, s.restarts
        ));
    }
    let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
    if head == "workers" {
        return Some(match rest.trim().parse::<usize>() {
            Ok(n) if (1..=max_workers).contains(&n) => {
                pool.resize(n);
                format!("ok workers {n}")
            }
            Ok(n) if n >= 1 => format!(
                "error workers {n} is more than the maximum of {max_workers} (--max-workers)"
            ),
            _ => format!("error workers expects a number >= 1, got {rest:?}"),
        });
    }
    if head.parse::<u64>().is_err() {
        return Some(format!(
            "error expected `N TASK`, `stats` or `workers N`, got {:?}",
            cut(line, 200)
        ));
    }
    match pool.submit(rest, done_tx) {
        Ok(id) => {
            let _ = out_tx.send(Out::Submitted {
                id,
                n: head.to_string(),
            });
            None
        }
        Err(e) => Some(format!("{head} error {e}")),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn answer_line(n: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(result) => format!("{n} ok {result}"),
        Outcome::Failed(reason) => format!("{n} error {reason}"),
        Outcome::TimedOut => format!("{n} error timed out"),
        Outcome::Quarantined => format!("{n} error quarantined: its workers kept dying"),
    }
}

/// `poolc`'s main.
pub fn client_main(args: Vec<String>) -> ExitCode {
    const USAGE: &str = "usage: poolc --socket PATH (run [FILE] | stats | workers N)";
    let (socket, command) = match args.as_slice() {
        [flag, socket, command @ ..] if flag == "--socket" && !command.is_empty() => {
            (Path::new(socket), command)
        }
        _ => {
            eprintln!("poolc: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        [run] if run == "run" => run_tasks(socket, None),
        [run, file] if run == "run" => run_tasks(socket, Some(Path::new(file))),
        [stats] if stats == "stats" => one_request(socket, "stats"),
        [workers, n] if workers == "workers" => one_request(socket, &format!("workers {n}")),
        _ => {
            eprintln!("poolc: {USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("poolc: {e}");
            ExitCode::from(2)
        }
    }
}

fn connect(socket: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot connect to {}: {e}", socket.display()),
        )
    })
}

fn one_request(socket: &Path, line: &str) -> io::Result<ExitCode> {
    let mut stream = connect(socket)?;
    writeln!(stream, "{line}")?;
    stream.shutdown(Shutdown::Write)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    print!("{answer}");
    Ok(if answer.starts_with("error") || answer.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_tasks(socket: &Path, file: Option<&Path>) -> io::Result<ExitCode> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        None => io::read_to_string(io::stdin())?,
    };
    let tasks: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect();
    let stream = connect(socket)?;
    let mut write_half = stream.try_clone()?;
    let mut waiting: HashSet<String> = tasks.iter().map(|(n, _)| n.to_string()).collect();
    // Pipelined: a thread sends every task while this one prints answers as they come. Sending
    // all first and reading afterwards would deadlock once both sockets' buffers are full.
    let sender = thread::spawn(move || -> io::Result<()> {
        let mut out = BufWriter::new(&mut write_half);
        for (n, task) in &tasks {
            writeln!(out, "{n} {task}")?;
        }
        out.flush()?;
        drop(out);
        write_half.shutdown(Shutdown::Write)
    });
    let stdout = io::stdout();
    let mut stdout = stdout.lock();
    for line in BufReader::new(stream).lines() {
        let line = line?;
        let n = line.split(' ').next().unwrap_or_default();
        waiting.remove(n);
        writeln!(stdout, "{line}")?;
        if waiting.is_empty() {
            break;
        }
    }
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("sender panicked")));
    if let Err(e) = sent {
        eprintln!("poolc: sending tasks: {e}");
    }
    if waiting.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "poolc: connection ended with {} task(s) unanswered",
            waiting.len()
        );
        Ok(ExitCode::FAILURE)
    }
}
