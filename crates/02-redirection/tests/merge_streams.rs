//! Tests of `redirection/merge_streams`: a child alternates writes to stdout and stderr, and
//! the merged result must keep that exact interleaving.

use std::process::Command;
use std::time::Duration;

use redirection::merge_streams::{capture_merged, run_merged_to_file};
use testkit::{sh, temp_dir};

const DEADLINE: Duration = Duration::from_secs(5);
const ROUNDS: usize = 200;

/// A child that writes `out1`, `err1`, `out2`, `err2`, ... alternating stdout and stderr, one
/// write per line, then exits with `code`.
fn alternating(code: i32) -> Command {
    sh(&format!(
        "i=1; while [ $i -le {ROUNDS} ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; exit {code}"
    ))
}

fn expected_interleaving() -> String {
    (1..=ROUNDS).map(|i| format!("out{i}\nerr{i}\n")).collect()
}

/// Where the merged text first differs from the expected one, for the failure message.
fn first_difference(got: &str, want: &str) -> String {
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(g, w)| g != w)
        .unwrap_or(got.lines().count().min(want.lines().count()));
    format!(
        "line {}: expected {:?}, got {:?} ({} bytes expected, {} got)",
        line + 1,
        want.lines().nth(line).unwrap_or("<end>"),
        got.lines().nth(line).unwrap_or("<end>"),
        want.len(),
        got.len()
    )
}

#[test]
fn merged_file_keeps_the_exact_interleaving() {
    let dir = temp_dir("merged-file");
    let path = dir.path().join("combined.log");
    let status = run_merged_to_file(&mut alternating(0), &path).expect("run_merged_to_file failed");
    assert!(status.success());
    let got = std::fs::read_to_string(&path).unwrap();
    let want = expected_interleaving();
    assert!(
        got == want,
        "the file must hold out1, err1, out2, err2, ... in write order; {}. Two separate opens of \
         the file have two offsets and overwrite each other: give stderr a duplicate \
         (File::try_clone) of stdout's file",
        first_difference(&got, &want)
    );
}

#[test]
fn stdout_and_stderr_share_one_open_file() {
    // Two opens with O_APPEND keep the interleaving too, yet they are two open files: each has
    // its own offset and flags. After the child wrote 4 bytes to stdout, the offset of its
    // stderr (read from /proc/PID/fdinfo/2) is 4 only when fd 2 is a dup of fd 1.
    let dir = temp_dir("merged-file-shared");
    let path = dir.path().join("combined.log");
    let script = r#"printf 'abc\n'; p=$(sed -n 's/^pos:[[:space:]]*//p' /proc/$$/fdinfo/2); echo "stderr offset $p""#;
    let status = run_merged_to_file(&mut sh(script), &path).expect("run_merged_to_file failed");
    assert!(status.success(), "the probing script failed: {status}");
    let got = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        got, "abc\nstderr offset 4\n",
        "after 4 bytes went to the child's stdout, its stderr must be at offset 4 too: fd 1 and \
         fd 2 must be ONE open file description (File::try_clone, which is dup), not two opens \
         of the path, which have an offset each (even with O_APPEND)"
    );
}

#[test]
fn merged_file_is_truncated_and_the_status_returned() {
    let dir = temp_dir("merged-file-trunc");
    let path = dir.path().join("combined.log");
    std::fs::write(&path, "x".repeat(10_000)).unwrap();
    let status = run_merged_to_file(&mut sh("echo a; echo b >&2; exit 6"), &path)
        .expect("run_merged_to_file failed");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "a\nb\n",
        "the old content must be gone"
    );
    assert_eq!(
        status.code(),
        Some(6),
        "the child's exit status was not returned"
    );
}

/// Runs `capture_merged` on a thread, failing with a clear message if it never returns.
fn capture_with_deadline(cmd: Command) -> (std::process::ExitStatus, Vec<u8>) {
    // The child has long exited when it overruns (it writes a few KiB): the reader is still
    // waiting for EOF, and nothing is left to kill. The blocked thread ends with the process.
    match testkit::call_with_deadline(DEADLINE, move || capture_merged(cmd)) {
        Some(result) => result.expect("capture_merged failed"),
        None => panic!(
            "capture_merged did not return within {DEADLINE:?}: reading the pipe never saw EOF. \
             EOF comes only when EVERY write end is closed, and this process still holds one \
             (the Command keeps the Stdio it was given until it is dropped; drop the writers and \
             the Command after spawn)"
        ),
    }
}

#[test]
fn captured_pipe_keeps_the_exact_interleaving() {
    let (status, out) = capture_with_deadline(alternating(0));
    assert!(status.success());
    let got = String::from_utf8_lossy(&out);
    let want = expected_interleaving();
    assert!(
        got == want,
        "the pipe must deliver out1, err1, out2, err2, ... in write order; {}. Both fds 1 and 2 \
         of the child must be the write end of ONE pipe (PipeWriter::try_clone); two pipes read \
         one after the other lose the order",
        first_difference(&got, &want)
    );
}

#[test]
fn captured_pipe_returns_the_status_with_stdin_on_dev_null() {
    let (status, out) = capture_with_deadline(sh("readlink /proc/$$/fd/0; exit 9"));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "/dev/null\n",
        "the child's stdin should be /dev/null"
    );
    assert_eq!(
        status.code(),
        Some(9),
        "the child's exit status was not returned"
    );
}

#[test]
fn captured_pipe_leaves_no_fd_open() {
    testkit::isolated!();
    let snap = testkit::FdSnapshot::take();
    let (status, _) = capture_with_deadline(sh("echo out; echo err >&2"));
    assert!(status.success());
    snap.assert_no_leak("after capture_merged");
}
