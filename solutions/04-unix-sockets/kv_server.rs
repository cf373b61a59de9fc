//! kvd: a tiny key-value server over a Unix socket, with a line protocol.
//!
//! Scenario: the practice project of the week. `kvd PATH` binds a stream socket at PATH, prints
//! `ready` on stdout once it is listening, and serves any number of clients at the same time
//! (one thread each) from one shared map. Anyone can talk to it with a standard tool:
//! `socat - UNIX-CONNECT:PATH`.
//!
//! The protocol: one request per line, one reply line per request, `\n` ends a line (a `\r`
//! before it is ignored). Keys are one word; a value is the rest of the line, spaces included.
//!
//! | request       | reply                                       |
//! | ------------- | ------------------------------------------- |
//! | `SET k v`     | `OK`                                        |
//! | `GET k`       | `VALUE v`, or `NOT_FOUND`                   |
//! | `DEL k`       | `DELETED`, or `NOT_FOUND`                   |
//! | `QUIT`        | `BYE`, then the server closes this client   |
//! | `SHUTDOWN`    | `BYE`, then the server closes every connection, removes PATH and exits 0 |
//! | anything else | `ERROR <why>`; the connection stays open    |
//!
//! Goal: `execute` (one request against the map), `serve_client` (one connection),
//! `run` (bind, announce, accept, shut down) and `main`.
//!
//! Read: `docs/src/04-unix-sockets.md#kv_server`.
//! Check: `cargo xtask check unix-sockets/kv_server`.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// The store every client shares.
pub type Store = Mutex<HashMap<String, String>>;

/// What the connection does after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Read the next request.
    Continue,
    /// Close this connection (`QUIT`).
    Close,
    /// Close this connection and stop the server (`SHUTDOWN`).
    Shutdown,
}

/// Executes one request line (without its `\n`) against `store`; returns the reply line
/// (without `\n`) and what to do next.
pub fn execute(store: &Store, line: &str) -> (String, After) {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    // A poisoned lock means another client's thread panicked while holding it; the map
    // itself is still a valid map, so keep serving.
    let mut map = lock(store);
    let reply = match (command, rest) {
        ("SET", rest) => match rest.split_once(' ') {
            Some((key, value)) if !key.is_empty() => {
                map.insert(key.to_string(), value.to_string());
                "OK".to_string()
            }
            _ => "ERROR usage: SET key value".to_string(),
        },
        // Both take exactly one word: check it once, before either touches the map.
        ("GET" | "DEL", key) if !is_key(key) => format!("ERROR usage: {command} key"),
        ("GET", key) => match map.get(key) {
            Some(value) => format!("VALUE {value}"),
            None => "NOT_FOUND".to_string(),
        },
        ("DEL", key) => match map.remove(key) {
            Some(_) => "DELETED".to_string(),
            None => "NOT_FOUND".to_string(),
        },
        ("QUIT", "") => return ("BYE".to_string(), After::Close),
        ("SHUTDOWN", "") => return ("BYE".to_string(), After::Shutdown),
        _ => format!("ERROR unknown command: {line}"),
    };
    (reply, After::Continue)
}

/// Locks `mutex`, also when a thread panicked while holding it: the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A key is one word: not empty, no space.
fn is_key(s: &str) -> bool {
    !s.is_empty() && !s.contains(' ')
}

/// Serves one client: reads request lines until EOF, `QUIT` or `SHUTDOWN`, and writes one reply
/// line per request. Returns what ended the connection (`Close` at EOF).
pub fn serve_client(stream: UnixStream, store: &Store) -> io::Result<After> {
    // A BufReader over one handle to read lines, the stream itself to write replies.
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(After::Close);
        }
        let (reply, after) = execute(store, line.trim_end_matches('\n'));
        // One write per reply line, so a client never sees half a line.
        writer.write_all(format!("{reply}\n").as_bytes())?;
        if after != After::Continue {
            return Ok(after);
        }
    }
}

/// Binds `path`, prints `ready` on stdout, and serves clients, each on its own thread, until one
/// sends `SHUTDOWN`; then closes the connections still open (a client that sends nothing must
/// not keep the server alive), removes `path` and returns.
pub fn run(path: &Path) -> io::Result<()> {
    let listener = UnixListener::bind(path)?;
    // Announce readiness only after bind and listen succeeded: a client that waits for this
    // line can connect at once, with no retry loop and no sleep.
    {
        let mut out = io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
    }
    let store = Store::default();
    let stopping = AtomicBool::new(false);
    // A second handle on every connection still open, by client number, so that stopping can
    // reach the threads blocked in `read_line`.
    let clients = Mutex::new(HashMap::<u64, UnixStream>::new());
    let result = thread::scope(|scope| -> io::Result<()> {
        let mut number = 0_u64;
        let result = loop {
            let stream = match listener.accept() {
                Ok((stream, _addr)) => stream,
                Err(e) => break Err(e),
            };
            // The client that asked for SHUTDOWN wakes the blocked `accept` with one last
            // connection, and the flag says why it woke. (On Linux, `shutdown(SHUT_RD)` on the
            // listening socket from another thread also wakes `accept`, with EINVAL;
            // connecting to ourselves works on every Unix.)
            if stopping.load(Ordering::SeqCst) {
                break Ok(());
            }
            let handle = match stream.try_clone() {
                Ok(handle) => handle,
                Err(e) => break Err(e),
            };
            number += 1;
            lock(&clients).insert(number, handle);
            let (store, stopping, clients) = (&store, &stopping, &clients);
            scope.spawn(move || {
                let after = serve_client(stream, store);
                // Our second handle would keep the connection open after `QUIT`.
                lock(clients).remove(&number);
                if let Ok(After::Shutdown) = after {
                    stopping.store(true, Ordering::SeqCst);
                    // Wake the accept loop; if this fails, the next client will.
                    let _ = UnixStream::connect(path);
                }
            });
        };
        // The scope waits for every client thread, and a client that sends nothing keeps its
        // thread in `read_line` forever. Shutting its connection down ends that read with EOF
        // (and a write blocked on a client that does not read with EPIPE), so every thread
        // ends. Only this thread registers clients, so none can slip in after this loop.
        for stream in lock(&clients).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        result
    });
    // Closing the listener does not remove the socket file: that is our job.
    drop(listener);
    std::fs::remove_file(path)?;
    result
}

/// The `kvd` command line: `kvd PATH`. Exits 0 after `SHUTDOWN`, 2 on a usage error, 1 when
/// the server fails (the reason on stderr).
pub fn main(args: Vec<String>) -> ExitCode {
    let [path] = args.as_slice() else {
        eprintln!("usage: kvd PATH");
        return ExitCode::from(2);
    };
    match run(Path::new(path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvd: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
