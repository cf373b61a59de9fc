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
    // `status()` would inherit all three streams by default: set each one explicitly.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}

/// Runs `cmd` with stdin on `/dev/null`, stdout captured through a pipe and stderr inherited
/// from this process, and returns its exit status and everything it wrote to stdout. The child
/// is waited for (reaped) also when reading its output fails.
///
/// # References
/// `pipe(7)`
pub fn capture_stdout(cmd: &mut Command) -> io::Result<(ExitStatus, Vec<u8>)> {
    // `output()` would pipe stderr too, and hide the child's error messages from the user.
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut out = Vec::new();
    // Only one stream is piped, so reading it to the end cannot block on a full second pipe.
    // `take()` moves the read end out of the child: dropping it after the read closes it.
    let read = match child.stdout.take() {
        Some(mut stdout) => stdout.read_to_end(&mut out).map(|_| ()),
        None => Ok(()),
    };
    // Wait even when the read failed: a child nobody waits for stays a zombie. The read end is
    // closed by now, so a child still writing gets EPIPE (or dies of SIGPIPE) and ends.
    let status = child.wait()?;
    read?;
    Ok((status, out))
}

/// Runs `cmd` like `cmd < input > output`: stdin read from the file `input`, stdout written to
/// the file `output` (created, or truncated when it exists), stderr inherited. Returns the exit
/// status.
///
/// # References
/// `open(2)`, `dup2(2)`
pub fn run_with_files(cmd: &mut Command, input: &Path, output: &Path) -> io::Result<ExitStatus> {
    // Open both files in the parent: an error (missing input, unwritable output) is reported
    // here, before any child exists, exactly as a shell reports it before running the command.
    let stdin = File::open(input)?;
    // `File::create` is open(O_WRONLY | O_CREAT | O_TRUNC): an older, longer file leaves no tail.
    let stdout = File::create(output)?;
    // `Stdio::from(File)` moves the open file into `cmd`, and spawning dup2()s it onto the
    // child's fd 0 or 1. Spawning does not close the parent's fds: `cmd` keeps them open until
    // it is dropped or given another `Stdio`. Harmless for two files; for the write end of a
    // pipe it would keep the reader from ever seeing EOF.
    cmd.stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::inherit())
        .status()
}
