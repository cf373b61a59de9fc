//! Exercise: a pre-forked pool that loses no task when its workers die.
//!
//! Scenario: `Pool::start` forks `config.workers` persistent workers (the program
//! `config.program`, such as `pool-worker`, speaking `crate::frame` on its stdin and stdout)
//! once, and reuses them for every task. Callers `submit` task lines and get each outcome, with
//! its task id, on the channel they passed. Workers are ordinary child processes: anyone may
//! SIGKILL one at any moment (an out-of-memory kill, an operator, a test reading /proc).
//!
//! Goal, the contract the tests check:
//! - dispatch: a task goes to the live worker with the fewest outstanding tasks, and a worker
//!   never holds more than `config.depth` at once (tasks and answers may be larger than a
//!   pipe's buffer; a line too long for one frame is answered `Outcome::Failed`); tasks no
//!   worker can take wait in a queue of at most `config.queue` tasks: `try_submit` then
//!   returns `SubmitError::Busy`, `submit` blocks until there is room. After `shutdown`
//!   begins both return `ShuttingDown`.
//! - faults: a worker's death is noticed without polling (its stdout reaches EOF), the worker is
//!   reaped and replaced, and its outstanding tasks are dispatched again. A worker that
//!   breaks the protocol (a frame the pool cannot read) is killed and handled the same way.
//!   A task whose worker died under it `config.quarantine_after` times is answered
//!   `Outcome::Quarantined` instead.
//!   A task outstanding longer than `config.task_timeout` gets `Outcome::TimedOut` and its
//!   worker is killed (and replaced). Every task gets exactly one `Done`, even if a result
//!   races its worker's death or its timeout. A replacement that cannot be started (its
//!   program gone, say) is tried again by itself after a delay that grows with each failure;
//!   while no worker can take tasks and starting one has failed three times in a row, waiting
//!   tasks are answered `Outcome::Failed` with the reason ("cannot start a worker: ...").
//! - recycling: a worker that has served `config.max_tasks` tasks takes no more, is told to exit
//!   (its stdin is closed) once idle, and is replaced.
//! - lifecycle: `resize` changes the number of workers while tasks run; `rolling_restart`
//!   replaces every worker one at a time, never with fewer than the configured number able to
//!   take tasks and without losing a task; `shutdown(grace)` refuses new tasks, lets every
//!   accepted task finish, stops the workers and returns the final `Stats`; tasks still running
//!   when `grace` has passed are answered `Outcome::Failed("pool shut down")` and their workers
//!   killed. An idle worker is not killed: its stdin is closed and it exits by itself; one
//!   still there when the grace is over (and at least a second after its stdin closed) is
//!   killed. Dropping a pool is a shutdown with no grace. No worker outlives the pool, and none
//!   is left a zombie.
//!
//! Chapter: `docs/src/11-process-pool.md#pool`. Check: `cargo xtask check process-pool/pool`.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd, poll};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::frame::{Frame, read_frame, write_frame};
use crate::task::decode;
/// How a pool is built.
#[derive(Debug, Clone)]
pub struct Config {
    /// The worker program and its arguments.
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// How many workers to keep alive.
    pub workers: usize,
    /// The most tasks one worker holds at once (1: strictly one at a time).
    pub depth: usize,
    /// The most tasks waiting for a worker; beyond it `try_submit` says Busy.
    pub queue: usize,
    /// A worker is recycled after serving this many tasks.
    pub max_tasks: Option<u64>,
    /// A task outstanding longer than this is answered TimedOut and its worker killed.
    pub task_timeout: Option<Duration>,
    /// A task is quarantined after this many workers died under it.
    pub quarantine_after: u32,
}

impl Config {
    /// A configuration with `workers` workers running `program` and the defaults: depth 1, a
    /// queue of 1024, no recycling, no timeout, quarantine after 3 deaths.
    pub fn new(program: impl Into<PathBuf>, workers: usize) -> Config {
        Config {
            program: program.into(),
            args: Vec::new(),
            workers,
            depth: 1,
            queue: 1024,
            max_tasks: None,
            task_timeout: None,
            quarantine_after: 3,
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The worker's result.
    Ok(String),
    /// The worker's reason, or the pool's (`pool shut down`).
    Failed(String),
    /// The task outlived `task_timeout`; its worker was killed.
    TimedOut,
    /// Workers kept dying under this task; it will not be tried again.
    Quarantined,
}

/// The answer to one task, sent once on the channel given to `submit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The id `submit` returned.
    pub id: u64,
    pub outcome: Outcome,
}

/// Why a task was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full (`try_submit` only).
    Busy,
    /// The pool is shutting down.
    ShuttingDown,
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubmitError::Busy => "pool busy",
            SubmitError::ShuttingDown => "shutting down",
        })
    }
}

