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
use std::os::unix::process::{CommandExt, ExitStatusExt};
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

/// Spawns `cmd`, waits for that child with `wait4`, and returns what it used. A wait that fails
/// is an error (one interrupted by a signal is tried again). A parent that ignores SIGCHLD has
/// its ordinary children reaped by the kernel (`wait4` then fails with ECHILD), but not a traced
/// one: this one is kept for us.
///
/// The peak memory is the child's own: its `VmHWM` read from `/proc/PID/status` when it stops
/// at its exit (ptrace's `PTRACE_EVENT_EXIT`), while its memory still exists. `ru_maxrss` would
/// not do: at `execve` the kernel carries the replaced image's peak into it, and a spawned
/// child's image before `execve` is (a copy of) its parent's. `cmd` gets a `pre_exec` hook that
/// asks to be traced, so run it once.
///
/// # References
/// `wait4(2)`, `getrusage(2)`, `ptrace(2)` (`PTRACE_TRACEME`, `PTRACE_O_TRACEEXIT`), `proc_pid_status(5)`
pub fn run_measured(cmd: &mut Command) -> io::Result<Usage> {
    // SAFETY: the hook runs in the forked child before execve and makes one system call,
    // which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            // From here on this process is traced by its parent: it stops at the execve.
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id();
    let raw_pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut own_peak_kib = None;
    let mut options_set = false;
    loop {
        // wait4 on this pid, not -1: it reaps exactly our child and returns its own usage.
        // `child` is not waited for by std afterwards: dropping a Child never waits.
        // SAFETY: `status` and `usage` are live, writable locals of the right types.
        let rc = unsafe { libc::wait4(raw_pid, &mut status, 0, &mut usage) };
        if rc != raw_pid {
            let err = io::Error::last_os_error();
            // A signal handler ran during the wait: wait again.
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            break; // it exited or was killed: `usage` is its own
        }
        // A ptrace stop: the execve, the exit, or a signal on its way to the child.
        let signal = libc::WSTOPSIG(status);
        let mut deliver = signal;
        if !options_set {
            // The first stop: stop again at the exit; die with us if we die.
            let options = libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL;
            // SAFETY: the child is ours, traced and stopped; the options are plain flags.
            if unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, raw_pid, 0, options) } == -1 {
                return Err(io::Error::last_os_error());
            }
            options_set = true;
            if signal == libc::SIGTRAP {
                deliver = 0; // the SIGTRAP of the execve is ptrace's, not the program's
            }
        } else if signal == libc::SIGTRAP && status >> 16 == libc::PTRACE_EVENT_EXIT {
            // Exiting, its memory not yet freed: the last moment VmHWM can be read.
            own_peak_kib = vm_hwm_kib(pid);
            deliver = 0;
        }
        // SAFETY: the child is ours, traced and stopped; `deliver` is 0 or the signal it got.
        if unsafe { libc::ptrace(libc::PTRACE_CONT, raw_pid, 0, deliver) } == -1 {
            let err = io::Error::last_os_error();
            // ESRCH: killed (SIGKILL) while stopped; the next wait4 reports it.
            if err.raw_os_error() != Some(libc::ESRCH) {
                return Err(err);
            }
        }
    }
    let wall = start.elapsed();
    drop(child);
    Ok(Usage {
        pid,
        status: ExitStatus::from_raw(status),
        user: timeval(usage.ru_utime),
        system: timeval(usage.ru_stime),
        // Had no exit stop been seen, or VmHWM not been readable there, ru_maxrss (an upper
        // bound) would be the best figure left.
        max_rss_kib: own_peak_kib.unwrap_or(u64::try_from(usage.ru_maxrss).unwrap_or(0)),
        voluntary_switches: u64::try_from(usage.ru_nvcsw).unwrap_or(0),
        involuntary_switches: u64::try_from(usage.ru_nivcsw).unwrap_or(0),
        wall,
    })
}

/// The `VmHWM` line of `/proc/PID/status`, in KiB: the peak resident set of the process's
/// current memory (its image since its last execve). Absent once the memory is gone.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// The usage in the words and units of GNU `time -v`, one `\tName: value` line each:
/// `User time (seconds)`, `System time (seconds)` (two decimals), `Elapsed (wall clock) time
/// (h:mm:ss or m:ss)` (`m:ss.cc` under an hour, the fraction cut, not rounded; `h:mm:ss` from
/// one hour on), `Maximum resident set size (kbytes)`, `Voluntary context
/// switches`, `Involuntary context switches`, and `Exit status`. A child killed by a signal
/// gets a first line `Command terminated by signal N` (not indented) and `Exit status: 0`, as
/// GNU time prints it.
pub fn report(usage: &Usage) -> String {
    let killed = usage
        .status
        .signal()
        .map(|sig| format!("Command terminated by signal {sig}\n"))
        .unwrap_or_default();
    format!(
        "{killed}\tUser time (seconds): {:.2}\n\
         \tSystem time (seconds): {:.2}\n\
         \tElapsed (wall clock) time (h:mm:ss or m:ss): {}\n\
         \tMaximum resident set size (kbytes): {}\n\
         \tVoluntary context switches: {}\n\
         \tInvoluntary context switches: {}\n\
         \tExit status: {}\n",
        usage.user.as_secs_f64(),
        usage.system.as_secs_f64(),
        elapsed(usage.wall),
        usage.max_rss_kib,
        usage.voluntary_switches,
        usage.involuntary_switches,
        usage.status.code().unwrap_or(0),
    )
}

/// GNU time's `%E`: `h:mm:ss` from one hour on, `m:ss.cc` below, the fraction cut (not rounded,
/// which could print `0:60.00`).
fn elapsed(wall: Duration) -> String {
    let secs = wall.as_secs();
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
    } else {
        let centis = wall.subsec_millis() / 10;
        format!("{}:{:02}.{centis:02}", secs / 60, secs % 60)
    }
}
