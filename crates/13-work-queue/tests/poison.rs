//! Tests for `work-queue/poison`, against a real `nats-server`: a task a worker rejects is
//! answered as an error and terminated, never delivered again; a task that crashes every worker
//! that runs it is delivered `max_deliver` times, then the server's advisory names it and it
//! becomes a dead letter, out of the stream; the advisory subscription hears its own consumer
//! only, and from the moment `watch_dead_letters` returns.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use testkit::daemon::DaemonGuard;
use work_queue::natsd::{self, NatsServer, TestQueue, connect};
use work_queue::poison::{
    DeadLetter, MAX_DELIVERIES, Outcome, dead_letter, watch_dead_letters, work,
};
use work_queue::redelivery::ID_HEADER;

const DEADLINE: Duration = Duration::from_secs(20);
const STREAM: &str = "TASKS";
const SUBJECT: &str = "tasks";
const CONSUMER: &str = "workers";
const RESULTS: &str = "results";
const ACK_WAIT: Duration = Duration::from_secs(1);
const MAX_DELIVER: i64 = 3;

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    natsd::within(DEADLINE, what, fut).await
}

/// A server of this test's own, with a work-queue stream and a durable pull consumer with
/// explicit acks, an ack wait of [`ACK_WAIT`] and at most [`MAX_DELIVER`] deliveries per task.
async fn queue(tag: &str) -> Option<TestQueue> {
    natsd::queue_or_skip(tag, (STREAM, SUBJECT, CONSUMER), ACK_WAIT, MAX_DELIVER).await
}

async fn publish_task(js: &async_nats::jetstream::Context, id: &str, task: &str) -> u64 {
    natsd::publish_task(js, SUBJECT, id, task).await
}

async fn next_result(results: &mut async_nats::Subscriber) -> (String, String) {
    natsd::next_answer(results, DEADLINE).await
}

async fn stream_messages(js: &async_nats::jetstream::Context) -> u64 {
    natsd::stream_messages(js, STREAM).await
}

#[tokio::test]
async fn a_rejected_task_is_answered_as_an_error_and_never_delivered_again() {
    let Some(TestQueue {
        consumer,
        js,
        client,
        server,
        store: _store,
    }) = queue("reject").await
    else {
        return;
    };
    let mut results = client.subscribe(RESULTS).await.expect("subscribe");
    let mut acks = client
        .subscribe(format!("$JS.ACK.{STREAM}.{CONSUMER}.>"))
        .await
        .expect("subscribe to the ack subjects");
    let mut terminated = client
        .subscribe(format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{STREAM}.{CONSUMER}"
        ))
        .await
        .expect("subscribe to the terminated advisories");
    natsd::round_trip(&client).await.expect("round trip");
    publish_task(&js, "t1", "bad input").await;
    publish_task(&js, "t2", "echo fine").await;
    let worker_client = connect(&server).await;
    let worker_consumer = consumer.clone();
    let mut worker = tokio::spawn(async move {
        work(&worker_client, &worker_consumer, RESULTS, |_, task| {
            if task.starts_with("bad") {
                Outcome::Reject("malformed task".into())
            } else {
                Outcome::Done(format!("done {task}"))
            }
        })
        .await
    });
    // Until both tasks are answered; a rejected task that comes back runs (and answers) again.
    let mut answers: Vec<(String, String)> = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let answered =
        |answers: &[(String, String)], who: &str| answers.iter().any(|(id, _)| id == who);
    while !(answered(&answers, "t1") && answered(&answers, "t2")) {
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, results.next()) => next,
            ended = &mut worker => panic!(
                "work ended before both tasks were answered: {ended:?} (answers so far: \
                 {answers:?})"
            ),
        };
        match next {
            Ok(Some(result)) => {
                let id = result.headers.as_ref().and_then(|h| h.get(ID_HEADER));
                let id = id.map(|v| v.as_str().to_string()).unwrap_or_default();
                answers.push((id, String::from_utf8_lossy(&result.payload).into_owned()));
            }
            _ if answered(&answers, "t2") => panic!(
                "t1, rejected, was never answered ({answers:?}): publish `error REASON` under its \
                 id, or its submitter waits for it for ever"
            ),
            _ => panic!(
                "t2 was never answered within {DEADLINE:?} ({} answers for t1): a rejected task \
                 that is delivered again at once (-NAK) comes back before every other task; \
                 terminate it (AckKind::Term)",
                answers.iter().filter(|(id, _)| id == "t1").count()
            ),
        }
    }
    answers.sort();
    assert_eq!(
        answers,
        [
            ("t1".to_string(), "error malformed task".to_string()),
            ("t2".to_string(), "done echo fine".to_string())
        ],
        "a rejected task is answered once with `error REASON` under its id, a done one with its \
         result. A rejected task must not run again: -NAK delivers it again at once; terminate \
         it (AckKind::Term)"
    );
    let mut said = Vec::new();
    while said.len() < 2 {
        let ack = within("the two tasks' acks", acks.next())
            .await
            .expect("an ack");
        said.push(String::from_utf8_lossy(&ack.payload).into_owned());
    }
    said.sort();
    worker.abort();
    assert_eq!(
        said,
        ["+ACK", "+TERM"],
        "what the worker told the server about a task it did and a task it rejected: a rejected \
         task is terminated (AckKind::Term, `+TERM`): -NAK would have it delivered again at \
         once, to fail again, and +ACK would count it as done"
    );
    let advisory = within(
        "the server's advisory of a terminated task",
        terminated.next(),
    )
    .await
    .expect("an advisory");
    let body: serde_json::Value = serde_json::from_slice(&advisory.payload).expect("JSON");
    assert_eq!(
        body["stream_seq"], 1,
        "the terminated task is t1, at sequence 1: {body}"
    );
    assert_eq!(
        stream_messages(&js).await,
        0,
        "a terminated task leaves a work-queue stream, as an acknowledged one does"
    );
    // Nobody gets the rejected task again, however long they wait for it.
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(ACK_WAIT * 2)
        .messages()
        .await
        .expect("fetch");
    if let Some(again) = batch.next().await {
        panic!(
            "the rejected task was delivered again ({:?}): terminate it",
            again.map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        );
    }
}

