//! Tests of `async-processes/stream_many`. The key test proves the lines of several children
//! are passed on AS THEY COME: each child writes a line and then waits on its stdin until the
//! test has received that line, so a version that reads one child to its end before the next,
//! or collects everything at the end, never delivers the second child's first line.

use std::io::{PipeWriter, Write};
use std::process::Stdio;
use std::time::Duration;

use async_processes::stream_many::{Line, stream_many};
use testkit::async_processes::{KillTagged, live_children_tagged};
use testkit::{try_wait_until, unique_name};
use tokio::process::Command;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const WAIT: Duration = testkit::DEFAULT_DEADLINE;

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

/// `sh -c SCRIPT` whose stdin is a pipe the test writes to, to let it go on.
fn held(script: &str) -> (Command, PipeWriter) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = sh(script);
    cmd.stdin(Stdio::from(reader));
    (cmd, writer)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

async fn next(rx: &mut UnboundedReceiver<Line>, waiting_for: &str) -> Line {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(line)) => line,
        Ok(None) => panic!("the channel closed while waiting for {waiting_for}"),
        Err(_) => panic!(
            "no line arrived within {WAIT:?} while waiting for {waiting_for}; the child had \
             written it and was blocked until the test saw it. Read every child's pipe at the \
             same time and send each line as soon as it is read, not after a child exits"
        ),
    }
}

#[test]
fn lines_of_every_child_come_while_all_still_run() {
    let tag = unique_name("sm-live");
    let _cleanup = KillTagged(tag.clone());
    let (a, mut go_a) = held(&format!("echo a1; read x; echo a2 # {tag}"));
    let (b, mut go_b) = held(&format!("echo b1; read x; echo b2 # {tag}"));
    runtime().block_on(async {
        let (tx, mut rx) = unbounded_channel();
        let task = tokio::spawn(stream_many(vec![a, b], tx));
        // Both first lines, in either order, while both children are blocked.
        let mut firsts = vec![
            next(&mut rx, "the first line of either child").await,
            next(&mut rx, "the first line of the other child").await,
        ];
        firsts.sort_by_key(|l| l.child);
        assert_eq!(
            firsts,
            [
                Line {
                    child: 0,
                    text: "a1".into()
                },
                Line {
                    child: 1,
                    text: "b1".into()
                }
            ],
            "each child's first line, tagged with its index in the list"
        );
        // The second child goes on first.
        go_b.write_all(b"go\n").expect("release b");
        let line = next(&mut rx, "\"b2\" from child 1 (child 0 still blocked)").await;
        assert_eq!(
            line,
            Line {
                child: 1,
                text: "b2".into()
            }
        );
        go_a.write_all(b"go\n").expect("release a");
        let line = next(&mut rx, "\"a2\" from child 0").await;
        assert_eq!(
            line,
            Line {
                child: 0,
                text: "a2".into()
            }
        );
        let statuses = tokio::time::timeout(WAIT, task)
            .await
            .expect("stream_many did not return after both children exited")
            .expect("stream_many panicked")
            .expect("stream_many failed");
        assert!(
            statuses.len() == 2 && statuses.iter().all(|s| s.success()),
            "two successful statuses expected, got {statuses:?}"
        );
    });
}

#[test]
fn every_line_arrives_in_order_and_statuses_keep_the_list_order() {
    let cmds = vec![
        sh("seq 1 20000"),
        sh("seq 1 20000; exit 3"),
        sh("printf 'ok\\n\\377\\376\\nno newline'; exit 5"),
    ];
    let (statuses, got) = runtime().block_on(async {
        let (tx, mut rx) = unbounded_channel();
        let statuses = tokio::time::timeout(WAIT, stream_many(cmds, tx))
            .await
            .expect("stream_many did not return within the deadline")
            .expect("stream_many failed");
        let mut got = vec![Vec::new(), Vec::new(), Vec::new()];
        while let Ok(line) = rx.try_recv() {
            got[line.child].push(line.text);
        }
        (statuses, got)
    });
    let codes: Vec<_> = statuses.iter().map(|s| s.code()).collect();
    assert_eq!(
        codes,
        [Some(0), Some(3), Some(5)],
        "the exit statuses, in the order of the commands"
    );
    let want: Vec<String> = (1..=20000).map(|i| i.to_string()).collect();
    for (child, lines) in got.iter().enumerate().take(2) {
        assert!(
            *lines == want,
            "child {child}: lines missing or out of order ({} received)",
            lines.len()
        );
    }
    assert_eq!(
        got[2],
        ["ok", "\u{FFFD}\u{FFFD}", "no newline"],
        "bytes that are not UTF-8 become U+FFFD (they must not end the stream), and a last line \
         without `\\n` is still sent"
    );
}

#[test]
fn a_command_that_cannot_start_stops_those_already_started() {
    let tag = unique_name("sm-fail");
    let _cleanup = KillTagged(tag.clone());
    // It writes nothing: a child that wrote to its closed stdout pipe would die of SIGPIPE,
    // and its death would not show that stream_many killed it.
    let (first, _hold) = held(&format!("read x # {tag}"));
    let rt = runtime();
    let err = rt
        .block_on(async {
            let (tx, _rx) = unbounded_channel();
            let missing = Command::new("/nonexistent/program");
            tokio::time::timeout(WAIT, stream_many(vec![first, missing], tx)).await
        })
        .expect("stream_many did not return within the deadline")
        .expect_err("a command that cannot start must make stream_many fail");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "got {err}");
    if let Err(msg) = try_wait_until(WAIT, "the first child to be killed", || {
        live_children_tagged(&tag).is_empty()
    }) {
        panic!(
            "{msg}: stream_many failed, but the child it had already started still runs \
             (blocked on its stdin). A dropped tokio Child is not killed unless it was spawned \
             with kill_on_drop(true)"
        );
    }
}

#[test]
fn a_dropped_future_stops_every_child() {
    let tag = unique_name("sm-drop");
    let _cleanup = KillTagged(tag.clone());
    let (a, _hold_a) = held(&format!("read x # {tag}"));
    let (b, _hold_b) = held(&format!("read x # {tag}"));
    let rt = runtime();
    rt.block_on(async {
        let (tx, _rx) = unbounded_channel();
        let mut task = tokio::spawn(stream_many(vec![a, b], tx));
        // Polled without blocking the runtime, so that a panic of the call under test ends the
        // test at once.
        let deadline = tokio::time::Instant::now() + WAIT;
        while live_children_tagged(&tag).len() < 2 {
            if task.is_finished() {
                let res = (&mut task).await;
                panic!("stream_many returned before its children ended: {res:?}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "both children should start at once, {} did",
                live_children_tagged(&tag).len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
        let _ = task.await;
    });
    if let Err(msg) = try_wait_until(WAIT, "both children to be killed", || {
        live_children_tagged(&tag).is_empty()
    }) {
        panic!(
            "{msg}: the stream_many future was dropped, but its children still run: \
             {:?}. Tasks started with tokio::spawn outlive the future that started them; keep \
             them in a JoinSet (aborted when dropped) and spawn with kill_on_drop(true)",
            live_children_tagged(&tag)
        );
    }
    drop(rt);
}
