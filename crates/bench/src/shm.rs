//! Shared memory between two processes: a 64-byte ping-pong over two single-producer
//! single-consumer rings in a shared anonymous mapping, waiting by spinning, by spinning then
//! sleeping on a futex (the policy of the course's `shmchan`), or by sleeping on a futex at
//! once; the same ping-pong between two threads of one process (the hardware floor); a
//! ping-pong over two POSIX message queues; and the bandwidth of a byte ring against `memcpy`.
//!
//! This is a compact copy of the reference design of `shmchan` (week 4), not the course's
//! crate itself: the bench must not depend on a topic crate's `solution` feature, which Cargo
//! would then switch on for the whole workspace.
//!
//! The peer is forked after the mapping exists (`MAP_SHARED | MAP_ANONYMOUS` survives `fork`),
//! and only uses atomics, copies between the mapping and its stack, `futex`, the `mq_*` system
//! call wrappers and `_exit`: no allocation, no lock, so the fork is sound from a
//! multi-threaded benchmark process.
//!
//! # References
//! `mmap(2)`, `futex(2)`, `mq_overview(7)`, `fork(2)`

use std::cell::UnsafeCell;
use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::affinity::{PinGuard, pin_current_thread, set_affinity};

/// The size of a message in the latency benchmarks.
pub const MESSAGE_BYTES: usize = 64;

/// Slots of each latency ring.
const SLOTS: usize = 64;

/// Spins before a [`Wait::SpinThenFutex`] waiter sleeps (as `shmchan`'s `futex::SPINS`).
const SPINS: u32 = 200;

/// The bytes of the bandwidth ring.
pub const BULK_RING_BYTES: usize = 1 << 20;

/// The size of each bulk write (as the pipe and socket bandwidth benchmarks).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// How a side waits for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Re-read the ring until something arrives (a core at 100% meanwhile).
    Spin,
    /// Spin [`SPINS`] times, then sleep on the ring's futex.
    SpinThenFutex,
    /// Sleep on the ring's futex at once.
    Futex,
}

impl Wait {
    /// A short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Wait::Spin => "shm_spin",
            Wait::SpinThenFutex => "shm_spin_then_futex",
            Wait::Futex => "shm_futex",
        }
    }
}

#[repr(C, align(64))]
struct Line<T>(T);

/// One direction of the ping-pong.
#[repr(C)]
struct Ring {
    head: Line<AtomicU64>,
    tail: Line<AtomicU64>,
    /// Futex word bumped on every publish, and the number of sleepers on it.
    seq: Line<(AtomicU32, AtomicU32)>,
    /// The peer writes these bytes while we hold `&Ring`: `UnsafeCell` says so (a plain array
    /// behind a shared reference promises that nobody changes it), and they are reached only
    /// through the raw pointers `UnsafeCell::get` gives.
    slots: [Line<UnsafeCell<[u8; MESSAGE_BYTES]>>; SLOTS],
}

/// The shared mapping of the latency benchmarks: [parent -> peer, peer -> parent], stop flag.
#[repr(C)]
struct PingPong {
    rings: [Ring; 2],
    stop: Line<AtomicU32>,
}

/// The shared mapping of the bandwidth benchmark.
#[repr(C)]
struct Bulk {
    head: Line<AtomicU64>,
    tail: Line<AtomicU64>,
    /// Bytes the parent asks for (0 = stop), bumped with `round`.
    want: Line<AtomicU64>,
    round: Line<AtomicU64>,
    done: Line<AtomicU64>,
    /// Written by the producer and read by the consumer at once, in regions the ring's
    /// counters hand to one side at a time: `UnsafeCell`, reached through raw pointers only.
    data: UnsafeCell<[u8; BULK_RING_BYTES]>,
}

/// A `MAP_SHARED | MAP_ANONYMOUS` mapping holding a zeroed `T`, unmapped on drop.
struct Shared<T> {
    ptr: *mut T,
}

