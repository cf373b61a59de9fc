//! A narrated tour of a work queue beyond one machine: a real `nats-server` with JetStream, a
//! task published under an id (and once more, as a duplicate), pulled and acknowledged, then a
//! task taken and never acknowledged, which the server delivers again once its ack wait has
//! passed; a long task whose lease is renewed with in-progress acks while a rival's pull gets
//! nothing; and a task never acknowledged by anyone, which the server gives up on after
//! `max_deliver` deliveries and names in an advisory. Independent of the exercises; exits by itself and leaves nothing behind (the server
//! is stopped and its store removed). Without `nats-server` installed it says so and exits 0.
//!
//! Run it with `cargo run -p work-queue`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use futures_util::StreamExt;
use work_queue::natsd::{self, NatsServer};

/// Short, so that the redelivery comes within the tour.
const ACK_WAIT: Duration = Duration::from_secs(2);

/// The server's store, removed when the tour ends, also on an error.
struct TempStore(PathBuf);

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(exe) = natsd::find() else {
        println!(
            "== nats-server is not installed, so there is no tour to show: install it \
             (apt-get install nats-server) and run this again"
        );
        return ExitCode::SUCCESS;
    };
    println!("== the broker: {}", exe.display());
    let store =
        TempStore(std::env::temp_dir().join(format!("work-queue-demo-{}", std::process::id())));
    match tour(&store).await {
        Ok(()) => {
            println!("== done");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("work-queue-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn tour(store: &TempStore) -> Result<(), async_nats::Error> {
    let server = NatsServer::start(&store.0)?.ok_or("nats-server disappeared")?;
    println!(
        "== started nats-server (pid {}) with JetStream on {}, store {}",
        server.pid(),
        server.url(),
        server.store().display()
    );
    println!("   readiness: its log said `Server is ready` on the stderr pipe we read");

    let client = async_nats::connect(server.url()).await?;
    let js = async_nats::jetstream::new(client.clone());
    let stream = js
        .get_or_create_stream(Config {
            name: "DEMO".into(),
            subjects: vec!["demo.tasks".into()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            ..Default::default()
        })
        .await?;
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            "workers",
            pull::Config {
                durable_name: Some("workers".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                ..Default::default()
            },
        )
        .await?;
    println!(
        "== stream DEMO (work-queue retention, file storage) on subject demo.tasks; durable pull \
         consumer `workers`, explicit acks, ack wait {ACK_WAIT:?}"
    );

    let ack = publish(&js, "task-1", "hash /etc/hostname").await?;
    println!(
        "== published task-1: stored at sequence {}, duplicate: {}",
        ack.sequence, ack.duplicate
    );
    let ack = publish(&js, "task-1", "hash /etc/hostname").await?;
    println!(
        "== published task-1 again (same Nats-Msg-Id): sequence {}, duplicate: {} \
         (not stored twice)",
        ack.sequence, ack.duplicate
    );

    let message = pull_one(&consumer).await?;
    let info = message.info()?;
    println!(
        "== pulled {:?} (stream sequence {}, delivery {})",
        String::from_utf8_lossy(&message.payload),
        info.stream_sequence,
        info.delivered
    );
    message.double_ack().await?;
    let left = js
        .get_stream("DEMO")
        .await?
        .get_info()
        .await?
        .state
        .messages;
    println!(
        "== acked it; the server confirmed, and the work-queue stream now holds {left} message(s)"
    );

    publish(&js, "task-2", "count /etc/passwd").await?;
    let message = pull_one(&consumer).await?;
    println!(
        "== pulled {:?}, delivery {}; this worker now \"dies\": no ack will come",
        String::from_utf8_lossy(&message.payload),
        message.info()?.delivered
    );
    drop(message);
    let started = Instant::now();
    let message = pull_one(&consumer).await?;
    let info = message.info()?;
    println!(
        "== pulled {:?} again after {:.1} s: delivery {} (the ack wait of {ACK_WAIT:?} ran out, \
         so the server gave the task to the next pull)",
        String::from_utf8_lossy(&message.payload),
        started.elapsed().as_secs_f64(),
        info.delivered
    );
    message.double_ack().await?;
    println!(
        "== acked it: at least once means this task ran twice; its id lets a submitter \
         report it once"
    );

    // A lease: a task twice as long as the ack wait, renewed with +WPI a third of it apart,
    // while another worker's pull waits the whole time.
    publish(&js, "task-3", "sleep 4000").await?;
    let message = pull_one(&consumer).await?;
    let started = Instant::now();
    let mut renewals = 0;
    let rival = async {
        let mut batch = consumer
            .batch()
            .max_messages(1)
            .expires(ACK_WAIT * 2)
            .messages()
            .await?;
        Ok::<_, async_nats::Error>(batch.next().await.is_some())
    };
    let renew = async {
        while started.elapsed() < ACK_WAIT * 2 {
            tokio::time::sleep(ACK_WAIT / 3).await;
            message.ack_with(AckKind::Progress).await?;
            renewals += 1;
        }
        Ok::<_, async_nats::Error>(())
    };
    let (stolen, renewed) = tokio::join!(rival, renew);
    renewed?;
    println!(
        "== pulled \"sleep 4000\" and kept its lease for {:.1} s, twice the ack wait, with \
         {renewals} in-progress acks (+WPI); another worker's pull meanwhile got {}",
        started.elapsed().as_secs_f64(),
        if stolen? {
            "the task (the lease lapsed)"
        } else {
            "nothing"
        }
    );
    message.double_ack().await?;

    // A poison task: a consumer that delivers a task at most twice, and a task nobody ever
    // acknowledges (its workers "crash"): the server gives up and publishes an advisory.
    let poison = js
        .get_or_create_stream(Config {
            name: "POISON".into(),
            subjects: vec!["demo.poison".into()],
            retention: RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await?;
    let crashers: PullConsumer = poison
        .create_consumer(pull::Config {
            durable_name: Some("crashers".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_deliver: 2,
            ..Default::default()
        })
        .await?;
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.POISON.crashers")
        .await?;
    natsd::round_trip(&client).await?;
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "task-4");
    js.publish_with_headers("demo.poison", headers, "crash".into())
        .await?
        .await?;
    for _ in 0..2 {
        let message = pull_one(&crashers).await?;
        println!(
            "== pulled \"crash\", delivery {} of at most 2; the worker dies with it",
            message.info()?.delivered
        );
    }
    // The server decides when it would deliver the task again: at the next worker's pull.
    let third = async {
        let mut batch = crashers
            .batch()
            .max_messages(1)
            .expires(ACK_WAIT * 3)
            .messages()
            .await?;
        Ok::<_, async_nats::Error>(batch.next().await.is_some())
    };
    let heard = async {
        tokio::time::timeout(ACK_WAIT * 5, advisories.next())
            .await
            .map_err(|_| "no max-deliveries advisory came")?
            .ok_or_else(|| async_nats::Error::from("the advisory subscription ended"))
    };
    let (got, advisory) = tokio::join!(third, heard);
    let advisory = advisory?;
    println!(
        "== a third worker asked and got {}; the server gave up on the task and said so on {}: {}",
        if got? { "it (unexpected)" } else { "nothing" },
        advisory.subject,
        String::from_utf8_lossy(&advisory.payload)
    );
    println!("   a dead-letter handler reads the task at that stream_seq, reports it, deletes it");

    drop((crashers, poison, consumer, stream, js, client));
    let pid = server.pid();
    server.stop()?;
    println!("== stopped nats-server (pid {pid}) with SIGTERM and reaped it; removing its store");
    Ok(())
}

async fn publish(
    js: &async_nats::jetstream::Context,
    id: &str,
    task: &str,
) -> Result<async_nats::jetstream::publish::PublishAck, async_nats::Error> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    Ok(js
        .publish_with_headers("demo.tasks", headers, task.to_string().into())
        .await?
        .await?)
}

/// One message, waiting up to 10 s for it.
async fn pull_one(
    consumer: &PullConsumer,
) -> Result<async_nats::jetstream::Message, async_nats::Error> {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(10))
        .messages()
        .await?;
    match batch.next().await {
        Some(message) => Ok(message?),
        None => Err("no message came within 10 s".into()),
    }
}
