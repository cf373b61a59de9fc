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
/// a third of it, so that one renewal that comes late (a busy machine, a slow network) does
/// not cost the lease; never zero.
pub fn heartbeat_every(ack_wait: Duration) -> Duration {
    // A zero period would make a busy loop of renewals (and tokio's interval panics on it).
    (ack_wait / 3).max(Duration::from_millis(1))
}

/// Runs `task` to its end and returns its output, renewing the lease of `message` meanwhile:
/// an in-progress ack every `every`, the first one `every` after the start (a task shorter
/// than `every` sends none). The task itself is not acknowledged here.
///
/// The task and the renewals take turns on the same thread (`tokio::select!`): a task that
/// blocks the thread instead of awaiting stops the renewals too, so a long computation belongs
/// in `spawn_blocking` or a process of its own, awaited here.
///
/// # Errors
/// The error of a renewal that could not be sent (the connection is gone).
pub async fn keep_lease<T>(
    message: &Message,
    every: Duration,
    task: impl Future<Output = T>,
) -> Result<T, async_nats::Error> {
    // `interval_at`, not `interval`: an interval's first tick completes at once, which would
    // send a renewal before the task has even started.
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // A renewal that could not be sent on time (the thread was busy) is sent once, not in a
    // burst of catch-up ticks.
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(task);
    loop {
        tokio::select! {
            output = &mut task => return Ok(output),
            _ = renew.tick() => {
                // "+WPI": the server starts this delivery's ack wait over.
                message.ack_with(AckKind::Progress).await?;
            }
        }
    }
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
    mut run: F,
) -> Result<(), async_nats::Error>
where
    F: FnMut(String, String) -> Fut,
    Fut: Future<Output = String>,
{
    let every = heartbeat_every(consumer.cached_info().config.ack_wait);
    // One message per pull: a prefetched task would wait here with nobody renewing its lease,
    // and be delivered again elsewhere meanwhile.
    let mut tasks = consumer
        .stream()
        .max_messages_per_batch(1)
        .messages()
        .await?;
    while let Some(message) = tasks.next().await {
        let message = message?;
        let id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(ID_HEADER))
            .map(|v| v.as_str().to_string())
            .ok_or("a task without an id header")?;
        let task = String::from_utf8_lossy(&message.payload).into_owned();
        let result = keep_lease(&message, every, run(id.clone(), task)).await?;
        let mut headers = HeaderMap::new();
        headers.insert(ID_HEADER, id.as_str());
        // As in redelivery: the result, then the ack. A worker that lost its lease while it was
        // stopped publishes a second result for the task here (the submitter keeps the first)
        // and its ack of a task already acknowledged by another worker changes nothing.
        client
            .publish_with_headers(results.to_string(), headers, result.into())
            .await?;
        message.double_ack().await?;
    }
    Err("the consumer's message stream ended".into())
}
