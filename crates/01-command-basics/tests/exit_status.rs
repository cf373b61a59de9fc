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
    // bit 7 set when a core was dumped; 0x7f in bits 0..8 and the signal in bits 8..16 for a
    // stop; 0xffff for a continue.
    let cases = [
        (0x0000, Ending::Exited(0)),
        (0x0300, Ending::Exited(3)),
        (0xff00, Ending::Exited(255)),
        (0x0009, Ending::Signaled(9)),
        (0x0086, Ending::Signaled(6)), // SIGABRT with a core dump
        (0x137f, Ending::Stopped(19)), // stopped by SIGSTOP (WUNTRACED)
        (0x147f, Ending::Stopped(20)), // stopped by SIGTSTP
        (0xffff, Ending::Continued),   // continued by SIGCONT (WCONTINUED)
    ];
    for (raw, want) in cases {
        let got = ending(ExitStatus::from_raw(raw));
        assert_eq!(got, want, "raw wait status {raw:#06x}");
    }
}

/// `waitpid(pid, flags)` on a helper thread with a deadline; the raw status it reported.
fn waitpid_raw(pid: libc::pid_t, flags: libc::c_int, what: &str) -> i32 {
    let waited = testkit::call_with_deadline(testkit::DEFAULT_DEADLINE, move || {
        loop {
            let mut raw = 0;
            // SAFETY: `raw` is a valid, writable c_int for the call's duration.
            let r = unsafe { libc::waitpid(pid, &mut raw, flags) };
            if r == pid {
                return Ok(raw);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    });
    match waited {
        Some(Ok(raw)) => raw,
        Some(Err(e)) => panic!("waitpid({pid}) for {what} failed: {e}"),
        None => {
            // Kill it so that the blocked waitpid returns and reaps it.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("pid {pid} did not report {what} within the deadline")
        }
    }
}

#[test]
fn a_child_that_stops_and_is_continued_is_neither_exited_nor_signaled() {
    // The shell stops itself; once continued, it waits for its stdin to close, then exits 7.
    // (Exiting at once would race with the test: a child that is already a zombie is reported
    // as exited, and the "continued" event is never seen.)
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "kill -STOP $$; read line; exit 7"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn /bin/sh");
    let stdin = child.stdin.take();
    // The guard kills the child if an assertion fails; it is reaped here by waitpid.
    let guard = testkit::ChildGuard::new(child);
    let pid = libc::pid_t::try_from(guard.id()).expect("a pid fits in pid_t");
    let stopped = ExitStatus::from_raw(waitpid_raw(pid, libc::WUNTRACED, "a stop"));
    assert_eq!(
        ending(stopped),
        Ending::Stopped(libc::SIGSTOP),
        "waitpid with WUNTRACED reported a stop (raw status {:#06x}): the process has not ended",
        stopped.into_raw()
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGCONT,
    )
    .unwrap_or_else(|e| panic!("SIGCONT to {pid}: {e}"));
    let continued = ExitStatus::from_raw(waitpid_raw(pid, libc::WCONTINUED, "a continue"));
    assert_eq!(
        ending(continued),
        Ending::Continued,
        "waitpid with WCONTINUED reported a continue (raw status {:#06x})",
        continued.into_raw()
    );
    drop(stdin);
    let exited = ExitStatus::from_raw(waitpid_raw(pid, 0, "its exit"));
    assert_eq!(ending(exited), Ending::Exited(7));
    drop(guard);
}

#[test]
fn the_child_inherits_our_stdin_stdout_and_stderr() {
    // The child writes where its fds 0, 1 and 2 lead into a file; they must be ours. `output()`
    // would hand it a null stdin and two fresh pipes (and keep what it prints from the user).
    let dir = testkit::temp_dir("exit-status-inherit");
    let report = testkit::path_in(&dir, "fds");
    let script = r#"a=$(readlink /proc/$$/fd/0); b=$(readlink /proc/$$/fd/1); c=$(readlink /proc/$$/fd/2); printf '0 %s\n1 %s\n2 %s\n' "$a" "$b" "$c" > "$1""#;
    let report_arg = report.to_str().expect("temp paths are UTF-8");
    let status = run_ok("/bin/sh", &["-c", script, "sh", report_arg]);
    assert_eq!(
        ending(status),
        Ending::Exited(0),
        "the reporting script failed"
    );
    let seen = std::fs::read_to_string(&report).expect("read the child's report");
    for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
        let ours = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        let theirs = seen
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{fd} ")))
            .unwrap_or("(missing)");
        assert_eq!(
            theirs, ours,
            "the child's {name} (fd {fd}) leads to {theirs:?}, ours to {ours:?}: `run` must let \
             the child inherit our stdio (`status()`), not capture it into pipes (`output()`)"
        );
    }
}
