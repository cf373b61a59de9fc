//! Putting a child in a process group from both sides of `fork`, so that neither order of
//! scheduling leaves a window where it is in the wrong group.
//!
//! Scenario: a shell starts a job in a process group of its own, so that the terminal (and
//! `killpg`) can address the job as a whole. After `fork` two processes run in an order nobody
//! chooses: the parent may want to signal the group, or hand it the terminal, before the child
//! has done anything; the child may be running its program before the parent has done
//! anything. The job must be in its group in both cases.
//!
//! Goal: write the child's half, the parent's half, and a `spawn_in_group` that forks, runs
//! both halves and execs. The tests hold back one side at a time, and let the child exec
//! before the parent's half runs.
//! Chapter: `docs/src/09-job-control.md#process_group`. Check: `cargo xtask check job-control/process_group`.

use std::ffi::CString;

use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid, fork, setpgid};

/// The child's half: moves the calling process into `group`, or into a new group it leads
/// when `group` is `None`. Async-signal-safe: it runs between `fork` and `exec`.
///
/// # References
/// `setpgid(2)`
pub fn join_in_child(group: Option<Pid>) -> nix::Result<()> {
    // TODO: one setpgid call for the calling process.
    todo!("the child's half")
}

/// The parent's half: moves `child` into `group`, or into a new group it leads when `group` is
/// `None`. Succeeds also when the child was faster, already joined the group and exec'd.
///
/// # References
/// `setpgid(2)`
pub fn join_in_parent(child: Pid, group: Option<Pid>) -> nix::Result<()> {
    // TODO: one setpgid call for the child; read setpgid(2)'s ERRORS for the case where the
    // child got there first.
    todo!("the parent's half")
}

/// Starts `argv` (searched on PATH) with `fork` + `exec` in `group`, or in a new group it
/// leads when `group` is `None`, and returns its pid. When it returns, the child is in the
/// group, and the program's first instruction already runs in it. A program that cannot be
/// executed ends the child with status 127; an empty `argv` is EINVAL. Between `fork` and
/// `exec` the child allocates nothing (signal-safety(7)): whatever `exec` needs is built first.
pub fn spawn_in_group(argv: &[CString], group: Option<Pid>) -> nix::Result<Pid> {
    // TODO: fork (unsafe: only async-signal-safe calls in the child until exec or _exit),
    // then make sure both contracts above hold, whichever process runs first.
    todo!("fork, group, exec")
}