/// A snapshot of the pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live workers (including one being retired).
    pub workers: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Tasks a worker holds.
    pub in_flight: usize,
    /// Tasks answered Ok.
    pub done: u64,
    /// Tasks answered any other way.
    pub failed: u64,
    /// Workers started after the first ones: replacements for workers that died, were killed
    /// or recycled, and additions by `resize`.
    pub restarts: u64,
}

/// What the pool's threads share: the state, under one lock, and two ways to wake a sleeper.
struct Shared {
    core: Mutex<Core>,
    /// Submitters blocked on a full queue wait here.
    room: Arc<Condvar>,
    /// An eventfd in the event thread's `poll`: a write to it wakes that thread.
    wake: OwnedFd,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state and wakes the event thread if `f` changed something it must see
    /// (a new worker to watch, bytes left to write, an earlier deadline, a shutdown).
    fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let mut core = self.lock();
        let result = f(&mut core);
        let nudge = std::mem::take(&mut core.nudge);
        let answers = std::mem::take(&mut core.outbox);
        drop(core);
        if nudge {
            self.wake();
        }
        deliver(answers);
        result
    }

    fn wake(&self) {
        // The counter only has to become non-zero; a full counter (EAGAIN) is awake already.
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
    }
}

/// A running pool.
pub struct Pool {
    shared: Arc<Shared>,
    events: Mutex<Option<JoinHandle<Stats>>>,
}

