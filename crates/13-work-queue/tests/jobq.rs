//! `jobq`, the week-9 practice project, tested from outside: the real binary, a real
//! `nats-server` on a temporary store, worker processes that are killed, stopped and drained,
//! and the server restarted under them.
//!
//! Every process a test starts carries an environment variable with a name of the test's own
//! (`JOBQ_TEST_TAG`); the pool workers inherit it, so "nothing left running" is a scan of /proc
//! for that tag, with a deadline.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use nix::sys::signal::Signal;
use predicates::prelude::*;
use work_queue::natsd::{NatsServer, Worker, start_or_skip};

const JOBQ: &str = env!("CARGO_BIN_EXE_jobq");
/// Bounds every wait of these tests (a loaded 2-core machine).
const DEADLINE: Duration = Duration::from_secs(60);

/// A server of the test's own on a temporary store (stopped, then the store removed, on drop).
struct Server {
    server: Option<NatsServer>,
    _store: tempfile::TempDir,
}

impl Server {
    fn start(tag: &str) -> Option<Server> {
        let store = tempfile::Builder::new()
            .prefix(&format!("jobq-{tag}-"))
            .tempdir()
            .expect("a temp dir for the server's store");
        let server = start_or_skip(store.path())?;
        Some(Server {
            server: Some(server),
            _store: store,
        })
    }

    fn url(&self) -> String {
        self.server.as_ref().expect("running").url().to_string()
    }

    /// Stops the server; [`start_again`](Self::start_again) brings it back on its store and port.
    fn stop(&mut self) -> u16 {
        let server = self.server.take().expect("running");
        let port = server
            .url()
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("a port in the url");
        server.stop().expect("the server stops");
        port
    }

    fn start_again(&mut self, port: u16) {
        let server = NatsServer::start_on(self._store.path(), Some(port))
            .expect("the server starts again on its store")
            .expect("nats-server is still installed");
        self.server = Some(server);
    }

    fn restart_in_place(&mut self) {
        let server = self.server.take().expect("running");
        self.server = Some(
            server
                .restart_in_place()
                .expect("the server restarts on its store"),
        );
    }
}

/// A runtime for the tests' own async calls to the server (jobq itself runs as a process).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A client of the test's own.
fn connect(runtime: &tokio::runtime::Runtime, url: &str) -> async_nats::Client {
    runtime.block_on(async { async_nats::connect(url).await.expect("connect") })
}

/// A unique tag for the processes of one test.
fn tag(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), rand_u32())
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7)
}

/// Runs `jobq ARGS` to its end with `input` on stdin; (status, stdout, stderr).
fn jobq(args: &[&str], input: &str, tag: &str) -> (ExitStatus, String, String) {
    let mut child = Command::new(JOBQ)
        .args(args)
        .env("JOBQ_TEST_TAG", tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jobq");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = wait_output(child, DEADLINE * 2);
    let _ = writer.join();
    output
}

/// Waits for a child with piped stdout and stderr, killing it after `deadline`.
fn wait_output(mut child: Child, deadline: Duration) -> (ExitStatus, String, String) {
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for jobq") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "jobq did not end within {deadline:?}; stdout:\n{}\nstderr:\n{}",
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default()
            );
        }
        // No child event to wait on here without a pidfd; the poll has a deadline.
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        status,
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

