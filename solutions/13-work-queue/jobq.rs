//! Practice: `jobq`, a work queue on NATS JetStream that loses no task.
//!
//! Scenario: the tasks of week 7's `poold` (`spin N`, `sleep MS`, `hash PATH`, `count PATH`,
//! `crash`, and `echo TEXT` for tests) no longer fit one machine. `jobq` puts them on a
//! JetStream work queue that any number of workers on any number of hosts take from. No pidfd
//! reaches another host: a worker is known to be alive by its acks, and a task is known to be
//! lost when its ack wait passes. Workers are killed, stopped and cut off, the server itself
//! restarts, and every task is still answered exactly once.
//!
//! The verbs (`--nats URL` names the server, `nats://HOST:PORT`):
//! - `jobq init --nats URL [--ack-wait SECONDS] [--max-deliver N]` creates, when absent, the
//!   work-queue stream `JOBQ` (subject `jobq.tasks`, file storage), its durable pull consumer
//!   `workers` (explicit acks, the ack wait, default 30 s, and the delivery cap, default 5),
//!   the results stream `JOBQ_RESULTS` (`jobq.results.>`, kept a day) and the dead-letter
//!   stream `JOBQ_DEAD`, which stores the server's max-deliveries advisories of `workers`.
//!   Running it again changes nothing; asking for other settings than the existing ones is an
//!   error that says how to change them (`--update`, which applies them).
//! - `jobq worker --nats URL [--jobs N]` takes tasks and runs them in a local pre-forked pool
//!   of N processes (default 2; week 7's `process_pool::pool::Pool`, whose workers are this
//!   program run as `jobq pool-worker`), so a `crash` kills a pool worker and never the queue
//!   worker. It holds at most N tasks, renews the lease of each running task (an in-progress
//!   ack every third of the ack wait), publishes each result to the results stream and only
//!   then acknowledges the task. A task whose pool worker died under it is handed back (a
//!   negative ack): the server counts deliveries, and after `max-deliver` of them gives up on
//!   the task and says so in an advisory. It prints `ready NAME` on stdout once it takes
//!   tasks. SIGTERM or SIGINT drains: no new task is taken, a task that arrives anyway is
//!   handed back, running tasks finish and are answered, the pool stops, exit 0.
//! - `jobq submit --nats URL [--timeout SECONDS] [FILE]` reads one task per line (stdin
//!   without FILE; blank lines and lines starting with `#` are skipped but counted), refuses a
//!   malformed line before anything is published, publishes every task with an id of its own
//!   (`Nats-Msg-Id`, so a publish repeated after a lost acknowledgement is stored once), and
//!   prints `LINE ok RESULT` or `LINE error REASON` in input order, each task once however
//!   many times it ran. A task the server gave up on (read from `JOBQ_DEAD`) is answered
//!   `LINE error dead-lettered after N deliveries` and removed from the queue. Exit 0 when
//!   every task was answered (errors included), 1 when some were not within `--timeout`
//!   (default 600 s; stderr names them).
//! - `jobq stats --nats URL` prints `pending N`, `in flight N`, `redelivered N` (deliveries
//!   beyond each task's first, since the queue was made),
//!   `dead-lettered N` and `workers seen N` (distinct workers in all the results kept, however
//!   many). `submit` and `stats` leave no consumer of their own on the server when they end,
//!   and the ones of a `submit` that was killed expire once idle.
//!
//! The messages, which other programs may read and write too: a task is a message on
//! `jobq.tasks` whose payload is the task line, with the headers `Jobq-Id` (`RUN.INDEX`: the
//! submit's run and the task's place among its tasks) and `Jobq-Reply` (the subject of its
//! result, `jobq.results.RUN`). A result goes to that subject: payload `ok RESULT` or
//! `error REASON`, header `Jobq-Id` (and whatever else the worker adds, its name say). Anyone
//! who may publish a task may write these headers: a worker refuses for good (never runs it,
//! never gets it again) a task that lacks one or whose `Jobq-Reply` is not under
//! `jobq.results.`, and a submit ignores, with one line on stderr, a result whose id is not one
//! of its own tasks.
//!
//! Errors are one line on stderr: exit status 2 for bad usage (an unknown verb or option, a
//! number out of range, a malformed task line), 1 for everything else (a server that cannot be
//! reached, a queue that was never initialised, tasks left unanswered). Never a panic. Each
//! says what to do where there is something to do: a queue never initialised names
//! `jobq init --nats URL`; a server that runs without JetStream (nothing answers its JetStream
//! API) names `nats-server -js`.
//!
//! Goal: [`main`].
//! Chapter: `docs/src/13-work-queue.md#jobq`. Check: `cargo xtask check work-queue/jobq`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::{self, Stream as PullStream};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::Context;
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, ErrorCode};
use async_nats::{Client, HeaderMap};
use futures_util::StreamExt;
use tokio::time::Instant;

