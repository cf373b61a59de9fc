//! The sandboxed run: a command (a test binary, a demo, a cargo step) runs in its own process
//! group with stdin closed, its output captured, and a run-time limit; afterwards everything it
//! left behind is found, reported, killed or removed.
//!
//! How leftovers are found (Linux): the runner makes itself a child subreaper
//! (`prctl(PR_SET_CHILD_SUBREAPER)`), so an orphaned or daemonized descendant is re-parented to
//! the runner instead of to init, and every process whose parent chain leads to the runner's pid
//! in /proc is ours. New entries of /dev/shm (and of /dev/mqueue where it is mounted) are found
//! by comparing listings taken before and after the run. Every child is reaped (a `waitpid`
//! loop), so no zombie stays either.
//!
//! Ctrl-C or SIGTERM to the runner sets a flag (the handler does nothing else, which is
//! async-signal-safe); the wait loop sees it, kills the run's group and descendants, and the
//! caller exits. The run has its own process group, so the terminal's SIGINT does not reach it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

pub mod contain;

/// How long a group may take to exit after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(1);
/// How often the wait loop looks at the child, the clock and the interrupt flag.
const POLL: Duration = Duration::from_millis(5);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether the run at hand uses message queues, so that an unmounted /dev/mqueue is worth a
/// note (`doctor` says it once for everything else).
static MQUEUE_NOTE: AtomicBool = AtomicBool::new(false);

/// Says whether the runs that follow use POSIX message queues: only then does an unmounted
/// /dev/mqueue (whose leftovers cannot be listed) get a note.
pub fn uses_message_queues(yes: bool) {
    MQUEUE_NOTE.store(yes, Ordering::Relaxed);
}

/// One process, as reported to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its command line (`[comm]` when it has none, such as a zombie).
    pub cmdline: String,
}

impl std::fmt::Display for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {:<7} {}", self.pid, self.cmdline)
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// It was not seen to end (it could not be reaped).
    Unknown,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit code {code}"),
            Status::Signaled(sig) => write!(f, "killed by signal {sig} ({})", signal_name(*sig)),
            Status::Unknown => write!(f, "unknown status"),
        }
    }
}

/// What a run left behind (already killed, reaped or removed when reported).
#[derive(Debug, Default, Clone)]
pub struct Leaks {
    /// Descendants still alive after the command ended.
    pub processes: Vec<Proc>,
    /// New entries of /dev/shm (shared memory segments, named semaphores).
    pub shm: Vec<String>,
    /// New entries of /dev/mqueue (message queues).
    pub mqueues: Vec<String>,
}

impl Leaks {
    /// Whether nothing was left behind.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.shm.is_empty() && self.mqueues.is_empty()
    }

    /// One line per leaked object, each saying that it was cleaned up.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for p in &self.processes {
            lines.push(format!("process still running: {p} (killed)"));
        }
        for name in &self.shm {
            lines.push(format!("/dev/shm/{name} was not removed (removed now)"));
        }
        for name in &self.mqueues {
            lines.push(format!("/dev/mqueue/{name} was not removed (removed now)"));
        }
        lines
    }
}

/// The result of a sandboxed run.
#[derive(Debug)]
pub struct Outcome {
    /// How the command ended.
    pub status: Status,
    /// It ran into the limit and was terminated.
    pub timed_out: bool,
    /// The runner was interrupted (Ctrl-C, SIGTERM) and stopped the run.
    pub interrupted: bool,
    /// The time it ran.
    pub elapsed: Duration,
    /// The run's processes alive when the limit was reached.
    pub running_at_limit: Vec<Proc>,
    /// stdout and stderr, interleaved as written.
    pub output: String,
    /// What it left behind.
    pub leaks: Leaks,
    /// It ran contained (namespaces of its own, see [`contain`]).
    pub contained: bool,
    /// The cap on its tasks (processes and threads), where one was enforced.
    pub task_cap: Option<u32>,
    /// A fork or thread creation failed at that cap: a spawn loop, most likely.
    pub hit_task_cap: bool,
}

impl Outcome {
    /// Exited with 0, in time, leaving nothing behind.
    pub fn clean_success(&self) -> bool {
        self.status == Status::Exited(0)
            && !self.timed_out
            && !self.interrupted
            && self.leaks.is_empty()
    }
}

