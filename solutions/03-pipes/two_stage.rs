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
    // The first command writes into a pipe whose read end the parent receives as ChildStdout.
    let mut producer = first.stdout(Stdio::piped()).spawn()?;
    let Some(link) = producer.stdout.take() else {
        // Cannot happen after Stdio::piped(), but a missing pipe must not leave a child behind.
        let _ = producer.kill();
        let _ = producer.wait();
        return Err(io::Error::other("the first command has no stdout pipe"));
    };

    // Moving the read end into the second command's stdin: the parent no longer owns it.
    let spawned = second
        .stdin(Stdio::from(link))
        .stdout(Stdio::piped())
        .spawn();
    // The Command keeps the Stdio it was given until it is dropped or reconfigured. It is the
    // caller's Command, so it lives on: replace the stdin setting now, or the parent keeps a read
    // end open and `first` never gets EPIPE when `second` exits early (`yes | head -n 1` would
    // then run forever).
    second.stdin(Stdio::null());
    let consumer = match spawned {
        Ok(child) => child,
        Err(e) => {
            // The second stage never started: stop and reap the first rather than leak it.
            let _ = producer.kill();
            let _ = producer.wait();
            return Err(e);
        }
    };

    // Read the end of the pipeline to EOF, then reap both children (second first: it is the one
    // we are reading, and the first one ends once its reader is gone).
    let output = consumer.wait_with_output();
    let first_status = producer.wait()?;
    let output = output?;
    Ok(TwoStageOutput {
        first: first_status,
        second: output.status,
        stdout: output.stdout,
    })
}
