//! Exercise `command-basics/exit_status`: run a program and tell how it ended.
//!
//! Scenario: a build script runs tools and must say what happened to each one. A tool either
//! *exits* with a code it chose (0 for success, anything else for failure), or is *killed* by a
//! signal and never gets to choose a code at all. Mixing the two up is the classic bug: a shell
//! turns "killed by signal 9" into exit code 137, but a program you run yourself reports no code.
//!
//! Goal: `run` starts a program with its arguments (no shell in between) and waits for it;
//! `ending` decodes the `ExitStatus` into [`Ending::Exited`] or [`Ending::Signaled`] (and, for a
//! status from a `wait` that asked for them, [`Ending::Stopped`] or [`Ending::Continued`]).
//!
//! Read: `docs/src/01-command-basics.md#exit_status`.
//! Check: `cargo xtask check command-basics/exit_status`.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The process called `exit(code)` (or returned from `main`). Only the low 8 bits survive,
    /// so the code is in `0..=255`.
    Exited(i32),
    /// A signal ended the process (9 for SIGKILL, 15 for SIGTERM, ...). It has no exit code.
    Signaled(i32),
    /// A signal stopped the process (19 for SIGSTOP, 20 for SIGTSTP, ...): it has not ended
    /// and may be continued. `wait` reports this only when asked to (`WUNTRACED`), as a shell
    /// with job control does.
    Stopped(i32),
    /// SIGCONT continued a stopped process. `wait` reports this only when asked to
    /// (`WCONTINUED`).
    Continued,
}

/// Runs `program` with `args` and waits for it to end.
///
/// The child inherits stdin, stdout and stderr: its output goes where ours goes.
///
/// # References
/// `execvp(3)`, `waitpid(2)`.
pub fn run(program: &str, args: &[&str]) -> io::Result<ExitStatus> {
    // Each argument becomes one element of the child's argv, byte for byte: no shell parses
    // them, so spaces, `$` and `*` reach the program unchanged. `status()` spawns the child with
    // inherited stdio and waits for it, which also reaps it (no zombie is left).
    Command::new(program).args(args).status()
}

/// Decodes how a child ended.
pub fn ending(status: ExitStatus) -> Ending {
    // `code()` is `Some` only for a normal exit (WIFEXITED), `signal()` only for a death by
    // signal (WIFSIGNALED), `stopped_signal()` only for a stop (WIFSTOPPED): at most one.
    match (status.code(), status.signal(), status.stopped_signal()) {
        (Some(code), _, _) => Ending::Exited(code),
        (None, Some(signal), _) => Ending::Signaled(signal),
        // A plain `wait` never reports these two, but a status can come from a `waitpid` with
        // WUNTRACED or WCONTINUED (or from `ExitStatus::from_raw`): decoding must not panic.
        (None, None, Some(signal)) => Ending::Stopped(signal),
        // The one status left that the kernel reports: continued (WIFCONTINUED, 0xffff).
        (None, None, None) => Ending::Continued,
    }
}
