//! Tests for `job-control/sigchld_race`: no job is lost, however the scheduler orders the
//! parent, the child and the SIGCHLD handler.
//!
//! The code runs in the `job-sigchld` driver, a child process (it installs a handler and reaps
//! with `waitpid(-1)`, which must not happen in the test harness). To get the worst order
//! every time rather than once in a thousand runs, the driver records each job only after its
//! child has exited. The driver then stays alive until the test closes its stdin, so the test
//! can prove from /proc that it left no zombie. Its allocator ends a forked child that
//! allocates before exec with status 86.

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

impl Drop for Driver {
    /// A test that fails midway leaves the driver's jobs running (each in a group of its
    /// own, out of the guard's reach): kill them before the guard kills the driver.
    fn drop(&mut self) {
        for (pid, _) in testkit::children_of(self.guard.id()) {
            // SAFETY: kill(2) on a child of the driver this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

fn start(scenario: &str, n: usize) -> Driver {
    start_with_env(scenario, n, &[])
}

fn start_with_env(scenario: &str, n: usize, env: &[(&str, &str)]) -> Driver {
    let (r, w) = std::io::pipe().expect("pipe");
    let w2 = w.try_clone().expect("dup");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_job-sigchld"));
    cmd.envs(env.iter().copied());
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

/// The `contract` scenario's output, once it has printed its last line.
fn contract() -> (Driver, Vec<String>) {
    let mut d = start("contract", 1);
    d.out.expect("allocated before exec: ", WAIT * 2);
    let seen = d.out.seen().to_vec();
    (d, seen)
}

fn find<'a>(seen: &'a [String], prefix: &str) -> &'a str {
    seen.iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {seen:?}"))
}

#[test]
fn the_job_runs_in_a_process_group_of_its_own_from_its_first_instruction() {
    let (d, seen) = contract();
    let probe = find(&seen, "probe ");
    let field = |k: &str| {
        probe
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        field("pid="),
        field("pgid="),
        "the launched program runs in the caller's process group ({probe}): a shell's job \
         leads a group of its own, so that ^C, ^Z and killpg reach the job and not the shell. \
         The child calls setpgid(0, 0) before exec."
    );
    d.finish();
}

#[test]
fn a_program_that_cannot_be_executed_ends_its_child_with_127() {
    let (d, seen) = contract();
    assert_eq!(
        find(&seen, "missing program "),
        "missing program finished with 127",
        "when exec fails the child must end at once with _exit(127), as a shell does: \
         returning an error (or panicking) runs a second copy of the caller's program, and \
         exit() runs the caller's atexit handlers and flushes its copied buffers"
    );
    d.finish();
}

#[test]
fn a_bare_name_is_searched_on_path_as_execvp_does() {
    // PATH: a directory whose `jc-prog` is a plain file (not executable), then one whose
    // `jc-prog` is the helper. execvp skips the first and runs the second.
    let dir = tempfile::tempdir().expect("a temp dir");
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir(&first).expect("mkdir");
    std::fs::create_dir(&second).expect("mkdir");
    std::fs::write(first.join("jc-prog"), "not a program\n").expect("write");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_job-helper"), second.join("jc-prog"))
        .expect("symlink");
    let path = format!("{}:{}:/bin:/usr/bin", first.display(), second.display());
    let mut d = start_with_env(
        "contract",
        1,
        &[("PATH", &path), ("JOB_SIGCHLD_BARE_NAME", "jc-prog")],
    );
    d.out.expect("allocated before exec: ", WAIT * 2);
    let seen = d.out.seen().to_vec();
    assert_eq!(
        find(&seen, "bare name "),
        "bare name finished with 9",
        "launch([\"jc-prog\", ...]) with PATH={path} must search PATH as execvp does, passing \
         over a file that is not executable, and run the helper (which exits 9)"
    );
    d.finish();
}

#[test]
fn an_empty_argv_is_einval_and_starts_nothing() {
    let (d, seen) = contract();
    assert_eq!(
        find(&seen, "empty argv: "),
        "empty argv: EINVAL: Invalid argument recorded false",
        "an empty argv names no program: launch must return Err(EINVAL) before forking \
         (argv[0] panics, and a fork would start a child with nothing to run)"
    );
    d.finish();
}

#[test]
fn the_child_allocates_nothing_between_fork_and_exec() {
    let (d, seen) = contract();
    assert_eq!(
        find(&seen, "allocated before exec: "),
        "allocated before exec: 0",
        "a child allocated memory between fork and exec: in the child of a threaded program \
         only async-signal-safe functions may run until exec (signal-safety(7)), and malloc \
         is not one. Build the path and argv's null-terminated pointer array before fork and \
         call execv in the child (nix's execvp builds that array in the child). Seen: {seen:?}"
    );
    d.finish();
}

#[test]
fn the_handler_leaves_errno_as_it_found_it() {
    let mut d = start("errno", 1);
    let line = d.out.expect("errno after the handler: ", WAIT);
    assert_eq!(
        line,
        format!("errno after the handler: {0} (EDOM is {0})", libc::EDOM),
        "the handler ran between two instructions of a program that had just set errno, and \
         changed it (its last waitpid fails with ECHILD, 10): save errno on entry \
         (Errno::last_raw) and restore it before returning (Errno::set_raw)"
    );
    let line = d.out.expect("launched ", WAIT);
    let (_, finished, _, wrong) = summary(&line);
    assert!(
        finished == 1 && wrong.is_empty(),
        "the job was not finished: {line}"
    );
    d.finish();
}

/// `voluntary_ctxt_switches` of `pid`, from /proc/PID/status (0 if it cannot be read).
fn voluntary_switches(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn no_sigchld_comes_for_a_job_that_stops() {
    let mut d = start("stop", 1);
    let line = d.out.expect("job ", WAIT);
    let pid: u32 = line
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    // The job and the driver write to the same pipe, in either order.
    if !d.out.seen().iter().any(|l| l.starts_with("spin ready")) {
        d.out.expect("spin ready", WAIT);
    }
    wait_until(WAIT, "the job to sleep in pause()", || {
        testkit::proc_state(pid) == Some('S')
    });
    let before = voluntary_switches(pid);
    // SAFETY: kill(2) on the driver's job.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    // The stopping process notifies its parent before it gives up the CPU: once it is stopped
    // and has switched away, any SIGCHLD for the stop is pending in the driver.
    wait_until(WAIT, "the job to stop and leave the CPU", || {
        testkit::proc_state(pid) == Some('T') && voluntary_switches(pid) > before
    });
    std::io::Write::write_all(d.stdin.as_mut().expect("stdin"), b"stopped\n").expect("write");
    let line = d.out.expect("sigchld pending after a stop: ", WAIT);
    assert_eq!(
        line, "sigchld pending after a stop: false",
        "a job that stopped sent the shell a SIGCHLD: install the handler with SA_NOCLDSTOP, \
         or every ^Z (and every SIGCONT) runs the handler for nothing and interrupts the \
         calls SA_RESTART does not restart (poll, nanosleep, sigtimedwait...)"
    );
    let line = d.out.expect("launched ", WAIT);
    let (_, finished, _, wrong) = summary(&line);
    assert!(
        finished == 1 && wrong.is_empty(),
        "the killed job must be finished with 128 + 9: {line}"
    );
    d.finish();
}
