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
        // Rightmost, not first: it is the status bash reports, and usually the most specific.
        self.statuses
            .iter()
            .enumerate()
            .rev()
            .find(|(_, status)| !status.success())
            .map(|(index, status)| (index, *status))
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
    if commands.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a pipeline needs at least one command",
        ));
    }
    let last = commands.len() - 1;
    let mut children: Vec<Child> = Vec::with_capacity(commands.len());
    // The read end of the pipe the previous stage writes into, waiting for the next stage.
    let mut upstream: Option<PipeReader> = None;

    for (index, mut command) in commands.into_iter().enumerate() {
        if let Some(reader) = upstream.take() {
            command.stdin(reader);
        }
        if index == last {
            command.stdout(Stdio::piped());
        } else {
            match io::pipe() {
                Ok((reader, writer)) => {
                    command.stdout(writer);
                    upstream = Some(reader);
                }
                Err(e) => {
                    stop_all(&mut children);
                    return Err(e);
                }
            }
        }
        match command.spawn() {
            Ok(child) => children.push(child),
            Err(e) => {
                stop_all(&mut children);
                return Err(e);
            }
        }
        // `command` is dropped here, and with it the parent's copies of this stage's pipe ends.
        // Keeping a write end would hide EOF from the next stage forever; keeping a read end
        // would keep a writer from getting EPIPE when its reader exits early.
    }

    // The last stage's stdout is the only pipe end the parent still holds: read it to EOF, then
    // reap every stage, in order.
    let Some(mut tail) = children.pop() else {
        return Err(io::Error::other("no stage was started"));
    };
    let output = match tail.stdout.take() {
        Some(mut out) => {
            let mut buf = Vec::new();
            io::Read::read_to_end(&mut out, &mut buf).map(|_| buf)
        }
        None => Ok(Vec::new()),
    };
    let tail_status = tail.wait();
    let mut statuses = Vec::with_capacity(children.len() + 1);
    let mut first_error = None;
    for mut child in children {
        match child.wait() {
            Ok(status) => statuses.push(status),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    statuses.push(tail_status?);
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(PipelineOutput {
        statuses,
        stdout: output?,
    })
}

/// Kills and reaps the stages already started, after a later stage failed to start.
fn stop_all(children: &mut Vec<Child>) {
    for mut child in children.drain(..) {
        // Errors are ignored: the child may have exited already, and there is nothing better to
        // do than to try; the spawn error is the one worth reporting.
        let _ = child.kill();
        let _ = child.wait();
    }
}
