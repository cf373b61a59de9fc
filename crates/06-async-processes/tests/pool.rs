//! Tests of `async-processes/pool`: the limit is counted in `/proc` while the pool runs (never
//! by timing), it holds across clones of the pool, and a run that is cancelled keeps its slot
//! until its child is killed and reaped.
//!
//! Every child blocks on a pipe the test holds (`read x`) and carries a unique tag in its
//! command line, so the test can count exactly its own live children and let them go one by
//! one.

use std::collections::BTreeMap;
use std::io::{PipeWriter, Write};
use std::process::Stdio;
use std::time::Duration;

use async_processes::pool::ProcessPool;
use nix::sys::signal::{SigHandler, Signal};
use testkit::async_processes::{KillTagged, live_children_tagged};
use testkit::{proc_cmdline, proc_ppid, proc_state, try_wait_until, unique_name};
use tokio::process::Command;
use tokio::signal::unix::SignalKind;

const WAIT: Duration = testkit::DEFAULT_DEADLINE;

/// `sh -c 'read x; echo done NAME # TAG'`, blocked until the test writes to its stdin.
fn blocker(name: &str, tag: &str) -> (Command, PipeWriter) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("read x; echo done {name} # {tag} {name}-job"))
        .stdin(Stdio::from(reader));
    (cmd, writer)
}

/// Like [`blocker`], but the job first fills `mib` MiB of memory: killed, it takes milliseconds
/// to die while the kernel gives its pages back.
fn heavy_blocker(mib: usize, name: &str, tag: &str) -> (Command, PipeWriter) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_async-processes-heavy-job"));
    cmd.arg(mib.to_string())
        .args([name, tag, &format!("{name}-job")])
        .stdin(Stdio::from(reader));
    (cmd, writer)
}

/// The resident memory of `pid` in KiB, 0 when it cannot be read.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// The live children with `tag`, by job name.
fn live_jobs(tag: &str) -> BTreeMap<String, u32> {
    live_children_tagged(tag)
        .into_iter()
        .filter_map(|pid| {
            let cmdline = proc_cmdline(pid);
            let name = cmdline.split_whitespace().rfind(|w| w.ends_with("-job"))?;
            Some((name.trim_end_matches("-job").to_owned(), pid))
        })
        .collect()
}

