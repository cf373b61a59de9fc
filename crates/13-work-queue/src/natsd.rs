//! A real `nats-server` for the tests and the demo (not an exercise).
//!
//! [`NatsServer::start`] runs `nats-server -js -a 127.0.0.1 -p -1 -sd STORE`: JetStream on, bound
//! to the loopback interface, on a port the kernel picks (`-p -1`), with its store in a directory
//! the caller owns. Readiness is an event, not a sleep: the server logs
//! `Listening for client connections on 127.0.0.1:PORT` and then `Server is ready` on its
//! stderr, which a thread reads line by line (and keeps reading, so the server never blocks on a
//! full pipe). The guard stops the server on drop (SIGKILL, then reaps it), also when a test
//! panics; [`NatsServer::stop`] stops it the polite way (SIGTERM), as an operator would.
//!
//! Debian installs the server as `/usr/sbin/nats-server` (`apt-get install nats-server`), a
//! directory that is not on every user's `PATH`, so [`find`] looks there too.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to say it is ready (a loaded 2-core machine, a cold disk).
pub const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM before it is killed.
pub const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// The `nats-server` executable: on `PATH`, or where Debian and the official packages put it.
pub fn find() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin", "/usr/local/bin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// A running `nats-server`, stopped and reaped when dropped.
pub struct NatsServer {
    child: Child,
    url: String,
    store: PathBuf,
    log: Arc<Mutex<String>>,
}

impl NatsServer {
    /// Starts a server with JetStream whose store lives in `store` (created if absent).
    ///
    /// Returns `Ok(None)` when `nats-server` is not installed, and an error (with the server's
    /// log) when it does not become ready within [`READY_DEADLINE`].
    pub fn start(store: &Path) -> Result<Option<NatsServer>, String> {
        NatsServer::start_on(store, None)
    }

    /// Starts a server as [`start`](Self::start) does, on `port` when given (a port the kernel
    /// picks otherwise).
    pub fn start_on(store: &Path, port: Option<u16>) -> Result<Option<NatsServer>, String> {
        NatsServer::start_with(store, port, true)
    }

    /// Starts a server without JetStream (core NATS only), as [`start`](Self::start) does
    /// otherwise: what a client meets when the server it was given keeps no streams.
    pub fn start_without_jetstream(dir: &Path) -> Result<Option<NatsServer>, String> {
        NatsServer::start_with(dir, None, false)
    }

    fn start_with(
        store: &Path,
        port: Option<u16>,
        jetstream: bool,
    ) -> Result<Option<NatsServer>, String> {
        let Some(exe) = find() else {
            return Ok(None);
        };
        std::fs::create_dir_all(store)
            .map_err(|e| format!("cannot create the store dir {}: {e}", store.display()))?;
        let mut command = Command::new(&exe);
        if jetstream {
            command.arg("-js").arg("-sd").arg(store);
        }
        let mut child = command
            .args(["-a", "127.0.0.1", "-p"])
            .arg(port.map_or_else(|| "-1".to_string(), |p| p.to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        let stderr = child.stderr.take().expect("stderr was piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (lines_tx, lines) = mpsc::channel();
        let thread_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                thread_log.lock().unwrap().push_str(&line);
                thread_log.lock().unwrap().push('\n');
                // The receiver is gone once the server is ready; the log keeps growing.
                let _ = lines_tx.send(line);
            }
        });
        let mut server = NatsServer {
            child,
            url: String::new(),
            store: store.to_path_buf(),
            log,
        };
        server.url = server.wait_until_ready(&lines)?;
        Ok(Some(server))
    }

    /// Waits for the log lines that say the server listens and is ready; returns its URL.
    fn wait_until_ready(&mut self, lines: &Receiver<String>) -> Result<String, String> {
        const LISTENING: &str = "Listening for client connections on ";
        let deadline = Instant::now() + READY_DEADLINE;
        let mut url = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(at) = line.find(LISTENING) {
                        url = Some(format!("nats://{}", line[at + LISTENING.len()..].trim()));
                    }
                    if line.contains("Server is ready")
                        && let Some(url) = url
                    {
                        return Ok(url);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "nats-server (pid {}) did not log `Server is ready` within {:?}; \
                         its log:\n{}",
                        self.child.id(),
                        READY_DEADLINE,
                        self.log()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string());
                    return Err(format!(
                        "nats-server exited before it was ready ({status:?}); its log:\n{}",
                        self.log()
                    ));
                }
            }
        }
    }

    /// The URL clients connect to, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory JetStream keeps its streams in.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stops the server with SIGTERM (it flushes its store and exits) and reaps it; SIGKILL if
    /// it is still there after [`STOP_DEADLINE`]. Returns the server's log.
    pub fn stop(mut self) -> Result<String, String> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .map_err(|e| format!("cannot send SIGTERM to nats-server {pid}: {e}"))?;
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(self.log()),
                Ok(None) if Instant::now() < deadline => {
                    // No event to wait on without a pidfd here; the poll has a deadline.
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    return Err(format!(
                        "nats-server {pid} did not exit within {STOP_DEADLINE:?} of SIGTERM; \
                         its log:\n{}",
                        self.log()
                    ));
                }
                Err(e) => return Err(format!("cannot wait for nats-server {pid}: {e}")),
            }
        }
    }

    /// Stops the server (as [`stop`](Self::stop)) and starts a new one on the same store.
    pub fn restart(self) -> Result<NatsServer, String> {
        let store = self.store.clone();
        self.stop()?;
        NatsServer::start(&store)?.ok_or_else(|| "nats-server disappeared".to_string())
    }
}

