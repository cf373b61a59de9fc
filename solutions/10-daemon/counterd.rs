//! Practice `daemon/counterd`: a counter service and its control CLI, classic and new-style.
//!
//! Scenario: `counterd` is a small service worth daemonizing: a Unix-socket server that answers
//! each connection with the next number of a counter it keeps in a state file, so the count
//! survives restarts. It runs either the classic way (`counterd start` detaches, and returns once
//! the daemon serves) or the new way (`counterd run` stays in the foreground for a service
//! manager, takes a passed socket and reports readiness). The same binary controls it.
//!
//! ```text
//! counterd start|stop|status|reload|run [--pidfile P] [--socket S] [--log L] [--state F]
//!                                       [--config C]
//! ```
//! Defaults live in `$XDG_RUNTIME_DIR/counterd/`, or in `$TMPDIR/counterd-UID/` (`/tmp` without
//! `TMPDIR`), created 0700 and refused unless it is a directory (not a symlink) owned by us with
//! no permission for group or others. Relative paths name files in the directory counterd was
//! started from, although the daemon works from `/`. `--log` takes a file path, `syslog` (for
//! `/dev/log`) or `syslog:PATH`; without it, `start` logs to `counterd.log` beside the pid file and
//! `run` to stderr (the service manager collects it). The config file has `step = N` lines (the
//! counter's increment, 1 <= N <= u64::MAX, 1 by default; blank lines and `#` comments are
//! ignored, an error names its line); `reload` re-reads it and reopens the log file. A state file
//! that cannot be read or parsed makes start-up fail and is left as it is: counting again from 0
//! would hand out numbers twice. The counter never wraps: a client whose number would pass
//! u64::MAX gets none (the connection closes, the log says why) and the daemon goes on. A socket
//! file nobody listens on (left by a crash) is replaced; a live one, or a file that is not a
//! socket, is left alone and start-up fails.
//!
//! `stop` and `reload` signal only a proven counterd: the process that holds the pid file's lock
//! under the pid written in it (the kernel says who holds a lock), running this same program.
//! Anyone who can open the pid file can lock it, and a wrong `--pidfile` can name another
//! program's file: then nothing is signalled and the command fails, saying why.
//!
//! Exit statuses, after the LSB init-script conventions: 0 success; `status` 0 running, 1 dead
//! with a pid file, 3 stopped; 1 start-up failed (the daemon's own error is printed), or the pid
//! file's holder is not a proven counterd (`stop`, `reload`); 2 usage; 4 permission denied; 5 a
//! directory is missing; 6 bad or unreadable config; 7 not running (`stop`, `reload`); 150
//! already running (LSB leaves 150-199 to applications).
//!
//! Read: docs/src/10-daemon.md#counterd. Check: `cargo xtask check daemon/counterd`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::stat::Mode;
use rustix::event::{PollFd, PollFlags, poll};

use crate::control::{self, ControlError, Stopped};
use crate::detach::detach;
use crate::logs::{FileLog, Severity, Syslog};
use crate::notify::{listen_fds, notify};
use crate::pidfile::{PidFile, PidFileError, Status, status};

/// How long `stop` waits after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// The umask of the classic daemon: group may read, others nothing.
const UMASK: u32 = 0o027;

/// A user-facing failure: one line, one exit status.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

const USAGE: &str = "usage: counterd start|stop|status|reload|run [--pidfile P] [--socket S] \
                     [--log L] [--state F] [--config C]";

