//! Support for tests of daemons: processes the test did not start directly and cannot `wait`
//! for, looked at from outside through `/proc` and stopped by a guard (Linux).
//!
//! - [`become_subreaper`]: makes the test process the child subreaper of everything it starts,
//!   so an orphaned daemon is re-parented to the test (and reaped by its guard) instead of to
//!   init, which on some machines never reaps. Under `cargo xtask check` the runner is a
//!   subreaper too; a test's assertions must hold with either as the daemon's parent.
//! - [`DaemonGuard`]: holds a pidfd for a daemon's pid; on drop (also on panic) it sends SIGKILL
//!   through the pidfd, waits for the exit, reaps the daemon if it is our child, and waits for
//!   its pid to vanish from `/proc`. A pidfd never signals a process that reused the pid.
//! - [`stat_field`], [`status_field`], [`fd_table`], [`ancestors`]: what `/proc` says about a
//!   process.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::{DEFAULT_DEADLINE, proc_ppid, proc_state, try_wait_until};

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), once.
pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) sets one flag of this process and reads no
        // memory of ours.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) };
        assert_eq!(
            rc,
            0,
            "prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        );
    });
}

/// Opens a pidfd for `pid` (pidfd_open(2)), or `None` when the process is already gone.
pub fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    let fd = i32::try_from(fd).ok()?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits up to `deadline` for the process behind `pidfd` to exit (the pidfd becomes readable).
pub fn pidfd_exited(pidfd: &OwnedFd, deadline: Duration) -> bool {
    let start = Instant::now();
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, owned by this frame.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return true;
        }
        if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// A daemon started (indirectly) by a test: killed and waited for when the guard drops.
#[derive(Debug)]
pub struct DaemonGuard {
    pid: u32,
    pidfd: Option<OwnedFd>,
}

impl DaemonGuard {
    /// Guards the process `pid`. Call it as soon as the pid is known.
    pub fn new(pid: u32) -> DaemonGuard {
        DaemonGuard {
            pid,
            pidfd: pidfd_open(pid),
        }
    }

    /// The guarded pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process has exited (or was never found).
    pub fn exited(&self) -> bool {
        self.pidfd
            .as_ref()
            .is_none_or(|fd| pidfd_exited(fd, Duration::ZERO))
    }

    /// Waits up to `deadline` for the process to exit by itself; true when it did.
    pub fn wait_exit(&self, deadline: Duration) -> bool {
        self.pidfd
            .as_ref()
            .is_none_or(|fd| pidfd_exited(fd, deadline))
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        // SAFETY: pidfd_send_signal takes the pidfd, a signal number and a null siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
        let exited = pidfd_exited(&pidfd, DEFAULT_DEADLINE);
        let me = std::process::id();
        if exited
            && proc_ppid(self.pid) == Some(me)
            && let Ok(pid) = libc::pid_t::try_from(self.pid)
        {
            let mut status = 0;
            // SAFETY: the pid is our child (its parent is us) and the pidfd keeps the pid from
            // being reused until we close it; `status` is a live local.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
        // Someone else (init or a subreaper above us) reaps it otherwise.
        let pid = self.pid;
        let gone = try_wait_until(DEFAULT_DEADLINE, "the daemon to vanish", || {
            proc_state(pid).is_none()
        });
        if gone.is_err() && !std::thread::panicking() {
            panic!(
                "daemon pid {pid} is still in /proc (state {:?}) after SIGKILL",
                proc_state(pid)
            );
        }
    }
}

/// Field `n` (1-based, as in proc(5): 1 pid, 2 comm, 3 state, 4 ppid, 6 session, 7 tty_nr) of
/// `/proc/PID/stat`.
pub fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces or ')'.
    let close = stat.rfind(')')?;
    match n {
        1 => stat.split_whitespace().next().map(str::to_owned),
        2 => Some(stat[stat.find('(')? + 1..close].to_owned()),
        _ => stat[close + 1..]
            .split_whitespace()
            .nth(n - 3)
            .map(str::to_owned),
    }
}

/// The value of `Name:` in `/proc/PID/status` (e.g. `Umask`, `SigBlk`, `SigIgn`).
pub fn status_field(pid: u32, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// Every open fd of `pid` and what it points to, from `/proc/PID/fd`.
pub fn fd_table(pid: u32) -> BTreeMap<i32, String> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for entry in dir.flatten() {
        if let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        {
            let target = std::fs::read_link(entry.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.insert(fd, target);
        }
    }
    out
}

/// The fds of `pid` in `ls -l` style, one per line, for failure messages.
pub fn describe_fds(pid: u32) -> String {
    fd_table(pid)
        .iter()
        .map(|(fd, t)| format!("  fd {fd} -> {t}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pid`'s parent, grandparent, ... up to pid 1 (included).
pub fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut p = pid;
    while let Some(parent) = proc_ppid(p) {
        if parent == 0 || out.contains(&parent) {
            break;
        }
        out.push(parent);
        p = parent;
    }
    out
}
