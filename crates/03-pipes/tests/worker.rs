//! Tests for `pipes/worker`: a parent and a worker process talking in frames over two pipes.
//!
//! The worker is this crate's `pipes-worker` binary, which runs your `serve` loop: it answers each
//! request with the same bytes in upper case, and dies (exit 3) on the request `crash`.

use std::io::{self, Write};
use std::process::Command;
use std::time::Duration;

use pipes::worker::{Worker, WorkerError, read_frame, serve, write_frame};
use testkit::{assert_reaped, call_with_deadline, describe_status, proc_state};

const DEADLINE: Duration = Duration::from_secs(5);

fn worker_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pipes-worker"))
}

/// Runs `f` with a deadline; a hang kills the worker by pid (which unblocks `f`) and fails.
fn within_deadline<T: Send + 'static>(
    pid: u32,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    match call_with_deadline(DEADLINE, f) {
        Some(v) => v,
        None => {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!(
                "{what} did not finish within {DEADLINE:?} (worker pid {pid}, state {:?}): a \
                 frame still in a buffer (flush!) or a read waiting for bytes that never come",
                proc_state(pid)
            )
        }
    }
}

#[test]
fn a_frame_is_a_4_byte_big_endian_length_then_the_payload() {
    let mut wire = Vec::new();
    write_frame(&mut wire, b"hello").expect("write_frame");
    assert_eq!(wire, b"\x00\x00\x00\x05hello", "the bytes on the wire");
}

#[test]
fn frames_cross_a_real_pipe_and_eof_between_frames_is_none() {
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    let sender = std::thread::spawn(move || -> io::Result<()> {
        write_frame(&mut writer, b"first")?;
        write_frame(&mut writer, b"")?;
        write_frame(&mut writer, &vec![7u8; 100_000])
        // `writer` drops here: the reader sees EOF after the third frame.
    });
    let frames = call_with_deadline(DEADLINE, move || -> io::Result<Vec<Option<Vec<u8>>>> {
        (0..4).map(|_| read_frame(&mut reader)).collect()
    })
    .expect("read_frame blocked")
    .expect("read_frame");
    sender.join().expect("sender thread").expect("write_frame");
    assert_eq!(frames[0].as_deref(), Some(&b"first"[..]));
    assert_eq!(
        frames[1].as_deref(),
        Some(&b""[..]),
        "an empty frame is a frame"
    );
    assert_eq!(frames[2].as_ref().map(Vec::len), Some(100_000));
    assert_eq!(frames[3], None, "EOF between frames must be Ok(None)");
}

#[test]
fn eof_inside_a_frame_is_an_unexpected_eof_error() {
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    // A header announcing 10 bytes, then only 3, then the writer closes.
    writer.write_all(b"\x00\x00\x00\x0aabc").expect("write");
    drop(writer);
    let err = read_frame(&mut reader).expect_err("a truncated frame is an error");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
}

#[test]
fn serve_answers_until_eof_and_returns() {
    let (mut input, mut to_serve) = io::pipe().expect("pipe");
    let mut requests = Vec::new();
    write_frame(&mut requests, b"a").expect("frame");
    write_frame(&mut requests, b"bc").expect("frame");
    to_serve.write_all(&requests).expect("write");
    drop(to_serve);
    let mut output = Vec::new();
    serve(&mut input, &mut output, |r| r.repeat(2)).expect("serve must return Ok at EOF");
    let mut expected = Vec::new();
    write_frame(&mut expected, b"aa").expect("frame");
    write_frame(&mut expected, b"bcbc").expect("frame");
    assert_eq!(output, expected, "one response frame per request, in order");
}

#[test]
fn requests_get_their_responses_in_order() {
    let worker = Worker::spawn(&mut worker_command()).expect("spawn the worker");
    let pid = worker.pid();
    let (answers, status) = within_deadline(pid, "three requests and a shutdown", move || {
        let mut worker = worker;
        let answers: Vec<_> = [&b"one"[..], b"two", b""]
            .iter()
            .map(|r| worker.request(r).map_err(|e| e.to_string()))
            .collect();
        (answers, worker.shutdown().map_err(|e| e.to_string()))
    });
    let answers: Vec<Vec<u8>> = answers
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("a request failed: {e}"));
    assert_eq!(answers, [b"ONE".to_vec(), b"TWO".to_vec(), Vec::new()]);
    let status = status.unwrap_or_else(|e| panic!("shutdown failed: {e}"));
    assert!(
        status.success(),
        "the worker must exit 0 when it reads EOF; got {}",
        describe_status(status)
    );
    assert_reaped(pid);
}

#[test]
fn a_request_larger_than_a_pipe_round_trips() {
    let worker = Worker::spawn(&mut worker_command()).expect("spawn the worker");
    let pid = worker.pid();
    let big = vec![b'q'; 300_000];
    let answer = within_deadline(pid, "a 300 KB request", move || {
        let mut worker = worker;
        let answer = worker.request(&big).map_err(|e| e.to_string());
        let _ = worker.shutdown();
        answer
    })
    .unwrap_or_else(|e| panic!("the request failed: {e}"));
    assert_eq!(answer.len(), 300_000);
    assert!(answer.iter().all(|&b| b == b'Q'));
    assert_reaped(pid);
}

#[test]
fn a_worker_that_dies_mid_request_is_a_typed_error_not_a_hang() {
    let worker = Worker::spawn(&mut worker_command()).expect("spawn the worker");
    let pid = worker.pid();
    let (first, crash) = within_deadline(pid, "a request the worker dies on", move || {
        let mut worker = worker;
        let first = worker.request(b"fine");
        let crash = worker.request(b"crash");
        (first.map_err(|e| e.to_string()), crash)
    });
    assert_eq!(first.as_deref(), Ok(&b"FINE"[..]));
    match crash {
        Err(WorkerError::Died(status)) => assert_eq!(
            status.code(),
            Some(3),
            "the worker exits 3 on `crash`; got {}",
            describe_status(status)
        ),
        Err(WorkerError::Io(e)) => panic!("expected WorkerError::Died(status), got Io({e})"),
        Ok(r) => panic!("the worker died, yet a response came: {r:?}"),
    }
    assert_reaped(pid);
}

#[test]
fn dropping_a_worker_leaves_no_process() {
    let worker = Worker::spawn(&mut worker_command()).expect("spawn the worker");
    let pid = worker.pid();
    assert!(pid > 0, "pid() must be the worker's pid");
    drop(worker);
    assert_eq!(
        proc_state(pid),
        None,
        "the worker (pid {pid}) must be killed and reaped when its Worker is dropped"
    );
}
