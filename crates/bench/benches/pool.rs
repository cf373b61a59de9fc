//! The process pool (groups `pool_vs_spawn`, `pool_dispatch`, `pool_workers`), measured on the
//! reference solution:
//! - `pool_vs_spawn`: a trivial task (`echo x`) through a pool of 2 workers against a process
//!   per task (spawn, one frame each way, wait); criterion's throughput is tasks per second;
//! - `pool_dispatch`: one task's round trip through a pool of 1 worker (the caller writes the
//!   frame into the worker's pipe, the pool's event thread polls the answer and sends it on a
//!   channel) against the same frames on a bare pipe pair to one worker;
//! - `pool_workers`: a batch of CPU-bound tasks (`spin 20000`) with 1, 2 and 4 workers.
//!
//! Run with `cargo xtask bench pool_vs_spawn` (or `cargo bench -p proclings-bench --bench pool`).

mod common;

use std::path::Path;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use proclings_bench::pool_bench::{
    BareWorker, pool_batch, pool_round_trip, process_per_task, start_pool,
};

const WORKER: &str = env!("CARGO_BIN_EXE_bench-pool-worker");

fn pool_vs_spawn(c: &mut Criterion) {
    let worker = Path::new(WORKER);
    let mut group = c.benchmark_group("pool_vs_spawn");
    group.sampling_mode(SamplingMode::Flat);
    let pooled: u64 = 500;
    group.throughput(Throughput::Elements(pooled));
    let pool = start_pool(worker, 2).expect("start the pool");
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
    let mut group = c.benchmark_group("pool_dispatch");
    let mut bare = BareWorker::spawn(worker).expect("start a bare worker");
    let mut id = 0;
    group.bench_function("bare_pipe_round_trip", |b| {
        b.iter(|| {
            id += 1;
            bare.round_trip(id, "echo x").expect("bare round trip");
        });
    });
    bare.finish().expect("stop the bare worker");
    let pool = start_pool(worker, 1).expect("start the pool");
    group.bench_function("pool_round_trip", |b| {
        b.iter(|| pool_round_trip(&pool, "echo x").expect("pool round trip"));
    });
    group.finish();
}

fn pool_workers(c: &mut Criterion) {
    let worker = Path::new(WORKER);
    let mut group = c.benchmark_group("pool_workers");
    group.sampling_mode(SamplingMode::Flat);
    let tasks: u64 = 200;
    group.throughput(Throughput::Elements(tasks));
    for workers in [1, 2, 4] {
        let pool = start_pool(worker, workers).expect("start the pool");
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, _| {
            b.iter(|| pool_batch(&pool, "spin 20000", tasks).expect("pool batch"));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = pool_vs_spawn, pool_dispatch, pool_workers
}
criterion_main!(benches);
