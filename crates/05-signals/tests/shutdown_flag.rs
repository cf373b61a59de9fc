//! Tests for `signals/shutdown_flag`: SIGINT and SIGTERM set a flag, the loop notices it.
//!
//! The code under test runs in the `shutdown_flag` driver binary, a child process: handlers are
//! per process, and the test harness must never receive a signal. The driver prints `ready` once
//! its handlers are installed; each step waits for a line from the test, so the test decides
//! exactly when a step ends and no timing is involved.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status};

const WAIT: Duration = DEFAULT_DEADLINE;

struct Driver {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    out: LineReader,
}

impl Driver {
    /// Starts the driver with stdout and stderr on one pipe (so a panic message shows up in
    /// the lines a failure prints) and waits for `ready`.
    fn start(args: &[&str]) -> Driver {
        let (r, w) = std::io::pipe().expect("pipe");
        let w2 = w.try_clone().expect("dup");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shutdown_flag"));
        cmd.args(args).stdin(Stdio::piped()).stdout(w).stderr(w2);
        let mut guard = ChildGuard::spawn(&mut cmd);
        // Our copies of the write ends went into `cmd`: drop it so EOF comes when the child exits.
        drop(cmd);
        let stdin = guard.child().stdin.take();
        let mut out = LineReader::new(r, "the shutdown_flag driver");
        out.expect("ready", WAIT);
        if args != ["wait-first"] {
            out.expect("step 1", WAIT);
        }
        Driver { guard, stdin, out }
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.guard.id() as i32), sig).expect("kill our own child");
    }

    /// Ends the current step.
    fn finish_step(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(b"\n").expect("write to the driver's stdin");
        stdin.flush().expect("flush");
    }
}

fn stops_cleanly_on(sig: Signal) {
    let mut d = Driver::start(&[]);
    d.finish_step();
    d.out.expect("step 2", WAIT);
    // The signal is pending as soon as kill returns; it is delivered before the driver returns
    // from its read, so the step we end next is the last one.
    d.signal(sig);
    d.finish_step();
    let line = loop {
        match d.out.next_line(WAIT) {
            Some(line) if line.starts_with("stopping") => break line,
            Some(_) => {}
            None => {
                let status = d.guard.wait(WAIT);
                panic!(
                    "after one {sig} the driver ended without stopping cleanly: it {}; \
                     output:\n{}\nOne signal must only set the flag. If it exited 1, the \
                     conditional shutdown ran on the first signal: signal-hook runs the \
                     actions of one signal in registration order, so register_conditional_\
                     shutdown must come before flag::register, to see the flag still unset",
                    describe_status(status),
                    d.out.seen().join("\n")
                );
            }
        }
    };
    assert_eq!(
        line,
        "stopping after 2 steps",
        "after {sig} during step 2 the loop must finish that step and stop; all output:\n{}",
        d.out.seen().join("\n")
    );
    drop(d.stdin.take());
    let status = d.guard.wait(WAIT);
    assert_eq!(
        status.code(),
        Some(0),
        "a process that handles {sig} and stops cleanly exits 0, got {}; output:\n{}",
        describe_status(status),
        d.out.seen().join("\n")
    );
}

#[test]
fn sigterm_ends_the_loop_after_the_current_step() {
    stops_cleanly_on(Signal::SIGTERM);
}

#[test]
fn sigint_ends_the_loop_like_sigterm() {
    stops_cleanly_on(Signal::SIGINT);
}

#[test]
fn a_signal_before_the_first_step_runs_no_step() {
    let mut d = Driver::start(&["wait-first"]);
    // The driver waits on stdin before its loop: the flag is set before the first step.
    d.signal(Signal::SIGTERM);
    // EOF ends that wait, and any step's wait too.
    drop(d.stdin.take());
    let line = d.out.expect("stopping", WAIT);
    assert_eq!(
        line,
        "stopping after 0 steps",
        "SIGTERM arrived before the loop started, so no step may run: check the flag before \
         every step, the first one included (a loop that checks it after each step always \
         runs one step too many); output:\n{}",
        d.out.seen().join("\n")
    );
    let status = d.guard.wait(WAIT);
    assert_eq!(status.code(), Some(0), "got {}", describe_status(status));
}

#[test]
fn without_a_signal_the_loop_keeps_stepping() {
    let mut d = Driver::start(&[]);
    for n in 2..=4 {
        d.finish_step();
        d.out.expect(&format!("step {n}"), WAIT);
    }
    d.signal(Signal::SIGTERM);
    d.finish_step();
    let line = d.out.expect("stopping", WAIT);
    assert_eq!(
        line,
        "stopping after 4 steps",
        "output:\n{}",
        d.out.seen().join("\n")
    );
    drop(d.stdin.take());
    d.guard.wait(WAIT);
}

#[test]
fn a_second_signal_during_cleanup_forces_exit_status_1() {
    let mut d = Driver::start(&["stubborn-cleanup"]);
    d.signal(Signal::SIGINT);
    d.finish_step();
    d.out.expect("cleaning up", WAIT);
    // The cleanup now blocks until stdin closes. The second signal must end the process first:
    // it is pending before we close stdin, so it is delivered before the read can return EOF.
    d.signal(Signal::SIGTERM);
    drop(d.stdin.take());
    let status = d.guard.wait(WAIT);
    assert_eq!(
        status.code(),
        Some(1),
        "a second signal while the flag is already set must exit at once with status 1 \
         (flag::register_conditional_shutdown), got {}; output:\n{}",
        describe_status(status),
        d.out.seen().join("\n")
    );
}