extern "C" fn on_interrupt(_signal: libc::c_int) {
    // An atomic store is async-signal-safe; everything else happens in the wait loop.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes this process a child subreaper and routes SIGINT and SIGTERM to the interrupt flag.
/// Idempotent.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only sets a flag of this process; it reads
            // no memory of ours.
            let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) };
            if rc != 0 {
                eprintln!(
                    "warning: cannot become a child subreaper ({}); daemonized leftovers may be missed",
                    std::io::Error::last_os_error()
                );
            }
        }
        let handler: extern "C" fn(libc::c_int) = on_interrupt;
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: `action` is fully initialised (zeroed, then the handler and an empty mask
            // set) before sigaction reads it; the handler only stores to an atomic, which is
            // async-signal-safe.
            let rc = unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                action.sa_flags = libc::SA_RESTART;
                libc::sigaction(signal, &action, std::ptr::null_mut())
            };
            if rc != 0 {
                eprintln!(
                    "warning: cannot handle signal {signal}: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        // Once per session: which protections the runs go without, and why.
        let off: Vec<String> = contain::protections()
            .into_iter()
            .filter(|p| !p.on)
            .map(|p| format!("{} ({})", p.name, p.how))
            .collect();
        if !off.is_empty() {
            eprintln!(
                "note: checks run without {}; `cargo xtask doctor` says how to turn it on",
                off.join(", ")
            );
        }
    });
}

/// Whether Ctrl-C or SIGTERM reached the runner.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Runs `cmd` in the sandbox with a run-time `limit`; `echo` copies its output to our stderr as
/// it comes. Returns an error only if it cannot be started. Contained where this machine allows
/// it (see [`contain`]), with the default cap on tasks.
pub fn run(cmd: Command, limit: Duration, echo: bool) -> anyhow::Result<Outcome> {
    run_capped(cmd, limit, echo, contain::DEFAULT_TASKS)
}

/// [`run`] with a cap of `tasks` processes and threads (where a cap can be enforced).
pub fn run_capped(
    cmd: Command,
    limit: Duration,
    echo: bool,
    tasks: u32,
) -> anyhow::Result<Outcome> {
    run_inner(cmd, limit, echo, Some(tasks))
}

/// [`run`] without containment, whatever the machine allows: what the sandbox costs without
/// it (the benches compare the two).
pub fn run_uncontained(cmd: Command, limit: Duration, echo: bool) -> anyhow::Result<Outcome> {
    run_inner(cmd, limit, echo, None)
}

fn run_inner(
    mut cmd: Command,
    limit: Duration,
    echo: bool,
    contain_with: Option<u32>,
) -> anyhow::Result<Outcome> {
    init();
    let before = snapshot();
    let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
    let program = format!("{:?}", cmd.get_program());
    let output: std::os::fd::OwnedFd = writer
        .try_clone()
        .context("cannot duplicate a pipe")?
        .into();
    let spawned = match contain_with {
        Some(tasks) => contain::Contained::spawn(&cmd, output, tasks),
        None => {
            // Our copy of the write end must go, or the reader never sees EOF.
            drop(output);
            Ok(None)
        }
    };
    match spawned {
        Ok(Some(contained)) => {
            drop(writer);
            drop(cmd);
            return run_contained(contained, reader, limit, echo, &before, &program);
        }
        Ok(None) => {}
        Err(e) => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                eprintln!("note: this run is not contained ({e}); it runs as without containment");
            });
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone().context("cannot duplicate a pipe")?)
        .stderr(writer)
        .process_group(0);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    // `cmd` holds our copies of the pipe's write end: drop them, or the reader never sees EOF.
    drop(cmd);
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    // The child is reaped by `reap`, not through `Child`; dropping `Child` neither waits nor kills.
    drop(child);

    let rx = read_output(reader, echo);

    let start = Instant::now();
    let mut status = None;
    let mut timed_out = false;
    let mut interrupted_run = false;
    let mut running_at_limit = Vec::new();
    loop {
        reap(pid, &mut status);
        if status.is_some() {
            break;
        }
        if interrupted() {
            interrupted_run = true;
            signal_group(pid, libc::SIGKILL);
            break;
        }
        if start.elapsed() >= limit {
            timed_out = true;
            running_at_limit = descendants()
                .into_iter()
                .filter(|(_, state)| *state != 'Z')
                .map(|(pid, _)| describe(pid))
                .collect();
            terminate_group(pid, &mut status);
            break;
        }
        std::thread::sleep(POLL);
    }
    let elapsed = start.elapsed();

    if status.is_none() {
        reap(pid, &mut status);
    }
    let mut leaks = Leaks {
        processes: kill_descendants(),
        ..Leaks::default()
    };
    if timed_out {
        // Those already listed as running at the limit are not reported twice.
        leaks.processes.retain(|p| !running_at_limit.contains(p));
    }

    let output = collect_output(&rx);
    let ipc = sweep_ipc(&before);
    leaks.shm = ipc.shm;
    leaks.mqueues = ipc.mqueues;
    Ok(Outcome {
        status: status.unwrap_or(Status::Unknown),
        timed_out,
        interrupted: interrupted_run,
        elapsed,
        running_at_limit,
        output,
        leaks,
        contained: false,
        task_cap: None,
        hit_task_cap: false,
    })
}

