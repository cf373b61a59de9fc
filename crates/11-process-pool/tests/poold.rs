//! End-to-end tests of `poold` and `poolc` as binaries: an owner-only socket, pipelined tasks
//! answered one line each, stats and resizing, SIGTERM draining, SIGHUP rolling restarts, and
//! 10,000 tasks from several clients while a killer thread SIGKILLs workers found in /proc.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
use predicates::prelude::*;
use testkit::{ChildGuard, LineReader};

const DEADLINE: Duration = testkit::DEFAULT_DEADLINE;

/// A running `poold`, killed (with its workers) and reaped when dropped.
struct Server {
    guard: ChildGuard,
    out: LineReader,
    err: LineReader,
    at: At,
    _dir: tempfile::TempDir,
}

/// Where a `poold` is: what client threads need.
#[derive(Clone)]
struct At {
    pid: u32,
    socket: PathBuf,
}

impl std::ops::Deref for Server {
    type Target = At;
    fn deref(&self) -> &At {
        &self.at
    }
}

impl Server {
    fn start(tag: &str, extra: &[&str]) -> Server {
        let dir = testkit::temp_dir(tag);
        let socket = dir.path().join("pool.sock");
        Server::start_at(dir, socket, extra)
    }

    /// Starts a `poold` on `socket` (in `dir`, which the server keeps until it is dropped).
    fn start_at(dir: tempfile::TempDir, socket: PathBuf, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_poold"));
        cmd.arg("--socket")
            .arg(&socket)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only stdio from us: a descriptor inherited from the test runner (a jobserver's pipe)
        // would sit in poold's table where the tests count and limit its descriptors.
        let mut guard = ChildGuard::spawn(testkit::close_on_exec_from(&mut cmd, 3));
        let mut out = LineReader::new(guard.child().stdout.take().expect("stdout"), "poold stdout");
        let err = LineReader::new(guard.child().stderr.take().expect("stderr"), "poold stderr");
        out.expect("ready", DEADLINE);
        let at = At {
            pid: guard.id(),
            socket,
        };
        Server {
            guard,
            out,
            err,
            at,
            _dir: dir,
        }
    }

    fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let status = self.guard.wait(DEADLINE);
        assert_eq!(
            status.code(),
            Some(0),
            "poold should exit 0 after draining; it ended {}; stderr: {:?}",
            testkit::describe_status(status),
            self.err.rest(Duration::from_secs(1))
        );
        assert!(!self.socket.exists(), "poold should remove its socket file");
        let said = self.err.rest(Duration::from_secs(1));
        assert!(
            !said.iter().any(|l| l.contains("os error 11")),
            "poold logged EAGAIN as an error: {said:?}; on a non-blocking listener accept says \
             WouldBlock when no client is waiting, which ends the accept loop, not an error"
        );
        let mut lock = self.socket.clone().into_os_string();
        lock.push(".lock");
        assert!(
            Path::new(&lock).exists(),
            "poold removed {}: leave the lock file in place (a server that removes it lets a \
             later one create and lock a new file while another still holds the old one), and \
             remove no file but the socket it created",
            Path::new(&lock).display()
        );
        let _ = self.out.rest(Duration::from_secs(1));
    }
}

impl At {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn workers(&self) -> Vec<u32> {
        testkit::children_of(self.pid())
            .into_iter()
            .filter(|&(_, s)| s != 'Z')
            .map(|(p, _)| p)
            .collect()
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid() as i32), sig).expect("signal poold");
    }

    fn poolc(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_poolc"));
        cmd.arg("--socket").arg(&self.socket).args(args);
        cmd
    }

    /// The `done` count of `poolc stats` (0 when it cannot be read), through a connection of its
    /// own that comes and goes.
    fn tasks_done(&self) -> u64 {
        let out = testkit::run_with_deadline(&mut self.poolc(&["stats"]), DEADLINE);
        String::from_utf8_lossy(&out.stdout)
            .split(' ')
            .skip_while(|w| *w != "done")
            .nth(1)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    }

    fn run_tasks(&self, tasks: &str) -> Output {
        let mut cmd = self.poolc(&["run"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn poolc");
        let mut stdin = child.stdin.take().expect("stdin");
        let tasks = tasks.to_string();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(tasks.as_bytes());
        });
        let out =
            testkit::call_with_deadline(Duration::from_secs(60), move || child.wait_with_output())
                .expect("poolc run did not finish within 60 s: a task was lost or never answered")
                .expect("wait for poolc");
        let _ = feeder.join();
        out
    }
}

/// Answers by line number, failing on a duplicate.
fn answers(stdout: &[u8]) -> HashMap<usize, String> {
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let (n, rest) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("malformed answer {line:?}"));
        let n: usize = n
            .parse()
            .unwrap_or_else(|_| panic!("answer {line:?} should start with its line number"));
        assert!(
            map.insert(n, rest.to_string()).is_none(),
            "line {n} answered twice"
        );
    }
    map
}

fn wait_all_gone(pids: &[u32], what: &str) {
    testkit::wait_until(DEADLINE, what, || {
        pids.iter().all(|&p| testkit::proc_state(p).is_none())
    });
}

