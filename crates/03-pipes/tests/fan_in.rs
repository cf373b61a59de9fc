//! Tests for `pipes/fan_in`: many writers into one pipe; EOF only when every write end is closed.
//!
//! The classic hang: if the parent keeps its own write end, `read_to_end` waits forever. These
//! tests run `fan_in` on a thread with a deadline; on a hang they list the pipe ends this
//! process and its children hold (from `/proc/PID/fd`), then kill and reap the children.

use std::process::Command;
use std::time::Duration;

use pipes::fan_in::{FanInOutput, fan_in};
use testkit::{FdSnapshot, call_with_deadline, describe_status, hang_report, sh};

const DEADLINE: Duration = Duration::from_secs(5);

fn run(commands: Vec<Command>) -> FanInOutput {
    match call_with_deadline(DEADLINE, move || fan_in(commands)) {
        Some(Ok(out)) => out,
        Some(Err(e)) => panic!("fan_in failed: {e}"),
        None => panic!(
            "{}",
            hang_report(&format!(
                "fan_in did not return within {DEADLINE:?}: reading the pipe never saw EOF. \
                 EOF comes only when EVERY write end is closed; a `write end` listed below \
                 for this process is probably the one you kept (drop the PipeWriter, and each \
                 Command holding a copy, before reading)"
            ))
        ),
    }
}

#[test]
fn output_of_every_command_arrives_and_reading_ends() {
    testkit::isolated!();
    let out = run(vec![sh("echo one"), sh("echo two"), sh("echo three")]);
    let mut lines: Vec<_> = String::from_utf8_lossy(&out.output)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        ["one", "three", "two"],
        "every command's line, in any order"
    );
}

#[test]
fn stderr_goes_into_the_same_pipe() {
    testkit::isolated!();
    let out = run(vec![sh("echo to-stdout; echo to-stderr >&2")]);
    let text = String::from_utf8_lossy(&out.output);
    assert!(
        text.contains("to-stdout") && text.contains("to-stderr"),
        "expected both streams in the output, got {text:?}"
    );
}

#[test]
fn every_status_is_reported_in_input_order() {
    testkit::isolated!();
    let out = run(vec![sh("exit 2"), sh("echo fine"), sh("exit 7")]);
    let codes: Vec<_> = out.statuses.iter().map(|s| s.code()).collect();
    assert_eq!(
        codes,
        [Some(2), Some(0), Some(7)],
        "got {:?}",
        out.statuses
            .iter()
            .map(|s| describe_status(*s))
            .collect::<Vec<_>>()
    );
}

#[test]
fn reading_waits_for_the_slowest_writer() {
    testkit::isolated!();
    // The second command writes only after the first has signalled it through a FIFO: output can be complete only
    // if reading goes on until the LAST write end is closed, not the first.
    let dir = testkit::temp_dir("fan_in_slowest");
    let go = testkit::path_in(&dir, "go");
    nix::unistd::mkfifo(&go, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let first = sh(&format!("echo early; echo go > '{}'", go.display()));
    let second = sh(&format!("read x < '{}'; echo late", go.display()));
    let out = run(vec![first, second]);
    let text = String::from_utf8_lossy(&out.output);
    assert!(
        text.contains("early") && text.contains("late"),
        "expected the output of both writers, got {text:?}"
    );
}

#[test]
fn no_pipe_end_is_left_open_afterwards() {
    testkit::isolated!();
    let before = FdSnapshot::take();
    run(vec![sh("echo a"), sh("echo b")]);
    before.assert_no_leak("after fan_in returned");
}
