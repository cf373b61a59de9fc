//! End-to-end tests of `svd` and `svctl` as binaries, with `sv-service` as the supervised
//! program: a crash loop under a capped, jittered backoff and a start limit; a service that
//! ignores SIGTERM; one that daemonizes; a dependency chain started in readiness order and
//! stopped in reverse; a failing health check; a reload that changes one service of three; a
//! refused client; logs and their rotation; metrics read with a Prometheus text parser, checked
//! by `promtool` and scraped by a real Prometheus server where they are installed.
//!
//! Order is observed through events (svd's event lines, the services' logs, svctl's answers),
//! never through clocks. Every test starts svd through [`Svd`], whose guard kills svd and every
//! process of the test (each carries the test's unique temp dir in its command line) also when
//! the test panics; [`Svd::stop`] checks that SIGTERM alone left nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::async_processes::{KillTagged, live_processes_tagged};
use testkit::{ChildGuard, LineReader};

#[path = "../src/shared/reuseport.rs"]
mod reuseport;

const DEADLINE: Duration = Duration::from_secs(30);

fn service() -> &'static str {
    env!("CARGO_BIN_EXE_sv-service")
}

/// A running `svd`. Dropping it kills svd, then every process whose command line carries the
/// test's tag (the services svd would otherwise restart), also when the test panicked.
struct Svd {
    guard: ChildGuard,
    _tagged: KillTagged,
    out: LineReader,
    err: LineReader,
    dir: tempfile::TempDir,
    socket: PathBuf,
    tag: String,
    /// Set once `stop` saw svd stop everything: then there is nothing left to kill.
    stopped: bool,
}

impl Svd {
    /// Writes `config` (where `@DIR` stands for the test's temp dir and `@SV` for sv-service)
    /// and starts svd on it; returns once svd listens.
    fn start(tag: &str, config: &str, extra: &[&str]) -> Svd {
        Svd::start_with(tag, config, extra, |_, _| {})
    }

