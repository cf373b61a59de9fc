//! Tests for `shared-memory/robust_mutex`: a process-shared robust mutex in a segment. Holders
//! are other processes (`shm-peer`), killed with SIGKILL while they hold the lock; every lock
//! the test takes itself runs under a deadline, so a mutex that is not robust fails the test
//! instead of hanging it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use shared_memory::robust_mutex::{Locked, RobustMutex};
use shared_memory::segment::{self, Segment};
use testkit::shm::{Kind, Peer, ShmName};
use testkit::{DEFAULT_DEADLINE, call_with_deadline};

const PEER: &str = env!("CARGO_BIN_EXE_shm-peer");

/// A segment with an initialised mutex at 0 and a counter at 64 (the peer's layout).
fn shared(tag: &str) -> (ShmName, Arc<Segment>) {
    let name = ShmName::new(tag, Kind::Segment);
    let seg = segment::create(name.name(), 4096).expect("create the segment");
    // SAFETY: offset 0 of a fresh, page-aligned 4 KiB mapping that no process uses yet, which
    // stays mapped (the Arc keeps the segment) while the mutex is used.
    unsafe { RobustMutex::init(seg.as_ptr().cast()) }.expect("init the mutex");
    (name, Arc::new(seg))
}

fn mutex(seg: &Segment) -> &RobustMutex {
    // SAFETY: `shared` initialised a RobustMutex at offset 0.
    unsafe { &*seg.as_ptr().cast::<RobustMutex>() }
}

fn data(seg: &Segment) -> &AtomicU64 {
    // SAFETY: offset 64 is inside the mapping and aligned; only used atomically.
    unsafe { &*seg.as_ptr().add(64).cast::<AtomicU64>() }
}

/// Locks on a separate thread with a deadline: a non-robust mutex whose holder died would
/// otherwise hang the test forever. The thread unlocks before returning only if `unlock`.
fn lock_with_deadline(seg: &Arc<Segment>, what: &str) -> std::io::Result<Locked> {
    let seg = Arc::clone(seg);
    call_with_deadline(DEFAULT_DEADLINE, move || {
        let m = mutex(&seg);
        let how = m.lock()?;
        if how == Locked::OwnerDied {
            // Repair the half-done update, then declare the state consistent.
            data(&seg).store(0, Ordering::Relaxed);
            m.make_consistent()?;
        }
        m.unlock()?;
        Ok(how)
    })
    .unwrap_or_else(|| {
        panic!(
            "{what}: lock() still waits after {DEFAULT_DEADLINE:?}. The holder is dead: only a \
             ROBUST mutex is released by the kernel when its owner dies (and only a \
             PROCESS_SHARED one can be waited on from another process)"
        )
    })
}

/// Starts a peer that locks the mutex, dirties the data and waits to be killed.
fn holder(name: &ShmName) -> Peer {
    let mut peer = Peer::spawn(PEER, &["mutex-hold", name.name()]);
    assert_eq!(
        peer.expect("locked"),
        "locked: Clean",
        "a fresh mutex locks cleanly"
    );
    peer
}

#[test]
fn the_next_locker_learns_that_the_holder_died_repairs_and_goes_on() {
    let (name, seg) = shared("mutex-dead");
    let mut peer = holder(&name);
    assert_eq!(
        data(&seg).load(Ordering::Relaxed),
        u64::MAX,
        "the holder's half-done update"
    );
    peer.kill();
    let how = lock_with_deadline(&seg, "after the holder was SIGKILLed")
        .expect("lock after the holder died");
    assert_eq!(
        how,
        Locked::OwnerDied,
        "the holder died holding the lock: lock() must report EOWNERDEAD as OwnerDied, so the \
         data it left half-updated gets repaired"
    );
    assert_eq!(
        data(&seg).load(Ordering::Relaxed),
        0,
        "repaired by the test"
    );
    let again = lock_with_deadline(&seg, "after make_consistent").expect("lock again");
    assert_eq!(
        again,
        Locked::Clean,
        "after make_consistent and unlock, the next lock is clean"
    );
}

#[test]
fn unlocking_without_making_consistent_makes_the_mutex_unrecoverable() {
    let (name, seg) = shared("mutex-unrec");
    let mut peer = holder(&name);
    peer.kill();
    let seg2 = Arc::clone(&seg);
    let first = call_with_deadline(DEFAULT_DEADLINE, move || {
        let m = mutex(&seg2);
        let how = m.lock();
        // No repair, no make_consistent: just unlock.
        let _ = m.unlock();
        how
    })
    .expect("lock() hung although the holder is dead: the mutex must be robust");
    assert_eq!(first.expect("first lock"), Locked::OwnerDied);
    let seg3 = Arc::clone(&seg);
    let second = call_with_deadline(DEFAULT_DEADLINE, move || mutex(&seg3).lock())
        .expect("lock() hung on an unrecoverable mutex");
    let e = second.expect_err(
        "an owner-dead mutex unlocked without make_consistent must refuse every later lock",
    );
    assert_eq!(
        e.raw_os_error(),
        Some(libc::ENOTRECOVERABLE),
        "the error must be ENOTRECOVERABLE, got {e}"
    );
}

#[test]
fn two_processes_counting_under_the_lock_lose_no_increment() {
    const EACH: u64 = 50_000;
    let (name, seg) = shared("mutex-count");
    let each = EACH.to_string();
    let a = Peer::spawn(PEER, &["mutex-count", name.name(), &each]);
    let b = Peer::spawn(PEER, &["mutex-count", name.name(), &each]);
    assert_eq!(a.finish(), ["done"]);
    assert_eq!(b.finish(), ["done"]);
    assert_eq!(
        data(&seg).load(Ordering::Relaxed),
        2 * EACH,
        "two processes each added {EACH} under the lock: a lost increment means the lock did \
         not exclude the other process"
    );
}

#[test]
fn a_lock_taken_after_a_clean_unlock_is_clean() {
    let (name, seg) = shared("mutex-clean");
    let mut peer = holder(&name);
    // Closing its stdin lets the holder finish its update and unlock normally.
    peer.close_stdin();
    peer.finish();
    let how = lock_with_deadline(&seg, "after a clean unlock").expect("lock");
    assert_eq!(
        how,
        Locked::Clean,
        "the previous holder unlocked before it exited"
    );
    assert_eq!(
        data(&seg).load(Ordering::Relaxed),
        0,
        "the holder's completed update"
    );
}
