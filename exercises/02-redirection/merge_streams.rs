//! `2>&1`: stdout and stderr sharing one open file, so their interleaving survives.
//!
//! Scenario: a CI system keeps one combined log per build step. A reader must see an error
//! message right after the output line that came before it, not in a separate section.
//!
//! Goal: the child's stdout and stderr land in one file (or one pipe) in exactly the order the
//! child wrote them, as with the shell's `2>&1`.
//!
//! Chapter: `docs/src/02-redirection.md#merge_streams`.
//! Check: `cargo xtask check redirection/merge_streams`.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// Runs `cmd` like `cmd > path 2>&1`: stdout and stderr both go to `path` (created or
/// truncated), through one shared open file. Stdin is inherited. Returns the exit status.
///
/// # References
/// `dup(2)`, `open(2)`
pub fn run_merged_to_file(cmd: &mut Command, path: &Path) -> io::Result<ExitStatus> {
    // TODO: create (or truncate) the file at `path` and send the child's stdout and stderr to it.
    todo!("send stdout and stderr to one open file")
}

/// Runs `cmd` with stdout and stderr both writing into one pipe, like `cmd 2>&1 | ...`, and
/// returns the exit status and everything read from the pipe, in the order it was written.
/// Stdin is `/dev/null`.
///
/// # References
/// `pipe(2)`, `dup(2)`
pub fn capture_merged(cmd: Command) -> io::Result<(ExitStatus, Vec<u8>)> {
    // TODO: make one pipe with `io::pipe()` and give its write end to the child as stdout and
    // as stderr; read everything the child writes, then wait for it.
    todo!("send stdout and stderr into one pipe and read it")
}