/// Where everything lives.
#[derive(Debug, Clone)]
struct Paths {
    pidfile: PathBuf,
    socket: PathBuf,
    log: Option<String>,
    state: PathBuf,
    config: Option<PathBuf>,
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("counterd: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(args: &[OsString]) -> Result<u8, Failure> {
    let Some(command) = args.first().and_then(|c| c.to_str()) else {
        return Err(fail(2, USAGE));
    };
    let command = command.to_string();
    if !matches!(
        command.as_str(),
        "start" | "stop" | "status" | "reload" | "run"
    ) {
        return Err(fail(2, format!("unknown command {command:?}; {USAGE}")));
    }
    let paths = parse_options(&args[1..])?;
    match command.as_str() {
        "start" => start(&paths),
        "stop" => match prove_counterd(&paths.pidfile)
            .and_then(|()| control::stop(&paths.pidfile, GRACE).map_err(control_failure))
        {
            Ok(Stopped::Terminated(pid)) => {
                println!("counterd stopped (pid {pid})");
                Ok(0)
            }
            Ok(Stopped::Killed(pid)) => {
                println!("counterd killed (pid {pid}) after {GRACE:?} without exiting");
                Ok(0)
            }
            Err(f) => Err(f),
        },
        "reload" => match prove_counterd(&paths.pidfile)
            .and_then(|()| control::reload(&paths.pidfile).map_err(control_failure))
        {
            Ok(pid) => {
                println!("counterd reloading (pid {pid})");
                Ok(0)
            }
            Err(f) => Err(f),
        },
        "status" => {
            let (code, line) = control::lsb_status("counterd", &paths.pidfile);
            println!("{line}");
            Ok(code)
        }
        _ => foreground(&paths),
    }
}

/// Refuses to signal the holder of the pid file unless it runs this very program.
///
/// `status` already proved that the pid in the file is the one that took the lock (the kernel
/// says so); but a wrong `--pidfile` can name another program's pid file, held by that program.
/// The program a process runs is the target of `/proc/PID/exe` (readable for our own processes,
/// or by root): it must be our own, `/proc/self/exe`. The daemon could exit and its pid be
/// reused between this check and the signal only if the newcomer also took the lock under that
/// pid, which `control` checks again after it has opened a pidfd.
fn prove_counterd(pidfile: &Path) -> Result<(), Failure> {
    // Any other answer is reported by `control`, which signals nobody then.
    let Ok(Status::Running(pid)) = status(pidfile) else {
        return Ok(());
    };
    let ours = program_of("self").map_err(|e| fail(1, format!("/proc/self/exe: {e}")))?;
    match program_of(&pid.to_string()) {
        Ok(theirs) if theirs == ours => Ok(()),
        Ok(theirs) => Err(fail(
            1,
            format!(
                "pid {pid} holds {} but is not counterd (it runs {}); nothing was signalled",
                pidfile.display(),
                theirs.display()
            ),
        )),
        Err(e) => Err(fail(
            1,
            format!(
                "pid {pid} holds {} but is not counterd as far as we can tell (/proc/{pid}/exe: \
                 {e}); nothing was signalled",
                pidfile.display()
            ),
        )),
    }
}

/// The program process `pid` (or `self`) runs, from `/proc/PID/exe`; a binary replaced on disk
/// since it started reads `PATH (deleted)`, and is still the same program for us.
fn program_of(pid: &str) -> io::Result<PathBuf> {
    let path = std::fs::read_link(format!("/proc/{pid}/exe"))?;
    let text = path.to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(alive) => PathBuf::from(alive),
        None => path,
    })
}

fn control_failure(e: ControlError) -> Failure {
    match e {
        ControlError::NotRunning | ControlError::Stale(_) => fail(7, e.to_string()),
        ControlError::Io(io) => io_failure("the pid file", &io),
        ControlError::StillRunning(_) => fail(1, e.to_string()),
    }
}

/// Maps an OS error about `what` to its exit status.
fn io_failure(what: &str, e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::PermissionDenied => fail(4, format!("{what}: permission denied ({e})")),
        io::ErrorKind::NotFound => fail(5, format!("{what}: directory missing ({e})")),
        _ => fail(1, format!("{what}: {e}")),
    }
}

