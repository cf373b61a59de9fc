//! A named shared-memory segment, and a nameless one passed over a socket.
//!
//! Scenario: two unrelated processes want to share a few pages of memory. The named way is
//! `shm_open` (a file in the `tmpfs` mounted at /dev/shm), `ftruncate` to give it a size and
//! `mmap` with `MAP_SHARED`. The creator must never open someone else's segment by accident
//! (`O_CREAT | O_EXCL`), must keep it private to its user (mode 0600), and must remove the name
//! when done, or it stays in /dev/shm, holding memory, until the next reboot. The nameless way
//! is `memfd_create`: a file with no name at all, handed to the other process as a file
//! descriptor over a Unix socket (SCM_RIGHTS), with seals that forbid the receiver to change it.
//!
//! Goal: [`create`], [`open`], [`Segment`] (which unlinks the name on drop when it created it),
//! [`sealed_memfd`], [`send_fd`] and [`recv_fd`].
//!
//! Read: docs/src/07-shared-memory.md#segment. Check: `cargo xtask check shared-memory/segment`.
//!
//! # References
//! `shm_open(3)`, `shm_overview(7)`, `ftruncate(2)`, `mmap(2)`, `memfd_create(2)`,
//! `fcntl(2)` (file seals), `unix(7)` (SCM_RIGHTS)

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use memmap2::MmapRaw;

/// A mapping of a POSIX shared-memory segment, shared with every process that maps it.
///
/// The mapping stays valid until the `Segment` drops, even after the name is unlinked: the
/// kernel frees the memory only when the last mapping and the last descriptor are gone.
#[derive(Debug)]
pub struct Segment {
    name: String,
    map: MmapRaw,
    /// Whether this process created the name, and so must remove it.
    owner: bool,
}

impl Segment {
    /// The segment's name, with its leading slash.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the mapping is empty (never true: `create` refuses a size of 0).
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// The first byte of the mapping. Several processes write through it at once: access it only
    /// through atomics or a lock, and never store a pointer into it (the other process maps the
    /// segment at another address).
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Stops owning the name: dropping the segment will no longer unlink it. For a protocol in
    /// which another process removes the name (or already has).
    pub fn forget_name(&mut self) {
        self.owner = false;
    }

    /// Removes the name now (the mapping stays usable); a second unlink fails with `NotFound`.
    pub fn unlink(&mut self) -> io::Result<()> {
        // TODO: remove the name (the mapping stays usable), and remember it is no longer ours.
        todo!("unlink the segment's name")
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // TODO: a segment that created its name must not leave it behind.
    }
}

/// Creates the segment `name` (`/something`) of `len` bytes, readable and writable by this user
/// only, and maps it. Fails with `AlreadyExists` if the name is taken: never reuse a segment
/// that someone else made. The returned segment unlinks the name when dropped.
pub fn create(name: &str, len: usize) -> io::Result<Segment> {
    // TODO: create the name (exclusively, private to this user), size it, map it.
    todo!("create and map the segment {name}")
}

/// Opens and maps the existing segment `name`, whole. Does not unlink it when dropped.
pub fn open(name: &str) -> io::Result<Segment> {
    // TODO: open the existing segment and map all of it.
    todo!("open and map the segment {name}")
}

/// A memfd holding `data`, sealed so that nobody (not even this process) can write, shrink or
/// grow it, or remove the seals: a receiver can map it and trust its contents not to change.
pub fn sealed_memfd(data: &[u8]) -> io::Result<OwnedFd> {
    // TODO: a nameless memory file holding `data`, sealed against every change.
    todo!("make a sealed memfd")
}

/// Sends `fd` over the connected Unix socket `sock` (SCM_RIGHTS) with one byte of data: the
/// receiver gets a new descriptor for the same open file.
pub fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    // TODO: pass the descriptor as ancillary data.
    todo!("send a descriptor over the socket")
}

/// Receives one descriptor sent with [`send_fd`] on `sock`.
pub fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    // TODO: receive one descriptor sent by `send_fd`.
    todo!("receive a descriptor from the socket")
}
