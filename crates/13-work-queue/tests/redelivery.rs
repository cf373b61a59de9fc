//! Tests for `work-queue/redelivery`: at least once, against a real `nats-server`. A task
//! submitted twice under one id is stored once; a worker process SIGKILLed in the middle of a
//! task loses it to another worker once the ack wait has passed; the submitter reports one
//! result per task id, whatever arrives twice or unasked, and names what never came.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use work_queue::natsd::{self, NatsServer, TestQueue, Worker, connect};
use work_queue::redelivery::{ID_HEADER, Missing, Submitted, collect, submit};

const DEADLINE: Duration = Duration::from_secs(20);
const STREAM: &str = "TASKS";
const SUBJECT: &str = "tasks";
const CONSUMER: &str = "workers";
const RESULTS: &str = "results";
/// Short, so that a redelivery comes soon; the tests wait for events, not for this.
const ACK_WAIT: Duration = Duration::from_secs(1);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    natsd::within(DEADLINE, what, fut).await
}

/// A server of this test's own with the queue, made by the test itself (not by the learner's
/// code): a work-queue stream with the default duplicate window (2 minutes) and a durable pull
/// consumer with explicit acks.
async fn queue(tag: &str) -> Option<TestQueue> {
    natsd::queue_or_skip(tag, (STREAM, SUBJECT, CONSUMER), ACK_WAIT, -1).await
}

/// A worker process (`work-queue-worker`, which runs `redelivery::work`); with `hang` it
/// announces its first task and never finishes it.
fn worker(server: &NatsServer, name: &'static str, hang: bool) -> Worker {
    let mut args = vec![server.url(), STREAM, CONSUMER, RESULTS];
    if hang {
        args.push("--hang");
    }
    Worker::start(
        env!("CARGO_BIN_EXE_work-queue-worker"),
        &args,
        name,
        DEADLINE,
    )
}

async fn ack_pending(js: &async_nats::jetstream::Context) -> u64 {
    js.get_stream(STREAM)
        .await
        .expect("stream")
        .consumer_info(CONSUMER)
        .await
        .expect("consumer info")
        .num_ack_pending as u64
}

async fn publish_result(client: &async_nats::Client, id: &str, result: &str) {
    let mut headers = HeaderMap::new();
    headers.insert(ID_HEADER, id);
    client
        .publish_with_headers(RESULTS, headers, result.to_string().into())
        .await
        .expect("publish a result");
}

#[tokio::test]
async fn a_task_submitted_twice_under_one_id_is_stored_once() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client: _client,
        server: _server,
        store: _store,
    }) = queue("dedupe").await
    else {
        return;
    };
    let first = within("submit", submit(&js, SUBJECT, "task-1", "spin 10"))
        .await
        .expect("submit");
    let again = within("submit again", submit(&js, SUBJECT, "task-1", "spin 10"))
        .await
        .expect("submit again");
    let other = within("submit task-2", submit(&js, SUBJECT, "task-2", "spin 20"))
        .await
        .expect("submit task-2");
    let held = js
        .get_stream(STREAM)
        .await
        .expect("stream")
        .get_info()
        .await
        .expect("info")
        .state
        .messages;
    assert_eq!(
        held, 2,
        "task-1 submitted twice and task-2 once: the stream must hold 2 tasks, it holds {held}. \
         The server drops a second publish only when both carry the same id in the \
         Nats-Msg-Id header"
    );
    assert_eq!(
        first,
        Submitted {
            sequence: 1,
            duplicate: false
        },
        "the first submit is stored at sequence 1"
    );
    assert_eq!(
        again,
        Submitted {
            sequence: 1,
            duplicate: true
        },
        "the second submit of task-1: the server's publish ack says duplicate, and names the \
         sequence of the first"
    );
    assert_eq!(
        other,
        Submitted {
            sequence: 2,
            duplicate: false
        },
        "task-2 is new"
    );
}

