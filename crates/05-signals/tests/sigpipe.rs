//! Tests for `signals/sigpipe`: Rust ignores SIGPIPE, the default kills, and a child gets the
//! disposition its parent chose.
//!
//! Each writer is a child process whose stdout is a pipe: the test reads one line and closes its
//! end, so the writer's next write meets a pipe without a reader. No signal is sent by the test;
//! the kernel raises SIGPIPE in the writer itself.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use signals::sigpipe::set_child_sigpipe;
use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, run_with_deadline};

const WAIT: Duration = DEFAULT_DEADLINE;

/// Starts `cmd` with stdout piped, reads one line, closes the pipe and waits for the writer.
/// Returns its status and what it wrote to stderr.
fn break_the_pipe(cmd: &mut Command) -> (ExitStatus, String) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd);
    let stdout = guard.child().stdout.take().expect("piped");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read one line");
    // The only read end is gone now: the writer's next write raises SIGPIPE or fails with EPIPE.
    drop(reader);
    let mut stderr = guard.child().stderr.take().expect("piped");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut err).expect("read stderr");
    (guard.wait(WAIT), err)
}

#[test]
fn a_rust_program_starts_with_sigpipe_ignored_and_can_restore_the_default() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sigpipe"));
    cmd.arg("probe");
    let out = run_with_deadline(&mut cmd, WAIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["at start-up: Ok(Ignore)", "after restore: Ok(Default)"],
        "the Rust runtime sets SIGPIPE to SIG_IGN before main; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_rust_writer_with_the_default_restored_is_killed_quietly_by_sigpipe() {
    // First the contrast: with Rust's start-up setting the write fails with EPIPE.
    let mut ignored = Command::new(env!("CARGO_BIN_EXE_sigpipe"));
    let (st, err) = break_the_pipe(ignored.arg("write-ignored"));
    assert_eq!(st.code(), Some(1), "{}; stderr: {err}", describe_status(st));
    assert!(
        err.contains("Broken pipe"),
        "expected an EPIPE error, got: {err}"
    );

    let mut restored = Command::new(env!("CARGO_BIN_EXE_sigpipe"));
    let (st, err) = break_the_pipe(restored.arg("write"));
    assert_eq!(
        st.signal(),
        Some(libc::SIGPIPE),
        "after restore_default_sigpipe the writer must be killed by SIGPIPE (13), got {}; \
         stderr: {err}",
        describe_status(st)
    );
    assert!(
        err.is_empty(),
        "a death by SIGPIPE is silent, but stderr says: {err}"
    );
}

#[test]
fn a_child_told_to_ignore_sigpipe_gets_epipe_instead() {
    let mut cmd = Command::new("yes");
    set_child_sigpipe(&mut cmd, true);
    let (st, err) = break_the_pipe(&mut cmd);
    assert_eq!(
        st.code(),
        Some(1),
        "`yes` with SIGPIPE ignored must see EPIPE and exit 1, got {}; stderr: {err}",
        describe_status(st)
    );
    assert!(
        err.contains("Broken pipe"),
        "yes should report EPIPE, stderr: {err}"
    );
}

#[test]
fn a_child_given_the_default_is_killed_by_sigpipe() {
    let mut cmd = Command::new("yes");
    // pre_exec closures run in the order they were added: the last choice wins.
    set_child_sigpipe(&mut cmd, true);
    set_child_sigpipe(&mut cmd, false);
    let (st, err) = break_the_pipe(&mut cmd);
    assert_eq!(
        st.signal(),
        Some(libc::SIGPIPE),
        "`yes` with the default disposition must be killed by SIGPIPE, got {}; stderr: {err}",
        describe_status(st)
    );
}
