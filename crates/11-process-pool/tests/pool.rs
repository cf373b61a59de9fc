//! Tests for `process_pool::pool`: real `pool-worker` processes, dispatched to by load, killed
//! with SIGKILL mid-task, timed out, recycled, resized and restarted, and not one task lost or
//! answered twice.

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use process_pool::pool::{Config, Done, Outcome, Pool, SubmitError};

const DEADLINE: Duration = testkit::DEFAULT_DEADLINE;

fn config(workers: usize) -> Config {
    Config::new(env!("CARGO_BIN_EXE_pool-worker"), workers)
}

fn start(config: Config) -> Pool {
    Pool::start(config).expect("Pool::start with the pool-worker binary")
}

fn next(rx: &Receiver<Done>, what: &str) -> Done {
    rx.recv_timeout(DEADLINE).unwrap_or_else(|_| {
        panic!("no Done within {DEADLINE:?} while waiting for {what}: a task was lost or its answer never sent")
    })
}

fn run(pool: &Pool, line: &str) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let id = pool.submit(line, &tx).expect("submit to a running pool");
    let done = next(&rx, line);
    assert_eq!(done.id, id, "the Done must carry the id submit returned");
    done.outcome
}

/// `Pool::run` on a thread of its own, so that a caller that never gets its answer fails the
/// test (in `ran`) instead of hanging it.
fn run_in_thread(pool: &Arc<Pool>, line: &str) -> Receiver<Result<Outcome, SubmitError>> {
    let (tx, rx) = mpsc::channel();
    let pool = Arc::clone(pool);
    let line = line.to_string();
    thread::spawn(move || {
        let _ = tx.send(pool.run(&line));
    });
    rx
}

fn ran(rx: &Receiver<Result<Outcome, SubmitError>>, what: &str) -> Outcome {
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|_| {
            panic!("Pool::run did not return within {DEADLINE:?} for {what}: its answer was lost")
        })
        .expect("a running pool accepts the task")
}

/// The threads of this process named `pool-events`.
fn event_threads() -> HashSet<u32> {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "pool-events")
        })
        .filter_map(|t| t.file_name().to_str()?.parse().ok())
        .collect()
}

fn pid_of(outcome: &Outcome) -> u32 {
    match outcome {
        Outcome::Ok(pid) => pid.parse().expect("`pid` answers a number"),
        other => panic!("the task `pid` should succeed; got {other:?}"),
    }
}

/// A FIFO in a fresh temp dir: `block PATH` tasks run until the test writes to it and closes it.
struct Fifo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fifo {
    fn new(tag: &str) -> Fifo {
        let dir = testkit::temp_dir(tag);
        let path = dir.path().join("gate");
        mkfifo(&path, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        Fifo { _dir: dir, path }
    }

    fn task(&self) -> String {
        format!("block {}", self.path.display())
    }

    /// Opens the write end: returns once a worker has opened the read end, that is, once a
    /// `block` task is running. Dropping the file releases that task.
    fn open(&self) -> std::fs::File {
        let path = self.path.clone();
        testkit::call_with_deadline(DEADLINE, move || OpenOptions::new().write(true).open(&path))
            .expect("no worker opened the FIFO: the `block` task never started")
            .expect("open the FIFO for writing")
    }

    fn release(&self) {
        let mut w = self.open();
        let _ = w.write_all(b"go");
    }
}

impl Drop for Fifo {
    /// A test that fails while a `block` task runs must not leave its worker stuck on the FIFO
    /// (a pool kept alive by a waiting thread is never dropped): opening the write end without
    /// blocking, then closing it, releases a reader if there is one.
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path);
    }
}

fn assert_gone(pid: u32, what: &str) {
    testkit::wait_until(
        DEADLINE,
        &format!("{what} (pid {pid}) to be reaped"),
        || testkit::proc_state(pid).is_none(),
    );
}

#[test]
fn workers_are_started_once_and_reused_for_every_task() {
    let pool = start(config(2));
    let pids: HashSet<u32> = pool.worker_pids().into_iter().collect();
    assert_eq!(pids.len(), 2, "two workers should be running after start");
    for pid in &pids {
        assert_eq!(
            testkit::proc_ppid(*pid),
            Some(std::process::id()),
            "worker {pid} should be a child of the pool's process"
        );
    }
    let mut answered_by = HashSet::new();
    for _ in 0..20 {
        answered_by.insert(pid_of(&run(&pool, "pid")));
    }
    assert!(
        answered_by.is_subset(&pids),
        "20 tasks should be served by the 2 pre-forked workers {pids:?}, not new processes; \
         answered by {answered_by:?}"
    );
    assert_eq!(
        pool.worker_pids().into_iter().collect::<HashSet<_>>(),
        pids,
        "no worker should have been replaced"
    );
    let stats = pool.shutdown(DEADLINE);
    assert_eq!(
        (stats.done, stats.failed, stats.restarts),
        (20, 0, 0),
        "final stats {stats:?}"
    );
    for pid in pids {
        assert_gone(pid, "a worker after shutdown");
    }
}

