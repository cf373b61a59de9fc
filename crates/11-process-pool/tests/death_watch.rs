//! Tests for `process_pool::death_watch`: the first child to die is named and reaped at once,
//! the timeout is honoured without burning CPU, and a signal does not cut the wait short.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use process_pool::death_watch::wait_any;
use testkit::{DEFAULT_DEADLINE as DEADLINE, wait_until};

/// How long a waiting thread may take to be seen asleep in poll(2): well inside the
/// exercise's time limit (curriculum.toml).
const SLEEP_IN_POLL: Duration = Duration::from_secs(4);

/// Children killed and reaped on drop, even if a test fails.
struct Kids(Vec<Child>);

impl Kids {
    fn sleepers(n: usize) -> Kids {
        Kids(
            (0..n)
                .map(|_| {
                    Command::new("sleep")
                        .arg("60")
                        .spawn()
                        .expect("spawn sleep")
                })
                .collect(),
        )
    }

    fn pid(&self, i: usize) -> u32 {
        self.0[i].id()
    }
}

impl Drop for Kids {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn sigkill(pid: u32) {
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("SIGKILL");
}

#[test]
fn the_child_killed_is_named_and_reaped() {
    let mut kids = Kids::sleepers(3);
    let victim = kids.pid(1);
    sigkill(victim);
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let r = wait_any(&mut kids.0, Some(DEADLINE));
        (r, kids)
    });
    let Some((result, kids)) = got else {
        panic!("wait_any did not return within {DEADLINE:?} although child 1 was killed");
    };
    let (i, status) = result
        .expect("wait_any")
        .expect("a child died: wait_any should return Some, not time out");
    assert_eq!(i, 1, "the child that died is at index 1");
    assert_eq!(
        status.signal(),
        Some(9),
        "it was killed by SIGKILL: {status:?}"
    );
    assert_eq!(
        testkit::proc_state(victim),
        None,
        "the dead child should be reaped by wait_any (it is {:?} in /proc)",
        testkit::proc_state(victim)
    );
    for i in [0, 2] {
        assert!(
            testkit::proc_state(kids.pid(i)).is_some_and(|s| s != 'Z'),
            "child {i} is alive and must not be touched"
        );
    }
}

#[test]
fn a_child_that_already_exited_is_found_at_once() {
    let mut kids = Kids::sleepers(2);
    kids.0.push(
        Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("spawn sh"),
    );
    let quick = kids.pid(2);
    wait_until(DEADLINE, "the short-lived child to become a zombie", || {
        testkit::proc_state(quick) == Some('Z')
    });
    let (i, status) = wait_any(&mut kids.0, Some(DEADLINE))
        .expect("wait_any")
        .expect("a child had exited");
    assert_eq!(
        (i, status.code()),
        (2, Some(3)),
        "child 2 exited with status 3"
    );
    assert_eq!(testkit::proc_state(quick), None, "and is reaped now");
}

#[test]
fn the_timeout_passes_with_none_without_using_the_cpu() {
    let kids = Kids::sleepers(2);
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let mut kids = kids;
        let before = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
        let r = wait_any(&mut kids.0, Some(Duration::from_millis(500)));
        let after = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
        let cpu =
            (after.user_time() + after.system_time()) - (before.user_time() + before.system_time());
        let preempted =
            after.involuntary_context_switches() - before.involuntary_context_switches();
        (r.map_err(|e| e.to_string()), cpu, preempted, kids)
    });
    let Some((result, cpu, preempted, kids)) = got else {
        panic!("wait_any with a 500 ms timeout did not return within {DEADLINE:?}");
    };
    assert!(
        matches!(result, Ok(None)),
        "no child died: wait_any should return Ok(None) when the timeout passes; got {result:?}"
    );
    let micros = cpu.tv_sec() * 1_000_000 + cpu.tv_usec();
    // On a busy machine a spinning thread gets little CPU, but the scheduler takes the CPU from
    // it again and again (involuntary context switches); a thread asleep in poll is never
    // running long enough to be preempted.
    assert!(
        micros < 150_000 && preempted < 5,
        "wait_any used {micros} µs of CPU, and was preempted {preempted} times, in 500 ms of \
         waiting: it should sleep in the kernel (poll on pidfds), not check the children in a \
         loop"
    );
    for i in 0..2 {
        assert!(
            testkit::proc_state(kids.pid(i)).is_some(),
            "child {i} should still run"
        );
    }
}

#[test]
fn the_wait_sleeps_once_instead_of_waking_to_check() {
    let kids = Kids::sleepers(2);
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let mut kids = kids;
        let before = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
        let r = wait_any(&mut kids.0, Some(Duration::from_secs(1)));
        let after = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
        let woke = after.voluntary_context_switches() - before.voluntary_context_switches();
        (r.map_err(|e| e.to_string()), woke, kids)
    });
    let Some((result, woke, _kids)) = got else {
        panic!("wait_any with a 1 s timeout did not return within {DEADLINE:?}");
    };
    assert!(
        matches!(result, Ok(None)),
        "no child died: wait_any should return Ok(None) when the timeout passes; got {result:?}"
    );
    // A thread that sleeps in one poll(2) blocks once (a voluntary context switch) and is woken
    // once, by the timeout. A loop of try_wait and a sleep blocks at every sleep.
    assert!(
        woke < 10,
        "wait_any went to sleep {woke} times in a 1 s wait in which no child died: it polls \
         (a loop of try_wait and sleep?). Sleep once, in poll(2) on one pidfd per child, until \
         one turns readable or the time is up"
    );
}

#[test]
fn a_signal_during_the_wait_does_not_end_it() {
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    let mut kids = Kids::sleepers(2);
    let victim = kids.pid(0);
    let (tid_tx, tid_rx) = mpsc::channel();
    let waiting = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        let r = wait_any(&mut kids.0, None).map_err(|e| e.to_string());
        (r, kids)
    });
    let tid = tid_rx.recv().expect("the waiting thread's id");
    // Shorter than the exercise's time limit, so that a wait that never sleeps in poll is
    // named here instead of ending as a timeout of the whole run.
    let in_poll = testkit::try_wait_until(SLEEP_IN_POLL, "wait_any to sleep in poll", || {
        waiting.is_finished() || testkit::thread_sleeps_in(tid, &[libc::SYS_ppoll, libc::SYS_poll])
    });
    if in_poll.is_err() {
        // End the wait (a child dies) and let the children go before failing: a sleeper left
        // behind would hold this process's output pipes open.
        sigkill(victim);
        let ended = testkit::call_with_deadline(DEADLINE, move || waiting.join());
        drop(ended);
        panic!(
            "wait_any did not sleep in poll(2) within {SLEEP_IN_POLL:?}: it waits some other way \
             (a loop of try_wait and sleep polls the children). Open a pidfd per child and \
             sleep in one poll on them"
        );
    }
    if waiting.is_finished() {
        match waiting.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok((r, _)) => panic!("wait_any returned {r:?} before any child died"),
        }
    }
    testkit::interrupt_thread(&waiting);
    sigkill(victim);
    let (result, _kids) = testkit::call_with_deadline(DEADLINE, move || waiting.join())
        .expect("wait_any did not return after the child died")
        .expect("the waiting thread panicked");
    match result {
        Ok(Some((0, status))) if status.signal() == Some(9) => {}
        other => panic!(
            "after an interrupting signal (EINTR) wait_any should keep waiting and report child 0 \
             killed by SIGKILL; got {other:?}"
        ),
    }
}
