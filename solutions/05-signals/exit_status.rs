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
    if let Some(code) = status.code() {
        return format!("exited {code}");
    }
    match status.signal() {
        Some(sig) => {
            // Signal's `as_str` gives the C name ("SIGKILL"); real-time signals have none.
            let name = Signal::try_from(sig)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| format!("signal {sig}"));
            // WCOREDUMP: the kernel wrote a core file (only if `ulimit -c` allowed it).
            if status.core_dumped() {
                format!("killed by {name} (core dumped)")
            } else {
                format!("killed by {name}")
            }
        }
        // Stopped or continued: `wait` reports these only when asked (WUNTRACED/WCONTINUED).
        None => format!("{status}"),
    }
}

/// The number a shell puts in `$?` for `status`: the exit code, or `128 + N` for signal N.
pub fn shell_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        // Not a final status: no shell would report one. 1 is "failed".
        (None, None) => 1,
    }
}
