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
    // Ancillary data rides along with normal data: on a stream socket at least one byte must
    // be sent, or there is no message to attach the descriptor to.
    let data = [b'F'];
    let iov = [IoSlice::new(&data)];
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)?;
    if sent != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "the data byte was not sent",
        ));
    }
    Ok(())
}

/// The most descriptors one `SCM_RIGHTS` message can carry on Linux (`unix(7)`): `sendmsg`
/// refuses more with `EINVAL`.
const SCM_MAX_FD: usize = 253;

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
    let mut data = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut data)];
    // Room for as many descriptors as a message can carry, though we expect one. Too small a
    // buffer truncates the control data (MSG_CTRUNC): the kernel closes the descriptors that
    // did not fit and installs the others, and nix's `cmsgs()` then refuses to walk the buffer
    // (ENOBUFS), so those would be lost to us, open, in our fd table.
    let mut space = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
    // MSG_CMSG_CLOEXEC sets close-on-exec atomically on arrival, so a concurrent fork+exec
    // in another thread cannot leak the new descriptor into an unrelated program.
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    // Cannot happen with the buffer above and SCM_RIGHTS alone, but other control messages
    // (credentials, with SO_PASSCRED) take room too. The descriptors that fitted are in our
    // table even so, and nix will not walk a truncated buffer: close them from the raw bytes.
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        close_received_rights(&space);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the control data was truncated (MSG_CTRUNC): descriptors were lost",
        ));
    }
    let mut received: Vec<OwnedFd> = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: the kernel has just installed `raw` in our fd table for this
                // message; nothing else in the process knows or owns it.
                received.push(unsafe { OwnedFd::from_raw_fd(raw) });
            }
        }
    }
    if msg.bytes == 0 && received.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the socket without sending a descriptor",
        ));
    }
    if received.len() > 1 {
        // Dropping `received` closes them all: none is left open in our table.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} descriptors arrived, one was expected", received.len()),
        ));
    }
    received.pop().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a message arrived without a descriptor",
        )
    })
}

/// Closes every descriptor of the `SCM_RIGHTS` messages in `control`, a control buffer that
/// `recvmsg` filled (nix's `cmsg_space!` zeroes it first, so a header of length zero, or the end
/// of the buffer, ends the walk). For a truncated message, where nix's `cmsgs()` refuses.
///
/// # References
/// `cmsg(3)` (`CMSG_FIRSTHDR`, `CMSG_NXTHDR`, `CMSG_DATA`), `unix(7)` (`MSG_CTRUNC`)
fn close_received_rights(control: &[u8]) {
    let header = std::mem::size_of::<libc::cmsghdr>();
    // CMSG_ALIGN: headers and their data start at multiples of size_t.
    let align = |n: usize| n.next_multiple_of(std::mem::size_of::<usize>());
    let mut at = 0;
    while control.len().saturating_sub(at) >= header {
        // SAFETY: `control[at..]` holds at least `header` initialised bytes (checked above);
        // cmsghdr is plain integers, valid for any bit pattern, and read_unaligned needs no
        // alignment.
        let hdr: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control[at..].as_ptr().cast()) };
        let len = hdr.cmsg_len as usize;
        if len < header {
            break;
        }
        let end = control.len().min(at + len);
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            let data = control.get(at + align(header)..end).unwrap_or_default();
            for raw in data.chunks_exact(std::mem::size_of::<RawFd>()) {
                let raw = RawFd::from_ne_bytes(raw.try_into().expect("chunks of size_of RawFd"));
                // SAFETY: the kernel installed `raw` in our fd table for this message, and
                // nothing else in the process knows it: we own it, and dropping closes it.
                drop(unsafe { OwnedFd::from_raw_fd(raw) });
            }
        }
        at += align(len);
    }
}
