//! Tests for `command-basics/fork_exec`: fork + exec + waitpid by hand, on real programs.
//!
//! `fork` copies the whole process, and `cargo test` runs tests as threads of one process, so
//! every test here runs alone in a fresh process (`testkit::isolated!`). Then the children
//! found in `/proc` are exactly the ones this test made.
//!
//! Run them with `cargo xtask check command-basics/fork_exec`.

use command_basics::fork_exec::{Outcome, spawn_by_hand, wait_by_hand};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use testkit::{DEFAULT_DEADLINE, proc_ppid, proc_state};

/// Kills and reaps every child still there when dropped, so a failing test leaks nothing.
struct Reaper;

impl Drop for Reaper {
    fn drop(&mut self) {
        for (pid, _) in testkit::children_of(std::process::id()) {
            let pid = Pid::from_raw(pid as i32);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

/// spawn_by_hand + wait_by_hand, with the command in the failure message.
#[track_caller]
fn run(path: &str, args: &[&str]) -> Outcome {
    let pid = spawn_by_hand(path, args)
        .unwrap_or_else(|e| panic!("spawn_by_hand({path:?}, {args:?}) failed: {e}"));
    wait_by_hand(pid).unwrap_or_else(|e| panic!("wait_by_hand({pid}) for {path:?} failed: {e}"))
}

#[test]
fn the_program_runs_with_its_arguments_and_its_exit_code_comes_back() {
    testkit::isolated!();
    let _reaper = Reaper;
    // If argv[0] were missing, sh would take "-c" as its own name and "exit 5" as a script file.
    assert_eq!(
        run("/bin/sh", &["-c", "exit 5"]),
        Outcome::Exited(5),
        "`/bin/sh -c 'exit 5'`: argv must be [path, args...] and the code decoded from waitpid"
    );
}

#[test]
fn every_argument_arrives_intact() {
    testkit::isolated!();
    let _reaper = Reaper;
    let script = r#"test "$#" -eq 2 && test "$1" = "two words" && test "$2" = 'x$y' || { echo "got $# args: [$1] [$2]" >&2; exit 1; }"#;
    assert_eq!(
        run("/bin/sh", &["-c", script, "sh", "two words", "x$y"]),
        Outcome::Exited(0),
        "each argument must be one argv element, unchanged (see the child's stderr above)"
    );
}

#[test]
fn a_death_by_signal_is_decoded() {
    testkit::isolated!();
    let _reaper = Reaper;
    assert_eq!(
        run("/bin/sh", &["-c", "kill -9 $$"]),
        Outcome::Signaled(Signal::SIGKILL),
        "`kill -9 $$` kills the child with SIGKILL: WaitStatus::Signaled"
    );
}

#[test]
fn the_child_gets_the_default_sigpipe_disposition() {
    testkit::isolated!();
    let _reaper = Reaper;
    // The test binary, like every Rust program, ignores SIGPIPE, and exec keeps an ignored
    // signal ignored. Unless the child resets it, `kill -PIPE $$` does nothing and sh exits 0.
    assert_eq!(
        run("/bin/sh", &["-c", "kill -PIPE $$; exit 0"]),
        Outcome::Signaled(Signal::SIGPIPE),
        "`kill -PIPE $$` must kill sh. The test process, like every Rust program, ignores \
         SIGPIPE, the child inherits that, and an ignored signal stays ignored across exec: \
         put SIGPIPE back to its default in the child before exec, as std's Command does"
    );
}

#[test]
fn a_program_that_cannot_be_executed_exits_127() {
    testkit::isolated!();
    let _reaper = Reaper;
    assert_eq!(
        run("/nonexistent/proclings-no-such-program", &[]),
        Outcome::Exited(127),
        "fork succeeds, execv fails in the child, which must then _exit(127)"
    );
}

#[test]
fn spawn_returns_at_once_and_the_child_is_ours_until_waited() {
    testkit::isolated!();
    let _reaper = Reaper;
    let pid = spawn_by_hand("/bin/sleep", &["30"]).expect("spawn_by_hand(/bin/sleep 30)");
    let raw = pid.as_raw() as u32;
    assert_eq!(
        proc_ppid(raw),
        Some(std::process::id()),
        "the pid returned must be our own child (see /proc/{raw}/stat)"
    );
    assert_ne!(
        proc_state(raw),
        Some('Z'),
        "sleep 30 should still be running"
    );
    kill(pid, Signal::SIGKILL).expect("kill our child");
    assert_eq!(
        wait_by_hand(pid).expect("wait_by_hand"),
        Outcome::Signaled(Signal::SIGKILL),
        "we killed `sleep 30` with SIGKILL"
    );
    testkit::assert_reaped(raw);
}

#[test]
fn a_finished_child_stays_a_zombie_until_waited_for() {
    testkit::isolated!();
    let _reaper = Reaper;
    let pid = spawn_by_hand("/bin/true", &[]).expect("spawn_by_hand(/bin/true)");
    let raw = pid.as_raw() as u32;
    testkit::wait_until(
        DEFAULT_DEADLINE,
        "/bin/true to exit and become a zombie",
        || proc_state(raw) == Some('Z'),
    );
    assert_eq!(wait_by_hand(pid).expect("wait_by_hand"), Outcome::Exited(0));
    assert_eq!(
        proc_state(raw),
        None,
        "after waitpid the zombie {raw} must be gone from /proc"
    );
}

#[test]
fn a_nul_byte_is_rejected_before_forking() {
    testkit::isolated!();
    let _reaper = Reaper;
    let result = spawn_by_hand("/bin/echo", &["a\0b"]);
    assert_eq!(
        result,
        Err(Errno::EINVAL),
        "an argument with a NUL byte cannot be a C string: EINVAL"
    );
    assert_eq!(
        testkit::children_of(std::process::id()),
        vec![],
        "no child may be created when the arguments are invalid"
    );
}

#[test]
fn a_signal_during_the_wait_does_not_end_it() {
    testkit::isolated!();
    let _reaper = Reaper;
    testkit::handle_sigusr1_without_restart();
    // The child runs until a file appears, which the test creates only after the signal.
    let dir = testkit::temp_dir("fork-exec-eintr");
    let go = testkit::path_in(&dir, "go");
    let go_arg = go.to_str().expect("temp paths are UTF-8").to_owned();
    let script = r#"while ! test -e "$1"; do sleep 0.05; done; exit 3"#;
    let pid =
        spawn_by_hand("/bin/sh", &["-c", script, "sh", &go_arg]).expect("spawn_by_hand(/bin/sh)");
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiting = std::thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        wait_by_hand(pid)
    });
    let tid = tid_rx.recv().expect("the waiting thread's id");
    testkit::wait_until(DEFAULT_DEADLINE, "wait_by_hand to block in waitpid", || {
        waiting.is_finished() || testkit::thread_sleeps_in(tid, &[libc::SYS_wait4])
    });
    assert!(
        !waiting.is_finished(),
        "wait_by_hand returned while the child was still running: it must wait for it"
    );
    // The handler runs as the interrupted waitpid returns: EINTR, the child still running.
    testkit::interrupt_thread(&waiting);
    std::fs::write(&go, b"").expect("create the file the child waits for");
    testkit::wait_until(DEFAULT_DEADLINE, "wait_by_hand to return", || {
        waiting.is_finished()
    });
    let outcome = match waiting.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(outcome) => outcome,
    };
    assert_eq!(
        outcome,
        Ok(Outcome::Exited(3)),
        "a signal handler interrupted waitpid while the child still ran, so waitpid failed \
         with EINTR: that is no answer about the child, call waitpid again"
    );
}