#[test]
fn the_socket_is_owner_only_and_every_task_gets_one_answer_line() {
    let server = Server::start("poold-basic", &["--workers", "2"]);
    let mode = std::fs::metadata(&server.socket)
        .expect("socket file")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the socket should be owner-only (0600) from the start; mode {mode:o}"
    );
    let dir = testkit::temp_dir("poold-files");
    let file = dir.path().join("words.txt");
    std::fs::write(&file, "three little words\n").expect("write");
    let f = file.display();
    let tasks = format!("spin 1000\nsleep 5\nhash {f}\ncount {f}\n\ncrash\nbogus 1\nsleep x\n");
    let out = server.run_tasks(&tasks);
    assert_eq!(
        out.status.code(),
        Some(0),
        "poolc run should exit 0; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = answers(&out.stdout);
    let spin = process_pool::task::run("spin 1000").expect("spin");
    let hash = process_pool::task::run(&format!("hash {f}")).expect("hash");
    assert_eq!(got.get(&1), Some(&format!("ok {spin}")));
    assert_eq!(got.get(&2).map(String::as_str), Some("ok slept"));
    assert_eq!(got.get(&3), Some(&format!("ok {hash}")));
    assert_eq!(got.get(&4).map(String::as_str), Some("ok 3"));
    assert!(!got.contains_key(&5), "a blank line is not a task: {got:?}");
    assert!(
        got.get(&6)
            .is_some_and(|a| a.starts_with("error quarantined")),
        "crash should be quarantined: {got:?}"
    );
    assert!(
        got.get(&7).is_some_and(|a| a.starts_with("error ")),
        "{got:?}"
    );
    assert!(
        got.get(&8).is_some_and(|a| a.starts_with("error ")),
        "{got:?}"
    );
    assert_eq!(got.len(), 7, "{got:?}");
    server.stop();
}

#[test]
fn stats_and_workers_report_and_change_the_pool_at_run_time() {
    let server = Server::start("poold-stats", &["--workers", "2"]);
    testkit::wait_until(DEADLINE, "2 workers", || server.workers().len() == 2);
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", "4"]), DEADLINE);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok workers 4");
    testkit::wait_until(DEADLINE, "4 worker processes under poold", || {
        server.workers().len() == 4
    });
    // Workers are spawned after poold opened its socket, lock file, eventfd and pidfds: none
    // of those may leak into them (close-on-exec on every descriptor poold makes).
    for worker in server.workers() {
        let leaked: Vec<String> = std::fs::read_dir(format!("/proc/{worker}/fd"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|t| t.to_string_lossy().into_owned())
                    .filter(|t| {
                        t.starts_with("socket:")
                            || t.starts_with("anon_inode:")
                            || t.ends_with(".lock")
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            leaked.is_empty(),
            "worker {worker} inherited poold's descriptors {leaked:?}: open every one with \
             close-on-exec (EFD_CLOEXEC for the eventfd)"
        );
    }
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", "0"]), DEADLINE);
    assert!(
        out.status.code() == Some(1)
            && String::from_utf8_lossy(&out.stdout).starts_with("error workers expects"),
        "a pool of 0 workers should be refused: {out:?}"
    );
    let _ = server.run_tasks("spin 10\ncrash\n");
    let out = testkit::run_with_deadline(&mut server.poolc(&["stats"]), DEADLINE);
    let stats = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "poolc stats should succeed");
    assert!(
        stats.starts_with("workers 4 queued 0 in_flight 0 done 1 failed 1 restarts "),
        "stats after one good task and one quarantined crash: {stats:?}"
    );
    let restarts: u64 = stats
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("restarts");
    assert!(restarts >= 5, "2 added workers and 3 crashes: {stats:?}");
    server.stop();
}

/// `poold` or `poolc` as assert_cmd runs them, with the deadline every run gets.
fn tool(name: &str) -> assert_cmd::Command {
    let mut cmd = match name {
        "poold" => assert_cmd::Command::new(cargo_bin!("poold")),
        _ => assert_cmd::Command::new(cargo_bin!("poolc")),
    };
    cmd.timeout(DEADLINE);
    cmd
}

/// One line on stderr, starting with `TOOL: ` and containing `fragment`.
fn one_line_error(tool: &str, fragment: &str) -> impl Predicate<str> {
    predicate::str::starts_with(format!("{tool}: "))
        .and(predicate::str::contains(fragment.to_string()))
        .and(predicate::function(|err: &str| {
            err.lines().filter(|l| !l.starts_with("usage:")).count() == 1
        }))
}

#[test]
fn usage_errors_exit_2_with_one_line_on_stderr_and_nothing_on_stdout() {
    for (args, fragment) in [
        (&[][..], "--socket PATH is required"),
        (&["--socket"], "--socket needs a value"),
        (
            &["--socket", "/nonexistent/x.sock", "--verbose"],
            "unknown argument",
        ),
        (
            &["--socket", "/nonexistent/x.sock", "--workers", "0"],
            "--workers expects",
        ),
        (
            &["--socket", "/nonexistent/x.sock", "--workers", "many"],
            "--workers expects",
        ),
        (
            &["--socket", "/nonexistent/x.sock", "--grace", "1s"],
            "--grace expects",
        ),
        (
            &[
                "--socket",
                "/nonexistent/x.sock",
                "--workers",
                "5",
                "--max-workers",
                "3",
            ],
            "--max-workers 3",
        ),
    ] {
        tool("poold")
            .args(args)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(one_line_error("poold", fragment))
            .stderr(predicate::str::contains("usage: poold --socket PATH"));
    }
    for args in [
        &[][..],
        &["--sock", "/nonexistent/x.sock", "stats"],
        &["--socket", "/nonexistent/x.sock"],
        &["--socket", "/nonexistent/x.sock", "statistics"],
        &["--socket", "/nonexistent/x.sock", "worker", "3"],
        &["--socket", "/nonexistent/x.sock", "run", "a", "b"],
    ] {
        tool("poolc")
            .args(args)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with(
                "poolc: usage: poolc --socket PATH",
            ));
    }
}