impl NatsServer {
    /// Stops the server (as [`stop`](Self::stop)) and starts a new one on the same store and the
    /// same port, where its clients reconnect by themselves, as they do after an operator
    /// restarts a server.
    pub fn restart_in_place(self) -> Result<NatsServer, String> {
        let store = self.store.clone();
        let port: u16 = self
            .url
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .ok_or_else(|| format!("no port in {}", self.url))?;
        self.stop()?;
        NatsServer::start_on(&store, Some(port))?
            .ok_or_else(|| "nats-server disappeared".to_string())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts a server for a test, or prints why the test is skipped and returns `None`. The test's
/// name, for the messages, is its thread's name (the test harness names each test's thread).
///
/// Panics (failing the test) when the server is installed but does not start, and when it is
/// not installed while `cargo xtask check` grades the exercise (it sets `PROCLINGS_GRADING`):
/// a skipped test must not count as a passed one there.
pub fn start_or_skip(store: &Path) -> Option<NatsServer> {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    match NatsServer::start(store) {
        Ok(Some(server)) => Some(server),
        Ok(None) if std::env::var_os("PROCLINGS_GRADING").is_some() => panic!(
            "{test}: nats-server is not installed, and this exercise runs against a real one: \
             install it (apt-get install nats-server, or see \
             https://github.com/nats-io/nats-server/releases), then check again"
        ),
        Ok(None) => {
            println!(
                "{test}: skipped: nats-server is not installed (apt-get install nats-server, \
                 or see https://github.com/nats-io/nats-server/releases)"
            );
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

/// Returns once the server has processed everything `client` sent before it, a subscription
/// included, so that a message published afterwards from another connection reaches that
/// subscription. `Client::flush` only writes the client's buffer to the socket; this makes a
/// round trip: a message of the client's own, on a fresh inbox it subscribed to, comes back
/// through the server, which handles one connection's commands in order.
pub async fn round_trip(client: &async_nats::Client) -> Result<(), async_nats::Error> {
    use futures_util::StreamExt;
    let inbox = client.new_inbox();
    let mut back = client.subscribe(inbox.clone()).await?;
    client.publish(inbox, "".into()).await?;
    let deadline = READY_DEADLINE;
    match tokio::time::timeout(deadline, back.next()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the connection closed during a round trip to the server".into()),
        Err(_) => Err(format!("no round trip through the server within {deadline:?}").into()),
    }
}

/// A client connected to `server`; panics with the server's log when it cannot connect.
pub async fn connect(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}\n{}", server.url(), server.log()))
}

/// `fut`'s output, or a panic naming `what` when it takes longer than `deadline`.
pub async fn within<T>(
    deadline: Duration,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    tokio::time::timeout(deadline, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {deadline:?}"))
}

/// A queue as the tests make it (not with the learner's code): a work-queue stream `stream` on
/// `subject`, and a durable pull consumer `consumer` with explicit acks, the ack wait
/// `ack_wait` and at most `max_deliver` deliveries per task (-1: no cap).
pub async fn make_work_queue(
    js: &async_nats::jetstream::Context,
    (stream, subject, consumer): (&str, &str, &str),
    ack_wait: Duration,
    max_deliver: i64,
) -> async_nats::jetstream::consumer::PullConsumer {
    use async_nats::jetstream::consumer::{AckPolicy, pull};
    use async_nats::jetstream::stream::{Config, RetentionPolicy};
    let stream = js
        .create_stream(Config {
            name: stream.into(),
            subjects: vec![subject.into()],
            retention: RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .expect("create the stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some(consumer.into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait,
            max_deliver,
            ..Default::default()
        })
        .await
        .expect("create the consumer")
}

/// Publishes `task` on `subject` under the id `id` (the `Nats-Msg-Id` header), waits for the
/// server to store it, and returns its sequence.
pub async fn publish_task(
    js: &async_nats::jetstream::Context,
    subject: &str,
    id: &str,
    task: &str,
) -> u64 {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    js.publish_with_headers(subject.to_string(), headers, task.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("publish ack")
        .sequence
}

/// The next message on `results` as (its `Nats-Msg-Id` header, or "", its payload); panics
/// when none comes within `deadline`.
pub async fn next_answer(
    results: &mut async_nats::Subscriber,
    deadline: Duration,
) -> (String, String) {
    use futures_util::StreamExt;
    let result = within(deadline, "a result", results.next())
        .await
        .expect("a result");
    let id = result
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    (id, String::from_utf8_lossy(&result.payload).into_owned())
}

/// How many messages `stream` holds.
pub async fn stream_messages(js: &async_nats::jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream)
        .await
        .expect("stream")
        .get_info()
        .await
        .expect("stream info")
        .state
        .messages
}

/// A worker process for the tests (`work-queue-worker` in one of its modes), SIGCONTed, killed
/// and reaped on drop; its stdout lines arrive on a channel and are kept in [`Worker::said`].
pub struct Worker {
    child: Child,
    lines: Receiver<String>,
    /// Every line it printed that was read so far.
    pub said: Vec<String>,
    /// Its name in the messages.
    pub name: &'static str,
    deadline: Duration,
}

impl Worker {
    /// Starts `program ARGS`, stdin closed, stdout read line by line; `deadline` bounds every
    /// wait for it.
    pub fn start(program: &str, args: &[&str], name: &'static str, deadline: Duration) -> Worker {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        Worker::from_command(command, name, deadline)
    }

    /// Starts `command` (whose stdout must be piped) as a worker, as [`start`](Self::start) does.
    pub fn from_command(mut command: Command, name: &'static str, deadline: Duration) -> Worker {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", command.get_program()));
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Worker {
            child,
            lines,
            said: Vec::new(),
            name,
            deadline,
        }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line that starts with `prefix` and returns it; panics, with what it printed,
    /// after the deadline or at once when it has ended (its stdout closed).
    pub fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + self.deadline;
        let from = self.said.len();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.said.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "worker {} did not say `{prefix}...` within {:?} (its status: {:?}; it \
                     printed: {:?})",
                    self.name,
                    self.deadline,
                    self.child.try_wait(),
                    &self.said[from..]
                ),
            }
        }
    }

    /// Reads the lines it printed so far into [`Worker::said`], without waiting.
    pub fn read_said(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.said.push(line);
        }
        &self.said
    }

    /// Reads everything it prints until it exits, and returns how it ended; `None` when it is
    /// still running after the deadline.
    pub fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + self.deadline;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.said.push(line),
                // Its stdout is closed: it has exited, or is about to.
                Err(RecvTimeoutError::Disconnected) => return self.child.wait().ok(),
                Err(RecvTimeoutError::Timeout) => return None,
            }
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends it `sig`.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig).expect("signal the worker");
    }

    /// Kills it and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // A stopped process dies of SIGKILL too; continuing it first changes nothing else.
            self.signal(nix::sys::signal::Signal::SIGCONT);
        }
        self.kill();
    }
}

