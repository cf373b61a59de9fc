//! Tests for `daemon/notify`: the test plays the service manager. It binds the notify socket
//! (a datagram socket of its own, by path or by abstract name), creates the listening socket,
//! and starts the `daemon-activated` driver with that socket at fd 3 and `LISTEN_FDS`,
//! `LISTEN_PID` and `NOTIFY_SOCKET` set, as systemd does. No systemd is needed.
//!
//! `LISTEN_PID` must be the daemon's own pid, known only after the fork: the driver is started
//! through `sh -c 'LISTEN_PID=$$ exec DRIVER'` (exec keeps the shell's pid), see
//! `testkit::daemon::socket_activated`.

use std::io::BufRead;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::daemon::socket_activated;
use testkit::{ChildGuard, DEFAULT_DEADLINE, describe_status, temp_dir, unique_name};

const WAIT: Duration = DEFAULT_DEADLINE;

struct Manager {
    notify: UnixDatagram,
    notify_name: String,
    listener: UnixListener,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Manager {
    fn new(tag: &str, abstract_name: bool) -> Manager {
        let dir = temp_dir(tag);
        let (notify, notify_name) = if abstract_name {
            let name = unique_name(tag);
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract addr");
            (
                UnixDatagram::bind_addr(&addr).expect("bind the abstract notify socket"),
                format!("@{name}"),
            )
        } else {
            let path = dir.path().join("notify.sock");
            (
                UnixDatagram::bind(&path).expect("bind the notify socket"),
                path.display().to_string(),
            )
        };
        notify.set_read_timeout(Some(WAIT)).expect("timeout");
        let socket = dir.path().join("svc.sock");
        let listener = UnixListener::bind(&socket).expect("bind the service socket");
        Manager {
            notify,
            notify_name,
            listener,
            socket,
            _dir: dir,
        }
    }

    /// Starts the driver with the listener at fd 3; `listen_pid` None means "the daemon's pid".
    fn start(&self, listen_pid: Option<u32>) -> ChildGuard {
        self.start_counting(listen_pid, 1, &[])
    }

    /// As [`Manager::start`], with `LISTEN_FDS` set to `count` (only fd 3 is ever passed).
    fn start_counting(&self, listen_pid: Option<u32>, count: u32, args: &[&str]) -> ChildGuard {
        let fd = self.listener.as_raw_fd();
        let program = Path::new(env!("CARGO_BIN_EXE_daemon-activated"));
        let mut cmd = match listen_pid {
            None => socket_activated(program, fd),
            Some(pid) => {
                // Started directly, with LISTEN_PID naming someone else.
                let mut c = socket_activated(Path::new("/usr/bin/env"), fd);
                c.arg(format!("LISTEN_PID={pid}")).arg(program);
                c
            }
        };
        cmd.args(args)
            .env("LISTEN_FDS", count.to_string())
            .env("NOTIFY_SOCKET", &self.notify_name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        ChildGuard::spawn(&mut cmd)
    }

    fn message(&self) -> String {
        let mut buf = [0u8; 1024];
        let n =
            testkit::daemon::recv(&self.notify, &mut buf).expect("a datagram on the notify socket");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn hello(m: &Manager) -> String {
    let s = UnixStream::connect(&m.socket).expect("connect to the passed socket");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut line = String::new();
    std::io::BufReader::new(s)
        .read_line(&mut line)
        .expect("read the answer");
    line
}

#[test]
fn readiness_is_reported_and_the_passed_socket_serves() {
    let m = Manager::new("notify-ready", false);
    let _d = m.start(None);
    let msg = m.message();
    let lines: Vec<&str> = msg.lines().collect();
    assert!(
        lines.contains(&"READY=1") && lines.contains(&"STATUS=serving hello"),
        "the notify datagram should carry READY=1 and STATUS=serving hello, one per line; got \
         {msg:?}"
    );
    assert_eq!(hello(&m), "hello\n");
}

#[test]
fn an_abstract_notify_socket_is_reached_too() {
    let m = Manager::new("notify-abstract", true);
    let _d = m.start(None);
    let msg = m.message();
    assert!(
        msg.lines().any(|l| l == "READY=1"),
        "NOTIFY_SOCKET={} names an abstract socket (a leading @ stands for the NUL byte); got \
         {msg:?}",
        m.notify_name
    );
}

#[test]
fn sigterm_is_announced_with_stopping() {
    let m = Manager::new("notify-stop", false);
    let mut d = m.start(None);
    assert!(m.message().contains("READY=1"));
    kill(Pid::from_raw(d.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    assert_eq!(m.message(), "STOPPING=1");
    let st = d.wait(WAIT);
    assert!(st.success(), "the daemon {}", describe_status(st));
}

#[test]
fn the_passed_socket_is_close_on_exec_in_the_daemon() {
    let m = Manager::new("notify-cloexec", false);
    let d = m.start(None);
    assert!(m.message().contains("READY=1"));
    let info = std::fs::read_to_string(format!("/proc/{}/fdinfo/3", d.id())).expect("fdinfo 3");
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .expect("flags of fd 3");
    assert!(
        flags & 0o2000000 != 0,
        "fd 3 came without close-on-exec (flags {flags:o}); set it, or every program the \
         daemon runs inherits its listening socket"
    );
}

#[test]
fn sockets_passed_to_another_process_are_not_taken() {
    let m = Manager::new("notify-otherpid", false);
    // LISTEN_PID names this test process: the variables were meant for someone else (as they
    // are for every child of a daemon that forgot to unset them).
    let mut d = m.start(Some(std::process::id()));
    let st = d.wait(WAIT);
    let mut err = String::new();
    if let Some(mut e) = d.child().stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert_eq!(
        st.code(),
        Some(2),
        "with LISTEN_PID naming another process, listen_fds must return no socket; the driver \
         then exits 2; it {}, stderr {err:?}",
        describe_status(st)
    );
    assert!(err.contains("got 0"), "{err}");
}

#[test]
fn an_fd_counted_but_not_passed_is_an_error() {
    let m = Manager::new("notify-count", false);
    // LISTEN_FDS=2, but only fd 3 was passed: fd 4 is not open in the daemon. Taking it would
    // make an OwnedFd of a number that the next open(2) reuses for something else.
    let mut d = m.start_counting(None, 2, &[]);
    let st = d.wait(WAIT);
    let mut err = String::new();
    if let Some(mut e) = d.child().stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(
        st.code() == Some(2) && !err.contains("got"),
        "listen_fds must fail when an fd it should take is not open (fcntl says EBADF); the \
         driver {}, stderr {err:?}",
        describe_status(st)
    );
}

#[test]
fn without_notify_socket_nothing_is_sent() {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        // Running under a service manager: this process has a real notify socket.
        return;
    }
    assert!(!daemon::notify::notify("READY=1").expect("notify without a socket"));
    assert!(
        daemon::notify::listen_fds()
            .expect("listen_fds without variables")
            .is_empty()
    );
}

#[test]
fn a_second_call_takes_no_fd_the_first_one_took() {
    let m = Manager::new("notify-twice", false);
    let mut d = m.start_counting(None, 1, &["--twice"]);
    let err = d.child().stderr.take().expect("piped stderr");
    let mut err = testkit::LineReader::new(err, "daemon-activated");
    let said = err.next_line(WAIT);
    assert_eq!(
        said.as_deref(),
        Some("second call: 0 socket(s)"),
        "a second listen_fds() in the same process must return no socket: the first call's \
         OwnedFds own fds 3..; wrapping them again makes two owners that both close the fd (the \
         second close hits whatever got the number since). Take them once, as \
         sd_listen_fds(3) does when it unsets the variables"
    );
    assert!(m.message().contains("READY=1"));
    assert_eq!(hello(&m), "hello\n", "the first call's socket still serves");
}