use process_pool::pool::{self, Pool};

/// The work-queue stream and the subject tasks are published on.
pub const STREAM: &str = "JOBQ";
pub const TASKS: &str = "jobq.tasks";
/// The workers' durable pull consumer.
pub const CONSUMER: &str = "workers";
/// The results stream; a submitter's results go to `jobq.results.RUN`.
pub const RESULTS_STREAM: &str = "JOBQ_RESULTS";
pub const RESULTS: &str = "jobq.results";
/// The dead-letter stream: the server's max-deliveries advisories for `JOBQ`/`workers`.
pub const DEAD_STREAM: &str = "JOBQ_DEAD";
pub const DEAD_SUBJECT: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBQ.workers";
/// Headers: the task's id, where its result goes, who answered it and on which delivery.
pub const ID: &str = "Jobq-Id";
pub const REPLY: &str = "Jobq-Reply";
pub const WORKER: &str = "Jobq-Worker";
pub const DELIVERIES: &str = "Jobq-Deliveries";

const USAGE: &str = "usage: jobq init --nats URL [--ack-wait SECONDS] [--max-deliver N] [--update]
       jobq worker --nats URL [--jobs N]
       jobq submit --nats URL [--timeout SECONDS] [FILE]
       jobq stats --nats URL";

/// Why a verb failed: the message (one line) and the exit status.
struct Fail(String, u8);

impl Fail {
    fn usage(message: impl Into<String>) -> Fail {
        Fail(message.into(), 2)
    }
    fn run(message: impl Into<String>) -> Fail {
        Fail(message.into(), 1)
    }
}

/// The command-line entry point: `args` without the program name.
pub fn main(args: Vec<String>) -> ExitCode {
    if args.first().map(String::as_str) == Some("pool-worker") {
        return pool_worker();
    }
    let outcome = Options::parse(&args).and_then(|options| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Fail::run(format!("cannot start the async runtime: {e}")))?;
        runtime.block_on(async {
            match options.verb.as_str() {
                "init" => init(&options).await,
                "worker" => worker(&options).await,
                "submit" => submit(&options).await,
                _ => stats(&options).await,
            }
        })
    });
    match outcome {
        Ok(code) => code,
        Err(Fail(message, status)) => {
            eprintln!("jobq: {message}");
            if status == 2 {
                eprintln!("{USAGE}");
            }
            ExitCode::from(status)
        }
    }
}

