//! Tests for `daemon/detach`: the daemon(7) steps, each checked from outside on the running
//! daemon through `/proc`, and the readiness pipe, checked through the launcher's exit.
//!
//! The launcher is the `daemon-detach` driver. The test gives it what a shell would: a
//! controlling terminal (a pseudo-terminal made its session's terminal), an inherited fd without
//! close-on-exec (a sentinel file at fd 9), a blocked signal (SIGUSR1) and an ignored one
//! (SIGHUP, as `nohup` does). The daemon must have shed all of them. The daemon sends its pid to
//! a datagram socket of the test; a guard kills it at the end, also when the test fails.
//!
//! The test process makes itself a child subreaper, so the orphaned daemon is re-parented to it
//! (or, under `cargo xtask check`, possibly to the runner above it): the daemon's parent must be
//! one of those or init, never the launcher.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use testkit::daemon::{
    DaemonGuard, become_subreaper, check_fds, check_no_terminal, check_reparented, check_signals,
    check_umask_and_cwd, kill_mentioning, stat_field,
};
use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, temp_dir};

const WAIT: Duration = DEFAULT_DEADLINE;
/// The fd number the sentinel file gets in the launcher.
const SENTINEL_FD: i32 = 9;

struct Launch {
    dir: tempfile::TempDir,
    report: UnixDatagram,
    report_path: PathBuf,
    sentinel: PathBuf,
    /// The pid of the last launcher `run` started (it leads a session of its own).
    launcher: std::cell::Cell<u32>,
}

impl Drop for Launch {
    fn drop(&mut self) {
        // Every launcher and daemon of this test names its temp dir on its command line.
        kill_mentioning(&self.dir.path().display().to_string());
    }
}

impl Launch {
    fn new(tag: &str) -> Launch {
        become_subreaper();
        let dir = temp_dir(tag);
        let report_path = dir.path().join("report.sock");
        let report = UnixDatagram::bind(&report_path).expect("bind the report socket");
        report.set_read_timeout(Some(WAIT)).expect("timeout");
        let sentinel = dir.path().join("sentinel");
        std::fs::write(&sentinel, "the launcher's fd").expect("write the sentinel");
        Launch {
            dir,
            report,
            report_path,
            sentinel,
            launcher: std::cell::Cell::new(0),
        }
    }

    /// The launcher command, with a terminal, the sentinel fd, a blocked and an ignored signal.
    /// Returns the command, its stderr file to read back, and the sentinel (keep it open until
    /// the launcher started).
    fn command(&self, extra: &[&str], tty: Option<&OwnedFd>) -> (Command, File, File) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_daemon-detach"));
        cmd.args(["--umask", "0027", "--report"])
            .arg(&self.report_path)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let err_path = self.dir.path().join("launcher.err");
        let err = File::create(&err_path).expect("create the launcher's stderr file");
        cmd.stderr(err.try_clone().expect("dup"));
        let sentinel = File::open(&self.sentinel).expect("open the sentinel");
        let sentinel_fd = sentinel.as_raw_fd();
        let tty_fd = tty.map(|t| t.as_raw_fd());
        // SAFETY: the closure runs in the forked child before exec and makes only
        // async-signal-safe calls (setsid, ioctl, dup2, fcntl, sigprocmask, signal) on integers and
        // on a sigset_t on its own stack; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(tty) = tty_fd {
                    // A new session whose controlling terminal is the pty, as in a shell. First:
                    // the pty's fd may have the number the sentinel is about to take.
                    if libc::setsid() < 0 || libc::ioctl(tty, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // dup2 clears close-on-exec on the copy (dup2(9, 9) would not: clear it then):
                // the launcher inherits fd 9.
                let rc = if sentinel_fd == SENTINEL_FD {
                    libc::fcntl(SENTINEL_FD, libc::F_SETFD, 0)
                } else {
                    libc::dup2(sentinel_fd, SENTINEL_FD)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                Ok(())
            });
        }
        (
            cmd,
            File::open(&err_path).expect("reopen the stderr file"),
            sentinel,
        )
    }

    /// Runs the launcher to its exit; returns its status and what it printed on stderr.
    fn run(&self, extra: &[&str], tty: Option<&OwnedFd>) -> (ExitStatus, String) {
        let _launching = launching();
        let (mut cmd, mut err, _sentinel) = self.command(extra, tty);
        let mut launcher = ChildGuard::spawn(&mut cmd);
        self.launcher.set(launcher.id());
        drop(cmd);
        let status = launcher.wait(WAIT);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut err, &mut text).expect("read stderr");
        (status, text)
    }

    /// Receives the daemon's pid and guards it.
    fn daemon(&self) -> DaemonGuard {
        let mut buf = [0u8; 32];
        let n = testkit::daemon::recv(&self.report, &mut buf).unwrap_or_else(|e| {
            panic!(
                "the daemon never sent its pid ({e}); did `detach` return in the daemon, and \
                 only there?"
            )
        });
        let pid: u32 = String::from_utf8_lossy(&buf[..n])
            .parse()
            .expect("a pid from the daemon");
        DaemonGuard::new(pid)
    }
}

