//! `jobq` (the week-9 practice project) under measurement: what a task costs through the broker
//! against week 7's `poold` on the same machine, how `sleep 20` tasks scale with 1, 4 and 16
//! workers, and how soon a task whose worker was SIGKILLed runs on another one.
//!
//! Everything here is a real process: a `nats-server` with JetStream on a temporary store
//! (started by `work_queue::natsd`, which finds the executable; without one the benches say they
//! skipped), `jobq init|worker|submit`, `poold` and `poolc`. The binaries are the reference
//! solutions in release mode, built by [`binaries`] into a target directory of their own (as
//! [`crate::par::solution_binary`] explains), or taken from the directory that
//! `PROCLINGS_QUEUE_BINS` names. A "worker" of these benches is one `jobq worker --jobs 1`
//! process: one process per worker, as separate hosts would run them, each with a pool of one.
//!
//! Every worker and server is started in a process group of its own, and dropping its guard
//! kills the whole group: a `jobq worker` killed alone (as [`Recovery`] does) leaves its pool
//! worker behind as an orphan until the task it runs ends, and the group still reaches it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use work_queue::natsd::NatsServer;

/// The environment variable naming a directory that holds `jobq`, `poold`, `poolc` and
/// `pool-worker` to benchmark instead of building them.
pub const BINS_ENV: &str = "PROCLINGS_QUEUE_BINS";

/// How long any one step may take before the bench gives up with an error (a loaded machine).
const DEADLINE: Duration = Duration::from_secs(60);

/// The programs under measurement.
#[derive(Debug, Clone)]
pub struct Bins {
    /// `jobq`, the work queue.
    pub jobq: PathBuf,
    /// `poold`, week 7's pool server (it finds `pool-worker` next to itself).
    pub poold: PathBuf,
    /// `poolc`, its client.
    pub poolc: PathBuf,
}

/// The binaries to benchmark (see the module's documentation).
pub fn binaries() -> io::Result<Bins> {
    let dir = match std::env::var_os(BINS_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => crate::par::build_solutions(
            &["work-queue", "process-pool"],
            &["jobq", "poold", "poolc", "pool-worker"],
            "queue-bench",
        )?,
    };
    for bin in ["jobq", "poold", "poolc", "pool-worker"] {
        if !dir.join(bin).is_file() {
            return Err(io::Error::other(format!(
                "{} has no {bin} (set {BINS_ENV} to a directory that holds jobq, poold, poolc \
                 and pool-worker, or unset it)",
                dir.display()
            )));
        }
    }
    Ok(Bins {
        jobq: dir.join("jobq"),
        poold: dir.join("poold"),
        poolc: dir.join("poolc"),
    })
}

/// Whether a `nats-server` is installed; the benches skip their groups without one.
pub fn broker_installed() -> bool {
    work_queue::natsd::find().is_some()
}

/// A `nats-server` on a temporary store with the queue made by `jobq init`; the server is
/// killed and the store removed when dropped.
pub struct Broker {
    // Declared before the store: fields drop in order, the server first.
    server: NatsServer,
    _store: tempfile::TempDir,
}

impl Broker {
    /// Starts a server and runs `jobq init --ack-wait ACK_WAIT_S`; `None` without nats-server.
    pub fn start(jobq: &Path, ack_wait_s: u64) -> io::Result<Option<Broker>> {
        let store = tempfile::Builder::new().prefix("jobq-bench-").tempdir()?;
        let server = match NatsServer::start(store.path()) {
            Ok(Some(server)) => server,
            Ok(None) => return Ok(None),
            Err(e) => return Err(io::Error::other(e)),
        };
        let out = Command::new(jobq)
            .args(["init", "--nats", server.url(), "--ack-wait"])
            .arg(ack_wait_s.to_string())
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "jobq init failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Some(Broker {
            server,
            _store: store,
        }))
    }

    /// The URL clients connect to.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

/// Starts `command` in a process group of its own with stdout piped, and reads its stdout until
/// a line that starts with `prefix`; the child and its stdout reader.
fn start_announcing(
    mut command: Command,
    prefix: &str,
) -> io::Result<(Child, BufReader<std::process::ChildStdout>)> {
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    loop {
        line.clear();
        let read = out.read_line(&mut line);
        match read {
            Ok(0) | Err(_) => {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let status = child.wait();
                return Err(io::Error::other(format!(
                    "{:?} ended before it said `{prefix}` ({status:?})",
                    command.get_program()
                )));
            }
            Ok(_) if line.starts_with(prefix) => return Ok((child, out)),
            Ok(_) => {}
        }
    }
}

