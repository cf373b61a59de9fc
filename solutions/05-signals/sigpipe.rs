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
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null `act` makes sigaction only read the current action into `old`, which
    // points to writable memory of the right type.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigaction succeeded, so it filled in `old`.
    let old = unsafe { old.assume_init() };
    Ok(match old.sa_sigaction {
        libc::SIG_DFL => Disposition::Default,
        libc::SIG_IGN => Disposition::Ignore,
        _ => Disposition::Handler,
    })
}

/// Restores SIGPIPE's default action in this process, as C programs have it: a write to a pipe
/// whose reader is gone then ends the process quietly, killed by SIGPIPE.
pub fn restore_default_sigpipe() -> io::Result<()> {
    // SAFETY: setting a signal to SIG_DFL installs no handler and touches no memory; do it
    // early in `main`, before other threads could rely on EPIPE.
    let prev = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if prev == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the child that `cmd` will start ignore SIGPIPE (`ignore = true`: its writes to a closed
/// pipe fail with EPIPE) or have the default (`false`: such a write kills it).
///
/// # References
/// `signal(7)` ("a child created via fork inherits ... dispositions; during execve, handled
/// signals are reset to the default; ignored signals are left unchanged")
pub fn set_child_sigpipe(cmd: &mut Command, ignore: bool) -> &mut Command {
    let action = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // std already resets SIGPIPE to SIG_DFL in every child it spawns; the closure runs after
    // that reset, so what it sets is what the program starts with (an ignored signal survives
    // exec).
    // SAFETY: the closure runs in the child between fork and exec, where the parent may have
    // had other threads: only async-signal-safe functions are allowed. `signal` is one of them;
    // the closure allocates nothing, takes no lock and only copies `action`, an integer.
    unsafe {
        cmd.pre_exec(move || {
            if libc::signal(libc::SIGPIPE, action) == libc::SIG_ERR {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
