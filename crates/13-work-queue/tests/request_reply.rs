//! Tests for `work-queue/request_reply`: a service answers requests through a real
//! `nats-server`; `ask` tells "nobody is there" from "nobody answered in time"; and a request
//! sent while the service is down is gone, not kept for later (core NATS is at most once).

use std::time::Duration;

use futures_util::StreamExt;
use work_queue::natsd;
use work_queue::request_reply::{AskError, Service, ask};

/// Every await on the learner's code has this deadline, so a hang fails with a message.
const DEADLINE: Duration = Duration::from_secs(15);

fn temp_store(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wq-{test}-"))
        .tempdir()
        .expect("a temp dir for the server's store")
}

async fn connect(server: &natsd::NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}\n{}", server.url(), server.log()))
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within {DEADLINE:?}"))
}

#[tokio::test]
async fn a_served_request_gets_the_reply_from_the_service() {
    let store = temp_store("served");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let service = within(
        "Service::start",
        Service::start(connect(&server).await, "upper"),
    )
    .await
    .expect("Service::start subscribes");
    let answering = tokio::spawn(service.answer(2));
    let client = connect(&server).await;
    for (word, want) in [("hello", "HELLO"), ("world", "WORLD")] {
        let got = within("ask", ask(&client, "upper", word, Duration::from_secs(5))).await;
        assert_eq!(
            got,
            Ok(want.to_string()),
            "ask(\"upper\", {word:?}) with the service running: expected the reply {want:?}. \
             TimedOut means the service never replied: does it publish to the request's reply \
             subject (message.reply), not to the subject it listens on? NoResponders means \
             Service::start returned before the server had processed its subscription"
        );
    }
    let answered = within("Service::answer(2)", answering)
        .await
        .expect("the answering task did not panic")
        .expect("Service::answer returns Ok");
    assert_eq!(
        answered,
        ["hello", "world"],
        "Service::answer returns what it answered, in order"
    );
}

#[tokio::test]
async fn a_request_nobody_serves_fails_with_no_responders() {
    let store = temp_store("noresp");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let client = connect(&server).await;
    // A long timeout: the server answers "no responders" at once, and `ask` must say so.
    let got = within("ask to a subject nobody serves", async {
        ask(&client, "nobody.home", "anyone?", Duration::from_secs(60)).await
    })
    .await;
    assert_eq!(
        got,
        Err(AskError::NoResponders),
        "a request to a subject with no subscriber: the server replies at once with a \
         `no responders` status (503), which `ask` must report as AskError::NoResponders, not \
         as a timeout or another error"
    );
}

#[tokio::test]
async fn a_request_nobody_answers_times_out_after_the_given_timeout() {
    let store = temp_store("timeout");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    // Someone listens (so there are responders) but never replies: a hung service.
    let listener = connect(&server).await;
    let mut silent = listener.subscribe("slow").await.expect("subscribe");
    natsd::round_trip(&listener)
        .await
        .expect("the server has the subscription");
    let client = connect(&server).await;
    // Shorter than the client's default request timeout (10 s), longer than any scheduling.
    let patience = Duration::from_secs(5);
    let asked = tokio::time::timeout(
        patience,
        ask(&client, "slow", "ping", Duration::from_millis(300)),
    )
    .await;
    let Ok(got) = asked else {
        panic!(
            "ask with a timeout of 300 ms did not return within {patience:?} from a service \
             that never replies: the request must carry the caller's timeout (the client's \
             default request timeout is not the caller's)"
        );
    };
    assert_eq!(
        got,
        Err(AskError::TimedOut),
        "a subscriber that never replies: ask must report AskError::TimedOut"
    );
    let request = within("the silent subscriber's message", silent.next()).await;
    assert!(
        request.is_some(),
        "the request did reach the silent subscriber"
    );
}

#[tokio::test]
async fn a_request_sent_while_the_service_is_down_is_lost_not_queued() {
    let store = temp_store("lost");
    let Some(server) = natsd::start_or_skip(store.path()) else {
        return;
    };
    let client = connect(&server).await;
    let early = within("ask before the service starts", async {
        ask(&client, "late.service", "early", Duration::from_secs(60)).await
    })
    .await;
    assert_eq!(
        early,
        Err(AskError::NoResponders),
        "no service yet: no responders"
    );
    let service = within(
        "Service::start",
        Service::start(connect(&server).await, "late.service"),
    )
    .await
    .expect("Service::start subscribes");
    let answering = tokio::spawn(service.answer(1));
    let late = within("ask after the service started", async {
        ask(&client, "late.service", "late", Duration::from_secs(10)).await
    })
    .await;
    assert_eq!(
        late,
        Ok("LATE".to_string()),
        "the service, now up, answers. NoResponders right after Service::start returned means \
         start returned before the server had processed the subscription: `flush` only writes \
         the socket; only a round trip through the server proves the SUB arrived"
    );
    let answered = within("Service::answer(1)", answering)
        .await
        .expect("the answering task did not panic")
        .expect("Service::answer returns Ok");
    assert_eq!(
        answered,
        ["late"],
        "core NATS keeps nothing for a subscriber that is not there: the service must see only \
         the request sent after it subscribed"
    );
}