/// Keeps one `work-queue-worker --poison` process running: starts another each time one dies,
/// until dropped (which kills the one running). Counts the deaths.
struct Fleet {
    /// The running worker's guard (it kills the process through a pidfd when dropped), and
    /// whether the fleet is stopping; one lock, so that no worker starts after the stop.
    current: Arc<Mutex<(Option<DaemonGuard>, bool)>>,
    deaths: Arc<AtomicUsize>,
    keeper: Option<std::thread::JoinHandle<()>>,
}

impl Fleet {
    fn start(server: &NatsServer) -> Fleet {
        let current = Arc::new(Mutex::new((None, false)));
        let deaths = Arc::new(AtomicUsize::new(0));
        let url = server.url().to_string();
        let (slot, died) = (Arc::clone(&current), Arc::clone(&deaths));
        let keeper = std::thread::spawn(move || {
            loop {
                let mut child = Command::new(env!("CARGO_BIN_EXE_work-queue-worker"))
                    .args([url.as_str(), STREAM, CONSUMER, RESULTS, "--poison"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("spawn work-queue-worker");
                let mut guard = Some(DaemonGuard::new(child.id()));
                let stopping = {
                    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                    if !slot.1 {
                        slot.0 = guard.take();
                    }
                    slot.1
                };
                if stopping {
                    drop(guard); // kills it through its pidfd
                    let _ = child.wait();
                    return;
                }
                // Until a task kills it, or the fleet's drop does (then the guard reaps it and
                // this wait fails with ECHILD).
                let _ = child.wait();
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                if slot.1 {
                    return;
                }
                slot.0 = None;
                died.fetch_add(1, Ordering::SeqCst);
            }
        });
        Fleet {
            current,
            deaths,
            keeper: Some(keeper),
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let running = {
            let mut slot = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            slot.1 = true;
            slot.0.take()
        };
        drop(running);
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

#[tokio::test]
async fn a_task_that_kills_every_worker_becomes_a_dead_letter_after_max_deliver() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client,
        server,
        store: _store,
    }) = queue("deadletter").await
    else {
        return;
    };
    let mut results = natsd::subscribe_confirmed(&client, RESULTS).await;
    let mut advisories = within(
        "watch_dead_letters",
        watch_dead_letters(&client, STREAM, CONSUMER),
    )
    .await
    .expect("watch_dead_letters");
    publish_task(&js, "t9", "crash").await;
    publish_task(&js, "t1", "echo fine").await;
    let fleet = Fleet::start(&server);
    let started = Instant::now();
    let advisory = within(
        "the server's max-deliveries advisory for the crashing task",
        advisories.next(),
    )
    .await
    .expect("an advisory");
    assert_eq!(
        fleet.deaths.load(Ordering::SeqCst),
        MAX_DELIVER as usize,
        "the crashing task killed a worker at each of its {MAX_DELIVER} deliveries (max_deliver)"
    );
    let got = within("dead_letter", dead_letter(&js, STREAM, &advisory))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "dead_letter failed on the server's advisory ({e}): {}",
                String::from_utf8_lossy(&advisory.payload)
            )
        });
    assert_eq!(
        got,
        DeadLetter {
            id: "t9".into(),
            task: "crash".into(),
            deliveries: MAX_DELIVER as u64,
        },
        "the dead letter names the task by its id and payload, read from the stream at the \
         advisory's stream_seq, and how often it was delivered (the advisory's deliveries); \
         after {:?}",
        started.elapsed()
    );
    let (id, result) = next_result(&mut results).await;
    assert_eq!((id.as_str(), result.as_str()), ("t1", "done echo fine"));
    drop(fleet);
    assert_eq!(
        stream_messages(&js).await,
        0,
        "after its dead letter is taken, the task must leave the stream (delete the message at \
         its sequence): a work-queue stream keeps an unacknowledged task for ever"
    );
}