/// Held from a launcher's spawn to its reaping, and while looking for unreaped processes: a
/// launcher that leads its own session (the terminal case) and has exited but is not yet
/// reaped would otherwise look like an unreaped process in between.
fn launching() -> std::sync::MutexGuard<'static, ()> {
    static LAUNCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LAUNCHING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts a daemon with a terminal and every inherited setting; returns it once ready.
fn started(tag: &str) -> (Launch, DaemonGuard, OwnedFd) {
    let launch = Launch::new(tag);
    let pty = nix::pty::openpty(None, None).expect("openpty");
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .expect("cloexec");
    }
    let (status, err) = launch.run(&[], Some(&pty.slave));
    assert!(
        status.success(),
        "the launcher should exit 0 once the daemon is ready; it {}; stderr: {err}",
        describe_status(status)
    );
    let guard = launch.daemon();
    drop(pty.slave);
    (launch, guard, pty.master)
}

/// Opens the FIFO `gate` for writing once the daemon has opened it for reading. Non-blocking
/// (ENXIO while there is no reader), so a daemon that never gets there fails the test instead
/// of hanging it.
fn open_gate(gate: &Path, launcher: &mut ChildGuard) -> File {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = None;
    let mut ended = None;
    let waited = testkit::try_wait_until(WAIT, "the daemon to open its gate FIFO", || {
        if let Ok(f) = File::options()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(gate)
        {
            file = Some(f);
            return true;
        }
        ended = launcher.child().try_wait().ok().flatten();
        ended.is_some()
    });
    match (file, ended) {
        (Some(f), _) => f,
        (None, Some(st)) => panic!(
            "the launcher {} before any daemon started up: no process opened the gate",
            describe_status(st)
        ),
        (None, None) => panic!("{}", waited.err().unwrap_or_default()),
    }
}

