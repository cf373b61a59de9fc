//! Tests of `redirection/stdio_modes`: which file each of the child's fds 0, 1 and 2 is, read
//! from the child's own `/proc/PID/fd`, and what arrives where.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use redirection::stdio_modes::{capture_stdout, run_silenced, run_with_files};
use testkit::{children_of, proc_cmdline, sh, temp_dir, unique_name};

/// How long a single call may take before the test calls it stuck.
const DEADLINE: Duration = Duration::from_secs(5);

/// A shell script that writes, to the file named by its first argument, what the shell's own
/// fds 0, 1 and 2 point to (one `readlink` line each), then runs `rest`. The `readlink` runs in
/// a command substitution, so that no redirection of its own output changes the shell's fds.
fn report_fds(out: &Path, rest: &str) -> Command {
    let mut cmd = sh(&format!(
        "exec 3>\"$1\"; for fd in 0 1 2; do x=$(readlink /proc/$$/fd/$fd); echo \"$x\" >&3; done; \
         exec 3>&-; {rest}"
    ));
    cmd.arg("sh").arg(out);
    cmd
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What fd 2 of this test process points to: an inherited stderr points to the same.
fn my_stderr() -> String {
    std::fs::read_link("/proc/self/fd/2")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn silenced_child_has_dev_null_on_fds_0_1_and_2() {
    let dir = temp_dir("silenced");
    let report = dir.path().join("fds");
    let status = run_silenced(&mut report_fds(&report, "exit 3")).expect("run_silenced failed");
    assert_eq!(
        lines_of(&report),
        ["/dev/null", "/dev/null", "/dev/null"],
        "the child's fds 0, 1, 2 (from /proc/PID/fd) should all be /dev/null: set stdin, stdout \
         and stderr to Stdio::null()"
    );
    assert_eq!(
        status.code(),
        Some(3),
        "the child's exit status was not returned"
    );
}

#[test]
fn capture_stdout_returns_exactly_what_the_child_wrote() {
    let (status, out) = capture_stdout(&mut sh("printf 'hello\\nno newline at the end'; exit 4"))
        .expect("capture_stdout failed");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "hello\nno newline at the end",
        "captured stdout differs"
    );
    assert_eq!(
        status.code(),
        Some(4),
        "the child's exit status was not returned"
    );
}

#[test]
fn capture_stdout_pipes_only_stdout_with_null_stdin_and_inherited_stderr() {
    let dir = temp_dir("capture-fds");
    let report = dir.path().join("fds");
    capture_stdout(&mut report_fds(&report, "true")).expect("capture_stdout failed");
    let fds = lines_of(&report);
    assert_eq!(fds.len(), 3, "expected 3 readlink lines, got {fds:?}");
    assert_eq!(
        fds[0], "/dev/null",
        "fd 0 should be /dev/null (Stdio::null), got {fds:?}"
    );
    assert!(
        fds[1].starts_with("pipe:"),
        "fd 1 should be a pipe (Stdio::piped), got {:?}",
        fds[1]
    );
    assert_eq!(
        fds[2],
        my_stderr(),
        "fd 2 should be inherited: the same file as this process's stderr (Stdio::inherit; \
         note that `output()` pipes stderr by default)"
    );
}

#[test]
fn capture_stdout_reads_more_than_a_pipe_holds() {
    let marker = unique_name("big-capture");
    let mut cmd = sh("head -c 1048576 /dev/zero; exit 0");
    cmd.arg(&marker);
    let (status, out) = call_with_deadline(&marker, move || capture_stdout(&mut cmd))
        .expect("capture_stdout failed");
    assert!(status.success());
    assert_eq!(out.len(), 1 << 20, "expected 1 MiB of output");
}

#[test]
fn run_with_files_reads_stdin_from_one_file_and_writes_stdout_to_another() {
    let dir = temp_dir("with-files");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "abc\nxyz\n").unwrap();
    let status = run_with_files(Command::new("tr").args(["a-z", "A-Z"]), &input, &output)
        .expect("run_with_files failed");
    assert!(status.success(), "tr failed: {status}");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "ABC\nXYZ\n",
        "`tr a-z A-Z < in > out` gave a different out"
    );
}

