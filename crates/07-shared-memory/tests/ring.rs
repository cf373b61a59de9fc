//! Tests for `shared-memory/ring`: a single-producer single-consumer ring between two processes.
//! The producer is always another process (`shm-peer`), so the ring's layout and its atomics
//! are shared for real. Millions of values catch lost, duplicated or reordered ones; small
//! capacities put a wrap-around at every slot.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shared_memory::ring::{self, Consumer};
use shared_memory::segment;
use shared_memory::support::ring_value;
use testkit::shm::{Kind, Peer, ShmName};

const PEER: &str = env!("CARGO_BIN_EXE_shm-peer");

/// A segment holding an empty ring of `capacity` slots, and its consumer end.
fn ring_of(tag: &str, capacity: usize) -> (ShmName, Consumer) {
    let name = ShmName::new(tag, Kind::Segment);
    let seg = segment::create(name.name(), ring::bytes_for(capacity)).expect("create the segment");
    ring::init(&seg, capacity).expect("init the ring");
    (name, Consumer::attach(seg).expect("attach the consumer"))
}

/// Pops `count` values produced by a peer and checks each one, with a deadline per value.
fn consume_in_order(consumer: &mut Consumer, peer: &Peer, count: u64, capacity: usize) {
    let mut spins = 0u32;
    let mut last_progress = Instant::now();
    let mut i = 0;
    while i < count {
        match consumer.try_pop() {
            Some(v) => {
                assert_eq!(
                    v,
                    ring_value(i),
                    "value number {i} of {count} (ring of {capacity} slots) is wrong: got \
                     {v:#x}, expected {:#x}. A value was lost, duplicated or read before it was \
                     written (is `tail` published before the slot, or `head` before the read?)",
                    ring_value(i)
                );
                i += 1;
                last_progress = Instant::now();
            }
            None => {
                spins += 1;
                if spins.is_multiple_of(64) {
                    std::thread::yield_now();
                }
                if last_progress.elapsed() > Duration::from_secs(20) {
                    panic!(
                        "no value arrived for 20 s after {i} of {count} (ring of {capacity} slots): \
                         the producer believes the ring is full, or the consumer that it is \
                         empty. Producer's stderr:\n{}",
                        peer.stderr()
                    );
                }
            }
        }
    }
}

#[test]
fn two_million_values_cross_between_processes_in_order() {
    const COUNT: u64 = 2_000_000;
    let (name, mut consumer) = ring_of("ring-million", 1024);
    let count = COUNT.to_string();
    let peer = Peer::spawn(PEER, &["ring-produce", name.name(), &count]);
    consume_in_order(&mut consumer, &peer, COUNT, 1024);
    assert_eq!(
        consumer.try_pop(),
        None,
        "the ring must be empty after the last value"
    );
    let rest = peer.finish();
    assert_eq!(rest, ["done"], "the producer's last words");
}

#[test]
fn every_capacity_from_one_to_nine_wraps_around_correctly() {
    // With capacity c, value i goes to slot i % c: 5,000 values wrap around every slot
    // hundreds of times, and each capacity puts the boundary somewhere else.
    for capacity in 1..=9 {
        let (name, mut consumer) = ring_of(&format!("ring-cap{capacity}"), capacity);
        let peer = Peer::spawn(PEER, &["ring-produce", name.name(), "5000"]);
        consume_in_order(&mut consumer, &peer, 5000, capacity);
        peer.finish();
    }
}

#[test]
fn a_full_ring_refuses_more_and_an_empty_one_gives_nothing() {
    for capacity in [1, 3, 8] {
        let (name, mut consumer) = ring_of(&format!("ring-full{capacity}"), capacity);
        assert_eq!(consumer.try_pop(), None, "a new ring must be empty");
        // The peer pushes until try_push refuses (at most capacity + 5 tries).
        let limit = (capacity + 5).to_string();
        let peer = Peer::spawn(PEER, &["ring-fill", name.name(), &limit]);
        let rest = peer.finish();
        assert_eq!(
            rest,
            [format!("pushed {capacity}")],
            "a ring of {capacity} slots must accept exactly {capacity} values, then refuse \
             (an off-by-one here overwrites a value the consumer has not read)"
        );
        for i in 0..capacity as u64 {
            assert_eq!(
                consumer.try_pop(),
                Some(ring_value(i)),
                "value {i} of a full ring of {capacity}"
            );
        }
        assert_eq!(
            consumer.try_pop(),
            None,
            "after {capacity} values, a ring of {capacity} must be empty"
        );
    }
}

