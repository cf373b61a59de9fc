//! Tests for `work-queue/drain`, against a real `nats-server` whose consumer has an ack wait of
//! 30 s, so that a task left to the ack wait cannot come back within a test's deadline. A worker
//! process SIGTERMed in the middle of its first task of a batch of three finishes and answers
//! that task, starts no other, gives the other two back, and exits 0, and a second worker gets
//! them at once; a stop before a batch is run gives every task back; without a stop every task
//! is run, answered and acknowledged in order.

use std::time::Duration;

use futures_util::StreamExt;
use nix::sys::signal::Signal;
use work_queue::drain::{Drained, work_until};
use work_queue::natsd::{self, NatsServer, TestQueue, Worker};

const DEADLINE: Duration = Duration::from_secs(20);
const STREAM: &str = "TASKS";
const SUBJECT: &str = "tasks";
const CONSUMER: &str = "workers";
const RESULTS: &str = "results";
/// Longer than any deadline here: a task that waits for it is a task the worker did not give
/// back.
const ACK_WAIT: Duration = Duration::from_secs(30);

/// A server of this test's own, with a work-queue stream and a durable pull consumer with
/// explicit acks and an ack wait of [`ACK_WAIT`].
async fn queue(tag: &str) -> Option<TestQueue> {
    natsd::queue_or_skip(tag, (STREAM, SUBJECT, CONSUMER), ACK_WAIT, -1).await
}

/// A `work-queue-worker --drain` process: batches of 3, `sleep MS` tasks, until SIGTERM.
fn drain_worker(server: &NatsServer, name: &'static str) -> Worker {
    let args = [server.url(), STREAM, CONSUMER, RESULTS, "--drain"];
    Worker::start(
        env!("CARGO_BIN_EXE_work-queue-worker"),
        &args,
        name,
        DEADLINE,
    )
}

#[tokio::test]
async fn sigterm_mid_task_finishes_it_gives_back_the_rest_and_exits_0() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client,
        server,
        store: _store,
    }) = queue("sigterm").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    for id in ["t1", "t2", "t3"] {
        natsd::publish_task(&js, SUBJECT, id, "sleep 1500").await;
    }
    // A takes all three in one batch, starts t1, and is told to stop.
    let mut a = drain_worker(&server, "A");
    a.wait_for("running t1 ");
    a.signal(Signal::SIGTERM);
    let Some(status) = a.wait_exit() else {
        panic!(
            "worker A did not exit within {DEADLINE:?} of SIGTERM (it printed: {:?}): finish \
             the task at hand, give back the others, and return",
            a.said
        );
    };
    let said = a.said.clone();
    assert!(
        said.iter().any(|l| l == "finished t1"),
        "worker A was stopped in the middle of t1 and did not finish it (it printed {said:?}): \
         a task that is running runs to its end; stopping it halfway throws its work away"
    );
    assert!(
        !said
            .iter()
            .any(|l| l.starts_with("running t2") || l.starts_with("running t3")),
        "worker A started another task after SIGTERM (it printed {said:?}): after the stop, \
         only the task at hand is finished"
    );
    assert_eq!(
        status.code(),
        Some(0),
        "worker A should exit 0 after draining; it ended {}; it printed {said:?}",
        testkit::describe_status(status)
    );
    assert!(
        said.iter().any(|l| l == "drained: done 1, given back 2"),
        "work_until should report 1 task done and 2 given back; worker A printed {said:?}"
    );
    let (id, result) = natsd::next_answer(&mut results, DEADLINE).await;
    assert_eq!(
        (id.as_str(), result.as_str()),
        ("t1", "done sleep 1500"),
        "t1 is answered by A before it exits"
    );
    // B gets t2 and t3 now, not after the ack wait (30 s).
    let _b = drain_worker(&server, "B");
    let mut answered = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while answered.len() < 2 {
        match tokio::time::timeout_at(deadline, results.next()).await {
            Ok(Some(result)) => {
                let id = result.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id"));
                answered.push(id.map(|v| v.as_str().to_string()).unwrap_or_default());
            }
            _ => panic!(
                "worker B answered only {answered:?} of t2 and t3 within {DEADLINE:?}: the tasks \
                 A held but had not started must be given back (AckKind::Nak) when it stops, or \
                 they wait out the ack wait ({ACK_WAIT:?}) before anyone may have them"
            ),
        }
    }
    answered.sort();
    assert_eq!(answered, ["t2", "t3"]);
}

#[tokio::test]
async fn a_stop_before_the_batch_is_run_gives_every_task_back() {
    let Some(TestQueue {
        consumer,
        js,
        client,
        server: _server,
        store: _store,
    }) = queue("early").await
    else {
        return;
    };
    for id in ["t1", "t2"] {
        natsd::publish_task(&js, SUBJECT, id, "sleep 0").await;
    }
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&ran);
    let drained = natsd::within(
        DEADLINE,
        "work_until with a stop that has already come (no task is started, both are given \
         back: listen for the stop while a pull waits)",
        work_until(
            &client,
            &consumer,
            RESULTS,
            2,
            move |_, _| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { String::new() }
            },
            async {},
        ),
    )
    .await
    .expect("work_until");
    assert_eq!(
        (drained, ran.load(std::sync::atomic::Ordering::SeqCst)),
        (
            Drained {
                done: 0,
                given_back: 2
            },
            0
        ),
        "a stop that came while the batch was being taken: no task is started, both are given \
         back, and work_until says so"
    );
    // Given back, they are there for the next pull at once, each on its second delivery.
    let mut again = consumer
        .fetch()
        .max_messages(2)
        .messages()
        .await
        .expect("fetch");
    let mut deliveries = Vec::new();
    while let Some(message) = natsd::within(DEADLINE, "the tasks given back", again.next()).await {
        let message = message.expect("a message");
        deliveries.push(message.info().expect("info").delivered);
    }
    assert_eq!(
        deliveries,
        [2, 2],
        "both tasks should be delivered again at once after they were given back (a Nak)"
    );
}

#[tokio::test]
async fn without_a_stop_every_task_is_run_answered_and_acknowledged_in_order() {
    let Some(TestQueue {
        consumer,
        js,
        client,
        server: _server,
        store: _store,
    }) = queue("order").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    let ids = ["t1", "t2", "t3", "t4"];
    for id in ids {
        natsd::publish_task(&js, SUBJECT, id, &format!("task {id}")).await;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker_client = client.clone();
    let mut worker = tokio::spawn(async move {
        work_until(
            &worker_client,
            &consumer,
            RESULTS,
            3,
            |id, task| async move { format!("{task} by {id}") },
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });
    let mut answers = Vec::new();
    for _ in ids {
        tokio::select! {
            answer = natsd::next_answer(&mut results, DEADLINE) => answers.push(answer),
            ended = &mut worker => panic!(
                "work_until returned before it was told to stop: {ended:?} (answers so far: \
                 {answers:?})"
            ),
        }
    }
    let _ = stop_tx.send(());
    let drained = natsd::within(DEADLINE, "work_until after its stop", worker)
        .await
        .expect("work_until panicked")
        .expect("work_until");
    let want: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.to_string(), format!("task {id} by {id}")))
        .collect();
    assert_eq!(
        answers, want,
        "each task answered once, in order, under its id"
    );
    assert_eq!(
        drained,
        Drained {
            done: 4,
            given_back: 0
        }
    );
    assert_eq!(
        natsd::stream_messages(&js, STREAM).await,
        0,
        "every task answered is acknowledged, and leaves the stream"
    );
}
