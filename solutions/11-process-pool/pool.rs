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
//!   never holds more than `config.depth` at once; tasks no worker can take wait in a queue of
//!   at most `config.queue` tasks: `try_submit` then returns `SubmitError::Busy`, `submit`
//!   blocks until there is room. After `shutdown` begins both return `ShuttingDown`.
//! - faults: a worker's death is noticed without polling (its stdout reaches EOF), the worker is
//!   reaped and replaced, and its outstanding tasks are dispatched again. A task whose worker
//!   died under it `config.quarantine_after` times is answered `Outcome::Quarantined` instead.
//!   A task outstanding longer than `config.task_timeout` gets `Outcome::TimedOut` and its
//!   worker is killed (and replaced). Every task gets exactly one `Done`, even if a result
//!   races its worker's death or its timeout.
//! - recycling: a worker that has served `config.max_tasks` tasks takes no more, is told to exit
//!   (its stdin is closed) once idle, and is replaced.
//! - lifecycle: `resize` changes the number of workers while tasks run; `rolling_restart`
//!   replaces every worker one at a time, never with fewer than the configured number able to
//!   take tasks and without losing a task; `shutdown(grace)` refuses new tasks, lets every
//!   accepted task finish, stops the workers and returns the final `Stats`; tasks still running
//!   when `grace` has passed are answered `Outcome::Failed("pool shut down")` and their workers
//!   killed. Dropping a pool is a shutdown with no grace. No worker outlives the pool, and none
//!   is left a zombie.
//!
//! Chapter: `docs/src/11-process-pool.md#pool`. Check: `cargo xtask check process-pool/pool`.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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

/// What the dispatcher thread reacts to.
enum Event {
    Submit {
        id: u64,
        line: String,
        reply: Sender<Done>,
    },
    Answer {
        worker: u64,
        frame: Frame,
    },
    Eof {
        worker: u64,
    },
    Resize(usize),
    RollingRestart,
    Stats(Sender<Stats>),
    Pids(Sender<Vec<u32>>),
    Shutdown {
        grace: Duration,
    },
}

/// Room left in the queue, shared by submitters (who wait on it) and the dispatcher.
struct Gate {
    state: Mutex<GateState>,
    room: Condvar,
}

struct GateState {
    queued: usize,
    closed: bool,
    next_id: u64,
}

/// A running pool.
pub struct Pool {
    events: Sender<Event>,
    gate: Arc<Gate>,
    limit: usize,
    dispatcher: Mutex<Option<JoinHandle<Stats>>>,
}

impl Pool {
    /// Starts `config.workers` workers and the dispatcher.
    ///
    /// # Errors
    /// The worker program cannot be started (nothing is left running then).
    pub fn start(config: Config) -> io::Result<Pool> {
        let (events, inbox) = mpsc::channel();
        let gate = Arc::new(Gate {
            state: Mutex::new(GateState {
                queued: 0,
                closed: false,
                next_id: 1,
            }),
            room: Condvar::new(),
        });
        let mut dispatcher = Dispatcher {
            target: config.workers,
            config,
            events: events.clone(),
            gate: Arc::clone(&gate),
            workers: HashMap::new(),
            next_worker: 0,
            tasks: HashMap::new(),
            queue: VecDeque::new(),
            rolling: VecDeque::new(),
            stats: Stats::default(),
            closing: None,
        };
        for _ in 0..dispatcher.target {
            // On error, dropping the dispatcher kills and reaps the workers started so far.
            dispatcher.spawn_worker()?;
        }
        let limit = dispatcher.config.queue;
        let handle = thread::Builder::new()
            .name("pool-dispatcher".into())
            .spawn(move || dispatcher.run(inbox))?;
        Ok(Pool {
            events,
            gate,
            limit,
            dispatcher: Mutex::new(Some(handle)),
        })
    }

    /// Queues `line`; its `Done` will be sent on `reply`. Blocks while the queue is full.
    ///
    /// # Errors
    /// `ShuttingDown` once `shutdown` has begun.
    pub fn submit(&self, line: &str, reply: &Sender<Done>) -> Result<u64, SubmitError> {
        self.enqueue(line, reply, true)
    }

    /// Queues `line` like `submit`, but returns `Busy` at once if the queue is full.
    ///
    /// # Errors
    /// `Busy` or `ShuttingDown`.
    pub fn try_submit(&self, line: &str, reply: &Sender<Done>) -> Result<u64, SubmitError> {
        self.enqueue(line, reply, false)
    }

