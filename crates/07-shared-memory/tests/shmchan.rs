//! End-to-end tests for the practice project `shmchan`: the test process is one end of the
//! channel, `shmchan-peer` (a separate process using the same library) the other. Peers are
//! killed with SIGKILL to prove that a blocked call returns an error instead of hanging, and
//! /dev/shm is checked after every scenario.

use shared_memory::shmchan::{self, Channel, Error, MAX_MESSAGE, RING_BYTES};
use shared_memory::support::fuzz_message;
use testkit::shm::{Kind, Peer, ShmName, thread_sleeps_in_futex, thread_state, thread_syscall};
use testkit::{DEFAULT_DEADLINE, call_with_deadline, try_wait_until};

const PEER: &str = env!("CARGO_BIN_EXE_shmchan-peer");

/// Runs `f` with the channel on another thread, with a deadline: a call that never returns
/// fails the test with `what` instead of hanging it.
fn within_deadline<T: Send + 'static>(
    chan: Channel,
    what: &str,
    f: impl FnOnce(Channel) -> T + Send + 'static,
) -> T {
    call_with_deadline(DEFAULT_DEADLINE, move || f(chan)).unwrap_or_else(|| {
        panic!("{what}: still blocked after {DEFAULT_DEADLINE:?}: the call must not hang")
    })
}

#[test]
fn messages_go_to_another_process_and_come_back_unchanged() {
    let name = ShmName::new("chan-echo", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["echo", name.name()]);
    peer.expect("connected");
    let chan = within_deadline(chan, "echo round trips", |mut chan| {
        // The largest message: the 64 KiB that MAX_MESSAGE documents.
        let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let msgs: [&[u8]; 4] = [b"hello", b"", &big, b"bye"];
        for msg in msgs {
            chan.send(msg).expect("send");
            let back = chan.recv().expect("recv the echo");
            assert!(
                back == msg,
                "a message of {} bytes came back as {} bytes{}",
                msg.len(),
                back.len(),
                if back.len() == msg.len() {
                    " with other bytes"
                } else {
                    ""
                }
            );
        }
        chan
    });
    chan.close().expect("close");
    assert_eq!(
        peer.finish(),
        ["closed"],
        "after our close, the peer's recv must return Error::Closed"
    );
    assert!(
        !name.exists(),
        "{} is left in /dev/shm",
        name.path().display()
    );
}

#[test]
fn random_sized_messages_from_another_process_arrive_whole_and_in_order() {
    const COUNT: u64 = 3000;
    let seed = u64::from(std::process::id()) << 20 | 7;
    let name = ShmName::new("chan-fuzz", Kind::Segment);
    let mut chan = shmchan::create(name.name()).expect("create the channel");
    // One message the other way, waiting in the channel before the peer even opens: it must
    // survive the thousands of messages the peer sends in its own direction.
    chan.send(b"the other way")
        .expect("send before the peer opens (the ring is empty)");
    let peer = Peer::spawn(
        PEER,
        &[
            "fuzz-send",
            name.name(),
            &seed.to_string(),
            &COUNT.to_string(),
        ],
    );
    let (received, end) = within_deadline(chan, "receiving the fuzz messages", move |mut chan| {
        let mut buf = Vec::new();
        for i in 0..COUNT {
            if let Err(e) = chan.recv_into(&mut buf) {
                return (i, Some(e));
            }
            let want = fuzz_message(seed, i, MAX_MESSAGE);
            if buf != want {
                let first_diff = buf.iter().zip(&want).position(|(a, b)| a != b);
                panic!(
                    "message {i} (seed {seed}): got {} bytes, expected {} (first different \
                     byte: {first_diff:?}). Messages must arrive whole, unchanged and in order, \
                     also across the end of the ring",
                    buf.len(),
                    want.len()
                );
            }
        }
        (COUNT, chan.recv().err())
    });
    assert_eq!(
        received, COUNT,
        "only {received} of {COUNT} messages arrived: {end:?}"
    );
    assert!(
        matches!(end, Some(Error::Closed)),
        "after its last message the peer closed: recv must then return Error::Closed, got {end:?}"
    );
    assert_eq!(
        peer.finish(),
        ["connected", "got the other way", "sent"],
        "the peer must receive, intact, the message we sent before it opened: the two \
         directions of a channel must not share bytes"
    );
    assert!(
        !name.exists(),
        "{} is left in /dev/shm",
        name.path().display()
    );
}

