//! Tests for `signals/graceful`, the practice server: real signals sent to a real server with
//! many requests in flight.
//!
//! A request is in flight from the client's `REQ NAME` (answered `accepted NAME` at once) until
//! the client sends its second line; so the test decides which requests are in flight when the
//! signal lands, without any timing. The server prints `ready` once it listens and its handlers
//! are installed, and a line for each signal it handles; the test waits for those lines.
//!
//! Two failures do not show in what the server prints, so the tests look at the server process
//! itself: a loop that never empties its self-pipe spins (a thread stays running, state `R` in
//! `/proc`), and an `accept` error is provoked by lowering the server's file-descriptor limit
//! (`prlimit(2)`, allowed on one's own child without privileges).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{
    ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, proc_state, temp_dir, try_wait_until,
};

const WAIT: Duration = DEFAULT_DEADLINE;
const CLIENTS: usize = 16;

struct Server {
    guard: ChildGuard,
    out: LineReader,
    socket: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(tag: &str, config: &str) -> Server {
        let dir = temp_dir(tag);
        let socket = dir.path().join("srv.sock");
        let config_path = dir.path().join("srv.conf");
        std::fs::write(&config_path, config).expect("write the config");
        let (r, w) = std::io::pipe().expect("pipe");
        let w2 = w.try_clone().expect("dup");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_graceful"));
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(w)
            .stderr(w2);
        let guard = ChildGuard::spawn(&mut cmd);
        drop(cmd);
        let mut out = LineReader::new(r, "the graceful server");
        out.expect("ready", WAIT);
        Server {
            guard,
            out,
            socket,
            config: config_path,
            _dir: dir,
        }
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.guard.id() as i32), sig).expect("kill our own server");
    }

    fn output(&self) -> String {
        self.out.seen().join("\n")
    }

    /// Opens a connection and starts request `name`; returns once the server accepted it.
    fn begin(&self, name: &str) -> Request {
        let stream = UnixStream::connect(&self.socket).unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {e}; server output:\n{}",
                self.socket.display(),
                self.output()
            )
        });
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut req = Request {
            reader: BufReader::new(stream.try_clone().expect("dup")),
            writer: stream,
            name: name.to_string(),
        };
        writeln!(req.writer, "REQ {name}").expect("send REQ");
        let line = req.line();
        assert_eq!(
            line,
            format!("accepted {name}"),
            "the server's first answer"
        );
        req
    }

    /// Waits for the exit and returns (status code, every remaining output line).
    fn exit(mut self) -> (Option<i32>, String) {
        let rest = self.out.rest(WAIT).join("\n");
        let st = self.guard.wait(WAIT);
        assert!(
            !self.socket.exists(),
            "the server exited ({}) but left its socket file {}",
            describe_status(st),
            self.socket.display()
        );
        (st.code(), rest)
    }
}

struct Request {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    name: String,
}

impl Request {
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading the answer to {}: {e}", self.name));
        line.trim_end().to_string()
    }

    /// Sends the second line and returns the answer ("" when the server closed the connection).
    fn finish(mut self) -> String {
        writeln!(self.writer, "go").expect("send the second line");
        self.line()
    }
}

#[test]
fn every_request_accepted_before_sigterm_gets_its_full_answer() {
    let srv = Server::start("graceful-drain", "greeting = hello\ndeadline_ms = 20000\n");
    let requests: Vec<Request> = (0..CLIENTS).map(|i| srv.begin(&format!("c{i}"))).collect();
    srv.signal(Signal::SIGTERM);
    let mut srv = srv;
    let line = srv.out.expect("stopping", WAIT);
    assert_eq!(
        line,
        format!("stopping: draining {CLIENTS} request(s)"),
        "every accepted request is in flight when SIGTERM lands"
    );
    for req in requests {
        let name = req.name.clone();
        let answer = req.finish();
        assert_eq!(
            answer,
            format!("hello {name}"),
            "request {name} was accepted before the signal and must get its full answer; \
             server output:\n{}",
            srv.output()
        );
    }
    let (code, rest) = srv.exit();
    assert_eq!(
        code,
        Some(0),
        "once the last request finished, well within the deadline, the server must exit 0; \
         output after `stopping`:\n{rest}"
    );
    assert!(
        rest.contains(&format!("shutdown complete: served {CLIENTS}")),
        "expected `shutdown complete: served {CLIENTS}`, got:\n{rest}"
    );
}

