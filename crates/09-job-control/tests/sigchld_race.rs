//! Tests for `job-control/sigchld_race`: no job is lost, however the scheduler orders the
//! parent, the child and the SIGCHLD handler.
//!
//! The code runs in the `job-sigchld` driver, a child process (it installs a handler and reaps
//! with `waitpid(-1)`, which must not happen in the test harness). To get the worst order
//! every time rather than once in a thousand runs, the driver records each job only after its
//! child has exited. The driver then stays alive until the test closes its stdin, so the test
//! can prove from /proc that it left no zombie.

use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use testkit::{
    ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, wait_until, zombie_children,
};

const WAIT: Duration = DEFAULT_DEADLINE;
const JOBS: usize = 100;

struct Driver {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    out: LineReader,
}

fn start(scenario: &str, n: usize) -> Driver {
    let (r, w) = std::io::pipe().expect("pipe");
    let w2 = w.try_clone().expect("dup");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_job-sigchld"));
    cmd.args([scenario, &n.to_string(), env!("CARGO_BIN_EXE_job-helper")])
        .stdin(Stdio::piped())
        .stdout(w)
        .stderr(w2);
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let stdin = guard.child().stdin.take();
    let out = LineReader::new(r, "the job-sigchld driver");
    Driver { guard, stdin, out }
}

impl Driver {
    /// No zombie while the driver is still alive, then a clean exit.
    fn finish(mut self) {
        let zombies = zombie_children(self.guard.id());
        assert!(
            zombies.is_empty(),
            "the driver still has zombie children {zombies:?}: the handler must reap every \
             child that ended, in a loop, since SIGCHLDs merge"
        );
        drop(self.stdin.take());
        let status = self.guard.wait(WAIT);
        assert_eq!(
            status.code(),
            Some(0),
            "the driver failed ({}); output:\n{}",
            describe_status(status),
            self.out.seen().join("\n")
        );
    }
}

/// Parses `launched N finished K lost [..] wrong [..]`.
fn summary(line: &str) -> (usize, usize, String, String) {
    let num = |key: &str| -> usize {
        line.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    let list = |key: &str| -> String {
        let start = line.find(&format!("{key} [")).expect("a list") + key.len() + 2;
        let end = line[start..].find(']').expect("]") + start;
        line[start..end].to_string()
    };
    (
        num("launched"),
        num("finished"),
        list("lost"),
        list("wrong"),
    )
}

#[test]
fn a_job_that_exits_before_it_is_recorded_is_not_lost() {
    let mut d = start("race", JOBS);
    // A hundred processes started and waited for one after the other: generous on a loaded
    // machine.
    let line = d.out.expect("launched ", WAIT * 4);
    let (n, finished, lost, wrong) = summary(&line);
    assert!(
        lost.is_empty(),
        "{} of {n} jobs are still marked running although their processes exited long ago \
         ({line}). Each child exited before the parent recorded it: the handler reaped a pid \
         that was not in the table yet, and the job was added afterwards, never to be \
         finished. Keep SIGCHLD blocked from before fork until the job is recorded.",
        lost.split_whitespace().count()
    );
    assert_eq!(finished, n, "every job must be finished: {line}");
    assert!(
        wrong.is_empty(),
        "jobs recorded with a status other than their exit code, or 128 + the signal that \
         killed them (PID:GOT): {wrong}"
    );
    d.finish();
}

#[test]
fn one_merged_sigchld_finishes_every_job_that_ended() {
    let mut d = start("burst", 40);
    let line = d.out.expect("launched ", WAIT * 2);
    let (n, finished, lost, wrong) = summary(&line);
    assert_eq!(
        finished, n,
        "{n} children ended while SIGCHLD was blocked: one pending signal stands for all of \
         them, and one run of the handler must reap them all (waitpid with WNOHANG in a loop \
         until nothing is left); still running: [{lost}]"
    );
    assert!(wrong.is_empty(), "wrong statuses (PID:GOT): {wrong}");
    d.finish();
}

#[test]
fn the_program_starts_with_the_callers_signal_mask() {
    let mut d = start("mask", 1);
    // The program and the driver write to the same pipe, in either order.
    d.out.expect("launched ", WAIT);
    let seen = d.out.seen().to_vec();
    let find = |prefix: &str| {
        seen.iter()
            .find(|l| l.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no {prefix:?} line in {seen:?}"))
    };
    assert_eq!(
        find("sigblk "),
        "sigblk 0000000000000000",
        "the launched program started with signals blocked: a blocked mask survives fork AND \
         exec, so the child must restore the caller's mask before exec"
    );
    assert_eq!(
        find("caller mask restored"),
        "caller mask restored: true",
        "after launch the caller's own mask must be what it was (SIGCHLD unblocked), or the \
         handler never runs again"
    );
    let line = find("launched ");
    let (_, finished, lost, _) = summary(&line);
    assert!(
        finished == 1 && lost.is_empty(),
        "the job was not finished: {line}"
    );
    d.finish();
}

#[test]
fn a_read_interrupted_by_sigchld_resumes() {
    let mut d = start("restart", 1);
    let line = d.out.expect("job ", WAIT);
    let pid: i32 = line
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    assert_eq!(
        line,
        format!("job {pid} running [{pid}]"),
        "a job just launched, still running, is listed as running"
    );
    // The driver printed the line and is now asleep in read(2) on its stdin.
    let driver = d.guard.id();
    wait_until(WAIT, "the driver to block in read", || {
        testkit::proc_state(driver) == Some('S')
    });
    // SAFETY: kill(2) on the driver's job.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // Reaped by the handler, so the SIGCHLD came while the driver was in read.
    wait_until(WAIT, "the handler to reap the killed job", || {
        testkit::proc_state(pid as u32).is_none()
    });
    std::io::Write::write_all(d.stdin.as_mut().expect("stdin"), b"go\n").expect("write");
    let line = d.out.expect("read ", WAIT);
    assert_eq!(
        line, "read returned 3 bytes",
        "a SIGCHLD handled during a read must not make it fail: install the handler with \
         SA_RESTART"
    );
    let line = d.out.expect("launched ", WAIT);
    let (_, finished, _, wrong) = summary(&line);
    assert!(
        finished == 1 && wrong.is_empty(),
        "the killed job must be finished with 128 + 9: {line}"
    );
    d.finish();
}
