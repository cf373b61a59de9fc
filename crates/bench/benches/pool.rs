//! The process pool (groups `pool_vs_spawn`, `pool_dispatch_same_core`,
//! `pool_dispatch_cross_core`, `pool_workers`), measured on the reference solution:
//! - `pool_vs_spawn`: a trivial task (`echo x`) through a pool of 2 workers against a process
//!   per task (spawn, one frame each way, wait); criterion's throughput is tasks per second;
//! - `pool_dispatch_*`: one task's round trip through a pool of 1 worker with `Pool::run` (the
//!   caller writes the frame into the worker's pipe and, while it waits, polls the worker's
//!   stdout and reads the answer itself) against the same frames on a bare pipe pair to one
//!   worker, with the worker on the caller's core and on another core;
//! - `pool_workers`: a batch of CPU-bound tasks (`spin 20000`) with 1, 2 and 4 workers;
//! - then, outside criterion, the dispatch ratio measured in alternating blocks of round trips
//!   (bare pipe, pool) in this one process, so that load coming and going on a shared machine
//!   hits both alike, for each placement.
//!
//! Where the processes run moves these figures more than the pool does: a round trip between
//! two processes on one core is a direct switch (a few µs), across cores an inter-processor
//! wake-up (tens of µs in a VM). Left to the scheduler, one run puts the worker next to the
//! caller and the next one does not, so every group pins: the measuring thread (and the pool's
//! event thread, which inherits its mask) to the first allowed CPU, and the workers as each
//! group says.
//!
//! Run with `cargo xtask bench pool` (or `cargo bench -p proclings-bench --features solution
//! --bench pool`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use proclings_bench::affinity::{
    PinGuard, Placement, allowed_cpus, pin_current_thread, set_affinity,
};
use proclings_bench::pool::Pool;
use proclings_bench::pool_bench::{
    BareWorker, pool_batch, pool_round_trip, process_per_task, start_pool,
};
use proclings_bench::settings::Settings;
use proclings_bench::voluntary_switches;

const WORKER: &str = env!("CARGO_BIN_EXE_bench-pool-worker");

/// Pins the calling thread to the first allowed CPU; workers and children started from it
/// inherit that mask until they are pinned elsewhere.
fn pin_here() -> (PinGuard, Vec<usize>) {
    let cpus = allowed_cpus().expect("read the CPU affinity");
    let pin = pin_current_thread(cpus[0]).expect("pin the measuring thread");
    (pin, cpus)
}

/// A pool of `workers` workers, worker i pinned to `cpus[i % len]`: one worker shares the
/// caller's core (no task waits for a wake-up of another core), more spread round the CPUs.
fn spread_pool(worker: &Path, workers: usize, cpus: &[usize]) -> Pool {
    let pool = start_pool(worker, workers).expect("start the pool");
    let mut pids = pool.worker_pids();
    pids.sort_unstable();
    for (i, pid) in pids.into_iter().enumerate() {
        set_affinity(pid as i32, cpus[i % cpus.len()]).expect("pin a worker");
    }
    pool
}

fn pool_vs_spawn(c: &mut Criterion) {
    let worker = Path::new(WORKER);
    let (_pin, cpus) = pin_here();
    let mut group = c.benchmark_group("pool_vs_spawn");
    group.sampling_mode(SamplingMode::Flat);
    let pooled: u64 = 500;
    group.throughput(Throughput::Elements(pooled));
    let pool = spread_pool(worker, 2, &cpus);
    group.bench_function("pool_2_workers", |b| {
        b.iter(|| pool_batch(&pool, "echo x", pooled).expect("pool batch"));
    });
    drop(pool);
    let spawned: u64 = 20;
    group.throughput(Throughput::Elements(spawned));
    group.bench_function("process_per_task", |b| {
        b.iter(|| process_per_task(worker, "echo x", spawned).expect("process per task"));
    });
    group.finish();
}

fn pool_dispatch(c: &mut Criterion) {
    let worker = Path::new(WORKER);
    for placement in Placement::ALL {
        let Some((here, there)) = placement.cpus().expect("read the CPU affinity") else {
            continue;
        };
        let _pin = pin_current_thread(here).expect("pin the measuring thread");
        let mut group = c.benchmark_group(format!("pool_dispatch_{}", placement.label()));
        let mut bare = BareWorker::spawn(worker).expect("start a bare worker");
        set_affinity(bare.pid() as i32, there).expect("pin the bare worker");
        let mut id = 0;
        group.bench_function("bare_pipe_round_trip", |b| {
            b.iter(|| {
                id += 1;
                bare.round_trip(id, "echo x").expect("bare round trip");
            });
        });
        bare.finish().expect("stop the bare worker");
        let pool = one_worker_pool(worker, there);
        group.bench_function("pool_round_trip", |b| {
            b.iter(|| pool_round_trip(&pool, "echo x").expect("pool round trip"));
        });
        group.finish();
    }
}

/// A pool of one worker pinned to `cpu` (its event thread runs where the caller is pinned).
fn one_worker_pool(worker: &Path, cpu: usize) -> Pool {
    let pool = start_pool(worker, 1).expect("start the pool");
    for pid in pool.worker_pids() {
        set_affinity(pid as i32, cpu).expect("pin the worker");
    }
    pool
}