#[test]
fn clones_share_one_limit_of_live_children() {
    const LIMIT: usize = 2;
    const JOBS: usize = 6;
    let tag = unique_name("pool-limit");
    let _cleanup = KillTagged(tag.clone());
    let rt = runtime();
    let pool = ProcessPool::new(LIMIT);
    let mut release = BTreeMap::new();
    let mut handles = Vec::new();
    for i in 0..JOBS {
        let (cmd, go) = blocker(&format!("j{i}"), &tag);
        release.insert(format!("j{i}"), go);
        // Each task gets its own clone, as tokio::spawn needs: all clones share one limit.
        let pool = pool.clone();
        handles.push(rt.spawn(async move { pool.output(cmd).await }));
    }
    let mut done = 0;
    let mut most = 0;
    while done < JOBS {
        let expected = LIMIT.min(JOBS - done);
        let mut seen = BTreeMap::new();
        let waited = try_wait_until(WAIT, &format!("{expected} live children"), || {
            seen = live_jobs(&tag);
            most = most.max(seen.len());
            assert!(
                seen.len() <= LIMIT,
                "{} children alive at once ({:?}) with a pool of {LIMIT}: every clone of the \
                 pool must share the same limit",
                seen.len(),
                seen.keys().collect::<Vec<_>>()
            );
            // A child just let go may still be finishing: wait for the ones still held.
            seen.keys().filter(|k| release.contains_key(*k)).count() == expected
        });
        if let Err(msg) = waited {
            panic!("{msg}: {} were alive ({:?})", seen.len(), seen.keys());
        }
        // Let one of them finish; the next command may then start.
        let name = seen
            .keys()
            .find(|k| release.contains_key(*k))
            .expect("one live job not yet let go")
            .clone();
        let mut go = release.remove(&name).expect("a job not yet released");
        go.write_all(b"go\n").expect("release a child");
        done += 1;
    }
    let mut outputs: Vec<String> = rt.block_on(async {
        let mut outputs = Vec::new();
        for h in handles {
            let out = tokio::time::timeout(WAIT, h)
                .await
                .expect("a run did not return after its child exited")
                .expect("a run panicked")
                .expect("a run failed");
            assert!(out.status.success(), "a child failed: {out:?}");
            outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        outputs
    });
    outputs.sort();
    let want: Vec<String> = (0..JOBS).map(|i| format!("done j{i}\n")).collect();
    assert_eq!(outputs, want, "each run returns its own child's stdout");
    assert_eq!(most, LIMIT, "the pool should run {LIMIT} children at once");
}

#[test]
fn a_cancelled_run_keeps_its_slot_until_its_child_is_reaped() {
    testkit::isolated!();
    let tag = unique_name("pool-cancel");
    let _cleanup = KillTagged(tag.clone());
    let rt = runtime();
    // tokio reaps a child that nobody waits for any more (one dropped with kill_on_drop, which
    // only sends SIGKILL) from a global orphan queue, when SIGCHLD reaches its handler. Take
    // that handler away (this test runs alone in its own process): such a child then stays a
    // zombie, which this test sees, while a child that is waited for is still reaped, since
    // tokio waits for it through a pidfd.
    let _sigchld = rt
        .block_on(async { tokio::signal::unix::signal(SignalKind::child()) })
        .expect("listen for SIGCHLD");
    // SAFETY: SIG_DFL installs no handler; for SIGCHLD it means "ignore, but keep zombies".
    unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) }
        .expect("reset SIGCHLD");
    let pool = ProcessPool::new(1);
    // The first job holds 256 MiB: after SIGKILL it is still there, dying, for milliseconds,
    // so a slot given back when the kill is only sent is seen here every time.
    const HEAVY_MIB: usize = 256;
    let (first, _hold_first) = heavy_blocker(HEAVY_MIB, "first", &tag);
    let (second, mut go_second) = blocker("second", &tag);
    let p = pool.clone();
    let first_run = rt.spawn(async move { p.output(first).await });
    let mut first_pid = None;
    try_wait_until(WAIT, "the first child to start and fill its memory", || {
        first_pid = live_jobs(&tag).get("first").copied();
        first_pid.is_some_and(|pid| rss_kib(pid) >= (HEAVY_MIB as u64) << 10)
    })
    .unwrap_or_else(|msg| panic!("{msg}"));
    let first_pid = first_pid.expect("seen");
    let p = pool.clone();
    let second_run = rt.spawn(async move { p.output(second).await });
    // The caller gives up on the first run: its future is dropped mid-flight.
    first_run.abort();
    let mut first_state_then = None;
    try_wait_until(WAIT, "the second child to start", || {
        let jobs = live_jobs(&tag);
        first_state_then = (proc_ppid(first_pid) == Some(std::process::id()))
            .then(|| proc_state(first_pid))
            .flatten();
        jobs.contains_key("second")
    })
    .unwrap_or_else(|msg| {
        panic!(
            "{msg}: after the first run was cancelled its slot should pass to the second \
             (the first child's state: {first_state_then:?})"
        )
    });
    match first_state_then {
        None => {}
        Some('Z') => panic!(
            "the second child started while the first was killed but not yet reaped (a \
             zombie): give the slot back only after the child was waited for. A permit held \
             by the cancelled future itself goes with it, and kill_on_drop only sends SIGKILL \
             without waiting: keep the permit with the child, in a task that kills, reaps, \
             and only then drops the permit"
        ),
        Some(state) => panic!(
            "the second child started while the cancelled first one was still alive (state \
             {state}): either it was never stopped, or it was sent SIGKILL and not waited for \
             (this one holds {HEAVY_MIB} MiB, and a process takes milliseconds to die while \
             the kernel gives its memory back). Kill the child when its run is cancelled and \
             give its slot back only once it is reaped: kill_on_drop only sends SIGKILL, and a \
             permit held by the cancelled future goes with it. Keep the permit with the child, \
             in a task that kills, reaps, and only then drops the permit"
        ),
    }
    go_second
        .write_all(b"go\n")
        .expect("release the second child");
    let out = rt
        .block_on(async { tokio::time::timeout(WAIT, second_run).await })
        .expect("the second run did not return")
        .expect("the second run panicked")
        .expect("the second run failed");
    assert_eq!(out.stdout, b"done second\n");
}

#[test]
fn a_command_that_cannot_start_gives_its_slot_back() {
    let rt = runtime();
    let pool = ProcessPool::new(1);
    rt.block_on(async {
        let err = tokio::time::timeout(WAIT, pool.output(Command::new("/nonexistent/program")))
            .await
            .expect("output did not return for a program that cannot start")
            .expect_err("a program that cannot start is an error");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "got {err}");
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 4"]);
        let out = tokio::time::timeout(WAIT, pool.output(cmd))
            .await
            .expect("the next command never started: the failed spawn kept the pool's only slot")
            .expect("the next command failed");
        assert_eq!(out.status.code(), Some(4), "the exit status");
        assert_eq!(out.stdout, b"out\n", "stdout captured");
        assert_eq!(out.stderr, b"err\n", "stderr captured");
    });
}
