//! Feeding a child's stdin while reading its stdout, without the pipe-buffer deadlock.
//!
//! Scenario: a program sends several MiB through a filter (`cat`, `gzip`, `sort`, a formatter)
//! and wants the result back. Writing all the input first and reading the output afterwards
//! works for small data and hangs forever for large data.
//!
//! Goal: write the input on one thread while this thread reads the output, so that neither
//! pipe can stay full.
//!
//! Chapter: `docs/src/02-redirection.md#feed_and_read`.
//! Check: `cargo xtask check redirection/feed_and_read`.

use std::io::{self, Read, Write};
use std::process::{Child, ExitStatus};
use std::thread;

/// Sends `input` to the stdin of `child`, closes it, reads everything the child writes to
/// stdout, and waits for the child. Returns the exit status and the output.
///
/// `child` was spawned with `Stdio::piped()` for stdin and stdout. Both may carry far more than
/// a pipe holds (64 KiB on Linux), in both directions at once. A child that exits without
/// reading all of its input is not an error: the output it wrote is returned.
///
/// # References
/// `pipe(7)` ("Pipe capacity")
pub fn feed_and_read(child: Child, input: Vec<u8>) -> io::Result<(ExitStatus, Vec<u8>)> {
    // TODO: take the child's stdin and write `input` to it on a new thread (then drop it so the
    // child sees EOF), read stdout to its end here, join the thread, wait for the child.
    todo!("write stdin and read stdout at the same time")
}
