//! Tests of `redirection/feed_and_read`: MiBs through `cat` in both directions at once. The
//! naive "write everything, then read" hangs with both pipes full; each test runs the call on a
//! thread, and on a deadline kills the child (which unblocks the call) and reports the deadlock.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use redirection::feed_and_read::feed_and_read;
use testkit::{assert_reaped, proc_ppid, proc_state, sh};

/// A correct version moves 8 MiB through `cat` in well under a second, even on a busy machine.
const DEADLINE: Duration = Duration::from_secs(5);

/// `cmd` spawned with stdin and stdout piped, as `feed_and_read` expects, in a process group of
/// its own, so that on a deadline the test can kill it together with any process it started.
fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"))
}

/// Deterministic bytes that are not all alike (so a reordering would show).
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Stops and reaps the process behind its pidfd when dropped during a panic only.
struct PanicGuard(Option<std::os::fd::OwnedFd>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(pidfd) = &self.0
        {
            testkit::daemon::kill_and_reap(pidfd);
        }
    }
}

/// Calls `feed_and_read(child, input)` on a thread. If it has not returned by the deadline,
/// kills the child (still ours: the call never reaped it), which closes the pipes and unblocks
/// the call, then panics with `stuck`.
fn feed_with_deadline(child: Child, input: Vec<u8>, stuck: &str) -> (ExitStatus, Vec<u8>) {
    let pid = child.id();
    // If the call panics (the stub's todo!, say) it drops the child, perhaps never reaped: the
    // guard stops and reaps exactly that process (through its pidfd) as the panic passes by.
    let guard = PanicGuard(testkit::daemon::pidfd_open(pid));
    let result = testkit::call_or_unblock(
        DEADLINE,
        move || feed_and_read(child, input),
        || {
            // Only signal the group while its leader is still our unreaped child: never a
            // stranger. The whole group, because a shell's own children hold the pipes too.
            // With the child gone its pipe ends close: the stuck write fails, the read ends.
            if proc_ppid(pid) == Some(std::process::id()) && proc_state(pid) != Some('Z') {
                let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        },
    );
    drop(guard);
    match result {
        Some(result) => result.unwrap_or_else(|e| {
            let why = if e.kind() == std::io::ErrorKind::BrokenPipe {
                ". BrokenPipe (EPIPE) on stdin means the child exited without reading all its \
                 input: that is its choice, not an error; return the output it wrote"
            } else {
                ""
            };
            panic!("feed_and_read returned an error: {e}{why}")
        }),
        None => panic!("{stuck}"),
    }
}

const DEADLOCK: &str = "deadlock: both pipes full. feed_and_read did not return within 5 s \
     (the child was killed to end the test). The child blocked writing its stdout because \
     nobody read it, so it stopped reading its stdin, so your write to stdin blocked too. \
     Write stdin on a separate thread while this thread reads stdout";

#[test]
fn eight_mib_both_ways_through_cat_do_not_deadlock() {
    let input = pattern(8 << 20);
    let child = spawn_piped(&mut Command::new("cat"));
    let (status, out) = feed_with_deadline(child, input.clone(), DEADLOCK);
    assert!(status.success(), "cat failed: {status}");
    assert_eq!(
        out.len(),
        input.len(),
        "cat gave back a different number of bytes"
    );
    assert!(out == input, "cat gave back different bytes");
}

#[test]
fn a_child_that_answers_before_reading_does_not_deadlock() {
    // The child writes 4 MiB before it reads a single byte of its 4 MiB of input.
    let child = spawn_piped(&mut sh("head -c 4194304 /dev/zero; wc -c"));
    let (status, out) = feed_with_deadline(child, pattern(4 << 20), DEADLOCK);
    assert!(status.success());
    assert_eq!(
        out.len(),
        (4 << 20) + "4194304\n".len(),
        "unexpected output length"
    );
    assert!(
        out.ends_with(b"4194304\n"),
        "the child did not see all 4 MiB of input"
    );
}

#[test]
fn stdin_is_closed_so_the_child_sees_eof() {
    let child = spawn_piped(Command::new("wc").arg("-c"));
    let (status, out) = feed_with_deadline(
        child,
        b"hello".to_vec(),
        "feed_and_read did not return within 5 s for 5 bytes through `wc -c`: the child never \
         saw EOF on its stdin. Drop the ChildStdin after writing, so the pipe's write end closes",
    );
    assert!(status.success());
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        "5",
        "`wc -c` should have counted 5 bytes"
    );
}