/// `jobq pool-worker`: one worker of the local pool, speaking week 7's frames on stdin/stdout.
fn pool_worker() -> ExitCode {
    let input = std::io::BufReader::new(std::io::stdin().lock());
    let output = std::io::BufWriter::new(std::io::stdout().lock());
    match process_pool::worker_loop::serve(input, output, process_pool::task::run) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jobq pool-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    verb: String,
    nats: String,
    ack_wait: Option<u64>,
    max_deliver: Option<u64>,
    update: bool,
    jobs: usize,
    timeout: u64,
    file: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, Fail> {
        let Some(verb) = args.first() else {
            return Err(Fail::usage("a verb is missing"));
        };
        if !["init", "worker", "submit", "stats"].contains(&verb.as_str()) {
            return Err(Fail::usage(format!("unknown verb `{verb}`")));
        }
        let mut options = Options {
            verb: verb.clone(),
            nats: String::new(),
            ack_wait: None,
            max_deliver: None,
            update: false,
            jobs: 2,
            timeout: 600,
            file: None,
        };
        let allowed: &[&str] = match verb.as_str() {
            "init" => &["--nats", "--ack-wait", "--max-deliver", "--update"],
            "worker" => &["--nats", "--jobs"],
            "submit" => &["--nats", "--timeout"],
            _ => &["--nats"],
        };
        let mut rest = args[1..].iter();
        while let Some(arg) = rest.next() {
            if !arg.starts_with("--") {
                if verb == "submit" && options.file.is_none() {
                    options.file = Some(arg.clone());
                    continue;
                }
                return Err(Fail::usage(format!("unexpected argument `{arg}`")));
            }
            if !allowed.contains(&arg.as_str()) {
                return Err(Fail::usage(format!("`{verb}` has no option `{arg}`")));
            }
            if arg == "--update" {
                options.update = true;
                continue;
            }
            let value = rest
                .next()
                .ok_or_else(|| Fail::usage(format!("`{arg}` needs a value")))?;
            match arg.as_str() {
                "--nats" => options.nats = value.clone(),
                "--ack-wait" => options.ack_wait = Some(number(arg, value, 1, 86_400)?),
                "--max-deliver" => options.max_deliver = Some(number(arg, value, 1, 1_000)?),
                "--jobs" => options.jobs = number(arg, value, 1, 256)? as usize,
                _ => options.timeout = number(arg, value, 1, 7 * 86_400)?,
            }
        }
        if options.nats.is_empty() {
            return Err(Fail::usage(format!(
                "`{verb}` needs --nats URL (nats://HOST:PORT)"
            )));
        }
        Ok(options)
    }
}

/// A whole number from `min` to `max`, or a usage error that names the option.
fn number(option: &str, value: &str, min: u64, max: u64) -> Result<u64, Fail> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Fail::usage(format!(
            "{option} takes a whole number from {min} to {max}, not `{value}`"
        ))),
    }
}

/// Checks a task line against the task language; the reason when it is malformed.
fn check_task(line: &str) -> Result<(), String> {
    let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    match verb {
        "spin" | "sleep" => match arg.parse::<u64>() {
            Ok(n) if verb == "spin" || n <= 3_600_000 => Ok(()),
            _ => Err(format!(
                "`{verb}` takes a whole number{}, not `{arg}`",
                if verb == "sleep" {
                    " of milliseconds (at most an hour)"
                } else {
                    ""
                }
            )),
        },
        "hash" | "count" if !arg.is_empty() => Ok(()),
        "hash" | "count" => Err(format!("`{verb}` takes a path")),
        "crash" if arg.is_empty() => Ok(()),
        "crash" => Err("`crash` takes no argument".to_string()),
        "echo" => Ok(()),
        _ => Err(format!(
            "unknown task `{verb}` (spin N, sleep MS, hash PATH, count PATH, crash, echo TEXT)"
        )),
    }
}

async fn connect(url: &str) -> Result<Client, Fail> {
    async_nats::ConnectOptions::new()
        .name("jobq")
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| Fail::run(format!("cannot connect to {url}: {e}")))
}

/// A stream of the queue, or an error that says how to create it.
async fn existing_stream(js: &Context, name: &str, url: &str) -> Result<stream::Stream, Fail> {
    match js.get_stream(name).await {
        Ok(stream) => Ok(stream),
        Err(e) => match e.kind() {
            async_nats::jetstream::context::GetStreamErrorKind::JetStream(j)
                if j.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                Err(Fail::run(format!(
                    "there is no queue at {url} (no stream {name}): run `jobq init --nats {url}` first"
                )))
            }
            // No responder for the JetStream API: the server runs without it.
            async_nats::jetstream::context::GetStreamErrorKind::Request => Err(Fail::run(format!(
                "cannot read the stream {name} at {url}: {e} (does the server run JetStream? \
                 nats-server -js)"
            ))),
            _ => Err(Fail::run(format!(
                "cannot read the stream {name} at {url}: {e}"
            ))),
        },
    }
}

