//! Tests for `pipes/dead_reader`: EPIPE as a normal end for us, SIGPIPE for a child.
//!
//! This test binary is a Rust program, so SIGPIPE is ignored in it and writes to a pipe without
//! readers fail with EPIPE (`ErrorKind::BrokenPipe`) instead of killing it.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use pipes::dead_reader::{SigPipe, WriteOutcome, spawn_with_sigpipe, write_all_or_gone};
use testkit::{ChildGuard, call_with_deadline, describe_status, sh};

const DEADLINE: Duration = Duration::from_secs(5);

/// A shell loop that writes to stdout until a write fails, then exits 7.
const WRITE_FOREVER: &str = "while echo y; do :; done; exit 7";

#[test]
fn everything_is_written_when_the_reader_reads_everything() {
    let (reader, mut writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("wc");
    cmd.arg("-c").stdin(reader).stdout(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let data = vec![b'a'; 200_000];
    let outcome = call_with_deadline(DEADLINE, move || write_all_or_gone(&mut writer, &data))
        .expect("write_all_or_gone blocked although wc reads everything")
        .expect("write_all_or_gone");
    assert_eq!(outcome, WriteOutcome::Complete);
    let mut out = String::new();
    guard
        .child()
        .stdout
        .as_mut()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read wc's output");
    guard.wait(DEADLINE);
    assert_eq!(out.trim(), "200000", "wc -c must have received every byte");
}

#[test]
fn a_reader_that_exits_early_ends_the_write_normally() {
    let (reader, mut writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("head");
    cmd.args(["-c", "10"]).stdin(reader).stdout(Stdio::null());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let data = vec![b'b'; 4 << 20];
    let outcome = call_with_deadline(DEADLINE, move || write_all_or_gone(&mut writer, &data))
        .expect("write_all_or_gone blocked although its reader exited")
        .unwrap_or_else(|e| panic!("a vanished reader is a normal end, not an error: {e}"));
    guard.wait(DEADLINE);
    match outcome {
        WriteOutcome::ReaderGone { written } => assert!(
            (10..4 << 20).contains(&written),
            "`head -c 10` read at least 10 bytes and then left; reported written = {written}"
        ),
        WriteOutcome::Complete => panic!("4 MiB cannot all fit after `head -c 10` exited"),
    }
}

#[test]
fn a_reader_gone_before_the_first_write_means_nothing_was_written() {
    let (reader, mut writer) = io::pipe().expect("pipe");
    drop(reader);
    let outcome = write_all_or_gone(&mut writer, b"hello").expect("EPIPE is not an error here");
    assert_eq!(outcome, WriteOutcome::ReaderGone { written: 0 });
}

#[test]
fn other_write_errors_are_still_errors() {
    // /dev/null opened read-only: writing fails with EBADF, which is not a vanished reader.
    let mut read_only = File::open("/dev/null").expect("open /dev/null");
    let result = write_all_or_gone(&mut read_only, b"data");
    assert!(
        result.is_err(),
        "EBADF must be returned as an error, got {result:?}"
    );
}

#[test]
fn a_child_with_the_default_disposition_dies_of_sigpipe() {
    let mut cmd = sh(WRITE_FOREVER);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let child = spawn_with_sigpipe(&mut cmd, SigPipe::Default).expect("spawn");
    let mut guard = ChildGuard::new(child);
    // Closing the only read end: the child's next write meets a pipe without readers.
    drop(guard.child().stdout.take());
    let status = guard.wait(DEADLINE);
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "expected the child to be killed by SIGPIPE (13), got {}",
        describe_status(status)
    );
}

#[test]
fn a_child_that_ignores_sigpipe_sees_the_error_and_exits_on_its_own() {
    let mut cmd = sh(WRITE_FOREVER);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let child = spawn_with_sigpipe(&mut cmd, SigPipe::Ignore).expect("spawn");
    let mut guard = ChildGuard::new(child);
    drop(guard.child().stdout.take());
    let status = guard.wait(DEADLINE);
    assert_eq!(
        status.code(),
        Some(7),
        "with SIGPIPE ignored, `echo` fails with EPIPE and the loop exits 7; got {} (std \
         resets SIGPIPE to the default in children, so ignoring it needs pre_exec)",
        describe_status(status)
    );
}
