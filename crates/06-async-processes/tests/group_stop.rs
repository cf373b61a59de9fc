//! Tests of `async-processes/group_stop`. Every command is a shell that starts a grandchild
//! (`sleep 1000 &`) and prints its pid; stopping only the shell (`kill_on_drop`, `Child::kill`)
//! leaves the grandchild running, and the tests check it in `/proc`. SIGTERM first and SIGKILL
//! after the grace are told apart by the exit status (a shell that traps SIGTERM exits 7; one
//! killed by SIGKILL has no code).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use async_processes::group_stop::{Outcome, run_stoppable};
use testkit::async_processes::{KillOnDrop, KillTagged, wait_dead};
use testkit::{LineReader, unique_name};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = testkit::DEFAULT_DEADLINE;
/// Longer than any test may take: a run that waits for all of it is a bug.
const LONG: Duration = Duration::from_secs(1000);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// `sh -c SCRIPT # TAG` with stdout on a pipe the test reads.
fn shell(script: &str, tag: &str) -> (Command, LineReader) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("{script} # {tag}"))
        .stdout(Stdio::from(writer))
        .stdin(Stdio::null());
    (cmd, LineReader::new(reader, "the shell"))
}

/// The grandchild's pid, from the first line the shell prints.
fn grandchild(out: &mut LineReader, guard: &mut KillOnDrop) -> u32 {
    let line = out
        .next_line(WAIT)
        .expect("the shell printed no pid: was it stopped before it could start its grandchild?");
    let pid = line.trim().parse().expect("a pid");
    guard.pid(pid);
    pid
}

const GRANDCHILD_SURVIVED: &str = "the command was stopped, but the process it started still \
     runs: signalling the child alone (kill_on_drop, Child::kill) misses its children. Put the \
     child in a process group of its own and signal the group";

#[test]
fn a_command_that_ends_in_time_reports_its_status() {
    let tag = unique_name("gs-exit");
    let _cleanup = KillTagged(tag.clone());
    let (cmd, _out) = shell("exit 4", &tag);
    let outcome = runtime()
        .block_on(async {
            tokio::time::timeout(
                WAIT,
                run_stoppable(cmd, LONG, LONG, CancellationToken::new()),
            )
            .await
        })
        .expect("run_stoppable did not return after the command exited")
        .expect("run_stoppable failed");
    match outcome {
        Outcome::Exited(status) => assert_eq!(status.code(), Some(4), "the exit status"),
        other => panic!("expected Exited(exit status 4), got {other:?}"),
    }
}

#[test]
fn a_command_that_exits_by_itself_leaves_nothing_it_started_running() {
    let tag = unique_name("gs-exit-bg");
    let _cleanup = KillTagged(tag.clone());
    let mut guard = KillOnDrop::new();
    let (cmd, mut out) = shell("sleep 1000 & echo $!; exit 0", &tag);
    let outcome = runtime()
        .block_on(async {
            tokio::time::timeout(
                WAIT,
                run_stoppable(cmd, LONG, LONG, CancellationToken::new()),
            )
            .await
        })
        .expect("run_stoppable did not return after the command exited")
        .expect("run_stoppable failed");
    let sleeper = grandchild(&mut out, &mut guard);
    match outcome {
        Outcome::Exited(status) => assert_eq!(status.code(), Some(0), "the exit status"),
        other => panic!("expected Exited(exit status 0), got {other:?}"),
    }
    wait_dead(
        sleeper,
        WAIT,
        "the command exited by itself, but the job it started in the background still runs: \
         nothing the command started may outlive run_stoppable. When the leader exits, clear \
         the rest of its group too",
    );
}

#[test]
fn a_timeout_stops_the_command_and_its_grandchild() {
    let tag = unique_name("gs-timeout");
    let _cleanup = KillTagged(tag.clone());
    let mut guard = KillOnDrop::new();
    let (cmd, mut out) = shell("sleep 1000 & echo $!; wait", &tag);
    let rt = runtime();
    let run = rt.spawn(run_stoppable(
        cmd,
        Duration::from_secs(2),
        LONG,
        CancellationToken::new(),
    ));
    let sleeper = grandchild(&mut out, &mut guard);
    let outcome = rt
        .block_on(async { tokio::time::timeout(WAIT, run).await })
        .expect("run_stoppable did not return within 10 s of a 2 s limit")
        .expect("run_stoppable panicked")
        .expect("run_stoppable failed");
    match outcome {
        Outcome::TimedOut(status) => assert_eq!(
            status.signal(),
            Some(15),
            "the shell should have ended on SIGTERM (it does not catch it); got {status}"
        ),
        other => panic!("expected TimedOut after the 2 s limit, got {other:?}"),
    }
    wait_dead(sleeper, WAIT, GRANDCHILD_SURVIVED);
}

