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
use std::process::Output;
use std::sync::Arc;

use tokio::process::Command;
use tokio::sync::Semaphore;

/// Runs commands with at most `max_children` of them alive at any moment, across all clones.
///
/// A child counts against the limit from its spawn until it has been reaped, including when
/// the future of [`ProcessPool::output`] is dropped before the child ended: the child is then
/// killed, and its slot is given to the next command only once it is reaped.
// TODO: the fields of the pool.
#[derive(Debug)]
pub struct ProcessPool {}

impl Clone for ProcessPool {
    // TODO: a clone must share the limit of the pool it was cloned from.
    fn clone(&self) -> Self {
        todo!("clone the pool")
    }
}

impl ProcessPool {
    /// A pool that runs at most `max_children` children at once (at least one).
    pub fn new(max_children: usize) -> Self {
        // TODO: build the pool.
        todo!("build the pool")
    }

    /// Waits for a free slot, runs `cmd` with stdout and stderr captured (stdin as the caller
    /// set it) and returns its status and output.
    ///
    /// # References
    /// `waitpid(2)`
    pub async fn output(&self, cmd: Command) -> io::Result<Output> {
        // TODO: wait for a slot, run the command, and give the slot back only when the child
        // is gone, whatever happens to this future.
        todo!("run the command within the limit")
    }
}
