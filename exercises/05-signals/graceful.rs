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

/// Runs the server until it shuts down; returns the exit status (0 after a graceful shutdown,
/// 1 after a forced one).
///
/// # References
/// `poll(2)`, `signal-safety(7)`, `unix(7)`
pub fn serve(socket: &Path, config_path: &Path) -> io::Result<ExitCode> {
    // TODO: the server of the scenario at the top of this file: one thread that sleeps until a
    // signal, a client or the end of a request wakes it, and never does more in a signal
    // handler than async-signal-safe work. Which signals may arrive before `ready`, and what
    // must a stop do at once, before any in-flight request has finished?
    todo!("the graceful server")
}
