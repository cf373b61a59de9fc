//! A `time -v` in Rust: what a child cost, from `wait4`.
//!
//! Scenario: when a process ends, the kernel hands its parent a summary of what it used along
//! with the exit status: user and system CPU time, the largest resident set it had, how
//! often it gave up the CPU by itself (it blocked: voluntary context switches) and how often the
//! scheduler took the CPU from it (involuntary ones). `wait4(2)` returns that summary for one
//! child; `getrusage(RUSAGE_CHILDREN)` only the sum over every child already waited for, which
//! cannot tell one child from another.
//!
//! Goal: run a command, wait for exactly that child, and return what it used; format it as
//! GNU `time -v` does.
//! Chapter: `docs/src/08-monitoring.md#rusage`. Check: `cargo xtask check monitoring/rusage`.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// What one child used, as `wait4` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The child's pid (already reaped).
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
    /// CPU time in user mode.
    pub user: Duration,
    /// CPU time in the kernel on its behalf.
    pub system: Duration,
    /// The largest resident set its own program had, in KiB: the peak since its `execve`, not
    /// the peak of the parent's image it was copied from (which `ru_maxrss` includes).
    pub max_rss_kib: u64,
    /// Times it gave up the CPU by blocking (`ru_nvcsw`).
    pub voluntary_switches: u64,
    /// Times the scheduler preempted it (`ru_nivcsw`).
    pub involuntary_switches: u64,
    /// Wall-clock time from spawn to the end of the wait.
    pub wall: Duration,
}

/// Spawns `cmd`, waits for exactly that child, and returns what it used. A wait that fails is an
/// error (one interrupted by a signal is tried again). The peak memory must be the child's own
/// even when the parent is big: read it from the child while it exits, before its memory is gone
/// (the chapter says how); `cmd` may be changed on the way and is run once.
pub fn run_measured(cmd: &mut Command) -> io::Result<Usage> {
    // TODO: spawn, wait for exactly this child and collect what the kernel says it used.
    todo!("run {cmd:?} and measure it")
}

/// The usage in the words and units of GNU `time -v`, one `\tName: value` line each:
/// `User time (seconds)`, `System time (seconds)` (two decimals), `Elapsed (wall clock) time
/// (h:mm:ss or m:ss)` (`m:ss.cc` under an hour, the fraction cut, not rounded; `h:mm:ss` from
/// one hour on), `Maximum resident set size (kbytes)`, `Voluntary context
/// switches`, `Involuntary context switches`, and `Exit status`. A child killed by a signal
/// gets a first line `Command terminated by signal N` (not indented) and `Exit status: 0`, as
/// GNU time prints it.
pub fn report(usage: &Usage) -> String {
    // TODO
    todo!("format {usage:?} like GNU time -v")
}
