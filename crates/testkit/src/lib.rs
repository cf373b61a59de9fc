//! Shared test support for every topic's tests, so that no test copies these patterns.
//!
//! What lives here, and why each piece exists:
//! - [`temp_dir`] and [`unique_name`]: a private directory per test and a unique name for every
//!   OS object (socket, FIFO, shm segment, queue), so tests run in parallel without colliding.
//! - [`wait_until`], [`wait_for_exit`], [`wait_for_path`], [`connect_unix`]: waiting for an
//!   event with a deadline, never `sleep` as synchronisation. A wait that times out panics with a
//!   message saying what was awaited and what was seen.
//! - [`ChildGuard`]: a child that is killed and reaped when the guard drops, also when the test
//!   panics, so a failing test never leaks a process.
//! - [`assert_reaped`], [`zombie_children`], [`children_of`], [`proc_state`]: hygiene checks read
//!   from `/proc` (Linux).
//! - [`FdSnapshot`]: this process's open fds before and after, to prove nothing leaked.
//! - [`isolated!`]: runs the current test alone in a fresh process (the test binary re-executes
//!   itself), for tests that count fds, install signal handlers or change process-wide state.
//! - [`run_with_deadline`] and [`run_demo`]: run a binary to completion with a deadline and print
//!   command, status, stdout and stderr when it fails.
//!
//! One module per topic holds what only that topic's tests need:
//! - [`async_processes`]: counting tagged children in `/proc` while other tests run their own,
//!   and guards that kill them (week 3);
//! - [`shm`]: names of shared-memory segments, semaphores and queues removed by a guard, and
//!   what `/proc` says about another process's threads (week 4);
//! - [`monitoring`]: helper processes in known states and the kernel's own figures about them
//!   (`/proc` read directly, `ps`) (week 5);
//! - [`job_control`]: a real pseudo-terminal that a test drives (`Terminal`: type ^C and ^Z,
//!   read what the terminal shows with deadlines), a program in a session of its own
//!   (`Session`), and guards that kill every process of such a session, deepest first (week 6);
//! - [`daemon`]: daemons looked at from outside through `/proc` and stopped by a guard that
//!   also runs when a test fails (week 6).
//!
//! Run its own tests with `cargo test -p testkit`.

pub mod async_processes;
pub mod daemon;
pub mod job_control;
pub mod monitoring;
pub mod seccomp;
pub mod shm;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The deadline tests use when nothing more specific applies. Generous on purpose: a loaded
/// 2-core machine must never turn a correct program into a failed test.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique name for an OS object: `pl-<tag>-<pid>-<counter>-<nanos>`.
///
/// Use it for shm segments, message queues, abstract socket names and FIFOs. The tag should name
/// the test so that a leftover object says where it came from. Only `[A-Za-z0-9_-]` is kept from
/// the tag, and the result stays under 64 bytes (a POSIX shm or queue name must be short).
pub fn unique_name(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(24)
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "pl-{clean}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh private directory for one test, removed when the returned value drops.
///
/// It lives directly under the system temp dir (not under `target/`) so that Unix socket paths
/// inside it stay well under the ~108-byte limit of `sun_path`.
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    let prefix = format!("{}-", unique_name(tag));
    tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temp dir for {tag}: {e}"))
}

