//! Tests for `unix-sockets/framing`: length-prefixed frames over a real stream socket, with
//! short reads forced one byte at a time, large frames that need many writes, a clean end
//! told apart from a cut frame or a reset connection, a read a signal interrupted, a frame of
//! exactly `MAX_FRAME` bytes accepted, and an oversized one refused.

use std::io::{ErrorKind, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use unix_sockets::framing::{MAX_FRAME, read_frame, write_frame};

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    // A wrong reader must fail, not hang the test binary.
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (a, b)
}

/// Bytes queued in `sock`'s receive buffer, not yet read (`FIONREAD`).
fn unread_bytes(sock: &UnixStream) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to a live c_int;
    // the fd is open for the duration of the call because `sock` is borrowed.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "ioctl(FIONREAD) failed");
    n
}

#[test]
fn frame_written_one_byte_at_a_time_is_read_whole() {
    let (mut tx, mut rx) = pair();
    let mut wire = Vec::new();
    wire.extend_from_slice(&11u32.to_be_bytes());
    wire.extend_from_slice(b"hello world");
    let reader_sock = rx.try_clone().unwrap();
    let reader_done = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&reader_done);
    // Each byte is sent only after the reader has taken the previous one out of the socket,
    // so every read the reader makes returns exactly one byte: the shortest read there is.
    let writer = thread::spawn(move || {
        for b in wire {
            tx.write_all(&[b]).unwrap();
            // A reader that returned early will never take the byte: stop waiting at once.
            let taken_or_gone = || unread_bytes(&reader_sock) == 0 || done.load(Ordering::SeqCst);
            if testkit::try_wait_until(
                Duration::from_secs(5),
                "the reader to take the byte",
                taken_or_gone,
            )
            .is_err()
                || unread_bytes(&reader_sock) != 0
            {
                return Err("the reader stopped reading in the middle of a frame");
            }
        }
        Ok(tx)
    });
    let got = read_frame(&mut rx);
    reader_done.store(true, Ordering::SeqCst);
    let tx = writer.join().unwrap();
    let got = got.unwrap_or_else(|e| {
        panic!(
            "read_frame failed on a frame that arrived one byte per read: {e}\n\
                a single read() may return fewer bytes than asked: loop (read_exact)"
        )
    });
    assert_eq!(
        got.as_deref(),
        Some(&b"hello world"[..]),
        "expected the payload `hello world` from a frame that arrived one byte per read: a \
         single read() may return fewer bytes than asked, the header's too: loop until all 4 \
         are in"
    );
    drop(tx.map_err(|e| panic!("{e}")));
}

#[test]
fn large_frame_survives_short_writes_and_reads() {
    let (mut tx, mut rx) = pair();
    // Far more than a socket buffer holds: write() accepts only part of it at a time.
    let payload: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let expected = payload.clone();
    let writer = thread::spawn(move || write_frame(&mut tx, &payload).map(|()| tx));
    let got = read_frame(&mut rx);
    // Closing our end releases a writer still blocked on bytes a failed read left unread.
    drop(rx);
    let sent = writer.join().expect("write_frame panicked");
    let got = match got {
        Ok(got) => got.expect("expected a frame, got a clean end"),
        Err(e) => panic!("read_frame failed: {e} (write_frame returned {sent:?})"),
    };
    let tx = sent.expect("write_frame failed");
    assert_eq!(
        got.len(),
        expected.len(),
        "payload length differs (short write or short read lost bytes)"
    );
    assert!(got == expected, "payload bytes differ");
    drop(tx);
}

#[test]
fn frames_keep_their_boundaries_back_to_back() {
    let (mut tx, mut rx) = pair();
    let frames: [&[u8]; 4] = [b"first", b"", b"third frame", &[0u8; 70_000]];
    let writer = thread::spawn(move || {
        for f in frames {
            write_frame(&mut tx, f)?;
        }
        tx.shutdown(Shutdown::Write)
    });
    let mut got = Vec::new();
    loop {
        match read_frame(&mut rx) {
            Ok(Some(f)) => got.push(f),
            Ok(None) => break,
            Err(e) => panic!("read_frame failed after {} frames: {e}", got.len()),
        }
        assert!(got.len() <= 4, "more frames came out than went in");
    }
    writer.join().unwrap().expect("write_frame failed");
    let lens: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(
        lens,
        vec![5, 0, 11, 70_000],
        "frame lengths (an empty frame is a frame, not an end)"
    );
    assert_eq!(got[0], b"first");
    assert_eq!(got[2], b"third frame");
}

#[test]
fn header_is_four_big_endian_bytes() {
    let (mut tx, mut rx) = pair();
    write_frame(&mut tx, b"abc").expect("write_frame failed");
    drop(tx);
    let mut wire = Vec::new();
    std::io::Read::read_to_end(&mut rx, &mut wire).unwrap();
    assert_eq!(
        wire,
        [0, 0, 0, 3, b'a', b'b', b'c'],
        "expected the length 3 as u32 big-endian, then the payload"
    );
}

#[test]
fn clean_end_of_stream_is_none() {
    let (tx, mut rx) = pair();
    drop(tx);
    match read_frame(&mut rx) {
        Ok(None) => {}
        other => panic!("expected Ok(None) when the stream ends before a frame, got {other:?}"),
    }
}

#[test]
fn stream_cut_inside_a_frame_is_unexpected_eof() {
    for cut in [2usize, 4 + 3] {
        let (mut tx, mut rx) = pair();
        let mut wire = 10u32.to_be_bytes().to_vec();
        wire.extend_from_slice(b"0123456789");
        tx.write_all(&wire[..cut]).unwrap();
        drop(tx);
        match read_frame(&mut rx) {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
            other => panic!(
                "the stream ended after {cut} bytes of a 14-byte frame: expected an UnexpectedEof \
                 error, got {other:?}"
            ),
        }
    }
}

