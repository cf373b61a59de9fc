//! Pinning the two ends of an IPC benchmark to the same core or to two different cores.
//!
//! Where the peer runs changes a round trip more than the transport does: on one core, the
//! writer's `write` wakes the reader and the scheduler switches to it directly (a few µs); across
//! cores, the wake-up is an inter-processor interrupt to a core that may be idle in a deep sleep
//! state (tens of µs in a VM, where the IPI itself traps to the hypervisor). Benchmarks therefore
//! report both placements separately.
//!
//! # References
//! `sched_setaffinity(2)`, `sched_getaffinity(2)`

use std::io;

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// Where the peer runs relative to the measuring thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Both on the first allowed CPU: every message is a context switch on one core.
    SameCore,
    /// On the first two allowed CPUs: every message is a cross-core wake-up.
    CrossCore,
}

impl Placement {
    /// Both placements, same core first.
    pub const ALL: [Placement; 2] = [Placement::SameCore, Placement::CrossCore];

    /// A short label for benchmark ids: `same_core` or `cross_core`.
    pub fn label(self) -> &'static str {
        match self {
            Placement::SameCore => "same_core",
            Placement::CrossCore => "cross_core",
        }
    }

    /// The (measuring thread, peer) CPUs for this placement, or `None` when the process may
    /// run on too few CPUs (cross-core needs two).
    pub fn cpus(self) -> io::Result<Option<(usize, usize)>> {
        let cpus = allowed_cpus()?;
        Ok(match (self, cpus.as_slice()) {
            (Placement::SameCore, [first, ..]) => Some((*first, *first)),
            (Placement::CrossCore, [first, second, ..]) => Some((*first, *second)),
            _ => None,
        })
    }
}

/// The CPUs this process may run on, in increasing order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

/// Restores the calling thread's previous CPU mask when dropped.
#[derive(Debug)]
pub struct PinGuard {
    saved: CpuSet,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        // Best effort: the mask was accepted before, so this only fails if CPUs went offline.
        let _ = sched_setaffinity(Pid::from_raw(0), &self.saved);
    }
}

/// Pins the calling thread to `cpu` until the returned guard is dropped.
pub fn pin_current_thread(cpu: usize) -> io::Result<PinGuard> {
    let saved = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    set_affinity(0, cpu)?;
    Ok(PinGuard { saved })
}

/// Pins the process (or thread) `pid` to `cpu`; `0` means the calling thread.
pub fn set_affinity(pid: libc::pid_t, cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu).map_err(io::Error::from)?;
    sched_setaffinity(Pid::from_raw(pid), &set).map_err(io::Error::from)
}

/// The CPUs `pid` may run on, read back from the kernel.
pub fn cpus_of(pid: libc::pid_t) -> io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(pid)).map_err(io::Error::from)?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}
