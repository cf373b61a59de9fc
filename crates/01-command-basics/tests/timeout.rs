//! Tests for `command-basics/timeout`: real commands that finish, die, or overrun a limit; after
//! each, `/proc` must show no child of ours left running or as a zombie.
//!
//! Each test runs alone in a fresh process (`testkit::isolated!`), so "our children" in `/proc`
//! are exactly the children this test started.
//!
//! Run them with `cargo xtask check command-basics/timeout`.

use std::io;
use std::process::Command;
use std::time::Duration;

use command_basics::timeout::{Finished, run_with_timeout};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// Calls `run_with_timeout` on a thread and gives it `limit` plus 5 s to return. If it does not,
/// kills our children (so the learner's code unblocks), then fails with a message.
fn call(mut cmd: Command, limit: Duration) -> io::Result<Finished> {
    let shown = format!("{cmd:?}");
    let mut left = Vec::new();
    let result = testkit::call_or_unblock(
        limit + Duration::from_secs(5),
        move || run_with_timeout(&mut cmd, limit),
        || left = kill_our_children(),
    );
    result.unwrap_or_else(|| {
        panic!(
            "run_with_timeout({shown}, {limit:?}) did not return within the limit + 5 s; \
             children still there: {left:?}. Poll with try_wait and kill with SIGKILL \
             (a child may ignore SIGTERM)."
        )
    })
}

/// Kills and reaps every child of this process; returns what was found, as (pid, state).
fn kill_our_children() -> Vec<(u32, char)> {
    let found = testkit::children_of(std::process::id());
    for &(pid, _) in &found {
        let pid = Pid::from_raw(pid as i32);
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
    }
    found
}

/// Asserts no child of ours is left; cleans up what is, so nothing leaks even on failure.
#[track_caller]
fn assert_no_children_left(after: &str) {
    let left = kill_our_children();
    let describe: Vec<String> = left
        .iter()
        .map(|&(pid, state)| match state {
            'Z' => format!("pid {pid} is a zombie: it ended but was never waited for"),
            s => format!("pid {pid} is still alive (state {s}): it was never killed"),
        })
        .collect();
    assert!(left.is_empty(), "after {after}: {}", describe.join("; "));
}

#[test]
fn a_command_that_finishes_in_time_reports_its_exit_status() {
    testkit::isolated!();
    match call(testkit::sh("exit 3"), Duration::from_secs(10)) {
        Ok(Finished::Exited(status)) => assert_eq!(status.code(), Some(3), "`exit 3`"),
        other => {
            panic!("`sh -c 'exit 3'` with a 10 s limit: expected Exited(code 3), got {other:?}")
        }
    }
    assert_no_children_left("a command that exited");
}

/// CPU time this process has used so far (user + system), from getrusage(2).
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

#[test]
fn waiting_pauses_between_polls_instead_of_spinning() {
    testkit::isolated!();
    // A loop that calls try_wait without pausing burns a whole core for as long as the child
    // runs. Pausing a few milliseconds between polls costs next to nothing.
    let before = cpu_time();
    let result = call(testkit::sh("exec sleep 1"), Duration::from_secs(10));
    let used = cpu_time().saturating_sub(before);
    assert!(
        matches!(result, Ok(Finished::Exited(_))),
        "`sleep 1` with a 10 s limit: expected Exited, got {result:?}"
    );
    assert!(
        used < Duration::from_millis(150),
        "waiting 1 s for `sleep 1` used {used:?} of CPU: the loop spins. Sleep a little \
         (a few milliseconds) between two try_wait calls"
    );
    assert_no_children_left("a command waited for by polling");
}

/// How long `/bin/true` may take under a limit of an hour: generous, and far from the limit.
const QUICK: Duration = Duration::from_secs(5);

#[test]
fn a_quick_command_does_not_wait_for_the_limit() {
    testkit::isolated!();
    // The limit is an hour: the call returning at all within a few seconds is the event that
    // shows it noticed the exit instead of sleeping until the limit.
    let limit = Duration::from_secs(3600);
    let returned = testkit::call_with_deadline(QUICK, move || {
        run_with_timeout(&mut Command::new("/bin/true"), limit)
    });
    let Some(result) = returned else {
        kill_our_children();
        panic!(
            "/bin/true exits at once, but run_with_timeout(/bin/true, {limit:?}) had not \
             returned {QUICK:?} later: return as soon as try_wait reports the exit, not when \
             the limit has passed"
        );
    };
    assert!(
        matches!(result, Ok(Finished::Exited(ref s)) if s.success()),
        "/bin/true: expected Exited(success), got {result:?}"
    );
    assert_no_children_left("/bin/true");
}

#[test]
fn a_command_killed_by_a_signal_in_time_is_exited_not_timed_out() {
    testkit::isolated!();
    match call(testkit::sh("kill -9 $$"), Duration::from_secs(10)) {
        Ok(Finished::Exited(status)) => assert_eq!(
            testkit::describe_status(status),
            "killed by signal 9",
            "the command killed itself"
        ),
        other => panic!(
            "`kill -9 $$` dies by itself before the limit: expected Exited(signal 9), got {other:?}"
        ),
    }
    assert_no_children_left("a command that killed itself");
}

#[test]
fn an_overrunning_command_times_out_and_is_killed_and_reaped() {
    testkit::isolated!();
    let mut cmd = Command::new("/bin/sleep");
    cmd.arg("30");
    match call(cmd, Duration::from_millis(200)) {
        Ok(Finished::TimedOut) => {}
        other => panic!("`sleep 30` with a 200 ms limit: expected TimedOut, got {other:?}"),
    }
    assert_no_children_left("a timed-out `sleep 30`");
}

#[test]
fn a_command_that_ignores_sigterm_is_still_stopped() {
    testkit::isolated!();
    // An ignored signal stays ignored across exec, so `sleep` ignores SIGTERM here.
    let cmd = testkit::sh("trap '' TERM; exec /bin/sleep 30");
    match call(cmd, Duration::from_millis(200)) {
        Ok(Finished::TimedOut) => {}
        other => panic!("a `sleep 30` that ignores SIGTERM: expected TimedOut, got {other:?}"),
    }
    assert_no_children_left("a timed-out command that ignores SIGTERM");
}

#[test]
fn a_command_that_cannot_start_is_an_error() {
    testkit::isolated!();
    let result = call(
        Command::new("/nonexistent/proclings-no-such-program"),
        Duration::from_secs(10),
    );
    match result {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound, "got {e}"),
        other => panic!("a missing program cannot time out or exit: expected Err, got {other:?}"),
    }
}