#[test]
fn a_socket_that_cannot_be_served_or_reached_is_a_one_line_error_and_exit_2() {
    // poold: a directory that does not exist, and a path held by a file that is not a socket
    // (which poold must leave alone).
    tool("poold")
        .args(["--socket", "/nonexistent/dir/pool.sock"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(one_line_error("poold", "/nonexistent/dir/pool"));
    let dir = testkit::temp_dir("poold-notsock");
    let file = dir.path().join("pool.sock");
    std::fs::write(&file, "precious\n").expect("write");
    tool("poold")
        .arg("--socket")
        .arg(&file)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(one_line_error("poold", "not a socket"));
    assert_eq!(
        std::fs::read_to_string(&file).expect("the file is still there"),
        "precious\n",
        "poold must not remove or replace a file that is not a socket"
    );
    // A live socket of another kind (a datagram service's) at the path: connect fails with
    // EPROTOTYPE, not ECONNREFUSED. It is not stale; it is someone's.
    let theirs = dir.path().join("dgram.sock");
    let dgram = std::os::unix::net::UnixDatagram::bind(&theirs).expect("bind a datagram socket");
    // A poold that took the path over serves there until it is killed: give it a deadline.
    let mut poold = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_poold"))
            .arg("--socket")
            .arg(&theirs)
            .args(["--workers", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let err_pipe = poold.child().stderr.take().expect("stderr");
    let exited = testkit::try_wait_until(DEADLINE, "poold to give up on the path", || {
        !matches!(poold.child().try_wait(), Ok(None))
    })
    .is_ok();
    let peer = std::os::unix::net::UnixDatagram::unbound().expect("a datagram socket");
    peer.send_to(b"still mine", &theirs).unwrap_or_else(|e| {
        panic!(
            "poold removed or replaced a live datagram socket it could not connect to ({e}): \
             only ECONNREFUSED means nobody listens; any other connect error leaves the file \
             alone"
        )
    });
    assert!(
        exited,
        "poold still runs on a path held by a live datagram socket"
    );
    let status = poold.wait(DEADLINE);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut { err_pipe }, &mut err).expect("read poold's stderr");
    assert!(
        status.code() == Some(2)
            && err.starts_with("poold: ")
            && err.lines().count() == 1
            && err.contains("dgram.sock"),
        "a path held by another kind of socket is a one-line error naming it, exit 2: {}, \
         stderr {err:?}",
        testkit::describe_status(status)
    );
    drop(dgram);
    // poolc: no server, and a task file that does not exist (read before connecting).
    tool("poolc")
        .args(["--socket", "/nonexistent/x.sock", "stats"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(one_line_error(
            "poolc",
            "cannot connect to /nonexistent/x.sock",
        ));
    tool("poolc")
        .args([
            "--socket",
            "/nonexistent/x.sock",
            "run",
            "/nonexistent/tasks.txt",
        ])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(one_line_error("poolc", "/nonexistent/tasks.txt"));
}

#[test]
fn poolc_prints_answers_on_stdout_and_exits_1_on_an_error_answer() {
    let server = Server::start("poolc-contract", &["--workers", "1", "--max-workers", "2"]);
    let socket = server.socket.clone();
    tool("poolc")
        .arg("--socket")
        .arg(&socket)
        .arg("stats")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "workers 1 queued 0 in_flight 0 done 0",
        ))
        .stderr(predicate::str::is_empty());
    tool("poolc")
        .arg("--socket")
        .arg(&socket)
        .args(["workers", "3"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("error workers 3 is more than"))
        .stderr(predicate::str::is_empty());
    tool("poolc")
        .arg("--socket")
        .arg(&socket)
        .arg("run")
        .write_stdin("echo one\n\necho three\n")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("1 ok one\n")
                .and(predicate::str::contains("3 ok three\n"))
                .and(predicate::function(|out: &str| out.lines().count() == 2)),
        )
        .stderr(predicate::str::is_empty());
    server.stop();
}

#[test]
fn a_server_whose_workers_cannot_start_says_so_and_leaves_no_socket() {
    // A copy of poold with no pool-worker beside it. `cp` has exited before poold runs: no
    // process of this test can still hold the copy open for writing (exec would fail ETXTBSY).
    let dir = testkit::temp_dir("poold-alone");
    let poold = dir.path().join("poold");
    let copied = Command::new("/bin/cp")
        .arg(env!("CARGO_BIN_EXE_poold"))
        .arg(&poold)
        .status()
        .expect("run cp");
    assert!(copied.success(), "cp poold failed");
    let socket = dir.path().join("pool.sock");
    let out =
        testkit::run_with_deadline(Command::new(&poold).arg("--socket").arg(&socket), DEADLINE);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "poold should exit 2: {err:?}");
    assert!(
        err.starts_with("poold: cannot start the workers")
            && err.contains("pool-worker")
            && err.lines().count() == 1,
        "one line naming the worker program: {err:?}"
    );
    assert!(
        !socket.exists(),
        "poold should remove the socket it bound when it cannot serve"
    );
}

#[test]
fn sigterm_drains_in_flight_tasks_refuses_new_ones_and_exits_0() {
    let server = Server::start("poold-term", &["--workers", "2"]);
    let workers = server.workers();
    let dir = testkit::temp_dir("poold-fifo");
    let fifo = dir.path().join("gate");
    mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let mut client = server.poolc(&["run"]);
    client.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut client = ChildGuard::spawn(&mut client);
    writeln!(
        client.child().stdin.take().expect("stdin"),
        "block {}",
        fifo.display()
    )
    .expect("send");
    let fifo2 = fifo.clone();
    let gate =
        testkit::call_with_deadline(DEADLINE, move || OpenOptions::new().write(true).open(fifo2))
            .expect("the block task never started")
            .expect("open fifo");
    // A second connection, come and gone while the first is still open: the server must
    // still drain the first one at SIGTERM.
    let stats = testkit::run_with_deadline(&mut server.poolc(&["stats"]), DEADLINE);
    assert!(stats.status.success(), "poolc stats: {stats:?}");
    server.signal(Signal::SIGTERM);
    testkit::wait_until(DEADLINE, "poold to remove its socket on SIGTERM", || {
        !server.socket.exists()
    });
    assert!(
        testkit::proc_state(server.pid()).is_some_and(|s| s != 'Z'),
        "poold must not exit while a task is in flight"
    );
    drop(gate);
    let out = testkit::call_with_deadline(DEADLINE, move || client.into_inner().wait_with_output())
        .expect("poolc should finish once the task is released")
        .expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 ok released",
        "the in-flight task should finish"
    );
    let mut server = server;
    let status = server.guard.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "poold should exit 0 after draining");
    wait_all_gone(&workers, "every worker gone after the drain");
}

