//! Spawn + wait latency of `/bin/true` through each mechanism (group `spawn_latency`), and
//! `fork` + `exec` against `posix_spawn` from a parent with a large resident heap (group
//! `spawn_large_parent`).
//!
//! Run with `cargo xtask bench spawn` (or `cargo bench -p proclings-bench --bench spawn`).

mod common;

use std::cell::OnceCell;
use std::path::Path;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use proclings_bench::heap::LargeHeap;
use proclings_bench::settings::Settings;
use proclings_bench::spawn::{self, Program, TRUE_PATH, check};

fn spawn_latency(c: &mut Criterion) {
    let program = Program::new(TRUE_PATH).expect("prepare /bin/true");
    let path = Path::new(TRUE_PATH);
    let rt = spawn::tokio_runtime().expect("build a tokio runtime");
    let mut group = c.benchmark_group("spawn_latency");
    group.bench_function("std_status", |b| {
        b.iter(|| check(spawn::std_status(path)).expect("std Command::status"));
    });
    group.bench_function("std_output", |b| {
        b.iter(|| check(spawn::std_output(path)).expect("std Command::output"));
    });
    group.bench_function("posix_spawn", |b| {
        b.iter(|| check(program.posix_spawn()).expect("posix_spawn"));
    });
    group.bench_function("fork_exec", |b| {
        b.iter(|| check(program.fork_exec()).expect("fork + exec"));
    });
    group.bench_function("clone_vfork", |b| {
        b.iter(|| check(program.clone_vfork()).expect("clone(CLONE_VM | CLONE_VFORK)"));
    });
    group.bench_function("tokio", |b| {
        b.iter(|| check(spawn::tokio_status(&rt, path)).expect("tokio::process::Command"));
    });
    group.bench_function("duct", |b| {
        b.iter(|| check(spawn::duct_run(path)).expect("duct"));
    });
    group.finish();
}

fn spawn_large_parent(c: &mut Criterion) {
    let settings = Settings::from_env();
    let program = Program::new(TRUE_PATH).expect("prepare /bin/true");
    // Allocated on first use, so that filtering this group out costs nothing, and unmapped when
    // the group ends, so that the other groups measure an ordinary parent.
    let heap = OnceCell::new();
    let touch = || {
        heap.get_or_init(|| {
            LargeHeap::touch(settings.large_parent_bytes).expect("map and touch the large heap")
        })
    };
    let mut group = c.benchmark_group("spawn_large_parent");
    // Each fork from the large parent takes tens of milliseconds: one batch per sample.
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("fork_exec", |b| {
        touch();
        b.iter(|| check(program.fork_exec()).expect("fork + exec"));
    });
    group.bench_function("posix_spawn", |b| {
        touch();
        b.iter(|| check(program.posix_spawn()).expect("posix_spawn"));
    });
    group.bench_function("clone_vfork", |b| {
        touch();
        b.iter(|| check(program.clone_vfork()).expect("clone(CLONE_VM | CLONE_VFORK)"));
    });
    group.bench_function("std_status", |b| {
        touch();
        b.iter(|| check(spawn::std_status(program.path())).expect("std Command::status"));
    });
    group.finish();
    if let Some(heap) = heap.get() {
        std::hint::black_box(heap.checksum());
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = spawn_latency, spawn_large_parent
}
criterion_main!(benches);
