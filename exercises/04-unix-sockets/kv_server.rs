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
    // TODO: drop a trailing `\r`; split the command word from the rest; lock the store; match
    // SET/GET/DEL/QUIT/SHUTDOWN as in the table above; anything else is `ERROR <why>`.
    todo!("execute one request")
}

/// Serves one client: reads request lines until EOF, `QUIT` or `SHUTDOWN`, and writes one reply
/// line per request. Returns what ended the connection (`Close` at EOF).
pub fn serve_client(stream: UnixStream, store: &Store) -> io::Result<After> {
    // TODO: read request lines and answer each with one reply line, until EOF or until
    // `execute` says the connection ends.
    todo!("serve one connection")
}

/// Binds `path`, prints `ready` on stdout, and serves clients, each on its own thread, until one
/// sends `SHUTDOWN`; then closes the connections still open (a client that sends nothing must
/// not keep the server alive), removes `path` and returns.
pub fn run(path: &Path) -> io::Result<()> {
    // TODO: bind `path`; announce `ready` only once clients can connect; serve every client
    // at the same time from one store. After a SHUTDOWN, `run` must return even though the
    // accepting thread is blocked waiting for the next client and other clients are connected
    // but silent, and it must leave no socket file behind.
    todo!("run the server")
}

/// The `kvd` command line: `kvd PATH`. Exits 0 after `SHUTDOWN`, 2 on a usage error, 1 when
/// the server fails (the reason on stderr).
pub fn main(args: Vec<String>) -> ExitCode {
    // TODO: exactly one argument (else `usage: kvd PATH` on stderr, exit 2); call `run`.
    todo!("the kvd command line")
}
