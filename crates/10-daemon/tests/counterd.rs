//! End-to-end tests for `counterd`, the practice daemon, run as a binary: the classic `start`
//! (checked from outside through /proc), `stop`, `status`, `reload`, log rotation, syslog, the
//! new-style `run` with socket activation and readiness notification, and every user error
//! with its own exit status.
//!
//! Every daemon a test starts is guarded by its pid (read from the pid file) and killed when the
//! test ends, also when it fails. The test process is a child subreaper, so the daemons come
//! back to it and are reaped.

use std::fs::File;
use std::io::BufRead;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::daemon::{
    DaemonGuard, become_subreaper, check_fds, check_no_terminal, check_reparented, check_signals,
    check_umask_and_cwd, kill_mentioning, reap_exited_daemons, socket_activated, stat_field,
};
use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, sh, temp_dir, wait_until};

const WAIT: Duration = DEFAULT_DEADLINE;
const SENTINEL_FD: i32 = 9;

struct Counterd {
    dir: tempfile::TempDir,
    pidfile: PathBuf,
    socket: PathBuf,
    log: PathBuf,
    state: PathBuf,
    config: PathBuf,
}

impl Drop for Counterd {
    fn drop(&mut self) {
        // Every counterd of this test names its temp dir on its command line; a daemon whose
        // start-up failed came back to us (a subreaper) and is reaped here.
        let dir = self.dir.path().display().to_string();
        kill_mentioning(&dir);
        reap_exited_daemons("counterd", &dir);
    }
}

/// What one `counterd` command did.
struct Ran {
    status: ExitStatus,
    out: String,
    err: String,
}

impl Ran {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
    fn show(&self) -> String {
        format!(
            "{}; stdout {:?}; stderr {:?}",
            describe_status(self.status),
            self.out,
            self.err
        )
    }
}

impl Counterd {
    fn new(tag: &str) -> Counterd {
        become_subreaper();
        let dir = temp_dir(tag);
        let p = |n: &str| dir.path().join(n);
        let c = Counterd {
            pidfile: p("c.pid"),
            socket: p("c.sock"),
            log: p("c.log"),
            state: p("c.state"),
            config: p("c.conf"),
            dir,
        };
        std::fs::write(&c.config, "step = 1\n").expect("write the config");
        c
    }

    fn args(&self) -> Vec<String> {
        [
            ("--pidfile", &self.pidfile),
            ("--socket", &self.socket),
            ("--log", &self.log),
            ("--state", &self.state),
            ("--config", &self.config),
        ]
        .iter()
        .flat_map(|(f, p)| [f.to_string(), p.display().to_string()])
        .collect()
    }

    /// Runs `counterd COMMAND` with our paths (plus `extra`), stdout and stderr into files (a
    /// daemon that kept them would make a pipe reader wait forever).
    fn run_with(&self, command: &str, extra: &[&str], sentinel: bool) -> Ran {
        self.run_args(command, &self.args(), extra, &[], sentinel)
    }

    /// Runs `counterd COMMAND ARGS EXTRA` with the environment variables `env` set (or removed,
    /// for `None`).
    fn run_args(
        &self,
        command: &str,
        args: &[String],
        extra: &[&str],
        env: &[(&str, Option<&Path>)],
        sentinel: bool,
    ) -> Ran {
        self.run_in(None, command, args, extra, env, sentinel)
    }

    /// [`Counterd::run_args`] in the directory `cwd` (ours when `None`).
    fn run_in(
        &self,
        cwd: Option<&Path>,
        command: &str,
        args: &[String],
        extra: &[&str],
        env: &[(&str, Option<&Path>)],
        sentinel: bool,
    ) -> Ran {
        let out_path = self.dir.path().join("out");
        let err_path = self.dir.path().join("err");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_counterd"));
        cmd.arg(command)
            .args(args)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("out file"))
            .stderr(File::create(&err_path).expect("err file"));
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        for (name, value) in env {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        let sentinel_file = File::open(&self.config).expect("open a sentinel");
        if sentinel {
            let fd = sentinel_file.as_raw_fd();
            // SAFETY: runs in the forked child before exec; dup2 and fcntl are
            // async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    // dup2(9, 9) would keep close-on-exec: clear it instead.
                    let rc = if fd == SENTINEL_FD {
                        libc::fcntl(SENTINEL_FD, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(fd, SENTINEL_FD)
                    };
                    if rc < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = ChildGuard::spawn(&mut cmd);
        drop(cmd);
        let status = child.wait(WAIT);
        drop(sentinel_file);
        Ran {
            status,
            out: std::fs::read_to_string(&out_path).unwrap_or_default(),
            err: std::fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }

    fn run(&self, command: &str) -> Ran {
        self.run_with(command, &[], false)
    }

    /// `counterd start`, asserting success; returns a guard on the daemon.
    fn start(&self) -> DaemonGuard {
        let ran = self.run_with("start", &[], true);
        assert_eq!(ran.code(), Some(0), "counterd start: {}", ran.show());
        let pid = self.pid();
        DaemonGuard::new(pid)
    }

    fn pid(&self) -> u32 {
        pid_in(&self.pidfile)
    }

    fn next(&self) -> String {
        self.next_on(&self.socket)
    }

    /// The next number, from the counterd listening at `socket`.
    fn next_on(&self, socket: &Path) -> String {
        let s = UnixStream::connect(socket).unwrap_or_else(|e| {
            panic!(
                "connect to {}: {e}; log so far:\n{}",
                socket.display(),
                self.log_text()
            )
        });
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut line = String::new();
        std::io::BufReader::new(s)
            .read_line(&mut line)
            .expect("read the number");
        line.trim().to_string()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log file at `path` contains `needle` (the daemon's answer to a signal
    /// has no other event to wait on).
    fn wait_log(&self, path: &Path, needle: &str) {
        wait_until(WAIT, &format!("{needle:?} in {}", path.display()), || {
            std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
        });
    }
}

/// The pid in the pid file at `path`, which `start` returning 0 promises.
fn pid_in(path: &Path) -> u32 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "`start` returned 0, so the pid file {} must exist: {e}",
            path.display()
        )
    });
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("the pid file holds {text:?}, not a pid"))
}

