//! Tests for `pipes/dead_reader`: EPIPE as a normal end for us, SIGPIPE for a child.
//!
//! This test binary is a Rust program, so SIGPIPE is ignored in it and writes to a pipe without
//! readers fail with EPIPE (`ErrorKind::BrokenPipe`) instead of killing it.

use std::fs::File;
use std::io::{self, BufWriter, PipeWriter, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use pipes::dead_reader::{SigPipe, WriteOutcome, spawn_with_sigpipe, write_all_or_gone};
use testkit::{ChildGuard, call_with_deadline, describe_status, sh, wait_until};

const DEADLINE: Duration = Duration::from_secs(5);

/// A shell loop that writes to stdout until a write fails, then exits 7.
const WRITE_FOREVER: &str = "while echo y; do :; done; exit 7";

#[test]
fn everything_is_written_when_the_reader_reads_everything() {
    let (reader, mut writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("wc");
    cmd.arg("-c").stdin(reader).stdout(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let data = vec![b'a'; 200_000];
    let outcome = call_with_deadline(DEADLINE, move || write_all_or_gone(&mut writer, &data))
        .expect("write_all_or_gone blocked although wc reads everything")
        .expect("write_all_or_gone");
    assert_eq!(outcome, WriteOutcome::Complete);
    let mut out = String::new();
    guard
        .child()
        .stdout
        .as_mut()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read wc's output");
    guard.wait(DEADLINE);
    assert_eq!(out.trim(), "200000", "wc -c must have received every byte");
}

#[test]
fn a_reader_that_exits_early_ends_the_write_normally() {
    let (reader, mut writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("head");
    cmd.args(["-c", "10"]).stdin(reader).stdout(Stdio::null());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let data = vec![b'b'; 4 << 20];
    let outcome = call_with_deadline(DEADLINE, move || write_all_or_gone(&mut writer, &data))
        .expect("write_all_or_gone blocked although its reader exited")
        .unwrap_or_else(|e| panic!("a vanished reader is a normal end, not an error: {e}"));
    guard.wait(DEADLINE);
    match outcome {
        WriteOutcome::ReaderGone { written } => assert!(
            (10..4 << 20).contains(&written),
            "`head -c 10` read at least 10 bytes and then left; reported written = {written}"
        ),
        WriteOutcome::Complete => panic!("4 MiB cannot all fit after `head -c 10` exited"),
    }
}

#[test]
fn a_reader_gone_before_the_first_write_means_nothing_was_written() {
    // Alone in a process: a child that another test's thread is spawning holds a copy of every
    // fd until its exec, the read end too, and while it does the pipe still has a reader.
    testkit::isolated!();
    let (reader, mut writer) = io::pipe().expect("pipe");
    drop(reader);
    let outcome = write_all_or_gone(&mut writer, b"hello").expect("EPIPE is not an error here");
    assert_eq!(outcome, WriteOutcome::ReaderGone { written: 0 });
}

#[test]
fn other_write_errors_are_still_errors() {
    // /dev/null opened read-only: writing fails with EBADF, which is not a vanished reader.
    let mut read_only = File::open("/dev/null").expect("open /dev/null");
    let result = call_with_deadline(DEADLINE, move || write_all_or_gone(&mut read_only, b"data"))
        .expect(
            "write_all_or_gone kept retrying a write that fails with EBADF: retry only \
             Interrupted, return every error other than BrokenPipe",
        );
    assert!(
        result.is_err(),
        "EBADF must be returned as an error, got {result:?}"
    );
}

#[test]
fn a_child_with_the_default_disposition_dies_of_sigpipe() {
    let mut cmd = sh(WRITE_FOREVER);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let child = spawn_with_sigpipe(&mut cmd, SigPipe::Default).expect("spawn");
    let mut guard = ChildGuard::new(child);
    // Closing the only read end: the child's next write meets a pipe without readers.
    drop(guard.child().stdout.take());
    let status = guard.wait(DEADLINE);
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "expected the child to be killed by SIGPIPE (13), got {}",
        describe_status(status)
    );
}

#[test]
fn a_child_that_ignores_sigpipe_sees_the_error_and_exits_on_its_own() {
    let mut cmd = sh(WRITE_FOREVER);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let child = spawn_with_sigpipe(&mut cmd, SigPipe::Ignore).expect("spawn");
    let mut guard = ChildGuard::new(child);
    drop(guard.child().stdout.take());
    let status = guard.wait(DEADLINE);
    assert_eq!(
        status.code(),
        Some(7),
        "with SIGPIPE ignored, `echo` fails with EPIPE and the loop exits 7; got {} (std \
         resets SIGPIPE to the default in children, so ignoring it needs pre_exec)",
        describe_status(status)
    );
}

/// A pipe whose only reader, the child `true`, has already exited.
fn pipe_whose_reader_has_exited() -> PipeWriter {
    let (reader, writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("true");
    cmd.stdin(reader);
    let mut guard = ChildGuard::spawn(&mut cmd);
    // `cmd` holds the parent's copy of the read end: drop it so only the child has one.
    drop(cmd);
    guard.wait(DEADLINE);
    writer
}

#[test]
fn a_reader_gone_when_a_buffered_writer_flushes_is_reader_gone() {
    // Alone in a process: a child that another test's thread is spawning holds a copy of every
    // fd until its exec, the read end too, and while it does the pipe still has a reader.
    testkit::isolated!();
    // BufWriter takes the 5 bytes into its buffer without touching the pipe: EPIPE only comes
    // from the flush at the end.
    let mut out = BufWriter::new(pipe_whose_reader_has_exited());
    let outcome = write_all_or_gone(&mut out, b"hello");
    assert!(
        matches!(outcome, Ok(WriteOutcome::ReaderGone { .. })),
        "the reader exited, so flushing the buffered bytes fails with EPIPE, which is \
         ReaderGone, not an error; got {outcome:?}"
    );
}

#[test]
fn a_flush_error_other_than_a_dead_reader_is_still_an_error() {
    // /dev/null opened read-only behind a BufWriter: the write is buffered, the flush fails
    // with EBADF, which is not a vanished reader.
    let read_only = File::open("/dev/null").expect("open /dev/null");
    let mut out = BufWriter::new(read_only);
    let result = write_all_or_gone(&mut out, b"data");
    assert!(
        result.is_err(),
        "flushing into a read-only file fails with EBADF, which must be returned as an error \
         (only BrokenPipe means the reader is gone); got {result:?}"
    );
}

/// Fills the pipe behind `writer` with whole 4 KiB blocks until not one more fits, and returns
/// how many bytes it now holds.
fn fill(writer: &mut PipeWriter) -> usize {
    let flags = OFlag::from_bits_retain(fcntl(writer.as_fd(), FcntlArg::F_GETFL).expect("F_GETFL"));
    fcntl(writer.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).expect("F_SETFL");
    let block = [b'f'; 4096];
    let mut total = 0;
    loop {
        match writer.write(&block) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the pipe failed: {e}"),
        }
    }
    fcntl(writer.as_fd(), FcntlArg::F_SETFL(flags)).expect("F_SETFL");
    total
}

#[test]
fn a_write_interrupted_by_a_signal_is_retried() {
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    let (mut reader, mut writer) = io::pipe().expect("pipe");
    let filled = fill(&mut writer);
    let message = b"written after the signal";
    let (tid_tx, tid_rx) = mpsc::channel();
    let writing = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        // The pipe is full and nobody reads yet: this blocks inside write(2).
        write_all_or_gone(&mut writer, message)
        // `writer` drops here: the reader sees EOF after the message.
    });
    let tid = tid_rx.recv().expect("the writing thread's id");
    wait_until(DEADLINE, "the write to block on the full pipe", || {
        writing.is_finished() || testkit::thread_sleeps_in(tid, &[libc::SYS_write])
    });
    if writing.is_finished() {
        match writing.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(outcome) => panic!(
                "write_all_or_gone returned {outcome:?} although the pipe was full and nobody \
                 read: it must wait for room"
            ),
        }
    }
    // The handler runs as the interrupted write(2) returns: EINTR, nothing written.
    testkit::interrupt_thread(&writing);
    // Only now make room, so the retried write can complete.
    let read = call_with_deadline(DEADLINE, move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).map(|_| got)
    });
    let Some(got) = read else {
        panic!("the reader never saw EOF: write_all_or_gone never returned after the signal");
    };
    let got = got.expect("reading the pipe");
    // EOF: the writing thread has dropped `writer`, so it has finished.
    let outcome = match writing.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(outcome) => outcome,
    };
    match outcome {
        Ok(WriteOutcome::Complete) => {}
        other => panic!(
            "a signal interrupted write(2) on the full pipe before it wrote anything, so it \
             failed with EINTR (ErrorKind::Interrupted): that is not a failure, retry the \
             write. Got {other:?}"
        ),
    }
    assert_eq!(
        got.len(),
        filled + message.len(),
        "bytes that came through the pipe"
    );
    assert_eq!(&got[filled..], message, "the message after the filler");
}
