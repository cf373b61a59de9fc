//! Blocking without spinning: a futex on a word in shared memory.
//!
//! Scenario: a consumer that finds the ring empty could spin until something arrives, burning a
//! whole core while nothing happens. A futex lets it sleep in the kernel on a 32-bit word of
//! the shared mapping until the producer wakes it. The danger is the lost wake-up: the consumer
//! decides to sleep, the producer publishes and wakes nobody (no one sleeps yet), then the
//! consumer sleeps forever. `FUTEX_WAIT` closes that window: it sleeps only if the word still
//! holds the value the caller saw, checked atomically with going to sleep.
//!
//! Goal: an [`EventCount`]: a waiter takes a ticket ([`EventCount::ticket`]), re-checks its
//! condition, then [`EventCount::wait`]s on the ticket (spinning a little first); a notifier
//! changes state, then calls [`EventCount::notify`], which enters the kernel only when
//! someone sleeps.
//!
//! Read: docs/src/07-shared-memory.md#futex. Check: `cargo xtask check shared-memory/futex`.
//!
//! # References
//! `futex(2)`, `futex(7)`; Ulrich Drepper, "Futexes Are Tricky"

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::thread::futex;

/// How many times [`EventCount::wait`] re-reads the word before it sleeps: a notification that
/// arrives within a microsecond or so costs no system call at all.
pub const SPINS: u32 = 200;

/// Two words in shared memory: a sequence number that every notification bumps, and the number
/// of waiters asleep (or about to sleep) on it. `#[repr(C)]`: both processes share the layout.
#[repr(C)]
#[derive(Debug, Default)]
pub struct EventCount {
    seq: AtomicU32,
    sleepers: AtomicU32,
}

/// How a [`EventCount::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The sequence moved past the ticket: something was notified.
    Notified,
    /// The timeout passed first.
    TimedOut,
}

impl EventCount {
    /// An event count with no notification yet and nobody waiting.
    pub const fn new() -> Self {
        EventCount {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
        }
    }

    /// Takes a ticket. Take it BEFORE checking the condition you wait for: a notification that
    /// comes after this point then makes [`wait`](Self::wait) return at once.
    pub fn ticket(&self) -> u32 {
        // SeqCst (not only Acquire): with the SeqCst operations in `notify` and `wait` it keeps
        // the ticket, the condition check and the sleeper count in one order both sides see.
        self.seq.load(Ordering::SeqCst)
    }

    /// Waits until a notification after `ticket`, or until `timeout` passes (`None`: no limit).
    /// Spins [`SPINS`] times, then sleeps in `FUTEX_WAIT`, which uses no CPU at all.
    pub fn wait(&self, ticket: u32, timeout: Option<Duration>) -> io::Result<Wake> {
        for _ in 0..SPINS {
            if self.seq.load(Ordering::Acquire) != ticket {
                return Ok(Wake::Notified);
            }
            std::hint::spin_loop();
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        // Announce ourselves before the kernel checks the word: a notifier that bumps `seq`
        // after this sees `sleepers > 0` and wakes us; one that bumped before makes the kernel's
        // check fail (EAGAIN) and we do not sleep at all. Either way no wake-up is lost.
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let result = self.sleep(ticket, deadline);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn sleep(&self, ticket: u32, deadline: Option<Instant>) -> io::Result<Wake> {
        loop {
            if self.seq.load(Ordering::SeqCst) != ticket {
                return Ok(Wake::Notified);
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(Wake::TimedOut),
                },
            };
            let ts = left.map(|l| futex::Timespec {
                tv_sec: l.as_secs() as _,
                tv_nsec: l.subsec_nanos() as _,
            });
            // Not FUTEX_PRIVATE: the waker is another process, and a private futex is keyed by
            // this process's address space, where the other process never looks.
            match futex::wait(&self.seq, futex::Flags::empty(), ticket, ts.as_ref()) {
                // Woken, or the word already differed (EAGAIN), or a signal (EINTR), or the
                // timeout (ETIMEDOUT): the loop re-checks the word and the deadline.
                Ok(()) => {}
                Err(e)
                    if e == rustix::io::Errno::AGAIN
                        || e == rustix::io::Errno::INTR
                        || e == rustix::io::Errno::TIMEDOUT => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Wakes every waiter whose ticket is older than now. Call it AFTER publishing what they
    /// wait for. Costs a system call only when someone sleeps.
    pub fn notify(&self) -> io::Result<()> {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            // The count is an `int` in the kernel: i32::MAX means "all" (u32::MAX would be -1).
            futex::wake(&self.seq, futex::Flags::empty(), i32::MAX as u32)?;
        }
        Ok(())
    }
}
