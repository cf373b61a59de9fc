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
/// without waiting. If exec fails, the child exits with code 127.
///
/// Fails with `EINVAL`, before forking, if `path` or an argument contains a NUL byte.
///
/// # References
/// `fork(2)`, `execve(2)`, `signal-safety(7)`, `_exit(2)`.
pub fn spawn_by_hand(path: &str, args: &[&str]) -> nix::Result<Pid> {
    // Everything the child will touch is allocated here, in the parent. After fork only the
    // forking thread exists in the child; if another thread held the allocator's lock at that
    // moment, a malloc in the child would wait for it forever.
    let program = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let mut argv_owned = Vec::with_capacity(args.len() + 1);
    // By convention argv[0] is the program's name; the real arguments start at argv[1].
    argv_owned.push(program.clone());
    for arg in args {
        argv_owned.push(CString::new(*arg).map_err(|_| Errno::EINVAL)?);
    }
    // execv wants a NULL-terminated array of pointers. nix's `execv` would build this Vec in the
    // child (an allocation), so it is built here and libc's execv is called directly.
    let argv: Vec<*const c_char> = argv_owned
        .iter()
        .map(|s| s.as_ptr())
        .chain([ptr::null()])
        .collect();

    // SAFETY: the child only calls async-signal-safe functions (signal, execv, _exit) on memory
    // prepared above, which stays valid in the child's copy of the address space; it never
    // returns from this function.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            // Rust's runtime ignores SIGPIPE, and an ignored signal stays ignored across exec.
            // std's Command resets it for the child; we do the same, or `yes | head` style
            // programs we start would see EPIPE errors instead of dying quietly.
            // SAFETY: signal(2) is async-signal-safe; SIG_DFL is a valid disposition.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            // SAFETY: `program` and every pointer in `argv` point to live NUL-terminated
            // strings, and `argv` ends with a null pointer, as execv(3) requires.
            unsafe { libc::execv(program.as_ptr(), argv.as_ptr()) };
            // Only reached when exec failed. `_exit`, not `exit`: no atexit handlers and no
            // flushing of stdio buffers that were copied from the parent.
            // SAFETY: _exit(2) is async-signal-safe and ends the child at once.
            unsafe { libc::_exit(127) }
        }
    }
}

/// Waits for the child `pid` to end, reaps it, and says how it ended.
///
/// # References
/// `waitpid(2)`, `wait(2)` (the status macros).
pub fn wait_by_hand(pid: Pid) -> nix::Result<Outcome> {
    loop {
        // Without WUNTRACED/WCONTINUED, waitpid reports only exits and deaths by signal.
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Outcome::Exited(code)),
            Ok(WaitStatus::Signaled(_, signal, _core_dumped)) => {
                return Ok(Outcome::Signaled(signal));
            }
            // A signal handler interrupted the wait: the child is still there, wait again.
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            // Stopped/Continued need WUNTRACED/WCONTINUED; StillAlive needs WNOHANG.
            Ok(other) => unreachable!("waitpid without flags reported {other:?}"),
        }
    }
}