#[test]
fn a_message_over_the_limit_is_refused_and_nothing_is_sent() {
    let name = ShmName::new("chan-big", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["echo", name.name()]);
    peer.expect("connected");
    within_deadline(chan, "send and echo", |mut chan| {
        let too_big = vec![1u8; MAX_MESSAGE + 1];
        match chan.send(&too_big) {
            Err(Error::TooLarge { len, max }) => {
                assert_eq!((len, max), (MAX_MESSAGE + 1, MAX_MESSAGE));
            }
            other => {
                panic!("a message of MAX_MESSAGE + 1 bytes must be Error::TooLarge, got {other:?}")
            }
        }
        assert!(
            matches!(chan.try_send(&too_big), Err(Error::TooLarge { .. })),
            "try_send must refuse it too"
        );
        chan.send(b"after").expect("send");
        // try_recv never waits: ask until the echo is there (the deadline bounds the loop).
        let echo = loop {
            if let Some(msg) = chan.try_recv().expect("try_recv") {
                break msg;
            }
            std::thread::yield_now();
        };
        assert_eq!(
            echo, b"after",
            "the refused message must not have been sent (the first echo is the next message), \
             and try_recv must return the message that arrived"
        );
    });
    peer.finish();
}

#[test]
fn try_recv_finds_nothing_and_try_send_finds_a_full_ring_without_waiting() {
    let name = ShmName::new("chan-try", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["open-and-hang", name.name()]);
    peer.expect("connected");
    let sent = within_deadline(chan, "try_send / try_recv", |mut chan| {
        assert!(
            chan.try_recv().expect("try_recv").is_none(),
            "nothing was sent to us: try_recv must return Ok(None) at once"
        );
        let msg = vec![9u8; MAX_MESSAGE];
        let mut sent = 0;
        while chan.try_send(&msg).expect("try_send") {
            sent += 1;
            assert!(
                sent <= RING_BYTES / MAX_MESSAGE,
                "try_send accepted more than the ring holds"
            );
        }
        sent
    });
    assert!(
        sent >= RING_BYTES / MAX_MESSAGE / 2,
        "a ring of {RING_BYTES} bytes must hold more than {sent} messages of {MAX_MESSAGE}"
    );
    peer.close_stdin();
    peer.finish();
}

#[test]
fn a_blocked_recv_returns_peer_died_when_the_peer_is_killed() {
    let name = ShmName::new("chan-dead-recv", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["open-and-hang", name.name()]);
    peer.expect("connected");
    let pid = peer.pid();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tid_tx.send(rustix::thread::gettid().as_raw_nonzero().get() as u32);
        let mut chan = chan;
        chan.recv()
    });
    // Kill the peer only once our recv sleeps: a peer already dead when recv starts proves
    // nothing about a call that is blocked.
    let tid = tid_rx
        .recv_timeout(DEFAULT_DEADLINE)
        .expect("the receiving thread never started");
    let me = std::process::id();
    try_wait_until(DEFAULT_DEADLINE, "our recv to sleep in futex()", || {
        thread_sleeps_in_futex(me, tid)
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: the receiving thread is in state {:?}: a recv with nothing to receive must \
             sleep in FUTEX_WAIT",
            thread_state(me, tid)
        )
    });
    peer.kill();
    let result = call_with_deadline(DEFAULT_DEADLINE, move || waiter.join())
        .unwrap_or_else(|| {
            panic!(
                "recv() still blocks {DEFAULT_DEADLINE:?} after the peer (pid {pid}) was \
                 SIGKILLed: a blocked call must notice a dead peer (a pidfd, a robust futex or a \
                 heartbeat) and return an error"
            )
        })
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert!(
        matches!(result, Err(Error::PeerDied(p)) if p as u32 == pid),
        "recv() after the peer died must be Error::PeerDied({pid}), got {result:?}"
    );
    assert!(
        !name.exists(),
        "{} is left in /dev/shm",
        name.path().display()
    );
}