    /// [`Svd::start`], with `prepare` called on the test's dir and svd's command first (to make
    /// what the services need before they start, or to change how svd runs).
    fn start_with(
        tag: &str,
        config: &str,
        extra: &[&str],
        prepare: impl FnOnce(&Path, &mut Command),
    ) -> Svd {
        let dir = testkit::temp_dir(tag);
        let dir_s = dir.path().to_str().expect("utf-8 temp dir").to_string();
        let tag = dir
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        let socket = dir.path().join("svd.sock");
        std::fs::write(dir.path().join("svd.toml"), expand(config, &dir_s)).expect("write config");
        let tagged = KillTagged(tag.clone());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_svd"));
        cmd.arg("--config")
            .arg(dir.path().join("svd.toml"))
            .arg("--socket")
            .arg(&socket)
            .arg("--log-dir")
            .arg(dir.path().join("logs"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        prepare(dir.path(), &mut cmd);
        let mut guard = ChildGuard::spawn(&mut cmd);
        let mut out = LineReader::new(guard.child().stdout.take().expect("stdout"), "svd stdout");
        let err = LineReader::new(guard.child().stderr.take().expect("stderr"), "svd stderr");
        out.expect("svd: listening on", DEADLINE);
        Svd {
            guard,
            _tagged: tagged,
            out,
            err,
            dir,
            socket,
            tag,
            stopped: false,
        }
    }

    /// The first event line containing `needle`, already seen or still to come.
    #[track_caller]
    fn saw(&mut self, needle: &str) -> String {
        match self.out.seen().iter().find(|l| l.contains(needle)) {
            Some(l) => l.clone(),
            None => self.expect(needle),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn pid(&self) -> u32 {
        self.guard.id()
    }

    /// Waits for svd's next event line containing `needle`.
    #[track_caller]
    fn expect(&mut self, needle: &str) -> String {
        self.out.expect(needle, DEADLINE)
    }

    fn svctl(&self, args: &[&str]) -> Output {
        testkit::run_with_deadline(
            Command::new(env!("CARGO_BIN_EXE_svctl"))
                .arg("--socket")
                .arg(&self.socket)
                .args(args),
            DEADLINE,
        )
    }

    /// `svctl status` as rows of words; panics unless it succeeds.
    #[track_caller]
    fn status(&self) -> Vec<Vec<String>> {
        let out = self.svctl(&["status"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "svctl status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    }

    /// The status row of `name`.
    #[track_caller]
    fn row(&self, name: &str) -> Vec<String> {
        let rows = self.status();
        rows.iter()
            .find(|r| r.first().map(String::as_str) == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("svctl status has no line for {name}: {rows:?}"))
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid() as i32), sig).expect("signal svd");
    }

    /// SIGTERM, then checks svd exits 0 and leaves no process, no socket file.
    #[track_caller]
    fn stop(mut self) -> Vec<String> {
        self.signal(Signal::SIGTERM);
        let rest = self.out.rest(DEADLINE);
        let status = self.guard.wait(DEADLINE);
        assert_eq!(
            status.code(),
            Some(0),
            "svd should exit 0 once every service is stopped; it ended {}; stderr: {:?}",
            testkit::describe_status(status),
            self.err.rest(Duration::from_secs(1))
        );
        let left = live_processes_tagged(&self.tag);
        assert!(
            left.is_empty(),
            "after SIGTERM to svd, no process of its services may be left; found {:?}",
            left.iter()
                .map(|&p| (p, testkit::proc_cmdline(p)))
                .collect::<Vec<_>>()
        );
        self.stopped = true;
        assert!(
            !self.socket.exists(),
            "svd should remove its control socket on exit"
        );
        rest
    }
}

impl Drop for Svd {
    /// svd first (SIGKILL: it must not restart what is killed next), then the process group of
    /// every service it started; the fields' own guards then kill what carries the test's tag.
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        if let Ok(None) = self.guard.child().try_wait() {
            let _ = self.guard.child().kill();
            let _ = self.guard.child().wait();
        }
        for line in self.out.seen() {
            if line.contains(" started pid ") {
                let _ =
                    nix::sys::signal::killpg(Pid::from_raw(pid_in(line) as i32), Signal::SIGKILL);
            }
        }
    }
}

fn expand(config: &str, dir: &str) -> String {
    config.replace("@DIR", dir).replace("@SV", service())
}

/// The position of the first line containing `needle`, or a panic that shows them all.
#[track_caller]
fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line containing {needle:?} in:\n{}", lines.join("\n")))
}

#[track_caller]
fn assert_in_order(lines: &[String], needles: &[&str]) {
    let at: Vec<usize> = needles.iter().map(|n| position(lines, n)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "expected these events in this order: {needles:?}; svd said:\n{}",
        lines.join("\n")
    );
}

fn pid_in(line: &str) -> u32 {
    line.rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid at the end of {line:?}"))
}

#[test]
fn a_crash_loop_backs_off_exponentially_with_jitter_up_to_the_cap_then_fails_at_the_start_limit() {
    let mut svd = Svd::start(
        "svd-crash",
        r#"
[service.crash]
command = ["@SV", "exit", "3", "@DIR"]
restart = "on-failure"
backoff = { initial_ms = 40, factor = 2.0, max_ms = 160, jitter = 0.25 }
start_limit = { burst = 6, interval_s = 300 }
"#,
        &[],
    );
    let expected = [40.0, 80.0, 160.0, 160.0, 160.0];
    let mut delays = Vec::new();
    for _ in expected {
        let line = svd.expect("crash backoff ");
        let ms: f64 = line
            .trim_end_matches("ms")
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("cannot read a delay in {line:?}"));
        delays.push(ms);
    }
    for (got, base) in delays.iter().zip(expected) {
        assert!(
            *got >= base * 0.75 - 1.0 && *got <= base * 1.25 + 1.0,
            "the delays should double from 40 ms up to the 160 ms cap, each within the 25% jitter; got {delays:?} for {expected:?}"
        );
    }
    assert_ne!(
        delays,
        expected.to_vec(),
        "jitter should move the delays off the exact powers of two (many services crashing together must not restart in lockstep)"
    );
    svd.expect("crash failed");
    let row = svd.row("crash");
    assert_eq!(
        row[1], "failed",
        "after 6 deaths within 300 s the service is failed: {row:?}"
    );
    assert_eq!(
        row[4], "5",
        "5 restarts before the 6th death hit the limit: {row:?}"
    );
    assert_eq!(row[5], "exit=3", "the last exit is shown: {row:?}");
    // A failed service stays down until started by hand, which forgets its past deaths.
    let out = svd.svctl(&["start", "crash"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "svctl start answers once the service runs"
    );
    svd.expect("crash started pid");
    let line = svd.expect("crash backoff ");
    assert!(
        line.ends_with("ms") && !line.contains("backoff 1"),
        "after a manual start the backoff begins at 40 ms again: {line}"
    );
    svd.stop();
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_at_the_stop_timeout() {
    let mut svd = Svd::start(
        "svd-stubborn",
        r#"
[service.stubborn]
command = ["@SV", "run", "--tag", "@DIR", "--ignore-term", "--ready"]
ready = "notify"
stop_timeout_s = 0.5
"#,
        &[],
    );
    let pid = pid_in(&svd.expect("stubborn started pid"));
    svd.expect("stubborn ready");
    let out = svd.svctl(&["stop", "stubborn"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "svctl stop should answer once the service is down; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("stubborn stopped"));
    svd.expect("stubborn did not stop within 0.5s: SIGKILL");
    svd.expect("stubborn exited signal=KILL");
    assert!(
        testkit::async_processes::is_dead(pid),
        "the service should be dead once svctl stop answered"
    );
    assert_eq!(svd.row("stubborn")[1], "stopped");
    svd.stop();
}

#[test]
fn a_service_that_daemonizes_is_still_tracked_and_stopped() {
    let mut svd = Svd::start(
        "svd-daemon",
        r#"
[service.daemon]
command = ["@SV", "daemonize", "@DIR/daemon.pid"]
restart = "never"
"#,
        &[],
    );
    let line = svd.expect("daemon main process exited exit=0; tracking pid");
    let tracked = pid_in(&line);
    let written = testkit::async_processes::read_pid_file(&svd.path("daemon.pid"), DEADLINE);
    assert_eq!(
        tracked, written,
        "svd should track the daemon the launcher left behind"
    );
    assert_eq!(
        testkit::proc_ppid(written),
        Some(svd.pid()),
        "the daemon's parent died: as a child subreaper svd became its parent"
    );
    let row = svd.row("daemon");
    assert_eq!(
        (row[1].as_str(), row[2].as_str()),
        ("running", written.to_string().as_str()),
        "{row:?}"
    );
    let events = svd.stop();
    assert_in_order(
        &events,
        &[
            "daemon stopping",
            "daemon exited signal=TERM",
            "daemon stopped",
        ],
    );
    assert!(
        testkit::async_processes::is_dead(written),
        "the daemon must be stopped with the rest"
    );
}

#[test]
fn a_dependency_chain_starts_in_readiness_order_and_stops_in_reverse() {
    let mut svd = Svd::start_with(
        "svd-chain",
        r#"
[service.db]
command = ["@SV", "run", "--tag", "@DIR", "--gate", "@DIR/db.gate", "--ready"]
ready = "notify"

[service.api]
command = ["@SV", "run", "--tag", "@DIR", "--gate", "@DIR/api.gate", "--ready"]
ready = "notify"
depends_on = { db = "ready" }

[service.web]
command = ["@SV", "run", "--tag", "@DIR", "--say", "web up"]
depends_on = { api = "ready" }
"#,
        &[],
        |dir, _| {
            for gate in ["db.gate", "api.gate"] {
                make_gate(&dir.join(gate));
            }
        },
    );
    svd.expect("db started pid");
    // db cannot be ready before its gate opens: api and web must still be waiting.
    let rows = svd.status();
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        states,
        [("db", "starting"), ("api", "stopped"), ("web", "stopped")],
        "api depends on db being ready: it must not start while db is only starting"
    );
    open_gate(&svd.path("db.gate"));
    svd.expect("api started pid");
    assert_eq!(
        svd.row("web")[1],
        "stopped",
        "web waits for api to be ready"
    );
    open_gate(&svd.path("api.gate"));
    svd.expect("web started pid");
    let started: Vec<String> = svd.out.seen().to_vec();
    assert_in_order(
        &started,
        &[
            "db started",
            "db ready",
            "api started",
            "api ready",
            "web started",
        ],
    );
    let events = svd.stop();
    assert_in_order(
        &events,
        &[
            "web stopping",
            "web stopped",
            "api stopping",
            "api stopped",
            "db stopping",
            "db stopped",
        ],
    );
}

/// The FIFO a service started with `--gate` blocks on until [`open_gate`].
fn make_gate(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

/// Opens a FIFO for writing and closes it: the service blocked reading it sees EOF and goes on.
/// Non-blocking, so that a service that never comes to its gate fails the test at the deadline
/// instead of hanging it: such an open fails (ENXIO) until a reader has the FIFO open.
fn open_gate(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    testkit::wait_until(DEADLINE, "the service to wait at its gate FIFO", || {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .is_ok()
    });
}

#[test]
fn a_failing_health_check_restarts_the_service() {
    let mut svd = Svd::start(
        "svd-health",
        r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR"]
health = { exec = ["/bin/sh", "-c", "test ! -e @DIR/sick"], interval_s = 0.1, threshold = 2 }
"#,
        &[],
    );
    let first = pid_in(&svd.expect("app started pid"));
    std::fs::write(svd.path("sick"), "").expect("make the check fail");
    svd.expect("app health check failed (1/2)");
    svd.expect("app health check failed (2/2)");
    svd.expect("app unhealthy: restarting");
    std::fs::remove_file(svd.path("sick")).expect("heal");
    svd.expect("app stopped");
    let second = pid_in(&svd.expect("app started pid"));
    assert_ne!(first, second, "the restart runs a new process");
    assert!(
        testkit::async_processes::is_dead(first),
        "the unhealthy process was stopped"
    );
    let row = svd.row("app");
    assert!(
        row[4].parse::<u32>().is_ok_and(|n| n >= 1),
        "the restart is counted: {row:?}"
    );
    svd.stop();
}

/// A port this test holds until it ends (see `reuseport.rs`), and its number.
fn reserve_port() -> (std::os::fd::OwnedFd, u16) {
    let fd = reuseport::bind_reuseport(std::net::SocketAddrV4::new([127, 0, 0, 1].into(), 0))
        .expect("bind 127.0.0.1:0 with SO_REUSEPORT");
    let bound = rustix::net::getsockname(&fd).expect("getsockname");
    let port = std::net::SocketAddrV4::try_from(bound)
        .expect("an IPv4 address")
        .port();
    (fd, port)
}

#[test]
fn a_service_that_stops_answering_its_connect_health_check_is_restarted() {
    // The service accepts three connections (three checks that pass), then closes its listener
    // and stays alive: a hung service, which only a health check can tell from a working one.
    let (_port, port) = reserve_port();
    let mut svd = Svd::start(
        "svd-health-connect",
        &format!(
            r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR", "--listen", "127.0.0.1:{port}", "3", "--announce", "@DIR/hung"]
health = {{ connect = "127.0.0.1:{port}", interval_s = 0.1, threshold = 2 }}
"#
        ),
        &[],
    );
    let first = pid_in(&svd.expect("app started pid"));
    svd.expect("app health check failed (1/2)");
    svd.expect("app health check failed (2/2)");
    svd.expect("app unhealthy: restarting");
    // Only a process that saw three checks connect gets this far: the checks that found the
    // listener passed, and the failures are the ones after it closed.
    // The first line: by now a later process may have got as far and written its own.
    let hung_file = svd.path("hung");
    let mut hung = None;
    testkit::wait_until(
        DEADLINE,
        "the first process's pid in the `hung` file",
        || {
            hung = std::fs::read_to_string(&hung_file)
                .ok()
                .and_then(|s| s.split_once('\n')?.0.parse::<u32>().ok());
            hung.is_some()
        },
    );
    assert_eq!(
        hung,
        Some(first),
        "the first process should have accepted three checks before the first failure"
    );
    let lines = svd.out.seen().to_vec();
    let restarting = position(&lines, "app unhealthy: restarting");
    assert!(
        !lines[..restarting].iter().any(|l| l.contains("app exited")),
        "the service stayed alive until svd restarted it:\n{}",
        lines.join("\n")
    );
    svd.expect("app stopped");
    let second = pid_in(&svd.expect("app started pid"));
    assert_ne!(first, second, "the restart runs a new process");
    assert!(
        testkit::async_processes::is_dead(first),
        "the unhealthy process was stopped"
    );
    svd.stop();
}

#[test]
fn a_health_check_that_hangs_is_killed_at_its_timeout_reaped_and_counted_as_a_failure() {
    // The check never exits by itself: only svd, at `timeout_s`, can end it.
    let mut svd = Svd::start(
        "svd-health-hang",
        r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR"]
health = { exec = ["@SV", "run", "--tag", "@DIR", "--announce", "@DIR/checks"], interval_s = 0.1, timeout_s = 0.5, threshold = 2 }
"#,
        &[],
    );
    let first = pid_in(&svd.expect("app started pid"));
    svd.expect("app health check failed (1/2)");
    svd.expect("app health check failed (2/2)");
    svd.expect("app unhealthy: restarting");
    svd.expect("app stopped");
    let second = pid_in(&svd.expect("app started pid"));
    assert_ne!(first, second, "the restart runs a new process");
    // No check may hang on once the service is stopped, and svd, their parent, reaps each one:
    // a check killed but not waited for would stay in /proc as a zombie.
    let out = svd.svctl(&["stop", "app"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "svctl stop app: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let others = || {
        live_processes_tagged(&svd.tag)
            .into_iter()
            .filter(|&p| p != svd.pid())
            .collect::<Vec<_>>()
    };
    if let Err(msg) = testkit::try_wait_until(DEADLINE, "every hung health check killed", || {
        others().is_empty()
    }) {
        let left: Vec<_> = others()
            .into_iter()
            .map(|p| (p, testkit::proc_cmdline(p)))
            .collect();
        panic!(
            "{msg}: still running {left:?}; svd said:\n{}",
            svd.out.seen().join("\n")
        );
    }
    let checks = std::fs::read_to_string(svd.path("checks")).unwrap_or_default();
    let pids: Vec<u32> = checks.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(
        !pids.is_empty(),
        "no health check got as far as writing its pid"
    );
    testkit::wait_until(DEADLINE, "every health check reaped by svd", || {
        pids.iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())
    });
    svd.stop();
}

#[test]
fn health_checks_begin_once_the_service_is_ready_and_go_on_after_a_slow_start() {
    // app stays `starting` until its gate opens, for longer than its check interval: the
    // `clock` service's passing checks, every 0.1 s, tell the test that svd's timers have run
    // past app's first interval. Once app is ready its checks must run, and keep running.
    let mut svd = Svd::start_with(
        "svd-health-slow-start",
        r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR", "--gate", "@DIR/gate", "--ready"]
ready = "notify"
health = { exec = ["/bin/sh", "-c", "echo $$ >> @DIR/app-checks; exit 1"], interval_s = 0.1, threshold = 2 }

[service.clock]
command = ["@SV", "run", "--tag", "@DIR"]
health = { exec = ["/bin/sh", "-c", "echo $$ >> @DIR/ticks"], interval_s = 0.1 }
"#,
        &[],
        |dir, _| make_gate(&dir.join("gate")),
    );
    svd.saw("app started pid");
    svd.saw("clock started pid");
    let ticks = svd.path("ticks");
    testkit::wait_until(DEADLINE, "three checks of clock", || {
        std::fs::read_to_string(&ticks).is_ok_and(|t| t.lines().count() >= 3)
    });
    assert_eq!(svd.row("app")[1], "starting", "app waits for its gate");
    assert!(
        !svd.path("app-checks").exists(),
        "a liveness check must not run before the service is ready; svd said:\n{}",
        svd.out.seen().join("\n")
    );
    open_gate(&svd.path("gate"));
    svd.expect("app ready");
    svd.expect("app health check failed (1/2)");
    svd.expect("app health check failed (2/2)");
    svd.expect("app unhealthy: restarting");
    svd.stop();
}

/// The pid on the first line of `path`, once a health check wrote it there.
fn first_check_pid(path: &Path) -> u32 {
    let mut pid = None;
    testkit::wait_until(DEADLINE, "a health check in flight", || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_once('\n')?.0.parse::<u32>().ok());
        pid.is_some()
    });
    pid.expect("a pid")
}

/// A service whose health check hangs far longer than any test runs: only svd can end it.
const HUNG_CHECK: &str = r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR"]
health = { exec = ["@SV", "run", "--tag", "@DIR", "--announce", "@DIR/checks"], interval_s = 0.1, timeout_s = 3600 }
"#;

#[test]
fn a_health_check_in_flight_is_killed_and_reaped_when_its_service_stops() {
    let mut svd = Svd::start("svd-health-stop", HUNG_CHECK, &[]);
    svd.expect("app started pid");
    let check = first_check_pid(&svd.path("checks"));
    let out = svd.svctl(&["stop", "app"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "svctl stop app: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Gone from /proc: killed, and reaped by svd, its parent (a zombie keeps its entry).
    if let Err(msg) = testkit::try_wait_until(DEADLINE, "the check gone from /proc", || {
        !Path::new(&format!("/proc/{check}")).exists()
    }) {
        panic!(
            "{msg}: the health check {check} in flight when its service stopped must be killed \
             and reaped by svd; it is {:?} ({:?}); svd said:\n{}",
            testkit::proc_state(check),
            testkit::proc_cmdline(check),
            svd.out.seen().join("\n")
        );
    }
    svd.stop();
}

#[test]
fn a_health_check_in_flight_is_killed_and_reaped_when_svd_exits() {
    let mut svd = Svd::start("svd-health-exit", HUNG_CHECK, &[]);
    svd.expect("app started pid");
    let check = first_check_pid(&svd.path("checks"));
    // `stop` checks that no process carrying the test's tag is left once svd has exited.
    svd.stop();
    assert!(
        !Path::new(&format!("/proc/{check}")).exists(),
        "svd must kill and reap the check {check} before it exits"
    );
}

/// The local ports of the sockets in SYN_SENT towards 127.0.0.1:`port` (from /proc/net/tcp).
fn syn_sent_to(port: u16) -> Vec<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 3 && f[2] == remote && f[3] == "02")
                .then(|| u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok())
                .flatten()
        })
        .collect()
}

#[test]
fn a_connect_health_check_waits_for_its_timeout_inside_the_loop_without_blocking_it() {
    // A listener whose backlog (0: one connection queued) is full: the kernel drops the next
    // SYN and the client retransmits it, so a connect stays in progress until the test
    // accepts. A check that gave up early, or blocked svd while it waited, would fail here.
    use rustix::net::{AddressFamily, SocketType, ipproto};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, Some(ipproto::TCP))
        .expect("socket");
    rustix::net::bind(&fd, &std::net::SocketAddrV4::new([127, 0, 0, 1].into(), 0)).expect("bind");
    rustix::net::listen(&fd, 0).expect("listen with a backlog of 0");
    let listener = std::net::TcpListener::from(fd);
    let port = listener.local_addr().expect("local address").port();
    let filler = TcpStream::connect(("127.0.0.1", port)).expect("fill the backlog");
    let mut svd = Svd::start(
        "svd-health-pending",
        &format!(
            r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR"]
health = {{ connect = "127.0.0.1:{port}", interval_s = 0.1, timeout_s = 25, threshold = 1 }}
"#
        ),
        &[],
    );
    svd.expect("app started pid");
    let mut pending = Vec::new();
    testkit::wait_until(DEADLINE, "svd's check connecting (SYN_SENT)", || {
        pending = syn_sent_to(port);
        !pending.is_empty()
    });
    // svd still serves its clients while the check waits.
    assert_eq!(
        svd.row("app")[1],
        "running",
        "svctl status while a check is pending"
    );
    drop(listener.accept().expect("accept the filler"));
    drop(filler);
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let mut peer = None;
    testkit::wait_until(DEADLINE, "svd's check to get through", || {
        peer = listener.accept().ok().map(|(_, a)| a.port());
        peer.is_some()
    });
    let peer = peer.expect("a peer");
    assert!(
        pending.contains(&peer),
        "the check in progress (local port {pending:?}) should have waited for the backlog to \
         drain within its timeout_s, and got through; the connection came from port {peer}; \
         svd said:\n{}",
        svd.out.seen().join("\n")
    );
    let row = svd.row("app");
    assert_eq!(
        row[4],
        "0",
        "a check that got through within its timeout is no failure: {row:?}; svd said:\n{}",
        svd.out.seen().join("\n")
    );
    svd.stop();
}

const THREE: &str = r#"
[service.x]
command = ["@SV", "run", "--tag", "@DIR", "--say", "x"]

[service.y]
command = ["@SV", "run", "--tag", "@DIR", "--say", "VERSION"]

[service.z]
command = ["@SV", "run", "--tag", "@DIR", "--say", "z"]
"#;

#[test]
fn a_reload_restarts_only_the_changed_service_and_a_bad_config_keeps_the_old_one() {
    let mut svd = Svd::start("svd-reload", &THREE.replace("VERSION", "v1"), &[]);
    svd.expect("z started pid");
    let before = svd.status();
    let dir = svd.dir.path().to_str().expect("utf-8").to_string();
    let config = svd.path("svd.toml");
    std::fs::write(&config, expand(&THREE.replace("VERSION", "v2"), &dir)).expect("write");
    svd.signal(Signal::SIGHUP);
    let summary = svd.expect("reloaded:");
    assert!(
        summary.contains("restarted [y]")
            && summary.contains("new []")
            && summary.contains("removed []"),
        "{summary}"
    );
    svd.expect("y stopped");
    svd.expect("y started pid");
    let after = svd.status();
    for (b, a) in before.iter().zip(&after) {
        if b[0] == "y" {
            assert_ne!(b[2], a[2], "the changed service runs a new process");
        } else {
            assert_eq!(
                b[2], a[2],
                "an unchanged service must be left alone by a reload: {b:?} then {a:?}"
            );
        }
    }
    // A broken config is refused with its line, and everything keeps running.
    std::fs::write(&config, "[service.x]\ncommand = [\"true\"]\nbogus = 1\n").expect("write");
    let out = svd.svctl(&["reload"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "svctl reload of a bad config fails"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("svd.toml:3:") && err.contains("bogus"),
        "the error names the file, the line and the key: {err}"
    );
    // Everything but the uptime, which moves on, is as it was before the refused reload.
    let without_uptime = |rows: Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.into_iter()
            .map(|mut r| {
                r.remove(3);
                r
            })
            .collect()
    };
    assert_eq!(
        without_uptime(svd.status()),
        without_uptime(after),
        "a refused reload changes nothing"
    );
    svd.stop();
}

#[test]
fn a_client_of_another_uid_is_refused() {
    let other = (nix::unistd::getuid().as_raw() + 1).to_string();
    let mut svd = Svd::start("svd-uid", "", &["--allow-uid", &other]);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&svd.socket)
            .expect("socket")
            .permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "the control socket is owner-only from the start"
    );
    let out = svd.svctl(&["status"]);
    assert_eq!(out.status.code(), Some(1), "a refused client exits 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("permission denied")
            && err.contains(&format!("uid {} may not", nix::unistd::getuid())),
        "{err}"
    );
    svd.expect("refused a control connection from uid");
    svd.stop();
}