/// Polls `condition` with a small backoff until it holds or `deadline` passes.
///
/// Returns `Err` with a message naming `what` when the deadline passes. Use it only where the
/// kernel offers no event to wait on (e.g. "this pid is gone from /proc").
pub fn try_wait_until(
    deadline: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        if condition() {
            return Ok(());
        }
        if start.elapsed() >= deadline {
            return Err(format!("timed out after {deadline:?} waiting for {what}"));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Like [`try_wait_until`], but panics with the message when the deadline passes.
#[track_caller]
pub fn wait_until(deadline: Duration, what: &str, condition: impl FnMut() -> bool) {
    if let Err(msg) = try_wait_until(deadline, what, condition) {
        panic!("{msg}");
    }
}

/// Waits until `path` exists (a socket bound, a pid file written), with a deadline.
#[track_caller]
pub fn wait_for_path(path: &Path, deadline: Duration) {
    wait_until(deadline, &format!("{} to appear", path.display()), || {
        path.exists()
    });
}

/// Connects to the Unix socket at `path`, retrying until a server accepts or the deadline passes.
#[track_caller]
pub fn connect_unix(path: &Path, deadline: Duration) -> UnixStream {
    let mut last = None;
    let ok = try_wait_until(
        deadline,
        &format!("a server to accept on {}", path.display()),
        || match UnixStream::connect(path) {
            Ok(s) => {
                last = Some(Ok(s));
                true
            }
            Err(e) => {
                last = Some(Err(e));
                false
            }
        },
    );
    match (ok, last) {
        (Ok(()), Some(Ok(s))) => s,
        (_, Some(Err(e))) => panic!(
            "timed out after {deadline:?} connecting to {}: last error: {e}",
            path.display()
        ),
        _ => panic!(
            "timed out after {deadline:?} connecting to {}",
            path.display()
        ),
    }
}

/// Waits for `child` to exit, with a deadline. On overrun the child is killed and reaped, and
/// the function panics with its pid and its state from `/proc`.
#[track_caller]
pub fn wait_for_exit(child: &mut Child, deadline: Duration) -> ExitStatus {
    let pid = child.id();
    let mut status = None;
    let res = try_wait_until(deadline, &format!("pid {pid} to exit"), || {
        match child.try_wait() {
            Ok(Some(s)) => {
                status = Some(s);
                true
            }
            Ok(None) => false,
            Err(e) => panic!("try_wait on pid {pid} failed: {e}"),
        }
    });
    match (res, status) {
        (Ok(()), Some(s)) => s,
        _ => {
            let state = proc_state(pid);
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "pid {pid} did not exit within {deadline:?} (state before kill: {})",
                state.map_or("gone".to_string(), |c| c.to_string())
            )
        }
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
///
/// Wrap every child a test starts, so that a failing assertion cannot leave it running.
#[derive(Debug)]
pub struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// Takes ownership of `child`.
    pub fn new(child: Child) -> Self {
        ChildGuard(Some(child))
    }

    /// Spawns `cmd` and guards the child; panics with the command when it cannot start.
    #[track_caller]
    pub fn spawn(cmd: &mut Command) -> Self {
        match cmd.spawn() {
            Ok(c) => ChildGuard(Some(c)),
            Err(e) => panic!("cannot spawn {cmd:?}: {e}"),
        }
    }

    /// The guarded child.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child was already taken")
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Waits for the child with a deadline (see [`wait_for_exit`]).
    #[track_caller]
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        wait_for_exit(self.child(), deadline)
    }

    /// Gives the child back; the guard no longer kills it.
    pub fn into_inner(mut self) -> Child {
        self.0.take().expect("the child was already taken")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take()
            && let Ok(None) = c.try_wait()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The one-letter state of `pid` from `/proc/PID/stat` (`R`, `S`, `Z`, ...), or `None` when the
/// pid no longer exists.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// The parent pid of `pid` from `/proc/PID/stat`.
pub fn proc_ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command line of `pid`, arguments joined by spaces (empty for a zombie).
pub fn proc_cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Every live process whose parent is `pid`, with its state, read from `/proc`.
pub fn children_of(pid: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if proc_ppid(p) == Some(pid)
            && let Some(state) = proc_state(p)
        {
            out.push((p, state));
        }
    }
    out.sort_unstable();
    out
}

/// The zombie children of `pid`: exited, but not yet waited for.
pub fn zombie_children(pid: u32) -> Vec<u32> {
    children_of(pid)
        .into_iter()
        .filter(|&(_, s)| s == 'Z')
        .map(|(p, _)| p)
        .collect()
}

/// Asserts that `pid`, a child of this process, was reaped: it is gone from `/proc`, or the pid
/// was already reused by a process that is not our zombie.
#[track_caller]
pub fn assert_reaped(pid: u32) {
    let me = std::process::id();
    if proc_state(pid) == Some('Z') && proc_ppid(pid) == Some(me) {
        panic!(
            "pid {pid} is a zombie: it exited but was never waited for (call wait() or \
             waitpid() on every child you start)"
        );
    }
}

/// One entry of this process's fd table: the fd number and what it points to.
pub type FdTable = BTreeMap<i32, String>;

/// This process's open file descriptors, read from `/proc/self/fd`.
pub fn open_fds() -> FdTable {
    let mut out = fd_table_in("/proc/self/fd");
    // The directory handle used to list the table is itself an fd that is already closed.
    out.retain(|_, target| !target.starts_with("/proc/") || !target.ends_with("/fd"));
    out
}

/// The fds listed in a `/proc/PID/fd` directory and what each points to (empty if it is gone).
pub(crate) fn fd_table_in(dir: &str) -> FdTable {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in dir.flatten() {
        if let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        {
            // An fd closed between reading the directory and reading its link is gone: it
            // is not part of the table (an empty target would look like a foreign fd).
            if let Ok(target) = std::fs::read_link(entry.path()) {
                out.insert(fd, target.display().to_string());
            }
        }
    }
    out
}

/// A snapshot of this process's fd table, to compare with a later one.
///
/// Other threads open fds too: take snapshots only in a test that runs alone in its process
/// (see [`isolated!`]), or the comparison can blame the learner for another test's fds.
#[derive(Debug, Clone)]
pub struct FdSnapshot(FdTable);

impl FdSnapshot {
    /// Takes a snapshot now.
    pub fn take() -> Self {
        FdSnapshot(open_fds())
    }

    /// The fds open now that were not open at the snapshot.
    pub fn new_fds(&self) -> FdTable {
        let now = open_fds();
        now.into_iter()
            .filter(|(fd, target)| self.0.get(fd) != Some(target))
            .collect()
    }

    /// Panics, listing each fd and what it points to, if any fd was opened since the snapshot
    /// and is still open.
    #[track_caller]
    pub fn assert_no_leak(&self, context: &str) {
        let leaked = self.new_fds();
        if !leaked.is_empty() {
            let mut msg = format!("{context}: {} file descriptor(s) leaked:\n", leaked.len());
            for (fd, target) in &leaked {
                let _ = writeln!(msg, "  fd {fd} -> {target}");
            }
            msg.push_str("every pipe end, socket and file you open must be closed (dropped)");
            panic!("{msg}");
        }
    }
}

/// The environment variable that marks a process as the isolated re-run of one test.
pub const ISOLATED_ENV: &str = "PROCLINGS_ISOLATED_TEST";

/// Runs the calling test alone in a fresh process of the same test binary.
///
/// Returns `true` in that fresh process (go on with the test) and `false` in the original one,
/// after the fresh process passed. Panics with its output when it failed. Prefer the
/// [`isolated!`] macro, which fills in the test's name.
#[track_caller]
pub fn isolate(test_path: &str) -> bool {
    if std::env::var_os(ISOLATED_ENV).is_some_and(|v| v == OsStr::new(test_path)) {
        return true;
    }
    let exe = std::env::current_exe().expect("cannot find the test binary");
    let mut cmd = Command::new(exe);
    cmd.args([test_path, "--exact", "--test-threads=1", "--nocapture"])
        .env(ISOLATED_ENV, test_path)
        .stdin(Stdio::null());
    let out = run_with_deadline(&mut cmd, Duration::from_secs(60));
    let ran = String::from_utf8_lossy(&out.stdout).contains("1 passed");
    if !out.status.success() || !ran {
        // Indented, so that a reader of this test's own output (libtest's, or the runner's)
        // does not take the fresh process's `failures:` and `---- NAME stdout ----` lines for
        // the end of this failure's message.
        let indent = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(|line| format!("  {line}\n"))
                .collect::<String>()
        };
        panic!(
            "the isolated run of {test_path} failed ({}):\n--- stdout ---\n{}--- stderr ---\n{}",
            describe_status(out.status),
            indent(&out.stdout),
            indent(&out.stderr)
        );
    }
    false
}

/// Re-runs the enclosing `#[test]` function alone in a fresh process (see [`isolate`]).
///
/// Put `testkit::isolated!();` as the first statement of a test that counts fds, installs signal
/// handlers, blocks signals or forks: those act on the whole process, and `cargo test` runs the
/// tests of a binary as threads of one process.
#[macro_export]
macro_rules! isolated {
    () => {{
        fn here() {}
        let full = ::std::any::type_name_of_val(&here);
        let full = full.strip_suffix("::here").unwrap_or(full);
        // Drop the crate name: libtest names tests by their path inside the crate.
        let path = full.split_once("::").map_or(full, |(_, rest)| rest);
        if !$crate::isolate(path) {
            return;
        }
    }};
}

/// `exited N` or `killed by signal N`: an exit status in words.
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{status}"),
    }
}

