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
//! - [`par`]: finds or builds the `par` binary and feeds commands to it, `xargs` and GNU parallel;
//! - [`settings`]: how long each benchmark runs (`PROCLINGS_BENCH_QUICK=1` for the quick mode).
//!
//! Everything here is Linux-specific: the benches measure what the Linux kernel and glibc do.

pub mod affinity;
pub mod heap;
pub mod ipc;
pub mod par;
pub mod settings;
pub mod spawn;
pub mod throughput;