#[test]
fn sigterm_to_svd_stops_every_kind_of_service_and_leaves_no_process() {
    let mut svd = Svd::start(
        "svd-all",
        r#"
[service.base]
command = ["@SV", "run", "--tag", "@DIR", "--ready"]
ready = "notify"

[service.stubborn]
command = ["@SV", "run", "--tag", "@DIR", "--ignore-term", "--ready"]
ready = "notify"
stop_timeout_s = 0.5
depends_on = { base = "ready" }

[service.daemon]
command = ["@SV", "daemonize", "@DIR/daemon.pid"]
depends_on = { base = "started" }

[service.waiting]
command = ["@SV", "exit", "1", "@DIR"]
backoff = { initial_ms = 60000, max_ms = 60000 }
"#,
        &[],
    );
    svd.saw("waiting backoff");
    svd.saw("stubborn ready");
    let daemon = testkit::async_processes::read_pid_file(&svd.path("daemon.pid"), DEADLINE);
    testkit::wait_until(DEADLINE, "svd to track the daemon", || {
        svd.row("daemon")[2] == daemon.to_string()
    });
    let events = svd.stop();
    assert_in_order(
        &events,
        &[
            "stubborn stopping",
            "stubborn did not stop",
            "stubborn stopped",
            "base stopping",
        ],
    );
    assert!(events.iter().any(|l| l.contains("waiting stopped")));
    assert!(events.iter().any(|l| l.contains("daemon stopped")));
}

#[test]
fn logs_are_timestamped_rotated_without_losing_a_line_and_followed() {
    let mut svd = Svd::start(
        "svd-logs",
        r#"
[service.chatty]
command = ["@SV", "run", "--tag", "@DIR", "--lines", "300", "--say", "done"]
log = { max_bytes = 4000, files = 10 }
"#,
        &[],
    );
    svd.expect("chatty started pid");
    let mut follow = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_svctl"))
            .arg("--socket")
            .arg(&svd.socket)
            .args(["logs", "chatty", "-f"])
            .stdout(Stdio::piped()),
    );
    let mut followed = LineReader::new(
        follow.child().stdout.take().expect("stdout"),
        "svctl logs -f",
    );
    followed.expect("done (stderr)", DEADLINE);
    let out = svd.svctl(&["logs", "chatty"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let numbered: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" stdout line "))
        .collect();
    assert_eq!(
        numbered.len(),
        300,
        "every line, once, across the rotated files:\n{text}"
    );
    for (i, l) in numbered.iter().enumerate() {
        let (stamp, rest) = l.split_once(' ').expect("a timestamp first");
        assert!(
            stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "an RFC 3339 UTC timestamp: {l:?}"
        );
        assert_eq!(
            rest,
            format!("stdout line {} of 300", i + 1),
            "lines in order and whole"
        );
    }
    let logs = svd.path("logs");
    assert!(
        logs.join("chatty.log.1").exists(),
        "30 kB in 4 kB files must rotate"
    );
    for entry in std::fs::read_dir(&logs).expect("log dir").flatten() {
        let len = entry.metadata().expect("metadata").len();
        assert!(
            len <= 4000,
            "{} is {len} bytes, over max_bytes",
            entry.path().display()
        );
    }
    // A follower sees new lines as they come: a restart prints `done` again.
    let out = svd.svctl(&["restart", "chatty"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    followed.expect("line 300 of 300", DEADLINE);
    followed.expect("done", DEADLINE);
    drop(follow);
    svd.stop();
}

#[test]
fn svctl_reports_usage_errors_unknown_services_and_an_absent_svd_with_distinct_statuses() {
    let mut svd = Svd::start(
        "svd-cli",
        "[service.a]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\"]\n",
        &[],
    );
    svd.expect("a started pid");
    let out = svd.svctl(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "a usage error exits 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: svctl"));
    let out = svd.svctl(&["stop", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "an error svd answered exits 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no service named nosuch"));
    let row = svd.row("a");
    assert_eq!(
        row.len(),
        6,
        "NAME STATE PID UPTIME RESTARTS LAST_EXIT: {row:?}"
    );
    assert_eq!(row[1], "running");
    let gone = svd.path("nothing.sock");
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_svctl"))
            .arg("--socket")
            .arg(&gone)
            .arg("status"),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(2), "no svd there: exit 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach svd"));
    svd.stop();
}

#[test]
fn a_bad_config_is_refused_with_file_line_and_reason_and_nothing_starts() {
    let cases = [
        (
            "[service.a]\ncommand = [\"true\"]\nrestart = \"sometimes\"\n",
            ":3:",
            "sometimes",
        ),
        (
            "[service.a]\ncommand = [\"true\"]\n\n[service.b]\ncommand = [\"true\"]\ndepends_on = { c = \"ready\" }\n",
            ":6:",
            "depends on `c`",
        ),
        (
            "[service.a]\ncommand = [\"true\"]\ndepends_on = { b = \"started\" }\n[service.b]\ncommand = [\"true\"]\ndepends_on = { a = \"started\" }\n",
            ":",
            "cycle",
        ),
        (
            "[service.a]\ncommand = [\"true\"]\nstop_signal = \"SIGNOPE\"\n",
            ":3:",
            "SIGNOPE",
        ),
    ];
    for (config, line, reason) in cases {
        let dir = testkit::temp_dir("svd-bad");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, config).expect("write");
        let socket = dir.path().join("svd.sock");
        let out = testkit::run_with_deadline(
            Command::new(env!("CARGO_BIN_EXE_svd"))
                .arg("--config")
                .arg(&path)
                .arg("--socket")
                .arg(&socket)
                .arg("--log-dir")
                .arg(dir.path().join("logs")),
            DEADLINE,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "a bad config exits 2; stderr {err}"
        );
        assert!(
            err.lines().count() == 1
                && err.contains(&format!("bad.toml{line}"))
                && err.contains(reason),
            "one line naming the file, the line and the reason ({line} {reason}); got {err:?} for:\n{config}"
        );
        assert!(
            !socket.exists(),
            "nothing starts: not even the control socket"
        );
    }
}

/// The body of one `GET /metrics`.
fn scrape(addr: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

/// The address of svd's metrics endpoint, which it announces before it listens on its socket
/// (so the line has been seen once `Svd::start` returns).
fn metrics_addr(svd: &Svd) -> String {
    svd.out
        .seen()
        .iter()
        .find_map(|l| l.strip_prefix("svd: metrics on http://"))
        .and_then(|a| a.strip_suffix("/metrics"))
        .expect("svd: metrics on ...")
        .to_string()
}

fn metrics_svd(tag: &str) -> (Svd, String) {
    let mut svd = Svd::start(
        tag,
        r#"
[service.ok]
command = ["@SV", "run", "--tag", "@DIR", "--ready"]
ready = "notify"

[service.crash]
command = ["@SV", "exit", "1", "@DIR"]
backoff = { initial_ms = 1, max_ms = 1 }
start_limit = { burst = 3, interval_s = 300 }
"#,
        &["--metrics", "127.0.0.1:0"],
    );
    let addr = metrics_addr(&svd);
    svd.saw("crash failed");
    svd.saw("ok ready");
    (svd, addr)
}

#[test]
fn metrics_are_in_the_prometheus_text_format_and_follow_the_services() {
    let (svd, addr) = metrics_svd("svd-metrics");
    let (head, body) = scrape(&addr);
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("parse the exposition");
    let value = |metric: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no sample {metric} {labels:?} in:\n{body}"));
        match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => panic!("no summaries here"),
        }
    };
    let check = |metric: &str, labels: &[(&str, &str)], want: f64, why: &str| {
        let got = value(metric, labels);
        assert_eq!(
            got, want,
            "{metric} {labels:?}: {why}; the exposition:\n{body}"
        );
    };
    check("svd_service_up", &[("service", "ok")], 1.0, "");
    check("svd_service_up", &[("service", "crash")], 0.0, "");
    check(
        "svd_service_restarts_total",
        &[("service", "crash")],
        2.0,
        "3 deaths, 2 restarts",
    );
    check(
        "svd_service_state",
        &[("service", "crash"), ("state", "failed")],
        1.0,
        "",
    );
    check(
        "svd_service_state",
        &[("service", "ok"), ("state", "ready")],
        1.0,
        "",
    );
    check(
        "svd_service_state",
        &[("service", "ok"), ("state", "starting")],
        0.0,
        "",
    );
    check(
        "svd_service_backoff_seconds",
        &[("service", "crash")],
        0.0,
        "a failed service waits for no restart",
    );
    check(
        "svd_service_start_to_ready_seconds",
        &[("service", "ok")],
        1.0,
        "one start, one readiness observed",
    );
    // Anything else is not found (another path) or not allowed (another method).
    for (request, status) in [("GET /other", " 404 "), ("POST /metrics", " 405 ")] {
        let mut s = TcpStream::connect(&addr).expect("connect to the metrics endpoint");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        write!(s, "{request} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        let head = text.lines().next().unwrap_or_default();
        assert!(
            head.starts_with("HTTP/1.") && head.contains(status),
            "`{request}` should be answered{status}(only GET or HEAD of /metrics is served); got \
             {head:?}"
        );
    }
    svd.stop();
}

#[test]
fn promtool_accepts_the_metrics() {
    // svd first, so that the test fails on an unsolved svd even where the tool is missing.
    let (svd, addr) = metrics_svd("svd-promtool");
    let (_, body) = scrape(&addr);
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!(
            "skipped: promtool is not installed (Debian package `prometheus`; .ci/run installs it)"
        );
        svd.stop();
        return;
    }
    let mut child = ChildGuard::spawn(
        Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child
        .child()
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.into_inner().wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics rejected the exposition: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    svd.stop();
}

#[test]
fn a_real_prometheus_server_scrapes_svd() {
    // svd first, so that the test fails on an unsolved svd even where the tool is missing.
    let (svd, addr) = metrics_svd("svd-prometheus");
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "skipped: prometheus is not installed (Debian package `prometheus`; .ci/run installs it)"
        );
        svd.stop();
        return;
    }
    let web = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("addr").to_string()
    };
    let dir = svd.dir.path();
    let conf = dir.join("prometheus.yml");
    std::fs::write(
        &conf,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: svd\n    static_configs:\n      - targets: ['{addr}']\n"),
    )
    .expect("write prometheus.yml");
    let mut server = ChildGuard::spawn(
        Command::new("prometheus")
            .arg(format!("--config.file={}", conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let log = LineReader::new(server.child().stderr.take().expect("stderr"), "prometheus");
    let query = |q: &str| -> Option<String> {
        let mut s = TcpStream::connect(&web).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET /api/v1/query?query={q} HTTP/1.0\r\nHost: {web}\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        Some(text)
    };
    // Prometheus gives no event for "scraped": poll its query API with a deadline.
    let mut last = None;
    let scraped = testkit::try_wait_until(
        Duration::from_secs(90),
        "Prometheus to have scraped svd",
        || {
            last = query("svd_service_up");
            last.as_deref()
                .is_some_and(|t| t.contains("\"service\":\"ok\""))
        },
    );
    kill(Pid::from_raw(server.id() as i32), Signal::SIGTERM).expect("stop prometheus");
    let status = server.wait(DEADLINE);
    assert!(
        scraped.is_ok(),
        "Prometheus never reported svd_service_up; last answer {last:?}; its log:\n{}",
        log.seen().join("\n")
    );
    assert!(
        status.success() || status.code().is_some(),
        "prometheus ended {status:?}"
    );
    svd.stop();
}

#[test]
fn the_example_config_runs_as_the_chapter_shows() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/svd.toml");
    let text = std::fs::read_to_string(&example).expect("docs/examples/svd.toml");
    let mut svd = Svd::start("svd-example", &text, &[]);
    svd.saw("db started pid");
    svd.saw("web started pid");
    svd.saw("hello exited exit=0");
    svd.saw("flaky backoff");
    let rows = svd.status();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        ["db", "flaky", "hello", "web"],
        "svctl status lists the example's services in start order"
    );
    let out = svd.svctl(&["logs", "hello"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("stdout hello from hello"));
    let events = svd.stop();
    assert_in_order(&events, &["web stopped", "db stopping"]);
}

/// `svctl status` rows by name.
#[track_caller]
fn row_of<'a>(rows: &'a [Vec<String>], name: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("svctl status has no line for {name}: {rows:?}"))
}

