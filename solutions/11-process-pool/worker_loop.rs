//! Exercise: the worker's side, a loop that serves tasks until its pool hangs up.
//!
//! Scenario: a pool worker (`pool-worker`) is started once and then reused for thousands of
//! tasks: it reads task frames (`crate::frame`) on its stdin and answers each on its stdout
//! with a frame carrying the same task id and the body `crate::task::encode` makes of the
//! task's outcome. Its stdout is buffered (a `BufWriter`, as any program that writes many small
//! messages should be), and the pool is waiting for each answer before it sends more work.
//!
//! Goal: `serve` runs `run` on every task body (a task that is not UTF-8 is answered with an
//! error, not run), answers it, and returns the number of tasks served when its input ends
//! cleanly. A truncated or invalid frame is returned as the error, after the answers to every
//! earlier task are on their way.
//! Chapter: `docs/src/11-process-pool.md#worker_loop`. Check: `cargo xtask check process-pool/worker_loop`.

use std::io::{self, Read, Write};

use crate::frame::{Frame, read_frame, write_frame};
use crate::task::encode;

/// Serves tasks from `input` until it ends; returns how many were served.
///
/// # Errors
/// A truncated or invalid frame on `input`, or any error writing to `output`.
pub fn serve(
    mut input: impl Read,
    mut output: impl Write,
    mut run: impl FnMut(&str) -> Result<String, String>,
) -> io::Result<u64> {
    let mut served = 0;
    while let Some(task) = read_frame(&mut input)? {
        let outcome = match std::str::from_utf8(&task.body) {
            Ok(line) => run(line),
            Err(_) => Err("task is not UTF-8".to_string()),
        };
        let answer = Frame {
            id: task.id,
            body: encode(&outcome),
        };
        write_frame(&mut output, &answer)?;
        // The pool is blocked waiting for this answer: an answer left in a buffer is an answer
        // never sent, and both sides wait for each other forever.
        output.flush()?;
        served += 1;
    }
    Ok(served)
}
