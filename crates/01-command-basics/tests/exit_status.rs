//! Tests for `command-basics/exit_status`: real programs exit with codes or die by signals, and
//! `run` + `ending` must tell which.
//!
//! Run them with `cargo xtask check command-basics/exit_status`.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use command_basics::exit_status::{Ending, ending, run};

/// Runs `program args` through the learner's `run`, failing with the command when it errors.
#[track_caller]
fn run_ok(program: &str, args: &[&str]) -> ExitStatus {
    run(program, args).unwrap_or_else(|e| panic!("run({program:?}, {args:?}) failed: {e}"))
}

#[test]
fn a_program_that_succeeds_exits_with_code_zero() {
    let status = run_ok("/bin/true", &[]);
    assert!(status.success(), "/bin/true should succeed, got {status}");
    assert_eq!(
        ending(status),
        Ending::Exited(0),
        "/bin/true exits with code 0"
    );
}

#[test]
fn the_exit_code_of_the_program_comes_back() {
    let status = run_ok("/bin/sh", &["-c", "exit 42"]);
    assert_eq!(
        ending(status),
        Ending::Exited(42),
        "`/bin/sh -c 'exit 42'` exits with code 42 (raw status {status})"
    );
}

#[test]
fn arguments_reach_the_program_verbatim_without_a_shell() {
    // The script exits 0 only when it received exactly two arguments, spelled exactly so.
    // A shell in between would split "two words" and expand "$HOME".
    let script = r#"test "$#" -eq 2 && test "$1" = "two words" && test "$2" = '$HOME' || { echo "got $# args: [$1] [$2]" >&2; exit 1; }"#;
    let status = run_ok("/bin/sh", &["-c", script, "sh", "two words", "$HOME"]);
    assert_eq!(
        ending(status),
        Ending::Exited(0),
        "each element of `args` must be one argv element, unchanged (see the child's stderr above)"
    );
}

#[test]
fn a_program_is_found_on_path_by_its_bare_name() {
    let status = run_ok("sh", &["-c", "exit 7"]);
    assert_eq!(
        ending(status),
        Ending::Exited(7),
        "`sh` without a slash is searched for in PATH"
    );
}

#[test]
fn a_missing_program_is_an_error_not_a_status() {
    let err = run("/nonexistent/proclings-no-such-program", &[])
        .expect_err("running a program that does not exist must fail to spawn");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::NotFound,
        "expected NotFound (ENOENT), got {err}"
    );
}

#[test]
fn a_child_killed_by_sigkill_reports_the_signal_and_no_code() {
    let status = run_ok("/bin/sh", &["-c", "kill -9 $$"]);
    assert_eq!(
        status.code(),
        None,
        "a process killed by a signal has no exit code"
    );
    assert_eq!(
        ending(status),
        Ending::Signaled(9),
        "`kill -9 $$` kills the shell itself with SIGKILL (raw status {status})"
    );
}

#[test]
fn a_child_killed_by_sigterm_reports_signal_15() {
    let status = run_ok("/bin/sh", &["-c", "kill -TERM $$"]);
    assert_eq!(
        ending(status),
        Ending::Signaled(15),
        "`kill -TERM $$` ends the shell with SIGTERM (raw status {status})"
    );
}

#[test]
fn a_shell_reports_its_childs_signal_death_as_exit_code_128_plus_n() {
    // The inner shell dies of SIGKILL; the outer shell sees that and *exits* with 128 + 9.
    // From where we stand the outer shell exited normally: it is Exited(137), not Signaled(9).
    let status = run_ok("/bin/sh", &["-c", "/bin/sh -c 'kill -9 $$'; exit $?"]);
    assert_eq!(
        ending(status),
        Ending::Exited(137),
        "a code above 128 is still an exit code, not a signal (raw status {status})"
    );
}

#[test]
fn ending_decodes_raw_wait_statuses() {
    // The kernel's encoding (see wait(2)): exit code in bits 8..16, signal in bits 0..7,
    // bit 7 set when a core was dumped.
    let cases = [
        (0x0000, Ending::Exited(0)),
        (0x0300, Ending::Exited(3)),
        (0xff00, Ending::Exited(255)),
        (0x0009, Ending::Signaled(9)),
        (0x0086, Ending::Signaled(6)), // SIGABRT with a core dump
    ];
    for (raw, want) in cases {
        let got = ending(ExitStatus::from_raw(raw));
        assert_eq!(got, want, "raw wait status {raw:#06x}");
    }
}