/// A `jobq submit` of the test, started with `input` written to its stdin (then closed), its
/// stdout and stderr piped (read them with `wait_output`).
fn spawn_submit(url: &str, timeout: &str, input: &[u8], tag: &str) -> Child {
    let mut submit = Command::new(JOBQ)
        .args(["submit", "--nats", url, "--timeout", timeout])
        .env("JOBQ_TEST_TAG", tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn submit");
    submit
        .stdin
        .take()
        .expect("piped")
        .write_all(input)
        .expect("write the tasks");
    submit
}

fn init(url: &str, extra: &[&str], tag: &str) {
    let mut args = vec!["init", "--nats", url];
    args.extend_from_slice(extra);
    let (status, out, err) = jobq(&args, "", tag);
    assert!(
        status.success(),
        "jobq init {extra:?}: {status}\n{out}{err}"
    );
}

/// A `jobq worker` of the test, ready to take tasks.
fn worker(url: &str, jobs: &str, tag: &str, name: &'static str) -> Worker {
    let mut w = spawn_worker(url, jobs, tag, name);
    w.wait_for("ready ");
    w
}

fn spawn_worker(url: &str, jobs: &str, tag: &str, name: &'static str) -> Worker {
    let mut command = Command::new(JOBQ);
    command
        .args(["worker", "--nats", url, "--jobs", jobs])
        .env("JOBQ_TEST_TAG", tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    Worker::from_command(command, name, DEADLINE)
}

/// The pids of the processes that carry `tag` in their environment.
fn tagged(tag: &str) -> Vec<u32> {
    let needle = format!("JOBQ_TEST_TAG={tag}\0");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let is_zombie_or_gone = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !is_zombie_or_gone
            && environ
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

fn assert_nothing_left(tag: &str) {
    testkit::wait_until(DEADLINE, "every process of the test to end", || {
        tagged(tag).is_empty()
    });
}

/// Stops a worker with SIGTERM and asserts that it drains and exits 0.
fn drain(mut w: Worker) {
    w.signal(Signal::SIGTERM);
    let status = w.wait_exit();
    assert!(
        status.is_some_and(|s| s.success()),
        "worker {} did not drain and exit 0 after SIGTERM: {status:?}",
        w.name
    );
}

/// Parses submit's output into (line, answer) pairs.
fn answers(out: &str) -> Vec<(usize, String)> {
    out.lines()
        .map(|l| {
            let (n, rest) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("an odd line {l:?}"));
            (
                n.parse().unwrap_or_else(|_| panic!("an odd line {l:?}")),
                rest.to_string(),
            )
        })
        .collect()
}

#[test]
fn bad_usage_is_one_line_on_stderr_and_exit_2() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "", "a verb is missing"),
        (
            &["frobnicate", "--nats", "nats://127.0.0.1:1"],
            "",
            "unknown verb",
        ),
        (&["stats"], "", "--nats"),
        (
            &["init", "--nats", "nats://127.0.0.1:1", "--ack-wait", "0"],
            "",
            "--ack-wait",
        ),
        (
            &[
                "init",
                "--nats",
                "nats://127.0.0.1:1",
                "--ack-wait",
                "18446744073709551616",
            ],
            "",
            "--ack-wait",
        ),
        (
            &["worker", "--nats", "nats://127.0.0.1:1", "--jobs", "0"],
            "",
            "--jobs",
        ),
        (
            &["worker", "--nats", "nats://127.0.0.1:1", "--timeout", "5"],
            "",
            "--timeout",
        ),
        (
            &["submit", "--nats", "nats://127.0.0.1:1"],
            "spin 10\nfly 3\n",
            "line 2",
        ),
        (
            &["submit", "--nats", "nats://127.0.0.1:1"],
            "sleep forever\n",
            "line 1",
        ),
        (
            &["submit", "--nats", "nats://127.0.0.1:1"],
            "crash now\n",
            "takes no argument",
        ),
        (
            &["submit", "--nats", "nats://127.0.0.1:1"],
            "echo a\nhash\n",
            "line 2: `hash` takes a path",
        ),
        (
            &["submit", "--nats", "nats://127.0.0.1:1"],
            "sleep 3600001\n",
            "at most an hour",
        ),
        (
            &["worker", "--nats", "nats://127.0.0.1:1", "--jobs", "300"],
            "",
            "--jobs",
        ),
        // One file for submit, none for the other verbs.
        (
            &[
                "submit",
                "--nats",
                "nats://127.0.0.1:1",
                "tasks",
                "more-tasks",
            ],
            "",
            "unexpected argument `more-tasks`",
        ),
        (
            &["stats", "--nats", "nats://127.0.0.1:1", "tasks"],
            "",
            "unexpected argument `tasks`",
        ),
    ];
    for (args, input, says) in cases {
        assert_cmd::Command::new(cargo_bin!("jobq"))
            .args(*args)
            .write_stdin(*input)
            .timeout(DEADLINE)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with("jobq: "))
            .stderr(predicate::str::contains(*says))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn an_unreachable_server_is_one_line_and_exit_1() {
    // A port that nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    // Each verb, and the largest value of every number (accepted: the next error is the server).
    let cases: &[&[&str]] = &[
        &["init"],
        &["worker"],
        &["stats"],
        &["submit"],
        &["init", "--ack-wait", "86400", "--max-deliver", "1000"],
        &["worker", "--jobs", "256"],
        &["submit", "--timeout", "604800"],
    ];
    for args in cases {
        assert_cmd::Command::new(cargo_bin!("jobq"))
            .args(*args)
            .args(["--nats", &url])
            .write_stdin("echo a\n")
            .timeout(DEADLINE)
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with("jobq: cannot connect to"))
            .stderr(predicate::function(|e: &str| e.lines().count() == 1))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn a_queue_never_initialised_says_to_run_init() {
    let Some(server) = Server::start("noinit") else {
        return;
    };
    let url = server.url();
    let tag = tag("noinit");
    for (args, input) in [
        (vec!["submit", "--nats", url.as_str()], "echo hi\n"),
        (vec!["worker", "--nats", url.as_str()], ""),
        (vec!["stats", "--nats", url.as_str()], ""),
    ] {
        let (status, out, err) = jobq(&args, input, &tag);
        assert_eq!(
            status.code(),
            Some(1),
            "jobq {args:?}: {status}\n{out}{err}"
        );
        assert!(
            err.contains("jobq init --nats") && err.lines().count() == 1,
            "jobq {args:?} should say in one line to run `jobq init`: {err}"
        );
    }
    assert_nothing_left(&tag);
}

#[test]
fn a_server_without_jetstream_is_named_as_such_not_as_a_missing_queue() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let server = match NatsServer::start_without_jetstream(dir.path()) {
        Ok(Some(server)) => server,
        Ok(None) if std::env::var_os("PROCLINGS_GRADING").is_some() => {
            panic!("nats-server is not installed (apt-get install nats-server)")
        }
        Ok(None) => return println!("skipped: nats-server is not installed"),
        Err(e) => panic!("{e}"),
    };
    let tag = tag("nojs");
    let (status, _, err) = jobq(&["submit", "--nats", server.url()], "echo hi\n", &tag);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        !err.contains("jobq init") && err.contains("nats-server -js") && err.lines().count() == 1,
        "a server whose JetStream is off is not a queue that init would create: say so, and how \
         to start one (`nats-server -js`), not `run jobq init` ({err:?})"
    );
    assert_nothing_left(&tag);
}

