//! A dead reader: EPIPE for a Rust writer, SIGPIPE for a child with the default disposition.
//!
//! Scenario: `mytool | head -n 1`. `head` exits after one line; the next write into the pipe
//! finds no reader. The kernel then sends SIGPIPE to the writer, whose default action is to
//! die quietly, which is exactly what `head` relies on. A Rust program ignores SIGPIPE (the
//! runtime sets it to `SIG_IGN` before `main`), so its write fails with `EPIPE` instead, which
//! std calls `ErrorKind::BrokenPipe`: the normal end of the conversation, not a crash.
//!
//! Goal: implement [`write_all_or_gone`], which writes everything or reports, as a normal
//! outcome, that the reader went away (and how much it was given before); and
//! [`spawn_with_sigpipe`], which starts a child with the SIGPIPE disposition you choose, set in
//! the child between `fork` and `exec`.
//!
//! Chapter: `docs/src/03-pipes.md#dead_reader`. Check it with `cargo xtask check pipes/dead_reader`.

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// How a write to a possibly closed pipe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every byte was written.
    Complete,
    /// The reader closed its end (`EPIPE`) after `written` bytes were accepted by the pipe.
    ReaderGone {
        /// Bytes written before the reader disappeared (it may not have read all of them).
        written: usize,
    },
}

/// Writes all of `data` to `out`, treating a vanished reader as a normal end.
///
/// Errors other than `BrokenPipe` are returned as errors; `Interrupted` is retried.
///
/// # References
/// `write(2)` (`EPIPE`), `pipe(7)`.
pub fn write_all_or_gone(out: &mut impl Write, data: &[u8]) -> io::Result<WriteOutcome> {
    // TODO: write all of `data`, knowing at every moment how much the reader has accepted.
    // TODO: a reader that is gone is `ReaderGone { written }`, not an error.
    // TODO: return `Complete` only once everything has really left for the reader.
    todo!("write until done or until the reader is gone")
}

/// The SIGPIPE disposition a child starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigPipe {
    /// `SIG_DFL`: a write to a pipe without readers kills the child (what C tools expect).
    Default,
    /// `SIG_IGN`: the write fails with `EPIPE` and the child must handle the error itself.
    Ignore,
}

/// Spawns `cmd` with SIGPIPE set to `disposition` in the child.
///
/// Dispositions set to `SIG_IGN` survive `exec` (a handler cannot, so it becomes `SIG_DFL`);
/// this is how a parent decides what a C program does on a dead reader.
///
/// # References
/// `sigaction(2)`, `execve(2)` ("signals set to be ignored remain ignored"), `signal-safety(7)`.
pub fn spawn_with_sigpipe(cmd: &mut Command, disposition: SigPipe) -> io::Result<Child> {
    // TODO: set SIGPIPE's disposition in the child, between fork and exec
    //       (`CommandExt::pre_exec`, unsafe: write the `// SAFETY:` comment), then spawn.
    todo!("spawn with the chosen SIGPIPE disposition")
}
