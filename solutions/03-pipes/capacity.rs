//! Pipe capacity, and the deadlock of writing more than a pipe holds.
//!
//! Scenario: a parent hands a large message to a child through a pipe, but the child reads it
//! only later (it is busy starting up). `write` blocks as soon as the pipe is full, so the parent
//! hangs until the child reads, and if the child is itself waiting for the parent, forever.
//!
//! Goal: implement [`capacity`] (`F_GETPIPE_SZ`), [`grow_to_fit`] (`F_SETPIPE_SZ`, so that a
//! message fits without blocking) and [`write_without_blocking`] (`O_NONBLOCK`: write what fits,
//! report how much, and never block).
//!
//! Linux only: `F_GETPIPE_SZ` and `F_SETPIPE_SZ` do not exist on other Unix systems.
//!
//! Chapter: `docs/src/03-pipes.md#capacity`. Check it with `cargo xtask check pipes/capacity`.

use std::io::{self, PipeWriter, Write};
use std::os::fd::AsFd;

use nix::fcntl::{FcntlArg, OFlag, fcntl};

/// How many bytes the pipe behind `pipe` (either end) can hold before a writer blocks.
///
/// # References
/// `fcntl(2)`, `F_GETPIPE_SZ`; `pipe(7)`, "Pipe capacity".
pub fn capacity(pipe: impl AsFd) -> io::Result<usize> {
    let size = fcntl(pipe.as_fd(), FcntlArg::F_GETPIPE_SZ)?;
    // fcntl returns a non-negative size on success; a negative one would be an error.
    usize::try_from(size).map_err(|_| io::Error::other("F_GETPIPE_SZ returned a negative size"))
}

/// Makes the pipe behind `pipe` hold at least `len` bytes and returns its new capacity.
///
/// Never shrinks a pipe that is already large enough. The kernel rounds the size up to a power
/// of two pages; an unprivileged process may not go beyond `/proc/sys/fs/pipe-max-size`
/// (1 MiB by default) and gets `EPERM` if it asks for more.
///
/// # References
/// `fcntl(2)`, `F_SETPIPE_SZ`.
pub fn grow_to_fit(pipe: impl AsFd, len: usize) -> io::Result<usize> {
    let current = capacity(pipe.as_fd())?;
    if current >= len {
        // Shrinking could fail (EBUSY) when the pipe holds more than the new size, and it would
        // only make later writes block sooner.
        return Ok(current);
    }
    let wanted = i32::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a pipe cannot be that large"))?;
    // F_SETPIPE_SZ returns the size actually set, after rounding up.
    let set = fcntl(pipe.as_fd(), FcntlArg::F_SETPIPE_SZ(wanted))?;
    usize::try_from(set).map_err(|_| io::Error::other("F_SETPIPE_SZ returned a negative size"))
}

/// Writes as much of `data` as fits into the pipe right now and returns how many bytes that was;
/// never blocks. The pipe is left in the blocking mode it was in, also when the write fails.
///
/// A full pipe is not an error (it is the count so far); any other failure is, such as
/// `BrokenPipe` when no reader is left.
///
/// # References
/// `pipe(7)` on `O_NONBLOCK`; `fcntl(2)`, `F_GETFL`/`F_SETFL`.
pub fn write_without_blocking(pipe: &mut PipeWriter, data: &[u8]) -> io::Result<usize> {
    let flags = OFlag::from_bits_retain(fcntl(pipe.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(pipe.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    let result = write_until_full(pipe, data);
    // O_NONBLOCK belongs to the open file description, shared by every copy of this fd (also a
    // child's): restore it even when the write failed, or every later write would be affected.
    let restored = fcntl(pipe.as_fd(), FcntlArg::F_SETFL(flags));
    let written = result?;
    restored?;
    Ok(written)
}

/// Writes until `data` is exhausted or the pipe is full (`EAGAIN`, `ErrorKind::WouldBlock`).
fn write_until_full(pipe: &mut PipeWriter, data: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < data.len() {
        match pipe.write(&data[written..]) {
            // A non-blocking write into a nearly full pipe may be partial: count it and retry,
            // the next one reports EAGAIN if nothing more fits.
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // No `Interrupted` arm: a non-blocking write never sleeps, so no signal can
            // interrupt it. Any other error (`BrokenPipe`: no reader left) is not "full".
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}