#[test]
fn a_service_that_exits_is_restarted_only_as_its_policy_says_and_status_shows_it() {
    let mut svd = Svd::start(
        "svd-policy",
        r#"
[service.up]
command = ["@SV", "run", "--tag", "@DIR", "--ready"]
ready = "notify"
health = { exec = ["/bin/sh", "-c", "exit 1"], interval_s = 3600, threshold = 1 }

[service.once]
command = ["/bin/sh", "-c", "echo notify=${NOTIFY_SOCKET:-none}", "@DIR"]
restart = "never"

[service.clean]
command = ["@SV", "exit", "0", "@DIR"]
restart = "on-failure"

[service.slow]
command = ["@SV", "exit", "1", "@DIR"]
restart = "always"
backoff = { initial_ms = 60000, max_ms = 60000 }
"#,
        &[],
    );
    svd.saw("up ready");
    svd.saw("once exited exit=0");
    svd.saw("clean exited exit=0");
    svd.saw("slow backoff ");
    // Each death is handled in the turn of svd's loop that saw it: whatever the policy decided
    // has happened before svd reads the next request.
    let rows = svd.status();
    assert_eq!(
        row_of(&rows, "once"),
        ["once", "stopped", "-", "-", "0", "exit=0"],
        "restart = \"never\": down for good, no pid, no uptime"
    );
    assert_eq!(
        row_of(&rows, "clean"),
        ["clean", "stopped", "-", "-", "0", "exit=0"],
        "restart = \"on-failure\" and exit 0: not restarted"
    );
    assert_eq!(
        row_of(&rows, "slow"),
        ["slow", "backoff", "-", "-", "0", "exit=1"],
        "a 60 s backoff waits 60 s: not restarted yet"
    );
    let up = row_of(&rows, "up");
    assert_eq!(
        (up[1].as_str(), up[4].as_str(), up[5].as_str()),
        ("ready", "0", "-"),
        "{up:?}"
    );
    assert!(
        up[2].parse::<u32>().is_ok(),
        "a running service shows its pid: {up:?}"
    );
    assert!(
        up[3]
            .strip_suffix('s')
            .is_some_and(|n| n.parse::<u64>().is_ok()),
        "a running service shows its uptime in seconds: {up:?}"
    );
    // Only a service with ready = "notify" gets a notify socket.
    let out = svd.svctl(&["logs", "once"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("notify=none"),
        "NOTIFY_SOCKET is for ready = \"notify\" services only: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A restart by hand of a notify service answers once it is ready again.
    let out = svd.svctl(&["restart", "up"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "svctl restart up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("up ready"));
    assert_eq!(svd.row("up")[4], "1", "the restart is counted");
    let mut events = svd.out.seen().to_vec();
    events.extend(svd.stop());
    assert!(events.iter().any(|l| l.contains("slow stopped")));
    assert!(
        !events.iter().any(|l| l.contains("did not stop")),
        "every service here stops at SIGTERM, long before its stop timeout:\n{}",
        events.join("\n")
    );
    assert!(
        !events.iter().any(|l| l.contains("says it is stopping")),
        "READY=1 without STOPPING=1 is no stop notice:\n{}",
        events.join("\n")
    );
    // The health check of `up` is due in an hour, not at once.
    assert!(
        !events.iter().any(|l| l.contains("health check")),
        "a check with interval_s = 3600 must not run within this test:\n{}",
        events.join("\n")
    );
}

#[test]
fn a_program_that_cannot_start_is_retried_as_its_policy_says_then_failed() {
    let mut svd = Svd::start(
        "svd-nostart",
        r#"
[service.missing]
command = ["@DIR/no-such-program"]
restart = "never"

[service.retried]
command = ["@DIR/no-such-program", "retried"]
restart = "on-failure"
backoff = { initial_ms = 1, max_ms = 1 }
start_limit = { burst = 2, interval_s = 300 }
"#,
        &[],
    );
    svd.saw("missing cannot start");
    svd.saw("retried cannot start");
    svd.saw("retried failed");
    let rows = svd.status();
    assert_eq!(
        row_of(&rows, "missing"),
        ["missing", "stopped", "-", "-", "0", "spawn-error"],
        "restart = \"never\": one attempt"
    );
    assert_eq!(
        row_of(&rows, "retried"),
        ["retried", "failed", "-", "-", "0", "spawn-error"],
        "restart = \"on-failure\": a spawn error is a failure, retried up to the start limit"
    );
    // A start by hand that fails again is reported as such, not left waiting.
    let out = svd.svctl(&["start", "retried"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a start that ends failed exits 1"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retried failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    svd.stop();
}

#[test]
fn a_reload_removes_a_service_everywhere_and_restarts_a_changed_failed_one() {
    const BEFORE: &str = r#"
[service.keep]
command = ["@SV", "run", "--tag", "@DIR"]

[service.gone]
command = ["@SV", "run", "--tag", "@DIR"]

[service.broken]
command = ["@SV", "exit", "1", "@DIR"]
ready = "notify"
start_limit = { burst = 1, interval_s = 300 }
"#;
    // gone removed; broken changed: another command, and no readiness (so no notify socket).
    const AFTER: &str = r#"
[service.keep]
command = ["@SV", "run", "--tag", "@DIR"]

[service.broken]
command = ["/bin/sh", "-c", 'echo notify=${NOTIFY_SOCKET:-none}; exec "$0" run --tag "$1"', "@SV", "@DIR"]
start_limit = { burst = 1, interval_s = 300 }
"#;
    let mut svd = Svd::start("svd-remove", BEFORE, &["--metrics", "127.0.0.1:0"]);
    let addr = svd
        .out
        .seen()
        .iter()
        .find_map(|l| l.strip_prefix("svd: metrics on http://"))
        .and_then(|a| a.strip_suffix("/metrics"))
        .expect("svd: metrics on ...")
        .to_string();
    svd.saw("broken failed");
    svd.saw("gone started pid");
    let keep = pid_in(&svd.saw("keep started pid"));
    let (_, body) = scrape(&addr);
    assert!(body.contains("service=\"gone\""), "{body}");
    let dir = svd.dir.path().to_str().expect("utf-8").to_string();
    std::fs::write(svd.path("svd.toml"), expand(AFTER, &dir)).expect("write");
    let out = svd.svctl(&["reload"]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{summary}");
    assert!(
        summary.contains("removed [gone]") && summary.contains("restarted [broken]"),
        "{summary}"
    );
    svd.expect("gone removed");
    // A failed service whose definition changed gets a fresh start.
    svd.saw("broken started pid");
    let rows = svd.status();
    let mut names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["broken", "keep"],
        "gone is gone from the status: {rows:?}"
    );
    assert_eq!(row_of(&rows, "broken")[1], "running", "{rows:?}");
    assert_eq!(
        row_of(&rows, "keep")[2],
        keep.to_string(),
        "keep is left alone"
    );
    let (_, body) = scrape(&addr);
    assert!(
        !body.contains("service=\"gone\""),
        "a removed service leaves the metrics too:\n{body}"
    );
    assert!(
        body.contains("svd_service_up{service=\"broken\"} 1"),
        "{body}"
    );
    testkit::wait_until(DEADLINE, "broken's first line in its log", || {
        String::from_utf8_lossy(&svd.svctl(&["logs", "broken"]).stdout).contains("notify=")
    });
    let log = String::from_utf8_lossy(&svd.svctl(&["logs", "broken"]).stdout).into_owned();
    assert!(
        log.contains("notify=none"),
        "a service that no longer waits for READY=1 loses its notify socket:\n{log}"
    );
    svd.stop();
}

#[test]
fn a_service_becomes_ready_when_its_connect_probe_succeeds() {
    let mut svd = Svd::start(
        "svd-probe",
        r#"
[service.app]
command = ["@SV", "run", "--tag", "@DIR"]
ready = { connect = "@DIR/app.sock" }

[service.after]
command = ["@SV", "run", "--tag", "@DIR"]
depends_on = { app = "ready" }
"#,
        &[],
    );
    svd.expect("app started pid");
    let rows = svd.status();
    assert_eq!(
        (
            row_of(&rows, "app")[1].as_str(),
            row_of(&rows, "after")[1].as_str()
        ),
        ("starting", "stopped"),
        "nothing listens on the probe's address yet"
    );
    // The test plays the service's listening socket: the probe succeeds once it exists.
    let listener = std::os::unix::net::UnixListener::bind(svd.path("app.sock")).expect("bind");
    svd.expect("app ready");
    svd.expect("after started pid");
    drop(listener);
    svd.stop();
}

/// The CPU time `pid` has used so far (user and system), in milliseconds.
fn cpu_ms_of(pid: u32) -> u64 {
    let ticks = testkit::monitoring::cpu_ticks(pid as i32);
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    ticks * 1000 / per_second
}

#[test]
fn a_connect_probe_that_keeps_failing_is_retried_on_a_timer_not_in_a_loop() {
    let mut svd = Svd::start(
        "svd-probe-idle",
        r#"
[service.deaf]
command = ["@SV", "run", "--tag", "@DIR"]
ready = { connect = "@DIR/nobody.sock" }
ready_timeout_s = 2
"#,
        &[],
    );
    svd.expect("deaf started pid");
    svd.expect("deaf not ready within 2s: restarting");
    // Two seconds of a probe that fails at once (no such socket): retried every 50 ms, that is
    // 40 connect attempts, a few milliseconds of CPU with svd's own start-up. Retried at once,
    // it is a busy loop that takes a whole core.
    let cpu_ms = cpu_ms_of(svd.pid());
    assert!(
        cpu_ms < 250,
        "svd used {} ms of CPU while a connect probe failed for 2 s: a failed probe is \
         retried on a timer, with svd asleep in poll in between",
        cpu_ms
    );
    svd.stop();
}

#[test]
fn a_connect_probe_over_tcp_finishes_in_the_poll_set_and_a_refused_one_waits_its_turn() {
    // A non-blocking TCP connect never finishes in the call (EINPROGRESS, even on loopback):
    // the probe's socket joins the poll set, and SO_ERROR says how it went once it is
    // writable. `up` has a listener (the test's); `refused` has none: its port is held bound
    // but not listening, so every attempt is refused, asynchronously.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let up = listener.local_addr().expect("address").port();
    let (_held, refused) = reserve_port();
    let mut svd = Svd::start(
        "svd-probe-tcp",
        &format!(
            r#"
[service.up]
command = ["@SV", "run", "--tag", "@DIR"]
ready = {{ connect = "127.0.0.1:{up}" }}

[service.refused]
command = ["@SV", "run", "--tag", "@DIR"]
ready = {{ connect = "127.0.0.1:{refused}" }}
ready_timeout_s = 2
"#
        ),
        &[],
    );
    let start = std::time::Instant::now();
    let mut ready = false;
    while !ready && start.elapsed() < DEADLINE {
        match svd.out.next_line(DEADLINE.saturating_sub(start.elapsed())) {
            Some(line) => ready = line.contains("up ready"),
            None => break,
        }
    }
    assert!(
        ready,
        "up listens on 127.0.0.1:{up}, yet svd never said `up ready`: a probe whose connect is \
         in progress is done when its socket polls writable; then read SO_ERROR (0: connected)"
    );
    svd.saw("refused not ready within 2s: restarting");
    let cpu_ms = cpu_ms_of(svd.pid());
    assert!(
        cpu_ms < 250,
        "svd used {} ms of CPU while a TCP connect probe was refused for 2 s: a probe whose \
         SO_ERROR says refused is retried on a timer (50 ms), not at once",
        cpu_ms
    );
    drop(listener);
    svd.stop();
}

#[test]
fn a_helper_left_behind_by_the_main_process_is_killed_at_the_stop_timeout() {
    // The helper ignores SIGTERM and says READY=1; the main process exits at SIGTERM, leaving
    // the helper re-parented to svd, the subreaper.
    let mut svd = Svd::start(
        "svd-leaver",
        r#"
[service.leaver]
command = ["/bin/sh", "-c", '"$0" run --tag "$1" --ignore-term --ready & exec "$0" run --tag "$1"', "@SV", "@DIR"]
ready = "notify"
stop_timeout_s = 0.5
"#,
        &[],
    );
    let pgid = pid_in(&svd.expect("leaver started pid"));
    svd.expect("leaver ready");
    // Where strace can attach: the SIGKILL at the timeout comes after the leader was reaped,
    // so it goes to the helper through a pidfd, never to the group's number.
    let trace = svd.path("trace");
    let strace = trace_signals(
        &svd,
        &trace,
        "a_helper_left_behind_by_the_main_process_is_killed_at_the_stop_timeout",
    );
    let out = svd.svctl(&["stop", "leaver"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "svctl stop answers once every process of the service is gone; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    svd.saw("leaver stopped");
    assert_in_order(
        svd.out.seen(),
        &[
            "leaver stopping",
            "leaver exited",
            "leaver did not stop within 0.5s: SIGKILL",
            "leaver stopped",
        ],
    );
    assert_eq!(svd.row("leaver")[1], "stopped");
    if let Some(mut strace) = strace {
        kill(Pid::from_raw(strace.id() as i32), Signal::SIGINT).expect("detach strace");
        strace.wait(DEADLINE);
        let calls = std::fs::read_to_string(&trace).expect("the trace");
        let killpg: Vec<&str> = calls
            .lines()
            .filter(|l| l.starts_with(&format!("kill(-{pgid}, SIGKILL")))
            .collect();
        assert!(
            killpg.is_empty(),
            "leaver's leader (pid {pgid}) had exited and been reaped when the stop timeout \
             came, and svd sent SIGKILL to group {pgid}: {killpg:?}. Once the leader is reaped \
             its number may name a new group as soon as the last member is gone: signal what \
             is left through pidfds of the members found in /proc"
        );
    }
    svd.stop();
}

#[test]
fn a_crash_takes_only_its_own_left_behind_processes_with_it() {
    // `keeper` leaves an orphan behind (a subshell's child, re-parented to svd, the subreaper)
    // and stays up; `crasher` waits at its gate, then exits 3. What svd kills after a crash is
    // what the dead service left, found by its own `SVD_SERVICE` tag: never another service's.
    // The gate exists before crasher starts: a shell that finds no file there exits at once.
    let mut svd = Svd::start_with(
        "svd-crash-own",
        r#"
[service.keeper]
command = ["/bin/sh", "-c", '("$0" run --tag "$1" --announce "$1/orphan" &); exec "$0" run --tag "$1"', "@SV", "@DIR"]

[service.crasher]
command = ["/bin/sh", "-c", 'read x < "$0"; exit 3', "@DIR/gate"]
restart = "never"
"#,
        &[],
        |dir, _| make_gate(&dir.join("gate")),
    );
    let announced = svd.path("orphan");
    let mut orphan = 0;
    testkit::wait_until(DEADLINE, "keeper's orphan to write its pid", || {
        orphan = std::fs::read_to_string(&announced)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        orphan != 0
    });
    testkit::wait_until(DEADLINE, "keeper's orphan to be re-parented to svd", || {
        testkit::proc_ppid(orphan) == Some(svd.pid())
    });
    let pidfd = testkit::daemon::pidfd_open(orphan).expect("a pidfd for keeper's orphan");
    open_gate(&svd.path("gate"));
    svd.expect("crasher exited exit=3");
    // svd answers a request only after it has dealt with the death.
    assert_eq!(svd.row("keeper")[1], "running");
    assert!(
        !testkit::daemon::pidfd_exited(&pidfd, Duration::from_millis(300)),
        "crasher's death killed keeper's orphan (pid {orphan}, tagged SVD_SERVICE=keeper): \
         only processes tagged with the dead service's name are its leftovers"
    );
    let events = svd.stop();
    assert!(
        events.iter().any(|l| l.contains("keeper stopped")),
        "{}",
        events.join("\n")
    );
}

#[test]
fn a_last_line_without_a_newline_is_logged_and_nothing_else() {
    let mut svd = Svd::start(
        "svd-partial",
        r#"
[service.printer]
command = ["/bin/sh", "-c", "printf 'first\\nno newline'", "@DIR"]
restart = "never"
"#,
        &[],
    );
    // The service's output is read before its death is handled.
    svd.expect("printer exited exit=0");
    let out = svd.svctl(&["logs", "printer"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
        .collect();
    assert_eq!(
        lines,
        ["stdout first", "stdout no newline"],
        "every line once, the unterminated last one too, and no empty line for a closed stream:\n{text}"
    );
    svd.stop();
}

#[test]
fn a_malformed_request_gets_an_error_and_a_silent_client_no_answer() {
    let svd = Svd::start("svd-raw", "", &[]);
    let mut s = std::os::unix::net::UnixStream::connect(&svd.socket).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(b"frobnicate\n").expect("request");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    assert!(
        answer.starts_with("error: "),
        "a request svd does not understand is answered `error: REASON`: {answer:?}"
    );
    // A client that sends nothing is dropped at the request timeout, unanswered, and svd goes on.
    let mut silent = std::os::unix::net::UnixStream::connect(&svd.socket).expect("connect");
    silent.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut answer = String::new();
    silent.read_to_string(&mut answer).expect("EOF");
    assert_eq!(answer, "", "there was no request to answer");
    svd.status();
    svd.stop();
}

/// Runs svd as `cmd` says until it listens, calls `during` with the socket path it announced,
/// then stops it with SIGTERM and checks that it exits 0.
fn with_svd(cmd: &mut Command, during: impl FnOnce(&Path)) {
    let mut guard = ChildGuard::spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut out = LineReader::new(guard.child().stdout.take().expect("stdout"), "svd stdout");
    let mut err = LineReader::new(guard.child().stderr.take().expect("stderr"), "svd stderr");
    let line = out.expect("svd: listening on ", DEADLINE);
    let socket = PathBuf::from(line.trim_start_matches("svd: listening on "));
    during(&socket);
    kill(Pid::from_raw(guard.id() as i32), Signal::SIGTERM).expect("SIGTERM to svd");
    let status = guard.wait(DEADLINE);
    assert_eq!(
        status.code(),
        Some(0),
        "svd ended {}; stderr {:?}",
        testkit::describe_status(status),
        err.rest(Duration::from_secs(1))
    );
}

#[test]
fn svd_finds_its_socket_by_default_and_refuses_bad_arguments() {
    let dir = testkit::temp_dir("svd-defaults");
    let d = dir.path();
    let config = d.join("svd.toml");
    std::fs::write(&config, "").expect("write config");
    let svd = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_svd"));
        c.arg("--config")
            .arg(&config)
            .current_dir(d)
            .env_remove("SVD_SOCKET")
            .env_remove("XDG_RUNTIME_DIR")
            // The fallback runtime dir (for the logs too) is in the temporary directory: ours.
            .env("TMPDIR", d);
        c
    };
    // $XDG_RUNTIME_DIR/svd/ holds the socket and the logs; svctl looks there too.
    with_svd(svd().env("XDG_RUNTIME_DIR", d), |socket| {
        assert_eq!(socket, d.join("svd/svd.sock"));
        assert!(socket.exists() && d.join("svd/logs").is_dir());
        let out = testkit::run_with_deadline(
            Command::new(env!("CARGO_BIN_EXE_svctl"))
                .arg("status")
                .env_remove("SVD_SOCKET")
                .env("XDG_RUNTIME_DIR", d),
            DEADLINE,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "svctl finds svd by the same rule"
        );
    });
    // An empty XDG_RUNTIME_DIR counts as unset: the temporary directory, per user.
    let uid = nix::unistd::getuid();
    with_svd(svd().env("XDG_RUNTIME_DIR", ""), |socket| {
        assert_eq!(socket, d.join(format!("svd-{uid}/svd.sock")));
    });
    // $SVD_SOCKET names the socket itself.
    with_svd(svd().env("SVD_SOCKET", d.join("env.sock")), |socket| {
        assert_eq!(socket, d.join("env.sock"));
    });
    // A bare file name is a socket in the current directory.
    with_svd(svd().args(["--socket", "here.sock"]), |socket| {
        assert_eq!(socket, Path::new("here.sock"));
        assert!(d.join("here.sock").exists());
    });
    // A socket in a directory that does not exist yet: svd makes it, for its owner only.
    with_svd(svd().args(["--socket", "run/nested/svd.sock"]), |socket| {
        assert_eq!(socket, Path::new("run/nested/svd.sock"));
        assert!(d.join("run/nested/svd.sock").exists());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(d.join("run/nested"))
                .expect("the socket's directory")
                .permissions(),
        );
        assert_eq!(
            mode & 0o777,
            0o700,
            "the socket's directory is the owner's only"
        );
    });
    for (args, code, needle) in [
        (&["--frobnicate"][..], 2, "unexpected argument"),
        (&[][..], 2, "--config FILE is required"),
        (&["--help"][..], 0, "usage: svd"),
    ] {
        let out = testkit::run_with_deadline(
            Command::new(env!("CARGO_BIN_EXE_svd"))
                .args(args)
                .current_dir(d),
            DEADLINE,
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "svd {args:?}: {text}");
        assert!(text.contains(needle), "svd {args:?}: {text}");
    }
}

#[test]
fn a_passing_health_check_leaves_the_service_alone() {
    let mut svd = Svd::start(
        "svd-healthy",
        r#"
[service.fine]
command = ["@SV", "run", "--tag", "@DIR"]
health = { exec = ["/bin/sh", "-c", "read up idle < /proc/uptime; echo $up >> \"$0\"", "@DIR/checks"], interval_s = 0.3, threshold = 1 }
"#,
        &[],
    );
    let pid = pid_in(&svd.expect("fine started pid"));
    // Each check leaves a line, the time it ran (seconds since boot, in hundredths): three of
    // them have run to completion and passed.
    let checks = svd.path("checks");
    testkit::wait_until(DEADLINE, "three health checks to have run", || {
        std::fs::read_to_string(&checks).is_ok_and(|t| t.lines().count() >= 3)
    });
    let times_ms: Vec<u64> = std::fs::read_to_string(&checks)
        .expect("the checks' times")
        .lines()
        .map(|l| {
            let (s, cs) = l.trim().split_once('.').expect("seconds.hundredths");
            s.parse::<u64>().expect("seconds") * 1000 + cs.parse::<u64>().expect("hundredths") * 10
        })
        .collect();
    // The first check is due an interval after the start: the service's start time is in the
    // same clock (ticks since boot, field 22 of /proc/PID/stat). The margin is for the two
    // clocks' 10 ms steps and for the moment between svd's reading of its clock and the fork.
    let ticks: u64 = testkit::daemon::stat_field(pid, 22)
        .and_then(|t| t.parse().ok())
        .expect("the service's start time");
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    let started_ms = ticks * 1000 / hz;
    let first = times_ms[0].saturating_sub(started_ms);
    assert!(
        first >= 150,
        "the first check runs an interval (300 ms) after the service started, not {first} ms \
         after"
    );
    // The next check is due an interval after the previous one's result, and that result came
    // after the previous check wrote its time: whatever the load, times are an interval apart.
    for pair in times_ms.windows(2) {
        let gap = pair[1].saturating_sub(pair[0]);
        assert!(
            gap >= 250,
            "a passing check runs again an interval (300 ms) after its result, not {gap} ms \
             after the previous one began: {times_ms:?}"
        );
    }
    let row = svd.row("fine");
    assert_eq!(
        (row[1].as_str(), row[2].as_str(), row[4].as_str()),
        ("running", pid.to_string().as_str(), "0"),
        "{row:?}"
    );
    let mut events = svd.out.seen().to_vec();
    events.extend(svd.stop());
    assert!(
        !events.iter().any(|l| l.contains("health check failed")),
        "a check that exits 0 within its timeout passes:\n{}",
        events.join("\n")
    );
}

#[test]
fn a_service_not_ready_within_its_ready_timeout_is_restarted() {
    let mut svd = Svd::start(
        "svd-readytimeout",
        r#"
[service.mute]
command = ["@SV", "run", "--tag", "@DIR"]
ready = "notify"
ready_timeout_s = 0.2

[service.prompt]
command = ["@SV", "run", "--tag", "@DIR", "--ready"]
ready = "notify"
"#,
        &[],
    );
    let first = pid_in(&svd.expect("mute started pid"));
    svd.expect("mute not ready within 0.2s: restarting");
    svd.expect("mute stopped");
    let second = pid_in(&svd.expect("mute started pid"));
    assert_ne!(first, second);
    svd.saw("prompt ready");
    let mut events = svd.out.seen().to_vec();
    events.extend(svd.stop());
    assert!(
        !events.iter().any(|l| l.contains("prompt not ready")),
        "a service that says READY=1 in time is not restarted:\n{}",
        events.join("\n")
    );
}

#[test]
fn during_the_shutdown_status_answers_and_other_requests_are_refused() {
    let mut svd = Svd::start(
        "svd-shutdown",
        r#"
[service.stubborn]
command = ["@SV", "run", "--tag", "@DIR", "--ignore-term", "--ready"]
ready = "notify"
stop_timeout_s = 120
"#,
        &[],
    );
    let pid = pid_in(&svd.expect("stubborn started pid"));
    svd.expect("stubborn ready");
    svd.signal(Signal::SIGTERM);
    svd.expect("stubborn stopping");
    assert_eq!(svd.row("stubborn")[1], "stopping", "status still answers");
    let out = svd.svctl(&["start", "stubborn"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a start during the shutdown fails"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shutting down"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The test ends the stop timeout's wait itself.
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill stubborn");
    let mut events = svd.out.seen().to_vec();
    // svd.stop sends a second SIGTERM: the shutdown under way goes on, it does not begin again.
    events.extend(svd.stop());
    assert!(events.iter().any(|l| l.contains("stubborn stopped")));
    assert_eq!(
        events
            .iter()
            .filter(|l| l.contains("received: stopping every service"))
            .count(),
        1,
        "{}",
        events.join("\n")
    );
}

#[test]
fn a_daemon_whose_parent_still_runs_is_stopped_with_its_service() {
    // The service ignores SIGTERM and waits for its child, which left the group (setsid) and
    // dies at SIGTERM. The daemon is svd's grandchild: its parent, the service, runs all along,
    // so svd must walk its ancestry past the service to know it as one of its own.
    let mut svd = Svd::start(
        "svd-daemon-parent",
        r#"
[service.dmn]
command = ["/bin/sh", "-c", 'trap "" TERM; (trap - TERM; exec setsid sleep 60) & echo "daemon $!"; wait $!; echo "daemon ended $?"; exec sleep 60']
stop_timeout_s = 1
"#,
        &[],
    );
    svd.saw("dmn started pid");
    let log = svd.path("logs/dmn.log");
    testkit::wait_until(DEADLINE, "the daemon's pid in dmn's log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("daemon "))
    });
    // svctl stop answers once every process of dmn is gone: never, if the daemon is missed.
    let mut stop = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_svctl"))
            .arg("--socket")
            .arg(&svd.socket)
            .args(["stop", "dmn"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let stopped = testkit::try_wait_until(DEADLINE, "svctl stop dmn to answer", || {
        !matches!(stop.child().try_wait(), Ok(None))
    })
    .is_ok();
    let text = std::fs::read_to_string(&log).expect("dmn's log");
    assert!(
        stopped && text.lines().any(|l| l.ends_with("daemon ended 143")),
        "dmn's daemon (out of the group, tagged, a child of dmn's main process) should have died \
         of the stop signal, which its parent reports as 143, and the stop should have ended \
         (answered: {stopped}); dmn's log:\n{text}\nA member's \
         ancestry goes up through its parents until svd: a parent that is itself a member is \
         not the end of the walk"
    );
    svd.stop();
}

#[test]
fn a_daemon_of_the_service_may_say_ready_for_it() {
    // The notifier leaves the service's group and session (setsid), so only its tag says it is
    // the service's; it stays alive until the service's group is stopped (its stdin's writer
    // is in the group). Every process carries @DIR in its command line, for the test's guard.
    let config = format!(
        r#"
[service.spoke]
command = ["/bin/sh", "-c", '(echo; exec "$0" run --tag "$2") | setsid "$1" READY=1 "$2" & exec "$0" run --tag "$2"', "@SV", "{}", "@DIR"]
ready = "notify"
"#,
        env!("CARGO_BIN_EXE_supervisor-notify")
    );
    let mut svd = Svd::start("svd-spoke", &config, &[]);
    svd.expect("spoke started pid");
    svd.expect("spoke ready");
    svd.stop();
}

#[test]
fn a_client_waiting_for_a_service_that_a_reload_removes_is_told() {
    let mut svd = Svd::start(
        "svd-removed-waiter",
        r#"
[service.mute]
command = ["@SV", "run", "--tag", "@DIR"]
ready = "notify"

[service.other]
command = ["@SV", "run", "--tag", "@DIR"]
"#,
        &[],
    );
    svd.saw("mute started pid");
    // mute never says READY=1: a restart of it waits.
    let mut client = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_svctl"))
            .arg("--socket")
            .arg(&svd.socket)
            .args(["restart", "mute"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let mut err = LineReader::new(client.child().stderr.take().expect("stderr"), "svctl");
    svd.expect("mute stopping");
    svd.expect("mute started pid");
    let dir = svd.dir.path().to_str().expect("utf-8").to_string();
    std::fs::write(
        svd.path("svd.toml"),
        expand(
            "[service.other]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\"]\n",
            &dir,
        ),
    )
    .expect("write");
    svd.signal(Signal::SIGHUP);
    svd.expect("mute removed");
    err.expect("mute was removed", DEADLINE);
    assert_eq!(
        client.wait(DEADLINE).code(),
        Some(1),
        "the restart did not happen: svctl exits 1"
    );
    svd.stop();
}

/// The uid and gid of `nobody`, for the tests that need another user; `None` (with a message)
/// when we are not root and cannot become anyone else.
fn another_user(test: &str) -> Option<(u32, u32)> {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("{test}: skipped: needs root to act as another user");
        return None;
    }
    // Root without CAP_SETUID (a container that dropped it) cannot become anyone either.
    let (uid, gid) = (65534, 65534);
    match Command::new("/bin/sh")
        .args(["-c", "true"])
        .uid(uid)
        .gid(gid)
        .status()
    {
        Ok(s) if s.success() => Some((uid, gid)),
        other => {
            eprintln!("{test}: skipped: cannot run a program as uid {uid}: {other:?}");
            None
        }
    }
}

/// A test dir that another user can reach, with `shared/`, a sticky world-writable directory
/// like /tmp, where that user plants what it likes.
fn shared_dir(tag: &str) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = testkit::temp_dir(tag);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir shared");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    (dir, shared)
}

/// A copy of this build's `program` in `dir` (one that another user can reach, from
/// [`shared_dir`]), for that user to run: the build itself may lie under a directory only we
/// can enter (`mktemp -d` makes 0700 ones). Copied by `cp`, a process of its own, so that no
/// descriptor of ours open for writing the file can reach a child and make its exec fail with
/// ETXTBSY.
fn program_for_another_user(dir: &Path, program: &str) -> PathBuf {
    let copy = dir.join(Path::new(program).file_name().expect("a file name"));
    let out = testkit::run_with_deadline(Command::new("cp").arg(program).arg(&copy), DEADLINE);
    assert!(
        out.status.success(),
        "cp {program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    copy
}

/// Runs `script` with /bin/sh as `uid:gid`, no supplementary groups; panics unless it succeeds.
#[track_caller]
fn sh_as(uid: u32, gid: u32, script: &str) {
    use std::os::unix::process::CommandExt;
    let out = testkit::run_with_deadline(testkit::sh(script).uid(uid).gid(gid), DEADLINE);
    assert!(
        out.status.success(),
        "{script:?} as uid {uid} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn svd_refuses_a_runtime_dir_that_another_user_made_and_writes_nothing_through_its_symlinks() {
    let Some((uid, gid)) = another_user("svd_refuses_a_runtime_dir_that_another_user_made") else {
        return;
    };
    let (dir, shared) = shared_dir("svd-hostile-dir");
    let d = dir.path();
    let _tagged = KillTagged(d.file_name().unwrap().to_string_lossy().into_owned());
    let victim = d.join("victim");
    std::fs::write(&victim, "root's file\n").expect("write victim");
    // The other user makes svd's runtime dir before svd does, with a symlink at web's log.
    let me = nix::unistd::getuid();
    let runtime = shared.join(format!("svd-{me}"));
    sh_as(
        uid,
        gid,
        &format!(
            "mkdir -p {r}/logs && chmod -R 0777 {r} && ln -s {v} {r}/logs/web.log",
            r = runtime.display(),
            v = victim.display()
        ),
    );
    let config = d.join("svd.toml");
    std::fs::write(
        &config,
        expand(
            "[service.web]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--say\", \"planted\"]\n",
            &d.to_string_lossy(),
        ),
    )
    .expect("write config");
    let mut guard = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_svd"))
            .arg("--config")
            .arg(&config)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("SVD_SOCKET")
            .env("TMPDIR", &shared)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut out = LineReader::new(guard.child().stdout.take().expect("stdout"), "svd stdout");
    let mut err = LineReader::new(guard.child().stderr.take().expect("stderr"), "svd stderr");
    if let Some(line) = out.next_line(DEADLINE) {
        let _ = guard.child().kill();
        let _ = guard.child().wait();
        panic!(
            "svd went on ({line:?}) in {}, a runtime dir that uid {uid} made and may write into: \
             whoever owns it can plant a symlink at a log's name or a socket at the control \
             path; check its owner and mode (symlink_metadata) and refuse it; victim now reads {:?}",
            runtime.display(),
            std::fs::read_to_string(&victim).unwrap_or_default()
        );
    }
    let status = guard.wait(DEADLINE);
    let text = err.rest(DEADLINE).join("\n");
    assert_eq!(
        status.code(),
        Some(1),
        "svd should refuse a runtime dir of another user with exit 1; it {}: {text}",
        testkit::describe_status(status)
    );
    assert!(
        text.contains(&runtime.display().to_string()) && text.contains(&format!("uid {uid}")),
        "the error names the directory and its owner (uid {uid}): {text:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "root's file\n",
        "nothing may be written through the planted symlink"
    );
}

#[test]
fn svd_makes_its_runtime_dir_and_logs_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = testkit::temp_dir("svd-modes");
    let d = dir.path();
    let _tagged = KillTagged(d.file_name().unwrap().to_string_lossy().into_owned());
    let config = d.join("svd.toml");
    std::fs::write(
        &config,
        expand(
            "[service.web]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--say\", \"hello\"]\n",
            &d.to_string_lossy(),
        ),
    )
    .expect("write config");
    let runtime = d.join(format!("svd-{}", nix::unistd::getuid()));
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    with_svd(
        Command::new(env!("CARGO_BIN_EXE_svd"))
            .arg("--config")
            .arg(&config)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("SVD_SOCKET")
            .env("TMPDIR", d),
        |_| {
            let log = runtime.join("logs/web.log");
            testkit::wait_until(DEADLINE, "web's line in its log", || {
                std::fs::read_to_string(&log).is_ok_and(|t| t.contains("hello"))
            });
            for (p, want) in [
                (&runtime, 0o700),
                (&runtime.join("logs"), 0o700),
                (&log, 0o600),
            ] {
                assert_eq!(
                    mode(p),
                    want,
                    "{} should be {want:o} (the owner's only: logs say what services do), \
                     got {:o}; a directory made with create_dir_all, a file with File::create, \
                     get 0777 and 0666 minus the umask",
                    p.display(),
                    mode(p)
                );
            }
        },
    );
}

#[test]
fn svctl_does_not_believe_a_socket_served_by_another_user() {
    use std::os::unix::process::CommandExt;
    let Some((uid, gid)) = another_user("svctl_does_not_believe_a_socket_served_by_another_user")
    else {
        return;
    };
    let (dir, shared) = shared_dir("svctl-fake");
    let _tagged = KillTagged(
        dir.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
    );
    let socket = shared.join("svd.sock");
    let service = program_for_another_user(dir.path(), service());
    let mut fake = ChildGuard::spawn(
        Command::new(&service)
            .args(["answer"])
            .arg(&socket)
            .arg("ok\nweb stopped")
            .uid(uid)
            .gid(gid)
            .stdout(Stdio::piped()),
    );
    let mut said = LineReader::new(fake.child().stdout.take().expect("stdout"), "fake server");
    said.expect("listening", DEADLINE);
    let out = testkit::run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_svctl"))
            .arg("--socket")
            .arg(&socket)
            .args(["stop", "web"]),
        DEADLINE,
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.code() == Some(2) && stdout.is_empty(),
        "a socket served by uid {uid} is not our svd: svctl must check the server's uid \
         (SO_PEERCRED) and exit 2 before believing its answer; it {} and printed {stdout:?}",
        testkit::describe_status(out.status)
    );
    assert!(
        stderr.contains(&format!("uid {uid}")),
        "svctl names the uid it did not trust: {stderr:?}"
    );
    // Wake the fake server if svctl never connected, then collect it.
    let _ = std::os::unix::net::UnixStream::connect(&socket);
    fake.wait(DEADLINE);
}

/// Runs `f`; when it panics (a deadline passed), panics again with `hint` first: what the
/// deadline means about svd, then what `f` said.
#[track_caller]
fn or_explain<T>(hint: &str, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let said = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{hint}\n(what was seen: {said})")
        }
    }
}

/// Waits until svd has started `name` `more` times after the starts already seen.
#[track_caller]
fn sees_restarts(svd: &mut Svd, name: &str, more: usize, hint: &str) {
    let needle = format!("{name} started pid");
    let count = |svd: &Svd| {
        svd.out
            .seen()
            .iter()
            .filter(|l| l.contains(&needle))
            .count()
    };
    let want = count(svd) + more;
    or_explain(hint, || {
        while count(svd) < want {
            svd.expect(&needle);
        }
    });
}

/// A service that dies at once, restarted after 1 ms, forever: the test's proof that svd's
/// loop still supervises.
const CRASHER: &str = r#"
[service.crasher]
command = ["@SV", "exit", "1", "@DIR"]
backoff = { initial_ms = 1, max_ms = 1 }
start_limit = { burst = 1000000, interval_s = 1 }
"#;

#[test]
fn a_line_longer_than_max_line_is_logged_as_a_full_piece_and_the_rest() {
    // 70,000 bytes and a newline, then `end`: a pipe holds 64 KiB, so the line reaches svd in
    // several reads. Its first 3 bytes come alone, before the rest is even started, so that
    // the reads do not line up with the 64 KiB a piece holds.
    let mut svd = Svd::start(
        "svd-long-line",
        r#"
[service.long]
command = ["/bin/sh", "-c", 'printf yyy; head -c 69997 /dev/zero | tr "\0" y; echo; echo end; exec sleep 60']
"#,
        &[],
    );
    svd.saw("long started pid");
    let log = svd.path("logs/long.log");
    testkit::wait_until(DEADLINE, "`end` in long's log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().any(|l| l.ends_with(" end")))
    });
    let text = std::fs::read_to_string(&log).expect("long's log");
    // Each logged line ends with what the service wrote: count the run of y before the end.
    let runs: Vec<(usize, bool)> = text
        .lines()
        .filter(|l| l.contains('y'))
        .map(|l| {
            let (body, split) = match l.strip_suffix(" [split]") {
                Some(b) => (b, true),
                None => (l, false),
            };
            (body.len() - body.trim_end_matches('y').len(), split)
        })
        .collect();
    assert_eq!(
        runs,
        vec![(64 * 1024, true), (70_000 - 64 * 1024, false)],
        "a line of 70,000 bytes is logged as a piece of exactly 64 KiB (logs::MAX_LINE) ending \
         with logs::SPLIT_MARK, then the rest of the line; got (length, split) {runs:?}"
    );
    svd.stop();
}

#[test]
fn a_service_that_never_writes_a_newline_neither_stalls_svd_nor_grows_it() {
    let config = format!(
        r#"{CRASHER}
[service.flood]
command = ["/bin/sh", "-c", 'tr "\0" x < /dev/zero; : "$0"', "@DIR"]
log = {{ max_bytes = 1000000, files = 2 }}
"#
    );
    let mut svd = Svd::start("svd-flood", &config, &[]);
    svd.saw("flood started pid");
    let log = svd.path("logs/flood.log");
    let pieces = || {
        std::fs::read(&log)
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .filter(|l| l.ends_with(b" [split]"))
            .count()
    };
    if testkit::try_wait_until(
        DEADLINE,
        "pieces of flood's endless line in its log",
        || pieces() >= 2,
    )
    .is_err()
    {
        panic!(
            "flood writes one endless line and after {DEADLINE:?} its log holds no piece of it: \
             a line is held up to 64 KiB (logs::MAX_LINE), then written out with logs::SPLIT_MARK"
        );
    }
    sees_restarts(
        &mut svd,
        "crasher",
        3,
        "while flood writes without pause and without a newline, crasher must still be \
         restarted: read a bounded amount from a pipe per wake-up (not until EAGAIN, which never \
         comes), and search only the new bytes for a newline (not the whole line again)",
    );
    or_explain("svctl status got no answer while flood wrote", || {
        svd.status()
    });
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", svd.pid()))
        .expect("svd's status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    assert!(
        rss_kib < 64 * 1024,
        "svd's peak memory is {rss_kib} KiB after an endless line: the line in progress must be \
         capped (64 KiB), not grow with what the service writes"
    );
    svd.stop();
}

/// Writes one byte every 200 ms on `stream`, never a newline, until dropped.
struct Trickler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Trickler {
    fn start(mut stream: std::os::unix::net::UnixStream) -> Trickler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) && stream.write_all(b"s").is_ok()
            {
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Trickler {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Trickler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn slow_silent_and_unread_control_clients_do_not_stop_supervision() {
    let config = format!(
        r#"{CRASHER}
[service.chatty]
command = ["@SV", "run", "--tag", "@DIR", "--lines", "30000"]
log = {{ max_bytes = 100000000, files = 1 }}
"#
    );
    let mut svd = Svd::start("svd-slow-clients", &config, &[]);
    let log = svd.path("logs/chatty.log");
    testkit::wait_until(DEADLINE, "chatty's 30000 lines in its log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 30000)
    });
    let connect = || std::os::unix::net::UnixStream::connect(&svd.socket).expect("connect");
    // Forty that say nothing (in turn, a second each, they would hold svd longer than the
    // deadline), one that sends a byte every 200 ms, one that asks for a log of a
    // megabyte and never reads it.
    let silent: Vec<_> = (0..40).map(|_| connect()).collect();
    let _trickler = Trickler::start(connect());
    let mut unread = connect();
    unread.write_all(b"logs chatty\n").expect("request");
    sees_restarts(
        &mut svd,
        "crasher",
        3,
        "with silent, trickling and unread clients connected, crasher must still be restarted: \
         svd's loop must never wait for a client (a deadline for the whole request, and reads \
         and writes that do not block the loop: a thread per client, or non-blocking sockets \
         in the poll set)",
    );
    or_explain(
        "svctl status got no answer while slow clients were connected: a client must never \
         hold svd's loop",
        || svd.status(),
    );
    drop(silent);
    drop(unread);
    svd.stop();
}

/// An svd serving one service `web`, with `extra` arguments, whose descriptors are limited to
/// `limit` (RLIMIT_NOFILE, set between fork and exec).
fn svd_with_fd_limit(tag: &str, extra: &[&str], limit: u64) -> Svd {
    let mut svd = Svd::start_with(
        tag,
        "[service.web]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--say\", \"up\"]\n",
        extra,
        move |_, cmd| {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the closure only calls setrlimit(2), a system call
            // that allocates nothing.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        limit,
                        limit,
                    )
                    .map_err(std::io::Error::from)
                });
            }
        },
    );
    svd.saw("web started pid");
    svd
}

/// Followers of web's log hold an fd of svd's each, for as long as they stay: opens them until
/// svd has none left and turns one away. Returns the followers and the one turned away.
fn follow_until_refused(
    svd: &Svd,
) -> (
    Vec<std::os::unix::net::UnixStream>,
    Option<std::os::unix::net::UnixStream>,
) {
    let mut followers = Vec::new();
    for _ in 0..64 {
        let mut s = std::os::unix::net::UnixStream::connect(&svd.socket).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        s.write_all(b"logs web -f\n").expect("request");
        let mut first = [0u8; 3];
        match s.read(&mut first) {
            Ok(n) if &first[..n] == b"ok\n" => followers.push(s),
            Ok(_) => return (followers, Some(s)),
            Err(e) => panic!(
                "a client connected while svd was out of file descriptors got no answer \
                 within {DEADLINE:?} ({e}): at EMFILE the connection stays in the backlog and \
                 poll reports the listener again and again, a busy loop; keep a spare fd to \
                 accept and close it, or stop polling the listener for a while"
            ),
        }
    }
    (followers, None)
}

#[test]
fn out_of_file_descriptors_svd_closes_the_connections_it_cannot_serve() {
    let svd = svd_with_fd_limit("svd-emfile", &[], 24);
    let (followers, refused) = follow_until_refused(&svd);
    assert!(
        refused.is_some(),
        "64 followers and svd (limited to 24 fds) never ran out: the test did not test"
    );
    drop(followers);
    svd.stop();
}

fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("svd's status")
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads:")
}

/// The bytes that the socket from `local` to `peer` (both TCP ports on 127.0.0.1) has received
/// and its owner not yet read: the rx_queue column of /proc/net/tcp.
fn tcp_unread(local: u16, peer: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = (
        format!("0100007F:{local:04X}"),
        format!("0100007F:{peer:04X}"),
    );
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&want.0.as_str()) && f.get(2) == Some(&want.1.as_str()))
            .then(|| u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok())
            .flatten()
    })
}

