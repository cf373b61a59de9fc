//! Per-service logs: both streams, timestamped, rotated by size without losing or splitting a line.
//!
//! Scenario: a service writes to its stdout and stderr; the supervisor keeps what it writes in
//! `LOGDIR/NAME.log`, one line per line, each with the time it was read and the stream it
//! came from, so that `svctl logs NAME` can show what happened before the crash. A log that
//! grows forever fills the disk, so it is rotated by size: `NAME.log` becomes `NAME.log.1`,
//! `NAME.log.1` becomes `NAME.log.2`, and so on, and only `files` files are kept. Two things
//! must not happen: a line cut in two at a rotation (half in each file), and a service blocked
//! because nobody reads one of its pipes while the supervisor waits on the other.
//!
//! Goal:
//! - [`RotatingLog::open`] opens (appending) `DIR/NAME.log`, keeping at most `files` files of
//!   at most `max_bytes` each. The file is created owner-only (0600), and a symlink at its
//!   name is refused, not followed (an error): the log directory may be one others can write
//!   into, and the supervisor must not append to whatever file a symlink names.
//!   [`RotatingLog::write_line`] writes `2026-11-25T17:58:43.123Z stdout the line` (UTC,
//!   milliseconds, then the stream) and rotates first if the line would not fit in the current
//!   file. A rotation never splits a line: one longer than `max_bytes` gets a file of its own.
//!   An empty file is never rotated.
//! - [`capture`] reads a service's stdout and stderr, both at once, until both are closed,
//!   and writes every line to the log; a last line without a newline is kept. A line is held
//!   in memory up to [`MAX_LINE`] bytes, no more: a longer one is logged in pieces of
//!   `MAX_LINE` bytes as they arrive, each piece but the last ending with [`SPLIT_MARK`]
//!   (a service that never writes a newline must not grow the supervisor without limit).
//!
//! Chapter: `docs/src/12-supervisor.md#logs`. Check it with `cargo xtask check supervisor/logs`.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The longest line kept whole, in bytes (its newline not counted).
pub const MAX_LINE: usize = 64 * 1024;

/// Ends every piece of a line longer than [`MAX_LINE`] but its last.
pub const SPLIT_MARK: &str = " [split]";

/// Which of the service's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as written in the log.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A log file rotated by size.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read once the methods are written
pub struct RotatingLog {
    path: PathBuf,
    max_bytes: u64,
    files: u32,
    file: File,
    size: u64,
}

/// The pumps started by [`capture`].
#[derive(Debug)]
#[allow(dead_code)] // read once join is written
pub struct Capture {
    pumps: Vec<JoinHandle<io::Result<()>>>,
}

impl RotatingLog {
    /// Opens `DIR/NAME.log` for appending (created if missing); `max_bytes` and `files` are at
    /// least 1.
    ///
    /// # Errors
    /// Opening the file, or reading its size.
    pub fn open(dir: &Path, name: &str, max_bytes: u64, files: u32) -> io::Result<RotatingLog> {
        // TODO: open for appending; what is already there counts.
        todo!("open the log")
    }

    /// The current file, `DIR/NAME.log`.
    pub fn path(&self) -> &Path {
        // TODO: DIR/NAME.log.
        todo!("the log's path")
    }

    /// Writes one line (without its newline) with a timestamp and `stream`, rotating first if
    /// the line would not fit.
    ///
    /// # Errors
    /// Writing, or renaming files at a rotation.
    pub fn write_line(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        // TODO: timestamp, stream, line; rotate when it would not fit.
        todo!("write one line")
    }
}

/// Starts one pump per stream: each reads lines until EOF and writes them to `log`.
///
/// Both streams are read at the same time. Read one to its end before the other and a service
/// that fills the other pipe (64 KiB on Linux) blocks in `write`, never closes the first, and
/// both sides wait forever.
pub fn capture(
    stdout: impl Read + Send + 'static,
    stderr: impl Read + Send + 'static,
    log: Arc<Mutex<RotatingLog>>,
) -> Capture {
    // TODO: read both streams until EOF, every line into the log.
    todo!("capture both streams")
}

impl Capture {
    /// Waits until both streams reached EOF (every process holding a write end closed it).
    ///
    /// # Errors
    /// The first error a pump met reading or writing.
    pub fn join(self) -> io::Result<()> {
        // TODO: wait for both streams to end.
        todo!("wait for the pumps")
    }
}
