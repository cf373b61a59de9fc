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
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
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
    /// `mkfifo(3)`, `umask(2)`, `fchmod(2)`, `fifo(7)`.
    pub fn create(path: &Path) -> io::Result<Fifo> {
        // mkfifo fails with EEXIST instead of replacing: another program's file is never ours.
        nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)?;
        // mkfifo applies the umask (mode & ~umask): a umask of 0277 would leave 0400. The mode
        // is set afterwards, on the FIFO itself: chmod by name would follow whatever the name
        // holds by then (another process may have put a symlink there), and changing the
        // process-wide umask around mkfifo would change it for every thread creating files.
        // Opening for reading with O_NONBLOCK returns at once (no writer needed), O_NOFOLLOW
        // refuses a symlink.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)?;
        if !file.metadata()?.file_type().is_fifo() {
            // Someone replaced the name already: that file is not ours to change or remove.
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} was replaced after mkfifo", path.display()),
            ));
        }
        let fifo = Fifo {
            path: path.to_path_buf(),
        };
        // fchmod is not filtered by the umask: the mode is exactly 0600.
        file.set_permissions(Permissions::from_mode(0o600))?;
        Ok(fifo)
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        // Unlinking removes the name only: processes that have it open keep using the pipe.
        // An error (already removed by someone else) leaves nothing to clean up.
        let _ = fs::remove_file(&self.path);
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
    let opened = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        // ENXIO is the kernel's answer "no reader yet": an expected outcome, not a failure.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Ok(None),
        Err(e) => return Err(e),
    };
    // O_NONBLOCK was for the open only: clear it so writes wait when the pipe is full instead
    // of failing with EAGAIN.
    let flags = OFlag::from_bits_retain(fcntl(file.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(file.as_fd(), FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(Some(file))
}

/// Opens the FIFO at `path` for writing, waiting until a reader opens it, writes `message`, and
/// closes it (the reader then sees EOF).
///
/// # References
/// `fifo(7)`: "opening the FIFO blocks until the other end is opened also".
pub fn send(path: &Path, message: &[u8]) -> io::Result<()> {
    // A plain open for writing blocks in the kernel until some process opens the read side.
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.write_all(message)?;
    // Dropping the file closes the only write end: the reader's next read returns EOF.
    Ok(())
}
