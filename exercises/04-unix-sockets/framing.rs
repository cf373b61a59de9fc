//! A length-prefixed framing protocol over a byte stream.
//!
//! Scenario: a stream socket carries bytes, not messages. Two writes of 10 bytes may arrive as
//! one read of 20, or as reads of 1, 7 and 12. To send messages over it, each one is framed:
//! a 4-byte big-endian length, then that many payload bytes.
//!
//! Goal: write `write_frame` and `read_frame` so that they survive short reads and short
//! writes, tell a clean end of stream from a stream cut in the middle of a frame, and refuse a
//! frame larger than `MAX_FRAME` before allocating it.
//!
//! Read: `docs/src/04-unix-sockets.md#framing`.
//! Check: `cargo xtask check unix-sockets/framing`.

use std::io::{self, Read, Write};

/// The largest payload a frame may carry (16 MiB).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Writes one frame: the payload's length as a `u32` in big-endian order, then the payload.
///
/// Fails with `InvalidInput` when the payload is longer than [`MAX_FRAME`].
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    // TODO: honour the contract above; the reader on the other side must get every byte of
    // the frame, however the stream splits it.
    todo!("write a length-prefixed frame")
}

/// Reads one frame and returns its payload.
///
/// Returns `Ok(None)` when the stream ends cleanly before the first byte of a frame,
/// `UnexpectedEof` when it ends inside a frame, and `InvalidData` when the header announces
/// more than [`MAX_FRAME`] bytes. A read that a signal interrupts is retried; any other error
/// (a reset connection) is returned.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    // TODO: honour the contract above, whatever sizes the stream's reads come in. Where can
    // a clean end of stream happen, and where is it a cut?
    todo!("read a length-prefixed frame")
}
