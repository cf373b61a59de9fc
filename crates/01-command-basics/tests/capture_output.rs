//! Tests for `command-basics/capture_output`: real programs write to stdout and stderr, valid
//! UTF-8 or not, and `capture` / `stdout_text` must keep the streams apart and treat bytes right.
//!
//! Run them with `cargo xtask check command-basics/capture_output`.

use std::time::Duration;

use command_basics::capture_output::{Captured, TextError, capture, stdout_text};

#[track_caller]
fn capture_sh(script: &str) -> Captured {
    capture("/bin/sh", &["-c", script])
        .unwrap_or_else(|e| panic!("capture(\"/bin/sh -c {script:?}\") failed: {e}"))
}

#[test]
fn stdout_and_stderr_are_captured_separately() {
    let c = capture_sh("echo to-stdout; echo to-stderr >&2");
    assert_eq!(
        c.stdout, "to-stdout\n",
        "stdout of `echo to-stdout` (stderr was {:?})",
        c.stderr
    );
    assert_eq!(
        c.stderr, "to-stderr\n",
        "stderr of `echo to-stderr >&2` (stdout was {:?})",
        c.stdout
    );
    assert!(c.status.success(), "the script exits 0, got {}", c.status);
}

#[test]
fn a_failing_program_is_captured_not_an_error() {
    let c = capture_sh("echo partial; echo why-it-failed >&2; exit 3");
    assert_eq!(
        c.status.code(),
        Some(3),
        "the script exits 3, got {}",
        c.status
    );
    assert_eq!(c.stdout, "partial\n");
    assert_eq!(c.stderr, "why-it-failed\n");
}

#[test]
fn arguments_are_passed_to_the_captured_program() {
    let c = capture("/bin/echo", &["one", "two  three"]).expect("capture /bin/echo");
    assert_eq!(
        c.stdout, "one two  three\n",
        "`/bin/echo one 'two  three'` prints its two arguments separated by one space"
    );
}

#[test]
fn invalid_utf8_on_stdout_is_replaced_in_a_lossy_capture() {
    // printf '\377' writes the single byte 0xFF, which is never valid in UTF-8.
    let c = capture_sh(r"printf 'a\377b'");
    assert_eq!(
        c.stdout, "a\u{FFFD}b",
        "a lossy capture replaces the invalid byte 0xFF by U+FFFD and keeps the rest"
    );
}

#[test]
fn invalid_utf8_on_stderr_is_replaced_in_a_lossy_capture() {
    let c = capture_sh(r"printf 'err\377' >&2");
    assert_eq!(c.stderr, "err\u{FFFD}", "stderr is converted lossily too");
}

#[test]
fn large_output_on_both_streams_does_not_deadlock() {
    // 200 KB on each stream, more than a pipe holds (64 KiB on Linux). Waiting for the child
    // before reading, or reading one pipe to the end before the other, blocks forever.
    let dir = testkit::temp_dir("capture-large");
    let pid_file = dir.path().join("pid");
    let script = format!(
        "echo $$ > '{}'; head -c 200000 /dev/zero | tr '\\0' o; head -c 200000 /dev/zero | tr '\\0' e >&2",
        pid_file.display()
    );
    let got = testkit::call_or_unblock(
        Duration::from_secs(8),
        move || capture("/bin/sh", &["-c", &script]),
        || {
            // Unblock the stuck child (and so the learner's code) before failing.
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        },
    );
    let Some(got) = got else {
        panic!(
            "capture did not return within 8 s for a child writing 200 KB to both stdout and \
             stderr: both pipes must be read while the child runs (a full pipe blocks the writer)"
        );
    };
    let c = got.expect("capture of the large output");
    assert_eq!(c.stdout.len(), 200_000, "all of stdout is captured");
    assert_eq!(c.stderr.len(), 200_000, "all of stderr is captured");
    assert!(c.stdout.bytes().all(|b| b == b'o') && c.stderr.bytes().all(|b| b == b'e'));
}

#[test]
fn strict_text_returns_the_output_of_a_successful_program() {
    let text = stdout_text("/bin/echo", &["hello", "wörld"])
        .unwrap_or_else(|e| panic!("`/bin/echo hello wörld` should give text, got error: {e}"));
    assert_eq!(text, "hello wörld\n");
}

#[test]
fn strict_text_rejects_invalid_utf8_and_says_where() {
    match stdout_text("/bin/sh", &["-c", r"printf 'ok\377'"]) {
        Err(TextError::NotUtf8 { valid_up_to, .. }) => assert_eq!(
            valid_up_to, 2,
            "the output `ok\\377` has 2 valid bytes before the invalid one"
        ),
        other => panic!("expected TextError::NotUtf8 for the bytes `ok\\377`, got {other:?}"),
    }
}

#[test]
fn strict_text_reports_a_failed_program_with_its_stderr() {
    match stdout_text(
        "/bin/sh",
        &["-c", "echo partial; echo disk-is-full >&2; exit 4"],
    ) {
        Err(e @ TextError::Failed { .. }) => {
            let TextError::Failed { status, stderr, .. } = &e else {
                unreachable!()
            };
            assert_eq!(status.code(), Some(4), "the script exits 4");
            assert_eq!(
                stderr, "disk-is-full\n",
                "the error carries the program's stderr"
            );
            assert!(
                e.to_string().contains("disk-is-full"),
                "the message shows the stderr, got: {e}"
            );
        }
        other => panic!("expected TextError::Failed for a script that exits 4, got {other:?}"),
    }
}

#[test]
fn strict_text_reports_a_killed_program_as_failed() {
    match stdout_text("/bin/sh", &["-c", "echo partial; kill -9 $$"]) {
        Err(TextError::Failed { status, .. }) => {
            assert_eq!(status.code(), None, "a killed program has no exit code")
        }
        other => panic!("expected TextError::Failed for a script killed by SIGKILL, got {other:?}"),
    }
}

#[test]
fn strict_text_reports_a_missing_program_as_a_spawn_error() {
    let program = "/nonexistent/proclings-no-such-program";
    match stdout_text(program, &[]) {
        Err(e @ TextError::Spawn { .. }) => {
            let TextError::Spawn { source, .. } = &e else {
                unreachable!()
            };
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "got {source}");
            assert!(
                e.to_string().contains(program),
                "the message names the program: {e}"
            );
        }
        other => panic!("expected TextError::Spawn for {program}, got {other:?}"),
    }
}
