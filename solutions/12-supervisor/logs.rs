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

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::SystemTime;

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
pub struct RotatingLog {
    path: PathBuf,
    max_bytes: u64,
    files: u32,
    file: File,
    size: u64,
}

/// The pumps started by [`capture`].
#[derive(Debug)]
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
        let path = dir.join(format!("{name}.log"));
        let file = open_append(&path)?;
        // What is there already counts toward the limit.
        let size = file.metadata()?.len();
        Ok(RotatingLog {
            path,
            max_bytes: max_bytes.max(1),
            files: files.max(1),
            file,
            size,
        })
    }

    /// The current file, `DIR/NAME.log`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line (without its newline) with a timestamp and `stream`, rotating first if
    /// the line would not fit.
    ///
    /// # Errors
    /// Writing, or renaming files at a rotation.
    pub fn write_line(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut record = Vec::with_capacity(stamp.len() + line.len() + 9);
        record.extend_from_slice(stamp.as_bytes());
        record.push(b' ');
        record.extend_from_slice(stream.name().as_bytes());
        record.push(b' ');
        record.extend_from_slice(line);
        record.push(b'\n');
        let len = record.len() as u64;
        // Rotate before the write, never in the middle of it: the line goes whole into one file.
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        // One write_all of the whole record: with O_APPEND each write lands at the end, and
        // nothing else writes to this file between our two rotations.
        self.file.write_all(&record)?;
        self.size += len;
        Ok(())
    }

    /// NAME.log.(N-2) -> NAME.log.(N-1), ..., NAME.log -> NAME.log.1, then a new NAME.log.
    fn rotate(&mut self) -> io::Result<()> {
        // rename(2) replaces its target atomically: the oldest file is dropped by the first
        // rename, and at no point is a kept file missing.
        for i in (1..self.files).rev() {
            let from = self.numbered(i - 1);
            match std::fs::rename(&from, self.numbered(i)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if self.files == 1 {
            // Only one file is kept: empty it. With O_APPEND the next write goes to the new end.
            self.file.set_len(0)?;
        } else {
            // Our fd still names the renamed file: open the path again for a new one.
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }

    /// `NAME.log` for 0, `NAME.log.I` otherwise.
    fn numbered(&self, i: u32) -> PathBuf {
        if i == 0 {
            return self.path.clone();
        }
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{i}"));
        PathBuf::from(name)
    }
}

/// Appends to `path`, created 0600 if missing. `O_NOFOLLOW`: a symlink planted at the log's
/// name is an error (`ELOOP`), not a way to make the supervisor write into another file.
/// (std opens every file `O_CLOEXEC`: no service inherits the log.)
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
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
    let out = pump(stdout, Stream::Stdout, Arc::clone(&log));
    let err = pump(stderr, Stream::Stderr, log);
    Capture {
        pumps: vec![out, err],
    }
}

impl Capture {
    /// Waits until both streams reached EOF (every process holding a write end closed it).
    ///
    /// # Errors
    /// The first error a pump met reading or writing.
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for pump in self.pumps {
            let r = pump
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a log pump panicked")));
            if result.is_ok() {
                result = r;
            }
        }
        result
    }
}

fn pump(
    source: impl Read + Send + 'static,
    stream: Stream,
    log: Arc<Mutex<RotatingLog>>,
) -> JoinHandle<io::Result<()>> {
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        loop {
            line.clear();
            // read_until retries EINTR; it returns at a newline, at EOF, or (through take) once
            // MAX_LINE bytes are read: what one line can make us hold is bounded.
            let n = (&mut reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                return Ok(());
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            } else if line.len() == MAX_LINE {
                // A piece of a longer line; unless its newline comes next, it is marked split.
                if reader.fill_buf()?.first() == Some(&b'\n') {
                    reader.consume(1);
                } else {
                    line.extend_from_slice(SPLIT_MARK.as_bytes());
                }
            }
            // The lock is held for one line: lines of the two streams interleave, never mix.
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_line(stream, &line)?;
        }
    })
}