// SAFETY: the mapping is only accessed through atomics and through byte regions the ring
// protocol hands to one side at a time; the pointer stays valid until drop.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new() -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping: no existing memory is affected. Zeroed pages are a
        // valid `T` for the types used here (atomics and byte arrays).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size_of::<T>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Shared { ptr: ptr.cast() })
    }

    fn get(&self) -> &T {
        // SAFETY: valid, aligned (page-aligned) and initialised (zeroed) until drop.
        unsafe { &*self.ptr }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), size_of::<T>()) };
    }
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT on a valid aligned u32 that lives in the shared mapping; a raw system
    // call, async-signal-safe. Any error (EAGAIN, EINTR) just makes the caller re-check.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a valid aligned u32; a raw system call.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}

impl Ring {
    /// Publishes `msg` (the ring never holds more than one message in a ping-pong, so it is
    /// never full) and wakes a sleeping reader.
    fn send(&self, msg: &[u8; MESSAGE_BYTES]) {
        let tail = self.tail.0.load(Ordering::Relaxed);
        let slot = self.slots[tail as usize % SLOTS].0.get().cast::<u8>();
        // SAFETY: the slot at `tail` is not readable by the consumer until we publish `tail`;
        // the pointer comes from `UnsafeCell::get`, so writing through it is allowed.
        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), slot, MESSAGE_BYTES) };
        self.tail.0.store(tail + 1, Ordering::Release);
        let (seq, sleepers) = (&self.seq.0.0, &self.seq.0.1);
        seq.fetch_add(1, Ordering::SeqCst);
        if sleepers.load(Ordering::SeqCst) > 0 {
            futex_wake(seq);
        }
    }

    /// Waits for a message (or `stop`) and copies it into `out`; `false` when stopped.
    fn recv(&self, out: &mut [u8; MESSAGE_BYTES], wait: Wait, stop: &AtomicU32) -> bool {
        let head = self.head.0.load(Ordering::Relaxed);
        let mut spins = 0u32;
        loop {
            let seq = self.seq.0.0.load(Ordering::SeqCst);
            if self.tail.0.load(Ordering::Acquire) != head {
                break;
            }
            if stop.load(Ordering::Acquire) != 0 {
                return false;
            }
            let sleep = match wait {
                Wait::Spin => false,
                Wait::SpinThenFutex => spins >= SPINS,
                Wait::Futex => true,
            };
            if sleep {
                self.seq.0.1.fetch_add(1, Ordering::SeqCst);
                if self.tail.0.load(Ordering::SeqCst) == head && stop.load(Ordering::SeqCst) == 0 {
                    futex_wait(&self.seq.0.0, seq);
                }
                self.seq.0.1.fetch_sub(1, Ordering::SeqCst);
            } else {
                spins += 1;
                std::hint::spin_loop();
            }
        }
        let slot = self.slots[head as usize % SLOTS]
            .0
            .get()
            .cast::<u8>()
            .cast_const();
        // SAFETY: the Acquire load of `tail` above made the slot's bytes visible; the producer
        // does not reuse it before we publish `head`.
        unsafe { std::ptr::copy_nonoverlapping(slot, out.as_mut_ptr(), MESSAGE_BYTES) };
        self.head.0.store(head + 1, Ordering::Release);
        true
    }
}

/// The echo loop of the peer (a process or a thread): receive on ring 0, answer on ring 1.
fn echo(shared: &PingPong, wait: Wait) {
    let mut buf = [0u8; MESSAGE_BYTES];
    while shared.rings[0].recv(&mut buf, wait, &shared.stop.0) {
        shared.rings[1].send(&buf);
    }
}

/// Where the echoing side runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A forked process.
    Process,
    /// A thread of this process.
    Thread,
}

/// The measuring side of a shared-memory ping-pong with a peer process or thread.
pub struct ShmPingPong {
    shared: std::sync::Arc<Shared<PingPong>>,
    wait: Wait,
    peer: Option<libc::pid_t>,
    thread: Option<std::thread::JoinHandle<()>>,
    buf: [u8; MESSAGE_BYTES],
    _pin: PinGuard,
}

impl std::fmt::Debug for ShmPingPong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmPingPong")
            .field("wait", &self.wait)
            .field("peer", &self.peer)
            .finish()
    }
}

