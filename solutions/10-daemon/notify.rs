//! Exercise `daemon/notify`: a new-style daemon, which systemd (or anything playing its part)
//! starts in the foreground, hands a listening socket, and learns readiness from.
//!
//! Scenario: the service manager binds the socket itself (so clients can connect before the
//! daemon runs), passes it as fd 3 with `LISTEN_FDS=1` and `LISTEN_PID=<the daemon's pid>`, and
//! gives the path of a datagram socket in `NOTIFY_SOCKET`, where the daemon sends `READY=1` when
//! it serves, `STATUS=...` to describe itself and `STOPPING=1` when it begins to shut down.
//!
//! Goal: [`listen_fds`] returns the sockets passed to this process (none when the variables are
//! absent or meant for another process; an error when an fd they count is not open; none on a
//! second call, whose sockets the first call's owners already own) and keeps them from leaking
//! into children; [`notify`] sends one state datagram, or does nothing when
//! `NOTIFY_SOCKET` is unset.
//!
//! Read: docs/src/10-daemon.md#notify. Check: `cargo xtask check daemon/notify`.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first passed fd: 0-2 are stdio (`SD_LISTEN_FDS_START` in sd_listen_fds(3)).
pub const LISTEN_FDS_START: RawFd = 3;

/// Sends `state` (`READY=1`, `STATUS=text`, `STOPPING=1`, several joined by newlines) to the
/// socket named by `$NOTIFY_SOCKET`. Returns `Ok(false)` when the variable is unset (not started
/// by a service manager), `Ok(true)` once sent.
///
/// # References
/// sd_notify(3): a path, or an abstract name when it starts with `@`.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let bytes = name.as_bytes();
    let addr = match bytes.split_first() {
        Some((b'@', rest)) => SocketAddr::from_abstract_name(rest)?,
        Some((b'/', _)) => SocketAddr::from_pathname(&name)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("NOTIFY_SOCKET={name:?} is neither a path nor an @abstract name"),
            ));
        }
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

/// Whether [`listen_fds`] has taken the passed fds (process-wide: they can be owned once).
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The sockets the service manager passed: fds 3 .. 3 + `$LISTEN_FDS`, but only when
/// `$LISTEN_PID` is this process (the variables are inherited by children, which must not take
/// fds they were never given). Each fd gets close-on-exec. The first call takes them; every
/// later call returns none, since the first call's `OwnedFd`s own them (a second owner would
/// close each fd twice).
///
/// # References
/// sd_listen_fds(3), which unsets the variables for the same reason.
pub fn listen_fds() -> io::Result<Vec<OwnedFd>> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !for_us {
        return Ok(Vec::new());
    }
    let count: RawFd = match std::env::var("LISTEN_FDS") {
        Ok(n) => n.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("LISTEN_FDS={n:?} is not a number"),
            )
        })?,
        Err(_) => return Ok(Vec::new()),
    };
    // Unsetting the variables, as sd_listen_fds(unset_environment=1) does, is `unsafe` in Rust
    // (another thread may be reading the environment); a flag does the same job for us, and
    // LISTEN_PID already keeps our children from taking anything.
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    let mut fds = Vec::new();
    for fd in LISTEN_FDS_START..LISTEN_FDS_START + count {
        // The manager opened these without close-on-exec (so they crossed its exec into us);
        // set it now, or every program we run inherits our listening socket.
        // SAFETY: fcntl on an integer fd touches no memory; an fd that is not open gives EBADF.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: LISTEN_PID names us, so the manager passed fd `fd` to this process and nothing
        // else in it owns it; it is open (fcntl above succeeded).
        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(fds)
}