fn parse_options(args: &[OsString]) -> Result<Paths, Failure> {
    let mut pidfile = None;
    let mut socket = None;
    let mut log = None;
    let mut state = None;
    let mut config = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let slot = match flag.to_str() {
            Some("--pidfile") => &mut pidfile,
            Some("--socket") => &mut socket,
            Some("--log") => &mut log,
            Some("--state") => &mut state,
            Some("--config") => &mut config,
            _ => return Err(fail(2, format!("unknown option {flag:?}; {USAGE}"))),
        };
        let Some(value) = it.next() else {
            return Err(fail(2, format!("{flag:?} needs a value; {USAGE}")));
        };
        *slot = Some(PathBuf::from(value));
    }
    // Absolute now: the daemon works from `/` (detach changes directory), where a relative path
    // would name another file than the one checked here.
    let [pidfile, socket, state, config] =
        [pidfile, socket, state, config].map(|p| p.map(|p| absolute(&p)).transpose());
    let (pidfile, socket, state, config) = (pidfile?, socket?, state?, config?);
    let log = match log {
        Some(l) if l.as_os_str() == "syslog" => Some(l),
        Some(l) => match l.to_str().and_then(|l| l.strip_prefix("syslog:")) {
            Some(p) => Some(format!("syslog:{}", absolute(Path::new(p))?.display()).into()),
            None => Some(absolute(&l)?),
        },
        None => None,
    };
    let needs_dir = pidfile.is_none() || socket.is_none() || state.is_none();
    let dir = if needs_dir {
        Some(default_dir()?)
    } else {
        None
    };
    let in_dir = |name: &str| dir.as_ref().map(|d| d.join(name)).unwrap_or_default();
    Ok(Paths {
        pidfile: pidfile.unwrap_or_else(|| in_dir("counterd.pid")),
        socket: socket.unwrap_or_else(|| in_dir("counterd.sock")),
        log: log.map(|l| l.to_string_lossy().into_owned()),
        state: state.unwrap_or_else(|| in_dir("counterd.state")),
        config,
    })
}

/// `path` made absolute against the current directory (no symlink is resolved).
fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(|e| fail(1, format!("{}: {e}", path.display())))
}

/// `$XDG_RUNTIME_DIR/counterd`, or `$TMPDIR/counterd-UID` (`/tmp` without `TMPDIR`): created
/// 0700, and refused unless it is a directory (not a symlink) owned by us with no permission for
/// group or others: anyone else who could write there could plant a socket or a pid file, and
/// anyone who could read could watch.
fn default_dir() -> Result<PathBuf, Failure> {
    let uid = rustix::process::getuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("counterd"),
        None => std::env::temp_dir().join(format!("counterd-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_failure(&format!("{}", dir.display()), &e)),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| io_failure("the default dir", &e))?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(fail(
            4,
            format!(
                "{} must be a directory of ours with mode 0700; choose paths with --pidfile, \
                 --socket and --state",
                dir.display()
            ),
        ));
    }
    Ok(dir)
}

/// The config: `step = N` (and comments). Returns the step.
fn read_config(path: Option<&Path>) -> Result<u64, String> {
    let Some(path) = path else { return Ok(1) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut step = 1;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("{} line {}: expected `step = N`", path.display(), n + 1);
        let (key, value) = line.split_once('=').ok_or_else(bad)?;
        if key.trim() != "step" {
            return Err(bad());
        }
        step = value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(bad)?;
    }
    Ok(step)
}

/// The counter's last value from the state file (0 when there is none yet).
fn read_state(path: &Path) -> Result<u64, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("bad state file {}: {:?}", path.display(), text.trim())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the state so that a crash leaves either the old or the new value, never half of one.
fn write_state(path: &Path, value: u64) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    writeln!(f, "{value}")?;
    f.sync_data()?;
    std::fs::rename(&tmp, path)
}

/// Checks, before forking, what a user gets wrong most: a running instance, a bad config, a
/// pid-file directory that is missing or not writable.
fn preflight(paths: &Paths) -> Result<(), Failure> {
    read_config(paths.config.as_deref()).map_err(|m| fail(6, format!("bad config: {m}")))?;
    if let Ok(Status::Running(pid)) = status(&paths.pidfile) {
        return Err(fail(150, format!("already running (pid {pid})")));
    }
    let existed = paths.pidfile.exists();
    // Open (never truncate) to learn whether we may create it; the daemon writes it later.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&paths.pidfile)
        .map_err(|e| io_failure(&format!("pid file {}", paths.pidfile.display()), &e))?;
    if !existed {
        let _ = std::fs::remove_file(&paths.pidfile);
    }
    Ok(())
}

