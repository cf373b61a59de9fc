//! Named pipes (FIFOs): a pipe with a name in the file system, for unrelated processes.
//!
//! Scenario: two programs that did not start each other, a log producer and a viewer, meet at a
//! path. `mkfifo` creates the name; each side opens it like a file; the data still goes through
//! the kernel's pipe buffer, never to disk.
//!
//! Goal: implement [`Fifo::create`] (mode exactly 0600, never replacing an existing file), its
//! `Drop` (the name goes away with the value), [`try_open_writer`] (never waits: no reader is
//! `None`), and [`send`] (waits for a reader, then delivers the message).
//!
//! Chapter: `docs/src/03-pipes.md#fifo`. Check it with `cargo xtask check pipes/fifo`.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::stat::Mode;

/// A FIFO at a path, removed (unlinked) when this value is dropped.
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
}

impl Fifo {
    /// Creates a FIFO at `path` with mode 0600 (owner read and write only), whatever the umask.
    ///
    /// Fails with `AlreadyExists` if anything exists at `path`; the existing file is untouched.
    ///
    /// Leaves the process's umask alone (it is shared by every thread), and sets the mode on
    /// the FIFO it created, never on whatever the name leads to a moment later.
    ///
    /// # References
    /// `mkfifo(3)`, `umask(2)`, `fchmod(2)`, `fifo(7)`.
    pub fn create(path: &Path) -> io::Result<Fifo> {
        // TODO: create the FIFO at `path` with mode 0600 (`mkfifo(3)`, see `nix::unistd`).
        // TODO: make sure the mode on disk is exactly 0600.
        todo!("create the FIFO")
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        // TODO: remove the name from the file system (a failure here cannot be reported).
    }
}

/// Opens the FIFO at `path` for writing if a reader has it open; `Ok(None)` if none does.
///
/// The returned file is in blocking mode, like any ordinary writer.
///
/// # References
/// `fifo(7)`, `open(2)`.
pub fn try_open_writer(path: &Path) -> io::Result<Option<File>> {
    // TODO: open write-only without waiting for a reader; "no reader" is `Ok(None)`.
    // TODO: return the file in blocking mode.
    todo!("open without waiting for a reader")
}

/// Opens the FIFO at `path` for writing, waiting until a reader opens it, writes `message`, and
/// closes it (the reader then sees EOF).
///
/// # References
/// `fifo(7)`: "opening the FIFO blocks until the other end is opened also".
pub fn send(path: &Path, message: &[u8]) -> io::Result<()> {
    // TODO: open for writing (waiting for a reader), write the whole message, close.
    todo!("send a message through the FIFO")
}
