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

impl Limit {
    fn resource(self) -> Resource {
        match self {
            Limit::OpenFiles => libc::RLIMIT_NOFILE,
            Limit::AddressSpace => libc::RLIMIT_AS,
            Limit::CpuSeconds => libc::RLIMIT_CPU,
            Limit::Processes => libc::RLIMIT_NPROC,
        }
    }
}

// glibc declares the resource argument as its own enum type, musl as an int.
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

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
/// # References
/// `setrlimit(2)`
pub fn spawn_limited(cmd: &mut Command, settings: &[Setting]) -> io::Result<Child> {
    let settings: Vec<(Resource, libc::rlimit)> = settings
        .iter()
        .map(|s| {
            let value = libc::rlimit {
                rlim_cur: s.soft as libc::rlim_t,
                rlim_max: s.hard as libc::rlim_t,
            };
            (s.limit.resource(), value)
        })
        .collect();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: it makes setrlimit system calls on data prepared (allocated) before the
    // fork, and builds an io::Error from errno on failure, which does not allocate.
    unsafe {
        cmd.pre_exec(move || {
            for (resource, value) in &settings {
                if libc::setrlimit(*resource, value) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Sets one limit of the running process `pid` (soft and hard), as `prlimit --pid` does.
///
/// # References
/// `prlimit(2)`
pub fn set_limit(pid: u32, setting: Setting) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let value = libc::rlimit {
        rlim_cur: setting.soft as libc::rlim_t,
        rlim_max: setting.hard as libc::rlim_t,
    };
    // SAFETY: `value` is a valid rlimit; a null old-value pointer asks for nothing back.
    let rc = unsafe { libc::prlimit(pid, setting.limit.resource(), &value, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads one limit of the running process `pid`: (soft, hard). `RLIM_INFINITY` is `u64::MAX`.
///
/// # References
/// `prlimit(2)`
pub fn get_limit(pid: u32, limit: Limit) -> io::Result<(u64, u64)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a null new-value pointer changes nothing; `old` is a writable rlimit.
    let rc = unsafe { libc::prlimit(pid, limit.resource(), std::ptr::null(), &mut old) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // rlim_t is u64 on 64-bit Linux; the conversion matters only where it is narrower.
    #[allow(clippy::useless_conversion)]
    Ok((u64::from(old.rlim_cur), u64::from(old.rlim_max)))
}