#[test]
fn a_scrape_whose_request_comes_in_pieces_is_answered_once_it_is_whole() {
    let (svd, addr) = metrics_svd("svd-metrics-pieces");
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let (mine, theirs) = (
        s.local_addr().expect("our address").port(),
        s.peer_addr().expect("svd's address").port(),
    );
    // Each piece is read by svd before the next is sent: its socket's receive queue empties.
    for piece in ["GET /met", "rics HTTP/1.0\r\nHost: x\r\n", "\r\n"] {
        if s.write_all(piece.as_bytes()).is_err() {
            break; // svd closed the connection already: its answer says why
        }
        // (Or closed it: gone from the table, the answer says why.)
        testkit::wait_until(
            DEADLINE,
            "svd to read the piece",
            || !matches!(tcp_unread(theirs, mine), Some(n) if n > 0),
        );
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(
        text.starts_with("HTTP/1.") && text.contains(" 200 ") && text.contains("svd_service_up"),
        "a request that arrives in three reads (\"GET /met\", the rest of its line and a \
         header, the blank line) is one request: answer it once its head is whole (an empty \
         line), not after the first read; got {:?}",
        &text[..text.len().min(200)]
    );
    svd.stop();
}

#[test]
fn out_of_file_descriptors_the_metrics_port_does_not_make_svd_spin() {
    let svd = svd_with_fd_limit("svd-metrics-emfile", &["--metrics", "127.0.0.1:0"], 32);
    let addr = metrics_addr(&svd);
    // Followers of the log take svd's descriptors until it has none left. Then metrics clients
    // wait in the backlog, accept fails with EMFILE and the listener stays readable.
    let (followers, _) = follow_until_refused(&svd);
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let pid = svd.pid() as i32;
    let before = testkit::monitoring::cpu_ticks(pid);
    // Not a wait for an event: the window over which svd's CPU time is measured.
    std::thread::sleep(Duration::from_secs(1));
    let used = testkit::monitoring::cpu_ticks(pid) - before;
    assert!(
        used <= 20,
        "svd used {used} clock ticks of CPU in 1 s with connections to its metrics port it could \
         not accept (EMFILE): poll keeps reporting the listener and accept keeps failing, a busy \
         loop; stop polling the listener for a while (and free a slot)"
    );
    drop(idle);
    drop(followers);
    let (head, _) = or_explain(
        "a scrape got no answer once the followers and idle connections were gone",
        || scrape(&addr),
    );
    assert!(head.contains(" 200 "), "{head}");
    svd.stop();
}

/// A raw `logs SERVICE -f` client of svd's socket, past its `ok` line and the history up to a
/// line that ends with `last`: its thread in svd has written all it had and now waits.
fn follower(svd: &Svd, service: &str, last: &str) -> std::os::unix::net::UnixStream {
    let mut s = std::os::unix::net::UnixStream::connect(&svd.socket).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    writeln!(s, "logs {service} -f").expect("request");
    let mut lines = std::io::BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    while !line.trim_end().ends_with(last) {
        line.clear();
        let n = std::io::BufRead::read_line(&mut lines, &mut line).expect("svd's answer");
        assert!(
            n > 0,
            "`logs {service} -f` ended before its history showed {last:?}"
        );
    }
    s
}

#[test]
fn a_follower_that_leaves_a_quiet_service_is_let_go_and_one_that_stays_is_kept() {
    // quiet says `up`, then nothing until the test opens its gate, then `late` (on stdout and
    // on stderr: two lines). Followers of it wait in svd with nothing to write.
    let mut svd = Svd::start_with(
        "svd-follow-quiet",
        "[service.quiet]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--say\", \"up\", \"--gate\", \"@DIR/quiet.gate\", \"--say\", \"late\"]\n",
        &[],
        |dir, _| make_gate(&dir.join("quiet.gate")),
    );
    svd.saw("quiet started pid");
    let pid = svd.pid();
    let before = threads_of(pid);
    // The history ends with `up (stderr)` or `up`, in either order: wait for both.
    let stays = follower(&svd, "quiet", "up (stderr)");
    let leaves = follower(&svd, "quiet", "up (stderr)");
    drop(leaves);
    let let_go = testkit::try_wait_until(DEADLINE, "svd to let the follower that left go", || {
        threads_of(pid) <= before + 1
    })
    .is_ok();
    assert!(
        let_go,
        "a follower closed its connection while its service wrote nothing: {DEADLINE:?} later \
         svd still has {} threads ({before} before the followers came); look now and then \
         whether a follower is still there (a peek that reads end of file), so that a client \
         that left does not keep a thread and a client slot",
        threads_of(pid)
    );
    // The one that stayed has been through those looks as well: it is still followed.
    open_gate(&svd.path("quiet.gate"));
    let mut lines = LineReader::new(stays, "the follower that stayed");
    // Two pipes, so in either order; each line ends with what the service said.
    let mut want = vec!["late", "late (stderr)"];
    while !want.is_empty() {
        let Some(line) = lines.next_line(DEADLINE) else {
            break;
        };
        want.retain(|w| !line.ends_with(w));
    }
    assert!(
        want.is_empty(),
        "the follower that stayed connected through the quiet spell should get the service's \
         next lines, {want:?} missing; it got {:?}: a follower is let go only when it has \
         left, and every new line is written to it",
        lines.seen()
    );
    svd.stop();
}

#[test]
fn idle_connections_to_the_metrics_port_cost_no_thread_and_scrapes_go_on() {
    let (svd, addr) = metrics_svd("svd-metrics-idle");
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    // Accepted in order: by the time this scrape is answered, svd has taken every idle one.
    let (head, body) = or_explain(
        "a scrape got no answer while 200 idle connections were open: idle connections must \
         be bounded and dropped, not served first",
        || scrape(&addr),
    );
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 ") && body.contains("svd_service_up"),
        "{head}"
    );
    let threads = threads_of(svd.pid());
    assert!(
        threads <= 16,
        "with 200 idle connections to its metrics port svd has {threads} threads: a thread per \
         connection lets anyone who can connect make svd's threads without limit; serve them \
         from one thread (poll) or a bounded pool, with a deadline per connection"
    );
    drop(idle);
    svd.stop();
}