fn pool_workers(c: &mut Criterion) {
    let worker = Path::new(WORKER);
    let (_pin, cpus) = pin_here();
    let mut group = c.benchmark_group("pool_workers");
    group.sampling_mode(SamplingMode::Flat);
    let tasks: u64 = 200;
    group.throughput(Throughput::Elements(tasks));
    for workers in [1, 2, 4] {
        let pool = spread_pool(worker, workers, &cpus);
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, _| {
            b.iter(|| pool_batch(&pool, "spin 20000", tasks).expect("pool batch"));
        });
    }
    group.finish();
}

/// One task's round trip through the pool (1 worker) against a bare pipe pair to one worker,
/// in alternating blocks with both started once; each pair of block medians gives one ratio.
/// It also counts the sleeps (voluntary context switches) of the measuring thread and of the
/// pool's event thread: a round trip that involves only the worker and the caller, as a bare
/// pipe does, shows no sleep of the event thread. (The caller sleeps less than once per round
/// trip: the answer is often there before it looks, the worker running on the other core or
/// preempting the caller on the same one.)
fn dispatch_report(placement: Placement) {
    let Some((here, there)) = placement.cpus().expect("read the CPU affinity") else {
        return;
    };
    let _pin = pin_current_thread(here).expect("pin the measuring thread");
    let quick = Settings::from_env().quick;
    let (pairs, block) = if quick { (10, 100) } else { (40, 200) };
    let budget = Duration::from_secs(if quick { 2 } else { 20 });
    let worker = Path::new(WORKER);
    let mut bare = BareWorker::spawn(worker).expect("start a bare worker");
    set_affinity(bare.pid() as i32, there).expect("pin the bare worker");
    let pool = one_worker_pool(worker, there);
    let mut id = 0;
    // The median of a block, the caller's sleeps and the event thread's sleeps in it.
    let mut bare_block = || {
        let sleeps = voluntary_switches();
        let mut times: Vec<Duration> = (0..block)
            .map(|_| {
                id += 1;
                let t = Instant::now();
                bare.round_trip(id, "echo x").expect("bare round trip");
                t.elapsed()
            })
            .collect();
        times.sort_unstable();
        (
            times[block / 2].as_nanos() as f64,
            voluntary_switches() - sleeps,
        )
    };
    let pool_block = || {
        let sleeps = voluntary_switches();
        let event_sleeps = event_thread_switches();
        let mut times: Vec<Duration> = (0..block)
            .map(|_| {
                let t = Instant::now();
                pool_round_trip(&pool, "echo x").expect("pool round trip");
                t.elapsed()
            })
            .collect();
        times.sort_unstable();
        (
            times[block / 2].as_nanos() as f64,
            voluntary_switches() - sleeps,
            event_thread_switches() - event_sleeps,
        )
    };
    bare_block();
    pool_block();
    let began = Instant::now();
    let mut ratios = Vec::with_capacity(pairs);
    let (mut bare_sum, mut pool_sum) = (0.0, 0.0);
    let (mut bare_sleeps, mut pool_sleeps, mut event_sleeps) = (0, 0, 0);
    while ratios.len() < pairs && (ratios.len() < 5 || began.elapsed() < budget) {
        // Alternate which goes first, so neither always follows the other's sleep.
        let (b, p) = if ratios.len() % 2 == 0 {
            let b = bare_block();
            (b, pool_block())
        } else {
            let p = pool_block();
            (bare_block(), p)
        };
        bare_sum += b.0;
        pool_sum += p.0;
        bare_sleeps += b.1;
        pool_sleeps += p.1;
        event_sleeps += p.2;
        ratios.push(p.0 / b.0);
    }
    drop(pool);
    bare.finish().expect("stop the bare worker");
    let n = ratios.len();
    ratios.sort_by(f64::total_cmp);
    let trips = (n * block) as f64;
    println!(
        "\npool: dispatch ({}: caller on CPU {here}, worker on CPU {there}), {n} alternating \
         pairs of {block} round trips (`echo x`)",
        placement.label()
    );
    println!(
        "  mean of block medians: bare pipe {:.2}us, through the pool {:.2}us",
        bare_sum / n as f64 / 1e3,
        pool_sum / n as f64 / 1e3,
    );
    println!(
        "  sleeps per round trip: caller {:.2} on the bare pipe, {:.2} through the pool; the \
         pool's event thread {:.3}",
        bare_sleeps as f64 / trips,
        pool_sleeps as f64 / trips,
        event_sleeps as f64 / trips,
    );
    println!(
        "  pool / bare pipe per pair: median {:.3}x, middle half {:.3}x - {:.3}x (goal: median <= 2x)",
        ratios[n / 2],
        ratios[n / 4],
        ratios[3 * n / 4],
    );
}

/// Voluntary context switches so far of this process's threads named `pool-events`.
fn event_thread_switches() -> i64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "pool-events")
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<i64>().ok())
        })
        .sum()
}

fn main() {
    let mut c = common::criterion().configure_from_args();
    pool_vs_spawn(&mut c);
    pool_dispatch(&mut c);
    pool_workers(&mut c);
    c.final_summary();
    // The alternating pass runs unless a filter that excludes it was given.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listing = args.iter().any(|a| a == "--list" || a == "--test");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !listing && (filters.is_empty() || filters.iter().any(|f| f.contains("pool_dispatch"))) {
        for placement in Placement::ALL {
            dispatch_report(placement);
        }
    }
}
