//! At least once: a task whose worker dies is delivered again, so each task carries its id.
//!
//! Scenario: workers on other machines take tasks from a JetStream queue (a work-queue stream
//! and a durable pull consumer with explicit acks and an ack wait). A worker can die in the
//! middle of a task and nobody is told: no pidfd, no EOF on a pipe. The server only sees that
//! the ack does not come, and once the ack wait has passed it delivers the task again, to
//! whichever worker asks next. So a task may run twice; the submitter must still report it
//! once. Ids make that possible: the submitter names each task, the server drops a second
//! publish of the same id, and results carry the id they answer.
//!
//! Goal: implement [`submit`] (publish one task under its id, confirmed by the server),
//! [`work`] (the worker's loop: run each task, publish its result, acknowledge it) and
//! [`collect`] (the submitter's side: one result per task id, duplicates and strangers
//! ignored). No task may be lost when a worker is killed at any point.
//!
//! Chapter: `docs/src/13-work-queue.md#redelivery`. Check it with `cargo xtask check work-queue/redelivery`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::{Client, HeaderMap, Subscriber};
use futures_util::StreamExt;

/// The header that carries a task's id, on the task and on its result. JetStream reads it on
/// publish: a second message with the same id within the stream's duplicate window is not
/// stored again.
pub const ID_HEADER: &str = "Nats-Msg-Id";

/// What the server said about a submitted task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    /// The stream sequence the task is stored at (the first one's, for a duplicate).
    pub sequence: u64,
    /// True when the server already had a task with this id and did not store it again.
    pub duplicate: bool,
}

/// The tasks [`collect`] had no result for when its time ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(pub Vec<String>);

/// Publishes `task` on `subject` under the id `id`, and returns once the server has stored it
/// (or recognised it as a duplicate).
pub async fn submit(
    js: &Context,
    subject: &str,
    id: &str,
    task: &str,
) -> Result<Submitted, async_nats::Error> {
    // TODO: publish with the id in ID_HEADER and wait for the server's answer.
    todo!("submit")
}

/// The worker's loop: takes tasks from `consumer` one at a time and, for each, calls
/// `run(id, task)` (the id from [`ID_HEADER`]), publishes the result on `results` with the
/// task's id in [`ID_HEADER`], and acknowledges the task. Returns only on an error.
pub async fn work<F>(
    client: &Client,
    consumer: &PullConsumer,
    results: &str,
    run: F,
) -> Result<(), async_nats::Error>
where
    F: FnMut(&str, &str) -> String,
{
    // TODO: for each task: run it, publish its result, acknowledge it, in the order that
    // loses nothing when the worker dies between any two steps.
    todo!("work")
}

/// Reads results from `results` until it has one for every id in `ids`, or `timeout` passes.
/// Keeps the first result of each id; a later one for the same id (a task that ran twice) and
/// one for an id not in `ids` are ignored. On timeout, returns the ids still without a result,
/// in the order of `ids`.
pub async fn collect(
    results: &mut Subscriber,
    ids: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, String>, Missing> {
    // TODO: read results until every id has one, or the time is up.
    todo!("collect")
}
