//! Tests for `monitoring/heartbeat`: a child that beats, one that stops beating but stays alive
//! (hung), one that is stopped with SIGSTOP, one that dies, and one alive but never ready.
//!
//! Every call to the learner's code runs on a thread with a deadline: a check that blocks on a
//! read without a deadline would wait forever on a hung child, and the test says so instead of
//! hanging.

use std::process::{Command, Stdio};
use std::time::Duration;

use monitoring::heartbeat::{Health, Monitored, start};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::monitoring::wait_for_state;
use testkit::{DEFAULT_DEADLINE, assert_reaped, call_with_deadline, proc_state};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");

/// How long past its own deadline a call may take before it counts as blocked: time for a
/// loaded machine to schedule it, not a wait of its own.
const GRACE: Duration = Duration::from_secs(4);

fn spawn(mode: &[&str]) -> Monitored {
    start(Command::new(CHILD).args(mode).stdin(Stdio::piped()))
        .unwrap_or_else(|e| panic!("start({mode:?}) failed: {e}"))
}

/// Runs `check(deadline)` on a thread; fails if it takes far longer than its deadline.
#[track_caller]
fn check(m: Monitored, deadline: Duration) -> (Monitored, Health) {
    let pid = m.pid();
    call_with_deadline(deadline + GRACE, move || {
        let mut m = m;
        let h = m.check(deadline);
        (m, h)
    })
    .map(|(m, h)| (m, h.unwrap_or_else(|e| panic!("check failed: {e}"))))
    .unwrap_or_else(|| {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        panic!(
            "check({deadline:?}) was still blocked long after its deadline: a child that stops \
             writing leaves a plain read waiting forever; wait for the pipe with a timeout"
        )
    })
}

#[track_caller]
fn wait_ready(m: Monitored, deadline: Duration) -> (Monitored, bool) {
    let pid = m.pid();
    call_with_deadline(deadline + GRACE, move || {
        let mut m = m;
        let r = m.wait_ready(deadline);
        (m, r)
    })
    .map(|(m, r)| (m, r.unwrap_or_else(|e| panic!("wait_ready failed: {e}"))))
    .unwrap_or_else(|| {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        panic!("wait_ready({deadline:?}) was still blocked long after its deadline")
    })
}

/// Checks with a short deadline until the answer is not `Alive`, at most `tries` times.
#[track_caller]
fn until_not_alive(mut m: Monitored, deadline: Duration, tries: usize) -> (Monitored, Health) {
    for _ in 0..tries {
        let (back, h) = check(m, deadline);
        m = back;
        if !matches!(h, Health::Alive { .. }) {
            return (m, h);
        }
    }
    panic!("the child still looked alive after {tries} checks")
}

#[test]
fn a_beating_child_is_ready_and_alive() {
    let m = spawn(&["beat", "20"]);
    let (mut m, ready) = wait_ready(m, DEFAULT_DEADLINE);
    assert!(ready, "the child says `ready` first");
    for _ in 0..3 {
        let (back, h) = check(m, DEFAULT_DEADLINE);
        m = back;
        assert!(
            matches!(h, Health::Alive { beats } if beats >= 1),
            "the child beats every 20 ms: expected Alive, got {h:?}"
        );
    }
}

#[test]
fn a_hung_child_is_detected_while_it_is_still_alive() {
    let m = spawn(&["beat", "20", "3"]);
    let (m, ready) = wait_ready(m, DEFAULT_DEADLINE);
    assert!(ready);
    let (m, h) = until_not_alive(m, Duration::from_millis(300), 20);
    let Health::Hung { silent_for } = h else {
        panic!("the child stopped beating but is alive: expected Hung, got {h:?}");
    };
    assert!(
        silent_for >= Duration::from_millis(300),
        "silent_for is the time since the last beat, at least the deadline: {silent_for:?}"
    );
    assert_eq!(
        proc_state(m.pid()),
        Some('S'),
        "the hung child is alive (sleeping), not dead: that is what a heartbeat finds and a pid \
         check does not"
    );
    let pid = m.pid();
    drop(m);
    assert_reaped(pid);
    assert_eq!(proc_state(pid), None, "dropping a Monitored ends its child");
}

#[test]
fn each_beat_is_counted_once_and_other_lines_are_not_beats() {
    // The child says `ready`, beats exactly three times, then hangs. Nobody waits for `ready`
    // here: that line is read by `check` all the same, and it is no beat.
    let mut m = spawn(&["beat", "20", "3"]);
    let mut total = 0;
    for _ in 0..50 {
        let (back, h) = check(m, Duration::from_millis(300));
        m = back;
        match h {
            Health::Alive { beats } => total += beats,
            // Silent, and every beat it will ever write already counted.
            Health::Hung { .. } if total >= 3 => break,
            // Silent before its third beat: a child starved by a busy machine; ask again.
            Health::Hung { .. } => {}
            Health::Dead(status) => panic!("the child died: {status}"),
        }
    }
    assert_eq!(
        total, 3,
        "the child wrote `ready` and three `beat` lines: the beats of all the checks add up to 3"
    );
}

