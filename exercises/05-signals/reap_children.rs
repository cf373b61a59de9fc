//! Reaping on SIGCHLD: many children exit at once, every one is reaped, no zombie is left.
//!
//! Scenario: a parent runs many short-lived children. The kernel sends SIGCHLD when a child
//! exits, but SIGCHLD is a standard signal: while one is pending, more are merged into it. Forty
//! children exiting together may wake the parent only once or twice. A parent that reaps one
//! child per SIGCHLD leaves the rest as zombies forever.
//!
//! Goal: reap everything that has exited each time SIGCHLD arrives, without ever blocking.
//! Chapter: `docs/src/05-signals.md#reap_children`. Check: `cargo xtask check signals/reap_children`.

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::iterator::Signals;

/// Reaps every child of this process that has already exited, without blocking, and returns
/// their pids and statuses. Returns an empty list when children exist but none has exited, and
/// also when there are no children at all (that is not an error here).
///
/// Call it only in a process that owns all its children: `waitpid(-1)` reaps any child, also
/// one that other code (a `std::process::Child`) meant to wait for.
///
/// # References
/// `waitpid(2)`
pub fn reap_ready() -> nix::Result<Vec<(Pid, WaitStatus)>> {
    // TODO: collect the children that have exited, with `waitpid` (`WNOHANG`: never block);
    // TODO: no exited child, or no child at all, is not an error; EINTR is retried.
    todo!("reap every child that has exited, without blocking")
}

/// Waits until `expected` children have been reaped, reaping on every SIGCHLD that `signals`
/// (registered for SIGCHLD by the caller, before the children were started) delivers.
///
/// Returns the children reaped, in the order they were reaped.
pub fn reap_all(signals: &mut Signals, expected: usize) -> nix::Result<Vec<(Pid, WaitStatus)>> {
    // TODO: reap once, then until `expected` are reaped (or `signals.is_closed()`):
    // TODO: block in `signals.wait()` and call `reap_ready` again after each wake-up.
    todo!("reap on SIGCHLD until every child is reaped")
}
