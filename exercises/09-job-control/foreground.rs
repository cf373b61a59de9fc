//! Foreground jobs: hand the terminal to a job, wait until it leaves the foreground, take the
//! terminal back, and continue a stopped job.
//!
//! Scenario: a shell on a terminal runs a command in the foreground. The terminal sends ^C and
//! ^Z to its foreground process group only, and stops any other group that reads from it. So
//! the shell moves the job into a group of its own, makes that group the terminal's
//! foreground, and waits. The job may end, be killed by ^C, or be stopped by ^Z: in every case
//! the shell must get its terminal back. Later the shell may continue a stopped job, every
//! process of it.
//!
//! Goal: the four steps of a foreground job, each a small function, and one that runs a
//! command through all of them. The tests drive a real pseudo-terminal: they type ^C and ^Z.
//! Chapter: `docs/src/09-job-control.md#foreground`. Check: `cargo xtask check job-control/foreground`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp, tcsetpgrp};

/// Makes `pgid` the foreground process group of the terminal `tty`: from now on ^C and ^Z
/// signal that group, and it may read the terminal. Works also when the caller is no longer in
/// the foreground itself.
///
/// # References
/// `tcsetpgrp(3)`
pub fn give_terminal(tty: BorrowedFd<'_>, pgid: Pid) -> nix::Result<()> {
    // TODO: hand the terminal over.
    todo!("give the terminal to a group")
}

/// Makes the caller's own process group the foreground group of `tty` again (the caller is in
/// the background when it calls this). The caller's signal mask is the same afterwards.
///
/// # References
/// `tcsetpgrp(3)`: read what happens when a background process calls it
pub fn take_terminal(tty: BorrowedFd<'_>) -> nix::Result<()> {
    // TODO: take the terminal back for getpgrp().
    todo!("take the terminal back")
}

/// Waits until the child `pid` leaves the foreground: it exited, was killed, or was stopped.
/// Returns how.
///
/// # References
/// `waitpid(2)`
pub fn wait_foreground(pid: Pid) -> nix::Result<WaitStatus> {
    // TODO: wait for the child.
    todo!("wait until the job leaves the foreground")
}

/// Continues the stopped job whose process group is `pgid` and whose leader, a child of the
/// caller, is `leader`: every process of the job runs again. Returns once `waitpid` has
/// reported the leader continued, or stopped again, or ended, with that report (a job may stop
/// again before the wait starts).
///
/// # References
/// `killpg(3)`, `waitpid(2)`
pub fn continue_job(pgid: Pid, leader: Pid) -> nix::Result<WaitStatus> {
    // TODO: SIGCONT, then wait for the kernel's report.
    todo!("continue a stopped job")
}

/// Runs `cmd` as a foreground job on the terminal `tty`: in a process group of its own which is
/// the terminal's foreground group while it runs; returns when the job has ended or stopped,
/// with the terminal back in the caller's group. Returns the job's pid (also its group) and how
/// it left the foreground.
pub fn run_in_foreground(tty: BorrowedFd<'_>, cmd: &mut Command) -> io::Result<(Pid, WaitStatus)> {
    // TODO: a group of its own, the terminal, the wait, the terminal back.
    todo!("run a foreground job")
}