/// Runs `cmd` to completion with piped stdout and stderr, read concurrently (so neither pipe can
/// fill and block the child). On overrun the child is killed, reaped, and the function panics
/// with the command and the output so far.
#[track_caller]
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd);
    let child = guard.child();
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let pid = child.id();
    let mut status = None;
    let res = try_wait_until(deadline, &format!("{cmd:?} to exit"), || {
        match guard.child().try_wait() {
            Ok(Some(s)) => {
                status = Some(s);
                true
            }
            _ => false,
        }
    });
    if res.is_err() {
        let _ = guard.child().kill();
        let _ = guard.child().wait();
    }
    // A grandchild that inherited the pipes could keep them open forever; the readers are
    // joined only once the child is gone, and a leaked grandchild is the test's to report.
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{cmd:?} (pid {pid}) did not finish within {deadline:?}; it was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Runs a demo binary to completion with a deadline and asserts it succeeded and left no child
/// behind; returns its stdout. On failure prints command, status, stdout and stderr.
#[track_caller]
pub fn run_demo(bin: impl AsRef<OsStr>, deadline: Duration) -> String {
    let bin = bin.as_ref();
    let mut cmd = Command::new(bin);
    cmd.stdin(Stdio::null()).env("NO_COLOR", "1");
    let out = run_with_deadline(&mut cmd, deadline);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!(
            "demo {} failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            Path::new(bin).display(),
            describe_status(out.status),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
}

/// Attaches strace to `pid` (with `follow`, every thread and those started later too), tracing
/// only the system calls that send signals, into `trace`: the way to count signals, which
/// coalesce while pending. `None` (with a message naming `test`) where strace is missing or
/// cannot attach. Detach with SIGINT to the returned strace, then wait for it.
pub fn trace_signals(pid: u32, follow: bool, trace: &Path, test: &str) -> Option<ChildGuard> {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("{test}: skipped: no strace");
        return None;
    }
    let mut cmd = Command::new("strace");
    if follow {
        cmd.arg("-f");
    }
    cmd.args([
        "-e",
        "trace=kill,tgkill,pidfd_send_signal",
        "-e",
        "signal=none",
        "-o",
    ])
    .arg(trace)
    .arg("-p")
    .arg(pid.to_string())
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut strace = ChildGuard::spawn(&mut cmd);
    let mut said = LineReader::new(strace.child().stderr.take().expect("stderr"), "strace");
    // "Process PID attached" (with -f: "... with N threads").
    match said.next_line(DEFAULT_DEADLINE) {
        Some(l) if l.contains("attached") => Some(strace),
        other => {
            eprintln!("{test}: skipped: strace cannot attach here ({other:?})");
            None
        }
    }
}