#[test]
fn a_blocked_send_returns_peer_died_when_the_peer_is_killed() {
    let name = ShmName::new("chan-dead-send", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["open-and-hang", name.name()]);
    peer.expect("connected");
    let (tx, rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        let mut chan = chan;
        let msg = vec![3u8; MAX_MESSAGE];
        loop {
            // The ring fills up (nobody reads), then send blocks.
            let _ = tx.send(());
            if let Err(e) = chan.send(&msg) {
                return e;
            }
        }
    });
    // Wait until the sender has been blocked for a while: its sends stop arriving.
    let mut last = 0;
    let blocked = try_wait_until(
        DEFAULT_DEADLINE,
        "the sender to block on a full ring",
        || {
            let n = rx.try_iter().count();
            let stalled = n == 0 && last > 0;
            last += n;
            stalled
        },
    );
    blocked.expect("the sender never blocked: does send() wait when the ring is full?");
    peer.kill();
    let e = call_with_deadline(DEFAULT_DEADLINE, move || sender.join())
        .expect("send() still blocks after the peer was SIGKILLed: it must not hang")
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert!(
        matches!(e, Error::PeerDied(_)),
        "send() to a dead peer must be Error::PeerDied, got {e:?}"
    );
}

#[test]
fn an_opener_learns_that_the_creator_died() {
    let name = ShmName::new("chan-dead-creator", Kind::Segment);
    let mut creator = Peer::spawn(PEER, &["create-and-hang", name.name()]);
    creator.expect("created");
    let chan = shmchan::open(name.name()).expect("open the channel");
    assert!(
        !name.exists(),
        "once both ends are attached nobody needs the name: the opener removes it"
    );
    let mut chan = chan;
    assert!(chan.try_recv().expect("try_recv").is_none());
    creator.kill();
    let result = within_deadline(chan, "recv after the creator died", |mut chan| chan.recv());
    assert!(
        matches!(result, Err(Error::PeerDied(_))),
        "recv() after the creator died must be Error::PeerDied, got {result:?}"
    );
}

#[test]
fn a_blocked_recv_sleeps_without_using_the_cpu() {
    let name = ShmName::new("chan-sleep", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["open-and-recv", name.name()]);
    peer.expect("connected");
    let pid = peer.pid();
    let asleep = try_wait_until(DEFAULT_DEADLINE, "the receiver to sleep in futex()", || {
        thread_sleeps_in_futex(pid, pid)
    });
    if let Err(e) = asleep {
        panic!(
            "{e}: the receiver is in state {:?}, system call {:?}: a blocked recv must sleep \
             in FUTEX_WAIT, not spin",
            thread_state(pid, pid),
            thread_syscall(pid, pid)
        );
    }
    within_deadline(chan, "send", |mut chan| chan.send(b"wake").expect("send"));
    assert_eq!(peer.expect("got"), "got wake");
    peer.finish();
}

