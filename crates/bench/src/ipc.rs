//! Two processes talking: a forked peer that echoes (latency) or drains (bandwidth) bytes over a
//! pipe pair, a Unix stream socket, a socketpair or TCP loopback.
//!
//! The connection is set up entirely in the parent (pipes created, socket connected and
//! accepted), then the parent forks. The child keeps its two file descriptors, closes every other
//! one (so that it cannot keep the parent's ends open and miss the end-of-file that tells it to
//! stop), and loops on raw `read`/`write` until end-of-file, then `_exit`s. Those are all
//! async-signal-safe, so the fork is sound even from a multi-threaded benchmark process.
//!
//! Protocols:
//! - [`Mode::Echo`]: the child writes back every byte it reads. One round trip of a small message
//!   is two wake-ups, one each way.
//! - [`Mode::Drain`]: the parent sends an 8-byte little-endian length, then that many bytes; the
//!   child reads them all and answers one byte. The parent measures from the first byte to the
//!   answer, so the time covers delivery, not only copying into the kernel's buffer.
//!
//! # References
//! `pipe(7)` (and `F_SETPIPE_SZ` in `fcntl(2)`), `unix(7)`, `socketpair(2)`, `tcp(7)`, `fork(2)`

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::affinity::{PinGuard, pin_current_thread, set_affinity};

/// The size of the large pipe buffer, set with `F_SETPIPE_SZ` (the default is 64 KiB, and 1 MiB
/// is the default `/proc/sys/fs/pipe-max-size` an unprivileged process may ask for).
pub const LARGE_PIPE_BYTES: usize = 1 << 20;

/// The size of the writes in the bandwidth benchmarks.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The size of a message in the latency benchmarks.
pub const MESSAGE_BYTES: usize = 64;

/// How the two processes are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Two pipes, one per direction, with the default 64 KiB buffer.
    Pipe,
    /// Two pipes with a [`LARGE_PIPE_BYTES`] buffer.
    PipeLarge,
    /// A Unix stream socket, connected through a path in the temporary directory (removed at
    /// once).
    UnixStream,
    /// A connected pair of Unix stream sockets from `socketpair(2)`: no path, no accept.
    Socketpair,
    /// A TCP connection over 127.0.0.1, with Nagle's algorithm off (`TCP_NODELAY`).
    TcpLoopback,
}

impl Transport {
    /// Every transport, in the order the report lists them.
    pub const ALL: [Transport; 5] = [
        Transport::Pipe,
        Transport::PipeLarge,
        Transport::UnixStream,
        Transport::Socketpair,
        Transport::TcpLoopback,
    ];

    /// A short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Pipe => "pipe",
            Transport::PipeLarge => "pipe_1mib",
            Transport::UnixStream => "unix_stream",
            Transport::Socketpair => "socketpair",
            Transport::TcpLoopback => "tcp_loopback",
        }
    }
}

/// What the peer does with the bytes it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write every byte back.
    Echo,
    /// Read length-prefixed bursts and acknowledge each with one byte.
    Drain,
}

/// The parent's side of a connection to a forked peer. Dropping it closes the connection and
/// reaps the peer; [`Peer::finish`] does the same and reports the peer's exit status.
#[derive(Debug)]
pub struct Peer {
    tx: Option<File>,
    rx: Option<File>,
    pid: libc::pid_t,
    buf: Vec<u8>,
    /// Restores the measuring thread's CPU mask once the peer is gone.
    _pin: Option<PinGuard>,
}

/// The four ends of a connection: (parent reads, parent writes, child reads, child writes).
type Ends = (OwnedFd, OwnedFd, OwnedFd, OwnedFd);

