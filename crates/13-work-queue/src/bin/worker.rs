//! A queue worker for the `redelivery` and `leases` tests: runs the learner's worker loop in a
//! process of its own, so that a test can SIGKILL or SIGSTOP it in the middle of a task.
//!
//! Usage: `work-queue-worker URL STREAM CONSUMER RESULTS [--hang | --lease | --poison | --drain]`. Each task is
//! announced on stdout as `running ID TASK` before it runs; its result is `done TASK`. With
//! `--hang` the worker announces its first task and then never finishes it (a worker stuck or
//! about to be killed), so the test knows exactly which task died with it. With `--lease` it
//! runs `leases::work` instead of `redelivery::work`, and a task `sleep MS` takes MS
//! milliseconds (awaited, not blocking the thread); it prints `finished ID` when a task's run
//! is over, before its result and ack. With `--poison` it runs `poison::work`: a task `crash`
//! aborts the worker (SIGABRT, as a decoder that crashes on a bad file), a task starting with
//! `bad` is rejected as malformed, any other task is done. With `--drain` it runs
//! `drain::work_until` with batches of 3 until SIGTERM, tasks `sleep MS` as with `--lease`, and
//! prints `drained: done N, given back M` before it exits 0.

use std::io::Write;
use std::process::ExitCode;

use async_nats::jetstream::consumer::PullConsumer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, stream, consumer, results, mode) = match args.as_slice() {
        [u, s, c, r] => (u, s, c, r, ""),
        [u, s, c, r, flag]
            if ["--hang", "--lease", "--poison", "--drain"].contains(&flag.as_str()) =>
        {
            (u, s, c, r, flag.as_str())
        }
        _ => {
            eprintln!(
                "usage: work-queue-worker URL STREAM CONSUMER RESULTS \
                 [--hang | --lease | --poison | --drain]"
            );
            return ExitCode::from(2);
        }
    };
    let outcome = match mode {
        "--lease" => run_leased(url, stream, consumer, results).await,
        "--poison" => run_poisoned(url, stream, consumer, results).await,
        "--drain" => run_drained(url, stream, consumer, results).await,
        _ => run(url, stream, consumer, results, mode == "--hang").await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("work-queue-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    url: &str,
    stream: &str,
    consumer: &str,
    results: &str,
    hang: bool,
) -> Result<(), async_nats::Error> {
    let (client, consumer) = queue(url, stream, consumer).await?;
    work_queue::redelivery::work(&client, &consumer, results, |id, task| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "running {id} {task}");
        let _ = out.flush();
        if hang {
            // Never returns: the task stays leased to this worker until it is killed.
            loop {
                std::thread::park();
            }
        }
        format!("done {task}")
    })
    .await
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn run_leased(
    url: &str,
    stream: &str,
    consumer: &str,
    results: &str,
) -> Result<(), async_nats::Error> {
    let (client, consumer) = queue(url, stream, consumer).await?;
    work_queue::leases::work(&client, &consumer, results, sleeper).await
}

async fn run_poisoned(
    url: &str,
    stream: &str,
    consumer: &str,
    results: &str,
) -> Result<(), async_nats::Error> {
    use work_queue::poison::Outcome;
    let (client, consumer) = queue(url, stream, consumer).await?;
    work_queue::poison::work(&client, &consumer, results, |id, task| {
        say(&format!("running {id} {task}"));
        if task == "crash" {
            std::process::abort();
        }
        if task.starts_with("bad") {
            Outcome::Reject("malformed task".to_string())
        } else {
            Outcome::Done(format!("done {task}"))
        }
    })
    .await
}

/// A connection to the server at `url`, and the pull consumer `consumer` of `stream`.
async fn queue(
    url: &str,
    stream: &str,
    consumer: &str,
) -> Result<(async_nats::Client, PullConsumer), async_nats::Error> {
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client.clone());
    let consumer = js.get_stream(stream).await?.get_consumer(consumer).await?;
    Ok((client, consumer))
}

/// A task `sleep MS`, awaited, announced on stdout when it starts and when it ends.
async fn sleeper(id: String, task: String) -> String {
    say(&format!("running {id} {task}"));
    let millis = task
        .strip_prefix("sleep ")
        .and_then(|ms| ms.trim().parse::<u64>().ok())
        .unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    say(&format!("finished {id}"));
    format!("done {task}")
}

async fn run_drained(
    url: &str,
    stream: &str,
    consumer: &str,
    results: &str,
) -> Result<(), async_nats::Error> {
    use tokio::signal::unix::{SignalKind, signal};
    // Listening before the first task: a SIGTERM from then on is the stop, not death.
    let mut term = signal(SignalKind::terminate())?;
    let stop = async move {
        term.recv().await;
    };
    let (client, consumer) = queue(url, stream, consumer).await?;
    let drained =
        work_queue::drain::work_until(&client, &consumer, results, 3, sleeper, stop).await?;
    say(&format!(
        "drained: done {}, given back {}",
        drained.done, drained.given_back
    ));
    Ok(())
}