#[test]
fn results_under_unknown_task_ids_are_reported_and_ignored() {
    let Some(server) = Server::start("forged") else {
        return;
    };
    let url = server.url();
    let tag = tag("forged");
    init(&url, &["--ack-wait", "30"], &tag);
    let runtime = runtime();
    let client = connect(&runtime, &url);
    // The test sees the task as it is published, to learn the submit's result subject and id.
    let mut tasks = runtime.block_on(work_queue::natsd::subscribe_confirmed(
        &client,
        "jobq.tasks",
    ));
    let submit = spawn_submit(&url, "50", b"echo one\n", &tag);
    runtime.block_on(async {
        use futures_util::StreamExt;
        let task = tokio::time::timeout(DEADLINE, tasks.next())
            .await
            .expect("the task is published")
            .expect("a task");
        let headers = task.headers.expect("the task has headers");
        let reply = headers.get("Jobq-Reply").expect("Jobq-Reply").to_string();
        let id = headers.get("Jobq-Id").expect("Jobq-Id").to_string();
        let run = id.rsplit_once('.').expect("RUN.INDEX").0.to_string();
        let js = async_nats::jetstream::new(client.clone());
        // One past the last index, another run's id, and no id at all.
        for forged in [
            format!("{run}.1"),
            "another-run.0".to_string(),
            String::new(),
        ] {
            let mut h = async_nats::HeaderMap::new();
            if !forged.is_empty() {
                h.insert("Jobq-Id", forged.as_str());
            }
            js.publish_with_headers(reply.clone(), h, "ok forged".into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    });
    let w = worker(&url, "1", &tag, "worker");
    let (status, out, err) = wait_output(submit, DEADLINE);
    assert!(
        status.success() && out == "1 ok one\n",
        "forged results must not answer a task nor stop the submit: {status}, stdout {out:?}, \
         stderr {err:?}"
    );
    assert_eq!(
        err.matches("unknown task id").count(),
        3,
        "each result under an id that is not one of this submit's tasks is one line on stderr: \
         {err:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
    drain(w);
    assert_nothing_left(&tag);
}

#[test]
fn a_task_that_wants_its_result_outside_the_results_stream_is_refused() {
    let Some(server) = Server::start("reply") else {
        return;
    };
    let url = server.url();
    let tag = tag("reply");
    init(&url, &["--ack-wait", "30"], &tag);
    let runtime = runtime();
    let client = connect(&runtime, &url);
    // Anyone who may publish a task may name its reply subject: one outside `jobq.results.`
    // would make the worker publish wherever the task says.
    let mut elsewhere = runtime.block_on(work_queue::natsd::subscribe_confirmed(
        &client,
        "elsewhere.>",
    ));
    runtime.block_on(async {
        let js = async_nats::jetstream::new(client.clone());
        let mut h = async_nats::HeaderMap::new();
        h.insert("Jobq-Id", "forged.0");
        h.insert("Jobq-Reply", "elsewhere.results");
        js.publish_with_headers("jobq.tasks", h, "echo leaked".into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    });
    // One worker taking one task at a time: the forged task is taken before the submit's.
    let w = worker(&url, "1", &tag, "worker");
    let mut submit = spawn_submit(&url, "50", b"echo mine\n", &tag);
    let deadline = Instant::now() + DEADLINE;
    runtime.block_on(async {
        use futures_util::StreamExt;
        while Instant::now() < deadline {
            if let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_millis(50), elsewhere.next()).await
            {
                let _ = submit.kill();
                panic!(
                    "the worker published to `{}` ({:?}), the subject a task named: results go \
                     under `jobq.results.` only; refuse (terminate) a task that asks for \
                     another subject",
                    message.subject,
                    String::from_utf8_lossy(&message.payload)
                );
            }
            if submit.try_wait().expect("wait for submit").is_some() {
                break;
            }
        }
    });
    let (status, out, err) = wait_output(submit, DEADLINE);
    assert!(
        status.success() && out == "1 ok mine\n",
        "the submit after the forged task: {status}, stdout {out:?}, stderr {err:?}"
    );
    drain(w);
    assert_nothing_left(&tag);
}

#[test]
fn init_is_idempotent_and_a_change_says_how() {
    let Some(server) = Server::start("init") else {
        return;
    };
    let url = server.url();
    let tag = tag("init");
    init(&url, &["--ack-wait", "3", "--max-deliver", "4"], &tag);
    let (status, out, _) = jobq(&["init", "--nats", &url], "", &tag);
    assert!(status.success());
    assert!(
        out.contains("ack wait 3 s, max deliver 4"),
        "a second init keeps the queue: {out}"
    );
    let (status, _, err) = jobq(&["init", "--nats", &url, "--ack-wait", "7"], "", &tag);
    assert_eq!(
        status.code(),
        Some(1),
        "another ack wait without --update is refused: {err}"
    );
    assert!(err.contains("--update"), "the refusal says how: {err}");
    init(&url, &["--ack-wait", "7", "--update"], &tag);
    let (_, out, _) = jobq(&["init", "--nats", &url], "", &tag);
    assert!(
        out.contains("ack wait 7 s, max deliver 4"),
        "--update changed it: {out}"
    );
    // What init made, read back from the server.
    use async_nats::jetstream::stream::{RetentionPolicy, StorageType};
    let runtime = runtime();
    runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"));
        let day = Duration::from_secs(86_400);
        for (name, subject, retention, max_age) in [
            (
                "JOBQ",
                "jobq.tasks",
                RetentionPolicy::WorkQueue,
                Duration::ZERO,
            ),
            (
                "JOBQ_RESULTS",
                "jobq.results.>",
                RetentionPolicy::Limits,
                day,
            ),
            (
                "JOBQ_DEAD",
                "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBQ.workers",
                RetentionPolicy::Limits,
                day * 7,
            ),
        ] {
            let mut stream = js
                .get_stream(name)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let config = &stream.info().await.expect("stream info").config;
            assert_eq!(config.subjects, [subject], "{name}'s subject");
            assert_eq!(
                config.retention, retention,
                "{name}: the task stream must be a work queue (an acknowledged task leaves it); \
                 results and dead letters are kept by limits"
            );
            assert_eq!(
                config.storage,
                StorageType::File,
                "{name} must be on file storage, to survive a restart of the server"
            );
            assert_eq!(config.max_age, max_age, "{name}'s max age");
        }
    });
}

#[test]
fn every_task_is_answered_once_in_input_order_and_a_crash_is_a_dead_letter() {
    let Some(server) = Server::start("order") else {
        return;
    };
    let url = server.url();
    let tag = tag("order");
    init(&url, &["--ack-wait", "5", "--max-deliver", "3"], &tag);
    let mut w = worker(&url, "2", &tag, "worker");
    let input = "echo first\n\n# a comment\nspin 1000\ncount /nonexistent/file\ncrash\necho last\n";
    let (status, out, err) = jobq(&["submit", "--nats", &url, "--timeout", "50"], input, &tag);
    assert!(status.success(), "submit: {status}\n{out}{err}");
    let got = answers(&out);
    let lines: Vec<usize> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        lines,
        [1, 4, 5, 6, 7],
        "one answer per task, in input order: {out}"
    );
    assert_eq!(got[0].1, "ok first");
    assert!(got[1].1.starts_with("ok "), "{out}");
    assert!(
        got[2].1.starts_with("error /nonexistent/file"),
        "a failed task is an answer: {out}"
    );
    assert_eq!(
        got[3].1, "error dead-lettered after 3 deliveries",
        "a task that kills every pool worker that runs it ends as a dead letter after \
         max-deliver deliveries: {out}"
    );
    assert_eq!(got[4].1, "ok last");
    assert!(
        w.running(),
        "`crash` must kill a pool worker, never the queue worker (run tasks in the pool)"
    );
    // A second submit sees its own results only, not the first one's (still in the stream).
    let (status, out, err) = jobq(
        &["submit", "--nats", &url, "--timeout", "50"],
        "echo again\n",
        &tag,
    );
    assert!(
        status.success() && out == "1 ok again\n" && !err.contains("unknown task id"),
        "a second submit must read only its own results (a consumer filtered to its subject): \
         {status}, stdout {out:?}, stderr {err:?}"
    );
    let (_, stats, _) = jobq(&["stats", "--nats", &url], "", &tag);
    assert!(stats.contains("dead-lettered 1"), "{stats}");
    assert!(stats.contains("pending 0"), "{stats}");
    assert!(stats.contains("workers seen 1"), "{stats}");
    drain(w);
    assert_nothing_left(&tag);
}

