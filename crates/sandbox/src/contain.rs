//! Containment: the code under test runs in namespaces of its own, under a cap on its tasks, so
//! that no mistake of it reaches anything outside its check.
//!
//! - **A PID namespace** (with a /proc mounted for it): `kill(-1, ...)`, a wrong process group or a
//!   stale pid reach only processes of the check. Its first process, pid 1 there, is a small init
//!   of the runner's own ([`Contained::spawn`]): it starts the command, reaps every process that
//!   ends in the namespace, passes the runner's SIGTERM and SIGINT on to the command's process
//!   group, and tells the runner how the command ended. When the runner then kills it, the kernel
//!   kills everything left in the namespace.
//! - **A mount namespace** with a private `/dev/shm` (a tmpfs of the check's own) and an **IPC
//!   namespace** (System V objects and POSIX message queues of its own): leftovers vanish with the
//!   check, two checks never collide, and the runner still lists what the code left in
//!   `/dev/shm` (through `/proc/INIT/root`) so that the leak lesson stays.
//! - **A cap on tasks** (processes and threads, 1,024 by default): a pids cgroup where the runner
//!   may create one (root, or a delegated cgroup v2 subtree), otherwise `RLIMIT_NPROC`, which
//!   counts every process of the user, so it is set to the user's current count plus the cap.
//!
//! As root the namespaces are created directly; as an ordinary user inside a user namespace that
//! maps the user's uid and gid to themselves, so that ownership, `SO_PEERCRED` and uid checks see
//! the same ids as outside. The network is not separated: the tests talk over loopback to real
//! servers they start (Prometheus, tiny_http, socat) and name their sockets uniquely, and a
//! mistake there harms nothing outside the check.
//!
//! Where a protection is not available (not Linux, user namespaces disabled or restricted, as
//! Ubuntu 24.04's AppArmor policy does for unconfined programs) the run goes on without it, and
//! [`protections`] says which are off and why; `PROCLINGS_CONTAIN=off` turns containment off for
//! someone who needs to debug outside it.
//!
//! The child side is written with raw system calls only: between `clone` and `execve` a copy of
//! a multi-threaded program may only call async-signal-safe functions (signal-safety(7)), so the
//! paths, arguments and environment are all prepared before the `clone`, and the init creates the
//! command's process with a raw `clone` too (glibc's `fork` would run its atfork handlers, which
//! take locks another thread of the runner may have held at the first `clone`).

use std::ffi::{CString, OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

/// The default cap on a check's tasks (processes and threads).
pub const DEFAULT_TASKS: u32 = 1024;

/// One protection and whether it is on here.
#[derive(Debug, Clone)]
pub struct Protection {
    /// What it protects.
    pub name: &'static str,
    /// Whether runs get it.
    pub on: bool,
    /// How it is provided, or why it is off.
    pub how: String,
    /// What would turn it on, where something would.
    pub fix: Option<String>,
}

/// How the task cap is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CapKind {
    /// A pids cgroup under this directory (v1 `pids` hierarchy or a v2 subtree with `pids`).
    Cgroup(PathBuf),
    /// `RLIMIT_NPROC`, per user.
    Rlimit,
    /// None.
    Off,
}

/// What this machine allows, probed once.
#[derive(Debug, Clone)]
struct Support {
    namespaces: Result<bool, String>,
    cap: CapKind,
    cap_why: String,
}

/// Whether `PROCLINGS_CONTAIN=off` (or `0`, `no`, `false`) asks for no containment.
fn disabled_by_env() -> bool {
    std::env::var("PROCLINGS_CONTAIN").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "no" | "false"
        )
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        let namespaces = if cfg!(not(target_os = "linux")) {
            Err("namespaces are a Linux feature".to_owned())
        } else {
            probe()
        };
        let (cap, cap_why) = find_cap();
        Support {
            namespaces,
            cap,
            cap_why,
        }
    })
}

/// Whether runs are contained (namespaces), with the cap as [`protections`] describes it.
pub fn enabled() -> bool {
    !disabled_by_env() && matches!(support().namespaces, Ok(true))
}

