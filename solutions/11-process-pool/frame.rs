//! Exercise: frames with a task id over a byte stream.
//!
//! Scenario: the pool and its workers talk over pipes. A pipe is a stream of bytes, not of
//! messages: one `write` of 20 bytes may arrive as two `read`s of 7 and 13, and two writes may
//! arrive as one read. Every message is therefore a frame: a 4-byte little-endian length, then
//! an 8-byte little-endian task id, then the body. The length counts the id and the body, so it
//! is at least 8. The task id travels on every frame, in both directions: it is how the pool
//! matches a result to its task, whatever order results come back in.
//!
//! Goal: `write_frame` sends one frame; `read_frame` reads exactly one, and tells apart the
//! three ways a read can end: a whole frame (`Ok(Some)`), the peer closing the stream between
//! frames (`Ok(None)`, a clean end), and the peer vanishing in the middle of one
//! (`Err` of kind `UnexpectedEof`: a truncated frame is an error, never a short message). A
//! length over `MAX_FRAME` or under 8 is refused with `InvalidData` before anything is
//! allocated.
//! Chapter: `docs/src/11-process-pool.md#frame`. Check: `cargo xtask check process-pool/frame`.

use std::io::{self, ErrorKind, Read, Write};

/// The largest length a frame may announce (id plus body), 1 MiB.
pub const MAX_FRAME: u32 = 1 << 20;

/// One message between the pool and a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The task this frame is about.
    pub id: u64,
    /// The task line, or the result.
    pub body: Vec<u8>,
}

/// Writes `frame` as one length-prefixed frame. Does not flush: the caller decides when a batch
/// of frames is complete.
///
/// # Errors
/// `InvalidInput` if the body is too long for `MAX_FRAME`; any error of `out`.
pub fn write_frame(out: &mut impl Write, frame: &Frame) -> io::Result<()> {
    // The length covers the id and the body; refuse what the reader would refuse.
    let len = u32::try_from(frame.body.len() + 8)
        .ok()
        .filter(|&len| len <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "frame body too long"))?;
    // One buffer, one write: a frame written in pieces could interleave with another thread's
    // frame if the writer were shared.
    let mut buf = Vec::with_capacity(12 + frame.body.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&frame.id.to_le_bytes());
    buf.extend_from_slice(&frame.body);
    out.write_all(&buf)
}

/// Reads one frame. `Ok(None)` if the stream ended cleanly before its first byte.
///
/// # Errors
/// `UnexpectedEof` if the stream ends inside a frame; `InvalidData` for a length under 8 or over
/// `MAX_FRAME`; any error of `input` (`read_exact` already retries `Interrupted`).
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut len = [0u8; 4];
    // The first byte decides between "clean end" and "frame": read it on its own, retrying
    // EINTR, because `read_exact` cannot say how much it had read when it hit EOF.
    loop {
        match input.read(&mut len[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // From here on, EOF means a truncated frame: `read_exact` reports it as UnexpectedEof.
    input.read_exact(&mut len[1..])?;
    let len = u32::from_le_bytes(len);
    if !(8..=MAX_FRAME).contains(&len) {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("frame length {len} outside 8..={MAX_FRAME}"),
        ));
    }
    let mut id = [0u8; 8];
    input.read_exact(&mut id)?;
    let mut body = vec![0u8; len as usize - 8];
    input.read_exact(&mut body)?;
    Ok(Some(Frame {
        id: u64::from_le_bytes(id),
        body,
    }))
}
