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
    if payload.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds {MAX_FRAME}", payload.len()),
        ));
    }
    // The cast cannot truncate: MAX_FRAME fits in a u32.
    let header = (payload.len() as u32).to_be_bytes();
    // `write` may send only part of a buffer (a signal handler that runs after some bytes went
    // out, a send timeout, a non-blocking socket); `write_all` loops until all of it is sent.
    w.write_all(&header)?;
    w.write_all(payload)?;
    w.flush()
}

/// Reads one frame and returns its payload.
///
/// Returns `Ok(None)` when the stream ends cleanly before the first byte of a frame,
/// `UnexpectedEof` when it ends inside a frame, and `InvalidData` when the header announces
/// more than [`MAX_FRAME`] bytes. A read that a signal interrupts is retried; any other error
/// (a reset connection) is returned.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    // The header itself can arrive in pieces, so it is read with a loop that also tells
    // "no byte at all" (a clean end) from "some bytes, then EOF" (a cut frame).
    let mut filled = 0;
    while filled < header.len() {
        match r.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("stream ended after {filled} of 4 header bytes"),
                ));
            }
            Ok(n) => filled += n,
            // EINTR: a signal handler ran before any byte arrived; read again. Any other
            // error (ECONNRESET, ...) is not a clean end and is returned.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(header) as usize;
    // Check before allocating: a corrupt or hostile header must not make us reserve 4 GiB.
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame header announces {len} bytes, more than {MAX_FRAME}"),
        ));
    }
    let mut payload = vec![0u8; len];
    // `read_exact` loops over short reads and fails with UnexpectedEof on a cut payload.
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}