/// Kills every process of the group led by `child` and reaps `child`.
fn kill_group(child: &mut Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
}

/// Whether a process other than a zombie is left in the process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the command's name: state, ppid, pgrp.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// One `jobq worker --jobs JOBS`, ready to take tasks (it said `ready`); its process group is
/// killed when dropped.
pub struct JobqWorker {
    child: Child,
    // Kept open: a worker whose stdout reader is gone would die of SIGPIPE on its next line.
    _stdout: BufReader<std::process::ChildStdout>,
    killed: bool,
}

impl JobqWorker {
    /// Starts a worker and waits until it says `ready`.
    pub fn start(jobq: &Path, url: &str, jobs: usize) -> io::Result<JobqWorker> {
        let mut command = Command::new(jobq);
        command.args(["worker", "--nats", url, "--jobs", &jobs.to_string()]);
        let (child, stdout) = start_announcing(command, "ready ")?;
        Ok(JobqWorker {
            child,
            _stdout: stdout,
            killed: false,
        })
    }

    /// Its pid, which is also its process group's id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The pids of its pool workers (its children).
    pub fn pool_pids(&self) -> Vec<i32> {
        let pid = self.pid();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// SIGKILLs the `jobq worker` process alone, as an out-of-memory kill would, and reaps it;
    /// its pool workers are left (orphans until their task ends, or the guard is dropped).
    pub fn kill(&mut self) -> io::Result<()> {
        kill(Pid::from_raw(self.pid()), Signal::SIGKILL)?;
        self.child.wait()?;
        self.killed = true;
        Ok(())
    }
}

impl Drop for JobqWorker {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        if !self.killed {
            let _ = self.child.wait();
        }
    }
}

/// `count` copies of `task` in a file of the caller's directory, one per line.
pub fn task_file(dir: &Path, name: &str, task: &str, count: usize) -> io::Result<PathBuf> {
    let path = dir.join(name);
    File::create(&path)?.write_all(&crate::par::lines(task, count as u64))?;
    Ok(path)
}

/// Checks the answers of `count` tasks as `jobq submit` and `poolc run` print them: one line
/// each, `N ok RESULT`.
fn check_answers(what: &str, out: &std::process::Output, count: usize) -> io::Result<()> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ok = stdout.lines().filter(|l| l.contains(" ok ")).count();
    if out.status.success() && ok == count && stdout.lines().count() == count {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what}: {ok} of {count} tasks answered ok ({}); stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `jobq submit FILE` to its end: every one of the `count` tasks must be answered ok.
pub fn jobq_submit(jobq: &Path, url: &str, tasks: &Path, count: usize) -> io::Result<()> {
    let out = Command::new(jobq)
        .args(["submit", "--nats", url, "--timeout"])
        .arg(DEADLINE.as_secs().to_string())
        .arg(tasks)
        .stdin(Stdio::null())
        .output()?;
    check_answers("jobq submit", &out, count)
}

/// A `poold --workers N` on a socket in a temp dir of its own; its process group is killed when
/// dropped.
pub struct Poold {
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
    socket: PathBuf,
    poolc: PathBuf,
    _dir: tempfile::TempDir,
}

impl Poold {
    /// Starts poold and waits until it says `ready`.
    pub fn start(bins: &Bins, workers: usize) -> io::Result<Poold> {
        let dir = tempfile::Builder::new().prefix("poold-bench-").tempdir()?;
        let socket = dir.path().join("pool.sock");
        let mut command = Command::new(&bins.poold);
        command
            .arg("--socket")
            .arg(&socket)
            .args(["--workers", &workers.to_string()]);
        let (child, stdout) = start_announcing(command, "ready")?;
        Ok(Poold {
            child,
            _stdout: stdout,
            socket,
            poolc: bins.poolc.clone(),
            _dir: dir,
        })
    }

    /// poold's pid, which is also its process group's id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// `poolc run FILE` to its end: every one of the `count` tasks must be answered ok.
    pub fn run(&self, tasks: &Path, count: usize) -> io::Result<()> {
        let out = Command::new(&self.poolc)
            .arg("--socket")
            .arg(&self.socket)
            .arg("run")
            .arg(tasks)
            .stdin(Stdio::null())
            .output()?;
        check_answers("poolc run", &out, count)
    }
}