/// Each protection, on or off, with the reason and the fix (for `doctor` and the note a check
/// prints once when some are off).
pub fn protections() -> Vec<Protection> {
    let s = support();
    if disabled_by_env() {
        return [
            "pid namespace",
            "mount namespace",
            "ipc namespace",
            "task cap",
        ]
        .into_iter()
        .map(|name| Protection {
            name,
            on: false,
            how: "PROCLINGS_CONTAIN=off".to_owned(),
            fix: Some("unset PROCLINGS_CONTAIN".to_owned()),
        })
        .collect();
    }
    let user = if is_root() {
        "created directly (root)"
    } else {
        "inside a user namespace that maps your uid and gid to themselves"
    };
    let ns = |name: &'static str, what: &str| match &s.namespaces {
        Ok(true) => Protection {
            name,
            on: true,
            how: format!("{what}; {user}"),
            fix: None,
        },
        Ok(false) | Err(_) => Protection {
            name,
            on: false,
            how: s
                .namespaces
                .as_ref()
                .err()
                .cloned()
                .unwrap_or_else(|| "not available".to_owned()),
            fix: namespace_fix(),
        },
    };
    vec![
        ns(
            "pid namespace",
            "kill(-1), a wrong group or a stale pid reach only the check's processes",
        ),
        ns(
            "mount namespace",
            "a private /proc and /dev/shm: leftover segments vanish with the check",
        ),
        ns(
            "ipc namespace",
            "System V objects and message queues of the check's own",
        ),
        Protection {
            name: "task cap",
            on: s.cap != CapKind::Off,
            how: s.cap_why.clone(),
            fix: (s.cap == CapKind::Off).then(|| {
                "run as root, or with a delegated cgroup v2 subtree (systemd user session)"
                    .to_owned()
            }),
        },
    ]
}

/// What would allow user namespaces here, when something would.
fn namespace_fix() -> Option<String> {
    if is_root() {
        return None;
    }
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_owned());
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").is_ok_and(|v| v == "1") {
        return Some(
            "AppArmor restricts unprivileged user namespaces: `sudo sysctl \
             kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor profile with \
             `userns,` for the runner"
                .to_owned(),
        );
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").is_ok_and(|v| v == "0") {
        return Some("`sudo sysctl kernel.unprivileged_userns_clone=1`".to_owned());
    }
    if read("/proc/sys/user/max_user_namespaces").is_ok_and(|v| v == "0") {
        return Some("`sudo sysctl user.max_user_namespaces=15000`".to_owned());
    }
    None
}

/// Finds how the task cap can be enforced here.
fn find_cap() -> (CapKind, String) {
    if disabled_by_env() {
        return (CapKind::Off, "PROCLINGS_CONTAIN=off".to_owned());
    }
    for base in cgroup_candidates() {
        let probe = base.join(format!("proclings-probe-{}", std::process::id()));
        if std::fs::create_dir(&probe).is_ok() {
            let works = std::fs::write(probe.join("pids.max"), "10").is_ok();
            let _ = std::fs::remove_dir(&probe);
            if works {
                return (
                    CapKind::Cgroup(base.clone()),
                    format!("a pids cgroup under {}", base.display()),
                );
            }
        }
    }
    if cfg!(target_os = "linux") && !is_root() {
        return (
            CapKind::Rlimit,
            "RLIMIT_NPROC (no pids cgroup may be created here): it counts every process of \
             your user, so it is set to your current count plus the cap"
                .to_owned(),
        );
    }
    (
        CapKind::Off,
        "no pids cgroup may be created here, and RLIMIT_NPROC does not bind root".to_owned(),
    )
}

/// Directories under which a pids cgroup might be created: the v1 `pids` hierarchy, and the v2
/// cgroup this process is in (when it enables `pids` for its children).
fn cgroup_candidates() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let v1 = Path::new("/sys/fs/cgroup/pids");
    if v1.join("cgroup.procs").is_file() {
        // Our own cgroup in that hierarchy.
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, controllers, path) = (parts.next(), parts.next()?, parts.next()?);
                    controllers
                        .split(',')
                        .any(|c| c == "pids")
                        .then(|| path.trim_start_matches('/').to_owned())
                })
            })
            .unwrap_or_default();
        found.push(v1.join(own));
    }
    let v2_root = if Path::new("/sys/fs/cgroup/cgroup.controllers").is_file() {
        Some(PathBuf::from("/sys/fs/cgroup"))
    } else if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").is_file() {
        Some(PathBuf::from("/sys/fs/cgroup/unified"))
    } else {
        None
    };
    if let Some(root) = v2_root
        && let Some(path) = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
            })
    {
        let dir = root.join(path.trim_start_matches('/'));
        if std::fs::read_to_string(dir.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "pids"))
        {
            found.push(dir);
        }
    }
    found
}

