//! What the kernel says about a process: one read of `/proc/PID` through the `procfs` crate.
//!
//! Scenario: `ps`, `top` and every monitor read the same files: `/proc/PID/stat` (state, parent,
//! threads, CPU time in clock ticks, start time in ticks since boot, RSS in pages, VSZ in bytes),
//! `/proc/PID/smaps_rollup` (PSS: resident memory with shared pages divided among the processes
//! that share them), `/proc/PID/fd` (one entry per open fd) and `/proc/PID/io` (bytes passed to
//! read and write calls). Each file has its own unit; getting one wrong gives figures that look
//! plausible and are off by a factor of 4 or 100.
//!
//! Goal: fill a [`ProcInfo`] for a pid, in the units its fields name, agreeing with `ps` and with
//! the kernel's own files.
//! Chapter: `docs/src/08-monitoring.md#proc_info`. Check: `cargo xtask check monitoring/proc_info`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use procfs::ProcError;
use procfs::process::Process;

/// One process as the kernel describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcInfo {
    /// The process id.
    pub pid: i32,
    /// The parent's pid (0 for the first process).
    pub ppid: i32,
    /// The one-letter state: `R` running or runnable, `S` sleeping, `D` disk sleep, `T`
    /// stopped, `Z` zombie, ...
    pub state: char,
    /// How many threads it has (a zombie has 1).
    pub threads: u64,
    /// When it started, in clock ticks since the machine booted.
    pub start_ticks: u64,
    /// When it started, as a wall-clock time (boot time plus `start_ticks`).
    pub started: SystemTime,
    /// CPU time spent in user mode, in clock ticks.
    pub utime_ticks: u64,
    /// CPU time spent in the kernel on its behalf, in clock ticks.
    pub stime_ticks: u64,
    /// Resident set size in KiB: its pages in RAM, shared ones counted in full.
    pub rss_kib: u64,
    /// Virtual memory size in KiB: everything mapped, resident or not.
    pub vsz_kib: u64,
    /// Proportional set size in KiB (each shared page divided by the number of processes that
    /// map it), or `None` when it cannot be read (a zombie has no memory left to describe).
    pub pss_kib: Option<u64>,
    /// How many file descriptors it has open.
    pub fds: usize,
    /// Bytes passed to read-like and write-like calls (`rchar`, `wchar` in `/proc/PID/io`), or
    /// `None` when they cannot be read (another user's process, a zombie).
    pub io_chars: Option<(u64, u64)>,
    /// The command line, arguments joined by spaces; `[comm]` when it is empty (a zombie or a
    /// kernel thread), as `ps` shows it.
    pub cmd: String,
}

/// Reads everything [`ProcInfo`] holds about `pid`.
///
/// A pid that does not exist (or exits while it is read) is `ProcError::NotFound`.
///
/// # References
/// `proc_pid_stat(5)`, `proc_pid_smaps(5)`, `proc_pid_fd(5)`, `proc_pid_io(5)`
pub fn inspect(pid: i32) -> Result<ProcInfo, ProcError> {
    let process = Process::new(pid)?;
    let stat = process.stat()?;
    // RSS in stat is in pages, VSZ in bytes: the page size is not always 4 KiB (arm64 and
    // ppc64 kernels often use 16 or 64 KiB pages).
    let page = procfs::page_size();
    let ticks = procfs::ticks_per_second();
    // starttime counts ticks since boot; boot time (btime in /proc/stat) anchors it to the
    // wall clock.
    let boot = procfs::boot_time_secs()?;
    let since_boot = Duration::from_millis(stat.starttime * 1000 / ticks);
    let started = UNIX_EPOCH + Duration::from_secs(boot) + since_boot;
    // smaps_rollup values are in bytes once procfs parsed them (the file says kB).
    let pss_kib = process
        .smaps_rollup()
        .ok()
        .and_then(|r| {
            r.memory_map_rollup
                .0
                .first()
                .and_then(|m| m.extension.map.get("Pss").copied())
        })
        .map(|bytes| bytes / 1024);
    let io_chars = process.io().ok().map(|io| (io.rchar, io.wchar));
    let cmdline = process.cmdline().unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{}]", stat.comm)
    } else {
        cmdline.join(" ")
    };
    Ok(ProcInfo {
        pid,
        ppid: stat.ppid,
        state: stat.state,
        threads: u64::try_from(stat.num_threads).unwrap_or(0),
        start_ticks: stat.starttime,
        started,
        utime_ticks: stat.utime,
        stime_ticks: stat.stime,
        rss_kib: stat.rss * page / 1024,
        vsz_kib: stat.vsize / 1024,
        pss_kib,
        fds: count_fds(pid)?,
        io_chars,
        cmd,
    })
}

/// The number of open fds of `pid`.
///
/// Since Linux 6.2 the size of the `/proc/PID/fd` directory is the number of open fds: one
/// `stat` instead of a directory listing. When the size is 0 (an older kernel, or a process with
/// no fds at all, such as a zombie) the entries are counted. procfs's `Process::fd_count` does
/// the same but counts `.` and `..` in that case, so a zombie would seem to hold 2 fds.
fn count_fds(pid: i32) -> std::io::Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    let size = std::fs::metadata(&dir)?.len();
    if size > 0 {
        return Ok(usize::try_from(size).unwrap_or(usize::MAX));
    }
    // read_dir never yields `.` and `..`.
    Ok(std::fs::read_dir(&dir)?.count())
}
