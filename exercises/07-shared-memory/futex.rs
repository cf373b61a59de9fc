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
use std::sync::atomic::AtomicU32;
use std::time::Duration;

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
        // TODO: the current sequence number.
        todo!("take a ticket")
    }

    /// Waits until a notification after `ticket`, or until `timeout` passes (`None`: no limit).
    /// Spins [`SPINS`] times, then sleeps in `FUTEX_WAIT`, which uses no CPU at all.
    pub fn wait(&self, ticket: u32, timeout: Option<Duration>) -> io::Result<Wake> {
        // TODO: return as soon as the sequence moves past `ticket`; spin a little, then sleep in
        // the kernel until woken or until the timeout passes. Never miss a notification.
        todo!("wait for a notification after ticket {ticket}")
    }

    /// Wakes every waiter whose ticket is older than now. Call it AFTER publishing what they
    /// wait for. Costs a system call only when someone sleeps.
    pub fn notify(&self) -> io::Result<()> {
        // TODO: move the sequence on, and wake whoever sleeps on it (only if someone does).
        todo!("notify the waiters")
    }
}
