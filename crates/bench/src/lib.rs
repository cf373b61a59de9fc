//! Benchmarks of spawning and IPC mechanisms, run by `cargo xtask bench`.
//!
//! This library holds the mechanisms being measured, as plain functions, so that the criterion
//! benches in `benches/` only time them and the smoke tests in `tests/` can check that each one
//! really spawns, reaps and round-trips:
//!
//! - [`spawn`]: one spawn + wait of a small program through std, raw `posix_spawn`, `fork` +
//!   `exec`, a vfork-style `clone`, tokio and duct;
//! - [`heap`]: a parent made large on purpose, to show what `fork` pays for its page tables;
//! - [`throughput`]: many short processes through a thread pool or a tokio runtime;
//! - [`ipc`]: a forked peer that echoes or drains bytes over a pipe, a Unix socket, a socketpair
//!   or TCP loopback, pinned to the same core or another one ([`affinity`]);
//! - [`par`]: finds or builds the `par` binary and feeds commands to it, `xargs` and GNU
//!   parallel (week 3);
//! - [`shm`]: a 64-byte ping-pong over shared memory (spinning, spin-then-futex, futex), the
//!   same between two threads, over POSIX message queues, and a shared-memory byte ring's
//!   bandwidth against `memcpy` (week 4);
//! - [`monitor`]: a tree of sleeping processes and the samplers that watch it (the reference
//!   `pmon`, compiled in from `solutions/` with the `solution` feature; procfs; sysinfo), with
//!   the CPU time they cost (week 5);
//! - `pool_bench` (with the `solution` feature): the process pool's reference solution (compiled
//!   in from `solutions/`, see below) against a process per task and a bare pipe round trip
//!   (week 7);
//! - [`supervisor`]: `svd`'s restart of a crashed service against a bare spawn of it, and the
//!   CPU time of an idle svd supervising 50 sleeping services (week 8);
//! - [`queue`]: `jobq`'s per-task cost through the broker against `poold`, its scaling with
//!   `sleep 20` tasks, and the recovery of a task whose worker was SIGKILLed, against the ack
//!   wait (week 9);
//! - [`settings`]: how long each benchmark runs (`PROCLINGS_BENCH_QUICK=1` for the quick mode);
//! - [`report`] (the `bench-report` binary behind `cargo xtask bench`): runs the benches and
//!   writes the comparison tables, the SVG chart and the machine description; [`groups`] is
//!   its registry of benchmark groups.
//!
//! Everything here is Linux-specific: the benches measure what the Linux kernel and glibc do.

pub mod affinity;
pub mod groups;
pub mod heap;
pub mod ipc;
pub mod monitor;
pub mod par;
#[cfg(feature = "solution")]
pub mod pool_bench;
pub mod queue;
pub mod report;
pub mod settings;
pub mod shm;
pub mod spawn;
pub mod supervisor;
pub mod throughput;

// The process pool's reference solution, compiled into this crate by path, and only with this
// crate's own `solution` feature: the default build never compiles a solution. It cannot be a
// dependency with `features = ["solution"]`: Cargo unifies features across a workspace build,
// and every `cargo build --workspace` would then compile the solutions in place of the stubs.
// The modules keep the names the solution refers to (`crate::frame`, `crate::task`).
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/frame.rs"]
pub mod frame;
// The practice project of week 5, measured by the `monitor` bench, and the exercise whose CPU %
// arithmetic it uses (`crate::cpu_percent`).
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/cpu_percent.rs"]
pub mod cpu_percent;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/pmon.rs"]
pub mod pmon;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/pool.rs"]
pub mod pool;
#[cfg(feature = "solution")]
#[path = "../../11-process-pool/src/task.rs"]
pub mod task;
#[cfg(feature = "solution")]
#[path = "../../../solutions/11-process-pool/worker_loop.rs"]
pub mod worker_loop;

/// Voluntary context switches of the calling thread so far (each one a sleep in the kernel): the
/// dispatch benches count them to show how many times a round trip puts a thread to sleep.
pub fn voluntary_switches() -> i64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage; RUSAGE_THREAD is Linux's, and this crate is
    // Linux-only.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    usage.ru_nvcsw
}
