//! Feeding a child's stdin while reading its stdout, without the pipe-buffer deadlock.
//!
//! Scenario: a program sends several MiB through a filter (`cat`, `gzip`, `sort`, a formatter)
//! and wants the result back. Writing all the input first and reading the output afterwards
//! works for small data and hangs forever for large data.
//!
//! Goal: write the input on one thread while this thread reads the output, so that neither
//! pipe can stay full.
//!
//! Chapter: `docs/src/02-redirection.md#feed_and_read`.
//! Check: `cargo xtask check redirection/feed_and_read`.

use std::io::{self, Read, Write};
use std::process::{Child, ExitStatus};
use std::thread;

/// Sends `input` to the stdin of `child`, closes it, reads everything the child writes to
/// stdout, and waits for the child. Returns the exit status and the output.
///
/// `child` was spawned with `Stdio::piped()` for stdin and stdout. Both may carry far more than
/// a pipe holds (64 KiB on Linux), in both directions at once. A child that exits without
/// reading all of its input is not an error: the output it wrote is returned. When reading the
/// output fails, the child is killed and reaped, and the error returned.
///
/// # References
/// `pipe(7)` ("Pipe capacity")
pub fn feed_and_read(mut child: Child, input: Vec<u8>) -> io::Result<(ExitStatus, Vec<u8>)> {
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    // The writer runs on its own thread: when the stdin pipe is full, only that thread blocks,
    // and this one keeps emptying the stdout pipe, which lets the child go on reading stdin.
    let writer = thread::spawn(move || -> io::Result<()> {
        if let Some(mut stdin) = stdin {
            match stdin.write_all(&input) {
                // A child may exit without reading all its input; that is its choice, not an
                // error of ours (Rust ignores SIGPIPE, so it shows up as BrokenPipe).
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            // `stdin` drops here: the child reads EOF and can finish.
        }
        Ok(())
    });
    let mut out = Vec::new();
    let read = match stdout {
        Some(mut stdout) => stdout.read_to_end(&mut out).map(|_| ()),
        None => Ok(()),
    };
    if read.is_err() {
        // Nobody empties the stdout pipe any more: a child still writing, or one that does not
        // read its stdin, would keep the writer thread blocked on a full stdin pipe, and the
        // join below would wait for ever. Killing the child closes its end of both pipes: the
        // write fails with EPIPE and the thread ends. (It may have exited already: ignore.)
        let _ = child.kill();
    }
    let written = writer
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the stdin writer thread panicked")));
    // Reap the child whatever happened above, so that no zombie is left behind.
    let status = child.wait()?;
    read?;
    written?;
    Ok((status, out))
}
