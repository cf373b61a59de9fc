//! Tests for `shared-memory/futex`: an event count on a word of shared memory. The waiter is
//! another process; the tests read its thread's state in /proc to prove it sleeps in the
//! kernel (no CPU), and ping-pong 20,000 times with it to prove no wake-up is lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;

use shared_memory::futex::{EventCount, Wake};
use shared_memory::segment::{self, Segment};
use testkit::shm::{
    Kind, Peer, ShmName, thread_cpu_ticks, thread_sleeps_in_futex, thread_state, thread_syscall,
};
use testkit::{DEFAULT_DEADLINE, try_wait_until};

const PEER: &str = env!("CARGO_BIN_EXE_shm-peer");

/// A 4 KiB segment: EventCounts at 0 and 64, a counter at 128 (the peer's layout).
fn shared(tag: &str) -> (ShmName, Segment) {
    let name = ShmName::new(tag, Kind::Segment);
    let seg = segment::create(name.name(), 4096).expect("create the segment");
    (name, seg)
}

fn event_at(seg: &Segment, offset: usize) -> &EventCount {
    // SAFETY: `offset` is 0 or 64, inside the 4 KiB page-aligned mapping; a fresh segment is
    // zeroed, which is a valid EventCount; it is only used through atomics.
    unsafe { &*seg.as_ptr().add(offset).cast::<EventCount>() }
}

fn counter(seg: &Segment) -> &AtomicU64 {
    // SAFETY: offset 128 is inside the mapping and 8-byte aligned; only used atomically.
    unsafe { &*seg.as_ptr().add(128).cast::<AtomicU64>() }
}

#[test]
fn a_waiting_process_sleeps_in_futex_and_uses_no_cpu() {
    let (name, seg) = shared("futex-sleep");
    let event = event_at(&seg, 0);
    // Two notifications that nobody waits for: they cost nothing, and they do not count for a
    // waiter that takes its ticket afterwards.
    event.notify().expect("notify");
    event.notify().expect("notify");
    let mut peer = Peer::spawn(PEER, &["futex-wait", name.name()]);
    let line = peer.expect("waiting tid ");
    let tid: u32 = line["waiting tid ".len()..].parse().expect("a tid");
    let pid = peer.pid();
    // The waiter may spin a little first; then it must be asleep in the futex system call.
    let asleep = try_wait_until(DEFAULT_DEADLINE, "the waiter to sleep in futex()", || {
        thread_sleeps_in_futex(pid, tid)
    });
    if let Err(e) = asleep {
        panic!(
            "{e}: the waiting thread is in state {:?}, system call {:?} (futex is {}). A waiter \
             that keeps running (state R) burns a core while nothing happens; one that sleeps in \
             nanosleep or poll wakes up for nothing and reacts late. Sleep in FUTEX_WAIT on the \
             shared word.",
            thread_state(pid, tid),
            thread_syscall(pid, tid),
            libc::SYS_futex
        );
    }
    // While it sleeps it uses no CPU time at all: sample its clock ticks across a wait of our
    // own that the kernel timestamps (a futex wait with a timeout on a word nobody changes).
    let before = thread_cpu_ticks(pid, tid).expect("read its CPU time");
    let quiet = EventCount::new();
    let t = quiet.ticket();
    assert_eq!(
        quiet
            .wait(t, Some(Duration::from_millis(300)))
            .expect("wait"),
        Wake::TimedOut
    );
    let after = thread_cpu_ticks(pid, tid).expect("read its CPU time");
    assert!(
        after - before <= 1,
        "the sleeping waiter used {} clock ticks of CPU in 300 ms: it is not really asleep",
        after - before
    );
    // A signal whose handler runs while the waiter sleeps makes FUTEX_WAIT fail with EINTR (the
    // peer's SIGUSR1 handler has no SA_RESTART): that is no notification, and no error either.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGUSR1)
        .expect("send SIGUSR1");
    peer.expect("signal");
    event.notify().expect("notify");
    let woken = peer.try_expect("woken");
    assert_eq!(
        woken.as_deref(),
        Ok("woken: Notified"),
        "notify() must wake the process sleeping on the shared word, also after a signal \
         interrupted its sleep (EINTR means: check the word and sleep again)"
    );
    peer.finish();
}

#[test]
fn a_wait_with_a_timeout_ends_when_nobody_notifies() {
    let (name, _seg) = shared("futex-timeout");
    let rest = Peer::spawn(PEER, &["futex-timeout", name.name(), "100"]).finish();
    assert_eq!(
        rest,
        ["result: TimedOut", "waited the whole timeout"],
        "a wait whose timeout passes without a notification must say TimedOut, and not before \
         the timeout has passed"
    );
}

