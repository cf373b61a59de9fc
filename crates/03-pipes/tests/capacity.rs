//! Tests for `pipes/capacity`: F_GETPIPE_SZ, F_SETPIPE_SZ and writing without blocking.
//!
//! The reader is a real child (`sleep`) that holds the read end and never reads, so a write
//! that does not fit blocks. Such writes run on a thread with a deadline; the child is killed
//! by its guard afterwards, which turns any blocked write into EPIPE and ends the thread.

use std::io::{self, PipeWriter, Write};
use std::os::fd::AsFd;
use std::process::Command;
use std::time::Duration;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use pipes::capacity::{capacity, grow_to_fit, write_without_blocking};
use testkit::{ChildGuard, call_with_deadline};

const DEADLINE: Duration = Duration::from_secs(5);

/// A pipe whose read end belongs to a child that never reads; the parent keeps the write end.
fn pipe_to_a_child_that_never_reads() -> (ChildGuard, PipeWriter) {
    let (reader, writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("sleep");
    cmd.arg("30").stdin(reader);
    let guard = ChildGuard::spawn(&mut cmd);
    // `cmd` holds the parent's copy of the read end: drop it so only the child has one.
    drop(cmd);
    (guard, writer)
}

fn nonblocking(fd: impl AsFd) -> bool {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL).expect("F_GETFL");
    OFlag::from_bits_retain(flags).contains(OFlag::O_NONBLOCK)
}

/// The capacity of `fd`'s pipe as the kernel reports it, asked by the test itself.
fn kernel_capacity(fd: impl AsFd) -> usize {
    let size = fcntl(fd.as_fd(), FcntlArg::F_GETPIPE_SZ).expect("F_GETPIPE_SZ");
    usize::try_from(size).expect("a pipe size is positive")
}

#[test]
fn capacity_is_what_the_kernel_reports_for_either_end() {
    // The default is 16 pages: 64 KiB with 4 KiB pages, 1 MiB with 64 KiB pages. So the test
    // compares with what the kernel says, and also resizes a pipe so no constant can pass.
    let (reader, writer) = io::pipe().expect("pipe");
    let kernel = kernel_capacity(&writer);
    let got = capacity(&writer).expect("capacity of the write end");
    assert_eq!(
        got, kernel,
        "capacity must ask the kernel (fcntl F_GETPIPE_SZ), which reports {kernel} bytes for a \
         new pipe here; got {got}"
    );
    assert_eq!(
        capacity(&reader).expect("capacity of the read end"),
        kernel,
        "both ends share one buffer: the read end reports the same capacity"
    );

    let twice = i32::try_from(kernel * 2).expect("a small size");
    fcntl(writer.as_fd(), FcntlArg::F_SETPIPE_SZ(twice)).expect("F_SETPIPE_SZ");
    let resized = kernel_capacity(&writer);
    assert_eq!(
        capacity(&reader).expect("capacity after resizing"),
        resized,
        "after F_SETPIPE_SZ the kernel reports {resized} bytes: capacity must return what the \
         kernel reports now, not a constant"
    );
}

#[test]
fn a_grown_pipe_takes_a_message_larger_than_64_kib_without_a_reader() {
    let (_child, mut writer) = pipe_to_a_child_that_never_reads();
    let message = vec![b'x'; 200_000];
    let size = grow_to_fit(&writer, message.len()).expect("grow_to_fit");
    assert!(
        size >= message.len(),
        "grow_to_fit must return a capacity of at least {}, got {size}",
        message.len()
    );
    assert_eq!(
        capacity(&writer).expect("capacity"),
        size,
        "grow_to_fit must return the capacity the kernel reports afterwards"
    );
    let wrote = call_with_deadline(DEADLINE, move || writer.write_all(&message));
    match wrote {
        Some(Ok(())) => {}
        Some(Err(e)) => panic!("writing 200000 bytes failed: {e}"),
        None => panic!(
            "writing 200000 bytes into the grown pipe blocked: the pipe did not hold them, and \
             the child never reads"
        ),
    }
}

#[test]
fn growing_never_shrinks_a_pipe() {
    let (_reader, writer) = io::pipe().expect("pipe");
    let big = grow_to_fit(&writer, 256 * 1024).expect("grow to 256 KiB");
    let again = grow_to_fit(&writer, 1000).expect("grow to 1000 bytes");
    assert_eq!(
        again, big,
        "asking for 1000 bytes on a pipe of {big} must leave it at {big}"
    );
}

