//! Streaming a child's stdout and stderr line by line, as the lines arrive.
//!
//! Scenario: a dashboard shows a long-running build's output live, each line tagged with its
//! stream and the time it came. Collecting everything at the end shows nothing until the build
//! is over, and reading one stream to its end before the other can hang.
//!
//! Goal: read both pipes at the same time (one thread each) and hand every line on as soon as
//! it is complete.
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
pub fn stream_lines(mut child: Child, lines: Sender<Line>) -> io::Result<ExitStatus> {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // One reader per stream: a blocking read on one pipe must never stop the other from being
    // emptied, or a child that fills its stderr pipe while we wait on stdout would hang.
    let out_reader = stdout.map(|pipe| spawn_reader(pipe, Stream::Stdout, lines.clone()));
    let err_reader = stderr.map(|pipe| spawn_reader(pipe, Stream::Stderr, lines.clone()));
    // Our own Sender is not needed any more; dropping it lets the receiver see the end once
    // both readers are done.
    drop(lines);
    let mut result = Ok(());
    for reader in [out_reader, err_reader].into_iter().flatten() {
        let done = reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a reader thread panicked")));
        result = result.and(done);
    }
    // Reap the child even if a read failed.
    let status = child.wait()?;
    result?;
    Ok(status)
}

/// Reads `pipe` line by line on a new thread, sending each line tagged with `stream`.
fn spawn_reader(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    lines: Sender<Line>,
) -> thread::JoinHandle<io::Result<()>> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            // `read_until` returns as soon as one line is complete (or at EOF with a partial
            // line), unlike `read_to_end`, which waits for the child to close the pipe.
            // It works on bytes, so output that is not UTF-8 is not an error here.
            if reader.read_until(b'\n', &mut buf)? == 0 {
                return Ok(());
            }
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            let line = Line {
                stream,
                text: String::from_utf8_lossy(&buf).into_owned(),
                at: SystemTime::now(),
            };
            // The receiver may have gone away; keep draining the pipe anyway, so that the
            // child never blocks on a full pipe nobody reads.
            let _ = lines.send(line);
        }
    })
}
