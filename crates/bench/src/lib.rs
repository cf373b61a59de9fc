//! Benchmarks of spawning and IPC mechanisms, run by `cargo xtask bench`.