#[test]
fn start_serves_the_counter_and_the_daemon_passes_every_proc_check() {
    let c = Counterd::new("counterd-start");
    let d = c.start();
    let pid = d.pid();
    assert_eq!(c.next(), "1");
    assert_eq!(c.next(), "2");
    assert_eq!(
        std::fs::read_to_string(&c.state).expect("state").trim(),
        "2"
    );
    let pidfile = c.pidfile.display().to_string();
    let log = c.log.display().to_string();
    let checks = [
        check_reparented(pid),
        check_no_terminal(pid),
        check_umask_and_cwd(pid, "0027"),
        check_signals(pid),
        // The config was the launcher's fd 9; the daemon may hold its pid file, its log, its
        // sockets and the self-pipe of its signal handlers.
        check_fds(pid, &c.config, |others| {
            others.iter().all(|t| {
                *t == pidfile || *t == log || t.starts_with("socket:") || t.starts_with("pipe:")
            })
        }),
    ];
    for check in checks {
        check.unwrap_or_else(|e| panic!("{e}"));
    }
    let st = c.run("status");
    assert_eq!(st.code(), Some(0), "{}", st.show());
    assert_eq!(st.out.trim(), format!("counterd is running (pid {pid})"));

    let stopped = c.run("stop");
    assert_eq!(stopped.code(), Some(0), "{}", stopped.show());
    assert_eq!(stopped.out.trim(), format!("counterd stopped (pid {pid})"));
    assert!(d.wait_exit(WAIT), "the daemon still runs after `stop`");
    assert!(
        !c.pidfile.exists(),
        "a stopped counterd removes its pid file"
    );
    assert!(
        !c.socket.exists(),
        "a stopped counterd removes its socket file"
    );
    let st = c.run("status");
    assert_eq!(st.code(), Some(3), "{}", st.show());
    assert_eq!(st.out.trim(), "counterd is stopped");
    let log = c.log_text();
    assert!(
        log.contains("started") && log.contains("stopping") && !log.contains("accept"),
        "a healthy run logs its start and its stop, and no accept error (EAGAIN after the \
         last pending connection is the normal end of a round, not an error):\n{log}"
    );
}

#[test]
fn the_count_survives_a_restart() {
    let c = Counterd::new("counterd-restart");
    let d = c.start();
    assert_eq!(c.next(), "1");
    assert_eq!(c.run("stop").code(), Some(0));
    assert!(d.wait_exit(WAIT));
    let _d = c.start();
    assert_eq!(c.next(), "2", "the counter lives in the state file");
}

#[test]
fn a_second_start_fails_with_already_running() {
    let c = Counterd::new("counterd-twice");
    let d = c.start();
    let again = c.run("start");
    assert_eq!(again.code(), Some(150), "{}", again.show());
    assert_eq!(
        again.err.trim(),
        format!("counterd: already running (pid {})", d.pid())
    );
    assert_eq!(
        c.pid(),
        d.pid(),
        "the pid file still names the first daemon"
    );
}