/// Reads the run's output on a thread, copying it to our stderr with `echo`.
fn read_output(mut reader: std::io::PipeReader, echo: bool) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if echo {
                        use std::io::Write;
                        let _ = std::io::stderr().write_all(&buf[..n]);
                    }
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// The output, once every writer is dead (the reader then reaches EOF); the deadline is a last
/// defence against a writer that escaped (one that is not our descendant).
fn collect_output(rx: &std::sync::mpsc::Receiver<Vec<u8>>) -> String {
    let mut output = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(chunk) => output.extend_from_slice(&chunk),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&output).into_owned()
}

/// The contained counterpart of the wait in [`run_inner`]: the init says how the command ended;
/// at the limit SIGTERM goes to the init (which passes it on) and, after the grace period,
/// SIGKILL ends the whole namespace. What the code left (processes, /dev/shm entries) is listed
/// before the namespace goes.
fn run_contained(
    mut c: contain::Contained,
    reader: std::io::PipeReader,
    limit: Duration,
    echo: bool,
    before: &Snapshot,
    program: &str,
) -> anyhow::Result<Outcome> {
    let rx = read_output(reader, echo);
    let start = Instant::now();
    let mut ended = None;
    let mut init_status = None;
    let mut timed_out = false;
    let mut interrupted_run = false;
    let mut running_at_limit = Vec::new();
    // The namespace's processes: the init's descendants (not the runner's other children).
    let others = |init: i32| -> Vec<Proc> {
        descendants_of(init)
            .into_iter()
            .filter(|&(_, state)| state != 'Z')
            .map(|(pid, _)| describe(pid))
            .collect()
    };
    loop {
        // Sleeps in poll on the init's report, so the end is seen at once.
        if let Some(e) = c.wait_ended(POLL) {
            ended = Some(e);
            break;
        }
        reap(c.init, &mut init_status);
        if init_status.is_some() {
            break;
        }
        if interrupted() {
            interrupted_run = true;
            break;
        }
        if start.elapsed() >= limit {
            timed_out = true;
            running_at_limit = others(c.init);
            c.terminate();
            let grace = Instant::now() + GRACE;
            while Instant::now() < grace {
                if let Some(e) = c.wait_ended(POLL) {
                    ended = Some(e);
                    break;
                }
            }
            break;
        }
    }
    let elapsed = start.elapsed();
    let mut processes = if interrupted_run {
        Vec::new()
    } else {
        others(c.init)
    };
    if timed_out {
        processes.retain(|p| !running_at_limit.contains(p));
    }
    let shm = c.shm_entries();
    let hit_task_cap = c.hit_cap();
    let task_cap = c.cap;
    let members: Vec<i32> = descendants_of(c.init)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    c.kill();
    // The kernel kills what was left in the namespace, and the dying init waits for every one of
    // them before it exits: once it is reaped, the namespace is empty. What was re-parented to
    // us (the subreaper) on the way is reaped as well.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ignored = None;
    loop {
        reap(c.init, &mut init_status);
        let gone = |pid: &i32| !Path::new(&format!("/proc/{pid}")).exists();
        if init_status.is_some() || gone(&c.init) {
            reap(0, &mut ignored);
            if members.iter().all(gone) {
                break;
            }
        }
        if Instant::now() >= deadline {
            eprintln!("warning: the check's processes could not all be reaped in time");
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(c);
    let output = collect_output(&rx);
    let ipc = sweep_ipc(before);
    let status = match ended {
        Some(contain::Ended::Exited(code)) => Status::Exited(code),
        Some(contain::Ended::Signaled(signal)) => Status::Signaled(signal),
        Some(contain::Ended::NotStarted(errno)) => {
            anyhow::bail!(
                "cannot start {program}: {}",
                std::io::Error::from_raw_os_error(errno)
            )
        }
        Some(contain::Ended::SetupFailed(step, errno)) => anyhow::bail!(
            "cannot set up the check's namespaces (step {step}): {}",
            std::io::Error::from_raw_os_error(errno)
        ),
        None => Status::Unknown,
    };
    let mut shm_leaks = shm;
    shm_leaks.extend(ipc.shm);
    Ok(Outcome {
        status,
        timed_out,
        interrupted: interrupted_run,
        elapsed,
        running_at_limit,
        output,
        leaks: Leaks {
            processes,
            shm: shm_leaks,
            mqueues: ipc.mqueues,
        },
        contained: true,
        task_cap,
        hit_task_cap,
    })
}

/// The IPC name spaces as they were before something ran.
#[derive(Debug)]
pub struct Snapshot {
    shm: Option<BTreeSet<String>>,
    mqueue: Option<BTreeSet<String>>,
}

/// Lists /dev/shm and (where mounted) /dev/mqueue.
pub fn snapshot() -> Snapshot {
    Snapshot {
        shm: list_dir(Path::new("/dev/shm")),
        mqueue: mqueue_listing(),
    }
}

/// Removes and reports the IPC entries created since `before` (`processes` stays empty).
pub fn sweep_ipc(before: &Snapshot) -> Leaks {
    Leaks {
        processes: Vec::new(),
        shm: remove_new_entries(Path::new("/dev/shm"), before.shm.as_ref()),
        mqueues: remove_new_entries(Path::new("/dev/mqueue"), before.mqueue.as_ref()),
    }
}

/// Reaps every child that has ended, recording the status of `main` when it is among them.
fn reap(main: i32, status: &mut Option<Status>) {
    loop {
        let mut raw = 0;
        // SAFETY: waitpid writes the status into `raw`, a valid local; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
        if pid > 0 {
            if pid == main {
                *status = Some(if libc::WIFSIGNALED(raw) {
                    Status::Signaled(libc::WTERMSIG(raw))
                } else {
                    Status::Exited(libc::WEXITSTATUS(raw))
                });
            }
            continue;
        }
        if pid < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // 0: children remain, none has ended; -1 (ECHILD): no children at all.
        break;
    }
}

/// Sends `signal` to the process group `pgid`.
fn signal_group(pgid: i32, signal: i32) -> bool {
    // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory. The
    // group was created for this run (`process_group(0)`), so nothing else is in it.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// SIGTERM to the group, a grace period, then SIGKILL; waits for `main` to be reaped.
fn terminate_group(main: i32, status: &mut Option<Status>) {
    signal_group(main, libc::SIGTERM);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        reap(main, status);
        // Signal 0 only asks whether any member of the group exists.
        if status.is_some() && !signal_group(main, 0) {
            return;
        }
        std::thread::sleep(POLL);
    }
    signal_group(main, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while status.is_none() && Instant::now() < deadline {
        reap(main, status);
        std::thread::sleep(POLL);
    }
}

/// Finds every live descendant of this process, reports it, kills it, and reaps until none is
/// left (a zombie descendant is reaped but not reported: it is dead already).
pub fn kill_descendants() -> Vec<Proc> {
    let mut reported: BTreeMap<i32, Proc> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut ignored = None;
    loop {
        reap(0, &mut ignored);
        let found = descendants();
        if found.is_empty() {
            break;
        }
        for (pid, state) in found {
            if state != 'Z' && !reported.contains_key(&pid) {
                reported.insert(pid, describe(pid));
            }
            // SAFETY: kill(2) touches no memory; `pid` is a descendant of ours that has not been
            // reaped, so its pid cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if Instant::now() >= deadline {
            eprintln!("warning: some leftover processes could not be reaped in time");
            break;
        }
        std::thread::sleep(POLL);
    }
    reported.into_values().collect()
}

/// Every descendant of this process with its state letter (from /proc).
fn descendants() -> Vec<(i32, char)> {
    descendants_of(std::process::id() as i32)
}

/// Every descendant of `me` with its state letter (from /proc).
fn descendants_of(me: i32) -> Vec<(i32, char)> {
    let mut children: BTreeMap<i32, Vec<(i32, char)>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after
        // its last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if let Some(ppid) = fields.next().and_then(|s| s.parse::<i32>().ok()) {
            children.entry(ppid).or_default().push((pid, state));
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![me];
    while let Some(parent) = queue.pop() {
        for &(pid, state) in children.get(&parent).map_or(&[][..], Vec::as_slice) {
            found.push((pid, state));
            queue.push(pid);
        }
    }
    found
}

/// A process's pid and command line.
fn describe(pid: i32) -> Proc {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let cmdline = if cmdline.is_empty() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        format!("[{}]", comm.trim())
    } else {
        cmdline
    };
    Proc { pid, cmdline }
}

/// The names in `dir`, or `None` when it cannot be listed.
fn list_dir(dir: &Path) -> Option<BTreeSet<String>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
    )
}

