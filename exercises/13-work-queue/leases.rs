//! Leases: a long task on a live worker is never delivered again; a worker that stops loses it.
//!
//! Scenario: some tasks take longer than the consumer's ack wait (a video to encode, a report
//! to build). The server cannot tell a worker that is busy from one that is dead: all it sees
//! is that no ack came within the ack wait, and then it hands the task to someone else. A busy
//! worker must say "still working on it" in time, again and again: an in-progress ack, which
//! starts the ack wait over. A task held that way is a lease. A worker that stops (SIGSTOP, a
//! machine cut off from the network) stops renewing it, and once the ack wait has passed the
//! task goes to a live worker, as it should.
//!
//! Goal: implement [`heartbeat_every`] (how often to renew a lease), [`keep_lease`] (run a task
//! while renewing the lease of its message) and [`work`] (the worker's loop for long tasks).
//!
//! Chapter: `docs/src/13-work-queue.md#leases`. Check it with `cargo xtask check work-queue/leases`.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::AckKind;
use async_nats::{Client, HeaderMap};
use futures_util::StreamExt;

use crate::redelivery::ID_HEADER;

/// How often a worker renews the lease of a task whose consumer has an ack wait of `ack_wait`:
/// well inside it, so that one renewal that comes late (a busy machine, a slow network) does
/// not cost the lease; never zero.
pub fn heartbeat_every(ack_wait: Duration) -> Duration {
    // TODO: a period well inside the ack wait, and never zero.
    todo!("heartbeat_every")
}

/// Runs `task` to its end and returns its output, renewing the lease of `message` meanwhile:
/// an in-progress ack every `every`, the first one `every` after the start (a task shorter
/// than `every` sends none). The task itself is not acknowledged here.
///
/// # Errors
/// The error of a renewal that could not be sent (the connection is gone).
pub async fn keep_lease<T>(
    message: &Message,
    every: Duration,
    task: impl Future<Output = T>,
) -> Result<T, async_nats::Error> {
    // TODO: run the task, and renew the lease while it runs.
    todo!("keep_lease")
}

/// The worker's loop for long tasks: takes one task at a time from `consumer`, runs
/// `run(id, task)` under [`keep_lease`] (renewing every [`heartbeat_every`] of the consumer's
/// ack wait), publishes the result on `results` with the task's id in
/// [`ID_HEADER`](crate::redelivery::ID_HEADER), and only then acknowledges the task (waiting
/// for the server to confirm). Returns only on an error.
pub async fn work<F, Fut>(
    client: &Client,
    consumer: &PullConsumer,
    results: &str,
    run: F,
) -> Result<(), async_nats::Error>
where
    F: FnMut(String, String) -> Fut,
    Fut: Future<Output = String>,
{
    // TODO: redelivery's worker loop, with every task run under a lease.
    todo!("work")
}
