//! Tests for `daemon/control`: stop, reload and status through a pid file, against
//! `daemon-victim` drivers (processes that lock a pid file the way a daemon does and react to
//! signals as each test asks), and against a stale pid file naming a live unrelated process,
//! which must never be signalled.
//!
//! `stop` must wait in the kernel: while it waits, the thread that called it is asleep in
//! poll(2) (or ppoll, epoll_wait, select), as `/proc/self/task/TID/syscall` shows; a loop of
//! sleeps and checks sleeps in nanosleep instead.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use daemon::control::{ControlError, Stopped, lsb_status, reload, stop};
use testkit::{
    ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, sh, temp_dir, thread_sleeps_in,
};

const WAIT: Duration = DEFAULT_DEADLINE;

struct Victim {
    guard: ChildGuard,
    out: LineReader,
    pidfile: PathBuf,
    _dir: tempfile::TempDir,
}

impl Victim {
    fn start(tag: &str, mode: &[&str]) -> Victim {
        let dir = temp_dir(tag);
        let pidfile = dir.path().join("v.pid");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_daemon-victim"));
        cmd.arg(&pidfile)
            .args(
                mode.iter()
                    .map(|m| m.replace("{dir}", &dir.path().display().to_string())),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut guard = ChildGuard::spawn(&mut cmd);
        let stdout = guard.child().stdout.take().expect("piped");
        let mut out = LineReader::new(stdout, "daemon-victim");
        out.expect("ready", WAIT);
        Victim {
            guard,
            out,
            pidfile,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.guard.id()
    }
}

/// Calls `stop` on a thread; returns the thread's tid and the handle.
fn stop_on_thread(
    pidfile: &Path,
    grace: Duration,
) -> (i32, std::thread::JoinHandle<Result<Stopped, ControlError>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = pidfile.to_path_buf();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(nix::unistd::gettid().as_raw());
        stop(&path, grace)
    });
    let tid = rx.recv().expect("the stopping thread's tid");
    (tid, handle)
}

#[test]
fn stop_sends_sigterm_and_returns_once_the_daemon_has_exited() {
    let mut v = Victim::start("control-term", &["exit"]);
    let got = stop(&v.pidfile, WAIT).expect("stop");
    assert_eq!(got, Stopped::Terminated(v.pid()));
    // The victim is our child: only now may it be reaped; it must already be dead.
    let st = v.guard.child().try_wait().expect("try_wait");
    assert!(
        st.is_some(),
        "stop returned before the daemon had exited: wait for its exit, not just send SIGTERM"
    );
    assert_eq!(st.and_then(|s| s.signal()), Some(libc::SIGTERM));
}

#[test]
fn stop_waits_asleep_in_poll_on_a_pidfd() {
    let mut v = Victim::start("control-pidfd", &["gate", "{dir}/gate"]);
    let gate = v.pidfile.with_file_name("gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let (tid, handle) = stop_on_thread(&v.pidfile, Duration::from_secs(60));
    // On SIGTERM the victim opens its gate FIFO for reading: a non-blocking open for writing
    // succeeds from then on. If stop returns (or panics) first, say so at once.
    let mut writer = None;
    testkit::wait_until(WAIT, "the daemon to receive SIGTERM", || {
        if let Ok(f) = File::options()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&gate)
        {
            writer = Some(f);
            return true;
        }
        handle.is_finished()
    });
    let Some(mut writer) = writer else {
        let got = handle.join().expect("the stopping thread");
        panic!("stop returned {got:?} before the daemon received SIGTERM");
    };
    v.out.expect("got TERM", WAIT);
    let waits = [
        libc::SYS_poll,
        libc::SYS_ppoll,
        libc::SYS_epoll_wait,
        libc::SYS_epoll_pwait,
        libc::SYS_select,
        libc::SYS_pselect6,
        libc::SYS_waitid,
    ];
    let res = testkit::try_wait_until(WAIT, "the stopping thread to sleep in poll", || {
        thread_sleeps_in(tid, &waits)
    });
    let syscall =
        std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).unwrap_or_default();
    // Let the victim exit, whatever the verdict, so nothing is left waiting.
    writeln!(writer, "go").expect("write gate");
    drop(writer);
    let got = handle.join().expect("the stopping thread");
    assert!(
        res.is_ok(),
        "while the daemon was shutting down, stop was not asleep in poll (its syscall line: \
         {syscall:?}): open a pidfd and poll it, it becomes readable when the process exits"
    );
    assert_eq!(got.expect("stop"), Stopped::Terminated(v.pid()));
    let st = v.guard.wait(WAIT);
    assert!(st.success(), "the victim {}", describe_status(st));
}