#[test]
fn a_nonblocking_write_stops_at_the_capacity_and_returns() {
    let (_child, mut writer) = pipe_to_a_child_that_never_reads();
    let cap = capacity(&writer).expect("capacity");
    let result = call_with_deadline(DEADLINE, move || {
        let n = write_without_blocking(&mut writer, &vec![b'y'; 1 << 20]);
        (n, writer)
    });
    let Some((n, writer)) = result else {
        panic!("write_without_blocking blocked on a full pipe: set O_NONBLOCK before writing");
    };
    let n = n.expect("write_without_blocking");
    assert_eq!(
        n, cap,
        "with nobody reading, exactly the pipe's capacity ({cap} bytes) fits; reported {n}"
    );
    assert!(
        !nonblocking(&writer),
        "the pipe must be back in blocking mode afterwards (O_NONBLOCK is shared with every \
         copy of the fd)"
    );
}

#[test]
fn the_reported_count_is_what_the_reader_receives() {
    let (reader, mut writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("wc");
    cmd.arg("-c")
        .stdin(reader)
        .stdout(std::process::Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    let data = vec![b'z'; 300_000];
    let result = call_with_deadline(DEADLINE, move || {
        let n = write_without_blocking(&mut writer, &data);
        drop(writer);
        n
    });
    let n = result
        .expect("write_without_blocking blocked")
        .expect("write_without_blocking");
    let mut out = String::new();
    io::Read::read_to_string(guard.child().stdout.as_mut().expect("stdout"), &mut out)
        .expect("read wc's output");
    guard.wait(DEADLINE);
    assert_eq!(
        out.trim().parse::<usize>().ok(),
        Some(n),
        "`wc -c` counted {} bytes but write_without_blocking reported {n}",
        out.trim()
    );
}

#[test]
fn a_message_that_fits_is_written_whole() {
    let (_child, mut writer) = pipe_to_a_child_that_never_reads();
    let message = vec![b'm'; 1000];
    let result = call_with_deadline(DEADLINE, move || {
        write_without_blocking(&mut writer, &message)
    });
    let Some(n) = result else {
        panic!("write_without_blocking blocked on an almost empty pipe: set O_NONBLOCK first");
    };
    match n {
        Ok(n) => assert_eq!(
            n, 1000,
            "1000 bytes fit into an empty pipe (it holds at least a page): all of them must be \
             reported written"
        ),
        Err(e) => panic!(
            "1000 bytes fit into an empty pipe, yet write_without_blocking failed: {e} (stop \
             the loop once every byte is written: a write of 0 bytes is not progress)"
        ),
    }
}

#[test]
fn a_pipe_that_was_already_nonblocking_stays_nonblocking() {
    let (_child, mut writer) = pipe_to_a_child_that_never_reads();
    let flags = OFlag::from_bits_retain(fcntl(writer.as_fd(), FcntlArg::F_GETFL).expect("F_GETFL"));
    fcntl(writer.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).expect("F_SETFL");
    let cap = capacity(&writer).expect("capacity");
    let result = call_with_deadline(DEADLINE, move || {
        let n = write_without_blocking(&mut writer, &vec![b'n'; 1 << 20]);
        (n, writer)
    });
    let Some((n, writer)) = result else {
        panic!(
            "write_without_blocking blocked on a full pipe that was already O_NONBLOCK: add the \
             flag to the ones you read (flags | O_NONBLOCK), do not toggle it"
        );
    };
    let n = n.expect("write_without_blocking");
    assert_eq!(
        n, cap,
        "exactly the capacity ({cap} bytes) fits; reported {n}"
    );
    assert!(
        nonblocking(&writer),
        "the pipe was O_NONBLOCK before the call and must still be afterwards: restore the \
         flags you read, do not just clear O_NONBLOCK"
    );
}

#[test]
fn a_reader_that_is_gone_is_an_error_not_a_full_pipe() {
    // Alone in a process: a child that another test's thread is spawning holds a copy of every
    // fd until its exec, the read end too, and while it does the pipe still has a reader.
    testkit::isolated!();
    let (reader, mut writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("true");
    cmd.stdin(reader);
    let mut guard = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    // Once `true` has exited, nobody holds the read end any more.
    guard.wait(DEADLINE);
    let result = call_with_deadline(DEADLINE, move || {
        let n = write_without_blocking(&mut writer, b"nobody will read this");
        (n, writer)
    });
    let Some((n, writer)) = result else {
        panic!("write_without_blocking did not return on a pipe without a reader");
    };
    match n {
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::BrokenPipe,
            "a pipe without a reader fails with EPIPE (BrokenPipe); got {e}"
        ),
        Ok(n) => panic!(
            "the reader (`true`) has exited, so the write fails with EPIPE; \
             write_without_blocking reported Ok({n}) instead: only WouldBlock means \"full\", \
             every other error must be returned"
        ),
    }
    assert!(
        !nonblocking(&writer),
        "the pipe must be back in blocking mode also when the write failed"
    );
}
