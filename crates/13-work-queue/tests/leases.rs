//! Tests for `work-queue/leases`, against a real `nats-server` with a consumer whose ack wait is
//! 1 s. A task shorter than a renewal period sends no renewal; a task three ack waits long on a
//! live worker is never handed to anyone else; a worker process SIGSTOPped in the middle of a
//! task loses it to a live worker, and when it is continued its late result and ack change
//! nothing; workers running tasks longer than the ack wait run each task once.
//!
//! Renewals are seen as the server sees them: the test subscribes to the consumer's ack
//! subjects (`$JS.ACK.STREAM.CONSUMER.>`), where `+WPI` is an in-progress ack and `+ACK` the
//! final one.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use futures_util::StreamExt;
use nix::sys::signal::Signal;
use work_queue::leases::{heartbeat_every, keep_lease};
use work_queue::natsd::{self, NatsServer, TestQueue, Worker};

const DEADLINE: Duration = Duration::from_secs(20);
const STREAM: &str = "TASKS";
const SUBJECT: &str = "tasks";
const CONSUMER: &str = "workers";
const RESULTS: &str = "results";
/// Short, so that a lost lease is seen soon; the tasks that must keep theirs last three times
/// as long.
const ACK_WAIT: Duration = Duration::from_secs(1);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    natsd::within(DEADLINE, what, fut).await
}

/// A server of this test's own, with a work-queue stream and a durable pull consumer with
/// explicit acks and an ack wait of [`ACK_WAIT`].
async fn queue(tag: &str) -> Option<TestQueue> {
    natsd::queue_or_skip(tag, (STREAM, SUBJECT, CONSUMER), ACK_WAIT, -1).await
}

async fn publish_task(js: &async_nats::jetstream::Context, id: &str, task: &str) {
    natsd::publish_task(js, SUBJECT, id, task).await;
}

/// Takes one task from the consumer, as a worker would.
async fn take_one(consumer: &PullConsumer) -> async_nats::jetstream::Message {
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(DEADLINE)
        .messages()
        .await
        .expect("fetch");
    within("fetching a task", batch.next())
        .await
        .expect("a task")
        .expect("a task, not an error")
}

/// Subscribes to the consumer's ack subjects, confirmed by a round trip.
async fn watch_acks(client: &async_nats::Client) -> async_nats::Subscriber {
    let acks = client
        .subscribe(format!("$JS.ACK.{STREAM}.{CONSUMER}.>"))
        .await
        .expect("subscribe to the ack subjects");
    natsd::round_trip(client)
        .await
        .expect("the server has the subscription");
    acks
}

#[test]
fn heartbeat_every_is_well_inside_the_ack_wait_and_never_zero() {
    for ack_wait in [
        Duration::from_millis(30),
        Duration::from_secs(1),
        Duration::from_secs(30),
        Duration::from_secs(3600),
    ] {
        let every = heartbeat_every(ack_wait);
        assert!(
            !every.is_zero() && every * 2 <= ack_wait,
            "heartbeat_every({ack_wait:?}) = {every:?}: a renewal must come well inside the ack \
             wait (at most half of it; a third leaves room for one late renewal), or a busy \
             machine loses the lease of a task it is still running"
        );
    }
    for ack_wait in [Duration::ZERO, Duration::from_nanos(1)] {
        assert!(
            !heartbeat_every(ack_wait).is_zero(),
            "heartbeat_every({ack_wait:?}) is zero: a zero period renews in a busy loop (and \
             tokio's interval panics on it)"
        );
    }
}

#[tokio::test]
async fn a_task_shorter_than_a_renewal_period_sends_no_renewal() {
    let Some(TestQueue {
        consumer,
        js,
        client,
        server: _server,
        store: _store,
    }) = queue("short").await
    else {
        return;
    };
    let mut acks = watch_acks(&client).await;
    publish_task(&js, "t1", "quick").await;
    let message = take_one(&consumer).await;
    // A task a tenth of a renewal period long: not ready when keep_lease starts, done long
    // before the first renewal is due.
    let every = heartbeat_every(ACK_WAIT);
    let task = async {
        tokio::time::sleep(every / 10).await;
        42
    };
    let output = within(
        "keep_lease of a short task",
        keep_lease(&message, every, task),
    )
    .await
    .expect("keep_lease");
    assert_eq!(output, 42, "keep_lease returns the task's output");
    message.double_ack().await.expect("ack");
    // Everything the worker sent about this task reaches the ack subjects in order: what came
    // before the final +ACK was sent by keep_lease.
    let mut before = Vec::new();
    loop {
        let ack = within("the task's ack", acks.next()).await.expect("an ack");
        let payload = String::from_utf8_lossy(&ack.payload).into_owned();
        if payload == "+ACK" {
            break;
        }
        before.push(payload);
    }
    assert!(
        before.is_empty(),
        "a task a tenth of a renewal period long was renewed ({before:?}): the first renewal is \
         due one period after the start. tokio's `interval` ticks for the first time at once; \
         `interval_at(start + period, period)` does not"
    );
}