#[test]
fn a_stopped_child_is_hung_until_continued() {
    let m = spawn(&["beat", "20"]);
    let (m, _) = wait_ready(m, DEFAULT_DEADLINE);
    let pid = Pid::from_raw(m.pid() as i32);
    kill(pid, Signal::SIGSTOP).expect("SIGSTOP our child");
    wait_for_state(m.pid() as i32, 'T', DEFAULT_DEADLINE);
    let (m, h) = until_not_alive(m, Duration::from_millis(200), 50);
    assert!(
        matches!(h, Health::Hung { .. }),
        "a stopped child does not beat: expected Hung, got {h:?}"
    );
    kill(pid, Signal::SIGCONT).expect("SIGCONT");
    let (_m, h) = check(m, DEFAULT_DEADLINE);
    assert!(
        matches!(h, Health::Alive { .. }),
        "after SIGCONT it beats again: expected Alive, got {h:?}"
    );
}

#[test]
fn a_dead_child_is_dead_not_hung() {
    let m = spawn(&["beat", "20"]);
    let (m, _) = wait_ready(m, DEFAULT_DEADLINE);
    let pid = m.pid();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("SIGKILL our child");
    let (m, h) = until_not_alive(m, DEFAULT_DEADLINE, 100);
    let Health::Dead(status) = h else {
        panic!("the child was killed: expected Dead, got {h:?}");
    };
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert_reaped(pid);
    let (_m, again) = check(m, Duration::from_millis(10));
    assert_eq!(again, Health::Dead(status), "dead stays dead");
}

#[test]
fn a_child_that_exits_is_dead_with_its_status() {
    let m = spawn(&["exit", "3"]);
    let (m, ready) = wait_ready(m, DEFAULT_DEADLINE);
    assert!(
        !ready,
        "a child that exits without saying `ready` was never ready"
    );
    let (_m, h) = check(m, DEFAULT_DEADLINE);
    assert!(
        matches!(h, Health::Dead(s) if s.code() == Some(3)),
        "expected Dead(exit 3), got {h:?}"
    );
}

#[test]
fn alive_is_not_ready() {
    let m = spawn(&["beat-unready", "20"]);
    let (m, ready) = wait_ready(m, Duration::from_millis(300));
    assert!(
        !ready,
        "the child beats but never says `ready`: not ready after the deadline"
    );
    let (_m, h) = check(m, DEFAULT_DEADLINE);
    assert!(
        matches!(h, Health::Alive { .. }),
        "it is alive all the same: expected Alive, got {h:?}"
    );
}

#[test]
fn a_child_that_closes_its_stdout_and_lives_on_is_not_waited_for() {
    // End of file says every write end is closed, not that the process is gone: this one
    // closes its stdout and goes on running.
    let m = start(
        Command::new("sh")
            .args(["-c", "echo ready; exec >&-; exec sleep 1000"])
            .stdin(Stdio::null()),
    )
    .unwrap_or_else(|e| panic!("start(sh) failed: {e}"));
    let (m, ready) = wait_ready(m, DEFAULT_DEADLINE);
    assert!(ready, "the child says `ready` before it closes its stdout");
    let pid = m.pid();
    let deadline = Duration::from_millis(300);
    let answer = call_with_deadline(deadline + GRACE, move || {
        let mut m = m;
        let h = m.check(deadline);
        (m, h)
    });
    let Some((m, h)) = answer else {
        let state = proc_state(pid);
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        panic!(
            "check({deadline:?}) was still blocked long after its deadline, after end of file on \
             the heartbeat pipe: the child closed its stdout but still runs (state {state:?}), \
             and a blocking wait for it after end of file lasts as long as it lives; wait for \
             its exit only until the deadline"
        );
    };
    let h = h.unwrap_or_else(|e| panic!("check failed: {e}"));
    assert!(
        matches!(h, Health::Hung { .. }),
        "the child closed its heartbeat pipe and still runs (state {:?}): no beat within the \
         deadline and not exited is Hung; got {h:?}",
        proc_state(pid)
    );
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("SIGKILL our child");
    // Each check waits for the exit at most its deadline: ask until the death is seen.
    let mut m = m;
    let mut h = h;
    for _ in 0..20 {
        let (back, now) = check(m, Duration::from_millis(300));
        (m, h) = (back, now);
        if matches!(h, Health::Dead(_)) {
            break;
        }
    }
    assert!(
        matches!(h, Health::Dead(s) if std::os::unix::process::ExitStatusExt::signal(&s) == Some(libc::SIGKILL)),
        "once killed it is Dead(SIGKILL); got {h:?}"
    );
    assert_reaped(pid);
}

#[test]
fn a_child_that_closes_its_stdout_then_exits_within_the_deadline_is_dead_not_hung() {
    // End of file first, the exit a second later: one check with a deadline longer than that
    // must wait for the exit and say Dead. A check that looks once (try_wait) right after end
    // of file finds the child still running and calls it hung.
    let m = start(
        Command::new("sh")
            .args(["-c", "echo ready; exec >&-; sleep 1; exit 7"])
            .stdin(Stdio::null()),
    )
    .unwrap_or_else(|e| panic!("start(sh) failed: {e}"));
    let (m, ready) = wait_ready(m, DEFAULT_DEADLINE);
    assert!(ready, "the child says `ready` before it closes its stdout");
    let pid = m.pid();
    let (_m, h) = check(m, DEFAULT_DEADLINE);
    assert!(
        matches!(h, Health::Dead(s) if s.code() == Some(7)),
        "the child closed its stdout, then exited with 7 a second later, well inside the \
         {DEFAULT_DEADLINE:?} deadline: after end of file, wait for its exit until the deadline \
         (a pidfd in poll, say) instead of looking once; expected Dead(exit 7), got {h:?}"
    );
    assert_reaped(pid);
}
