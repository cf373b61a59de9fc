//! Resource limits: set in the child before `exec`, or on a running process from outside.
//!
//! Scenario: every process carries limits the kernel enforces (`getrlimit(2)`): how many fds it
//! may open (RLIMIT_NOFILE: one more `open` fails with EMFILE), how much address space it may
//! map (RLIMIT_AS: `mmap`, hence allocation, fails with ENOMEM), how many CPU seconds it may use
//! (RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one), how many processes its
//! user may have (RLIMIT_NPROC: `fork` fails with EAGAIN). Each has a soft limit (what is
//! enforced) and a hard one (the ceiling the soft one may be raised to without privilege).
//! Limits are inherited across `fork` and `exec`, so a supervisor sets them in the child between
//! the two; `prlimit(2)` reads or changes them on another running process.
//!
//! Goal: spawn a command with limits, and read and change the limits of a running process.
//! Chapter: `docs/src/08-monitoring.md#limits`. Check: `cargo xtask check monitoring/limits`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// The limits this exercise deals with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// RLIMIT_NOFILE: the highest fd number + 1 the process may open.
    OpenFiles,
    /// RLIMIT_AS: bytes of virtual address space.
    AddressSpace,
    /// RLIMIT_CPU: seconds of CPU time.
    CpuSeconds,
    /// RLIMIT_NPROC: processes (threads, in fact) of the process's real user id.
    Processes,
}

/// One limit to apply: the resource, its soft value and its hard value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Which limit.
    pub limit: Limit,
    /// The value enforced.
    pub soft: u64,
    /// The ceiling for the soft value.
    pub hard: u64,
}

/// Spawns `cmd` with every setting applied in the child, after `fork` and before `exec`, so the
/// program starts under them and this process keeps its own limits. A setting the kernel
/// refuses fails the spawn with its error: the program never runs without its limits.
///
pub fn spawn_limited(cmd: &mut Command, settings: &[Setting]) -> io::Result<Child> {
    // TODO: apply each setting in the child, then spawn.
    todo!("spawn {cmd:?} under {settings:?}")
}

/// Sets one limit of the running process `pid` (soft and hard), as `prlimit --pid` does.
pub fn set_limit(pid: u32, setting: Setting) -> io::Result<()> {
    // TODO
    todo!("set {setting:?} on pid {pid}")
}

/// Reads one limit of the running process `pid`: (soft, hard). `RLIM_INFINITY` is `u64::MAX`.
pub fn get_limit(pid: u32, limit: Limit) -> io::Result<(u64, u64)> {
    // TODO
    todo!("read {limit:?} of pid {pid}")
}
