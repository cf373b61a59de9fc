//! CPU % over an interval: two samples of a process's CPU time, in clock ticks.
//!
//! Scenario: the kernel keeps no "CPU %" for a process, only how much CPU time it has used so
//! far: utime and stime in `/proc/PID/stat`, counted in clock ticks. A percentage needs two
//! samples: the CPU time used between them over the wall-clock time between them. One core busy
//! the whole time is 100%; a process with two busy threads on two cores reads 200% (what `top`
//! shows per process), or 100% of the whole machine once divided by the number of cores.
//!
//! Goal: take samples, turn two of them into a percentage, and measure a process over an
//! interval.
//! Chapter: `docs/src/08-monitoring.md#cpu_percent`. Check: `cargo xtask check monitoring/cpu_percent`.

use std::io;
use std::time::{Duration, Instant};

/// A process's CPU time at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample {
    /// utime + stime, in clock ticks, as `/proc/PID/stat` counts them.
    pub ticks: u64,
    /// When the sample was taken (a monotonic clock: wall-clock jumps must not count).
    pub taken: Instant,
}

/// How many clock ticks make one second, as the kernel reports CPU times in `/proc`.
pub fn ticks_per_second() -> u64 {
    // TODO: ask the C library, do not assume.
    todo!("the clock-tick rate")
}

/// Reads `pid`'s CPU time now.
pub fn sample(pid: i32) -> io::Result<CpuSample> {
    // TODO: read the process's stat and stamp the sample.
    todo!("sample pid {pid}")
}

/// The CPU use between two samples, as a percentage of one core: 100.0 is one core busy the
/// whole time. It is not capped at 100 (two busy threads read 200). Returns 0.0 when no time
/// passed between the samples.
pub fn cpu_percent(before: &CpuSample, after: &CpuSample, ticks_per_second: u64) -> f64 {
    // TODO: CPU seconds used over wall seconds elapsed.
    todo!("the percentage")
}

/// Samples `pid`, waits `interval`, samples again, and returns its CPU % over that interval.
pub fn measure(pid: i32, interval: Duration) -> io::Result<f64> {
    // TODO
    todo!("measure pid {pid} over {interval:?}")
}