async fn init(options: &Options) -> Result<ExitCode, Fail> {
    let url = &options.nats;
    let js = jetstream::new(connect(url).await?);
    let made =
        |what: &str, e: &dyn std::fmt::Display| Fail::run(format!("cannot create {what}: {e}"));
    let tasks = js
        .get_or_create_stream(stream::Config {
            name: STREAM.to_string(),
            subjects: vec![TASKS.to_string()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| made("the stream JOBQ", &e))?;
    js.get_or_create_stream(stream::Config {
        name: RESULTS_STREAM.to_string(),
        subjects: vec![format!("{RESULTS}.>")],
        storage: StorageType::File,
        max_age: Duration::from_secs(86_400),
        ..Default::default()
    })
    .await
    .map_err(|e| made("the stream JOBQ_RESULTS", &e))?;
    js.get_or_create_stream(stream::Config {
        name: DEAD_STREAM.to_string(),
        subjects: vec![DEAD_SUBJECT.to_string()],
        storage: StorageType::File,
        max_age: Duration::from_secs(7 * 86_400),
        ..Default::default()
    })
    .await
    .map_err(|e| made("the stream JOBQ_DEAD", &e))?;

    let wanted = |ack_wait: u64, max_deliver: u64| pull::Config {
        durable_name: Some(CONSUMER.to_string()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(ack_wait),
        max_deliver: max_deliver as i64,
        ..Default::default()
    };
    let (ack_wait, max_deliver) = match tasks.consumer_info(CONSUMER).await {
        Ok(info) => {
            let have = (
                info.config.ack_wait.as_secs(),
                info.config.max_deliver as u64,
            );
            let want = (
                options.ack_wait.unwrap_or(have.0),
                options.max_deliver.unwrap_or(have.1),
            );
            if want != have && !options.update {
                return Err(Fail::run(format!(
                    "the queue at {url} exists with ack wait {} s and max deliver {}; to change \
                     them run `jobq init --nats {url} --ack-wait {} --max-deliver {} --update` \
                     (tasks already delivered keep the ack wait they were delivered with)",
                    have.0, have.1, want.0, want.1
                )));
            }
            if want != have {
                // Creating a durable consumer that exists, with new values for the fields the
                // server lets change (ack wait and max deliver are among them), updates it.
                tasks
                    .create_consumer(wanted(want.0, want.1))
                    .await
                    .map_err(|e| Fail::run(format!("cannot update the consumer: {e}")))?;
            }
            want
        }
        Err(_) => {
            let want = (
                options.ack_wait.unwrap_or(30),
                options.max_deliver.unwrap_or(5),
            );
            tasks
                .create_consumer(wanted(want.0, want.1))
                .await
                .map_err(|e| made("the consumer `workers`", &e))?;
            want
        }
    };
    println!("queue {STREAM} ready at {url}: ack wait {ack_wait} s, max deliver {max_deliver}");
    Ok(ExitCode::SUCCESS)
}

/// A task a worker holds: its message, where its answer goes, and when its lease was renewed.
struct Held {
    message: jetstream::Message,
    id: String,
    reply: String,
    delivered: i64,
    renewed: Instant,
}

/// The header `name` of a message, if present.
fn header(headers: Option<&HeaderMap>, name: &str) -> Option<String> {
    headers
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_string())
}

async fn worker(options: &Options) -> Result<ExitCode, Fail> {
    use tokio::signal::unix::{SignalKind, signal};
    let url = &options.nats;
    let client = connect(url).await?;
    let js = jetstream::new(client.clone());
    let tasks = existing_stream(&js, STREAM, url).await?;
    let consumer: PullConsumer = tasks.get_consumer(CONSUMER).await.map_err(|e| {
        Fail::run(format!(
            "the queue at {url} has no consumer `{CONSUMER}` ({e}): run `jobq init --nats {url}`"
        ))
    })?;
    let ack_wait = consumer.cached_info().config.ack_wait;
    let renew_every = (ack_wait / 3).max(Duration::from_millis(1));

    let program = std::env::current_exe()
        .map_err(|e| Fail::run(format!("cannot find my own program: {e}")))?;
    let mut config = pool::Config::new(program, options.jobs);
    config.args = vec!["pool-worker".into()];
    // The broker counts deliveries and gives up after max-deliver; the local pool must not
    // retry a task that killed its worker behind the broker's back.
    config.quarantine_after = 1;
    let pool = Pool::start(config).map_err(|e| Fail::run(format!("cannot start the pool: {e}")))?;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<pool::Done>();
    let (done_async, mut done) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for d in done_rx {
            if done_async.send(d).is_err() {
                break;
            }
        }
    });
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Fail::run(format!("cannot watch SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| Fail::run(format!("cannot watch SIGINT: {e}")))?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    let name = format!("{host}:{}", std::process::id());
    println!("ready {name}");
    let _ = std::io::stdout().flush();

    let mut held: HashMap<u64, Held> = HashMap::new();
    let mut pull: Option<async_nats::jetstream::consumer::pull::Batch> = None;
    let mut retry_at = Instant::now();
    let mut stopping = false;
    let (mut answered, mut given_back) = (0u64, 0u64);
    let mut renew = tokio::time::interval(renew_every.min(Duration::from_millis(250)));
    loop {
        let free = options.jobs.saturating_sub(held.len());
        if pull.is_none() && !stopping && free > 0 && Instant::now() >= retry_at {
            match consumer
                .batch()
                .max_messages(free)
                .expires(Duration::from_secs(1))
                .messages()
                .await
            {
                Ok(batch) => pull = Some(batch),
                Err(e) => {
                    eprintln!("jobq worker {name}: cannot pull ({e}); trying again");
                    retry_at = Instant::now() + Duration::from_millis(250);
                }
            }
        }
        if stopping && pull.is_none() && held.is_empty() {
            break;
        }
        tokio::select! {
            message = async { pull.as_mut().expect("guarded").next().await }, if pull.is_some() => {
                match message {
                    Some(Ok(message)) if stopping => {
                        // Taken after the stop: another worker may have it at once.
                        let _ = message.ack_with(AckKind::Nak(None)).await;
                        given_back += 1;
                    }
                    Some(Ok(message)) => take(&pool, &done_tx, &mut held, message, &name).await,
                    Some(Err(e)) => {
                        eprintln!("jobq worker {name}: a pull failed ({e}); trying again");
                        pull = None;
                        retry_at = Instant::now() + Duration::from_millis(250);
                    }
                    None => pull = None,
                }
            }
            Some(d) = done.recv() => {
                if let Some(task) = held.remove(&d.id)
                    && answer(&js, task, d.outcome, &name).await
                {
                    answered += 1;
                }
            }
            _ = renew.tick() => {
                for task in held.values_mut() {
                    if task.renewed.elapsed() >= renew_every {
                        // `+WPI`: the ack wait of this delivery starts again.
                        let _ = task.message.ack_with(AckKind::Progress).await;
                        task.renewed = Instant::now();
                    }
                }
            }
            () = tokio::time::sleep_until(retry_at), if pull.is_none() && retry_at > Instant::now() => {}
            _ = term.recv() => stopping = true,
            _ = int.recv() => stopping = true,
        }
    }
    tokio::task::spawn_blocking(move || pool.shutdown(Duration::from_secs(5)))
        .await
        .map_err(|e| Fail::run(format!("the pool's shutdown failed: {e}")))?;
    let _ = client.flush().await;
    eprintln!("jobq worker {name}: drained: {answered} answered, {given_back} given back");
    Ok(ExitCode::SUCCESS)
}

/// Hands a delivered task to the pool, or refuses it for good when it cannot be a task.
async fn take(
    pool: &Pool,
    done_tx: &std::sync::mpsc::Sender<pool::Done>,
    held: &mut HashMap<u64, Held>,
    message: jetstream::Message,
    name: &str,
) {
    let headers = message.headers.as_ref();
    let (Some(id), Some(reply)) = (header(headers, ID), header(headers, REPLY)) else {
        eprintln!("jobq worker {name}: a task without {ID} or {REPLY}: terminated");
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    if !reply.starts_with(&format!("{RESULTS}.")) || reply.contains(['*', '>']) {
        eprintln!("jobq worker {name}: task {id} wants its result on `{reply}`: terminated");
        let _ = message.ack_with(AckKind::Term).await;
        return;
    }
    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
    let line = String::from_utf8_lossy(&message.payload).into_owned();
    match pool.try_submit(&line, done_tx) {
        Ok(pool_id) => {
            held.insert(
                pool_id,
                Held {
                    message,
                    id,
                    reply,
                    delivered,
                    renewed: Instant::now(),
                },
            );
        }
        Err(e) => {
            eprintln!("jobq worker {name}: the pool refused task {id} ({e}): handed back");
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }
}

/// Publishes a finished task's answer to the results stream, then acknowledges the task. A task
/// whose pool worker died under it is handed back instead. True when an answer was published.
async fn answer(js: &Context, task: Held, outcome: pool::Outcome, name: &str) -> bool {
    let text = match outcome {
        pool::Outcome::Ok(result) => format!("ok {result}"),
        // The pool's own "pool shut down" never reaches here: it is shut down once nothing is
        // held. A failure is the task's: an answer.
        pool::Outcome::Failed(reason) => format!("error {reason}"),
        other => {
            eprintln!(
                "jobq worker {name}: task {} ended {other:?} on delivery {}: handed back",
                task.id, task.delivered
            );
            let _ = task.message.ack_with(AckKind::Nak(None)).await;
            return false;
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(ID, task.id.as_str());
    headers.insert(WORKER, name);
    headers.insert(DELIVERIES, task.delivered.to_string().as_str());
    // A second run of the same task (after a redelivery) publishes the same message id: the
    // server stores the first and acknowledges the second as a duplicate.
    headers.insert("Nats-Msg-Id", format!("result-{}", task.id).as_str());
    // Result first, ack second: a worker that dies in between leaves a task that runs again,
    // never a task that is acknowledged and unanswered.
    let what = format!("jobq worker {name}: the result of {}", task.id);
    let deadline = Instant::now() + Duration::from_secs(30);
    if let Err(e) = publish(js, &task.reply, headers, text, deadline, &what).await {
        eprintln!("{what}: gave up publishing it ({e}): the task will be delivered again");
        return false;
    }
    for _ in 0..20 {
        match task.message.double_ack().await {
            Ok(()) => return true,
            Err(e) => {
                eprintln!("jobq worker {name}: cannot ack {} ({e}); again", task.id);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    true
}

/// Publishes to a stream and waits for the server's acknowledgement, again and again (the
/// server may be restarting) until `deadline`; `Nats-Msg-Id` in `headers` makes a repeat of a
/// publish whose acknowledgement was lost a duplicate that the stream does not store.
async fn publish(
    js: &Context,
    subject: &str,
    headers: HeaderMap,
    payload: String,
    deadline: Instant,
    what: &str,
) -> Result<(), String> {
    loop {
        let published = match js
            .publish_with_headers(subject.to_string(), headers.clone(), payload.clone().into())
            .await
        {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match published {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                eprintln!("{what}: cannot publish it ({e}); trying again");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reads the task lines: (line number, task) for each line that is not blank or a comment.
fn read_tasks(file: Option<&str>) -> Result<Vec<(usize, String)>, Fail> {
    let input: Box<dyn BufRead> = match file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| Fail::run(format!("cannot read {path}: {e}")))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut tasks = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Fail::run(format!("cannot read the tasks: {e}")))?;
        let task = line.trim();
        if task.is_empty() || task.starts_with('#') {
            continue;
        }
        check_task(task).map_err(|why| Fail::usage(format!("line {}: {why}", n + 1)))?;
        tasks.push((n + 1, task.to_string()));
    }
    Ok(tasks)
}

async fn submit(options: &Options) -> Result<ExitCode, Fail> {
    let url = &options.nats;
    let lines = read_tasks(options.file.as_deref())?;
    let deadline = Instant::now() + Duration::from_secs(options.timeout);
    let client = connect(url).await?;
    let js = jetstream::new(client.clone());
    let tasks = existing_stream(&js, STREAM, url).await?;
    let results = existing_stream(&js, RESULTS_STREAM, url).await?;
    let dead = existing_stream(&js, DEAD_STREAM, url).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let run = format!(
        "{:x}{:08x}",
        std::process::id(),
        now.subsec_nanos() ^ now.as_secs() as u32
    );
    let reply = format!("{RESULTS}.{run}");
    // Both consumers exist before the first task is published: nothing can be missed.
    let consumer = |name: String, filter: String, deliver: DeliverPolicy| pull::Config {
        durable_name: Some(name),
        filter_subject: filter,
        deliver_policy: deliver,
        ack_policy: AckPolicy::None,
        inactive_threshold: Duration::from_secs(3_600),
        ..Default::default()
    };
    let result_reader: PullConsumer = results
        .create_consumer(consumer(
            format!("submit-{run}"),
            reply.clone(),
            DeliverPolicy::All,
        ))
        .await
        .map_err(|e| Fail::run(format!("cannot read results: {e}")))?;
    let dead_reader: PullConsumer = dead
        .create_consumer(consumer(
            format!("dead-{run}"),
            DEAD_SUBJECT.to_string(),
            DeliverPolicy::New,
        ))
        .await
        .map_err(|e| Fail::run(format!("cannot read dead letters: {e}")))?;
    let outcome = submit_and_collect(
        &js,
        &tasks,
        &lines,
        &run,
        &reply,
        deadline,
        &result_reader,
        &dead_reader,
    )
    .await;
    let _ = results.delete_consumer(&format!("submit-{run}")).await;
    let _ = dead.delete_consumer(&format!("dead-{run}")).await;
    let answers = outcome?;
    let missing: Vec<String> = lines
        .iter()
        .zip(&answers)
        .filter(|(_, a)| a.is_none())
        .map(|((n, _), _)| n.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Fail::run(format!(
        "{} of {} tasks unanswered within {} s: lines {}",
        missing.len(),
        lines.len(),
        options.timeout,
        missing.join(", ")
    )))
}

#[allow(clippy::too_many_arguments)]
async fn submit_and_collect(
    js: &Context,
    tasks: &stream::Stream,
    lines: &[(usize, String)],
    run: &str,
    reply: &str,
    deadline: Instant,
    result_reader: &PullConsumer,
    dead_reader: &PullConsumer,
) -> Result<Vec<Option<String>>, Fail> {
    for (index, (_, task)) in lines.iter().enumerate() {
        let id = format!("{run}.{index}");
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        headers.insert(ID, id.as_str());
        headers.insert(REPLY, reply);
        let what = format!("jobq: line {}", lines[index].0);
        publish(js, TASKS, headers, task.clone(), deadline, &what)
            .await
            .map_err(|e| Fail::run(format!("cannot publish the tasks: {e}")))?;
    }

    let mut answers: Vec<Option<String>> = vec![None; lines.len()];
    let (mut left, mut printed) = (lines.len(), 0);
    let mut results: Option<PullStream> = None;
    let mut dead: Option<PullStream> = None;
    let mut out = std::io::stdout().lock();
    while left > 0 && Instant::now() < deadline {
        if results.is_none() {
            results = result_reader.messages().await.ok();
        }
        if dead.is_none() {
            dead = dead_reader.messages().await.ok();
        }
        tokio::select! {
            message = async { results.as_mut().expect("guarded").next().await }, if results.is_some() => match message {
                Some(Ok(message)) => {
                    let id = header(message.headers.as_ref(), ID).unwrap_or_default();
                    match index_of(&id, run, lines.len()) {
                        Some(i) if answers[i].is_none() => {
                            answers[i] = Some(String::from_utf8_lossy(&message.payload).into_owned());
                            left -= 1;
                        }
                        Some(_) => {} // a task that ran twice: its first answer stands
                        None => eprintln!("jobq: a result for an unknown task id `{id}`: ignored"),
                    }
                }
                _ => {
                    results = None;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            },
            message = async { dead.as_mut().expect("guarded").next().await }, if dead.is_some() => match message {
                Some(Ok(message)) => {
                    if let Some((i, deliveries)) = dead_letter(tasks, &message, run, lines.len()).await
                        && answers[i].is_none()
                    {
                        answers[i] = Some(format!("error dead-lettered after {deliveries} deliveries"));
                        left -= 1;
                    }
                }
                _ => {
                    dead = None;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            },
            () = tokio::time::sleep_until(deadline) => {}
            () = tokio::time::sleep(Duration::from_millis(250)), if results.is_none() || dead.is_none() => {}
        }
        while printed < lines.len()
            && let Some(answer) = &answers[printed]
        {
            let _ = writeln!(out, "{} {answer}", lines[printed].0);
            printed += 1;
        }
        let _ = out.flush();
    }
    Ok(answers)
}

/// The index of task `id` of this run, if it is one.
fn index_of(id: &str, run: &str, count: usize) -> Option<usize> {
    let (prefix, index) = id.rsplit_once('.')?;
    let index: usize = index.parse().ok()?;
    (prefix == run && index < count).then_some(index)
}

/// A max-deliveries advisory turned into (task index, deliveries) when the task is one of this
/// run's: the task is read from the stream, where nobody acknowledged it, and deleted.
async fn dead_letter(
    tasks: &stream::Stream,
    advisory: &jetstream::Message,
    run: &str,
    count: usize,
) -> Option<(usize, u64)> {
    let body: serde_json::Value = serde_json::from_slice(&advisory.payload).ok()?;
    let sequence = body.get("stream_seq")?.as_u64()?;
    let deliveries = body.get("deliveries")?.as_u64()?;
    let message = tasks.get_raw_message(sequence).await.ok()?;
    let id = message.headers.get(ID)?.as_str().to_string();
    let index = index_of(&id, run, count)?;
    let _ = tasks.delete_message(sequence).await;
    Some((index, deliveries))
}

/// The distinct workers named by the first `kept` results, read in batches (a fetch returns at
/// most 1,000) until they are all read or the consumer has no more.
async fn workers_seen(
    reader: &PullConsumer,
    kept: u64,
) -> Result<std::collections::HashSet<String>, Fail> {
    let mut workers = std::collections::HashSet::new();
    let mut read = 0;
    while read < kept {
        let mut batch = reader
            .fetch()
            .max_messages(1_000)
            .messages()
            .await
            .map_err(|e| Fail::run(format!("cannot read {RESULTS_STREAM}: {e}")))?;
        let mut got = 0;
        while let Some(Ok(message)) = batch.next().await {
            got += 1;
            if let Some(worker) = header(message.headers.as_ref(), WORKER) {
                workers.insert(worker);
            }
        }
        if got == 0 {
            break;
        }
        read += got;
    }
    Ok(workers)
}

async fn stats(options: &Options) -> Result<ExitCode, Fail> {
    let url = &options.nats;
    let js = jetstream::new(connect(url).await?);
    let mut tasks = existing_stream(&js, STREAM, url).await?;
    let mut results = existing_stream(&js, RESULTS_STREAM, url).await?;
    let mut dead = existing_stream(&js, DEAD_STREAM, url).await?;
    let info = tasks
        .consumer_info(CONSUMER)
        .await
        .map_err(|e| Fail::run(format!("cannot read the consumer `{CONSUMER}`: {e}")))?;
    let kept = results
        .info()
        .await
        .map_err(|e| Fail::run(format!("cannot read {RESULTS_STREAM}: {e}")))?
        .state
        .messages;
    // Read every result kept, once, without acks, through a consumer of our own: ephemeral, so
    // that the server removes it by itself (its inactive threshold) if this process dies, and
    // deleted below when it does not.
    let mut reader: PullConsumer = results
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .map_err(|e| Fail::run(format!("cannot read {RESULTS_STREAM}: {e}")))?;
    let reader_name = reader
        .info()
        .await
        .map_err(|e| Fail::run(format!("cannot read {RESULTS_STREAM}: {e}")))?
        .name
        .clone();
    let workers = workers_seen(&reader, kept).await;
    let _ = results.delete_consumer(&reader_name).await;
    let workers = workers?;
    // Every delivery has a consumer sequence; every task, a stream sequence. The tasks delivered
    // at least once are the ones published (the stream's last sequence) minus the ones still
    // waiting for their first delivery; every delivery beyond those was a redelivery.
    let published = tasks
        .info()
        .await
        .map_err(|e| Fail::run(format!("cannot read {STREAM}: {e}")))?
        .state
        .last_sequence;
    let first_deliveries = published.saturating_sub(info.num_pending);
    let redelivered = info
        .delivered
        .consumer_sequence
        .saturating_sub(first_deliveries);
    let dead_letters = dead
        .info()
        .await
        .map_err(|e| Fail::run(format!("cannot read {DEAD_STREAM}: {e}")))?
        .state
        .messages;
    println!("pending {}", info.num_pending);
    println!("in flight {}", info.num_ack_pending);
    println!("redelivered {redelivered}");
    println!("dead-lettered {dead_letters}");
    println!("workers seen {}", workers.len());
    Ok(ExitCode::SUCCESS)
}
