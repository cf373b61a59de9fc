//! Tests for `process_pool::frame`: frames survive being cut into pieces by the stream, a clean
//! end is told from a truncated frame, and a hostile length is refused before allocating.

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

use process_pool::frame::{Frame, MAX_FRAME, read_frame, write_frame};

fn frame(id: u64, body: &str) -> Frame {
    Frame {
        id,
        body: body.as_bytes().to_vec(),
    }
}

fn encoded(f: &Frame) -> Vec<u8> {
    let mut buf = Vec::new();
    write_frame(&mut buf, f).expect("write_frame into a Vec cannot fail");
    buf
}

/// A writer that passes on one byte per `write`, flushing each: the worst a stream can do.
struct Trickle(UnixStream);

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(&buf[..buf.len().min(1)])?;
        self.0.flush()?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn the_layout_is_length_then_id_then_body_little_endian() {
    let bytes = encoded(&frame(0x0102_0304_0506_0708, "spin 5"));
    let mut expected = Vec::new();
    expected.extend_from_slice(&14u32.to_le_bytes());
    expected.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    expected.extend_from_slice(b"spin 5");
    assert_eq!(
        bytes, expected,
        "a frame is a u32 length (8 + body) then the u64 id then the body, all little-endian: \
         the worker is a different program and must agree byte for byte"
    );
    assert_eq!(
        encoded(&frame(7, "")).len(),
        12,
        "an empty body still has its length and id"
    );
}

#[test]
fn frames_cut_into_single_bytes_by_the_stream_come_out_whole_and_in_order() {
    let (a, mut b) = UnixStream::pair().expect("socketpair");
    let frames: Vec<Frame> = (0..50)
        .map(|i| frame(i * 1_000_003, &"x".repeat(i as usize * 7)))
        .collect();
    let to_send = frames.clone();
    let writer = thread::spawn(move || {
        let mut out = Trickle(a);
        for f in &to_send {
            write_frame(&mut out, f).expect("write_frame to a socket");
        }
        // Dropping `out` closes the socket: a clean end after the last frame.
    });
    let got = testkit::call_with_deadline(testkit::DEFAULT_DEADLINE, move || {
        let mut got = Vec::new();
        while let Some(f) = read_frame(&mut b).unwrap_or_else(|e| {
            panic!(
                "read_frame failed ({e}) on a stream whose reads return one byte each: every \
                 part of a frame must be read in full (`read_exact`); one `read` may return less"
            )
        }) {
            got.push(f);
        }
        got
    })
    .expect("read_frame did not return within the deadline: does it wait for more bytes than the frame has?");
    writer.join().expect("writer thread");
    assert_eq!(
        got, frames,
        "every frame should arrive whole, in order, although each read returned one byte"
    );
}

#[test]
fn a_stream_that_ends_between_frames_is_a_clean_end() {
    let mut input: &[u8] = &[];
    assert!(
        matches!(read_frame(&mut input), Ok(None)),
        "an empty stream is a clean end: Ok(None)"
    );
    let bytes = encoded(&frame(3, "hi"));
    let mut input = &bytes[..];
    assert_eq!(
        read_frame(&mut input).expect("one frame"),
        Some(frame(3, "hi"))
    );
    assert!(
        matches!(read_frame(&mut input), Ok(None)),
        "after the last whole frame the end is clean: Ok(None), not an error"
    );
}

#[test]
fn a_stream_that_ends_inside_a_frame_is_unexpected_eof() {
    let bytes = encoded(&frame(9, "hash /etc/hostname"));
    for cut in [1, 3, 4, 8, 12, bytes.len() - 1] {
        let mut input = &bytes[..cut];
        match read_frame(&mut input) {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
            other => panic!(
                "a frame cut after {cut} of its {} bytes should be Err(UnexpectedEof): the peer \
                 died mid-message; got {other:?}",
                bytes.len()
            ),
        }
    }
}

#[test]
fn a_length_out_of_range_is_refused_as_invalid_data() {
    for len in [0u32, 7, MAX_FRAME + 1, u32::MAX] {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 16]);
        let mut input = &bytes[..];
        match read_frame(&mut input) {
            Err(e) if e.kind() == ErrorKind::InvalidData => {}
            other => panic!(
                "a length of {len} should be Err(InvalidData) before anything is allocated \
                 (at least 8 for the id, at most MAX_FRAME); got {other:?}"
            ),
        }
    }
    let mut bytes = encoded(&frame(1, &"y".repeat(MAX_FRAME as usize - 8)));
    let mut input = &bytes[..];
    assert!(
        read_frame(&mut input)
            .is_ok_and(|f| f.is_some_and(|f| f.body.len() == MAX_FRAME as usize - 8)),
        "a frame of exactly MAX_FRAME is allowed"
    );
    bytes.clear();
    let too_long = frame(1, &"y".repeat(MAX_FRAME as usize - 7));
    match write_frame(&mut bytes, &too_long) {
        Err(e) if e.kind() == ErrorKind::InvalidInput => {}
        other => panic!(
            "write_frame should refuse a body over MAX_FRAME - 8 with InvalidInput; got {other:?}"
        ),
    }
    assert!(
        bytes.is_empty(),
        "nothing should be written for a refused frame"
    );
}

/// A reader that is interrupted by a signal (EINTR) before every successful read.
struct Interrupted<'a> {
    data: &'a [u8],
    interrupt: bool,
}

impl Read for Interrupted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::Error::from(ErrorKind::Interrupted));
        }
        let n = buf.len().min(self.data.len()).min(3);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn a_read_interrupted_by_a_signal_is_retried() {
    let bytes = encoded(&frame(5, "count /etc/passwd"));
    let mut input = Interrupted {
        data: &bytes,
        interrupt: false,
    };
    assert_eq!(
        read_frame(&mut input).expect("EINTR is not an error: retry the read"),
        Some(frame(5, "count /etc/passwd"))
    );
    assert!(
        matches!(read_frame(&mut input), Ok(None)),
        "EINTR before a clean end is still a clean end"
    );
}

/// A reader whose first read fails with a real error, then reports end of file.
struct FailsOnce(bool);

impl Read for FailsOnce {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::replace(&mut self.0, true) {
            Ok(0)
        } else {
            Err(io::Error::other("device gone"))
        }
    }
}

#[test]
fn a_read_error_other_than_eintr_is_returned() {
    match read_frame(&mut FailsOnce(false)) {
        Err(e) if e.kind() == ErrorKind::Other => {}
        other => panic!(
            "only EINTR is retried: a failing read must be returned as the error, not retried \
             into a clean end; got {other:?}"
        ),
    }
}