#[test]
fn the_creator_removes_the_name_when_nobody_opened_and_a_late_open_fails() {
    let name = ShmName::new("chan-lonely", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    match shmchan::create(name.name()) {
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        other => {
            panic!("a second create of the same name must fail with AlreadyExists, got {other:?}")
        }
    }
    chan.close().expect("close");
    assert!(
        !name.exists(),
        "nobody opened the channel: its creator must remove {} when it closes",
        name.path().display()
    );
    assert!(
        shmchan::open(name.name()).is_err(),
        "the name is gone: open must fail"
    );
}

#[test]
fn a_clean_close_wakes_a_blocked_receiver_with_closed() {
    let name = ShmName::new("chan-late", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["open-and-recv", name.name()]);
    peer.expect("connected");
    chan.close().expect("close");
    assert_eq!(
        peer.expect("recv error"),
        "recv error: the peer closed the channel",
        "a clean close wakes the blocked receiver with Error::Closed"
    );
    peer.finish();
    assert!(
        !name.exists(),
        "{} is left in /dev/shm",
        name.path().display()
    );
}

#[test]
fn messages_sent_before_the_peer_died_arrive_before_peer_died() {
    const COUNT: u64 = 5;
    let name = ShmName::new("chan-last-words", Kind::Segment);
    let chan = shmchan::create(name.name()).expect("create the channel");
    let mut peer = Peer::spawn(PEER, &["send-and-hang", name.name(), &COUNT.to_string()]);
    peer.expect("sent");
    peer.kill();
    let got = within_deadline(chan, "receiving after the peer died", |mut chan| {
        let mut got = Vec::new();
        loop {
            match chan.recv() {
                Ok(msg) => got.push(String::from_utf8_lossy(&msg).into_owned()),
                Err(e) => return (got, e),
            }
        }
    });
    let want: Vec<String> = (0..COUNT).map(|i| format!("m{i}")).collect();
    assert!(
        got.0 == want && matches!(got.1, Error::PeerDied(_)),
        "the peer sent {want:?} and was then SIGKILLed: recv must deliver every message it sent \
         (they are in the ring), and only then return Error::PeerDied; got {:?} then {:?}. \
         Check the peer's liveness only when the ring is empty",
        got.0,
        got.1
    );
}

/// Checks that the channel `create` just made on `name` works: a peer opens it and echoes one
/// message back; then both ends close.
fn echo_through_a_new_channel(chan: Channel, name: &ShmName) {
    let mut peer = Peer::spawn(PEER, &["echo", name.name()]);
    peer.expect("connected");
    let chan = within_deadline(chan, "echo through the new channel", |mut chan| {
        chan.send(b"fresh").expect("send");
        assert_eq!(chan.recv().expect("recv the echo"), b"fresh");
        chan
    });
    chan.close().expect("close");
    peer.finish();
}

#[test]
fn a_creator_killed_before_anyone_opened_does_not_block_the_name() {
    let name = ShmName::new("chan-stale", Kind::Segment);
    let mut creator = Peer::spawn(PEER, &["create-and-hang", name.name()]);
    creator.expect("created");
    creator.kill();
    assert!(
        name.exists(),
        "the killed creator's segment should still be in /dev/shm (nobody removed it)"
    );
    let chan = shmchan::create(name.name()).unwrap_or_else(|e| {
        panic!(
            "the creator of {} was SIGKILLed before anyone opened it, so its segment stayed in \
             /dev/shm; a new create of that name must find the creator dead (its pid and start \
             time, recorded in the segment, name no live process), remove the stale segment \
             and create anew; got {e:?}",
            name.name()
        )
    });
    echo_through_a_new_channel(chan, &name);
    assert!(
        !name.exists(),
        "{} is left in /dev/shm",
        name.path().display()
    );
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read its stat");
    let after = &stat[stat.rfind(')').expect("a stat line") + 1..];
    after
        .split_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .expect("a start time")
}

/// Clock ticks since boot now, on the clock that start times count.
fn ticks_since_boot() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `now`, a valid local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_BOOTTIME)");
    // SAFETY: sysconf only reads a configuration value.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    let ns = now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64;
    ns / (1_000_000_000 / per_second)
}