#[test]
fn a_start_up_failure_in_the_daemon_is_printed_by_the_launcher() {
    let c = Counterd::new("counterd-taken");
    // Another server already listens on the socket path: counterd must not steal it.
    let _other = UnixListener::bind(&c.socket).expect("bind");
    let ran = c.run("start");
    assert_eq!(
        ran.code(),
        Some(1),
        "the daemon could not listen; the launcher must fail: {}",
        ran.show()
    );
    assert!(
        ran.err.contains("another server is listening"),
        "the launcher should print the daemon's own error: {}",
        ran.show()
    );
    wait_until(WAIT, "the failed daemon to release its pid file", || {
        !c.pidfile.exists()
    });
    // A socket path in a directory that does not exist: the OS's reason, not a guess.
    let missing = c.dir.path().join("no-such-dir/c.sock");
    let ran = c.run_with(
        "start",
        &["--socket", &missing.display().to_string()],
        false,
    );
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(
        ran.err.contains(&missing.display().to_string())
            && ran.err.contains("No such file or directory"),
        "the launcher should print the daemon's error, naming the socket path and why bind \
         failed: {}",
        ran.show()
    );
}

#[test]
fn stop_and_reload_when_stopped_say_not_running() {
    let c = Counterd::new("counterd-stopped");
    for cmd in ["stop", "reload"] {
        let ran = c.run(cmd);
        assert_eq!(ran.code(), Some(7), "counterd {cmd}: {}", ran.show());
        assert!(
            ran.err.starts_with("counterd: not running") && ran.err.lines().count() == 1,
            "{}",
            ran.show()
        );
    }
}

#[test]
fn a_stale_pid_file_is_reported_and_its_pid_is_never_signalled() {
    let c = Counterd::new("counterd-stale");
    let mut stranger = ChildGuard::spawn(sh("exec sleep 60").stdin(Stdio::null()));
    let pid = stranger.id();
    std::fs::write(&c.pidfile, format!("{pid}\n")).expect("write");
    let st = c.run("status");
    assert_eq!(
        st.code(),
        Some(1),
        "LSB: dead with a pid file: {}",
        st.show()
    );
    let stop = c.run("stop");
    assert_eq!(stop.code(), Some(7), "{}", stop.show());
    assert!(stop.err.contains("stale"), "{}", stop.show());
    assert!(
        stranger.child().try_wait().expect("try_wait").is_none(),
        "pid {pid} was named by a stale pid file and got killed"
    );
    let d = c.start();
    assert_ne!(d.pid(), pid, "start replaces a stale pid file");
}

#[test]
fn reload_rereads_the_config_and_keeps_the_old_one_when_the_new_is_bad() {
    let c = Counterd::new("counterd-reload");
    let d = c.start();
    assert_eq!(c.next(), "1");
    std::fs::write(&c.config, "# the counter's increment\n\nstep = 5\n").expect("write");
    let r = c.run("reload");
    assert_eq!(r.code(), Some(0), "{}", r.show());
    c.wait_log(&c.log, "reloaded: step=5");
    // The signal woke the daemon; once it has handled it, it must sleep again. A self-pipe
    // left full keeps poll returning at once: the daemon would spin, never asleep (S).
    let pid = d.pid();
    testkit::wait_until(WAIT, "the daemon to be asleep again after SIGHUP", || {
        stat_field(pid, 3).as_deref() == Some("S")
    });
    assert_eq!(c.next(), "6");
    std::fs::write(&c.config, "step = zero\n").expect("write");
    assert_eq!(c.run("reload").code(), Some(0));
    c.wait_log(&c.log, "reload failed");
    assert!(
        c.log_text().contains("keeping step=5"),
        "the log should say why and what is kept:\n{}",
        c.log_text()
    );
    assert_eq!(c.next(), "11", "a bad config must not replace the good one");
}

#[test]
fn a_rotated_log_is_reopened_on_reload() {
    let c = Counterd::new("counterd-rotate");
    let _d = c.start();
    let moved = c.dir.path().join("c.log.1");
    std::fs::rename(&c.log, &moved).expect("move the log");
    assert_eq!(c.run("reload").code(), Some(0));
    c.wait_log(&c.log, "reloaded");
    let old = std::fs::read_to_string(&moved).expect("moved log");
    assert!(old.contains("started"), "{old}");
    assert!(
        !old.contains("reloaded"),
        "after SIGHUP lines go to the new file"
    );
}

#[test]
fn logs_can_go_to_syslog_as_datagrams() {
    let c = Counterd::new("counterd-syslog");
    let sock = c.dir.path().join("log.sock");
    let syslog = UnixDatagram::bind(&sock).expect("bind");
    syslog.set_read_timeout(Some(WAIT)).expect("timeout");
    let target = format!("syslog:{}", sock.display());
    let ran = c.run_with("start", &["--log", &target], false);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let d = DaemonGuard::new(c.pid());
    let mut buf = [0u8; 1024];
    let n = testkit::daemon::recv(&syslog, &mut buf).expect("a syslog datagram");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        line.starts_with("<30>") && line.contains(&format!(" counterd[{}]: started", d.pid())),
        "a syslog line for /dev/log is `<PRI>Mmm dd hh:mm:ss counterd[PID]: MESSAGE` (the form \
         glibc's syslog(3) sends, which the local logger reads), PRI 30 for daemon.info: {line:?}"
    );
}

