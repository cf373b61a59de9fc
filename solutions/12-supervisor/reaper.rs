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

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{PidfdFlags, pidfd_open, pidfd_send_signal};

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
    // The attribute is per process, inherited by no one (fork clears it), and makes the kernel
    // hand us every orphan among our descendants instead of init.
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Adds `limits` to `cmd`: each `(resource, value)` is set as both the soft and the hard limit
/// in the child, between fork and exec.
///
/// # References
/// `setrlimit(2)`.
pub fn set_rlimits(cmd: &mut Command, limits: &[(Resource, u64)]) {
    if limits.is_empty() {
        return;
    }
    let limits = limits.to_vec();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it reads a Vec allocated before the fork and calls
    // setrlimit, a plain system call; on error it builds an io::Error from an errno, which does
    // not allocate.
    unsafe {
        cmd.pre_exec(move || {
            for &(resource, value) in &limits {
                setrlimit(resource, value, value).map_err(io::Error::from)?;
            }
            Ok(())
        });
    }
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
    // Its own group: a stop reaches its helpers with one killpg, and a ^C typed at the
    // supervisor's terminal (sent to the terminal's foreground group) does not reach it.
    cmd.process_group(0).env(SERVICE_ENV, tag);
    let mut child = cmd.spawn()?;
    // The child is not reaped yet, so its pid cannot have been reused: the pidfd names it.
    match pidfd_open(to_rustix(pid_of(&child)), PidfdFlags::empty()) {
        Ok(fd) => Ok((child, fd)),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e.into())
        }
    }
}

/// The living (not zombie) members of a service: processes descending from this one that are
/// in process group `pgid` or carry [`SERVICE_ENV`]`=tag`.
///
/// Careful: [`stop_group`] signals every pid this returns, SIGKILL included. A filter that lets
/// one stranger through kills a process that is not ours: every process of your user, or as
/// root every process on the machine. Print the list before you wire it to a kill.
pub fn group_members(pgid: Pid, tag: &str) -> Vec<Pid> {
    let me = Pid::this();
    let marker = format!("{SERVICE_ENV}={tag}");
    // One pass over /proc, then the ancestry is followed in memory: reading every process's
    // stat once is the cost; reading environments only for our own descendants keeps it low.
    let procs = snapshot();
    let mut out: Vec<Pid> = procs
        .iter()
        .filter(|(pid, stat)| {
            // A zombie has ended: it needs reaping, not a signal.
            stat.state != 'Z'
                && **pid != me
                && descends_from(**pid, me, &procs)
                && (stat.pgid == pgid || has_marker(**pid, &marker))
        })
        .map(|(pid, _)| *pid)
        .collect();
    out.sort();
    out
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
    let mut reaped = Vec::new();
    let polite = signal_and_wait(pgid, tag, sig, Instant::now() + timeout, &mut reaped)?;
    let mut killed = false;
    if !polite {
        killed = true;
        // SIGKILL cannot be caught, but a member may still fork between our scan and the
        // signal: signal_and_wait scans again until no member is left. The deadline is only a
        // safety net against a process stuck in the kernel (state D).
        let safety = Instant::now() + Duration::from_secs(30);
        if !signal_and_wait(pgid, tag, Signal::SIGKILL, safety, &mut reaped)? {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "members of group {pgid} survive SIGKILL: {:?}",
                    group_members(pgid, tag)
                ),
            ));
        }
    }
    reaped.extend(reap_members(pgid, tag));
    Ok(Stopped { killed, reaped })
}

/// Reaps every exited child of ours, without blocking.
///
/// # References
/// `waitpid(2)` with `WNOHANG`.
pub fn reap_children() -> Vec<(Pid, WaitStatus)> {
    let mut out = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            // StillAlive: children remain, none has exited.
            Ok(WaitStatus::StillAlive) => break,
            Ok(status) => match status.pid() {
                Some(pid) => out.push((pid, status)),
                None => break,
            },
            Err(Errno::EINTR) => continue,
            // ECHILD: no child at all.
            Err(_) => break,
        }
    }
    out
}

