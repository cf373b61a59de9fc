//! A subreaper that stops a service's whole group, daemons included, and leaves no zombie.
//!
//! Scenario: a supervisor starts a service; the service starts helpers; one of them "daemonizes"
//! (forks, calls `setsid`, and its parent exits). Stopping the service by signalling its pid
//! reaches one process of several. Signalling its process group reaches the helpers, but not
//! the daemon, which left the group with `setsid`. And every process that dies must be reaped by
//! someone: when a parent exits first, its children are re-parented, normally to init, and the
//! supervisor loses sight of them.
//!
//! Goal: the four tools a supervisor needs for that.
//! - [`become_subreaper`]: orphans among our descendants are re-parented to us, not to init
//!   (`PR_SET_CHILD_SUBREAPER`), so we see them and reap them.
//! - [`spawn_in_group`]: starts a service in a process group of its own, marked with
//!   [`SERVICE_ENV`]`=TAG` in its environment (which its descendants inherit, whatever group or
//!   session they move to), and returns it with a pidfd to wait on. [`set_rlimits`] adds the
//!   service's resource limits to the command before.
//! - [`stop_group`]: sends the stop signal to every living member of a service (its process
//!   group and every descendant of ours carrying its tag), waits for them all to exit (on
//!   pidfds, not with a sleep loop) up to the timeout, then SIGKILLs whatever is left (again
//!   until nothing is left), and reaps every member that is our child; it returns whether
//!   SIGKILL was needed and what it reaped.
//! - [`reap_children`]: reaps every child of ours that has exited, without blocking: services
//!   and orphans alike.
//!
//! [`group_members`] lists a service's living members (it is what [`stop_group`] stops).
//! Linux only: `/proc` is read to find the members.
//!
//! Chapter: `docs/src/12-supervisor.md#reaper`. Check it with `cargo xtask check supervisor/reaper`.

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::resource::Resource;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

/// The environment variable that marks every process of a service: `SVD_SERVICE=TAG`.
pub const SERVICE_ENV: &str = "SVD_SERVICE";

/// How a [`stop_group`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// Whether some member outlived the timeout and was sent SIGKILL.
    pub killed: bool,
    /// Every member that was our child, with how it ended (the service's own pid among them).
    pub reaped: Vec<(Pid, WaitStatus)>,
}

/// Makes this process the child subreaper of its descendants.
///
/// # Errors
/// `prctl` failing (not on Linux ≥ 3.4).
///
/// # References
/// `prctl(2)` `PR_SET_CHILD_SUBREAPER`.
pub fn become_subreaper() -> io::Result<()> {
    // TODO: ask the kernel to re-parent our orphaned descendants to us.
    todo!("become the child subreaper")
}

/// Adds `limits` to `cmd`: each `(resource, value)` is set as both the soft and the hard limit
/// in the child, between fork and exec.
///
/// # References
/// `setrlimit(2)`.
pub fn set_rlimits(cmd: &mut Command, limits: &[(Resource, u64)]) {
    // TODO: set each limit in the child, after fork and before exec.
    todo!("set the limits in the child")
}

/// Starts `cmd` as the leader of a new process group (pgid = its pid), with
/// [`SERVICE_ENV`]`=tag` in its environment, and opens a pidfd for it.
///
/// The child is not reaped by anyone but the caller: wait for the pidfd to become readable,
/// then [`reap_children`] (or [`stop_group`]) collects its status. Do not also `Child::wait` it.
///
/// # Errors
/// The spawn or `pidfd_open` failing (the child is then killed and reaped).
///
/// # References
/// `setpgid(2)`, `pidfd_open(2)`.
pub fn spawn_in_group(cmd: &mut Command, tag: &str) -> io::Result<(Child, OwnedFd)> {
    // TODO: a new process group, the tag in the environment, a pidfd.
    todo!("spawn the service in its own group")
}

/// The living (not zombie) members of a service: processes descending from this one that are
/// in process group `pgid` or carry [`SERVICE_ENV`]`=tag`.
///
/// Careful: [`stop_group`] signals every pid this returns, SIGKILL included. A filter that lets
/// one stranger through kills a process that is not ours: every process of your user, or as
/// root every process on the machine. Print the list before you wire it to a kill.
pub fn group_members(pgid: Pid, tag: &str) -> Vec<Pid> {
    // TODO: find the living members: descendants of ours, in the group or carrying the tag.
    todo!("list the service's processes")
}

/// Stops a service: `sig` to every member, up to `timeout` for them to exit, then SIGKILL to
/// whatever is left; reaps every member that is our child.
///
/// # Errors
/// Signalling or polling failing for another reason than the process being gone already.
///
/// # References
/// `killpg(3)`, `pidfd_send_signal(2)`, `poll(2)`, `waitpid(2)`.
pub fn stop_group(pgid: Pid, tag: &str, sig: Signal, timeout: Duration) -> io::Result<Stopped> {
    // TODO: the stop signal, a wait on events up to the timeout, SIGKILL, reaping.
    todo!("stop every process of the service")
}

/// Reaps every exited child of ours, without blocking.
///
/// # References
/// `waitpid(2)` with `WNOHANG`.
pub fn reap_children() -> Vec<(Pid, WaitStatus)> {
    // TODO: reap every child that has exited, without blocking.
    todo!("reap the exited children")
}
