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

use std::fs::File;
use std::io;

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
    // TODO: an exclusive lock of `kind` on the whole file, without waiting.
    todo!("try a {kind:?} lock")
}

/// Releases the lock of `kind` this file (or, for [`Kind::Posix`], this process) holds.
pub fn unlock(file: &File, kind: Kind) -> io::Result<()> {
    // TODO: release it.
    todo!("release a {kind:?} lock")
}
