//! Tests for `supervisor::readiness`: the notify socket carries the sender's credentials, only
//! the service's own processes make it ready, a service dying while starting ends the wait at
//! once, the deadline is kept without spinning, and the connect probe retries until something
//! listens or the deadline passes.
//!
//! The services are `supervisor-notify`, a helper of this crate that sends a given message each
//! time the test writes a line to its stdin: the test decides when each message goes out.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, killpg};
use nix::sys::socket::{getsockopt, sockopt};
use nix::unistd::Pid;
use supervisor::readiness::{NotifySocket, Started, probe_connect};
use testkit::daemon::pidfd_open;
use testkit::{DEFAULT_DEADLINE as DEADLINE, LineReader, wait_until};

/// A `supervisor-notify` service in a process group of its own; its group is killed and the
/// service reaped when the guard drops.
struct Service {
    child: Child,
    stdin: Option<ChildStdin>,
    out: LineReader,
    pidfd: OwnedFd,
}

impl Service {
    fn start(notify: &Path, args: &[&str]) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_supervisor-notify"))
            .args(args)
            .env("NOTIFY_SOCKET", notify)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn supervisor-notify");
        let pidfd = pidfd_open(child.id()).expect("pidfd of the service");
        let out = LineReader::new(child.stdout.take().expect("stdout"), "supervisor-notify");
        Service {
            stdin: child.stdin.take(),
            child,
            out,
            pidfd,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Makes the service send its next message, and waits until it has.
    fn send_next(&mut self) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(b"go\n").expect("write to the service");
        stdin.flush().expect("flush");
        self.out.expect("sent ", DEADLINE)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Sends `message` to `path` from this test process: a sender outside every service's group.
fn send_as_stranger(path: &Path, message: &str) {
    let s = UnixDatagram::unbound().expect("socket");
    s.send_to(message.as_bytes(), path)
        .expect("send to the notify socket");
}

fn thread_cpu_micros() -> i64 {
    let u = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let t = u.user_time() + u.system_time();
    t.tv_sec() * 1_000_000 + t.tv_usec()
}

#[test]
fn bind_makes_a_credential_passing_socket_and_drop_removes_it() {
    let dir = testkit::temp_dir("notify-bind");
    // A leftover of a supervisor that was killed must not prevent the bind.
    std::fs::write(dir.path().join("web.notify"), b"stale").expect("write a stale file");
    let sock = NotifySocket::bind(dir.path(), "web").expect("bind");
    let path = dir.path().join("web.notify");
    assert_eq!(sock.path(), path, "the socket is DIR/NAME.notify");
    let meta = std::fs::metadata(&path).expect("the socket file exists");
    assert!(
        meta.file_type().is_socket(),
        "{} is a socket",
        path.display()
    );
    assert!(
        getsockopt(&sock.as_fd(), sockopt::PassCred).expect("getsockopt"),
        "SO_PASSCRED must be on: without it datagrams arrive without the sender's credentials"
    );
    assert_eq!(
        getsockopt(&sock.as_fd(), sockopt::SockType).expect("getsockopt"),
        nix::sys::socket::SockType::Datagram,
        "sd_notify messages are datagrams"
    );
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let r = sock.recv().map_err(|e| e.to_string());
        (r, sock)
    });
    let Some((got, sock)) = got else {
        panic!("recv() on an empty socket blocked: it must return what is there, without waiting");
    };
    assert_eq!(got, Ok(vec![]), "nothing was sent yet");
    drop(sock);
    assert!(
        !path.exists(),
        "dropping the NotifySocket should remove {}",
        path.display()
    );
}

#[test]
fn each_datagram_comes_with_the_sender_the_kernel_vouches_for() {
    let dir = testkit::temp_dir("notify-recv");
    let sock = NotifySocket::bind(dir.path(), "db").expect("bind");
    send_as_stranger(sock.path(), "STATUS=warming up");
    send_as_stranger(sock.path(), "STATUS=replaying\nREADY=1\nnonsense\n");
    let notices = sock.recv().expect("recv");
    assert_eq!(notices.len(), 2, "two datagrams, two notices: {notices:?}");
    let me = Pid::this();
    for n in &notices {
        assert_eq!(
            n.pid, me,
            "the sender's pid comes from SCM_CREDENTIALS: {n:?}"
        );
        assert_eq!(n.uid, nix::unistd::getuid().as_raw(), "and its uid: {n:?}");
    }
    assert_eq!(notices[0].get("STATUS"), Some("warming up"));
    assert!(!notices[0].is_ready());
    assert_eq!(
        notices[1].fields,
        vec![
            ("STATUS".to_string(), "replaying".to_string()),
            ("READY".to_string(), "1".to_string())
        ],
        "one KEY=VALUE per line; a line without `=` is dropped"
    );
    assert!(notices[1].is_ready());
    assert!(
        notices[1].from_group(nix::unistd::getpgrp()),
        "the sender (this test) is in this test's process group"
    );
    assert!(
        !notices[1].from_group(Pid::from_raw(1)),
        "and not in group 1"
    );
    assert_eq!(sock.recv().expect("recv"), vec![], "both were consumed");
}

