//! A durable queue: a JetStream work-queue stream and a pull consumer with explicit acks.
//!
//! Scenario: tasks must wait somewhere while no worker runs, and must still be there after the
//! server restarts. Core NATS keeps nothing; JetStream keeps messages in a *stream* and hands
//! them out through a *consumer*, which remembers what each worker took and what it
//! acknowledged.
//!
//! Goal: implement [`open_queue`], which creates the stream and the durable pull consumer the
//! first time and finds them every time after (a worker calls it at each start), and
//! [`take_batch`], which takes up to `max` tasks, acknowledges each and returns their payloads.
//! The queue holds exactly the work not yet done: an acknowledged task leaves the stream, and
//! the tasks still queued survive a restart of the server.
//!
//! Chapter: `docs/src/13-work-queue.md#pull_consumer`. Check it with `cargo xtask check work-queue/pull_consumer`.

use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use futures_util::StreamExt;

/// Opens the queue: the stream `stream` holding the messages published on `subject`, kept in
/// files and forgotten once acknowledged, and on it the durable pull consumer `consumer` whose
/// every message must be acknowledged within `ack_wait`. Creates what is missing and keeps what
/// exists (tasks already queued stay queued).
pub async fn open_queue(
    js: &Context,
    stream: &str,
    subject: &str,
    consumer: &str,
    ack_wait: Duration,
) -> Result<PullConsumer, async_nats::Error> {
    // TODO: get or create the stream, then get or create the consumer on it.
    todo!("open_queue")
}

/// Takes up to `max` tasks from `consumer`, waiting at most `wait` for them to arrive, and
/// acknowledges each. Returns their payloads in queue order: fewer than `max` (maybe none) when
/// the queue ran dry before `wait` passed.
pub async fn take_batch(
    consumer: &PullConsumer,
    max: usize,
    wait: Duration,
) -> Result<Vec<String>, async_nats::Error> {
    // TODO: pull one batch, acknowledge each message, collect the payloads.
    todo!("take_batch")
}
