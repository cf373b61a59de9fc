//! Streaming a child's stdout and stderr line by line, as the lines arrive.
//!
//! Scenario: a dashboard shows a long-running build's output live, each line tagged with its
//! stream and the time it came. Collecting everything at the end shows nothing until the build
//! is over, and reading one stream to its end before the other can hang.
//!
//! Goal: hand on every line of both streams as soon as it is complete, whatever the other
//! stream is doing.
//!
//! Chapter: `docs/src/02-redirection.md#stream_lines`.
//! Check: `cargo xtask check redirection/stream_lines`.

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::SystemTime;

/// Which of the child's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The child's fd 1.
    Stdout,
    /// The child's fd 2.
    Stderr,
}

/// One line of a child's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The stream it came from.
    pub stream: Stream,
    /// Its text without the final `\n`; bytes that are not UTF-8 become U+FFFD.
    pub text: String,
    /// When it was read.
    pub at: SystemTime,
}

/// Sends every line `child` writes to stdout or stderr to `lines` as soon as the line is
/// complete, then waits for the child and returns its exit status.
///
/// `child` was spawned with `Stdio::piped()` for stdout and stderr. A last line without a final
/// newline is still sent. The lines of one stream are sent in their order. Returns after both
/// streams reached EOF and the child was reaped.
///
/// # References
/// `pipe(7)`
pub fn stream_lines(child: Child, lines: Sender<Line>) -> io::Result<ExitStatus> {
    // TODO: send a `Line` for every line of stdout and of stderr as soon as it is complete.
    // TODO: once both streams reached EOF, wait for the child and return its status.
    todo!("stream both pipes line by line")
}