#[test]
fn a_dead_creator_whose_pid_went_to_another_process_does_not_block_the_name() {
    // The pid alone does not name a process for good: once the creator is dead and reaped, the
    // kernel may give its pid to any new process. The start time recorded beside it tells them
    // apart.
    if !testkit::can_choose_pids() {
        eprintln!(
            "a_dead_creator_whose_pid_went_to_another_process_does_not_block_the_name: skipped: \
             /proc/sys/kernel/ns_last_pid is not writable here (it needs root)"
        );
        return;
    }
    let name = ShmName::new("chan-reused", Kind::Segment);
    let mut creator = Peer::spawn(PEER, &["create-and-hang", name.name()]);
    creator.expect("created");
    let pid = creator.pid();
    let started = start_time(pid);
    creator.kill();
    // A start time counts clock ticks (100 a second): a newcomer that started within the
    // creator's own tick would look the same. Give the newcomer a later tick, as a pid that
    // went round all of pid_max would have.
    testkit::wait_until(
        DEFAULT_DEADLINE,
        "the clock to pass the creator's tick",
        || ticks_since_boot() > started,
    );
    let mut stranger = testkit::ChildGuard::new(
        testkit::spawn_with_pid(pid)
            .unwrap_or_else(|| panic!("no process could be given pid {pid}")),
    );
    let chan = shmchan::create(name.name()).unwrap_or_else(|e| {
        panic!(
            "the creator of {} (pid {pid}) was SIGKILLed before anyone opened it, and its pid now \
             belongs to another process, started later: the creator is dead all the same. \
             Compare the start time recorded in the segment with the process's now (field 22 \
             of /proc/PID/stat, read after opening a pidfd), not only that the pid is alive; \
             got {e:?}",
            name.name()
        )
    });
    assert!(
        matches!(stranger.child().try_wait(), Ok(None)),
        "the process that has the creator's old pid must be left alone"
    );
    echo_through_a_new_channel(chan, &name);
}

#[test]
fn a_segment_that_is_not_a_dead_channel_is_never_removed() {
    // Another program's segment under the name: one still being made (size 0, as between its
    // shm_open and its ftruncate) and one of zeros that is no channel. Neither is a channel
    // whose creator died: create must fail with AlreadyExists and leave both alone.
    for (what, len) in [
        ("an empty segment, still being made", 0),
        ("a segment of zeros", 1 << 16),
    ] {
        let name = ShmName::new("chan-foreign", Kind::Segment);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(name.path())
            .expect("make the other program's segment");
        file.set_len(len).expect("size it");
        let made = std::panic::catch_unwind(|| shmchan::create(name.name()));
        match made {
            Ok(Err(Error::Io(e))) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => panic!(
                "create over {what} ({len} bytes, another program's) should fail with \
                 AlreadyExists and leave it alone: only a channel (its magic) still waiting \
                 (its state) whose creator is dead is stale; got {:?}",
                other.map(|r| r.map(|_| "a channel"))
            ),
        }
        assert!(
            std::fs::metadata(name.path()).is_ok_and(|m| m.len() == len),
            "{what} was removed or changed by create: it is not a channel of ours to judge"
        );
    }
}

