//! Many short processes: how many spawn + wait cycles per second a thread pool or a tokio
//! runtime sustains.
//!
//! Each spawn is a few system calls in the parent, but most of a short process's life is spent
//! in the kernel (`execve`, page faults, exit) and in the dynamic loader, on whichever core the
//! scheduler picks. So a pool of N threads helps up to the number of cores and no further, and an
//! async runtime does not spawn faster than threads: `tokio::process::Command::spawn` is
//! synchronous, only the wait is asynchronous.

use std::io;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinSet;

/// Runs `program` `count` times with `threads` worker threads, each spawning and waiting with
/// `Command::status` until the shared counter reaches `count`. Fails on the first error or
/// unsuccessful exit; every child is reaped either way.
pub fn spawn_many_threads(program: &Path, count: u64, threads: usize) -> io::Result<()> {
    let next = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> io::Result<()> {
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        crate::spawn::check(Command::new(program).status())?;
                    }
                    Ok(())
                })
            })
            .collect();
        // The scope joins every worker anyway; this reports the first failure.
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| io::Error::other("a spawning thread panicked"))?
        })
    })
}

/// Builds a multi-threaded tokio runtime (one worker per core) for [`spawn_many_tokio`].
pub fn tokio_pool_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Runs `program` `count` times on `rt`, keeping up to `in_flight` children running at once.
/// Every child is awaited (and so reaped) before this returns, also after an error.
pub fn spawn_many_tokio(
    rt: &tokio::runtime::Runtime,
    program: &Path,
    count: u64,
    in_flight: usize,
) -> io::Result<()> {
    rt.block_on(async {
        let mut set = JoinSet::new();
        let mut started = 0;
        let mut first_error = None;
        while started < count || !set.is_empty() {
            while started < count && set.len() < in_flight.max(1) && first_error.is_none() {
                let program = program.to_owned();
                set.spawn(async move {
                    crate::spawn::check(tokio::process::Command::new(program).status().await)
                });
                started += 1;
            }
            if first_error.is_some() {
                // Stop starting new children but still await the running ones.
                started = count;
            }
            match set.join_next().await {
                Some(Ok(Ok(()))) | None => {}
                Some(Ok(Err(e))) => {
                    first_error.get_or_insert(e);
                }
                Some(Err(join)) => {
                    first_error.get_or_insert(io::Error::other(join));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}
