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

use std::cell::UnsafeCell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::futex::{EventCount, Wake};
use crate::ring::CacheLine;
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

/// "SHMCHAN1": the last word the creator writes, so an opener knows the layout is ready.
const MAGIC: u64 = 0x314e_4148_434d_4853;

const WAITING: u32 = 0;
const CONNECTED: u32 = 1;
const ABANDONED: u32 = 2;

/// The control block at the start of the segment. `#[repr(C)]`, numbers only.
#[repr(C)]
struct Control {
    magic: AtomicU64,
    /// WAITING, then CONNECTED (an opener attached) or ABANDONED (the creator left first).
    state: AtomicU32,
    /// The two ends' pids: [creator, opener].
    pids: [AtomicI32; 2],
    /// The two ends' start times (field 22 of /proc/PID/stat): with the pid, they name the
    /// process for good, so a pid reused by another process is not taken for the creator.
    starts: [AtomicU64; 2],
    /// Whether each end closed cleanly: [creator, opener].
    closed: [AtomicU32; 2],
}

/// One direction: the writer owns `tail`, the reader owns `head`; both count bytes ever
/// written and read, so `tail - head` is the fill level and `pos % RING_BYTES` the offset.
#[repr(C)]
struct RingHeader {
    head: CacheLine<AtomicU64>,
    tail: CacheLine<AtomicU64>,
    /// Notified by the writer after it publishes a message.
    data_ready: CacheLine<EventCount>,
    /// Notified by the reader after it frees space.
    space_ready: CacheLine<EventCount>,
}

/// The numbers at the start of the segment: control and the two ring headers. Only atomics,
/// so a shared reference to it is sound while the peer changes them.
#[repr(C)]
struct Header {
    control: CacheLine<Control>,
    rings: [RingHeader; 2],
}

/// The whole segment: the header, then the two rings' bytes. Used for its size and offsets
/// only: the peer writes the bytes while we hold the mapping, so no `&` or `&mut` may ever
/// cover them (`UnsafeCell` says so, and the bytes are reached through raw pointers).
#[repr(C)]
struct Layout {
    header: Header,
    data: UnsafeCell<[[u8; RING_BYTES]; 2]>,
}

/// Bytes before each message: its length, little-endian.
const LEN_BYTES: usize = 4;

/// How many bytes a ring holds, `tail - head`, checked: both counters live in memory the other
/// process writes, so an impossible pair is an error, not an overflow.
fn fill(head: u64, tail: u64) -> Result<u64, Error> {
    match tail.checked_sub(head) {
        Some(n) if n <= RING_BYTES as u64 => Ok(n),
        _ => Err(Error::Corrupt(format!(
            "read position {head} and write position {tail} are not within {RING_BYTES} bytes"
        ))),
    }
}

/// One end of a channel.
#[derive(Debug)]
pub struct Channel {
    segment: Segment,
    /// 0 for the creator, 1 for the opener: we send on ring `me`, receive on ring `1 - me`.
    me: usize,
    /// A pidfd of the peer, opened once it is known (it becomes readable when the peer exits).
    peer: Option<OwnedFd>,
    /// Whether the creator still has to decide who removes the name.
    name_pending: bool,
}

/// Creates the channel `name` (`/something`) and returns the creator's end.
pub fn create(name: &str) -> Result<Channel, Error> {
    let segment = match segment::create(name, size_of::<Layout>()) {
        // Left behind by a creator that died before anyone opened it? Then it is ours to
        // remove, and the name free again.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && remove_if_stale(name)? => {
            segment::create(name, size_of::<Layout>())?
        }
        created => created?,
    };
    let channel = Channel {
        segment,
        me: 0,
        peer: None,
        name_pending: true,
    };
    // A fresh segment is all zeroes: heads, tails, event counts and flags start at 0.
    let control = &channel.header().control.0;
    control.pids[0].store(std::process::id() as i32, Ordering::Relaxed);
    control.starts[0].store(start_time(std::process::id())?, Ordering::Relaxed);
    control.state.store(WAITING, Ordering::Relaxed);
    // Release: everything above is visible to whoever reads the magic with Acquire.
    control.magic.store(MAGIC, Ordering::Release);
    Ok(channel)
}