#[tokio::test]
async fn a_task_three_ack_waits_long_keeps_its_lease_on_a_live_worker() {
    let Some(TestQueue {
        consumer,
        js,
        client,
        server: _server,
        store: _store,
    }) = queue("long").await
    else {
        return;
    };
    let mut acks = watch_acks(&client).await;
    publish_task(&js, "t1", "long").await;
    let message = take_one(&consumer).await;
    let work = async {
        let output = keep_lease(
            &message,
            heartbeat_every(ACK_WAIT),
            tokio::time::sleep(ACK_WAIT * 3),
        )
        .await;
        output.expect("keep_lease");
        message.double_ack().await.expect("ack");
    };
    // Meanwhile another worker asks for a task: it gets one only if the lease lapsed and the
    // server delivered the task again.
    let rival = async {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(ACK_WAIT * 3 + Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        batch
            .next()
            .await
            .map(|m| m.expect("a message").info().map(|i| i.delivered).ok())
    };
    let ((), stolen) = within("the long task", async { tokio::join!(work, rival) }).await;
    if let Some(delivered) = stolen {
        panic!(
            "the task was delivered again (delivery {delivered:?}) while its worker was still \
             running it: renew the lease with an in-progress ack (AckKind::Progress) more often \
             than the ack wait, for as long as the task runs, not once"
        );
    }
    let mut renewals = 0;
    loop {
        let ack = within("the task's ack", acks.next()).await.expect("an ack");
        match &ack.payload[..] {
            b"+WPI" => renewals += 1,
            b"+ACK" => break,
            _ => {}
        }
    }
    assert!(
        renewals >= 3,
        "{renewals} renewal(s) in a task three ack waits long: at least one per ack wait"
    );
}

/// A `work-queue-worker --lease` process, which runs `leases::work` with `sleep MS` tasks.
fn lease_worker(server: &NatsServer, name: &'static str) -> Worker {
    let args = [server.url(), STREAM, CONSUMER, RESULTS, "--lease"];
    Worker::start(
        env!("CARGO_BIN_EXE_work-queue-worker"),
        &args,
        name,
        DEADLINE,
    )
}

async fn next_result(results: &mut async_nats::Subscriber) -> (String, String) {
    natsd::next_answer(results, DEADLINE).await
}

#[tokio::test]
async fn a_stopped_worker_loses_its_lease_to_a_live_one_and_its_late_answer_changes_nothing() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client,
        server,
        store: _store,
    }) = queue("stopped").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    publish_task(&js, "t1", "sleep 3000").await;
    // Worker A takes t1 and is stopped in the middle of it, as a machine cut off from the
    // network: it renews nothing any more.
    let mut a = lease_worker(&server, "A");
    a.wait_for("running t1 ");
    a.signal(Signal::SIGSTOP);
    // Worker B was not there when t1 was handed out: it gets t1 once A's lease has lapsed.
    let mut b = lease_worker(&server, "B");
    b.wait_for("running t1 ");
    b.wait_for("finished t1");
    let (id, result) = next_result(&mut results).await;
    assert_eq!(
        (id.as_str(), result.as_str()),
        ("t1", "done sleep 3000"),
        "B's result"
    );
    // A goes on where it stopped: it finishes t1, publishes a second result (which a submitter
    // drops, by its id) and acks a task that B already acknowledged, which changes nothing.
    a.signal(Signal::SIGCONT);
    a.wait_for("finished t1");
    let (id, _) = next_result(&mut results).await;
    assert_eq!(id, "t1", "A's late result for t1");
    // A is still a worker: a new task may go to it or to B, and is answered once.
    publish_task(&js, "t2", "sleep 10").await;
    let (id, result) = next_result(&mut results).await;
    assert_eq!(
        (id.as_str(), result.as_str()),
        ("t2", "done sleep 10"),
        "a task after A came back"
    );
    assert!(
        a.running(),
        "worker A ended after it came back: acknowledging a task whose lease it lost is \
         not an error (the server confirms it and changes nothing); a worker goes on with the \
         next task; it printed {:?}",
        a.said
    );
}

#[tokio::test]
async fn workers_run_each_task_longer_than_the_ack_wait_once() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client,
        server,
        store: _store,
    }) = queue("once").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    let ids = ["t1", "t2", "t3"];
    for id in ids {
        publish_task(&js, id, "sleep 2500").await;
    }
    let mut workers = [lease_worker(&server, "A"), lease_worker(&server, "B")];
    for worker in &mut workers {
        worker.wait_for("running ");
    }
    let mut answered = BTreeMap::new();
    while answered.len() < ids.len() {
        let (id, result) = next_result(&mut results).await;
        *answered.entry(id).or_insert(0) += 1;
        assert_eq!(result, "done sleep 2500");
    }
    // Every `running` line so far: a task run twice was delivered again while it ran.
    let mut runs: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for worker in &mut workers {
        let name = worker.name;
        for line in worker.read_said() {
            if let Some(id) = line
                .strip_prefix("running ")
                .and_then(|r| r.split(' ').next())
            {
                runs.entry(id.to_string()).or_default().push(name);
            }
        }
    }
    let twice: Vec<_> = runs.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "tasks 2.5 ack waits long ran more than once on live workers ({twice:?}; results \
         {answered:?}): work() must run each task under keep_lease, renewing every \
         heartbeat_every(the consumer's ack wait)"
    );
}
