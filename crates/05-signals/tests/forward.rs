//! Tests for `signals/forward`: the wrapper forwards SIGINT/SIGTERM to its child's whole process
//! group and exits with the child's status, 128 + N when signal N killed it.
//!
//! The wrapper is the `forward` binary, started by the test in a process group of its own; the
//! test signals only the wrapper's pid. Its child prints a line once it runs (the wrapper has
//! registered its handlers before starting it), so the test never waits on time. A guard kills
//! both process groups and the grandchild on drop, so a failing test leaves nothing behind.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, proc_state, wait_until};

const WAIT: Duration = DEFAULT_DEADLINE;

/// Kills what the test started, also on panic: the wrapper's group, the child's group, and
/// single pids that may have escaped both.
#[derive(Default)]
struct Cleanup {
    groups: Vec<i32>,
    pids: Vec<i32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &g in &self.groups {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
        for &p in &self.pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
}

fn start(script: &str) -> (ChildGuard, LineReader, Cleanup) {
    let (r, w) = std::io::pipe().expect("pipe");
    let w2 = w.try_clone().expect("dup");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forward"));
    cmd.args(["/bin/sh", "-c", script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(w)
        .stderr(w2);
    let guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let cleanup = Cleanup {
        groups: vec![guard.id() as i32],
        pids: Vec::new(),
    };
    (guard, LineReader::new(r, "the forward wrapper"), cleanup)
}

/// `pgrp` from /proc/PID/stat: the process group of `pid`.
fn pgrp(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

fn gone(pid: i32) -> bool {
    matches!(proc_state(pid as u32), None | Some('Z'))
}

#[test]
fn the_child_runs_in_its_own_process_group() {
    let (mut wrapper, mut out, mut cleanup) = start("echo \"child-pid $$\"; exec sleep 1000");
    let line = out.expect("child-pid ", WAIT);
    let child: i32 = line["child-pid ".len()..].parse().expect("a pid");
    cleanup.pids.push(child);
    cleanup.groups.push(child);
    let wrapper_pid = wrapper.id() as i32;
    assert_eq!(
        pgrp(child),
        Some(child),
        "the child (pid {child}) must lead a process group of its own, but it is in group {:?} \
         (the wrapper's is {wrapper_pid}): use Command::process_group(0)",
        pgrp(child)
    );
    kill(Pid::from_raw(wrapper_pid), Signal::SIGTERM).expect("signal our wrapper");
    let st = wrapper.wait(WAIT);
    assert_eq!(st.code(), Some(143), "{}", describe_status(st));
}

#[test]
fn sigterm_reaches_the_child_and_its_children_and_the_wrapper_exits_143() {
    let (mut wrapper, mut out, mut cleanup) =
        start("sleep 1000 & echo \"child-pid $$ grandchild-pid $!\"; wait");
    let line = out.expect("grandchild-pid", WAIT);
    let mut words = line.split(' ');
    let child: i32 = words
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("child pid");
    let grandchild: i32 = words
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("grandchild pid");
    cleanup.pids.extend([child, grandchild]);
    cleanup.groups.push(child);

    kill(Pid::from_raw(wrapper.id() as i32), Signal::SIGTERM).expect("signal our wrapper");
    let st = wrapper.wait(WAIT);
    assert_eq!(
        st.code(),
        Some(143),
        "the wrapper must survive SIGTERM, forward it, and exit 128 + 15 when the child dies of \
         it; got {}; output:\n{}",
        describe_status(st),
        out.seen().join("\n")
    );
    // The grandchild, orphaned by the child's death, is reaped by init (or the runner): it is
    // gone, or a zombie on its way out, once the signal killed it.
    wait_until(
        WAIT,
        &format!(
            "the grandchild {grandchild} to die of the forwarded SIGTERM (kill(pid) reaches the \
             child alone; killpg(pgid) reaches everything in its group)"
        ),
        || gone(grandchild),
    );
}

#[test]
fn sigint_is_forwarded_and_the_wrapper_exits_130() {
    let (mut wrapper, mut out, mut cleanup) = start("echo \"child-pid $$\"; exec sleep 1000");
    let line = out.expect("child-pid ", WAIT);
    let child: i32 = line["child-pid ".len()..].parse().expect("a pid");
    cleanup.pids.push(child);
    cleanup.groups.push(child);
    kill(Pid::from_raw(wrapper.id() as i32), Signal::SIGINT).expect("signal our wrapper");
    let st = wrapper.wait(WAIT);
    assert_eq!(
        st.code(),
        Some(130),
        "SIGINT forwarded to the child must make the wrapper exit 128 + 2, got {}",
        describe_status(st)
    );
}

#[test]
fn the_childs_exit_code_is_passed_through() {
    for (script, code) in [("exit 7", 7), ("exit 0", 0), ("kill -KILL $$", 137)] {
        let (mut wrapper, mut out, _cleanup) = start(script);
        let st = wrapper.wait(WAIT);
        assert_eq!(
            st.code(),
            Some(code),
            "for a child running `{script}` the wrapper must exit {code}, got {}; output:\n{}",
            describe_status(st),
            out.rest(WAIT).join("\n")
        );
    }
}
