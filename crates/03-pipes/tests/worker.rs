//! Tests for `pipes/worker`: a parent and a worker process talking in frames over two pipes.
//!
//! The worker is this crate's `pipes-worker` binary, which runs your `serve` loop: it answers each
//! request with the same bytes in upper case, and dies (exit 3) on the request `crash`.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pipes::worker::{MAX_FRAME, Worker, WorkerError, read_frame, serve, write_frame};
use testkit::{assert_reaped, call_with_deadline, describe_status, proc_state, sh, wait_until};

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
fn eof_inside_the_header_is_an_unexpected_eof_error() {
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    // Two of the four header bytes, then the writer closes.
    writer.write_all(b"\x00\x00").expect("write");
    drop(writer);
    match read_frame(&mut reader) {
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}"),
        Ok(frame) => panic!(
            "the writer closed after 2 of the 4 header bytes: that is a frame cut short, an \
             UnexpectedEof error, not the clean EOF between frames. read_exact reports both as \
             UnexpectedEof, so only a read of the first byte alone that returns 0 is Ok(None). \
             Got Ok({frame:?})"
        ),
    }
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
fn a_request_of_exactly_max_frame_bytes_round_trips() {
    let worker = Worker::spawn(&mut worker_command()).expect("spawn the worker");
    let pid = worker.pid();
    let answer = within_deadline(pid, "a request of MAX_FRAME bytes", move || {
        let mut worker = worker;
        let answer = worker
            .request(&vec![b'm'; MAX_FRAME])
            .map(|r| r.len())
            .map_err(|e| e.to_string());
        let _ = worker.shutdown();
        answer
    });
    assert_eq!(
        answer,
        Ok(MAX_FRAME),
        "MAX_FRAME itself is allowed, in both directions; only one byte more is refused"
    );
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

/// The 4-byte header announcing `len` bytes.
fn header(len: usize) -> [u8; 4] {
    u32::try_from(len)
        .expect("a length that fits a header")
        .to_be_bytes()
}

#[test]
fn a_frame_of_exactly_max_frame_bytes_is_accepted() {
    assert_eq!(
        MAX_FRAME,
        16 * 1024 * 1024,
        "MAX_FRAME is given: 16 MiB, the largest payload the protocol carries"
    );
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    let sender = thread::spawn(move || -> io::Result<()> {
        writer.write_all(&header(MAX_FRAME))?;
        writer.write_all(&vec![b'z'; MAX_FRAME])
    });
    let frame = call_with_deadline(DEADLINE, move || read_frame(&mut reader))
        .expect("read_frame blocked on a complete frame");
    match frame {
        Ok(Some(payload)) => assert_eq!(
            payload.len(),
            MAX_FRAME,
            "the payload of a frame of MAX_FRAME bytes"
        ),
        other => panic!(
            "MAX_FRAME ({MAX_FRAME}) is the largest payload accepted, so a frame of exactly \
             MAX_FRAME bytes is valid (refuse only len > MAX_FRAME); got {:?}",
            other.map(|f| f.map(|p| p.len()))
        ),
    }
    sender
        .join()
        .expect("sender thread")
        .expect("writing the frame");
}

#[test]
fn a_length_over_max_frame_is_invalid_data() {
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    // Only the header: a reader that checks the length never waits for the payload.
    writer.write_all(&header(MAX_FRAME + 1)).expect("write");
    drop(writer);
    let result = call_with_deadline(DEADLINE, move || read_frame(&mut reader))
        .expect("read_frame blocked after a header announcing too much");
    match result {
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::InvalidData,
            "a header announcing MAX_FRAME + 1 bytes must be refused as InvalidData before \
             allocating or reading the payload; got {e}"
        ),
        Ok(frame) => panic!(
            "a header announcing MAX_FRAME + 1 bytes must be refused (InvalidData); got \
             Ok({:?})",
            frame.map(|p| p.len())
        ),
    }
}

#[test]
fn a_read_error_is_returned_not_retried() {
    // /dev/null opened write-only: every read fails with EBADF.
    let mut write_only = OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("open /dev/null write-only");
    let result = call_with_deadline(DEADLINE, move || read_frame(&mut write_only)).expect(
        "read_frame kept retrying a read that fails with EBADF: retry only Interrupted, \
         return every other error",
    );
    assert!(
        result.is_err(),
        "a read failing with EBADF must be an error, got {result:?}"
    );
}