#[test]
fn a_stale_segment_replaced_while_create_looks_at_it_is_not_removed() {
    use testkit::seccomp::{Action, install, next_paused, resume};
    // Between judging a stale segment and removing its name, another process may have removed
    // it already, and perhaps made a new segment under the name. The test plays that process:
    // create's threads stat calls wait for the test (seccomp user notification), and at the
    // one that looks the name up again (statx by path, the last look before the unlink) the
    // test removes the stale file, and in the second round puts another program's segment
    // there. Whatever is at the name by then was not judged, and is not create's to remove.
    for replaced_by_another in [false, true] {
        let name = ShmName::new("chan-swap", Kind::Segment);
        let mut creator = Peer::spawn(PEER, &["create-and-hang", name.name()]);
        creator.expect("created");
        creator.kill();
        let (tx, rx) = std::sync::mpsc::channel();
        let n = name.name().to_owned();
        let creating = std::thread::spawn(move || {
            match install(&[libc::SYS_statx], Action::Notify) {
                Ok(listener) => {
                    let _ = tx.send(Ok(listener.expect("a listener")));
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return None;
                }
            }
            Some(shmchan::create(&n))
        });
        let listener = match rx.recv().expect("the creating thread's listener") {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!(
                    "a_stale_segment_replaced_while_create_looks_at_it_is_not_removed: skipped: \
                     seccomp user notifications are not available here ({e})"
                );
                return;
            }
        };
        let mut swapped = false;
        while let Some(call) = next_paused(&listener, DEFAULT_DEADLINE) {
            // statx(dirfd, path, flags, ...): by path from the working directory, not by fd.
            let by_path = call.args[0] as i32 == libc::AT_FDCWD
                && call.args[2] as i32 & libc::AT_EMPTY_PATH == 0;
            if by_path && !swapped {
                std::fs::remove_file(name.path()).expect("remove the stale segment");
                if replaced_by_another {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(name.path())
                        .and_then(|f| f.set_len(1 << 16))
                        .expect("another program's segment");
                }
                swapped = true;
            }
            resume(&listener, call.id);
        }
        let made = creating
            .join()
            .expect("create panicked")
            .expect("create ran");
        if replaced_by_another {
            assert!(
                matches!(&made, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists)
                    && std::fs::metadata(name.path()).is_ok_and(|m| m.len() == 1 << 16),
                "while create decided that the segment was stale, another process removed it and \
                 made a segment of its own under the name: create must look the name up again \
                 (device and inode) before removing it, leave the newcomer alone and fail with \
                 AlreadyExists; got {:?}, the newcomer {}",
                made.as_ref().map(|_| "a channel"),
                if name.exists() {
                    "still there"
                } else {
                    "removed"
                }
            );
        } else {
            let chan = made.unwrap_or_else(|e| {
                panic!(
                    "while create decided that the segment was stale, another process removed \
                     it: the name is free, so create must make its channel (a name that is no \
                     longer there is no error); got {e:?}"
                )
            });
            echo_through_a_new_channel(chan, &name);
        }
        assert!(
            swapped || !replaced_by_another,
            "create never looked the name up by path"
        );
    }
}

#[test]
fn a_channel_whose_counters_are_impossible_is_corrupt_not_a_panic() {
    use std::io::Write as _;
    // Overwrite the start of the segment (every header, whatever its layout) with 64-bit words
    // that change with the offset by 2^40 each. Decreasing, a counter placed before another
    // holds the larger value: a read position past its write position. Increasing, a write
    // position lies far more than RING_BYTES ahead of its read position. Either way the ring
    // cannot hold what the counters claim.
    for (order, word) in [
        (
            "decreasing",
            (|i: u64| (8192 - i) << 40 | 0x55) as fn(u64) -> u64,
        ),
        ("increasing", |i: u64| (i + 1) << 40 | 0x55),
    ] {
        let name = ShmName::new("chan-corrupt", Kind::Segment);
        let mut chan = shmchan::create(name.name()).expect("create the channel");
        let words: Vec<u8> = (0..8192u64).flat_map(|i| word(i).to_le_bytes()).collect();
        std::fs::OpenOptions::new()
            .write(true)
            .open(name.path())
            .and_then(|mut f| f.write_all(&words))
            .expect("overwrite the segment's headers");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chan.try_recv()));
        match result {
            Ok(Err(Error::Corrupt(_))) => {}
            Ok(other) => panic!(
                "the segment's counters are impossible ({order} words over the headers: a head \
                 past its tail, or a tail more than RING_BYTES past its head): try_recv must \
                 return Error::Corrupt, got {other:?}"
            ),
            Err(_) => panic!(
                "try_recv panicked on a segment with impossible counters ({order} words over \
                 the headers): another process wrote those counters, so check them (tail - \
                 head must lie within 0..=RING_BYTES) and return Error::Corrupt instead of \
                 subtracting blindly"
            ),
        }
        // Dropping may not panic either, whatever the state word holds.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(chan)));
    }
}
