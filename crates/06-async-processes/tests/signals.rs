//! Tests of `async-processes/signals`, through the `async-processes-supervise` driver. The test
//! starts the driver in a process group of its own, waits for its `ready PID` line (it is then
//! ready for signals) and for the pid of the grandchild its shell started, sends one real
//! signal to the driver's pid only, and checks, in `/proc`, that the child and the grandchild
//! are gone, and that the driver then died of the signal it got.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::async_processes::{KillOnDrop, is_dead, wait_dead};
use testkit::{ChildGuard, LineReader, describe_status};

const WAIT: Duration = testkit::DEFAULT_DEADLINE;

struct Supervisor {
    guard: ChildGuard,
    stderr: LineReader,
    child: u32,
    grandchild: u32,
    _cleanup: KillOnDrop,
}

/// Starts the driver on `sh -c SCRIPT`; SCRIPT must print its grandchild's pid first.
fn start(script: &str) -> Supervisor {
    let (out_r, out_w) = std::io::pipe().expect("pipe");
    let (err_r, err_w) = std::io::pipe().expect("pipe");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_async-processes-supervise"));
    cmd.args(["/bin/sh", "-c", script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w);
    let guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let mut cleanup = KillOnDrop::new();
    cleanup.group(guard.id());
    let mut stderr = LineReader::new(err_r, "the supervisor's stderr");
    let ready = stderr.expect("ready", WAIT);
    let child: u32 = ready
        .trim_start_matches("ready ")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("`ready PID` expected, got {ready:?}"));
    cleanup.group(child);
    let mut stdout = LineReader::new(out_r, "the child's stdout");
    let grandchild = stdout
        .next_line(WAIT)
        .expect("the child printed no pid")
        .trim()
        .parse()
        .expect("a pid");
    cleanup.pid(grandchild);
    Supervisor {
        guard,
        stderr,
        child,
        grandchild,
        _cleanup: cleanup,
    }
}

impl Supervisor {
    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.guard.id() as i32), sig).expect("signal the supervisor");
    }

    /// The driver's exit code, for a child that ended by itself.
    fn exit_code(&mut self) -> Option<i32> {
        let status = self.guard.wait(WAIT);
        if status.code().is_none() {
            panic!(
                "the supervisor was {}: the signal's default action ran. Listen for the \
                 signal (tokio::signal::unix::signal) before calling `ready`. It said: {:?}",
                describe_status(status),
                self.stderr.seen()
            );
        }
        status.code()
    }

    /// After `sig` was sent: the driver must have stopped the group, said so, and then died
    /// of `sig` itself (a parent shell's loop must see the signal, not an exit).
    fn assert_stopped_by(&mut self, sig: Signal) {
        let status = self.guard.wait(WAIT);
        if status.signal().is_some() && !is_dead(self.child) {
            panic!(
                "the supervisor was {} while its child still ran: the signal's default action \
                 ran before supervise could react. Listen for the signal \
                 (tokio::signal::unix::signal) before calling `ready`. It said: {:?}",
                describe_status(status),
                self.stderr.seen()
            );
        }
        self.assert_all_gone();
        let said = self.stderr.rest(WAIT);
        let line = format!("stopped by {sig}");
        assert!(
            said.iter().any(|l| l.contains(&line)) && status.signal() == Some(sig as i32),
            "after {sig}, supervise must return the matching Ending (the driver then says \
             {line:?} and dies of {sig}); the driver {} and said {:?}",
            describe_status(status),
            self.stderr.seen()
        );
    }

    fn assert_all_gone(&self) {
        wait_dead(
            self.child,
            WAIT,
            "the supervisor ended, but its child still runs: stop the child's group on a signal",
        );
        wait_dead(
            self.grandchild,
            WAIT,
            "the supervisor ended, but its child's child still runs: signal the whole process \
             group (killpg), not only the child",
        );
    }
}

const SCRIPT: &str = "sleep 1000 & echo $!; wait";

#[test]
fn sigint_stops_the_whole_group_and_reports_interrupted() {
    let mut s = start(SCRIPT);
    s.signal(Signal::SIGINT);
    s.assert_stopped_by(Signal::SIGINT);
}

#[test]
fn sigterm_stops_the_whole_group_and_reports_terminated() {
    let mut s = start(SCRIPT);
    s.signal(Signal::SIGTERM);
    s.assert_stopped_by(Signal::SIGTERM);
}

#[test]
fn a_group_that_ignores_sigterm_is_killed_after_the_grace() {
    let mut s = start("trap '' TERM; sleep 1000 & echo $!; wait");
    s.signal(Signal::SIGINT);
    // The supervisor ends once SIGKILL after the grace stopped the group.
    s.assert_stopped_by(Signal::SIGINT);
}

#[test]
fn a_child_that_ends_by_itself_gives_its_status() {
    let mut s = start("echo $$; exit 5");
    assert_eq!(
        s.exit_code(),
        Some(5),
        "the child's exit code, when no signal came"
    );
}