#[test]
fn a_busy_worker_gets_no_new_task_while_an_idle_one_is_free() {
    let mut cfg = config(2);
    cfg.depth = 3;
    let pool = start(cfg);
    let fifo = Fifo::new("least-loaded");
    let (tx, rx) = mpsc::channel();
    let blocked = pool.submit(&fifo.task(), &tx).expect("submit");
    let holder = fifo.open();
    // One worker now holds one task; the other holds none. Ten tasks one after the other: a
    // least-loaded pool gives every one to the idle worker.
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for i in 0..10 {
        let (t, r) = mpsc::channel();
        pool.submit("pid", &t).expect("submit");
        let done = r.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "task {i} got no answer: it went to the worker stuck on the FIFO although the \
                 other worker had no task (dispatch by fewest outstanding tasks); so far {counts:?}"
            )
        });
        *counts.entry(pid_of(&done.outcome)).or_default() += 1;
    }
    assert_eq!(
        counts.len(),
        1,
        "all ten went to the idle worker: {counts:?}"
    );
    drop(holder);
    let done = next(&rx, "the blocked task");
    assert_eq!(
        (done.id, done.outcome),
        (blocked, Outcome::Ok("released".into()))
    );
}

#[test]
fn a_full_queue_says_busy_and_submit_waits_for_room() {
    let mut cfg = config(1);
    cfg.queue = 2;
    let pool = std::sync::Arc::new(start(cfg));
    let fifo = Fifo::new("backpressure");
    let (tx, rx) = mpsc::channel();
    pool.submit(&fifo.task(), &tx).expect("submit");
    let holder = fifo.open();
    pool.try_submit("echo q1", &tx)
        .expect("room for the first queued task");
    pool.try_submit("echo q2", &tx)
        .expect("room for the second queued task");
    assert_eq!(
        pool.try_submit("echo q3", &tx),
        Err(SubmitError::Busy),
        "with the only worker busy and 2 tasks queued (queue = 2), try_submit must say Busy"
    );
    assert_eq!(SubmitError::Busy.to_string(), "pool busy");
    let stats = pool.stats();
    assert_eq!(
        (stats.workers, stats.queued, stats.in_flight),
        (1, 2, 1),
        "one worker, two tasks queued, one running: {stats:?}"
    );
    let (sub_tx, sub_rx) = mpsc::channel();
    let waiter = {
        let pool = std::sync::Arc::clone(&pool);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let r = pool.submit("echo q4", &tx);
            let _ = sub_tx.send(r);
        })
    };
    assert!(
        sub_rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "submit returned while the queue was full: it should wait for room (backpressure)"
    );
    drop(holder);
    let r = sub_rx
        .recv_timeout(DEADLINE)
        .expect("submit should return once the worker frees the queue");
    assert!(r.is_ok(), "the waiting submit should succeed: {r:?}");
    waiter.join().expect("waiter");
    let mut outcomes: Vec<Outcome> = (0..4)
        .map(|_| next(&rx, "the queued tasks").outcome)
        .collect();
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        ["q1", "q2", "q4", "released"]
            .map(|s| Outcome::Ok(s.into()))
            .to_vec()
    );
}

#[test]
fn a_worker_killed_mid_task_is_replaced_and_the_task_runs_again_once() {
    let pool = start(config(1));
    let fifo = Fifo::new("killed");
    let (tx, rx) = mpsc::channel();
    let id = pool.submit(&fifo.task(), &tx).expect("submit");
    let first = fifo.open();
    let victim = pool.worker_pids()[0];
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).expect("SIGKILL the worker");
    drop(first);
    assert_gone(victim, "the killed worker");
    // The task must run again on the replacement: it opens the FIFO once more.
    fifo.release();
    let done = next(&rx, "the task whose worker was killed");
    assert_eq!(
        (done.id, done.outcome),
        (id, Outcome::Ok("released".into())),
        "the task should be re-dispatched and succeed"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "a task must be answered exactly once"
    );
    let pids = pool.worker_pids();
    assert!(
        pids.len() == 1 && pids[0] != victim,
        "the dead worker should be replaced by a new process; workers now {pids:?}"
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.restarts, stats.done, stats.workers),
        (1, 1, 1),
        "stats {stats:?}"
    );
}

#[test]
fn a_task_that_kills_its_workers_is_quarantined_and_the_pool_lives_on() {
    let mut cfg = config(2);
    cfg.quarantine_after = 3;
    let pool = start(cfg);
    assert_eq!(
        run(&pool, "crash"),
        Outcome::Quarantined,
        "a task that killed 3 workers should be answered Quarantined, not retried forever"
    );
    let stats = pool.stats();
    assert_eq!(
        stats.restarts, 3,
        "each of the 3 deaths should start a replacement: {stats:?}"
    );
    assert_eq!(stats.failed, 1, "{stats:?}");
    assert_eq!(
        run(&pool, "echo still here"),
        Outcome::Ok("still here".into())
    );
    assert_eq!(
        pool.worker_pids().len(),
        2,
        "the pool keeps its two workers"
    );
}