impl Pool {
    /// Starts `config.workers` workers and the thread that watches them.
    ///
    /// # Errors
    /// The worker program cannot be started (nothing is left running then).
    pub fn start(config: Config) -> io::Result<Pool> {
        let room = Arc::new(Condvar::new());
        let mut core = Core {
            target: config.workers,
            config,
            room: Arc::clone(&room),
            workers: HashMap::new(),
            next_worker: 0,
            tasks: HashMap::new(),
            queue: VecDeque::new(),
            queued: 0,
            closed: false,
            next_id: 1,
            rolling: VecDeque::new(),
            stats: Stats::default(),
            closing: None,
            sleeps_until: None,
            nudge: false,
            outbox: Vec::new(),
            respawn: None,
        };
        for _ in 0..core.target {
            // On error, dropping `core` kills and reaps the workers started so far.
            core.spawn_worker()?;
        }
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            room,
            wake,
        });
        let watcher = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("pool-events".into())
            .spawn(move || event_loop(&watcher))?;
        Ok(Pool {
            shared,
            events: Mutex::new(Some(handle)),
        })
    }

    /// Queues `line`; its `Done` will be sent on `reply`. Blocks while the queue is full.
    ///
    /// # Errors
    /// `ShuttingDown` once `shutdown` has begun.
    pub fn submit(&self, line: &str, reply: &Sender<Done>) -> Result<u64, SubmitError> {
        self.enqueue(line, reply, true, false).map(|(id, _)| id)
    }

    /// Queues `line` like `submit`, but returns `Busy` at once if the queue is full.
    ///
    /// # Errors
    /// `Busy` or `ShuttingDown`.
    pub fn try_submit(&self, line: &str, reply: &Sender<Done>) -> Result<u64, SubmitError> {
        self.enqueue(line, reply, false, false).map(|(id, _)| id)
    }

    /// Queues a task and dispatches what it can; with `claim`, the caller also takes the
    /// reading of its task's worker, if the task went to one at once.
    fn enqueue(
        &self,
        line: &str,
        reply: &Sender<Done>,
        wait: bool,
        claim: bool,
    ) -> Result<(u64, Option<Claim>), SubmitError> {
        let mut core = self.shared.lock();
        loop {
            if core.closed {
                return Err(SubmitError::ShuttingDown);
            }
            if core.queued < core.config.queue {
                break;
            }
            if !wait {
                return Err(SubmitError::Busy);
            }
            // Backpressure: the caller sleeps until a queued task goes to a worker.
            core = self
                .shared
                .room
                .wait(core)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let id = core.next_id;
        core.next_id += 1;
        core.queued += 1;
        core.tasks.insert(
            id,
            Task {
                line: line.to_string(),
                reply: reply.clone(),
                deaths: 0,
                holds_slot: true,
                running: None,
            },
        );
        core.queue.push_back(id);
        // The submitting thread writes the task to a free worker itself: handing it to another
        // thread first would cost a wake-up per task.
        core.dispatch();
        // No worker, and none could be started lately: say so now rather than wait.
        core.fail_if_workerless();
        let claimed = if claim { core.claim(id) } else { None };
        // A worker given a task must have its answers read: by a caller that claimed it, or
        // by the event thread, which may have to add its stdout to what it watches.
        if core.unread_unwatched() {
            core.nudge = true;
        }
        let nudge = std::mem::take(&mut core.nudge);
        let answers = std::mem::take(&mut core.outbox);
        drop(core);
        if nudge {
            self.shared.wake();
        }
        deliver(answers);
        Ok((id, claimed))
    }

    /// Runs one task and waits for its outcome.
    ///
    /// # Errors
    /// As `submit`.
    pub fn run(&self, line: &str) -> Result<Outcome, SubmitError> {
        let (tx, rx) = mpsc::channel();
        let (id, mut claim) = self.enqueue(line, &tx, true, true)?;
        // The task holds the only sender now: if the pool ever dropped the task unanswered,
        // `recv` would fail instead of waiting forever.
        drop(tx);
        let mut scratch = [0u8; 4096];
        // While it holds a claim, this thread sleeps on its worker's stdout itself, and the
        // round trip wakes two threads (the worker, then this one) as on a bare pipe. Deaths
        // stay the event thread's business: it watches the worker's pidfd, and this thread
        // watches it too so as to wake up if the answer will never come from that worker.
        while let Some(held) = claim.take() {
            let woke = {
                let mut fds = [
                    PollFd::new(&*held.stdout, PollFlags::IN),
                    PollFd::new(&*held.pidfd, PollFlags::IN),
                ];
                // Whether the worker has exited: its pidfd is readable.
                poll(&mut fds, None).map(|_| !fds[1].revents().is_empty())
            };
            claim = self.shared.with_core(|core| match woke {
                Ok(exited) => core.after_wait(held, id, exited, &mut scratch),
                Err(Errno::INTR) => core.after_wait(held, id, false, &mut scratch),
                Err(_) => {
                    core.unclaim(held.worker);
                    None
                }
            });
            if let Ok(done) = rx.try_recv() {
                // Answered by another thread just now (a timeout, a shutdown): let go of the
                // worker, which that thread has killed anyway.
                if let Some(held) = claim {
                    self.shared.with_core(|core| core.unclaim(held.worker));
                }
                return Ok(done.outcome);
            }
        }
        // The answer comes on the channel: from the event thread, or from whoever decided it
        // (a timeout, a quarantine, a shutdown) once it has released the lock.
        rx.recv()
            .map(|done| done.outcome)
            .map_err(|_| SubmitError::ShuttingDown)
    }

    /// The current counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats()
    }

    /// The pids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared
            .lock()
            .workers
            .values()
            .map(Worker::pid)
            .collect()
    }

    /// Changes the number of workers to `workers` (at least 1).
    pub fn resize(&self, workers: usize) {
        self.shared.with_core(|core| core.resize(workers.max(1)));
    }

    /// Replaces every worker, one at a time.
    pub fn rolling_restart(&self) {
        self.shared.with_core(Core::rolling_restart);
    }

    /// Refuses new tasks, finishes the accepted ones (for at most `grace`), stops every worker
    /// and returns the final counters. Later calls return zeroed counters at once.
    pub fn shutdown(&self, grace: Duration) -> Stats {
        let handle = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(handle) = handle else {
            return Stats::default();
        };
        self.shared.with_core(|core| {
            core.closed = true;
            core.closing = Some(Instant::now() + grace);
            core.nudge = true;
        });
        // Wake submitters blocked on a full queue: they must see ShuttingDown, not wait forever.
        self.shared.room.notify_all();
        handle.join().unwrap_or_default()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

/// What a ready descriptor in the event thread's `poll` belongs to.
#[derive(Clone, Copy)]
enum Source {
    Wake,
    /// A worker's stdout: answers, or EOF when it is gone.
    Answers(u64),
    /// A worker's pidfd: readable once the process has exited.
    Exit(u64),
    /// A worker's stdin, watched only while bytes of a task wait to go into it.
    Room(u64),
}

/// A caller's hold on the reading of one worker's stdout, while it waits for its task's answer.
struct Claim {
    worker: u64,
    stdout: Arc<OwnedFd>,
    pidfd: Arc<OwnedFd>,
}

/// The event thread: one `poll` over the workers' stdouts that no waiting caller reads, their
/// pidfds, the stdins that have bytes waiting, and the wake-up eventfd, with the nearest
/// deadline (a task's, the shutdown's, a retry's) as its timeout. It reads those answers and
/// sends them on, notices deaths, expires tasks, restarts workers, and ends the pool at
/// shutdown.
fn event_loop(shared: &Shared) -> Stats {
    let mut scratch = vec![0u8; 64 * 1024];
    let mut ready: Vec<Source> = Vec::new();
    loop {
        // One hold of the lock per wake-up: handle what poll reported, then everything that
        // follows from it, then note what to watch next.
        let mut core = shared.lock();
        for source in ready.drain(..) {
            match source {
                Source::Wake => {
                    let mut count = [0u8; 8];
                    let _ = rustix::io::read(&shared.wake, &mut count);
                }
                // A caller that claimed this worker since reads its answers itself.
                Source::Answers(worker) => {
                    if core.workers.get(&worker).is_some_and(|w| !w.claimed) {
                        core.read_answers(worker, &mut scratch);
                    }
                }
                Source::Exit(worker) => {
                    // Answers it wrote before dying are still in the pipe: take them first.
                    core.read_answers(worker, &mut scratch);
                    core.worker_gone(worker);
                }
                Source::Room(worker) => {
                    if let Some(w) = core.workers.get_mut(&worker) {
                        w.flush();
                    }
                }
            }
        }
        let now = Instant::now();
        core.expire(now);
        core.dispatch();
        core.retire_idle();
        if let Some(deadline) = core.closing
            && (core.tasks.is_empty() || now >= deadline)
        {
            let (stats, workers) = core.close();
            let answers = std::mem::take(&mut core.outbox);
            drop(core);
            deliver(answers);
            stop_workers(workers, deadline.max(now + EXIT_DEADLINE));
            return stats;
        }
        let until = core.next_deadline();
        core.sleeps_until = until;
        // Everything changed so far is in what this thread is about to watch.
        core.nudge = false;
        let watched = core.watch_list();
        let answers = std::mem::take(&mut core.outbox);
        drop(core);
        // Answers go out once the lock is free: a woken caller's next submit does not have to
        // wait for this thread.
        deliver(answers);
        let timeout = match until.map(|t| Timespec::try_from(t.saturating_duration_since(now))) {
            Some(Ok(t)) => Some(t),
            // A deadline too far away to express: sleep until something happens.
            Some(Err(_)) | None => None,
        };
        let mut fds: Vec<PollFd<'_>> = std::iter::once(PollFd::new(&shared.wake, PollFlags::IN))
            .chain(
                watched
                    .iter()
                    .map(|(_, fd, flags)| PollFd::new(&**fd, *flags)),
            )
            .collect();
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => {
                eprintln!("pool: poll failed: {e}; stopping");
                drop(fds);
                let mut core = shared.lock();
                let (stats, workers) = core.close();
                let answers = std::mem::take(&mut core.outbox);
                drop(core);
                deliver(answers);
                stop_workers(workers, Instant::now() + EXIT_DEADLINE);
                return stats;
            }
        }
        ready.extend(
            std::iter::once(Source::Wake)
                .chain(watched.iter().map(|&(source, _, _)| source))
                .zip(fds.iter().map(PollFd::revents))
                .filter(|(_, revents)| !revents.is_empty())
                .map(|(source, _)| source),
        );
    }
}

