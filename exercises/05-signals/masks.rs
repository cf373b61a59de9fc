//! Signal masks: blocked is not ignored, pending is not lost, and a child inherits the mask.
//!
//! Scenario: a service blocks SIGTERM while it rewrites its state file, so that a stop request
//! waits instead of cutting the file in half, and takes the waiting signal afterwards with
//! `sigwait`, on its own terms. It also starts helper programs, and one day `kill HELPER` does
//! nothing at all: the helper keeps running, and the SIGTERM waits in its pending set. The
//! kernel shows every one of these sets in `/proc/PID/status`: `SigPnd` and `ShdPnd` (pending
//! for the thread, and for the whole process), `SigBlk` (blocked), `SigIgn` (ignored) and
//! `SigCgt` (caught: a handler is installed).
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
    // TODO: turn the hexadecimal text into the list of signal numbers it stands for, ascending;
    // text that is not a mask is an `InvalidData` error.
    todo!("decode a /proc signal mask")
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
    // TODO: read `/proc/PID/status`; decode its SigPnd, ShdPnd, SigBlk, SigIgn, SigCgt lines.
    todo!("read the signal sets of a process")
}

/// Adds `signals` to the calling thread's mask (the others stay as they were) and returns the
/// mask it had before. A blocked signal that arrives is not lost and not delivered: it stays
/// pending until it is unblocked or taken with [`take_pending`].
///
/// # References
/// `pthread_sigmask(3)`, `sigprocmask(2)`
pub fn block(signals: &[Signal]) -> nix::Result<SigSet> {
    // TODO: add `signals` to this thread's mask and return the mask from before.
    todo!("block signals in the calling thread")
}

/// Waits until one of `signals` is pending, removes it from the pending set and returns it: no
/// handler runs, and a signal that arrived earlier (while blocked) is taken at once. The caller
/// has blocked `signals` (with [`block`]), and they stay blocked.
///
/// # References
/// `sigwait(3)`, `sigtimedwait(2)`
pub fn take_pending(signals: &[Signal]) -> nix::Result<Signal> {
    // TODO: wait for one of `signals` to be pending and take it, without any handler.
    todo!("take a pending signal")
}

/// Spawns `cmd` so that the child starts with `signals` unblocked, whatever the calling thread
/// has blocked; the rest of the mask is inherited as it is.
///
/// # References
/// `signal(7)`, `pthread_sigmask(3)`, `signal-safety(7)`
pub fn spawn_obeying(cmd: &mut Command, signals: &[Signal]) -> io::Result<Child> {
    // TODO: spawn `cmd` so that the child starts with `signals` unblocked (what does a child
    // inherit from the thread that spawns it?).
    todo!("spawn a child that obeys these signals")
}