#[test]
fn a_signal_while_waiting_for_a_frame_is_retried() {
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    let (tid_tx, tid_rx) = mpsc::channel();
    let reading = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        // The pipe is empty and its writer open: this blocks inside read(2).
        read_frame(&mut reader)
    });
    let tid = tid_rx.recv().expect("the reading thread's id");
    wait_until(DEADLINE, "read_frame to block on the empty pipe", || {
        reading.is_finished() || testkit::thread_sleeps_in(tid, &[libc::SYS_read])
    });
    if reading.is_finished() {
        match reading.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(frame) => panic!(
                "read_frame returned {frame:?} before anything was written: it must wait for \
                 a frame"
            ),
        }
    }
    // The handler runs as the interrupted read(2) returns: EINTR, nothing read.
    testkit::interrupt_thread(&reading);
    // Only now send the frame; closing the writer also ends any read still waiting. A
    // read_frame that gave up on EINTR has dropped the reader already: the write then fails
    // with EPIPE, and the verdict below says why.
    let _ = writer.write_all(b"\x00\x00\x00\x02ok");
    drop(writer);
    wait_until(DEADLINE, "read_frame to return", || reading.is_finished());
    let frame = match reading.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(frame) => frame,
    };
    match frame {
        Ok(Some(payload)) => assert_eq!(payload, b"ok", "the frame sent after the signal"),
        other => panic!(
            "a signal interrupted read(2) while read_frame waited for the first byte, so it \
             failed with EINTR (ErrorKind::Interrupted): that is not an error, read again \
             (read_exact does this for you, your own read of the first byte must too). Got \
             {other:?}"
        ),
    }
}

#[test]
fn a_request_over_max_frame_is_refused_and_the_worker_lives_on() {
    let worker = Worker::spawn(&mut worker_command()).expect("spawn the worker");
    let pid = worker.pid();
    let (too_big, after, status) = within_deadline(pid, "a request over MAX_FRAME", move || {
        let mut worker = worker;
        let too_big = worker.request(&vec![b'x'; MAX_FRAME + 1]);
        let after = worker.request(b"still here").map_err(|e| e.to_string());
        (too_big, after, worker.shutdown().map_err(|e| e.to_string()))
    });
    match too_big {
        Err(WorkerError::Io(e)) => assert_eq!(
            e.kind(),
            io::ErrorKind::InvalidInput,
            "write_frame refuses a payload over MAX_FRAME with InvalidInput; got {e}"
        ),
        Err(WorkerError::Died(status)) => panic!(
            "a request over MAX_FRAME is refused before anything is sent, so the worker is \
             fine: only BrokenPipe means it is gone. Got Died({})",
            describe_status(status)
        ),
        Ok(r) => panic!(
            "a request over MAX_FRAME must be refused, yet {} bytes came back",
            r.len()
        ),
    }
    assert_eq!(
        after.as_deref(),
        Ok(&b"STILL HERE"[..]),
        "the worker must still answer after a refused request"
    );
    let status = status.unwrap_or_else(|e| panic!("shutdown failed: {e}"));
    assert!(status.success(), "the worker {}", describe_status(status));
    assert_reaped(pid);
}

#[test]
fn a_worker_gone_before_the_request_is_reported_dead_with_its_status() {
    let worker = Worker::spawn(&mut sh("exit 5")).expect("spawn the worker");
    let pid = worker.pid();
    // A process closes its fds as it exits: once it is a zombie its stdin has no reader.
    wait_until(DEADLINE, "the worker to exit", || {
        proc_state(pid) == Some('Z')
    });
    let result = within_deadline(pid, "a request to a worker that has exited", move || {
        let mut worker = worker;
        worker.request(b"anyone there?")
    });
    match result {
        Err(e @ WorkerError::Died(status)) => {
            assert_eq!(
                status.code(),
                Some(5),
                "Died must carry the status the worker exited with (`exit 5`); got {}",
                describe_status(status)
            );
            let message = e.to_string();
            assert!(
                message.contains(&status.to_string()),
                "the error's message must say how the worker ended ({status}); got {message:?}"
            );
        }
        Err(WorkerError::Io(e)) => panic!(
            "writing to a worker that has exited fails with EPIPE (BrokenPipe): reap it and \
             return WorkerError::Died(status), not Io({e})"
        ),
        Ok(r) => panic!("the worker had exited, yet a response came: {r:?}"),
    }
    assert_reaped(pid);
}