#[test]
fn a_client_that_reads_late_still_gets_every_answer_within_the_grace() {
    const TASKS: usize = 400;
    const SIZE: usize = 32 * 1024;
    let server = Server::start("poold-late", &["--workers", "2"]);
    let workers = server.workers();
    let stream = testkit::connect_unix(&server.socket, DEADLINE);
    let mut writer = stream.try_clone().expect("clone");
    // 400 answers of 32 KiB each: far more than a socket buffer holds, so poold's writer for
    // this client is blocked when SIGTERM comes, with most of them still to write.
    let payload = "x".repeat(SIZE);
    let feeder = std::thread::spawn(move || {
        let tasks: String = (1..=TASKS)
            .map(|n| format!("{n} echo {payload}\n"))
            .collect();
        writer.write_all(tasks.as_bytes()).expect("send the tasks");
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
    });
    // Other clients come and go meanwhile (these `stats` connections): their end must not be
    // taken for this one's.
    testkit::wait_until(DEADLINE, "poold to have done every task", || {
        server.tasks_done() >= TASKS as u64
    });
    feeder.join().expect("feeder");
    server.signal(Signal::SIGTERM);
    // Not one byte read until the pool has stopped: the answers are all in poold's hands.
    wait_all_gone(&workers, "every worker gone after SIGTERM");
    // Not a wait for an event: the client is late on purpose, by more than the second poold
    // gives its writers at least and well within the grace (10 s), which is what it has.
    std::thread::sleep(Duration::from_secs(2));
    let mut stream = stream;
    let received = testkit::call_with_deadline(DEADLINE, move || {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut all).map(|_| all)
    })
    .expect("poold should end the connection once it has written every answer")
    .expect("read the answers");
    let lines = received.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let whole = lines.filter(|l| l.len() > SIZE).count();
    assert_eq!(
        whole,
        TASKS,
        "a client owed {TASKS} answers received {whole} (and {} bytes): poold cut it off while \
         its writer still had answers to write, within the --grace of 10 s. Wait for this \
         connection's writer itself; a count of finished connections also counts the ones that \
         ended before the shutdown",
        received.len()
    );
    let mut server = server;
    let status = server.guard.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "poold should exit 0 after draining");
}

#[test]
fn a_task_past_the_grace_of_a_sigterm_is_failed_and_its_worker_killed() {
    let server = Server::start("poold-grace", &["--workers", "1", "--grace", "300"]);
    testkit::wait_until(DEADLINE, "1 worker", || server.workers().len() == 1);
    let workers = server.workers();
    let dir = testkit::temp_dir("poold-grace-fifo");
    let fifo = dir.path().join("gate");
    mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let mut client = server.poolc(&["run"]);
    client.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut client = ChildGuard::spawn(&mut client);
    writeln!(
        client.child().stdin.take().expect("stdin"),
        "block {}",
        fifo.display()
    )
    .expect("send");
    let fifo2 = fifo.clone();
    // Held open and never written: the task runs until its worker is killed.
    let _gate =
        testkit::call_with_deadline(DEADLINE, move || OpenOptions::new().write(true).open(fifo2))
            .expect("the block task never started")
            .expect("open fifo");
    server.signal(Signal::SIGTERM);
    let out = testkit::call_with_deadline(DEADLINE, move || client.into_inner().wait_with_output())
        .expect("poolc should get an answer once the grace has passed")
        .expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 error pool shut down",
        "the task still running after --grace should be failed"
    );
    let mut server = server;
    let status = server.guard.wait(DEADLINE);
    assert_eq!(
        status.code(),
        Some(0),
        "poold should exit 0 after the grace"
    );
    wait_all_gone(&workers, "the worker killed at the end of the grace");
}

#[test]
fn a_task_past_its_timeout_is_answered_timed_out_by_the_server() {
    let server = Server::start(
        "poold-timeout",
        &["--workers", "1", "--task-timeout", "200"],
    );
    let out = server.run_tasks("sleep 60000\nspin 10\n");
    assert_eq!(
        out.status.code(),
        Some(0),
        "poolc run should exit 0: {out:?}"
    );
    let got = answers(&out.stdout);
    assert_eq!(got.get(&1).map(String::as_str), Some("error timed out"));
    let spin = process_pool::task::run("spin 10").expect("spin");
    assert_eq!(got.get(&2), Some(&format!("ok {spin}")));
    server.stop();
}