/// `counterd start`: the classic double-fork daemon.
fn start(paths: &Paths) -> Result<u8, Failure> {
    preflight(paths)?;
    let ready = detach(Mode::from_bits_truncate(UMASK))
        .map_err(|e| fail(1, format!("cannot detach: {e}")))?;
    // From here on we are the daemon; a failure goes to the launcher through `ready`.
    let service = match Service::open(paths, false) {
        Ok(s) => s,
        Err(m) => ready.fail(&format!("counterd: {m}")),
    };
    if let Err(e) = ready.ready() {
        // The launcher is gone; there is nobody to tell, but the log.
        let mut s = service;
        s.log(Severity::Err, &format!("cannot report readiness: {e}"));
        return Ok(1);
    }
    service.serve()
}

/// `counterd run`: the new-style daemon, in the foreground.
fn foreground(paths: &Paths) -> Result<u8, Failure> {
    read_config(paths.config.as_deref()).map_err(|m| fail(6, format!("bad config: {m}")))?;
    if let Ok(Status::Running(pid)) = status(&paths.pidfile) {
        return Err(fail(150, format!("already running (pid {pid})")));
    }
    let service = Service::open(paths, true).map_err(|m| fail(1, m))?;
    let state = format!("READY=1\nSTATUS=serving, counter at {}", service.value);
    notify(&state).map_err(|e| fail(1, format!("cannot notify: {e}")))?;
    service.serve()
}

enum Log {
    File(FileLog),
    Syslog(Syslog),
    Stderr,
}

/// A running counter service.
struct Service {
    paths: Paths,
    _pidfile: PidFile,
    listener: UnixListener,
    /// Whether we created the socket file (and so remove it); a passed socket is the manager's.
    own_socket: bool,
    log: Log,
    step: u64,
    value: u64,
    wake: OwnedFd,
    stop: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Service {
    fn open(paths: &Paths, foreground: bool) -> Result<Service, String> {
        // After the final fork, so the pid written is the daemon's.
        let pidfile = PidFile::acquire(&paths.pidfile).map_err(|e| match e {
            PidFileError::AlreadyRunning(_) => e.to_string(),
            PidFileError::Io(io) => format!("pid file {}: {io}", paths.pidfile.display()),
        })?;
        let step = read_config(paths.config.as_deref()).map_err(|m| format!("bad config: {m}"))?;
        let value = read_state(&paths.state)?;
        let log = match paths.log.as_deref() {
            Some("syslog") => Log::Syslog(
                Syslog::connect(Path::new("/dev/log"), "counterd")
                    .map_err(|e| format!("cannot connect to /dev/log: {e}"))?,
            ),
            Some(l) if l.starts_with("syslog:") => {
                let p = Path::new(&l["syslog:".len()..]);
                Log::Syslog(
                    Syslog::connect(p, "counterd")
                        .map_err(|e| format!("cannot connect to {}: {e}", p.display()))?,
                )
            }
            Some(l) => Log::File(
                FileLog::open(Path::new(l)).map_err(|e| format!("cannot open log {l}: {e}"))?,
            ),
            None if foreground => Log::Stderr,
            None => {
                let p = paths.pidfile.with_file_name("counterd.log");
                Log::File(
                    FileLog::open(&p)
                        .map_err(|e| format!("cannot open log {}: {e}", p.display()))?,
                )
            }
        };
        let passed = if foreground {
            listen_fds().map_err(|e| format!("bad LISTEN_FDS: {e}"))?
        } else {
            Vec::new()
        };
        let (listener, own_socket) = match passed.into_iter().next() {
            Some(fd) => (UnixListener::from(fd), false),
            None => (bind(&paths.socket)?, true),
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("nonblocking: {e}"))?;
        let (wake, pipe_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        for (sig, flag) in [
            (signal_hook::consts::SIGTERM, &stop),
            (signal_hook::consts::SIGINT, &stop),
            (signal_hook::consts::SIGHUP, &hup),
        ] {
            signal_hook::flag::register(sig, Arc::clone(flag))
                .map_err(|e| format!("signal {sig}: {e}"))?;
            let w = pipe_w.try_clone().map_err(|e| format!("dup: {e}"))?;
            signal_hook::low_level::pipe::register(sig, w)
                .map_err(|e| format!("signal {sig}: {e}"))?;
        }
        drop(pipe_w);
        let mut service = Service {
            paths: paths.clone(),
            _pidfile: pidfile,
            listener,
            own_socket,
            log,
            step,
            value,
            wake: wake.into(),
            stop,
            hup,
        };
        service.log(
            Severity::Info,
            &format!(
                "started (pid {}), step={}, counter at {}",
                std::process::id(),
                step,
                value
            ),
        );
        Ok(service)
    }

    fn log(&mut self, severity: Severity, message: &str) {
        // A daemon cannot report a failure to log anywhere: it is dropped.
        let _ = match &mut self.log {
            Log::File(f) => f.line(message),
            Log::Syslog(s) => s.send(severity, message),
            Log::Stderr => writeln!(io::stderr(), "{message}"),
        };
    }

    fn serve(mut self) -> Result<u8, Failure> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if self.hup.swap(false, Ordering::SeqCst) {
                self.reload();
            }
            let mut fds = [
                PollFd::new(&self.listener, PollFlags::IN),
                PollFd::new(&self.wake, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    self.log(Severity::Err, &format!("poll: {e}"));
                    return Ok(1);
                }
            }
            let woke = !fds[1].revents().is_empty();
            if woke {
                drain(&self.wake);
            }
            self.accept_all();
        }
        let _ = notify("STOPPING=1");
        self.log(Severity::Info, "stopping");
        if self.own_socket {
            let _ = std::fs::remove_file(&self.paths.socket);
        }
        // Dropping `self` removes the pid file and releases its lock.
        Ok(0)
    }

