//! Tests for `signals/exit_status`: an exit status in words, and the shell's number for it.
//!
//! The children are small shell scripts that exit or kill themselves; nothing here sends a
//! signal to any other process. The core-dump case is built from a raw wait status, because
//! whether a real crash writes a core file depends on the machine (`ulimit -c`, core_pattern).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use signals::exit_status::{describe, shell_code};
use testkit::{DEFAULT_DEADLINE, run_with_deadline, sh};

fn status_of(script: &str) -> ExitStatus {
    run_with_deadline(&mut sh(script), DEFAULT_DEADLINE).status
}

#[test]
fn a_normal_exit_is_reported_with_its_code() {
    let st = status_of("exit 1");
    assert_eq!(describe(st), "exited 1");
    assert_eq!(shell_code(st), 1);
    let ok = status_of("exit 0");
    assert_eq!(describe(ok), "exited 0");
    assert_eq!(shell_code(ok), 0);
}

#[test]
fn a_child_killed_by_sigkill_is_reported_by_signal_name() {
    let st = status_of("kill -KILL $$");
    assert_eq!(
        describe(st),
        "killed by SIGKILL",
        "raw status {:#x}: no exit code, signal 9",
        st.into_raw()
    );
    assert_eq!(shell_code(st), 128 + 9);
}

#[test]
fn a_child_killed_by_sigterm_gets_128_plus_15() {
    let st = status_of("kill -TERM $$");
    assert_eq!(describe(st), "killed by SIGTERM");
    assert_eq!(shell_code(st), 143);
}

#[test]
fn an_exit_code_of_137_is_not_a_signal() {
    // `exit 137` looks like SIGKILL in `$?`, but wait's status tells them apart.
    let st = status_of("exit 137");
    assert_eq!(describe(st), "exited 137");
    assert_eq!(shell_code(st), 137);
}

#[test]
fn the_shell_reports_the_same_number() {
    let out = run_with_deadline(&mut sh("sh -c 'kill -TERM $$'; echo $?"), DEFAULT_DEADLINE);
    let shell_says: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let st = status_of("kill -TERM $$");
    assert_eq!(
        shell_code(st),
        shell_says,
        "sh reported $?={shell_says} for a child killed by SIGTERM"
    );
}

#[test]
fn a_core_dump_is_noted() {
    // Linux's wait status: the low 7 bits are the signal, 0x80 is the core-dump bit.
    let st = ExitStatus::from_raw(libc::SIGABRT | 0x80);
    assert_eq!(describe(st), "killed by SIGABRT (core dumped)");
    assert_eq!(shell_code(st), 134);
    let plain = ExitStatus::from_raw(libc::SIGSEGV);
    assert_eq!(describe(plain), "killed by SIGSEGV");
}
