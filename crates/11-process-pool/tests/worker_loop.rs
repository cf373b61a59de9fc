//! Tests for `process_pool::worker_loop`, through the real `pool-worker` binary where it matters:
//! every task answered with its own id, answers not stuck in a buffer, a clean exit on EOF.

use std::io::{self, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use process_pool::frame::{Frame, read_frame, write_frame};
use process_pool::worker_loop::serve;

fn task(id: u64, line: &str) -> Frame {
    Frame {
        id,
        body: line.as_bytes().to_vec(),
    }
}

fn frames(list: &[Frame]) -> Vec<u8> {
    let mut buf = Vec::new();
    for f in list {
        write_frame(&mut buf, f).expect("write_frame into a Vec");
    }
    buf
}

fn answers(mut bytes: &[u8]) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while let Some(f) = read_frame(&mut bytes).expect("the worker's output should be whole frames")
    {
        out.push((f.id, String::from_utf8_lossy(&f.body).into_owned()));
    }
    out
}

/// How long a worker may take to answer `echo`: far more than it needs, and well inside the
/// exercise's time limit, so that an answer stuck in a buffer is named here, not as a timeout.
const ANSWER_DEADLINE: Duration = Duration::from_secs(4);

#[test]
fn the_worker_process_answers_a_task_while_its_stdin_stays_open() {
    let mut child = testkit::ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_pool-worker"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    let mut stdin = child.child().stdin.take().expect("piped stdin");
    let stdout = child.child().stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        while let Ok(Some(f)) = read_frame(&mut stdout) {
            if tx.send(f).is_err() {
                return;
            }
        }
    });
    for (id, line, want) in [(42, "echo hello", "ok hello"), (7, "spin 10", "ok ")] {
        write_frame(&mut stdin, &task(id, line)).expect("write a task to the worker");
        stdin.flush().expect("flush");
        // The worker's stdin stays open: it must answer now, not when the pool hangs up.
        let got = rx.recv_timeout(ANSWER_DEADLINE).unwrap_or_else(|_| {
            panic!(
                "no answer to task {id} ({line:?}) within {ANSWER_DEADLINE:?} while the worker's \
                 stdin stays open: is the answer still in the worker's output buffer (no flush \
                 after writing it)?"
            )
        });
        assert_eq!(got.id, id, "the answer must carry the task's id");
        let body = String::from_utf8_lossy(&got.body);
        assert!(
            body.starts_with(want),
            "the answer to {line:?} should start with {want:?}; got {body:?}"
        );
    }
    drop(stdin);
    let status = child.wait(testkit::DEFAULT_DEADLINE);
    assert_eq!(
        status.code(),
        Some(0),
        "a worker whose stdin ends cleanly should exit 0; it ended {}",
        testkit::describe_status(status)
    );
}

#[test]
fn every_task_is_answered_with_its_own_id_and_the_count_is_returned() {
    let list: Vec<Frame> = (0..100)
        .map(|i| task(1000 + i * 3, &format!("echo n{i}")))
        .collect();
    let mut out = Vec::new();
    let served = serve(&frames(&list)[..], &mut out, process_pool::task::run)
        .expect("a clean end of input is not an error");
    assert_eq!(
        served, 100,
        "serve should return the number of tasks served"
    );
    let got = answers(&out);
    let want: Vec<(u64, String)> = (0..100)
        .map(|i| (1000 + i * 3, format!("ok n{i}")))
        .collect();
    assert_eq!(
        got, want,
        "one answer per task, with the task's id and `ok RESULT`"
    );
}

#[test]
fn a_failing_task_is_answered_with_an_error_and_the_loop_goes_on() {
    let input = frames(&[task(1, "frobnicate"), task(2, "echo after")]);
    let mut out = Vec::new();
    let served = serve(&input[..], &mut out, process_pool::task::run).expect("serve");
    assert_eq!(served, 2);
    let got = answers(&out);
    assert_eq!(got.len(), 2, "both tasks answered; got {got:?}");
    assert!(
        got[0].0 == 1 && got[0].1.starts_with("error "),
        "an unknown task is answered `error REASON` under its id; got {:?}",
        got[0]
    );
    assert_eq!(got[1], (2, "ok after".to_string()));
}

#[test]
fn a_task_that_is_not_utf8_is_answered_with_an_error_without_running() {
    let input = frames(&[Frame {
        id: 9,
        body: vec![b'e', 0xff, 0xfe],
    }]);
    let mut out = Vec::new();
    let mut runs = 0;
    let served = serve(&input[..], &mut out, |_| {
        runs += 1;
        Ok(String::new())
    })
    .unwrap_or_else(|e| {
        panic!(
            "serve failed on a task that is not UTF-8 ({e}): that task is answered `error \
             REASON` under its id, and the loop goes on"
        )
    });
    assert_eq!(served, 1, "a non-UTF-8 task still counts as served");
    assert_eq!(runs, 0, "a task that is not UTF-8 must not be run");
    let got = answers(&out);
    assert!(
        got.len() == 1 && got[0].0 == 9 && got[0].1.starts_with("error "),
        "it is answered `error REASON` under its id; got {got:?}"
    );
}

/// An output that records how many bytes were flushed, to see answers leave the buffer.
struct Flushes<'a>(&'a mut Vec<u8>, &'a mut Vec<usize>);

impl Write for Flushes<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.1.push(self.0.len());
        Ok(())
    }
}

#[test]
fn each_answer_is_flushed_before_the_next_task_is_read_and_a_truncated_frame_is_an_error() {
    let mut input = frames(&[task(1, "echo a"), task(2, "echo b")]);
    let whole = input.len();
    input.extend_from_slice(&frames(&[task(3, "echo c")])[..5]);
    let (mut data, mut flushed) = (Vec::new(), Vec::new());
    let result = serve(
        &input[..],
        Flushes(&mut data, &mut flushed),
        process_pool::task::run,
    );
    match result {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
        other => panic!(
            "input cut inside the third frame (after {whole} whole bytes) should end serve with \
             Err(UnexpectedEof); got {other:?}"
        ),
    }
    let got = answers(&data);
    assert_eq!(
        got.len(),
        2,
        "the two whole tasks are answered; got {got:?}"
    );
    let first_answer_len = {
        let mut buf = Vec::new();
        write_frame(&mut buf, &task(1, "ok a")).expect("encode");
        buf.len()
    };
    assert!(
        flushed.first() == Some(&first_answer_len) && flushed.contains(&data.len()),
        "each answer should be flushed as soon as it is written (flushes at byte counts \
         {flushed:?}, answers end at {first_answer_len} and {})",
        data.len()
    );
}

#[test]
fn a_worker_fed_a_truncated_frame_exits_with_an_error() {
    let mut input = frames(&[task(1, "echo a")]);
    input.extend_from_slice(&[20, 0]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pool-worker"));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = testkit::ChildGuard::spawn(&mut cmd);
    let mut stdin = child.child().stdin.take().expect("stdin");
    stdin.write_all(&input).expect("write");
    drop(stdin);
    let out = testkit::call_with_deadline(Duration::from_secs(10), {
        let child = child.into_inner();
        move || child.wait_with_output()
    })
    .expect("the worker should exit once its input ends")
    .expect("wait");
    assert_ne!(
        out.status.code(),
        Some(0),
        "a truncated frame is an error: the worker should exit non-zero"
    );
    assert_eq!(
        answers(&out.stdout).len(),
        1,
        "the whole task before it is still answered"
    );
}