    fn reload(&mut self) {
        if let Log::File(f) = &mut self.log
            && let Err(e) = f.reopen()
        {
            let msg = format!("cannot reopen the log: {e}");
            self.log(Severity::Err, &msg);
        }
        match read_config(self.paths.config.as_deref()) {
            Ok(step) => {
                self.step = step;
                self.log(Severity::Info, &format!("reloaded: step={step}"));
            }
            Err(m) => {
                let msg = format!("reload failed: {m}; keeping step={}", self.step);
                self.log(Severity::Warning, &msg);
            }
        }
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => self.answer(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log(Severity::Err, &format!("accept: {e}"));
                    return;
                }
            }
        }
    }

    fn answer(&mut self, mut stream: UnixStream) {
        // The counter never wraps (it would hand out numbers twice) and never panics on a
        // client's request: past u64::MAX the client gets no number, the log says why, and the
        // daemon goes on serving (a smaller step, after a reload, may still fit).
        let Some(next) = self.value.checked_add(self.step) else {
            let msg = format!(
                "the counter is at {} and step {} would pass {}: no number handed out",
                self.value,
                self.step,
                u64::MAX
            );
            self.log(Severity::Err, &msg);
            return;
        };
        if let Err(e) = write_state(&self.paths.state, next) {
            let msg = format!("cannot save the state: {e}");
            self.log(Severity::Err, &msg);
            return;
        }
        self.value = next;
        let _ = stream.set_nonblocking(false);
        let _ = writeln!(stream, "{next}");
    }
}

/// Binds `path`, replacing a stale socket file (one nobody listens on) but never a live one.
fn bind(path: &Path) -> Result<UnixListener, String> {
    match UnixListener::bind(path) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "cannot listen on {}: another server is listening there",
                    path.display()
                ));
            }
            let is_socket = std::fs::symlink_metadata(path)
                .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
                .unwrap_or(false);
            if !is_socket {
                return Err(format!(
                    "cannot listen on {}: a file that is not a socket is in the way",
                    path.display()
                ));
            }
            let _ = std::fs::remove_file(path);
            UnixListener::bind(path)
                .map_err(|e| format!("cannot listen on {}: {e}", path.display()))
        }
        Err(e) => Err(format!("cannot listen on {}: {e}", path.display())),
    }
}

/// Empties the self-pipe (the signal handlers write one byte per signal).
fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 64];
    // One read is enough: poll is level-triggered and says so again if bytes remain.
    let _ = rustix::io::read(fd, &mut buf);
}