/// What most of the topic's tests start from: a server of their own on a temporary store, a
/// client, its JetStream context and the queue the tests make (see [`make_work_queue`]). The
/// server is stopped and the store removed when it is dropped. Destructure it with a name for
/// every field (`server: _server`): a field matched by `_` alone is dropped at once, and with
/// the server goes the test.
pub struct TestQueue {
    /// The queue's durable pull consumer.
    pub consumer: async_nats::jetstream::consumer::PullConsumer,
    /// The client's JetStream context.
    pub js: async_nats::jetstream::Context,
    /// A client connected to the server.
    pub client: async_nats::Client,
    /// The server.
    pub server: NatsServer,
    /// Its store; removed after the server has stopped (fields drop in order).
    pub store: tempfile::TempDir,
}

/// Starts a server on a temporary store named after `tag`, connects to it and makes the queue
/// `names` (stream, subject, consumer) with `ack_wait` and `max_deliver`; `None` when the test
/// is skipped (see [`start_or_skip`]).
pub async fn queue_or_skip(
    tag: &str,
    names: (&str, &str, &str),
    ack_wait: Duration,
    max_deliver: i64,
) -> Option<TestQueue> {
    let store = tempfile::Builder::new()
        .prefix(&format!("wq-{tag}-"))
        .tempdir()
        .expect("a temp dir for the server's store");
    let server = start_or_skip(store.path())?;
    let client = connect(&server).await;
    let js = async_nats::jetstream::new(client.clone());
    let consumer = make_work_queue(&js, names, ack_wait, max_deliver).await;
    Some(TestQueue {
        consumer,
        js,
        client,
        server,
        store,
    })
}

/// Subscribes `client` to `subject` and returns once the server has the subscription (see
/// [`round_trip`]), so that a message published from then on, by anyone, reaches it.
pub async fn subscribe_confirmed(
    client: &async_nats::Client,
    subject: impl ToString,
) -> async_nats::Subscriber {
    let subscriber = client
        .subscribe(subject.to_string())
        .await
        .unwrap_or_else(|e| panic!("subscribe to {}: {e}", subject.to_string()));
    round_trip(client)
        .await
        .expect("the server has the subscription");
    subscriber
}