#[test]
fn a_response_cut_short_by_the_workers_death_is_reported_dead() {
    // Reads the 6 bytes of the request frame `hi`, starts a response announcing 10 bytes,
    // sends only 3 and exits 4.
    let worker = Worker::spawn(&mut sh(
        "head -c 6 >/dev/null; printf '\\000\\000\\000\\012abc'; exit 4",
    ))
    .expect("spawn the worker");
    let pid = worker.pid();
    let result = within_deadline(pid, "a request whose response is cut short", move || {
        let mut worker = worker;
        worker.request(b"hi")
    });
    match result {
        Err(WorkerError::Died(status)) => assert_eq!(
            status.code(),
            Some(4),
            "the worker exited 4 after half a response; got {}",
            describe_status(status)
        ),
        Err(WorkerError::Io(e)) => panic!(
            "EOF inside the response (UnexpectedEof) means the worker died: reap it and return \
             WorkerError::Died(status), not Io({e})"
        ),
        Ok(r) => panic!("the response was cut short, yet request returned {r:?}"),
    }
    assert_reaped(pid);
}

#[test]
fn a_garbled_response_is_an_io_error_not_a_death() {
    // Answers with a header announcing 4 GiB - 1, then keeps running until its stdin closes.
    let worker = Worker::spawn(&mut sh(
        "printf '\\377\\377\\377\\377'; exec cat >/dev/null",
    ))
    .expect("spawn the worker");
    let pid = worker.pid();
    let result = within_deadline(pid, "a request answered with garbage", move || {
        let mut worker = worker;
        // The worker is dropped (killed and reaped) at the end of this closure.
        worker.request(b"hi")
    });
    let err = match result {
        Err(e) => e,
        Ok(r) => panic!(
            "the response was garbage, yet request returned {} bytes",
            r.len()
        ),
    };
    let io_error = match &err {
        WorkerError::Io(e) => e,
        WorkerError::Died(status) => panic!(
            "the worker was alive and sent a bad frame: that is an I/O error \
             (WorkerError::Io(InvalidData)), not a death; only None and UnexpectedEof mean \
             the worker died. Got Died({})",
            describe_status(*status)
        ),
    };
    assert_eq!(
        io_error.kind(),
        io::ErrorKind::InvalidData,
        "a response header over MAX_FRAME is InvalidData; got {io_error}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&io_error.to_string()),
        "the error's message must name the cause ({io_error}); got {message:?}"
    );
    assert_reaped(pid);
}

#[test]
fn a_garbled_response_stops_the_worker_and_later_requests_fail_at_once() {
    // Answers with a header announcing 4 GiB - 1, then keeps reading its stdin with its stdout
    // still open: a worker left running would take the next request, and the parent would
    // wait for a response that never comes.
    let worker = Worker::spawn(&mut sh("printf '\\377\\377\\377\\377'; cat >/dev/null"))
        .expect("spawn the worker");
    let pid = worker.pid();
    let (first, state_after, second) = within_deadline(
        pid,
        "two requests to a worker that garbled its response",
        move || {
            let mut worker = worker;
            let first = worker.request(b"hi").map(|r| r.len());
            let state_after = proc_state(pid);
            let second = worker.request(b"again").map(|r| r.len());
            (first, state_after, second)
        },
    );
    assert!(
        matches!(first, Err(WorkerError::Io(_))),
        "a response header over MAX_FRAME is WorkerError::Io; got {first:?}"
    );
    assert_eq!(
        state_after, None,
        "after a bad frame the response stream is out of step (the next read would take \
         payload bytes for a length): the worker must be killed and reaped before request \
         returns, but pid {pid} was still there (state {state_after:?})"
    );
    assert!(
        matches!(second, Err(WorkerError::Io(_))),
        "a request to a worker that was stopped after an error must fail at once with \
         WorkerError::Io; got {second:?}"
    );
}

