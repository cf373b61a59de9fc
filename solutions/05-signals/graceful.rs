//! Practice: a request server that shuts down gracefully.
//!
//! Scenario: `graceful --socket PATH --config FILE` serves requests on a Unix socket. A client
//! sends `REQ NAME`, gets `accepted NAME` at once, and its answer `GREETING NAME` only after it
//! sends a second line (`go`): a request is "in flight" between the two, for as long as the
//! client wants. Operators stop the server with SIGTERM or SIGINT and reload it with SIGHUP:
//! - the first SIGTERM/SIGINT stops accepting at once (the socket file is removed and the
//!   listening socket closed, so a new `connect` fails), prints `stopping: draining N
//!   request(s)`, lets every in-flight request finish, prints `shutdown complete: served N` and
//!   exits 0;
//! - a second SIGTERM/SIGINT, or the config's deadline passing first, prints `forced: abandoned
//!   N request(s) (second signal)` or `(deadline passed)` and exits 1;
//! - SIGHUP re-reads the config (`reloaded: greeting=G deadline_ms=D`, or `reload failed: ...`
//!   and the old config stays in force) without touching any connection; answers written after
//!   it use the new greeting.
//!
//! It prints `ready` once the socket is bound and every handler installed. Between signals it
//! sleeps: nothing wakes it but a signal, a client or the end of a request. An error it cannot
//! recover from (such as `accept` failing with EMFILE, out of file descriptors) makes `serve`
//! return it: `main` prints it and exits 2, and the socket file is removed all the same.
//!
//! Goal: an event loop that waits on the listening socket and a self-pipe written by the signal
//! handlers, plus a thread per connection.
//! Chapter: `docs/src/05-signals.md#graceful`. Check: `cargo xtask check signals/graceful`.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;
use signal_hook::low_level::pipe;

/// The server's configuration, read from a file of `key = value` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The first word of every answer (`greeting`, default `hello`).
    pub greeting: String,
    /// How long a shutdown may wait for in-flight requests (`deadline_ms`, default 5000).
    pub deadline: Duration,
}

impl Config {
    /// Parses `key = value` lines; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut config = Config {
            greeting: "hello".to_string(),
            deadline: Duration::from_millis(5000),
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("not a `key = value` line: {line:?}"));
            };
            match (key.trim(), value.trim()) {
                ("greeting", v) if !v.is_empty() && !v.contains(char::is_whitespace) => {
                    config.greeting = v.to_string();
                }
                ("deadline_ms", v) => {
                    let ms = v
                        .parse()
                        .map_err(|e| format!("bad deadline_ms {v:?}: {e}"))?;
                    config.deadline = Duration::from_millis(ms);
                }
                (k, v) => return Err(format!("bad setting {k} = {v:?}")),
            }
        }
        Ok(config)
    }

    /// Reads and parses the config file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Config::parse(&text)
    }
}

/// The command line: `--socket PATH --config FILE`. Returns the exit status.
pub fn main(args: Vec<String>) -> ExitCode {
    let mut socket = None;
    let mut config = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--socket" => socket = it.next().map(PathBuf::from),
            "--config" => config = it.next().map(PathBuf::from),
            other => {
                eprintln!("graceful: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(socket), Some(config)) = (socket, config) else {
        eprintln!("usage: graceful --socket PATH --config FILE");
        return ExitCode::from(2);
    };
    match serve(&socket, &config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("graceful: {e}");
            ExitCode::from(2)
        }
    }
}

/// What the event loop and the connection threads share.
struct Shared {
    config: RwLock<Config>,
    state: Mutex<State>,
    /// Written (one byte) by a connection thread when a request ends, to wake the event loop.
    wake: UnixStream,
}

#[derive(Default)]
struct State {
    stopping: bool,
    in_flight: usize,
    served: usize,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A connection thread that panicked cannot leave the counters half-updated: they are
        // plain integers changed in one statement. Carry on with them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self) {
        // Non-blocking: if the pipe is full, the loop has bytes to read and will wake anyway.
        let _ = (&self.wake).write(&[1]);
    }
}