/// How long an idle worker has to exit by itself once its stdin is closed at shutdown, beyond
/// what is left of the grace; SIGKILL after that.
const EXIT_DEADLINE: Duration = Duration::from_secs(1);

/// Waits until every worker has exited (each saw its stdin closed) or `until` has passed, then
/// kills those still there, and reaps them all. Sleeps in `poll` on their pidfds (or stdouts,
/// whose EOF is the death, where there is no pidfd).
fn stop_workers(mut workers: Vec<Worker>, until: Instant) {
    let mut scratch = [0u8; 4096];
    loop {
        workers.retain_mut(|w| !matches!(w.child.try_wait(), Ok(Some(_)) | Err(_)));
        let now = Instant::now();
        if workers.is_empty() || now >= until {
            break;
        }
        let Ok(left) = Timespec::try_from(until - now) else {
            break;
        };
        let mut fds: Vec<PollFd<'_>> = workers
            .iter()
            .map(|w| match &w.pidfd {
                Some(pidfd) => PollFd::new(&**pidfd, PollFlags::IN),
                None => PollFd::new(&*w.stdout, PollFlags::IN),
            })
            .collect();
        match poll(&mut fds, Some(&left)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(_) => break,
        }
        drop(fds);
        for w in &workers {
            // What a worker still writes is nobody's answer now; read it so its stdout can
            // reach EOF (and, without a pidfd, stop being readable).
            while matches!(rustix::io::read(&*w.stdout, &mut scratch), Ok(n) if n > 0) {}
        }
    }
    for w in workers {
        w.finish();
    }
}

/// Sends answers collected under the lock. A submitter that has gone away simply misses its
/// answer.
fn deliver(answers: Vec<(Sender<Done>, Done)>) {
    for (reply, done) in answers {
        let _ = reply.send(done);
    }
}

/// A task the pool knows about, from its submission until its Done is sent.
struct Task {
    line: String,
    reply: Sender<Done>,
    /// How many workers died while holding it.
    deaths: u32,
    /// Whether it still counts against the queue's limit (it does until first dispatched).
    holds_slot: bool,
    /// Where it runs and until when, if it runs.
    running: Option<(u64, Option<Instant>)>,
}

