//! Graceful drain: a worker told to stop finishes its task, gives back what it holds, and exits.
//!
//! Scenario: workers are stopped all the time: a deploy replaces them, an autoscaler removes
//! them, an operator moves them. Each stop is a SIGTERM, and a worker that dies of it the way
//! it would die of SIGKILL costs twice: the task it was running is done again from the start,
//! and every task it had taken but not started waits out the ack wait (minutes, in production)
//! before anyone else may have it. A worker that drains instead stops taking tasks, finishes the
//! one at hand (result and ack), hands back the others at once, and only then exits: nothing
//! runs twice and nothing waits.
//!
//! Goal: implement [`work_until`], a worker loop that takes tasks in batches (several at a time,
//! as a fast worker does to save round trips) until `stop` completes, and then drains.
//!
//! Chapter: `docs/src/13-work-queue.md#drain`. Check it with `cargo xtask check work-queue/drain`.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::AckKind;
use async_nats::{Client, HeaderMap};
use futures_util::StreamExt;

use crate::redelivery::ID_HEADER;

/// How long one pull waits for tasks when the queue is empty before the worker asks again.
pub const PULL_WAIT: Duration = Duration::from_secs(1);

/// What a worker did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Tasks run, answered and acknowledged.
    pub done: usize,
    /// Tasks taken but not started, handed back to the server.
    pub given_back: usize,
}

/// The worker's loop: pulls up to `batch` tasks at a time (waiting up to [`PULL_WAIT`] for
/// them), and runs each in turn with `run(id, task)`, publishing its result on `results` under
/// the task's id, then acknowledging it (waiting for the server's confirmation).
///
/// When `stop` completes (a SIGTERM, say), the worker takes no new task: the task that is
/// running runs to its end and is answered and acknowledged as usual, every task it holds but
/// has not started is given back at once (confirmed by the server) so that another worker
/// can take it now rather than after the ack wait, and the loop returns what it
/// did. Returns an error only when the server cannot be talked to.
pub async fn work_until<F, Fut>(
    client: &Client,
    consumer: &PullConsumer,
    results: &str,
    batch: usize,
    run: F,
    stop: impl Future<Output = ()>,
) -> Result<Drained, async_nats::Error>
where
    F: FnMut(String, String) -> Fut,
    Fut: Future<Output = String>,
{
    // TODO: batches of tasks until `stop`; then finish the running one and give back the rest.
    todo!("work_until")
}