impl Peer {
    /// Connects a new peer over `transport`. With `cpus = Some((mine, peer))`, pins the calling
    /// thread to `mine` (until the peer is gone) and the peer to `peer`.
    pub fn start(
        transport: Transport,
        mode: Mode,
        cpus: Option<(usize, usize)>,
    ) -> io::Result<Self> {
        let (parent_rx, parent_tx, child_rx, child_tx) = connect(transport)?;
        let pin = cpus.map(|(mine, _)| pin_current_thread(mine)).transpose()?;
        let (keep_rx, keep_tx) = (child_rx.as_raw_fd(), child_tx.as_raw_fd());
        // SAFETY: the child only calls `peer_main`, which makes async-signal-safe system calls
        // (close_range, read, write, _exit) on stack buffers and never returns.
        match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
            nix::unistd::ForkResult::Child => peer_main(mode, keep_rx, keep_tx),
            nix::unistd::ForkResult::Parent { child } => {
                drop((child_rx, child_tx));
                let peer = Peer {
                    tx: Some(File::from(parent_tx)),
                    rx: Some(File::from(parent_rx)),
                    pid: child.as_raw(),
                    buf: vec![0; CHUNK_BYTES],
                    _pin: pin,
                };
                if let Some((_, theirs)) = cpus {
                    // On error `peer` is dropped, which closes the connection and reaps the child.
                    set_affinity(peer.pid, theirs)?;
                }
                Ok(peer)
            }
        }
    }

    /// The peer's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Sends `msg` to an echoing peer and returns what came back (`msg.len()` bytes, at most
    /// [`CHUNK_BYTES`]).
    pub fn round_trip(&mut self, msg: &[u8]) -> io::Result<&[u8]> {
        let len = msg.len().min(self.buf.len());
        let (Some(tx), Some(rx)) = (self.tx.as_mut(), self.rx.as_mut()) else {
            return Err(closed());
        };
        tx.write_all(&msg[..len])?;
        rx.read_exact(&mut self.buf[..len])?;
        Ok(&self.buf[..len])
    }

    /// Sends `count` copies of `chunk` to a draining peer, each in one `write_all`, and waits for
    /// its acknowledgement that all of them arrived.
    pub fn send_bulk(&mut self, chunk: &[u8], count: u64) -> io::Result<()> {
        let total = chunk.len() as u64 * count;
        let (Some(tx), Some(rx)) = (self.tx.as_mut(), self.rx.as_mut()) else {
            return Err(closed());
        };
        tx.write_all(&total.to_le_bytes())?;
        for _ in 0..count {
            tx.write_all(chunk)?;
        }
        let mut ack = [0u8; 1];
        rx.read_exact(&mut ack)?;
        if ack[0] != ACK {
            return Err(io::Error::other(format!(
                "unexpected acknowledgement {:#x}",
                ack[0]
            )));
        }
        Ok(())
    }

    /// Closes the connection (the peer sees end-of-file and exits) and reaps the peer.
    pub fn finish(mut self) -> io::Result<ExitStatus> {
        self.close_and_reap()
    }

    fn close_and_reap(&mut self) -> io::Result<ExitStatus> {
        self.tx = None;
        self.rx = None;
        if self.pid == 0 {
            return Err(io::Error::other("the peer was already reaped"));
        }
        let pid = std::mem::replace(&mut self.pid, 0);
        crate::spawn::wait_for(pid)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.pid != 0 {
            // Closing our ends makes the peer's next read return 0 (or its write fail with
            // EPIPE), and it exits: waiting cannot hang.
            let _ = self.close_and_reap();
        }
    }
}

fn closed() -> io::Error {
    io::Error::other("the connection is closed")
}

/// The byte a draining peer answers once a burst has fully arrived.
const ACK: u8 = b'k';

/// Creates the connection for `transport`, every descriptor close-on-exec.
fn connect(transport: Transport) -> io::Result<Ends> {
    match transport {
        Transport::Pipe | Transport::PipeLarge => {
            // std creates pipes with O_CLOEXEC.
            let (to_child_r, to_child_w) = io::pipe()?;
            let (to_parent_r, to_parent_w) = io::pipe()?;
            let ends: Ends = (
                to_parent_r.into(),
                to_child_w.into(),
                to_child_r.into(),
                to_parent_w.into(),
            );
            if transport == Transport::PipeLarge {
                set_pipe_size(&ends.0, LARGE_PIPE_BYTES)?;
                set_pipe_size(&ends.1, LARGE_PIPE_BYTES)?;
            }
            Ok(ends)
        }
        Transport::UnixStream => {
            let path = SocketPath::new()?;
            let listener = UnixListener::bind(&path.0)?;
            let client = UnixStream::connect(&path.0)?;
            let (server, _) = listener.accept()?;
            // `path` is removed here: a connected socket no longer needs its name.
            drop(path);
            socket_ends(client.into(), server.into())
        }
        Transport::Socketpair => {
            let (mine, theirs) = UnixStream::pair()?;
            socket_ends(mine.into(), theirs.into())
        }
        Transport::TcpLoopback => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let client = TcpStream::connect(listener.local_addr()?)?;
            let (server, _) = listener.accept()?;
            client.set_nodelay(true)?;
            server.set_nodelay(true)?;
            socket_ends(client.into(), server.into())
        }
    }
}

/// A socket is read and written through the same descriptor; a duplicate gives each direction
/// its own owner.
fn socket_ends(mine: OwnedFd, theirs: OwnedFd) -> io::Result<Ends> {
    Ok((mine.try_clone()?, mine, theirs.try_clone()?, theirs))
}