#[test]
fn a_calm_run_of_tasks_longer_than_the_ack_wait_is_never_redelivered() {
    let Some(server) = Server::start("calm") else {
        return;
    };
    let url = server.url();
    let tag = tag("calm");
    init(&url, &["--ack-wait", "1", "--max-deliver", "2"], &tag);
    let a = worker(&url, "2", &tag, "a");
    let b = worker(&url, "2", &tag, "b");
    let input = "sleep 2500\n".repeat(6);
    let (status, out, err) = jobq(&["submit", "--nats", &url, "--timeout", "50"], &input, &tag);
    assert!(status.success(), "submit: {status}\n{out}{err}");
    assert_eq!(answers(&out).len(), 6, "{out}");
    assert!(out.lines().all(|l| l.ends_with(" ok slept")), "{out}");
    let (_, stats, _) = jobq(&["stats", "--nats", &url], "", &tag);
    assert!(
        stats.contains("redelivered 0"),
        "tasks of 2.5 s on live workers with an ack wait of 1 s must never be delivered \
         again: renew the lease (in-progress acks) while a task runs:\n{stats}"
    );
    drain(a);
    drain(b);
    assert_nothing_left(&tag);
}

#[test]
fn sigterm_lets_the_running_task_finish_then_the_worker_exits_0() {
    let Some(server) = Server::start("drain") else {
        return;
    };
    let url = server.url();
    let tag = tag("drain");
    init(&url, &["--ack-wait", "30"], &tag);
    let w = worker(&url, "1", &tag, "worker");
    let submit = spawn_submit(&url, "15", b"sleep 1500\n", &tag);
    // The task runs once the worker's pool holds it: a pool worker of the tag is then busy.
    testkit::wait_until(DEADLINE, "the task to reach the worker", || {
        consumer_in_flight(&url, &tag) == 1
    });
    drain(w);
    let (status, out, err) = wait_output(submit, DEADLINE);
    assert!(
        status.success() && out == "1 ok slept\n",
        "the task running at SIGTERM must run to its end and be answered before the worker \
         exits (submit: {status}, stdout {out:?}, stderr {err:?})"
    );
    assert_nothing_left(&tag);
}