#[test]
fn notify_enters_the_kernel_only_when_someone_sleeps() {
    let (name, _seg) = shared("futex-alone");
    // The peer forbids itself FUTEX_WAKE on shared futexes (a seccomp filter makes the call
    // fail with EPERM), then notifies 1,000 times while nobody waits: no call may be needed.
    let rest = Peer::spawn(PEER, &["futex-notify-alone", name.name()]).finish();
    assert_eq!(
        rest,
        ["notified 1000 times"],
        "a notification with no sleeper must not cost a system call"
    );
}

#[test]
fn a_notification_before_the_wait_is_not_lost() {
    let (name, seg) = shared("futex-early");
    let event = event_at(&seg, 0);
    // The peer takes its ticket, then we notify before it sleeps... or after: either way its
    // wait must return. We notify as soon as it says it has its ticket.
    let mut peer = Peer::spawn(PEER, &["futex-wait", name.name()]);
    peer.expect("waiting");
    event.notify().expect("notify");
    assert_eq!(peer.expect("woken"), "woken: Notified");
    peer.finish();
}

#[test]
fn no_wake_up_is_lost_in_twenty_thousand_round_trips() {
    const ROUNDS: u64 = 20_000;
    let (name, seg) = shared("futex-pingpong");
    let (ping, pong, count) = (event_at(&seg, 0), event_at(&seg, 64), counter(&seg));
    let rounds = ROUNDS.to_string();
    let peer = Peer::spawn(PEER, &["futex-pingpong", name.name(), &rounds]);
    for round in 0..ROUNDS {
        count.store(2 * round + 1, Ordering::Release);
        ping.notify().expect("notify ping");
        let want = 2 * round + 2;
        loop {
            let ticket = pong.ticket();
            if count.load(Ordering::Acquire) == want {
                break;
            }
            let wake = pong
                .wait(ticket, Some(Duration::from_secs(20)))
                .expect("wait for pong");
            if wake == Wake::TimedOut && count.load(Ordering::Acquire) != want {
                panic!(
                    "round {round}: no wake-up for 20 s although the counter is {} (want {want}): \
                     a notification was lost. Does notify() skip the wake when it wrongly thinks \
                     nobody sleeps, or does wait() sleep without the kernel checking the word? \
                     Peer's stderr:\n{}",
                    count.load(Ordering::Acquire),
                    peer.stderr()
                );
            }
        }
    }
    assert_eq!(peer.finish(), ["done"]);
}

#[test]
fn one_notify_wakes_every_sleeping_process() {
    let (name, seg) = shared("futex-two");
    let event = event_at(&seg, 0);
    let mut peers: Vec<(Peer, u32)> = (0..2)
        .map(|_| {
            let mut peer = Peer::spawn(PEER, &["futex-wait", name.name()]);
            let line = peer.expect("waiting tid ");
            let tid: u32 = line["waiting tid ".len()..].parse().expect("a tid");
            (peer, tid)
        })
        .collect();
    let asleep = |peers: &[(Peer, u32)]| {
        peers
            .iter()
            .filter(|(p, tid)| thread_sleeps_in_futex(p.pid(), *tid))
            .count()
    };
    try_wait_until(DEFAULT_DEADLINE, "both waiters to sleep in futex()", || {
        asleep(&peers) == 2
    })
    .unwrap_or_else(|e| panic!("{e}: {} of 2 waiters sleep in FUTEX_WAIT", asleep(&peers)));
    event.notify().expect("notify");
    if let Err(e) = try_wait_until(DEFAULT_DEADLINE, "every waiter to wake", || {
        asleep(&peers) == 0
    }) {
        let left = asleep(&peers);
        if left == 2 {
            panic!(
                "{e}: two processes slept on the event and one notify() woke neither. A futex \
                 shared between processes must not be FUTEX_PRIVATE, in wait as in wake: a \
                 private futex is keyed by the waiter's own address space, where the notifier \
                 never looks"
            );
        }
        panic!(
            "{e}: two processes slept on the event and one notify() left {left} of them \
             asleep. notify wakes every waiter whose ticket is older: FUTEX_WAKE with a count \
             of i32::MAX (\"all\"), not 1"
        );
    }
    for (peer, _) in &mut peers {
        assert_eq!(peer.expect("woken"), "woken: Notified");
    }
    for (peer, _) in peers {
        peer.finish();
    }
}