/// Sets a pipe's buffer size (`fcntl(F_SETPIPE_SZ)`); the kernel rounds it up to a power of two
/// pages and refuses more than `/proc/sys/fs/pipe-max-size` to unprivileged processes.
fn set_pipe_size(fd: &OwnedFd, bytes: usize) -> io::Result<()> {
    let bytes = libc::c_int::try_from(bytes).map_err(io::Error::other)?;
    // SAFETY: `fd` is an open pipe owned by the caller; F_SETPIPE_SZ takes an int argument.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A unique socket path in the temporary directory, removed on drop.
struct SocketPath(PathBuf);

impl SocketPath {
    fn new() -> io::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("proclings-bench-{}-{n}.sock", std::process::id()));
        // A leftover from a crashed run with a recycled pid would make bind fail.
        let _ = std::fs::remove_file(&path);
        Ok(Self(path))
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The peer process: closes every descriptor but its own two, serves until end-of-file, exits.
/// Only async-signal-safe calls: it runs right after `fork` in a possibly multi-threaded parent.
fn peer_main(mode: Mode, rx: libc::c_int, tx: libc::c_int) -> ! {
    close_all_but(rx, tx);
    let ok = match mode {
        Mode::Echo => serve_echo(rx, tx),
        Mode::Drain => serve_drain(rx, tx),
    };
    // SAFETY: `_exit` is async-signal-safe and skips the parent's atexit handlers and buffers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// Closes every descriptor from 3 up, except `a` and `b` (`close_range(2)`, Linux 5.9).
fn close_all_but(a: libc::c_int, b: libc::c_int) {
    let close_range = |first: libc::c_uint, last: libc::c_uint| {
        // SAFETY: closes descriptors this process will never use again; a raw system call,
        // async-signal-safe. A failure only leaves some descriptors open in the peer.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    };
    let mut first: libc::c_uint = 3;
    for keep in [a.min(b), a.max(b)] {
        let Ok(keep) = libc::c_uint::try_from(keep) else {
            continue;
        };
        if keep >= first {
            if keep > first {
                close_range(first, keep - 1);
            }
            first = keep + 1;
        }
    }
    close_range(first, libc::c_uint::MAX);
}

/// Reads up to `buf.len()` bytes, retrying on EINTR. Returns 0 at end-of-file, -1 on error.
fn raw_read(fd: libc::c_int, buf: &mut [u8]) -> isize {
    loop {
        // SAFETY: `buf` is a valid writable buffer of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        // SAFETY: reading errno is async-signal-safe.
        if n >= 0 || unsafe { *libc::__errno_location() } != libc::EINTR {
            return n;
        }
    }
}

/// Writes all of `buf`, retrying on EINTR and short writes.
fn raw_write_all(fd: libc::c_int, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable buffer of `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n > 0 {
            buf = &buf[n as usize..];
        // SAFETY: reading errno is async-signal-safe.
        } else if n == 0 || unsafe { *libc::__errno_location() } != libc::EINTR {
            return false;
        }
    }
    true
}

/// Fills `buf` entirely. `Some(false)` at end-of-file before the first byte, `None` on error or
/// end-of-file in the middle.
fn raw_read_exact(fd: libc::c_int, buf: &mut [u8]) -> Option<bool> {
    let mut got = 0;
    while got < buf.len() {
        match raw_read(fd, &mut buf[got..]) {
            0 if got == 0 => return Some(false),
            n if n <= 0 => return None,
            n => got += n as usize,
        }
    }
    Some(true)
}

fn serve_echo(rx: libc::c_int, tx: libc::c_int) -> bool {
    let mut buf = [0u8; CHUNK_BYTES];
    loop {
        match raw_read(rx, &mut buf) {
            0 => return true,
            n if n < 0 => return false,
            n => {
                if !raw_write_all(tx, &buf[..n as usize]) {
                    return false;
                }
            }
        }
    }
}

fn serve_drain(rx: libc::c_int, tx: libc::c_int) -> bool {
    let mut buf = [0u8; CHUNK_BYTES];
    loop {
        let mut header = [0u8; 8];
        match raw_read_exact(rx, &mut header) {
            Some(false) => return true,
            None => return false,
            Some(true) => {}
        }
        let mut left = u64::from_le_bytes(header);
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = raw_read(rx, &mut buf[..want]);
            if n <= 0 {
                return false;
            }
            left -= n as u64;
        }
        if !raw_write_all(tx, &[ACK]) {
            return false;
        }
    }
}
