//! Tests for `unix-sockets/framing`: length-prefixed frames over a real stream socket, with
//! short reads forced one byte at a time, large frames that need many writes, a clean end
//! told apart from a cut frame, and an oversized header refused.

use std::io::{ErrorKind, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
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
    // Each byte is sent only after the reader has taken the previous one out of the socket,
    // so every read the reader makes returns exactly one byte: the shortest read there is.
    let writer = thread::spawn(move || {
        for b in wire {
            tx.write_all(&[b]).unwrap();
            let pending = || unread_bytes(&reader_sock) == 0;
            if testkit::try_wait_until(
                Duration::from_secs(5),
                "the reader to take the byte",
                pending,
            )
            .is_err()
            {
                return Err("the reader stopped reading in the middle of a frame");
            }
        }
        Ok(tx)
    });
    let got = read_frame(&mut rx);
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
        "expected the payload `hello world`"
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
    let tx = writer
        .join()
        .expect("write_frame panicked")
        .expect("write_frame failed");
    let got = got
        .expect("read_frame failed")
        .expect("expected a frame, got a clean end");
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
    match read_frame(&mut rx) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => panic!(
            "a header announcing {} bytes (> MAX_FRAME = {MAX_FRAME}) must give InvalidData, got {other:?}",
            u32::MAX
        ),
    }
    let big = vec![0u8; MAX_FRAME + 1];
    match write_frame(&mut tx, &big) {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {}
        other => {
            panic!("write_frame of MAX_FRAME + 1 bytes must fail with InvalidInput, got {other:?}")
        }
    }
}