#[test]
fn stats_reads_every_result_kept_and_leaves_no_consumer_behind() {
    let Some(server) = Server::start("stats") else {
        return;
    };
    let url = server.url();
    let tag = tag("stats");
    init(&url, &["--ack-wait", "30"], &tag);
    // More results than one fetch returns (1,000) from one worker, then one from another: the
    // second worker is seen only by a stats that reads past the first batch.
    let a = worker(&url, "4", &tag, "a");
    let input = "echo x\n".repeat(1_001);
    let (status, out, err) = jobq(
        &["submit", "--nats", &url, "--timeout", "100"],
        &input,
        &tag,
    );
    assert!(
        status.success() && out.lines().count() == 1_001,
        "submit: {status}\n{err}"
    );
    drain(a);
    let b = worker(&url, "1", &tag, "b");
    let (status, out, err) = jobq(
        &["submit", "--nats", &url, "--timeout", "50"],
        "echo y\n",
        &tag,
    );
    assert!(
        status.success() && out == "1 ok y\n",
        "submit: {status}\n{out}{err}"
    );
    let (status, stats, err) = jobq(&["stats", "--nats", &url], "", &tag);
    assert!(status.success(), "stats: {status}\n{err}");
    assert!(
        stats.contains("workers seen 2"),
        "1,002 results from two workers, the second's last: read them all, batch after batch \
         (a fetch returns at most 1,000):\n{stats}"
    );
    assert_eq!(
        consumers(&url),
        [("JOBQ", 1), ("JOBQ_DEAD", 0), ("JOBQ_RESULTS", 0)],
        "submit and stats must delete the consumers they made when they end (the workers' \
         durable consumer stays); a consumer left behind costs the server until it expires"
    );
    drain(b);
    assert_nothing_left(&tag);
}

