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
pub fn handle_client(mut stream: UnixStream) -> io::Result<u64> {
    let mut buf = [0u8; 8192];
    let mut total = 0u64;
    loop {
        // Echo each chunk as it arrives: waiting for EOF first would leave an interactive
        // client (one that waits for each answer) waiting forever.
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // A signal handler ran while `read` waited (EINTR): nothing was read and nothing
            // is wrong, so read again. Every other error is real and ends this client.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // A blocking `write` to a Unix stream socket queues the whole buffer, but it returns
        // early with a partial count when a signal handler runs after some bytes went out (or
        // on a send timeout, or in non-blocking mode): `write_all` loops until every byte is
        // sent.
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
    // Dropping the stream closes it; the client then reads EOF after the last echoed byte.
    Ok(total)
}

/// Accepts exactly `connections` clients on `listener`, serves each on its own thread (all at
/// the same time), waits for every handler to finish, and returns.
///
/// A handler's error ends only that client; the first error is returned once all are done.
///
/// # References
/// `accept(2)`, `listen(2)`
pub fn serve(listener: UnixListener, connections: usize) -> io::Result<()> {
    // Scoped threads may borrow from this function and are all joined when the scope ends,
    // so no handler can outlive the server.
    thread::scope(|scope| {
        let mut handlers = Vec::with_capacity(connections);
        for _ in 0..connections {
            let (stream, _addr) = listener.accept()?;
            handlers.push(scope.spawn(move || handle_client(stream)));
        }
        let mut first_error = None;
        for handler in handlers {
            let result = handler
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a client handler panicked")));
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}

/// Connects to the server at `path`, sends `request`, signals the end of the request with
/// `shutdown(Write)`, and returns everything the server sent back until it closed.
///
/// # References
/// `connect(2)`, `shutdown(2)`
pub fn request(path: &Path, request: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = UnixStream::connect(path)?;
    stream.write_all(request)?;
    // Half-close: the server reads EOF, yet we can still read its reply. Dropping the stream
    // instead would close both directions and lose the reply.
    stream.shutdown(Shutdown::Write)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    Ok(reply)
}
