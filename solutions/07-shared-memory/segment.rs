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

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use memmap2::{MmapOptions, MmapRaw};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use rustix::fs::{MemfdFlags, Mode, SealFlags};
use rustix::shm;

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
        self.owner = false;
        shm::unlink(self.name.as_str()).map_err(io::Error::from)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.owner {
            // The name is ours: without this it would outlive every process, in /dev/shm.
            let _ = shm::unlink(self.name.as_str());
        }
    }
}

/// Creates the segment `name` (`/something`) of `len` bytes, readable and writable by this user
/// only, and maps it. Fails with `AlreadyExists` if the name is taken: never reuse a segment
/// that someone else made. The returned segment unlinks the name when dropped.
pub fn create(name: &str, len: usize) -> io::Result<Segment> {
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a segment needs at least one byte",
        ));
    }
    // O_EXCL: fail instead of opening a segment a crashed run (or another user) left behind.
    let fd = shm::open(
        name,
        shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
        Mode::RUSR | Mode::WUSR,
    )?;
    // From here on the name exists: a guard removes it if sizing or mapping fails.
    let mut segment_name = Unlinker(Some(name));
    // A new segment has size 0; mapping past the end of the file would raise SIGBUS on access.
    rustix::fs::ftruncate(&fd, len as u64)?;
    let map = MmapOptions::new().len(len).map_raw(&fd)?;
    segment_name.0 = None;
    // The descriptor can be closed now: the mapping keeps the memory alive.
    Ok(Segment {
        name: name.to_owned(),
        map,
        owner: true,
    })
}

/// Opens and maps the existing segment `name`, whole. Does not unlink it when dropped.
pub fn open(name: &str) -> io::Result<Segment> {
    let fd = shm::open(name, shm::OFlags::RDWR, Mode::empty())?;
    let len = rustix::fs::fstat(&fd)?.st_size as usize;
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("segment {name} has size 0: its creator has not sized it yet"),
        ));
    }
    let map = MmapOptions::new().len(len).map_raw(&fd)?;
    Ok(Segment {
        name: name.to_owned(),
        map,
        owner: false,
    })
}

/// Removes a name on drop unless disarmed: cleanup on the error paths of [`create`].
struct Unlinker<'a>(Option<&'a str>);

impl Drop for Unlinker<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.0 {
            let _ = shm::unlink(name);
        }
    }
}

/// A memfd holding `data`, sealed so that nobody (not even this process) can write, shrink or
/// grow it, or remove the seals: a receiver can map it and trust its contents not to change.
pub fn sealed_memfd(data: &[u8]) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create(
        "proclings-sealed",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut file = File::from(fd);
    file.write_all(data)?;
    // F_SEAL_WRITE fails with EBUSY while a writable shared mapping exists; we have none.
    rustix::fs::fcntl_add_seals(
        &file,
        SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    )?;
    Ok(file.into())
}

/// Sends `fd` over the connected Unix socket `sock` (SCM_RIGHTS) with one byte of data: the
/// receiver gets a new descriptor for the same open file.
pub fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>) -> io::Result<()> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    // Ancillary data needs at least one byte of ordinary data to travel with.
    let iov = [IoSlice::new(b"F")];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)?;
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`] on `sock`.
pub fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    // MSG_CMSG_CLOEXEC: the received descriptor must not leak into programs we exec.
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&raw) = fds.first()
        {
            // SAFETY: the kernel just installed `raw` in our table for us, and nothing else
            // owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(raw) });
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "the message carried no file descriptor",
    ))
}
