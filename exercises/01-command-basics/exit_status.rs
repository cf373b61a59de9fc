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
    // TODO: build a `Command` for `program`, give it `args` (each one a separate argv element,
    // no shell), run it with inherited stdio and wait for its status.
    todo!("run the program and return its ExitStatus")
}

/// Decodes how a child ended.
pub fn ending(status: ExitStatus) -> Ending {
    // TODO: an exit code (`status.code()`) means Exited; otherwise the signal
    // (`ExitStatusExt::signal`) means Signaled; and a status that is neither must not panic
    // (see the other two variants of `Ending`).
    todo!("decode the ExitStatus")
}
