//! Tests for `work-queue/pull_consumer`: against a real `nats-server` with JetStream, the queue
//! is a work-queue stream on file storage with a durable, explicitly acknowledged pull consumer;
//! opening it again keeps what is queued; a batch takes what there is, in order, acknowledges
//! it (the stream then forgets it) and never waits past its time; and the tasks not yet taken
//! survive a restart of the server on the same store.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::AckPolicy;
use async_nats::jetstream::stream::{RetentionPolicy, StorageType};
use work_queue::natsd::{self, NatsServer};
use work_queue::pull_consumer::{open_queue, take_batch};

/// Every wait on the learner's code and on the server has this deadline (local round trips take
/// milliseconds; a wrong program must not make the binary outlive its time limit).
const DEADLINE: Duration = Duration::from_secs(8);
const STREAM: &str = "TASKS";
const SUBJECT: &str = "tasks";
const CONSUMER: &str = "workers";
/// Not the server's default ack wait (30 s), so that a consumer made without it is told apart.
const ACK_WAIT: Duration = Duration::from_secs(45);

fn temp_store(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wq-{test}-"))
        .tempdir()
        .expect("a temp dir for the server's store")
}

async fn jetstream(server: &NatsServer) -> async_nats::jetstream::Context {
    let client = async_nats::connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}\n{}", server.url(), server.log()));
    async_nats::jetstream::new(client)
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within {DEADLINE:?}"))
}

async fn open(
    js: &async_nats::jetstream::Context,
) -> async_nats::jetstream::consumer::PullConsumer {
    within(
        "open_queue",
        open_queue(js, STREAM, SUBJECT, CONSUMER, ACK_WAIT),
    )
    .await
    .unwrap_or_else(|e| panic!("open_queue({STREAM:?}, {SUBJECT:?}, {CONSUMER:?}) failed: {e}"))
}

/// Publishes tasks with the test's own client, each confirmed by the server.
async fn publish(js: &async_nats::jetstream::Context, tasks: &[&str]) {
    for task in tasks {
        js.publish(SUBJECT, task.to_string().into())
            .await
            .expect("publish")
            .await
            .expect("the server stores the task (publish ack)");
    }
}

/// How many messages the stream holds, as the server says.
async fn stored(js: &async_nats::jetstream::Context) -> u64 {
    js.get_stream(STREAM)
        .await
        .expect("the stream exists")
        .get_info()
        .await
        .expect("stream info")
        .state
        .messages
}

/// Waits (deadline) until the stream holds `want` messages; returns what it held last.
async fn wait_stored(js: &async_nats::jetstream::Context, want: u64) -> u64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = stored(js).await;
        if now == want || Instant::now() > deadline {
            return now;
        }
        // The server publishes no event for "the stream changed"; a bounded poll.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_queue_is_a_file_backed_work_queue_with_a_durable_explicit_ack_consumer() {
    let store = temp_store("config");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let js = jetstream(&server).await;
    open(&js).await;
    let stream = js
        .get_stream(STREAM)
        .await
        .expect("open_queue created the stream");
    let config = &stream.cached_info().config;
    assert_eq!(
        config.subjects,
        [SUBJECT],
        "the stream holds the messages published on its subject"
    );
    assert_eq!(
        config.retention,
        RetentionPolicy::WorkQueue,
        "retention: a work queue forgets a task once it is acknowledged; with the default \
         (limits) retention the stream keeps every task after it was done"
    );
    assert_eq!(
        config.storage,
        StorageType::File,
        "storage: tasks must be kept in files under the server's store dir; memory storage is \
         lost when the server stops"
    );
    let info = stream
        .consumer_info(CONSUMER)
        .await
        .expect("open_queue created the consumer under the given name");
    assert_eq!(
        info.config.durable_name.as_deref(),
        Some(CONSUMER),
        "the consumer must be durable (durable_name), so the server keeps it while no worker runs"
    );
    assert_eq!(
        info.config.ack_policy,
        AckPolicy::Explicit,
        "ack policy: every task acknowledged one by one (explicit)"
    );
    assert_eq!(
        info.config.ack_wait, ACK_WAIT,
        "the ack wait given to open_queue"
    );
    assert!(
        info.config.deliver_subject.is_none(),
        "a pull consumer has no deliver subject (a push consumer has)"
    );
}