struct Worker {
    child: Child,
    /// Non-blocking; `None` once closed (the worker exits when it reads EOF) or broken.
    stdin: Option<Arc<OwnedFd>>,
    /// Non-blocking. Shared with the event thread's poll set while it sleeps.
    stdout: Arc<OwnedFd>,
    /// `None` on kernels without `pidfd_open` (before 5.3): EOF on stdout then suffices.
    pidfd: Option<Arc<OwnedFd>>,
    /// Task frames not yet accepted by the stdin pipe.
    unsent: Vec<u8>,
    /// Bytes read from stdout that do not make a whole frame yet.
    unread: Vec<u8>,
    outstanding: Vec<u64>,
    served: u64,
    /// Takes no new task; its stdin is closed once it is idle.
    retiring: bool,
    /// A caller is reading this stdout while it waits for its answer.
    claimed: bool,
    /// The last task went to a caller that read the answer itself: while idle, the event
    /// thread leaves this stdout to the next such caller (the pidfd still tells of a death).
    caller_reads: bool,
    /// In the event thread's current poll set.
    watched: bool,
}

impl Worker {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes what the stdin pipe accepts without blocking. Returns whether bytes are left.
    fn flush(&mut self) -> bool {
        let Some(stdin) = &self.stdin else {
            self.unsent.clear();
            return false;
        };
        while !self.unsent.is_empty() {
            match rustix::io::write(&**stdin, &self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return true,
                Err(_) => {
                    // A broken pipe: the worker is dying. Its death re-queues what it holds;
                    // until then it takes nothing more.
                    self.stdin = None;
                    self.unsent.clear();
                    return false;
                }
            }
        }
        false
    }

