//! A queue worker for the `redelivery` tests: runs the learner's `redelivery::work` loop in a
//! process of its own, so that a test can SIGKILL it in the middle of a task.
//!
//! Usage: `work-queue-worker URL STREAM CONSUMER RESULTS [--hang]`. Each task is announced on
//! stdout as `running ID TASK` before it runs; its result is `done TASK`. With `--hang` the
//! worker announces its first task and then never finishes it (a worker stuck or about to be
//! killed), so the test knows exactly which task died with it.

use std::io::Write;
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, stream, consumer, results, hang) = match args.as_slice() {
        [u, s, c, r] => (u, s, c, r, false),
        [u, s, c, r, flag] if flag == "--hang" => (u, s, c, r, true),
        _ => {
            eprintln!("usage: work-queue-worker URL STREAM CONSUMER RESULTS [--hang]");
            return ExitCode::from(2);
        }
    };
    match run(url, stream, consumer, results, hang).await {
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
    let client = async_nats::connect(url).await?;
    let js = async_nats::jetstream::new(client.clone());
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        js.get_stream(stream).await?.get_consumer(consumer).await?;
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
