//! What watching a tree of 200 sleeping processes costs: the CPU share of a sampler running at
//! 10 Hz (group `monitor_cpu_share`), and one refresh of the same pids through procfs and
//! sysinfo (group `monitor_refresh`).
//!
//! Run with `cargo xtask bench monitor` (or `cargo bench -p proclings-bench --features solution
//! --bench monitor`: the `solution` feature compiles the reference `pmon` in).
//!
//! In `monitor_cpu_share` one iteration is one 100 ms period of a 10 Hz sampler: a sample, then
//! a sleep to the next tick. The time reported for it is not wall time but the CPU time this
//! process used in that period (`getrusage(RUSAGE_SELF)`, through `iter_custom`), so 5 ms per
//! iteration means 5% of one core. Criterion sizes its runs by that reported time, so each
//! benchmark's measurement time is set from a calibration to about 30 periods (3 s of wall time).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};
use proclings_bench::monitor::{
    PmonSampler, SleeperTree, SysinfoSampler, process_cpu_time, procfs_refresh,
};

const TREE: usize = 200;
const PERIOD: Duration = Duration::from_millis(100);

/// Runs `sample` at 10 Hz for `iters` periods; returns the CPU time used meanwhile.
fn at_10_hz(iters: u64, sample: &mut dyn FnMut() -> usize) -> Duration {
    let cpu = process_cpu_time();
    let mut next = Instant::now();
    for _ in 0..iters {
        black_box(sample());
        next += PERIOD;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    process_cpu_time() - cpu
}

fn share_bench(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    sample: &mut dyn FnMut() -> usize,
) {
    // Calibrate: the CPU time of 5 periods, so that criterion's 10 samples take ~30 periods.
    let per_period = at_10_hz(5, sample) / 5;
    group.measurement_time((per_period * 30).max(Duration::from_micros(300)));
    group.bench_function(name, |b| b.iter_custom(|iters| at_10_hz(iters, sample)));
    let share = 100.0 * per_period.as_secs_f64() / PERIOD.as_secs_f64();
    eprintln!("{name}: about {share:.2}% of one core at 10 Hz (calibration)");
}

fn monitor_cpu_share(c: &mut Criterion) {
    let tree = SleeperTree::start(TREE).expect("start the tree of sleeping processes");
    let root = tree.root();
    let pids = tree.pids();
    assert_eq!(
        pids.len(),
        tree.len(),
        "every sleeper is a child of the shell"
    );
    let mut group = c.benchmark_group("monitor_cpu_share");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    let mut pmon = PmonSampler::new(root);
    share_bench(&mut group, "pmon_procfs", &mut || pmon.sample());
    let mut known = SysinfoSampler::new(&pids);
    share_bench(&mut group, "sysinfo_known_pids", &mut || {
        known.refresh_known()
    });
    let mut all = SysinfoSampler::new(&pids);
    share_bench(&mut group, "sysinfo_all", &mut || all.refresh_all(root));
    group.finish();
}

fn monitor_refresh(c: &mut Criterion) {
    let tree = SleeperTree::start(TREE).expect("start the tree of sleeping processes");
    let root = tree.root();
    let pids = tree.pids();
    let mut group = c.benchmark_group("monitor_refresh");
    group.bench_function("procfs_stat", |b| {
        b.iter(|| assert_eq!(procfs_refresh(&pids), pids.len()));
    });
    let mut pmon = PmonSampler::new(root);
    group.bench_function("pmon_procfs", |b| b.iter(|| pmon.sample()));
    let mut known = SysinfoSampler::new(&pids);
    group.bench_function("sysinfo_known_pids", |b| b.iter(|| known.refresh_known()));
    let mut all = SysinfoSampler::new(&pids);
    group.bench_function("sysinfo_all", |b| b.iter(|| all.refresh_all(root)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = monitor_cpu_share, monitor_refresh
}
criterion_main!(benches);
