//! The work queue (groups `queue_vs_pool`, `queue_scaling`, `queue_recovery`), measured on
//! `jobq`'s reference solution (release build) against a real `nats-server`:
//! - `queue_vs_pool`: a batch of trivial tasks (`echo x`) through `jobq submit` to one worker
//!   (`jobq worker --jobs 1`) against the same batch through `poolc run` to `poold --workers 1`,
//!   each client a process started per batch; criterion's throughput is tasks per second. Then,
//!   outside criterion, the broker's own round trips timed alone (a core NATS round trip, a
//!   JetStream publish with its acknowledgement, a pull of one message, an ack that waits for
//!   its confirmation), which add up to most of the difference;
//! - `queue_scaling`: batches of `sleep 20` through 1, 4 and 16 workers (one `jobq worker
//!   --jobs 1` process each, 20 tasks per worker per batch, 10 in the quick mode), timed from
//!   the start of `jobq submit` to its end, and the same batch of a single worker through
//!   `poolc run` to `poold --workers 1`; the ideal is N x 50 tasks/s, and the report prints the
//!   percentage reached;
//! - `queue_recovery`: one iteration is one task (`count FIFO`, which runs until the bench
//!   closes the FIFO) taken by one of two workers, that worker SIGKILLed as soon as the task
//!   runs, and the wait until the task runs on the other worker; with an ack wait of 1 s and
//!   of 2 s. The time is the ack wait, less what passed between the task's delivery and the
//!   kill: the server redelivers a task when its ack wait has passed since it was delivered
//!   (or since its last in-progress ack), and the other worker has a pull waiting for it.
//!
//! Nothing is pinned: a server, a submitter and up to 16 workers with their pool workers share
//! the two cores as they would on a host. A missing `nats-server` skips every group.
//!
//! Run with `cargo xtask bench queue` (or `cargo bench -p proclings-bench --bench queue`).

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use proclings_bench::queue::{
    Bins, Broker, Fleet, JobqWorker, Poold, Recovery, binaries, broker_costs, broker_installed,
    jobq_submit, task_file,
};
use proclings_bench::settings::Settings;

/// Tasks per batch of `echo x`.
const TRIVIAL: usize = 200;
/// The scaling workers, and the task each one runs.
const WORKERS: [usize; 3] = [1, 4, 16];
const SLEEP_MS: u64 = 20;
/// The ack waits of the recovery group, seconds.
const ACK_WAITS: [u64; 2] = [1, 2];

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("queue-bench-")
        .tempdir()
        .expect("a temp dir for the task files")
}

fn broker(bins: &Bins, ack_wait_s: u64) -> Broker {
    Broker::start(&bins.jobq, ack_wait_s)
        .expect("start nats-server and init the queue")
        .expect("nats-server is installed")
}

/// Per-task times of one run, printed after the groups.
#[derive(Default)]
struct Findings {
    lines: Vec<String>,
    /// One `echo x` alone through `jobq submit`, ms: what a batch pays once.
    jobq_one_ms: Option<f64>,
}

