//! Datagram sockets keep message boundaries; a socket pair connects a parent and its child.
//!
//! Scenario: a `UnixDatagram` delivers each `send` as one message, whole, to one `recv` (an
//! empty message included), unlike a stream where bytes run together. A datagram server answers
//! the address a message came from, so a client that wants answers binds a path of its own.
//! Finally, `UnixStream::pair` gives two connected sockets without any file: the parent keeps
//! one end and hands the other to a child as its stdin and stdout.
//!
//! Goal: receive messages one by one, answer them, and start a child connected to you.
//!
//! Read: `docs/src/04-unix-sockets.md#datagrams`.
//! Check: `cargo xtask check unix-sockets/datagrams`.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::{Child, Command, Stdio};

/// The largest message these functions expect (64 KiB).
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Receives exactly `count` datagrams from `sock` and returns each one as its own message.
///
/// # References
/// `recv(2)`, `unix(7)`
pub fn receive_messages(sock: &UnixDatagram, count: usize) -> io::Result<Vec<Vec<u8>>> {
    // TODO: one buffer of MAX_DATAGRAM bytes; `count` calls to `recv`, each one message
    // (a length of 0 is an empty message, not an end).
    todo!("receive count messages")
}

/// Receives `count` datagrams on `sock` and answers each one with the same bytes in ASCII upper
/// case, sent back to the address the message came from.
///
/// A message from an unbound client has no address to answer: it is counted and skipped.
///
/// # References
/// `recvfrom(2)`, `sendto(2)`
pub fn serve_uppercase(sock: &UnixDatagram, count: usize) -> io::Result<()> {
    // TODO: `recv_from` gives the sender's address; `as_pathname()` is None for an unbound
    // sender; answer the others with `send_to`.
    todo!("answer each message in upper case")
}

/// Spawns `cmd` with one end of a connected stream socket pair as its stdin and its stdout,
/// and returns the child and the other end.
///
/// The parent must not keep a copy of the child's end: the parent reads EOF only once every
/// copy of that end is closed.
///
/// # References
/// `socketpair(2)`
pub fn spawn_connected(cmd: &mut Command) -> io::Result<(Child, UnixStream)> {
    // TODO: `UnixStream::pair()`; give the child its end as stdin and as stdout
    // (`Stdio::from(OwnedFd::from(...))`), spawn, and return the child and your end.
    todo!("spawn a child connected by a socket pair")
}
