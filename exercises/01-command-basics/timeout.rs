//! Exercise `command-basics/timeout`: give a command a deadline, and never leave a zombie.
//!
//! Scenario: a CI step runs a test suite that sometimes hangs. The step must wait at most a
//! given time, then kill the command, and report "timed out" instead of hanging forever. When a
//! process ends, the kernel keeps its exit status in the process table until the parent
//! collects it with `wait`: until then it is a *zombie* (state `Z` in `/proc/PID/stat`).
//!
//! Goal: `run_with_timeout` runs the command for at most the limit and, on overrun, kills it
//! (SIGKILL). It does not burn a CPU while it waits, and whatever happens, no child of ours is
//! left running or as a zombie when it returns.
//!
//! Read: `docs/src/01-command-basics.md#timeout`.
//! Check: `cargo xtask check command-basics/timeout`.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// How a command run with a time limit ended.
#[derive(Debug)]
pub enum Finished {
    /// It ended by itself before the limit (with an exit code or by a signal).
    Exited(ExitStatus),
    /// It was still running at the limit, so it was killed and reaped.
    TimedOut,
}

/// Runs `cmd` for at most `limit`; on overrun kills it with SIGKILL and reaps it.
///
/// # References
/// `waitpid(2)` with `WNOHANG`, `kill(2)`.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> io::Result<Finished> {
    // TODO: start the command without waiting for it to end.
    // TODO: until it has ended or the limit has passed, check on it without blocking.
    // TODO: on overrun, kill it; then keep the promise of the goal above.
    todo!("run with a deadline: Exited(status) or TimedOut")
}
