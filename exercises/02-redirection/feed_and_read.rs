//! Feeding a child's stdin while reading its stdout, without the pipe-buffer deadlock.
//!
//! Scenario: a program sends several MiB through a filter (`cat`, `gzip`, `sort`, a formatter)
//! and wants the result back. Writing all the input first and reading the output afterwards
//! works for small data and hangs forever for large data.
//!
//! Goal: send all of the input to the child and return all of its output, for inputs and
//! outputs of any size (the tests push megabytes both ways).
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
/// reading all of its input is not an error: the output it wrote is returned. When reading the
/// output fails, the child is killed and reaped, and the error returned.
///
/// # References
/// `pipe(7)` ("Pipe capacity")
pub fn feed_and_read(child: Child, input: Vec<u8>) -> io::Result<(ExitStatus, Vec<u8>)> {
    // TODO: give the child all of `input` (it must then see EOF on its stdin), collect all of
    // its stdout, and wait for it.
    todo!("write stdin and read stdout at the same time")
}
