//! End-to-end tests of `poold` and `poolc` as binaries: an owner-only socket, pipelined tasks
//! answered one line each, stats and resizing, SIGTERM draining, SIGHUP rolling restarts, and
//! 10,000 tasks from several clients while a killer thread SIGKILLs workers found in /proc.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, mkfifo};
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
        let mut guard = ChildGuard::spawn(
            Command::new(env!("CARGO_BIN_EXE_poold"))
                .arg("--socket")
                .arg(&socket)
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
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

#[test]
fn bad_arguments_and_a_missing_server_are_one_line_errors() {
    let out = testkit::run_with_deadline(&mut Command::new(env!("CARGO_BIN_EXE_poold")), DEADLINE);
    assert_eq!(
        out.status.code(),
        Some(2),
        "poold without --socket should exit 2"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("poold: "),
        "{out:?}"
    );
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_poolc")).args([
            "--socket",
            "/nonexistent/x.sock",
            "stats",
        ]),
        DEADLINE,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "poolc with no server should exit 2"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("poolc: ") && err.contains("connect") && err.lines().count() == 1,
        "{err:?}"
    );
    for args in [
        &["--sock", "/nonexistent/x.sock", "stats"][..],
        &["--socket", "/nonexistent/x.sock", "statistics"],
        &["--socket", "/nonexistent/x.sock", "worker", "3"],
        &["--socket", "/nonexistent/x.sock"],
    ] {
        let out = testkit::run_with_deadline(
            Command::new(env!("CARGO_BIN_EXE_poolc")).args(args),
            DEADLINE,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(2) && err.starts_with("poolc: usage"),
            "poolc {args:?} should print its usage and exit 2: {out:?}"
        );
    }
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
