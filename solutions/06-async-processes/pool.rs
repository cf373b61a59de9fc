//! A pool that never runs more than N children at once, fixed from a version with two bugs.
//!
//! Scenario: a thumbnail service converts images with an external program, at most N at a
//! time so the machine stays usable. This version is the starting point; it has two bugs:
//!
//! ```text
//! pub struct AsyncProcessPool { semaphore: Arc<Semaphore> }
//!
//! impl AsyncProcessPool {
//!     pub async fn execute(&self, cmd: &str, args: &[&str]) -> io::Result<String> {
//!         let permit = self.semaphore.acquire().await.unwrap();
//!         let output = Command::new(cmd).args(args).output().await?;
//!         drop(permit);
//!         Ok(String::from_utf8_lossy(&output.stdout).to_string())
//!     }
//! }
//! // ... and then, for each task: `let pool = pool.clone(); tokio::spawn(async move { ... })`
//! ```
//!
//! Goal: a `ProcessPool` that can be cloned into many tasks and still keeps ONE limit, and that
//! counts a child as running until it is really gone, also when the caller gives up on it.
//!
//! Chapter: `docs/src/06-async-processes.md#pool`.
//! Check: `cargo xtask check async-processes/pool`.

use std::io;
use std::process::{Output, Stdio};
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Runs commands with at most `max_children` of them alive at any moment, across all clones.
///
/// A child counts against the limit from its spawn until it has been reaped, including when
/// the future of [`ProcessPool::output`] is dropped before the child ended: the child is then
/// killed, and its slot is given to the next command only once it is reaped.
// `Clone` is derived over an `Arc`: every clone shares the one semaphore, so the limit is
// global. The seed's pool was cloned without deriving `Clone` (it does not compile), and a
// hand-written `clone` that made a new `Semaphore` would give every clone its own limit.
#[derive(Debug, Clone)]
pub struct ProcessPool {
    slots: Arc<Semaphore>,
}

impl ProcessPool {
    /// A pool that runs at most `max_children` children at once (at least one).
    pub fn new(max_children: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_children.max(1))),
        }
    }

    /// Waits for a free slot, runs `cmd` with stdout and stderr captured (stdin as the caller
    /// set it) and returns its status and output.
    ///
    /// # References
    /// `waitpid(2)`
    pub async fn output(&self, mut cmd: Command) -> io::Result<Output> {
        // An owned permit can move into the task below. The semaphore is never closed, so
        // acquiring cannot fail.
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // Dropping this future must not give the slot back while the child lives (the seed's
        // second bug: its permit went with the future, its child did not). So the child and
        // the permit move into a task of their own, and this future only asks it to stop
        // (the guard cancels the token when dropped). The task kills the child, reaps it, and
        // only then drops the permit.
        let stop = CancellationToken::new();
        let _stop_when_dropped = stop.clone().drop_guard();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let run = async {
                let (out, err, status) =
                    tokio::join!(read_all(stdout), read_all(stderr), child.wait());
                Ok::<_, io::Error>(Output {
                    status: status?,
                    stdout: out?,
                    stderr: err?,
                })
            };
            tokio::select! {
                output = run => output,
                () = stop.cancelled() => {
                    // kill() sends SIGKILL and waits: the child is reaped when it returns.
                    child.kill().await?;
                    Err(io::Error::other("cancelled"))
                }
            }
        });
        task.await.map_err(io::Error::other)?
    }
}

/// Reads a captured stream to its end (an absent stream reads as empty).
async fn read_all(stream: Option<impl AsyncReadExt + Unpin>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut s) = stream {
        s.read_to_end(&mut buf).await?;
    }
    Ok(buf)
}
