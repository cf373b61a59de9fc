//! Signal masks: blocked is not ignored, pending is not lost, and a child inherits the mask.
//!
//! Scenario: a service blocks SIGTERM while it rewrites its state file, so that a stop request
//! waits instead of cutting the file in half, and takes the waiting signal afterwards with
//! `sigwait`, on its own terms. It also starts helper programs. One day `kill HELPER` does
//! nothing at all: the helpers were started while SIGTERM was blocked, and a signal mask
//! survives both `fork` and `exec` (std's `Command` resets SIGPIPE's disposition in the child,
//! but not the mask). The kernel shows every one of these sets in `/proc/PID/status`: `SigPnd`
//! and `ShdPnd` (pending for the thread, and for the whole process), `SigBlk` (blocked),
//! `SigIgn` (ignored) and `SigCgt` (caught: a handler is installed).
//!
//! Goal: read those sets for any process; block signals in the calling thread and take a
//! pending one with `sigwait`; start a child that obeys the signals it must obey, whatever mask
//! its parent had when it started it.
//! Chapter: `docs/src/05-signals.md#masks`. Check: `cargo xtask check signals/masks`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// The signal sets of one process, as signal numbers in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalSets {
    /// Generated but not delivered yet: sent to the main thread (`SigPnd`) or to the whole
    /// process (`ShdPnd`).
    pub pending: Vec<i32>,
    /// In the main thread's mask (`SigBlk`): delivery waits until they are unblocked.
    pub blocked: Vec<i32>,
    /// Disposition `SIG_IGN` (`SigIgn`): discarded on arrival, unless blocked: a blocked
    /// signal stays pending even when ignored (the disposition may change before it is
    /// unblocked), and `sigwait` can take it.
    pub ignored: Vec<i32>,
    /// A handler is installed (`SigCgt`).
    pub caught: Vec<i32>,
}

/// Decodes a signal mask as `/proc/PID/status` prints it: hexadecimal, where bit N-1 (counting
/// from the least significant bit) stands for signal N. Returns the signal numbers in ascending
/// order; `"0000000000004002"` is `[2, 15]` (SIGINT and SIGTERM).
///
/// Fails with `InvalidData` when `hex` is empty or holds anything but hexadecimal digits.
///
/// # References
/// `proc_pid_status(5)`
pub fn decode_mask(hex: &str) -> io::Result<Vec<i32>> {
    if hex.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "empty signal mask",
        ));
    }
    let mut signals = Vec::new();
    // The last digit holds signals 1-4, the one before it 5-8, and so on: walking the digits
    // from the right yields the signals in ascending order.
    for (position, c) in hex.chars().rev().enumerate() {
        let digit = c.to_digit(16).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a hexadecimal signal mask: {hex:?}"),
            )
        })?;
        for bit in 0..4 {
            if digit & (1 << bit) != 0 {
                let number = i32::try_from(position * 4 + bit + 1).map_err(io::Error::other)?;
                signals.push(number);
            }
        }
    }
    Ok(signals)
}

/// Reads the pending, blocked, ignored and caught signals of process `pid` from
/// `/proc/PID/status`. `pending` is the union of the main thread's and the process's pending
/// sets; `blocked` is the main thread's mask (each thread has its own).
///
/// Fails with `NotFound` when there is no such process, `InvalidData` when a line is missing or
/// malformed.
///
/// # References
/// `proc_pid_status(5)`, `signal(7)`
pub fn signal_sets(pid: u32) -> io::Result<SignalSets> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> io::Result<Vec<i32>> {
        let value = status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("/proc/{pid}/status has no {name} line"),
                )
            })?;
        decode_mask(value.trim())
    };
    // A signal sent with kill() to the process waits in ShdPnd; one aimed at a thread (raise,
    // pthread_kill, a fault) in that thread's SigPnd. Both are pending.
    let mut pending = field("SigPnd")?;
    pending.extend(field("ShdPnd")?);
    pending.sort_unstable();
    pending.dedup();
    Ok(SignalSets {
        pending,
        blocked: field("SigBlk")?,
        ignored: field("SigIgn")?,
        caught: field("SigCgt")?,
    })
}

/// Adds `signals` to the calling thread's mask (the others stay as they were) and returns the
/// mask it had before. A blocked signal that arrives is not lost and not delivered: it stays
/// pending until it is unblocked or taken with [`take_pending`].
///
/// # References
/// `pthread_sigmask(3)`, `sigprocmask(2)`
pub fn block(signals: &[Signal]) -> nix::Result<SigSet> {
    let set: SigSet = signals.iter().copied().collect();
    // SIG_BLOCK adds to the mask; SIG_SETMASK would replace it and unblock what others blocked.
    // pthread_sigmask, not sigprocmask: in a program with threads the mask is per thread.
    set.thread_swap_mask(SigmaskHow::SIG_BLOCK)
}

/// Waits until one of `signals` is pending, removes it from the pending set and returns it: no
/// handler runs, and a signal that arrived earlier (while blocked) is taken at once. The caller
/// has blocked `signals` (with [`block`]), and they stay blocked.
///
/// # References
/// `sigwait(3)`, `sigtimedwait(2)`
pub fn take_pending(signals: &[Signal]) -> nix::Result<Signal> {
    let set: SigSet = signals.iter().copied().collect();
    // sigwait takes a pending signal from the set synchronously. It must be blocked: an
    // unblocked signal that arrives while we are not inside sigwait is delivered at once, with
    // its disposition (for SIGTERM, the default: death).
    set.wait()
}

/// Spawns `cmd` so that the child starts with `signals` unblocked, whatever the calling thread
/// has blocked; the rest of the mask is inherited as it is.
///
/// # References
/// `signal(7)` ("A child created via fork(2) inherits a copy of its parent's signal mask; the
/// signal mask is preserved across execve(2)"), `signal-safety(7)`
pub fn spawn_obeying(cmd: &mut Command, signals: &[Signal]) -> io::Result<Child> {
    // Built before the fork: the closure below runs where allocation is not allowed.
    let set: SigSet = signals.iter().copied().collect();
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // functions may be called (the parent may have other threads, whose locks are frozen).
    // pthread_sigmask is async-signal-safe (signal-safety(7)); the closure only reads `set`, a
    // plain sigset_t copied into it, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            set.thread_unblock().map_err(io::Error::from)?;
            Ok(())
        });
    }
    cmd.spawn()
}