/// Whether this process may choose the pid of its next child (writing the pid namespace's
/// `/proc/sys/kernel/ns_last_pid` takes CAP_SYS_ADMIN over it, or CAP_CHECKPOINT_RESTORE: root).
/// Tests that need a pid reused on purpose skip, saying so, where it cannot.
pub fn can_choose_pids() -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/ns_last_pid")
        .is_ok()
}

/// Starts `sleep 60` with the pid `want`, which must be free (a process that ended and was
/// reaped): through `ns_last_pid`, checkpoint/restore's way, retried while other forks take
/// it first. `None` where pids cannot be chosen ([`can_choose_pids`]) or it never worked. The
/// caller kills and reaps the child.
pub fn spawn_with_pid(want: u32) -> Option<std::process::Child> {
    for _ in 0..100 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (want - 1).to_string()).ok()?;
        let mut child = Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep");
        if child.id() == want {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

/// Makes `cmd`'s program start with no descriptor from `first` up: every one this process
/// would pass down without close-on-exec (a jobserver's pipe inherited from cargo or a test
/// runner, say) is marked close-on-exec in the child, so the program's fd table is what the
/// test means it to be: stdio, and what `cmd` itself places below `first`. Marked, not closed:
/// std's own error pipe is among them until the exec.
pub fn close_on_exec_from(cmd: &mut Command, first: u32) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and makes one system call on
    // integers, which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::CLOSE_RANGE_CLOEXEC as libc::c_int;
            if libc::close_range(first, libc::c_uint::MAX, flags) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// A `/bin/sh -c SCRIPT` command: the simplest way for a test to make a child that behaves in a
/// chosen way (writes, exits with a code, kills itself with a signal).
pub fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

/// A path for a Unix socket, FIFO or file named `name` inside `dir`.
pub fn path_in(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_stay_short() {
        let a = unique_name("a-very-long-test-name-that-goes-on-and-on");
        let b = unique_name("a-very-long-test-name-that-goes-on-and-on");
        assert_ne!(a, b);
        assert!(a.len() < 64, "{a} is too long for a POSIX name");
    }

    #[test]
    fn wait_for_exit_reaps_and_reports_status() {
        let mut g = ChildGuard::spawn(&mut sh("exit 3"));
        let st = g.wait(DEFAULT_DEADLINE);
        assert_eq!(st.code(), Some(3));
        assert_reaped(g.id());
    }

    #[test]
    fn wait_until_times_out_with_a_message() {
        let err = try_wait_until(Duration::from_millis(30), "never", || false).unwrap_err();
        assert!(err.contains("never"), "{err}");
    }

    #[test]
    fn run_with_deadline_kills_an_overrunning_child() {
        let r = std::panic::catch_unwind(|| {
            run_with_deadline(&mut sh("exec sleep 30"), Duration::from_millis(200))
        });
        assert!(r.is_err());
    }

    #[test]
    fn a_zombie_is_seen_and_reaping_clears_it() {
        testkit_isolated_zombie();
    }

    fn testkit_isolated_zombie() {
        let mut child = sh("exit 0").spawn().unwrap();
        let pid = child.id();
        wait_until(DEFAULT_DEADLINE, "the child to become a zombie", || {
            proc_state(pid) == Some('Z')
        });
        assert!(zombie_children(std::process::id()).contains(&pid));
        child.wait().unwrap();
        assert_reaped(pid);
    }

    #[test]
    fn isolated_tests_run_in_a_fresh_process() {
        crate::isolated!();
        assert_eq!(
            std::env::var(ISOLATED_ENV).unwrap(),
            "tests::isolated_tests_run_in_a_fresh_process"
        );
    }

    #[test]
    fn a_panic_in_a_deadlined_call_is_raised_at_once() {
        let start = Instant::now();
        let r = std::panic::catch_unwind(|| {
            call_or_unblock(Duration::from_secs(30), || panic!("todo"), || ())
        });
        assert!(r.is_err());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "it waited for the deadline"
        );
    }

    #[test]
    fn a_hung_call_is_unblocked_and_reported() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let got = call_or_unblock(
            Duration::from_millis(50),
            move || rx.recv().is_err(),
            move || drop(tx),
        );
        assert_eq!(got, None);
        assert_eq!(call_with_deadline(DEFAULT_DEADLINE, || 7), Some(7));
    }

    #[test]
    fn fd_snapshot_sees_a_leak() {
        crate::isolated!();
        let snap = FdSnapshot::take();
        let (r, w) = std::io::pipe().unwrap();
        assert_eq!(snap.new_fds().len(), 2);
        drop((r, w));
        snap.assert_no_leak("after closing both ends");
    }
}