/// Sends `sig` to every member and waits until none is left or `deadline` passes; true when
/// none is left. Members that are our children are reaped as they go (into `reaped`).
fn signal_and_wait(
    pgid: Pid,
    tag: &str,
    sig: Signal,
    deadline: Instant,
    reaped: &mut Vec<(Pid, WaitStatus)>,
) -> io::Result<bool> {
    let rsig = rustix::process::Signal::from_named_raw(sig as i32)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a named signal"))?;
    let mut signalled: Vec<Pid> = Vec::new();
    // The group as a whole first: killpg also reaches a member forked after any scan of ours.
    match killpg(pgid, sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => return Err(e.into()),
    }
    loop {
        let members = group_members(pgid, tag);
        if members.is_empty() {
            return Ok(true);
        }
        // One pidfd per member: it signals the very process we found (never one that reused
        // its pid) and becomes readable when that process exits.
        let mut fds: Vec<(Pid, OwnedFd)> = Vec::new();
        let me = Pid::this();
        let marker = format!("{SERVICE_ENV}={tag}");
        for pid in members {
            let Ok(fd) = pidfd_open(to_rustix(pid), PidfdFlags::empty()) else {
                continue; // gone in between
            };
            // The scan saw a member with this pid, but the pidfd was opened after it: the
            // member may have died and its pid gone to a stranger in between. Check again
            // now that the pidfd pins the process: if /proc still shows a member, the pidfd
            // names that member (had it died since, the pidfd would only report ESRCH).
            let Some(in_group) = member_now(pid, pgid, &marker, me) else {
                continue;
            };
            // Members still in the group had the killpg. Signalling them again could mean
            // something else to them (a second SIGTERM often means "now, not gracefully"), and
            // a process the service starts while cleaning up must be left to finish. Members
            // that left the group (a daemon after setsid) get the signal here, once.
            if (sig == Signal::SIGKILL || !in_group) && !signalled.contains(&pid) {
                match pidfd_send_signal(&fd, rsig) {
                    Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                    Err(e) => return Err(e.into()),
                }
                signalled.push(pid);
            }
            fds.push((pid, fd));
        }
        // Wait until every one of them has exited, or the deadline.
        while !fds.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            });
            let mut pfds: Vec<PollFd<'_>> = fds
                .iter()
                .map(|(_, fd)| PollFd::new(fd, PollFlags::IN))
                .collect();
            match poll(&mut pfds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            let done: Vec<bool> = pfds.iter().map(|p| !p.revents().is_empty()).collect();
            drop(pfds);
            let mut i = 0;
            fds.retain(|(pid, _)| {
                let exited = done[i];
                i += 1;
                if exited && let Some(r) = reap_exited(*pid) {
                    reaped.push(r);
                }
                !exited
            });
        }
        // Every member found has exited; look again for any forked meanwhile.
    }
}

/// Reaps every zombie member that is our child (members re-parented to us while the others died).
fn reap_members(pgid: Pid, tag: &str) -> Vec<(Pid, WaitStatus)> {
    let me = Pid::this();
    let marker = format!("{SERVICE_ENV}={tag}");
    let mut out = Vec::new();
    for (pid, stat) in snapshot() {
        // A zombie's environment can no longer be read; its group still can.
        if stat.state == 'Z'
            && stat.ppid == me
            && (stat.pgid == pgid || has_marker(pid, &marker))
            && let Some(r) = reap_one(pid)
        {
            out.push(r);
        }
    }
    out
}

/// Reaps `pid`, which its pidfd says has exited, if it is a child of ours. The wait blocks: a
/// WNOHANG wait at the moment the pidfd turns readable can still find the child not yet
/// waitable, and a member that left the group (a daemon) is not found again afterwards, since a
/// zombie's environment, which carries the tag, can no longer be read. A process that is not
/// our child answers ECHILD at once.
fn reap_exited(pid: Pid) -> Option<(Pid, WaitStatus)> {
    loop {
        match waitpid(pid, None) {
            Ok(status) => return Some((pid, status)),
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Reaps `pid` if it is an exited child of ours.
fn reap_one(pid: Pid) -> Option<(Pid, WaitStatus)> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return None,
            Ok(status) => return Some((pid, status)),
            Err(Errno::EINTR) => continue,
            // ECHILD: not our child (its own parent reaps it) or already reaped.
            Err(_) => return None,
        }
    }
}

struct Stat {
    state: char,
    ppid: Pid,
    pgid: Pid,
}

/// State, parent and process group from `/proc/PID/stat` (proc(5): fields 3, 4 and 5, after
/// the command name in parentheses, which may itself contain `)` or spaces).
fn proc_stat(pid: Pid) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(Stat {
        state,
        ppid: Pid::from_raw(ppid),
        pgid: Pid::from_raw(pgid),
    })
}

/// Whether `pid` is, right now, a living member (in group `pgid` or tagged with `marker`, and
/// a descendant of `me`, read afresh from /proc): `Some(in_group)` if so, `None` if not.
fn member_now(pid: Pid, pgid: Pid, marker: &str, me: Pid) -> Option<bool> {
    let stat = proc_stat(pid)?;
    if stat.state == 'Z' {
        return None;
    }
    let in_group = stat.pgid == pgid;
    if !in_group && !has_marker(pid, marker) {
        return None;
    }
    let mut cur = stat.ppid;
    for _ in 0..128 {
        if cur == me {
            return Some(in_group);
        }
        if cur.as_raw() <= 1 {
            return None;
        }
        cur = proc_stat(cur)?.ppid;
    }
    None
}

/// Whether `/proc/PID/environ` (the environment the process was started with) holds `marker`.
fn has_marker(pid: Pid, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == marker.as_bytes()))
}

/// Whether `ancestor` is found walking up from `pid` through the parents in `procs`.
fn descends_from(pid: Pid, ancestor: Pid, procs: &BTreeMap<Pid, Stat>) -> bool {
    let mut cur = pid;
    // Bounded: a chain is short, and a snapshot taken while processes exit may hold a loop-free
    // but broken chain.
    for _ in 0..128 {
        let Some(stat) = procs.get(&cur) else {
            return false;
        };
        if stat.ppid == ancestor {
            return true;
        }
        if stat.ppid.as_raw() <= 1 {
            return false;
        }
        cur = stat.ppid;
    }
    false
}

/// Every process in /proc with its stat.
fn snapshot() -> BTreeMap<Pid, Stat> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let pid = Pid::from_raw(pid);
        if let Some(stat) = proc_stat(pid) {
            out.insert(pid, stat);
        }
    }
    out
}

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"))
}

fn to_rustix(pid: Pid) -> rustix::process::Pid {
    rustix::process::Pid::from_raw(pid.as_raw()).expect("a member's pid is positive")
}
