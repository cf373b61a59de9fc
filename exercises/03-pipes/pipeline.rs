//! An N-stage pipeline with every stage's status, and the `pipefail` verdict.
//!
//! Scenario: `grep error app.log | sort | uniq -c | head` fails somewhere in the middle, and a
//! plain shell reports only the last command's status, so the failure goes unnoticed. Bash's
//! `set -o pipefail` fixes that: the pipeline fails if any stage failed.
//!
//! Goal: implement [`run_pipeline`], which connects the commands with `std::io::pipe()` (one pipe
//! between each pair of neighbours), runs them all at once, reads the last one's stdout, and
//! returns every stage's status in order; then [`PipelineOutput::pipefail`], the verdict.
//!
//! Chapter: `docs/src/03-pipes.md#pipeline`. Check it with `cargo xtask check pipes/pipeline`.

use std::io::{self, PipeReader};
use std::process::{Child, Command, ExitStatus, Stdio};

/// What a finished pipeline produced.
#[derive(Debug)]
pub struct PipelineOutput {
    /// Each stage's status, in pipeline order (index 0 is the leftmost command).
    pub statuses: Vec<ExitStatus>,
    /// Everything the last stage wrote to its stdout.
    pub stdout: Vec<u8>,
}

impl PipelineOutput {
    /// The `pipefail` verdict: the index and status of the rightmost stage that did not succeed
    /// (a non-zero exit or death by a signal), or `None` when every stage succeeded.
    ///
    /// This is bash's `set -o pipefail` rule: the pipeline's status is the last non-zero one.
    pub fn pipefail(&self) -> Option<(usize, ExitStatus)> {
        // TODO: find the rightmost status that is not a success.
        todo!("the pipefail verdict")
    }
}

/// Runs `commands[0] | commands[1] | ... | commands[n-1]`.
///
/// Each command's stderr is left as the caller set it. An empty list is an `InvalidInput` error.
/// If a stage cannot be started, the stages already running are killed and reaped, and the
/// error is returned.
///
/// # References
/// `pipe(2)`, `pipe(7)`, bash(1) on `pipefail`.
pub fn run_pipeline(commands: Vec<Command>) -> io::Result<PipelineOutput> {
    // TODO: refuse an empty list with `ErrorKind::InvalidInput`.
    // TODO: connect each stage's stdout to the next stage's stdin with a pipe (`io::pipe()`);
    //       the last stage's stdout comes back to you. Spawn every stage.
    // TODO: if a spawn fails, kill and wait the stages already started, return the error.
    // TODO: read the last stage's stdout to EOF, then wait every stage in order.
    todo!("run the pipeline")
}
