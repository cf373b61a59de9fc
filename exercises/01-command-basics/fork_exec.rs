//! Exercise `command-basics/fork_exec`: what `Command::spawn` does, by hand.
//!
//! Scenario: you want to see the three system calls under every process launch. `fork` makes a
//! copy of the calling process; in the copy (the child) `execv` replaces the program with
//! another one; the parent later calls `waitpid` to learn how the child ended and to free its
//! slot in the process table.
//!
//! Goal: `spawn_by_hand` forks and execs `path` with `args` and returns the child's pid at once;
//! `wait_by_hand` waits for that pid and decodes the `WaitStatus` into an [`Outcome`]. Between
//! `fork` and `exec` the child of a multi-threaded program may only make async-signal-safe
//! calls: no allocation, no locks, no `println!`. So everything the child needs (the C strings,
//! the argv array) is built *before* `fork`, and when exec fails the child leaves with
//! `_exit(127)`, the shell's "command not found" code.
//!
//! Read: `docs/src/01-command-basics.md#fork_exec`.
//! Check: `cargo xtask check command-basics/fork_exec`.

use std::ffi::{CString, c_char};
use std::ptr;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

/// How a child ended, as `waitpid` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this code (WIFEXITED, WEXITSTATUS).
    Exited(i32),
    /// A signal killed it (WIFSIGNALED, WTERMSIG).
    Signaled(Signal),
}

/// Forks, and in the child execs `path` with `args` (argv[0] is `path`). Returns the child's pid
/// without waiting. If exec fails, the child exits with code 127. The program starts with
/// SIGPIPE at its default action (death), as a program started by `Command` does.
///
/// Fails with `EINVAL`, before forking, if `path` or an argument contains a NUL byte.
///
/// # References
/// `fork(2)`, `execve(2)`, `signal-safety(7)`, `_exit(2)`.
pub fn spawn_by_hand(path: &str, args: &[&str]) -> nix::Result<Pid> {
    // TODO: before forking, turn `path` and every argument into a `CString` (a NUL byte inside
    // is `Errno::EINVAL`), argv[0] being `path` itself, and build the NULL-terminated array of
    // pointers that execv wants.
    // TODO: fork (unsafe: write the `// SAFETY:` comment). The parent returns the child's pid;
    // the child sets up what the program must start with, execs it, and exits with 127 if
    // exec fails, calling only async-signal-safe functions.
    todo!("fork, and exec in the child")
}

/// Waits for the child `pid` to end, reaps it, and says how it ended.
///
/// # References
/// `waitpid(2)`, `wait(2)` (the status macros).
pub fn wait_by_hand(pid: Pid) -> nix::Result<Outcome> {
    // TODO: `waitpid(pid, None)` and decode the `WaitStatus`: `Exited(_, code)` and
    // `Signaled(_, signal, _)`. Retry when it fails with EINTR.
    todo!("wait for the child and decode how it ended")
}
