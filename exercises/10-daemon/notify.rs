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
use std::os::fd::{OwnedFd, RawFd};

/// The first passed fd: 0-2 are stdio (`SD_LISTEN_FDS_START` in sd_listen_fds(3)).
pub const LISTEN_FDS_START: RawFd = 3;

/// Sends `state` (`READY=1`, `STATUS=text`, `STOPPING=1`, several joined by newlines) to the
/// socket named by `$NOTIFY_SOCKET`. Returns `Ok(false)` when the variable is unset (not started
/// by a service manager), `Ok(true)` once sent.
///
/// # References
/// sd_notify(3).
pub fn notify(state: &str) -> io::Result<bool> {
    // TODO
    todo!("notify {state}")
}

/// The sockets the service manager passed to this process, which must not leak into the
/// programs it runs. Each passed fd may be owned once: a later call returns no socket.
///
/// # References
/// sd_listen_fds(3).
pub fn listen_fds() -> io::Result<Vec<OwnedFd>> {
    // TODO
    todo!("take the passed sockets")
}
