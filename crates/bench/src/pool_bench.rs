//! What a process pool saves, measured on the reference solution (`crate::pool`): a batch of
//! tasks through the pool against a process per task, one task's round trip through the pool
//! against the same round trip on a bare pipe to one worker, and throughput with 1, 2 and 4
//! workers.

use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;

use crate::frame::{Frame, read_frame, write_frame};
use crate::pool::{Config, Outcome, Pool};

/// A pool of `workers` workers running `program`, one task at a time each.
///
/// # Errors
/// The worker cannot start.
pub fn start_pool(program: &Path, workers: usize) -> io::Result<Pool> {
    Pool::start(Config::new(program, workers))
}

/// Submits `n` copies of `line` at once and waits for every answer.
///
/// # Errors
/// A task is refused, lost or fails.
pub fn pool_batch(pool: &Pool, line: &str, n: u64) -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    for _ in 0..n {
        pool.submit(line, &tx)
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    for _ in 0..n {
        match rx.recv().map_err(io::Error::other)?.outcome {
            Outcome::Ok(_) => {}
            other => return Err(io::Error::other(format!("task failed: {other:?}"))),
        }
    }
    Ok(())
}

/// One task through the pool, waiting for its answer before returning.
///
/// # Errors
/// The task is refused or fails.
pub fn pool_round_trip(pool: &Pool, line: &str) -> io::Result<()> {
    match pool
        .run(line)
        .map_err(|e| io::Error::other(e.to_string()))?
    {
        Outcome::Ok(_) => Ok(()),
        other => Err(io::Error::other(format!("task failed: {other:?}"))),
    }
}

/// `n` tasks, each in a process of its own: spawn the worker, send one frame, close its stdin,
/// read the answer, wait for it.
///
/// # Errors
/// A spawn, a write, a read or a wait fails.
pub fn process_per_task(program: &Path, line: &str, n: u64) -> io::Result<()> {
    for id in 0..n {
        let mut worker = BareWorker::spawn(program)?;
        worker.round_trip(id, line)?;
        worker.finish()?;
    }
    Ok(())
}

/// One worker on two bare pipes, no pool: the floor a pool's dispatch is compared with.
pub struct BareWorker {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    stdout: BufReader<ChildStdout>,
}

impl BareWorker {
    /// Starts `program` with piped stdin and stdout.
    ///
    /// # Errors
    /// The spawn fails.
    pub fn spawn(program: &Path) -> io::Result<BareWorker> {
        let mut child = Command::new(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("worker started without pipes"));
        };
        Ok(BareWorker {
            child,
            stdin: Some(BufWriter::new(stdin)),
            stdout: BufReader::new(stdout),
        })
    }

    /// The worker's pid (to pin it to a CPU).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends task `id` and reads its answer.
    ///
    /// # Errors
    /// The pipe breaks or the answer is not the task's.
    pub fn round_trip(&mut self, id: u64, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("worker already finished"))?;
        write_frame(
            stdin,
            &Frame {
                id,
                body: line.as_bytes().to_vec(),
            },
        )?;
        stdin.flush()?;
        match read_frame(&mut self.stdout)? {
            Some(answer) if answer.id == id => Ok(()),
            other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
        }
    }

    /// Closes the worker's stdin and waits for it to exit.
    ///
    /// # Errors
    /// The wait fails or the worker exits non-zero.
    pub fn finish(mut self) -> io::Result<()> {
        self.stdin = None;
        let status = self.child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("worker ended {status}")))
        }
    }
}

impl Drop for BareWorker {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
