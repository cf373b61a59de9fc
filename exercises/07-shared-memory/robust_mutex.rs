//! A process-shared, robust mutex: a lock that survives the death of its holder.
//!
//! Scenario: several processes update a record in shared memory under a lock. One of them is
//! killed (SIGKILL, the OOM killer) while it holds the lock, half-way through an update. With an
//! ordinary mutex every other process now waits forever. A robust mutex is released by the
//! kernel when its owner dies, and the next locker is told so (`EOWNERDEAD`): it owns the lock,
//! must repair the data, then mark the mutex consistent. If it unlocks without doing so, the
//! mutex becomes unusable (`ENOTRECOVERABLE`) for everyone: a broken record is never handed on
//! silently.
//!
//! Goal: [`RobustMutex::init`] (process-shared and robust), [`RobustMutex::lock`] telling a
//! clean lock from a dead owner's, [`RobustMutex::make_consistent`], [`RobustMutex::unlock`].
//!
//! Read: docs/src/07-shared-memory.md#robust_mutex. Check:
//! `cargo xtask check shared-memory/robust_mutex`.
//!
//! # References
//! `pthread_mutexattr_setpshared(3)`, `pthread_mutexattr_setrobust(3)`,
//! `pthread_mutex_consistent(3)`, `get_robust_list(2)`

use std::cell::UnsafeCell;
use std::io;

/// A `pthread_mutex_t` placed in shared memory. `#[repr(C)]` so that its offset is the same in
/// every process; it must never move once initialised (the kernel's robust list and the waiters'
/// futex refer to its address).
#[repr(C)]
pub struct RobustMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: a pthread mutex is designed to be used from several threads at once; all access goes
// through the pthread functions, which synchronise internally.
unsafe impl Sync for RobustMutex {}

/// How [`RobustMutex::lock`] got the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// The previous holder unlocked it: the data is consistent.
    Clean,
    /// The previous holder died holding it (`EOWNERDEAD`): we own the lock, the data may be
    /// half-updated. Repair it, then call [`RobustMutex::make_consistent`] before unlocking.
    OwnerDied,
}

impl RobustMutex {
    /// Initialises a process-shared, robust mutex at `this`, unlocked.
    ///
    /// # Safety
    /// `this` must point to writable memory valid for a `RobustMutex`, suitably aligned, that
    /// no process uses as a mutex yet (re-initialising a mutex in use is undefined behaviour),
    /// and that stays mapped at that address while the mutex is used.
    pub unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        // TODO: initialise the pthread mutex at `this` so that it works across processes and
        // survives the death of its holder.
        todo!("initialise the mutex")
    }

    /// Locks, waiting as long as another process holds the mutex. Tells whether the previous
    /// holder died holding it. Fails with ENOTRECOVERABLE when a previous owner-dead locker
    /// unlocked without [`make_consistent`](Self::make_consistent).
    pub fn lock(&self) -> io::Result<Locked> {
        // TODO: lock, telling a normal lock from one whose previous holder died.
        todo!("lock the mutex")
    }

    /// Marks the state the dead owner left as repaired. Only after [`Locked::OwnerDied`], while
    /// holding the lock.
    pub fn make_consistent(&self) -> io::Result<()> {
        // TODO: declare the state repaired.
        todo!("mark the mutex consistent")
    }

    /// Unlocks a mutex this thread holds.
    pub fn unlock(&self) -> io::Result<()> {
        // TODO: unlock.
        todo!("unlock the mutex")
    }
}