#[test]
fn the_daemon_is_an_orphan_in_its_own_session_without_a_terminal() {
    let (launch, daemon, _master) = started("detach-session");
    let pid = daemon.pid();
    check_reparented(pid).unwrap_or_else(|e| panic!("{e}"));
    // The launcher led a session with the terminal, as a shell does; its exit took the terminal
    // away from that session, but a daemon still in it would share the fate of the next
    // process group or terminal there.
    let launcher = launch.launcher.get();
    assert_ne!(
        stat_field(pid, 6),
        Some(launcher.to_string()),
        "the daemon is still in the launcher's session (its session id is the launcher's pid \
         {launcher}): call setsid() in the first child, for a session of its own"
    );
    // The process in between has exited (the daemon was re-parented); it must have been reaped
    // by the launcher, or it came back to us, a subreaper, as a zombie.
    let _launching = launching();
    let unreaped: Vec<u32> = testkit::children_of(std::process::id())
        .into_iter()
        .filter(|&(p, state)| {
            state == 'Z'
                && stat_field(p, 2).as_deref() == Some("daemon-detach")
                && stat_field(p, 6) == Some(p.to_string())
        })
        .map(|(p, _)| p)
        .collect();
    assert!(
        unreaped.is_empty(),
        "the process between launcher and daemon (pid {unreaped:?}) was never reaped: the \
         launcher must waitpid() its child"
    );
    check_no_terminal(pid).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_daemon_has_the_asked_umask_and_root_as_its_directory() {
    let (_launch, daemon, _master) = started("detach-umask");
    check_umask_and_cwd(daemon.pid(), "0027").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_daemon_keeps_only_stdio_on_dev_null_and_what_it_opened() {
    let (launch, daemon, _master) = started("detach-fds");
    // The readiness pipe is closed once ready, the terminal is gone: only the report socket
    // the driver opened on purpose remains.
    check_fds(daemon.pid(), &launch.sentinel, |others| {
        others.len() == 1 && others[0].starts_with("socket:")
    })
    .unwrap_or_else(|e| panic!("{e} (the launcher had it at fd {SENTINEL_FD})"));
}

#[test]
fn the_daemon_blocks_and_ignores_no_signal() {
    // The launcher blocked SIGUSR1 and ignored SIGHUP.
    let (_launch, daemon, _master) = started("detach-signals");
    check_signals(daemon.pid()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_launcher_waits_until_the_daemon_is_ready() {
    let launch = Launch::new("detach-gate");
    let gate = launch.dir.path().join("gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let gate_arg = gate.display().to_string();
    let (mut cmd, _err, _sentinel) = launch.command(&["--gate", &gate_arg], None);
    let mut launcher = ChildGuard::spawn(&mut cmd);
    drop(cmd);
    // Opening the FIFO for writing succeeds once the daemon opened it for reading: the daemon
    // is then in its start-up, not yet ready.
    let mut writer = open_gate(&gate, &mut launcher);
    let early = launcher.child().try_wait().expect("try_wait");
    assert!(
        early.is_none(),
        "the launcher exited ({}) while the daemon was still starting: it must wait for the \
         daemon to say it is ready",
        early.map(describe_status).unwrap_or_default()
    );
    writeln!(writer, "ok").expect("open the gate");
    drop(writer);
    let status = launcher.wait(WAIT);
    let daemon = launch.daemon();
    assert!(
        status.success(),
        "once the daemon said ready, the launcher should exit 0; it {}",
        describe_status(status)
    );
    assert!(!daemon.exited(), "the daemon should still be running");
}

#[test]
fn a_failed_start_up_makes_the_launcher_print_the_daemons_error_and_fail() {
    let launch = Launch::new("detach-fail");
    let (status, err) = launch.run(&["--fail", "cannot bind /nowhere: no such directory"], None);
    let _daemon = launch.daemon();
    assert!(
        !status.success(),
        "the daemon failed to start, yet the launcher {}: a script running `start && use` would \
         go on as if all was well",
        describe_status(status)
    );
    assert!(
        err.contains("cannot bind /nowhere: no such directory"),
        "the launcher should print the daemon's own error; its stderr: {err:?}"
    );
}

#[test]
fn a_daemon_that_dies_during_start_up_makes_the_launcher_fail() {
    let launch = Launch::new("detach-die");
    let (status, err) = launch.run(&["--die"], None);
    let _daemon = launch.daemon();
    assert_eq!(
        status.code(),
        Some(1),
        "the daemon died before it said ready: the launcher should exit 1 (EOF on the readiness \
         pipe without `ready` is a failure); it {}, stderr: {err:?}",
        describe_status(status)
    );
    assert!(
        !err.trim().is_empty() && !err.contains("panicked"),
        "the launcher should say in one line that the daemon died during start-up; it said \
         {err:?}"
    );
}

#[test]
fn a_failing_daemon_leaves_with_underscore_exit_not_the_launchers_exit_handlers() {
    let launch = Launch::new("detach-atexit");
    let notes = launch.dir.path().join("atexit.notes");
    let notes_arg = notes.display().to_string();
    let (status, _err) = launch.run(&["--fail", "no luck", "--atexit", &notes_arg], None);
    let daemon = launch.daemon();
    assert!(
        !status.success(),
        "the launcher {}",
        describe_status(status)
    );
    let text = std::fs::read_to_string(&notes).unwrap_or_default();
    let daemon_pid = daemon.pid();
    assert!(
        !text.contains(&format!("pid {daemon_pid}\n")),
        "the daemon (pid {daemon_pid}) ran the launcher's atexit handler: `fail` left with \
         exit(3) (std::process::exit), which runs the handlers and flushes the C stdio buffers \
         the forked child copied from the launcher; a forked child leaves with _exit(2) \
         (libc::_exit). Handlers that ran: {text:?}"
    );
    assert_eq!(
        text.lines().count(),
        1,
        "the launcher itself leaves with exit(3), running its handler once: {text:?}"
    );
}
