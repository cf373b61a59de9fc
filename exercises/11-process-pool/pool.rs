//! Exercise: a pre-forked pool that loses no task when its workers die.
//!
//! Scenario: `Pool::start` forks `config.workers` persistent workers (the program
//! `config.program`, such as `pool-worker`, speaking `crate::frame` on its stdin and stdout)
//! once, and reuses them for every task. Callers `submit` task lines and get each outcome, with
//! its task id, on the channel they passed. Workers are ordinary child processes: anyone may
//! SIGKILL one at any moment (an out-of-memory kill, an operator, a test reading /proc).
//!
//! Goal, the contract the tests check:
//! - dispatch: a task goes to the live worker with the fewest outstanding tasks, and a worker
//!   never holds more than `config.depth` at once (tasks and answers may be larger than a
//!   pipe's buffer; a line too long for one frame is answered `Outcome::Failed`); tasks no
//!   worker can take wait in a queue of at most `config.queue` tasks: `try_submit` then
//!   returns `SubmitError::Busy`, `submit` blocks until there is room. After `shutdown`
//!   begins both return `ShuttingDown`.
//! - faults: a worker's death is noticed without polling (its stdout reaches EOF), the worker is
//!   reaped and replaced, and its outstanding tasks are dispatched again. A worker that
//!   breaks the protocol (a frame the pool cannot read) is killed and handled the same way.
//!   A task whose worker died under it `config.quarantine_after` times is answered
//!   `Outcome::Quarantined` instead.
//!   A task outstanding longer than `config.task_timeout` gets `Outcome::TimedOut` and its
//!   worker is killed (and replaced). Every task gets exactly one `Done`, even if a result
//!   races its worker's death or its timeout. A replacement that cannot be started (its
//!   program gone, say) is tried again by itself after a delay that grows with each failure;
//!   while no worker can take tasks and starting one has failed three times in a row, waiting
//!   tasks are answered `Outcome::Failed` with the reason ("cannot start a worker: ...").
//! - recycling: a worker that has served `config.max_tasks` tasks takes no more, is told to exit
//!   (its stdin is closed) once idle, and is replaced.
//! - lifecycle: `resize` changes the number of workers while tasks run; `rolling_restart`
//!   replaces every worker one at a time, never with fewer than the configured number able to
//!   take tasks and without losing a task; `shutdown(grace)` refuses new tasks, lets every
//!   accepted task finish, stops the workers and returns the final `Stats`; tasks still running
//!   when `grace` has passed are answered `Outcome::Failed("pool shut down")` and their workers
//!   killed. An idle worker is not killed: its stdin is closed and it exits by itself; one
//!   still there when the grace is over (and at least a second after its stdin closed) is
//!   killed. Dropping a pool is a shutdown with no grace. No worker outlives the pool, and none
//!   is left a zombie.
//!
//! Chapter: `docs/src/11-process-pool.md#pool`. Check: `cargo xtask check process-pool/pool`.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::Duration;

use crate::frame::{Frame, read_frame, write_frame};
use crate::task::decode;

/// How a pool is built.
#[derive(Debug, Clone)]
pub struct Config {
    /// The worker program and its arguments.
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// How many workers to keep alive.
    pub workers: usize,
    /// The most tasks one worker holds at once (1: strictly one at a time).
    pub depth: usize,
    /// The most tasks waiting for a worker; beyond it `try_submit` says Busy.
    pub queue: usize,
    /// A worker is recycled after serving this many tasks.
    pub max_tasks: Option<u64>,
    /// A task outstanding longer than this is answered TimedOut and its worker killed.
    pub task_timeout: Option<Duration>,
    /// A task is quarantined after this many workers died under it.
    pub quarantine_after: u32,
}

impl Config {
    /// A configuration with `workers` workers running `program` and the defaults: depth 1, a
    /// queue of 1024, no recycling, no timeout, quarantine after 3 deaths.
    pub fn new(program: impl Into<PathBuf>, workers: usize) -> Config {
        Config {
            program: program.into(),
            args: Vec::new(),
            workers,
            depth: 1,
            queue: 1024,
            max_tasks: None,
            task_timeout: None,
            quarantine_after: 3,
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The worker's result.
    Ok(String),
    /// The worker's reason, or the pool's (`pool shut down`).
    Failed(String),
    /// The task outlived `task_timeout`; its worker was killed.
    TimedOut,
    /// Workers kept dying under this task; it will not be tried again.
    Quarantined,
}

/// The answer to one task, sent once on the channel given to `submit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The id `submit` returned.
    pub id: u64,
    pub outcome: Outcome,
}

/// Why a task was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full (`try_submit` only).
    Busy,
    /// The pool is shutting down.
    ShuttingDown,
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubmitError::Busy => "pool busy",
            SubmitError::ShuttingDown => "shutting down",
        })
    }
}

/// A snapshot of the pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live workers (including one being retired).
    pub workers: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Tasks a worker holds.
    pub in_flight: usize,
    /// Tasks answered Ok.
    pub done: u64,
    /// Tasks answered any other way.
    pub failed: u64,
    /// Workers started after the first ones: replacements for workers that died, were killed
    /// or recycled, and additions by `resize`.
    pub restarts: u64,
}

/// A running pool.
pub struct Pool {
    // TODO: what the pool needs to reach its workers and its queue.
}

impl Pool {
    /// Starts `config.workers` workers and whatever dispatches tasks to them.
    ///
    /// # Errors
    /// The worker program cannot be started (nothing is left running then).
    pub fn start(config: Config) -> io::Result<Pool> {
        // TODO: start the workers once; they serve every task from now on.
        todo!("start the pool")
    }

    /// Queues `line`; its `Done` will be sent on `reply`. Blocks while the queue is full.
    ///
    /// # Errors
    /// `ShuttingDown` once `shutdown` has begun.
    pub fn submit(&self, line: &str, reply: &Sender<Done>) -> Result<u64, SubmitError> {
        // TODO: a new task id, and the task on its way to the least-loaded worker.
        todo!("submit, waiting for room")
    }

    /// Queues `line` like `submit`, but returns `Busy` at once if the queue is full.
    ///
    /// # Errors
    /// `Busy` or `ShuttingDown`.
    pub fn try_submit(&self, line: &str, reply: &Sender<Done>) -> Result<u64, SubmitError> {
        // TODO: as `submit`, without waiting.
        todo!("submit or say Busy")
    }

    /// Runs one task and waits for its outcome.
    ///
    /// # Errors
    /// As `submit`.
    pub fn run(&self, line: &str) -> Result<Outcome, SubmitError> {
        // TODO: submit, then wait for the one answer.
        todo!("run one task")
    }

    /// The current counters.
    pub fn stats(&self) -> Stats {
        // TODO: workers, queued, in flight, done, failed, restarts.
        todo!("the counters")
    }

    /// The pids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        // TODO: the pid of every worker process alive now.
        todo!("the workers' pids")
    }

    /// Changes the number of workers to `workers` (at least 1).
    pub fn resize(&self, workers: usize) {
        // TODO: grow or shrink while tasks run.
        todo!("resize")
    }

    /// Replaces every worker, one at a time.
    pub fn rolling_restart(&self) {
        // TODO: replace each worker without losing a task or capacity.
        todo!("rolling restart")
    }

    /// Refuses new tasks, finishes the accepted ones (for at most `grace`), stops every worker
    /// and returns the final counters. Later calls return zeroed counters at once.
    pub fn shutdown(&self, grace: Duration) -> Stats {
        // TODO: drain, then stop and reap every worker.
        todo!("shut down")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // TODO: a pool dropped without `shutdown` must still leave no worker behind.
    }
}
