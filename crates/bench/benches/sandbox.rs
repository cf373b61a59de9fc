//! What the runner's sandbox costs per run (group `sandbox_setup`): `/bin/true` spawned and
//! waited for bare, through the sandbox without containment (its /proc scans, the reaping, the
//! reader thread), and contained (a clone into new PID, mount and IPC namespaces, three mounts,
//! a pids cgroup where one can be made, and the init as a second process).
//!
//! Run with `cargo xtask bench sandbox` (or `cargo bench -p proclings-bench --bench sandbox`).

mod common;

use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

const LIMIT: Duration = Duration::from_secs(10);

fn sandbox_setup(c: &mut Criterion) {
    sandbox::init();
    let mut group = c.benchmark_group("sandbox_setup");
    group.bench_function("bare_spawn", |b| {
        b.iter(|| {
            let status = Command::new("/bin/true").status().expect("true runs");
            assert!(status.success());
        });
    });
    group.bench_function("sandbox_uncontained", |b| {
        b.iter(|| {
            let outcome = sandbox::run_uncontained(Command::new("/bin/true"), LIMIT, false)
                .expect("true runs");
            assert!(outcome.clean_success(), "{outcome:?}");
        });
    });
    if sandbox::contain::enabled() {
        group.bench_function("sandbox_contained", |b| {
            b.iter(|| {
                let outcome =
                    sandbox::run(Command::new("/bin/true"), LIMIT, false).expect("true runs");
                assert!(outcome.clean_success() && outcome.contained, "{outcome:?}");
            });
        });
    } else {
        eprintln!("sandbox_contained: skipped, containment is not available here");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = sandbox_setup
}
criterion_main!(benches);
