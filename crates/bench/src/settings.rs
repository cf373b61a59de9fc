//! How long the benchmarks run: a full mode (a few minutes on 2 cores) and a quick mode (under a
//! minute), chosen by the `PROCLINGS_BENCH_QUICK` environment variable that `cargo xtask bench
//! --quick` sets.

use std::time::Duration;

/// The environment variable that selects the quick mode when set to anything but `0` or empty.
pub const QUICK_ENV: &str = "PROCLINGS_BENCH_QUICK";

/// Timing settings shared by every bench target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Whether this is the quick mode.
    pub quick: bool,
    /// Time spent running a benchmark before measuring (caches, branch predictors, page faults).
    pub warm_up: Duration,
    /// Time criterion aims to spend measuring each benchmark.
    pub measurement: Duration,
    /// Number of samples per benchmark (criterion's minimum is 10).
    pub sample_size: usize,
    /// Bootstrap resamples for the confidence intervals (criterion's default is 100,000).
    pub resamples: usize,
    /// Processes spawned per iteration of the throughput benchmarks.
    pub throughput_processes: u64,
    /// Bytes of the large parent in the `spawn_large_parent` group.
    pub large_parent_bytes: usize,
}

impl Settings {
    /// The settings selected by [`QUICK_ENV`].
    pub fn from_env() -> Self {
        let quick = std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        if quick { Self::quick() } else { Self::full() }
    }

    /// The quick mode: every benchmark runs for well under a second.
    pub fn quick() -> Self {
        Self {
            quick: true,
            warm_up: Duration::from_millis(150),
            measurement: Duration::from_millis(400),
            sample_size: 10,
            resamples: 10_000,
            throughput_processes: 200,
            large_parent_bytes: 512 << 20,
        }
    }

    /// The full mode: more samples, tighter confidence intervals.
    pub fn full() -> Self {
        Self {
            quick: false,
            warm_up: Duration::from_millis(800),
            measurement: Duration::from_secs(3),
            sample_size: 30,
            resamples: 100_000,
            throughput_processes: 500,
            large_parent_bytes: 512 << 20,
        }
    }
}
