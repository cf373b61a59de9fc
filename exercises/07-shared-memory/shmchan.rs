//! Practice: `shmchan`, a two-way message channel between two processes over shared memory.
//!
//! Scenario: two processes exchange byte messages of any size up to [`MAX_MESSAGE`], as fast as
//! shared memory allows, yet a process blocked in `send` or `recv` must never hang because its
//! peer was killed: it gets [`Error::PeerDied`] within a bounded time. And nothing may stay in
//! /dev/shm, whichever side ends first and however.
//!
//! Contract:
//! - [`create`]`(name)` makes the segment (`O_EXCL`, mode 0600) and returns the creator's end;
//!   [`open`]`(name)` attaches the other end. Each end sends to the other and receives from it.
//! - [`Channel::send`] waits while the peer's ring is full; [`Channel::recv`] waits while
//!   nothing has arrived. [`Channel::try_send`] (`Ok(false)` when full) and
//!   [`Channel::try_recv`] (`Ok(None)` when empty) never wait.
//! - Messages keep their order and their bytes; an empty message is a message. One longer than
//!   [`MAX_MESSAGE`] is [`Error::TooLarge`] and nothing is sent.
//! - [`Channel::close`] (or drop) ends this side: the peer's `recv` still gets every message
//!   sent before, then [`Error::Closed`]; its `send` gets [`Error::Closed`].
//! - A peer that dies (any signal) makes a blocked or later call return [`Error::PeerDied`]
//!   (after the messages it sent) within [`LIVENESS_CHECK`] plus scheduling delays.
//! - The name is removed by whichever side is the last to need it: the opener right after it
//!   connects, or the creator if nobody opened. A creator killed before anyone opened cannot
//!   remove it: `create` of that name then finds the segment's creator dead (the pid and start
//!   time it recorded name no live process), removes the stale segment and creates anew.
//! - A segment whose contents are impossible (a ring's read position past its write position,
//!   a length past the data) is [`Error::Corrupt`], never a panic: the other process wrote it.
//!
//! Read: docs/src/07-shared-memory.md#shmchan. Check: `cargo xtask check shared-memory/shmchan`.
//!
//! # References
//! `shm_overview(7)`, `futex(2)`, `pidfd_open(2)`, `poll(2)`

use std::io;
use std::time::Duration;

use crate::segment::{self, Segment};

/// The longest message, in bytes.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The bytes of each direction's ring (a power of two, several messages of the largest size).
pub const RING_BYTES: usize = 1 << 20;

/// How long a blocked call sleeps at most before it checks that the peer is still alive.
pub const LIVENESS_CHECK: Duration = Duration::from_millis(20);

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message is longer than [`MAX_MESSAGE`]; nothing was sent.
    #[error("message of {len} bytes is longer than the limit of {max}")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// [`MAX_MESSAGE`].
        max: usize,
    },
    /// The peer closed its end (and, for `recv`, every message it sent was received).
    #[error("the peer closed the channel")]
    Closed,
    /// The peer process died without closing.
    #[error("the peer process (pid {0}) died")]
    PeerDied(i32),
    /// The segment is not a channel, or was made by an incompatible version.
    #[error("{0} is not a shmchan segment")]
    NotAChannel(String),
    /// The segment's contents are impossible (a ring's read position past its write position
    /// or further than [`RING_BYTES`] behind it, a length past the data): the other process,
    /// or someone else, wrote what a channel never does.
    #[error("corrupt channel: {0}")]
    Corrupt(String),
    /// A system call failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One end of a channel.
#[derive(Debug)]
pub struct Channel {
    // TODO: what one end needs to remember (the mapping, which side it is, how to watch the
    // peer). The layout of the segment itself is yours to design: both processes run this code.
    segment: Segment,
}

/// Creates the channel `name` (`/something`) and returns the creator's end.
pub fn create(name: &str) -> Result<Channel, Error> {
    // TODO
    todo!("create the channel {name}")
}

/// Attaches to the channel `name` made by [`create`] in another process.
pub fn open(name: &str) -> Result<Channel, Error> {
    // TODO
    todo!("open the channel {name}")
}

impl Channel {
    /// Sends `msg` without waiting: `Ok(false)` when the peer's ring has no room for it now.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<bool, Error> {
        // TODO
        todo!("try to send {} bytes", msg.len())
    }

    /// Sends `msg`, waiting while the peer's ring is full.
    pub fn send(&mut self, msg: &[u8]) -> Result<(), Error> {
        // TODO
        todo!("send {} bytes", msg.len())
    }

    /// Receives the next message into `buf` (replacing its contents) without waiting:
    /// `Ok(false)` when nothing has arrived.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        // TODO
        todo!("try to receive (buffer capacity {})", buf.capacity())
    }

    /// Receives the next message without waiting: `Ok(None)` when nothing has arrived.
    pub fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        // TODO
        todo!("try to receive")
    }

    /// Receives the next message into `buf`, waiting until one arrives.
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        // TODO
        todo!("receive (buffer capacity {})", buf.capacity())
    }

    /// Receives the next message, waiting until one arrives.
    pub fn recv(&mut self) -> Result<Vec<u8>, Error> {
        // TODO
        todo!("receive")
    }

    /// Closes this end: the peer receives what was sent, then [`Error::Closed`].
    pub fn close(self) -> Result<(), Error> {
        // TODO
        todo!("close the channel")
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // TODO: an end that goes away without `close` must still tell the peer, and leave
        // nothing in /dev/shm.
    }
}