#[tokio::test]
async fn the_dead_letter_watch_hears_its_own_consumer_from_the_moment_it_returns() {
    let Some(TestQueue {
        consumer: _consumer,
        js: _js,
        client,
        server,
        store: _store,
    }) = queue("watch").await
    else {
        return;
    };
    let mut advisories = within(
        "watch_dead_letters",
        watch_dead_letters(&client, STREAM, CONSUMER),
    )
    .await
    .expect("watch_dead_letters");
    // Another client publishes right away: first an advisory for another consumer of the same
    // stream, then one for ours.
    let other = connect(&server).await;
    other
        .publish(
            format!("{MAX_DELIVERIES}.{STREAM}.archivers"),
            r#"{"stream":"TASKS","consumer":"archivers","stream_seq":1,"deliveries":3}"#.into(),
        )
        .await
        .expect("publish");
    other
        .publish(
            format!("{MAX_DELIVERIES}.{STREAM}.{CONSUMER}"),
            r#"{"stream":"TASKS","consumer":"workers","stream_seq":2,"deliveries":3}"#.into(),
        )
        .await
        .expect("publish");
    other.flush().await.expect("flush");
    let first = tokio::time::timeout(DEADLINE, advisories.next()).await;
    let Ok(Some(first)) = first else {
        panic!(
            "no advisory arrived although one for this consumer was published right after \
             watch_dead_letters returned: subscribe to {MAX_DELIVERIES}.STREAM.CONSUMER and make \
             a round trip through the server before returning (flush only writes the socket)"
        );
    };
    assert_eq!(
        first.subject.as_str(),
        format!("{MAX_DELIVERIES}.{STREAM}.{CONSUMER}"),
        "the watch heard another consumer's advisory: subscribe to this consumer's subject only"
    );
}

#[tokio::test]
async fn dead_letter_reads_the_task_the_advisory_names_and_refuses_garbage() {
    let Some(TestQueue {
        consumer: _consumer,
        js,
        client,
        server: _server,
        store: _store,
    }) = queue("letter").await
    else {
        return;
    };
    for (id, task) in [("a", "first"), ("b", "second"), ("c", "third")] {
        publish_task(&js, id, task).await;
    }
    let mut advisories = client
        .subscribe(format!("{MAX_DELIVERIES}.{STREAM}.{CONSUMER}"))
        .await
        .expect("subscribe");
    natsd::round_trip(&client).await.expect("round trip");
    for body in [
        r#"{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"TASKS","consumer":"workers","stream_seq":2,"deliveries":5}"#,
        "not json at all",
        r#"{"stream":"TASKS","consumer":"workers","deliveries":5}"#,
    ] {
        client
            .publish(format!("{MAX_DELIVERIES}.{STREAM}.{CONSUMER}"), body.into())
            .await
            .expect("publish");
    }
    let advisory = within("an advisory", advisories.next()).await.expect("one");
    let got = within("dead_letter", dead_letter(&js, STREAM, &advisory))
        .await
        .expect("dead_letter on a well-formed advisory");
    assert_eq!(
        got,
        DeadLetter {
            id: "b".into(),
            task: "second".into(),
            deliveries: 5,
        },
        "stream_seq 2 is task b; deliveries comes from the advisory"
    );
    assert_eq!(
        stream_messages(&js).await,
        2,
        "the dead task (and only it) leaves the stream"
    );
    for what in [
        "an advisory that is not JSON",
        "an advisory without stream_seq",
    ] {
        let advisory = within("an advisory", advisories.next()).await.expect("one");
        let js = js.clone();
        let outcome = tokio::spawn(async move { dead_letter(&js, STREAM, &advisory).await }).await;
        match outcome {
            Ok(Err(_)) => {}
            Ok(Ok(letter)) => panic!("dead_letter made {letter:?} of {what}"),
            Err(e) => panic!("dead_letter panicked on {what} ({e}): return an error instead"),
        }
    }
    assert_eq!(stream_messages(&js).await, 2, "nothing else was deleted");
}