#[test]
fn a_task_past_its_timeout_is_answered_timed_out_and_its_worker_killed() {
    let mut cfg = config(1);
    cfg.task_timeout = Some(Duration::from_millis(300));
    let pool = start(cfg);
    let before = pool.worker_pids()[0];
    assert_eq!(run(&pool, "sleep 60000"), Outcome::TimedOut);
    assert_gone(
        before,
        "the worker of the timed-out task (a worker busy past the deadline cannot be asked to \
         stop: it must be killed)",
    );
    assert_eq!(run(&pool, "echo next"), Outcome::Ok("next".into()));
    let stats = pool.stats();
    assert_eq!(
        (stats.failed, stats.done, stats.restarts),
        (1, 1, 1),
        "{stats:?}"
    );
}

#[test]
fn workers_are_recycled_after_max_tasks() {
    let mut cfg = config(1);
    cfg.max_tasks = Some(3);
    let pool = start(cfg);
    // Both ways of waiting: a channel after submit (the pool reads the answer), and Pool::run
    // (the waiting caller may read it itself); recycling must count both.
    let pool = Arc::new(pool);
    let pids: Vec<u32> = (0..7)
        .map(|i| {
            pid_of(&if i % 2 == 0 {
                run(&pool, "pid")
            } else {
                ran(&run_in_thread(&pool, "pid"), "pid")
            })
        })
        .collect();
    assert!(
        pids[0] == pids[2] && pids[3] == pids[5] && pids[0] != pids[3] && pids[6] != pids[3],
        "each worker should serve exactly 3 tasks, then be replaced; served by {pids:?}"
    );
    assert_gone(pids[0], "the first recycled worker");
    assert_gone(pids[3], "the second recycled worker");
    assert_eq!(pool.stats().restarts, 2);
}

#[test]
fn the_worker_count_changes_while_running() {
    let pool = start(config(1));
    pool.resize(3);
    testkit::wait_until(DEADLINE, "3 workers after resize(3)", || {
        pool.worker_pids().len() == 3
    });
    let three = pool.worker_pids();
    pool.resize(1);
    testkit::wait_until(DEADLINE, "1 worker after resize(1)", || {
        pool.worker_pids().len() == 1
    });
    let gone: Vec<u32> = three
        .iter()
        .copied()
        .filter(|p| !pool.worker_pids().contains(p))
        .collect();
    for pid in gone {
        assert_gone(pid, "a worker removed by resize");
    }
    assert_eq!(run(&pool, "echo one"), Outcome::Ok("one".into()));
}

#[test]
fn a_rolling_restart_replaces_every_worker_and_loses_no_task() {
    let pool = start(config(3));
    let old = pool.worker_pids();
    let (tx, rx) = mpsc::channel();
    let mut ids = HashSet::new();
    for i in 0..60 {
        ids.insert(
            pool.submit(&format!("spin {}", 1000 + i), &tx)
                .expect("submit"),
        );
        if i == 20 {
            pool.rolling_restart();
        }
    }
    for _ in 0..60 {
        let done = next(&rx, "tasks during a rolling restart");
        assert!(
            ids.remove(&done.id),
            "task {} answered twice or unknown",
            done.id
        );
        assert!(
            matches!(done.outcome, Outcome::Ok(_)),
            "task failed: {done:?}"
        );
    }
    testkit::wait_until(DEADLINE, "every old worker replaced", || {
        let now = pool.worker_pids();
        now.len() == 3 && now.iter().all(|p| !old.contains(p))
    });
    for pid in old {
        assert_gone(pid, "a worker replaced by the rolling restart");
    }
}

#[test]
fn shutdown_finishes_accepted_tasks_then_refuses_new_ones() {
    let pool = start(config(1));
    let pids = pool.worker_pids();
    let (tx, rx) = mpsc::channel();
    for _ in 0..5 {
        pool.submit("sleep 20", &tx).expect("submit");
    }
    let stats = pool.shutdown(DEADLINE);
    assert_eq!(
        stats.done, 5,
        "every accepted task should finish before shutdown returns: {stats:?}"
    );
    let outcomes: Vec<Outcome> = rx.try_iter().map(|d| d.outcome).collect();
    assert_eq!(outcomes, vec![Outcome::Ok("slept".into()); 5]);
    assert_eq!(
        pool.try_submit("echo late", &tx),
        Err(SubmitError::ShuttingDown)
    );
    assert_eq!(
        pool.submit("echo late", &tx),
        Err(SubmitError::ShuttingDown)
    );
    assert_eq!(SubmitError::ShuttingDown.to_string(), "shutting down");
    assert_gone(pids[0], "the worker after shutdown");
}

#[test]
fn shutdown_past_its_grace_fails_the_task_and_kills_the_worker() {
    let pool = start(config(1));
    let pid = pool.worker_pids()[0];
    let fifo = Fifo::new("grace");
    let (tx, rx) = mpsc::channel();
    pool.submit(&fifo.task(), &tx).expect("submit");
    let _holder = fifo.open();
    let stats =
        testkit::call_with_deadline(DEADLINE, move || pool.shutdown(Duration::from_millis(200)))
            .expect("shutdown should give up at its grace deadline");
    assert_eq!(stats.failed, 1, "{stats:?}");
    assert_eq!(
        next(&rx, "the abandoned task").outcome,
        Outcome::Failed("pool shut down".into())
    );
    assert_gone(pid, "the worker killed at the end of the grace period");
}

