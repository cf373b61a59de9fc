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
    // TODO: ask the kernel how many bytes this pipe holds.
    todo!("ask the kernel for the pipe's size")
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
    // TODO: make the pipe hold at least `len` bytes, as the contract above says.
    todo!("grow the pipe")
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
    // TODO: write what fits right now, and report how much.
    todo!("write what fits")
}
