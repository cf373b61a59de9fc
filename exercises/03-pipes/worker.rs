//! Practice, parent-child communication: a worker process answering requests over two pipes.
//!
//! Scenario: a parent keeps one worker process alive and sends it requests one at a time, the
//! way a build tool talks to a compiler server. Requests go down the worker's stdin, responses
//! come back on its stdout: two pipes, one per direction. A pipe is a byte stream with no message
//! boundaries, so every message is framed: a 4-byte big-endian length, then that many bytes.
//!
//! Goal: implement the framing ([`write_frame`], [`read_frame`]), the worker's loop ([`serve`],
//! which the `pipes-worker` binary of this crate runs), and the parent's side ([`Worker`]): the worker
//! exits cleanly when the parent closes its end (EOF), and a worker that dies mid-request is
//! reported as [`WorkerError::Died`] and reaped, never a hang.
//!
//! Chapter: `docs/src/03-pipes.md#worker`. Check it with `cargo xtask check pipes/worker`.

use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

/// The largest payload [`read_frame`] accepts: a corrupt length must not make it allocate 4 GiB.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Writes one frame: `payload.len()` as a 4-byte big-endian integer, then the payload; flushes.
pub fn write_frame(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    // TODO: write the length as 4 big-endian bytes (`u32::to_be_bytes`), refuse more than MAX_FRAME.
    // TODO: write the payload, then flush: the other side waits for the whole frame.
    todo!("write one frame")
}

/// Reads one frame. `Ok(None)` on a clean EOF before the first byte of a frame (the other side
/// closed its end between messages); an `UnexpectedEof` error on EOF inside a frame.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    // TODO: read the first byte alone: 0 bytes read there is a clean EOF, `Ok(None)`; retry
    //       `ErrorKind::Interrupted` (a signal arrived while waiting), return other errors.
    // TODO: read the rest of the header and the payload with `read_exact` (EOF inside a frame
    //       is then an `UnexpectedEof` error); refuse lengths above MAX_FRAME.
    todo!("read one frame")
}

/// The worker's loop: reads request frames from `input` until EOF, answers each with
/// `handler(request)` as one response frame on `output`. Returns `Ok(())` at EOF.
pub fn serve(
    input: impl Read,
    output: impl Write,
    handler: impl FnMut(&[u8]) -> Vec<u8>,
) -> io::Result<()> {
    // TODO: read frames until `read_frame` returns `None`, answer each with `handler`.
    todo!("the worker loop")
}

/// What can go wrong talking to a worker.
#[derive(Debug)]
pub enum WorkerError {
    /// Reading or writing a pipe failed for another reason.
    Io(io::Error),
    /// The worker ended before answering; it has been reaped and this is how it ended.
    Died(ExitStatus),
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Io(e) => write!(f, "talking to the worker failed: {e}"),
            WorkerError::Died(status) => write!(f, "the worker died mid-request ({status})"),
        }
    }
}

impl std::error::Error for WorkerError {}

impl From<io::Error> for WorkerError {
    fn from(e: io::Error) -> Self {
        WorkerError::Io(e)
    }
}

/// The parent's handle on a running worker process.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read once the methods below are written
pub struct Worker {
    /// `None` once the worker was reaped.
    child: Option<Child>,
    /// The write end of the request pipe (the worker's stdin); `None` once closed.
    requests: Option<ChildStdin>,
    /// The read end of the response pipe (the worker's stdout).
    responses: ChildStdout,
}

impl Worker {
    /// Starts `command` as a worker with its stdin and stdout piped to this process.
    pub fn spawn(command: &mut Command) -> io::Result<Worker> {
        // TODO: spawn with piped stdin and stdout; keep the child and both pipe ends.
        todo!("start the worker")
    }

    /// The worker's pid (0 once it was reaped).
    pub fn pid(&self) -> u32 {
        // TODO: the child's id, or 0 once it was reaped.
        todo!("the worker's pid")
    }

    /// Sends one request and waits for its response.
    ///
    /// A payload over [`MAX_FRAME`] is refused before anything is sent, and the worker lives on.
    /// If the worker is gone (it exited or was killed before answering), it is reaped and
    /// [`WorkerError::Died`] says how it ended. Any other error leaves the two streams out of
    /// step, so the worker is killed and reaped before [`WorkerError::Io`] is returned; every
    /// later request then fails at once.
    pub fn request(&mut self, payload: &[u8]) -> Result<Vec<u8>, WorkerError> {
        // TODO: write the request frame; `BrokenPipe` means the worker is gone.
        // TODO: read the response frame; `None` or `UnexpectedEof` means the worker died:
        //       reap it and return `WorkerError::Died(status)`.
        // TODO: any other error is `WorkerError::Io`, as the contract above says.
        todo!("one request, one response")
    }

    /// Closes the request pipe, which tells the worker to finish, and waits for it to exit.
    pub fn shutdown(self) -> Result<ExitStatus, WorkerError> {
        // TODO: close the request pipe (drop it): the worker reads EOF and exits.
        // TODO: wait for the worker and return its status.
        todo!("stop the worker")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // TODO: close the request pipe, then kill and reap the child if it is still there, so a
        //       Worker dropped without `shutdown` leaves no process behind.
    }
}