#[test]
fn dropping_the_pool_stops_and_reaps_every_worker() {
    let pool = start(config(3));
    let pids = pool.worker_pids();
    assert_eq!(pids.len(), 3);
    drop(pool);
    for pid in pids {
        assert!(
            testkit::proc_state(pid).is_none(),
            "worker {pid} is still in /proc after the pool was dropped (state {:?}): \
             dropping must kill and reap every worker",
            testkit::proc_state(pid)
        );
    }
}

#[test]
fn a_worker_that_cannot_start_is_an_error_from_start() {
    let r = Pool::start(Config::new(Path::new("/nonexistent/pool-worker"), 2));
    assert!(
        r.is_err(),
        "start with a missing worker program should fail"
    );
}

#[test]
fn every_task_is_answered_exactly_once_while_workers_are_killed() {
    let mut cfg = config(3);
    cfg.quarantine_after = 1000;
    let pool = start(cfg);
    let (tx, rx) = mpsc::channel();
    let mut ids = HashSet::new();
    for i in 0..400 {
        ids.insert(
            pool.submit(&format!("spin {}", 20_000 + i), &tx)
                .expect("submit"),
        );
        if i % 40 == 0
            && let Some(&victim) = pool.worker_pids().get(i % 3)
        {
            let _ = kill(Pid::from_raw(victim as i32), Signal::SIGKILL);
        }
    }
    let mut seen = HashSet::new();
    for _ in 0..400 {
        let done = next(&rx, "tasks while workers are killed");
        assert!(seen.insert(done.id), "task {} answered twice", done.id);
        assert!(matches!(done.outcome, Outcome::Ok(_)), "{done:?}");
    }
    assert_eq!(seen, ids);
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "an extra answer came"
    );
    assert!(
        pool.stats().restarts >= 1,
        "some worker should have been replaced"
    );
}

#[test]
fn tasks_and_answers_larger_than_a_pipe_buffer_arrive_whole() {
    let pool = start(config(2));
    // A pipe holds 64 KiB by default: 300 KiB is several pipefuls each way, written and read in
    // pieces.
    let big = "x".repeat(300 * 1024);
    let (tx, rx) = mpsc::channel();
    let large = pool.submit(&format!("echo {big}"), &tx).expect("submit");
    let small = pool.submit("echo small", &tx).expect("submit");
    let mut got = HashMap::new();
    for _ in 0..2 {
        let done = next(&rx, "a task larger than a pipe buffer");
        got.insert(done.id, done.outcome);
    }
    assert!(
        got.get(&large) == Some(&Outcome::Ok(big)),
        "the 300 KiB answer should come back whole"
    );
    assert_eq!(got.get(&small), Some(&Outcome::Ok("small".to_string())));
    // A line too long for one frame cannot be sent: it is answered, not lost.
    let huge = "y".repeat(process_pool::frame::MAX_FRAME as usize);
    let outcome = run(&pool, &format!("echo {huge}"));
    assert!(
        matches!(outcome, Outcome::Failed(_)),
        "a task too long for a frame should fail, not hang"
    );
    assert_eq!(run(&pool, "echo after"), Outcome::Ok("after".to_string()));
}

/// The descriptors open in process `pid`: number and what it refers to.
fn descriptors(pid: &str) -> Vec<(String, String)> {
    let mut fds: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list /proc/PID/fd")
        .filter_map(Result::ok)
        .map(|e| {
            let target = std::fs::read_link(e.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), target)
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn a_worker_inherits_no_descriptor_of_the_pool() {
    // What this test process itself inherited without close-on-exec (a build tool's jobserver
    // pipe, say) reaches every child: only descriptors opened by the pool are the pool's fault.
    let before: HashSet<String> = descriptors("self").into_iter().map(|(n, _)| n).collect();
    let pool = start(config(2));
    assert_eq!(run(&pool, "echo warm"), Outcome::Ok("warm".to_string()));
    // A worker started later, when the pool has opened everything it uses.
    pool.resize(3);
    testkit::wait_until(DEADLINE, "a third worker", || pool.worker_pids().len() == 3);
    for pid in pool.worker_pids() {
        // Right after a spawn the child may still be inside execve, which closes the
        // close-on-exec descriptors only after the parent has been let go: wait for it.
        let leaked = || -> Vec<(String, String)> {
            descriptors(&pid.to_string())
                .into_iter()
                .filter(|(n, _)| !["0", "1", "2"].contains(&n.as_str()) && !before.contains(n))
                .collect()
        };
        let settled =
            testkit::try_wait_until(DEADLINE, "the worker's exec", || leaked().is_empty());
        assert!(
            settled.is_ok(),
            "worker {pid} inherited descriptors of the pool (every descriptor the pool opens \
             must be close-on-exec): {:?}",
            leaked()
        );
    }
}

#[test]
fn a_caller_waiting_in_run_survives_its_workers_death() {
    let pool = Arc::new(start(config(1)));
    let fifo = Fifo::new("run-killed");
    let waiting = run_in_thread(&pool, &fifo.task());
    let first = fifo.open();
    let victim = pool.worker_pids()[0];
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).expect("SIGKILL the worker");
    drop(first);
    assert_gone(victim, "the killed worker");
    // The task runs again on the replacement, and its answer still reaches the waiting caller.
    fifo.release();
    assert_eq!(
        ran(&waiting, "a task whose worker was killed"),
        Outcome::Ok("released".into())
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.restarts, stats.done, stats.failed, stats.workers),
        (1, 1, 0, 1),
        "{stats:?}"
    );
    assert_eq!(
        ran(
            &run_in_thread(&pool, "echo after"),
            "a task after the death"
        ),
        Outcome::Ok("after".into())
    );
}