    fn enqueue(&self, line: &str, reply: &Sender<Done>, wait: bool) -> Result<u64, SubmitError> {
        let mut gate = self
            .gate
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if gate.closed {
                return Err(SubmitError::ShuttingDown);
            }
            if gate.queued < self.limit {
                break;
            }
            if !wait {
                return Err(SubmitError::Busy);
            }
            // Backpressure: the caller sleeps until the dispatcher hands a task to a worker.
            gate = self
                .gate
                .room
                .wait(gate)
                .unwrap_or_else(PoisonError::into_inner);
        }
        gate.queued += 1;
        let id = gate.next_id;
        gate.next_id += 1;
        // Sent under the lock: ids reach the dispatcher in order, and no Submit can follow the
        // Shutdown that closed the gate.
        let sent = self.events.send(Event::Submit {
            id,
            line: line.to_string(),
            reply: reply.clone(),
        });
        if sent.is_err() {
            gate.queued -= 1;
            return Err(SubmitError::ShuttingDown);
        }
        Ok(id)
    }

    /// Runs one task and waits for its outcome.
    ///
    /// # Errors
    /// As `submit`.
    pub fn run(&self, line: &str) -> Result<Outcome, SubmitError> {
        let (tx, rx) = mpsc::channel();
        self.submit(line, &tx)?;
        rx.recv()
            .map(|done| done.outcome)
            .map_err(|_| SubmitError::ShuttingDown)
    }

    /// The current counters.
    pub fn stats(&self) -> Stats {
        let (tx, rx) = mpsc::channel();
        let _ = self.events.send(Event::Stats(tx));
        rx.recv().unwrap_or_default()
    }

    /// The pids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        let (tx, rx) = mpsc::channel();
        let _ = self.events.send(Event::Pids(tx));
        rx.recv().unwrap_or_default()
    }

    /// Changes the number of workers to `workers` (at least 1).
    pub fn resize(&self, workers: usize) {
        let _ = self.events.send(Event::Resize(workers.max(1)));
    }

    /// Replaces every worker, one at a time.
    pub fn rolling_restart(&self) {
        let _ = self.events.send(Event::RollingRestart);
    }

    /// Refuses new tasks, finishes the accepted ones (for at most `grace`), stops every worker
    /// and returns the final counters. Later calls return zeroed counters at once.
    pub fn shutdown(&self, grace: Duration) -> Stats {
        let handle = self
            .dispatcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(handle) = handle else {
            return Stats::default();
        };
        {
            let mut gate = self
                .gate
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            gate.closed = true;
            let _ = self.events.send(Event::Shutdown { grace });
        }
        // Wake submitters blocked on a full queue: they must see ShuttingDown, not wait forever.
        self.gate.room.notify_all();
        handle.join().unwrap_or_default()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}

/// A task the dispatcher knows about, from Submit until its Done is sent.
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
    stdin: Option<BufWriter<ChildStdin>>,
    reader: Option<JoinHandle<()>>,
    outstanding: Vec<u64>,
    served: u64,
    /// Takes no new task; its stdin is closed once it is idle.
    retiring: bool,
}

impl Worker {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills (if still alive) and reaps the process, and joins its reader.
    fn finish(mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

struct Dispatcher {
    config: Config,
    target: usize,
    events: Sender<Event>,
    gate: Arc<Gate>,
    workers: HashMap<u64, Worker>,
    next_worker: u64,
    tasks: HashMap<u64, Task>,
    queue: VecDeque<u64>,
    /// Workers still to replace in a rolling restart, oldest first.
    rolling: VecDeque<u64>,
    stats: Stats,
    /// Set by Shutdown: the moment after which the remaining tasks are abandoned.
    closing: Option<Instant>,
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        for (_, worker) in self.workers.drain() {
            worker.finish();
        }
    }
}

impl Dispatcher {
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
        let id = self.next_worker;
        self.next_worker += 1;
        let events = self.events.clone();
        let reader = thread::Builder::new()
            .name(format!("pool-reader-{id}"))
            .spawn(move || {
                let mut stdout = BufReader::new(stdout);
                // EOF (or a broken frame) is how the pool learns the worker is gone: the kernel
                // closes a dead process's descriptors, no polling needed.
                while let Ok(Some(frame)) = read_frame(&mut stdout) {
                    if events.send(Event::Answer { worker: id, frame }).is_err() {
                        return;
                    }
                }
                let _ = events.send(Event::Eof { worker: id });
            });
        let reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        self.workers.insert(
            id,
            Worker {
                child,
                stdin: Some(BufWriter::new(stdin)),
                reader: Some(reader),
                outstanding: Vec::new(),
                served: 0,
                retiring: false,
            },
        );
        Ok(())
    }

