//! A `time -v` in Rust: what a child cost, from `wait4`.
//!
//! Scenario: when a process ends, the kernel hands its parent a summary of what it used along
//! with the exit status: user and system CPU time, the largest resident set it ever had, how
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
    /// The largest resident set it ever had, in KiB (Linux reports `ru_maxrss` in kilobytes).
    pub max_rss_kib: u64,
    /// Times it gave up the CPU by blocking (`ru_nvcsw`).
    pub voluntary_switches: u64,
    /// Times the scheduler preempted it (`ru_nivcsw`).
    pub involuntary_switches: u64,
    /// Wall-clock time from spawn to the end of the wait.
    pub wall: Duration,
}

/// Spawns `cmd`, waits for that child with `wait4`, and returns what it used. A wait that fails
/// is an error (one interrupted by a signal is tried again): a parent that ignores SIGCHLD has
/// its children reaped by the kernel, and `wait4` then fails with ECHILD.
///
/// # References
/// `wait4(2)`, `getrusage(2)`
pub fn run_measured(cmd: &mut Command) -> io::Result<Usage> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id();
    let raw_pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // wait4 on this pid, not -1: it reaps exactly our child and returns its own usage.
        // `child` is not waited for by std afterwards: dropping a Child never waits.
        // SAFETY: `status` and `usage` are live, writable locals of the right types.
        let rc = unsafe { libc::wait4(raw_pid, &mut status, 0, &mut usage) };
        if rc == raw_pid {
            break;
        }
        let err = io::Error::last_os_error();
        // A signal handler ran during the wait: wait again.
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall = start.elapsed();
    drop(child);
    Ok(Usage {
        pid,
        status: ExitStatus::from_raw(status),
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        voluntary_switches: u64::try_from(usage.ru_nvcsw).unwrap_or(0),
        involuntary_switches: u64::try_from(usage.ru_nivcsw).unwrap_or(0),
        wall,
    })
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// The usage in the words and units of GNU `time -v`, one `\tName: value` line each:
/// `User time (seconds)`, `System time (seconds)` (two decimals), `Elapsed (wall clock) time
/// (h:mm:ss or m:ss)` (`m:ss.cc`), `Maximum resident set size (kbytes)`, `Voluntary context
/// switches`, `Involuntary context switches`, and `Exit status`. A child killed by a signal
/// gets a first line `Command terminated by signal N` (not indented) and `Exit status: 0`, as
/// GNU time prints it.
pub fn report(usage: &Usage) -> String {
    let wall = usage.wall.as_secs_f64();
    let minutes = (wall / 60.0).floor();
    let killed = usage
        .status
        .signal()
        .map(|sig| format!("Command terminated by signal {sig}\n"))
        .unwrap_or_default();
    format!(
        "{killed}\tUser time (seconds): {:.2}\n\
         \tSystem time (seconds): {:.2}\n\
         \tElapsed (wall clock) time (h:mm:ss or m:ss): {}:{:05.2}\n\
         \tMaximum resident set size (kbytes): {}\n\
         \tVoluntary context switches: {}\n\
         \tInvoluntary context switches: {}\n\
         \tExit status: {}\n",
        usage.user.as_secs_f64(),
        usage.system.as_secs_f64(),
        minutes,
        wall - minutes * 60.0,
        usage.max_rss_kib,
        usage.voluntary_switches,
        usage.involuntary_switches,
        usage.status.code().unwrap_or(0),
    )
}
