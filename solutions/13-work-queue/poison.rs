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
/// `Reject(reason)` it publishes `error REASON` the same way, then terminates the task
/// (`AckKind::Term`), so that the server never delivers it again. Both wait for the server to
/// confirm. Returns only on an error.
pub async fn work<F>(
    client: &Client,
    consumer: &PullConsumer,
    results: &str,
    mut run: F,
) -> Result<(), async_nats::Error>
where
    F: FnMut(&str, &str) -> Outcome,
{
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
        let (answer, ack) = match run(&id, &task) {
            Outcome::Done(result) => (result, AckKind::Ack),
            // Term, not Nak (delivered again at once, to fail again) and not Ack (counted as
            // done): the server drops the task and says so in an advisory of its own.
            Outcome::Reject(reason) => (format!("error {reason}"), AckKind::Term),
        };
        let mut headers = HeaderMap::new();
        headers.insert(ID_HEADER, id.as_str());
        client
            .publish_with_headers(results.to_string(), headers, answer.into())
            .await?;
        message.double_ack_with(ack).await?;
    }
    Err("the consumer's message stream ended".into())
}

/// Subscribes to the max-deliveries advisories of `consumer` on `stream`, and returns once the
/// server has the subscription (an advisory published before that would be lost: core NATS
/// keeps nothing).
pub async fn watch_dead_letters(
    client: &Client,
    stream: &str,
    consumer: &str,
) -> Result<Subscriber, async_nats::Error> {
    let advisories = client
        .subscribe(format!("{MAX_DELIVERIES}.{stream}.{consumer}"))
        .await?;
    // A round trip on the same connection: the server handles a connection's commands in
    // order, so once the probe comes back the subscription is in place.
    crate::natsd::round_trip(client).await?;
    Ok(advisories)
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
    let body: serde_json::Value = serde_json::from_slice(&advisory.payload)?;
    let field = |name: &str| {
        body.get(name)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("an advisory without `{name}`: {body}"))
    };
    let sequence = field("stream_seq")?;
    let deliveries = field("deliveries")?;
    let stream = js.get_stream(stream).await?;
    let message = stream.get_raw_message(sequence).await?;
    let id = message
        .headers
        .get(ID_HEADER)
        .map(|v| v.as_str().to_string())
        .ok_or("a dead task without an id header")?;
    let task = String::from_utf8_lossy(&message.payload).into_owned();
    stream.delete_message(sequence).await?;
    Ok(DeadLetter {
        id,
        task,
        deliveries,
    })
}
