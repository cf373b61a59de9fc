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
    input: impl Read,
    output: impl Write,
    run: impl FnMut(&str) -> Result<String, String>,
) -> io::Result<u64> {
    // TODO: read task frames until the input ends, run each, answer each with its task's id.
    todo!("serve tasks until the pool hangs up")
}
