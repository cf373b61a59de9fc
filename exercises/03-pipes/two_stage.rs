//! A two-stage pipeline, `first | second`, built by hand.
//!
//! Scenario: a shell runs `ls | wc -l` by starting both programs at once and connecting the
//! first one's standard output to the second one's standard input with a pipe. The parent only
//! collects the result.
//!
//! Goal: implement [`two_stage`]: run both commands at once, `first`'s stdout connected to
//! `second`'s stdin, read `second`'s output, and wait for both. Return both statuses. It must
//! behave as a shell's pipeline does: when `second` stops reading and exits (`yes | head -n 1`),
//! `first` is told (it dies of SIGPIPE) instead of running forever.
//!
//! Chapter: `docs/src/03-pipes.md#two_stage`. Check it with `cargo xtask check pipes/two_stage`.

use std::io;
use std::process::{Command, ExitStatus, Stdio};

/// What a finished two-stage pipeline produced.
#[derive(Debug)]
pub struct TwoStageOutput {
    /// How the first command ended (it may die of SIGPIPE when the second stops reading early).
    pub first: ExitStatus,
    /// How the second command ended.
    pub second: ExitStatus,
    /// Everything the second command wrote to its stdout.
    pub stdout: Vec<u8>,
}

/// Runs `first | second` and returns both statuses and the second command's output.
///
/// The commands' other settings (arguments, environment, stderr) are left as the caller made
/// them; this function sets `first`'s stdout and `second`'s stdin and stdout.
///
/// # References
/// `pipe(2)`, `pipe(7)`.
pub fn two_stage(first: &mut Command, second: &mut Command) -> io::Result<TwoStageOutput> {
    // TODO: spawn `first` with its stdout on a pipe, and `second` reading from that pipe.
    // TODO: if `second` cannot start, leave no `first` running behind you.
    // TODO: read `second`'s output to EOF, wait for both children, return the statuses.
    todo!("connect first's stdout to second's stdin")
}
