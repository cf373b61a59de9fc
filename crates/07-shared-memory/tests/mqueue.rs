//! Tests for `shared-memory/mqueue`: POSIX message queues (priorities, limits, EMSGSIZE,
//! EAGAIN, unlink) and named semaphores, with another process on the other side.
//!
//! /dev/mqueue is not mounted on every machine, so a queue's removal is checked by opening its
//! name afterwards: `mq_open` without `O_CREAT` fails with ENOENT once `mq_unlink` has run.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shared_memory::mqueue::{Queue, Semaphore};
use testkit::shm::{Kind, Peer, ShmName, thread_sleeps_in_futex, thread_state, thread_syscall};
use testkit::{DEFAULT_DEADLINE, call_with_deadline, try_wait_until};

const PEER: &str = env!("CARGO_BIN_EXE_shm-peer");

#[test]
fn messages_come_out_highest_priority_first_then_oldest_first() {
    let name = ShmName::new("mq-prio", Kind::Queue);
    let queue = Queue::create(name.name(), 8, 64).expect("create the queue");
    let rest = Peer::spawn(
        PEER,
        &[
            "mq-send",
            name.name(),
            "1:low",
            "5:high",
            "3:mid",
            "5:high-again",
            "0:lowest",
        ],
    )
    .finish();
    assert_eq!(rest, ["sent"]);
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    for _ in 0..5 {
        let (len, prio) = queue.receive(&mut buf).expect("receive");
        got.push(format!("{prio}:{}", String::from_utf8_lossy(&buf[..len])));
    }
    assert_eq!(
        got,
        ["5:high", "5:high-again", "3:mid", "1:low", "0:lowest"],
        "a POSIX queue delivers the highest priority first, and within one priority the oldest"
    );
}

#[test]
fn the_limits_chosen_at_creation_are_reported_by_getattr() {
    let name = ShmName::new("mq-attr", Kind::Queue);
    let queue = Queue::create(name.name(), 3, 100).expect("create the queue");
    queue.send(b"one", 0).expect("send");
    let limits = queue.limits().expect("mq_getattr");
    assert_eq!(
        (limits.max_messages, limits.max_size, limits.current),
        (3, 100, 1),
        "mq_getattr must report the creation limits (mq_maxmsg 3, mq_msgsize 100) and the one \
         message in the queue; got {limits:?}"
    );
    assert!(!limits.nonblocking, "a new queue blocks");
    queue.set_nonblocking(true).expect("set O_NONBLOCK");
    assert!(
        queue.limits().expect("mq_getattr").nonblocking,
        "mq_flags shows O_NONBLOCK"
    );
}

#[test]
fn a_message_longer_than_the_limit_is_refused_with_emsgsize() {
    let name = ShmName::new("mq-size", Kind::Queue);
    let queue = Queue::create(name.name(), 2, 16).expect("create the queue");
    let e = queue
        .send(&[b'x'; 17], 0)
        .expect_err("a 17-byte message in a queue of 16-byte messages must be refused");
    assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE), "got {e}");
    queue.send(&[b'y'; 16], 0).expect("16 bytes fit");
    let mut small = [0u8; 8];
    let e = queue
        .receive(&mut small)
        .expect_err("receiving into a buffer smaller than mq_msgsize must fail");
    assert_eq!(
        e.raw_os_error(),
        Some(libc::EMSGSIZE),
        "mq_receive needs a buffer of at least mq_msgsize bytes, whatever the message: {e}"
    );
}

#[test]
fn a_full_nonblocking_queue_refuses_with_eagain_and_an_empty_one_too() {
    let name = ShmName::new("mq-full", Kind::Queue);
    let queue = Queue::create(name.name(), 2, 16).expect("create the queue");
    queue.set_nonblocking(true).expect("set O_NONBLOCK");
    // On another thread with a deadline: a queue that still blocks would hang the test.
    let (empty, full) = call_with_deadline(DEFAULT_DEADLINE, move || {
        let mut buf = [0u8; 16];
        let empty = queue.receive(&mut buf).map(|_| ());
        queue.send(b"a", 0).expect("first");
        queue.send(b"b", 0).expect("second");
        let full = queue.send(b"c", 0);
        (empty, full)
    })
    .unwrap_or_else(|| {
        panic!(
            "a receive from an empty queue, or a send to a full one, waited: after \
             set_nonblocking(true) both must fail at once with EAGAIN (mq_setattr with O_NONBLOCK)"
        )
    });
    let e = empty.expect_err("an empty non-blocking queue has nothing to receive");
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "EAGAIN on empty, got {e}");
    let e = full.expect_err("a third message in a queue of 2 must not be accepted");
    assert_eq!(
        e.kind(),
        ErrorKind::WouldBlock,
        "a full non-blocking queue fails with EAGAIN (WouldBlock), got {e}"
    );
}