    /// Kills (if still alive) and reaps the process.
    fn finish(mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Core {
    config: Config,
    target: usize,
    room: Arc<Condvar>,
    workers: HashMap<u64, Worker>,
    next_worker: u64,
    tasks: HashMap<u64, Task>,
    queue: VecDeque<u64>,
    /// Tasks holding a place in the queue (at most `config.queue`).
    queued: usize,
    /// Set by shutdown: no new task is accepted.
    closed: bool,
    next_id: u64,
    /// Workers still to replace in a rolling restart, oldest first.
    rolling: VecDeque<u64>,
    stats: Stats,
    /// Set by shutdown: the moment after which the remaining tasks are abandoned.
    closing: Option<Instant>,
    /// When the event thread's `poll` times out by itself (`None`: never), as of its last sleep.
    sleeps_until: Option<Instant>,
    /// A change the sleeping event thread must see: whoever made it writes to the eventfd.
    nudge: bool,
    /// Answers decided under the lock, sent by whoever releases it.
    outbox: Vec<(Sender<Done>, Done)>,
    /// Set while starting a worker fails: when to try again, and how it failed.
    respawn: Option<Respawn>,
}

/// Starting a worker failed `failures` times in a row; the next try is at `at`.
struct Respawn {
    at: Instant,
    failures: u32,
    error: String,
}

/// The first retry of a worker that could not start comes after this; each failure doubles it.
const RESPAWN_FIRST: Duration = Duration::from_millis(10);
/// The longest wait between two tries.
const RESPAWN_MAX: Duration = Duration::from_secs(1);
/// After this many failures in a row with no worker able to take tasks, waiting tasks are
/// answered with the error instead of waiting for a worker that may never come.
const RESPAWN_GIVE_UP: u32 = 3;

impl Drop for Core {
    fn drop(&mut self) {
        for (_, worker) in self.workers.drain() {
            worker.finish();
        }
    }
}

impl Core {
    fn spawn_worker(&mut self) -> io::Result<()> {
        let mut child = Command::new(&self.config.program)
            .args(&self.config.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        // std creates these pipes close-on-exec: the next worker does not inherit this one's
        // ends, so this worker's stdout reaches EOF when, and only when, this worker is gone.
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("worker started without pipes"));
        };
        let stdin = OwnedFd::from(stdin);
        let stdout = OwnedFd::from(stdout);
        // O_NONBLOCK on our ends only (the worker's ends are other open file descriptions): the
        // event thread must never block on one worker while the others wait.
        let nonblocking = rustix::io::ioctl_fionbio(&stdin, true)
            .and_then(|()| rustix::io::ioctl_fionbio(&stdout, true));
        if let Err(e) = nonblocking {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
        // The child is not reaped before this pidfd is closed, so its pid cannot be reused
        // under it. A pidfd is always close-on-exec.
        let pidfd = i32::try_from(child.id())
            .ok()
            .and_then(Pid::from_raw)
            .and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
        let id = self.next_worker;
        self.next_worker += 1;
        self.workers.insert(
            id,
            Worker {
                child,
                stdin: Some(Arc::new(stdin)),
                stdout: Arc::new(stdout),
                pidfd: pidfd.map(Arc::new),
                unsent: Vec::new(),
                unread: Vec::new(),
                outstanding: Vec::new(),
                served: 0,
                retiring: false,
                claimed: false,
                caller_reads: false,
                watched: false,
            },
        );
        // A new stdout and pidfd to watch.
        self.nudge = true;
        Ok(())
    }

    /// What the event thread polls: every pidfd, the stdins with bytes waiting, and the stdouts
    /// no caller reads: those of workers with answers due, and of idle workers whose last
    /// task was not read by its caller (without a pidfd, every stdout: its EOF is the death).
    fn watch_list(&mut self) -> Vec<(Source, Arc<OwnedFd>, PollFlags)> {
        let mut list = Vec::with_capacity(self.workers.len() * 2);
        for (&id, w) in &mut self.workers {
            w.watched =
                w.pidfd.is_none() || (!w.claimed && (!w.outstanding.is_empty() || !w.caller_reads));
            if w.watched {
                list.push((Source::Answers(id), Arc::clone(&w.stdout), PollFlags::IN));
            }
            if let Some(pidfd) = &w.pidfd {
                list.push((Source::Exit(id), Arc::clone(pidfd), PollFlags::IN));
            }
            if let Some(stdin) = &w.stdin
                && !w.unsent.is_empty()
            {
                list.push((Source::Room(id), Arc::clone(stdin), PollFlags::OUT));
            }
        }
        list
    }

    /// The nearest moment something must happen without an event: a running task's deadline,
    /// the end of the shutdown's grace, or the next try at starting a worker.
    fn next_deadline(&self) -> Option<Instant> {
        let task = self
            .workers
            .values()
            .flat_map(|w| &w.outstanding)
            .filter_map(|id| self.tasks.get(id))
            .filter_map(|t| t.running.and_then(|(_, until)| until))
            .min();
        [task, self.closing, self.respawn.as_ref().map(|r| r.at)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Gives the caller of task `id` the reading of its worker's stdout, if the task runs and
    /// no other caller reads that worker. Needs a pidfd: a claimed stdout is not the event
    /// thread's to watch, and the pidfd is how it still learns of the worker's death.
    fn claim(&mut self, id: u64) -> Option<Claim> {
        let (worker, _) = self.tasks.get(&id)?.running?;
        let w = self.workers.get_mut(&worker)?;
        if w.claimed {
            return None;
        }
        let pidfd = Arc::clone(w.pidfd.as_ref()?);
        w.claimed = true;
        w.caller_reads = true;
        Some(Claim {
            worker,
            stdout: Arc::clone(&w.stdout),
            pidfd,
        })
    }

    fn unclaim(&mut self, worker: u64) {
        if let Some(w) = self.workers.get_mut(&worker) {
            w.claimed = false;
        }
        self.settle();
    }

    /// A claiming caller woke: it reads its worker's answers (and anyone else's there) and
    /// keeps its claim while its task still waits on that worker. Otherwise it lets the claim
    /// go and claims wherever its task runs now (after a death), if it can.
    /// A worker seen to have exited is handled here as the event thread would: its pidfd stays
    /// readable, and waiting for that thread to get the lock would spin.
    fn after_wait(
        &mut self,
        held: Claim,
        id: u64,
        exited: bool,
        scratch: &mut [u8],
    ) -> Option<Claim> {
        self.read_answers(held.worker, scratch);
        if exited {
            self.worker_gone(held.worker);
        }
        let still = self
            .tasks
            .get(&id)
            .and_then(|t| t.running)
            .is_some_and(|(w, _)| w == held.worker);
        if still && self.workers.get(&held.worker).is_some_and(|w| w.claimed) {
            self.settle();
            return Some(held);
        }
        self.unclaim(held.worker);
        self.claim(id)
    }

    /// What the event thread would do after reading answers, done by a caller that read them:
    /// freed workers take queued tasks, idle retiring ones are let go, and the event thread is
    /// told of what only it can watch (a stdout with answers due, the end of a shutdown).
    fn settle(&mut self) {
        self.dispatch();
        self.retire_idle();
        if self.unread_unwatched() || self.closing.is_some() {
            self.nudge = true;
        }
    }

    /// Whether some worker owes answers that nobody will read: not claimed, not in the event
    /// thread's poll set.
    fn unread_unwatched(&self) -> bool {
        self.workers
            .values()
            .any(|w| !w.claimed && !w.watched && !w.outstanding.is_empty())
    }

    fn stats(&self) -> Stats {
        Stats {
            workers: self.workers.len(),
            queued: self.queue.len(),
            in_flight: self.tasks.len() - self.queue.len(),
            ..self.stats
        }
    }

    fn resize(&mut self, n: usize) {
        self.target = n;
        self.fill();
        // Retire the surplus, idle workers first.
        let mut active: Vec<(usize, u64)> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.retiring)
            .map(|(&id, w)| (w.outstanding.len(), id))
            .collect();
        active.sort_unstable();
        for &(_, id) in active.iter().take(active.len().saturating_sub(n)) {
            if let Some(w) = self.workers.get_mut(&id) {
                w.retiring = true;
            }
        }
        // The event thread closes the stdins of the idle ones.
        self.nudge = true;
    }

    fn rolling_restart(&mut self) {
        let mut old: Vec<u64> = self
            .workers
            .iter()
            .filter(|(id, w)| !w.retiring && !self.rolling.contains(id))
            .map(|(&id, _)| id)
            .collect();
        old.sort_unstable();
        let idle = self.rolling.is_empty();
        self.rolling.extend(old);
        if idle {
            self.roll_next();
        }
        self.nudge = true;
    }

    /// Sends `outcome` for task `id`, once: the task is forgotten as it is answered, so a
    /// second answer (a result that raced a timeout or a death) finds nothing to answer.
    fn finish_task(&mut self, id: u64, outcome: Outcome) {
        let Some(task) = self.tasks.remove(&id) else {
            return;
        };
        if task.holds_slot {
            self.release_slot();
        }
        if let Some((worker, _)) = task.running
            && let Some(w) = self.workers.get_mut(&worker)
        {
            w.outstanding.retain(|&t| t != id);
        }
        if matches!(outcome, Outcome::Ok(_)) {
            self.stats.done += 1;
        } else {
            self.stats.failed += 1;
        }
        self.outbox.push((task.reply, Done { id, outcome }));
    }

    fn release_slot(&mut self) {
        self.queued -= 1;
        self.room.notify_one();
    }

    /// Reads what worker `worker` has written and handles every whole answer; at EOF or on a
    /// broken frame the worker is gone.
    fn read_answers(&mut self, worker: u64, scratch: &mut [u8]) {
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        let mut gone = false;
        loop {
            match rustix::io::read(&*w.stdout, &mut *scratch) {
                // EOF: the kernel closed the worker's end, the worker is gone.
                Ok(0) => gone = true,
                Ok(n) => {
                    w.unread.extend_from_slice(&scratch[..n]);
                    if n == scratch.len() {
                        continue;
                    }
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {}
                Err(_) => gone = true,
            }
            break;
        }
        let mut frames = Vec::new();
        let mut start = 0;
        loop {
            let mut rest = &w.unread[start..];
            match read_frame(&mut rest) {
                Ok(Some(frame)) => {
                    start = w.unread.len() - rest.len();
                    frames.push(frame);
                }
                // Nothing left, or the start of a frame whose end is still on its way.
                Ok(None) => break,
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                // A length no worker of ours sends: it is broken, treat it as dead.
                Err(_) => {
                    gone = true;
                    break;
                }
            }
        }
        w.unread.drain(..start);
        for frame in frames {
            self.answer(worker, frame);
        }
        if gone {
            self.worker_gone(worker);
        }
    }

    fn answer(&mut self, worker: u64, frame: Frame) {
        // Only the worker that holds the task may answer it.
        let holds = self
            .tasks
            .get(&frame.id)
            .is_some_and(|t| t.running.is_some_and(|(w, _)| w == worker));
        if !holds {
            return;
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.served += 1;
            if self.config.max_tasks.is_some_and(|max| w.served >= max) {
                w.retiring = true;
            }
        }
        let outcome = match decode(&frame.body) {
            Ok(result) => Outcome::Ok(result),
            Err(reason) => Outcome::Failed(reason),
        };
        self.finish_task(frame.id, outcome);
    }

    fn worker_gone(&mut self, worker: u64) {
        let Some(mut w) = self.workers.remove(&worker) else {
            return;
        };
        let orphans = std::mem::take(&mut w.outstanding);
        w.finish();
        for id in orphans.into_iter().rev() {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            task.running = None;
            task.deaths += 1;
            if task.deaths >= self.config.quarantine_after {
                self.finish_task(id, Outcome::Quarantined);
            } else {
                // To the front: it has waited longest.
                self.queue.push_front(id);
            }
        }
        if self.rolling.front() == Some(&worker) {
            self.rolling.pop_front();
            self.roll_next();
        }
        self.rolling.retain(|&id| id != worker);
        self.fill();
    }

    /// Starts workers until `target` can take tasks (while closing, only if tasks remain).
    /// A worker that cannot start (its program gone, no memory, a process limit) is tried
    /// again by the event thread after a delay that doubles with each failure.
    fn fill(&mut self) {
        if self.closing.is_some() && self.tasks.is_empty() {
            return;
        }
        let now = Instant::now();
        if self.respawn.as_ref().is_some_and(|r| now < r.at) {
            return;
        }
        let mut active = self.workers.values().filter(|w| !w.retiring).count();
        while active < self.target {
            if let Err(e) = self.spawn_worker() {
                let failures = self.respawn.as_ref().map_or(0, |r| r.failures) + 1;
                let delay = RESPAWN_FIRST
                    .saturating_mul(1 << (failures - 1).min(16))
                    .min(RESPAWN_MAX);
                eprintln!("pool: cannot start a worker: {e}; trying again in {delay:?}");
                self.respawn = Some(Respawn {
                    at: now + delay,
                    failures,
                    error: format!("cannot start a worker: {e}"),
                });
                // The event thread's next timeout must be no later than the retry.
                self.nudge = true;
                self.fail_if_workerless();
                return;
            }
            self.respawn = None;
            self.stats.restarts += 1;
            active += 1;
        }
    }

    /// With no worker able to take tasks and starting one failing again and again, the queued
    /// tasks are answered with the reason rather than left to wait without end.
    fn fail_if_workerless(&mut self) {
        let Some(r) = &self.respawn else {
            return;
        };
        if r.failures < RESPAWN_GIVE_UP || self.workers.values().any(|w| !w.retiring) {
            return;
        }
        let reason = r.error.clone();
        while let Some(id) = self.queue.pop_front() {
            self.finish_task(id, Outcome::Failed(reason.clone()));
        }
    }

    /// Rolling restart: a fresh worker first, then the oldest one retires; its exit rolls on.
    fn roll_next(&mut self) {
        while let Some(&id) = self.rolling.front() {
            if let Some(w) = self.workers.get_mut(&id) {
                w.retiring = true;
                self.fill();
                return;
            }
            self.rolling.pop_front();
        }
    }

    /// Hands queued tasks to the least-loaded workers that have room, writing each task into
    /// its worker's stdin at once.
    fn dispatch(&mut self) {
        while let Some(&id) = self.queue.front() {
            let Some(worker) = self
                .workers
                .iter()
                .filter(|(_, w)| !w.retiring && w.stdin.is_some())
                .filter(|(_, w)| w.outstanding.len() < self.config.depth)
                .min_by_key(|&(&wid, w)| (w.outstanding.len(), wid))
                .map(|(&wid, _)| wid)
            else {
                return;
            };
            self.queue.pop_front();
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            let mut frame = Vec::new();
            let framed = write_frame(
                &mut frame,
                &Frame {
                    id,
                    body: task.line.as_bytes().to_vec(),
                },
            );
            if let Err(e) = framed {
                self.finish_task(id, Outcome::Failed(e.to_string()));
                continue;
            }
            let deadline = self.config.task_timeout.map(|t| Instant::now() + t);
            task.running = Some((worker, deadline));
            if std::mem::replace(&mut task.holds_slot, false) {
                self.release_slot();
            }
            // Every task gets the same timeout, so a task dispatched now has the latest deadline
            // of all: the event thread must only be told if it sleeps with no deadline at all.
            if deadline.is_some() && self.sleeps_until.is_none() {
                self.nudge = true;
            }
            let Some(w) = self.workers.get_mut(&worker) else {
                continue;
            };
            w.outstanding.push(id);
            // Until a caller claims it, this task's answer is the event thread's to read.
            w.caller_reads = false;
            w.unsent.extend_from_slice(&frame);
            if w.flush() || w.stdin.is_none() {
                // The event thread writes the rest when the pipe has room.
                self.nudge = true;
            }
        }
    }

    /// Kills the workers of tasks past their deadline and answers those tasks TimedOut.
    fn expire(&mut self, now: Instant) {
        let late: Vec<(u64, u64)> = self
            .workers
            .iter()
            .flat_map(|(&worker, w)| w.outstanding.iter().map(move |&id| (id, worker)))
            .filter(|(id, _)| {
                self.tasks
                    .get(id)
                    .and_then(|t| t.running)
                    .and_then(|(_, until)| until)
                    .is_some_and(|until| until <= now)
            })
            .collect();
        for (id, worker) in late {
            self.finish_task(id, Outcome::TimedOut);
            if let Some(w) = self.workers.get_mut(&worker) {
                // Its death follows (EOF, pidfd): it is then reaped and replaced like any other.
                let _ = w.child.kill();
                w.stdin = None;
            }
        }
    }

    /// Closes the stdin of retiring workers that hold no task: they exit on EOF.
    fn retire_idle(&mut self) {
        for w in self.workers.values_mut() {
            if w.retiring && w.outstanding.is_empty() && w.stdin.is_some() {
                w.stdin = None;
            }
        }
        self.fill();
    }

    /// Ends the pool: answers what is left `pool shut down`, kills the workers that still hold
    /// a task and hands every worker over to `stop_workers` (called once the lock is free).
    fn close(&mut self) -> (Stats, Vec<Worker>) {
        self.closed = true;
        let mut workers: Vec<Worker> = self.workers.drain().map(|(_, w)| w).collect();
        for w in &mut workers {
            if !w.outstanding.is_empty() {
                // Past the grace with a task: it is not going to finish in time.
                let _ = w.child.kill();
            }
            // An idle worker reads EOF and exits by itself.
            w.stdin = None;
        }
        let left: Vec<u64> = self.tasks.keys().copied().collect();
        for id in left {
            self.finish_task(id, Outcome::Failed("pool shut down".to_string()));
        }
        self.queue.clear();
        // Its live counts (workers, queued, in flight) are zero: only `stats()` fills them in.
        (self.stats, workers)
    }
}