impl ShmPingPong {
    /// Starts the echoing side on `side`, the measuring thread pinned to `cpus.0` and the peer
    /// to `cpus.1`.
    pub fn start(wait: Wait, side: Side, cpus: (usize, usize)) -> io::Result<Self> {
        let shared = std::sync::Arc::new(Shared::<PingPong>::new()?);
        let pin = pin_current_thread(cpus.0)?;
        let (mut peer, mut thread) = (None, None);
        match side {
            Side::Process => {
                // SAFETY: the child only runs `echo` (atomics, copies, futex) and `_exit`.
                match unsafe { libc::fork() } {
                    -1 => return Err(io::Error::last_os_error()),
                    0 => {
                        echo(shared.get(), wait);
                        // SAFETY: async-signal-safe; skips the parent's atexit handlers.
                        unsafe { libc::_exit(0) }
                    }
                    pid => {
                        peer = Some(pid);
                    }
                }
            }
            Side::Thread => {
                let theirs = std::sync::Arc::clone(&shared);
                thread = Some(std::thread::spawn(move || {
                    // Keep the guard for the whole loop: dropping it restores the mask this
                    // thread inherited from the measuring thread (its CPU).
                    let Ok(_pin) = pin_current_thread(cpus.1) else {
                        return;
                    };
                    echo(theirs.get(), wait);
                }));
            }
        }
        let this = ShmPingPong {
            shared,
            wait,
            peer,
            thread,
            buf: [7; MESSAGE_BYTES],
            _pin: pin,
        };
        if let Some(pid) = peer {
            // On error `this` is dropped: the peer is stopped and reaped.
            set_affinity(pid, cpus.1)?;
        }
        Ok(this)
    }

    /// One round trip of a 64-byte message.
    pub fn round_trip(&mut self) -> io::Result<&[u8; MESSAGE_BYTES]> {
        let shared = self.shared.get();
        let msg = self.buf;
        shared.rings[0].send(&msg);
        if !shared.rings[1].recv(&mut self.buf, self.wait, &shared.stop.0) {
            return Err(io::Error::other("the ping-pong was stopped"));
        }
        Ok(&self.buf)
    }
}