#[test]
fn connections_after_sigint_are_refused() {
    let mut srv = Server::start("graceful-refuse", "deadline_ms = 20000\n");
    let held = srv.begin("held");
    srv.signal(Signal::SIGINT);
    srv.out.expect("stopping: draining 1 request(s)", WAIT);
    assert!(
        !srv.socket.exists(),
        "the server said `stopping` but its socket file {} is still there: remove it as soon as \
         the signal arrives, not only when the server exits",
        srv.socket.display()
    );
    // The server is still running (it drains `held`), yet nobody may connect any more.
    for _ in 0..3 {
        if let Ok(mut s) = UnixStream::connect(&srv.socket) {
            // A connect that lands in the backlog of a listener that is no longer served would
            // hang; a refused one fails at once. Either way no new request may be served.
            s.set_read_timeout(Some(WAIT)).expect("timeout");
            let _ = writeln!(s, "REQ late");
            let mut answer = String::new();
            let _ = BufReader::new(&s).read_line(&mut answer);
            panic!(
                "a connection made after the signal was accepted (answer {answer:?}): remove the \
                 socket file and close the listener as soon as the signal arrives"
            );
        }
    }
    assert_eq!(held.finish(), "hello held");
    let (code, rest) = srv.exit();
    assert_eq!(code, Some(0), "output:\n{rest}");
}

#[test]
fn a_second_signal_forces_exit_and_counts_abandoned_requests() {
    let mut srv = Server::start("graceful-second", "deadline_ms = 60000\n");
    let held: Vec<Request> = (0..3).map(|i| srv.begin(&format!("h{i}"))).collect();
    srv.signal(Signal::SIGTERM);
    srv.out.expect("stopping: draining 3 request(s)", WAIT);
    srv.signal(Signal::SIGINT);
    let (code, rest) = srv.exit();
    assert_eq!(
        code,
        Some(1),
        "a second signal must force the exit with status 1; output:\n{rest}"
    );
    assert!(
        rest.contains("forced: abandoned 3 request(s) (second signal)"),
        "three requests were still in flight; expected `forced: abandoned 3 request(s) (second \
         signal)`, got:\n{rest}"
    );
    drop(held);
}

#[test]
fn the_deadline_forces_exit_when_requests_do_not_finish() {
    let mut srv = Server::start("graceful-deadline", "deadline_ms = 200\n");
    let held: Vec<Request> = (0..2).map(|i| srv.begin(&format!("h{i}"))).collect();
    srv.signal(Signal::SIGTERM);
    srv.out.expect("stopping: draining 2 request(s)", WAIT);
    let (code, rest) = srv.exit();
    assert_eq!(
        code,
        Some(1),
        "the deadline passed with requests in flight: exit status 1; output:\n{rest}"
    );
    assert!(
        rest.contains("forced: abandoned 2 request(s) (deadline passed)"),
        "expected `forced: abandoned 2 request(s) (deadline passed)`, got:\n{rest}"
    );
    drop(held);
}

#[test]
fn sighup_reloads_the_config_without_dropping_connections() {
    let mut srv = Server::start("graceful-hup", "greeting = hello\n");
    let before = srv.begin("early");
    std::fs::write(&srv.config, "greeting = bonjour\ndeadline_ms = 20000\n").expect("rewrite");
    srv.signal(Signal::SIGHUP);
    let line = srv.out.expect("reload", WAIT);
    assert_eq!(line, "reloaded: greeting=bonjour deadline_ms=20000");
    // The request that was in flight during the reload is still connected and answered.
    assert_eq!(before.finish(), "bonjour early");
    let after = srv.begin("late");
    assert_eq!(after.finish(), "bonjour late");
    srv.signal(Signal::SIGTERM);
    let (code, rest) = srv.exit();
    assert_eq!(code, Some(0), "output:\n{rest}");
    assert!(rest.contains("served 2"), "{rest}");
}

#[test]
fn a_config_that_fails_to_load_on_sighup_leaves_the_old_one_in_force() {
    // Comments and blank lines are part of the format.
    let mut srv = Server::start(
        "graceful-badconf",
        "# the first word of every answer\n\
         \n\
         greeting = hello\n\
         \x20 # how long a shutdown may take\n\
         deadline_ms = 20000\n",
    );
    let before = srv.begin("early");
    // A greeting is one word: this file is invalid.
    std::fs::write(&srv.config, "greeting = good day\n").expect("rewrite");
    srv.signal(Signal::SIGHUP);
    let line = srv.out.expect("reload", WAIT);
    assert!(
        line.starts_with("reload failed: "),
        "`greeting = good day` is not a valid config (a greeting is one word): expected \
         `reload failed: ...`, got {line:?}"
    );
    assert_eq!(
        before.finish(),
        "hello early",
        "after a failed reload the old config stays in force; server output:\n{}",
        srv.output()
    );
    let after = srv.begin("late");
    assert_eq!(after.finish(), "hello late", "after a failed reload");
    srv.signal(Signal::SIGTERM);
    let (code, rest) = srv.exit();
    assert_eq!(code, Some(0), "output:\n{rest}");
    assert!(rest.contains("served 2"), "{rest}");
}