#[test]
fn a_blocked_receiver_in_another_process_gets_our_message() {
    let name = ShmName::new("mq-block", Kind::Queue);
    let queue = Queue::create(name.name(), 4, 32).expect("create the queue");
    let mut peer = Peer::spawn(PEER, &["mq-receive", name.name()]);
    peer.expect("receiving");
    queue.send(b"wake up", 7).expect("send");
    assert_eq!(peer.expect("got"), "got 7 wake up");
    peer.finish();
}

#[test]
fn dropping_the_creator_unlinks_the_queue() {
    let name = ShmName::new("mq-unlink", Kind::Queue);
    let queue = Queue::create(name.name(), 2, 16).expect("create the queue");
    drop(Queue::open(name.name()).expect("open it a second time"));
    assert!(
        name.exists(),
        "dropping a queue that was only opened must not remove it"
    );
    let e = Queue::create(name.name(), 2, 16).expect_err("the name is taken");
    assert_eq!(
        e.kind(),
        ErrorKind::AlreadyExists,
        "create is exclusive: {e}"
    );
    drop(queue);
    assert!(
        !name.exists(),
        "the queue {} still exists after its creator dropped it: call mq_unlink, or it lives \
         in the kernel until reboot (mq_open of the name must fail with ENOENT)",
        name.name()
    );
}

#[test]
fn a_named_semaphore_counts_posts_from_another_process() {
    let name = ShmName::new("sem-post", Kind::Semaphore);
    let sem = Semaphore::create(name.name(), 0).expect("create the semaphore");
    let meta =
        std::fs::metadata(name.path()).expect("a named semaphore lives in /dev/shm as sem.NAME");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "the semaphore must be private to its owner (mode 0600), got {:o}",
        meta.permissions().mode() & 0o777
    );
    assert!(
        !sem.try_wait().expect("try_wait"),
        "a count of 0: try_wait must say no"
    );
    assert_eq!(
        Peer::spawn(PEER, &["sem-post", name.name(), "3"]).finish(),
        ["posted"]
    );
    for i in 0..3 {
        assert!(
            sem.try_wait().expect("try_wait"),
            "post number {i} was counted"
        );
    }
    assert!(
        !sem.try_wait().expect("try_wait"),
        "three posts, three waits: 0 left"
    );
    drop(sem);
    assert!(
        !name.exists(),
        "{} is still there after its creator dropped the semaphore: sem_unlink it",
        name.path().display()
    );
}

#[test]
fn a_process_waiting_on_a_semaphore_wakes_when_we_post() {
    let name = ShmName::new("sem-wait", Kind::Semaphore);
    let sem = Semaphore::create(name.name(), 0).expect("create the semaphore");
    let mut peer = Peer::spawn(PEER, &["sem-wait", name.name()]);
    peer.expect("waiting");
    sem.post().expect("post");
    peer.expect("acquired");
    peer.finish();
    assert!(
        !sem.try_wait().expect("try_wait"),
        "the waiting process's wait must have taken the one post (the count is back to 0)"
    );
    let e = Semaphore::create(name.name(), 0).expect_err("the name is taken");
    assert_eq!(
        e.kind(),
        ErrorKind::AlreadyExists,
        "sem_open with O_EXCL: {e}"
    );
}

#[test]
fn a_signal_during_a_semaphore_wait_is_not_an_error() {
    let name = ShmName::new("sem-eintr", Kind::Semaphore);
    let sem = Semaphore::create(name.name(), 0).expect("create the semaphore");
    let mut peer = Peer::spawn(PEER, &["sem-wait", name.name()]);
    let line = peer.expect("waiting tid ");
    let tid: u32 = line["waiting tid ".len()..].parse().expect("a tid");
    let pid = peer.pid();
    // sem_wait sleeps in FUTEX_WAIT once the count is 0; signal it only then, so that the
    // signal interrupts the wait and does not land before it.
    if let Err(e) = try_wait_until(DEFAULT_DEADLINE, "the waiter to sleep in sem_wait", || {
        thread_sleeps_in_futex(pid, tid)
    }) {
        panic!(
            "{e}: the waiting thread is in state {:?}, system call {:?}",
            thread_state(pid, tid),
            thread_syscall(pid, tid)
        );
    }
    // The peer's SIGUSR1 handler has no SA_RESTART: sem_wait returns -1 with EINTR.
    kill(Pid::from_raw(pid as i32), Signal::SIGUSR1).expect("send SIGUSR1");
    peer.expect("signal");
    sem.post().expect("post");
    if let Err(said) = peer.try_expect("acquired") {
        panic!(
            "a signal handler that ran during sem_wait made it fail with EINTR: that is no error \
             and no post either; wait again\n{said}"
        );
    }
    peer.finish();
}