/// The queues in /dev/mqueue, or `None` (said once) when no mqueue file system is mounted there.
fn mqueue_listing() -> Option<BTreeSet<String>> {
    let mounted = std::fs::read_to_string("/proc/self/mounts").is_ok_and(|mounts| {
        mounts.lines().any(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, fstype) = (fields.next(), fields.next(), fields.next());
            point == Some("/dev/mqueue") && fstype == Some("mqueue")
        })
    });
    if !mounted {
        if !MQUEUE_NOTE.load(Ordering::Relaxed) {
            return None;
        }
        static SAID: Once = Once::new();
        SAID.call_once(|| {
            eprintln!(
                "note: /dev/mqueue is not mounted, so leftover POSIX message queues cannot be \
                 checked (root can mount it: mount -t mqueue none /dev/mqueue)"
            );
        });
        return None;
    }
    list_dir(Path::new("/dev/mqueue"))
}

/// Removes the entries of `dir` that are not in `before` and that no living process holds open
/// (an entry another program on the machine is using is not ours to remove); returns their names.
fn remove_new_entries(dir: &Path, before: Option<&BTreeSet<String>>) -> Vec<String> {
    let (Some(before), Some(after)) = (before, list_dir(dir)) else {
        return Vec::new();
    };
    let new: Vec<String> = after.difference(before).cloned().collect();
    if new.is_empty() {
        return new;
    }
    let held = paths_held_open();
    let mut removed = Vec::new();
    for name in new {
        let path = dir.join(&name);
        if held.contains(&path.to_string_lossy().into_owned()) {
            continue;
        }
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed.push(name),
            // Gone already: its owner removed it in the meantime, so it did not leak.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                eprintln!("warning: cannot remove {}: {e}", path.display());
                removed.push(name);
            }
        }
    }
    removed
}

/// The paths every visible process has open as an fd or a mapping.
fn paths_held_open() -> BTreeSet<String> {
    let mut held = BTreeSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return held;
    };
    for entry in procs.flatten() {
        let base = entry.path();
        if let Ok(fds) = std::fs::read_dir(base.join("fd")) {
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    held.insert(target.to_string_lossy().into_owned());
                }
            }
        }
        if let Ok(maps) = std::fs::read_to_string(base.join("maps")) {
            for line in maps.lines() {
                if let Some(at) = line.find('/') {
                    held.insert(line[at..].trim_end_matches(" (deleted)").to_owned());
                }
            }
        }
    }
    held
}

/// The conventional name of a signal number.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => "another signal",
    }
}
