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
    // TODO: the length (id + body, little-endian u32), the id (little-endian u64), the body.
    todo!("write one frame")
}

/// Reads one frame. `Ok(None)` if the stream ended cleanly before its first byte.
///
/// # Errors
/// `UnexpectedEof` if the stream ends inside a frame; `InvalidData` for a length under 8 or over
/// `MAX_FRAME`; any error of `input`.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Frame>> {
    // TODO: read one frame, telling a clean end from a truncated frame.
    todo!("read one frame")
}
