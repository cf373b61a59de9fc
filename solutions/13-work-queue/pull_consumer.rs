//! A durable queue: a JetStream work-queue stream and a pull consumer with explicit acks.
//!
//! Scenario: tasks must wait somewhere while no worker runs, and must still be there after the
//! server restarts. Core NATS keeps nothing; JetStream keeps messages in a *stream* (here, in
//! files under the server's store directory) and hands them out through a *consumer*, which
//! remembers what each worker took and what it acknowledged. With work-queue retention the
//! stream forgets a task once it is acknowledged: the queue holds exactly the work not yet done.
//!
//! Goal: implement [`open_queue`], which creates the stream and the durable pull consumer the
//! first time and finds them every time after (a worker calls it at each start), and
//! [`take_batch`], which takes up to `max` tasks, acknowledges each and returns their payloads.
//!
//! Chapter: `docs/src/13-work-queue.md#pull_consumer`. Check it with `cargo xtask check work-queue/pull_consumer`.

use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use futures_util::StreamExt;

/// Opens the queue: the stream `stream` holding the messages published on `subject`, with
/// work-queue retention and file storage, and on it the durable pull consumer `consumer` with
/// explicit acks and the given ack wait. Creates what is missing and keeps what exists (tasks
/// already queued stay queued).
pub async fn open_queue(
    js: &Context,
    stream: &str,
    subject: &str,
    consumer: &str,
    ack_wait: Duration,
) -> Result<PullConsumer, async_nats::Error> {
    // `get_or_create_*` asks for the info first and creates only on "not found"; an existing
    // stream is used as it is (its messages stay).
    let stream = js
        .get_or_create_stream(Config {
            name: stream.to_string(),
            subjects: vec![subject.to_string()],
            // Work-queue retention: a message is removed once a consumer acknowledges it, and
            // the stream admits one consumer per subject, so no task is served twice by design.
            retention: RetentionPolicy::WorkQueue,
            // Files under the server's store dir (`-sd`): what survives a restart. Memory
            // storage is faster and is lost with the server process.
            storage: StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .get_or_create_consumer(
            consumer,
            pull::Config {
                // A durable name: the server keeps the consumer (and what it delivered) when
                // no worker is connected, and across restarts.
                durable_name: Some(consumer.to_string()),
                // Every message must be acknowledged one by one; one not acknowledged within
                // `ack_wait` is delivered again.
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

/// Takes up to `max` tasks from `consumer`, waiting at most `wait` for them to arrive, and
/// acknowledges each. Returns their payloads in queue order: fewer than `max` (maybe none) when
/// the queue ran dry before `wait` passed.
pub async fn take_batch(
    consumer: &PullConsumer,
    max: usize,
    wait: Duration,
) -> Result<Vec<String>, async_nats::Error> {
    // One pull request for `max` messages that expires after `wait`: the server sends what it
    // has, up to `max`, and ends the batch when `wait` passes. A continuous `messages()` stream
    // would instead wait for more forever.
    let mut batch = consumer
        .batch()
        .max_messages(max)
        .expires(wait)
        .messages()
        .await?;
    let mut tasks = Vec::new();
    while let Some(message) = batch.next().await {
        let message = message?;
        tasks.push(String::from_utf8_lossy(&message.payload).into_owned());
        // The double ack waits for the server to confirm it recorded the ack: after this, the
        // work-queue stream has dropped the message. A plain `ack()` is only queued to be sent.
        message.double_ack().await?;
    }
    Ok(tasks)
}
