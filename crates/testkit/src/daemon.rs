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

/// SIGKILLs the process behind `pidfd`, waits (up to the default deadline) for it to exit, and
/// reaps it if it is our child. Through the pidfd, which names that very process: a pid could
/// meanwhile name another process. Harmless for a process already reaped (ESRCH, ECHILD).
pub fn kill_and_reap(pidfd: &OwnedFd) {
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
    if pidfd_exited(pidfd, DEFAULT_DEADLINE) {
        // Reaped through the pidfd, which names this very process: by the pid, a waitpid
        // could take (and wait for) another child of ours that got the pid since, if the
        // daemon was reaped already. ECHILD: not our child, or reaped already.
        // SAFETY: `info` is a live, zeroed siginfo_t that waitid fills in; the pidfd is open.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG,
            );
        }
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        kill_and_reap(&pidfd);
        // Someone else (init or a subreaper above us) reaps it otherwise. A zombie at its pid is
        // it, not yet reaped; a live process there is another that got the pid since.
        let pid = self.pid;
        let gone = try_wait_until(DEFAULT_DEADLINE, "the daemon to vanish", || {
            proc_state(pid) != Some('Z')
        });
        if gone.is_err() && !std::thread::panicking() {
            panic!("daemon pid {pid} is still a zombie after SIGKILL: nobody reaps it");
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
    crate::fd_table_in(&format!("/proc/{pid}/fd"))
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

/// Checks that `pid` was re-parented to init or to a subreaper (this process or one of its
/// ancestors): whatever started it has exited.
pub fn check_reparented(pid: u32) -> Result<(), String> {
    let ppid: u32 = stat_field(pid, 4)
        .and_then(|p| p.parse().ok())
        .ok_or(format!("pid {pid} is gone"))?;
    let me = std::process::id();
    let mut allowed = ancestors(me);
    allowed.push(me);
    if ppid == 1 || allowed.contains(&ppid) {
        return Ok(());
    }
    Err(format!(
        "the daemon's parent is pid {ppid}: it should be init or a subreaper (this test, pid \
         {me}, or one of its ancestors {allowed:?}): the processes between must exit"
    ))
}

/// Checks that `pid` is in a session of its own that it does not lead, with no controlling
/// terminal.
pub fn check_no_terminal(pid: u32) -> Result<(), String> {
    let sid = stat_field(pid, 6).unwrap_or_default();
    if sid == pid.to_string() {
        return Err(format!(
            "the daemon (pid {pid}) leads its session: a session leader that opens a terminal \
             gets it as its controlling terminal; fork once more after setsid"
        ));
    }
    if stat_field(std::process::id(), 6) == Some(sid.clone()) {
        return Err(format!(
            "the daemon is still in the test's session {sid}: it must start a session of its own"
        ));
    }
    let tty = stat_field(pid, 7).unwrap_or_default();
    if tty != "0" {
        return Err(format!(
            "the daemon still has a controlling terminal (tty_nr {tty}): setsid() drops it"
        ));
    }
    Ok(())
}

/// Checks `pid`'s umask (`Umask:` in status, e.g. `0027`) and that its cwd is `/`.
pub fn check_umask_and_cwd(pid: u32, umask: &str) -> Result<(), String> {
    let got = status_field(pid, "Umask").unwrap_or_default();
    if got != umask {
        return Err(format!(
            "the daemon's umask (Umask: in /proc/{pid}/status) is {got}, not {umask}"
        ));
    }
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
    if cwd != std::path::Path::new("/") {
        return Err(format!(
            "the daemon's working directory {} stays busy (it cannot be unmounted); chdir(\"/\")",
            cwd.display()
        ));
    }
    Ok(())
}

/// Checks that `pid` has fds 0-2 on `/dev/null`, no fd on `foreign` (a file its launcher had
/// open), and that every other fd passes `on_purpose` (given the link's target).
pub fn check_fds(
    pid: u32,
    foreign: &std::path::Path,
    on_purpose: impl Fn(&[&str]) -> bool,
) -> Result<(), String> {
    let fds = fd_table(pid);
    let listing = describe_fds(pid);
    for fd in 0..=2 {
        if fds.get(&fd).map(String::as_str) != Some("/dev/null") {
            return Err(format!(
                "fd {fd} of the daemon should be /dev/null; its fds:\n{listing}"
            ));
        }
    }
    let foreign = foreign.display().to_string();
    if fds.values().any(|t| *t == foreign) {
        return Err(format!(
            "the launcher's file {foreign} leaked into the daemon: close every fd above 2; its \
             fds:\n{listing}"
        ));
    }
    let others: Vec<&str> = fds
        .iter()
        .filter(|(fd, _)| **fd > 2)
        .map(|(_, t)| t.as_str())
        .collect();
    if !on_purpose(&others) {
        return Err(format!(
            "besides 0-2 the daemon should hold only what it opened on purpose; its fds:\n\
             {listing}"
        ));
    }
    Ok(())
}

/// Checks that `pid` blocks no signal and ignores none (`SigBlk`, `SigIgn`).
pub fn check_signals(pid: u32) -> Result<(), String> {
    let zero = "0000000000000000";
    let blocked = status_field(pid, "SigBlk").unwrap_or_default();
    if blocked != zero {
        return Err(format!(
            "the daemon inherited a blocked signal mask (SigBlk {blocked}): set an empty mask"
        ));
    }
    let ignored = status_field(pid, "SigIgn").unwrap_or_default();
    if ignored != zero {
        return Err(format!(
            "the daemon inherited ignored signals (SigIgn {ignored}; ignored signals survive \
             fork and exec, and Rust ignores SIGPIPE): restore every signal's default action"
        ));
    }
    Ok(())
}

/// A command that runs `program` the way a service manager does socket activation: the fd
/// `listener` at 3 and `LISTEN_FDS=1`, `LISTEN_PID` set to the program's own pid (known only
/// after the fork, hence `sh -c 'LISTEN_PID=$$ exec "$0" "$@"'`: exec keeps the shell's pid).
pub fn socket_activated(program: &std::path::Path, listener: i32) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
        .arg(program)
        .env("LISTEN_FDS", "1");
    // SAFETY: the closure runs in the forked child before exec and calls only dup2 and fcntl,
    // which are async-signal-safe, on integers.
    unsafe {
        cmd.pre_exec(move || {
            let rc = if listener == 3 {
                // dup2(3, 3) would keep close-on-exec: clear it instead.
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(listener, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Exactly the passed socket, as a service manager hands it: any other descriptor this
    // process inherited without close-on-exec would otherwise sit at fd 4 and up, where
    // LISTEN_FDS > 1 looks. (Hooks run in order: this one after the dup2 above.)
    crate::close_on_exec_from(&mut cmd, 4);
    cmd
}

/// Kills every process whose command line contains `needle` (a test's unique temp dir), waiting
/// for each to vanish: the last line of defence for a daemon whose pid the test never learnt
/// (a wrong pid file, a start-up that went astray). Call it when the test ends.
pub fn kill_mentioning(needle: &str) {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != me && crate::proc_cmdline(pid).contains(needle) {
            drop(DaemonGuard::new(pid));
        }
    }
}

/// Reaps the daemons that exited on their own before a test learnt their pid (a start-up that
/// failed after the fork): re-parented to this process, a subreaper, they would stay zombies of
/// it until it exits. A daemon here is a child named `comm` in a session other than ours (the
/// launchers and foreground children a test waits for itself share the test's session). Waits
/// up to the default deadline for every such child whose command line mentions `needle` (or is
/// already gone: an exiting process) to exit, and reaps every zombie among them.
pub fn reap_exited_daemons(comm: &str, needle: &str) {
    let me = std::process::id();
    let our_session = stat_field(me, 6);
    let _ = try_wait_until(DEFAULT_DEADLINE, "the failed daemons to exit", || {
        let mut left = false;
        for (pid, state) in crate::children_of(me) {
            if stat_field(pid, 2).as_deref() != Some(comm) || stat_field(pid, 6) == our_session {
                continue;
            }
            if state == 'Z' {
                if let Ok(raw) = libc::pid_t::try_from(pid) {
                    let mut status = 0;
                    // SAFETY: `raw` is a zombie child of ours; WNOHANG never blocks; `status`
                    // is a live local.
                    unsafe { libc::waitpid(raw, &mut status, libc::WNOHANG) };
                }
                continue;
            }
            let cmdline = crate::proc_cmdline(pid);
            left |= cmdline.is_empty() || cmdline.contains(needle);
        }
        !left
    });
}

/// `socket.recv(buf)`, retried when it fails with EINTR: a receive timeout (`SO_RCVTIMEO`) makes
/// `recv` fail with EINTR after a stop and continue even without a signal handler (signal(7)).
pub fn recv(socket: &std::os::unix::net::UnixDatagram, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match socket.recv(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
