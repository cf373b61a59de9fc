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

/// Turns a pthread return code (the error number itself: pthread functions do not set errno)
/// into a `Result`.
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

impl RobustMutex {
    /// Initialises a process-shared, robust mutex at `this`, unlocked.
    ///
    /// # Safety
    /// `this` must point to writable memory valid for a `RobustMutex`, suitably aligned, that
    /// no process uses as a mutex yet (re-initialising a mutex in use is undefined behaviour),
    /// and that stays mapped at that address while the mutex is used.
    pub unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is valid writable memory for an attribute object.
        check(unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) })?;
        let result = (|| {
            // PTHREAD_PROCESS_SHARED: POSIX allows a mutex to be used by several processes only
            // with this attribute. glibc uses shared futex operations for every robust mutex
            // whatever it says (so forgetting it goes unnoticed here), but private ones for an
            // ordinary mutex without it, whose waiters in other processes are then never woken.
            // SAFETY: `attr` was initialised above.
            check(unsafe {
                libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED)
            })?;
            // PTHREAD_MUTEX_ROBUST: the mutex goes on the owner thread's robust list, which the
            // kernel walks when the thread dies, marking the mutex owner-dead and waking a waiter.
            // SAFETY: `attr` was initialised above.
            check(unsafe {
                libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST)
            })?;
            // SAFETY: the caller guarantees `this` is valid, aligned and not in use; `attr` is
            // initialised.
            check(unsafe { libc::pthread_mutex_init((*this).inner.get(), attr.as_ptr()) })
        })();
        // SAFETY: `attr` was initialised and is destroyed once; the mutex keeps no reference.
        unsafe { libc::pthread_mutexattr_destroy(attr.as_mut_ptr()) };
        result
    }

    /// Locks, waiting as long as another process holds the mutex. Tells whether the previous
    /// holder died holding it. Fails with ENOTRECOVERABLE when a previous owner-dead locker
    /// unlocked without [`make_consistent`](Self::make_consistent).
    pub fn lock(&self) -> io::Result<Locked> {
        // SAFETY: `inner` was initialised by `init` (the caller of `init` promised it stays
        // mapped); pthread_mutex_lock synchronises concurrent callers.
        match unsafe { libc::pthread_mutex_lock(self.inner.get()) } {
            0 => Ok(Locked::Clean),
            libc::EOWNERDEAD => Ok(Locked::OwnerDied),
            rc => check(rc).map(|()| Locked::Clean),
        }
    }

    /// Marks the state the dead owner left as repaired. Only after [`Locked::OwnerDied`], while
    /// holding the lock.
    pub fn make_consistent(&self) -> io::Result<()> {
        // SAFETY: as in `lock`; the call fails with EINVAL if the mutex is not inconsistent.
        check(unsafe { libc::pthread_mutex_consistent(self.inner.get()) })
    }

    /// Unlocks a mutex this thread holds.
    pub fn unlock(&self) -> io::Result<()> {
        // SAFETY: as in `lock`; unlocking a mutex we do not hold fails with EPERM (robust
        // mutexes check the owner).
        check(unsafe { libc::pthread_mutex_unlock(self.inner.get()) })
    }
}