#[test]
fn sigkill_follows_the_grace_when_sigterm_is_ignored() {
    let tag = unique_name("gs-ignore");
    let _cleanup = KillTagged(tag.clone());
    let mut guard = KillOnDrop::new();
    // SIGTERM ignored by the shell and (inherited across fork and exec) by its sleep.
    let (cmd, mut out) = shell("trap '' TERM; sleep 1000 & echo $!; wait", &tag);
    let rt = runtime();
    let cancel = CancellationToken::new();
    let run = rt.spawn(run_stoppable(
        cmd,
        LONG,
        Duration::from_millis(300),
        cancel.clone(),
    ));
    let sleeper = grandchild(&mut out, &mut guard);
    cancel.cancel();
    let outcome = rt
        .block_on(async { tokio::time::timeout(WAIT, run).await })
        .expect(
            "run_stoppable did not return within 10 s of a cancel with a 0.3 s grace: after \
             the grace, SIGKILL the group (SIGTERM can be ignored)",
        )
        .expect("run_stoppable panicked")
        .expect("run_stoppable failed");
    match outcome {
        Outcome::Cancelled(status) => assert_eq!(
            status.signal(),
            Some(9),
            "a shell that ignores SIGTERM must end by SIGKILL; got {status}"
        ),
        other => panic!("expected Cancelled, got {other:?}"),
    }
    wait_dead(sleeper, WAIT, GRANDCHILD_SURVIVED);
}

#[test]
fn sigterm_comes_first_and_the_group_is_cleared_when_the_leader_leaves() {
    let tag = unique_name("gs-grace");
    let _cleanup = KillTagged(tag.clone());
    let mut guard = KillOnDrop::new();
    // The shell exits 7 on SIGTERM; its grandchild ignores SIGTERM and would run on.
    let (cmd, mut out) = shell(
        "trap 'exit 7' TERM; (trap '' TERM; exec sleep 1000) & echo $!; wait",
        &tag,
    );
    let rt = runtime();
    let cancel = CancellationToken::new();
    let run = rt.spawn(run_stoppable(cmd, LONG, LONG, cancel.clone()));
    let sleeper = grandchild(&mut out, &mut guard);
    cancel.cancel();
    let outcome = rt
        .block_on(async { tokio::time::timeout(WAIT, run).await })
        .expect(
            "run_stoppable did not return within 10 s, though the shell exited at once on \
             SIGTERM: the grace ends when the command has exited",
        )
        .expect("run_stoppable panicked")
        .expect("run_stoppable failed");
    match outcome {
        Outcome::Cancelled(status) => assert_eq!(
            status.code(),
            Some(7),
            "the shell's SIGTERM trap should have run (exit 7): send SIGTERM first, SIGKILL \
             only after the grace; got {status}"
        ),
        other => panic!("expected Cancelled, got {other:?}"),
    }
    wait_dead(
        sleeper,
        WAIT,
        "the shell left on SIGTERM, but a process of its group that ignores SIGTERM still \
         runs: once the leader is gone, SIGKILL what is left of the group",
    );
}

#[test]
fn one_token_cancels_a_whole_batch() {
    let tag = unique_name("gs-batch");
    let _cleanup = KillTagged(tag.clone());
    let mut guard = KillOnDrop::new();
    let rt = runtime();
    let cancel = CancellationToken::new();
    let mut runs = Vec::new();
    let mut sleepers = Vec::new();
    for _ in 0..3 {
        let (cmd, mut out) = shell("sleep 1000 & echo $!; wait", &tag);
        runs.push(rt.spawn(run_stoppable(cmd, LONG, LONG, cancel.clone())));
        sleepers.push(grandchild(&mut out, &mut guard));
    }
    cancel.cancel();
    for run in runs {
        let outcome = rt
            .block_on(async { tokio::time::timeout(WAIT, run).await })
            .expect("a run did not return after the batch was cancelled")
            .expect("run_stoppable panicked")
            .expect("run_stoppable failed");
        assert!(
            matches!(outcome, Outcome::Cancelled(s) if s.signal() == Some(15)),
            "every run should end Cancelled by SIGTERM, got {outcome:?}"
        );
    }
    for pid in sleepers {
        wait_dead(pid, WAIT, GRANDCHILD_SURVIVED);
    }
}