#[test]
fn run_with_files_truncates_a_longer_existing_output() {
    let dir = temp_dir("with-files-trunc");
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "new\n").unwrap();
    std::fs::write(&output, "an old and much longer content\n").unwrap();
    run_with_files(&mut Command::new("cat"), &input, &output).expect("run_with_files failed");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "new\n",
        "the old content must be gone (truncate the output when opening it)"
    );
}

#[test]
fn run_with_files_reports_a_missing_input_without_running_the_command() {
    let dir = temp_dir("with-files-missing");
    let ran = dir.path().join("ran");
    let err = run_with_files(
        Command::new("touch").arg(&ran),
        &dir.path().join("no-such-input"),
        &dir.path().join("out"),
    )
    .expect_err("a missing input file should be an error");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "got {err}");
    assert!(
        !ran.exists(),
        "the command ran although its input could not be opened"
    );
}

/// Runs `f` on a thread; if it has not returned within [`DEADLINE`], kills this process's
/// children whose command line contains `marker` (the child stuck inside `f`), then panics.
fn call_with_deadline<T: Send + 'static>(
    marker: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let unblock = || {
        for (pid, _) in children_of(std::process::id()) {
            if proc_cmdline(pid).contains(marker) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    };
    testkit::call_or_unblock(DEADLINE, f, unblock).unwrap_or_else(|| {
        panic!(
            "capture_stdout did not return within {DEADLINE:?} for a child writing 1 MiB: \
             a pipe holds only 64 KiB, so the child blocks until someone reads. Read stdout \
             to its end BEFORE waiting for the child"
        )
    })
}

#[test]
fn capture_stdout_reaps_the_child_when_reading_fails() {
    testkit::isolated!();
    let dir = temp_dir("stdio-read-error");
    let (pid_file, go) = (dir.path().join("pid"), dir.path().join("go"));
    // The child writes a line once `go` exists, then keeps its stdout open until `go` is gone:
    // the read after the line finds the pipe empty, and fails (EAGAIN) once it is non-blocking.
    // It also ends when its pid file is gone (the temp dir, removed when this test fails). The
    // pid file appears whole (renamed into place), never empty.
    let mut cmd = sh(
        r#"echo $$ > "$1.new" && mv "$1.new" "$1"; while ! test -e "$2"; do test -e "$1" || exit 1; sleep 0.05; done; echo line; while test -e "$2"; do sleep 0.05; done"#,
    );
    cmd.arg("sh").arg(&pid_file).arg(&go);
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let capturing = std::thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        capture_stdout(&mut cmd)
    });
    let tid = tid_rx.recv().expect("the capturing thread's id");
    testkit::wait_until(DEADLINE, "capture_stdout to block reading the pipe", || {
        capturing.is_finished()
            || (pid_file.exists() && testkit::thread_sleeps_in(tid, &[libc::SYS_read]))
    });
    assert!(
        !capturing.is_finished(),
        "capture_stdout returned before the child wrote anything: it must read to EOF"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the child's pid file")
        .trim()
        .parse()
        .expect("a pid");
    testkit::make_our_read_end_nonblocking(pid, 1);
    std::fs::write(&go, b"").expect("create the go file");
    // Now the read fails. A correct capture_stdout waits for the child, which exits once `go`
    // is removed; a wrong one returns at once and leaves it behind.
    testkit::wait_until(
        DEADLINE,
        "capture_stdout to return or wait for its child",
        || capturing.is_finished() || testkit::thread_sleeps_in(tid, &[libc::SYS_wait4]),
    );
    std::fs::remove_file(&go).expect("remove the go file");
    testkit::wait_until(DEADLINE, "capture_stdout to return", || {
        capturing.is_finished()
    });
    let result = match capturing.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(result) => result,
    };
    // The child exits on its own now; see whether anyone reaps it.
    testkit::wait_until(DEADLINE, "the child to exit", || {
        testkit::proc_state(pid) != Some('S') && testkit::proc_state(pid) != Some('R')
    });
    let left = testkit::proc_state(pid) == Some('Z');
    if left {
        // Reap it here so that the failing test leaves nothing behind.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    }
    assert!(
        !left,
        "capture_stdout returned {result:?} and left its child (pid {pid}) unreaped, a zombie: \
         when reading the pipe fails, still wait for the child before returning the error"
    );
    let err = result.expect_err("a read that fails (EAGAIN here) must be returned as an error");
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
}
