//! A two-stage pipeline, `first | second`, built by hand.
//!
//! Scenario: a shell runs `ls | wc -l` by starting both programs at once and connecting the
//! first one's standard output to the second one's standard input with a pipe. The parent only
//! collects the result.
//!
//! Goal: implement [`two_stage`]: start `first` with a piped stdout, hand that `ChildStdout` to
//! `second` as its stdin, read `second`'s output, and wait for both. Return both statuses.
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
    // TODO: spawn `first` with `Stdio::piped()` stdout and take its `ChildStdout`.
    // TODO: spawn `second` with that `ChildStdout` as stdin (`Stdio::from`) and a piped stdout.
    // TODO: the caller's `second` still holds the read end it was given: replace it (for
    //       example with `Stdio::null()`) so `first` gets EPIPE if `second` exits early.
    // TODO: read `second`'s output to EOF, wait for both children, return the statuses.
    todo!("connect first's stdout to second's stdin")
}
