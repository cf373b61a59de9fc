//! Passing an open file descriptor to another process with `SCM_RIGHTS`.
//!
//! Scenario: a parent opens a file (it may be the only one allowed to) and hands the open file
//! to a child over a Unix socket. What travels is not a number and not a path: the kernel
//! installs a new descriptor in the receiver that refers to the same open file description,
//! with the same offset and flags, as if the receiver had called `dup`.
//!
//! Goal: `send_fd` sends one descriptor with one byte of data as ancillary data; `recv_fd`
//! receives it as an `OwnedFd` (close-on-exec set). The binary `fd_reader` calls your
//! `recv_fd` in a child process.
//!
//! Read: `docs/src/04-unix-sockets.md#fd_passing`.
//! Check: `cargo xtask check unix-sockets/fd_passing`.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Sends `fd` over `sock` as `SCM_RIGHTS` ancillary data, along with one byte of normal data.
///
/// The caller keeps its own `fd`; closing it afterwards does not affect the receiver.
///
/// # References
/// `sendmsg(2)`, `unix(7)` (`SCM_RIGHTS`), `cmsg(3)`
pub fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    // TODO: send one byte of normal data with `fd` attached as `SCM_RIGHTS` ancillary data.
    todo!("send a descriptor with SCM_RIGHTS")
}

/// Receives one descriptor sent with [`send_fd`] from `sock`.
///
/// Fails with `UnexpectedEof` when the peer closed without sending, and with `InvalidData`
/// when a message arrived without a descriptor, with more than one, or with its control data
/// truncated (`MSG_CTRUNC`: descriptors were lost); every descriptor that did arrive is then
/// closed. The returned fd has close-on-exec set.
///
/// # References
/// `recvmsg(2)`, `unix(7)` (`SCM_RIGHTS`, `SCM_MAX_FD`, `MSG_CMSG_CLOEXEC`, `MSG_CTRUNC`)
pub fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    // TODO: receive one message and the descriptors attached to it, honouring every case of
    // the contract above (how many descriptors can a sender attach to one message, and what
    // does the kernel do with those that do not fit in the space you gave it?).
    todo!("receive a descriptor with SCM_RIGHTS")
}