#[test]
fn the_consumers_of_a_killed_submit_expire_by_themselves() {
    let Some(server) = Server::start("killed") else {
        return;
    };
    let url = server.url();
    let tag = tag("killed");
    init(&url, &["--ack-wait", "30"], &tag);
    // No worker: the submit waits for its answer, its consumers made.
    let mut submit = spawn_submit(&url, "100", b"echo a\n", &tag);
    testkit::wait_until(DEADLINE, "the submit's consumers", || {
        consumers(&url) == [("JOBQ", 1), ("JOBQ_DEAD", 1), ("JOBQ_RESULTS", 1)]
    });
    submit.kill().expect("SIGKILL the submit");
    submit.wait().expect("reap the submit");
    let runtime = runtime();
    runtime.block_on(async {
        use futures_util::StreamExt;
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"));
        for name in ["JOBQ_DEAD", "JOBQ_RESULTS"] {
            let stream = js.get_stream(name).await.expect("the stream");
            let mut list = stream.consumers();
            while let Some(info) = list.next().await {
                let info = info.expect("consumer info");
                let threshold = info.config.inactive_threshold;
                assert!(
                    threshold > Duration::ZERO && threshold <= Duration::from_secs(86_400),
                    "{name}'s consumer {} has an inactive threshold of {threshold:?}: a submit \
                     killed before it deletes its consumers leaves them on the server forever \
                     unless they expire once idle",
                    info.name
                );
            }
        }
    });
    assert_nothing_left(&tag);
}

