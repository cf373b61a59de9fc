//! Tests for `pipes/pipeline`: N stages, every status, and the pipefail verdict.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use pipes::pipeline::{PipelineOutput, run_pipeline};
use testkit::{FdSnapshot, call_with_deadline, children_of, describe_status, hang_report, sh};

const DEADLINE: Duration = Duration::from_secs(5);

/// Runs the pipeline on a thread; on a hang, explains which pipe ends are open and cleans up.
fn run(commands: Vec<Command>, shown: &str) -> PipelineOutput {
    run_or_explain(
        commands,
        shown,
        "A pipe end is probably still open in the parent (a Command you kept holds it): a \
         reader sees EOF only when every write end is closed",
    )
}

/// [`run`], with `why` as the likely reason when `run_pipeline` hangs.
fn run_or_explain(commands: Vec<Command>, shown: &str, why: &str) -> PipelineOutput {
    match call_with_deadline(DEADLINE, move || run_pipeline(commands)) {
        Some(Ok(out)) => out,
        Some(Err(e)) => panic!("run_pipeline for `{shown}` failed: {e}"),
        None => panic!(
            "{}",
            hang_report(&format!(
                "run_pipeline for `{shown}` did not return within {DEADLINE:?}. {why}"
            ))
        ),
    }
}

fn statuses(out: &PipelineOutput) -> String {
    out.statuses
        .iter()
        .map(|s| describe_status(*s))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn data_flows_through_every_stage() {
    let out = run(
        vec![
            sh("printf 'pear\\napple\\nfig\\n'"),
            sh("sort"),
            sh("head -n 2"),
        ],
        "printf | sort | head -n 2",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "apple\nfig\n");
    assert_eq!(
        out.statuses.len(),
        3,
        "one status per stage: {}",
        statuses(&out)
    );
    assert!(
        out.statuses.iter().all(|s| s.success()),
        "{}",
        statuses(&out)
    );
    assert_eq!(out.pipefail(), None, "every stage succeeded");
}

#[test]
fn more_than_a_pipe_full_comes_out_of_the_last_stage() {
    testkit::isolated!();
    // 1 MiB is sixteen times what a pipe holds (64 KiB): the last stage can write it all only
    // while the parent reads its stdout.
    let out = run_or_explain(
        vec![sh("head -c 1048576 /dev/zero"), sh("cat"), sh("cat")],
        "head -c 1048576 /dev/zero | cat | cat",
        "The last stage writes 1 MiB into its stdout pipe, which holds 64 KiB: read that pipe \
         to EOF before waiting for the stages, or the last one blocks in write(2) while the \
         parent blocks in wait, for good",
    );
    assert_eq!(
        out.stdout.len(),
        1 << 20,
        "the last stage copied 1 MiB to its stdout; that much must come back"
    );
    assert!(
        out.pipefail().is_none(),
        "every stage should succeed: {}",
        statuses(&out)
    );
}

#[test]
fn every_stage_status_is_reported_in_order() {
    let out = run(
        vec![
            sh("exit 3"),
            sh("cat >/dev/null; exit 0"),
            sh("cat; exit 4"),
        ],
        "sh -c 'exit 3' | sh -c 'cat; exit 0' | sh -c 'cat; exit 4'",
    );
    let codes: Vec<_> = out.statuses.iter().map(|s| s.code()).collect();
    assert_eq!(
        codes,
        vec![Some(3), Some(0), Some(4)],
        "expected exit codes 3, 0, 4 in pipeline order, got {}",
        statuses(&out)
    );
}

#[test]
fn pipefail_names_the_rightmost_failing_stage() {
    let out = run(
        vec![sh("exit 3"), sh("cat; exit 5"), sh("cat")],
        "sh -c 'exit 3' | sh -c 'cat; exit 5' | cat",
    );
    let verdict = out.pipefail();
    assert_eq!(
        verdict.map(|(i, s)| (i, s.code())),
        Some((1, Some(5))),
        "bash's pipefail reports the LAST failing stage (index 1, exit 5); statuses were {}",
        statuses(&out)
    );
}

#[test]
fn a_stage_killed_by_a_signal_counts_as_a_failure() {
    testkit::isolated!();
    let mut head = Command::new("head");
    head.args(["-n", "1"]);
    let out = run(vec![Command::new("yes"), head], "yes | head -n 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "y\n");
    assert_eq!(
        out.statuses[0].signal(),
        Some(libc::SIGPIPE),
        "`yes` must die of SIGPIPE once `head` exits (that needs the parent to hold no read \
         end), got {}",
        statuses(&out)
    );
    assert_eq!(
        out.pipefail().map(|(i, _)| i),
        Some(0),
        "{}",
        statuses(&out)
    );
}

#[test]
fn a_single_command_is_a_pipeline_too() {
    let out = run(vec![sh("echo alone")], "echo alone");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alone\n");
    assert_eq!(out.statuses.len(), 1);
}

#[test]
fn an_empty_pipeline_is_invalid_input() {
    let err = call_with_deadline(DEADLINE, || run_pipeline(Vec::new()))
        .expect("run_pipeline(vec![]) hung")
        .expect_err("an empty pipeline must be an error");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn a_stage_that_cannot_start_stops_the_others() {
    testkit::isolated!();
    let mut sleeper = Command::new("sleep");
    sleeper.arg("30");
    let missing = Command::new("/nonexistent/proclings-no-such-program");
    let result = call_with_deadline(DEADLINE, move || run_pipeline(vec![sleeper, missing]));
    let leftover = children_of(std::process::id());
    testkit::kill_and_reap_children();
    match result {
        Some(Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
        Some(Ok(out)) => panic!("expected NotFound, got statuses {}", statuses(&out)),
        None => panic!("run_pipeline hung although the second program does not exist"),
    }
    assert!(
        leftover.is_empty(),
        "stages already started must be killed and reaped; still there: {leftover:?}"
    );
}

#[test]
fn no_pipe_end_is_left_open_afterwards() {
    testkit::isolated!();
    let before = FdSnapshot::take();
    run(
        vec![sh("echo x"), sh("cat"), sh("cat")],
        "echo x | cat | cat",
    );
    before.assert_no_leak("after run_pipeline returned");
}
