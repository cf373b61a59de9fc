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
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(payload)?;
    // The other side waits for the whole frame: bytes sitting in a buffer here would deadlock
    // both processes (stdout of a Rust program is line-buffered, and frames are not lines).
    out.flush()
}

/// Reads one frame. `Ok(None)` on a clean EOF before the first byte of a frame (the other side
/// closed its end between messages); an `UnexpectedEof` error on EOF inside a frame.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    // read_exact cannot tell "no frame at all" from "half a header", so the first byte is read
    // on its own: a pipe may deliver any number of bytes per read (a short read).
    let first = loop {
        match input.read(&mut header[..1]) {
            Ok(0) => return Ok(None),
            Ok(n) => break n,
            // EINTR: a signal was handled while read waited and nothing was read. Not an
            // error: read again (read_exact below retries it by itself).
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    input.read_exact(&mut header[first..])?;
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {MAX_FRAME}"),
        ));
    }
    let mut payload = vec![0u8; len];
    // read_exact loops over short reads and reports EOF in the middle as UnexpectedEof.
    input.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// The worker's loop: reads request frames from `input` until EOF, answers each with
/// `handler(request)` as one response frame on `output`. Returns `Ok(())` at EOF.
pub fn serve(
    mut input: impl Read,
    mut output: impl Write,
    mut handler: impl FnMut(&[u8]) -> Vec<u8>,
) -> io::Result<()> {
    // EOF between frames is the parent's way of saying "no more work": the loop ends and the
    // worker exits with status 0.
    while let Some(request) = read_frame(&mut input)? {
        let response = handler(&request);
        write_frame(&mut output, &response)?;
    }
    Ok(())
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
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        match (child.stdin.take(), child.stdout.take()) {
            (Some(requests), Some(responses)) => Ok(Worker {
                child: Some(child),
                requests: Some(requests),
                responses,
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other("the worker's pipes were not created"))
            }
        }
    }

    /// The worker's pid (0 once it was reaped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends one request and waits for its response.
    ///
    /// A payload over [`MAX_FRAME`] is refused before anything is sent, and the worker lives on.
    /// If the worker is gone (it exited or was killed before answering), it is reaped and
    /// [`WorkerError::Died`] says how it ended. Any other error leaves the two streams out of
    /// step, so the worker is killed and reaped before [`WorkerError::Io`] is returned; every
    /// later request then fails at once.
    pub fn request(&mut self, payload: &[u8]) -> Result<Vec<u8>, WorkerError> {
        if payload.len() > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "request too large").into());
        }
        let Some(requests) = self.requests.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the worker is gone").into());
        };
        match write_frame(requests, payload) {
            Ok(()) => {}
            // EPIPE: the worker already closed its stdin, so it has exited (or is exiting).
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(self.reap_dead()),
            Err(e) => return Err(self.poison(e)),
        }
        match read_frame(&mut self.responses) {
            Ok(Some(response)) => Ok(response),
            // EOF instead of a response: the worker's stdout closed, so it has ended or stopped
            // answering. Its status says how.
            Ok(None) => Err(self.reap_dead()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.reap_dead()),
            // A bad header, or a read that failed in the middle of a frame: where the next
            // frame starts is unknown, and the next request would read payload bytes as a
            // length. The worker cannot be talked to any more.
            Err(e) => Err(self.poison(e)),
        }
    }

    /// Closes the request pipe, which tells the worker to finish, and waits for it to exit.
    pub fn shutdown(mut self) -> Result<ExitStatus, WorkerError> {
        // Dropping the write end is the only "stop" message the worker needs: its next read
        // returns EOF.
        self.requests = None;
        match self.child.take() {
            Some(mut child) => Ok(child.wait()?),
            None => {
                Err(io::Error::new(io::ErrorKind::NotConnected, "the worker was reaped").into())
            }
        }
    }

    /// Reaps a worker that stopped answering and builds the error saying how it ended.
    fn reap_dead(&mut self) -> WorkerError {
        match self.stop() {
            Some(Ok(status)) => WorkerError::Died(status),
            Some(Err(e)) => WorkerError::Io(e),
            None => io::Error::new(io::ErrorKind::NotConnected, "the worker was reaped").into(),
        }
    }

    /// Kills and reaps a worker whose streams are out of step, and returns the error `e` that
    /// put them there.
    fn poison(&mut self, e: io::Error) -> WorkerError {
        // Its exit status is of no interest: we killed it.
        let _ = self.stop();
        e.into()
    }

    /// Closes the request pipe, kills the worker and reaps it; `None` if it was already reaped.
    ///
    /// Killing first is what makes the wait safe. A worker whose stdout reached EOF has usually
    /// exited, but one that closed its stdout (or its stdin) and keeps running would make a
    /// bare `wait` hang forever. A SIGKILL to a process that is already exiting changes
    /// nothing: its status stays the one it exited with.
    fn stop(&mut self) -> Option<io::Result<ExitStatus>> {
        self.requests = None;
        let mut child = self.child.take()?;
        // A kill that fails (the process is already gone) changes nothing: wait reports it.
        let _ = child.kill();
        Some(child.wait())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A Worker dropped without shutdown (an early return, a panic) must not leave a process
        // or a zombie: close its input, then kill and reap it.
        let _ = self.stop();
    }
}