/// A pids cgroup made for one run; removed on drop.
#[derive(Debug)]
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn create(base: &Path, cap: u32) -> Option<Cgroup> {
        static COUNT: AtomicI32 = AtomicI32::new(0);
        let dir = base.join(format!(
            "proclings-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).ok()?;
        let cgroup = Cgroup { dir };
        std::fs::write(cgroup.dir.join("pids.max"), cap.to_string()).ok()?;
        Some(cgroup)
    }

    fn add(&self, pid: i32) -> bool {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).is_ok()
    }

    /// How many times a fork failed at the cap (`max` in pids.events).
    fn times_at_cap(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("max ").and_then(|n| n.trim().parse().ok()))
            })
            .unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The processes are gone (or going): the kernel refuses rmdir while any is in it.
        for _ in 0..200 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// The number of processes of this user (for `RLIMIT_NPROC`, which counts them all).
fn processes_of_user() -> u64 {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .is_some_and(|u| u == uid.to_string())
            })
        })
        .map(|e| {
            // Threads count too.
            std::fs::read_dir(e.path().join("task")).map_or(1, |t| t.count() as u64)
        })
        .sum()
}

/// How the command in the namespace ended, as the init reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// It could not be started: this errno.
    NotStarted(i32),
    /// Setting the namespace up failed at this step, with this errno.
    SetupFailed(i32, i32),
}

/// A contained run: the init's pid (in our namespace), the pipe it reports on, its cgroup.
#[derive(Debug)]
pub struct Contained {
    /// The init: pid 1 of the run's namespace, our child.
    pub init: i32,
    status: std::fs::File,
    cgroup: Option<Cgroup>,
    /// The task cap in force.
    pub cap: Option<u32>,
}

// The init's state, for its signal handler (the init is a single-threaded copy of the runner).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn init_on_signal(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    PENDING.store(signal, Ordering::SeqCst);
}

/// Everything the child side needs, prepared before `clone` (no allocation after it).
struct Prepared {
    program: CString,
    argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    cwd: Option<CString>,
    dev_null: CString,
    proc_path: CString,
    proc_type: CString,
    shm_path: CString,
    shm_type: CString,
    shm_options: CString,
    root: CString,
    mqueue_path: CString,
    mqueue_type: CString,
    mount_mqueue: bool,
    rlimit_nproc: Option<u64>,
}

const STEP_PRIVATE: i32 = 1;
const STEP_PROC: i32 = 2;
const STEP_SHM: i32 = 3;
const STEP_CLONE: i32 = 4;
const STEP_GO: i32 = 5;

fn cstring(bytes: &[u8]) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| std::io::Error::other("a NUL byte in an argument"))
}

/// `program` as `execve` needs it: a path, found on `PATH` (the child's) when it has no `/`.
fn resolve(program: &OsStr, path_var: Option<&OsStr>) -> PathBuf {
    if program.as_bytes().contains(&b'/') {
        return PathBuf::from(program);
    }
    let path = path_var.map_or_else(|| OsString::from("/usr/bin:/bin"), OsStr::to_owned);
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
        .unwrap_or_else(|| PathBuf::from(program))
}

