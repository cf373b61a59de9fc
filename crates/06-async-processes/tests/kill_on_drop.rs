//! Tests of `async-processes/kill_on_drop`: the output is captured, the wait does not block the
//! runtime's thread, and a future dropped half-way leaves no child behind (checked in `/proc`).

use std::time::Duration;

use async_processes::kill_on_drop::output_of;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, mkfifo};
use testkit::async_processes::{KillOnDrop, live_children_tagged, wait_dead};
use testkit::{call_or_unblock, proc_ppid, temp_dir, unique_name};
use tokio::process::Command;

const WAIT: Duration = testkit::DEFAULT_DEADLINE;

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// The pid the child writes to `path`, polled without blocking the runtime (a blocking wait
/// would keep the runtime from shutting down when the call under test panics).
async fn pid_in(path: &std::path::Path) -> u32 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the child never wrote its pid to {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn returns_the_status_and_both_streams() {
    let out = current_thread()
        .block_on(async {
            tokio::time::timeout(WAIT, output_of(sh("echo out; echo err >&2; exit 3"))).await
        })
        .expect("output_of did not return within the deadline")
        .expect("output_of failed");
    assert_eq!(out.status.code(), Some(3), "wrong exit status");
    assert_eq!(out.stdout, b"out\n", "stdout was not captured");
    assert_eq!(out.stderr, b"err\n", "stderr was not captured");
}

#[test]
fn a_program_that_cannot_start_is_an_error() {
    let err = current_thread()
        .block_on(output_of(Command::new("/nonexistent/program")))
        .expect_err("a missing program must be an error, not an exit status");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "got {err}");
}

#[test]
fn two_runs_wait_at_the_same_time_on_one_thread() {
    // The first child waits for a line that only the second child writes (through a FIFO).
    // Awaited at once on one thread, both finish; a wait that blocks the thread (std's
    // `output()`, `wait()`) runs the first alone, and it waits forever.
    let tag = unique_name("kod-concurrent");
    let dir = temp_dir("kod-concurrent");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).expect("mkfifo");
    let first = sh(&format!(
        "read x < {}; echo \"got $x\" # {tag}",
        fifo.display()
    ));
    let second = sh(&format!("echo hello > {} # {tag}", fifo.display()));
    let outputs = call_or_unblock(
        WAIT,
        move || {
            current_thread().block_on(async { tokio::join!(output_of(first), output_of(second)) })
        },
        || {
            for pid in live_children_tagged(&tag) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        },
    );
    let Some((first, second)) = outputs else {
        panic!(
            "the two runs did not finish within {WAIT:?}: the first child waited for the \
             second, which never started. Something blocked the runtime's only thread while \
             the first child ran: wait asynchronously (tokio::process), never with std's \
             blocking calls inside async code"
        );
    };
    let first = first.expect("the first run failed");
    second.expect("the second run failed");
    assert_eq!(first.stdout, b"got hello\n", "the first child's stdout");
}

#[test]
fn a_dropped_future_leaves_no_child_behind() {
    let dir = temp_dir("kod-drop");
    let pid_file = dir.path().join("pid");
    let mut guard = KillOnDrop::new();
    // One worker thread keeps driving tokio (and its reaping of dropped children) while the
    // test thread checks /proc.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let cmd = sh(&format!(
        "echo $$ > {}; exec sleep 1000",
        pid_file.display()
    ));
    let pid = rt.block_on(async {
        let seen = async {
            let pid = pid_in(&pid_file).await;
            // Checked while the `output_of` future still lives (it is dropped once this block
            // is done, and then the child may be gone at once).
            assert_eq!(
                proc_ppid(pid),
                Some(std::process::id()),
                "the pid in the file should be the child output_of started"
            );
            pid
        };
        // Whichever comes first: the child wrote its pid (then the `output_of` future is
        // dropped, mid-flight), or `output_of` returned (it must not: the child sleeps).
        tokio::select! {
            out = output_of(cmd) => panic!("output_of returned {out:?} while the child was still sleeping"),
            pid = seen => pid,
        }
    });
    guard.pid(pid);
    wait_dead(
        pid,
        WAIT,
        "the future of output_of was dropped, but its child kept running. A dropped Child is \
         not killed by default, in tokio as in std",
    );
    // tokio reaps a dropped child from its orphan queue, one for the whole process, when any
    // runtime of the process wakes after a SIGCHLD: best effort (this test's runtime may be
    // idle or gone by then). Reap it here if tokio has not yet, so that no zombie outlives the
    // test; ECHILD means tokio did.
    let _ = waitpid(Pid::from_raw(pid as i32), None);
    drop(rt);
}