#[test]
fn poolc_reads_its_tasks_from_a_file_and_says_when_it_cannot() {
    let server = Server::start("poold-file", &["--workers", "1"]);
    let dir = testkit::temp_dir("poolc-file");
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, "echo one\n\necho three\n").expect("write tasks");
    let out = testkit::run_with_deadline(
        &mut server.poolc(&["run", tasks.to_str().expect("utf-8 path")]),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(0), "poolc run FILE: {out:?}");
    let got = answers(&out.stdout);
    assert_eq!(got.get(&1).map(String::as_str), Some("ok one"));
    assert_eq!(got.get(&3).map(String::as_str), Some("ok three"));
    assert_eq!(got.len(), 2, "{got:?}");
    let missing = dir.path().join("missing.txt");
    let out = testkit::run_with_deadline(
        &mut server.poolc(&["run", missing.to_str().expect("utf-8 path")]),
        DEADLINE,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2)
            && err.starts_with("poolc: ")
            && err.contains("missing.txt")
            && err.lines().count() == 1,
        "a missing task file is a one-line error and exit 2: {out:?}"
    );
    server.stop();
}

#[test]
fn an_idle_server_sleeps_in_the_kernel() {
    let server = Server::start("poold-idle", &["--workers", "2"]);
    let out = server.run_tasks("spin 10\n");
    assert_eq!(out.status.code(), Some(0), "poolc run: {out:?}");
    // A resize wakes the pool's event thread from another thread: it must then sleep again.
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", "3"]), DEADLINE);
    assert!(out.status.success(), "poolc workers 3: {out:?}");
    testkit::wait_until(DEADLINE, "3 workers", || server.workers().len() == 3);
    let pid = server.pid() as i32;
    let before = testkit::monitoring::cpu_ticks(pid);
    // Not a wait for an event: the window over which poold's CPU time is measured.
    std::thread::sleep(Duration::from_secs(1));
    let used = testkit::monitoring::cpu_ticks(pid) - before;
    assert!(
        used <= 2,
        "an idle poold used {used} clock ticks of CPU in 1 s: a thread loops instead of \
         sleeping until a worker, a client or a deadline needs it"
    );
    server.stop();
}

#[test]
fn sighup_replaces_every_worker_and_no_task_is_lost() {
    let server = Server::start("poold-hup", &["--workers", "3"]);
    testkit::wait_until(DEADLINE, "3 workers", || server.workers().len() == 3);
    let old = server.workers();
    let tasks: String = (0..600).map(|i| format!("spin {}\n", 5000 + i)).collect();
    let hupper = {
        let at = server.at.clone();
        std::thread::spawn(move || at.signal(Signal::SIGHUP))
    };
    let out = server.run_tasks(&tasks);
    hupper.join().expect("hup thread");
    assert_eq!(out.status.code(), Some(0));
    let got = answers(&out.stdout);
    assert_eq!(got.len(), 600, "every task answered");
    assert!(
        got.values().all(|a| a.starts_with("ok ")),
        "no task may fail in a rolling restart"
    );
    testkit::wait_until(DEADLINE, "every old worker replaced after SIGHUP", || {
        let now = server.workers();
        now.len() == 3 && now.iter().all(|p| !old.contains(p))
    });
    wait_all_gone(&old, "the old workers reaped");
    server.stop();
}

#[test]
fn ten_thousand_tasks_from_four_clients_survive_a_worker_killer() {
    let server = Server::start("poold-storm", &["--workers", "4"]);
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (server, stop, kills) = (server.at.clone(), Arc::clone(&stop), Arc::clone(&kills));
        std::thread::spawn(move || {
            let mut seed = u64::from(server.pid());
            while !stop.load(Ordering::SeqCst) {
                let workers = server.workers();
                if !workers.is_empty() {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let victim = workers[(seed >> 33) as usize % workers.len()];
                    if kill(Pid::from_raw(victim as i32), Signal::SIGKILL).is_ok() {
                        kills.fetch_add(1, Ordering::SeqCst);
                    }
                }
                // Load, not synchronisation: how often the killer strikes.
                std::thread::sleep(Duration::from_millis(15));
            }
        })
    };
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let server = server.at.clone();
            std::thread::spawn(move || {
                let tasks: String = (0..2500)
                    .map(|i| format!("spin {}\n", 100 * c + i))
                    .collect();
                server.run_tasks(&tasks)
            })
        })
        .collect();
    let outs: Vec<Output> = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect();
    stop.store(true, Ordering::SeqCst);
    killer.join().expect("killer");
    for (c, out) in outs.iter().enumerate() {
        assert_eq!(
            out.status.code(),
            Some(0),
            "client {c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = answers(&out.stdout);
        assert_eq!(got.len(), 2500, "client {c}: every task exactly one answer");
        for n in 1..=2500 {
            let want = process_pool::task::run(&format!("spin {}", 100 * c + n - 1)).expect("spin");
            let answer = got.get(&n).map(String::as_str).unwrap_or_default();
            // A task re-dispatched to a replacement that the killer also hits before it starts
            // can meet three deaths in a row: then it is quarantined, by design, and answered
            // so. Any other answer must be the task's own result.
            assert!(
                answer == format!("ok {want}") || answer.starts_with("error quarantined"),
                "client {c} line {n}: {answer:?}"
            );
        }
    }
    assert!(
        kills.load(Ordering::SeqCst) > 0,
        "the killer should have killed some workers"
    );
    let workers = server.workers();
    server.stop();
    wait_all_gone(&workers, "no worker left after poold stopped");
}

/// A raw connection to a `poold`: the test writes exactly the bytes it wants and reads the
/// answers line by line, with deadlines.
struct Conn {
    stream: std::os::unix::net::UnixStream,
    lines: LineReader,
}