#[test]
fn a_caller_waiting_in_run_gets_its_timeout_and_the_shutdowns_answer() {
    let mut cfg = config(1);
    cfg.task_timeout = Some(Duration::from_millis(300));
    let pool = Arc::new(start(cfg));
    let before = pool.worker_pids()[0];
    assert_eq!(
        ran(
            &run_in_thread(&pool, "sleep 60000"),
            "a task past its timeout"
        ),
        Outcome::TimedOut
    );
    assert_gone(
        before,
        "the worker of the timed-out task (a worker busy past the deadline cannot be asked to \
         stop: it must be killed)",
    );
    let pool = Arc::new(start(config(1)));
    let pid = pool.worker_pids()[0];
    let fifo = Fifo::new("run-grace");
    let waiting = run_in_thread(&pool, &fifo.task());
    let _holder = fifo.open();
    let stopping = Arc::clone(&pool);
    let stats = testkit::call_with_deadline(DEADLINE, move || {
        stopping.shutdown(Duration::from_millis(200))
    })
    .expect("shutdown should give up at its grace deadline");
    assert_eq!(stats.failed, 1, "{stats:?}");
    assert_eq!(
        ran(&waiting, "a task abandoned by shutdown"),
        Outcome::Failed("pool shut down".into())
    );
    assert_gone(pid, "the worker killed at the end of the grace period");
}

#[test]
fn callers_in_run_each_get_their_own_answer_while_workers_are_killed() {
    let mut cfg = config(2);
    // Two tasks per worker: a caller reading its worker's pipe also meets another's answer.
    cfg.depth = 2;
    cfg.quarantine_after = 1000;
    let pool = Arc::new(start(cfg));
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (pool, stop) = (Arc::clone(&pool), Arc::clone(&stop));
        thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Some(&victim) = pool.worker_pids().get(kills % 2) {
                    let _ = kill(Pid::from_raw(victim as i32), Signal::SIGKILL);
                    kills += 1;
                }
                // Pacing, not synchronisation: let some tasks finish between kills.
                thread::sleep(Duration::from_millis(5));
            }
            kills
        })
    };
    let callers: Vec<_> = (0..6)
        .map(|c| {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                for i in 0..60 {
                    let line = format!("echo {c}-{i}");
                    let outcome = pool.run(&line).expect("a running pool accepts the task");
                    assert_eq!(
                        outcome,
                        Outcome::Ok(format!("{c}-{i}")),
                        "caller {c} got another task's answer, or none"
                    );
                }
            })
        })
        .collect();
    let finished = testkit::call_with_deadline(DEADLINE, move || {
        callers.into_iter().all(|c| c.join().is_ok())
    });
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().expect("the killer thread");
    assert_eq!(
        finished,
        Some(true),
        "every caller should get its own answer to each task in time"
    );
    let stats = pool.stats();
    assert_eq!(
        (stats.done, stats.failed),
        (360, 0),
        "each of the 360 tasks answered once ({kills} workers killed): {stats:?}"
    );
    assert!(
        stats.restarts >= 1,
        "some worker should have been killed: {stats:?}"
    );
}

