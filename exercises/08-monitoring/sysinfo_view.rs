//! The portable view: the same figures through `sysinfo`, refreshing only what you need.
//!
//! Scenario: `/proc` is Linux's; `sysinfo` gives one API over Linux, macOS, Windows and the BSDs
//! (on Linux it reads the same `/proc` files). Its `System` is a cache: nothing is known until
//! it is refreshed, and a refresh costs what it reads. Refreshing every process of the machine
//! to look at three of them reads hundreds of directories; refreshing only the pids you watch,
//! and only the kinds of data you use, reads a handful of files. CPU usage needs two refreshes
//! (it is a difference), and a process that no longer exists is simply not there.
//!
//! Goal: refresh only the given pids (memory and CPU), and describe each one that still exists.
//! Chapter: `docs/src/08-monitoring.md#sysinfo_view`. Check: `cargo xtask check monitoring/sysinfo_view`.

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// One process as sysinfo describes it, on every platform it supports.
#[derive(Debug, Clone, PartialEq)]
pub struct Portable {
    /// The process id.
    pub pid: u32,
    /// The parent's pid, if it has one.
    pub parent: Option<u32>,
    /// Its name (on Linux: `comm`, the executable's name cut to 15 bytes).
    pub name: String,
    /// Its status in sysinfo's words (`Sleeping`, `Runnable`, `Stopped`, `Zombie`, ...).
    pub status: String,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
    /// Virtual memory in bytes.
    pub virtual_memory_bytes: u64,
    /// CPU use since the previous refresh of this `System`, in % of one core (0 on the first).
    pub cpu_percent: f32,
    /// CPU time used since it started, in milliseconds.
    pub cpu_time_ms: u64,
}

/// Refreshes `pids` in `sys` (memory and CPU, nothing else, and no other process), drops the
/// ones that no longer exist, and returns a [`Portable`] for each one still there, in the order
/// of `pids`.
pub fn refresh(sys: &mut System, pids: &[u32]) -> Vec<Portable> {
    // TODO: refresh what is asked, then describe each process still there.
    todo!("refresh {pids:?}")
}