#[tokio::test]
async fn opening_the_queue_again_keeps_the_tasks_already_queued() {
    let store = temp_store("reopen");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let js = jetstream(&server).await;
    open(&js).await;
    publish(&js, &["a", "b"]).await;
    let consumer = open(&js).await;
    let held = stored(&js).await;
    assert_eq!(
        held, 2,
        "open_queue called again (a worker restarting) must find the stream and consumer as \
         they are; the stream now holds {held} of the 2 queued tasks: was it deleted and created \
         again?"
    );
    let got = within(
        "take_batch",
        take_batch(&consumer, 10, Duration::from_secs(1)),
    )
    .await
    .expect("take_batch");
    assert_eq!(
        got,
        ["a", "b"],
        "the queued tasks, in order, through the reopened consumer"
    );
}

#[tokio::test]
async fn a_batch_takes_the_tasks_in_order_and_acknowledges_each() {
    let store = temp_store("batch");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let js = jetstream(&server).await;
    let consumer = open(&js).await;
    publish(&js, &["t1", "t2", "t3", "t4", "t5"]).await;
    let first = within(
        "take_batch(max 3)",
        take_batch(&consumer, 3, Duration::from_secs(5)),
    )
    .await
    .expect("take_batch");
    assert_eq!(
        first,
        ["t1", "t2", "t3"],
        "take_batch(max 3) takes the first three, in order"
    );
    let left = wait_stored(&js, 2).await;
    assert_eq!(
        left, 2,
        "after 3 of 5 tasks were taken and acknowledged, a work-queue stream holds 2; it holds \
         {left}: were the tasks acknowledged (ack), and is the retention work-queue?"
    );
    let rest = tokio::time::timeout(
        DEADLINE,
        take_batch(&consumer, 10, Duration::from_millis(500)),
    )
    .await;
    let Ok(rest) = rest else {
        panic!(
            "take_batch(max 10, wait 500 ms) with 2 tasks queued did not return within \
             {DEADLINE:?}: it must return what there is when its wait is over, not wait for a \
             full batch"
        );
    };
    assert_eq!(
        rest.expect("take_batch"),
        ["t4", "t5"],
        "the rest, in order"
    );
    let info = js
        .get_stream(STREAM)
        .await
        .expect("stream")
        .consumer_info(CONSUMER)
        .await
        .expect("consumer info");
    assert_eq!(
        info.num_ack_pending, 0,
        "every task taken must be acknowledged before take_batch returns; {} still await an ack",
        info.num_ack_pending
    );
}

#[tokio::test]
async fn a_batch_from_an_empty_queue_is_empty_after_its_wait() {
    let store = temp_store("empty");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let js = jetstream(&server).await;
    let consumer = open(&js).await;
    let got = tokio::time::timeout(
        DEADLINE,
        take_batch(&consumer, 5, Duration::from_millis(300)),
    )
    .await;
    let Ok(got) = got else {
        panic!(
            "take_batch(max 5, wait 300 ms) on an empty queue did not return within \
             {DEADLINE:?}: a worker must get control back when no task comes"
        );
    };
    assert_eq!(
        got.expect("take_batch"),
        Vec::<String>::new(),
        "nothing queued, nothing taken"
    );
}

#[tokio::test]
async fn queued_tasks_survive_a_server_restart_and_taken_ones_do_not_come_back() {
    let store = temp_store("restart");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let js = jetstream(&server).await;
    let consumer = open(&js).await;
    publish(&js, &["one", "two", "three"]).await;
    let taken = within(
        "take_batch(max 1)",
        take_batch(&consumer, 1, Duration::from_secs(5)),
    )
    .await
    .expect("take_batch");
    assert_eq!(taken, ["one"]);
    drop((consumer, js));
    let server = server
        .restart()
        .unwrap_or_else(|e| panic!("restarting nats-server on the same store: {e}"));
    let js = jetstream(&server).await;
    let consumer = open(&js).await;
    let got = within(
        "take_batch after the restart",
        take_batch(&consumer, 10, Duration::from_secs(1)),
    )
    .await
    .expect("take_batch");
    assert_eq!(
        got,
        ["two", "three"],
        "after a restart of the server on the same store dir, the two tasks not yet taken must \
         still be queued, and the one taken and acknowledged must not come back. None at all: \
         the stream's storage was memory, not file. `one` again: it was not acknowledged"
    );
}