#[test]
fn a_replacement_that_cannot_start_is_retried_and_meanwhile_tasks_fail_with_the_reason() {
    let dir = testkit::temp_dir("respawn");
    let program = dir.path().join("worker");
    let link = || std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pool-worker"), &program);
    link().expect("symlink the worker program");
    let before = event_threads();
    let pool = start(Config::new(program.clone(), 2));
    // Answered through the channel: the pool's thread has run (and named itself) by then.
    assert_eq!(run(&pool, "echo first"), Outcome::Ok("first".into()));
    let ours: Vec<u32> = event_threads().difference(&before).copied().collect();
    // The program disappears, then a worker dies: its replacement cannot start.
    std::fs::remove_file(&program).expect("remove the worker program");
    let pids = pool.worker_pids();
    kill(Pid::from_raw(pids[0] as i32), Signal::SIGKILL).expect("SIGKILL a worker");
    assert_gone(pids[0], "the killed worker");
    // Retrying must not spin: over a second of failed tries, the pool's thread sleeps between
    // them. (Other pools may start at the same moment: the least busy candidate is ours or
    // idler than ours.)
    let cpu = |tid: u32| testkit::shm::thread_cpu_ticks(std::process::id(), tid).unwrap_or(0);
    let start_ticks: Vec<u64> = ours.iter().map(|&t| cpu(t)).collect();
    thread::sleep(Duration::from_secs(1));
    let used = ours
        .iter()
        .zip(&start_ticks)
        .map(|(&t, &s)| cpu(t).saturating_sub(s))
        .min();
    assert!(
        used.is_none_or(|ticks| ticks < 10),
        "the pool used {used:?} clock ticks of CPU in a second of retrying: it should wait \
         between tries, longer after each failure"
    );
    // However often starting a worker has failed, the live one serves every task, queued ones
    // included.
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        pool.submit(&format!("echo {i}"), &tx).expect("submit");
    }
    for _ in 0..3 {
        let done = next(&rx, "a task while one worker cannot be replaced");
        assert!(matches!(done.outcome, Outcome::Ok(_)), "{done:?}");
    }
    // Now the last worker dies: no worker at all, and none can start.
    kill(Pid::from_raw(pids[1] as i32), Signal::SIGKILL).expect("SIGKILL the other worker");
    assert_gone(pids[1], "the other killed worker");
    match run(&pool, "echo nobody") {
        Outcome::Failed(reason) => assert!(
            reason.contains("cannot start a worker") && reason.contains("No such file"),
            "the reason should say why no worker runs the task; got {reason:?}"
        ),
        other => panic!(
            "with no worker able to start, a task should fail with the reason; got {other:?}"
        ),
    }
    assert_eq!(pool.stats().workers, 0, "{:?}", pool.stats());
    // The program is back: the pool tries again by itself, with no task or death to wake it.
    link().expect("symlink the worker program again");
    testkit::wait_until(DEADLINE, "the pool to start its workers again", || {
        pool.worker_pids().len() == 2
    });
    assert_eq!(run(&pool, "echo back"), Outcome::Ok("back".into()));
    let stats = pool.stats();
    assert_eq!(
        (stats.done, stats.failed, stats.restarts),
        (5, 1, 2),
        "{stats:?}"
    );
}

/// Two workers, one of which just served a task through `Pool::run`, and the other replaced
/// after a SIGKILL: the pool has handled that death and gone back to waiting since.
fn pool_after_a_run_and_a_death(depth: usize) -> Arc<Pool> {
    let mut cfg = config(2);
    cfg.depth = depth;
    let pool = Arc::new(start(cfg));
    let served = pid_of(&ran(&run_in_thread(&pool, "pid"), "pid"));
    let other = pool
        .worker_pids()
        .into_iter()
        .find(|&p| p != served)
        .expect("a second worker");
    kill(Pid::from_raw(other as i32), Signal::SIGKILL).expect("SIGKILL the worker");
    assert_gone(other, "the killed worker");
    testkit::wait_until(DEADLINE, "a replacement worker", || {
        pool.worker_pids().len() == 2
    });
    pool
}

#[test]
fn a_task_submitted_after_a_run_is_answered_on_the_channel() {
    let pool = pool_after_a_run_and_a_death(1);
    let (tx, rx) = mpsc::channel();
    for i in 0..2 {
        let id = pool.submit(&format!("echo {i}"), &tx).expect("submit");
        let done = next(&rx, "a task submitted after a run");
        assert_eq!((done.id, done.outcome), (id, Outcome::Ok(i.to_string())));
    }
}

#[test]
fn a_task_behind_another_callers_task_on_the_same_worker_is_answered_too() {
    let pool = pool_after_a_run_and_a_death(2);
    let fifos = [
        Fifo::new("behind-a"),
        Fifo::new("behind-b"),
        Fifo::new("behind-c"),
    ];
    let a = run_in_thread(&pool, &fifos[0].task());
    testkit::wait_until(DEADLINE, "the first task on a worker", || {
        pool.stats().in_flight == 1
    });
    let (tx, rx) = mpsc::channel();
    pool.submit(&fifos[2].task(), &tx).expect("submit");
    testkit::wait_until(DEADLINE, "a task on each worker", || {
        pool.stats().in_flight == 2
    });
    // A third task goes behind one of the others, maybe behind A's while A waits in run.
    let b = run_in_thread(&pool, &fifos[1].task());
    testkit::wait_until(DEADLINE, "three tasks on the workers", || {
        pool.stats().in_flight == 3
    });
    fifos[0].release();
    assert_eq!(ran(&a, "the first task"), Outcome::Ok("released".into()));
    // A has its answer and waits no more; B's answer must still be read by someone.
    fifos[1].release();
    assert_eq!(
        ran(&b, "the task behind it"),
        Outcome::Ok("released".into())
    );
    fifos[2].release();
    assert_eq!(
        next(&rx, "the submitted task").outcome,
        Outcome::Ok("released".into())
    );
}

