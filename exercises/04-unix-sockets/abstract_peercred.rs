//! Linux abstract socket names, and a server that checks who connected (`SO_PEERCRED`).
//!
//! Scenario: on Linux a Unix socket can be bound to an abstract name instead of a path: no
//! file is created, nothing is left behind when the last socket closes, and the name is free
//! again at once. Any process in the same network namespace can connect to it, so a server
//! asks the kernel who is on the other end: the peer's pid, uid and gid, recorded at
//! `connect` time, which the client cannot forge.
//!
//! Goal: bind and connect by abstract name, read the peer's credentials, and admit only clients
//! of one allowed uid.
//!
//! Linux only (the module is compiled only on Linux).
//!
//! Read: `docs/src/04-unix-sockets.md#abstract_peercred`.
//! Check: `cargo xtask check unix-sockets/abstract_peercred`.

use std::io::{self, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

use nix::sys::socket::{getsockopt, sockopt};

/// The credentials of the process at the other end of a connection, as the kernel recorded
/// them when it connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

/// What [`serve_one`] did with a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The client's uid was allowed: it got `welcome <uid>`.
    Admitted(PeerCred),
    /// The client's uid was not allowed: it got `denied: uid <uid> is not allowed`.
    Refused(PeerCred),
}

/// Binds and listens on the abstract name `name` (no file is created).
///
/// # References
/// `unix(7)` (section "Abstract sockets")
pub fn bind_abstract(name: &str) -> io::Result<UnixListener> {
    // TODO: listen on the abstract name `name`, with no file anywhere.
    todo!("bind an abstract name")
}

/// Connects to the server listening on the abstract name `name`.
pub fn connect_abstract(name: &str) -> io::Result<UnixStream> {
    // TODO: connect to the abstract name `name`.
    todo!("connect to an abstract name")
}

/// The credentials of the process connected at the other end of `stream`.
///
/// # References
/// `unix(7)` (`SO_PEERCRED`), `getsockopt(2)`
pub fn peer_credentials(stream: &UnixStream) -> io::Result<PeerCred> {
    // TODO: ask the kernel who is at the other end (not the peer: it could lie).
    todo!("ask the kernel who the peer is")
}

/// Accepts one client on `listener` and checks its uid against `allowed_uid`.
///
/// An allowed client gets the line `welcome <uid>\n`; any other gets
/// `denied: uid <uid> is not allowed\n`. Either way the connection is then closed.
pub fn serve_one(listener: &UnixListener, allowed_uid: u32) -> io::Result<Admission> {
    // TODO: honour the contract above.
    todo!("admit or refuse one client by uid")
}
