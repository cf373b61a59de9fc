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
//! [`work`] (the worker's loop: run each task, publish its result, then acknowledge it) and
//! [`collect`] (the submitter's side: one result per task id, duplicates and strangers
//! ignored).
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
    let mut headers = HeaderMap::new();
    headers.insert(ID_HEADER, id);
    // `publish_with_headers` returns once the message is queued; the second `.await` waits for
    // the server's publish ack, the only sign that the task is stored.
    let ack = js
        .publish_with_headers(subject.to_string(), headers, task.to_string().into())
        .await?
        .await?;
    Ok(Submitted {
        sequence: ack.sequence,
        duplicate: ack.duplicate,
    })
}

/// The worker's loop: takes tasks from `consumer` one at a time and, for each, calls
/// `run(id, task)`, publishes the result on `results` with the task's id in [`ID_HEADER`], and
/// only then acknowledges the task. Returns only on an error.
pub async fn work<F>(
    client: &Client,
    consumer: &PullConsumer,
    results: &str,
    mut run: F,
) -> Result<(), async_nats::Error>
where
    F: FnMut(&str, &str) -> String,
{
    // One message per pull: a worker holds only the task it runs. A bigger batch would
    // prefetch tasks that then wait here, and die here, with the worker.
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
        let result = run(&id, &task);
        let mut headers = HeaderMap::new();
        headers.insert(ID_HEADER, id.as_str());
        // The result first: a worker that dies between the result and the ack makes the task
        // run again (a second result, which the submitter drops), never vanish. Both leave on
        // the same connection, in this order, so the server has the result before the ack.
        client
            .publish_with_headers(results.to_string(), headers, result.into())
            .await?;
        // Acknowledge last, and wait for the server to confirm it: until then the task is only
        // leased to this worker and comes back after the ack wait if the worker dies.
        message.double_ack().await?;
    }
    Err("the consumer's message stream ended".into())
}

/// Reads results from `results` until it has one for every id in `ids`, or `timeout` passes.
/// Keeps the first result of each id; a later one for the same id (a task that ran twice) and
/// one for an id not in `ids` are ignored. On timeout, returns the ids still without a result.
pub async fn collect(
    results: &mut Subscriber,
    ids: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, String>, Missing> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut answered = BTreeMap::new();
    while answered.len() < ids.len() {
        let next = tokio::time::timeout_at(deadline, results.next()).await;
        let Ok(Some(result)) = next else {
            break;
        };
        let Some(id) = result
            .headers
            .as_ref()
            .and_then(|h| h.get(ID_HEADER))
            .map(|v| v.as_str().to_string())
        else {
            continue;
        };
        if !ids.contains(&id) {
            continue;
        }
        // First result wins: the id, not the count of messages, says which task is answered.
        answered
            .entry(id)
            .or_insert_with(|| String::from_utf8_lossy(&result.payload).into_owned());
    }
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !answered.contains_key(*id))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(answered)
    } else {
        Err(Missing(missing))
    }
}