#[test]
fn a_shutdown_ends_as_soon_as_the_last_caller_in_run_has_its_answer() {
    // A second worker runs the tasks that probe whether the shutdown has begun.
    let pool = Arc::new(start(config(2)));
    let pids = pool.worker_pids();
    let fifo = Fifo::new("run-drain");
    let waiting = run_in_thread(&pool, &fifo.task());
    testkit::wait_until(DEADLINE, "the task on the worker", || {
        pool.stats().in_flight == 1
    });
    // A grace far longer than the test's deadline: only the end of the last task ends it.
    let stopping = Arc::clone(&pool);
    let stopped = thread::spawn(move || stopping.shutdown(Duration::from_secs(3600)));
    // Tasks accepted before the shutdown began count as accepted ones: they must finish too.
    let (tx, _rx) = mpsc::channel();
    let accepted = std::cell::Cell::new(1);
    testkit::wait_until(DEADLINE, "the shutdown to begin", || {
        match pool.try_submit("echo early", &tx) {
            Ok(_) => accepted.set(accepted.get() + 1),
            Err(e) => return e == SubmitError::ShuttingDown,
        }
        false
    });
    testkit::wait_until(
        DEADLINE,
        "the probes accepted before shutdown to finish",
        || {
            let stats = pool.stats();
            (stats.in_flight, stats.queued) == (1, 0)
        },
    );
    fifo.release();
    assert_eq!(
        ran(&waiting, "the task accepted before shutdown"),
        Outcome::Ok("released".into())
    );
    testkit::wait_until(DEADLINE, "shutdown to return once no task is left", || {
        stopped.is_finished()
    });
    let stats = stopped.join().expect("shutdown");
    assert_eq!((stats.done, stats.failed), (accepted.get(), 0), "{stats:?}");
    for pid in pids {
        assert_gone(pid, "a worker after shutdown");
    }
}

#[test]
fn a_worker_that_breaks_the_protocol_is_treated_as_dead() {
    // A "worker" that reads the first byte of its task, then announces a 4 GiB frame and sits
    // there: no answer will ever come from it, and it has not exited either.
    let mut cfg = Config::new("/bin/sh", 1);
    cfg.args = vec![
        "-c".into(),
        r"head -c 1 >/dev/null; printf '\377\377\377\377'; exec sleep 60".into(),
    ];
    cfg.quarantine_after = 2;
    let pool = start(cfg);
    let first = pool.worker_pids()[0];
    assert_eq!(
        run(&pool, "echo x"),
        Outcome::Quarantined,
        "a worker sending a frame the pool cannot read should be killed like a dead one, \
         and the task moved on (here to another such worker, then quarantined)"
    );
    assert_gone(first, "the worker that broke the protocol");
    assert_eq!(pool.stats().restarts, 2, "{:?}", pool.stats());
}

#[test]
fn a_caller_in_run_follows_its_task_to_the_replacement_and_the_task_behind_it_is_answered() {
    let mut cfg = config(1);
    cfg.depth = 2;
    let pool = Arc::new(start(cfg));
    let victim = pool.worker_pids()[0];
    let (first, second) = (Fifo::new("follow-a"), Fifo::new("follow-b"));
    let a = run_in_thread(&pool, &first.task());
    testkit::wait_until(DEADLINE, "the first task on the worker", || {
        pool.stats().in_flight == 1
    });
    let (tx, rx) = mpsc::channel();
    pool.submit(&second.task(), &tx).expect("submit");
    testkit::wait_until(DEADLINE, "both tasks on the worker", || {
        pool.stats().in_flight == 2
    });
    // Both tasks move to the replacement, in the same order; A's caller is still waiting.
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).expect("SIGKILL the worker");
    assert_gone(victim, "the killed worker");
    first.release();
    assert_eq!(
        ran(&a, "the task whose worker died"),
        Outcome::Ok("released".into())
    );
    second.release();
    assert_eq!(
        next(&rx, "the task behind it on the replacement").outcome,
        Outcome::Ok("released".into())
    );
    let stats = pool.stats();
    assert_eq!((stats.done, stats.restarts), (2, 1), "{stats:?}");
}

#[test]
fn a_worker_due_for_recycling_takes_no_queued_task() {
    let mut cfg = config(1);
    cfg.max_tasks = Some(3);
    let pool = start(cfg);
    let (tx, rx) = mpsc::channel();
    // All at once: when the third answer comes, four tasks are still waiting in the queue.
    let ids: Vec<u64> = (0..7)
        .map(|_| pool.submit("pid", &tx).expect("submit"))
        .collect();
    let mut by_id = HashMap::new();
    for _ in 0..7 {
        let done = next(&rx, "a queued task on a recycling pool");
        by_id.insert(done.id, pid_of(&done.outcome));
    }
    let pids: Vec<u32> = ids.iter().map(|id| by_id[id]).collect();
    assert!(
        pids[0] == pids[2] && pids[3] == pids[5] && pids[0] != pids[3] && pids[6] != pids[3],
        "each worker should serve exactly 3 tasks, in order, then be replaced; served by {pids:?}"
    );
}

/// The pids of this process's children, alive or zombie, from every thread's `children` list.
fn children() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// Fails the test if this process has any child left, alive or zombie (after killing and
/// reaping them, so that the failure leaks nothing).
fn assert_no_child(what: &str) {
    use nix::errno::Errno;
    use nix::sys::wait::{WaitPidFlag, waitpid};
    let left = children();
    let waited = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG));
    if left.is_empty() && waited == Err(Errno::ECHILD) {
        return;
    }
    for &pid in &left {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    while waitpid(Pid::from_raw(-1), None).is_ok() {}
    panic!(
        "{what}: this process still had children {left:?} (waitpid(-1, WNOHANG) gave {waited:?}, \
         not ECHILD): a start that fails half way must kill and reap the workers it already \
         started, or they are left running or as zombies"
    );
}