impl Conn {
    fn open(at: &At) -> Conn {
        let stream = testkit::connect_unix(&at.socket, DEADLINE);
        let lines = LineReader::new(
            stream.try_clone().expect("clone the stream"),
            "poold's answers",
        );
        Conn { stream, lines }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to poold");
    }

    #[track_caller]
    fn answer(&mut self, what: &str) -> String {
        self.lines
            .next_line(DEADLINE)
            .unwrap_or_else(|| panic!("poold closed the connection instead of answering {what}"))
    }
}

/// A `/proc/PID/status` figure in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

#[test]
fn a_stale_socket_left_by_a_killed_server_is_replaced_and_a_live_one_refused() {
    let dir = testkit::temp_dir("poold-stale");
    let socket = dir.path().join("pool.sock");
    let first = Server::start_at(
        testkit::temp_dir("poold-stale-1"),
        socket.clone(),
        &["--workers", "1"],
    );
    let workers = first.workers();
    // SIGKILL: no handler runs, the socket file stays behind with nobody listening on it.
    drop(first);
    wait_all_gone(&workers, "the killed server's worker to see EOF and exit");
    assert!(socket.exists(), "a SIGKILLed poold leaves its socket file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_poold"));
    cmd.arg("--socket").arg(&socket).arg("--workers").arg("1");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(&mut cmd);
    let mut out = LineReader::new(guard.child().stdout.take().expect("stdout"), "poold stdout");
    let mut err = LineReader::new(guard.child().stderr.take().expect("stderr"), "poold stderr");
    if out.next_line(DEADLINE).as_deref() != Some("ready") {
        panic!(
            "a poold started over a stale socket file (its server was SIGKILLed) should replace \
             it and print ready: connect to it, and ECONNREFUSED means nobody listens there; \
             stderr: {:?}",
            err.rest(DEADLINE)
        );
    }
    let second = Server {
        at: At {
            pid: guard.id(),
            socket: socket.clone(),
        },
        guard,
        out,
        err,
        _dir: dir,
    };
    // A third server on the same path while the second serves: refused, and it must leave the
    // live socket alone.
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_poold"))
            .arg("--socket")
            .arg(&socket),
        DEADLINE,
    );
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && msg.starts_with("poold: ") && msg.lines().count() == 1,
        "a poold started where another one serves should refuse with one line and exit 2: {out:?}"
    );
    let stats = testkit::run_with_deadline(&mut second.poolc(&["stats"]), DEADLINE);
    assert!(
        stats.status.success(),
        "the running poold must still serve after a second one was refused (its socket file \
         removed or replaced?): {stats:?}"
    );
    second.stop();
}

#[test]
fn sigterm_stops_a_server_whose_socket_file_was_removed() {
    let server = Server::start("poold-unlinked", &["--workers", "1"]);
    std::fs::remove_file(&server.socket).expect("remove the socket file");
    server.signal(Signal::SIGTERM);
    let mut server = server;
    let status = testkit::try_wait_until(DEADLINE, "poold to exit after SIGTERM", || {
        !matches!(server.guard.child().try_wait(), Ok(None))
    })
    .is_ok();
    assert!(
        status,
        "poold ignored SIGTERM once its socket file was gone: its signal thread must wake the \
         accept loop without the path (shutdown(2) on the listener, a self-pipe or an eventfd \
         in a poll), not by connecting to the socket file"
    );
    let status = server.guard.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "poold should exit 0 after SIGTERM");
}

#[test]
fn a_server_removes_only_the_socket_file_it_created() {
    let server = Server::start("poold-not-mine", &["--workers", "1"]);
    std::fs::remove_file(&server.socket).expect("remove the socket file");
    // Someone else's socket at the same path now: not poold's to remove.
    let theirs = std::os::unix::net::UnixListener::bind(&server.socket).expect("bind");
    server.signal(Signal::SIGTERM);
    let mut server = server;
    let exited = testkit::try_wait_until(DEADLINE, "poold to exit after SIGTERM", || {
        !matches!(server.guard.child().try_wait(), Ok(None))
    })
    .is_ok();
    assert!(exited, "poold did not exit within {DEADLINE:?} of SIGTERM");
    assert!(
        server.socket.exists(),
        "poold removed a socket file it did not create: compare the file's device and inode \
         with those of the one it bound before removing it"
    );
    drop(theirs);
}

#[test]
fn workers_beyond_the_maximum_are_refused() {
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_poold")).args([
            "--socket",
            "/nonexistent/x.sock",
            "--workers",
            "5",
            "--max-workers",
            "3",
        ]),
        DEADLINE,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.starts_with("poold: ") && err.contains("--max-workers"),
        "--workers above --max-workers is a usage error (exit 2): {out:?}"
    );
    // The maximum itself is allowed, at start as at run time.
    let server = Server::start("poold-cap-equal", &["--workers", "3", "--max-workers", "3"]);
    testkit::wait_until(DEADLINE, "3 workers", || server.workers().len() == 3);
    server.stop();
    let server = Server::start("poold-cap", &["--workers", "2", "--max-workers", "3"]);
    testkit::wait_until(DEADLINE, "2 workers", || server.workers().len() == 2);
    for n in ["4", "1000000"] {
        let out = testkit::run_with_deadline(&mut server.poolc(&["workers", n]), DEADLINE);
        let answer = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.code() == Some(1) && answer.starts_with("error ") && answer.contains('3'),
            "`workers {n}` beyond --max-workers 3 should be answered with an error naming the \
             maximum (and poolc exit 1): {out:?}"
        );
    }
    assert_eq!(
        server.workers().len(),
        2,
        "a refused resize must not start workers"
    );
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", "3"]), DEADLINE);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok workers 3");
    server.stop();
    // Without --max-workers the maximum is four per CPU: that many are allowed, a million not.
    let server = Server::start("poold-cap-default", &["--workers", "1"]);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let four_per_cpu = (4 * cpus).to_string();
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", &four_per_cpu]), DEADLINE);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ok workers {four_per_cpu}"),
        "with {cpus} CPUs and no --max-workers, `workers {four_per_cpu}` (four per CPU, the \
         default maximum) should be allowed: {out:?}"
    );
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", "1"]), DEADLINE);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok workers 1");
    testkit::wait_until(DEADLINE, "1 worker", || server.workers().len() == 1);
    let out = testkit::run_with_deadline(&mut server.poolc(&["workers", "1000000"]), DEADLINE);
    assert!(
        out.status.code() == Some(1) && String::from_utf8_lossy(&out.stdout).starts_with("error "),
        "`workers 1000000` must be refused by default, not fork until the process limit: {out:?}"
    );
    assert_eq!(
        server.workers().len(),
        1,
        "a refused resize must not start workers"
    );
    server.stop();
}