#[test]
fn stop_kills_with_sigkill_when_the_grace_period_ends() {
    let mut v = Victim::start("control-kill", &["ignore"]);
    let got = stop(&v.pidfile, Duration::from_millis(300)).expect("stop");
    assert_eq!(
        got,
        Stopped::Killed(v.pid()),
        "the daemon ignores SIGTERM: after the grace period it must get SIGKILL"
    );
    let st = v.guard.wait(WAIT);
    assert_eq!(st.signal(), Some(libc::SIGKILL), "{}", describe_status(st));
}

#[test]
fn a_stale_pid_file_never_gets_an_unrelated_process_killed() {
    let dir = temp_dir("control-stale");
    let pidfile = dir.path().join("v.pid");
    let mut stranger = ChildGuard::spawn(sh("exec sleep 60").stdin(Stdio::null()));
    let pid = stranger.id();
    std::fs::write(&pidfile, format!("{pid}\n")).expect("write the stale pid file");
    match stop(&pidfile, Duration::from_millis(100)) {
        Err(e @ ControlError::Stale(Some(p))) => {
            assert_eq!(p, pid);
            let said = e.to_string();
            assert!(
                said.contains("stale") && said.contains(&pid.to_string()),
                "the message should say the pid file is stale and name pid {pid}: {said:?}"
            );
        }
        other => panic!("stop on a stale pid file (unlocked, pid {pid}) returned {other:?}"),
    }
    match reload(&pidfile) {
        Err(ControlError::Stale(_)) => {}
        other => panic!("reload on a stale pid file returned {other:?}"),
    }
    assert!(
        stranger.child().try_wait().expect("try_wait").is_none(),
        "pid {pid} has nothing to do with the daemon, yet it was killed"
    );
    assert_eq!(lsb_status("victim", &pidfile).0, 1);
}

#[test]
fn stop_and_reload_without_a_pid_file_say_not_running() {
    let dir = temp_dir("control-none");
    let pidfile = dir.path().join("none.pid");
    assert!(matches!(
        stop(&pidfile, Duration::from_millis(100)),
        Err(ControlError::NotRunning)
    ));
    match reload(&pidfile) {
        Err(e @ ControlError::NotRunning) => assert!(
            e.to_string().starts_with("not running"),
            "the message for a missing pid file: {e}"
        ),
        other => panic!("reload without a pid file returned {other:?}"),
    }
    let (code, line) = lsb_status("victim", &pidfile);
    assert_eq!((code, line.as_str()), (3, "victim is stopped"));
}

/// Runs `f` on a thread of its own where every way of sending a signal (kill, tgkill,
/// rt_sigqueueinfo, pidfd_send_signal) fails with ESRCH, as it does once the process is gone
/// and reaped.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn as_if_the_daemon_had_just_exited<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    use testkit::seccomp::{Action, install};
    let calls = [
        libc::SYS_kill,
        libc::SYS_tgkill,
        libc::SYS_tkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_pidfd_send_signal,
    ];
    std::thread::spawn(move || {
        install(&calls, Action::Errno(libc::ESRCH)).expect("install a seccomp filter");
        f()
    })
    .join()
    .expect("the thread with the filter panicked")
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn a_daemon_that_exits_just_before_its_signal_is_stopped_and_not_reloaded() {
    // The daemon exits (and is reaped) between the check of the pid file and the signal: the
    // kernel answers the signal with ESRCH. Here the victim still runs, but the signal calls of
    // the thread that stops it fail as they would then.
    let v = Victim::start("control-esrch", &["exit"]);
    let pidfile = v.pidfile.clone();
    let got = as_if_the_daemon_had_just_exited(move || stop(&pidfile, Duration::from_millis(300)));
    match got {
        Ok(Stopped::Terminated(pid)) => assert_eq!(pid, v.pid()),
        other => panic!(
            "stop returned {other:?} when sending SIGTERM failed with ESRCH (no such process): \
             the daemon exited since the pid file was checked, which is what stop wants: \
             report it stopped (Stopped::Terminated), not an error, and do not wait out the grace"
        ),
    }
    let pidfile = v.pidfile.clone();
    let got = as_if_the_daemon_had_just_exited(move || reload(&pidfile));
    assert!(
        matches!(got, Err(ControlError::NotRunning)),
        "reload returned {got:?} when SIGHUP failed with ESRCH: a daemon that exited has nothing \
         to reload; say it is not running (ControlError::NotRunning)"
    );
}

#[test]
fn reload_sends_sighup() {
    let mut v = Victim::start("control-hup", &["exit"]);
    assert_eq!(reload(&v.pidfile).expect("reload"), v.pid());
    v.out.expect("hup", WAIT);
    let (code, line) = lsb_status("victim", &v.pidfile);
    assert_eq!(code, 0, "{line}");
    assert_eq!(line, format!("victim is running (pid {})", v.pid()));
    assert!(
        v.guard.child().try_wait().expect("try_wait").is_none(),
        "SIGHUP asks for a reload; the daemon must still run"
    );
}
