//! An echo server and its client over a Unix stream socket.
//!
//! Scenario: a local service listens on a socket file. A client connects, sends a request,
//! says "I am done" with `shutdown(Write)`, and reads the whole reply. The server echoes every
//! byte back as soon as it arrives, and serves many clients at the same time, one thread each.
//!
//! Goal: write the connection handler, the server loop and the client.
//!
//! Read: `docs/src/04-unix-sockets.md#echo`.
//! Check: `cargo xtask check unix-sockets/echo`.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::thread;

/// Echoes everything read from `stream` back to it until the client shuts down its writing
/// side (EOF), then closes. Returns the number of bytes echoed.
///
/// A read that a signal interrupts is retried; any other error (a client that reset the
/// connection) is returned.
///
/// # References
/// `read(2)`, `write(2)`, `unix(7)`
pub fn handle_client(stream: UnixStream) -> io::Result<u64> {
    // TODO: honour the contract above (reading and writing need `mut stream`). What must a
    // client that waits for each answer before it sends more get from you, and when?
    todo!("echo each chunk back as it arrives, until EOF")
}

/// Accepts exactly `connections` clients on `listener`, serves each on its own thread (all at
/// the same time), waits for every handler to finish, and returns.
///
/// A handler's error ends only that client; the first error is returned once all are done.
///
/// # References
/// `accept(2)`, `listen(2)`
pub fn serve(listener: UnixListener, connections: usize) -> io::Result<()> {
    // TODO: serve the clients as the contract above says: all at the same time, and return
    // only once every one of them is done.
    todo!("accept and serve clients concurrently")
}

/// Connects to the server at `path`, sends `request`, signals the end of the request with
/// `shutdown(Write)`, and returns everything the server sent back until it closed.
///
/// # References
/// `connect(2)`, `shutdown(2)`
pub fn request(path: &Path, request: &[u8]) -> io::Result<Vec<u8>> {
    // TODO: send the request so that the server can tell where it ends, and collect the
    // whole reply.
    todo!("send a request and read the whole reply")
}