impl Drop for Poold {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// A queue and `count` workers of one job each.
pub struct Fleet {
    /// The workers, each ready.
    pub workers: Vec<JobqWorker>,
    /// The server (dropped after the workers).
    pub broker: Broker,
}

impl Fleet {
    /// Starts `count` workers of `--jobs 1` on `broker`.
    pub fn start(jobq: &Path, broker: Broker, count: usize) -> io::Result<Fleet> {
        let workers = (0..count)
            .map(|_| JobqWorker::start(jobq, broker.url(), 1))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Fleet { workers, broker })
    }
}

/// The round trips a task makes through the broker, timed one kind at a time on a stream of
/// their own (`PROBE`, file storage, work-queue retention, explicit acks), with the same client
/// library jobq uses: means in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct BrokerCosts {
    /// A JetStream publish, waiting for the server's acknowledgement that it is stored.
    pub publish_us: f64,
    /// A pull of one message that is there (request out, message back).
    pub pull_us: f64,
    /// An acknowledgement that waits for the server's confirmation (`double_ack`, as jobq's).
    pub ack_us: f64,
    /// A core NATS round trip (a message to the client's own inbox and back): the floor.
    pub round_trip_us: f64,
}

/// Times `n` of each of the round trips of [`BrokerCosts`] against the server at `url`.
pub fn broker_costs(url: &str, n: usize) -> io::Result<BrokerCosts> {
    use async_nats::jetstream;
    use futures_util::StreamExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let err = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
        let client = async_nats::connect(url).await.map_err(|e| err(&e))?;
        let js = jetstream::new(client.clone());
        let consumer = work_queue::natsd::make_work_queue(
            &js,
            ("PROBE", "probe.tasks", "probe"),
            Duration::from_secs(30),
            -1,
        )
        .await;
        let subject = client.new_inbox();
        let mut inbox = client
            .subscribe(subject.clone())
            .await
            .map_err(|e| err(&e))?;
        let mut round_trip = Duration::ZERO;
        for _ in 0..n {
            let t = Instant::now();
            client
                .publish(subject.clone(), "x".into())
                .await
                .map_err(|e| err(&e))?;
            inbox
                .next()
                .await
                .ok_or_else(|| io::Error::other("the inbox closed"))?;
            round_trip += t.elapsed();
        }
        let mut publish = Duration::ZERO;
        for _ in 0..n {
            let t = Instant::now();
            js.publish("probe.tasks", "echo x".into())
                .await
                .map_err(|e| err(&e))?
                .await
                .map_err(|e| err(&e))?;
            publish += t.elapsed();
        }
        let (mut pull, mut ack) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..n {
            let t = Instant::now();
            let message = consumer
                .fetch()
                .max_messages(1)
                .messages()
                .await
                .map_err(|e| err(&e))?
                .next()
                .await
                .ok_or_else(|| io::Error::other("no message to pull"))?
                .map_err(|e| err(&e))?;
            pull += t.elapsed();
            let t = Instant::now();
            message.double_ack().await.map_err(|e| err(&e))?;
            ack += t.elapsed();
        }
        let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        Ok(BrokerCosts {
            publish_us: us(publish),
            pull_us: us(pull),
            ack_us: us(ack),
            round_trip_us: us(round_trip),
        })
    })
}

/// Opens `fifo` for writing: it returns once a reader has opened it, that is once a pool
/// worker runs the task `count FIFO`. Gives up after `deadline` (and releases its thread by
/// opening the FIFO for reading itself).
fn open_writer(fifo: &Path, deadline: Duration) -> io::Result<File> {
    let (tx, rx) = mpsc::channel();
    let path = fifo.to_path_buf();
    let opener = std::thread::spawn(move || {
        let _ = tx.send(std::fs::OpenOptions::new().write(true).open(path));
    });
    match rx.recv_timeout(deadline) {
        Ok(file) => {
            let _ = opener.join();
            file
        }
        Err(_) => {
            let release = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo);
            let _ = opener.join();
            drop(release);
            Err(io::Error::other(format!(
                "no worker ran the task within {deadline:?}"
            )))
        }
    }
}

