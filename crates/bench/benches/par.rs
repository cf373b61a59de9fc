//! par against xargs (group `par_throughput`): the same N runs of `/bin/true`, 4 at a time,
//! through `par -j 4` (each command executed directly, and each through `sh -c`),
//! `xargs -P 4 -n 1` and, where it is installed, GNU `parallel -j 4` (a twentieth of N: it is
//! much slower; a `parallel` whose `--version` does not name GNU parallel, such as
//! moreutils', is skipped with a note). N is 2,000 (500 in the quick mode). Criterion reports the time per batch; `cargo xtask bench` turns it into
//! commands per second.
//!
//! Run with `cargo xtask bench par_throughput`. The `par` binary is built in release mode
//! first, or taken from `PROCLINGS_PAR` (see `proclings_bench::par`).

mod common;

use std::path::Path;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use proclings_bench::par::{is_gnu_parallel, lines, on_path, par_binary, run_fed};
use proclings_bench::settings::Settings;
use proclings_bench::spawn::TRUE_PATH;

/// Commands running at once, for every tool.
const JOBS: usize = 4;

fn par_throughput(c: &mut Criterion) {
    let count = if Settings::from_env().quick {
        500
    } else {
        2000
    };
    let par = par_binary().expect("the par binary");
    let jobs = JOBS.to_string();
    // par executes a plain path directly; a comment is shell syntax, so the second input makes
    // par go through `sh -c` for each command, as GNU parallel always does.
    let direct = lines(TRUE_PATH, count);
    let through_sh = lines(&format!("{TRUE_PATH} # through sh"), count);
    // xargs appends one input word to the command: `/bin/true x`, count times.
    let words = lines("x", count);
    let mut group = c.benchmark_group("par_throughput");
    group.sampling_mode(SamplingMode::Flat);
    // One sample is already thousands of processes: criterion's minimum of 10 samples is
    // plenty, and more would make this group last many minutes.
    group.sample_size(10);
    group.throughput(Throughput::Elements(count));
    group.bench_function(BenchmarkId::new("par", format!("j{JOBS}")), |b| {
        b.iter(|| run_fed(&par, &["-j", &jobs], &direct).expect("par"));
    });
    group.bench_function(BenchmarkId::new("par_sh", format!("j{JOBS}")), |b| {
        b.iter(|| run_fed(&par, &["-j", &jobs], &through_sh).expect("par through sh"));
    });
    group.bench_function(BenchmarkId::new("xargs", format!("P{JOBS}")), |b| {
        b.iter(|| {
            run_fed(
                Path::new("xargs"),
                &["-P", &jobs, "-n", "1", TRUE_PATH],
                &words,
            )
            .expect("xargs")
        });
    });
    if is_gnu_parallel(Path::new("parallel")) {
        // GNU parallel is a Perl program that does a lot of bookkeeping per command: a
        // twentieth of the commands keeps its share of the run short. The throughput is per
        // command, so the figures still compare.
        let count = count / 20;
        group.throughput(Throughput::Elements(count));
        let commands = lines(TRUE_PATH, count);
        group.bench_function(BenchmarkId::new("parallel", format!("j{JOBS}")), |b| {
            b.iter(|| run_fed(Path::new("parallel"), &["-j", &jobs], &commands).expect("parallel"));
        });
    } else if on_path("parallel") {
        eprintln!(
            "the `parallel` on PATH is not GNU parallel (`parallel --version` does not say so; \
             moreutils has one of the same name): measuring par and xargs only"
        );
    } else {
        eprintln!("GNU parallel is not installed: measuring par and xargs only");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = par_throughput
}
criterion_main!(benches);