#[test]
fn only_the_service_itself_makes_it_ready() {
    let dir = testkit::temp_dir("notify-ready");
    let sock = NotifySocket::bind(dir.path(), "db").expect("bind");
    let mut svc = Service::start(sock.path(), &["STATUS=loading", "READY=1\\nSTATUS=serving"]);
    // A stranger (this test, outside the service's group) claims first that the service is
    // ready: it must not count.
    send_as_stranger(sock.path(), "READY=1\nSTATUS=fake");
    svc.send_next();
    svc.send_next();
    let got = sock
        .wait_ready(svc.pid(), svc.pidfd.as_fd(), Instant::now() + DEADLINE)
        .expect("wait_ready");
    assert_eq!(
        got,
        Started::Ready {
            by: svc.pid(),
            status: Some("serving".into())
        },
        "READY=1 counts only from a process of the service's group (this test's own READY=1 \
         came first and must be ignored), with the last STATUS= the service sent"
    );
}

#[test]
fn a_helper_in_the_services_group_may_say_it_is_ready() {
    testkit::isolated!();
    testkit::daemon::become_subreaper();
    let dir = testkit::temp_dir("notify-helper");
    let sock = NotifySocket::bind(dir.path(), "db").expect("bind");
    let mut svc = Service::start(sock.path(), &["--child", "READY=1"]);
    svc.send_next();
    let got = sock
        .wait_ready(svc.pid(), svc.pidfd.as_fd(), Instant::now() + DEADLINE)
        .expect("wait_ready");
    let Started::Ready { by, .. } = got else {
        panic!("a child of the service, in its group, sent READY=1; got {got:?}");
    };
    assert_ne!(by, svc.pid(), "the helper, not the main process, sent it");
    drop(svc);
    testkit::kill_and_reap_children();
}

#[test]
fn a_service_that_dies_while_starting_ends_the_wait_at_once() {
    let dir = testkit::temp_dir("notify-dies");
    let sock = NotifySocket::bind(dir.path(), "db").expect("bind");
    let mut svc = Service::start(sock.path(), &["READY=1"]);
    // EOF before the first message: the service exits 0 without ever being ready.
    drop(svc.stdin.take());
    let pidfd = svc.pidfd.try_clone().expect("dup the pidfd");
    let pid = svc.pid();
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let r = sock
            .wait_ready(
                pid,
                pidfd.as_fd(),
                Instant::now() + Duration::from_secs(3600),
            )
            .map_err(|e| e.to_string());
        (r, sock)
    });
    let Some((got, _sock)) = got else {
        panic!(
            "the service exited, but wait_ready is still waiting (for an hour-long deadline): \
             watch the service's pidfd as well as the socket"
        );
    };
    assert_eq!(got, Ok(Started::Exited));
}

#[test]
fn the_deadline_passes_without_spinning() {
    let dir = testkit::temp_dir("notify-deadline");
    let sock = NotifySocket::bind(dir.path(), "db").expect("bind");
    let svc = Service::start(sock.path(), &["READY=1"]);
    send_as_stranger(sock.path(), "READY=1");
    let pidfd = svc.pidfd.try_clone().expect("dup the pidfd");
    let pid = svc.pid();
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let before = thread_cpu_micros();
        let r = sock
            .wait_ready(
                pid,
                pidfd.as_fd(),
                Instant::now() + Duration::from_millis(1500),
            )
            .map_err(|e| e.to_string());
        (r, thread_cpu_micros() - before)
    });
    let Some((got, micros)) = got else {
        panic!("wait_ready with a 1.5 s deadline did not return within {DEADLINE:?}");
    };
    assert_eq!(
        got,
        Ok(Started::TimedOut),
        "nobody of the service's group sent READY=1"
    );
    assert!(
        micros < 500_000,
        "wait_ready used {micros} µs of CPU in 1.5 s of waiting: it should sleep in poll on the \
         socket and the pidfd, not check in a loop"
    );
}