fn queue_vs_pool(c: &mut Criterion, bins: &Bins, findings: &mut Findings, extras: bool) {
    let dir = temp_dir();
    let tasks = task_file(dir.path(), "echo.tasks", "echo x", TRIVIAL).expect("a task file");
    let mut group = c.benchmark_group("queue_vs_pool");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements(TRIVIAL as u64));
    let poold = Poold::start(bins, 1).expect("start poold with one worker");
    group.bench_function("poold_1_worker", |b| {
        b.iter(|| poold.run(&tasks, TRIVIAL).expect("poolc run"));
    });
    let broker = broker(bins, 30);
    let worker = JobqWorker::start(&bins.jobq, broker.url(), 1).expect("start a jobq worker");
    group.bench_function("jobq_1_worker", |b| {
        b.iter(|| jobq_submit(&bins.jobq, broker.url(), &tasks, TRIVIAL).expect("jobq submit"));
    });
    group.finish();
    if !extras {
        return;
    }

    // The same two, timed here in alternation, one task alone through each (what a batch pays
    // once: the client's start, connection and set-up), and the broker's round trips timed
    // alone, in each round, so that load coming and going on a shared machine hits all alike.
    let rounds = if Settings::from_env().quick { 3 } else { 10 };
    let probes = 20;
    let single = task_file(dir.path(), "one.tasks", "echo x", 1).expect("a task file");
    let time = |f: &dyn Fn()| {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e6
    };
    let (mut pool_us, mut queue_us, mut pool_one, mut queue_one) = (0.0, 0.0, 0.0, 0.0);
    let mut costs = [0.0; 4];
    for _ in 0..rounds {
        pool_us += time(&|| poold.run(&tasks, TRIVIAL).expect("poolc run"));
        queue_us +=
            time(&|| jobq_submit(&bins.jobq, broker.url(), &tasks, TRIVIAL).expect("jobq submit"));
        pool_one += time(&|| poold.run(&single, 1).expect("poolc run"));
        queue_one += time(&|| jobq_submit(&bins.jobq, broker.url(), &single, 1).expect("submit"));
        let c = broker_costs(broker.url(), probes).expect("time the broker's round trips");
        for (sum, us) in costs
            .iter_mut()
            .zip([c.round_trip_us, c.publish_us, c.pull_us, c.ack_us])
        {
            *sum += us;
        }
    }
    let r = rounds as f64;
    let (pool_us, queue_us, pool_one, queue_one) =
        (pool_us / r, queue_us / r, pool_one / r, queue_one / r);
    let [round_trip, publish, pull, ack] = costs.map(|sum| sum / r);
    // Per task beyond the first: the batch less one task alone, over the other tasks.
    let per = |batch: f64, one: f64| (batch - one) / (TRIVIAL - 1) as f64;
    let (pool_per, queue_per) = (per(pool_us, pool_one), per(queue_us, queue_one));
    findings.jobq_one_ms = Some(queue_one / 1e3);
    drop(worker);
    drop(broker);
    drop(poold);
    findings.lines.push(format!(
        "queue vs pool ({rounds} alternating rounds, means): a batch of {TRIVIAL} `echo x`: \
         poold {:.1} ms, jobq {:.1} ms ({:.1}x); one task alone: poold {:.2} ms, jobq {:.2} ms",
        pool_us / 1e3,
        queue_us / 1e3,
        queue_us / pool_us,
        pool_one / 1e3,
        queue_one / 1e3,
    ));
    findings.lines.push(format!(
        "  per task beyond the first: poold {pool_per:.0} us, jobq {queue_per:.0} us ({:.0}x)",
        queue_per / pool_per,
    ));
    findings.lines.push(format!(
        "  the broker's round trips timed alone ({probes} of each per round, means): core NATS \
         {round_trip:.0} us, JetStream publish + ack {publish:.0} us, pull of one {pull:.0} us, \
         ack with confirmation {ack:.0} us; a worker's path per task (pull, result publish, ack) \
         {:.0} us, {:.0}% of jobq's per-task time (the submitter's publishes run beside it)",
        pull + publish + ack,
        100.0 * (pull + publish + ack) / queue_per,
    ));
}

/// What runs a scaling row's batches: jobq workers on a server of their own, or poold.
enum Runner {
    Jobq(Fleet),
    Poold(Poold),
}

impl Runner {
    fn batch(&self, bins: &Bins, tasks: &std::path::Path, count: usize) {
        match self {
            Runner::Jobq(fleet) => {
                jobq_submit(&bins.jobq, fleet.broker.url(), tasks, count).expect("jobq submit")
            }
            Runner::Poold(poold) => poold.run(tasks, count).expect("poolc run"),
        }
    }
}

fn queue_scaling(c: &mut Criterion, bins: &Bins, findings: &mut Findings) {
    let quick = Settings::from_env().quick;
    let per_worker = if quick { 10 } else { 20 };
    let dir = temp_dir();
    let mut group = c.benchmark_group("queue_scaling");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    let ideal = Duration::from_millis(SLEEP_MS * per_worker as u64);
    // 10 samples of two batches each (a batch takes a little more than the ideal).
    group.measurement_time(ideal * 14);
    let mut rates = Vec::new();
    // poold with one worker first: what the same batch loses without a broker.
    let rows = std::iter::once(("poold_workers", 1)).chain(WORKERS.map(|w| ("jobq_workers", w)));
    for (name, workers) in rows {
        let count = workers * per_worker;
        let tasks = task_file(
            dir.path(),
            &format!("sleep-{workers}.tasks"),
            &format!("sleep {SLEEP_MS}"),
            count,
        )
        .expect("a task file");
        let runner = if name == "poold_workers" {
            Runner::Poold(Poold::start(bins, workers).expect("start poold"))
        } else {
            Runner::Jobq(Fleet::start(&bins.jobq, broker(bins, 30), workers).expect("workers"))
        };
        group.throughput(Throughput::Elements(count as u64));
        let mut total = Duration::ZERO;
        let mut batches = 0u32;
        group.bench_with_input(BenchmarkId::new(name, workers), &workers, |b, _| {
            b.iter_custom(|iters| {
                let t = std::time::Instant::now();
                for _ in 0..iters {
                    runner.batch(bins, &tasks, count);
                }
                let took = t.elapsed();
                total += took;
                batches += iters as u32;
                took
            });
        });
        drop(runner);
        let batch_ms = total.as_secs_f64() * 1e3 / f64::from(batches);
        let rate = count as f64 / batch_ms * 1e3;
        rates.push((name, workers, rate, batch_ms));
    }
    group.finish();
    let ideal_ms = ideal.as_secs_f64() * 1e3;
    let shown: Vec<String> = rates
        .iter()
        .map(|&(name, workers, rate, batch_ms)| {
            let best = workers as f64 * 1000.0 / SLEEP_MS as f64;
            // What a jobq batch lost against the ideal, less what one task alone costs (the
            // submitter's start and set-up), spread over the tasks each worker ran.
            let per_task = findings
                .jobq_one_ms
                .filter(|_| name == "jobq_workers")
                .map(|one| {
                    format!(
                        ", {:.2} ms per task beyond one task alone",
                        (batch_ms - ideal_ms - one) / per_worker as f64
                    )
                })
                .unwrap_or_default();
            let who = if name == "poold_workers" {
                "poold, "
            } else {
                ""
            };
            let plural = if workers == 1 { "" } else { "s" };
            format!(
                "{who}{workers} worker{plural} {rate:.0}/s, {:.1}% of {best:.0}/s (a batch {batch_ms:.0} \
                 ms for an ideal {ideal_ms:.0} ms{per_task})",
                100.0 * rate / best
            )
        })
        .collect();
    findings.lines.push(format!(
        "queue scaling (`sleep {SLEEP_MS}`, {per_worker} tasks per worker per batch, mean over \
         every batch timed, warm-up included; goal 80%): {}",
        shown.join("; ")
    ));
}