/// The write end of a pipe the atexit handler below writes to, or -1.
static ATEXIT_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn report_atexit() {
    let fd = ATEXIT_FD.load(std::sync::atomic::Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) on a plain byte buffer; a closed or invalid fd only yields EBADF.
        unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
    }
}

#[test]
fn a_failed_exec_leaves_with_exit_underscore_not_exit() {
    testkit::isolated!();
    let _reaper = Reaper;
    // This process registers an atexit handler that writes to a pipe. The child of fork has a
    // copy of it; `exit` (and so `std::process::exit`) runs it, `_exit` does not.
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    use std::os::fd::AsRawFd;
    ATEXIT_FD.store(writer.as_raw_fd(), std::sync::atomic::Ordering::SeqCst);
    // SAFETY: registering a handler that only calls write(2).
    assert_eq!(unsafe { libc::atexit(report_atexit) }, 0, "atexit");
    let outcome = run("/nonexistent/proclings-no-such-program", &[]);
    ATEXIT_FD.store(-1, std::sync::atomic::Ordering::SeqCst);
    drop(writer);
    let mut seen = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut seen).expect("read the atexit pipe");
    assert!(
        seen.is_empty(),
        "the child ran this process's atexit handlers after its exec failed: it left with \
         `exit` (or `std::process::exit`), which also flushes stdio buffers copied from the \
         parent. Between fork and exec only `_exit` is safe (got {outcome:?})"
    );
    assert_eq!(outcome, Outcome::Exited(127), "a failed exec exits 127");
}
