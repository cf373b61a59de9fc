//! `2>&1`: stdout and stderr sharing one open file, so their interleaving survives.
//!
//! Scenario: a CI system keeps one combined log per build step. A reader must see an error
//! message right after the output line that came before it, not in a separate section.
//!
//! Goal: give the child ONE open file (or ONE pipe) as both fd 1 and fd 2, by duplicating the
//! handle (`try_clone`, which is `dup`) instead of opening the file twice.
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
    let out = File::create(path)?;
    // `try_clone` is dup(2): a second fd for the SAME open file description, and so the same
    // file offset. Each write of either stream moves that one offset, so nothing is
    // overwritten and the order of writes is the order in the file. Opening the file twice
    // would give two offsets that both start at 0, and the streams would overwrite each other.
    let err = out.try_clone()?;
    cmd.stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .status()
}

/// Runs `cmd` with stdout and stderr both writing into one pipe, like `cmd 2>&1 | ...`, and
/// returns the exit status and everything read from the pipe, in the order it was written.
/// Stdin is `/dev/null`.
///
/// # References
/// `pipe(2)`, `dup(2)`
pub fn capture_merged(mut cmd: Command) -> io::Result<(ExitStatus, Vec<u8>)> {
    let (mut reader, writer) = io::pipe()?;
    let writer2 = writer.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2));
    let mut child = cmd.spawn()?;
    // The `Command` keeps the `Stdio`s it was given, so it still holds the parent's copies of
    // both write ends. A read returns EOF only once EVERY write end is closed, ours included:
    // drop the command now, or the read below would wait forever.
    drop(cmd);
    let mut merged = Vec::new();
    let read = reader.read_to_end(&mut merged);
    // Reap the child even when the read failed, so that no zombie is left behind.
    let status = child.wait()?;
    read?;
    Ok((status, merged))
}