#[tokio::test]
async fn a_task_whose_worker_is_killed_mid_task_runs_again_on_another_worker() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client,
        server,
        store: _store,
    }) = queue("redeliver").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    for (id, task) in [("t1", "first"), ("t2", "second")] {
        js.publish_with_headers(
            SUBJECT,
            HeaderMap::from_iter([(ID_HEADER.parse().unwrap(), id.parse().unwrap())]),
            task.into(),
        )
        .await
        .expect("publish")
        .await
        .expect("publish ack");
    }
    // Worker A takes t1 and hangs in it; the test kills it there, as a machine dies.
    let mut a = worker(&server, "A", true);
    a.wait_for("running t1 ");
    a.kill();
    // Worker B was not there when t1 was handed out: it gets t1 only because the server, not
    // seeing an ack within the ack wait, delivers it again.
    let mut b = worker(&server, "B", false);
    let ids = vec!["t1".to_string(), "t2".to_string()];
    let got = within("collect", collect(&mut results, &ids, DEADLINE)).await;
    let got = got.unwrap_or_else(|Missing(missing)| {
        panic!(
            "no result for {missing:?} within {DEADLINE:?} after worker A was SIGKILLed in the \
             middle of t1 and worker B started. A task acknowledged before it ran is gone when \
             its worker dies: the ack must come after the result was published"
        )
    });
    assert_eq!(
        got.get("t1").map(String::as_str),
        Some("done first"),
        "t1's result, from worker B"
    );
    assert_eq!(
        got.get("t2").map(String::as_str),
        Some("done second"),
        "t2's result"
    );
    let line = b.wait_for("running t1 ");
    assert_eq!(line, "running t1 first", "worker B ran t1");
    let deadline = Instant::now() + DEADLINE;
    let mut pending = ack_pending(&js).await;
    while pending != 0 && Instant::now() < deadline {
        // No event for "the consumer's state changed"; a bounded poll.
        tokio::time::sleep(Duration::from_millis(50)).await;
        pending = ack_pending(&js).await;
    }
    assert_eq!(
        pending, 0,
        "both tasks were answered but {pending} still await an ack: the worker must acknowledge \
         each task after publishing its result, or the server delivers it again and again"
    );
}

#[tokio::test]
async fn the_submitter_reports_each_task_once_whatever_arrives_twice_or_unasked() {
    let Some(TestQueue {
        consumer: _consumer,
        js: _js,
        client,
        server,
        store: _store,
    }) = queue("collect").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    let sender = connect(&server).await;
    publish_result(&sender, "t1", "first run").await;
    publish_result(&sender, "t1", "second run").await;
    publish_result(&sender, "ghost", "from a task nobody submitted").await;
    sender
        .publish(RESULTS, "a result without an id".into())
        .await
        .expect("publish a result without an id");
    publish_result(&sender, "t2", "only run").await;
    sender.flush().await.expect("flush");
    let ids = vec!["t1".to_string(), "t2".to_string()];
    // A timeout far beyond the test's deadline: every id has its result, so collect must return
    // on the last one, not when its time is up.
    let collected = tokio::time::timeout(
        DEADLINE,
        collect(&mut results, &ids, Duration::from_secs(3600)),
    )
    .await;
    let Ok(got) = collected else {
        panic!(
            "collect did not return within {DEADLINE:?} although t1 and t2 both had a result: \
             it must return as soon as every id has one, not wait for its timeout"
        );
    };
    let got = got.unwrap_or_else(|Missing(missing)| {
        panic!(
            "collect says {missing:?} got no result, but t1 (twice), `ghost`, one without an \
             id and then t2 were published: did it stop after as many messages as tasks, \
             counting t1's second result as another task's?"
        )
    });
    assert_eq!(
        got.get("t1").map(String::as_str),
        Some("first run"),
        "t1 ran twice (a redelivery): the submitter reports its first result once; a later one \
         must not replace it"
    );
    assert_eq!(got.get("t2").map(String::as_str), Some("only run"));
    assert_eq!(
        got.len(),
        2,
        "one entry per submitted task, no `ghost` and nothing for the result without an id: \
         {got:?}"
    );
}

#[tokio::test]
async fn the_submitter_names_the_tasks_left_unanswered_when_its_time_runs_out() {
    let Some(TestQueue {
        consumer: _consumer,
        js: _js,
        client,
        server,
        store: _store,
    }) = queue("missing").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    let sender = connect(&server).await;
    publish_result(&sender, "t2", "done").await;
    sender.flush().await.expect("flush");
    let ids = vec!["t1".to_string(), "t2".to_string(), "t3".to_string()];
    let got = tokio::time::timeout(
        DEADLINE,
        collect(&mut results, &ids, Duration::from_millis(500)),
    )
    .await;
    let Ok(got) = got else {
        panic!(
            "collect with a timeout of 500 ms did not return within {DEADLINE:?}: it must stop \
             waiting when its time is up"
        );
    };
    assert_eq!(
        got,
        Err(Missing(vec!["t1".to_string(), "t3".to_string()])),
        "t2 answered, t1 and t3 never: collect must name the ids without a result, in the \
         order they were given"
    );
}
