//! Four ways to lock a file, and what each one is attached to.
//!
//! Scenario: processes that share a file (or a segment, or a pid file) use a lock on it to take
//! turns. Unix has three kinds of advisory file lock, and std adds a fourth API; they differ in
//! WHO owns the lock: an open file description (shared by `dup` and by `fork`), or a process.
//! That decides whether a forked child keeps the lock, and whether closing some unrelated
//! descriptor of the same file silently drops it.
//!
//! Goal: [`try_lock`] (exclusive, never waits) and [`unlock`] for each [`Kind`].
//!
//! Read: docs/src/07-shared-memory.md#file_locks. Check:
//! `cargo xtask check shared-memory/file_locks`.
//!
//! # References
//! `flock(2)`, `fcntl(2)` ("Advisory record locking", "Open file description locks"),
//! `std::fs::File::try_lock`

use std::fs::{File, TryLockError};
use std::io;
use std::os::fd::AsRawFd;

/// Which lock to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `flock(2)`: the whole file, owned by the open file description.
    Flock,
    /// `fcntl(F_SETLK)`, a "POSIX record lock": a byte range, owned by the process.
    Posix,
    /// `fcntl(F_OFD_SETLK)` (Linux 3.15): a byte range, owned by the open file description.
    Ofd,
    /// `File::try_lock` from std (Rust 1.89).
    Std,
}

impl Kind {
    /// Every kind, for tests and demos.
    pub const ALL: [Kind; 4] = [Kind::Flock, Kind::Posix, Kind::Ofd, Kind::Std];

    /// The kind's name as the command line of the test peer spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Flock => "flock",
            Kind::Posix => "posix",
            Kind::Ofd => "ofd",
            Kind::Std => "std",
        }
    }

    /// The kind named `name` (see [`Kind::name`]).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Takes an exclusive lock of `kind` on the whole of `file` without waiting: `Ok(true)` when
/// locked, `Ok(false)` when someone else holds a conflicting lock.
pub fn try_lock(file: &File, kind: Kind) -> io::Result<bool> {
    match kind {
        Kind::Flock => busy_is_false(flock(file, libc::LOCK_EX | libc::LOCK_NB)),
        Kind::Posix => busy_is_false(record_lock(file, libc::F_SETLK, libc::F_WRLCK)),
        Kind::Ofd => busy_is_false(record_lock(file, libc::F_OFD_SETLK, libc::F_WRLCK)),
        Kind::Std => match file.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(e),
        },
    }
}

/// Releases the lock of `kind` this file (or, for [`Kind::Posix`], this process) holds.
pub fn unlock(file: &File, kind: Kind) -> io::Result<()> {
    match kind {
        Kind::Flock => flock(file, libc::LOCK_UN),
        Kind::Posix => record_lock(file, libc::F_SETLK, libc::F_UNLCK),
        Kind::Ofd => record_lock(file, libc::F_OFD_SETLK, libc::F_UNLCK),
        Kind::Std => file.unlock(),
    }
}

/// A conflicting lock is EWOULDBLOCK for flock and EAGAIN or EACCES for fcntl (POSIX allows
/// either): all three mean "busy", not failure.
fn busy_is_false(result: io::Result<()>) -> io::Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::EACCES) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: `file` is an open descriptor for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A `fcntl` record lock on the whole file (`l_start` 0, `l_len` 0 = to the end, however the
/// file grows).
fn record_lock(file: &File, command: libc::c_int, lock_type: libc::c_int) -> io::Result<()> {
    // SAFETY: an all-zero `flock` struct is valid (every field is an integer).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = lock_type as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0;
    // l_pid must be 0 for the OFD commands (EINVAL otherwise); zeroed() did that.
    // SAFETY: `file` is open, `lock` is a valid `struct flock` that outlives the call.
    if unsafe { libc::fcntl(file.as_raw_fd(), command, &mut lock) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