#[test]
fn a_request_line_past_the_limit_is_answered_without_buffering_it() {
    let server = Server::start("poold-long", &["--workers", "1"]);
    let mut conn = Conn::open(&server.at);
    let before = status_kib(server.pid(), "VmHWM");
    // 32 MiB without a newline, from a thread: the server must answer long before the end.
    let mut writer = conn.stream.try_clone().expect("clone");
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'"'; 1 << 20];
        writer.write_all(b"5 echo ")?;
        for _ in 0..32 {
            writer.write_all(&chunk)?;
        }
        writer.write_all(b"\n6 echo after\n")
    });
    let answer = conn.answer("a task line of 32 MiB");
    assert!(
        answer.starts_with("5 error ") && answer.contains("long"),
        "a line past the limit should be answered `5 error ... too long`: got {answer:?}"
    );
    let next = conn.answer("the task after the long line");
    assert_eq!(
        next, "6 ok after",
        "after a line that was too long, the next line is a task again"
    );
    feeder.join().expect("feeder").expect("send 32 MiB");
    let grew = status_kib(server.pid(), "VmHWM").saturating_sub(before);
    assert!(
        grew < 16 * 1024,
        "poold's peak memory grew by {grew} KiB for one 32 MiB line: a request line must be \
         bounded, not read whole before it is looked at"
    );
    // The limit itself: a line of exactly 64 KiB (its newline not counted) is a task, one
    // byte more is too long.
    let exact = format!("7 echo {}", "y".repeat(64 * 1024 - "7 echo ".len()));
    conn.send(format!("{exact}\n").as_bytes());
    let answer = conn.answer("a task line of exactly 64 KiB");
    assert!(
        answer.starts_with("7 ok yyy"),
        "a request line of exactly 64 KiB is within the limit and runs: got {:?}",
        &answer[..answer.len().min(60)]
    );
    conn.send(format!("8 echo {}\n", "z".repeat(64 * 1024 - "8 echo ".len() + 1)).as_bytes());
    let answer = conn.answer("a task line of 64 KiB and one byte");
    assert!(
        answer.starts_with("8 error ") && answer.contains("long"),
        "a request line of 64 KiB and one byte is too long: got {:?}",
        &answer[..answer.len().min(60)]
    );
    server.stop();
}

#[test]
fn a_line_that_is_not_utf8_is_answered_and_later_tasks_still_run() {
    let server = Server::start("poold-utf8", &["--workers", "1"]);
    let mut conn = Conn::open(&server.at);
    conn.send(b"1 echo \xff\xfe\n2 echo fine\n");
    let first = conn.answer("a task line that is not UTF-8");
    assert!(
        first.starts_with("1 error ") && first.contains("UTF-8"),
        "a line that is not UTF-8 should be answered `1 error ... UTF-8`, not end the \
         connection: got {first:?}"
    );
    assert_eq!(conn.answer("the task after it"), "2 ok fine");
    // A line that is no request is quoted in its answer, but only its first 200 bytes, cut
    // where a character begins: here byte 200 falls inside an `é`, so 199 bytes are quoted.
    let junk = format!("x{}", "é".repeat(500));
    conn.send(format!("{junk}\n3 echo still\n").as_bytes());
    let answer = conn.lines.next_line(DEADLINE).unwrap_or_else(|| {
        panic!(
            "poold closed the connection instead of answering a line that is not a request: \
             did cutting it to 200 bytes slice inside a character (a panic)? Cut back to a \
             character boundary (str::is_char_boundary)"
        )
    });
    let quoted = &junk[..199];
    assert!(
        answer.starts_with("error ") && answer.contains(&format!("\"{quoted}\"")),
        "a line that is not a request should be answered `error ...` quoting its first 200 \
         bytes, cut back to a character boundary (199 here); got {} bytes: {:?}",
        answer.len(),
        &answer[..answer.len().min(120)]
    );
    assert_eq!(conn.answer("the task after it"), "3 ok still");
    server.stop();
}

