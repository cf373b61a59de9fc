//! Exercise: notice a worker's death the moment it happens, without polling.
//!
//! Scenario: a pool supervises several worker processes. When one dies (it crashed, was
//! SIGKILLed, ran out of memory) the pool must know at once, to start a replacement and re-run
//! what the worker held. Asking each child "are you dead yet?" in a loop with a sleep is either
//! slow to notice (long sleeps) or burns CPU (short ones), and a SIGCHLD handler is
//! process-wide state a library should not take. Linux gives every process a file descriptor
//! that becomes readable when the process exits: a pidfd (`pidfd_open(2)`, Linux 5.3).
//!
//! Goal: `wait_any` sleeps until one of `children` exits or `timeout` passes, without a polling
//! loop (the tests measure its CPU time), then reaps that child and returns its index and exit
//! status; `Ok(None)` if the timeout passed first (`None` means no timeout). A signal
//! interrupting the wait (EINTR) does not end it early. It opens one pidfd per child and closes
//! them all before returning. Every child must still be unreaped when `wait_any` is called.
//! Chapter: `docs/src/11-process-pool.md#death_watch`. Check: `cargo xtask check process-pool/death_watch`.

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

/// Waits until one of `children` exits (then reaps it) or `timeout` passes.
///
/// # Errors
/// `pidfd_open` or `poll` failing (not EINTR), or the wait for the exited child.
///
/// # References
/// `pidfd_open(2)`, `poll(2)`, `waitpid(2)`.
pub fn wait_any(
    children: &mut [Child],
    timeout: Option<Duration>,
) -> io::Result<Option<(usize, ExitStatus)>> {
    // TODO: sleep until one child has exited or the timeout passes; reap it and say which.
    todo!("wait for the first child to exit")
}
