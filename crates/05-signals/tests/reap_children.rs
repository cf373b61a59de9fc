//! Tests for `signals/reap_children`: every child is reaped, even when SIGCHLDs coalesce.
//!
//! The code runs in the `reap_children` driver, a child process: `waitpid(-1)` in the test
//! harness would steal other tests' children. The driver starts its children, makes them all exit
//! at the same moment, reaps them, and then stays alive until the test closes its stdin, so the
//! test can read /proc and prove that none of its children is left a zombie.

use std::collections::BTreeMap;
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, zombie_children};

const WAIT: Duration = DEFAULT_DEADLINE;
const CHILDREN: usize = 40;

struct Driver {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    out: LineReader,
}

fn start() -> Driver {
    let (r, w) = std::io::pipe().expect("pipe");
    let w2 = w.try_clone().expect("dup");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reap_children"));
    cmd.arg(CHILDREN.to_string())
        .stdin(Stdio::piped())
        .stdout(w)
        .stderr(w2);
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let stdin = guard.child().stdin.take();
    let out = LineReader::new(r, "the reap_children driver");
    Driver { guard, stdin, out }
}

impl Driver {
    fn finish(mut self) {
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

#[test]
fn every_child_is_reaped_even_when_their_sigchlds_coalesce() {
    let mut d = start();
    let spawned = d.out.expect("spawned ", WAIT);
    let spawned: Vec<u32> = spawned["spawned ".len()..]
        .split(' ')
        .map(|p| p.parse().expect("a pid"))
        .collect();
    d.out.expect("while running", WAIT);
    // The driver's children exit together now. If `reaped` never comes, say what is left.
    let out = &mut d.out;
    let line =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| out.expect("reaped ", WAIT)))
            .unwrap_or_else(|_| {
                panic!(
                    "all {CHILDREN} children exited at once, and after {WAIT:?} the driver has not \
                 reaped them all; its zombie children now: {:?}. Forty exits may bring a single \
                 SIGCHLD: on each one, loop on waitpid(-1, WNOHANG) until StillAlive or ECHILD, \
                 not one waitpid per signal",
                    zombie_children(d.guard.id())
                )
            });
    let reaped: BTreeMap<u32, String> = line["reaped ".len()..]
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (pid, code) = s.split_once(':').expect("PID:CODE");
            (pid.parse().expect("a pid"), code.to_string())
        })
        .collect();
    d.out.expect("done", WAIT);
    for (i, pid) in spawned.iter().enumerate() {
        match reaped.get(pid) {
            Some(code) => assert_eq!(
                *code,
                (i % 7).to_string(),
                "child {pid} exited with {} but was reported as {code}",
                i % 7
            ),
            None => panic!("child {pid} was never reaped; reaped: {line}"),
        }
    }
    assert_eq!(
        reaped.len(),
        CHILDREN,
        "reaped more pids than spawned: {line}"
    );
    // The driver is still alive: any child it did not wait for would show up as a zombie.
    let zombies = zombie_children(d.guard.id());
    assert!(
        zombies.is_empty(),
        "the driver still has zombie children {zombies:?}: every exited child must be waited for"
    );
    d.finish();
}

#[test]
fn reap_ready_returns_at_once_while_children_still_run() {
    let mut d = start();
    let line = d.out.expect("while running", WAIT);
    assert_eq!(
        line, "while running: reaped 0",
        "with every child still running, reap_ready must return an empty list (WNOHANG)"
    );
    d.out.expect("done", WAIT);
    d.finish();
}

#[test]
fn reap_ready_without_any_child_is_not_an_error() {
    let mut d = start();
    let line = d.out.next_line(WAIT).unwrap_or_default();
    assert_eq!(
        line,
        "no children: reaped 0",
        "with no children at all waitpid fails with ECHILD, which means \"nothing to reap\"; \
         output:\n{}",
        d.out.seen().join("\n")
    );
    d.out.expect("done", WAIT);
    d.finish();
}
