//! Exercise `daemon/pidfile`: a pid file that tells the truth, even after a crash.
//!
//! Scenario: a daemon writes its pid to a file so that `stop` and `status` can find it. Two
//! copies started at the same moment must not both run; a daemon killed with SIGKILL leaves its
//! file behind, and the pid in it may by now belong to some unrelated process.
//!
//! Goal: [`PidFile::acquire`] makes the caller the one running instance: it fails with
//! [`PidFileError::AlreadyRunning`] (displayed `already running (pid N)`) while another instance
//! holds the file, and never damages that instance's file. The file is held for as long as the
//! returned value lives. [`status`] tells a running instance from a stale file and from none,
//! without trusting a pid that nobody vouches for: `Running(pid)` only when the kernel says that
//! `pid`, the one written in the file, holds its lock (anyone who may open the file may lock it);
//! a file locked by another pid than the one it names is an error naming both. A file it cannot
//! open for any reason other than its absence is an error too, not "stopped".
//!
//! Read: docs/src/10-daemon.md#pidfile. Check: `cargo xtask check daemon/pidfile`.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A pid file held by this process, for as long as this value lives.
#[derive(Debug)]
pub struct PidFile {
    #[allow(dead_code)] // used once solved
    file: File,
    path: PathBuf,
}

/// Why [`PidFile::acquire`] failed.
#[derive(Debug)]
pub enum PidFileError {
    /// Another live process holds the file; its pid as written in the file, if readable.
    AlreadyRunning(Option<u32>),
    /// The file could not be opened, locked or written.
    Io(io::Error),
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidFileError::AlreadyRunning(Some(pid)) => write!(f, "already running (pid {pid})"),
            PidFileError::AlreadyRunning(None) => write!(f, "already running (pid unknown)"),
            PidFileError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PidFileError {}

impl From<io::Error> for PidFileError {
    fn from(e: io::Error) -> Self {
        PidFileError::Io(e)
    }
}

/// What a pid file says about the daemon it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A live process holds the file; its pid.
    Running(u32),
    /// The file exists but its daemon is gone; the pid in it (if any) must not be signalled, it
    /// may belong to anyone by now.
    Stale(Option<u32>),
    /// There is no pid file.
    Stopped,
}

impl PidFile {
    /// Becomes the one running instance for `path`, writing our pid into it (the pid and a
    /// newline, nothing else).
    pub fn acquire(path: &Path) -> Result<PidFile, PidFileError> {
        // TODO: become the holder, or say who is.
        todo!("acquire {}", path.display())
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // TODO: a daemon that exits normally leaves no pid file behind.
    }
}

/// What the pid file at `path` says: a live holder, a stale file, or no file.
pub fn status(path: &Path) -> io::Result<Status> {
    // TODO: decide without trusting the pid alone.
    todo!("status of {}", path.display())
}
