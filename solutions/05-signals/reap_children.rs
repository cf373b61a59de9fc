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
    let mut reaped = Vec::new();
    loop {
        // -1: any child. WNOHANG: return StillAlive instead of blocking when none has exited.
        // Looping until then is the whole point: one SIGCHLD may stand for many exits.
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(reaped),
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    reaped.push((pid, status));
                }
            }
            // No children left at all: nothing more to reap.
            Err(Errno::ECHILD) => return Ok(reaped),
            // A signal handler ran during the call: just try again.
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits until `expected` children have been reaped, reaping on every SIGCHLD that `signals`
/// (registered for SIGCHLD by the caller, before the children were started) delivers.
///
/// Returns the children reaped, in the order they were reaped.
pub fn reap_all(signals: &mut Signals, expected: usize) -> nix::Result<Vec<(Pid, WaitStatus)>> {
    // Reap once before waiting: children that exited before we got here already sent their
    // SIGCHLD, and the pipe behind `signals` remembers it, but reaping first costs nothing.
    let mut all = reap_ready()?;
    while all.len() < expected && !signals.is_closed() {
        // Block until at least one SIGCHLD arrived since the last look. However many children
        // exited meanwhile, we may see a single signal: reap them all.
        for _sigchld in signals.wait() {}
        all.extend(reap_ready()?);
    }
    Ok(all)
}
