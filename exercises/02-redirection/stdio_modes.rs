//! Where a child's stdin, stdout and stderr go: `Stdio::null`, `piped`, `inherit` and
//! `from(File)`.
//!
//! Scenario: a build tool runs helper programs in three ways. Some must be silent, some have
//! their output captured while their errors still reach the user's terminal, and some read a
//! file and write a file, like `prog < input > output` in a shell.
//!
//! Goal: choose the `Stdio` of each of the three standard streams explicitly, because the
//! defaults differ between `status()`, `output()` and `spawn()`.
//!
//! Chapter: `docs/src/02-redirection.md#stdio_modes`.
//! Check: `cargo xtask check redirection/stdio_modes`.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// Runs `cmd` with all three standard streams on `/dev/null` and returns its exit status.
///
/// The child reads end-of-file at once and everything it writes is thrown away.
///
/// # References
/// `null(4)`
pub fn run_silenced(cmd: &mut Command) -> io::Result<ExitStatus> {
    // TODO: set stdin, stdout and stderr to `Stdio::null()`, then run the command to its end.
    todo!("run the command with all three streams on /dev/null")
}

/// Runs `cmd` with stdin on `/dev/null`, stdout captured through a pipe and stderr inherited
/// from this process, and returns its exit status and everything it wrote to stdout. The child
/// is waited for (reaped) also when reading its output fails.
///
/// # References
/// `pipe(7)`
pub fn capture_stdout(cmd: &mut Command) -> io::Result<(ExitStatus, Vec<u8>)> {
    // TODO: null stdin, piped stdout, inherited stderr (what does `output()` do with stderr?);
    // spawn, read the stdout pipe to its end, then wait.
    todo!("capture stdout, let stderr through")
}

/// Runs `cmd` like `cmd < input > output`: stdin read from the file `input`, stdout written to
/// the file `output` (created, or truncated when it exists), stderr inherited. Returns the exit
/// status.
///
/// # References
/// `open(2)`, `dup2(2)`
pub fn run_with_files(cmd: &mut Command, input: &Path, output: &Path) -> io::Result<ExitStatus> {
    // TODO: open `input` for reading and create `output`, turn each `File` into a `Stdio`.
    todo!("redirect stdin from a file and stdout to a file")
}
