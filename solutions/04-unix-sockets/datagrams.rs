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
    // One buffer large enough for the largest message: a datagram longer than the buffer
    // is silently truncated, the rest of it is lost.
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut messages = Vec::with_capacity(count);
    while messages.len() < count {
        // Each recv returns one whole message. A length of 0 is an empty message, not an end
        // of stream: a datagram socket has no end of stream.
        let n = sock.recv(&mut buf)?;
        messages.push(buf[..n].to_vec());
    }
    Ok(messages)
}

/// Receives `count` datagrams on `sock` and answers each one with the same bytes in ASCII upper
/// case, sent back to the address the message came from.
///
/// A message from an unbound client has no address to answer: it is counted and skipped.
///
/// # References
/// `recvfrom(2)`, `sendto(2)`
pub fn serve_uppercase(sock: &UnixDatagram, count: usize) -> io::Result<()> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    for _ in 0..count {
        let (n, from) = sock.recv_from(&mut buf)?;
        let reply = buf[..n].to_ascii_uppercase();
        // The sender's address is the path it bound; an unbound sender is "unnamed".
        if let Some(path) = from.as_pathname() {
            sock.send_to(&reply, path)?;
        }
    }
    Ok(())
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
    let (ours, theirs) = UnixStream::pair()?;
    // The child needs the same socket on two fds (0 and 1): one duplicate.
    let theirs_out = theirs.try_clone()?;
    cmd.stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)));
    let child = cmd.spawn();
    // `cmd` still holds both copies of the child's end inside its Stdio settings. Replace them
    // so they are closed now; otherwise our reads would never see EOF while `cmd` lives.
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    Ok((child?, ours))
}