    fn run(mut self, inbox: Receiver<Event>) -> Stats {
        loop {
            let event = match self.next_deadline() {
                None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(when) => inbox.recv_timeout(when.saturating_duration_since(Instant::now())),
            };
            match event {
                Ok(event) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
                // Every sender is gone only if the Pool vanished without stop(): end anyway.
                Err(RecvTimeoutError::Disconnected) => return self.stats(),
            }
            self.expire(Instant::now());
            self.dispatch();
            self.retire_idle();
            if let Some(deadline) = self.closing
                && (self.tasks.is_empty() || Instant::now() >= deadline)
            {
                return self.close();
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let task = self
            .tasks
            .values()
            .filter_map(|t| t.running.and_then(|(_, until)| until))
            .min();
        match (task, self.closing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Submit { id, line, reply } => {
                self.tasks.insert(
                    id,
                    Task {
                        line,
                        reply,
                        deaths: 0,
                        holds_slot: true,
                        running: None,
                    },
                );
                self.queue.push_back(id);
            }
            Event::Answer { worker, frame } => self.answer(worker, frame),
            Event::Eof { worker } => self.worker_gone(worker),
            Event::Resize(n) => {
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
            }
            Event::RollingRestart => {
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
            }
            Event::Stats(tx) => {
                let _ = tx.send(self.stats());
            }
            Event::Pids(tx) => {
                let _ = tx.send(self.workers.values().map(Worker::pid).collect());
            }
            Event::Shutdown { grace } => self.closing = Some(Instant::now() + grace),
        }
    }

    fn stats(&self) -> Stats {
        Stats {
            workers: self.workers.len(),
            queued: self.queue.len(),
            in_flight: self.tasks.len() - self.queue.len(),
            ..self.stats
        }
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
        // The submitter may have gone away; its answer is then simply dropped.
        let _ = task.reply.send(Done { id, outcome });
    }

    fn release_slot(&self) {
        let mut gate = self
            .gate
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        gate.queued -= 1;
        drop(gate);
        self.gate.room.notify_one();
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
    fn fill(&mut self) {
        if self.closing.is_some() && self.tasks.is_empty() {
            return;
        }
        let mut active = self.workers.values().filter(|w| !w.retiring).count();
        while active < self.target {
            if let Err(e) = self.spawn_worker() {
                eprintln!("pool: cannot start a worker: {e}");
                return;
            }
            self.stats.restarts += 1;
            active += 1;
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

    /// Hands queued tasks to the least-loaded workers that have room.
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
            let deadline = self.config.task_timeout.map(|t| Instant::now() + t);
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            task.running = Some((worker, deadline));
            let frame = Frame {
                id,
                body: task.line.clone().into_bytes(),
            };
            let released = std::mem::replace(&mut task.holds_slot, false);
            if released {
                self.release_slot();
            }
            let Some(w) = self.workers.get_mut(&worker) else {
                continue;
            };
            w.outstanding.push(id);
            let sent = w
                .stdin
                .as_mut()
                .map(|stdin| write_frame(stdin, &frame).and_then(|()| stdin.flush()));
            if !matches!(sent, Some(Ok(()))) {
                // A broken pipe: the worker is dying. Its EOF will come and re-queue the task;
                // until then it takes nothing more.
                w.stdin = None;
            }
        }
    }

    /// Kills the workers of tasks past their deadline and answers those tasks TimedOut.
    fn expire(&mut self, now: Instant) {
        let late: Vec<(u64, u64)> = self
            .tasks
            .iter()
            .filter_map(|(&id, t)| match t.running {
                Some((worker, Some(until))) if until <= now => Some((id, worker)),
                _ => None,
            })
            .collect();
        for (id, worker) in late {
            self.finish_task(id, Outcome::TimedOut);
            if let Some(w) = self.workers.get_mut(&worker) {
                // Its EOF follows: it is then reaped and replaced like any dead worker.
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

    fn close(mut self) -> Stats {
        let left: Vec<u64> = self.tasks.keys().copied().collect();
        for id in left {
            self.finish_task(id, Outcome::Failed("pool shut down".to_string()));
        }
        // Idle workers exit when their stdin closes; finish() kills the rest and reaps all.
        for w in self.workers.values_mut() {
            w.stdin = None;
        }
        let stats = Stats {
            workers: 0,
            queued: 0,
            in_flight: 0,
            ..self.stats
        };
        for (_, worker) in self.workers.drain() {
            worker.finish();
        }
        stats
    }
}
