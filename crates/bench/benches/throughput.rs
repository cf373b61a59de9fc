//! Spawn throughput (group `spawn_throughput`): N runs of `/bin/true` with a pool of 1, 2 and 4
//! threads, and with tokio keeping 100 children in flight. Criterion reports the time per batch;
//! `cargo xtask bench` turns it into processes per second.
//!
//! Run with `cargo xtask bench spawn_throughput`.

mod common;

use std::path::Path;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use proclings_bench::settings::Settings;
use proclings_bench::spawn::TRUE_PATH;
use proclings_bench::throughput::{spawn_many_threads, spawn_many_tokio, tokio_pool_runtime};

/// Children kept running at once by the tokio benchmark (the seed's "@ 100 concurrent").
const IN_FLIGHT: usize = 100;

fn spawn_throughput(c: &mut Criterion) {
    let count = Settings::from_env().throughput_processes;
    let path = Path::new(TRUE_PATH);
    let mut group = c.benchmark_group("spawn_throughput");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(count));
    for threads in [1, 2, 4] {
        group.bench_with_input(
            BenchmarkId::new("threads", threads),
            &threads,
            |b, &threads| {
                b.iter(|| {
                    spawn_many_threads(path, count, threads).expect("spawn with a thread pool")
                });
            },
        );
    }
    let rt = tokio_pool_runtime().expect("build a tokio runtime");
    group.bench_with_input(
        BenchmarkId::new("tokio_in_flight", IN_FLIGHT),
        &IN_FLIGHT,
        |b, &n| {
            b.iter(|| spawn_many_tokio(&rt, path, count, n).expect("spawn with tokio"));
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = spawn_throughput
}
criterion_main!(benches);