/// Runs `f` on a new thread and returns its value if it finishes within `deadline`, or `None`
/// if it is still running then (the thread is left behind, blocked; the caller reports the hang
/// and cleans up what it can, e.g. with [`kill_and_reap_children`]).
///
/// A panic in `f` (a `todo!()` in a stub, a failed assertion) is re-raised in the caller at once,
/// so an unfinished exercise fails fast instead of waiting for the deadline.
pub fn call_with_deadline<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (rx, handle) = call_on_thread(f);
    finish_within(&rx, handle, deadline).ok()
}

/// Starts `f` on a new thread; its value arrives on the returned channel.
fn call_on_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (std::sync::mpsc::Receiver<T>, thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(f());
    });
    (rx, handle)
}

/// `f`'s value if it arrives within `deadline` (joining its thread), its panic re-raised if it
/// panicked, or the still-running thread back when the deadline passed.
fn finish_within<T>(
    rx: &std::sync::mpsc::Receiver<T>,
    handle: thread::JoinHandle<()>,
    deadline: Duration,
) -> Result<T, thread::JoinHandle<()>> {
    match rx.recv_timeout(deadline) {
        Ok(v) => {
            let _ = handle.join();
            Ok(v)
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sends before it ends"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(handle),
    }
}

/// Like [`call_with_deadline`], for a call that hangs on something the test can release: when
/// `f` is still running at `deadline`, runs `unblock` (typically: kill the child `f` waits on),
/// then gives `f`'s thread up to `deadline` again to finish, so nothing of the hung call is left
/// running. Returns `None` when `f` overran; the caller then fails with a message saying why the
/// call probably hung.
///
/// A panic in `f` is re-raised at once, as in [`call_with_deadline`].
pub fn call_or_unblock<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
    unblock: impl FnOnce(),
) -> Option<T> {
    let (rx, handle) = call_on_thread(f);
    let handle = match finish_within(&rx, handle, deadline) {
        Ok(v) => return Some(v),
        Err(still_running) => still_running,
    };
    unblock();
    // Whatever the call returns now is too late; give its thread the time to end.
    let _ = rx.recv_timeout(deadline);
    if handle.is_finished() {
        let _ = handle.join();
    }
    None
}

