//! Poison tasks: a cap on deliveries, tasks refused for good, and a dead-letter report.
//!
//! Scenario: at-least-once delivery has a dark side. A task that crashes every worker that runs
//! it (a malformed file that the decoder segfaults on) is delivered again after each crash, to
//! the next worker, which crashes in turn: one bad task takes the whole fleet down, forever. Two
//! things stop it. A worker that *knows* a task can never succeed (it cannot even parse it)
//! terminates it: the server never delivers it again. And for the task that kills its worker
//! before it can say anything, the consumer caps the deliveries (`max_deliver`): after that many,
//! the server gives up on the task and publishes an advisory, which the submitter turns into an
//! error for that task, a dead letter, instead of waiting for ever.
//!
//! Goal: implement [`work`] (a worker loop that answers tasks it can run and terminates tasks
//! it rejects), [`watch_dead_letters`] (subscribe to the consumer's max-deliveries advisories)
//! and [`dead_letter`] (turn one advisory into the task it names, and take that task out of the
//! stream).
//!
//! Chapter: `docs/src/13-work-queue.md#poison`. Check it with `cargo xtask check work-queue/poison`.

use async_nats::jetstream::Context;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::AckKind;
use async_nats::{Client, HeaderMap, Subscriber};
use futures_util::StreamExt;

use crate::redelivery::ID_HEADER;

/// The subject prefix of the advisories the server publishes when a task has been delivered
/// `max_deliver` times without an ack; the stream's and the consumer's names follow it.
pub const MAX_DELIVERIES: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES";

/// What a worker's run made of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran; this is its result.
    Done(String),
    /// It can never succeed (it is malformed, say), for the reason given: no worker should
    /// try it again.
    Reject(String),
}

/// A task the queue gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The task's id (its [`ID_HEADER`](crate::redelivery::ID_HEADER)).
    pub id: String,
    /// The task as it was submitted.
    pub task: String,
    /// How often it was delivered.
    pub deliveries: u64,
}

/// The worker's loop: takes one task at a time and calls `run(id, task)`. For `Done(result)`
/// it publishes `result` on `results` with the task's id, then acknowledges the task. For
/// `Reject(reason)` it publishes `error REASON` the same way, then makes sure that the server
/// never delivers the task again, to anyone. Both wait for the server to confirm. Returns only
/// on an error.
pub async fn work<F>(
    client: &Client,
    consumer: &PullConsumer,
    results: &str,
    run: F,
) -> Result<(), async_nats::Error>
where
    F: FnMut(&str, &str) -> Outcome,
{
    // TODO: redelivery's worker loop, and a way out for the tasks that can never succeed.
    todo!("work")
}

/// Subscribes to the max-deliveries advisories of `consumer` on `stream`, and returns once the
/// server has the subscription (an advisory published before that would be lost: core NATS
/// keeps nothing).
pub async fn watch_dead_letters(
    client: &Client,
    stream: &str,
    consumer: &str,
) -> Result<Subscriber, async_nats::Error> {
    // TODO: subscribe to this consumer's advisories, and make sure the server has it.
    todo!("watch_dead_letters")
}

/// Turns one max-deliveries advisory into the task it names: its JSON body carries the task's
/// `stream_seq` and its `deliveries`; the task itself (its id header and payload) is still in
/// the stream at that sequence, since nobody acknowledged it. Then deletes it from the stream:
/// the consumer will not deliver it again, and a work-queue stream would otherwise keep it for
/// ever.
///
/// # Errors
/// An advisory that is not the JSON described, a message that is gone, or one without an id.
pub async fn dead_letter(
    js: &Context,
    stream: &str,
    advisory: &async_nats::Message,
) -> Result<DeadLetter, async_nats::Error> {
    // TODO: read the advisory, fetch the task it names, remove it from the stream.
    todo!("dead_letter")
}
