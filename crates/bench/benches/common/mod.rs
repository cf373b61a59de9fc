//! Criterion settings shared by the bench targets: the full or quick mode from
//! `PROCLINGS_BENCH_QUICK` (see `proclings_bench::settings`). Command-line options given after
//! `cargo bench -- ...` still override them.

use criterion::Criterion;
use proclings_bench::settings::Settings;

/// A `Criterion` configured for the current mode, without plots (the report is drawn by
/// `cargo xtask bench`).
pub fn criterion() -> Criterion {
    let settings = Settings::from_env();
    Criterion::default()
        .warm_up_time(settings.warm_up)
        .measurement_time(settings.measurement)
        .sample_size(settings.sample_size)
        .nresamples(settings.resamples)
        .without_plots()
}
