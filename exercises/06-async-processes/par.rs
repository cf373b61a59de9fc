//! Practice: `par`, an async command executor in the spirit of `xargs -P` and GNU parallel.
//!
//! ```text
//! par [-j N] [--timeout SECS] [--keep-order] [-- CMDLINE...]
//! ```
//!
//! The commands are the arguments after `--`, or else the lines of stdin (one command line
//! each). Each runs as `sh -c CMDLINE`, with at most N at once (`-j`, 1 to 65536, default:
//! the number of cores), stdin from `/dev/null`, in a process group of its own. A line that is only a
//! program's path and plain words (letters, digits, `/._-+,:@%=`; no `=` in the program's
//! name) is executed directly, without a shell in between, since sh would do nothing but split
//! it and run the program; if it cannot be executed directly, it goes to `sh -c` after all.
//!
//! - The output of each command stays together: its stdout is written to par's stdout and its
//!   stderr to par's stderr in one piece, never interleaved with another command's lines. With
//!   `--keep-order` the pieces come in input order, otherwise as each command completes.
//!   par's memory does not grow with a command's output: past a small buffer, the output
//!   waits in a temporary file.
//! - An output that cannot be written (a full disk, a closed pipe) is reported on stderr
//!   (`par: cannot write the output of CMDLINE: REASON`) and the command counts as failed.
//! - `--timeout SECS` (decimals allowed): a command still running then is stopped with its whole
//!   group (SIGTERM, a grace of 2 s, SIGKILL) and reported on stderr:
//!   `par: timed out after SECS s: CMDLINE`.
//! - A command that cannot start is reported on stderr (`par: cannot start CMDLINE: REASON`)
//!   and counts as failed.
//! - At the end, a summary on stderr: `par: S succeeded, F failed, T timed out`.
//! - Exit status: 0 when every command succeeded, else the number of commands that failed or
//!   timed out, capped at 101 (GNU parallel's convention); 2 for a usage error (an unknown
//!   option, a bad or missing value, `-j 0` or above 65536, a timeout too long for a
//!   `Duration`, an empty command line, a word before `--`),
//!   reported in one line before anything runs that says what is wrong
//!   (`par: unknown option "-x" ...`, `par: unexpected argument "echo" (commands go after --)`).
//! - SIGINT or SIGTERM: no new command starts, every running command's group gets SIGTERM,
//!   then SIGKILL after the grace; nothing is left running; the summary says
//!   `par: stopped by SIGINT: S succeeded, F failed, T timed out, N not started` (or SIGTERM),
//!   and then par dies of that same signal (its default action restored), so that its parent
//!   sees it killed by SIGINT or SIGTERM (a shell shows 130 or 143, and a shell loop around
//!   par stops too).
//! - `-h` or `--help` prints the usage line on stdout and exits 0.
//!
//! Chapter: `docs/src/06-async-processes.md#par`.
//! Check: `cargo xtask check async-processes/par`.

use std::process::ExitCode;

/// par's entry point: `src/bin/par.rs` calls it. Parse the arguments, read the commands, run
/// them as the header says, and return the exit status.
pub fn main() -> ExitCode {
    // TODO: par, as specified above.
    todo!("par")
}