/// How many consumers each stream of the queue has, read from the server.
fn consumers(url: &str) -> Vec<(&'static str, usize)> {
    let runtime = runtime();
    runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
        let mut counts = Vec::new();
        for name in ["JOBQ", "JOBQ_DEAD", "JOBQ_RESULTS"] {
            let mut stream = js
                .get_stream(name)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let info = stream.info().await.expect("stream info");
            counts.push((name, info.state.consumer_count));
        }
        counts
    })
}

#[test]
fn a_result_that_finds_the_server_down_is_published_when_it_returns() {
    let Some(mut server) = Server::start("outage") else {
        return;
    };
    let url = server.url();
    let tag = tag("outage");
    init(&url, &["--ack-wait", "60"], &tag);
    let said = tempfile::NamedTempFile::new().expect("a file for the worker's stderr");
    let mut command = Command::new(JOBQ);
    command
        .args(["worker", "--nats", &url, "--jobs", "1"])
        .env("JOBQ_TEST_TAG", &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(said.reopen().expect("reopen"));
    let mut w = Worker::from_command(command, "worker", DEADLINE);
    w.wait_for("ready ");
    let submit = spawn_submit(&url, "100", b"sleep 1500\n", &tag);
    testkit::wait_until(DEADLINE, "the task to reach the worker", || {
        consumer_in_flight(&url, &tag) == 1
    });
    // The task ends while the server is down: its result cannot be published yet.
    let port = server.stop();
    let stderr = || std::fs::read_to_string(said.path()).unwrap_or_default();
    testkit::wait_until(DEADLINE, "the worker to try to publish the result", || {
        let e = stderr();
        e.contains("cannot publish it") || e.contains("gave up")
    });
    let outage = stderr();
    assert!(
        !outage.contains("gave up"),
        "a result that cannot be published yet must be tried again until the server is back \
         (for a while: say 30 s), not given up at the first failure (the task would wait out \
         its ack wait and run again):\n{outage}"
    );
    server.start_again(port);
    let (status, out, err) = wait_output(submit, DEADLINE);
    assert!(
        status.success() && out == "1 ok slept\n",
        "submit: {status}, stdout {out:?}, stderr {err:?}"
    );
    let (_, stats, _) = jobq(&["stats", "--nats", &url], "", &tag);
    assert!(
        stats.contains("redelivered 0"),
        "the result published after the outage, then the ack: the task ran once\n{stats}\n\
         the worker said:\n{}",
        stderr()
    );
    drain(w);
    assert_nothing_left(&tag);
}

/// The `in flight` figure of `jobq stats`.
fn consumer_in_flight(url: &str, tag: &str) -> u64 {
    let (_, stats, _) = jobq(&["stats", "--nats", url], "", tag);
    stats
        .lines()
        .find_map(|l| l.strip_prefix("in flight "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The submit of the chaos test: its stdout lines on a channel.
struct Submit {
    child: Child,
    lines: Receiver<String>,
    said: Vec<String>,
}

impl Submit {
    fn start(url: &str, tasks: &Path, tag: &str) -> Submit {
        let mut child = Command::new(JOBQ)
            .args(["submit", "--nats", url, "--timeout", "240"])
            .arg(tasks)
            .env("JOBQ_TEST_TAG", tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn submit");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Submit {
            child,
            lines,
            said: Vec::new(),
        }
    }

    /// Waits until it printed `n` lines.
    fn wait_lines(&mut self, n: usize) {
        let deadline = Instant::now() + DEADLINE * 2;
        while self.said.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.said.push(line),
                Err(_) => panic!(
                    "submit printed {} lines, not {n}, within its deadline (status {:?})",
                    self.said.len(),
                    self.child.try_wait()
                ),
            }
        }
    }

    /// Reads to its end and returns its exit status.
    fn finish(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE * 4;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.said.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return self.child.wait().expect("reap submit");
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "submit did not finish; it printed {} lines",
                        self.said.len()
                    );
                }
            }
        }
    }
}

