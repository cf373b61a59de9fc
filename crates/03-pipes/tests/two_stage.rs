//! Tests for `pipes/two_stage`: `first | second` with a `ChildStdout` as the next stdin.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use pipes::two_stage::{TwoStageOutput, two_stage};
use testkit::{FdSnapshot, call_with_deadline, children_of, describe_status, hang_report, sh};

const DEADLINE: Duration = Duration::from_secs(5);

/// Runs `two_stage` on a thread; on a hang, explains which pipe ends are open and cleans up.
fn run(first: Command, second: Command, shown: &str) -> TwoStageOutput {
    run_or_explain(
        first,
        second,
        shown,
        "A pipe end is probably still open in the parent: a reader sees EOF only when every \
         write end is closed, and a writer gets EPIPE only when every read end is closed",
    )
}

/// [`run`], with `why` as the likely reason when `two_stage` hangs.
fn run_or_explain(first: Command, second: Command, shown: &str, why: &str) -> TwoStageOutput {
    let result = call_with_deadline(DEADLINE, move || {
        let (mut first, mut second) = (first, second);
        two_stage(&mut first, &mut second)
    });
    match result {
        Some(Ok(out)) => out,
        Some(Err(e)) => panic!("two_stage for `{shown}` failed: {e}"),
        None => panic!(
            "{}",
            hang_report(&format!(
                "two_stage for `{shown}` did not return within {DEADLINE:?}. {why}"
            ))
        ),
    }
}

#[test]
fn the_first_commands_output_is_the_second_commands_input() {
    let out = run(sh("printf 'a\\nb\\nc\\n'"), sh("wc -l"), "printf | wc -l");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "3",
        "expected `wc -l` to count the 3 lines printf wrote, got {text:?}"
    );
    assert!(out.first.success() && out.second.success());
}

#[test]
fn more_than_a_pipe_full_comes_out_of_the_second_stage() {
    testkit::isolated!();
    // 1 MiB is sixteen times what a pipe holds (64 KiB): `cat` can write it all only while the
    // parent reads its stdout.
    let out = run_or_explain(
        sh("head -c 1048576 /dev/zero"),
        sh("cat"),
        "head -c 1048576 /dev/zero | cat",
        "The second stage writes 1 MiB into its stdout pipe, which holds 64 KiB: read that pipe \
         to EOF before waiting for the stage (wait_with_output does both), or the stage blocks \
         in write(2) while the parent blocks in wait, for good",
    );
    assert_eq!(
        out.stdout.len(),
        1 << 20,
        "the second stage copied 1 MiB to its stdout; that much must come back"
    );
    assert!(out.first.success() && out.second.success());
}

#[test]
fn both_statuses_are_reported_separately() {
    let out = run(
        sh("echo data; exit 3"),
        sh("cat >/dev/null; exit 5"),
        "sh -c 'echo data; exit 3' | sh -c 'cat >/dev/null; exit 5'",
    );
    assert_eq!(
        (out.first.code(), out.second.code()),
        (Some(3), Some(5)),
        "expected the first stage to exit 3 and the second 5, got {} and {}",
        describe_status(out.first),
        describe_status(out.second)
    );
    assert!(out.stdout.is_empty(), "the second stage printed nothing");
}

#[test]
fn the_first_stage_dies_of_sigpipe_when_the_second_stops_reading() {
    testkit::isolated!();
    let mut second = Command::new("head");
    second.args(["-n", "1"]);
    let out = run(Command::new("yes"), second, "yes | head -n 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "y\n");
    assert_eq!(
        out.first.signal(),
        Some(libc::SIGPIPE),
        "expected `yes` to be killed by SIGPIPE (13) once `head` exited, got {}",
        describe_status(out.first)
    );
}

#[test]
fn a_second_stage_that_cannot_start_leaves_no_process_behind() {
    testkit::isolated!();
    let mut first = Command::new("sleep");
    first.arg("30");
    let mut second = Command::new("/nonexistent/proclings-no-such-program");
    let result = call_with_deadline(DEADLINE, move || two_stage(&mut first, &mut second));
    let leftover = children_of(std::process::id());
    testkit::kill_and_reap_children();
    match result {
        Some(Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
        Some(Ok(out)) => panic!("expected a NotFound error, got a result: {out:?}"),
        None => panic!("two_stage hung although the second program does not exist"),
    }
    assert!(
        leftover.is_empty(),
        "the first stage must be killed and reaped when the second cannot start; still \
         there: {leftover:?} (pid, state)"
    );
}

#[test]
fn no_pipe_end_is_left_open_afterwards() {
    testkit::isolated!();
    let before = FdSnapshot::take();
    run(sh("echo hello"), sh("cat"), "echo hello | cat");
    before.assert_no_leak("after two_stage returned");
}