#[test]
fn oversized_header_is_refused_before_allocating() {
    let (mut tx, mut rx) = pair();
    tx.write_all(&u32::MAX.to_be_bytes()).unwrap();
    // The stream ends after the header: a read_frame that does not refuse it fails at once
    // (EOF inside the payload) instead of waiting for 4 GiB that never come.
    tx.shutdown(Shutdown::Write).unwrap();
    match read_frame(&mut rx) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => panic!(
            "a header announcing {} bytes (> MAX_FRAME = {MAX_FRAME}) must give InvalidData, got {other:?}",
            u32::MAX
        ),
    }
    let (mut tx, rx) = pair();
    let big = vec![0u8; MAX_FRAME + 1];
    // Non-blocking, so that a write_frame that does not refuse fails at once (WouldBlock: the
    // socket buffer holds far less than 16 MiB) instead of waiting for a reader forever.
    tx.set_nonblocking(true).unwrap();
    match write_frame(&mut tx, &big) {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {}
        other => {
            panic!("write_frame of MAX_FRAME + 1 bytes must fail with InvalidInput, got {other:?}")
        }
    }
    assert_eq!(
        unread_bytes(&rx),
        0,
        "write_frame refused the frame but wrote bytes first: check the length before writing \
         anything, or the peer reads a header without its payload"
    );
}

#[test]
fn a_frame_of_exactly_max_frame_bytes_goes_through() {
    let (mut tx, mut rx) = pair();
    let writer = thread::spawn(move || {
        let sent = write_frame(&mut tx, &vec![7u8; MAX_FRAME]);
        // Closing at once: a reader waiting for a frame that was never written sees EOF
        // instead of waiting for its deadline.
        drop(tx);
        sent
    });
    let got = read_frame(&mut rx);
    // Closing our end releases a writer blocked on a frame we did not read.
    drop(rx);
    let sent = writer.join().expect("write_frame panicked");
    if let Err(e) = &sent
        && e.kind() == ErrorKind::InvalidInput
    {
        panic!(
            "write_frame refused a payload of exactly MAX_FRAME = {MAX_FRAME} bytes: {e}\n\
             MAX_FRAME is the largest size allowed, not the first one refused (`>`, not `>=`)"
        );
    }
    match got {
        Ok(Some(payload)) => assert!(
            payload.len() == MAX_FRAME && payload.iter().all(|&b| b == 7),
            "the frame of MAX_FRAME bytes came out as {} bytes, or with other bytes",
            payload.len()
        ),
        other => panic!(
            "read_frame of a frame of exactly MAX_FRAME = {MAX_FRAME} bytes: expected the \
             payload, got {:?}\nMAX_FRAME is the largest size allowed, not the first one \
             refused (`>`, not `>=`)",
            other.map(|frame| frame.map(|p| p.len()))
        ),
    }
    sent.expect("write_frame failed");
}

#[test]
#[cfg(target_os = "linux")]
fn a_reset_connection_is_an_error_not_a_clean_end() {
    let (tx, mut rx) = pair();
    // Our peer closes with a byte we sent still unread in its buffer: on Linux that resets
    // the connection, and our next read fails with ECONNRESET instead of returning 0 (EOF).
    rx.write_all(b"x").unwrap();
    drop(tx);
    match read_frame(&mut rx) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!(
            "the peer reset the connection, so read() failed with ECONNRESET: expected \
             Err(ConnectionReset), got {other:?}. Retry only ErrorKind::Interrupted; return \
             every other read error (Ok(None) means a clean end, and this was not one)"
        ),
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_read_interrupted_by_a_signal_is_retried() {
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    let (mut tx, mut rx) = pair();
    // The read deadline would turn a lost wake-up into an error; the test waits on events.
    rx.set_read_timeout(None).unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let reading = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        // Nothing was sent yet: this blocks inside the read of the header's first byte.
        let frame = read_frame(&mut rx);
        // Handing `rx` back keeps it open, so the frame written below is never refused.
        (frame, rx)
    });
    let tid = tid_rx.recv().expect("the reading thread's id");
    testkit::wait_until(
        testkit::DEFAULT_DEADLINE,
        "read_frame to block on the silent socket",
        || {
            reading.is_finished()
                || testkit::thread_sleeps_in(tid, &[libc::SYS_read, libc::SYS_recvfrom])
        },
    );
    if reading.is_finished() {
        match reading.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok((frame, _)) => panic!(
                "read_frame returned {frame:?} before anything was sent: it must wait for a frame"
            ),
        }
    }
    // The handler runs as the interrupted read returns: EINTR, nothing read.
    testkit::interrupt_thread(&reading);
    // Only now send the frame; closing our end also ends any read still waiting.
    write_frame(&mut tx, b"ok").expect("write_frame failed");
    drop(tx);
    testkit::wait_until(testkit::DEFAULT_DEADLINE, "read_frame to return", || {
        reading.is_finished()
    });
    let (frame, _rx) = match reading.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(done) => done,
    };
    match frame {
        Ok(Some(payload)) => assert_eq!(payload, b"ok", "the frame sent after the signal"),
        other => panic!(
            "a signal interrupted read() while read_frame waited for the header, so it failed \
             with EINTR (ErrorKind::Interrupted): that is not an error, read again (read_exact \
             does this for you; your own loop over the header must too). Got {other:?}"
        ),
    }
}