/// The pipe ends `pid` holds open, one line each: `fd 4 -> pipe:[123456] (write end)`, read from
/// `/proc/PID/fd` and the flags in `/proc/PID/fdinfo` (Linux). Use it to say what keeps a reader
/// from seeing EOF: some process still holds a write end of its pipe.
pub fn pipe_fds(pid: u32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut out: Vec<(i32, String)> = Vec::new();
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.display().to_string();
        if !target.starts_with("pipe:") {
            continue;
        }
        // fdinfo's `flags:` field is octal; the access mode is its low two bits.
        let end = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            })
            .map_or("end unknown", |flags| match flags & 0o3 {
                0 => "read end",
                _ => "write end",
            });
        out.push((fd, format!("fd {fd} -> {target} ({end})")));
    }
    out.sort();
    out.into_iter().map(|(_, line)| line).collect()
}

/// Sets `O_NONBLOCK` on this process's read end of the pipe that process `pid` holds as its
/// fd `child_fd` (a child's stdout: 1), so that the next read of the empty pipe fails with
/// EAGAIN: a read error on demand. The flag belongs to the open file description, so the code
/// under test sees it on its own fd. The end is found by the pipe's inode, not by being the only
/// pipe here: a test may inherit others (a jobserver's, say).
pub fn make_our_read_end_nonblocking(pid: u32, child_fd: i32) {
    let pipe = std::fs::read_link(format!("/proc/{pid}/fd/{child_fd}"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/fd/{child_fd}: {e}"));
    let ends: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|t| t == pipe)
                // SAFETY: F_GETFL on an fd number only reads its status flags.
                && unsafe { libc::fcntl(*fd, libc::F_GETFL) } & libc::O_ACCMODE == libc::O_RDONLY
        })
        .collect();
    let [fd] = ends[..] else {
        panic!(
            "expected this process to hold one read end of {} (fd {child_fd} of {pid}), found \
             fds {ends:?}",
            pipe.display()
        );
    };
    // SAFETY: fcntl on an fd number this process holds; only its status flags change.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    assert_eq!(rc, 0, "fcntl(F_SETFL): {}", std::io::Error::last_os_error());
}