#[test]
fn log_syslog_alone_names_dev_log_not_a_file_called_syslog() {
    // `--log syslog` is the system logger's socket, `/dev/log`: whether or not this machine
    // has one, it is never a file named `syslog` in the caller's directory.
    let c = Counterd::new("counterd-devlog");
    let ran = c.run_in(
        Some(c.dir.path()),
        "start",
        &c.args(),
        &["--log", "syslog"],
        &[],
        false,
    );
    if ran.code() == Some(0) {
        let d = DaemonGuard::new(c.pid());
        let stop = c.run("stop");
        assert_eq!(stop.code(), Some(0), "{}", stop.show());
        assert!(d.wait_exit(WAIT), "the daemon still runs after `stop`");
    } else {
        assert!(
            ran.err.contains("/dev/log"),
            "`counterd start --log syslog` failed without naming /dev/log: {}",
            ran.show()
        );
    }
    let file = c.dir.path().join("syslog");
    assert!(
        !file.exists(),
        "`--log syslog` wrote the log to the file {}: `syslog` alone names the system \
         logger's socket, /dev/log, and `syslog:PATH` another socket; only other values are \
         files",
        file.display()
    );
}

#[test]
fn run_serves_a_passed_socket_and_notifies_the_manager() {
    let c = Counterd::new("counterd-run");
    let notify_path = c.dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind notify");
    notify.set_read_timeout(Some(WAIT)).expect("timeout");
    let listener = UnixListener::bind(&c.socket).expect("bind the service socket");
    let mut cmd = socket_activated(
        Path::new(env!("CARGO_BIN_EXE_counterd")),
        listener.as_raw_fd(),
    );
    // No --log: a new-style daemon logs to its stderr, which the manager collects.
    let args: Vec<String> = c.args().into_iter().filter(|a| a != "--log").collect();
    let args: Vec<&String> = args
        .iter()
        .filter(|a| **a != c.log.display().to_string())
        .collect();
    let err_path = c.dir.path().join("run.err");
    cmd.arg("run")
        .args(args)
        .env("NOTIFY_SOCKET", &notify_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).expect("stderr file"));
    let mut d = ChildGuard::spawn(&mut cmd);
    let mut buf = [0u8; 512];
    let n = testkit::daemon::recv(&notify, &mut buf).expect("READY=1 on the notify socket");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    assert!(msg.lines().any(|l| l.starts_with("STATUS=")), "{msg:?}");
    assert_eq!(c.next(), "1");
    kill(Pid::from_raw(d.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let n = testkit::daemon::recv(&notify, &mut buf).expect("STOPPING=1");
    assert_eq!(String::from_utf8_lossy(&buf[..n]), "STOPPING=1");
    let st = d.wait(WAIT);
    assert!(st.success(), "counterd run {}", describe_status(st));
    assert!(
        c.socket.exists(),
        "the passed socket belongs to the manager: counterd must not remove its file"
    );
    assert!(!c.pidfile.exists());
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        err.contains("started") && err.contains("stopping"),
        "without --log, `run` logs to stderr; it wrote {err:?}"
    );
    drop(listener);
}

#[test]
fn every_user_error_has_one_line_and_its_own_exit_status() {
    let c = Counterd::new("counterd-errors");
    let missing = c.dir.path().join("no-such-dir/c.pid");
    let no_config = c.dir.path().join("no-such.conf");
    let cases: Vec<(&str, Vec<String>, i32)> = vec![
        ("usage", vec!["frobnicate".into()], 2),
        (
            "unknown option",
            vec!["status".into(), "--verbose".into()],
            2,
        ),
        (
            "option without a value",
            vec!["stop".into(), "--state".into()],
            2,
        ),
        ("bad config", vec!["start".into()], 6),
        ("a step of zero", vec!["start".into()], 6),
        (
            "unreadable config",
            vec![
                "start".into(),
                "--config".into(),
                no_config.display().to_string(),
            ],
            6,
        ),
        (
            "pid-file directory missing",
            vec![
                "start".into(),
                "--pidfile".into(),
                missing.display().to_string(),
            ],
            5,
        ),
        (
            "no permission",
            vec![
                "start".into(),
                "--pidfile".into(),
                "/sys/counterd-test.pid".into(),
            ],
            4,
        ),
    ];

    for (what, args, code) in cases {
        let config = match what {
            "bad config" => "# the increment\nsteps = 3\n",
            "a step of zero" => "step = 0\n",
            _ => "step = 1\n",
        };
        std::fs::write(&c.config, config).expect("write");
        let (cmd, extra) = args.split_first().expect("a command");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let ran = c.run_with(cmd, &extra, false);
        assert_eq!(ran.code(), Some(code), "{what}: {}", ran.show());
        assert!(
            ran.err.lines().count() == 1 && ran.err.starts_with("counterd: "),
            "{what}: one line starting `counterd: `: {}",
            ran.show()
        );
        if what == "bad config" {
            assert!(
                ran.err.contains("line 2"),
                "a bad config names the line at fault: {}",
                ran.show()
            );
        }

        assert!(!c.pidfile.exists(), "{what}: nothing was started");
    }
}