/// The signals `pid` ignores, from the `SigIgn` mask of /proc/PID/status (bit N-1 is signal N).
fn ignored_signals(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the service's status")
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .expect("SigIgn")
}

#[test]
fn services_of_an_svd_started_with_signals_ignored_get_the_default_actions() {
    // As `nohup svd &` from a script leaves it: SIGHUP, SIGINT and SIGQUIT ignored.
    let mut svd = Svd::start_with(
        "svd-sigign",
        "[service.web]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--say\", \"up\"]\n",
        &[],
        |_, cmd| {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the closure only calls signal(2), which is
            // async-signal-safe and allocates nothing.
            unsafe {
                cmd.pre_exec(|| {
                    for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
                        libc::signal(sig, libc::SIG_IGN);
                    }
                    Ok(())
                });
            }
        },
    );
    let pid = pid_in(&svd.saw("web started pid"));
    let log = svd.path("logs/web.log");
    testkit::wait_until(DEADLINE, "web to say it is up (it has exec'd)", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("up"))
    });
    let ignored = ignored_signals(pid);
    let inherited: Vec<&str> = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
    ]
    .into_iter()
    .filter(|(sig, _)| ignored & (1 << (sig - 1)) != 0)
    .map(|(_, name)| name)
    .collect();
    assert!(
        inherited.is_empty(),
        "web ignores {inherited:?}, inherited from svd (execve keeps ignored signals ignored): \
         reset every signal to SIG_DFL in the child before exec, as the mask is emptied"
    );
    svd.stop();
}

