//! SIGPIPE: the default that kills writers to a closed pipe, what Rust changes at start-up, and
//! choosing it for a child.
//!
//! Scenario: `yes | head -1` ends because `yes` is killed by SIGPIPE when `head` exits: the
//! default action of SIGPIPE is to terminate. Every Rust program, however, sets SIGPIPE to
//! "ignore" before `main`, so its writes fail with EPIPE instead (and `println!` panics). A Rust
//! filter that should die quietly like `yes` restores the default; a parent that wants a child
//! to see EPIPE sets "ignore" in that child between fork and exec.
//!
//! Goal: read the current disposition, restore the default, and set a child's with `pre_exec`.
//! Chapter: `docs/src/05-signals.md#sigpipe`. Check: `cargo xtask check signals/sigpipe`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// What happens when SIGPIPE arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// SIG_DFL: the process is terminated.
    Default,
    /// SIG_IGN: the signal is discarded; the write fails with EPIPE.
    Ignore,
    /// A handler function runs.
    Handler,
}

/// This process's current disposition of SIGPIPE, read without changing it.
///
/// # References
/// `sigaction(2)`
pub fn sigpipe_disposition() -> io::Result<Disposition> {
    // TODO: call `libc::sigaction(libc::SIGPIPE, null, &mut old)` (a null new action only
    // TODO: reads), with a `// SAFETY:` comment; map `old.sa_sigaction` (SIG_DFL, SIG_IGN, other).
    todo!("read SIGPIPE's disposition")
}

/// Restores SIGPIPE's default action in this process, as C programs have it: a write to a pipe
/// whose reader is gone then ends the process quietly, killed by SIGPIPE.
pub fn restore_default_sigpipe() -> io::Result<()> {
    // TODO: `libc::signal(libc::SIGPIPE, libc::SIG_DFL)`; SIG_ERR means failure.
    todo!("restore SIGPIPE's default")
}

/// Makes the child that `cmd` will start ignore SIGPIPE (`ignore = true`: its writes to a closed
/// pipe fail with EPIPE) or have the default (`false`: such a write kills it).
///
/// # References
/// `signal(7)` ("a child created via fork inherits ... dispositions; during execve, handled
/// signals are reset to the default; ignored signals are left unchanged")
pub fn set_child_sigpipe(cmd: &mut Command, ignore: bool) -> &mut Command {
    // TODO: `unsafe { cmd.pre_exec(move || ...) }` that calls `libc::signal(SIGPIPE, action)`.
    // TODO: Write the `// SAFETY:` comment: what may run between fork and exec, and why is
    // TODO: `signal` allowed there?
    todo!("set SIGPIPE's disposition in the child")
}