#[test]
fn slots_freed_by_the_consumer_are_reused_by_the_producer() {
    let capacity = 4;
    let (name, mut consumer) = ring_of("ring-reuse", capacity);
    // First lap: fill, then take two out.
    Peer::spawn(PEER, &["ring-fill", name.name(), "100"]).finish();
    assert_eq!(consumer.try_pop(), Some(ring_value(0)));
    assert_eq!(consumer.try_pop(), Some(ring_value(1)));
    // A second producer process (a fresh attach, counting from 0 again) finds exactly two free
    // slots: the ones our pops released.
    let rest = Peer::spawn(PEER, &["ring-fill", name.name(), "100"]).finish();
    assert_eq!(
        rest,
        ["pushed 2"],
        "after 2 pops from a full ring of {capacity}, exactly 2 slots are free"
    );
    assert_eq!(consumer.try_pop(), Some(ring_value(2)));
    assert_eq!(consumer.try_pop(), Some(ring_value(3)));
    assert_eq!(consumer.try_pop(), Some(ring_value(0)), "the second lap");
    assert_eq!(consumer.try_pop(), Some(ring_value(1)));
    assert_eq!(consumer.try_pop(), None);
}

#[test]
fn a_consumer_in_another_process_reads_what_we_produced() {
    let capacity = 5;
    let name = ShmName::new("ring-rev", Kind::Segment);
    let seg = segment::create(name.name(), ring::bytes_for(capacity)).expect("create");
    ring::init(&seg, capacity).expect("init");
    let mut producer = ring::Producer::attach(seg).expect("attach the producer");
    for i in 0..capacity as u64 {
        assert!(
            producer.try_push(ring_value(i)),
            "push {i} into a ring of {capacity}"
        );
    }
    assert!(
        !producer.try_push(99),
        "a ring of {capacity} slots holding {capacity} values must refuse one more"
    );
    let rest = Peer::spawn(PEER, &["ring-consume", name.name(), "10"]).finish();
    assert_eq!(
        rest,
        [format!("popped {capacity}")],
        "the consumer process must find exactly the {capacity} values we pushed"
    );
    assert!(
        producer.try_push(ring_value(5)),
        "the consumer freed the ring"
    );
}

#[test]
fn a_ring_that_does_not_fit_is_refused_and_a_segment_without_one_cannot_be_attached() {
    let name = ShmName::new("ring-small", Kind::Segment);
    let seg = segment::create(name.name(), ring::bytes_for(4)).expect("create the segment");
    assert!(ring::init(&seg, 0).is_err(), "a ring of 0 slots is refused");
    assert!(
        ring::init(&seg, 5).is_err(),
        "a segment sized for 4 slots cannot hold a ring of 5"
    );
    ring::init(&seg, 4).expect("4 slots fit exactly");
    let tiny_name = ShmName::new("ring-tiny", Kind::Segment);
    let tiny = segment::create(tiny_name.name(), 64).expect("create a 64-byte segment");
    assert!(
        Consumer::attach(tiny).is_err(),
        "a segment smaller than the ring header holds no ring: attach must fail"
    );
    // The ring of 4 slots that did fit works for another process.
    let rest = Peer::spawn(PEER, &["ring-fill", name.name(), "10"]).finish();
    assert_eq!(
        rest,
        ["pushed 4"],
        "the ring of 4 slots in the first segment"
    );
    drop(seg);
}

#[test]
fn a_header_claiming_more_slots_than_the_segment_holds_is_clamped_to_the_segment() {
    // The layout both processes compute: the header, then one `u64` per slot.
    assert_eq!(ring::bytes_for(0), size_of::<ring::Header>());
    assert_eq!(ring::bytes_for(5) - ring::bytes_for(4), size_of::<u64>());
    let name = ShmName::new("ring-forged", Kind::Segment);
    let seg = segment::create(name.name(), ring::bytes_for(4)).expect("create the segment");
    ring::init(&seg, 4).expect("init a ring of 4 slots");
    // A header that lies (a bug, or a hostile process) claims 1000 slots.
    // SAFETY: the mapping is page-aligned and starts with the `Header` that `init` wrote; its
    // fields are atomics, which the peer process may access at the same time.
    let header = unsafe { &*seg.as_ptr().cast::<ring::Header>() };
    header.capacity.0.store(1000, Ordering::Release);
    let rest = Peer::spawn(PEER, &["ring-fill", name.name(), "50"]).finish();
    assert_eq!(
        rest,
        ["pushed 4"],
        "the segment has room for 4 slots: a producer that believes the header's 1000 writes \
         past the end of the segment"
    );
    drop(seg);
}