/// A start whose second worker cannot be spawned (no descriptor left for its pipes) must return
/// the error with nothing left behind: the first worker killed and reaped. Runs alone in a
/// process of its own: the descriptor limit is process-wide, and so is the list of children.
#[test]
fn a_start_that_fails_half_way_kills_and_reaps_the_workers_it_started() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    testkit::isolated!();
    assert_no_child("before the test");
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit(RLIMIT_NOFILE)");
    // The directory being read holds one descriptor of its own.
    let open = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count() as u64
        - 1;
    // The smallest descriptor limit at which a pool of one worker starts: a second worker
    // cannot fit in it, since the first one's pipes stay open while the second's are created.
    let mut limit = open + 1;
    loop {
        assert!(
            limit < open + 64,
            "a pool of one worker did not start even with {limit} descriptors"
        );
        setrlimit(Resource::RLIMIT_NOFILE, limit, hard).expect("lower RLIMIT_NOFILE");
        let started = Pool::start(config(1));
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("restore RLIMIT_NOFILE");
        // Dropped here, before the check below: a started pool stops and reaps its worker.
        let started = started.map(drop).is_ok();
        assert_no_child(&format!(
            "after a pool of one worker was started and dropped (or failed to start) with \
             {limit} descriptors"
        ));
        if started {
            break;
        }
        limit += 1;
    }
    for workers in [2, 4] {
        setrlimit(Resource::RLIMIT_NOFILE, limit, hard).expect("lower RLIMIT_NOFILE");
        let r = Pool::start(config(workers));
        setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("restore RLIMIT_NOFILE");
        let pids = r.as_ref().map(Pool::worker_pids).ok();
        drop(r);
        assert!(
            pids.is_none(),
            "with a descriptor limit of {limit}, just enough for one worker, a pool of {workers} \
             should fail to start (EMFILE), but it started workers {pids:?}"
        );
        assert_no_child(&format!(
            "after Pool::start of {workers} workers failed at the descriptor limit {limit}, \
             one worker in"
        ));
    }
}

/// A pool of `sh` workers that read their stdin to its end, then record how they ended in
/// `DIR/PID` and exit (or, with `then` = `exec sleep 600`, ignore the end and stay).
fn shell_pool(dir: &Path, workers: usize, then: &str) -> Pool {
    let mut config = Config::new("/bin/sh", workers);
    config.args = vec![
        "-c".into(),
        format!("cat >/dev/null; echo eof > '{}'/$$; {then}", dir.display()).into(),
    ];
    start(config)
}

#[test]
fn shutdown_lets_idle_workers_exit_by_themselves_on_eof() {
    let dir = testkit::temp_dir("pool-eof");
    let pool = shell_pool(dir.path(), 2, "exit 0");
    let pids = pool.worker_pids();
    assert_eq!(pids.len(), 2, "two workers should be running after start");
    pool.shutdown(DEADLINE);
    for pid in pids {
        assert_gone(pid, "an idle worker after shutdown");
        assert!(
            dir.path().join(pid.to_string()).exists(),
            "idle worker {pid} never saw the end of its stdin: shutdown killed it. An idle \
             worker is told to exit by closing its stdin (it reads EOF and exits by itself); \
             SIGKILL is for a worker still there past the deadline"
        );
    }
}

#[test]
fn an_idle_worker_that_ignores_eof_is_killed_once_the_grace_has_passed() {
    let dir = testkit::temp_dir("pool-deaf");
    let pool = shell_pool(dir.path(), 1, "exec sleep 600");
    let pids = pool.worker_pids();
    let stopped = testkit::call_with_deadline(DEADLINE, move || pool.shutdown(Duration::ZERO));
    assert!(
        stopped.is_some(),
        "shutdown did not return within {DEADLINE:?}: a worker that ignores the end of its \
         stdin must be killed once the deadline has passed"
    );
    for pid in pids {
        assert_gone(pid, "a worker that ignored EOF");
    }
}

#[test]
fn a_task_whose_error_text_outgrows_a_frame_is_answered_and_kills_no_worker() {
    let pool = start(config(1));
    let before = pool.worker_pids();
    // Quoted in the error ("unknown task \"\"\"...") every `"` takes two bytes: 2 MB of text.
    let line = "\"".repeat(1_000_000);
    match run(&pool, &line) {
        Outcome::Failed(reason) => assert!(
            reason.len() < process_pool::frame::MAX_FRAME as usize,
            "the error text ({} bytes) should have been cut to fit a frame",
            reason.len()
        ),
        other => panic!(
            "a task of 1,000,000 `\"` is an unknown task, answered Failed with a reason cut to \
             fit a frame; got {other:?} (an error text larger than a frame makes the worker \
             fail to answer and die, three times, and the task is quarantined)"
        ),
    }
    assert_eq!(
        pool.worker_pids(),
        before,
        "no worker should die for a task with a long error"
    );
    assert_eq!(pool.stats().restarts, 0, "no worker should be replaced");
}
