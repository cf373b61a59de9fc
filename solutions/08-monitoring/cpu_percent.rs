//! CPU % over an interval: two samples of a process's CPU time, in clock ticks.
//!
//! Scenario: the kernel keeps no "CPU %" for a process, only how much CPU time it has used so
//! far: utime and stime in `/proc/PID/stat`, counted in clock ticks (`sysconf(_SC_CLK_TCK)`,
//! almost always 100 per second). A percentage needs two samples: the ticks used between them,
//! converted to seconds, over the wall-clock time between them. One core busy the whole time is
//! 100%; a process with two busy threads on two cores reads 200% (what `top` shows per
//! process), or 100% of the whole machine once divided by the number of cores.
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
///
/// # References
/// `sysconf(3)` (`_SC_CLK_TCK`)
pub fn ticks_per_second() -> u64 {
    // -1 would mean the name is unknown, which never happens for _SC_CLK_TCK on Linux; the
    // usual 100 then. (A 0 cannot become a division by zero: `cpu_percent` checks.)
    // SAFETY: sysconf takes an integer and touches no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).unwrap_or(100)
}

/// Reads `pid`'s CPU time now.
///
/// # References
/// `proc_pid_stat(5)` (fields 14 utime and 15 stime)
pub fn sample(pid: i32) -> io::Result<CpuSample> {
    let stat = procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?;
    // Stamp the sample right after the read, so the interval matches the ticks read.
    Ok(CpuSample {
        ticks: stat.utime + stat.stime,
        taken: Instant::now(),
    })
}

/// The CPU use between two samples, as a percentage of one core: 100.0 is one core busy the
/// whole time. It is not capped at 100 (two busy threads read 200). Returns 0.0 when no time
/// passed between the samples.
pub fn cpu_percent(before: &CpuSample, after: &CpuSample, ticks_per_second: u64) -> f64 {
    let elapsed = after.taken.saturating_duration_since(before.taken);
    if elapsed.is_zero() || ticks_per_second == 0 {
        return 0.0;
    }
    let used = after.ticks.saturating_sub(before.ticks) as f64 / ticks_per_second as f64;
    100.0 * used / elapsed.as_secs_f64()
}

/// Samples `pid`, waits `interval`, samples again, and returns its CPU % over that interval.
pub fn measure(pid: i32, interval: Duration) -> io::Result<f64> {
    let before = sample(pid)?;
    std::thread::sleep(interval);
    let after = sample(pid)?;
    Ok(cpu_percent(&before, &after, ticks_per_second()))
}