fn queue_recovery(c: &mut Criterion, bins: &Bins, findings: &mut Findings) {
    let mut group = c.benchmark_group("queue_recovery");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_nanos(1));
    for ack_wait in ACK_WAITS {
        let mut recovery = Recovery::start(&bins.jobq, ack_wait)
            .expect("start the recovery set-up")
            .expect("nats-server is installed");
        // One recovery per sample: 10 of them, after the one of the warm-up. Each takes a little
        // more than the ack wait (the redelivery timer's tick, the new worker's start), so the
        // target leaves room for 10 of them: at exactly 10 ack waits, criterion warns that it
        // cannot complete its samples in time.
        group.measurement_time(Duration::from_secs(ack_wait) * 12);
        let mut seen = Vec::new();
        group.bench_with_input(
            BenchmarkId::new("ack_wait_s", ack_wait),
            &ack_wait,
            |b, _| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let r = recovery.once().expect("the task recovers");
                            seen.push(r);
                            r.kill_to_running
                        })
                        .sum()
                });
            },
        );
        drop(recovery);
        let n = seen.len() as f64;
        let mean = |f: &dyn Fn(&proclings_bench::queue::Recovered) -> Duration| {
            seen.iter().map(|r| f(r).as_secs_f64()).sum::<f64>() / n
        };
        let kill = mean(&|r| r.kill_to_running);
        let start = mean(&|r| r.start_to_kill);
        let (min, max) = seen
            .iter()
            .map(|r| r.kill_to_running.as_secs_f64())
            .fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
        findings.lines.push(format!(
            "queue recovery, ack wait {ack_wait} s ({} kills): SIGKILL to running elsewhere \
             {:.0} ms (min {:.0}, max {:.0}), {:.3}x the ack wait; task start to SIGKILL {:.1} \
             ms; task start to running elsewhere {:.3}x the ack wait",
            seen.len(),
            kill * 1e3,
            min * 1e3,
            max * 1e3,
            kill / ack_wait as f64,
            start * 1e3,
            (kill + start) / ack_wait as f64,
        ));
    }
    group.finish();
}

fn main() {
    let mut c = common::criterion().configure_from_args();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Listed as criterion lists them, without starting a server or building anything.
    if args.iter().any(|a| a == "--list") {
        let scaling = std::iter::once("poold_workers/1".to_string())
            .chain(WORKERS.map(|w| format!("jobq_workers/{w}")));
        let ids = ["poold_1_worker", "jobq_1_worker"]
            .map(|id| format!("queue_vs_pool/{id}"))
            .into_iter()
            .chain(scaling.map(|id| format!("queue_scaling/{id}")))
            .chain(ACK_WAITS.map(|s| format!("queue_recovery/ack_wait_s/{s}")));
        for id in ids {
            println!("{id}: benchmark");
        }
        return;
    }
    // `cargo test --benches` runs each benchmark once (`--test`): the passes outside criterion
    // are left out then.
    let extras = !args.iter().any(|a| a == "--test");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted = |group: &str| {
        filters.is_empty()
            || filters
                .iter()
                .any(|f| group.contains(f.as_str()) || f.contains(group))
    };
    if !broker_installed() {
        eprintln!(
            "queue: skipped: nats-server is not installed (apt-get install nats-server, or see \
             https://github.com/nats-io/nats-server/releases)"
        );
        return;
    }
    let bins: Bins = binaries().expect("the jobq, poold and poolc binaries");
    let mut findings = Findings::default();
    if wanted("queue_vs_pool") {
        queue_vs_pool(&mut c, &bins, &mut findings, extras);
    }
    if wanted("queue_scaling") {
        queue_scaling(&mut c, &bins, &mut findings);
    }
    if wanted("queue_recovery") {
        queue_recovery(&mut c, &bins, &mut findings);
    }
    c.final_summary();
    for line in &findings.lines {
        println!("{line}");
    }
}