#[test]
fn returns_the_exit_status_and_reaps_the_child() {
    let child = spawn_piped(&mut sh("cat; exit 3"));
    let pid = child.id();
    let (status, out) = feed_with_deadline(child, b"x".to_vec(), DEADLOCK);
    assert_eq!(
        status.code(),
        Some(3),
        "the child's exit status was not returned"
    );
    assert_eq!(out, b"x");
    assert_reaped(pid);
}

#[test]
fn a_child_that_stops_reading_early_is_not_an_error() {
    // `head -c 10` exits after 10 bytes; the rest of the input cannot be written (EPIPE).
    let child = spawn_piped(Command::new("head").args(["-c", "10"]));
    let (status, out) = feed_with_deadline(child, pattern(4 << 20), DEADLOCK);
    assert!(status.success());
    assert_eq!(out, pattern(10), "expected the first 10 bytes back");
}

#[test]
fn a_failed_read_does_not_leave_the_writer_blocked() {
    testkit::isolated!();
    let dir = testkit::temp_dir("feed-read-error");
    let (pid_file, go) = (dir.path().join("pid"), dir.path().join("go"));
    // The child never reads its stdin, so the writer blocks on the full stdin pipe. It writes
    // a line once `go` exists, then keeps its stdout open: the read after the line finds the
    // pipe empty, and fails (EAGAIN) once it is non-blocking. It ends when its pid file (renamed
    // into place, never seen empty) is gone.
    let mut cmd = sh(
        r#"echo $$ > "$1.new" && mv "$1.new" "$1"; while ! test -e "$2"; do test -e "$1" || exit 1; sleep 0.05; done; echo line; while test -e "$1"; do sleep 0.05; done"#,
    );
    cmd.arg("sh").arg(&pid_file).arg(&go);
    let child = spawn_piped(&mut cmd);
    let pid = child.id();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let feeding = std::thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        feed_and_read(child, pattern(1 << 20))
    });
    let tid = tid_rx.recv().expect("the feeding thread's id");
    testkit::wait_until(DEADLINE, "feed_and_read to block reading stdout", || {
        feeding.is_finished()
            || (pid_file.exists() && testkit::thread_sleeps_in(tid, &[libc::SYS_read]))
    });
    assert!(
        !feeding.is_finished(),
        "feed_and_read returned before the child wrote anything: it must read to EOF"
    );
    testkit::make_our_read_end_nonblocking(pid, 1);
    std::fs::write(&go, b"").expect("create the go file");
    let returned = testkit::try_wait_until(DEADLINE, "feed_and_read to return", || {
        feeding.is_finished()
    });
    if returned.is_err() {
        // Unblock it: the child's group dies, its pipes close, the writer gets EPIPE.
        if proc_ppid(pid) == Some(std::process::id()) && proc_state(pid) != Some('Z') {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = testkit::try_wait_until(DEADLINE, "the unblocked call to end", || {
            feeding.is_finished()
        });
        panic!(
            "reading the child's stdout failed (EAGAIN here), and feed_and_read did not return \
             within {DEADLINE:?}: it waited for its writer thread, blocked on the full stdin pipe \
             of a child that does not read it (and for the child, which does not end). When the \
             read fails, kill the child first: its stdin closes, the write fails with EPIPE, and \
             the thread and the child can be joined and reaped"
        );
    }
    let result = match feeding.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(result) => result,
    };
    let err = result.expect_err("a read that fails (EAGAIN here) must be returned as an error");
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    assert_reaped(pid);
}