/// Makes the parent's end of the worker's stdin pipe non-blocking. `O_NONBLOCK` belongs to the
/// open file description, so setting it through any fd of ours that points to that pipe
/// changes the `Worker`'s own handle; the worker's `/proc/PID/fd/0` names the pipe.
fn make_request_pipe_non_blocking(worker_pid: u32) {
    let pipe = std::fs::read_link(format!("/proc/{worker_pid}/fd/0"))
        .unwrap_or_else(|e| panic!("cannot read the worker's fd 0: {e}"));
    let ours = std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .flatten()
        .find(|entry| std::fs::read_link(entry.path()).is_ok_and(|target| target == pipe))
        .and_then(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .unwrap_or_else(|| panic!("no fd of this process points to {pipe:?}"));
    // SAFETY: `ours` is the Worker's write end of the pipe, open for as long as the Worker,
    // which outlives this borrow.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(ours) };
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
    let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("F_SETFL");
}

#[test]
fn a_write_that_fails_inside_a_request_stops_the_worker() {
    // The worker never reads its stdin but stays alive with its stdout open. With the request
    // pipe made non-blocking, a 1 MiB request fills the pipe and the write fails with
    // WouldBlock half-way through the frame: the worker has part of a request it can never
    // make sense of.
    let worker = Worker::spawn(&mut sh("exec sleep 1000")).expect("spawn the worker");
    let pid = worker.pid();
    make_request_pipe_non_blocking(pid);
    let (first, state_after, second) =
        within_deadline(pid, "a request whose write fails half-way", move || {
            let mut worker = worker;
            let first = worker.request(&vec![b'w'; 1 << 20]).map(|r| r.len());
            let state_after = proc_state(pid);
            let second = worker.request(b"again").map(|r| r.len());
            (first, state_after, second)
        });
    match &first {
        Err(WorkerError::Io(e)) => assert_eq!(
            e.kind(),
            io::ErrorKind::WouldBlock,
            "the write failed with WouldBlock; request must return that error, got {e}"
        ),
        other => panic!(
            "a write that fails inside a frame (not BrokenPipe: the worker is alive) is \
             WorkerError::Io; got {other:?}"
        ),
    }
    assert_eq!(
        state_after, None,
        "half a request is in the worker's stdin: the streams are out of step, so the worker \
         must be killed and reaped before request returns, but pid {pid} was still there"
    );
    assert!(
        matches!(second, Err(WorkerError::Io(_))),
        "a request to a worker stopped after an error must fail at once with \
         WorkerError::Io; got {second:?}"
    );
}

#[test]
fn a_worker_that_closes_its_stdout_but_keeps_running_is_killed_not_waited_for_forever() {
    // Closes its stdout and goes on running, its stdin still open: EOF where the response
    // should be, from a process that will not exit by itself.
    let worker = Worker::spawn(&mut sh("exec >&-; exec sleep 1000")).expect("spawn the worker");
    let pid = worker.pid();
    let result = within_deadline(
        pid,
        "a request to a worker that closed its stdout but keeps running (EOF where the \
         response should be, then a wait for a process that does not exit: kill it before \
         waiting)",
        move || {
            let mut worker = worker;
            worker.request(b"hi").map(|r| r.len())
        },
    );
    match result {
        Err(WorkerError::Died(_)) => {}
        other => panic!(
            "EOF instead of a response means the worker stopped answering: it is killed, \
             reaped and reported as WorkerError::Died; got {other:?}"
        ),
    }
    assert_reaped(pid);
}

#[test]
fn shutdown_returns_the_workers_exit_status() {
    // Exits 6 once its stdin reaches EOF.
    let worker = Worker::spawn(&mut sh("cat >/dev/null; exit 6")).expect("spawn the worker");
    let pid = worker.pid();
    let status = within_deadline(pid, "shutdown", move || {
        worker.shutdown().map_err(|e| e.to_string())
    })
    .unwrap_or_else(|e| panic!("shutdown failed: {e}"));
    assert_eq!(
        status.code(),
        Some(6),
        "shutdown must return the status the worker exited with (`exit 6` after EOF); got {}",
        describe_status(status)
    );
    assert_reaped(pid);
}