/// Attaches to the channel `name` made by [`create`] in another process, and removes the name:
/// both ends now hold the memory, nobody else needs to find it.
pub fn open(name: &str) -> Result<Channel, Error> {
    let segment = segment::open(name)?;
    if segment.len() < size_of::<Layout>() {
        return Err(Error::NotAChannel(name.to_owned()));
    }
    let mut channel = Channel {
        segment,
        me: 1,
        peer: None,
        name_pending: false,
    };
    let control = &channel.header().control.0;
    if control.magic.load(Ordering::Acquire) != MAGIC {
        return Err(Error::NotAChannel(name.to_owned()));
    }
    control.pids[1].store(std::process::id() as i32, Ordering::Relaxed);
    control.starts[1].store(start_time(std::process::id())?, Ordering::Relaxed);
    // AcqRel: publishes our pid; fails if another opener came first or the creator left.
    if control
        .state
        .compare_exchange(WAITING, CONNECTED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Error::Closed);
    }
    // We connected, so we are the last to need the name. Nobody needs waking: a creator
    // blocked in send or recv learns of us at its next liveness check, and nothing it waits
    // for (data, space) changed.
    channel.segment.unlink()?;
    Ok(channel)
}

/// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    stat.rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().nth(19))
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/stat"))
}

/// Whether the process `pid` that started at `start` still runs. Through a pidfd: once it is
/// open it names one process for good, so the start time read after it, and the poll that
/// says it has not exited, are about that process and not one that reused the pid.
fn alive(pid: i32, start: u64) -> io::Result<bool> {
    let Some(raw) = Pid::from_raw(pid) else {
        return Ok(false);
    };
    let pidfd = match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    match start_time(pid as u32) {
        Ok(now) if now == start => {}
        // Another process has the pid now (or it is gone between the two calls).
        _ => return Ok(false),
    }
    Ok(!exited(&pidfd)?)
}

/// Whether the process behind `pidfd` has exited: a pidfd polls readable once it has.
fn exited(pidfd: &OwnedFd) -> io::Result<bool> {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    Ok(poll(&mut fds, Some(&zero))? > 0)
}

/// Removes the segment `name` if it is a channel that nobody opened and whose creator is dead;
/// `Ok(true)` when the name is free now (removed, here or by someone else), `Ok(false)` when the
/// segment is in use, or is not ours to judge (not a channel, another user's, being made).
fn remove_if_stale(name: &str) -> Result<bool, Error> {
    let shm = |flags| rustix::shm::open(name, flags, rustix::fs::Mode::empty());
    let fd = match shm(rustix::shm::OFlags::RDWR) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(true),
        Err(_) => return Ok(false),
    };
    // Two processes may find the same stale segment: the lock makes them take turns, and the
    // second then sees that the name no longer leads to this file.
    rustix::fs::flock(&fd, rustix::fs::FlockOperation::LockExclusive).map_err(io::Error::from)?;
    let stat = rustix::fs::fstat(&fd).map_err(io::Error::from)?;
    if (stat.st_size as usize) < size_of::<Header>() {
        return Ok(false);
    }
    let map = memmap2::MmapOptions::new()
        .len(size_of::<Header>())
        .map_raw(&fd.as_fd())?;
    // SAFETY: the mapping is page-aligned, `size_of::<Header>()` bytes long and lives until
    // the end of this function; the header holds only atomics.
    let header = unsafe { &*map.as_ptr().cast::<Header>() };
    let control = &header.control.0;
    if control.magic.load(Ordering::Acquire) != MAGIC
        || control.state.load(Ordering::Acquire) != WAITING
    {
        return Ok(false);
    }
    let pid = control.pids[0].load(Ordering::Relaxed);
    let start = control.starts[0].load(Ordering::Relaxed);
    if alive(pid, start)? {
        return Ok(false);
    }
    // Still this file under the name (not one a faster process made since)?
    let path = format!("/dev/shm/{}", name.trim_start_matches('/'));
    match std::fs::metadata(&path) {
        Ok(now) if now.dev() == stat.st_dev && now.ino() == stat.st_ino => {}
        Ok(_) => return Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e.into()),
    }
    match rustix::shm::unlink(name) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(true),
        Err(e) => Err(Error::Io(e.into())),
    }
}

impl Channel {
    fn header(&self) -> &Header {
        // SAFETY: the mapping is page-aligned and at least `size_of::<Layout>()` bytes (checked
        // in `open`, sized so in `create`); it lives as long as `self.segment`. The header holds
        // only atomics, which the peer may change behind this shared reference; the reference
        // does not reach the ring bytes, which are only touched through raw pointers.
        unsafe { &*self.segment.as_ptr().cast::<Header>() }
    }

