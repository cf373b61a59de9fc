//! Exit status by signal: tell `exited 1` from `killed by SIGKILL`, and note a core dump.
//!
//! Scenario: a supervisor logs why each child ended. `wait` returns one integer that encodes
//! either an exit code (the child called `exit`) or the signal that killed it, plus a bit saying
//! whether a core file was written. A shell folds both into `$?` as `N` or `128 + N`; a log
//! should say which one it was, by name.
//!
//! Goal: describe an `ExitStatus` in words and compute the shell's number for it.
//! Chapter: `docs/src/05-signals.md#exit_status`. Check: `cargo xtask check signals/exit_status`.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::Signal;

/// `exited N`, `killed by SIGNAME`, or `killed by SIGNAME (core dumped)`.
///
/// A signal number that has no name on this system is written `killed by signal N`.
///
/// # References
/// `waitpid(2)` (WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG, WCOREDUMP), `signal(7)`
pub fn describe(status: ExitStatus) -> String {
    // TODO: `status.code()` gives the exit code; otherwise `status.signal()` (ExitStatusExt)
    // TODO: the signal: name it with `Signal::try_from(sig)` and `.as_str()`, and add
    // TODO: " (core dumped)" when `status.core_dumped()`.
    todo!("describe an exit status")
}

/// The number a shell puts in `$?` for `status`: the exit code, or `128 + N` for signal N.
pub fn shell_code(status: ExitStatus) -> i32 {
    // TODO: the exit code, or 128 + the signal number.
    todo!("the shell's number for an exit status")
}
