//! Practice: `jobq`, a work queue on NATS JetStream that loses no task.
//!
//! Scenario: the tasks of week 7's `poold` (`spin N`, `sleep MS`, `hash PATH`, `count PATH`,
//! `crash`, and `echo TEXT` for tests) no longer fit one machine. `jobq` puts them on a
//! JetStream work queue that any number of workers on any number of hosts take from. No pidfd
//! reaches another host: a worker is known to be alive by its acks, and a task is known to be
//! lost when its ack wait passes. Workers are killed, stopped and cut off, the server itself
//! restarts, and every task is still answered exactly once.
//!
//! The verbs (`--nats URL` names the server, `nats://HOST:PORT`):
//! - `jobq init --nats URL [--ack-wait SECONDS] [--max-deliver N]` creates, when absent, the
//!   work-queue stream `JOBQ` (subject `jobq.tasks`, file storage), its durable pull consumer
//!   `workers` (explicit acks, the ack wait, default 30 s, and the delivery cap, default 5),
//!   the results stream `JOBQ_RESULTS` (`jobq.results.>`, kept a day) and the dead-letter
//!   stream `JOBQ_DEAD`, which stores the server's max-deliveries advisories of `workers`.
//!   Running it again changes nothing; asking for other settings than the existing ones is an
//!   error that says how to change them (`--update`, which applies them).
//! - `jobq worker --nats URL [--jobs N]` takes tasks and runs them in a local pre-forked pool
//!   of N processes (default 2; week 7's `process_pool::pool::Pool`, whose workers are this
//!   program run as `jobq pool-worker`), so a `crash` kills a pool worker and never the queue
//!   worker. It holds at most N tasks. A task that runs longer than the ack wait on a live
//!   worker is never delivered to another; a worker killed at any moment loses no task and
//!   answers none twice. A task that kills every pool worker that runs it ends, after
//!   `max-deliver` deliveries, as a dead letter (not a loop). It prints `ready NAME` on stdout
//!   once it takes tasks. SIGTERM or SIGINT drains: no new task is taken, nothing it holds
//!   waits out the ack wait, running tasks finish and are answered, the pool stops, exit 0.
//! - `jobq submit --nats URL [--timeout SECONDS] [FILE]` reads one task per line (stdin
//!   without FILE; blank lines and lines starting with `#` are skipped but counted), refuses a
//!   malformed line before anything is published, publishes every task once (a publish
//!   repeated after a lost acknowledgement must not make two tasks), and prints
//!   `LINE ok RESULT` or `LINE error REASON` in input order, each task once however
//!   many times it ran. A task the server gave up on (read from `JOBQ_DEAD`) is answered
//!   `LINE error dead-lettered after N deliveries` and removed from the queue. Exit 0 when
//!   every task was answered (errors included), 1 when some were not within `--timeout`
//!   (default 600 s; stderr names them).
//! - `jobq stats --nats URL` prints `pending N`, `in flight N`, `redelivered N` (deliveries
//!   beyond each task's first, since the queue was made),
//!   `dead-lettered N` and `workers seen N` (distinct workers in all the results kept, however
//!   many). `submit` and `stats` leave no consumer of their own on the server when they end,
//!   and the ones of a `submit` that was killed expire once idle.
//!
//! The messages, which other programs may read and write too: a task is a message on
//! `jobq.tasks` whose payload is the task line, with the headers `Jobq-Id` (`RUN.INDEX`: the
//! submit's run and the task's place among its tasks) and `Jobq-Reply` (the subject of its
//! result, `jobq.results.RUN`). A result goes to that subject: payload `ok RESULT` or
//! `error REASON`, header `Jobq-Id` (and whatever else the worker adds, its name say). Anyone
//! who may publish a task may write these headers: a worker refuses for good (never runs it,
//! never gets it again) a task that lacks one or whose `Jobq-Reply` is not under
//! `jobq.results.`, and a submit ignores, with one line on stderr, a result whose id is not one
//! of its own tasks.
//!
//! Errors are one line on stderr: exit status 2 for bad usage (an unknown verb or option, a
//! number out of range, a malformed task line), 1 for everything else (a server that cannot be
//! reached, a queue that was never initialised, tasks left unanswered). Never a panic. Each
//! says what to do where there is something to do: a queue never initialised names
//! `jobq init --nats URL`; a server that runs without JetStream (nothing answers its JetStream
//! API) names `nats-server -js`.
//!
//! Goal: [`main`].
//! Chapter: `docs/src/13-work-queue.md#jobq`. Check: `cargo xtask check work-queue/jobq`.

use std::process::ExitCode;

/// The work-queue stream and the subject tasks are published on.
pub const STREAM: &str = "JOBQ";
pub const TASKS: &str = "jobq.tasks";
/// The workers' durable pull consumer.
pub const CONSUMER: &str = "workers";
/// The results stream; a submitter's results go to `jobq.results.RUN`.
pub const RESULTS_STREAM: &str = "JOBQ_RESULTS";
pub const RESULTS: &str = "jobq.results";
/// The dead-letter stream: the server's max-deliveries advisories for `JOBQ`/`workers`.
pub const DEAD_STREAM: &str = "JOBQ_DEAD";
pub const DEAD_SUBJECT: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBQ.workers";
/// Headers: a task's id and where its result goes.
pub const ID: &str = "Jobq-Id";
pub const REPLY: &str = "Jobq-Reply";

/// The command-line entry point: `args` without the program name. `jobq pool-worker` (not for
/// people) is one worker of the local pool: `process_pool::worker_loop::serve` on stdin and
/// stdout with `process_pool::task::run`.
pub fn main(args: Vec<String>) -> ExitCode {
    todo!("the work queue: init, worker, submit and stats")
}