impl Drop for ShmPingPong {
    fn drop(&mut self) {
        let shared = self.shared.get();
        shared.stop.0.store(1, Ordering::SeqCst);
        // Wake a sleeping peer so it sees the flag.
        shared.rings[0].seq.0.0.fetch_add(1, Ordering::SeqCst);
        futex_wake(&shared.rings[0].seq.0.0);
        if let Some(pid) = self.peer.take() {
            let _ = crate::spawn::wait_for(pid);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A ping-pong over two POSIX message queues with a forked peer.
#[derive(Debug)]
pub struct MqPingPong {
    to_peer: libc::mqd_t,
    from_peer: libc::mqd_t,
    pid: libc::pid_t,
    buf: [u8; MESSAGE_BYTES],
    _pin: PinGuard,
}

fn mq_create(tag: &str) -> io::Result<libc::mqd_t> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "/proclings-bench-{}-{tag}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let c = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: a zeroed mq_attr is valid; we set the two limits mq_open reads.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = MESSAGE_BYTES as _;
    // SAFETY: `c` is a valid C string; with O_CREAT mq_open takes a mode and an attr pointer.
    let mqd = unsafe {
        libc::mq_open(
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::mode_t,
            &attr as *const libc::mq_attr,
        )
    };
    if mqd == -1 {
        return Err(io::Error::last_os_error());
    }
    // Both processes will hold a descriptor (fork inherits it): the name is no longer needed,
    // and removing it now means nothing can leak.
    // SAFETY: `c` is a valid C string.
    unsafe { libc::mq_unlink(c.as_ptr()) };
    Ok(mqd)
}

impl MqPingPong {
    /// Starts a peer that echoes every message back, pinned like [`ShmPingPong::start`].
    pub fn start(cpus: (usize, usize)) -> io::Result<Self> {
        let to_peer = mq_create("in")?;
        let from_peer = mq_create("out").inspect_err(|_| {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::mq_close(to_peer) };
        })?;
        let pin = pin_current_thread(cpus.0)?;
        // SAFETY: the child only calls mq_receive, mq_send (system call wrappers) and _exit.
        let pid = match unsafe { libc::fork() } {
            -1 => return Err(io::Error::last_os_error()),
            0 => {
                let mut buf = [0u8; MESSAGE_BYTES];
                loop {
                    let mut prio = 0;
                    // SAFETY: `buf` is valid for MESSAGE_BYTES bytes, the queue's msgsize.
                    let n = unsafe {
                        libc::mq_receive(to_peer, buf.as_mut_ptr().cast(), MESSAGE_BYTES, &mut prio)
                    };
                    if n <= 0 {
                        break;
                    }
                    // SAFETY: `n` bytes of `buf` were just filled.
                    if unsafe { libc::mq_send(from_peer, buf.as_ptr().cast(), n as usize, 0) } != 0
                    {
                        break;
                    }
                }
                // SAFETY: async-signal-safe.
                unsafe { libc::_exit(0) }
            }
            pid => pid,
        };
        let this = MqPingPong {
            to_peer,
            from_peer,
            pid,
            buf: [7; MESSAGE_BYTES],
            _pin: pin,
        };
        set_affinity(pid, cpus.1)?;
        Ok(this)
    }

    /// One round trip of a 64-byte message.
    pub fn round_trip(&mut self) -> io::Result<&[u8; MESSAGE_BYTES]> {
        // SAFETY: valid buffers of MESSAGE_BYTES bytes and open queue descriptors.
        unsafe {
            if libc::mq_send(self.to_peer, self.buf.as_ptr().cast(), MESSAGE_BYTES, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut prio = 0;
            let n = libc::mq_receive(
                self.from_peer,
                self.buf.as_mut_ptr().cast(),
                MESSAGE_BYTES,
                &mut prio,
            );
            if n != MESSAGE_BYTES as isize {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(&self.buf)
    }
}

impl Drop for MqPingPong {
    fn drop(&mut self) {
        // A zero-length message stops the peer.
        // SAFETY: a valid descriptor; a zero-length message needs no buffer.
        unsafe { libc::mq_send(self.to_peer, [0u8; 1].as_ptr().cast(), 0, 0) };
        let _ = crate::spawn::wait_for(self.pid);
        // SAFETY: our own descriptors, closed once.
        unsafe {
            libc::mq_close(self.to_peer);
            libc::mq_close(self.from_peer);
        }
    }
}

/// A byte ring of [`BULK_RING_BYTES`] with a forked consumer that copies every chunk out into
/// its own buffer: the bandwidth of a shared-memory transfer (two copies, on two cores).
pub struct ShmBulk {
    shared: Shared<Bulk>,
    pid: libc::pid_t,
    _pin: PinGuard,
}

impl std::fmt::Debug for ShmBulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmBulk").field("pid", &self.pid).finish()
    }
}

fn bulk_consumer(b: &Bulk) {
    let mut out = [0u8; CHUNK_BYTES];
    let mut seen_round = 0;
    loop {
        // Wait (spinning) for a new request.
        let round = loop {
            let r = b.round.0.load(Ordering::Acquire);
            if r != seen_round {
                break r;
            }
            std::hint::spin_loop();
        };
        seen_round = round;
        let want = b.want.0.load(Ordering::Acquire);
        if want == 0 {
            return;
        }
        let mut got = 0;
        while got < want {
            let head = b.head.0.load(Ordering::Relaxed);
            let tail = b.tail.0.load(Ordering::Acquire);
            if tail == head {
                std::hint::spin_loop();
                continue;
            }
            let n = ((tail - head) as usize).min(CHUNK_BYTES);
            let at = head as usize % BULK_RING_BYTES;
            let first = n.min(BULK_RING_BYTES - at);
            // SAFETY: bytes [head, tail) were published by the producer (Acquire above) and are
            // ours until we publish a new head.
            unsafe {
                let base = b.data.get().cast::<u8>().cast_const();
                std::ptr::copy_nonoverlapping(base.add(at), out.as_mut_ptr(), first);
                std::ptr::copy_nonoverlapping(base, out.as_mut_ptr().add(first), n - first);
            }
            std::hint::black_box(&out);
            b.head.0.store(head + n as u64, Ordering::Release);
            got += n as u64;
        }
        b.done.0.store(round, Ordering::Release);
    }
}

impl ShmBulk {
    /// Starts the consumer, pinned like [`ShmPingPong::start`].
    pub fn start(cpus: (usize, usize)) -> io::Result<Self> {
        let shared = Shared::<Bulk>::new()?;
        let pin = pin_current_thread(cpus.0)?;
        // SAFETY: the child only runs `bulk_consumer` (atomics, copies) and `_exit`.
        let pid = match unsafe { libc::fork() } {
            -1 => return Err(io::Error::last_os_error()),
            0 => {
                bulk_consumer(shared.get());
                // SAFETY: async-signal-safe.
                unsafe { libc::_exit(0) }
            }
            pid => pid,
        };
        let this = ShmBulk {
            shared,
            pid,
            _pin: pin,
        };
        set_affinity(pid, cpus.1)?;
        Ok(this)
    }

    /// Sends `count` copies of `chunk` through the ring and waits until the consumer has copied
    /// them all out.
    pub fn send_bulk(&mut self, chunk: &[u8], count: u64) {
        let b = self.shared.get();
        let total = chunk.len() as u64 * count;
        b.want.0.store(total, Ordering::Release);
        let round = b.round.0.fetch_add(1, Ordering::AcqRel) + 1;
        for _ in 0..count {
            let mut off = 0;
            while off < chunk.len() {
                let tail = b.tail.0.load(Ordering::Relaxed);
                let head = b.head.0.load(Ordering::Acquire);
                let free = BULK_RING_BYTES - (tail - head) as usize;
                if free == 0 {
                    std::hint::spin_loop();
                    continue;
                }
                let n = free.min(chunk.len() - off);
                let at = tail as usize % BULK_RING_BYTES;
                let first = n.min(BULK_RING_BYTES - at);
                // SAFETY: bytes [tail, tail + n) are free (the consumer published a head that
                // leaves them) and ours until we publish the new tail; the pointer comes from
                // `UnsafeCell::get`, so writing through it is allowed.
                unsafe {
                    let base = b.data.get().cast::<u8>();
                    std::ptr::copy_nonoverlapping(chunk.as_ptr().add(off), base.add(at), first);
                    std::ptr::copy_nonoverlapping(chunk.as_ptr().add(off + first), base, n - first);
                }
                b.tail.0.store(tail + n as u64, Ordering::Release);
                off += n;
            }
        }
        while b.done.0.load(Ordering::Acquire) != round {
            std::hint::spin_loop();
        }
    }
}

impl Drop for ShmBulk {
    fn drop(&mut self) {
        let b = self.shared.get();
        b.want.0.store(0, Ordering::Release);
        b.round.0.fetch_add(1, Ordering::AcqRel);
        let _ = crate::spawn::wait_for(self.pid);
    }
}

/// The size of the large `memcpy` reference: PERF.md's "64 MiB, one thread", far larger than
/// the caches, so it measures memory bandwidth.
pub const MEMCPY_LARGE_BYTES: usize = 64 << 20;

/// The reference for [`ShmBulk`]: one thread copying chunks into a destination of `len` bytes
/// of the same kind of memory (a shared anonymous mapping, every page touched once), at
/// successive offsets: with `len` = [`BULK_RING_BYTES`] the same cache footprint as the ring,
/// with [`MEMCPY_LARGE_BYTES`] a copy through main memory.
pub struct Memcpy {
    base: *mut u8,
    len: usize,
    at: usize,
}

impl std::fmt::Debug for Memcpy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memcpy").field("len", &self.len).finish()
    }
}

impl Memcpy {
    /// A destination mapping of `len` bytes (a multiple of [`CHUNK_BYTES`]), every page touched.
    pub fn new(len: usize) -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping: no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut m = Memcpy {
            base: ptr.cast(),
            len,
            at: 0,
        };
        let zeros = vec![0u8; CHUNK_BYTES];
        m.copy(&zeros, (len / CHUNK_BYTES) as u64);
        Ok(m)
    }

    /// Copies `count` copies of `chunk` (at most `len` bytes long).
    pub fn copy(&mut self, chunk: &[u8], count: u64) {
        for _ in 0..count {
            if self.at + chunk.len() > self.len {
                self.at = 0;
            }
            // SAFETY: `at + chunk.len()` is within the mapping (checked above); only this
            // value uses it.
            unsafe {
                std::ptr::copy_nonoverlapping(chunk.as_ptr(), self.base.add(self.at), chunk.len())
            };
            self.at += chunk.len();
            std::hint::black_box(self.base);
        }
    }
}

impl Drop for Memcpy {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
