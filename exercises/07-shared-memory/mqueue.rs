//! POSIX message queues and named semaphores: kernel objects with names, shared by processes.
//!
//! Scenario: a message queue carries whole messages (never half of one) with a priority, up to
//! a size and a count fixed when it is created; a named semaphore counts something (free slots,
//! ready jobs) for processes that share no memory at all. Both outlive their processes until
//! someone unlinks their name.
//!
//! Goal: [`Queue`] (create with limits, open, send with a priority, receive the highest
//! priority first, the limits from `mq_getattr`, non-blocking mode, unlink on drop by the
//! creator) and [`Semaphore`] (`sem_open`, post, wait, try_wait, unlink on drop by the creator).
//!
//! Read: docs/src/07-shared-memory.md#mqueue. Check: `cargo xtask check shared-memory/mqueue`.
//!
//! # References
//! `mq_overview(7)`, `mq_open(3)`, `mq_send(3)`, `mq_receive(3)`, `mq_getattr(3)`,
//! `sem_overview(7)`, `sem_open(3)`, `sem_wait(3)`

use std::ffi::CString;
use std::io;

use nix::mqueue::MqdT;

/// The limits and the fill level of a queue, from `mq_getattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many messages the queue holds at most.
    pub max_messages: usize,
    /// The largest message, in bytes.
    pub max_size: usize,
    /// How many messages are in the queue now.
    pub current: usize,
    /// Whether sends and receives fail with EAGAIN instead of waiting.
    pub nonblocking: bool,
}

/// An open message queue. Dropping it closes the descriptor; the creator's also unlinks the name.
#[derive(Debug)]
pub struct Queue {
    mqd: MqdT,
    name: String,
    owner: bool,
}

impl Queue {
    /// Creates the queue `name` (`/something`, exclusive, mode 0600) holding at most
    /// `max_messages` messages of at most `max_size` bytes, open for reading and writing.
    pub fn create(name: &str, max_messages: usize, max_size: usize) -> io::Result<Queue> {
        // TODO
        todo!("create the queue {name}")
    }

    /// Opens the existing queue `name` for reading and writing; does not unlink it on drop.
    pub fn open(name: &str) -> io::Result<Queue> {
        // TODO
        todo!("open the queue {name}")
    }

    /// Sends `msg` with `priority` (0 is lowest). Waits while the queue is full, unless it is
    /// non-blocking (then EAGAIN, `ErrorKind::WouldBlock`). A message longer than the queue's
    /// `max_size` fails with EMSGSIZE.
    pub fn send(&self, msg: &[u8], priority: u32) -> io::Result<()> {
        // TODO
        todo!("send a message")
    }

    /// Receives the oldest message of the highest priority into `buf` and returns its length
    /// and priority. `buf` must hold `max_size` bytes (EMSGSIZE otherwise, even for a short
    /// message). Waits while the queue is empty, unless it is non-blocking (EAGAIN).
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<(usize, u32)> {
        // TODO
        todo!("receive a message")
    }

    /// The queue's limits and how many messages it holds now.
    pub fn limits(&self) -> io::Result<Limits> {
        // TODO
        todo!("read the queue's attributes")
    }

    /// Makes this descriptor's sends and receives fail with EAGAIN instead of waiting (or wait
    /// again, with `false`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        // TODO
        todo!("switch blocking mode")
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // TODO: close the descriptor; the creator also removes the name.
    }
}

/// A named POSIX semaphore (`/dev/shm/sem.NAME` on Linux). Dropping it closes it; the creator's
/// also unlinks the name.
#[derive(Debug)]
pub struct Semaphore {
    sem: *mut libc::sem_t,
    name: CString,
    owner: bool,
}

// SAFETY: a sem_t is meant to be used from many threads and processes at once; all access goes
// through the sem_* functions.
unsafe impl Send for Semaphore {}
// SAFETY: as above.
unsafe impl Sync for Semaphore {}

impl Semaphore {
    /// Creates the semaphore `name` (exclusive, mode 0600) with the count `initial`.
    pub fn create(name: &str, initial: u32) -> io::Result<Semaphore> {
        // TODO
        todo!("create the semaphore {name}")
    }

    /// Opens the existing semaphore `name`; does not unlink it on drop.
    pub fn open(name: &str) -> io::Result<Semaphore> {
        // TODO
        todo!("open the semaphore {name}")
    }

    /// Adds one to the count, waking one waiter if any.
    pub fn post(&self) -> io::Result<()> {
        // TODO
        todo!("post")
    }

    /// Takes one from the count, waiting while it is 0. Retries when a signal interrupts it.
    pub fn wait(&self) -> io::Result<()> {
        // TODO
        todo!("wait")
    }

    /// Takes one from the count if it is above 0; `false` (EAGAIN) if it is 0.
    pub fn try_wait(&self) -> io::Result<bool> {
        // TODO
        todo!("try to wait")
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        // TODO: close the semaphore; the creator also removes the name.
    }
}