    fn data_ptr(&self, ring: usize) -> *mut u8 {
        // SAFETY: `data` lies within the mapping (see `header`); `ring` is 0 or 1. The pointer
        // comes from the mapping's raw pointer, not from a reference, so writing through it
        // is allowed.
        unsafe {
            self.segment
                .as_ptr()
                .add(std::mem::offset_of!(Layout, data) + ring * RING_BYTES)
        }
    }

    /// Copies `bytes` into ring `ring` at byte position `pos`, wrapping at the end.
    fn copy_in(&self, ring: usize, pos: u64, bytes: &[u8]) {
        let at = (pos % RING_BYTES as u64) as usize;
        let first = bytes.len().min(RING_BYTES - at);
        let base = self.data_ptr(ring);
        // SAFETY: both pieces lie within the ring's RING_BYTES; the protocol (tail - head <=
        // RING_BYTES, checked by the sender) makes this region ours until we publish `tail`.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(at), first);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), base, bytes.len() - first);
        }
    }

    /// Copies `out.len()` bytes out of ring `ring` from byte position `pos`, wrapping.
    fn copy_out(&self, ring: usize, pos: u64, out: &mut [u8]) {
        let at = (pos % RING_BYTES as u64) as usize;
        let first = out.len().min(RING_BYTES - at);
        let base = self.data_ptr(ring);
        // SAFETY: as in `copy_in`; bytes below the `tail` we loaded with Acquire are written
        // and stay untouched until we publish a `head` past them.
        unsafe {
            std::ptr::copy_nonoverlapping(base.add(at), out.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(base, out.as_mut_ptr().add(first), out.len() - first);
        }
    }

    /// Sends `msg` without waiting: `Ok(false)` when the peer's ring has no room for it now.
    pub fn try_send(&mut self, msg: &[u8]) -> Result<bool, Error> {
        if msg.len() > MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: msg.len(),
                max: MAX_MESSAGE,
            });
        }
        self.check_closed()?;
        let ring = &self.header().rings[self.me];
        let tail = ring.tail.0.load(Ordering::Relaxed);
        // Acquire: the reader's copies out of the space we are about to reuse are done.
        let head = ring.head.0.load(Ordering::Acquire);
        let need = (LEN_BYTES + msg.len()) as u64;
        if RING_BYTES as u64 - fill(head, tail)? < need {
            // Full: only now is a liveness check worth its system call.
            self.check_peer_alive()?;
            return Ok(false);
        }
        self.copy_in(self.me, tail, &(msg.len() as u32).to_le_bytes());
        self.copy_in(self.me, tail + LEN_BYTES as u64, msg);
        // Release: the bytes are visible before the tail that publishes them.
        ring.tail.0.store(tail + need, Ordering::Release);
        ring.data_ready.0.notify()?;
        Ok(true)
    }

    /// Sends `msg`, waiting while the peer's ring is full.
    pub fn send(&mut self, msg: &[u8]) -> Result<(), Error> {
        loop {
            let ticket = self.header().rings[self.me].space_ready.0.ticket();
            if self.try_send(msg)? {
                return Ok(());
            }
            self.wait(self.me, ticket, |r| &r.space_ready.0)?;
        }
    }

    /// Receives the next message into `buf` (replacing its contents) without waiting:
    /// `Ok(false)` when nothing has arrived.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        let from = 1 - self.me;
        let ring = &self.header().rings[from];
        let head = ring.head.0.load(Ordering::Relaxed);
        // Acquire: pairs with the sender's Release store of `tail`.
        let tail = ring.tail.0.load(Ordering::Acquire);
        let available = fill(head, tail)?;
        if available == 0 {
            // Nothing left: only now does a closed or dead peer matter, so that every message
            // it sent is still delivered.
            self.check_closed()?;
            self.check_peer_alive()?;
            return Ok(false);
        }
        let mut len = [0u8; LEN_BYTES];
        self.copy_out(from, head, &mut len);
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_MESSAGE || (LEN_BYTES + len) as u64 > available {
            return Err(Error::Corrupt(format!(
                "a message of {len} bytes, {available} bytes in the ring"
            )));
        }
        buf.resize(len, 0);
        self.copy_out(from, head + LEN_BYTES as u64, buf);
        // Release: our copy is done before the sender may overwrite these bytes.
        ring.head
            .0
            .store(head + (LEN_BYTES + len) as u64, Ordering::Release);
        ring.space_ready.0.notify()?;
        Ok(true)
    }

    /// Receives the next message without waiting: `Ok(None)` when nothing has arrived.
    pub fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = Vec::new();
        Ok(self.try_recv_into(&mut buf)?.then_some(buf))
    }

    /// Receives the next message into `buf`, waiting until one arrives.
    pub fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let from = 1 - self.me;
        loop {
            let ticket = self.header().rings[from].data_ready.0.ticket();
            if self.try_recv_into(buf)? {
                return Ok(());
            }
            self.wait(from, ticket, |r| &r.data_ready.0)?;
        }
    }

    /// Receives the next message, waiting until one arrives.
    pub fn recv(&mut self) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf)?;
        Ok(buf)
    }

    /// Sleeps on one of ring `ring`'s event counts until notified, or for at most
    /// [`LIVENESS_CHECK`]; the callers' loops then re-check the ring and the peer.
    fn wait(
        &self,
        ring: usize,
        ticket: u32,
        event: impl Fn(&RingHeader) -> &EventCount,
    ) -> Result<(), Error> {
        let _: Wake = event(&self.header().rings[ring]).wait(ticket, Some(LIVENESS_CHECK))?;
        Ok(())
    }

    /// `Err(Closed)` if the peer closed its end.
    fn check_closed(&self) -> Result<(), Error> {
        if self.header().control.0.closed[1 - self.me].load(Ordering::Acquire) != 0 {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// `Err(PeerDied)` if the peer's process is gone (`Err(Closed)` if it closed first).
    fn check_peer_alive(&mut self) -> Result<(), Error> {
        let peer = 1 - self.me;
        if self.peer.is_none() {
            // Until an opener connects there is no peer to watch (and nobody to die).
            if self.header().control.0.state.load(Ordering::Acquire) != CONNECTED {
                return Ok(());
            }
            if self.name_pending {
                // The opener removed the name when it connected.
                self.segment.forget_name();
                self.name_pending = false;
            }
            let pid = self.header().control.0.pids[peer].load(Ordering::Relaxed);
            let Some(pid) = Pid::from_raw(pid) else {
                return Err(Error::NotAChannel(self.segment.name().to_owned()));
            };
            match pidfd_open(pid, PidfdFlags::empty()) {
                Ok(fd) => self.peer = Some(fd),
                // ESRCH: already gone (and reaped).
                Err(rustix::io::Errno::SRCH) => return Err(Error::PeerDied(pid.as_raw_pid())),
                Err(e) => return Err(Error::Io(e.into())),
            }
            // The pidfd names whoever has the pid now: the peer, unless it died and the pid
            // was reused in between, which its start time tells.
            let start = self.header().control.0.starts[peer].load(Ordering::Relaxed);
            if start_time(pid.as_raw_pid() as u32).ok() != Some(start) {
                self.check_closed()?;
                return Err(Error::PeerDied(pid.as_raw_pid()));
            }
        }
        if let Some(pidfd) = &self.peer {
            // A pidfd polls readable once its process has exited (zombie or reaped).
            if exited(pidfd)? {
                // A clean close may have raced with the exit: report it as such.
                self.check_closed()?;
                let pid = self.header().control.0.pids[peer].load(Ordering::Relaxed);
                return Err(Error::PeerDied(pid));
            }
        }
        Ok(())
    }

    /// Closes this end: the peer receives what was sent, then [`Error::Closed`].
    pub fn close(self) -> Result<(), Error> {
        drop(self);
        Ok(())
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let header = self.header();
        let control = &header.control.0;
        control.closed[self.me].store(1, Ordering::Release);
        // Wake the peer wherever it sleeps, so it sees the flag now rather than at its next
        // liveness check.
        for ring in &header.rings {
            let _ = ring.data_ready.0.notify();
            let _ = ring.space_ready.0.notify();
        }
        if self.name_pending {
            // Nobody connected: mark the channel abandoned so a late opener fails, and let the
            // segment's drop remove the name. If an opener did connect, the name is its to
            // remove.
            if control
                .state
                .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                self.segment.forget_name();
            }
        }
    }
}