#[test]
fn a_readiness_probe_to_a_socket_that_does_not_accept_never_blocks_the_loop() {
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, UnixAddr, accept, bind, listen, socket,
    };
    let config = format!(
        r#"{CRASHER}
[service.slow]
command = ["@SV", "run", "--tag", "@DIR"]
ready = {{ connect = "@DIR/slow.sock" }}
ready_timeout_s = 600
"#
    );
    let mut svd = Svd::start_with("svd-probe-full", &config, &[], |dir, _| {
        // A listener that accepts nothing yet, with the smallest backlog, already full: a
        // blocking connect to it waits until someone accepts.
        let path = dir.join("slow.sock");
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .expect("socket");
        bind(fd.as_raw_fd(), &UnixAddr::new(&path).expect("address")).expect("bind");
        listen(&fd, Backlog::new(0).expect("backlog")).expect("listen");
        let filler = std::os::unix::net::UnixStream::connect(&path).expect("fill the backlog");
        // Kept for the rest of the test (this closure runs on the test's thread).
        HELD.with(|h| h.borrow_mut().push((fd, filler)));
    });
    svd.saw("slow started pid");
    sees_restarts(
        &mut svd,
        "crasher",
        3,
        "while slow's readiness probe connects to a socket whose backlog is full, crasher must \
         still be restarted: a blocking connect (UnixStream::connect, or a connect with a timeout) \
         waits inside svd's loop; start a non-blocking connect and poll it for POLLOUT",
    );
    or_explain(
        "svctl status got no answer while a probe's connect was pending",
        || svd.status(),
    );
    // Accept what is waiting (the filler, then svd's probes): slow becomes ready.
    let (listener, _filler) = HELD.with(|h| h.borrow_mut().pop()).expect("the listener");
    nix::fcntl::fcntl(
        &listener,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .expect("non-blocking");
    let mut accepted = Vec::new();
    testkit::wait_until(DEADLINE, "slow to be ready once its socket accepts", || {
        while let Ok(fd) = accept(listener.as_raw_fd()) {
            accepted.push(unsafe_owned(fd));
        }
        svd.out.seen().iter().any(|l| l.contains("slow ready"))
            || svd
                .status()
                .iter()
                .any(|r| r.first().map(String::as_str) == Some("slow") && r[1] == "ready")
    });
    svd.stop();
}