/// Kills (SIGKILL) and reaps every child of this process, returning their pids.
///
/// Only for a test that runs alone in its process ([`isolated!`]) and must clean up after code
/// under test that hung while owning children it can no longer wait for.
pub fn kill_and_reap_children() -> Vec<u32> {
    let kids: Vec<u32> = children_of(std::process::id())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for &pid in &kids {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: kill and waitpid take plain integers and touch no memory of ours except the
        // status slot, which is a live local; the pid is our own child, read from /proc.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }
    kids
}

/// Reads a child's output line by line on a thread, so a test can wait for a given line with a
/// deadline (`ready`, `got SIGHUP`) instead of sleeping, and fails fast when the child exits.
///
/// Every line read is kept, so a failure message can show everything the child said.
#[derive(Debug)]
pub struct LineReader {
    what: String,
    rx: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    eof: bool,
}

impl LineReader {
    /// Starts reading `source` (e.g. a `ChildStdout`); `what` names it in failure messages.
    pub fn new(source: impl Read + Send + 'static, what: &str) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(source).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LineReader {
            what: what.to_string(),
            rx,
            seen: Vec::new(),
            eof: false,
        }
    }

    /// The next line, or `None` at EOF; panics when `deadline` passes first.
    #[track_caller]
    pub fn next_line(&mut self, deadline: Duration) -> Option<String> {
        if self.eof {
            return None;
        }
        match self.rx.recv_timeout(deadline) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                "timed out after {deadline:?} waiting for a line from {}; seen so far:\n{}",
                self.what,
                self.seen.join("\n")
            ),
        }
    }

    /// Skips lines until one contains `needle` and returns it. Panics, showing every line seen,
    /// at EOF (the child exited or closed the stream) or when `deadline` passes.
    #[track_caller]
    pub fn expect(&mut self, needle: &str, deadline: Duration) -> String {
        let start = Instant::now();
        loop {
            let left = deadline.saturating_sub(start.elapsed());
            let left = if left.is_zero() {
                Duration::from_millis(1)
            } else {
                left
            };
            match self.next_line(left) {
                Some(line) if line.contains(needle) => return line,
                Some(_) => {}
                None => panic!(
                    "{} ended (EOF) before a line containing {needle:?}; it said:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every remaining line until EOF; panics when `deadline` passes first.
    #[track_caller]
    pub fn rest(&mut self, deadline: Duration) -> Vec<String> {
        let start = Instant::now();
        let mut out = Vec::new();
        loop {
            let left = deadline
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1));
            match self.next_line(left) {
                Some(line) => out.push(line),
                None => return out,
            }
        }
    }

    /// Every line read so far, in order.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}

/// For a test that runs alone in its process ([`isolated!`]) and found the code under test hung
/// on a pipe: describes which pipe ends this process and each of its children hold (a held write
/// end is why a reader never sees EOF), then kills and reaps the children so nothing is left
/// running. Returns the description, to put in the failure message.
pub fn hang_report(what: &str) -> String {
    let me = std::process::id();
    let mut msg = format!("{what}\npipe ends held by this process (pid {me}):\n");
    let own = pipe_fds(me);
    let children: Vec<(u32, char, String, Vec<String>)> = children_of(me)
        .into_iter()
        .map(|(pid, state)| (pid, state, proc_cmdline(pid), pipe_fds(pid)))
        .collect();
    if own.is_empty() {
        msg.push_str("  (none)\n");
    }
    // Point at the culprit: an end this process holds of a pipe that a child, or this process
    // itself, uses from the other side.
    let pipe_of = |line: &str| {
        line.split(" -> ")
            .nth(1)?
            .split(' ')
            .next()
            .map(str::to_owned)
    };
    for line in &own {
        let _ = write!(msg, "  {line}");
        let Some(pipe) = pipe_of(line) else {
            msg.push('\n');
            continue;
        };
        let writes = line.ends_with("(write end)");
        let other_end = if writes { "(read end)" } else { "(write end)" };
        let peer = children
            .iter()
            .find(|(_, _, _, fds)| {
                fds.iter()
                    .any(|l| pipe_of(l).as_ref() == Some(&pipe) && l.ends_with(other_end))
            })
            .map(|(pid, _, cmd, _)| format!("child {pid} `{cmd}`"))
            .or_else(|| {
                // Holding both ends: this process's own read never sees EOF.
                (writes
                    && own
                        .iter()
                        .any(|l| pipe_of(l).as_ref() == Some(&pipe) && l.ends_with(other_end)))
                .then(|| "this process itself".to_owned())
            });
        match (peer, writes) {
            (Some(peer), true) => {
                let _ = write!(msg, "  <- {peer} reads this pipe: it cannot see EOF");
            }
            (Some(peer), false) => {
                let _ = write!(msg, "  <- {peer} writes this pipe: it cannot get EPIPE");
            }
            (None, _) => {}
        }
        msg.push('\n');
    }
    for (pid, state, cmd, fds) in children {
        let _ = writeln!(msg, "child pid {pid} (state {state}) `{cmd}` holds:");
        for line in fds {
            let _ = writeln!(msg, "  {line}");
        }
    }
    let killed = kill_and_reap_children();
    if !killed.is_empty() {
        let _ = writeln!(msg, "(children {killed:?} were killed and reaped)");
    }
    msg
}

/// How many SIGUSR1s the handler of [`handle_sigusr1_without_restart`] has run for.
static SIGUSR1_HANDLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn count_sigusr1(_: libc::c_int) {
    SIGUSR1_HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Installs a SIGUSR1 handler WITHOUT `SA_RESTART`: a blocking system call it interrupts then
/// fails with EINTR (`ErrorKind::Interrupted`) instead of being restarted by the kernel. With
/// [`thread_sleeps_in`] and [`interrupt_thread`], a test provokes EINTR deterministically.
///
/// Signal dispositions belong to the whole process: call it only in a test that runs alone
/// (see [`isolated!`]).
pub fn handle_sigusr1_without_restart() {
    // SAFETY: an all-zero `sigaction` is a valid value (no flags, SIG_DFL); the fields that
    // matter are set below before it is used.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = count_sigusr1 as *const () as libc::sighandler_t;
    action.sa_flags = 0;
    // SAFETY: `sa_mask` is a valid sigset_t owned by `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: the handler only increments an atomic, which is async-signal-safe; the caller
    // runs isolated, so no other test's signal handling changes.
    let rc = unsafe { libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) };
    assert_eq!(
        rc,
        0,
        "sigaction(SIGUSR1): {}",
        std::io::Error::last_os_error()
    );
}

/// Whether thread `tid` of this process is asleep inside one of the system calls `syscalls`
/// (numbers such as `libc::SYS_read`), read from `/proc/self/task/TID/syscall`. Where the kernel
/// does not expose that file, any sleep counts.
pub fn thread_sleeps_in(tid: i32, syscalls: &[libc::c_long]) -> bool {
    let Ok(tid) = u32::try_from(tid) else {
        return false;
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    let sleeping = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        == Some("S");
    if !sleeping {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) {
        Ok(text) => {
            let nr = text.split_whitespace().next().unwrap_or("");
            syscalls.iter().any(|s| nr == s.to_string())
        }
        Err(_) => true,
    }
}

/// Sends SIGUSR1 to the thread behind `handle` and waits until the handler has run, which is
/// when the system call that thread slept in has returned EINTR. Install the handler first
/// with [`handle_sigusr1_without_restart`].
#[track_caller]
pub fn interrupt_thread<T>(handle: &thread::JoinHandle<T>) {
    use std::os::unix::thread::JoinHandleExt;
    let before = SIGUSR1_HANDLED.load(Ordering::SeqCst);
    // SAFETY: `handle` has not been joined (we only borrow it), so its pthread_t still names a
    // thread of this process.
    let rc = unsafe { libc::pthread_kill(handle.as_pthread_t(), libc::SIGUSR1) };
    assert_eq!(rc, 0, "pthread_kill(SIGUSR1) failed");
    wait_until(DEFAULT_DEADLINE, "the SIGUSR1 handler to run", || {
        SIGUSR1_HANDLED.load(Ordering::SeqCst) > before
    });
}