impl Prepared {
    fn new(cmd: &Command, rlimit_nproc: Option<u64>) -> std::io::Result<Self> {
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        for (key, value) in cmd.get_envs() {
            env.retain(|(k, _)| k != key);
            if let Some(value) = value {
                env.push((key.to_owned(), value.to_owned()));
            }
        }
        let path_var = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str());
        let program = resolve(cmd.get_program(), path_var);
        let mut argv = vec![cstring(cmd.get_program().as_bytes())?];
        for arg in cmd.get_args() {
            argv.push(cstring(arg.as_bytes())?);
        }
        let envp = env
            .iter()
            .map(|(k, v)| {
                let mut pair = k.as_bytes().to_vec();
                pair.push(b'=');
                pair.extend_from_slice(v.as_bytes());
                cstring(&pair)
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let cwd = cmd
            .get_current_dir()
            .map(|d| cstring(d.as_os_str().as_bytes()))
            .transpose()?;
        let mut prepared = Prepared {
            program: cstring(program.as_os_str().as_bytes())?,
            argv,
            argv_ptrs: Vec::new(),
            envp,
            envp_ptrs: Vec::new(),
            cwd,
            dev_null: cstring(b"/dev/null")?,
            proc_path: cstring(b"/proc")?,
            proc_type: cstring(b"proc")?,
            shm_path: cstring(b"/dev/shm")?,
            shm_type: cstring(b"tmpfs")?,
            shm_options: cstring(b"mode=1777")?,
            root: cstring(b"/")?,
            mqueue_path: cstring(b"/dev/mqueue")?,
            mqueue_type: cstring(b"mqueue")?,
            mount_mqueue: Path::new("/dev/mqueue").is_dir(),
            rlimit_nproc,
        };
        prepared.argv_ptrs = prepared
            .argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        prepared.envp_ptrs = prepared
            .envp
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(prepared)
    }
}

/// `clone` with fork semantics and these extra flags; returns the child's pid, 0 in the child.
///
/// # Safety
/// In the child, until `execve` or `_exit`, only async-signal-safe functions may be called.
unsafe fn raw_fork(flags: libc::c_long) -> libc::c_long {
    // SAFETY: with a null stack, clone behaves as fork: the child continues here on a copy of
    // the caller's stack. The caller upholds the async-signal-safety of what follows.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as libc::c_long,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    }
}

/// Writes a two-number report on `fd` (async-signal-safe).
fn report(fd: RawFd, kind: i32, value: i32) {
    let words = [kind, value];
    // SAFETY: `words` is a valid buffer of 8 bytes for the duration of the call.
    unsafe { libc::write(fd, words.as_ptr().cast(), std::mem::size_of_val(&words)) };
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Reports that setting up failed at `step` (with the errno) and ends the init.
///
/// # Safety
/// Async-signal-safe: for the child of a `clone`.
unsafe fn fail(status: RawFd, step: i32) -> ! {
    let words = [4, step, errno()];
    // SAFETY: `words` is a valid 12-byte buffer; _exit never returns.
    unsafe {
        libc::write(status, words.as_ptr().cast(), std::mem::size_of_val(&words));
        libc::_exit(121)
    }
}

/// The init, pid 1 of the new namespaces. Never returns.
///
/// # Safety
/// Runs in the child of a `clone` of a multi-threaded process: raw system calls only.
unsafe fn init_main(p: &Prepared, output: RawFd, status: RawFd, go: RawFd) -> ! {
    // SAFETY: only async-signal-safe calls, on memory prepared before the clone and not freed
    // in this copy of the process.
    unsafe {
        // Wait for the runner: it writes the uid/gid maps and adds us to the cgroup first.
        let mut byte = 0u8;
        if libc::read(go, (&raw mut byte).cast(), 1) != 1 {
            report(status, 4, STEP_GO);
            libc::_exit(121);
        }
        libc::close(go);
        // Our own group, so that the runner's group signals reach only the init.
        libc::setpgid(0, 0);
        if libc::mount(
            std::ptr::null(),
            p.root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            fail(status, STEP_PRIVATE);
        }
        if libc::mount(
            p.proc_type.as_ptr(),
            p.proc_path.as_ptr(),
            p.proc_type.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ) != 0
        {
            fail(status, STEP_PROC);
        }
        if libc::mount(
            p.shm_type.as_ptr(),
            p.shm_path.as_ptr(),
            p.shm_type.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            p.shm_options.as_ptr().cast(),
        ) != 0
        {
            fail(status, STEP_SHM);
        }
        if p.mount_mqueue {
            // Best effort: the queues of the new IPC namespace, listable as usual.
            libc::mount(
                p.mqueue_type.as_ptr(),
                p.mqueue_path.as_ptr(),
                p.mqueue_type.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            );
        }
        if let Some(limit) = p.rlimit_nproc {
            let rlim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            libc::setrlimit(libc::RLIMIT_NPROC, &rlim);
        }
        // SIGTERM and SIGINT from the runner are passed on to the command's group.
        let handler: extern "C" fn(libc::c_int) = init_on_signal;
        for signal in [libc::SIGTERM, libc::SIGINT] {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0; // no SA_RESTART: waitpid returns EINTR and we look
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        let child = raw_fork(0);
        if child < 0 {
            fail(status, STEP_CLONE);
        }
        if child == 0 {
            // The command: its own group, default dispositions, stdin from /dev/null.
            libc::setpgid(0, 0);
            for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGPIPE] {
                libc::signal(signal, libc::SIG_DFL);
            }
            let null = libc::open(p.dev_null.as_ptr(), libc::O_RDONLY);
            if null >= 0 {
                libc::dup2(null, 0);
            }
            libc::dup2(output, 1);
            libc::dup2(output, 2);
            if let Some(cwd) = &p.cwd
                && libc::chdir(cwd.as_ptr()) != 0
            {
                report(status, 2, errno());
                libc::_exit(127);
            }
            libc::execve(
                p.program.as_ptr(),
                p.argv_ptrs.as_ptr(),
                p.envp_ptrs.as_ptr(),
            );
            report(status, 2, errno());
            libc::_exit(127);
        }
        let child = child as libc::pid_t;
        FORWARD_TO.store(child, Ordering::SeqCst);
        libc::close(output);
        let mut reported = false;
        loop {
            let signal = PENDING.swap(0, Ordering::SeqCst);
            if signal != 0 {
                libc::kill(-FORWARD_TO.load(Ordering::SeqCst), signal);
            }
            let mut raw = 0;
            let pid = libc::waitpid(-1, &mut raw, 0);
            if pid == child && !reported {
                if libc::WIFSIGNALED(raw) {
                    report(status, 1, libc::WTERMSIG(raw));
                } else {
                    report(status, 0, libc::WEXITSTATUS(raw));
                }
                reported = true;
            }
            if pid < 0 && errno() == libc::ECHILD {
                // Nothing left to reap: wait for the runner to end us (or for a signal).
                libc::pause();
            }
        }
    }
}

impl Contained {
    /// Starts `cmd` contained, its stdout and stderr on `output`; `tasks` caps its processes and
    /// threads. `Ok(None)` when containment is not available here (run it as usual then).
    pub fn spawn(cmd: &Command, output: OwnedFd, tasks: u32) -> std::io::Result<Option<Self>> {
        if !enabled() {
            return Ok(None);
        }
        let s = support();
        let cgroup = match &s.cap {
            CapKind::Cgroup(base) => Cgroup::create(base, tasks),
            _ => None,
        };
        let rlimit = (s.cap == CapKind::Rlimit).then(|| processes_of_user() + u64::from(tasks));
        let (init, status) = start(cmd, output, rlimit, cgroup.as_ref())?;
        Ok(Some(Contained {
            init,
            status,
            cap: if cgroup.is_some() || rlimit.is_some() {
                Some(tasks)
            } else {
                None
            },
            cgroup,
        }))
    }

    /// How the command ended, once the init has said it (non-blocking: `None` until then, and
    /// `None` for ever if the init died without saying).
    pub fn ended(&mut self) -> Option<Ended> {
        self.wait_ended(std::time::Duration::ZERO)
    }

    /// [`Contained::ended`], waiting up to `timeout` for the init's word.
    pub fn wait_ended(&mut self, timeout: std::time::Duration) -> Option<Ended> {
        let mut fds = libc::pollfd {
            fd: self.status.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut fds, 1, ms) } <= 0 || fds.revents & libc::POLLIN == 0 {
            return None;
        }
        let mut buf = [0u8; 12];
        let n = self.status.read(&mut buf).ok()?;
        let word = |i: usize| i32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        match (n, word(0)) {
            (8.., 0) => Some(Ended::Exited(word(4))),
            (8.., 1) => Some(Ended::Signaled(word(4))),
            (8.., 2) => Some(Ended::NotStarted(word(4))),
            (12, 4) => Some(Ended::SetupFailed(word(4), word(8))),
            (8.., 4) => Some(Ended::SetupFailed(word(4), 0)),
            _ => None,
        }
    }

    /// Asks the command to stop: SIGTERM to the init, which passes it on to the command's group.
    pub fn terminate(&self) {
        // SAFETY: kill(2) touches no memory; the init is our unreaped child.
        unsafe { libc::kill(self.init, libc::SIGTERM) };
    }

    /// Ends the whole namespace: SIGKILL to the init, after which the kernel kills every process
    /// left in it.
    pub fn kill(&self) {
        // SAFETY: as above.
        unsafe { libc::kill(self.init, libc::SIGKILL) };
    }

    /// What the code left in its private /dev/shm (read through the init's root).
    pub fn shm_entries(&self) -> Vec<String> {
        std::fs::read_dir(format!("/proc/{}/root/dev/shm", self.init))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a fork failed at the task cap (known where a cgroup enforces it).
    pub fn hit_cap(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|c| c.times_at_cap() > 0)
    }
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into `fds`, a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Clones the init of a run of `cmd` into new namespaces, its output on `output`; `rlimit` caps
/// its processes, `cgroup` (when given) holds it. The init waits until the user namespace's maps
/// are written and it is in the cgroup, then sets up its mounts and starts `cmd`. Returns its pid
/// and the pipe it reports on.
fn start(
    cmd: &Command,
    output: OwnedFd,
    rlimit: Option<u64>,
    cgroup: Option<&Cgroup>,
) -> std::io::Result<(i32, std::fs::File)> {
    let prepared = Prepared::new(cmd, rlimit)?;
    let (status_r, status_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let root = is_root();
    let mut flags = libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWIPC;
    if !root {
        flags |= libc::CLONE_NEWUSER;
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: the child calls only async-signal-safe functions (init_main) on memory made before
    // this call, and leaves through execve or _exit.
    let pid = unsafe { raw_fork(flags as libc::c_long) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; the fds are valid in the child (inherited copies).
        unsafe {
            init_main(
                &prepared,
                output.as_raw_fd(),
                status_w.as_raw_fd(),
                go_r.as_raw_fd(),
            )
        }
    }
    let pid = pid as i32;
    drop(status_w);
    drop(go_r);
    drop(output);
    let mut setup_error = None;
    if !root {
        for (file, text) in [
            ("setgroups", "deny".to_owned()),
            ("uid_map", format!("{uid} {uid} 1")),
            ("gid_map", format!("{gid} {gid} 1")),
        ] {
            if let Err(e) = std::fs::write(format!("/proc/{pid}/{file}"), text) {
                setup_error = Some(format!(
                    "cannot map your uid into a user namespace ({file}): {e}"
                ));
                break;
            }
        }
    }
    if let Some(cg) = cgroup
        && !cg.add(pid)
    {
        setup_error.get_or_insert_with(|| "cannot join the pids cgroup".to_owned());
    }
    if let Some(why) = setup_error {
        // SAFETY: kill and waitpid on our own unreaped child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut raw = 0;
            libc::waitpid(pid, &mut raw, 0);
        }
        return Err(std::io::Error::other(why));
    }
    // Go.
    // SAFETY: writing one byte from a valid buffer to a pipe we own.
    unsafe { libc::write(go_w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    Ok((pid, std::fs::File::from(status_r)))
}

/// Probes, in a throw-away run of `/bin/true`, whether the namespaces can be made and set up
/// here.
fn probe() -> Result<bool, String> {
    let null: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| e.to_string())?
        .into();
    let (pid, mut status) = match start(&Command::new("/bin/true"), null, None, None) {
        Ok(started) => started,
        Err(e) => {
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) if !is_root() => {
                    "user namespaces are not allowed for your user here (EPERM)".to_owned()
                }
                Some(libc::ENOSPC) => "the limit on namespaces is reached (ENOSPC)".to_owned(),
                Some(libc::EINVAL) => "this kernel lacks one of the namespaces (EINVAL)".to_owned(),
                _ => format!("clone with new namespaces failed: {e}"),
            });
        }
    };
    let mut buf = [0u8; 12];
    let n = status.read(&mut buf).unwrap_or(0);
    // SAFETY: kill and waitpid on our own unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut raw = 0;
        libc::waitpid(pid, &mut raw, 0);
    }
    let word = |i: usize| i32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    if n >= 8 && word(0) == 4 {
        let step = match word(4) {
            STEP_PRIVATE => "making the mounts private",
            STEP_PROC => "mounting /proc for the new PID namespace",
            STEP_SHM => "mounting a private /dev/shm",
            STEP_CLONE => "starting the first process",
            _ => "starting",
        };
        let e = if n >= 12 { word(8) } else { 0 };
        return Err(format!(
            "{step} failed: {}",
            std::io::Error::from_raw_os_error(e)
        ));
    }
    if n < 8 {
        return Err("the probe ended without a word".to_owned());
    }
    Ok(true)
}