thread_local! {
    /// What a `start_with` closure makes and the test needs afterwards.
    static HELD: std::cell::RefCell<Vec<(std::os::fd::OwnedFd, std::os::unix::net::UnixStream)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An fd returned by accept(2), owned from now on.
fn unsafe_owned(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    // SAFETY: accept just returned `fd`, a new descriptor that nothing else owns.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
}

/// `BIN ARGS` as assert_cmd runs it: no stdin, no inherited socket or runtime dir, a deadline.
fn cli(bin: &str, dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    let path = match bin {
        "svd" => assert_cmd::cargo::cargo_bin!("svd"),
        _ => assert_cmd::cargo::cargo_bin!("svctl"),
    };
    assert_cmd::Command::new(path)
        .args(args)
        .current_dir(dir)
        .env_remove("SVD_SOCKET")
        .env("XDG_RUNTIME_DIR", dir)
        .write_stdin("")
        .timeout(DEADLINE)
        .assert()
}

/// stderr that starts `BIN: ` and whose first line contains `fragment`.
fn error_first(bin: &str, fragment: &str) -> impl predicates::Predicate<str> {
    use predicates::prelude::*;
    let (bin, fragment) = (format!("{bin}: "), fragment.to_string());
    predicate::function(move |err: &str| {
        err.starts_with(&bin) && err.lines().next().is_some_and(|l| l.contains(&fragment))
    })
}

#[test]
fn the_command_line_contract_usage_exit_statuses_stdout_and_stderr() {
    use predicates::prelude::*;
    let dir = testkit::temp_dir("svd-cli");
    let d = dir.path();
    let svd_usage = "usage: svd --config FILE";
    let svctl_usage = "usage: svctl [--socket S]";
    // Usage errors: status 2, nothing on stdout, the reason then the usage on stderr.
    for (args, fragment) in [
        (&[][..], "--config FILE is required"),
        (
            &["--frobnicate"][..],
            "unexpected argument \"--frobnicate\"",
        ),
        (&["--config"][..], "--config needs a value"),
        (
            &["--config", "x", "--allow-uid", "abc"][..],
            "--allow-uid \"abc\": not a uid",
        ),
    ] {
        cli("svd", d, args)
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(error_first("svd", fragment).and(predicate::str::contains(svd_usage)));
    }
    cli("svd", d, &["--help"])
        .code(0)
        .stdout(predicate::str::starts_with(svd_usage))
        .stderr(predicate::str::is_empty());
    // A config that cannot be used: status 2, one line `svd: FILE...: reason`.
    let missing = d.join("missing.toml").display().to_string();
    cli("svd", d, &["--config", &missing])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            error_first("svd", &missing).and(predicate::function(|e: &str| e.lines().count() == 1)),
        );
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        "[service.a]\ncommand = [\"/bin/true\"]\nstop_timeout_s = 1e19\n",
    )
    .expect("write config");
    cli("svd", d, &["--config", &bad.display().to_string()])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(error_first("svd", "bad.toml:3: ").and(predicate::str::contains("stop_timeout_s")));
    // A log directory others may write into: refused before anything starts, status 1.
    let good = d.join("good.toml");
    std::fs::write(&good, "").expect("write config");
    let open_dir = d.join("open");
    std::fs::create_dir(&open_dir).expect("mkdir");
    std::fs::set_permissions(
        &open_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    cli(
        "svd",
        d,
        &[
            "--config",
            &good.display().to_string(),
            "--log-dir",
            &open_dir.display().to_string(),
        ],
    )
    .code(1)
    .stdout(predicate::str::is_empty())
    .stderr(error_first("svd", "lets others write"));

    // svctl: usage errors are 2, svd unreachable is 2, an error answer is 1, ok is 0.
    for (args, fragment) in [
        (&[][..], "empty request"),
        (&["frobnicate"][..], "unknown command `frobnicate`"),
        (&["stop"][..], "`stop` needs a service name"),
        (&["--socket"][..], "--socket needs a value"),
    ] {
        cli("svctl", d, args)
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(error_first("svctl", fragment).and(predicate::str::contains(svctl_usage)));
    }
    cli("svctl", d, &["--socket", "nowhere.sock", "status"])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(error_first("svctl", "cannot reach svd at nowhere.sock"));
    let svd = Svd::start(
        "svd-cli-run",
        "[service.web]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\"]\n",
        &[],
    );
    let socket = svd.socket.display().to_string();
    cli("svctl", d, &["--socket", &socket, "status"])
        .code(0)
        .stdout(predicate::str::starts_with("web running "))
        .stderr(predicate::str::is_empty());
    cli("svctl", d, &["--socket", &socket, "stop", "nosuch"])
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr("svctl: no service named nosuch\n");
    svd.stop();
}

#[test]
fn followers_that_leave_a_quiet_service_give_their_place_back() {
    let svd = Svd::start(
        "svd-followers",
        "[service.quiet]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--say\", \"once\"]\n",
        &[],
    );
    let log = svd.path("logs/quiet.log");
    testkit::wait_until(DEADLINE, "quiet's line in its log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("once"))
    });
    // More followers than svd serves clients at once, each gone after its first answer while
    // the service says nothing more.
    for _ in 0..80 {
        let mut s = std::os::unix::net::UnixStream::connect(&svd.socket).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        s.write_all(b"logs quiet -f\n").expect("request");
        let mut first = [0u8; 3];
        let _ = s.read(&mut first);
    }
    let served = testkit::try_wait_until(DEADLINE, "svctl status to be served", || {
        svd.svctl(&["status"]).status.success()
    });
    assert!(
        served.is_ok(),
        "80 `logs -f` clients came and went, and svd still refuses `status` (`{}`): a \
         follower's place (its thread, its descriptor) must be given back when the client \
         leaves, also while its service writes nothing",
        String::from_utf8_lossy(&svd.svctl(&["status"]).stderr).trim()
    );
    svd.stop();
}

#[test]
fn a_stop_sends_the_stop_signal_once_to_each_process() {
    // Signals of one kind coalesce while pending, so the service itself cannot count them
    // reliably; the system calls svd makes can be counted: strace, attached to svd.
    // web ignores SIGTERM, so that it is still there when svd looks for the group's members.
    let mut svd = Svd::start(
        "svd-once",
        "[service.web]\ncommand = [\"@SV\", \"run\", \"--tag\", \"@DIR\", \"--ignore-term\"]\nstop_timeout_s = 0.5\n",
        &[],
    );
    svd.saw("web started pid");
    let trace = svd.path("trace");
    let Some(mut strace) = trace_signals(
        &svd,
        &trace,
        "a_stop_sends_the_stop_signal_once_to_each_process",
    ) else {
        return;
    };
    let out = svd.svctl(&["stop", "web"]);
    assert!(out.status.success(), "svctl stop web: {out:?}");
    kill(Pid::from_raw(strace.id() as i32), Signal::SIGINT).expect("detach strace");
    strace.wait(DEADLINE);
    let calls = std::fs::read_to_string(&trace).expect("the trace");
    let sent: Vec<&str> = calls.lines().filter(|l| l.contains("SIGTERM")).collect();
    assert_eq!(
        sent.len(),
        1,
        "stopping web (one process, its group's leader) svd sent SIGTERM {} times: {sent:?}. \
         One killpg reaches the whole group; signal individually only the members outside it \
         (a second SIGTERM often means \"now, not gracefully\")",
        sent.len()
    );
    svd.stop();
}

/// strace on svd's main thread, counting the signals it sends (see testkit::trace_signals).
fn trace_signals(svd: &Svd, trace: &Path, test: &str) -> Option<ChildGuard> {
    testkit::trace_signals(svd.pid(), false, trace, test)
}

#[test]
fn after_a_crash_svd_never_signals_the_dead_leaders_group_number() {
    let mut svd = Svd::start_with(
        "svd-no-killpg",
        r#"
[service.crash]
command = ["/bin/sh", "-c", 'read x < "$0"; exit 3', "@DIR/gate"]
restart = "never"
"#,
        &[],
        |dir, _| make_gate(&dir.join("gate")),
    );
    let pgid = pid_in(&svd.saw("crash started pid"));
    let trace = svd.path("trace");
    let Some(mut strace) = trace_signals(
        &svd,
        &trace,
        "after_a_crash_svd_never_signals_the_dead_leaders_group_number",
    ) else {
        return;
    };
    open_gate(&svd.path("gate"));
    svd.expect("crash exited exit=3");
    svd.status(); // answered after the death was dealt with
    kill(Pid::from_raw(strace.id() as i32), Signal::SIGINT).expect("detach strace");
    strace.wait(DEADLINE);
    let calls = std::fs::read_to_string(&trace).expect("the trace");
    let to_group: Vec<&str> = calls
        .lines()
        .filter(|l| l.starts_with(&format!("kill(-{pgid},")))
        .collect();
    assert!(
        to_group.is_empty(),
        "crash's leader (pid {pgid}) was reaped, and then svd signalled group {pgid}: {to_group:?}. \
         Once the leader is reaped and its group empty, the number may be a new group of \
         strangers; signal what is left through pidfds of members found in /proc instead"
    );
    svd.stop();
}