impl Drop for Submit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic generator (xorshift), seeded and printed, so a failing run can be
/// repeated with the same choices (`JOBQ_CHAOS_SEED`).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn two_thousand_tasks_survive_killed_and_stopped_workers_and_a_server_restart() {
    let Some(mut server) = Server::start("chaos") else {
        return;
    };
    let url = server.url();
    let tag = tag("chaos");
    let seed = std::env::var("JOBQ_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::from(rand_u32()) | 1);
    println!("chaos seed {seed} (JOBQ_CHAOS_SEED={seed} repeats these choices)");
    let mut rng = Rng(seed);
    let ack_wait = Duration::from_secs(2);
    init(&url, &["--ack-wait", "2", "--max-deliver", "3"], &tag);
    let names = ["w0", "w1", "w2", "w3"];
    let mut workers: Vec<Worker> = names.iter().map(|n| worker(&url, "2", &tag, n)).collect();

    let crashes = [150, 1000, 1850];
    let dir = tempfile::tempdir().expect("a temp dir");
    let tasks = dir.path().join("tasks");
    let text: String = (1..=2000)
        .map(|n| {
            if crashes.contains(&n) {
                "crash\n".to_string()
            } else if n % 2 == 0 {
                format!("echo task {n}\n")
            } else {
                "sleep 8\n".to_string()
            }
        })
        .collect();
    std::fs::write(&tasks, text).expect("write the tasks");
    let mut submit = Submit::start(&url, &tasks, &tag);

    // Three SIGKILLs of random workers, each replaced at once.
    for at in [200, 500, 1300] {
        submit.wait_lines(at);
        let victim = rng.below(workers.len());
        println!("after {at} answers: SIGKILL {}", workers[victim].name);
        workers[victim].signal(Signal::SIGKILL);
        let _ = workers[victim].wait_exit();
        let name = workers[victim].name;
        workers[victim] = worker(&url, "2", &tag, name);
        if at == 500 {
            // One worker stopped past the ack wait: its tasks go to the others; continued, it
            // finishes them late, and its answers must not count twice.
            submit.wait_lines(800);
            let stopped = rng.below(workers.len());
            println!(
                "after 800 answers: SIGSTOP {} for twice the ack wait",
                workers[stopped].name
            );
            workers[stopped].signal(Signal::SIGSTOP);
            // The fault itself lasts this long; nothing waits on it.
            std::thread::sleep(ack_wait * 2);
            workers[stopped].signal(Signal::SIGCONT);
            // And the server stopped and started again on its store, same port.
            submit.wait_lines(1000);
            println!("after 1000 answers: restart the server");
            server.restart_in_place();
        }
    }
    let status = submit.finish();
    let got = answers(&submit.said.join("\n"));
    let numbers: Vec<usize> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=2000).collect::<Vec<_>>(),
        "every task answered exactly once, in input order"
    );
    for (n, answer) in &got {
        let want = if crashes.contains(n) {
            "error dead-lettered after 3 deliveries".to_string()
        } else if n % 2 == 0 {
            format!("ok task {n}")
        } else {
            "ok slept".to_string()
        };
        assert_eq!(answer, &want, "line {n}");
    }
    assert!(
        status.success(),
        "submit exits 0 when every task was answered: {status}"
    );
    for w in workers {
        drain(w);
    }
    drop(server);
    assert_nothing_left(&tag);
}