/// Whether process `pid` has `path` open.
fn has_open(pid: i32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// Waits until process `pid` (not a child of ours) has exited, through a pidfd; at most
/// `deadline`.
fn wait_exit(pid: i32, deadline: Duration) -> io::Result<()> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        // ESRCH: it is gone already.
        return if e.raw_os_error() == Some(libc::ESRCH) {
            Ok(())
        } else {
            Err(e)
        };
    }
    let mut poll = libc::pollfd {
        fd: fd as i32,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the fd is ours and closed right after.
    let ready = unsafe { libc::poll(&mut poll, 1, deadline.as_millis() as i32) };
    // SAFETY: the pidfd opened above, closed once.
    unsafe { libc::close(fd as i32) };
    match ready {
        1 => Ok(()),
        0 => Err(io::Error::other(format!(
            "process {pid} still runs after {deadline:?}"
        ))),
        _ => Err(io::Error::last_os_error()),
    }
}

/// What one recovery measured.
#[derive(Debug, Clone, Copy)]
pub struct Recovered {
    /// From the SIGKILL of the worker that ran the task to the task running on the other one.
    pub kill_to_running: Duration,
    /// From the task starting on the first worker to the SIGKILL.
    pub start_to_kill: Duration,
}

/// Two workers of one job each on a queue with a given ack wait, and a FIFO that tells when a
/// task runs: the task is `count FIFO`, whose pool worker opens the FIFO for reading, which
/// lets the bench's open for writing return.
pub struct Recovery {
    jobq: PathBuf,
    fifo: PathBuf,
    workers: Vec<JobqWorker>,
    broker: Broker,
    _dir: tempfile::TempDir,
}

impl Recovery {
    /// A server with `jobq init --ack-wait ACK_WAIT_S` and two workers; `None` without
    /// nats-server.
    pub fn start(jobq: &Path, ack_wait_s: u64) -> io::Result<Option<Recovery>> {
        let Some(broker) = Broker::start(jobq, ack_wait_s)? else {
            return Ok(None);
        };
        let dir = tempfile::Builder::new()
            .prefix("jobq-recovery-")
            .tempdir()?;
        let fifo = dir.path().join("task.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
        let workers = (0..2)
            .map(|_| JobqWorker::start(jobq, broker.url(), 1))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Some(Recovery {
            jobq: jobq.to_path_buf(),
            fifo,
            workers,
            broker,
            _dir: dir,
        }))
    }

    /// The workers' pids (process group ids), for the checks that nothing is left.
    pub fn worker_pids(&self) -> Vec<i32> {
        self.workers.iter().map(JobqWorker::pid).collect()
    }

    /// The server's pid.
    pub fn broker_pid(&self) -> u32 {
        self.broker.pid()
    }

    /// One task submitted, SIGKILL of the worker that runs it as soon as it runs, and the wait
    /// until the other worker runs it; then the task is let finish, its one answer checked, and
    /// the killed worker replaced by a new one.
    pub fn once(&mut self) -> io::Result<Recovered> {
        let mut submit = Command::new(&self.jobq)
            .args(["submit", "--nats", self.broker.url(), "--timeout"])
            .arg(DEADLINE.as_secs().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let task = format!("count {}\n", self.fifo.display());
        let mut stdin = submit.stdin.take().expect("stdin is piped");
        stdin.write_all(task.as_bytes())?;
        drop(stdin);
        let measured = self.kill_and_wait();
        // Whatever happened, the submitter ends: it has its answer, or is killed.
        if measured.is_err() {
            let _ = submit.kill();
        }
        let out = submit.wait_with_output()?;
        let recovered = measured?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout.trim() != "1 ok 0" {
            return Err(io::Error::other(format!(
                "jobq submit after the recovery: {} {stdout:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(recovered)
    }

    fn kill_and_wait(&mut self) -> io::Result<Recovered> {
        let writer = open_writer(&self.fifo, DEADLINE)?;
        let started = Instant::now();
        let (index, orphan) = self
            .workers
            .iter()
            .enumerate()
            .find_map(|(i, w)| {
                w.pool_pids()
                    .into_iter()
                    .find(|&p| has_open(p, &self.fifo))
                    .map(|p| (i, p))
            })
            .ok_or_else(|| io::Error::other("no worker's pool worker has the FIFO open"))?;
        let killed = Instant::now();
        self.workers[index].kill()?;
        // The orphaned pool worker reads end-of-file, ends its task and exits (its answer has
        // nowhere to go); only then may the next open for writing wait for the other worker.
        drop(writer);
        wait_exit(orphan, DEADLINE)?;
        let writer = open_writer(&self.fifo, DEADLINE)?;
        let kill_to_running = killed.elapsed();
        drop(writer);
        self.workers[index] = JobqWorker::start(&self.jobq, self.broker.url(), 1)?;
        Ok(Recovered {
            kill_to_running,
            start_to_kill: killed - started,
        })
    }
}