/// The listening socket and its path. Dropping it stops accepting at once: the path is removed,
/// so that a new `connect` finds nothing, and the socket is closed, which resets connections
/// queued but never accepted. It is dropped at the first stop signal, and on every way out of
/// `serve` (an error too), so that no path of ours outlives the server.
struct Listening {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for Listening {
    fn drop(&mut self) {
        // Best effort: if someone else removed the file already, there is nothing left to do,
        // and a shutdown must not fail on it. The listener closes right after this body runs.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs the server until it shuts down; returns the exit status (0 after a graceful shutdown,
/// 1 after a forced one).
///
/// # References
/// `poll(2)`, `signal-safety(7)`, `unix(7)`
pub fn serve(socket: &Path, config_path: &Path) -> io::Result<ExitCode> {
    let config = Config::load(config_path).map_err(io::Error::other)?;

    // The self-pipe: the handlers set a flag and write a byte to `wake_w`; the event loop polls
    // `wake_r`. Both actions are async-signal-safe, and all the real work happens in the loop.
    let (wake_r, wake_w) = UnixStream::pair()?;
    wake_r.set_nonblocking(true)?;
    wake_w.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [(SIGTERM, &stop), (SIGINT, &stop), (SIGHUP, &reload)] {
        // The flag first: actions run in registration order, so the flag is set before the
        // byte that wakes the loop is written.
        flag::register(sig, Arc::clone(flag))?;
        pipe::register(sig, wake_w.try_clone()?)?;
    }

    // Owned by the guard from the moment it is bound, so that even an error removes the path.
    let listening = Listening {
        listener: UnixListener::bind(socket)?,
        path: socket.to_path_buf(),
    };
    // Non-blocking, so that accepting in a loop stops with WouldBlock instead of hanging.
    listening.listener.set_nonblocking(true)?;
    let mut listening = Some(listening);

    let shared = Arc::new(Shared {
        config: RwLock::new(config),
        state: Mutex::new(State::default()),
        wake: wake_w,
    });
    println!("ready");

    let mut stop_by: Option<Instant> = None;
    loop {
        let timeout = match stop_by {
            None => PollTimeout::NONE,
            // Rounded up, so that we never spin on a zero timeout just before the deadline.
            Some(t) => {
                let left = t.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
                PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = vec![PollFd::new(wake_r.as_fd(), PollFlags::POLLIN)];
        if let Some(l) = &listening {
            fds.push(PollFd::new(l.listener.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            // A handler ran during poll: poll is never restarted, the byte is in the pipe.
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let can_accept = fds
            .get(1)
            .and_then(PollFd::revents)
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        drop(fds);
        // Level-triggered: a byte left in the pipe would make every later `poll` return at
        // once, and the loop would spin instead of sleeping.
        drain(&wake_r);

        if reload.swap(false, Ordering::SeqCst) {
            match Config::load(config_path) {
                Ok(new) => {
                    let line = format!(
                        "reloaded: greeting={} deadline_ms={}",
                        new.greeting,
                        new.deadline.as_millis()
                    );
                    // Swap first, announce second: whoever reads the line may rely on the new
                    // config being in force.
                    *shared
                        .config
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = new;
                    println!("{line}");
                }
                Err(e) => println!("reload failed: {e}"),
            }
        }

        if stop.swap(false, Ordering::SeqCst) {
            if stop_by.is_some() {
                let n = shared.state().in_flight;
                println!("forced: abandoned {n} request(s) (second signal)");
                return Ok(ExitCode::from(1));
            }
            // Stop accepting at once: dropping the guard removes the path and closes the
            // listening socket.
            listening = None;
            let n = {
                let mut st = shared.state();
                st.stopping = true;
                st.in_flight
            };
            let deadline = shared
                .config
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .deadline;
            stop_by = Some(Instant::now() + deadline);
            println!("stopping: draining {n} request(s)");
        }

        if let Some(t) = stop_by {
            let st = shared.state();
            if st.in_flight == 0 {
                println!("shutdown complete: served {}", st.served);
                return Ok(ExitCode::SUCCESS);
            }
            if Instant::now() >= t {
                println!(
                    "forced: abandoned {} request(s) (deadline passed)",
                    st.in_flight
                );
                return Ok(ExitCode::from(1));
            }
        }

        if can_accept && let Some(l) = &listening {
            accept_all(&l.listener, &shared)?;
        }
    }
}

/// Reads every byte waiting in the self-pipe.
fn drain(mut wake: &UnixStream) {
    let mut buf = [0u8; 64];
    // Until the read fails with WouldBlock: the pipe is empty. A non-blocking read never sleeps,
    // so no signal can interrupt it (EINTR), and there is no EOF while `Shared` holds the write
    // end.
    while let Ok(1..) = wake.read(&mut buf) {}
}

/// Accepts every pending connection and gives each its own thread.
fn accept_all(listener: &UnixListener, shared: &Arc<Shared>) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                // An accepted socket does not inherit O_NONBLOCK on Linux, but say what we want.
                stream.set_nonblocking(false)?;
                let shared = Arc::clone(shared);
                // Detached: the process exits without joining, which is what abandoning an
                // idle or forced connection means.
                std::thread::spawn(move || {
                    let _ = handle_connection(stream, &shared);
                });
            }
            // The queue is empty. A non-blocking accept never sleeps, so it is never
            // interrupted (EINTR); and a Unix socket does not report a client that left before
            // the accept (ECONNABORTED): it is accepted, and its thread reads EOF.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            // Anything else, such as EMFILE (out of file descriptors), leaves the connection
            // queued: `poll` would wake the loop for it again at once, and it would spin. Give up.
            Err(e) => return Err(e),
        }
    }
}

/// One connection: `REQ NAME` → `accepted NAME`, then a line → `GREETING NAME`.
fn handle_connection(stream: UnixStream, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let Some(name) = line.trim().strip_prefix("REQ ").map(str::to_string) else {
        writeln!(writer, "error: expected `REQ NAME`")?;
        return Ok(());
    };
    {
        // Decided under the lock the event loop takes to start stopping: a request is either
        // counted before the stop (and drained) or refused after it, never lost in between.
        let mut st = shared.state();
        if st.stopping {
            drop(st);
            writeln!(writer, "refused: shutting down")?;
            return Ok(());
        }
        st.in_flight += 1;
    }
    let result = finish_request(&mut reader, &mut writer, &name, shared);
    {
        let mut st = shared.state();
        st.in_flight -= 1;
        if result.is_ok() {
            st.served += 1;
        }
    }
    shared.notify();
    result
}

fn finish_request(
    reader: &mut BufReader<UnixStream>,
    writer: &mut UnixStream,
    name: &str,
    shared: &Shared,
) -> io::Result<()> {
    writeln!(writer, "accepted {name}")?;
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(ErrorKind::UnexpectedEof, "client left"));
    }
    // The greeting in force now: a SIGHUP during the request changes the answer, not the
    // connection.
    let greeting = shared
        .config
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .greeting
        .clone();
    writeln!(writer, "{greeting} {name}")
}