#[test]
fn the_connect_probe_retries_until_something_listens() {
    let dir = testkit::temp_dir("probe-unix");
    let path = dir.path().join("db.sock");
    let target = path.to_str().expect("utf-8 path").to_string();
    let (tid_tx, tid_rx) = mpsc::channel();
    let probing = thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        probe_connect(&target, Instant::now() + DEADLINE * 3).map_err(|e| e.to_string())
    });
    let tid = tid_rx.recv().expect("the probing thread's id");
    // Nothing listens yet: the probe must fail, pause, and try again.
    wait_until(DEADLINE, "the probe to pause between attempts", || {
        probing.is_finished()
            || testkit::thread_sleeps_in(
                tid,
                &[
                    libc::SYS_nanosleep,
                    libc::SYS_clock_nanosleep,
                    libc::SYS_poll,
                    libc::SYS_ppoll,
                ],
            )
    });
    if probing.is_finished() {
        let r = probing.join().expect("the probe panicked");
        panic!("probe_connect returned {r:?} before anything listened on the socket");
    }
    let listener = UnixListener::bind(&path).expect("bind the service's socket");
    let result = testkit::call_with_deadline(DEADLINE, move || probing.join())
        .expect("the probe did not notice the socket now listening")
        .expect("the probe panicked");
    assert_eq!(result, Ok(()), "the socket listens now");
    listener.set_nonblocking(true).expect("nonblocking accept");
    assert!(
        listener.accept().is_ok(),
        "the probe really connected (a connection waits in the backlog)"
    );

    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind TCP");
    let addr = tcp.local_addr().expect("addr").to_string();
    probe_connect(&addr, Instant::now() + DEADLINE).expect("a TCP listener accepts at once");
}

#[test]
fn the_connect_probe_gives_up_at_the_deadline_and_says_on_what() {
    let dir = testkit::temp_dir("probe-none");
    let path = dir.path().join("nobody.sock");
    let target = path.to_str().expect("utf-8 path").to_string();
    let t = target.clone();
    let got = testkit::call_with_deadline(DEADLINE, move || {
        probe_connect(&t, Instant::now() + Duration::from_millis(300))
    })
    .expect("probe_connect with a 300 ms deadline did not return");
    let err = got.expect_err("nothing listens: the probe must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(
        err.to_string().contains(&target),
        "the error names the target: {err}"
    );
    // A free TCP port: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = probe_connect(
        &format!("127.0.0.1:{port}"),
        Instant::now() + Duration::from_millis(300),
    )
    .expect_err("nothing listens on that port");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    let err = probe_connect("no port here", Instant::now() + DEADLINE).expect_err("not an address");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn a_connect_probe_that_keeps_failing_does_not_spin() {
    let dir = testkit::temp_dir("probe-spin");
    let target = dir
        .path()
        .join("nobody.sock")
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let got = testkit::call_with_deadline(DEADLINE, move || {
        let before = thread_cpu_micros();
        let r = probe_connect(&target, Instant::now() + Duration::from_secs(2));
        (r.is_err(), thread_cpu_micros() - before)
    });
    let Some((failed, micros)) = got else {
        panic!("probe_connect with a 2 s deadline did not return within {DEADLINE:?}");
    };
    assert!(failed, "nothing listens: the probe must fail");
    assert!(
        micros < 200_000,
        "probe_connect used {micros} µs of CPU in 2 s of failed attempts: the pause between \
         attempts should grow (up to a cap), not shrink into a busy loop"
    );
}

#[test]
fn a_datagram_carrying_fds_is_skipped_its_fds_closed_and_the_others_kept() {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::io::{IoSlice, Read};
    use std::os::fd::AsRawFd;
    let dir = testkit::temp_dir("notify-fds");
    let sock = NotifySocket::bind(dir.path(), "db").expect("bind");
    let sender = UnixDatagram::unbound().expect("socket");
    sender
        .send_to(b"READY=1", sock.path())
        .expect("send READY=1");
    // A datagram with a pipe's write end attached, as any process of the user may send.
    let (mut pipe_r, pipe_w) = std::io::pipe().expect("pipe");
    let fds = [pipe_w.as_raw_fd()];
    let addr = nix::sys::socket::UnixAddr::new(sock.path()).expect("address");
    sendmsg(
        sender.as_raw_fd(),
        &[IoSlice::new(b"STATUS=with an fd")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        Some(&addr),
    )
    .expect("sendmsg with SCM_RIGHTS");
    drop(pipe_w);
    sender.send_to(b"STATUS=after", sock.path()).expect("send");
    let notices = match sock.recv() {
        Ok(n) => n,
        Err(e) => panic!(
            "recv failed ({e}) because one datagram carried an fd: the READY=1 before it is \
             lost with the batch. Give the control buffer room for fds (or check MSG_CTRUNC), \
             close the fds received, and skip that datagram only"
        ),
    };
    assert!(
        notices.iter().any(|n| n.is_ready())
            && notices.iter().any(|n| n.get("STATUS") == Some("after")),
        "the datagrams around the one with an fd are kept: {notices:?}"
    );
    // The copy of the write end that came with the datagram must be closed: then the pipe
    // reads EOF. A thread, so that a leaked copy fails the test instead of hanging it.
    let eof = testkit::call_with_deadline(DEADLINE, move || {
        let mut buf = [0u8; 1];
        pipe_r.read(&mut buf).map_err(|e| e.to_string())
    });
    assert_eq!(
        eof,
        Some(Ok(0)),
        "the fd that came with the datagram is still open in our process: close every fd \
         received in SCM_RIGHTS"
    );
}
