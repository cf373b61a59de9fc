//! Foreground jobs: hand the terminal to a job, wait until it leaves the foreground, take the
//! terminal back, and continue a stopped job.
//!
//! Scenario: a shell on a terminal runs a command in the foreground. The terminal sends ^C and
//! ^Z to its foreground process group only, and stops any other group that reads from it. So
//! the shell moves the job into a group of its own, makes that group the terminal's
//! foreground, and waits. The job may end, be killed by ^C, or be stopped by ^Z: a stopped job
//! must give the terminal back to the shell too, or the shell is stuck in the background of its
//! own terminal. Later the shell may continue a stopped job, every process of it.
//!
//! Goal: the four steps of a foreground job, each a small function, and one that runs a
//! command through all of them.
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
/// signal that group, and it may read the terminal. The caller may already be in the
/// background (the job's child took the terminal first): SIGTTOU is blocked around the call,
/// as in [`take_terminal`].
///
/// # References
/// `tcsetpgrp(3)`
pub fn give_terminal(tty: BorrowedFd<'_>, pgid: Pid) -> nix::Result<()> {
    without_sigttou(|| tcsetpgrp(tty, pgid))
}

/// Makes the caller's own process group the foreground group of `tty` again. The caller is then
/// in the background, and the kernel answers a background `tcsetpgrp` with SIGTTOU, which
/// stops the caller, or, when the caller's group is orphaned (a session leader's always is),
/// with the error ENOTTY, unless SIGTTOU is blocked or ignored. The caller's signal mask is the
/// same afterwards.
///
/// # References
/// `tcsetpgrp(3)`: "If tcsetpgrp() is called by a member of a background process group in its
/// session, and the calling process is not blocking or ignoring SIGTTOU, a SIGTTOU signal is
/// sent to all members of this background process group."
pub fn take_terminal(tty: BorrowedFd<'_>) -> nix::Result<()> {
    without_sigttou(|| tcsetpgrp(tty, getpgrp()))
}

/// Runs `f` with SIGTTOU blocked, then restores the caller's signal mask (also when `f` fails).
fn without_sigttou<T>(f: impl FnOnce() -> nix::Result<T>) -> nix::Result<T> {
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old))?;
    let result = f();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    result
}

/// Waits until the child `pid` leaves the foreground: it exited, was killed, or was stopped.
/// Without WUNTRACED, `waitpid` does not report a stop, and a shell whose job was stopped by ^Z
/// would wait forever.
///
/// # References
/// `waitpid(2)`: WUNTRACED
pub fn wait_foreground(pid: Pid) -> nix::Result<WaitStatus> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WUNTRACED)) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Continues the stopped job whose process group is `pgid` and whose leader, a child of the
/// caller, is `leader`: SIGCONT to every process of the group, then waits until the kernel
/// reports the leader continued, or stopped again, or ended. Returns that report.
///
/// # References
/// `killpg(3)`, `waitpid(2)`: WCONTINUED
pub fn continue_job(pgid: Pid, leader: Pid) -> nix::Result<WaitStatus> {
    // The whole group: a job may be several processes (a pipeline, a program and its own
    // children), and ^Z stopped every one of them.
    killpg(pgid, Signal::SIGCONT)?;
    // WCONTINUED alone is not enough: a job may stop again (a second ^Z, a read from the
    // background) before this wait starts. The stop then replaces the continue, which is no
    // longer reported, and a wait that asks only for continues waits until the job ends.
    loop {
        match waitpid(
            leader,
            Some(WaitPidFlag::WCONTINUED | WaitPidFlag::WUNTRACED),
        ) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Runs `cmd` as a foreground job on the terminal `tty`: in a process group of its own which is
/// the terminal's foreground group while it runs; returns when the job has ended or stopped,
/// with the terminal back in the caller's group. Returns the job's pid (also its group) and how
/// it left the foreground.
pub fn run_in_foreground(tty: BorrowedFd<'_>, cmd: &mut Command) -> io::Result<(Pid, WaitStatus)> {
    let tty_fd = tty.as_raw_fd();
    cmd.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // sigprocmask, getpgrp and tcsetpgrp (async-signal-safe); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // The child takes the terminal too, before exec: if it waited for the parent, a
            // program that reads the terminal at once could do so while still in the
            // background, and be stopped by SIGTTIN. It is in the background right now, so
            // SIGTTOU is blocked around the call.
            let mut ttou = SigSet::empty();
            ttou.add(Signal::SIGTTOU);
            let mut old = SigSet::empty();
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old))?;
            // Best effort: if it fails, the parent's give_terminal below fails too and says why.
            libc::tcsetpgrp(tty_fd, libc::getpgrp());
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    // The parent's half: harmless if the child did it already. If the terminal cannot be
    // given (`tty` is not our controlling terminal), the job must not be left behind.
    if let Err(e) = give_terminal(tty, pid) {
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        return Err(e.into());
    }
    let status = wait_foreground(pid);
    // Whatever happened, the shell needs its terminal back.
    take_terminal(tty)?;
    // `child` is dropped without wait: the status was collected by waitpid above (or the job
    // is stopped, and whoever continues it waits for it later).
    Ok((pid, status?))
}