#[test]
fn default_paths_live_in_a_private_runtime_directory() {
    let c = Counterd::new("counterd-defaults");
    let runtime = c.dir.path().join("runtime");
    std::fs::create_dir(&runtime).expect("mkdir");
    let status = |env: &[(&str, Option<&Path>)]| c.run_args("status", &[], &[], env, false);
    let out = status(&[("XDG_RUNTIME_DIR", Some(&runtime))]);
    assert_eq!(out.code(), Some(3), "{}", out.show());
    let made = runtime.join("counterd");
    let mode = std::fs::metadata(&made)
        .unwrap_or_else(|e| panic!("{} should exist: {e}", made.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the default directory must be private");
    let tmp = c.dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    let in_tmp = [("XDG_RUNTIME_DIR", None), ("TMPDIR", Some(tmp.as_path()))];
    let out = status(&in_tmp);
    assert_eq!(out.code(), Some(3), "{}", out.show());
    let uid = nix::unistd::getuid();
    let made = tmp.join(format!("counterd-{uid}"));
    let mode = std::fs::metadata(&made)
        .unwrap_or_else(|e| panic!("{} should exist: {e}", made.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // An open directory there is refused: anyone could plant a pid file or socket in it.
    std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = status(&in_tmp);
    assert_eq!(out.code(), Some(4), "{}", out.show());
    // So is a file of ours, private or not, where the directory should be.
    let blocked = c.dir.path().join("blocked");
    std::fs::create_dir(&blocked).expect("mkdir");
    std::fs::write(blocked.join("counterd"), "").expect("write");
    std::fs::set_permissions(
        blocked.join("counterd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let out = status(&[("XDG_RUNTIME_DIR", Some(&blocked))]);
    assert!(
        out.code() == Some(4) && out.err.contains("must be a directory"),
        "a file in place of the default directory: {}",
        out.show()
    );
    // A runtime directory that does not exist: status 5, naming the directory.
    let gone = c.dir.path().join("gone");
    let out = status(&[("XDG_RUNTIME_DIR", Some(&gone))]);
    let named = gone.join("counterd").display().to_string();
    assert!(
        out.code() == Some(5) && out.err.contains(&named),
        "a missing runtime directory: status 5 and an error naming {named}: {}",
        out.show()
    );
}

#[test]
fn start_puts_the_pid_file_and_the_log_in_the_default_directory() {
    let c = Counterd::new("counterd-default-start");
    let runtime = c.dir.path().join("runtime");
    std::fs::create_dir(&runtime).expect("mkdir");
    let made = runtime.join("counterd");
    // The socket, state and config are given (and name the test's dir, for the guard); the pid
    // file and the log take their defaults.
    let args: Vec<String> = [
        ("--socket", &c.socket),
        ("--state", &c.state),
        ("--config", &c.config),
    ]
    .iter()
    .flat_map(|(f, p)| [f.to_string(), p.display().to_string()])
    .collect();
    let env = [("XDG_RUNTIME_DIR", Some(runtime.as_path()))];
    let ran = c.run_args("start", &args, &[], &env, false);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let d = DaemonGuard::new(pid_in(&made.join("counterd.pid")));
    assert_eq!(c.next(), "1");
    c.wait_log(&made.join("counterd.log"), "started");
    let st = c.run_args("status", &args, &[], &env, false);
    assert_eq!(
        st.out.trim(),
        format!("counterd is running (pid {})", d.pid()),
        "{}",
        st.show()
    );
    let stopped = c.run_args("stop", &args, &[], &env, false);
    assert_eq!(stopped.code(), Some(0), "{}", stopped.show());
    assert!(d.wait_exit(WAIT), "the daemon still runs after `stop`");
    // Now the pid file is given and the socket takes its default.
    let args: Vec<String> = [
        ("--pidfile", &c.pidfile),
        ("--log", &c.log),
        ("--state", &c.state),
        ("--config", &c.config),
    ]
    .iter()
    .flat_map(|(f, p)| [f.to_string(), p.display().to_string()])
    .collect();
    let ran = c.run_args("start", &args, &[], &env, false);
    assert_eq!(ran.code(), Some(0), "{}", ran.show());
    let _d = DaemonGuard::new(c.pid());
    assert_eq!(c.next_on(&made.join("counterd.sock")), "2");
}

#[test]
fn a_stale_socket_file_is_replaced_but_any_other_file_is_left_alone() {
    let c = Counterd::new("counterd-stale-socket");
    std::fs::write(&c.socket, "not a socket").expect("write");
    let ran = c.run("start");
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(ran.err.contains("not a socket"), "{}", ran.show());
    assert_eq!(
        std::fs::read_to_string(&c.socket).unwrap_or_default(),
        "not a socket",
        "a regular file in the way of the socket must not be removed"
    );
    wait_until(WAIT, "the failed daemon to release its pid file", || {
        !c.pidfile.exists()
    });
    std::fs::remove_file(&c.socket).expect("rm");
    // A server that crashed leaves its socket file behind, with nobody listening on it.
    drop(UnixListener::bind(&c.socket).expect("bind"));
    let _d = c.start();
    assert_eq!(
        c.next(),
        "1",
        "a socket file nobody listens on should be replaced"
    );
}

#[test]
fn a_state_file_that_cannot_be_used_fails_the_start_and_is_kept() {
    let c = Counterd::new("counterd-bad-state");
    // Starting from 0 would hand out numbers already given: the daemon must refuse to start.
    std::fs::write(&c.state, "forty-two\n").expect("write");
    let ran = c.run("start");
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(ran.err.contains("bad state file"), "{}", ran.show());
    assert_eq!(
        std::fs::read_to_string(&c.state).unwrap_or_default(),
        "forty-two\n",
        "a state file the daemon cannot use must be left for the user to look at"
    );
    wait_until(WAIT, "the failed daemon to release its pid file", || {
        !c.pidfile.exists()
    });
    std::fs::remove_file(&c.state).expect("rm");
    std::fs::create_dir(&c.state).expect("a directory where the state file should be");
    let ran = c.run("start");
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert!(
        ran.err.contains("cannot read") && ran.err.contains(&c.state.display().to_string()),
        "{}",
        ran.show()
    );
}

#[test]
fn a_pid_file_locked_by_an_instance_still_starting_fails_in_the_daemon() {
    let c = Counterd::new("counterd-starting");
    // Another instance between its lock and its write: the file is locked and still empty, so
    // the launcher cannot name it; the daemon's own attempt to lock must fail, and the launcher
    // print why.
    let holder = File::create(&c.pidfile).expect("create");
    holder.try_lock().expect("lock");
    let ran = c.run("start");
    assert_eq!(ran.code(), Some(1), "{}", ran.show());
    assert_eq!(
        ran.err.trim(),
        "counterd: already running (pid unknown)",
        "{}",
        ran.show()
    );
    assert!(
        UnixStream::connect(&c.socket).is_err(),
        "the failed daemon must not serve"
    );
    drop(holder);
}

/// A live process that has nothing to do with counterd: `sleep`, guarded.
fn stranger() -> ChildGuard {
    ChildGuard::spawn(sh("exec sleep 60").stdin(Stdio::null()))
}

#[test]
fn stop_never_signals_the_pid_of_a_file_another_user_holds_locked() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "skipped: this test drops to the user `nobody` to lock the pid file as another \
             user would; run it as root to see it"
        );
        // Still exercise the binary, so that a stub fails here too.
        let c = Counterd::new("counterd-foreign-lock-skip");
        let st = c.run("status");
        assert_eq!(st.code(), Some(3), "{}", st.show());
        return;
    }
    let c = Counterd::new("counterd-foreign-lock");
    // A stale pid file (its daemon was SIGKILLed) naming a pid the kernel gave to an unrelated
    // process. The file is 0644 and its directory searchable, as under /run: another user can
    // open it and lock it.
    std::fs::set_permissions(c.dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let mut stranger = stranger();
    let pid = stranger.id();
    std::fs::write(&c.pidfile, format!("{pid}\n")).expect("write the stale pid file");
    std::fs::set_permissions(&c.pidfile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // flock(1) takes the lock and, with --no-fork, becomes its command, so the holder that
    // /proc/locks names stays alive while the lock is held (a holder that exited is not listed
    // inside a pid namespace, as under the runner's containment) and the guard ends it.
    let mut locker_cmd = Command::new("setpriv");
    locker_cmd
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(["flock", "--no-fork", "-x"])
        .arg(&c.pidfile)
        .args(["sh", "-c", "echo locked && exec sleep 60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut locker = ChildGuard::spawn(&mut locker_cmd);
    let out = locker.child().stdout.take().expect("piped stdout");
    let mut out = testkit::LineReader::new(out, "the locker");
    assert_eq!(
        out.next_line(WAIT).as_deref(),
        Some("locked"),
        "`nobody` could not lock the pid file (is setpriv or flock missing?)"
    );
    let stop = c.run("stop");
    assert!(
        stranger.child().try_wait().expect("try_wait").is_none(),
        "`counterd stop` killed pid {pid}: the pid file named it, but the lock was held by \
         another user's process, not by pid {pid}. Ask the kernel who holds the lock \
         (/proc/locks) and signal only a pid that holds it itself: {}",
        stop.show()
    );
    assert!(
        stop.code() != Some(0) && stop.err.contains("lock is held by pid"),
        "stop must fail and say that the pid in the file is not the lock holder: {}",
        stop.show()
    );
    let st = c.run("status");
    assert_ne!(
        st.code(),
        Some(0),
        "status must not call it running: {}",
        st.show()
    );
}

#[test]
fn stop_and_reload_never_signal_another_program_that_holds_the_pid_file() {
    let c = Counterd::new("counterd-other-program");
    // A wrong --pidfile: the pid file of another program, held by that program under its own
    // pid (the kernel vouches for it). It is still not a counterd.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_daemon-pidfile"));
    cmd.arg(&c.pidfile)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut other = ChildGuard::spawn(&mut cmd);
    let pid = other.id();
    let out = other.child().stdout.take().expect("piped stdout");
    let mut out = testkit::LineReader::new(out, "daemon-pidfile");
    assert_eq!(out.next_line(WAIT), Some(format!("acquired {pid}")));
    for command in ["reload", "stop"] {
        let ran = c.run(command);
        assert!(
            other.child().try_wait().expect("try_wait").is_none(),
            "`counterd {command}` signalled pid {pid}, which holds the pid file but runs \
             daemon-pidfile, not counterd: check what the process runs (/proc/PID/exe) \
             before signalling it: {}",
            ran.show()
        );
        assert!(
            ran.code() != Some(0) && ran.err.contains("not counterd"),
            "`counterd {command}` must fail and say the holder is not counterd (check what \
             the process runs, /proc/PID/exe, before signalling it): {}",
            ran.show()
        );
    }
    drop(other.child().stdin.take());
    let st = other.wait(WAIT);
    assert!(st.success(), "daemon-pidfile {}", describe_status(st));
}

/// Kills, when dropped, every process whose command line mentions its needle.
struct KillMentioning(String);

impl Drop for KillMentioning {
    fn drop(&mut self) {
        kill_mentioning(&self.0);
    }
}

#[test]
fn relative_paths_name_files_in_the_directory_counterd_was_started_from() {
    let c = Counterd::new("counterd-rel");
    // A name found nowhere else (the temp dir's random suffix), so that the same relative paths
    // taken from `/` (where the daemon works) name nothing that exists; short, so that the
    // socket's absolute path stays within the 108 bytes of sun_path.
    let base = c.dir.path().file_name().expect("a name").to_string_lossy();
    let suffix = base.rsplit('-').next().unwrap_or("x");
    let sub = format!("rel-{suffix}-{}", std::process::id());
    let _guard = KillMentioning(sub.clone());
    let here = c.dir.path().join(&sub);
    std::fs::create_dir(&here).expect("mkdir");
    std::fs::write(here.join("c.conf"), "step = 1\n").expect("write the config");
    let args: Vec<String> = ["pidfile", "socket", "log", "state", "config"]
        .iter()
        .zip(["c.pid", "c.sock", "c.log", "c.state", "c.conf"])
        .flat_map(|(flag, name)| [format!("--{flag}"), format!("{sub}/{name}")])
        .collect();
    let run = |command: &str| c.run_in(Some(c.dir.path()), command, &args, &[], &[], false);
    let ran = run("start");
    assert_eq!(
        ran.code(),
        Some(0),
        "`counterd start --pidfile {sub}/c.pid ...` run from {}: relative paths name files in \
         the caller's directory; the daemon works from `/`, so make them absolute before \
         detaching: {}",
        c.dir.path().display(),
        ran.show()
    );
    let d = DaemonGuard::new(pid_in(&here.join("c.pid")));
    assert_eq!(c.next_on(&here.join("c.sock")), "1");
    assert_eq!(
        std::fs::read_to_string(here.join("c.state"))
            .unwrap_or_default()
            .trim(),
        "1",
        "the state file must be {sub}/c.state in the caller's directory"
    );
    std::fs::write(here.join("c.conf"), "step = 5\n").expect("write the config");
    let r = run("reload");
    assert_eq!(r.code(), Some(0), "{}", r.show());
    c.wait_log(&here.join("c.log"), "reloaded: step=5");
    assert_eq!(c.next_on(&here.join("c.sock")), "6");
    let st = run("status");
    assert_eq!(st.code(), Some(0), "{}", st.show());
    let stop = run("stop");
    assert_eq!(stop.code(), Some(0), "{}", stop.show());
    assert!(d.wait_exit(WAIT), "the daemon still runs after `stop`");
    assert!(
        !Path::new("/").join(&sub).exists(),
        "/{sub} was created: a relative path was used after chdir(\"/\")"
    );
}

#[test]
fn a_counter_at_its_limit_refuses_a_number_and_keeps_serving() {
    let c = Counterd::new("counterd-limit");
    std::fs::write(&c.state, format!("{}\n", u64::MAX - 1)).expect("write the state");
    let d = c.start();
    assert_eq!(c.next(), u64::MAX.to_string());
    // The next number would pass u64::MAX: no number, but no death either.
    let refused = c.next();
    assert!(
        refused.parse::<u64>().is_err(),
        "past u64::MAX the counter must hand out no number (it would wrap and hand out numbers \
         twice); got {refused:?}"
    );
    wait_until(WAIT, "the daemon to log the refusal, or to die", || {
        c.log_text().contains("no number handed out") || d.exited()
    });
    assert!(
        !d.exited(),
        "the daemon died when the counter would pass u64::MAX (an overflowing `+` panics): a \
         client's request must never kill the daemon; use checked_add and refuse the \
         request. Log:\n{}",
        c.log_text()
    );
    // A restart at the limit, and a step as large as the counter's range.
    assert_eq!(c.run("stop").code(), Some(0));
    assert!(d.wait_exit(WAIT));
    std::fs::write(&c.state, "0\n").expect("write the state");
    std::fs::write(&c.config, format!("step = {}\n", u64::MAX)).expect("write the config");
    let d = c.start();
    assert_eq!(c.next(), u64::MAX.to_string());
    let refused = c.next();
    assert!(refused.parse::<u64>().is_err(), "got {refused:?}");
    let st = c.run("status");
    assert_eq!(
        st.code(),
        Some(0),
        "the daemon must still run after refusing a number: {}",
        st.show()
    );
    assert_eq!(
        std::fs::read_to_string(&c.state).unwrap_or_default().trim(),
        u64::MAX.to_string(),
        "a refused request must leave the state as it was"
    );
    drop(d);
}

/// `counterd ARGS` as assert_cmd runs it: no stdin, the default directory under `runtime`, and
/// the deadline every run gets.
fn counterd(runtime: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("counterd"))
        .args(args)
        .env("XDG_RUNTIME_DIR", runtime)
        .write_stdin("")
        .timeout(WAIT)
        .assert()
}

/// One line on stderr, `counterd: ` first, containing `fragment`.
fn one_error_line(fragment: &str) -> impl predicates::Predicate<str> {
    use predicates::prelude::*;
    predicate::str::starts_with("counterd: ")
        .and(predicate::str::contains(fragment.to_string()))
        .and(predicate::function(|err: &str| err.lines().count() == 1))
}

#[test]
fn the_command_line_contract_usage_exit_statuses_stdout_and_stderr() {
    use predicates::prelude::*;
    let c = Counterd::new("counterd-cli");
    let runtime = c.dir.path();
    let pidfile = c.pidfile.display().to_string();
    let usage = "usage: counterd start|stop|status|reload|run";
    // Usage errors: status 2, nothing on stdout, one line on stderr that shows the usage.
    for (args, fragment) in [
        (vec![], usage),
        (vec!["frobnicate"], "unknown command \"frobnicate\""),
        (vec!["status", "--verbose"], "unknown option \"--verbose\""),
        (vec!["stop", "--state"], "\"--state\" needs a value"),
    ] {
        counterd(runtime, &args)
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(one_error_line(fragment).and(predicate::str::contains(usage)));
    }
    // An answer is for stdout; a failure for stderr, with its own status.
    counterd(runtime, &["status", "--pidfile", &pidfile])
        .code(3)
        .stdout("counterd is stopped\n")
        .stderr(predicate::str::is_empty());
    for command in ["stop", "reload"] {
        counterd(runtime, &[command, "--pidfile", &pidfile])
            .code(7)
            .stdout(predicate::str::is_empty())
            .stderr(one_error_line("not running"));
    }
    let mut stranger = stranger();
    let pid = stranger.id();
    std::fs::write(&c.pidfile, format!("{pid}\n")).expect("write a stale pid file");
    counterd(runtime, &["status", "--pidfile", &pidfile])
        .code(1)
        .stdout(format!(
            "counterd is dead but its pid file {pidfile} remains (pid {pid})\n"
        ))
        .stderr(predicate::str::is_empty());
    counterd(runtime, &["stop", "--pidfile", &pidfile])
        .code(7)
        .stdout(predicate::str::is_empty())
        .stderr(one_error_line("stale pid file"));
    assert!(
        stranger.child().try_wait().expect("try_wait").is_none(),
        "pid {pid} of a stale pid file was signalled"
    );
    std::fs::remove_file(&c.pidfile).expect("rm");
    std::fs::write(&c.config, "step = many\n").expect("write a bad config");
    let config = c.config.display().to_string();
    counterd(
        runtime,
        &["start", "--pidfile", &pidfile, "--config", &config],
    )
    .code(6)
    .stdout(predicate::str::is_empty())
    .stderr(one_error_line("line 1"));
    assert!(!c.pidfile.exists(), "a refused start starts nothing");
}