#[test]
fn a_client_that_never_reads_does_not_hold_up_shutdown() {
    let server = Server::start("poold-deaf", &["--workers", "1", "--grace", "500"]);
    let stream = testkit::connect_unix(&server.socket, DEADLINE);
    let mut writer = stream.try_clone().expect("clone");
    // 100,000 pipelined tasks and not one answer read: the writes block once the buffers are
    // full, and fail once poold has gone.
    let feeder = std::thread::spawn(move || {
        let tasks: String = (1..=100_000).map(|n| format!("{n} echo {n}\n")).collect();
        let _ = writer.write_all(tasks.as_bytes());
    });
    testkit::wait_until(DEADLINE, "poold to have answered 100 tasks", || {
        server.tasks_done() >= 100
    });
    let rss = status_kib(server.pid(), "VmHWM");
    server.signal(Signal::SIGTERM);
    let mut server = server;
    let exited = testkit::try_wait_until(DEADLINE, "poold to exit after SIGTERM", || {
        !matches!(server.guard.child().try_wait(), Ok(None))
    })
    .is_ok();
    assert!(
        exited,
        "poold did not exit within {DEADLINE:?} of SIGTERM with --grace 500 ms: a client that \
         never reads its answers holds a writer blocked; shutdown must end it after a deadline \
         (shutdown(2) on its socket)"
    );
    let status = server.guard.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "poold should exit 0 after SIGTERM");
    drop(stream);
    feeder.join().expect("feeder");
    assert!(
        rss < 64 * 1024,
        "poold held {rss} KiB for one client that does not read: bound what is queued per client"
    );
}

/// Whether a thread of `pid` named `name` is asleep in a futex (a condition variable or a
/// lock), read from /proc.
fn thread_waits_in_futex(pid: u32, name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let call = std::fs::read_to_string(t.path().join("syscall")).unwrap_or_default();
        comm.trim() == name && call.split(' ').next() == Some(&libc::SYS_futex.to_string())
    })
}

#[test]
fn a_client_that_does_not_read_stops_being_read_at_1024_waiting_answers() {
    let server = Server::start("poold-bound", &["--workers", "2", "--grace", "500"]);
    let stream = testkit::connect_unix(&server.socket, DEADLINE);
    let mut writer = stream.try_clone().expect("clone");
    // 4,000 tasks whose answers are 4 KiB each, and not one answer read: the socket buffers
    // hold a few dozen answers, 1024 more may wait in poold, and then it stops reading.
    let tasks = 4000;
    let feeder = std::thread::spawn(move || {
        let arg = "w".repeat(4096);
        let all: String = (1..=tasks).map(|n| format!("{n} echo {arg}\n")).collect();
        let _ = writer.write_all(all.as_bytes());
    });
    let pid = server.pid();
    // Either poold has read everything (the feeder's write returns), or it has stopped:
    // nothing queued or running in the pool, and the client's reader asleep on a condition
    // variable (waiting for room, or, a moment earlier, for the pool).
    let idle = || {
        let out = testkit::run_with_deadline(&mut server.poolc(&["stats"]), DEADLINE);
        String::from_utf8_lossy(&out.stdout).contains(" queued 0 in_flight 0 ")
    };
    let settled = testkit::try_wait_until(
        DEADLINE * 3,
        "poold to read everything, or to stop reading this client",
        || feeder.is_finished() || (thread_waits_in_futex(pid, "poold-client") && idle()),
    )
    .is_ok();
    let done = server.tasks_done();
    assert!(
        settled && !feeder.is_finished() && done < 1024 + 256,
        "a client that sends {tasks} tasks and reads no answer should stop being read once \
         1024 answers wait for it (plus the few the socket buffers hold), but poold ran {done} \
         of them{}: take a place for each answer before reading the next request, and wait for \
         one while 1024 are taken",
        if feeder.is_finished() {
            " and read every request"
        } else {
            ""
        }
    );
    server.signal(Signal::SIGTERM);
    let mut server = server;
    let status = server.guard.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "poold should exit 0 after SIGTERM");
    drop(stream);
    feeder.join().expect("feeder");
}

#[test]
fn running_out_of_descriptors_does_not_make_the_server_spin() {
    let server = Server::start("poold-emfile", &["--workers", "1"]);
    testkit::wait_until(DEADLINE, "1 worker", || server.workers().len() == 1);
    let pid = server.pid() as libc::pid_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit with a null new limit only writes the current one into `limit`, a valid
    // rlimit; poold is our child, so we may read and set its limits.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit) };
    assert_eq!(rc, 0, "prlimit (read): {}", std::io::Error::last_os_error());
    let saved = limit;
    // The lowest free fd as the limit: the next descriptor poold asks for fails with EMFILE.
    let open: Vec<libc::rlim_t> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list poold's fds")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    limit.rlim_cur = (0..).find(|fd| !open.contains(fd)).expect("a free fd");
    // SAFETY: as above; `limit` is a valid rlimit to read the new limit from.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(
        rc,
        0,
        "prlimit (write): {}",
        std::io::Error::last_os_error()
    );
    let clients: Vec<_> = (0..8)
        .map(|_| testkit::connect_unix(&server.socket, DEADLINE))
        .collect();
    let before = testkit::monitoring::cpu_ticks(pid);
    // Not a wait for an event: the window over which poold's CPU time is measured.
    std::thread::sleep(Duration::from_secs(1));
    let used = testkit::monitoring::cpu_ticks(pid) - before;
    assert!(
        used <= 20,
        "poold used {used} clock ticks of CPU in 1 s with 8 connections it could not accept \
         (EMFILE): poll keeps reporting the listener and accept keeps failing, a busy loop; back \
         off, or keep a spare descriptor to accept and close the connection"
    );
    // SAFETY: as above; restores the limit read at first.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &saved, std::ptr::null_mut()) };
    assert_eq!(
        rc,
        0,
        "prlimit (restore): {}",
        std::io::Error::last_os_error()
    );
    drop(clients);
    let out = testkit::run_with_deadline(&mut server.poolc(&["stats"]), DEADLINE);
    assert!(
        out.status.success(),
        "poold should serve again once descriptors are free: {out:?}"
    );
    server.stop();
}
