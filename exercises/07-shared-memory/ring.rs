//! A single-producer, single-consumer ring buffer of `u64`s between two processes.
//!
//! Scenario: one process produces numbers, another consumes them, through a segment both have
//! mapped. No lock: the producer is the only writer of `tail` and of the slots it fills, the
//! consumer the only writer of `head`. What makes it correct is the order in which each side's
//! writes become visible to the other: a slot must be visible before the `tail` that publishes
//! it, and a slot must be read before the `head` that gives it back.
//!
//! Goal: [`Producer::try_push`] and [`Consumer::try_pop`]. The layout ([`Header`], the slots
//! after it) is the contract both processes share: it is given.
//!
//! Read: docs/src/07-shared-memory.md#ring. Check: `cargo xtask check shared-memory/ring`.
//!
//! # References
//! `std::sync::atomic` (the `Ordering` docs), the Rustonomicon's chapter on atomics

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::segment::Segment;

/// Aligns its content to a cache line (64 bytes on x86-64 and most arm64 cores), so that the
/// producer's `tail` and the consumer's `head` never share a line: two cores writing the same
/// line bounce it between their caches on every write (false sharing).
#[repr(C, align(64))]
#[derive(Debug)]
pub struct CacheLine<T>(pub T);

/// The start of the segment. `#[repr(C)]`: both processes must agree on every offset, and Rust
/// may reorder the fields of a plain struct. Only numbers: a pointer (a `Box`, a `&str`, a
/// `Vec`) would point into the address space of the process that wrote it, meaningless in the
/// other one.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// How many values were ever taken out. Written only by the consumer.
    pub head: CacheLine<AtomicU64>,
    /// How many values were ever put in. Written only by the producer.
    pub tail: CacheLine<AtomicU64>,
    /// The number of slots, written once by [`init`] before the peer starts.
    pub capacity: CacheLine<AtomicU64>,
}

/// The bytes a segment needs for a ring of `capacity` values.
pub fn bytes_for(capacity: usize) -> usize {
    size_of::<Header>() + capacity * size_of::<AtomicU64>()
}

/// Writes an empty ring of `capacity` slots into `segment`. Call it once, before the other
/// process attaches.
pub fn init(segment: &Segment, capacity: usize) -> io::Result<()> {
    if capacity == 0 || bytes_for(capacity) > segment.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a ring of {capacity} slots needs {} bytes, the segment has {}",
                bytes_for(capacity),
                segment.len()
            ),
        ));
    }
    let ring = Ring::over(segment)?;
    ring.header.head.0.store(0, Ordering::Relaxed);
    ring.header.tail.0.store(0, Ordering::Relaxed);
    ring.header
        .capacity
        .0
        .store(capacity as u64, Ordering::Release);
    Ok(())
}

/// The view of a ring both ends share.
#[derive(Debug)]
struct Ring<'a> {
    header: &'a Header,
    slots: &'a [AtomicU64],
}

impl<'a> Ring<'a> {
    fn over(segment: &'a Segment) -> io::Result<Self> {
        if segment.len() < size_of::<Header>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the segment is too small for a ring header",
            ));
        }
        // SAFETY: the mapping is page-aligned (so aligned for `Header`), at least
        // `size_of::<Header>()` bytes long, lives as long as `segment`, and is only accessed
        // through atomics, which are sound to share between threads and processes.
        let header = unsafe { &*segment.as_ptr().cast::<Header>() };
        let capacity = header.capacity.0.load(Ordering::Acquire) as usize;
        let room = (segment.len() - size_of::<Header>()) / size_of::<AtomicU64>();
        let capacity = capacity.min(room);
        // SAFETY: the slots start right after the header (a multiple of 64 bytes, so aligned
        // for `AtomicU64`), and `capacity` slots fit in the mapping (clamped just above).
        let slots = unsafe {
            std::slice::from_raw_parts(
                segment
                    .as_ptr()
                    .add(size_of::<Header>())
                    .cast::<AtomicU64>(),
                capacity,
            )
        };
        Ok(Ring { header, slots })
    }
}

/// The producing end: one per ring, in one process.
#[derive(Debug)]
pub struct Producer {
    segment: Segment,
}

impl Producer {
    /// Becomes the producer of the ring [`init`] wrote into `segment`.
    pub fn attach(segment: Segment) -> io::Result<Self> {
        check_initialised(&segment)?;
        Ok(Producer { segment })
    }

    /// Puts `value` in the ring; `false` when the ring is full (nothing is written then).
    pub fn try_push(&mut self, value: u64) -> bool {
        let ring = Ring::over(&self.segment).expect("checked in attach");
        // TODO: put `value` in the next free slot and publish it to the consumer, or refuse
        // when every slot holds a value the consumer has not taken yet.
        todo!("push into a ring of {} slots", ring.slots.len())
    }
}

/// The consuming end: one per ring, in one process.
#[derive(Debug)]
pub struct Consumer {
    segment: Segment,
}

impl Consumer {
    /// Becomes the consumer of the ring [`init`] wrote into `segment`.
    pub fn attach(segment: Segment) -> io::Result<Self> {
        check_initialised(&segment)?;
        Ok(Consumer { segment })
    }

    /// Takes the oldest value out of the ring; `None` when it is empty.
    pub fn try_pop(&mut self) -> Option<u64> {
        let ring = Ring::over(&self.segment).expect("checked in attach");
        // TODO: take the oldest published value and give its slot back to the producer, or
        // `None` when nothing is published.
        todo!("pop from a ring of {} slots", ring.slots.len())
    }
}

fn check_initialised(segment: &Segment) -> io::Result<()> {
    let ring = Ring::over(segment)?;
    if ring.slots.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the segment holds no ring: call ring::init first",
        ));
    }
    Ok(())
}
