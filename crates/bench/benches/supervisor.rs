//! What supervising costs, measured on `svd` (the week-8 practice project, reference solution,
//! release build): how soon a crashed service runs again with a zero backoff (group
//! `supervisor_restart`), and the CPU an idle svd uses with 50 sleeping services (group
//! `supervisor_idle`).
//!
//! Run with `cargo xtask bench supervisor` (or `cargo bench -p proclings-bench --bench
//! supervisor`).
//!
//! `supervisor_restart`: one iteration is one SIGKILL of a service and the wait until its
//! successor announces itself on a FIFO (`svd_restart`), against the bench spawning the same
//! command and waiting for the same announcement (`bare_spawn`). The goal is a restart within
//! 10 ms of the death; the ratio to a bare spawn is what svd adds. `svd_restart_of_50` is the
//! same kill and wait with 49 other services supervised beside it: what a death costs that
//! grows with the number of services shows there.
//!
//! `supervisor_idle`: one iteration is a 100 ms period of wall time; the time reported is the
//! CPU time svd used in it (from `/proc/PID/task/*/schedstat`, through `iter_custom`), so 100 µs
//! per iteration would be 0.1% of one core, the goal. An event-driven svd sleeps in poll: the
//! figure is close to zero, and reported at no less than 1 µs per period (0.001% of a core) so
//! that criterion can size its runs.

mod common;

use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use proclings_bench::supervisor::{BareSpawn, Svd, cpu_time_of};

const IDLE_SERVICES: usize = 50;
const PERIOD: Duration = Duration::from_millis(100);
const FLOOR: Duration = Duration::from_micros(1);

fn supervisor_restart(c: &mut Criterion) {
    let mut svd = Svd::start(1, 0).expect("start svd with one service and a zero backoff");
    let mut pid = svd.pids[0];
    let mut svd50 = Svd::start(IDLE_SERVICES, 0).expect("start svd with 50 services");
    let mut pid50 = svd50.pids[0];
    let mut bare = BareSpawn::new().expect("a FIFO for the bare spawns");
    let mut group = c.benchmark_group("supervisor_restart");
    group.bench_function("svd_restart", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (took, new) = svd.restart(pid).expect("svd restarts the killed service");
                total += took;
                pid = new;
            }
            total
        })
    });
    group.bench_function("svd_restart_of_50", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (took, new) = svd50
                    .restart(pid50)
                    .expect("svd restarts the killed service");
                total += took;
                pid50 = new;
            }
            total
        })
    });
    group.bench_function("bare_spawn", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| bare.once().expect("spawn the service directly"))
                .sum()
        })
    });
    group.finish();
    // One run's ratio, printed next to criterion's figures.
    let n = 50;
    let restart: Duration = (0..n)
        .map(|_| {
            let (took, new) = svd.restart(pid).expect("restart");
            pid = new;
            took
        })
        .sum::<Duration>()
        / n;
    let restart50: Duration = (0..n)
        .map(|_| {
            let (took, new) = svd50.restart(pid50).expect("restart");
            pid50 = new;
            took
        })
        .sum::<Duration>()
        / n;
    let spawn: Duration = (0..n)
        .map(|_| bare.once().expect("spawn"))
        .sum::<Duration>()
        / n;
    let goal = |d: Duration| {
        if d < Duration::from_millis(10) {
            "met"
        } else {
            "NOT met"
        }
    };
    eprintln!(
        "svd restart {restart:?} vs bare spawn {spawn:?}: {:.2}x; goal under 10 ms: {}",
        restart.as_secs_f64() / spawn.as_secs_f64(),
        goal(restart)
    );
    eprintln!(
        "svd restart among 50 services {restart50:?} vs bare spawn: {:.2}x; goal under 10 ms: {}",
        restart50.as_secs_f64() / spawn.as_secs_f64(),
        goal(restart50)
    );
}

/// Sleeps `iters` periods; returns svd's CPU time meanwhile (at least the floor per period).
fn idle_periods(pid: i32, iters: u64) -> Duration {
    let before = cpu_time_of(pid).expect("svd's CPU time");
    std::thread::sleep(PERIOD * iters as u32);
    let used = cpu_time_of(pid).expect("svd's CPU time") - before;
    used.max(FLOOR * iters as u32)
}

fn supervisor_idle(c: &mut Criterion) {
    let svd = Svd::start(IDLE_SERVICES, 1000).expect("start svd with 50 sleeping services");
    let pid = svd.pid();
    // Calibrate: 10 periods, so that criterion's 10 samples take about 30 periods.
    let per_period = idle_periods(pid, 10) / 10;
    let mut group = c.benchmark_group("supervisor_idle");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_nanos(1));
    group.measurement_time(per_period * 30);
    group.bench_function("svd_50_sleeping_services", |b| {
        b.iter_custom(|iters| idle_periods(pid, iters))
    });
    group.finish();
    let share = 100.0 * per_period.as_secs_f64() / PERIOD.as_secs_f64();
    eprintln!(
        "idle svd with {IDLE_SERVICES} services: {share:.4}% of one core (goal under 0.1%: {:.3}x the goal)",
        share / 0.1
    );
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = supervisor_restart, supervisor_idle
}
criterion_main!(benches);
