//! Named pipes (FIFOs): a pipe with a name in the file system, for unrelated processes.
//!
//! Scenario: two programs that did not start each other, a log producer and a viewer, meet at a
//! path. `mkfifo` creates the name; each side opens it like a file; the data still goes through
//! the kernel's pipe buffer, never to disk.
//!
//! Goal: implement [`Fifo::create`] (mode exactly 0600 whatever the umask, never replacing an
//! existing file), its `Drop` (unlink the name), [`try_open_writer`] (`O_NONBLOCK`: no reader
//! means `ENXIO`, reported as `None`), and [`send`] (open blocks until a reader opens).
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
    /// # References
    /// `mkfifo(3)`, `umask(2)`, `chmod(2)`.
    pub fn create(path: &Path) -> io::Result<Fifo> {
        // TODO: `nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)?` (it never replaces).
        // TODO: the umask filtered that mode: set exactly 0600 with `fs::set_permissions`.
        todo!("create the FIFO")
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        // TODO: remove the name from the file system (`fs::remove_file`), ignoring an error.
    }
}

/// Opens the FIFO at `path` for writing if a reader has it open; `Ok(None)` if none does.
///
/// The returned file is in blocking mode, like any ordinary writer.
///
/// # References
/// `fifo(7)` ("opening for write-only with O_NONBLOCK fails with ENXIO unless the other end has
/// already been opened"), `open(2)`.
pub fn try_open_writer(path: &Path) -> io::Result<Option<File>> {
    // TODO: open write-only with `.custom_flags(libc::O_NONBLOCK)`.
    // TODO: `ENXIO` (`e.raw_os_error() == Some(libc::ENXIO)`) means no reader: `Ok(None)`.
    // TODO: clear `O_NONBLOCK` on the opened file (`F_GETFL`, `F_SETFL`) before returning it.
    todo!("open without waiting for a reader")
}

/// Opens the FIFO at `path` for writing, waiting until a reader opens it, writes `message`, and
/// closes it (the reader then sees EOF).
///
/// # References
/// `fifo(7)`: "opening the FIFO blocks until the other end is opened also".
pub fn send(path: &Path, message: &[u8]) -> io::Result<()> {
    // TODO: a plain blocking open for writing, `write_all`, then close (drop).
    todo!("send a message through the FIFO")
}