/// The threads (tids) of `pid` that are running or runnable (state `R`).
fn running_threads(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| t.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&tid| proc_state(tid) == Some('R'))
        .collect()
}

/// Waits until no thread of the server runs: between events it must sleep (in `poll`).
#[track_caller]
fn assert_sleeps(srv: &Server, after: &str) {
    let pid = srv.guard.id();
    if let Err(msg) = try_wait_until(WAIT, "every thread of the server to sleep", || {
        running_threads(pid).is_empty()
    }) {
        panic!(
            "{msg}: after {after}, thread(s) {:?} of the server kept running (state R in \
             /proc/{pid}/task/TID/stat). `poll` is level-triggered: read the self-pipe until it \
             is empty (WouldBlock), or every later `poll` returns at once and the loop spins; \
             server output:\n{}",
            running_threads(pid),
            srv.output()
        );
    }
}

#[test]
fn an_idle_server_sleeps_after_handling_a_signal() {
    let mut srv = Server::start("graceful-idle", "deadline_ms = 20000\n");
    srv.signal(Signal::SIGHUP);
    srv.out.expect("reload", WAIT);
    assert_sleeps(&srv, "a SIGHUP");
    let req = srv.begin("one");
    assert_eq!(req.finish(), "hello one");
    assert_sleeps(&srv, "a request ended");
    srv.signal(Signal::SIGTERM);
    let (code, rest) = srv.exit();
    assert_eq!(code, Some(0), "output:\n{rest}");
    assert!(rest.contains("served 1"), "{rest}");
}

#[test]
fn an_accept_error_ends_the_server_with_status_2_and_removes_its_socket_file() {
    let mut srv = Server::start("graceful-emfile", "deadline_ms = 20000\n");
    let pid = srv.guard.id() as libc::pid_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `pid` is our own child, still running (we hold its guard, it has not been
    // reaped); `limit` is a valid rlimit to write the current limit into.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit) };
    assert_eq!(rc, 0, "prlimit (read): {}", std::io::Error::last_os_error());
    // A new fd takes the lowest free number, which must be below the soft limit: with the limit
    // at that number, the next `accept` fails with EMFILE, while everything open stays usable.
    // (Not 0: `poll` refuses more fds than the limit with EINVAL.) The hard limit stays.
    limit.rlim_cur = lowest_free_fd(srv.guard.id());
    // SAFETY: as above; `limit` is a valid rlimit to read the new limit from.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(
        rc,
        0,
        "prlimit (write): {}",
        std::io::Error::last_os_error()
    );
    // The connection is queued in the listener's backlog; the server cannot accept it.
    let _client = UnixStream::connect(&srv.socket).expect("connect to the server");
    let exited = try_wait_until(WAIT, "the server to exit", || {
        !matches!(srv.guard.child().try_wait(), Ok(None))
    });
    if let Err(msg) = exited {
        panic!(
            "{msg}: `accept` fails with EMFILE (out of file descriptors) and the connection stays \
             queued, so the listener stays readable: a loop that treats the error as `nothing \
             more to accept` spins (threads running: {:?}). `serve` must return the error \
             (exit status 2); server output:\n{}",
            running_threads(srv.guard.id()),
            srv.output()
        );
    }
    let (code, rest) = srv.exit();
    assert_eq!(
        code,
        Some(2),
        "`accept` failed with EMFILE (out of file descriptors): the connection stays queued, so \
         ignoring the error would make the loop spin; `serve` must return the error (exit \
         status 2). Output:\n{rest}"
    );
    assert!(
        ["Too many open files", "os error 24", "EMFILE"]
            .iter()
            .any(|e| rest.contains(e)),
        "the server exited 2 as it should, but the error it reports is not EMFILE (out of file \
         descriptors) from `accept`; output:\n{rest}"
    );
}

/// The fd number a new descriptor of `pid` would get: the lowest one not open.
fn lowest_free_fd(pid: u32) -> libc::rlim_t {
    let open: Vec<libc::rlim_t> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list the server's fds")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|fd| !open.contains(fd)).expect("a free fd")
}
